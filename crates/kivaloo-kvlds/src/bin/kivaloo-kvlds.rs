//! `kivaloo-kvlds`: the key-value daemon, with upstream's options.
//!
//! Like upstream it connects to lbs, finds (or creates) its tree and
//! binds its socket *before* daemonizing, so a failure reaches the
//! caller's terminal and "the command returned" means "the socket
//! listens". `-F` (ours, as for kivaloo-lbs) stays in the foreground.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use daemon::getopt::{self, OptSpec};
use daemon::log::{init_progname, warn};
use daemon::numparse::{parse_double, parse_unsigned};
use kivaloo_client::net::{AnyListener, AnyStream, resolve_first};
use kivaloo_kvlds::lbs_sync::SyncLbs;
use kivaloo_kvlds::server::{self, Core, Options};
use kivaloo_kvlds::{BlockStore, Config, Tree};

const USAGE: &str = "usage: kivaloo-kvlds -s <kvlds socket> -l <lbs socket> \
[-C <npages> | -c <cache size>] [-k <max key length>] [-v <max value length>] \
[-p <pidfile>] [-S <storage:I/O cost ratio>] [-w <commit delay>] [-g <commit count>] [-1] [-F]\n       \
kivaloo-kvlds --version";

const SPECS: &[OptSpec] = &[
    OptSpec::arg("-s"),
    OptSpec::arg("-l"),
    OptSpec::arg("-C"),
    OptSpec::arg("-c"),
    OptSpec::arg("-k"),
    OptSpec::arg("-v"),
    OptSpec::arg("-p"),
    OptSpec::arg("-S"),
    OptSpec::arg("-w"),
    OptSpec::arg("-g"),
    OptSpec::flag("-1"),
    OptSpec::flag("-F"),
    OptSpec::immediate("--version"),
];

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(1);
}

/// upstream's `humansize`: digits, an optional space, an optional decimal
/// multiplier (k, M, G, T, P, E) and an optional `B`.
fn humansize(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let mut rest = &s[digits..];
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (mult, rest) = match rest.chars().next() {
        Some(c @ ('k' | 'M' | 'G' | 'T' | 'P' | 'E')) => {
            let e = "kMGTPE".find(c).expect("listed") as u32 + 1;
            (10u64.pow(3 * e), &rest[1..])
        }
        _ => (1, rest),
    };
    if !(rest.is_empty() || rest == "B") {
        return None;
    }
    n.checked_mul(mult)
}

fn size_arg(opt: &str, v: &str) -> anyhow::Result<u64> {
    humansize(v).ok_or_else(|| anyhow::anyhow!("Cannot parse {opt} option: {v}"))
}

struct Cli {
    addr: String,
    lbs: String,
    pages: Option<u64>,
    cache_bytes: Option<u64>,
    kmax: Option<u64>,
    vmax: Option<u64>,
    pidfile: PathBuf,
    cost_ratio: f64,
    delay: Duration,
    count: Option<usize>,
    once: bool,
    foreground: bool,
}

fn parse_cli() -> anyhow::Result<Cli> {
    let p = match getopt::parse(SPECS, std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            warn(&e.to_string());
            usage();
        }
    };
    if p.has("--version") {
        eprintln!("kivaloo-kvlds {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if !p.operands.is_empty() || (p.has("-C") && p.has("-c")) {
        usage();
    }
    let (Some(addr), Some(lbs)) = (p.value("-s"), p.value("-l")) else {
        usage();
    };
    let opt_size = |o: &str| p.value(o).map(|v| size_arg(o, v)).transpose();
    let cost_ratio = match p.value("-S") {
        Some(v) => parse_double(v, 0.0, f64::INFINITY)
            .map_err(|e| anyhow::anyhow!("Error parsing argument: -S {v}: {e}"))?,
        None => 1.0,
    };
    let delay = match p.value("-w") {
        Some(v) => Duration::from_secs_f64(
            parse_double(v, 0.0, 1.0)
                .map_err(|e| anyhow::anyhow!("Error parsing argument: -w {v}: {e}"))?,
        ),
        None => Duration::ZERO,
    };
    let count = match p.value("-g") {
        Some(v) => {
            let n = parse_unsigned(v)
                .map_err(|e| anyhow::anyhow!("Error parsing argument: -g {v}: {e}"))?;
            if !(1..=1024).contains(&n) {
                bail!("Invalid -g value: {v} (must be 1..=1024)");
            }
            Some(n as usize)
        }
        None => None,
    };
    Ok(Cli {
        addr: addr.to_string(),
        lbs: lbs.to_string(),
        pages: opt_size("-C")?,
        cache_bytes: opt_size("-c")?,
        kmax: opt_size("-k")?,
        vmax: opt_size("-v")?,
        pidfile: PathBuf::from(
            p.value("-p")
                .map_or_else(|| format!("{addr}.pid"), str::to_string),
        ),
        cost_ratio,
        delay,
        count,
        once: p.has("-1"),
        foreground: p.has("-F"),
    })
}

