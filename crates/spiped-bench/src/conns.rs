//! New connections through the pair to the echo target: time to first
//! byte, connections per second, and idle connections held open.
//!
//! One cycle: connect to the pair, send 1 byte, read it back (the clock
//! stops here), close. Each cycle leaves three ephemeral ports in
//! TIME_WAIT, so callers keep their counts bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Connect through the pair and see one byte come back; the stream stays open.
pub fn open_echoed(entry: SocketAddr) -> Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&entry, TIMEOUT).context("connect")?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.write_all(b"x").context("send")?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).context("echo")?;
    if b != *b"x" {
        bail!("echo returned {:?}", b[0]);
    }
    Ok(s)
}

/// One full cycle; the time to the echoed byte.
pub fn cycle(entry: SocketAddr) -> Result<Duration> {
    let t0 = Instant::now();
    let s = open_echoed(entry)?;
    let dt = t0.elapsed();
    drop(s);
    Ok(dt)
}

/// `n` cycles one after another.
pub fn ttfb(entry: SocketAddr, n: usize) -> Result<Vec<Duration>> {
    (0..n).map(|_| cycle(entry)).collect()
}

/// What a connection-rate run did.
#[derive(Clone, Debug)]
pub struct RateResult {
    pub ok: usize,
    pub failed: usize,
    pub secs: f64,
    pub latencies: Vec<Duration>,
}

impl RateResult {
    pub fn per_sec(&self) -> f64 {
        self.ok as f64 / self.secs
    }
}

/// `total` cycles shared by `parallel` client threads, as fast as they go.
pub fn rate(entry: SocketAddr, total: usize, parallel: usize) -> Result<RateResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let next = next.clone();
            thread::spawn(move || {
                let (mut lat, mut failed) = (Vec::new(), 0usize);
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    match cycle(entry) {
                        Ok(d) => lat.push(d),
                        Err(_) => failed += 1,
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let mut res = RateResult {
        ok: 0,
        failed: 0,
        secs: 0.0,
        latencies: Vec::with_capacity(total),
    };
    for w in workers {
        let (lat, failed) = w
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))?;
        res.ok += lat.len();
        res.failed += failed;
        res.latencies.extend(lat);
    }
    res.secs = t0.elapsed().as_secs_f64();
    Ok(res)
}

/// Open `n` connections through the pair, each carried one echoed byte
/// (so every hop is established), and hand them back idle.
pub fn open_idle(entry: SocketAddr, n: usize) -> Result<Vec<TcpStream>> {
    (0..n)
        .map(|i| open_echoed(entry).with_context(|| format!("idle connection {i}")))
        .collect()
}
