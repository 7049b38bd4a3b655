//! The benchmark's phases. Each phase starts both implementations' pairs
//! side by side and measures them in alternating order (A B, B A, A B ...)
//! so that drift in the machine's load hits both alike.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::bulk::{self, BulkResult, Sink};
use crate::conns;
use crate::crypto::{self, Ceiling};
use crate::echo::EchoServer;
use crate::machine::{Meter, Metered, wait_idle};
use crate::pair::{Impl, Pair};
use crate::procs::time_wait_count;
use crate::report::{Cell, Goal, Report};
use crate::stats;

const GIB: f64 = (1u64 << 30) as f64;
const MIB: u64 = 1 << 20;

/// How much each phase does.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bulk_bytes: u64,
    pub bulk_rounds: usize,
    /// Bytes per run, all streams together.
    pub par_bytes: u64,
    pub par_rounds: usize,
    pub par_streams: Vec<usize>,
    pub ttfb_pfs: usize,
    pub ttfb_fast: usize,
    pub ttfb_block: usize,
    pub rate_conns: usize,
    pub rate_rounds: usize,
    pub rate_parallel: usize,
    pub idle_conns: usize,
    pub idle_cpu: Duration,
    pub crypto_time: Duration,
    pub crypto_reps: usize,
    pub dh_ops: usize,
    pub max_idle_wait: Duration,
}

impl Settings {
    /// Under a minute: a smoke run.
    pub fn quick() -> Settings {
        Settings {
            bulk_bytes: 256 * MIB,
            bulk_rounds: 1,
            par_bytes: 128 * MIB,
            par_rounds: 1,
            par_streams: vec![8, 64],
            ttfb_pfs: 100,
            ttfb_fast: 200,
            ttfb_block: 50,
            rate_conns: 300,
            rate_rounds: 1,
            rate_parallel: 8,
            idle_conns: 200,
            idle_cpu: Duration::ZERO,
            crypto_time: Duration::from_millis(300),
            crypto_reps: 1,
            dh_ops: 20,
            max_idle_wait: Duration::ZERO,
        }
    }

    /// About 5-10 minutes on the 2-core machine.
    pub fn full() -> Settings {
        Settings {
            bulk_bytes: 2048 * MIB,
            bulk_rounds: 3,
            par_bytes: 1024 * MIB,
            par_rounds: 2,
            par_streams: vec![8, 64],
            ttfb_pfs: 1000,
            ttfb_fast: 2000,
            ttfb_block: 100,
            rate_conns: 2000,
            rate_rounds: 3,
            rate_parallel: 8,
            idle_conns: 1000,
            idle_cpu: Duration::from_secs(5),
            crypto_time: Duration::from_secs(1),
            crypto_reps: 3,
            dh_ops: 200,
            max_idle_wait: Duration::from_secs(5),
        }
    }
}

/// The parts of the benchmark, selectable with `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Crypto,
    Bulk,
    Parallel,
    Ttfb,
    Rate,
    Rss,
}

pub struct Bench {
    pub ours: Impl,
    pub c: Impl,
    pub key: PathBuf,
    pub scratch: PathBuf,
    pub s: Settings,
    pub report: Report,
    ceiling: Option<Ceiling>,
    /// Share of the machine used by others during each measurement, by phase.
    other: Vec<(String, Vec<f64>)>,
}

/// Round `r` measures pair 0 then 1, or 1 then 0.
fn order(r: usize) -> [usize; 2] {
    if r.is_multiple_of(2) { [0, 1] } else { [1, 0] }
}

impl Bench {
    pub fn new(ours: Impl, c: Impl, key: PathBuf, scratch: PathBuf, s: Settings) -> Bench {
        Bench {
            ours,
            c,
            key,
            scratch,
            s,
            report: Report::default(),
            ceiling: None,
            other: Vec::new(),
        }
    }

    fn pairs(&self, target: std::net::SocketAddr, extra: &[&str]) -> Result<[Pair; 2]> {
        Ok([
            Pair::start(&self.ours, target, extra, &self.key, &self.scratch)?,
            Pair::start(&self.c, target, extra, &self.key, &self.scratch)?,
        ])
    }

