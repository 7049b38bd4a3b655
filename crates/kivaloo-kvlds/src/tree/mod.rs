//! The log-structured B+tree engine, without I/O.
//!
//! The tree never touches a block store itself: it says which blocks it
//! needs ([`Tree::fetch_plan`]), takes them back ([`Tree::install`]), and
//! hands out the bytes of an APPEND ([`Tree::prepare_commit`]) to be made
//! durable before [`Tree::commit_done`]. The daemon drives it over an
//! async lbs connection; tests and the in-process mode drive it with a
//! synchronous [`crate::store::BlockStore`] (see [`crate::db`]).
//!
//! How it stays cheap under random updates (see docs/kvlds.md):
//! * every parent is resident; leaves are cached under a memory bound;
//! * a batch of modifying requests writes, in one APPEND, the leaves that
//!   changed a lot (rewritten whole) and a *log record* of the pairs
//!   changed in the others; a leaf with logged changes stays in memory
//!   until it is rewritten, and on start-up the log since the oldest such
//!   change is replayed (each leaf carries the commit number it was
//!   written at, so replay skips changes it already holds);
//! * the structure (splits, merges) is always written in the same commit,
//!   so the on-disk tree of any commit is a consistent tree;
//! * each commit also rewrites the oldest live leaves (cleaning) so the
//!   span between the oldest live record and the end of the store stays
//!   within a constant factor of the live data, and lbs can delete files.

mod apply;
mod commit;
pub mod internal;
pub mod keys;
pub mod leaf;
mod range;
mod recover;

use std::collections::{BTreeSet, HashMap};

use crate::error::Corrupt;
use crate::format::{Addr, Geometry};
use leaf::LeafData;

pub use apply::Mr;
pub use commit::PreparedCommit;
pub use range::RangeOut;

/// Index of a node in the arena.
pub type NodeId = u32;
const NONE: NodeId = u32::MAX;

/// Limits and policies.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest key accepted by modifying requests.
    pub kmax: usize,
    /// Longest value accepted by modifying requests.
    pub vmax: usize,
    /// Largest leaf record, in bytes; leaves split above it.
    pub leaf_max: usize,
    /// Largest parent record, in bytes.
    pub internal_max: usize,
    /// Memory bound for cached leaves and parents, in bytes.
    pub cache_bytes: usize,
    /// Whether to clean (rewrite old leaves so old blocks can be freed).
    pub cleaning: bool,
    /// Store span allowed on top of 1.5× the live tree before cleaning.
    pub span_slack: u64,
    /// Log bytes allowed on top of a third of the live tree before the
    /// leaves with the oldest logged changes are rewritten.
    pub log_slack: u64,
}

impl Config {
    /// Upstream's defaults for a block size: key/value limits and a
    /// 128 MiB cache. Leaves and parents are 2 KiB records whatever the
    /// block size, since they need not fit in one block.
    pub fn for_block_size(block: usize) -> Config {
        let (kmax, vmax) = if block < 1024 {
            (64, 96)
        } else if block < 2048 {
            (128, 192)
        } else {
            (255, 255)
        };
        Config {
            kmax,
            vmax,
            leaf_max: 2048,
            internal_max: 2048,
            cache_bytes: 128 << 20,
            cleaning: true,
            span_slack: 4 << 20,
            log_slack: 2 << 20,
        }
    }

    /// Check the limits that upstream checks at start-up (kept so that
    /// the same command lines are accepted and refused), and the ones our
    /// node sizes need.
    pub fn validate(&self, block: usize) -> Result<(), String> {
        if !(crate::format::MIN_BLOCK..=131072).contains(&block) {
            return Err(format!("block size {block} out of range"));
        }
        if self.kmax > 255 || self.vmax > 255 {
            return Err("maximum key and value lengths are 255".into());
        }
        if self.kmax + self.vmax + 2 > block / 3 {
            return Err("Key and value lengths too large for block size".into());
        }
        if 3 * self.kmax + 3 + 4 * 20 + 10 > 2 * block / 3 {
            return Err("Key length too large for block size".into());
        }
        let pair = 2 + self.kmax + self.vmax;
        if self.leaf_max < 2 * pair + crate::format::LEAF_HEADER {
            return Err("leaf size too small for the key and value limits".into());
        }
        let entry = 1 + self.kmax + crate::format::CHILD_ENTRY;
        if self.internal_max < 4 * entry + crate::format::INTERNAL_HEADER {
            return Err("parent size too small for the key limit".into());
        }
        Ok(())
    }
}

