//! Start-up: find the last commit, load every parent, replay the log.
//!
//! The last commit is the newest block that is a valid commit block: lbs
//! never makes the last block of an APPEND durable before the others, so
//! a commit block proves its APPEND complete; blocks after it belong to
//! an APPEND that was cut short and was never acknowledged.
//!
//! Replay applies the logged pair changes of every commit from the
//! oldest one still needed, in order, to the leaves of the last commit's
//! tree, skipping a change when the leaf was written at or after the
//! commit that logged it (its record already holds it). Merges are off
//! during replay: a merged leaf would mix two leaves' commit numbers.
//! Everything replay touched is then rewritten in one commit.

use std::collections::{BTreeSet, HashMap};

use super::leaf::LeafData;
use super::{Body, Config, Internal, Leaf, NONE, Node, Stats, Tree, internal};
use crate::db;
use crate::error::{Corrupt, Error};
use crate::format::{Addr, COMMIT_LEN, Commit, Geometry, REC_LOG, Reader};
use crate::store::BlockStore;

/// Blocks read per request while looking for the last commit.
const SCAN_BATCH: u64 = 64;

impl Tree {
    fn blank(cfg: Config, geo: Geometry, next_block: u64) -> Tree {
        Tree {
            cfg,
            geo,
            nodes: Vec::new(),
            free_ids: Vec::new(),
            root: NONE,
            seq: 0,
            last_commit_pos: 0,
            next_block,
            npairs: 0,
            node_bytes: 0,
            pending: BTreeSet::new(),
            overlay: HashMap::new(),
            touched: Vec::new(),
            dirty_list: Vec::new(),
            inflight: None,
            clean_below: 0,
            last_append_bytes: 0,
            mem: 0,
            clock: 0,
            replaying: false,
            stats: Stats::default(),
        }
    }

    /// Open the tree in `store`, creating it if the store is empty, and
    /// replaying the log if the last run stopped with logged changes.
    pub fn open<S: BlockStore>(store: &mut S, cfg: Config) -> Result<Tree, Error> {
        let p = store.params()?;
        cfg.validate(p.block_size).map_err(Error::Config)?;
        let geo = Geometry {
            block: p.block_size,
        };
        let mut t = Tree::blank(cfg, geo, p.next_block);
        let Some((commit, commit_pos)) = find_last_commit(store, geo, p.next_block)? else {
            t.root = t.alloc(Node {
                parent: NONE,
                addr: None,
                oldest: u64::MAX,
                dirty: false,
                body: Body::Leaf(Leaf {
                    data: Some(LeafData::default()),
                    lsn: 0,
                    pending: None,
                    logged: 0,
                    touched: false,
                    referenced: true,
                }),
            });
            t.mark_dirty(t.root);
            db::commit_sync(&mut t, store)?;
            return Ok(t);
        };
        t.seq = commit.seq;
        t.last_commit_pos = commit_pos;
        t.npairs = commit.npairs;
        t.node_bytes = commit.node_bytes;
        t.load_parents(store, &commit)?;
        t.replay(store, &commit)?;
        // Parents from disk are trusted only once they form a valid tree
        // (the pair count holds only after the log is replayed).
        t.check().map_err(|_| Corrupt::Record("tree structure"))?;
        if t.wants_commit() {
            db::commit_sync(&mut t, store)?;
        }
        Ok(t)
    }

    /// Load the root and every parent, level by level; leaves get slots.
    fn load_parents<S: BlockStore>(&mut self, store: &mut S, c: &Commit) -> Result<(), Error> {
        // (parent, index in parent, address, oldest, height)
        let mut level = vec![(NONE, 0usize, c.root, c.root.pos, c.root_height)];
        while !level.is_empty() {
            let addrs: Vec<Addr> = level.iter().map(|e| e.2).collect();
            let recs = read_records(store, self.geo, &addrs)?;
            let mut next = Vec::new();
            for ((parent, idx, addr, oldest, height), rec) in level.into_iter().zip(recs) {
                let id = if height == 0 {
                    // Only a root can be reached as a leaf here: leaves
                    // under a parent get slots and are read on demand.
                    let (lsn, data) = LeafData::decode(&rec)?;
                    self.mem += data.mem();
                    self.alloc(Node {
                        parent,
                        addr: Some(addr),
                        oldest,
                        dirty: false,
                        body: Body::Leaf(Leaf {
                            data: Some(data),
                            lsn,
                            pending: None,
                            logged: 0,
                            touched: false,
                            referenced: true,
                        }),
                    })
                } else {
                    let d = internal::decode(&rec)?;
                    if d.height != height {
                        return Err(Corrupt::Record("parent height").into());
                    }
                    let body = Internal {
                        height,
                        seps: d.seps,
                        children: vec![NONE; d.children.len()],
                    };
                    self.mem += body.record_len() + 64;
                    let id = self.alloc(Node {
                        parent,
                        addr: Some(addr),
                        oldest,
                        dirty: false,
                        body: Body::Internal(body),
                    });
                    for (i, cr) in d.children.into_iter().enumerate() {
                        if height == 1 {
                            let leaf = self.alloc(Node {
                                parent: id,
                                addr: Some(cr.addr),
                                oldest: cr.oldest,
                                dirty: false,
                                body: Body::Leaf(Leaf {
                                    data: None,
                                    lsn: 0,
                                    pending: None,
                                    logged: 0,
                                    touched: false,
                                    referenced: false,
                                }),
                            });
                            self.internal_of_mut(id).children[i] = leaf;
                        } else {
                            next.push((id, i, cr.addr, cr.oldest, height - 1));
                        }
                    }
                    id
                };
                if parent == NONE {
                    self.root = id;
                } else {
                    self.internal_of_mut(parent).children[idx] = id;
                }
            }
            level = next;
        }
        let root = self.root;
        if let Some(i) = self.node(root).internal() {
            let m = i.children.iter().map(|&c| self.node(c).oldest).min();
            let n = self.node_mut(root);
            n.oldest = m.unwrap_or(n.oldest).min(n.oldest);
        }
        Ok(())
    }

