//! `kivaloo-bench`: upstream's benchmark tools, side by side with Redis.
//!
//! * `kivaloo-bench mkpairs N > pairs` writes upstream's data set;
//! * `kivaloo-bench run [options]` runs the workloads on fresh kivaloo
//!   stacks (kivaloo-lbs -b 2048 + kvlds with its defaults, both started
//!   as daemons like upstream's bench-local.sh) and fresh Redis servers
//!   (appendonly yes, appendfsync always), and prints one table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kivaloo_bench::bench::{Figures, System, find_redis, measure};
use kivaloo_bench::stack::{KivalooStack, RedisStack, Stack};
use kivaloo_bench::workloads::{DataSet, Timing, Workload};

#[derive(Parser)]
#[command(name = "kivaloo-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write upstream's data set of N pairs (80-byte records) to stdout.
    Mkpairs { n: u64 },
    /// Run the workloads against kivaloo and Redis, side by side.
    Run(RunArgs),
    /// kivaloo-lbs alone: APPEND rates and latencies, random GETs.
    Lbs {
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 2048)]
        block_size: u32,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3)]
        secs: u64,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Pairs in the data set (upstream's tables use 2^20 and 2^22).
    #[arg(long, default_value_t = 1 << 20)]
    pairs: u64,
    /// Seconds of warm-up before measuring (upstream: 50).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Seconds measured (upstream: 10 or 100).
    #[arg(long, default_value_t = 10)]
    measure: u64,
    /// Workloads to run (default: all six).
    #[arg(long, value_enum, value_delimiter = ',')]
    workloads: Vec<Workload>,
    /// Directory holding kivaloo-lbs and the kvlds binary (default: this
    /// program's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Name of the kvlds binary in --bin-dir.
    #[arg(long, default_value = "kivaloo-kvlds")]
    kvlds: String,
    /// lbs block size (upstream's benchmarks use 2048).
    #[arg(long, default_value_t = 2048)]
    block_size: u32,
    /// redis-server to compare with.
    #[arg(long)]
    redis_server: Option<PathBuf>,
    /// Scratch directory for the stores (default: a new one in /tmp).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Run only one system.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Kivaloo,
    Redis,
}

/// Upstream kivaloo on this machine kind, 2^20 pairs (kivaloo-baseline.md
/// §6, medians), for reference: not measured in this run.
fn upstream_2_20(w: Workload) -> f64 {
    match w {
        Workload::BulkInsert => 541e3,
        Workload::BulkUpdate => 499e3,
        Workload::BulkExtract => 170e3,
        Workload::RandomRead => 411e3,
        Workload::RandomMixed => 45e3,
        Workload::HotspotRead => 981e3,
    }
}

fn run(a: RunArgs) -> Result<()> {
    let bin_dir = default_bin_dir(a.bin_dir)?;
    let redis = find_redis(a.redis_server.as_deref())?;
    let tmp;
    let work = match a.work_dir {
        Some(d) => d,
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    let workloads = if a.workloads.is_empty() {
        Workload::ALL.to_vec()
    } else {
        a.workloads
    };
    let timing = Timing {
        warmup: Duration::from_secs(a.warmup),
        measure: Duration::from_secs(a.measure),
    };
    eprintln!("generating {} pairs", a.pairs);
    let data = DataSet::new(a.pairs);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows: Vec<(Workload, Option<Figures>, Option<Figures>)> = Vec::new();
    for w in workloads {
        let k = if a.only != Some(Only::Redis) {
            eprintln!("{}: kivaloo", w.name());
            let st = KivalooStack::start(&bin_dir, &a.kvlds, &work, a.block_size)?;
            Some(rt.block_on(measure(
                System::Kivaloo,
                &st as &dyn Stack,
                &data,
                w,
                timing,
            ))?)
        } else {
            None
        };
        let r = if a.only != Some(Only::Kivaloo) {
            eprintln!("{}: redis", w.name());
            let st = RedisStack::start(&redis, &work)?;
            Some(rt.block_on(measure(System::Redis, &st as &dyn Stack, &data, w, timing))?)
        } else {
            None
        };
        rows.push((w, k, r));
    }
    print_table(a.pairs, timing, &rows)?;
    Ok(())
}

fn default_bin_dir(d: Option<PathBuf>) -> Result<PathBuf> {
    match d {
        Some(d) => Ok(d),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("no directory for this program")?
            .to_path_buf()),
    }
}

