//! The handshake state machine under hostile input.
//!
//! The oracle re-derives everything from the spec's key schedule with the
//! crate's primitive functions (PBKDF2, HMAC, the group constants), not with
//! the state machine: a harness that only reused `Handshake` would agree
//! with any bug in it.

use std::sync::OnceLock;

use spiped_proto::dh::{DhKeypair, DhSecret, P, Y_ONE};
use spiped_proto::kdf::{hmac, pbkdf2_1};
use spiped_proto::{
    DH_LEN, Decryptor, Encryptor, Handshake, HandshakeConfig, HandshakeError, Key, NONCE_LEN,
    PACKET_LEN, Role, SessionKeys, YH_LEN,
};

use crate::input::{Input, Splits};

/// The shared key of every harness (any fixed key will do).
pub fn key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| Key::from_file_contents(b"spiped fuzzing key"))
}

/// Fixed DH exponent seeds. Their public values are computed once per
/// process, so an execution pays at most for the shared-value modexp.
const SEEDS: [[u8; 32]; 3] = [[0x11; 32], [0x22; 32], [0x33; 32]];

fn keypair(i: usize) -> DhKeypair {
    static PUBLIC: OnceLock<Vec<[u8; DH_LEN]>> = OnceLock::new();
    let publics = PUBLIC.get_or_init(|| {
        SEEDS
            .iter()
            .map(|x| DhKeypair::from_random(x).public)
            .collect()
    });
    DhKeypair {
        secret: DhSecret::from_random(&SEEDS[i]),
        public: publics[i],
    }
}

/// `-f`, `-g` or neither, from two bits.
pub fn config(bits: u8) -> HandshakeConfig {
    HandshakeConfig {
        no_pfs: bits & 3 == 1,
        require_pfs: bits & 3 == 2,
    }
}

/// Send what is pending into `out` and do any compute work, until the
/// handshake waits for input.
fn drive(hs: &mut Handshake, kp: usize, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
    loop {
        let pending = hs.pending_output().len();
        if pending > 0 {
            out.extend_from_slice(hs.pending_output());
            hs.consume_output(pending);
            assert!(hs.pending_output().is_empty());
        } else if hs.needs_compute() {
            if hs.needs_keypair() {
                hs.set_keypair(keypair(kp));
            }
            hs.compute()?;
        } else {
            return Ok(());
        }
    }
}

/// nonce_C || nonce_S.
fn nonces(role: Role, ours: &[u8], theirs: &[u8]) -> Vec<u8> {
    match role {
        Role::Client => [ours, theirs].concat(),
        Role::Server => [theirs, ours].concat(),
    }
}

/// dhmac_C || dhmac_S = PBKDF2(K, nonce_C || nonce_S, 1, 64).
fn dk1(nonces: &[u8]) -> [u8; 64] {
    let mut d = [0u8; 64];
    pbkdf2_1(key().as_bytes(), nonces, &mut d);
    d
}

/// The half of dk_1 that authenticates `who`'s y.
fn dhmac(dk1: &[u8; 64], who: Role) -> &[u8] {
    match who {
        Role::Client => &dk1[..32],
        Role::Server => &dk1[32..],
    }
}

