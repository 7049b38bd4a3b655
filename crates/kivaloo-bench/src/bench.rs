//! One measurement: a fresh system, the preload, the workload, the figures.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use bytes::{Buf, BytesMut};
use kivaloo_client::KvldsClient;
use kivaloo_client::kvlds::RANGE_BUDGET;
use kivaloo_client::net::AnyStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::codec::{Codec, Kivaloo, Redis, Resp, parse_resp, resp_command};
use crate::driver::{Meter, WINDOW, run};
use crate::stack::{Stack, disk_usage};
use crate::workloads::{DataSet, Insert, Timed, Timing, Workload};

/// Which system a measurement ran against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Kivaloo,
    Redis,
}

/// The figures of one workload on one system.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Pairs (or requests) per second: the preload's wall rate for bulk
    /// insert, the median of per-second counts otherwise.
    pub rate: f64,
    /// Bytes on disk per pair right after the preload.
    pub disk_per_pair_loaded: f64,
    /// Bytes on disk per pair after the workload.
    pub disk_per_pair_end: f64,
    /// Peak RSS of the system's processes, bytes.
    pub peak_rss: u64,
    /// GETs of keys that should exist but were not found.
    pub misses: u64,
    /// CPU time of the system's processes per operation of the workload,
    /// in microseconds (user + system; does not depend on how busy the
    /// machine is, unlike the rates).
    pub cpu_us_per_op: f64,
}

async fn connect(stack: &dyn Stack) -> Result<UnixStream> {
    Ok(UnixStream::connect(stack.socket()).await?)
}

/// Run `workload` against a freshly started `stack`.
pub async fn measure(
    system: System,
    stack: &dyn Stack,
    data: &DataSet,
    workload: Workload,
    timing: Timing,
) -> Result<Figures> {
    match system {
        System::Kivaloo => {
            measure_with(Kivaloo::default(), system, stack, data, workload, timing).await
        }
        System::Redis => measure_with(Redis, system, stack, data, workload, timing).await,
    }
}

async fn measure_with<C: Codec>(
    mut codec: C,
    system: System,
    stack: &dyn Stack,
    data: &DataSet,
    workload: Workload,
    timing: Timing,
) -> Result<Figures> {
    let mut s = connect(stack).await?;
    // Redis fsyncs once per event-loop pass, about 200 commands: loading
    // 2^20 pairs that way takes minutes. Unless the load is what is
    // measured, load with appendfsync everysec and measure with always.
    let fast_load = system == System::Redis && workload != Workload::BulkInsert;
    let mut scratch = BytesMut::new();
    if fast_load {
        redis_config(&mut s, &mut scratch, b"everysec").await?;
    }
    let cpu0 = stack.cpu_seconds();
    let t = Instant::now();
    let mut ins = Insert {
        data,
        pos: 0,
        done: 0,
    };
    run(&mut s, &mut codec, WINDOW, &mut ins).await?;
    let load_rate = data.n as f64 / t.elapsed().as_secs_f64();
    let cpu1 = stack.cpu_seconds();
    if fast_load {
        redis_config(&mut s, &mut scratch, b"always").await?;
    }
    let per_pair = |d: u64| d as f64 / data.n as f64;
    let mut f = Figures {
        disk_per_pair_loaded: per_pair(disk_usage(stack.data_dir())),
        ..Figures::default()
    };
    let per_op = |cpu: f64, ops: u64| cpu * 1e6 / ops.max(1) as f64;
    match workload {
        Workload::BulkInsert => {
            f.rate = load_rate;
            f.cpu_us_per_op = per_op(cpu1 - cpu0, data.n);
        }
        Workload::BulkExtract => {
            let m = match system {
                System::Kivaloo => extract_kivaloo(s, timing).await?,
                System::Redis => extract_redis(s, timing).await?,
            };
            f.rate = timing.median(&m);
            f.cpu_us_per_op = per_op(stack.cpu_seconds() - cpu1, timing.total(&m));
        }
        _ => {
            let mut w = Timed::new(workload, data, timing, 0x5EED);
            run(&mut s, &mut codec, WINDOW, &mut w).await?;
            f.rate = timing.median(&w.meter);
            f.cpu_us_per_op = per_op(stack.cpu_seconds() - cpu1, timing.total(&w.meter));
            if workload != Workload::RandomMixed {
                f.misses = w.misses;
            }
        }
    }
    f.disk_per_pair_end = per_pair(disk_usage(stack.data_dir()));
    f.peak_rss = stack.peak_rss();
    Ok(f)
}

/// Repeated full scans, one 1 MiB RANGE at a time, as upstream's
/// bulk_extract does.
async fn extract_kivaloo(s: UnixStream, timing: Timing) -> Result<Meter> {
    let c = KvldsClient::new(AnyStream::Unix(s));
    let mut m = Meter::new();
    let mut from = Vec::new();
    while m.elapsed() < timing.end() {
        let page = c.range(&from, b"", RANGE_BUDGET).await?;
        m.add(page.pairs.len() as u64);
        if !page.next.is_empty() && page.next <= from {
            bail!("RANGE made no progress");
        }
        from = page.next;
    }
    Ok(m)
}

async fn resp_call(s: &mut UnixStream, buf: &mut BytesMut, args: &[&[u8]]) -> Result<Resp> {
    let mut out = Vec::new();
    resp_command(&mut out, args);
    s.write_all(&out).await?;
    loop {
        if let Some((v, n)) = parse_resp(buf)? {
            buf.advance(n);
            return Ok(v);
        }
        if s.read_buf(buf).await? == 0 {
            bail!("redis closed the connection");
        }
    }
}

async fn redis_config(s: &mut UnixStream, buf: &mut BytesMut, fsync: &[u8]) -> Result<()> {
    match resp_call(s, buf, &[b"CONFIG", b"SET", b"appendfsync", fsync]).await? {
        Resp::Simple(ok) if ok == b"OK" => Ok(()),
        other => bail!("CONFIG SET appendfsync answered {other:?}"),
    }
}

/// Redis keeps no key order: the closest equivalent of a full scan is
/// SCAN (1 000 keys a step) plus MGET of those keys, one step at a time.
async fn extract_redis(mut s: UnixStream, timing: Timing) -> Result<Meter> {
    let mut m = Meter::new();
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut cursor = b"0".to_vec();
    while m.elapsed() < timing.end() {
        let r = resp_call(&mut s, &mut buf, &[b"SCAN", &cursor, b"COUNT", b"1000"]).await?;
        let Resp::Array(mut parts) = r else {
            bail!("SCAN answered {r:?}")
        };
        let (Some(Resp::Array(keys)), Some(Resp::Bulk(Some(next)))) = (parts.pop(), parts.pop())
        else {
            bail!("bad SCAN answer");
        };
        cursor = next;
        let keys: Vec<Vec<u8>> = keys
            .into_iter()
            .filter_map(|k| match k {
                Resp::Bulk(Some(k)) => Some(k),
                _ => None,
            })
            .collect();
        if !keys.is_empty() {
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(Vec::as_slice));
            let r = resp_call(&mut s, &mut buf, &args).await?;
            let Resp::Array(vals) = r else {
                bail!("MGET answered {r:?}")
            };
            m.add(vals.len() as u64);
        }
    }
    Ok(m)
}

/// Where the Redis server binary is.
pub fn find_redis(explicit: Option<&Path>) -> Result<std::path::PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if Path::new(p).exists() {
            return Ok(p.into());
        }
    }
    bail!("redis-server not found (install Debian's redis-server: scripts/deps/kivaloo.sh)")
}
