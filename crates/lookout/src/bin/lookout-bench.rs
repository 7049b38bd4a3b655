//! `lookout-bench`: the monitor's own footprint with many checks.
//!
//! Starts loopback targets (a TCP listener and an HTTP server, both in this
//! process), writes a config with N checks (60% tcp, 30% http, 10% ping of
//! 127.0.0.1) at one interval, runs the real `lookout` binary on it, and
//! after a warm-up measures that process alone: CPU time from
//! /proc/PID/stat over the window, RSS from /proc/PID/status. It prints the
//! figures beside the goals (50 MB RSS, 5% of a core) as ratios.
//!
//! usage: lookout-bench [-n checks] [-i interval-seconds] [-w warmup-seconds] [-d seconds]

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use daemon::getopt::{self, OptSpec};

const GOAL_RSS_MB: f64 = 50.0;
const GOAL_CPU_PCT: f64 = 5.0;

fn proc_cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = s.rsplit(')').next().context("bad stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is [0]; utime [11], stime [12].
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn proc_status_kb(pid: u32, key: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(key) {
            return Ok(v.trim().trim_end_matches("kB").trim().parse()?);
        }
    }
    bail!("{key} not in /proc/{pid}/status")
}

fn ticks_per_second() -> f64 {
    // SAFETY: plain sysconf call.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

async fn targets() -> anyhow::Result<(std::net::SocketAddr, std::net::SocketAddr)> {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tcp_addr = tcp.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = tcp.accept().await {
            drop(s);
        }
    });
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http.local_addr()?;
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok\n" }));
    tokio::spawn(async move {
        let _ = axum::serve(http, app).await;
    });
    Ok((tcp_addr, http_addr))
}

fn config(
    n: usize,
    interval: u64,
    dir: &std::path::Path,
    listen: u16,
    tcp: std::net::SocketAddr,
    http: std::net::SocketAddr,
) -> String {
    let mut c = format!(
        "[monitor]\nname = \"bench\"\nlisten = \"127.0.0.1:{listen}\"\nstate_dir = \"{}\"\nconcurrency = 64\njitter = \"{interval}s\"\n\n",
        dir.display()
    );
    for i in 0..n {
        let body = match i % 10 {
            0 => "type = \"ping\"\nhost = \"127.0.0.1\"".to_string(),
            1..=3 => {
                format!("type = \"http\"\nurl = \"http://{http}/health\"\nbody_contains = \"ok\"")
            }
            _ => format!("type = \"tcp\"\naddress = \"{tcp}\""),
        };
        c += &format!("[[check]]\nname = \"c{i:04}\"\n{body}\ninterval = \"{interval}s\"\n\n");
    }
    c
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let specs = [
        OptSpec::arg("-n"),
        OptSpec::arg("-i"),
        OptSpec::arg("-w"),
        OptSpec::arg("-d"),
    ];
    let p = getopt::parse(&specs, args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let num = |k: &str, d: u64| -> anyhow::Result<u64> {
        p.value(k).map_or(Ok(d), |v| {
            daemon::numparse::parse_unsigned(v).map_err(|e| anyhow::anyhow!("{k}: {e}"))
        })
    };
    let (n, interval, warmup, window) = (
        num("-n", 1000)? as usize,
        num("-i", 10)?,
        num("-w", 30)?,
        num("-d", 60)?,
    );

    let bin = std::env::current_exe()?.with_file_name("lookout");
    let dir = std::env::temp_dir().join(format!("lookout-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (tcp, http) = targets().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cfg_path = dir.join("bench.toml");
    std::fs::write(&cfg_path, config(n, interval, &dir, port, tcp, http))?;
    let mut child = tokio::process::Command::new(&bin)
        .args(["run", "-F", "-f"])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id().context("no pid")?;
    println!(
        "lookout-bench: {n} checks every {interval}s (60% tcp, 30% http, 10% ping), pid {pid}"
    );
    println!("warming up {warmup}s, then measuring {window}s");
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let t0 = Instant::now();
    let c0 = proc_cpu_ticks(pid)?;
    let mut peak_rss = 0;
    while t0.elapsed() < Duration::from_secs(window) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(proc_status_kb(pid, "VmRSS:")?);
    }
    let c1 = proc_cpu_ticks(pid)?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_pct = (c1 - c0) as f64 / ticks_per_second() / secs * 100.0;
    let rss_mb = peak_rss as f64 / 1024.0;
    let hwm_mb = proc_status_kb(pid, "VmHWM:")? as f64 / 1024.0;

    // Sanity: the checks really ran and are GOOD.
    let v: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/api/status"))
        .await?
        .json()
        .await?;
    let checks = v["checks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let good = checks.iter().filter(|c| c["state"] == "GOOD").count();
    let results: u64 = {
        let db = rusqlite::Connection::open(dir.join("lookout.db"))?;
        db.query_row("SELECT COUNT(*) FROM results", [], |r| r.get::<_, i64>(0))? as u64
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!("checks GOOD at the end:     {good} of {}", checks.len());
    println!(
        "results recorded:           {results} ({:.1}/s expected)",
        n as f64 / interval as f64
    );
    println!(
        "{:<27} {:>10} {:>10} {:>8}",
        "", "measured", "goal", "ratio"
    );
    println!(
        "{:<27} {:>7.1} MB {:>7.1} MB {:>8.2}",
        "RSS (peak in window)",
        rss_mb,
        GOAL_RSS_MB,
        rss_mb / GOAL_RSS_MB
    );
    println!(
        "{:<27} {:>7.1} MB {:>7.1} MB {:>8.2}",
        "RSS (high-water mark)",
        hwm_mb,
        GOAL_RSS_MB,
        hwm_mb / GOAL_RSS_MB
    );
    println!(
        "{:<27} {:>8.2} % {:>8.1} % {:>8.2}",
        "CPU (% of one core)",
        cpu_pct,
        GOAL_CPU_PCT,
        cpu_pct / GOAL_CPU_PCT
    );
    if good != n {
        bail!("only {good} of {n} checks GOOD: the figures are not representative");
    }
    Ok(())
}
