//! The block store under the tree: exactly the lbs protocol's operations,
//! so that an lbs daemon (over a socket), an lbs engine in the same
//! process, or a test double can sit underneath unchanged.
//!
//! [`MemStore`] is an in-memory store whose "disk" survives the engine
//! being dropped, and which can cut the power at any APPEND or FREE: the
//! crash tests use it to check that every acknowledged write survives and
//! nothing unacknowledged shows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::error::StoreError;

/// What lbs PARAMS2 reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreParams {
    pub block_size: usize,
    /// First never-written block number.
    pub next_block: u64,
}

pub trait BlockStore {
    fn params(&mut self) -> Result<StoreParams, StoreError>;
    /// Read blocks (None: absent or freed). All requests may be in flight
    /// at once.
    fn get(&mut self, blknos: &[u64]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Append whole blocks at `blkno` and make them durable; returns the
    /// next block number. The last block must never become durable before
    /// the earlier ones.
    fn append(&mut self, blkno: u64, blocks: &[u8]) -> Result<u64, StoreError>;
    /// Blocks below `keep_from` are no longer needed.
    fn free(&mut self, keep_from: u64) -> Result<(), StoreError>;
}

/// When a [`MemStore`] cuts the power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    Never,
    /// At the n-th (0-based) APPEND or FREE from now, keeping the first
    /// `keep` blocks of an APPEND (clamped to its length; all of them
    /// means the power failed after the write, before the reply).
    At {
        op: u64,
        keep: usize,
    },
}

struct Disk {
    block_size: usize,
    blocks: BTreeMap<u64, Vec<u8>>,
    next: u64,
    ops: u64,
    dead: bool,
    cut: Cut,
}

/// An in-memory block store with lbs semantics and power cuts. Clones
/// share one disk.
#[derive(Clone)]
pub struct MemStore {
    disk: Arc<Mutex<Disk>>,
}

impl MemStore {
    pub fn new(block_size: usize) -> MemStore {
        MemStore {
            disk: Arc::new(Mutex::new(Disk {
                block_size,
                blocks: BTreeMap::new(),
                next: 0,
                ops: 0,
                dead: false,
                cut: Cut::Never,
            })),
        }
    }

    /// Arm a power cut, counting operations from now (for every handle
    /// on this disk).
    pub fn set_cut(&self, cut: Cut) {
        let mut d = self.disk.lock().expect("disk");
        d.ops = 0;
        d.cut = cut;
    }

    /// Power back on: a fresh handle on what reached the disk, with no
    /// cut armed.
    pub fn restart(&self) -> MemStore {
        let mut d = self.disk.lock().expect("disk");
        d.dead = false;
        d.cut = Cut::Never;
        MemStore {
            disk: self.disk.clone(),
        }
    }

    pub fn powered_off(&self) -> bool {
        self.disk.lock().expect("disk").dead
    }

    /// Blocks currently stored (not freed).
    pub fn stored_blocks(&self) -> u64 {
        self.disk.lock().expect("disk").blocks.len() as u64
    }

    fn tick(d: &mut Disk) -> Option<usize> {
        let n = d.ops;
        d.ops += 1;
        match d.cut {
            Cut::At { op, keep } if op == n => {
                d.dead = true;
                Some(keep)
            }
            _ => None,
        }
    }
}

impl BlockStore for MemStore {
    fn params(&mut self) -> Result<StoreParams, StoreError> {
        let d = self.disk.lock().expect("disk");
        if d.dead {
            return Err(StoreError::PowerCut);
        }
        Ok(StoreParams {
            block_size: d.block_size,
            next_block: d.next,
        })
    }

    fn get(&mut self, blknos: &[u64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let d = self.disk.lock().expect("disk");
        if d.dead {
            return Err(StoreError::PowerCut);
        }
        Ok(blknos.iter().map(|b| d.blocks.get(b).cloned()).collect())
    }

    fn append(&mut self, blkno: u64, blocks: &[u8]) -> Result<u64, StoreError> {
        let mut d = self.disk.lock().expect("disk");
        if d.dead {
            return Err(StoreError::PowerCut);
        }
        let bs = d.block_size;
        if blocks.is_empty() || !blocks.len().is_multiple_of(bs) {
            return Err(StoreError::Io("APPEND of a partial block".into()));
        }
        if blkno != d.next {
            return Err(StoreError::AppendRefused(blkno));
        }
        let n = blocks.len() / bs;
        let keep = Self::tick(&mut d).map_or(n, |k| k.min(n));
        for (i, b) in blocks.chunks(bs).take(keep).enumerate() {
            d.blocks.insert(blkno + i as u64, b.to_vec());
        }
        d.next = blkno + keep as u64;
        if d.dead {
            return Err(StoreError::PowerCut);
        }
        Ok(d.next)
    }

    fn free(&mut self, keep_from: u64) -> Result<(), StoreError> {
        let mut d = self.disk.lock().expect("disk");
        if d.dead {
            return Err(StoreError::PowerCut);
        }
        // Stricter than lbs, which frees whole files later: blocks go at once.
        let keep = d.blocks.split_off(&keep_from);
        d.blocks = keep;
        if Self::tick(&mut d).is_some() {
            return Err(StoreError::PowerCut);
        }
        Ok(())
    }
}
