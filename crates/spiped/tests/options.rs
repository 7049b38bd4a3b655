//! Options whose effect is only visible from outside: `-k -`, host-name
//! targets, socket options (`-j`), `-D`.

mod common;

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn key_from_stdin() {
    let s = Scratch::new();
    let key = s.key("k");
    let target = server(&s, Family::V4, Behaviour::Echo);
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::C,
        &s,
        &[
            "-d",
            "-s",
            &d_addr,
            "-t",
            &target.addr,
            "-k",
            key.to_str().unwrap(),
        ],
    );
    let pidfile = s.path("e.pid");
    let mut c = Command::new(spiped_bin(Impl::Rust))
        .args([
            "-e",
            "-s",
            &e_addr,
            "-t",
            &d_addr,
            "-k",
            "-",
            "-p",
            pidfile.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&key).unwrap())
        .unwrap();
    assert!(c.wait().unwrap().success());
    let _e = Daemon::from_pidfile(pidfile);
    let data = random_bytes(20_000, 5);
    assert_eq!(round_trip(&e_addr, &data).unwrap(), data);
}

#[test]
fn host_name_target() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let port = target.addr.rsplit_once(':').unwrap().1;
    // localhost resolves (via /etc/hosts) to 127.0.0.1 and maybe ::1;
    // every address is tried in order, so the IPv4 listener is found.
    let by_name = format!("localhost:{port}");
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &by_name, "-k", key, "-r", "0.2"],
    );
    let _e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key],
    );
    for i in 0..3 {
        let data = random_bytes(1000, i);
        assert_eq!(round_trip(&e_addr, &data).unwrap(), data);
        // Across a few re-resolutions (-r 0.2).
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The daemon's sockets, fetched with pidfd_getfd (we run as root).
fn daemon_sockets(pid: i32) -> Vec<OwnedFd> {
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    assert!(
        pidfd >= 0,
        "pidfd_open: {}",
        std::io::Error::last_os_error()
    );
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let link = std::fs::read_link(e.path()).unwrap_or_default();
        if !link.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let n: i32 = e.file_name().to_string_lossy().parse().unwrap();
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0) } as i32;
        assert!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    unsafe { libc::close(pidfd) };
    out
}

fn getsockopt(fd: &OwnedFd, level: i32, opt: i32) -> i32 {
    use std::os::fd::AsRawFd;
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0);
    v
}

fn is_listening(fd: &OwnedFd) -> bool {
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) != 0
}

#[test]
fn relay_sockets_get_nodelay_and_keepalive_unless_j() {
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root (CI runs as root) for pidfd_getfd");
    }
    for (flags, keepalive) in [(vec![], 1), (vec!["-j"], 0)] {
        let s = Scratch::new();
        let key = s.key("k");
        let key = key.to_str().unwrap();
        let target = server(&s, Family::V4, Behaviour::Echo);
        let d_addr = s.addr(Family::V4, "");
        let e_addr = s.addr(Family::V4, "");
        let mut args = vec!["-d", "-s", &d_addr, "-t", &target.addr, "-k", key];
        args.extend(flags.iter().copied());
        let d = spiped(Impl::Rust, &s, &args);
        let _e = spiped(
            Impl::C,
            &s,
            &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key],
        );
        // An established connection, checked while open.
        let mut c = Client::connect(&e_addr).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        std::io::Read::read_exact(&mut c, &mut b).unwrap();
        let socks: Vec<OwnedFd> = daemon_sockets(d.pid)
            .into_iter()
            .filter(|f| !is_listening(f))
            .collect();
        let tcp: Vec<&OwnedFd> = socks
            .iter()
            .filter(|f| {
                getsockopt(f, libc::SOL_SOCKET, libc::SO_TYPE) == libc::SOCK_STREAM
                    && getsockopt(f, libc::SOL_SOCKET, libc::SO_DOMAIN) == libc::AF_INET
            })
            .collect();
        assert_eq!(tcp.len(), 2, "one accepted and one outgoing socket");
        for f in tcp {
            assert_eq!(getsockopt(f, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
            assert_eq!(
                getsockopt(f, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
                keepalive,
                "{flags:?}"
            );
        }
    }
}

#[test]
fn wait_for_dns_daemonizes_first_and_retries() {
    let s = Scratch::new();
    let d_addr = s.addr(Family::V4, "");
    let log = s.path("stderr");
    let pidfile = s.path("d.pid");
    let st = Command::new(spiped_bin(Impl::Rust))
        .args([
            "-d",
            "-D",
            "-s",
            &d_addr,
            "-t",
            "no-such-host.invalid:1",
            "-k",
            "/dev/null",
            "-p",
            pidfile.to_str().unwrap(),
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    // The parent returns at once, before any lookup succeeded.
    assert!(st.success());
    let d = Daemon::from_pidfile(pidfile);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(d.alive());
    let text = std::fs::read_to_string(&log).unwrap();
    let n = text
        .matches("spiped: Error looking up no-such-host.invalid")
        .count();
    assert!(n >= 2, "expected retries every second: {text}");
}
