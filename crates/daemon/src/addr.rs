//! The socket-address syntax of spiped and kivaloo: `/unix/path`, `[v4]:port`,
//! `[v6]:port` and `host:port`.
//!
//! Parsing is pure ([`SockAddrSpec::parse`]); only [`SockAddrSpec::resolve`]
//! may touch DNS. Error messages are upstream's wording, because operators
//! grep logs for them.

use std::ffi::{CStr, CString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

/// Longest Unix socket path Linux accepts (sun_path is 108 bytes, NUL included).
const SUN_PATH_MAX: usize = 108;

/// A parsed, not yet resolved, socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddrSpec {
    /// `/absolute/path`: a Unix-domain stream socket.
    Unix(PathBuf),
    /// `[ip]:port`: a literal address, no lookup needed.
    Ip(SocketAddr),
    /// `host:port`: looked up with getaddrinfo; `port` may be a service name.
    Host { host: String, port: String },
}

/// One concrete address to bind or connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResolvedAddr {
    Unix(PathBuf),
    Inet(SocketAddr),
}

impl fmt::Display for ResolvedAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolvedAddr::Unix(p) => write!(f, "{}", p.display()),
            ResolvedAddr::Inet(SocketAddr::V4(a)) => write!(f, "[{}]:{}", a.ip(), a.port()),
            ResolvedAddr::Inet(SocketAddr::V6(a)) => write!(f, "[{}]:{}", a.ip(), a.port()),
        }
    }
}

/// Why an address could not be parsed or resolved. `Display` gives the
/// upstream message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("Empty socket address")]
    Empty,
    #[error("No host in \"{0}\"")]
    NoHost(String),
    #[error("socket path too long: {0}")]
    PathTooLong(String),
    #[error("Address must contain port number: {0}")]
    NoPort(String),
    #[error("Invalid [IP address]: {0}")]
    BadBrackets(String),
    #[error("Error parsing IP address: {0}")]
    BadIp(String),
    #[error("Invalid port number: {0}")]
    BadPort(String),
    #[error("Error looking up {host}: {reason}")]
    Lookup { host: String, reason: String },
    #[error("No addresses found for {0}")]
    NoAddresses(String),
}

impl AddrError {
    /// Empty and host-less addresses are usage errors (upstream 1.6.3+):
    /// they are caught before any lookup, with the usage text.
    pub fn is_usage_error(&self) -> bool {
        matches!(self, AddrError::Empty | AddrError::NoHost(_))
    }
}

/// Whether port 0 is acceptable in the bracketed form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortZero {
    /// Listening and connecting addresses: port 0 is an error.
    Reject,
    /// Bind addresses (`-b`): port 0 means "any". Upstream rejects
    /// `[127.0.0.1]:0` here by accident; accepting it is strictly better.
    Allow,
}

impl SockAddrSpec {
    /// Parse a listening or target address.
    pub fn parse(s: &str) -> Result<Self, AddrError> {
        Self::parse_with(s, PortZero::Reject)
    }

    /// Parse a bind address (`-b`): the port may be left out (":0" is
    /// implied) and may be 0.
    pub fn parse_bind(s: &str) -> Result<Self, AddrError> {
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        if s.starts_with('/') {
            return Self::parse_with(s, PortZero::Allow);
        }
        // A port is present if the text after the last ':' follows a
        // bracketed host or the whole thing is not a bare IPv6 literal.
        let has_port = match s.rfind(':') {
            None => false,
            Some(i) => {
                let host = &s[..i];
                let colon_inside_brackets = host.starts_with('[') && !host.ends_with(']');
                let bare_bracketed = s.starts_with('[') && s.ends_with(']');
                !colon_inside_brackets && !bare_bracketed
            }
        };
        if has_port {
            Self::parse_with(s, PortZero::Allow)
        } else {
            Self::parse_with(&format!("{s}:0"), PortZero::Allow)
        }
    }

