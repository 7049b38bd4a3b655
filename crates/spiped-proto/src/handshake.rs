//! The handshake as a state machine with no I/O.
//!
//! ```text
//! client (encrypting side)                      server (decrypting side)
//!   nonce_C (32)            ───────────▶
//!                           ◀───────────         nonce_S (32)
//!   [dhmac_C || dhmac_S = PBKDF2(K, nonce_C || nonce_S, 1, 64)]
//!   y_C || h_C (288)        ───────────▶         check h_C, y_C
//!                           ◀───────────         y_S || h_S (288)
//!   check h_S, y_S
//!   [E_C || H_C || E_S || H_S = PBKDF2(K, nonce_C || nonce_S || y_SC, 1, 128)]
//! ```
//!
//! The caller moves bytes and decides where the expensive work runs:
//!
//! * [`Handshake::pending_output`] / [`Handshake::consume_output`]: bytes to
//!   send;
//! * [`Handshake::wanted`] / [`Handshake::feed`]: bytes to receive. `feed`
//!   never takes more than the handshake needs, so data packets that follow
//!   in the same read (a server whose target talks first) are left to the
//!   caller;
//! * [`Handshake::needs_compute`] / [`Handshake::compute`]: DH work (a
//!   2048-bit modexp, ~0.5 ms), which a daemon may run off its I/O thread.
//!
//! Checks on the peer's `y || h` run in upstream's order: the HMAC first
//! (in constant time), so a peer without the key never costs us a modexp;
//! then `y < p`; then, with `-g`, `y != 1`.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::dh::{DhKeypair, Y_ONE, below_p};
use crate::kdf::{hmac, pbkdf2_1};
use crate::key::Key;
use crate::packet::{Decryptor, Encryptor};
use crate::{DH_LEN, NONCE_LEN, YH_LEN};

/// Which end of the protocol connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Starts the protocol connection: `spiped -e`, `spipe`.
    Client,
    /// Accepts it: `spiped -d`.
    Server,
}

/// Forward-secrecy options (`-f`, `-g`); they cannot both be set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// `-f`: skip DH, send y = 1, use y_SC = 1 whatever the peer sends.
    pub no_pfs: bool,
    /// `-g`: refuse a peer that sends y = 1.
    pub require_pfs: bool,
}

/// Why a handshake failed. The connection is dropped; nothing is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer's h does not match: almost always a wrong key.
    #[error("handshake failed: peer's MAC does not match (wrong key?)")]
    BadMac,
    /// The peer's y is p or larger.
    #[error("handshake failed: peer's DH value is out of range")]
    BadDhValue,
    /// `-g` is set and the peer does not do forward secrecy (`-f`).
    #[error("handshake failed: peer does not use perfect forward secrecy (-g)")]
    PeerWithoutPfs,
    /// A call that does not fit the current state (a caller bug).
    #[error("handshake used out of order")]
    OutOfOrder,
}

/// Keys for both directions once the handshake is done.
pub struct SessionKeys {
    pub send: Encryptor,
    pub recv: Decryptor,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the peer's nonce.
    AwaitNonce,
    /// Client: have dk_1, must make y_C || h_C. Server: unused.
    MakeOurs,
    /// Waiting for the peer's y || h.
    AwaitPeerYh,
    /// Server: peer checked; must make y_S || h_S.
    ServerReply,
    /// Must compute y_SC and the session keys.
    Finish,
    Done,
    Failed,
}

