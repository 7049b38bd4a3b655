//! Single-core packet crypto speed: `cargo run --release -p spiped-proto
//! --example crypto_speed`. Prints MB/s of payload for seal, open, and
//! seal + open (the ceiling for one direction of a pipe). Timed in thread
//! CPU time, so other load on the machine does not distort it.

#[path = "support/cpu.rs"]
mod cpu;
use cpu::cpu_now;

use spiped_proto::{Decryptor, Encryptor, PACKET_LEN};

fn main() {
    let n = 200_000u64;
    let payload = [0x5au8; 1024];
    let mut enc = Encryptor::new(&[1; 32], &[2; 32]);
    let mut dec = Decryptor::new(&[1; 32], &[2; 32]);
    let mut pkts = vec![[0u8; PACKET_LEN]; 1024];
    let t0 = cpu_now();
    for i in 0..n {
        enc.seal(&payload, &mut pkts[(i % 1024) as usize]);
    }
    let seal = cpu_now() - t0;
    let mut enc = Encryptor::new(&[1; 32], &[2; 32]);
    let t0 = cpu_now();
    for _ in 0..n {
        let mut p = [0u8; PACKET_LEN];
        enc.seal(&payload, &mut p);
        dec.open(&mut p).expect("valid");
    }
    let both = cpu_now() - t0;
    let mb = (n * 1024) as f64 / 1e6;
    println!(
        "seal:        {:.0} MB/s ({:.2} us/packet)",
        mb / seal,
        seal * 1e6 / n as f64
    );
    println!(
        "seal + open: {:.0} MB/s ({:.2} us/packet)",
        mb / both,
        both * 1e6 / n as f64
    );
}
