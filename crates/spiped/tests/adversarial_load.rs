//! Faults and load against our daemons, on real loopback sockets: a
//! connection flood beyond `-n`, a target that reads slowly while 1 GiB is
//! pushed at it (memory read from /proc), peers killed in mid-stream, and
//! SIGTERM while many transfers are in flight.

#[path = "common/attack.rs"]
mod attack;
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use attack::*;
use common::*;
use sha2::{Digest, Sha256};
use spiped_proto::NONCE_LEN;

/// `-n 4`: four handshakes that go quiet hold every slot. A flood of 50
/// more connections is not served (no nonce, no target connection, no
/// descriptors), the limit warning is logged, and once the four go away
/// every queued connection is served in turn.
#[test]
fn flood_beyond_n_holds_the_limit_and_service_resumes() {
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let d_addr = s.addr(Family::V4, "");
    let d = Foreground::start(
        &s,
        &[
            "-d",
            "-n",
            "4",
            "-o",
            "30",
            "-s",
            &d_addr,
            "-t",
            &target.addr,
            "-k",
            k,
        ],
        &d_addr,
    );
    let base_fds = fd_count(d.pid());
    let accepted = || target.accepted.load(Ordering::SeqCst);

    let quiet: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut c = connect(&d_addr);
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut nonce = [0u8; NONCE_LEN];
            c.read_exact(&mut nonce).unwrap();
            c
        })
        .collect();
    assert!(wait_for(Duration::from_secs(5), || accepted() == 4));

    let flood: Vec<TcpStream> = (0..50).map(|_| connect(&d_addr)).collect();
    thread::sleep(Duration::from_secs(1));
    for c in &flood {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let mut r: &TcpStream = c;
        let r = r.read(&mut b);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a connection beyond -n was served: {r:?}"
        );
        c.set_nonblocking(false).unwrap();
    }
    assert_eq!(accepted(), 4, "target connections beyond -n");
    let fds = fd_count(d.pid());
    assert!(
        fds <= base_fds + 2 * 4,
        "{fds} descriptors with 4 connections (idle: {base_fds})"
    );
    let log = d.log();
    assert!(
        log.contains("spiped: Maximum number of connections (4) reached"),
        "{log}"
    );

    drop(quiet);
    let t0 = Instant::now();
    for (i, mut c) in flood.into_iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut nonce = [0u8; NONCE_LEN];
        c.read_exact(&mut nonce)
            .unwrap_or_else(|e| panic!("queued connection {i} never served: {e}"));
    }
    eprintln!("50 queued connections served in {:?}", t0.elapsed());
    // And a full session works.
    let mut sess = as_client(connect(&d_addr), &key_of(&key), Play::Honest).session();
    sess.send_data(b"after the flood");
    assert_eq!(sess.recv_data(), b"after the flood");
}

/// A target that reads slowly, with stalls, and hashes what it gets.
struct SlowSink {
    addr: String,
    /// (bytes, SHA-256) per connection, at its end.
    done: mpsc::Receiver<(u64, [u8; 32])>,
}

fn slow_sink(s: &Scratch, stall_every: u64, stall: Duration) -> SlowSink {
    let addr = s.addr(Family::V4, "");
    let l = TcpListener::bind(to_socket_addr(&addr)).unwrap();
    let (tx, done) = mpsc::channel();
    thread::spawn(move || {
        for c in l.incoming().flatten() {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut c = c;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 256 * 1024];
                let (mut n, mut next_stall) = (0u64, stall_every);
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            h.update(&buf[..k]);
                            n += k as u64;
                        }
                    }
                    thread::sleep(Duration::from_millis(2));
                    if n >= next_stall {
                        thread::sleep(stall);
                        next_stall += stall_every;
                    }
                }
                let _ = tx.send((n, h.finalize().into()));
            });
        }
    });
    SlowSink { addr, done }
}

