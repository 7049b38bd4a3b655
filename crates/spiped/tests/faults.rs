//! Faults on one connection: a clean close of that connection, a non-zero
//! spipe exit where upstream has one, and the daemon keeps serving others.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;

/// A good round trip through `addr` (the daemon still serves).
fn still_serves(addr: &str) {
    let data = random_bytes(50_000, 77);
    let got = round_trip(addr, &data).expect("daemon stopped serving");
    assert_eq!(sha(&got), sha(&data));
}

/// The connection ends (EOF or reset) within `d`, with no data.
fn closes_without_data(c: &mut Client, d: Duration) {
    c.set_read_timeout(Some(d));
    let mut buf = [0u8; 1024];
    match c.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "got {n} bytes"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "connection not closed: {e}"
        ),
    }
}

#[test]
fn wrong_key_is_dropped_and_others_still_served() {
    for (e, d) in [
        (Impl::Rust, Impl::Rust),
        (Impl::C, Impl::Rust),
        (Impl::Rust, Impl::C),
    ] {
        let s = Scratch::new();
        let target = server(&s, Family::V4, Behaviour::Echo);
        let good = s.key("good");
        let bad = s.key("bad");
        let d_addr = s.addr(Family::V4, "");
        let _d = spiped(
            d,
            &s,
            &[
                "-d",
                "-s",
                &d_addr,
                "-t",
                &target.addr,
                "-k",
                good.to_str().unwrap(),
            ],
        );
        let bad_e = s.addr(Family::V4, "");
        let _eb = spiped(
            e,
            &s,
            &[
                "-e",
                "-s",
                &bad_e,
                "-t",
                &d_addr,
                "-k",
                bad.to_str().unwrap(),
            ],
        );
        let good_e = s.addr(Family::V4, "");
        let _eg = spiped(
            e,
            &s,
            &[
                "-e",
                "-s",
                &good_e,
                "-t",
                &d_addr,
                "-k",
                good.to_str().unwrap(),
            ],
        );

        let mut c = Client::connect(&bad_e).unwrap();
        let _ = c.write_all(b"secret that must not arrive");
        closes_without_data(&mut c, Duration::from_secs(10));
        still_serves(&good_e);
        // The target never saw the bad connection's bytes.
        let mut total = 0;
        while let Ok(v) = target.received.recv_timeout(Duration::from_millis(300)) {
            assert!(
                !v.windows(6).any(|w| w == b"secret"),
                "{e:?}->{d:?}: leaked"
            );
            total += v.len();
        }
        assert_eq!(total, 50_000, "{e:?}->{d:?}");
    }
}

#[test]
fn spipe_wrong_key_exits_1() {
    let s = Scratch::new();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let good = s.key("good");
    let bad = s.key("bad");
    let d_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &[
            "-d",
            "-s",
            &d_addr,
            "-t",
            &target.addr,
            "-k",
            good.to_str().unwrap(),
        ],
    );
    let (code, out, err) = run_spipe(
        Impl::Rust,
        &["-t", &d_addr, "-k", bad.to_str().unwrap()],
        b"hello",
        Duration::from_secs(20),
    );
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.trim(), "spipe: Handshake failed");
}

#[test]
fn target_down_then_up() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let port = free_port("127.0.0.1");
    let target_addr = format!("[127.0.0.1]:{port}");
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &target_addr, "-k", key],
    );
    let _e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key],
    );
    let t0 = Instant::now();
    let mut c = Client::connect(&e_addr).unwrap();
    closes_without_data(&mut c, Duration::from_secs(10));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "refused target noticed late"
    );
    // spipe through the same -d: the handshake fails (our -d answers only
    // once its target is connected), every time.
    for _ in 0..5 {
        let (code, _, err) = run_spipe(
            Impl::Rust,
            &["-t", &d_addr, "-k", key],
            b"x",
            Duration::from_secs(20),
        );
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.trim(), "spipe: Handshake failed");
    }
    // Bring the target up on that port: service resumes.
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut v = Vec::new();
            let _ = c.read_to_end(&mut v);
            let _ = c.write_all(&v);
        }
    });
    still_serves(&e_addr);
}