/// Result of a point lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found(&'a [u8]),
    Absent,
    /// The leaf must be fetched first ([`Tree::fetch_plan`]).
    Missing(NodeId),
}

pub(crate) struct Leaf {
    pub data: Option<LeafData>,
    /// Commit number this leaf's on-disk record was written at.
    pub lsn: u64,
    /// (commit, APPEND start) of the oldest logged change not yet in the
    /// leaf's on-disk record.
    pub pending: Option<(u64, u64)>,
    /// Bytes of log written for this leaf since its record was written.
    pub logged: usize,
    /// Changed by the batch being built.
    pub touched: bool,
    /// Recently used (CLOCK).
    pub referenced: bool,
}

pub(crate) struct Internal {
    pub height: u8,
    pub seps: keys::KeyList,
    pub children: Vec<NodeId>,
}

impl Internal {
    pub fn route(&self, key: &[u8]) -> usize {
        self.seps.partition_point(key)
    }

    pub fn record_len(&self) -> usize {
        internal::record_len(self.seps.iter(), self.children.len())
    }
}

pub(crate) enum Body {
    Leaf(Leaf),
    Internal(Internal),
    Free,
}

pub(crate) struct Node {
    pub parent: NodeId,
    /// Where the current version is on disk (None: never written).
    pub addr: Option<Addr>,
    /// Oldest stream position in this subtree (u64::MAX if unwritten).
    pub oldest: u64,
    /// Must be written in the next commit.
    pub dirty: bool,
    pub body: Body,
}

impl Node {
    fn leaf(&self) -> Option<&Leaf> {
        match &self.body {
            Body::Leaf(l) => Some(l),
            _ => None,
        }
    }
    fn leaf_mut(&mut self) -> Option<&mut Leaf> {
        match &mut self.body {
            Body::Leaf(l) => Some(l),
            _ => None,
        }
    }
    fn internal(&self) -> Option<&Internal> {
        match &self.body {
            Body::Internal(i) => Some(i),
            _ => None,
        }
    }
    fn internal_mut(&mut self) -> Option<&mut Internal> {
        match &mut self.body {
            Body::Internal(i) => Some(i),
            _ => None,
        }
    }
}

/// Counters for PARAMS-free introspection, tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub npairs: u64,
    /// Live leaf and parent record bytes.
    pub node_bytes: u64,
    /// Stream span from the oldest needed record to the end.
    pub span_bytes: u64,
    pub leaves: u64,
    pub leaves_cached: u64,
    pub cache_mem: u64,
    pub height: u8,
    pub commits: u64,
    pub bytes_appended: u64,
    pub leaves_written: u64,
    pub leaves_cleaned: u64,
    pub log_bytes: u64,
}

pub struct Tree {
    pub(crate) cfg: Config,
    pub(crate) geo: Geometry,
    pub(crate) nodes: Vec<Node>,
    free_ids: Vec<NodeId>,
    pub(crate) root: NodeId,
    /// Last durable commit.
    pub(crate) seq: u64,
    /// Stream position of the last durable commit record.
    pub(crate) last_commit_pos: u64,
    /// Block number where the next APPEND goes.
    pub(crate) next_block: u64,
    pub(crate) npairs: u64,
    pub(crate) node_bytes: u64,
    /// Leaves with logged changes: (commit, APPEND start, leaf).
    pub(crate) pending: BTreeSet<(u64, u64, NodeId)>,
    /// Keys changed since the last commit was prepared, with the value
    /// they had before (what readers must still see).
    pub(crate) overlay: HashMap<Box<[u8]>, Option<Box<[u8]>>>,
    /// Leaves touched since the last commit was prepared.
    pub(crate) touched: Vec<NodeId>,
    /// Nodes marked dirty since the last commit was prepared.
    pub(crate) dirty_list: Vec<NodeId>,
    pub(crate) inflight: Option<commit::Inflight>,
    /// Cleaning: rewrite every leaf older than this position.
    pub(crate) clean_below: u64,
    pub(crate) last_append_bytes: u64,
    pub(crate) mem: usize,
    clock: usize,
    /// Replaying the log on start-up: no merges (see recover.rs).
    pub(crate) replaying: bool,
    pub(crate) stats: Stats,
}