    fn parse_with(s: &str, zero: PortZero) -> Result<Self, AddrError> {
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        if s.starts_with('/') {
            if s.len() >= SUN_PATH_MAX {
                return Err(AddrError::PathTooLong(s.to_string()));
            }
            return Ok(SockAddrSpec::Unix(PathBuf::from(s)));
        }
        let Some(colon) = s.rfind(':') else {
            return Err(AddrError::NoPort(s.to_string()));
        };
        let (host, port) = (&s[..colon], &s[colon + 1..]);
        if host.is_empty() {
            return Err(AddrError::NoHost(s.to_string()));
        }
        if let Some(inner) = host.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return Err(AddrError::BadBrackets(host.to_string()));
            };
            let ip: IpAddr = if inner.contains(':') {
                inner
                    .parse::<Ipv6Addr>()
                    .map(IpAddr::V6)
                    .map_err(|_| AddrError::BadIp(inner.to_string()))?
            } else {
                inner
                    .parse::<Ipv4Addr>()
                    .map(IpAddr::V4)
                    .map_err(|_| AddrError::BadIp(inner.to_string()))?
            };
            let port = parse_port(port, zero)?;
            let sa = match ip {
                IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, port)),
                IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, 0)),
            };
            return Ok(SockAddrSpec::Ip(sa));
        }
        Ok(SockAddrSpec::Host {
            host: host.to_string(),
            port: port.to_string(),
        })
    }

    /// Whether resolving this address needs DNS (re-resolution of
    /// literal addresses is free and never fails).
    pub fn needs_lookup(&self) -> bool {
        matches!(self, SockAddrSpec::Host { .. })
    }

    /// Resolve to every address, in getaddrinfo's order. Blocking.
    pub fn resolve(&self) -> Result<Vec<ResolvedAddr>, AddrError> {
        match self {
            SockAddrSpec::Unix(p) => Ok(vec![ResolvedAddr::Unix(p.clone())]),
            SockAddrSpec::Ip(a) => Ok(vec![ResolvedAddr::Inet(*a)]),
            SockAddrSpec::Host { host, port } => {
                let addrs = getaddrinfo(host, port)?;
                Ok(addrs.into_iter().map(ResolvedAddr::Inet).collect())
            }
        }
    }
}

fn parse_port(port: &str, zero: PortZero) -> Result<u16, AddrError> {
    let bad = || AddrError::BadPort(port.to_string());
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = port.parse().map_err(|_| bad())?;
    match (n, zero) {
        (0, PortZero::Reject) => Err(bad()),
        (0..=65535, _) => Ok(n as u16),
        _ => Err(bad()),
    }
}

/// getaddrinfo(host, service, AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP), which
/// accepts service names ("ssh") as std's resolver does not.
fn getaddrinfo(host: &str, port: &str) -> Result<Vec<SocketAddr>, AddrError> {
    let lookup_err = |reason: String| AddrError::Lookup {
        host: host.to_string(),
        reason,
    };
    let c_host = CString::new(host).map_err(|_| lookup_err("Name or service not known".into()))?;
    let c_port = CString::new(port).map_err(|_| lookup_err("Servname not supported".into()))?;
    // SAFETY: an all-zero addrinfo is the documented way to start hints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_protocol = libc::IPPROTO_TCP;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and hints; res is freed below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), c_port.as_ptr(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) }
            .to_string_lossy()
            .into_owned();
        return Err(lookup_err(msg));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: cur walks the list getaddrinfo returned.
        let ai = unsafe { &*cur };
        if let Some(sa) = sockaddr_to_std(ai.ai_addr, ai.ai_addrlen) {
            out.push(sa);
        }
        cur = ai.ai_next;
    }
    // SAFETY: res came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