fn other(r: Role) -> Role {
    match r {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// Keys for `who` from dk_2, derived here without the state machine.
fn peer_keys(nonces: &[u8], y_sc: &[u8; DH_LEN], who: Role) -> (Encryptor, Decryptor) {
    let mut d = [0u8; 128];
    pbkdf2_1(key().as_bytes(), &[nonces, &y_sc[..]].concat(), &mut d);
    let k = |i: usize| -> [u8; 32] { d[32 * i..32 * (i + 1)].try_into().expect("32") };
    match who {
        Role::Client => (Encryptor::new(&k(0), &k(1)), Decryptor::new(&k(2), &k(3))),
        Role::Server => (Encryptor::new(&k(2), &k(3)), Decryptor::new(&k(0), &k(1))),
    }
}

/// A packet each way between `keys` and the independently derived peer.
fn check_talk(keys: &mut SessionKeys, peer: &mut (Encryptor, Decryptor)) {
    let mut pkt = [0u8; PACKET_LEN];
    peer.0.seal(b"from the peer", &mut pkt);
    assert_eq!(keys.recv.open(&mut pkt), Ok(&b"from the peer"[..]));
    keys.send.seal(b"to the peer", &mut pkt);
    assert_eq!(peer.1.open(&mut pkt), Ok(&b"to the peer"[..]));
}

/// Our handshake against arbitrary peer bytes.
///
/// Input: a flags byte (bit 0: our role; bits 1-2: `-f`/`-g`; bit 3: the
/// attacker holds the key, so the harness replaces the peer's h with the
/// correct MAC over the peer's y, which lets the fuzzer reach the range
/// and `-g` checks), chunk sizes, then the peer's byte stream.
pub fn peer(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.byte();
    let role = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let cfg = config(flags >> 1);
    let knows_key = flags & 8 != 0;
    let mut splits = Splits::read(&mut inp);
    let mut stream = inp.rest().to_vec();
    let ours = [0x5a; NONCE_LEN];

    if knows_key && stream.len() >= NONCE_LEN + DH_LEN {
        let d = dk1(&nonces(role, &ours, &stream[..NONCE_LEN]));
        let h = hmac(
            dhmac(&d, other(role)),
            &stream[NONCE_LEN..NONCE_LEN + DH_LEN],
        );
        stream.resize(stream.len().max(NONCE_LEN + YH_LEN), 0);
        stream[NONCE_LEN + DH_LEN..NONCE_LEN + YH_LEN].copy_from_slice(&h);
    }

    let mut hs = Handshake::new(role, cfg, key(), ours, None);
    let mut out = Vec::new();
    drive(&mut hs, 0, &mut out).expect("nothing to check before input");
    assert_eq!(out, ours, "the nonce goes out first, at once");

    let mut pos = 0;
    let mut result = Ok(());
    while pos < stream.len() {
        let n = splits.next(stream.len() - pos);
        let wanted = hs.wanted();
        match hs.feed(&stream[pos..pos + n]) {
            Ok(used) => {
                assert!(used <= wanted && used <= n, "feed took too much");
                if used == 0 {
                    assert_eq!(wanted, 0, "feed refused bytes it wanted");
                    break;
                }
                pos += used;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        if let Err(e) = drive(&mut hs, 0, &mut out) {
            result = Err(e);
            break;
        }
    }

    // The oracle.
    if stream.len() < NONCE_LEN {
        assert!(result.is_ok() && !hs.is_done());
        assert_eq!(hs.wanted(), NONCE_LEN - stream.len());
        return;
    }
    let n = nonces(role, &ours, &stream[..NONCE_LEN]);
    let d = dk1(&n);
    if role == Role::Client {
        // Our y || h follows the nonce as soon as the peer's nonce is in.
        assert_eq!(out.len(), NONCE_LEN + YH_LEN);
        let our_y = &out[NONCE_LEN..NONCE_LEN + DH_LEN];
        let want_y = if cfg.no_pfs { Y_ONE } else { keypair(0).public };
        assert_eq!(our_y, want_y);
        assert_eq!(&out[NONCE_LEN + DH_LEN..], hmac(dhmac(&d, role), our_y));
    }
    if stream.len() < NONCE_LEN + YH_LEN {
        assert!(result.is_ok() && !hs.is_done());
        assert_eq!(hs.wanted(), NONCE_LEN + YH_LEN - stream.len());
        return;
    }
    let peer_y: [u8; DH_LEN] = stream[NONCE_LEN..NONCE_LEN + DH_LEN]
        .try_into()
        .expect("256");
    let peer_h = &stream[NONCE_LEN + DH_LEN..NONCE_LEN + YH_LEN];
    let expected = if hmac(dhmac(&d, other(role)), &peer_y) != peer_h {
        Err(HandshakeError::BadMac)
    } else if peer_y.as_slice() >= P.as_slice() {
        Err(HandshakeError::BadDhValue)
    } else if cfg.require_pfs && peer_y == Y_ONE {
        Err(HandshakeError::PeerWithoutPfs)
    } else {
        Ok(())
    };
    assert_eq!(result, expected, "verdict on the peer's y || h");
    if let Err(e) = expected {
        // A failed handshake is dead: it wants nothing, sends nothing more,
        // computes nothing, and never yields keys.
        assert!(!hs.is_done() && !hs.needs_compute() && hs.wanted() == 0);
        assert_eq!(hs.feed(&[0u8; 8]), Ok(0));
        assert!(hs.pending_output().is_empty());
        assert!(hs.into_keys().is_none());
        if role == Role::Server {
            assert_eq!(out.len(), NONCE_LEN, "a refused client gets no y_S: {e}");
        }
        return;
    }
    assert!(hs.is_done(), "an accepted peer completes the handshake");
    assert_eq!(pos, NONCE_LEN + YH_LEN, "no byte past the handshake taken");
    if role == Role::Server {
        assert_eq!(out.len(), NONCE_LEN + YH_LEN);
        let our_y = &out[NONCE_LEN..NONCE_LEN + DH_LEN];
        assert_eq!(&out[NONCE_LEN + DH_LEN..], hmac(dhmac(&d, role), our_y));
    }
    let y_sc = if cfg.no_pfs {
        Y_ONE
    } else {
        *keypair(0).secret.shared(&peer_y)
    };
    let mut keys = hs.into_keys().expect("done");
    check_talk(&mut keys, &mut peer_keys(&n, &y_sc, other(role)));
}

/// Two honest handshakes with a man in the middle who XORs bytes of the
/// 320-byte handshake in either direction and delivers in odd chunks.
///
/// Input: a flags byte (bits 0-1 the client's `-f`/`-g`, bits 2-3 the
/// server's), up to 7 tamperings (bit 15 of a u16: which direction; the
/// rest: the offset, modulo 320; then the XOR byte), then chunk sizes.
pub fn mitm(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.byte();
    let (ccfg, scfg) = (config(flags), config(flags >> 2));
    let mut tamper = [[0u8; NONCE_LEN + YH_LEN]; 2];
    for _ in 0..inp.byte() % 8 {
        let at = inp.u16();
        let x = inp.byte();
        tamper[(at >> 15) as usize][(at & 0x7fff) as usize % (NONCE_LEN + YH_LEN)] ^= x;
    }
    let tampered = tamper.iter().flatten().any(|&b| b != 0);
    let mut splits = Splits::read(&mut inp);

    let mut hs = [
        Handshake::new(Role::Client, ccfg, key(), [0xc1; NONCE_LEN], None),
        Handshake::new(Role::Server, scfg, key(), [0x5e; NONCE_LEN], None),
    ];
    // wire[i]: what side i sent so far (after tampering); read[i]: how
    // much of it the other side has taken.
    let mut wire: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut read = [0usize; 2];
    let mut err: [Option<HandshakeError>; 2] = [None, None];
    for _round in 0..4 * (NONCE_LEN + YH_LEN) {
        let mut progress = false;
        for side in 0..2 {
            if err[side].is_some() {
                continue;
            }
            let before = wire[side].len();
            if let Err(e) = drive(&mut hs[side], 1 + side, &mut wire[side]) {
                err[side] = Some(e);
                continue;
            }
            for (i, b) in wire[side][before..].iter_mut().enumerate() {
                if let Some(x) = tamper[side].get(before + i) {
                    *b ^= x;
                }
            }
        }
        for to in 0..2 {
            let from = 1 - to;
            // A side that failed has closed the connection: nothing more
            // reaches it, and nothing more comes from it.
            if err[to].is_some() || err[from].is_some() {
                continue;
            }
            let left = wire[from].len() - read[from];
            if left == 0 {
                continue;
            }
            let n = splits.next(left);
            match hs[to].feed(&wire[from][read[from]..read[from] + n]) {
                Ok(used) => {
                    read[from] += used;
                    progress |= used > 0;
                }
                Err(e) => err[to] = Some(e),
            }
        }
        if !progress || err.iter().any(Option::is_some) {
            break;
        }
    }
    let done = [hs[0].is_done(), hs[1].is_done()];
    let conflict = (ccfg.no_pfs && scfg.require_pfs) || (ccfg.require_pfs && scfg.no_pfs);
    if tampered || conflict {
        assert!(
            !(done[0] && done[1]),
            "handshake survived tampering {tampered} or -f/-g conflict {conflict}"
        );
        assert!(
            err.iter().any(Option::is_some),
            "stalled instead of failing"
        );
        if !tampered {
            assert!(err.contains(&Some(HandshakeError::PeerWithoutPfs)));
        }
        return;
    }
    assert_eq!(err, [None, None]);
    assert_eq!(done, [true, true], "honest handshake did not complete");
    let [c, s] = hs;
    let (mut c, mut s) = (c.into_keys().expect("done"), s.into_keys().expect("done"));
    let mut pkt = [0u8; PACKET_LEN];
    c.send.seal(b"client to server", &mut pkt);
    assert_eq!(s.recv.open(&mut pkt), Ok(&b"client to server"[..]));
    s.send.seal(b"server to client", &mut pkt);
    assert_eq!(c.recv.open(&mut pkt), Ok(&b"server to client"[..]));
}
