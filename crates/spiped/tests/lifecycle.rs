//! Daemon life cycle and command line, checked against the reference
//! binaries where behaviour must match.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn run(bin: &std::path::Path, args: &[&str], cwd: &std::path::Path) -> (i32, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "{bin:?} {args:?} wrote to stdout");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn errors_match_the_reference() {
    let s = Scratch::new();
    let port = free_port("127.0.0.1");
    let src = format!("[127.0.0.1]:{port}");
    let bound = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-h"],
        vec!["--help"],
        vec!["--syslog=x"],
        vec!["-e", "-k"],
        vec!["-d", "-d"],
        vec![
            "-e",
            "-d",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec!["-d", "-s", "[127.0.0.1]:1", "-t", "[127.0.0.1]:2"],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
            "extra",
        ],
        vec![
            "-d",
            "-f",
            "-g",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-r",
            "5",
            "-R",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-o",
            "abc",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-o",
            "-1",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-o",
            "nan",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-n",
            "abc",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-s",
            "[1.2.3]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec!["-d", "-s", "[::1", "-t", "[127.0.0.1]:2", "-k", "/dev/null"],
        vec!["-d", "-s", "foo", "-t", "[127.0.0.1]:2", "-k", "/dev/null"],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:0",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:99999",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "no-such-host.invalid:1",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/nonexistent/key",
        ],
        vec![
            "-d",
            "-F",
            "-s",
            &src,
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-F",
            "-s",
            "/nonexistent/dir/sock",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
        ],
        vec![
            "-d",
            "-s",
            "[127.0.0.1]:1",
            "-t",
            "[127.0.0.1]:2",
            "-k",
            "/dev/null",
            "-p",
            "/nonexistent/x.pid",
        ],
    ];
    for args in &cases {
        let (rc_c, err_c) = run(&spiped_bin(Impl::C), args, &s.dir);
        let (rc_r, err_r) = run(&spiped_bin(Impl::Rust), args, &s.dir);
        assert_eq!(
            rc_r, rc_c,
            "{args:?}: exit code; C said {err_c:?}, we said {err_r:?}"
        );
        assert_eq!(rc_r, 1, "{args:?}");
        // Same first line (the usage text itself gained -b in 1.6.3).
        let first = |e: &str| e.lines().next().unwrap_or("").to_string();
        assert_eq!(first(&err_r), first(&err_c), "{args:?}");
        assert_eq!(
            err_r.contains("usage: spiped"),
            err_c.contains("usage: spiped"),
            "{args:?}"
        );
        // Lines other than usage text must match too.
        let msgs = |e: &str| {
            e.lines()
                .filter(|l| l.starts_with("spiped: "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(msgs(&err_r), msgs(&err_c), "{args:?}");
    }
    drop(bound);
}

#[test]
fn version_goes_to_stderr() {
    let s = Scratch::new();
    for (bin, name) in [
        (spiped_bin(Impl::Rust), "spiped"),
        (spipe_bin(Impl::Rust), "spipe"),
    ] {
        let (rc, err) = run(&bin, &["-v", "-h", "junk"], &s.dir);
        assert_eq!(rc, 0);
        assert!(err.starts_with(&format!("{name} 1.6.")), "{err}");
    }
}

#[test]
fn pidfile_and_default_name() {
    let s = Scratch::new();
    let port = free_port("127.0.0.1");
    let src = format!("[127.0.0.1]:{port}");
    let st = Command::new(spiped_bin(Impl::Rust))
        .args(["-d", "-s", &src, "-t", "[127.0.0.1]:9", "-k", "/dev/null"])
        .current_dir(&s.dir)
        .status()
        .unwrap();
    assert!(st.success());
    let pidfile = s.dir.join(format!("{src}.pid"));
    let text = std::fs::read_to_string(&pidfile).unwrap();
    assert!(!text.ends_with('\n'), "pidfile must have no newline");
    let d = Daemon::from_pidfile(pidfile);
    assert!(d.alive());
    // Listening already when the parent returned.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // Stopped by SIGTERM with nothing open: gone promptly.
    d.signal(libc::SIGTERM);
    assert!(d.wait_gone(Duration::from_secs(3)));
}

/// A foreground daemon, our child, so we see its exit status.
struct Fg(std::process::Child);

impl Fg {
    fn start(args: &[&str], ready: &std::path::Path) -> Fg {
        let c = Command::new(spiped_bin(Impl::Rust))
            .arg("-F")
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_for(Duration::from_secs(5), || ready.exists()),
            "never listened"
        );
        Fg(c)
    }
    fn wait(&mut self, d: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < d {
            if let Some(st) = self.0.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
    fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.0.id() as i32, sig) };
    }
}

