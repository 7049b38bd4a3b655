//! `spipe`: one protocol connection between stdin/stdout and a spiped -d.
//!
//! One connection needs no event loop: the connect and the handshake run
//! with blocking calls bounded by `-o`, then two threads move data, one per
//! direction, with the same batching as the daemon.
//!
//! Exit status (upstream's intent, without its races): 0 once both
//! directions have ended (stdin at EOF and the server closed its side);
//! 1 with one clear message otherwise (`Could not connect`, `Handshake
//! failed`, `Connection error`, ...). Never death by SIGPIPE.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::net::Shutdown;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use daemon::addr::{ResolvedAddr, SockAddrSpec};
use daemon::daemonize::strerror;
use socket2::{Domain, SockRef, Socket, Type};
use spiped_proto::{
    Handshake, HandshakeConfig, Key, OpenBuffer, Role, SealBuffer, SessionKeys, YH_LEN,
};

use crate::Fatal;
use crate::cli::SpipeConfig;
use crate::dhpool::{generate, random_bytes};
use crate::keyfile::read_key;
use crate::relay::BATCH_PACKETS;

fn fatal<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Fatal {
    Fatal::new(lines)
}

/// A blocking connected socket.
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn sock(&self) -> SockRef<'_> {
        match self {
            Conn::Tcp(s) => SockRef::from(s),
            Conn::Unix(s) => SockRef::from(s),
        }
    }
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }
    fn set_timeouts(&self, t: Option<Duration>) -> io::Result<()> {
        let s = self.sock();
        s.set_read_timeout(t)?;
        s.set_write_timeout(t)
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(b),
            Conn::Unix(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(b),
            Conn::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Time left until `deadline`, or None (no limit) for an effectively
/// infinite `-o`.
fn remaining(deadline: Option<Instant>) -> io::Result<Option<Duration>> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(io::ErrorKind::TimedOut.into())
            } else {
                Ok(Some(left))
            }
        }
    }
}

fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

