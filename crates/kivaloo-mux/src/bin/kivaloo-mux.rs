//! `kivaloo-mux`: upstream's options (`-t`, repeatable `-s`, `-n`, `-p`)
//! plus `-F` (stay in the foreground). Connects upstream and binds every
//! listening address before daemonizing.

use std::path::PathBuf;

use anyhow::{Context, bail};
use daemon::getopt::{self, OptSpec};
use daemon::log::{init_progname, warn};
use daemon::numparse::parse_unsigned;
use kivaloo_client::net::{AnyListener, AnyStream, resolve_first};
use kivaloo_mux::{MuxEnd, run};

const USAGE: &str = "usage: kivaloo-mux -t <target socket> -s <source socket> \
[-s <source socket> ...] [-n <max # connections>] [-p <pidfile>] [-F]\n       \
kivaloo-mux --version";

const SPECS: &[OptSpec] = &[
    OptSpec::arg("-t"),
    OptSpec::arg("-s"),
    OptSpec::arg("-n"),
    OptSpec::arg("-p"),
    OptSpec::flag("-F"),
    OptSpec::immediate("--version"),
];

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(1);
}

fn run_main() -> anyhow::Result<()> {
    let p = match getopt::parse_with_repeats(SPECS, std::env::args().skip(1), &["-s"]) {
        Ok(p) => p,
        Err(e) => {
            warn(&e.to_string());
            usage();
        }
    };
    if p.has("--version") {
        eprintln!("kivaloo-mux {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    let sources: Vec<&str> = p.values("-s").collect();
    let Some(target) = p.value("-t") else { usage() };
    if sources.is_empty() || !p.operands.is_empty() {
        usage();
    }
    let max_clients = match p.value("-n") {
        Some(v) => {
            let n = parse_unsigned(v)
                .map_err(|e| anyhow::anyhow!("Error parsing argument: -n {v}: {e}"))?;
            if n > 65535 {
                bail!("Invalid -n value: {v} (must be 0..=65535)");
            }
            n as usize
        }
        None => 0,
    };
    let pidfile = PathBuf::from(
        p.value("-p")
            .map_or_else(|| format!("{}.pid", sources[0]), str::to_string),
    );
    let target_addr = resolve_first(target, warn)?;
    let upstream = daemon::listen::connect(&target_addr)
        .with_context(|| format!("Error connecting to {target}"))?;
    let mut listeners = Vec::new();
    for s in &sources {
        let a = resolve_first(s, warn)?;
        listeners.push(daemon::listen::bind(&a).with_context(|| format!("Error binding {s}"))?);
    }
    if p.has("-F") {
        daemon::daemonize::write_pidfile(&pidfile)
            .with_context(|| format!("writing {}", pidfile.display()))?;
    } else {
        daemon::daemonize::daemonize(&pidfile);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let upstream = AnyStream::from_std(upstream)?;
        let listeners = listeners
            .into_iter()
            .map(AnyListener::from_std)
            .collect::<Result<Vec<_>, _>>()?;
        match run(upstream, listeners, max_clients).await {
            MuxEnd::UpstreamLost(why) => bail!("{why}"),
        }
    })
}

fn main() {
    init_progname(
        &std::env::args()
            .next()
            .unwrap_or_else(|| "kivaloo-mux".into()),
    );
    if let Err(e) = run_main() {
        warn(&format!("{e:#}"));
        std::process::exit(1);
    }
}