fn sockaddr_to_std(sa: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the family field is readable in every sockaddr; the casts
    // below are checked against the length getaddrinfo gave.
    let family = unsafe { (*sa).sa_family } as i32;
    match family {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            let sin = unsafe { &*(sa as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let sin6 = unsafe { &*(sa as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<SockAddrSpec, String> {
        SockAddrSpec::parse(s).map_err(|e| e.to_string())
    }

    #[test]
    fn unix_paths() {
        assert_eq!(
            p("/tmp/x.sock").unwrap(),
            SockAddrSpec::Unix("/tmp/x.sock".into())
        );
        let long = format!("/{}", "a".repeat(107));
        assert_eq!(
            p(&long).unwrap_err(),
            format!("socket path too long: {long}")
        );
        let ok = format!("/{}", "a".repeat(106));
        assert!(p(&ok).is_ok());
    }

    #[test]
    fn bracketed_literals() {
        assert_eq!(
            p("[127.0.0.1]:8025").unwrap(),
            SockAddrSpec::Ip("127.0.0.1:8025".parse().unwrap())
        );
        assert_eq!(
            p("[::1]:22").unwrap(),
            SockAddrSpec::Ip("[::1]:22".parse().unwrap())
        );
        assert_eq!(
            p("[1.2.3]:1").unwrap_err(),
            "Error parsing IP address: 1.2.3"
        );
        assert_eq!(p("[::1").unwrap_err(), "Invalid [IP address]: [:");
        assert_eq!(p("[127.0.0.1]:0").unwrap_err(), "Invalid port number: 0");
        assert_eq!(
            p("[127.0.0.1]:99999").unwrap_err(),
            "Invalid port number: 99999"
        );
        assert_eq!(
            p("[127.0.0.1]:ssh").unwrap_err(),
            "Invalid port number: ssh"
        );
        assert_eq!(p("[127.0.0.1]:").unwrap_err(), "Invalid port number: ");
    }

    #[test]
    fn host_names_and_errors() {
        assert_eq!(
            p("localhost:ssh").unwrap(),
            SockAddrSpec::Host {
                host: "localhost".into(),
                port: "ssh".into()
            }
        );
        assert_eq!(
            p("foo").unwrap_err(),
            "Address must contain port number: foo"
        );
        assert_eq!(p("").unwrap_err(), "Empty socket address");
        assert_eq!(p(":80").unwrap_err(), "No host in \":80\"");
        assert!(SockAddrSpec::parse(":80").unwrap_err().is_usage_error());
        assert!(!SockAddrSpec::parse("x").unwrap_err().is_usage_error());
    }

    #[test]
    fn bind_addresses_may_omit_port() {
        assert_eq!(
            SockAddrSpec::parse_bind("[127.0.0.1]").unwrap(),
            SockAddrSpec::Ip("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            SockAddrSpec::parse_bind("[::1]:0").unwrap(),
            SockAddrSpec::Ip("[::1]:0".parse().unwrap())
        );
        assert_eq!(
            SockAddrSpec::parse_bind("[::1]").unwrap(),
            SockAddrSpec::Ip("[::1]:0".parse().unwrap())
        );
        assert_eq!(
            SockAddrSpec::parse_bind("localhost").unwrap(),
            SockAddrSpec::Host {
                host: "localhost".into(),
                port: "0".into()
            }
        );
    }

    #[test]
    fn resolve_literals_and_localhost() {
        let a = SockAddrSpec::parse("[127.0.0.1]:9")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(a, vec![ResolvedAddr::Inet("127.0.0.1:9".parse().unwrap())]);
        let l = SockAddrSpec::parse("localhost:9")
            .unwrap()
            .resolve()
            .unwrap();
        assert!(!l.is_empty());
        assert!(l.iter().all(|r| match r {
            ResolvedAddr::Inet(sa) => sa.ip().is_loopback() && sa.port() == 9,
            ResolvedAddr::Unix(_) => false,
        }));
        let e = SockAddrSpec::parse("no-such-host.invalid:1")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error looking up no-such-host.invalid: ")
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["[127.0.0.1]:80", "[::1]:22", "/tmp/s"] {
            let r = SockAddrSpec::parse(s).unwrap().resolve().unwrap();
            assert_eq!(r[0].to_string(), s);
        }
    }
}
