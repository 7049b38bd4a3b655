//! The batching data path at its edges: writes of every size from the
//! client, a target with a tiny buffer that reads and answers in random
//! pieces with pauses (short writes, stalls, resumptions, packets split
//! across reads), through each pairing with the reference. Every byte must
//! arrive in order, both ways.

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

use common::*;

fn jittery_round_trip(e: Impl, d: Impl, seed: u64) {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Jittery { seed });
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(d, &s, &["-d", "-s", &d_addr, "-t", &target.addr, "-k", key]);
    let _e = spiped(e, &s, &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key]);

    let data = random_bytes(6 << 20, seed);
    let sizes = random_bytes(1 << 16, seed + 1);
    let mut c = Client::connect(&e_addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60)));
    let mut w = c.try_clone();
    let writer = thread::spawn(move || {
        // Writes of 1 byte to 128 KiB, some straight after another.
        let (mut at, mut k) = (0usize, 0usize);
        while at < data.len() {
            k = (k + 3) % (sizes.len() - 3);
            let n = match sizes[k] % 4 {
                0 => 1 + sizes[k + 1] as usize % 16,
                1 => 1 + u16::from_le_bytes([sizes[k + 1], sizes[k + 2]]) as usize % 3000,
                _ => {
                    1 + u32::from_le_bytes([sizes[k], sizes[k + 1], sizes[k + 2], 0]) as usize
                        % (128 << 10)
                }
            };
            let n = n.min(data.len() - at);
            w.write_all(&data[at..at + n]).unwrap();
            at += n;
        }
        w.shutdown_write();
        data
    });
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    let data = writer.join().unwrap();
    assert_eq!(got.len(), data.len(), "{e:?}->{d:?}");
    assert!(got == data, "{e:?}->{d:?}: bytes differ");
    let seen = target
        .received
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    assert!(seen == data, "{e:?}->{d:?}: the target saw other bytes");
}

#[test]
fn jittery_target_rust_rust() {
    jittery_round_trip(Impl::Rust, Impl::Rust, 11);
}

#[test]
fn jittery_target_rust_e_c_d() {
    jittery_round_trip(Impl::Rust, Impl::C, 12);
}

#[test]
fn jittery_target_c_e_rust_d() {
    jittery_round_trip(Impl::C, Impl::Rust, 13);
}
