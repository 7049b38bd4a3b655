//! Hostile peers against our daemons, on real loopback sockets.
//!
//! Each attack checks three things: the attacked connection is closed;
//! nothing unauthenticated reaches the far side (the target behind `-d`
//! records every byte of every connection; the fake server behind `-e`
//! counts every byte after the handshake); and a well-behaved client keeps
//! being served on other connections while it happens (a watchdog making
//! round trips throughout). The attacker (tests/common/attack.rs) speaks
//! the protocol from spiped-proto's primitives, so it can corrupt any
//! handshake field, send any y with a valid MAC, and forge packets with the
//! session keys.

#[path = "common/attack.rs"]
mod attack;
mod common;

use std::io::Write;
use std::net::Shutdown;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use attack::*;
use common::*;
use spiped_proto::dh::{P, Y_ONE};
use spiped_proto::{DH_LEN, Key, NONCE_LEN, PACKET_LEN, YH_LEN};

/// The payload every watchdog round trip carries (see Watchdog::start).
fn watchdog_payload() -> Vec<u8> {
    random_bytes(20_000, 0xd06)
}

/// Our spiped -d in front of a recording echo target, our spiped -e in
/// front of it, and a watchdog client going through both.
struct DSide {
    _s: Scratch,
    key: Key,
    target: Server,
    d_addr: String,
    d: Daemon,
    _e: Daemon,
    watchdog: Option<Watchdog>,
}

impl DSide {
    fn start(d_flags: &[&str]) -> DSide {
        let s = Scratch::new();
        let key_path = s.key("k");
        let k = key_path.to_str().unwrap().to_string();
        let target = server(&s, Family::V4, Behaviour::Echo);
        let d_addr = s.addr(Family::V4, "");
        let mut args = vec!["-d", "-s", &d_addr, "-t", &target.addr, "-k", &k];
        args.extend_from_slice(d_flags);
        let d = spiped(Impl::Rust, &s, &args);
        let e_addr = s.addr(Family::V4, "");
        let e = spiped(
            Impl::Rust,
            &s,
            &["-e", "-s", &e_addr, "-t", &d_addr, "-k", &k],
        );
        let watchdog = Some(Watchdog::start(&e_addr, None));
        DSide {
            key: key_of(&key_path),
            _s: s,
            target,
            d_addr,
            d,
            _e: e,
            watchdog,
        }
    }

    fn connect(&self) -> std::net::TcpStream {
        connect(&self.d_addr)
    }

    fn attack(&self, play: Play) -> Outcome {
        attack::as_client(self.connect(), &self.key, play)
    }

    fn session(&self) -> Session {
        self.attack(Play::Honest).session()
    }

    /// The next target connection that is not the watchdog's received
    /// exactly `want` (in all, once it closed).
    fn target_got(&self, want: &[u8], what: &str) {
        let wd = watchdog_payload();
        let t0 = Instant::now();
        loop {
            let left = Duration::from_secs(15).saturating_sub(t0.elapsed());
            let got = self
                .target
                .received
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{what}: the target connection never closed"));
            if got == wd {
                continue;
            }
            assert!(
                got == want,
                "{what}: the target received {} bytes, expected {}",
                got.len(),
                want.len()
            );
            return;
        }
    }

    /// No target connection but the watchdog's has closed.
    fn no_other_target_report(&self) {
        let wd = watchdog_payload();
        while let Ok(got) = self.target.received.try_recv() {
            assert!(got == wd, "an unexpected target connection: {got:?}");
        }
    }

    fn finish(mut self) {
        let n = self.watchdog.take().unwrap().finish();
        eprintln!("watchdog: {n} good round trips during the attacks");
        // Every target connection but the watchdog's is accounted for.
        self.no_other_target_report();
    }
}

fn dh(bytes: [u8; DH_LEN]) -> Play {
    Play::Y(Box::new(bytes))
}

