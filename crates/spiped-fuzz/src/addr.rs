//! The socket-address syntax (`-s`, `-t`, `-b`) under arbitrary text.
//! Only parsing runs here: resolving a host name would touch DNS.

use daemon::addr::SockAddrSpec;
use std::net::SocketAddr;

/// The canonical text of a parsed address.
fn canonical(spec: &SockAddrSpec) -> String {
    match spec {
        SockAddrSpec::Unix(p) => p.to_string_lossy().into_owned(),
        SockAddrSpec::Ip(SocketAddr::V4(a)) => format!("[{}]:{}", a.ip(), a.port()),
        SockAddrSpec::Ip(SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
        SockAddrSpec::Host { host, port } => format!("{host}:{port}"),
    }
}

/// Input: the address text (invalid UTF-8 is replaced, as the command line
/// only ever hands us strings).
pub fn parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;
    let listen = SockAddrSpec::parse(s);
    let bind = SockAddrSpec::parse_bind(s);
    match &listen {
        Ok(spec) => {
            assert!(!s.is_empty());
            match spec {
                SockAddrSpec::Unix(_) => assert!(s.starts_with('/') && s.len() < 108),
                SockAddrSpec::Ip(sa) => assert_ne!(sa.port(), 0, "port 0 to listen on"),
                SockAddrSpec::Host { host, port } => {
                    assert!(!host.is_empty() && !host.starts_with('['));
                    assert!(!port.contains(':'), "the port is after the last ':'");
                    assert_eq!(format!("{host}:{port}"), s);
                }
            }
            assert_eq!(
                SockAddrSpec::parse(&canonical(spec)).as_ref(),
                Ok(spec),
                "canonical form of {s:?} parses differently"
            );
            // What may be listened on or connected to may be bound to.
            assert_eq!(bind.as_ref(), Ok(spec), "parse_bind({s:?})");
            // Literals resolve without DNS, to exactly themselves.
            if !spec.needs_lookup() {
                let r = spec.resolve().expect("literal resolves");
                assert_eq!(r.len(), 1);
                assert_eq!(SockAddrSpec::parse(&r[0].to_string()).as_ref(), Ok(spec));
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if s.is_empty() || s.starts_with(':') {
                assert!(e.is_usage_error(), "{s:?}: {e}");
            }
        }
    }
    if let Ok(spec) = &bind {
        assert_eq!(
            SockAddrSpec::parse_bind(&canonical(spec)).as_ref(),
            Ok(spec),
            "canonical bind form of {s:?} parses differently"
        );
    }
}
