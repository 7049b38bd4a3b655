//! Listening and connecting sockets for either address family, as blocking
//! std sockets: daemons bind *before* they daemonize (so "the command
//! returned" means "the socket listens") and hand the sockets to their async
//! runtime afterwards.
//!
//! Listeners set SO_REUSEADDR and use the C daemons' backlog of 10. A stale
//! Unix socket file is not removed: binding over it fails, as upstream does.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};

use crate::addr::ResolvedAddr;

/// The C daemons' listen(2) backlog.
pub const BACKLOG: i32 = 10;

/// A bound, listening socket.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A connected stream socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// How to listen.
#[derive(Clone, Copy, Debug)]
pub struct ListenOptions {
    /// listen(2) backlog.
    pub backlog: i32,
    /// Replace a Unix socket file nobody listens on (left by a process that
    /// died) instead of failing with "Address already in use". A path with
    /// a live listener still fails.
    pub replace_stale_unix: bool,
}

impl Default for ListenOptions {
    /// The C daemons' behaviour: backlog 10, stale socket files kept.
    fn default() -> Self {
        ListenOptions {
            backlog: BACKLOG,
            replace_stale_unix: false,
        }
    }
}

/// Bind and listen on `addr` as the C daemons do (see
/// [`ListenOptions::default`]).
pub fn bind(addr: &ResolvedAddr) -> io::Result<Listener> {
    bind_with(addr, ListenOptions::default())
}

/// Bind and listen on `addr` (std already sets SO_REUSEADDR on TCP
/// listeners; the backlog is then set to `opts.backlog`).
pub fn bind_with(addr: &ResolvedAddr, opts: ListenOptions) -> io::Result<Listener> {
    let l = match addr {
        ResolvedAddr::Inet(sa) => Listener::Tcp(TcpListener::bind(sa)?),
        ResolvedAddr::Unix(p) => Listener::Unix(match UnixListener::bind(p) {
            Err(e)
                if e.kind() == io::ErrorKind::AddrInUse
                    && opts.replace_stale_unix
                    && is_stale_unix_socket(p) =>
            {
                std::fs::remove_file(p)?;
                UnixListener::bind(p)?
            }
            r => r?,
        }),
    };
    let fd = match &l {
        Listener::Tcp(t) => t.as_raw_fd(),
        Listener::Unix(u) => u.as_raw_fd(),
    };
    // SAFETY: fd is a listening socket we own; listen() again only
    // changes the backlog.
    if unsafe { libc::listen(fd, opts.backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(l)
}

/// A socket file nobody accepts on (connect is refused).
fn is_stale_unix_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !m.file_type().is_socket() {
        return false;
    }
    matches!(
        UnixStream::connect(path),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused
    )
}

/// Connect to `addr` (blocking). TCP connections get TCP_NODELAY, since
/// every kivaloo protocol is request/response.
pub fn connect(addr: &ResolvedAddr) -> io::Result<Stream> {
    match addr {
        ResolvedAddr::Inet(sa) => {
            let s = TcpStream::connect(sa)?;
            s.set_nodelay(true)?;
            Ok(Stream::Tcp(s))
        }
        ResolvedAddr::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p)?)),
    }
}

impl Listener {
    /// Another handle on the same listening socket.
    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(t) => Listener::Tcp(t.try_clone()?),
            Listener::Unix(u) => Listener::Unix(u.try_clone()?),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<ResolvedAddr> {
        match self {
            Listener::Tcp(t) => Ok(ResolvedAddr::Inet(t.local_addr()?)),
            Listener::Unix(u) => {
                let a = u.local_addr()?;
                let p = a.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "unnamed Unix socket")
                })?;
                Ok(ResolvedAddr::Unix(p.to_path_buf()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn tcp_and_unix_round_trip() {
        let l = bind(&ResolvedAddr::Inet("127.0.0.1:0".parse().unwrap())).unwrap();
        let a = l.local_addr().unwrap();
        let mut c = match connect(&a).unwrap() {
            Stream::Tcp(s) => s,
            Stream::Unix(_) => panic!("wrong family"),
        };
        let Listener::Tcp(t) = &l else { panic!() };
        let (mut s, _) = t.accept().unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");

        let dir = std::env::temp_dir().join(format!("daemon-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let ua = ResolvedAddr::Unix(path.clone());
        let ul = bind(&ua).unwrap();
        assert_eq!(ul.local_addr().unwrap(), ua);
        assert!(matches!(connect(&ua).unwrap(), Stream::Unix(_)));
        // A stale socket file is not replaced by default; on request it is,
        // but never one with a live listener.
        drop(ul);
        assert!(bind(&ua).is_err());
        let replace = ListenOptions {
            replace_stale_unix: true,
            ..ListenOptions::default()
        };
        let live = bind_with(&ua, replace).unwrap();
        assert!(bind_with(&ua, replace).is_err());
        drop(live);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
