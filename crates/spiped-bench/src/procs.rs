//! The daemons the bench starts, and what /proc says about them.
//!
//! Every child is spawned with a parent-death signal and listed in a
//! registry, so a panic (Drop), a Ctrl-C or SIGTERM (signal handler) and
//! even a SIGKILL of the bench (PR_SET_PDEATHSIG) leave no daemon behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const MAX_CHILDREN: usize = 64;
static CHILDREN: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];

fn kill_children() {
    for c in CHILDREN.iter() {
        let pid = c.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: plain kill(2) of a child we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP: kill every registered daemon, remove
/// `scratch`, exit. Call first thing in main, before any thread starts: the
/// signals are blocked in every thread and taken by one waiting thread
/// (children get an empty signal mask from `Command` again).
pub fn install_cleanup_handlers(scratch: PathBuf) {
    // SAFETY: sigset operations on a local set; pthread_sigmask on this thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut sig: libc::c_int = 0;
        // SAFETY: waits for one of the blocked signals in `set`.
        unsafe { libc::sigwait(&set, &mut sig) };
        kill_children();
        let _ = std::fs::remove_dir_all(&scratch);
        std::process::exit(128 + sig);
    });
}

/// Raise this process's open-file limit to its hard limit (daemons inherit it).
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur
    }
}

fn register(pid: i32) -> Option<usize> {
    CHILDREN.iter().position(|c| {
        c.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// A running daemon, killed (SIGKILL) and reaped when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    slot: Option<usize>,
    log: PathBuf,
}

impl Daemon {
    /// Start `program args`, stdout/stderr to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> Result<Daemon> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {}", program.display()))?;
        let slot = register(child.id() as i32);
        Ok(Daemon {
            name: name.to_string(),
            child,
            slot,
            log: log.to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Fail (with the end of its log) if the daemon has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(st) = self.child.try_wait()? {
            bail!(
                "{} exited ({st}); its output:\n{}",
                self.name,
                log_tail(&self.log)
            );
        }
        Ok(())
    }

    /// Wait until the daemon listens on `addr` (seen in /proc/net/tcp, so
    /// no probe connection disturbs it).
    pub fn wait_listening(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        let t0 = Instant::now();
        loop {
            self.check_alive()?;
            if is_listening(addr.port())? {
                return Ok(());
            }
            if t0.elapsed() > timeout {
                bail!("{} does not listen on {addr} after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// User + system CPU time of all its threads so far.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_time(self.pid())
    }

    /// Resident set size in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss_bytes(self.pid())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(s) = self.slot {
            CHILDREN[s].store(0, Ordering::SeqCst);
        }
    }
}

fn log_tail(p: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(p) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(2000)));
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// Clock ticks per second, for /proc/PID/stat.
fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// utime + stime from the text of /proc/PID/stat.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: cut at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn cpu_time(pid: i32) -> Result<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_cpu_ticks(&s).context("unreadable /proc/PID/stat")?;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / clk_tck()))
}

pub fn rss_bytes(pid: i32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kb * 1024)
}

/// Is some socket in LISTEN state on 127.0.0.1 (or any address) at `port`?
pub fn is_listening(port: u16) -> Result<bool> {
    let t = std::fs::read_to_string("/proc/net/tcp")?;
    Ok(listening_in(&t, port))
}

/// The /proc/net/tcp check, on its text.
pub fn listening_in(proc_net_tcp: &str, port: u16) -> bool {
    proc_net_tcp.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3
            && f[3] == "0A"
            && f[1]
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port)
    })
}

/// TCP sockets in TIME_WAIT, machine-wide (from /proc/net/sockstat).
pub fn time_wait_count() -> u64 {
    let s = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.iter()
                .position(|w| *w == "tw")
                .and_then(|i| f.get(i + 1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_survives_odd_names() {
        let s = "1234 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 3 0 99";
        assert_eq!(parse_stat_cpu_ticks(s), Some(175));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn listen_state_is_found_by_port() {
        let t = "  sl  local_address rem_address   st tx_queue\n\
                 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n\
                 1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000\n";
        assert!(listening_in(t, 0x1F90));
        assert!(!listening_in(t, 0x1F91));
        assert!(!listening_in(t, 80));
    }

    #[test]
    fn own_process_has_cpu_and_rss() {
        let me = std::process::id() as i32;
        assert!(rss_bytes(me).unwrap() > 0);
        cpu_time(me).unwrap();
    }
}
