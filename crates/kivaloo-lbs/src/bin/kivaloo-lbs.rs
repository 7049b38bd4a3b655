//! `kivaloo-lbs`: the block store daemon, with upstream's options.
//!
//! Everything that can fail at start-up (options, address, directory,
//! recovery, bind) happens before daemonizing, so a failure reaches the
//! caller's terminal and "the command returned" means "the socket listens".

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use daemon::getopt::{self, OptSpec};
use daemon::log::{init_progname, warn};
use daemon::numparse::parse_unsigned;
use kivaloo_client::net::{AnyListener, resolve_first};
use kivaloo_lbs::server::{ConnectionEnd, LbsServer, ServerConfig};
use kivaloo_lbs::{FsStorage, Storage, Store};
use kivaloo_wire::lbs::{MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};

const USAGE: &str = "usage: kivaloo-lbs -s <lbs socket> -d <storage dir> -b <block size> \
[-n <# of read threads>] [-p <pidfile>] [-1] [-L] [-l <latency>] [-F]\n       \
kivaloo-lbs --version";

const SPECS: &[OptSpec] = &[
    OptSpec::arg("-s"),
    OptSpec::arg("-d"),
    OptSpec::arg("-b"),
    OptSpec::arg("-n"),
    OptSpec::arg("-p"),
    OptSpec::arg("-l"),
    OptSpec::flag("-1"),
    OptSpec::flag("-L"),
    OptSpec::flag("-F"),
    OptSpec::immediate("--version"),
];

struct Options {
    addr: String,
    dir: PathBuf,
    block_size: u32,
    readers: usize,
    pidfile: PathBuf,
    once: bool,
    no_sync: bool,
    latency: Duration,
    foreground: bool,
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(1);
}

fn number(opt: &str, v: &str, min: u64, max: u64) -> anyhow::Result<u64> {
    let n =
        parse_unsigned(v).map_err(|e| anyhow::anyhow!("Error parsing argument: {opt} {v}: {e}"))?;
    if !(min..=max).contains(&n) {
        bail!("Invalid {opt} value: {v} (must be {min}..={max})");
    }
    Ok(n)
}

fn parse_options() -> anyhow::Result<Options> {
    let p = match getopt::parse(SPECS, std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            warn(&e.to_string());
            usage();
        }
    };
    if p.has("--version") {
        eprintln!("kivaloo-lbs {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if !p.operands.is_empty() {
        usage();
    }
    let (Some(addr), Some(dir), Some(b)) = (p.value("-s"), p.value("-d"), p.value("-b")) else {
        usage();
    };
    let block_size = number("-b", b, MIN_BLOCK_SIZE.into(), MAX_BLOCK_SIZE.into())? as u32;
    let readers = match p.value("-n") {
        Some(v) => number("-n", v, 1, 1000)? as usize,
        None => 16,
    };
    let latency = match p.value("-l") {
        Some(v) => Duration::from_nanos(number("-l", v, 0, 999_999_999)?),
        None => Duration::ZERO,
    };
    Ok(Options {
        addr: addr.to_string(),
        dir: PathBuf::from(dir),
        block_size,
        readers,
        pidfile: PathBuf::from(
            p.value("-p")
                .map_or_else(|| format!("{addr}.pid"), str::to_string),
        ),
        once: p.has("-1"),
        no_sync: p.has("-L"),
        latency,
        foreground: p.has("-F"),
    })
}

fn run() -> anyhow::Result<()> {
    let o = parse_options()?;
    let addr = resolve_first(&o.addr, warn)?;
    let mut fs = FsStorage::new(&o.dir).with_context(|| format!("{}", o.dir.display()))?;
    if o.no_sync {
        fs = fs.without_sync();
    }
    let store = Store::open(Arc::new(fs) as Arc<dyn Storage>, o.block_size)
        .with_context(|| format!("opening the store in {}", o.dir.display()))?;
    let listener = daemon::listen::bind(&addr).with_context(|| format!("bind({addr})"))?;
    if o.foreground {
        daemon::daemonize::write_pidfile(&o.pidfile)
            .with_context(|| format!("writing {}", o.pidfile.display()))?;
    } else {
        daemon::daemonize::daemonize(&o.pidfile);
    }
    // Threads (runtime, readers) only after the fork.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = LbsServer::new(
            Arc::new(store),
            &ServerConfig {
                readers: o.readers,
                read_latency: o.latency,
            },
        )?;
        let listener = AnyListener::from_std(listener)?;
        loop {
            let conn = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn(&format!("accept: {e}"));
                    continue;
                }
            };
            match server.serve(conn).await? {
                ConnectionEnd::Closed => {}
                ConnectionEnd::ProtocolError(e) => warn(&format!("dropping connection: {e}")),
                ConnectionEnd::Io(e) => warn(&format!("connection error: {e}")),
            }
            if o.once {
                return Ok(());
            }
        }
    })
}

fn main() {
    init_progname(
        &std::env::args()
            .next()
            .unwrap_or_else(|| "kivaloo-lbs".into()),
    );
    if let Err(e) = run() {
        warn(&format!("{e:#}"));
        std::process::exit(1);
    }
}