    /// Measure `f` on `p` for `phase`: first waits (bounded) for a quiet
    /// machine if `settle`, afterwards checks the daemons survived, and
    /// records the load the rest of the machine put on it meanwhile.
    fn metered<T>(
        &mut self,
        phase: &str,
        settle: bool,
        p: &mut Pair,
        f: impl FnOnce(&Pair) -> Result<T>,
    ) -> Result<(T, Metered)> {
        if settle {
            wait_idle(self.s.max_idle_wait);
        }
        let m = Meter::start(&[&p.enc, &p.dec])?;
        let out = f(p)?;
        let mm = m.stop(&[&p.enc, &p.dec])?;
        p.check_alive()?;
        match self.other.iter_mut().find(|(k, _)| k == phase) {
            Some((_, v)) => v.push(mm.other_load),
            None => self.other.push((phase.to_string(), vec![mm.other_load])),
        }
        Ok((out, mm))
    }

    pub fn run(&mut self, phases: &[Phase]) -> Result<()> {
        let has = |p| phases.contains(&p);
        if has(Phase::Crypto) {
            self.crypto();
        }
        if has(Phase::Bulk) || has(Phase::Parallel) {
            self.bulk(has(Phase::Bulk), has(Phase::Parallel))?;
        }
        if has(Phase::Ttfb) || has(Phase::Rate) {
            self.connections(has(Phase::Ttfb), has(Phase::Rate))?;
        }
        if has(Phase::Rss) {
            self.rss()?;
        }
        let load: Vec<String> = self
            .other
            .iter()
            .map(|(k, v)| {
                let pc = |x: f64| 100.0 * x;
                format!("{k} {:.0}–{:.0} %", pc(stats::min(v)), pc(stats::max(v)))
            })
            .collect();
        self.report.note(format!(
            "CPU used by other processes during the measurements (share of the machine): {}",
            load.join(", ")
        ));
        Ok(())
    }

    fn crypto(&mut self) {
        let c = crypto::best_of(self.s.crypto_reps, self.s.crypto_time);
        eprintln!(
            "crypto: seal+open {:.0} MB/s, seal {:.0}, open {:.0}",
            c.seal_open, c.seal, c.open
        );
        let r = &mut self.report;
        r.ours_only(
            "crypto ceiling: seal + open loop, 1 core (MB/s of payload)",
            Cell::one(c.seal_open),
            0,
        );
        r.ours_only("crypto: seal alone, 1 core (MB/s)", Cell::one(c.seal), 0);
        r.ours_only("crypto: open alone, 1 core (MB/s)", Cell::one(c.open), 0);
        self.ceiling = Some(c);
        let dh = crypto::dh_cost(self.s.dh_ops);
        eprintln!(
            "dh: keypair {:.3} ms, shared {:.3} ms (CPU)",
            dh.keypair_ms, dh.shared_ms
        );
        let r = &mut self.report;
        r.ours_only(
            "DH group 14: make y = 2^e (CPU ms)",
            Cell::one(dh.keypair_ms),
            3,
        );
        r.ours_only(
            "DH group 14: shared y^e (CPU ms)",
            Cell::one(dh.shared_ms),
            3,
        );
    }

    fn bulk(&mut self, single: bool, parallel: bool) -> Result<()> {
        let sink = Sink::bind()?;
        let mut pairs = self.pairs(sink.addr()?, &[])?;
        if single {
            // The floor under both: the same source and sink with no spiped.
            wait_idle(self.s.max_idle_wait);
            let direct = bulk::run(sink.addr()?, &sink, 1, self.s.bulk_bytes, false)?;
            eprintln!("bulk x1 direct (no spiped): {:.1} MB/s", direct.mb_per_s());
            self.report.note(format!(
                "loopback with no spiped (same source and sink, 1 connection): {:.0} MB/s",
                direct.mb_per_s()
            ));
            let res =
                self.bulk_rounds(&mut pairs, &sink, 1, self.s.bulk_bytes, self.s.bulk_rounds)?;
            self.bulk_rows(&res, 1);
        }
        if parallel {
            for n in self.s.par_streams.clone() {
                let per = (self.s.par_bytes / n as u64).max(1);
                let res = self.bulk_rounds(&mut pairs, &sink, n, per, self.s.par_rounds)?;
                self.bulk_rows(&res, n);
            }
        }
        Ok(())
    }

