//! Starting and stopping the systems under test, fresh for every
//! workload, and reading their memory and disk use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Peak resident memory (VmHWM) of a process, in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that ends the command name: state is field 3,
    // utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// Bytes allocated on disk under `dir` (what `du` counts).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            total += disk_usage(&e.path());
        } else {
            total += md.blocks() * 512;
        }
    }
    total
}

/// Whether `pid` is gone (or a zombie awaiting a slow reaper).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z')),
    }
}

fn kill_and_wait(pid: u32) {
    // SAFETY: kill(2) on a pid we started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_socket(p: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(p).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on {}", p.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn read_pid(p: &Path) -> Result<u32> {
    let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(s.trim().parse()?)
}

/// A system under test: where to connect, what to measure.
pub trait Stack {
    fn socket(&self) -> &Path;
    /// Processes whose memory counts.
    fn pids(&self) -> Vec<u32>;
    /// Where its data lives on disk.
    fn data_dir(&self) -> &Path;
    fn peak_rss(&self) -> u64 {
        self.pids().into_iter().filter_map(peak_rss).sum()
    }
    /// CPU seconds used so far by the system's processes.
    fn cpu_seconds(&self) -> f64 {
        self.pids().into_iter().filter_map(cpu_seconds).sum()
    }
}

/// kivaloo-lbs + kvlds, started the way upstream's bench-local.sh does
/// (each daemonizes; "returned" means "listening"), with a block size of
/// `block_size`.
pub struct KivalooStack {
    dir: PathBuf,
    store: PathBuf,
    sock: PathBuf,
    pids: Vec<u32>,
}

impl KivalooStack {
    pub fn start(bin_dir: &Path, kvlds_bin: &str, work: &Path, block_size: u32) -> Result<Self> {
        let dir = work.join("kivaloo");
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("store");
        std::fs::create_dir_all(&store)?;
        let lbs_sock = dir.join("lbs.sock");
        let sock = dir.join("kvlds.sock");
        let st = Command::new(bin_dir.join("kivaloo-lbs"))
            .arg("-s")
            .arg(&lbs_sock)
            .arg("-d")
            .arg(&store)
            .args(["-b", &block_size.to_string(), "-p"])
            .arg(dir.join("lbs.pid"))
            .stdout(Stdio::null())
            .status()
            .context("starting kivaloo-lbs")?;
        if !st.success() {
            bail!("kivaloo-lbs failed to start");
        }
        let lbs_pid = read_pid(&dir.join("lbs.pid"))?;
        let st = Command::new(bin_dir.join(kvlds_bin))
            .arg("-s")
            .arg(&sock)
            .arg("-l")
            .arg(&lbs_sock)
            .arg("-p")
            .arg(dir.join("kvlds.pid"))
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("starting {kvlds_bin}"))?;
        if !st.success() {
            kill_and_wait(lbs_pid);
            bail!("{kvlds_bin} failed to start");
        }
        let kvlds_pid = read_pid(&dir.join("kvlds.pid"))?;
        wait_for_socket(&sock)?;
        Ok(KivalooStack {
            dir,
            store,
            sock,
            pids: vec![kvlds_pid, lbs_pid],
        })
    }
}

impl Stack for KivalooStack {
    fn socket(&self) -> &Path {
        &self.sock
    }
    fn pids(&self) -> Vec<u32> {
        self.pids.clone()
    }
    fn data_dir(&self) -> &Path {
        &self.store
    }
}

impl Drop for KivalooStack {
    fn drop(&mut self) {
        for &p in &self.pids {
            kill_and_wait(p);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// redis-server with the durability of `appendfsync always`, on a Unix
/// socket, no RDB snapshots.
pub struct RedisStack {
    dir: PathBuf,
    sock: PathBuf,
    child: Child,
}

impl RedisStack {
    pub fn start(redis_bin: &Path, work: &Path) -> Result<Self> {
        let dir = work.join("redis");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let sock = dir.join("redis.sock");
        let child = Command::new(redis_bin)
            .args(["--port", "0", "--unixsocket"])
            .arg(&sock)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(&dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                "",
                "--loglevel",
                "warning",
            ])
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", redis_bin.display()))?;
        let mut s = RedisStack { dir, sock, child };
        if let Err(e) = wait_for_socket(&s.sock) {
            let _ = s.child.kill();
            return Err(e);
        }
        Ok(s)
    }
}

impl Stack for RedisStack {
    fn socket(&self) -> &Path {
        &self.sock
    }
    fn pids(&self) -> Vec<u32> {
        vec![self.child.id()]
    }
    fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RedisStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
