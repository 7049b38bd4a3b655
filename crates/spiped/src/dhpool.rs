//! Ephemeral DH values made ahead of time.
//!
//! Making y = 2^e mod p costs a 2048-bit modexp (~0.5 ms), and the protocol
//! puts it on the critical path of every forward-secret handshake, on both
//! sides. A helper thread keeps a few ready so a handshake only pays for
//! the shared-secret modexp. Each value is handed out once and its secret is
//! zeroized when the handshake drops it, so forward secrecy is unchanged: a
//! value waits in memory for at most the time until the next handshake, as
//! it would inside a handshake. When the pool is empty (a burst), the
//! caller computes one itself rather than waiting.
//!
//! The refilling thread runs at a lower priority (nice +10) and is woken
//! only once half the pool is used, so it fills idle moments and never
//! competes with the handshakes and data in flight.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use spiped_proto::dh::DhKeypair;

/// Fresh random bytes from the OS.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b)
}

/// Make one keypair from fresh randomness.
pub fn generate() -> std::io::Result<DhKeypair> {
    let mut x = random_bytes::<32>()?;
    let kp = DhKeypair::from_random(&x);
    zeroize::Zeroize::zeroize(&mut x);
    Ok(kp)
}

struct Shared {
    ready: Mutex<VecDeque<DhKeypair>>,
    wake: Condvar,
    target: usize,
}

/// A pool of ready keypairs with one refilling thread.
#[derive(Clone)]
pub struct DhPool {
    shared: Arc<Shared>,
}

impl DhPool {
    /// Start the refilling thread; it keeps `target` values ready. Call
    /// after daemonizing (threads do not survive fork).
    pub fn start(target: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            ready: Mutex::new(VecDeque::with_capacity(target)),
            wake: Condvar::new(),
            target,
        });
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("dh-pool".into())
            .spawn(move || refill(s))?;
        Ok(DhPool { shared })
    }

    /// A keypair for one handshake: a ready one, or one made now.
    pub fn take(&self) -> std::io::Result<DhKeypair> {
        let (got, left) = {
            let mut q = self.shared.ready.lock().unwrap_or_else(|e| e.into_inner());
            (q.pop_front(), q.len())
        };
        if left <= self.shared.target / 2 {
            self.shared.wake.notify_one();
        }
        match got {
            Some(kp) => Ok(kp),
            None => generate(),
        }
    }

    /// How many are ready now (for tests and diagnostics).
    pub fn ready(&self) -> usize {
        self.shared.ready.lock().map(|q| q.len()).unwrap_or(0)
    }
}

fn refill(s: Arc<Shared>) {
    // SAFETY: plain syscalls; on Linux a thread's nice value is its own.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
    loop {
        {
            let q = s.ready.lock().unwrap_or_else(|e| e.into_inner());
            let q = s
                .wake
                .wait_while(q, |q| q.len() >= s.target)
                .unwrap_or_else(|e| e.into_inner());
            drop(q);
        }
        // The pool is the only owner besides this thread: stop with it.
        if Arc::strong_count(&s) == 1 {
            return;
        }
        match generate() {
            Ok(kp) => s
                .ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(kp),
            // No randomness: leave the pool empty; take() will report it.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_up_and_hands_out_distinct_values() {
        let pool = DhPool::start(4).unwrap();
        let t0 = std::time::Instant::now();
        while pool.ready() < 4 && t0.elapsed().as_secs() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(pool.ready(), 4);
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_ne!(a.public, b.public);
        assert!(spiped_proto::dh::below_p(&a.public));
    }
}