/// p + k, big-endian with carries.
fn p_plus(k: u8) -> [u8; DH_LEN] {
    let mut v = P;
    let mut carry = k as u16;
    for b in v.iter_mut().rev() {
        let sum = *b as u16 + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    v
}

fn p_minus_1() -> [u8; DH_LEN] {
    let mut v = P;
    v[DH_LEN - 1] -= 1;
    v
}

/// The client's handshake fields, corrupted one at a time, a wrong key,
/// and every boundary value of y: `-d` refuses after reading y_C || h_C,
/// without sending y_S, and the target gets nothing.
#[test]
fn d_refuses_bad_client_handshakes() {
    let fx = DSide::start(&[]);
    let wrong = Key::from_file_contents(b"not the key");
    let cases: Vec<(&str, Outcome)> = vec![
        (
            "wrong key",
            attack::as_client(fx.connect(), &wrong, Play::Honest),
        ),
        ("nonce_C", fx.attack(Play::Corrupt(Field::Nonce))),
        ("y_C", fx.attack(Play::Corrupt(Field::Y))),
        ("h_C", fx.attack(Play::Corrupt(Field::H))),
        ("y = p", fx.attack(dh(P))),
        ("y = p + 1", fx.attack(dh(p_plus(1)))),
        ("y = 2^2048 - 1", fx.attack(dh([0xff; DH_LEN]))),
    ];
    for (what, outcome) in cases {
        assert_eq!(outcome.refused(), Some(NONCE_LEN), "{what}");
        fx.target_got(b"", what);
    }
    // A peer that never proves the key cannot make us send y_S either way:
    // garbage of the right size.
    let mut c = fx.connect();
    c.write_all(&random_bytes(NONCE_LEN + YH_LEN, 9)).unwrap();
    let mut nonce = [0u8; NONCE_LEN];
    std::io::Read::read_exact(&mut c, &mut nonce).unwrap();
    expect_closed(&mut c, Duration::from_secs(5));
    fx.target_got(b"", "garbage handshake");
    fx.finish();
}

/// What upstream accepts, we accept, and the session then works: y = 0
/// (y_SC = 0), y = 1 without -g (a -f peer), y = p - 1 (the handshake only:
/// y_SC = +-1 depends on the daemon's secret exponent).
#[test]
fn d_accepts_what_upstream_accepts() {
    let fx = DSide::start(&[]);
    for (what, y) in [("y = 0", [0u8; DH_LEN]), ("y = 1", Y_ONE)] {
        let mut sess = fx.attack(dh(y)).session();
        sess.send_data(what.as_bytes());
        assert_eq!(sess.recv_data(), what.as_bytes(), "{what}");
        sess.stream.shutdown(Shutdown::Write).unwrap();
        sess.expect_dropped(Duration::from_secs(5));
        fx.target_got(what.as_bytes(), what);
    }
    let sess = fx.attack(dh(p_minus_1())).session();
    drop(sess);
    fx.target_got(b"", "y = p - 1");
    fx.finish();
}

/// `-g`: y = 1 (a peer without forward secrecy) is refused; PFS works.
#[test]
fn d_with_g_refuses_y_one() {
    let fx = DSide::start(&["-g"]);
    assert_eq!(fx.attack(Play::NoPfs).refused(), Some(NONCE_LEN));
    fx.target_got(b"", "y = 1 under -g");
    let mut sess = fx.session();
    sess.send_data(b"pfs");
    assert_eq!(sess.recv_data(), b"pfs");
    drop(sess);
    fx.target_got(b"pfs", "PFS under -g");
    fx.finish();
}

/// Our spiped -e in front of a fake protocol server (which forwards honest
/// connections to our spiped -d and an echo target), with a watchdog.
struct ESide {
    _s: Scratch,
    fake: FakeServer,
    e_addr: String,
    _e: Daemon,
    _d: Daemon,
    watchdog: Option<Watchdog>,
}

impl ESide {
    fn start(e_flags: &[&str]) -> ESide {
        let s = Scratch::new();
        let key_path = s.key("k");
        let k = key_path.to_str().unwrap().to_string();
        let target = server(&s, Family::V4, Behaviour::Echo);
        let d_addr = s.addr(Family::V4, "");
        let d = spiped(
            Impl::Rust,
            &s,
            &["-d", "-s", &d_addr, "-t", &target.addr, "-k", &k],
        );
        let fake = FakeServer::start(&s, key_of(&key_path), d_addr);
        let e_addr = s.addr(Family::V4, "");
        let mut args = vec!["-e", "-s", &e_addr, "-t", &fake.addr, "-k", &k];
        args.extend_from_slice(e_flags);
        let e = spiped(Impl::Rust, &s, &args);
        let watchdog = Some(Watchdog::start(&e_addr, Some(fake.gate.clone())));
        ESide {
            _s: s,
            fake,
            e_addr,
            _e: e,
            _d: d,
            watchdog,
        }
    }

    /// A plaintext client sends a secret through -e to a hostile server:
    /// the fake server sees the whole client handshake and then nothing,
    /// the connection is closed, and the client gets nothing back.
    fn refused(&self, what: &str, play: Play, key: Option<Key>) {
        // Armed under the gate, so the watchdog cannot take this play.
        let (seen, mut c): (mpsc::Receiver<Seen>, _) = self
            .fake
            .gate
            .pass(|| (self.fake.arm(play, key), connect(&self.e_addr)));
        c.write_all(b"a plaintext secret that must not leave unencrypted")
            .unwrap();
        let seen = seen
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what}: no report from the fake server"));
        assert_eq!(seen.handshake_bytes, NONCE_LEN + YH_LEN, "{what}");
        assert_eq!(seen.after, 0, "{what}: data sent after a bad handshake");
        assert!(seen.closed, "{what}: -e kept the connection open");
        expect_closed(&mut c, Duration::from_secs(10));
    }

    fn finish(mut self) {
        let n = self.watchdog.take().unwrap().finish();
        eprintln!("watchdog: {n} good round trips during the attacks");
    }
}