impl Tree {
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn block_size(&self) -> usize {
        self.geo.block
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.npairs = self.npairs;
        s.node_bytes = self.node_bytes;
        s.span_bytes = self
            .geo
            .block_start(self.next_block)
            .saturating_sub(self.tail());
        s.cache_mem = self.mem as u64;
        s.height = self.height();
        let (mut leaves, mut cached) = (0, 0);
        for n in &self.nodes {
            if let Some(l) = n.leaf() {
                leaves += 1;
                cached += u64::from(l.data.is_some());
            }
        }
        s.leaves = leaves;
        s.leaves_cached = cached;
        s
    }

    pub fn height(&self) -> u8 {
        self.nodes[self.root as usize]
            .internal()
            .map_or(0, |i| i.height)
    }

    /// A commit's APPEND is being made durable.
    pub fn commit_in_flight(&self) -> bool {
        self.inflight.is_some()
    }

    /// Modifying requests were applied and await a commit.
    pub fn has_uncommitted(&self) -> bool {
        !self.overlay.is_empty() || !self.touched.is_empty()
    }

    /// The oldest stream position still needed.
    pub(crate) fn tail(&self) -> u64 {
        let t = self.nodes[self.root as usize].oldest;
        match self.pending.first() {
            Some(&(_, pos, _)) => t.min(pos),
            None => t,
        }
    }

    /// Lowest block the store must keep (for lbs FREE).
    pub fn keep_from(&self) -> u64 {
        self.tail().min(self.last_commit_pos) / self.geo.payload()
    }

    // ---- arena ----

    pub(crate) fn alloc(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.free_ids.pop() {
            self.nodes[id as usize] = node;
            id
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as NodeId
        }
    }

    pub(crate) fn release(&mut self, id: NodeId) {
        let n = &mut self.nodes[id as usize];
        if let Some(a) = n.addr {
            self.node_bytes -= u64::from(a.len);
        }
        match &n.body {
            Body::Leaf(l) => {
                if let Some(d) = &l.data {
                    self.mem -= d.mem();
                }
                if let Some((s, p)) = l.pending {
                    self.pending.remove(&(s, p, id));
                }
            }
            Body::Internal(i) => self.mem -= i.record_len() + 64,
            Body::Free => {}
        }
        n.body = Body::Free;
        n.addr = None;
        self.free_ids.push(id);
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    pub(crate) fn internal_of(&self, id: NodeId) -> &Internal {
        self.nodes[id as usize].internal().expect("parent node")
    }

    pub(crate) fn internal_of_mut(&mut self, id: NodeId) -> &mut Internal {
        self.nodes[id as usize].internal_mut().expect("parent node")
    }

    pub(crate) fn leaf_of(&self, id: NodeId) -> &Leaf {
        self.nodes[id as usize].leaf().expect("leaf node")
    }

    pub(crate) fn leaf_of_mut(&mut self, id: NodeId) -> &mut Leaf {
        self.nodes[id as usize].leaf_mut().expect("leaf node")
    }

    /// The leaf whose key range holds `key`.
    pub(crate) fn leaf_for(&self, key: &[u8]) -> NodeId {
        let mut id = self.root;
        while let Some(i) = self.nodes[id as usize].internal() {
            id = i.children[i.route(key)];
        }
        id
    }

    /// Index of `id` among its parent's children.
    pub(crate) fn child_index(&self, parent: NodeId, id: NodeId) -> usize {
        self.internal_of(parent)
            .children
            .iter()
            .position(|&c| c == id)
            .expect("child in parent")
    }

    /// Key range [lo, hi) of a node (None: unbounded).
    pub(crate) fn bounds(&self, id: NodeId) -> (Option<&[u8]>, Option<&[u8]>) {
        let (mut lo, mut hi) = (None, None);
        let mut cur = id;
        while lo.is_none() || hi.is_none() {
            let p = self.nodes[cur as usize].parent;
            if p == NONE {
                break;
            }
            let pi = self.internal_of(p);
            let i = self.child_index(p, cur);
            if lo.is_none() && i > 0 {
                lo = Some(pi.seps.get(i - 1));
            }
            if hi.is_none() && i < pi.seps.len() {
                hi = Some(pi.seps.get(i));
            }
            cur = p;
        }
        (lo, hi)
    }

    // ---- reads ----

    /// Committed value of `key`.
    pub fn get(&mut self, key: &[u8]) -> Lookup<'_> {
        if let Some(old) = (!self.overlay.is_empty())
            .then(|| self.overlay.get(key))
            .flatten()
        {
            return match old {
                Some(v) => Lookup::Found(v),
                None => Lookup::Absent,
            };
        }
        let id = self.leaf_for(key);
        let l = self.nodes[id as usize].leaf_mut().expect("leaf");
        match &l.data {
            None => Lookup::Missing(id),
            Some(d) => {
                l.referenced = true;
                match d.get(key) {
                    Some(v) => Lookup::Found(v),
                    None => Lookup::Absent,
                }
            }
        }
    }

