//! A quick load generator for developing kvlds (the benchmarks of record
//! are in kivaloo-bench): `kvbench SOCKET insert|update|read|mixed|extract N [SECONDS]`.
//! Keys are 40 bytes (BE64(i >> 16) then 32 pseudo-random bytes), values
//! 40 bytes; 4096 requests in flight.

use std::time::{Duration, Instant};

use kivaloo_client::pipeline::{Workload, drive};
use kivaloo_wire::kvlds::KvldsRequest;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

fn key(i: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&(i >> 16).to_be_bytes());
    for j in 0..4 {
        k[8 + 8 * j..16 + 8 * j].copy_from_slice(&mix(i * 4 + j as u64).to_be_bytes());
    }
    k
}

struct W {
    mode: String,
    n: u64,
    sent: u64,
    done: u64,
    rng: u64,
    until: Option<Instant>,
    lat_start: Vec<Option<Instant>>,
    lats: Vec<Duration>,
    /// Keys in sorted order for insert: sort index by key.
    order: Vec<u64>,
}

impl Workload for W {
    fn next_request(&mut self, id: u64, rec: &mut Vec<u8>) -> bool {
        if let Some(t) = self.until {
            if Instant::now() >= t {
                return false;
            }
        } else if self.sent >= self.n {
            return false;
        }
        self.rng = mix(self.rng);
        let r = self.rng;
        let v = [7u8; 40];
        let req = match self.mode.as_str() {
            "insert" | "update" => {
                let k = key(self.order[(self.sent % self.n) as usize]);
                KvldsRequest::Set { key: &k, value: &v }
                    .encode(rec)
                    .unwrap();
                self.sent += 1;
                return true;
            }
            "read" => 0,
            "mixed" => (id & 2) as u8,
            _ => unreachable!(),
        };
        let k = key(r % self.n);
        if req == 0 {
            KvldsRequest::Get { key: &k }.encode(rec).unwrap();
        } else {
            let mut v = [0u8; 40];
            v[..8].copy_from_slice(&id.to_be_bytes());
            KvldsRequest::Set { key: &k, value: &v }
                .encode(rec)
                .unwrap();
            let slot = (id % 8192) as usize;
            self.lat_start[slot] = Some(Instant::now());
        }
        self.sent += 1;
        true
    }
    fn response(&mut self, id: u64, _r: &[u8]) -> Result<(), kivaloo_client::ClientError> {
        self.done += 1;
        if let Some(t) = self.lat_start[(id % 8192) as usize].take() {
            self.lats.push(t.elapsed());
        }
        Ok(())
    }
    fn finished(&mut self) -> bool {
        true
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let sock = &a[1];
    let mode = a[2].clone();
    let n: u64 = a[3].parse().unwrap();
    let secs: Option<u64> = a.get(4).map(|s| s.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = kivaloo_client::net::resolve_first(sock, |_| {}).unwrap();
        let mut s = kivaloo_client::net::connect(&addr).await.unwrap();
        if mode == "extract" {
            let c = kivaloo_client::KvldsClient::new(s);
            let t = Instant::now();
            let mut count = 0u64;
            c.scan(b"", b"", |_, _| {
                count += 1;
                Ok(())
            })
            .await
            .unwrap();
            let el = t.elapsed().as_secs_f64();
            println!(
                "extract {count} pairs in {el:.2}s: {:.0}/s",
                count as f64 / el
            );
            return;
        }
        let mut order: Vec<u64> = (0..n).collect();
        if mode == "insert" || mode == "update" {
            order.sort_by_key(|&i| key(i));
        }
        let mut w = W {
            mode: mode.clone(),
            n,
            sent: 0,
            done: 0,
            rng: 42,
            until: secs.map(|s| Instant::now() + Duration::from_secs(s)),
            lat_start: vec![None; 8192],
            lats: Vec::new(),
            order,
        };
        let t = Instant::now();
        drive(&mut s, 4096, 1 << 20, &mut w).await.unwrap();
        let el = t.elapsed().as_secs_f64();
        w.lats.sort();
        let med = w.lats.get(w.lats.len() / 2).copied().unwrap_or_default();
        println!(
            "{mode}: {} requests in {el:.2}s: {:.0}/s; median SET latency {:.2} ms",
            w.done,
            w.done as f64 / el,
            med.as_secs_f64() * 1e3
        );
    });
}