#[test]
fn spipe_cannot_connect_exits_1_every_time() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let port = free_port("127.0.0.1");
    for target in [
        format!("[127.0.0.1]:{port}"),
        "/this-is-a-fake.socket".to_string(),
    ] {
        for _ in 0..5 {
            let (code, _, err) = run_spipe(
                Impl::Rust,
                &["-t", &target, "-k", key],
                b"hi",
                Duration::from_secs(20),
            );
            assert_eq!(code, 1, "{err}");
            assert_eq!(err.trim(), "spipe: Could not connect");
        }
    }
    // Upstream's test 04: stdin at EOF, key from /dev/null.
    let (code, _, _) = run_spipe(
        Impl::Rust,
        &["-t", "/this-is-a-fake.socket", "-k", "/dev/null"],
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(code, 1);
}

#[test]
fn target_accepts_and_closes() {
    let s = Scratch::new();
    let key = s.key("k");
    let key = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Close);
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &target.addr, "-k", key],
    );
    let _e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key],
    );
    let got = round_trip(&e_addr, b"hello").unwrap_or_default();
    assert!(got.is_empty());
    assert!(target.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[test]
fn peer_vanishes_mid_stream() {
    for (e, d) in [
        (Impl::Rust, Impl::Rust),
        (Impl::Rust, Impl::C),
        (Impl::C, Impl::Rust),
    ] {
        let s = Scratch::new();
        let key = s.key("k");
        let key = key.to_str().unwrap();
        let target = server(&s, Family::V4, Behaviour::Echo);
        let d_addr = s.addr(Family::V4, "");
        let e_addr = s.addr(Family::V4, "");
        let dd = spiped(d, &s, &["-d", "-s", &d_addr, "-t", &target.addr, "-k", key]);
        let _e = spiped(e, &s, &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key]);
        let mut c = Client::connect(&e_addr).unwrap();
        c.write_all(&random_bytes(100_000, 1)).unwrap();
        let mut buf = vec![0u8; 100_000];
        c.set_read_timeout(Some(Duration::from_secs(10)));
        c.read_exact(&mut buf).unwrap();
        dd.signal(libc::SIGKILL);
        // The -e side notices and closes our connection: no hang.
        let t0 = Instant::now();
        c.set_read_timeout(Some(Duration::from_secs(10)));
        let mut rest = Vec::new();
        let r = c.read_to_end(&mut rest);
        assert!(rest.is_empty());
        assert!(r.is_ok() || r.unwrap_err().kind() == std::io::ErrorKind::ConnectionReset);
        assert!(t0.elapsed() < Duration::from_secs(5), "{e:?}->{d:?}: hang");
        // -e still accepts; with a new -d on the same address it serves.
        assert!(dd.wait_gone(Duration::from_secs(3)));
        let _d2 = spiped(d, &s, &["-d", "-s", &d_addr, "-t", &target.addr, "-k", key]);
        still_serves(&e_addr);
    }
}

#[test]
fn handshake_timeout_drops_silent_client() {
    let s = Scratch::new();
    let key = s.key("k");
    let target = server(&s, Family::V4, Behaviour::Echo);
    let d_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &[
            "-d",
            "-o",
            "1",
            "-s",
            &d_addr,
            "-t",
            &target.addr,
            "-k",
            key.to_str().unwrap(),
        ],
    );
    let t0 = Instant::now();
    let mut c = Client::connect(&d_addr).unwrap();
    // The server's nonce arrives at once; then nothing until the timeout.
    let mut nonce = [0u8; 32];
    c.set_read_timeout(Some(Duration::from_secs(5)));
    c.read_exact(&mut nonce).unwrap();
    closes_without_data(&mut c, Duration::from_secs(5));
    let t = t0.elapsed();
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_secs(3),
        "{t:?}"
    );
}
