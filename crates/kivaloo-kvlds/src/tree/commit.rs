//! Turning a batch into one APPEND: which leaves to rewrite and which
//! changes to log, cleaning, and what happens once the APPEND is durable.

use std::collections::{HashMap, HashSet};

use super::{Body, NONE, NodeId, Tree, internal};
use crate::format::{Addr, COMMIT_LEN, Commit, REC_LOG, put_lstr};

/// The blocks of one APPEND, to be made durable at `first_block`.
pub struct PreparedCommit {
    pub first_block: u64,
    pub blocks: Vec<u8>,
}

impl PreparedCommit {
    pub fn nblocks(&self, block: usize) -> u64 {
        (self.blocks.len() / block) as u64
    }
}

pub(crate) struct Inflight {
    seq: u64,
    commit_pos: u64,
    bytes: u64,
}

impl Tree {
    /// Whether a commit would write anything.
    pub fn wants_commit(&self) -> bool {
        self.inflight.is_none()
            && (!self.overlay.is_empty() || !self.touched.is_empty() || !self.dirty_list.is_empty())
    }

    /// Build the next APPEND from everything applied since the last one,
    /// or None if there is nothing to write. The tree's in-memory state
    /// moves on at once; reads keep seeing the previous commit's values
    /// (through the overlay) until [`Tree::commit_done`].
    pub fn prepare_commit(&mut self) -> Option<PreparedCommit> {
        assert!(self.inflight.is_none(), "one commit at a time");
        if !self.wants_commit() {
            return None;
        }
        let seq = self.seq + 1;
        let start = self.geo.block_start(self.next_block);

        // Log entries this batch would need, per leaf.
        let overlay = std::mem::take(&mut self.overlay);
        let mut keys: Vec<&[u8]> = overlay.keys().map(|k| &k[..]).collect();
        keys.sort_unstable();
        let mut per_leaf: HashMap<NodeId, usize> = HashMap::new();
        let mut entries: Vec<(NodeId, &[u8])> = Vec::with_capacity(keys.len());
        for k in keys {
            let id = self.leaf_for(k);
            let v = self.leaf_of(id).data.as_ref().expect("touched leaf").get(k);
            *per_leaf.entry(id).or_default() += 3 + k.len() + v.map_or(0, |v| 1 + v.len());
            entries.push((id, k));
        }

        // Rewrite a leaf once its log would cost about half of it.
        let touched = std::mem::take(&mut self.touched);
        for &id in &touched {
            let n = self.node(id);
            let Body::Leaf(l) = &n.body else { continue };
            let Some(d) = &l.data else { continue };
            if n.dirty || !l.touched {
                continue;
            }
            let logged = l.logged + per_leaf.get(&id).copied().unwrap_or(0);
            if logged * 2 >= d.record_len() {
                self.mark_dirty(id);
            }
        }
        for &id in &touched {
            if let Some(l) = self.nodes[id as usize].leaf_mut() {
                l.touched = false;
            }
        }

        self.choose_flushes();

        // Everything above a rewritten node is rewritten too.
        let mut i = 0;
        while i < self.dirty_list.len() {
            let mut p = self.node(self.dirty_list[i]).parent;
            while p != NONE && !self.node(p).dirty {
                self.mark_dirty(p);
                p = self.node(p).parent;
            }
            i += 1;
        }

        let mut stream = Vec::with_capacity(64 << 10);
        if self.node(self.root).dirty {
            self.write_subtree(self.root, seq, start, &mut stream);
        }
        for id in std::mem::take(&mut self.dirty_list) {
            self.node_mut(id).dirty = false;
        }

        // Log what the rewritten leaves do not hold.
        let log_pos = start + stream.len() as u64;
        let mut log = Vec::new();
        let mut count = 0u32;
        for (id, k) in entries {
            let l = self.leaf_of(id);
            if l.lsn == seq {
                continue;
            }
            put_lstr(&mut log, k);
            match l.data.as_ref().expect("loaded").get(k) {
                Some(v) => {
                    log.push(1);
                    put_lstr(&mut log, v);
                }
                None => log.push(0),
            }
            count += 1;
            let bytes = per_leaf.get(&id).copied().unwrap_or(0);
            let l = self.leaf_of_mut(id);
            l.logged += bytes;
            if l.pending.is_none() {
                l.pending = Some((seq, start));
                self.pending.insert((seq, start, id));
            }
        }
        let log_addr = if count > 0 {
            stream.push(REC_LOG);
            stream.extend_from_slice(&seq.to_be_bytes());
            stream.extend_from_slice(&count.to_be_bytes());
            stream.extend_from_slice(&log);
            self.stats.log_bytes += 13 + log.len() as u64;
            Addr {
                pos: log_pos,
                len: 13 + log.len() as u32,
            }
        } else {
            Addr { pos: 0, len: 0 }
        };

        let (log_start_seq, log_start_pos) = match self.pending.first() {
            Some(&(s, p, _)) => (s, p),
            None => (seq + 1, u64::MAX),
        };
        let root = self.node(self.root);
        let commit_pos = self.geo.commit_pos(start + stream.len() as u64);
        let c = Commit {
            seq,
            root: root.addr.expect("root written"),
            root_height: self.height(),
            prev: if self.seq == 0 {
                u64::MAX
            } else {
                self.last_commit_pos
            },
            log: log_addr,
            log_start_seq,
            log_start_pos,
            append_start: start,
            npairs: self.npairs,
            node_bytes: self.node_bytes,
        };
        stream.resize((commit_pos - start) as usize, 0);
        c.encode(&mut stream);
        debug_assert_eq!(stream.len() as u64 + start, commit_pos + COMMIT_LEN as u64);
        let blocks = self.geo.seal(self.next_block, &stream);
        self.overlay = overlay;
        self.inflight = Some(Inflight {
            seq,
            commit_pos,
            bytes: stream.len() as u64,
        });
        self.stats.commits += 1;
        self.stats.bytes_appended += blocks.len() as u64;
        Some(PreparedCommit {
            first_block: self.next_block,
            blocks,
        })
    }