impl Drop for Fg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_lets_open_connections_finish() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let target = server(
        &s,
        Family::V4,
        Behaviour::RecordThenReply {
            delay: Duration::from_millis(1500),
            reply: random_bytes(2_000_000, 3),
            chunks: 4,
            gap: Duration::from_millis(100),
        },
    );
    let d_sock = s.path("d.sock");
    let e_sock = s.path("e.sock");
    let d_s = d_sock.to_str().unwrap();
    let e_s = e_sock.to_str().unwrap();
    let mut d = Fg::start(&["-d", "-s", d_s, "-t", &target.addr, "-k", key], &d_sock);
    let mut e = Fg::start(&["-e", "-s", e_s, "-t", d_s, "-k", key], &e_sock);
    // Open a connection whose answer is still to come.
    let mut c = Client::connect(e_s).unwrap();
    c.write_all(&random_bytes(1_000_000, 4)).unwrap();
    c.shutdown_write();
    std::thread::sleep(Duration::from_millis(300));
    e.signal(libc::SIGTERM);
    d.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    // No new connections once stopping.
    assert!(
        Client::connect(e_s).is_err(),
        "still accepting after SIGTERM"
    );
    assert!(
        e.wait(Duration::from_millis(100)).is_none(),
        "exited with a connection open"
    );
    // The open one completes intact, then both exit 0.
    c.set_read_timeout(Some(Duration::from_secs(20)));
    let got = c.read_all().unwrap();
    assert_eq!(sha(&got), sha(&random_bytes(2_000_000, 3)));
    assert_eq!(
        e.wait(Duration::from_secs(10)).map(|s| s.code()),
        Some(Some(0))
    );
    assert_eq!(
        d.wait(Duration::from_secs(10)).map(|s| s.code()),
        Some(Some(0))
    );
}

#[test]
fn second_sigterm_kills() {
    let s = Scratch::new();
    let target = server(&s, Family::V4, Behaviour::Silent);
    let e_sock = s.path("e.sock");
    let mut e = Fg::start(
        &[
            "-e",
            "-f",
            "-s",
            e_sock.to_str().unwrap(),
            "-t",
            &target.addr,
            "-k",
            "/dev/null",
        ],
        &e_sock,
    );
    // A connection that stays open (the target never answers the
    // handshake, which waits for the -o timeout).
    let _c = Client::connect(e_sock.to_str().unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    e.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    assert!(e.wait(Duration::from_millis(50)).is_none());
    e.signal(libc::SIGTERM);
    let st = e
        .wait(Duration::from_secs(3))
        .expect("second SIGTERM did not stop it");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
}

#[test]
fn restart_on_same_unix_path() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let sock = s.path("d.sock");
    let sock_s = sock.to_str().unwrap();
    let e_addr = s.addr(Family::V4, "");
    let _e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", sock_s, "-k", key],
    );
    for round in 0..3 {
        let d = spiped(
            Impl::Rust,
            &s,
            &["-d", "-s", sock_s, "-t", &target.addr, "-k", key],
        );
        let data = random_bytes(10_000, round);
        assert_eq!(round_trip(&e_addr, &data).unwrap(), data, "round {round}");
        // A second daemon on a live path must refuse to start.
        let st = Command::new(spiped_bin(Impl::Rust))
            .args(["-d", "-F", "-s", sock_s, "-t", &target.addr, "-k", key])
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(st.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&st.stderr)
                .contains("Error binding socket: Address already in use")
        );
        d.signal(libc::SIGKILL);
        assert!(d.wait_gone(Duration::from_secs(3)));
        assert!(sock.exists(), "the stale socket file stays, as upstream");
    }
}