/// Send `len` bytes of the stream `seed` to `addr`, half-close, wait for
/// the far end to close; returns the stream's SHA-256.
fn push_stream(addr: &str, seed: u64, len: u64) -> [u8; 32] {
    let mut c = connect(addr);
    let mut h = Sha256::new();
    let mut sent = 0u64;
    let mut block = 0u64;
    while sent < len {
        let n = (len - sent).min(1 << 20) as usize;
        let b = random_bytes(n, seed.wrapping_mul(0x1_0000).wrapping_add(block));
        h.update(&b);
        c.write_all(&b).unwrap();
        sent += n as u64;
        block += 1;
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    h.finalize().into()
}

/// 1 GiB (4 connections of 256 MiB) through -e and -d into a target that
/// reads slowly and stalls for half a second every 32 MiB: every byte
/// arrives, in order, and neither daemon's memory grows with the backlog
/// (back-pressure reaches the sender instead). Prints the figures.
#[test]
fn slow_target_one_gib_bounded_memory_no_loss() {
    const CONNS: u64 = 4;
    const PER_CONN: u64 = 256 << 20;
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let sink = slow_sink(&s, 32 << 20, Duration::from_millis(500));
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &sink.addr, "-k", k],
    );
    let e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", &d_addr, "-k", k],
    );
    // Warm up (runtime threads, DH pool), then take the idle baseline.
    let warm = push_stream(&e_addr, 99, 1 << 20);
    assert_eq!(sink.done.recv().unwrap().1, warm);
    thread::sleep(Duration::from_millis(300));
    let base = (d.rss_kib(), e.rss_kib());

    let stop = Arc::new(AtomicBool::new(false));
    let peak_d = Arc::new(AtomicU64::new(0));
    let peak_e = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, pd, pe) = (stop.clone(), peak_d.clone(), peak_e.clone());
        let (dp, ep) = (d.pid, e.pid);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                pd.fetch_max(rss_kib(dp), Ordering::SeqCst);
                pe.fetch_max(rss_kib(ep), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let t0 = Instant::now();
    let senders: Vec<_> = (0..CONNS)
        .map(|i| {
            let a = e_addr.clone();
            thread::spawn(move || push_stream(&a, i + 1, PER_CONN))
        })
        .collect();
    let mut sent: Vec<[u8; 32]> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let mut got: Vec<[u8; 32]> = (0..CONNS)
        .map(|_| {
            let (n, h) = sink.done.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_eq!(n, PER_CONN, "bytes lost or added");
            h
        })
        .collect();
    sent.sort();
    got.sort();
    assert_eq!(sent, got, "a stream arrived corrupted");

    let (pd, pe) = (peak_d.load(Ordering::SeqCst), peak_e.load(Ordering::SeqCst));
    let (gd, ge) = (pd.saturating_sub(base.0), pe.saturating_sub(base.1));
    eprintln!(
        "1 GiB via {CONNS} connections in {:.1} s ({:.0} MB/s) into a stalling target; \
         RSS -d {} -> {} KiB (+{} KiB, {} KiB per connection), \
         -e {} -> {} KiB (+{} KiB, {} KiB per connection)",
        elapsed.as_secs_f64(),
        (CONNS * PER_CONN) as f64 / elapsed.as_secs_f64() / 1e6,
        base.0,
        pd,
        gd,
        gd / CONNS,
        base.1,
        pe,
        ge,
        ge / CONNS
    );
    // A daemon that buffered the backlog would grow by hundreds of MiB.
    for (who, g) in [("-d", gd), ("-e", ge)] {
        assert!(
            g <= 2048 * CONNS,
            "{who} grew by {g} KiB for {CONNS} connections"
        );
    }
}

/// A client (spipe) killed with SIGKILL in mid-stream: -d closes the
/// target connection promptly; what reached the target is a prefix of what
/// was sent (the protocol cannot tell a kill from an end: spec section 5);
/// -d goes on serving.
#[test]
fn client_killed_mid_stream() {
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let d_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &target.addr, "-k", k],
    );
    let watchdog = {
        let e_addr = s.addr(Family::V4, "");
        let e = spiped(
            Impl::Rust,
            &s,
            &["-e", "-s", &e_addr, "-t", &d_addr, "-k", k],
        );
        (Watchdog::start(&e_addr, None), e)
    };
    let data = random_bytes(64 << 20, 7);
    let mut child = Command::new(spipe_bin(Impl::Rust))
        .args(["-t", &d_addr, "-k", k])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    let d2 = data.clone();
    let writer = thread::spawn(move || {
        let _ = sin.write_all(&d2);
    });
    let mut out = child.stdout.take().unwrap();
    let mut echoed = vec![0u8; 1 << 20];
    out.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed[..], data[..1 << 20]);
    child.kill().unwrap();
    let _ = child.wait();
    let t0 = Instant::now();
    let wd = watchdog_payload();
    let got = loop {
        let r = target
            .received
            .recv_timeout(Duration::from_secs(10))
            .expect("the target connection was never closed");
        if r != wd {
            break r;
        }
    };
    eprintln!(
        "target closed {:?} after the kill, with {} bytes",
        t0.elapsed(),
        got.len()
    );
    assert!(got.len() >= 1 << 20 && got.len() < data.len());
    assert!(got[..] == data[..got.len()], "not a prefix of the stream");
    drop(out);
    let _ = writer.join();
    watchdog.0.finish();
}