    fn bulk_rounds(
        &mut self,
        pairs: &mut [Pair; 2],
        sink: &Sink,
        streams: usize,
        per_stream: u64,
        rounds: usize,
    ) -> Result<[Vec<(BulkResult, Metered)>; 2]> {
        let mut res: [Vec<_>; 2] = Default::default();
        for r in 0..rounds {
            for i in order(r) {
                let (b, m) =
                    self.metered(&format!("bulk x{streams}"), true, &mut pairs[i], |p| {
                        bulk::run(p.entry, sink, streams, per_stream, false)
                    })?;
                let gib = b.bytes as f64 / GIB;
                eprintln!(
                    "bulk x{streams} {:>4}: {:7.1} MB/s  cpu -e {:.2} -d {:.2} s/GiB  (other load {:.0} %)",
                    pairs[i].label,
                    b.mb_per_s(),
                    m.daemon_cpu[0] / gib,
                    m.daemon_cpu[1] / gib,
                    100.0 * m.other_load
                );
                res[i].push((b, m));
            }
        }
        Ok(res)
    }

    fn bulk_rows(&mut self, res: &[Vec<(BulkResult, Metered)>; 2], streams: usize) {
        let mbs = |i: usize| -> Vec<f64> { res[i].iter().map(|(b, _)| b.mb_per_s()).collect() };
        let cpu = |i: usize, d: Option<usize>| -> Vec<f64> {
            res[i]
                .iter()
                .map(|(b, m)| {
                    let s = d.map_or(m.daemon_cpu.iter().sum(), |d| m.daemon_cpu[d]);
                    s / (b.bytes as f64 / GIB)
                })
                .collect()
        };
        let total_mib = res[0].first().map_or(0, |(b, _)| b.bytes >> 20);
        let r = &mut self.report;
        if streams == 1 {
            r.both(
                &format!("bulk, 1 connection, {total_mib} MiB (MB/s)"),
                Cell::rounds(&mbs(0)),
                Cell::rounds(&mbs(1)),
                0,
                Some(Goal::AtLeast(4.0)),
            );
            if let Some(c) = self.ceiling {
                let frac =
                    |v: Vec<f64>| -> Vec<f64> { v.iter().map(|x| 100.0 * x / c.pipe()).collect() };
                r.both(
                    &format!(
                        "bulk as % of the pipe's crypto ceiling ({:.0} MB/s)",
                        c.pipe()
                    ),
                    Cell::rounds(&frac(mbs(0))),
                    Cell::rounds(&frac(mbs(1))),
                    0,
                    None,
                );
            }
            r.both(
                "CPU s/GiB, spiped -e",
                Cell::rounds(&cpu(0, Some(0))),
                Cell::rounds(&cpu(1, Some(0))),
                2,
                None,
            );
            r.both(
                "CPU s/GiB, spiped -d",
                Cell::rounds(&cpu(0, Some(1))),
                Cell::rounds(&cpu(1, Some(1))),
                2,
                None,
            );
            let bench: Vec<Vec<f64>> = (0..2)
                .map(|i| {
                    res[i]
                        .iter()
                        .map(|(b, m)| m.self_cpu / (b.bytes as f64 / GIB))
                        .collect()
                })
                .collect();
            r.both(
                "CPU s/GiB, the bench's source + sink",
                Cell::rounds(&bench[0]),
                Cell::rounds(&bench[1]),
                2,
                None,
            );
            r.both(
                "CPU s/GiB, -e + -d",
                Cell::rounds(&cpu(0, None)),
                Cell::rounds(&cpu(1, None)),
                2,
                Some(Goal::AtMost(0.5)),
            );
        } else {
            r.both(
                &format!("aggregate, {streams} connections, {total_mib} MiB (MB/s)"),
                Cell::rounds(&mbs(0)),
                Cell::rounds(&mbs(1)),
                0,
                None,
            );
            r.both(
                &format!("CPU s/GiB, -e + -d, {streams} connections"),
                Cell::rounds(&cpu(0, None)),
                Cell::rounds(&cpu(1, None)),
                2,
                Some(Goal::AtMost(0.5)),
            );
        }
    }