fn connect(
    addrs: &[ResolvedAddr],
    bind: Option<&ResolvedAddr>,
    timeout: Duration,
) -> io::Result<Conn> {
    let dl = deadline(timeout);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for a in addrs {
        let r = (|| -> io::Result<Conn> {
            match a {
                ResolvedAddr::Unix(p) => Ok(Conn::Unix(UnixStream::connect(p)?)),
                ResolvedAddr::Inet(sa) => {
                    let s = Socket::new(Domain::for_address(*sa), Type::STREAM, None)?;
                    if let Some(ResolvedAddr::Inet(b)) = bind
                        && b.is_ipv4() == sa.is_ipv4()
                    {
                        s.set_reuse_address(true)?;
                        s.bind(&(*b).into())?;
                    }
                    match remaining(dl)? {
                        Some(t) => s.connect_timeout(&(*sa).into(), t)?,
                        None => s.connect(&(*sa).into())?,
                    }
                    Ok(Conn::Tcp(s.into()))
                }
            }
        })();
        match r {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The handshake with blocking I/O, bounded by `timeout` overall.
fn handshake(
    c: &mut Conn,
    key: &Key,
    pfs: HandshakeConfig,
    timeout: Duration,
) -> Result<SessionKeys, String> {
    let dl = deadline(timeout);
    let nonce = random_bytes::<32>().map_err(|e| e.to_string())?;
    let mut hs = Handshake::new(Role::Client, pfs, key, nonce, None);
    let mut buf = [0u8; YH_LEN];
    loop {
        c.set_timeouts(remaining(dl).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if !hs.pending_output().is_empty() {
            let out = hs.pending_output().to_vec();
            c.write_all(&out).map_err(|e| e.to_string())?;
            hs.consume_output(out.len());
        } else if hs.needs_compute() {
            if hs.needs_keypair() {
                hs.set_keypair(generate().map_err(|e| e.to_string())?);
            }
            hs.compute().map_err(|e| e.to_string())?;
        } else if hs.is_done() {
            c.set_timeouts(None).map_err(|e| e.to_string())?;
            return hs
                .into_keys()
                .ok_or_else(|| "handshake incomplete".to_string());
        } else {
            let want = hs.wanted();
            let n = c.read(&mut buf[..want]).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            hs.feed(&buf[..n]).map_err(|e| e.to_string())?;
        }
    }
}

/// stdin or stdout without closing it on drop.
fn stdio(fd: i32) -> ManuallyDrop<File> {
    // SAFETY: fds 0 and 1 are open for the life of the process; the
    // ManuallyDrop keeps us from closing them.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

fn upstream(mut conn: Conn, mut keys: spiped_proto::Encryptor) -> Result<(), String> {
    let mut stdin = stdio(0);
    let mut batch = SealBuffer::new(BATCH_PACKETS);
    loop {
        let n = match stdin.read_vectored(&mut batch.read_slices()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("Error reading: {}", strerror(&e))),
        };
        if n == 0 {
            let _ = conn.sock().shutdown(Shutdown::Write);
            return Ok(());
        }
        conn.write_all(batch.seal(n, &mut keys))
            .map_err(|e| format!("Error writing: {}", strerror(&e)))?;
    }
}

fn downstream(mut conn: Conn, mut keys: spiped_proto::Decryptor) -> Result<(), String> {
    let mut stdout = stdio(1);
    let mut batch = OpenBuffer::new(BATCH_PACKETS);
    loop {
        let n = match conn.read(batch.spare()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("Error reading: {}", strerror(&e))),
        };
        if n == 0 {
            // Server closed its side (a trailing partial packet is
            // dropped). Pass the EOF on if stdout is a socket; otherwise
            // our stdout ends when we exit, as upstream.
            let _ = SockRef::from(&*stdout).shutdown(Shutdown::Write);
            return Ok(());
        }
        batch.advance(n);
        batch
            .open(&mut keys)
            .map_err(|_| "Connection error".to_string())?;
        let mut slices = batch.write_slices();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match stdout.write_vectored(rest) {
                Ok(0) => return Err("Error writing: stdout closed".into()),
                Ok(k) => io::IoSlice::advance_slices(&mut rest, k),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("Error writing: {}", strerror(&e))),
            }
        }
        drop(slices);
        batch.consume();
    }
}

/// Run spipe to its end.
pub fn run(cfg: SpipeConfig) -> Result<(), Fatal> {
    let resolve_err = |e: daemon::addr::AddrError, text: &str| {
        fatal([
            e.to_string(),
            format!("Error resolving socket address: {text}"),
        ])
    };
    let targets = SockAddrSpec::parse(&cfg.target)
        .and_then(|s| s.resolve())
        .map_err(|e| resolve_err(e, &cfg.target))?;
    let bind = match &cfg.bind {
        Some(b) => Some(
            SockAddrSpec::parse_bind(b)
                .and_then(|s| s.resolve())
                .map_err(|e| resolve_err(e, b))?
                .remove(0),
        ),
        None => None,
    };
    let key = read_key(&cfg.keyfile)
        .map_err(|e| fatal([e.to_string(), "Error reading shared secret".into()]))?;
    let mut conn =
        connect(&targets, bind.as_ref(), cfg.timeout).map_err(|_| fatal(["Could not connect"]))?;
    let keys = handshake(&mut conn, &key, cfg.pfs, cfg.timeout)
        .map_err(|_| fatal(["Handshake failed"]))?;
    drop(key);
    let s = conn.sock();
    let _ = s.set_keepalive(!cfg.no_keepalive);
    let _ = s.set_tcp_nodelay(true);
    let reader = conn
        .try_clone()
        .map_err(|e| fatal([format!("Connection error: {e}")]))?;
    let (enc, dec) = (keys.send, keys.recv);
    let down = std::thread::Builder::new()
        .name("spipe-down".into())
        .spawn(move || {
            if let Err(m) = downstream(reader, dec) {
                daemon::warn!("{m}");
                std::process::exit(1);
            }
        })
        .map_err(|e| fatal([format!("Connection error: {e}")]))?;
    if let Err(m) = upstream(conn, enc) {
        return Err(fatal([m]));
    }
    let _ = down.join();
    Ok(())
}
