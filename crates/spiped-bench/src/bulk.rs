//! Bulk transfer: sources write through the pair into a sink, both in this
//! process, with 1 MiB buffers and no per-byte work (unless asked to verify).
//!
//! All streams are connected (and seen by the sink) one at a time before
//! the clock starts: upstream listens with a backlog of 10, and a burst of
//! connects would cost 1 s SYN retries that have nothing to do with
//! throughput.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const BUF: usize = 1 << 20;
/// No single stream may stall longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The byte at `offset` of every stream: cheap to make once, checkable.
fn pattern_byte(offset: u64) -> u8 {
    ((offset % BUF as u64) % 251) as u8
}

/// The sink: a listener the pair targets, kept across runs.
pub struct Sink {
    listener: TcpListener,
}

impl Sink {
    pub fn bind() -> Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(Sink { listener })
    }

    pub fn addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }
}

/// What one bulk run moved.
#[derive(Clone, Copy, Debug)]
pub struct BulkResult {
    /// Payload bytes that reached the sink, all streams together.
    pub bytes: u64,
    /// From the start of writing to EOF at the sink on every stream.
    pub secs: f64,
}

impl BulkResult {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

struct SinkStream {
    bytes: u64,
    eof_at: Instant,
}

fn read_to_eof(mut s: TcpStream, verify: bool) -> Result<SinkStream> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("sink read"),
        };
        if n == 0 {
            break;
        }
        if verify {
            for (i, b) in buf[..n].iter().enumerate() {
                if *b != pattern_byte(total + i as u64) {
                    bail!("sink: wrong byte at offset {}", total + i as u64);
                }
            }
        }
        total += n as u64;
    }
    Ok(SinkStream {
        bytes: total,
        eof_at: Instant::now(),
    })
}

fn write_stream(mut s: TcpStream, data: &[u8], bytes: u64) -> Result<()> {
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(data.len() as u64) as usize;
        s.write_all(&data[..n]).context("source write")?;
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write)?;
    // The pair closes our side once the sink has closed its side.
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut b = [0u8; 64];
    while s.read(&mut b).context("source waiting for close")? > 0 {}
    Ok(())
}

/// Push `per_stream` bytes through `entry` on each of `streams` connections
/// at once, into `sink`.
pub fn run(
    entry: SocketAddr,
    sink: &Sink,
    streams: usize,
    per_stream: u64,
    verify: bool,
) -> Result<BulkResult> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = sink.listener.try_clone()?;
    let acc = accepted.clone();
    let acceptor = thread::spawn(move || -> Result<Vec<SinkStream>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut readers = Vec::new();
        while readers.len() < streams {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false)?;
                    readers.push(thread::spawn(move || read_to_eof(s, verify)));
                    acc.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        bail!("sink: only {} of {streams} streams arrived", readers.len());
                    }
                    thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(e).context("sink accept"),
            }
        }
        readers
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("sink reader panicked"))?
            })
            .collect()
    });

    let mut conns = Vec::with_capacity(streams);
    for i in 0..streams {
        let s = TcpStream::connect_timeout(&entry, Duration::from_secs(10))
            .with_context(|| format!("connecting stream {i} to {entry}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while accepted.load(Ordering::SeqCst) <= i {
            if Instant::now() > deadline || acceptor.is_finished() {
                bail!("stream {i} did not reach the sink through the pair");
            }
            thread::sleep(Duration::from_micros(100));
        }
        conns.push(s);
    }

    let data: Arc<Vec<u8>> = Arc::new((0..BUF as u64).map(pattern_byte).collect());
    let start = Arc::new(Barrier::new(streams + 1));
    let writers: Vec<_> = conns
        .into_iter()
        .map(|s| {
            let (data, start) = (data.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                write_stream(s, &data, per_stream)
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for w in writers {
        w.join().map_err(|_| anyhow::anyhow!("source panicked"))??;
    }
    let got = acceptor
        .join()
        .map_err(|_| anyhow::anyhow!("sink panicked"))??;
    let bytes: u64 = got.iter().map(|s| s.bytes).sum();
    if got.iter().any(|s| s.bytes != per_stream) {
        bail!(
            "sink got {:?} bytes per stream, expected {per_stream}",
            got.iter().map(|s| s.bytes).collect::<Vec<_>>()
        );
    }
    let t1 = got.iter().map(|s| s.eof_at).max().unwrap_or(t0);
    Ok(BulkResult {
        bytes,
        secs: t1.duration_since(t0).as_secs_f64().max(1e-9),
    })
}