    fn connections(&mut self, ttfb: bool, rate: bool) -> Result<()> {
        let echo = EchoServer::start()?;
        if ttfb {
            let direct = conns::ttfb(echo.addr(), 200)?;
            let ms: Vec<f64> = direct.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            self.report.note(format!(
                "time to first byte with no spiped (straight to the echo target): median {:.3} ms",
                stats::median(&ms)
            ));
        }
        {
            let mut pairs = self.pairs(echo.addr(), &[])?;
            if ttfb {
                self.ttfb(&mut pairs, "PFS", self.s.ttfb_pfs, Some(Goal::AtMost(0.4)))?;
            }
            if rate {
                self.rate(&mut pairs, "PFS", Some(Goal::AtLeast(2.0)))?;
            }
        }
        let mut pairs = self.pairs(echo.addr(), &["-f"])?;
        if ttfb {
            self.ttfb(&mut pairs, "-f", self.s.ttfb_fast, None)?;
        }
        if rate {
            self.rate(&mut pairs, "-f", None)?;
        }
        Ok(())
    }

    fn ttfb(
        &mut self,
        pairs: &mut [Pair; 2],
        mode: &str,
        n: usize,
        goal: Option<Goal>,
    ) -> Result<()> {
        let mut lat: [Vec<f64>; 2] = Default::default();
        let mut cpu = [0.0f64; 2];
        for p in pairs.iter() {
            conns::ttfb(p.entry, 5)?; // warm up
        }
        let block = self.s.ttfb_block.max(1);
        let blocks = n.div_ceil(block);
        for r in 0..blocks {
            for i in order(r) {
                let k = block.min(n - r * block);
                let (d, m) = self.metered(&format!("TTFB {mode}"), r == 0, &mut pairs[i], |p| {
                    conns::ttfb(p.entry, k)
                })?;
                lat[i].extend(d.iter().map(|d| d.as_secs_f64() * 1e3));
                cpu[i] += m.daemon_cpu.iter().sum::<f64>();
            }
        }
        for i in 0..2 {
            eprintln!(
                "ttfb {mode} {:>4}: p50 {:.3} ms p99 {:.3} ms  cpu {:.3} ms/conn (-e + -d)  TIME_WAIT {}",
                pairs[i].label,
                stats::median(&lat[i]),
                stats::percentile(&lat[i], 99.0),
                1e3 * cpu[i] / n as f64,
                time_wait_count()
            );
        }
        let r = &mut self.report;
        let q = |i: usize, p: f64| Cell::one(stats::percentile(&lat[i], p));
        r.both(
            &format!("time to first byte, {mode}, median (ms)"),
            q(0, 50.0),
            q(1, 50.0),
            3,
            goal,
        );
        r.both(
            &format!("time to first byte, {mode}, p99 (ms)"),
            q(0, 99.0),
            q(1, 99.0),
            3,
            None,
        );
        r.both(
            &format!("CPU per connection, {mode}, -e + -d (ms)"),
            Cell::one(1e3 * cpu[0] / n as f64),
            Cell::one(1e3 * cpu[1] / n as f64),
            3,
            None,
        );
        Ok(())
    }

