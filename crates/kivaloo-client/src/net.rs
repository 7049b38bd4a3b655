//! Sockets of either family (Unix-domain or TCP) behind one async type, so
//! daemons and clients handle `/path` and `[ip]:port` addresses alike.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use daemon::addr::{ResolvedAddr, SockAddrSpec};
use daemon::listen::{Listener, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A connected stream socket.
#[derive(Debug)]
pub enum AnyStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A listening socket.
#[derive(Debug)]
pub enum AnyListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Parse and resolve an address in the kivaloo syntax, using the first
/// result (as upstream does; `warn` is told when there were several).
pub fn resolve_first(addr: &str, warn: impl FnOnce(&str)) -> anyhow::Result<ResolvedAddr> {
    let spec = SockAddrSpec::parse(addr)?;
    let mut all = spec.resolve()?;
    if all.len() > 1 {
        warn(&format!(
            "Socket address {addr} resolves to several addresses; using the first"
        ));
    }
    if all.is_empty() {
        anyhow::bail!("No addresses found for {addr}");
    }
    Ok(all.swap_remove(0))
}

/// Connect to `addr`.
pub async fn connect(addr: &ResolvedAddr) -> io::Result<AnyStream> {
    match addr {
        ResolvedAddr::Inet(sa) => {
            let s = TcpStream::connect(sa).await?;
            s.set_nodelay(true)?;
            Ok(AnyStream::Tcp(s))
        }
        ResolvedAddr::Unix(p) => Ok(AnyStream::Unix(UnixStream::connect(p).await?)),
    }
}

impl AnyStream {
    /// Adopt a blocking std socket (needs a running tokio runtime).
    pub fn from_std(s: Stream) -> io::Result<Self> {
        Ok(match s {
            Stream::Tcp(t) => {
                t.set_nonblocking(true)?;
                AnyStream::Tcp(TcpStream::from_std(t)?)
            }
            Stream::Unix(u) => {
                u.set_nonblocking(true)?;
                AnyStream::Unix(UnixStream::from_std(u)?)
            }
        })
    }
}

impl AnyListener {
    /// Adopt a listener bound before daemonizing (needs a running tokio
    /// runtime).
    pub fn from_std(l: Listener) -> io::Result<Self> {
        Ok(match l {
            Listener::Tcp(t) => {
                t.set_nonblocking(true)?;
                AnyListener::Tcp(TcpListener::from_std(t)?)
            }
            Listener::Unix(u) => {
                u.set_nonblocking(true)?;
                AnyListener::Unix(UnixListener::from_std(u)?)
            }
        })
    }

    /// Bind `addr` now (blocking std bind + listen, then adopt).
    pub fn bind(addr: &ResolvedAddr) -> io::Result<Self> {
        Self::from_std(daemon::listen::bind(addr)?)
    }

    pub async fn accept(&self) -> io::Result<AnyStream> {
        match self {
            AnyListener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok(AnyStream::Tcp(s))
            }
            AnyListener::Unix(l) => Ok(AnyStream::Unix(l.accept().await?.0)),
        }
    }

    pub fn local_addr(&self) -> io::Result<ResolvedAddr> {
        match self {
            AnyListener::Tcp(l) => Ok(ResolvedAddr::Inet(l.local_addr()?)),
            AnyListener::Unix(l) => {
                let a = l.local_addr()?;
                let p = a.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "unnamed Unix socket")
                })?;
                Ok(ResolvedAddr::Unix(p.to_path_buf()))
            }
        }
    }
}

impl AsyncRead for AnyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            AnyStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AnyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            AnyStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            AnyStream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            AnyStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
