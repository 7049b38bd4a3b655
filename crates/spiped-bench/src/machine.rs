//! The machine around a measurement: what it is, how busy it is, and how
//! much of that business was not ours (the machine is shared).

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::procs::Daemon;

/// Busy and total jiffies from the first line of /proc/stat. "Busy" leaves
/// out idle, iowait and softirq (loopback TCP work lands in softirq and is
/// ours, but not charged to any process).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuStat {
    pub busy: u64,
    pub total: u64,
}

pub fn parse_proc_stat(s: &str) -> Option<CpuStat> {
    let line = s.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 8 {
        return None;
    }
    let total: u64 = v.iter().sum();
    Some(CpuStat {
        busy: total - v[3] - v[4] - v[6],
        total,
    })
}

pub fn cpu_stat() -> CpuStat {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_proc_stat(&s))
        .unwrap_or_default()
}

fn jiffy() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1.0 / if t > 0 { t as f64 } else { 100.0 }
}

pub fn ncpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time of this process (all threads) so far.
pub fn self_cpu() -> Duration {
    // SAFETY: getrusage fills a local struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// `lscpu`'s model name and the number of CPUs.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{model}, {} CPUs", ncpu())
}

/// Wait (at most `max`) until the machine has been mostly idle for a
/// second; returns false if it never was.
pub fn wait_idle(max: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < max {
        let a = cpu_stat();
        std::thread::sleep(Duration::from_secs(1));
        let b = cpu_stat();
        let total = b.total.saturating_sub(a.total).max(1);
        if (b.busy.saturating_sub(a.busy) as f64) < 0.10 * total as f64 {
            return true;
        }
    }
    false
}

/// Watches one measurement: wall time, each daemon's CPU, and the CPU the
/// rest of the machine used meanwhile.
pub struct Meter {
    t0: Instant,
    stat0: CpuStat,
    self0: Duration,
    daemons0: Vec<Duration>,
}

/// What a [`Meter`] saw.
#[derive(Clone, Debug)]
pub struct Metered {
    pub wall: f64,
    /// CPU seconds per daemon, in the order given to [`Meter::start`].
    pub daemon_cpu: Vec<f64>,
    /// CPU seconds of this process (the load generators and sinks).
    pub self_cpu: f64,
    /// Busy CPU of everything else, as a fraction of the machine's capacity.
    pub other_load: f64,
}

impl Meter {
    pub fn start(daemons: &[&Daemon]) -> Result<Meter> {
        Ok(Meter {
            daemons0: daemons.iter().map(|d| d.cpu()).collect::<Result<_>>()?,
            stat0: cpu_stat(),
            self0: self_cpu(),
            t0: Instant::now(),
        })
    }

    pub fn stop(self, daemons: &[&Daemon]) -> Result<Metered> {
        let wall = self.t0.elapsed().as_secs_f64();
        let self_cpu = (self_cpu() - self.self0).as_secs_f64();
        let stat1 = cpu_stat();
        let daemon_cpu: Vec<f64> = daemons
            .iter()
            .zip(&self.daemons0)
            .map(|(d, c0)| Ok(d.cpu()?.saturating_sub(*c0).as_secs_f64()))
            .collect::<Result<_>>()?;
        let busy = stat1.busy.saturating_sub(self.stat0.busy) as f64 * jiffy();
        let other = (busy - self_cpu - daemon_cpu.iter().sum::<f64>()).max(0.0);
        Ok(Metered {
            wall,
            daemon_cpu,
            self_cpu,
            other_load: other / (wall * ncpu() as f64).max(1e-9),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_busy_leaves_out_idle_iowait_softirq() {
        let s = "cpu  100 5 50 1000 20 3 40 7 0 0\ncpu0 1 2 3\n";
        let c = parse_proc_stat(s).unwrap();
        assert_eq!(c.total, 100 + 5 + 50 + 1000 + 20 + 3 + 40 + 7);
        assert_eq!(c.busy, 100 + 5 + 50 + 3 + 7);
        assert!(parse_proc_stat("cpu 1 2").is_none());
    }
}