/// One handshake. Secrets are zeroized on drop.
pub struct Handshake {
    role: Role,
    cfg: HandshakeConfig,
    key: Key,
    state: State,
    /// nonce_C || nonce_S (always client first), filled as they are known.
    nonces: [u8; 2 * NONCE_LEN],
    /// dhmac_C || dhmac_S.
    dk1: Zeroizing<[u8; 64]>,
    keypair: Option<DhKeypair>,
    peer_y: Zeroizing<[u8; DH_LEN]>,
    inbuf: Zeroizing<Vec<u8>>,
    out: Vec<u8>,
    out_pos: usize,
    keys: Option<SessionKeys>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("cfg", &self.cfg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Start a handshake. `nonce` must be 32 fresh random bytes. `keypair`
    /// is this connection's DH value (used once); with `no_pfs` it is not
    /// needed, and without it one must be supplied before DH work with
    /// [`Handshake::set_keypair`] or `compute` generates none and fails.
    pub fn new(
        role: Role,
        cfg: HandshakeConfig,
        key: &Key,
        nonce: [u8; NONCE_LEN],
        keypair: Option<DhKeypair>,
    ) -> Self {
        assert!(!(cfg.no_pfs && cfg.require_pfs), "-f and -g conflict");
        let mut nonces = [0u8; 2 * NONCE_LEN];
        let mine = match role {
            Role::Client => 0..NONCE_LEN,
            Role::Server => NONCE_LEN..2 * NONCE_LEN,
        };
        nonces[mine].copy_from_slice(&nonce);
        Handshake {
            role,
            cfg,
            key: key.clone(),
            state: State::AwaitNonce,
            nonces,
            dk1: Zeroizing::new([0u8; 64]),
            keypair,
            peer_y: Zeroizing::new([0u8; DH_LEN]),
            inbuf: Zeroizing::new(Vec::with_capacity(YH_LEN)),
            out: nonce.to_vec(),
            out_pos: 0,
            keys: None,
        }
    }

    /// Whether this handshake will need a DH keypair (PFS mode).
    pub fn needs_keypair(&self) -> bool {
        !self.cfg.no_pfs && self.keypair.is_none()
    }

    /// Supply the DH keypair later (e.g. from a pool), before `compute`.
    pub fn set_keypair(&mut self, kp: DhKeypair) {
        if !self.cfg.no_pfs {
            self.keypair = Some(kp);
        }
    }

    /// Bytes waiting to be sent.
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Mark `n` bytes of [`pending_output`](Self::pending_output) as sent.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }

    /// How many more bytes the handshake wants to read now (0 if none).
    pub fn wanted(&self) -> usize {
        match self.state {
            State::AwaitNonce => NONCE_LEN - self.inbuf.len(),
            State::AwaitPeerYh => YH_LEN - self.inbuf.len(),
            _ => 0,
        }
    }

    /// Take received bytes; returns how many were used (never more than
    /// [`wanted`](Self::wanted)). The rest belongs to the data stream.
    pub fn feed(&mut self, data: &[u8]) -> Result<usize, HandshakeError> {
        let n = data.len().min(self.wanted());
        if n == 0 {
            return Ok(0);
        }
        self.inbuf.extend_from_slice(&data[..n]);
        match self.state {
            State::AwaitNonce if self.inbuf.len() == NONCE_LEN => {
                let theirs = match self.role {
                    Role::Client => NONCE_LEN..2 * NONCE_LEN,
                    Role::Server => 0..NONCE_LEN,
                };
                self.nonces[theirs].copy_from_slice(&self.inbuf);
                self.inbuf.clear();
                pbkdf2_1(self.key.as_bytes(), &self.nonces, &mut self.dk1[..]);
                self.state = match self.role {
                    Role::Client => State::MakeOurs,
                    Role::Server => State::AwaitPeerYh,
                };
            }
            State::AwaitPeerYh if self.inbuf.len() == YH_LEN => {
                let r = self.check_peer();
                self.inbuf.clear();
                if let Err(e) = r {
                    self.state = State::Failed;
                    return Err(e);
                }
                self.state = match self.role {
                    Role::Client => State::Finish,
                    Role::Server => State::ServerReply,
                };
            }
            _ => {}
        }
        Ok(n)
    }