#[test]
fn connection_limit_holds_and_warns() {
    let s = Scratch::new();
    // A target that accepts and never speaks: -e's handshakes wait for -o.
    let target = server(&s, Family::V4, Behaviour::Silent);
    let e_sock = s.path("e.sock");
    let e_s = e_sock.to_str().unwrap();
    let log = s.path("stderr");
    let logf = std::fs::File::create(&log).unwrap();
    let c = Command::new(spiped_bin(Impl::Rust))
        .args([
            "-e",
            "-F",
            "-n",
            "2",
            "-o",
            "1",
            "-s",
            e_s,
            "-t",
            &target.addr,
            "-k",
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .stderr(logf)
        .spawn()
        .unwrap();
    let _fg = Fg(c);
    assert!(wait_for(Duration::from_secs(5), || unix_listening(&e_sock)));
    let accepted = || target.accepted.load(std::sync::atomic::Ordering::SeqCst);
    let _c1 = Client::connect(e_s).unwrap();
    let _c2 = Client::connect(e_s).unwrap();
    assert!(wait_for(Duration::from_secs(5), || accepted() == 2));
    let _c3 = Client::connect(e_s).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(accepted(), 2, "limit exceeded");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("spiped: Maximum number of connections (2) reached"),
        "{text}"
    );
    // The first two time out after -o; the waiting one is then served.
    assert!(
        wait_for(Duration::from_secs(5), || accepted() == 3),
        "service did not resume"
    );
}

#[test]
fn drops_privileges_after_binding() {
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root (CI runs as root)");
    }
    let s = Scratch::new();
    for (spec, uid, gid) in [
        ("nobody:nogroup", 65534, 65534),
        ("nobody", 65534, 65534),
        (":nogroup", 0, 65534),
    ] {
        let src = s.addr(Family::V4, "");
        let d = spiped(
            Impl::Rust,
            &s,
            &[
                "-d",
                "-s",
                &src,
                "-t",
                "[127.0.0.1]:9",
                "-k",
                "/dev/null",
                "-u",
                spec,
            ],
        );
        // The drop happens just after daemonizing (as upstream), so the
        // parent may return a moment before it.
        let field = |name: &str| -> Vec<u32> {
            std::fs::read_to_string(format!("/proc/{}/status", d.pid))
                .unwrap()
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap())
                .collect()
        };
        wait_for(Duration::from_secs(5), || {
            field("Gid:") == vec![gid; 4] && field("Uid:") == vec![uid; 4]
        });
        assert_eq!(field("Uid:"), vec![uid; 4], "{spec}");
        assert_eq!(field("Gid:"), vec![gid; 4], "{spec}");
        assert!(field("Groups:").is_empty(), "{spec}");
    }
    // A bad spec fails after binding, with upstream's words, exit 1.
    let (rc, err) = run(
        &spiped_bin(Impl::Rust),
        &[
            "-d",
            "-F",
            "-s",
            &s.addr(Family::V4, ""),
            "-t",
            "[127.0.0.1]:9",
            "-k",
            "/dev/null",
            "-u",
            "no-such-user-x",
        ],
        &s.dir,
    );
    assert_eq!(rc, 1);
    assert_eq!(
        err,
        "spiped: No such user: no-such-user-x\nspiped: Failed to drop privileges\n"
    );
}