fn lbs(bin_dir: Option<PathBuf>, b: u32, secs: u64) -> Result<()> {
    let tmp = TempDir::new()?;
    let f = kivaloo_bench::lbsbench::run(&default_bin_dir(bin_dir)?, &tmp.0, b, secs)?;
    println!("| blocks per APPEND ({b} B) | APPENDs/s | MB/s | median latency ms |");
    println!("|---|---|---|---|");
    for (n, rate, lat) in f.appends {
        let mbs = rate * f64::from(n) * f64::from(b) / 1e6;
        println!("| {n} | {rate:.0} | {mbs:.1} | {lat:.2} |");
    }
    println!(
        "random GETs, 4096 in flight: {:.0}/s, kivaloo-lbs CPU {:.2} µs per GET",
        f.gets_per_sec, f.cpu_us_per_get
    );
    Ok(())
}

fn print_table(
    n: u64,
    t: Timing,
    rows: &[(Workload, Option<Figures>, Option<Figures>)],
) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "# {n} pairs of 40-byte keys and values; warm-up {} s, measured {} s; 4096 requests in flight",
        t.warmup.as_secs(),
        t.measure.as_secs()
    )?;
    writeln!(
        o,
        "| workload | kivaloo pairs/s | redis pairs/s | kivaloo/redis | kivaloo/upstream(2^20, baseline doc) | kivaloo disk B/pair loaded → end | redis disk B/pair loaded → end | kivaloo peak RSS MiB | redis peak RSS MiB | kivaloo CPU µs/op | redis CPU µs/op |"
    )?;
    writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let rate = |f: &Option<Figures>| f.as_ref().map_or("-".into(), |f| format!("{:.0}", f.rate));
    let disk = |f: &Option<Figures>| {
        f.as_ref().map_or("-".into(), |f| {
            format!("{:.1} → {:.1}", f.disk_per_pair_loaded, f.disk_per_pair_end)
        })
    };
    let rss = |f: &Option<Figures>| {
        f.as_ref().map_or("-".into(), |f| {
            format!("{:.1}", f.peak_rss as f64 / 1048576.0)
        })
    };
    let cpu = |f: &Option<Figures>| {
        f.as_ref()
            .map_or("-".into(), |f| format!("{:.2}", f.cpu_us_per_op))
    };
    for (w, k, r) in rows {
        let ratio = match (k, r) {
            (Some(k), Some(r)) if r.rate > 0.0 => format!("{:.2}", k.rate / r.rate),
            _ => "-".into(),
        };
        let up = k
            .as_ref()
            .map_or("-".into(), |k| format!("{:.2}", k.rate / upstream_2_20(*w)));
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            w.name(),
            rate(k),
            rate(r),
            ratio,
            up,
            disk(k),
            disk(r),
            rss(k),
            rss(r),
            cpu(k),
            cpu(r)
        )?;
        for (name, f) in [("kivaloo", k), ("redis", r)] {
            if let Some(f) = f
                && f.misses > 0
            {
                writeln!(
                    o,
                    "# warning: {name} {}: {} GETs missed existing keys",
                    w.name(),
                    f.misses
                )?;
            }
        }
    }
    Ok(())
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!("kivaloo-bench-{}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Mkpairs { n } => {
            let data = kivaloo_bench::pairs::mkpairs(n);
            std::io::stdout()
                .lock()
                .write_all(&data)
                .map_err(Into::into)
        }
        Cmd::Run(a) => run(a),
        Cmd::Lbs {
            bin_dir,
            block_size,
            secs,
        } => lbs(bin_dir, block_size, secs),
    };
    if let Err(e) = r {
        eprintln!("kivaloo-bench: {e:#}");
        std::process::exit(1);
    }
}