    fn check_peer(&mut self) -> Result<(), HandshakeError> {
        let (y, h) = self.inbuf.split_at(DH_LEN);
        let dhmac = match self.role {
            Role::Client => &self.dk1[32..],
            Role::Server => &self.dk1[..32],
        };
        if !bool::from(hmac(dhmac, y).ct_eq(h)) {
            return Err(HandshakeError::BadMac);
        }
        let y: &[u8; DH_LEN] = y.try_into().expect("split at DH_LEN");
        if !below_p(y) {
            return Err(HandshakeError::BadDhValue);
        }
        if self.cfg.require_pfs && *y == Y_ONE {
            return Err(HandshakeError::PeerWithoutPfs);
        }
        self.peer_y.copy_from_slice(y);
        Ok(())
    }

    /// Whether the server has checked the client's `y || h` and its next
    /// step sends its own reply (a shell may hold the reply back, e.g.
    /// until the target is connected).
    pub fn about_to_reply(&self) -> bool {
        self.state == State::ServerReply
    }

    /// Whether [`compute`](Self::compute) has work to do now.
    pub fn needs_compute(&self) -> bool {
        match self.state {
            State::MakeOurs | State::ServerReply => true,
            // The server sends y_S || h_S before it computes y_SC, so the
            // reply travels while we do the modexp.
            State::Finish => true,
            _ => false,
        }
    }

    /// Do the pending DH and key-derivation work.
    pub fn compute(&mut self) -> Result<(), HandshakeError> {
        match self.state {
            State::MakeOurs => {
                self.queue_ours(0)?;
                self.state = State::AwaitPeerYh;
            }
            State::ServerReply => {
                self.queue_ours(32)?;
                self.state = State::Finish;
            }
            State::Finish => {
                self.finish();
                self.state = State::Done;
            }
            _ => return Err(HandshakeError::OutOfOrder),
        }
        Ok(())
    }

    /// Queue y || h, with h keyed by our half of dk_1 (at `at`).
    fn queue_ours(&mut self, at: usize) -> Result<(), HandshakeError> {
        let y = if self.cfg.no_pfs {
            Y_ONE
        } else {
            self.keypair
                .as_ref()
                .ok_or(HandshakeError::OutOfOrder)?
                .public
        };
        let h = hmac(&self.dk1[at..at + 32], &y);
        self.out.extend_from_slice(&y);
        self.out.extend_from_slice(&h);
        Ok(())
    }

    fn finish(&mut self) {
        let y_sc: Zeroizing<[u8; DH_LEN]> = match (&self.keypair, self.cfg.no_pfs) {
            (Some(kp), false) => kp.secret.shared(&self.peer_y),
            _ => Zeroizing::new(Y_ONE),
        };
        // The exponent has done its job: drop (and zeroize) it now.
        self.keypair = None;
        let mut salt = Zeroizing::new([0u8; 2 * NONCE_LEN + DH_LEN]);
        salt[..2 * NONCE_LEN].copy_from_slice(&self.nonces);
        salt[2 * NONCE_LEN..].copy_from_slice(&y_sc[..]);
        let mut dk2 = Zeroizing::new([0u8; 128]);
        pbkdf2_1(self.key.as_bytes(), &salt[..], &mut dk2[..]);
        let k = |i: usize| -> [u8; 32] { dk2[32 * i..32 * (i + 1)].try_into().expect("32") };
        let (mut ec, mut hc, mut es, mut hs) = (k(0), k(1), k(2), k(3));
        self.keys = Some(match self.role {
            Role::Client => SessionKeys {
                send: Encryptor::new(&ec, &hc),
                recv: Decryptor::new(&es, &hs),
            },
            Role::Server => SessionKeys {
                send: Encryptor::new(&es, &hs),
                recv: Decryptor::new(&ec, &hc),
            },
        });
        ec.zeroize();
        hc.zeroize();
        es.zeroize();
        hs.zeroize();
    }