/// The server's handshake fields, corrupted one at a time, a wrong key,
/// and out-of-range y: `-e` drops the connection and sends no data.
#[test]
fn e_refuses_bad_server_handshakes() {
    let fx = ESide::start(&[]);
    fx.refused(
        "wrong key",
        Play::Honest,
        Some(Key::from_file_contents(b"not the key")),
    );
    fx.refused("nonce_S", Play::Corrupt(Field::Nonce), None);
    fx.refused("y_S", Play::Corrupt(Field::Y), None);
    fx.refused("h_S", Play::Corrupt(Field::H), None);
    fx.refused("y = p", dh(P), None);
    fx.refused("y = p + 1", dh(p_plus(1)), None);
    fx.refused("y = 2^2048 - 1", dh([0xff; DH_LEN]), None);
    fx.finish();
}

/// `-e -g` refuses a server that sends y = 1.
#[test]
fn e_with_g_refuses_y_one() {
    let fx = ESide::start(&["-g"]);
    fx.refused("y = 1 under -g", Play::NoPfs, None);
    fx.finish();
}

/// Data packets that fail authentication or carry a bad length: the
/// connection is dropped and only what was authenticated before reached
/// the target.
#[test]
fn d_drops_bad_packets() {
    let fx = DSide::start(&[]);

    // One bit flipped (after a good packet went through).
    let mut s = fx.session();
    s.send_data(b"first");
    assert_eq!(s.recv_data(), b"first");
    let mut p = s.packet(b"second");
    p[500] ^= 0x04;
    s.stream.write_all(&p).unwrap();
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(b"first", "bit flip");

    // A bit flipped in the tag.
    let mut s = fx.session();
    let mut p = s.packet(b"tag");
    p[PACKET_LEN - 1] ^= 0x80;
    s.stream.write_all(&p).unwrap();
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(b"", "tag bit flip");

    // A replayed packet.
    let mut s = fx.session();
    let p0 = s.packet(b"first");
    s.stream.write_all(&p0).unwrap();
    assert_eq!(s.recv_data(), b"first");
    s.stream.write_all(&p0).unwrap();
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(b"first", "replay");

    // Reordered packets.
    let mut s = fx.session();
    let p0 = s.packet(b"zero");
    let p1 = s.packet(b"one");
    s.stream.write_all(&p1).unwrap();
    s.stream.write_all(&p0).unwrap();
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(b"", "reorder");

    // Length fields: 1024 is fine, 0, 1025 and 2^32 - 1 are not (each with
    // a correct tag: the attacker holds the session keys).
    let mut s = fx.session();
    let p = s.forge_length(1024);
    s.stream.write_all(&p).unwrap();
    assert_eq!(s.recv_data(), vec![0u8; 1024]);
    let p = s.forge_length(1025);
    s.stream.write_all(&p).unwrap();
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(&[0u8; 1024], "length 1025");
    for len in [0u32, 0xffff_ffff] {
        let mut s = fx.session();
        let p = s.forge_length(len);
        s.stream.write_all(&p).unwrap();
        s.expect_dropped(Duration::from_secs(5));
        fx.target_got(b"", &format!("length {len}"));
    }
    fx.finish();
}

