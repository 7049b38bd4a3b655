//! The pipelined request loop shared by every workload and both systems,
//! and the per-second meter upstream's tools report medians from.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{Codec, Op, Reply};

/// Requests in flight, as upstream's bench tools keep.
pub const WINDOW: usize = 4096;

/// A workload's request source and reply sink.
pub trait Source {
    /// The next operation, or None when there is nothing more to send.
    fn next_op(&mut self) -> Option<Op<'_>>;
    /// A reply arrived.
    fn reply(&mut self, r: Reply) -> Result<()>;
}

/// Keep up to `window` requests in flight until the source runs dry and
/// every reply is in.
pub async fn run<S, C, W>(stream: &mut S, codec: &mut C, window: usize, src: &mut W) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Codec,
    W: Source,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut out = Vec::with_capacity(window * 128);
    let mut written = 0;
    let mut inbuf = BytesMut::with_capacity(1 << 20);
    let mut inflight = 0usize;
    let mut id = 0u64;
    let mut dry = false;
    loop {
        while !dry && inflight < window {
            match src.next_op() {
                Some(op) => {
                    codec.encode(id, &op, &mut out);
                    id += 1;
                    inflight += 1;
                }
                None => dry = true,
            }
        }
        if dry && inflight == 0 {
            return Ok(());
        }
        tokio::select! {
            r = wr.write(&out[written..]), if written < out.len() => {
                written += r?;
                if written == out.len() {
                    out.clear();
                    written = 0;
                }
            }
            r = rd.read_buf(&mut inbuf) => {
                if r? == 0 {
                    bail!("server closed the connection");
                }
                while let Some((n, reply)) = codec.decode(&inbuf)? {
                    inbuf.advance(n);
                    inflight -= 1;
                    src.reply(reply)?;
                }
                if inbuf.capacity() - inbuf.len() < 64 * 1024 {
                    inbuf.reserve(1 << 20);
                }
            }
        }
    }
}

/// Counts completions per wall-clock second since `start`.
pub struct Meter {
    start: Instant,
    per_second: Vec<u64>,
}

impl Meter {
    pub fn new() -> Self {
        Meter {
            start: Instant::now(),
            per_second: Vec::new(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn add(&mut self, n: u64) {
        let s = self.start.elapsed().as_secs() as usize;
        if self.per_second.len() <= s {
            self.per_second.resize(s + 1, 0);
        }
        self.per_second[s] += n;
    }

    /// Completions counted in seconds [from, to).
    pub fn total(&self, from: usize, to: usize) -> u64 {
        (from..to).filter_map(|s| self.per_second.get(s)).sum()
    }

    /// Median of the per-second counts of seconds [from, to).
    pub fn median(&self, from: usize, to: usize) -> f64 {
        let mut v: Vec<u64> = (from..to)
            .map(|s| self.per_second.get(s).copied().unwrap_or(0))
            .collect();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m] as f64
        } else {
            (v[m - 1] + v[m]) as f64 / 2.0
        }
    }
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_seconds() {
        let mut m = Meter::new();
        m.per_second = vec![5, 1, 9, 3];
        assert_eq!(m.median(0, 3), 5.0);
        assert_eq!(m.median(0, 4), 4.0);
        assert_eq!(m.median(3, 6), 0.0);
        assert_eq!(m.median(2, 2), 0.0);
    }
}
