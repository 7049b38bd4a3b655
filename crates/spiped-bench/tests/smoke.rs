//! The quick mode's building blocks, briefly, against both implementations:
//! a small verified transfer (1 and 3 streams), a few connection cycles,
//! a short rate run, idle connections with RSS and CPU readings, and
//! cleanup of every daemon. Keeps the bench from rotting; well under 20 s.

use std::path::PathBuf;
use std::time::Duration;

use spiped_bench::bulk::{self, Sink};
use spiped_bench::conns;
use spiped_bench::crypto;
use spiped_bench::echo::EchoServer;
use spiped_bench::machine::Meter;
use spiped_bench::pair::{self, Impl, Pair};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("spiped-bench-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("key"), b"0123456789abcdef0123456789abcdef").unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Our spiped next to this test binary; built with cargo if this test was
/// run without the spiped package (e.g. `nextest run -p spiped-bench`).
fn ours() -> Impl {
    let dir = pair::default_bin_dir().unwrap();
    if !dir.join("spiped").is_file() {
        pair::cargo_build_ours(&PathBuf::from(env!("CARGO")), &dir).unwrap();
    }
    Impl::ours(&dir).unwrap()
}

fn impls() -> [Impl; 2] {
    [ours(), Impl::reference(pair::C_SPIPED.as_ref()).unwrap()]
}

#[test]
fn bulk_moves_exact_bytes_through_both_pairs() {
    let scratch = Scratch::new("bulk");
    let sink = Sink::bind().unwrap();
    for imp in impls() {
        let p = Pair::start(
            &imp,
            sink.addr().unwrap(),
            &[],
            &scratch.0.join("key"),
            &scratch.0,
        )
        .unwrap();
        let m = Meter::start(&[&p.enc, &p.dec]).unwrap();
        // An odd size: full packets plus a partial one, and a partial buffer.
        let one = bulk::run(p.entry, &sink, 1, (24 << 20) + 1234, true).unwrap();
        assert_eq!(one.bytes, (24 << 20) + 1234, "{}", imp.label);
        let three = bulk::run(p.entry, &sink, 3, 1 << 20, true).unwrap();
        assert_eq!(three.bytes, 3 << 20, "{}", imp.label);
        let mm = m.stop(&[&p.enc, &p.dec]).unwrap();
        assert!(
            one.mb_per_s() > 1.0,
            "{}: {} MB/s",
            imp.label,
            one.mb_per_s()
        );
        // 27 MiB through AES + HMAC costs the two daemons some clock
        // ticks (10 ms each) whatever the implementation.
        assert_eq!(mm.daemon_cpu.len(), 2);
        assert!(
            mm.daemon_cpu.iter().sum::<f64>() > 0.0,
            "{}: no CPU seen",
            imp.label
        );
        assert!(mm.wall > 0.0);
        let (pe, pd) = (p.enc.pid(), p.dec.pid());
        drop(p);
        for pid in [pe, pd] {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "daemon {pid} still there after drop"
            );
        }
    }
}

#[test]
fn connections_cycle_rate_and_idle_through_both_pairs() {
    let scratch = Scratch::new("conns");
    let echo = EchoServer::start().unwrap();
    for imp in impls() {
        for extra in [&[][..], &["-f"][..]] {
            let mut p =
                Pair::start(&imp, echo.addr(), extra, &scratch.0.join("key"), &scratch.0).unwrap();
            let lat = conns::ttfb(p.entry, 5).unwrap();
            assert_eq!(lat.len(), 5);
            assert!(
                lat.iter()
                    .all(|d| *d > Duration::ZERO && *d < Duration::from_secs(5))
            );
            let r = conns::rate(p.entry, 20, 4).unwrap();
            assert_eq!((r.ok, r.failed), (20, 0), "{} {extra:?}", imp.label);
            assert!(r.per_sec() > 0.0);
            let before = p.enc.rss().unwrap();
            let held = conns::open_idle(p.entry, 20).unwrap();
            assert_eq!(held.len(), 20);
            assert!(before > 0 && p.dec.rss().unwrap() > 0);
            p.check_alive().unwrap();
        }
    }
}

#[test]
fn crypto_ceiling_is_measured() {
    let c = crypto::measure(Duration::from_millis(20));
    assert!(c.seal > 1.0 && c.open > 1.0, "{c:?}");
    assert!(
        c.seal_open < c.seal,
        "seal+open must cost more than seal: {c:?}"
    );
    assert!(c.pipe() <= c.seal);
}

#[test]
fn dh_cost_is_measured() {
    let d = crypto::dh_cost(3);
    // A 2048-bit modexp with a 259-bit exponent: well above a microsecond,
    // well below a second, whatever the machine.
    for ms in [d.keypair_ms, d.shared_ms] {
        assert!(ms > 0.001 && ms < 1000.0, "{d:?}");
    }
}