/// A stream cut inside a packet, then FIN: upstream's semantics (the
/// protocol has no authenticated end): the partial packet is dropped, a
/// clean EOF goes to the target, and the reply still comes back.
#[test]
fn d_truncated_before_fin_is_a_clean_eof() {
    let fx = DSide::start(&[]);
    let mut s = fx.session();
    s.send_data(b"first");
    let p = s.packet(b"second, never delivered");
    s.stream.write_all(&p[..500]).unwrap();
    s.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(s.recv_data(), b"first");
    s.expect_dropped(Duration::from_secs(5));
    fx.target_got(b"first", "truncated");
    fx.finish();
}

/// A peer that stops in the middle of a packet: nothing of it is
/// delivered, the daemon does not spin on the half packet, others are
/// served, and when the peer finally goes the target connection closes.
#[test]
fn d_peer_stops_mid_packet() {
    let fx = DSide::start(&[]);
    let mut s = fx.session();
    s.send_data(b"first");
    let p = s.packet(b"never finished");
    s.stream.write_all(&p[..PACKET_LEN / 2]).unwrap();
    assert_eq!(s.recv_data(), b"first");
    // Still open: no idle timeout after the handshake, as upstream.
    fx.no_other_target_report();
    let wd = fx.watchdog.as_ref().unwrap();
    wd.pause(true);
    let before = cpu_ticks(fx.d.pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(fx.d.pid) - before;
    assert!(used <= 10, "-d used {used}/100 s of CPU in 1 s while idle");
    wd.pause(false);
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    fx.target_got(b"first", "stopped mid-packet");
    fx.finish();
}

/// A slow-loris handshake (one byte a second) does not hold a connection
/// beyond -o: the timer runs from accept and bytes do not renew it.
#[test]
fn d_slow_loris_handshake_is_cut_at_timeout() {
    let fx = DSide::start(&["-o", "2"]);
    let t0 = Instant::now();
    let mut c = fx.connect();
    let mut w = c.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for b in random_bytes(NONCE_LEN + YH_LEN, 5) {
            if w.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut nonce = [0u8; NONCE_LEN];
    std::io::Read::read_exact(&mut c, &mut nonce).unwrap();
    expect_closed(&mut c, Duration::from_secs(6));
    let t = t0.elapsed();
    assert!(
        t >= Duration::from_millis(1800) && t < Duration::from_millis(3500),
        "dropped after {t:?}, -o 2"
    );
    fx.target_got(b"", "slow loris");
    trickle.join().unwrap();
    fx.finish();
}
