//! `lookout`: the monitor daemon and its terminal commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use daemon::getopt::{self, OptSpec};
use daemon::log::warn;
use lookout::app;
use lookout::clock::SystemClock;
use lookout::engine::Loaded;
use lookout::secrets::Secrets;

const USAGE: &str = "usage: lookout run [-f config] [-F] [-p pidfile]
       lookout check-config [-f config]
       lookout status [-f config] [--json]
       lookout ack [-f config] incident
       lookout check [-f config] check-name
       lookout -v";

const DEFAULT_CONFIG: &str = "/etc/lookout/lookout.toml";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    daemon::log::init_progname(args.first().map_or("lookout", String::as_str));
    let Some(cmd) = args.get(1) else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    if cmd == "-v" || cmd == "--version" {
        println!("lookout {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let specs: &[OptSpec] = match cmd.as_str() {
        "run" => &[OptSpec::arg("-f"), OptSpec::flag("-F"), OptSpec::arg("-p")],
        "status" => &[OptSpec::arg("-f"), OptSpec::flag("--json")],
        "check-config" | "ack" | "check" => &[OptSpec::arg("-f")],
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    let parsed = match getopt::parse(specs, args[2..].iter().cloned()) {
        Ok(p) => p,
        Err(e) => {
            warn(&e.to_string());
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    let config = PathBuf::from(parsed.value("-f").unwrap_or(DEFAULT_CONFIG));
    let result = match cmd.as_str() {
        "check-config" if parsed.operands.is_empty() => check_config(&config),
        "status" if parsed.operands.is_empty() => client(&config, |cfg| async move {
            lookout::cli::status(&cfg, parsed.has("--json")).await
        }),
        "ack" if parsed.operands.len() == 1 => match parsed.operands[0].parse::<u64>() {
            Ok(id) => client(&config, move |cfg| async move {
                lookout::cli::ack(&cfg, id).await
            }),
            Err(_) => Err(anyhow::anyhow!(
                "incident must be a number: {}",
                parsed.operands[0]
            )),
        },
        "run" if parsed.operands.is_empty() => run(&config, parsed.has("-F"), parsed.value("-p")),
        "check" if parsed.operands.len() == 1 => return check_once(&config, &parsed.operands[0]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    let cfg = app::load_config(path)?;
    Secrets::resolve(&cfg)?;
    app::listen_addr(&cfg)?;
    // Building the checkers reads CA files and compiles regexes.
    lookout::checks::Checker::new(&cfg)?;
    println!(
        "{}: OK ({} checks, {} channels, {} policies)",
        path.display(),
        cfg.checks.len(),
        cfg.channels.len(),
        cfg.policies.len()
    );
    Ok(())
}

/// Run one check now and print its result. Exit status: 0 GOOD,
/// 2 FAILED, 3 TIMED OUT (1 is kept for usage and config errors).
fn check_once(path: &std::path::Path, name: &str) -> ExitCode {
    let run = || -> anyhow::Result<lookout_core::CheckResult> {
        let cfg = app::load_config(path)?;
        let id = cfg
            .check_by_name(name)
            .with_context(|| format!("no check named `{name}`"))?;
        if matches!(
            cfg.checks[id].kind,
            lookout_core::config::CheckKind::Heartbeat { .. }
        ) {
            anyhow::bail!(
                "`{name}` is a heartbeat check: it waits for pings, there is nothing to run"
            );
        }
        let checker = lookout::checks::Checker::new(&cfg)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let now = lookout::clock::Clock::now(&SystemClock);
        Ok(rt.block_on(checker.run(&cfg.checks[id], now)))
    };
    match run() {
        Ok(r) => {
            println!(
                "{name}: {} in {}ms: {}",
                r.outcome, r.duration_ms, r.message
            );
            ExitCode::from(match r.outcome {
                lookout_core::Outcome::Good => 0,
                lookout_core::Outcome::Failed => 2,
                lookout_core::Outcome::TimedOut => 3,
            })
        }
        Err(e) => {
            warn(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

fn client<F, Fut>(path: &std::path::Path, f: F) -> anyhow::Result<()>
where
    F: FnOnce(lookout_core::config::Config) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    let cfg = app::load_config(path)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(f(cfg))?;
    print!("{out}");
    Ok(())
}

fn run(path: &std::path::Path, foreground: bool, pidfile: Option<&str>) -> anyhow::Result<()> {
    // Everything that can fail on a bad config fails here, before
    // daemonizing, so the operator sees the error.
    let cfg = app::load_config(path)?;
    let listener = match app::listen_addr(&cfg)? {
        Some(a) => Some(std::net::TcpListener::bind(a).with_context(|| format!("binding {a}"))?),
        None => None,
    };
    std::fs::create_dir_all(&cfg.monitor.state_dir)
        .with_context(|| format!("creating {}", cfg.monitor.state_dir))?;
    Secrets::resolve(&cfg)?;
    if !foreground {
        daemon::daemonize::daemonize(std::path::Path::new(
            pidfile.unwrap_or("/var/run/lookout.pid"),
        ));
    } else if let Some(p) = pidfile {
        daemon::daemonize::write_pidfile(std::path::Path::new(p))?;
    }
    // One thread runs the engine, the checks and the HTTP server: the work
    // is waiting on sockets, and one thread avoids cross-thread wake-ups
    // (measured: see docs/performance.md). SQLite has its own thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    rt.block_on(serve(path.to_path_buf(), cfg, listener))
}

async fn serve(
    path: PathBuf,
    cfg: lookout_core::config::Config,
    listener: Option<std::net::TcpListener>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let loaded = Loaded::new(cfg)?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ std::process::id() as u64;
    let running = app::start(loaded, Arc::new(SystemClock), listener, seed).await?;
    if let Some(a) = running.addr {
        warn(&format!("status page on http://{a}/"));
    }
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                match app::load_config(&path).and_then(Loaded::new) {
                    Ok(l) => {
                        let n = l.cfg.checks.len();
                        running.engine.reload(l).await;
                        warn(&format!("configuration reloaded ({n} checks)"));
                    }
                    Err(e) => warn(&format!("reload failed, keeping the running configuration: {e:#}")),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    running.stop().await;
    Ok(())
}