    /// Whether `id` is a leaf whose pairs are in memory.
    pub fn is_loaded(&self, id: NodeId) -> bool {
        self.nodes
            .get(id as usize)
            .and_then(|n| n.leaf())
            .is_some_and(|l| l.data.is_some())
    }

    /// Blocks to read for leaf `id`: (address, first block, count), or
    /// None if it needs no fetch.
    pub fn fetch_plan(&self, id: NodeId) -> Option<(Addr, u64, u64)> {
        let n = self.nodes.get(id as usize)?;
        let l = n.leaf()?;
        if l.data.is_some() {
            return None;
        }
        let a = n.addr?;
        let (first, count) = self.geo.blocks_of(a);
        Some((a, first, count))
    }

    /// Extract the record at `addr` from `blocks` (whole blocks starting
    /// at `first`), checking every block.
    pub fn record_from_blocks(
        &self,
        addr: Addr,
        first: u64,
        blocks: &[u8],
    ) -> Result<Vec<u8>, Corrupt> {
        let p = self.geo.payload();
        let mut out = Vec::with_capacity(addr.len as usize);
        let mut pos = addr.pos;
        let end = addr.pos + u64::from(addr.len);
        while pos < end {
            let blk = pos / p;
            let i = blk.checked_sub(first).ok_or(Corrupt::MissingBlock(blk))? as usize;
            let raw = blocks
                .get(i * self.geo.block..(i + 1) * self.geo.block)
                .ok_or(Corrupt::MissingBlock(blk))?;
            let payload = self.geo.check_block(blk, raw)?;
            let off = (pos - blk * p) as usize;
            let take = ((end - pos) as usize).min(payload.len() - off);
            out.extend_from_slice(&payload[off..off + take]);
            pos += take as u64;
        }
        Ok(out)
    }

    /// Take a fetched leaf. `addr` is the address the fetch was planned
    /// for; a stale or duplicate fetch is ignored.
    pub fn install(
        &mut self,
        id: NodeId,
        addr: Addr,
        first: u64,
        blocks: &[u8],
    ) -> Result<(), Corrupt> {
        if self.fetch_plan(id).map(|p| p.0) != Some(addr) {
            return Ok(());
        }
        let rec = self.record_from_blocks(addr, first, blocks)?;
        let (lsn, data) = LeafData::decode(&rec)?;
        let (lo, hi) = self.bounds(id);
        if !data.is_empty() {
            let first_key = data.key(0);
            let last_key = data.key(data.len() - 1);
            if lo.is_some_and(|lo| first_key < lo) || hi.is_some_and(|hi| last_key >= hi) {
                return Err(Corrupt::Record("leaf keys outside its range"));
            }
        }
        self.mem += data.mem();
        let l = self.leaf_of_mut(id);
        l.lsn = lsn;
        l.data = Some(data);
        l.referenced = true;
        Ok(())
    }