    /// Pick logged leaves to rewrite: those whose log is older than the
    /// log budget or the cleaning line, and enough of the oldest to keep
    /// logged leaves (which cannot be evicted) within half the cache.
    /// Siblings with logged changes go along, sharing the parent's rewrite.
    /// Loaded leaves below the cleaning line are rewritten as well.
    fn choose_flushes(&mut self) {
        let next_pos = self.geo.block_start(self.next_block);
        let window = next_pos.saturating_sub(self.node_bytes / 3 + self.cfg.log_slack);
        let floor = window.max(self.clean_below);
        let max_pending = (self.cfg.cache_bytes / 2 / self.cfg.leaf_max).max(16);
        let mut chosen: HashSet<NodeId> = HashSet::new();
        let mut remaining = self.pending.len();
        let mut parents_done: HashSet<NodeId> = HashSet::new();
        let pend: Vec<(u64, u64, NodeId)> = self.pending.iter().copied().collect();
        for (_, pos, id) in pend {
            if pos >= floor && remaining <= max_pending {
                break;
            }
            if chosen.contains(&id) {
                continue;
            }
            chosen.insert(id);
            remaining -= 1;
            let p = self.node(id).parent;
            if p != NONE && parents_done.insert(p) {
                for &c in &self.internal_of(p).children {
                    if c != id
                        && self.leaf_of_opt(c).is_some_and(|l| l.pending.is_some())
                        && chosen.insert(c)
                    {
                        remaining -= 1;
                    }
                }
            }
        }
        for id in chosen {
            self.mark_dirty(id);
        }
        if self.clean_below > 0 {
            let mut old = Vec::new();
            self.collect_old(self.root, self.clean_below, true, usize::MAX, &mut old);
            self.stats.leaves_cleaned += old.len() as u64;
            for id in old {
                self.mark_dirty(id);
            }
        }
    }

    pub(crate) fn leaf_of_opt(&self, id: NodeId) -> Option<&super::Leaf> {
        match &self.nodes[id as usize].body {
            Body::Leaf(l) => Some(l),
            _ => None,
        }
    }

    /// Leaves written before `below` (loaded ones if `loaded`, else the
    /// ones that must be fetched first, at most `limit`), plus their
    /// siblings written before `line`: a parent is rewritten with every
    /// leaf cleaned under it, so cleaning several of its older children at
    /// once shares that cost.
    fn collect_old(
        &self,
        id: NodeId,
        below: u64,
        loaded: bool,
        limit: usize,
        out: &mut Vec<NodeId>,
    ) {
        let n = self.node(id);
        if n.oldest >= below || out.len() >= limit {
            return;
        }
        match &n.body {
            Body::Internal(i) if i.height == 1 => {
                let line = below.max(self.sibling_line());
                for &c in &i.children {
                    let cn = self.node(c);
                    let Body::Leaf(l) = &cn.body else { continue };
                    if cn.oldest < line && l.data.is_some() == loaded && !cn.dirty {
                        out.push(c);
                    }
                }
            }
            Body::Internal(i) => {
                for &c in &i.children {
                    self.collect_old(c, below, loaded, limit, out);
                }
            }
            Body::Leaf(l) => {
                if l.data.is_some() == loaded && !n.dirty {
                    out.push(id);
                }
            }
            Body::Free => {}
        }
    }

