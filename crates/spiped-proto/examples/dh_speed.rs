//! DH cost per operation, in thread CPU time: `cargo run --release -p
//! spiped-proto --example dh_speed`.

use spiped_proto::dh::DhKeypair;

fn cpu_now() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let n = 200;
    // The first keypair builds the fixed-base table (once per process).
    let t0 = cpu_now();
    let _warm = DhKeypair::from_random(&[0xee; 32]);
    println!(
        "first keypair (builds the table): {:.0} us",
        (cpu_now() - t0) * 1e6
    );
    let t0 = cpu_now();
    let pairs: Vec<DhKeypair> = (0..n)
        .map(|i| DhKeypair::from_random(&[i as u8; 32]))
        .collect();
    let keygen = (cpu_now() - t0) / n as f64;
    let t0 = cpu_now();
    let mut x = 0u8;
    for w in pairs.windows(2) {
        x ^= w[0].secret.shared(&w[1].public)[0];
    }
    let shared = (cpu_now() - t0) / (n - 1) as f64;
    println!("keygen (2^e mod p): {:.0} us", keygen * 1e6);
    println!("shared (y^e mod p): {:.0} us  ({x})", shared * 1e6);
}