fn run() -> anyhow::Result<()> {
    let cli = parse_cli()?;
    let lbs_addr = resolve_first(&cli.lbs, warn)?;
    let addr = resolve_first(&cli.addr, warn)?;
    let sock =
        daemon::listen::connect(&lbs_addr).with_context(|| format!("connect({lbs_addr})"))?;
    let mut lbs = SyncLbs::new(sock);
    let params = lbs.params().context("asking lbs for its parameters")?;
    let block = params.block_size;
    let mut cfg = Config::for_block_size(block);
    if let Some(k) = cli.kmax {
        cfg.kmax = usize::try_from(k).unwrap_or(usize::MAX);
    }
    if let Some(v) = cli.vmax {
        cfg.vmax = usize::try_from(v).unwrap_or(usize::MAX);
    }
    let pages = match (cli.pages, cli.cache_bytes) {
        (Some(n), _) => n,
        (None, Some(b)) => b / block as u64,
        (None, None) => (128u64 << 20) / block as u64,
    };
    if !(1024..=1 << 30).contains(&pages) {
        bail!("Cache size must be between 1024 and 2^30 pages");
    }
    cfg.cache_bytes = usize::try_from(pages * block as u64).unwrap_or(usize::MAX);
    // -S 0 turns cleaning off, as upstream; any other ratio keeps our
    // space-bounded cleaner (docs/kvlds.md).
    cfg.cleaning = cli.cost_ratio > 0.0;
    cfg.validate(block).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tree = Tree::open(&mut lbs, cfg.clone()).context("opening the tree in lbs")?;
    let listener = daemon::listen::bind(&addr).with_context(|| format!("bind({addr})"))?;
    if cli.foreground {
        daemon::daemonize::write_pidfile(&cli.pidfile)
            .with_context(|| format!("writing {}", cli.pidfile.display()))?;
    } else {
        daemon::daemonize::daemonize(&cli.pidfile);
    }
    let (sock, next_id) = lbs.into_parts();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let lbs = AnyStream::from_std(sock)?;
        let listener = AnyListener::from_std(listener)?;
        let core = Core::new(
            tree,
            Options {
                kmax: cfg.kmax,
                vmax: cfg.vmax,
                commit_delay: cli.delay,
                commit_count: cli.count,
            },
            next_id,
        );
        server::run(core, lbs, listener, cli.once).await
    })
}

fn main() {
    init_progname(
        &std::env::args()
            .next()
            .unwrap_or_else(|| "kivaloo-kvlds".into()),
    );
    if let Err(e) = run() {
        warn(&format!("{e:#}"));
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::humansize;

    #[test]
    fn humansize_is_decimal() {
        assert_eq!(humansize("128M"), Some(128_000_000));
        assert_eq!(humansize("1 kB"), Some(1000));
        assert_eq!(humansize("4096"), Some(4096));
        assert_eq!(humansize("2G"), Some(2_000_000_000));
        assert_eq!(humansize("M"), None);
        assert_eq!(humansize("1x"), None);
        assert_eq!(humansize("1MBB"), None);
    }
}
