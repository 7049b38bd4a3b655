//! Sockets: listening, connecting through an address list, and the socket
//! options upstream sets on every relayed connection.
//!
//! Connections are driven by readiness (`readable` + `try_read`) rather than
//! through `AsyncRead`, so both directions of a connection can share one
//! socket by reference and buffers are only held while data is moving.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use daemon::addr::ResolvedAddr;
use socket2::SockRef;
use tokio::net::{TcpSocket, TcpStream, UnixStream};

/// Listen backlog. Upstream uses 10, which drops SYNs in bursts (a 1 s
/// retry for the client); a bigger backlog is harmless.
pub const LISTEN_BACKLOG: i32 = 1024;

/// A connected stream socket, TCP or Unix.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

macro_rules! both {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
        }
    };
}

impl Stream {
    pub async fn readable(&self) -> io::Result<()> {
        both!(self, s => s.readable().await)
    }

    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        both!(self, s => s.try_read(buf))
    }

    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        both!(self, s => s.try_read_vectored(bufs))
    }

    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        both!(self, s => s.try_write_vectored(bufs))
    }

    /// Write all of `bufs` with vectored writes, waiting as needed.
    pub async fn write_all_vectored(&self, mut bufs: &mut [io::IoSlice<'_>]) -> io::Result<()> {
        while !bufs.is_empty() {
            match self.try_write_vectored(bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io::IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub async fn writable(&self) -> io::Result<()> {
        both!(self, s => s.writable().await)
    }

    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        both!(self, s => s.try_write(buf))
    }

    /// Read at least one byte (0 at EOF), waiting as needed.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.try_read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable().await?,
                r => return r,
            }
        }
    }

    /// Write all of `buf`, waiting as needed.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Send FIN (half-close). A peer that is already gone (ENOTCONN,
    /// ECONNRESET) counts as a normal end, as in upstream 1.6.4.
    pub fn shutdown_write(&self) -> io::Result<()> {
        let r = both!(self, s => SockRef::from(s).shutdown(std::net::Shutdown::Write));
        match r {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTCONN) | Some(libc::ECONNRESET)
                ) =>
            {
                Ok(())
            }
            r => r,
        }
    }

    /// SO_KEEPALIVE (unless `-j`) and TCP_NODELAY, errors ignored, as
    /// upstream does once a handshake has finished.
    pub fn set_relay_options(&self, keepalive: bool) {
        both!(self, s => {
            let r = SockRef::from(s);
            let _ = r.set_keepalive(keepalive);
            let _ = r.set_tcp_nodelay(true);
        })
    }

    pub fn as_socket(&self) -> SockRef<'_> {
        both!(self, s => SockRef::from(s))
    }
}

/// A listening socket, created before daemonizing (so the parent exits
/// only once it listens) and handed to the runtime afterwards.
#[derive(Debug)]
pub struct StdListener(daemon::listen::Listener);

/// Bind and listen (SO_REUSEADDR, backlog [`LISTEN_BACKLOG`]).
///
/// A Unix socket path that exists but where nobody listens (left behind by
/// a previous run: upstream never removes it) is replaced, so a daemon can
/// restart on the same path; upstream fails with EADDRINUSE there. A path
/// with a live listener still fails.
pub fn listen(addr: &ResolvedAddr) -> io::Result<StdListener> {
    let opts = daemon::listen::ListenOptions {
        backlog: LISTEN_BACKLOG,
        replace_stale_unix: true,
    };
    daemon::listen::bind_with(addr, opts).map(StdListener)
}

/// The listener inside the runtime.
#[derive(Debug)]
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl StdListener {
    /// Another handle on the same listening socket (for another event
    /// loop).
    pub fn try_clone(&self) -> io::Result<StdListener> {
        self.0.try_clone().map(StdListener)
    }

    /// Register with the runtime (call inside it).
    pub fn into_tokio(self) -> io::Result<Listener> {
        Ok(match self.0 {
            daemon::listen::Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Listener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            daemon::listen::Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                Listener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        })
    }
}

impl Listener {
    pub async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
        }
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }
}

/// Connect to one address, bound first to `bind` if given (with
/// SO_REUSEADDR, as upstream's `-b`).
pub async fn connect_one(addr: &ResolvedAddr, bind: Option<&ResolvedAddr>) -> io::Result<Stream> {
    match addr {
        ResolvedAddr::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
        ResolvedAddr::Inet(sa) => {
            let sock = if sa.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(ResolvedAddr::Inet(b)) = bind {
                sock.set_reuseaddr(true)?;
                sock.bind(*b)?;
            }
            Ok(Stream::Tcp(sock.connect(*sa).await?))
        }
    }
}

/// Try each address in order until one connects; the error of the last
/// attempt if none does. The caller bounds the whole walk with `-o`.
pub async fn connect_any(
    addrs: &[ResolvedAddr],
    bind: Option<&ResolvedAddr>,
) -> io::Result<Stream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses to connect to");
    for a in addrs {
        // A bind address of the other family cannot work for this one.
        let b = bind.filter(|b| same_family(a, b));
        match connect_one(a, b).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn same_family(a: &ResolvedAddr, b: &ResolvedAddr) -> bool {
    match (a, b) {
        (ResolvedAddr::Inet(x), ResolvedAddr::Inet(y)) => x.is_ipv4() == y.is_ipv4(),
        (ResolvedAddr::Unix(_), ResolvedAddr::Unix(_)) => true,
        _ => false,
    }
}

/// `tokio::time::timeout` that treats an absurdly long duration (`-o inf`)
/// as "no timeout" rather than overflowing the timer.
pub async fn with_timeout<F: std::future::Future>(d: Duration, f: F) -> Option<F::Output> {
    if d > Duration::from_secs(100 * 365 * 86400) {
        return Some(f.await);
    }
    tokio::time::timeout(d, f).await.ok()
}