    /// Done once the keys are derived and everything queued was sent.
    pub fn is_done(&self) -> bool {
        self.state == State::Done && self.pending_output().is_empty()
    }

    /// The session keys; `None` until [`is_done`](Self::is_done).
    pub fn into_keys(mut self) -> Option<SessionKeys> {
        if self.is_done() {
            self.keys.take()
        } else {
            None
        }
    }

    /// The nonce pair (for tests and diagnostics; not secret).
    pub fn nonces(&self) -> &[u8; 2 * NONCE_LEN] {
        &self.nonces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_file_contents(b"test key")
    }

    /// Run a client and a server against each other in memory.
    pub(crate) fn run(
        c: HandshakeConfig,
        s: HandshakeConfig,
        ck: &Key,
        sk: &Key,
    ) -> Result<(SessionKeys, SessionKeys), HandshakeError> {
        let kp =
            |b: u8, cfg: HandshakeConfig| (!cfg.no_pfs).then(|| DhKeypair::from_random(&[b; 32]));
        let mut cl = Handshake::new(Role::Client, c, ck, [1; 32], kp(3, c));
        let mut sv = Handshake::new(Role::Server, s, sk, [2; 32], kp(4, s));
        fn step(a: &mut Handshake, b: &mut Handshake) -> Result<(), HandshakeError> {
            while a.needs_compute() {
                a.compute()?;
            }
            let out = a.pending_output().to_vec();
            let used = b.feed(&out)?;
            a.consume_output(used);
            Ok(())
        }
        for _ in 0..20 {
            step(&mut cl, &mut sv)?;
            step(&mut sv, &mut cl)?;
            if cl.is_done() && sv.is_done() {
                return Ok((cl.into_keys().unwrap(), sv.into_keys().unwrap()));
            }
        }
        panic!("handshake stalled: {cl:?} {sv:?}");
    }

    fn talk(a: &mut SessionKeys, b: &mut SessionKeys) {
        let mut pkt = [0u8; crate::PACKET_LEN];
        a.send.seal(b"ping", &mut pkt);
        assert_eq!(b.recv.open(&mut pkt).unwrap(), b"ping");
        b.send.seal(b"pong", &mut pkt);
        assert_eq!(a.recv.open(&mut pkt).unwrap(), b"pong");
    }

    #[test]
    fn pfs_matrix() {
        let d = HandshakeConfig::default();
        let f = HandshakeConfig {
            no_pfs: true,
            require_pfs: false,
        };
        let g = HandshakeConfig {
            no_pfs: false,
            require_pfs: true,
        };
        for (c, s, ok) in [
            (d, d, true),
            (d, f, true),
            (f, d, true),
            (f, f, true),
            (g, g, true),
            (g, d, true),
            (f, g, false),
            (g, f, false),
        ] {
            match run(c, s, &key(), &key()) {
                Ok((mut a, mut b)) => {
                    assert!(ok, "{c:?} {s:?} should fail");
                    talk(&mut a, &mut b);
                }
                Err(e) => {
                    assert!(!ok, "{c:?} {s:?} failed: {e}");
                    assert_eq!(e, HandshakeError::PeerWithoutPfs);
                }
            }
        }
    }

    #[test]
    fn wrong_key_fails_on_server_mac_check() {
        let d = HandshakeConfig::default();
        let e = run(d, d, &key(), &Key::from_file_contents(b"other")).unwrap_err();
        assert_eq!(e, HandshakeError::BadMac);
    }

    #[test]
    fn feed_never_overconsumes() {
        let d = HandshakeConfig::default();
        let mut sv = Handshake::new(Role::Server, d, &key(), [2; 32], None);
        let data = [9u8; 100];
        assert_eq!(sv.feed(&data).unwrap(), 32);
        assert_eq!(sv.wanted(), YH_LEN);
        assert_eq!(sv.feed(&[]).unwrap(), 0);
    }
}
