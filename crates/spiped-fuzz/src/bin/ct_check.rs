//! Run the secret-dependent code of spiped-proto with its secrets marked
//! undefined for valgrind's memcheck (see spiped_fuzz::valgrind): any
//! branch or memory access that depends on a secret is reported as the
//! use of an uninitialised value. `tests/constant_time.rs` runs this under
//! valgrind and expects no such report, and a report from `control`.
//!
//! Usage: ct_check {modexp | keys | control | control-taint | control-modexp}

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use spiped_fuzz::valgrind::{public, secret};
use spiped_proto::dh::{DhKeypair, DhSecret, P};
use spiped_proto::kdf::{hmac, pbkdf2_1};
use spiped_proto::{DH_LEN, Encryptor, PACKET_LEN};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        // The DH exponent: 2^e mod p (by the fixed-base comb a keypair
        // uses, and by the generic modexp) and y^e mod p.
        "modexp" => {
            let peer = DhKeypair::from_random(&[0x33; 32]).public;
            let mut x = [0x5a_u8; 32];
            secret(&mut x);
            let kp = DhKeypair::from_random(&x);
            let y_comb = kp.public;
            let y = kp.secret.public();
            let shared = kp.secret.shared(&peer);
            public(&y_comb);
            public(&y);
            public(&shared[..]);
            // The results are right (checked with public inputs).
            let again = DhSecret::from_random(&[0x5a; 32]);
            assert_eq!(y, again.public());
            assert_eq!(y_comb, y);
            assert_eq!(*shared, *again.shared(&peer));
        }
        // K and the session keys: PBKDF2, HMAC, AES-CTR and packet sealing.
        "keys" => {
            let mut k = [0x42_u8; 32];
            let (mut e, mut h) = ([0x17_u8; 32], [0x29_u8; 32]);
            secret(&mut k);
            secret(&mut e);
            secret(&mut h);
            let mut dk = [0u8; 128];
            pbkdf2_1(&k, b"nonce_C || nonce_S || y_SC", &mut dk);
            let mac = hmac(&dk[..32], b"y");
            let mut enc = Encryptor::new(&e, &h);
            let mut pkt = [0u8; PACKET_LEN];
            enc.seal(b"payload", &mut pkt);
            public(&dk);
            public(&mac);
            public(&pkt);
            std::hint::black_box((dk, mac, pkt));
        }
        // A deliberate secret-dependent branch: the check must see it.
        "control" => {
            let mut x = [0x5a_u8; 32];
            secret(&mut x);
            if x[0] & 1 == 0 {
                println!("even");
            }
        }
        // The mark reaches through the constant-time modexp to its result
        // (so "modexp" checks the real computation): branching on the
        // result, undeclassified, must be seen.
        "control-taint" => {
            let mut x = [0x5a_u8; 32];
            secret(&mut x);
            // The comb's result, as a keypair makes it.
            let y = DhKeypair::from_random(&x).public;
            if y[DH_LEN / 2] & 1 == 0 {
                println!("even");
            }
        }
        // The textbook variable-time modexp (multiply only where the
        // exponent has a 1 bit): the check must see it too.
        "control-modexp" => {
            let mut x = [0x5a_u8; 32];
            secret(&mut x);
            let p = BoxedUint::from_be_slice(&P, 2048).expect("2048 bits");
            let params = BoxedMontyParams::new(Odd::new(p).expect("odd"));
            let g =
                BoxedMontyForm::new(BoxedUint::from_be_slice(&[2], 2048).expect("fits"), &params);
            let mut acc = BoxedMontyForm::one(&params);
            for byte in x {
                for i in (0..8).rev() {
                    acc = acc.square();
                    if (byte >> i) & 1 == 1 {
                        acc = &acc * &g;
                    }
                }
            }
            let mut out = acc.retrieve().to_be_bytes();
            public(&out);
            std::hint::black_box(&mut out);
        }
        _ => {
            eprintln!(
                "usage: ct_check {{modexp | keys | control | control-taint | control-modexp}}"
            );
            std::process::exit(2);
        }
    }
}