    fn rate(&mut self, pairs: &mut [Pair; 2], mode: &str, goal: Option<Goal>) -> Result<()> {
        let (n, par) = (self.s.rate_conns, self.s.rate_parallel);
        let mut rates: [Vec<f64>; 2] = Default::default();
        let mut cpu: [Vec<f64>; 2] = Default::default();
        let mut failed = [0usize; 2];
        for r in 0..self.s.rate_rounds {
            for i in order(r) {
                let (res, m) =
                    self.metered(&format!("conn/s {mode}"), true, &mut pairs[i], |p| {
                        conns::rate(p.entry, n, par)
                    })?;
                let ms_per_conn = 1e3 * m.daemon_cpu.iter().sum::<f64>() / res.ok.max(1) as f64;
                eprintln!(
                    "conn/s {mode} x{par} {:>4}: {:.0}/s  cpu {ms_per_conn:.3} ms/conn  p50 {:.2} ms  failed {}  TIME_WAIT {}",
                    pairs[i].label,
                    res.per_sec(),
                    1e3 * stats::median(
                        &res.latencies
                            .iter()
                            .map(|d| d.as_secs_f64())
                            .collect::<Vec<_>>()
                    ),
                    res.failed,
                    time_wait_count()
                );
                rates[i].push(res.per_sec());
                cpu[i].push(ms_per_conn);
                failed[i] += res.failed;
            }
        }
        self.report.both(
            &format!("new connections/s, {mode}, {par} clients, {n} per round"),
            Cell::rounds(&rates[0]),
            Cell::rounds(&rates[1]),
            0,
            goal,
        );
        self.report.both(
            &format!("CPU per connection at saturation, {mode}, -e + -d (ms)"),
            Cell::rounds(&cpu[0]),
            Cell::rounds(&cpu[1]),
            3,
            None,
        );
        if failed.iter().any(|f| *f > 0) {
            self.report.note(format!(
                "connection-rate cycles that failed ({mode}): ours {}, C {}",
                failed[0], failed[1]
            ));
        }
        Ok(())
    }

    fn rss(&mut self) -> Result<()> {
        let echo = EchoServer::start()?;
        let n = self.s.idle_conns;
        let mut per = [[0.0f64; 2]; 2];
        let mut base = [[0.0f64; 2]; 2];
        let mut idle_cpu = [0.0f64; 2];
        let mut pairs = self.pairs(echo.addr(), &[])?;
        for (i, p) in pairs.iter_mut().enumerate() {
            conns::ttfb(p.entry, 1)?; // first-use allocations are not per connection
            std::thread::sleep(Duration::from_millis(200));
            let before = [p.enc.rss()?, p.dec.rss()?];
            let held = conns::open_idle(p.entry, n)?;
            std::thread::sleep(Duration::from_secs(1));
            let after = [p.enc.rss()?, p.dec.rss()?];
            if !self.s.idle_cpu.is_zero() {
                let m = Meter::start(&[&p.enc, &p.dec])?;
                std::thread::sleep(self.s.idle_cpu);
                idle_cpu[i] = m.stop(&[&p.enc, &p.dec])?.daemon_cpu.iter().sum();
            }
            p.check_alive()?;
            drop(held);
            for d in 0..2 {
                base[i][d] = before[d] as f64 / 1e6;
                per[i][d] = (after[d] as f64 - before[d] as f64) / n as f64;
            }
            eprintln!(
                "rss {:>4}: -e {:.2} MB +{:.0} B/conn, -d {:.2} MB +{:.0} B/conn ({n} idle)",
                p.label, base[i][0], per[i][0], base[i][1], per[i][1]
            );
        }
        let r = &mut self.report;
        for (d, name) in ["-e", "-d"].iter().enumerate() {
            r.both(
                &format!("RSS per idle connection, spiped {name}, {n} conns (bytes)"),
                Cell::one(per[0][d]),
                Cell::one(per[1][d]),
                0,
                Some(Goal::AtMost(1.0)),
            );
        }
        for (d, name) in ["-e", "-d"].iter().enumerate() {
            r.both(
                &format!("RSS before, spiped {name} (MB)"),
                Cell::one(base[0][d]),
                Cell::one(base[1][d]),
                2,
                None,
            );
        }
        if !self.s.idle_cpu.is_zero() {
            let secs = self.s.idle_cpu.as_secs_f64();
            r.both(
                &format!("CPU while {n} connections idle, -e + -d (ms per 10 s)"),
                Cell::one(idle_cpu[0] * 1e4 / secs),
                Cell::one(idle_cpu[1] * 1e4 / secs),
                0,
                None,
            );
        }
        Ok(())
    }
}