fn watchdog_payload() -> Vec<u8> {
    random_bytes(20_000, 0xd06)
}

/// The target resets its connection in mid-stream: the client's
/// connection (through -e and -d) is closed promptly, not left hanging.
#[test]
fn target_reset_mid_stream() {
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let t_addr = s.addr(Family::V4, "");
    let l = TcpListener::bind(to_socket_addr(&t_addr)).unwrap();
    thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = vec![0u8; 1 << 20];
            let _ = c.read_exact(&mut buf);
            // SO_LINGER 0: close() sends RST.
            let lg = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&c),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &lg as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as u32,
                )
            };
        }
    });
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let _d = spiped(
        Impl::Rust,
        &s,
        &["-d", "-s", &d_addr, "-t", &t_addr, "-k", k],
    );
    let _e = spiped(
        Impl::Rust,
        &s,
        &["-e", "-s", &e_addr, "-t", &d_addr, "-k", k],
    );
    let mut c = connect(&e_addr);
    let mut w = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let block = random_bytes(1 << 20, 3);
        for _ in 0..256 {
            if w.write_all(&block).is_err() {
                return;
            }
        }
        panic!("256 MiB accepted after the target reset");
    });
    let t0 = Instant::now();
    expect_closed(&mut c, Duration::from_secs(10));
    eprintln!("client closed {:?} after it started", t0.elapsed());
    writer.join().unwrap();
}

/// SIGTERM to both daemons while 16 transfers are half done: no new
/// connection is taken, every transfer completes intact in both
/// directions, then both exit 0.
#[test]
fn sigterm_with_many_transfers_in_flight() {
    const N: usize = 16;
    const LEN: usize = 4 << 20;
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let d_addr = s.addr(Family::V4, "");
    let e_addr = s.addr(Family::V4, "");
    let mut d = Foreground::start(
        &s,
        &["-d", "-s", &d_addr, "-t", &target.addr, "-k", k],
        &d_addr,
    );
    let mut e = Foreground::start(&s, &["-e", "-s", &e_addr, "-t", &d_addr, "-k", k], &e_addr);
    let progress = Arc::new(AtomicU64::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let transfers: Vec<_> = (0..N)
        .map(|i| {
            let (a, p, go) = (e_addr.clone(), progress.clone(), go.clone());
            thread::spawn(move || {
                let data = random_bytes(LEN, 1000 + i as u64);
                let mut c = connect(&a);
                c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let mut w = c.try_clone().unwrap();
                let d2 = data.clone();
                let writer = thread::spawn(move || {
                    w.write_all(&d2[..LEN / 4]).unwrap();
                    while !go.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(5));
                    }
                    w.write_all(&d2[LEN / 4..]).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = vec![0u8; LEN / 8];
                c.read_exact(&mut got).unwrap();
                p.fetch_add(1, Ordering::SeqCst);
                c.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                got == data
            })
        })
        .collect();
    // Every transfer is under way (an eighth echoed back), none is done.
    assert!(wait_for(Duration::from_secs(30), || progress
        .load(Ordering::SeqCst)
        == N as u64));
    e.signal(libc::SIGTERM);
    d.signal(libc::SIGTERM);
    assert!(
        wait_for(Duration::from_secs(3), || !tcp_listening(
            to_socket_addr(&e_addr).port()
        )),
        "-e still listens after SIGTERM"
    );
    assert!(
        TcpStream::connect(to_socket_addr(&e_addr)).is_err(),
        "new connection accepted after SIGTERM"
    );
    assert!(
        e.wait(Duration::from_millis(200)).is_none(),
        "-e quit early"
    );
    go.store(true, Ordering::SeqCst);
    for (i, t) in transfers.into_iter().enumerate() {
        assert!(t.join().unwrap(), "transfer {i} corrupted or cut");
    }
    for (who, p) in [("-e", &mut e), ("-d", &mut d)] {
        let st = p.wait(Duration::from_secs(10));
        assert_eq!(st.and_then(|s| s.code()), Some(0), "{who}: {st:?}");
    }
}
