//! Upstream's six benchmark workloads (spec §11), written once against
//! [`Source`] so kivaloo and Redis run exactly the same request streams.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::codec::{Op, Reply};
use crate::driver::{Meter, Source};
use crate::pairs::{KEY_LEN, RECORD_LEN, VALUE_LEN};

/// The six workloads, in upstream's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    BulkInsert,
    BulkUpdate,
    BulkExtract,
    RandomRead,
    RandomMixed,
    HotspotRead,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::BulkInsert,
        Workload::BulkUpdate,
        Workload::BulkExtract,
        Workload::RandomRead,
        Workload::RandomMixed,
        Workload::HotspotRead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::BulkInsert => "bulk insert",
            Workload::BulkUpdate => "bulk update",
            Workload::BulkExtract => "bulk extract",
            Workload::RandomRead => "random read",
            Workload::RandomMixed => "random mixed",
            Workload::HotspotRead => "hot-spot read",
        }
    }
}

/// The data set, as mkpairs records and as keys by pair index.
pub struct DataSet {
    pub n: u64,
    pub records: Vec<u8>,
    pub keys_by_index: Vec<[u8; KEY_LEN]>,
}

impl DataSet {
    pub fn new(n: u64) -> Self {
        let records = crate::pairs::mkpairs(n);
        let mut keys_by_index = vec![[0u8; KEY_LEN]; n as usize];
        for r in records.chunks(RECORD_LEN) {
            let mut i = [0u8; 8];
            i.copy_from_slice(&r[KEY_LEN..KEY_LEN + 8]);
            keys_by_index[u64::from_be_bytes(i) as usize].copy_from_slice(&r[..KEY_LEN]);
        }
        DataSet {
            n,
            records,
            keys_by_index,
        }
    }

    fn record(&self, pos: u64) -> (&[u8], &[u8]) {
        let r = &self.records[pos as usize * RECORD_LEN..(pos as usize + 1) * RECORD_LEN];
        r.split_at(KEY_LEN)
    }
}

/// xorshift64*: cheap, seeded, good enough to pick keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Timing shared by the timed workloads: warm-up, then measurement.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

impl Timing {
    pub fn end(&self) -> Duration {
        self.warmup + self.measure
    }
    /// Median pairs/s over the measured seconds.
    pub fn median(&self, m: &Meter) -> f64 {
        let from = self.warmup.as_secs() as usize;
        m.median(from, from + self.measure.as_secs() as usize)
    }
    /// Completions over the whole run, warm-up included.
    pub fn total(&self, m: &Meter) -> u64 {
        m.total(0, self.end().as_secs() as usize + 1)
    }
}

/// SET every pair once, in order (the preload, and bulk insert).
pub struct Insert<'a> {
    pub data: &'a DataSet,
    pub pos: u64,
    pub done: u64,
}

impl Source for Insert<'_> {
    fn next_op(&mut self) -> Option<Op<'_>> {
        if self.pos == self.data.n {
            return None;
        }
        let (k, v) = self.data.record(self.pos);
        self.pos += 1;
        Some(Op::Set(k, v))
    }
    fn reply(&mut self, r: Reply) -> Result<()> {
        if r != Reply::Stored {
            bail!("SET answered {r:?}");
        }
        self.done += 1;
        Ok(())
    }
}

/// The timed workloads other than extraction.
pub struct Timed<'a> {
    pub kind: Workload,
    pub data: &'a DataSet,
    pub timing: Timing,
    pub meter: Meter,
    pub rng: Rng,
    /// Position in the data (bulk update) or in the hot spot.
    pos: u64,
    /// Current hot-spot group.
    group: u64,
    step: u64,
    value: [u8; VALUE_LEN],
    pub misses: u64,
}

impl<'a> Timed<'a> {
    pub fn new(kind: Workload, data: &'a DataSet, timing: Timing, seed: u64) -> Self {
        Timed {
            kind,
            data,
            timing,
            meter: Meter::new(),
            rng: Rng::new(seed),
            pos: 0,
            group: 0,
            step: 0,
            value: [0; VALUE_LEN],
            misses: 0,
        }
    }

    fn random_key(&mut self) -> &[u8] {
        let i = self.rng.below(self.data.n);
        &self.data.keys_by_index[i as usize]
    }
}

impl Source for Timed<'_> {
    fn next_op(&mut self) -> Option<Op<'_>> {
        if self.meter.elapsed() >= self.timing.end() {
            return None;
        }
        self.step += 1;
        Some(match self.kind {
            Workload::BulkUpdate => {
                let p = self.pos;
                self.pos = (self.pos + 1) % self.data.n;
                let (k, v) = self.data.record(p);
                Op::Set(k, v)
            }
            Workload::RandomRead => Op::Get(self.random_key()),
            Workload::RandomMixed => {
                // Two GETs, then two SETs of a counter value, and again.
                if self.step % 4 < 2 {
                    Op::Get(self.random_key())
                } else {
                    self.value[..8].copy_from_slice(&self.step.to_be_bytes());
                    let i = self.rng.below(self.data.n) as usize;
                    Op::Set(&self.data.keys_by_index[i], &self.value)
                }
            }
            Workload::HotspotRead => {
                if self.pos == 0 {
                    self.group = self.rng.below((self.data.n >> 16).max(1));
                }
                let i = (self.group << 16) + self.pos;
                self.pos = (self.pos + 1) % self.data.n.min(65_536);
                Op::Get(&self.data.keys_by_index[i as usize])
            }
            Workload::BulkInsert | Workload::BulkExtract => return None,
        })
    }

    fn reply(&mut self, r: Reply) -> Result<()> {
        if r == (Reply::Value { found: false }) {
            self.misses += 1;
        }
        self.meter.add(1);
        Ok(())
    }
}
