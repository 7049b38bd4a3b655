//! Secret hygiene, checked on real memory: a global allocator
//! (tests/heapscan) scans every block as it is freed for the secrets of a
//! handshake we know in advance (K, dk_1, the DH exponents, y_SC, the four
//! session keys). A secret found in freed heap means a copy was dropped
//! without being wiped, where anyone who later gets that memory could
//! read it.

mod heapscan;

use heapscan::{arm, hits, watch};
use spiped_proto::dh::DhKeypair;
use spiped_proto::kdf::pbkdf2_1;
use spiped_proto::{DH_LEN, Handshake, HandshakeConfig, Key, PACKET_LEN, Role, SessionKeys};

/// Run a handshake in memory, both sides boxed (so their state lives on
/// the heap and is freed through the allocator), then one packet each way.
fn handshake(key: &Key, xc: &[u8; 32], xs: &[u8; 32], nc: [u8; 32], ns: [u8; 32]) {
    let cfg = HandshakeConfig::default();
    let mut c = Box::new(Handshake::new(
        Role::Client,
        cfg,
        key,
        nc,
        Some(DhKeypair::from_random(xc)),
    ));
    let mut s = Box::new(Handshake::new(
        Role::Server,
        cfg,
        key,
        ns,
        Some(DhKeypair::from_random(xs)),
    ));
    fn step(a: &mut Handshake, b: &mut Handshake) {
        while a.needs_compute() {
            a.compute().unwrap();
        }
        let out = a.pending_output().to_vec();
        let used = b.feed(&out).unwrap();
        a.consume_output(used);
    }
    for _ in 0..10 {
        step(&mut c, &mut s);
        step(&mut s, &mut c);
    }
    assert!(c.is_done() && s.is_done());
    let mut ck: Box<SessionKeys> = Box::new(c.into_keys().unwrap());
    let mut sk: Box<SessionKeys> = Box::new(s.into_keys().unwrap());
    let mut pkt = Box::new([0u8; PACKET_LEN]);
    ck.send.seal(b"to the server", &mut pkt);
    assert_eq!(sk.recv.open(&mut pkt).unwrap(), b"to the server");
    sk.send.seal(b"to the client", &mut pkt);
    assert_eq!(ck.recv.open(&mut pkt).unwrap(), b"to the client");
}

#[test]
fn no_secret_is_left_in_freed_heap() {
    let key = Key::from_file_contents(b"a key file for the hygiene test");
    let (xc, xs) = ([0x3c; 32], [0xa5; 32]);
    let (nc, ns) = ([0x01; 32], [0x02; 32]);

    // The secrets, computed beforehand (the allocator is not armed yet).
    let nonces = [nc, ns].concat();
    let mut dk1 = [0u8; 64];
    pbkdf2_1(key.as_bytes(), &nonces, &mut dk1);
    let server_public = DhKeypair::from_random(&xs).public;
    let y_sc = DhKeypair::from_random(&xc).secret.shared(&server_public);
    let mut dk2 = [0u8; 128];
    pbkdf2_1(key.as_bytes(), &[&nonces[..], &y_sc[..]].concat(), &mut dk2);
    // The exponent e = 2^258 + x as crypto-bigint holds it: little-endian
    // 64-bit limbs, so the low 32 bytes are x reversed.
    let limbs = |x: &[u8; 32]| -> Vec<u8> { x.iter().rev().copied().collect() };
    watch("K", key.as_bytes());
    watch("dhmac_C", &dk1[..32]);
    watch("dhmac_S", &dk1[32..]);
    watch("exponent x_C", &limbs(&xc));
    watch("exponent x_S", &limbs(&xs));
    watch("y_SC (bytes 0-31)", &y_sc[..32]);
    watch("y_SC (bytes 224-255)", &y_sc[DH_LEN - 32..]);
    // The comb's running product after the lowest digits of x_C: from
    // two consecutive ones, a digit of x_C can be read off.
    for digits in [1u32, 2, 32] {
        watch(comb_name(digits), &comb_partial(&xc, digits));
    }
    watch("E_C", &dk2[..32]);
    watch("H_C", &dk2[32..64]);
    watch("E_S", &dk2[64..96]);
    watch("H_S", &dk2[96..]);

    arm(true);
    handshake(&key, &xc, &xs, nc, ns);
    arm(false);
    assert_eq!(hits(), vec![], "secrets found in freed heap blocks");

    // The detector works: a key dropped without wiping is found.
    arm(true);
    drop(std::hint::black_box(Box::new(*key.as_bytes())));
    arm(false);
    assert_eq!(hits(), vec![("K", 1)]);
}