    fn replay<S: BlockStore>(&mut self, store: &mut S, last: &Commit) -> Result<(), Error> {
        let mut logs = Vec::new();
        let mut c = *last;
        while c.seq >= last.log_start_seq {
            if c.log.len > 0 {
                logs.push((c.seq, c.log));
            }
            if c.seq == last.log_start_seq || c.prev == u64::MAX {
                break;
            }
            let blk = c.prev / self.geo.payload();
            let raw = store.get(&[blk])?.pop().flatten();
            let raw = raw.ok_or(Corrupt::MissingBlock(blk))?;
            let prev = self
                .geo
                .commit_of(blk, &raw)
                .ok_or(Corrupt::BadBlock(blk))?;
            if prev.seq + 1 != c.seq {
                return Err(Corrupt::Record("commit chain").into());
            }
            c = prev;
        }
        logs.reverse();
        // The commit's pair count already includes the logged changes.
        let npairs = self.npairs;
        self.replaying = true;
        for (seq, addr) in logs {
            let rec = read_records(store, self.geo, &[addr])?.pop().expect("one");
            let entries = parse_log(&rec, seq)?;
            let missing = self.missing_for(entries.iter().map(|e| &e.0[..]));
            db::load_leaves(self, store, &missing)?;
            for (k, v) in entries {
                let id = self.leaf_for(&k);
                if self.leaf_of(id).data.is_none() {
                    db::load_leaves(self, store, &[id])?;
                }
                if self.leaf_of(id).lsn < seq {
                    self.put_in_leaf(id, &k, v.as_deref());
                }
            }
        }
        self.replaying = false;
        self.npairs = npairs;
        for id in self.touched.clone() {
            if self.leaf_of_opt(id).is_some() {
                self.mark_dirty(id);
            }
        }
        Ok(())
    }
}

type LogEntry = (Vec<u8>, Option<Vec<u8>>);

fn parse_log(rec: &[u8], seq: u64) -> Result<Vec<LogEntry>, Corrupt> {
    let mut r = Reader::new(rec);
    if r.u8()? != REC_LOG || r.u64()? != seq {
        return Err(Corrupt::Record("log record"));
    }
    let n = r.u32()?;
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let k = r.lstr()?.to_vec();
        let v = match r.u8()? {
            0 => None,
            1 => Some(r.lstr()?.to_vec()),
            _ => return Err(Corrupt::Record("log entry")),
        };
        out.push((k, v));
    }
    if !r.done() {
        return Err(Corrupt::Record("trailing bytes in log"));
    }
    Ok(out)
}

/// Read whole records (each may span blocks), with one batched GET.
pub(crate) fn read_records<S: BlockStore>(
    store: &mut S,
    geo: Geometry,
    addrs: &[Addr],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut want: Vec<u64> = Vec::new();
    for &a in addrs {
        let (first, n) = geo.blocks_of(a);
        want.extend(first..first + n);
    }
    want.sort_unstable();
    want.dedup();
    let mut got: HashMap<u64, Vec<u8>> = HashMap::with_capacity(want.len());
    for chunk in want.chunks(4096) {
        for (b, blk) in chunk.iter().zip(store.get(chunk)?) {
            got.insert(*b, blk.ok_or(Corrupt::MissingBlock(*b))?);
        }
    }
    let p = geo.payload();
    let mut out = Vec::with_capacity(addrs.len());
    for &a in addrs {
        let mut rec = Vec::with_capacity(a.len as usize);
        let (first, n) = geo.blocks_of(a);
        for b in first..first + n {
            let payload = geo.check_block(b, &got[&b])?;
            let lo = a.pos.max(b * p) - b * p;
            let hi = (a.pos + u64::from(a.len)).min((b + 1) * p) - b * p;
            rec.extend_from_slice(&payload[lo as usize..hi as usize]);
        }
        out.push(rec);
    }
    Ok(out)
}

/// The newest valid commit (and its stream position), or None for a
/// store holding only the remains of a first APPEND that never finished.
fn find_last_commit<S: BlockStore>(
    store: &mut S,
    geo: Geometry,
    next: u64,
) -> Result<Option<(Commit, u64)>, Error> {
    let mut hi = next;
    while hi > 0 {
        let lo = hi.saturating_sub(SCAN_BATCH);
        let blknos: Vec<u64> = (lo..hi).rev().collect();
        for (b, blk) in blknos.iter().zip(store.get(&blknos)?) {
            let Some(blk) = blk else {
                return Err(Corrupt::NoCommit.into());
            };
            match geo.block_kind(*b, &blk) {
                Some(true) => {
                    let c = geo.commit_of(*b, &blk).ok_or(Corrupt::BadBlock(*b))?;
                    let pos = geo.block_start(*b) + geo.payload() - COMMIT_LEN as u64;
                    return Ok(Some((c, pos)));
                }
                Some(false) => {}
                None => return Err(Corrupt::BadBlock(*b).into()),
            }
        }
        hi = lo;
    }
    Ok(None)
}
