//! The single-core crypto ceiling: spiped-proto's packet code in a loop on
//! 1024-byte payloads, no I/O. In the bulk pipe `-e` seals and `-d` opens,
//! each on its own core, so the slower of the two bounds the pipe.
//!
//! Time is this thread's CPU time, not wall time, so that other load on a
//! shared machine (which steals the core now and then) does not lower the
//! ceiling; like `openssl speed`, which counts user time.

use std::hint::black_box;
use std::time::Duration;

use spiped_proto::{Decryptor, Encryptor, MAX_PAYLOAD, PACKET_LEN};

/// MB/s of payload (10^6 bytes per second).
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// seal then open, one packet at a time, one core.
    pub seal_open: f64,
    /// seal alone.
    pub seal: f64,
    /// open alone (from the two above: t_open = t_pair - t_seal).
    pub open: f64,
}

impl Ceiling {
    /// What one direction of the pipe can carry with one core per daemon.
    pub fn pipe(&self) -> f64 {
        self.seal.min(self.open)
    }
}

fn keys() -> (Encryptor, Decryptor) {
    let (e, h) = ([0x11u8; 32], [0x22u8; 32]);
    (Encryptor::new(&e, &h), Decryptor::new(&e, &h))
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime fills a local struct.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU seconds per packet of `step`, run for about `dur` of CPU time.
fn time_per_packet(dur: Duration, mut step: impl FnMut()) -> f64 {
    // Warm up (CPU frequency, caches), then count in batches.
    for _ in 0..1000 {
        step();
    }
    let t0 = thread_cpu();
    let mut n = 0u64;
    while thread_cpu() - t0 < dur {
        for _ in 0..256 {
            step();
        }
        n += 256;
    }
    (thread_cpu() - t0).as_secs_f64() / n as f64
}

/// Measure once, each loop running about `dur`.
pub fn measure(dur: Duration) -> Ceiling {
    let payload = [0x5au8; MAX_PAYLOAD];
    let mut pkt = [0u8; PACKET_LEN];

    let (mut enc, mut dec) = keys();
    let t_pair = time_per_packet(dur, || {
        enc.seal(black_box(&payload), &mut pkt);
        let out = dec.open(&mut pkt).expect("own packet opens");
        black_box(out);
    });

    let (mut enc, _) = keys();
    let t_seal = time_per_packet(dur, || {
        enc.seal(black_box(&payload), &mut pkt);
        black_box(&pkt);
    });

    let mb = |t: f64| MAX_PAYLOAD as f64 / t / 1e6;
    let t_open = (t_pair - t_seal).max(t_pair * 0.05);
    Ceiling {
        seal_open: mb(t_pair),
        seal: mb(t_seal),
        open: mb(t_open),
    }
}

/// Best of `reps` measurements (the ceiling is what the core can do when
/// nothing else disturbs it), per figure.
pub fn best_of(reps: usize, dur: Duration) -> Ceiling {
    let all: Vec<Ceiling> = (0..reps.max(1)).map(|_| measure(dur)).collect();
    let best = |f: fn(&Ceiling) -> f64| all.iter().map(f).fold(0.0, f64::max);
    Ceiling {
        seal_open: best(|c| c.seal_open),
        seal: best(|c| c.seal),
        open: best(|c| c.open),
    }
}

/// CPU milliseconds per Diffie-Hellman operation of a forward-secret
/// handshake (each side does both): making y = 2^e mod p, and y_peer^e.
#[derive(Clone, Copy, Debug)]
pub struct DhCost {
    pub keypair_ms: f64,
    pub shared_ms: f64,
}

/// Time `n` of each DH operation (in thread CPU time).
pub fn dh_cost(n: usize) -> DhCost {
    use spiped_proto::dh::DhKeypair;
    let n = n.max(1);
    let x = |i: usize| {
        let mut x = [0x3cu8; 32];
        x[..8].copy_from_slice(&(i as u64).to_le_bytes());
        x
    };
    let t0 = thread_cpu();
    let pairs: Vec<DhKeypair> = (0..n).map(|i| DhKeypair::from_random(&x(i))).collect();
    let t1 = thread_cpu();
    for (i, kp) in pairs.iter().enumerate() {
        black_box(kp.secret.shared(&pairs[(i + 1) % n].public));
    }
    let t2 = thread_cpu();
    DhCost {
        keypair_ms: (t1 - t0).as_secs_f64() * 1e3 / n as f64,
        shared_ms: (t2 - t1).as_secs_f64() * 1e3 / n as f64,
    }
}
