//! Helpers for tests and benchmarks that start daemons on loopback.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lowest port handed out by [`free_port`].
const FIRST: u16 = 10000;

/// A TCP port on `host` ("127.0.0.1" or "::1") that is free now, for a
/// daemon a test is about to start.
///
/// Port 0 is no good for this: the kernel takes those ports from its
/// ephemeral range, so between our probe and the daemon's bind an outgoing
/// connection (of this test or any other running beside it) may take the
/// same port, and the daemon fails with "Address already in use". The
/// ports here come from below that range, where the kernel never picks on
/// its own; they are spread at random so tests running side by side rarely
/// try the same one, and checked by binding.
pub fn free_port(host: &str) -> u16 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .filter(|&p| p > FIRST + 1000)
        .unwrap_or(32768);
    let span = u64::from(ephemeral_start - FIRST);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ SEQ
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1000 {
        // xorshift: a different candidate each round.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = FIRST + (x % span) as u16;
        if TcpListener::bind((host, port)).is_ok() {
            return port;
        }
    }
    // Everything busy (should not happen): fall back to the kernel's pick.
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_below_the_ephemeral_range() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let p = free_port("127.0.0.1");
            assert!((FIRST..32768).contains(&p));
            TcpListener::bind(("127.0.0.1", p)).unwrap();
            seen.insert(p);
        }
        assert!(seen.len() > 40, "ports should be spread out");
    }
}
