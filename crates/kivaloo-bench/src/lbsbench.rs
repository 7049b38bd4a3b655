//! A micro-benchmark of kivaloo-lbs alone (the hot path under every kvlds
//! write and cache miss): APPEND latency for several batch sizes, and
//! random GETs with 4096 in flight. There is no reference lbs on this
//! machine to run beside it; the figures are for tuning.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kivaloo_client::net::AnyStream;
use kivaloo_client::pipeline::{Workload, drive};
use kivaloo_client::{ClientError, LbsClient};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

use crate::workloads::Rng;

pub struct LbsFigures {
    /// (blocks per APPEND, APPENDs/s, median latency ms).
    pub appends: Vec<(u32, f64, f64)>,
    pub gets_per_sec: f64,
    /// CPU time of kivaloo-lbs per GET, microseconds.
    pub cpu_us_per_get: f64,
}

struct RandomGets {
    b: u32,
    nblocks: u64,
    rng: Rng,
    until: Instant,
    done: u64,
}

impl Workload for RandomGets {
    fn next_request(&mut self, _id: u64, record: &mut Vec<u8>) -> bool {
        if Instant::now() >= self.until {
            return false;
        }
        LbsRequest::Get {
            blkno: self.rng.below(self.nblocks),
        }
        .encode(record);
        true
    }
    fn response(&mut self, _id: u64, record: &[u8]) -> Result<(), ClientError> {
        match LbsResponse::decode(LbsRequestKind::Get, record, self.b)? {
            LbsResponse::Get(Some(_)) => {}
            other => return Err(ClientError::Protocol(format!("GET answered {other:?}"))),
        }
        self.done += 1;
        Ok(())
    }
    fn finished(&mut self) -> bool {
        true
    }
}

/// Start `kivaloo-lbs -F` from `bin_dir` in `work`, run, stop it.
pub fn run(bin_dir: &Path, work: &Path, b: u32, secs: u64) -> Result<LbsFigures> {
    let dir = work.join("lbsbench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("store"))?;
    let sock = dir.join("lbs.sock");
    let mut child = Command::new(bin_dir.join("kivaloo-lbs"))
        .args(["-F", "-b", &b.to_string(), "-s"])
        .arg(&sock)
        .arg("-d")
        .arg(dir.join("store"))
        .arg("-p")
        .arg(dir.join("pid"))
        .stdout(Stdio::null())
        .spawn()
        .context("starting kivaloo-lbs")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("kivaloo-lbs did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(async {
        let s = tokio::net::UnixStream::connect(&sock).await?;
        let (c, p) = LbsClient::new(AnyStream::Unix(s)).await?;
        let mut next = p.nextblk;
        let mut appends = Vec::new();
        for nblks in [1u32, 64, 256, 1024] {
            let data = vec![0xA5u8; (nblks * b) as usize];
            let mut lat = Vec::new();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(secs) {
                let a = Instant::now();
                next = c.append(next, &data).await?.context("APPEND refused")?;
                lat.push(a.elapsed().as_secs_f64() * 1e3);
            }
            lat.sort_by(f64::total_cmp);
            appends.push((
                nblks,
                lat.len() as f64 / t.elapsed().as_secs_f64(),
                lat[lat.len() / 2],
            ));
        }
        drop(c);
        let mut s = tokio::net::UnixStream::connect(&sock).await?;
        let mut w = RandomGets {
            b,
            nblocks: next,
            rng: Rng::new(7),
            until: Instant::now() + Duration::from_secs(secs),
            done: 0,
        };
        let t = Instant::now();
        let cpu0 = crate::stack::cpu_seconds(child.id()).unwrap_or(0.0);
        drive(&mut s, 4096, 1 << 20, &mut w).await?;
        let cpu = crate::stack::cpu_seconds(child.id()).unwrap_or(0.0) - cpu0;
        Ok::<_, anyhow::Error>(LbsFigures {
            appends,
            gets_per_sec: w.done as f64 / t.elapsed().as_secs_f64(),
            cpu_us_per_get: cpu * 1e6 / w.done.max(1) as f64,
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    r
}