    /// Drop cached leaves until memory is within the bound. Never while
    /// a commit is in flight (its leaves must stay readable) or a batch
    /// is half-built.
    pub fn evict(&mut self) {
        if self.inflight.is_some() || !self.touched.is_empty() {
            return;
        }
        let n = self.nodes.len();
        let mut scanned = 0;
        while self.mem > self.cfg.cache_bytes && scanned < 2 * n {
            scanned += 1;
            self.clock = (self.clock + 1) % n;
            let id = self.clock;
            let node = &mut self.nodes[id];
            if node.dirty || node.addr.is_none() {
                continue;
            }
            let Some(l) = node.leaf_mut() else { continue };
            if l.data.is_none() || l.pending.is_some() || l.touched {
                continue;
            }
            if l.referenced {
                l.referenced = false;
                continue;
            }
            if let Some(d) = l.data.take() {
                self.mem -= d.mem();
            }
        }
    }

    /// Check the whole in-memory structure (tests): key order, bounds,
    /// parent links, heights, counts.
    pub fn check(&self) -> Result<(), String> {
        let mut count = 0u64;
        self.check_node(self.root, NONE, None, None, &mut count)?;
        if self.nodes[self.root as usize]
            .internal()
            .is_some_and(|i| i.children.len() < 2)
        {
            return Err("root parent with one child".into());
        }
        let all_loaded = self
            .nodes
            .iter()
            .all(|n| n.leaf().is_none_or(|l| l.data.is_some()));
        if all_loaded && count != self.npairs {
            return Err(format!("pair count {} != {}", count, self.npairs));
        }
        Ok(())
    }

    fn check_node(
        &self,
        id: NodeId,
        parent: NodeId,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        count: &mut u64,
    ) -> Result<u8, String> {
        let n = &self.nodes[id as usize];
        if n.parent != parent {
            return Err(format!("node {id}: bad parent link"));
        }
        match &n.body {
            Body::Free => Err(format!("node {id} is free but linked")),
            Body::Leaf(l) => {
                if let Some(d) = &l.data {
                    for i in 0..d.len() {
                        let k = d.key(i);
                        if lo.is_some_and(|lo| k < lo) || hi.is_some_and(|hi| k >= hi) {
                            return Err(format!("leaf {id}: key out of range"));
                        }
                        if i > 0 && d.key(i - 1) >= k {
                            return Err(format!("leaf {id}: keys out of order"));
                        }
                    }
                    *count += d.len() as u64;
                    if !self.overlay.is_empty() || self.inflight.is_some() {
                        return Ok(0);
                    }
                    if d.record_len() > self.cfg.leaf_max {
                        return Err(format!("leaf {id}: oversized"));
                    }
                }
                Ok(0)
            }
            Body::Internal(i) => {
                if i.children.is_empty() || i.seps.len() + 1 != i.children.len() {
                    return Err(format!("parent {id}: bad shape"));
                }
                for j in 1..i.seps.len() {
                    if i.seps.get(j - 1) >= i.seps.get(j) {
                        return Err(format!("parent {id}: separators out of order"));
                    }
                }
                for (j, &c) in i.children.iter().enumerate() {
                    let clo = if j == 0 { lo } else { Some(i.seps.get(j - 1)) };
                    let chi = if j == i.seps.len() {
                        hi
                    } else {
                        Some(i.seps.get(j))
                    };
                    if let (Some(a), Some(b)) = (clo, chi)
                        && a >= b
                    {
                        return Err(format!("parent {id}: empty child range"));
                    }
                    let h = self.check_node(c, id, clo, chi, count)?;
                    if h + 1 != i.height {
                        return Err(format!("parent {id}: child height {h}"));
                    }
                }
                Ok(i.height)
            }
        }
    }
}