    /// Leaves in the oldest third of the span are cleaned along with a
    /// sibling that must be.
    fn sibling_line(&self) -> u64 {
        let tail = self.tail();
        let next = self.geo.block_start(self.next_block);
        tail + next.saturating_sub(tail) / 3
    }

    /// Leaves the cleaner wants rewritten that are not in memory: fetch
    /// them ([`Tree::fetch_plan`], [`Tree::install`]) before the next
    /// commit, which then rewrites them.
    pub fn clean_wanted(&self, limit: usize) -> Vec<NodeId> {
        let mut out = Vec::new();
        if self.clean_below > 0 {
            self.collect_old(self.root, self.clean_below, false, limit, &mut out);
        }
        out
    }

    /// Serialize dirty nodes under `id` in post-order (children first, so
    /// each parent can record where they went).
    fn write_subtree(&mut self, id: NodeId, seq: u64, start: u64, out: &mut Vec<u8>) {
        let kids: Vec<NodeId> = match &self.node(id).body {
            Body::Internal(i) => i.children.clone(),
            _ => Vec::new(),
        };
        for &c in &kids {
            if self.node(c).dirty {
                self.write_subtree(c, seq, start, out);
            }
        }
        let pos = start + out.len() as u64;
        let oldest;
        match &self.node(id).body {
            Body::Leaf(l) => {
                l.data.as_ref().expect("dirty leaf loaded").encode(seq, out);
                oldest = pos;
            }
            Body::Internal(i) => {
                let refs: Vec<internal::ChildRef> = i
                    .children
                    .iter()
                    .map(|&c| {
                        let n = self.node(c);
                        internal::ChildRef {
                            addr: n.addr.expect("child written"),
                            oldest: n.oldest,
                        }
                    })
                    .collect();
                oldest = refs.iter().map(|r| r.oldest).min().unwrap_or(pos).min(pos);
                internal::encode(i.height, &refs, &i.seps, out);
            }
            Body::Free => unreachable!("free node in tree"),
        }
        let len = (start + out.len() as u64 - pos) as u32;
        let node = self.node_mut(id);
        let old = node.addr.replace(Addr { pos, len });
        node.oldest = oldest;
        self.node_bytes = self.node_bytes + u64::from(len) - old.map_or(0, |a| u64::from(a.len));
        if let Some(l) = self.nodes[id as usize].leaf_mut() {
            l.lsn = seq;
            l.logged = 0;
            if let Some((s, p)) = l.pending.take() {
                self.pending.remove(&(s, p, id));
            }
            self.stats.leaves_written += 1;
        }
    }

    /// The APPEND is durable; the store's next block is `next_block`.
    /// Returns the block number below which the store may free blocks.
    pub fn commit_done(&mut self, next_block: u64) -> u64 {
        let f = self.inflight.take().expect("commit in flight");
        self.seq = f.seq;
        self.last_commit_pos = f.commit_pos;
        self.next_block = next_block;
        self.last_append_bytes = f.bytes;
        self.overlay.clear();
        self.plan_cleaning();
        self.evict();
        self.keep_from()
    }

    /// Keep the span from the oldest needed record to the end within
    /// 1.5× the live tree: when it is over, the next commit rewrites the
    /// oldest leaves, moving the tail by what the last APPEND wrote (so
    /// the span stops growing) plus an eighth of the excess (so it
    /// shrinks back).
    fn plan_cleaning(&mut self) {
        self.clean_below = 0;
        if !self.cfg.cleaning {
            return;
        }
        let tail = self.tail();
        let span = self.geo.block_start(self.next_block).saturating_sub(tail);
        let target = self.node_bytes + self.node_bytes / 2 + self.cfg.span_slack;
        if span > target {
            let advance = self.last_append_bytes + (span - target) / 8;
            self.clean_below = tail.saturating_add(advance);
        }
    }
}
