//! `spiped-bench [--quick] [--only PHASE,...]`: see docs/performance.md.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use spiped_bench::machine;
use spiped_bench::pair::{self, Impl};
use spiped_bench::procs;
use spiped_bench::run::{Bench, Phase, Settings};

#[derive(Parser, Debug)]
#[command(about = "Our spiped pair against Debian's C spiped, interleaved in one run")]
struct Opts {
    /// A smoke run of under a minute (small counts, one round).
    #[arg(long)]
    quick: bool,
    /// Run only these phases.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Phase>,
    /// Directory holding our spiped (default: next to this binary, rebuilt
    /// first with cargo when started by `cargo run`).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Do not run `cargo build -p spiped` first.
    #[arg(long)]
    no_build: bool,
    /// The reference spiped.
    #[arg(long, default_value = pair::C_SPIPED)]
    reference: PathBuf,
    /// Rounds of each throughput and rate measurement (overrides the mode's).
    #[arg(long)]
    rounds: Option<usize>,
    /// MiB per one-connection bulk run (overrides the mode's).
    #[arg(long)]
    bulk_mib: Option<u64>,
    /// Connections per round of the connection-rate runs (overrides the mode's).
    #[arg(long)]
    rate_conns: Option<usize>,
    /// Seconds to wait for a quiet machine before each measurement.
    #[arg(long)]
    max_idle_wait: Option<u64>,
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    let scratch = std::env::temp_dir().join(format!("spiped-bench-{}", std::process::id()));
    procs::install_cleanup_handlers(scratch.clone());
    let nofile = procs::raise_nofile_limit();

    let bin_dir = match &opts.bin_dir {
        Some(d) => d.clone(),
        None => {
            let d = pair::default_bin_dir()?;
            if let (false, Some(cargo)) = (opts.no_build, std::env::var_os("CARGO")) {
                eprintln!("building our spiped (cargo build -p spiped) ...");
                pair::cargo_build_ours(&PathBuf::from(cargo), &d)?;
            }
            d
        }
    };
    let ours = Impl::ours(&bin_dir)?;
    let c = Impl::reference(&opts.reference)?;

    let mut s = if opts.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    if let Some(r) = opts.rounds {
        (s.bulk_rounds, s.par_rounds, s.rate_rounds) = (r, r, r);
    }
    if let Some(m) = opts.bulk_mib {
        s.bulk_bytes = m << 20;
    }
    if let Some(n) = opts.rate_conns {
        s.rate_conns = n;
    }
    if let Some(w) = opts.max_idle_wait {
        s.max_idle_wait = Duration::from_secs(w);
    }
    let phases = if opts.only.is_empty() {
        vec![
            Phase::Crypto,
            Phase::Bulk,
            Phase::Parallel,
            Phase::Ttfb,
            Phase::Rate,
            Phase::Rss,
        ]
    } else {
        opts.only.clone()
    };

    let scratch = ScratchDir::create(scratch)?;
    let key = scratch.0.join("key");
    let mut k = [0u8; 32];
    getrandom(&mut k)?;
    std::fs::write(&key, k)?;

    let started = shell(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]);
    eprintln!(
        "ours: {}  reference: {}  fd limit {nofile}",
        ours.spiped.display(),
        c.spiped.display()
    );
    let mut bench = Bench::new(ours.clone(), c, key, scratch.0.clone(), s);
    bench.run(&phases)?;
    drop(scratch);

    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("machine: {}; {started}", machine::cpu_model());
    println!("command: spiped-bench {}", args.join(" "));
    println!(
        "ours: {} (commit {}); reference: {}",
        ours.spiped.display(),
        shell(&[
            "git",
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD"
        ]),
        opts.reference.display()
    );
    println!();
    print!("{}", bench.report.markdown());
    Ok(())
}

/// The key file and the daemons' logs; removed on the way out, panics included.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(dir: PathBuf) -> Result<ScratchDir> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One line of a command's output, or "?".
fn shell(argv: &[&str]) -> String {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading /dev/urandom")
}