fn comb_name(digits: u32) -> &'static str {
    match digits {
        1 => "comb product after 1 digit",
        2 => "comb product after 2 digits",
        _ => "comb product after 32 digits",
    }
}

/// 2^(2^258 + (x mod 16^digits)) mod p in Montgomery form, 32 bytes of it
/// as they lie in memory (little-endian 64-bit limbs): the value the
/// fixed-base comb holds after `digits` 4-bit digits of x.
fn comb_partial(x: &[u8; 32], digits: u32) -> Vec<u8> {
    use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
    use crypto_bigint::{BoxedUint, Odd};
    let p = BoxedUint::from_be_slice(&spiped_proto::dh::P, 2048).unwrap();
    let params = BoxedMontyParams::new(Odd::new(p).unwrap());
    // The exponent 2^258 + (x mod 16^digits), big-endian in 40 bytes.
    let mut e = [0u8; 40];
    e[40 - 33] = 1 << 2;
    let keep = (digits / 2) as usize;
    e[40 - keep..].copy_from_slice(&x[32 - keep..]);
    if digits % 2 == 1 {
        e[40 - keep - 1] = x[32 - keep - 1] & 0x0f;
    }
    let e = BoxedUint::from_be_slice(&e, 320).unwrap();
    let two = BoxedMontyForm::new(BoxedUint::from_be_slice(&[2], 2048).unwrap(), &params);
    let v = two.pow_bounded_exp(&e, 259);
    let bytes: Vec<u8> = v
        .as_montgomery()
        .as_words()
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    bytes[96..128].to_vec()
}

/// Types that hold secrets wipe themselves when dropped (compile-time).
#[test]
fn secret_types_zeroize_on_drop() {
    fn wipes<T: zeroize::ZeroizeOnDrop>() {}
    wipes::<Key>();
    wipes::<spiped_proto::dh::DhSecret>();
    // The packet codec's per-direction state: AES round keys, and the keyed
    // HMAC-SHA256 state, whose inner and outer hash states are each one of
    // these cores (hmac's wrapper does not say ZeroizeOnDrop itself, but
    // every field it has wipes itself).
    wipes::<aes::Aes256>();
    wipes::<<sha2::Sha256 as sha2::digest::block_api::CoreProxy>::Core>();
}

/// Debug output never shows key material.
#[test]
fn debug_output_redacts_secrets() {
    let key = Key::from_file_contents(b"k");
    let kp = DhKeypair::from_random(&[0x77; 32]);
    let hs = Handshake::new(
        Role::Client,
        HandshakeConfig::default(),
        &key,
        [9; 32],
        Some(DhKeypair::from_random(&[0x77; 32])),
    );
    let text = format!("{key:?} {kp:?} {hs:?} {:?}", kp.secret);
    assert!(text.contains("Key(<redacted>)"), "{text}");
    assert!(text.contains("DhSecret(<redacted>)"), "{text}");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for secret in [&key.as_bytes()[..8], &[0x77; 8][..]] {
        assert!(!text.contains(&hex(secret)), "{text}");
        assert!(!text.contains(&format!("{:?}", &secret[..4])), "{text}");
    }
}
