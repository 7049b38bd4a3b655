//! The kvlds daemon's logic without sockets: packets in, bytes out.
//!
//! The shell ([`super::run`]) feeds it the bytes read from the client and
//! from lbs, and writes out what it leaves in `client_out` / `lbs_out`.
//! Reads (GET, RANGE) are answered from the last commit, at once when
//! their leaves are cached, else once lbs has returned the blocks.
//! Modifying requests queue; a batch takes the whole queue as soon as no
//! commit is in flight (group commit: requests that arrive during an
//! fsync make up the next batch), and their answers are written only once
//! lbs has acknowledged the APPEND holding the batch.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use kivaloo_wire::frame::{self, Decoded, FrameDecoder, FrameError};
use kivaloo_wire::kvlds::{self as wk, KvldsRequest, KvldsResponse};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

use crate::format::Addr;
use crate::tree::{Lookup, Mr, NodeId, RangeOut, Tree};

/// Responses owed before kvlds stops reading from its client (upstream's
/// MAXREQS).
pub const MAX_OWED: usize = 4096;
/// Largest batch of modifying requests in one commit; also at most a
/// quarter of the cache in leaves (as upstream), so that a batch's
/// working set stays near the memory bound.
const MAX_BATCH: usize = 16384;
/// Leaves fetched ahead for the cleaner at a time.
const CLEAN_FETCH: usize = 256;

/// Why the client connection must be dropped.
#[derive(Debug, thiserror::Error)]
pub enum Drop {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("bad request: {0}")]
    Decode(#[from] kivaloo_wire::DecodeError),
    #[error("key or value longer than the limits")]
    TooLong,
}

/// Why kvlds must stop.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("lbs connection: {0}")]
    Lbs(String),
    #[error(transparent)]
    Corrupt(#[from] crate::error::Corrupt),
}

pub struct Options {
    pub kmax: usize,
    pub vmax: usize,
    /// `-w`: wait this long after the first queued request before
    /// starting a batch (0: as soon as the input at hand is processed).
    pub commit_delay: Duration,
    /// `-g`: start a batch at once when this many requests are queued.
    pub commit_count: Option<usize>,
}

enum LbsOp {
    Get { leaf: NodeId, index: usize },
    Append { last: bool },
    Free,
}

struct Fetch {
    addr: Addr,
    first: u64,
    blocks: Vec<u8>,
    missing: usize,
    waiters: Vec<Waiter>,
}

#[derive(Clone, Copy)]
enum Waiter {
    Get(u64),
    Range(u64),
    /// The batch with this number.
    Batch(u64),
    Clean,
}

struct PendingGet {
    conn: u64,
    id: u64,
    key: Vec<u8>,
}

struct PendingRange {
    conn: u64,
    id: u64,
    start: Vec<u8>,
    end: Vec<u8>,
    max: u32,
    waiting: usize,
}

enum Batch {
    Idle,
    /// Waiting for leaves before applying.
    Fetching {
        seq: u64,
        who: Vec<(u64, u64)>,
        mrs: Vec<Mr>,
        waiting: usize,
    },
    /// The APPEND is in flight.
    Committing {
        answers: Vec<(u64, u64, u32)>,
        chunks: VecDeque<(u64, Vec<u8>)>,
    },
}

pub struct Core {
    tree: Tree,
    opts: Options,
    block: u32,
    /// Current client connection; answers to older ones are dropped.
    conn: u64,
    pub client_out: Vec<u8>,
    pub lbs_out: Vec<u8>,
    owed: usize,
    next_lbs_id: u64,
    lbs_ops: HashMap<u64, LbsOp>,
    fetches: HashMap<NodeId, Fetch>,
    gets: HashMap<u64, PendingGet>,
    ranges: HashMap<u64, PendingRange>,
    next_token: u64,
    queue: VecDeque<(u64, u64, Mr)>,
    first_queued: Option<Instant>,
    batch: Batch,
    batch_seq: u64,
    deferred: Vec<u64>,
    freed: u64,
    free_in_flight: bool,
    client_in: Vec<u8>,
    lbs_in: Vec<u8>,
}

impl Core {
    pub fn new(tree: Tree, opts: Options, next_lbs_id: u64) -> Core {
        let block = tree.block_size() as u32;
        let freed = tree.keep_from();
        Core {
            tree,
            opts,
            block,
            conn: 0,
            client_out: Vec::new(),
            lbs_out: Vec::new(),
            owed: 0,
            next_lbs_id,
            lbs_ops: HashMap::new(),
            fetches: HashMap::new(),
            gets: HashMap::new(),
            ranges: HashMap::new(),
            next_token: 0,
            queue: VecDeque::new(),
            first_queued: None,
            batch: Batch::Idle,
            batch_seq: 0,
            deferred: Vec::new(),
            freed,
            free_in_flight: false,
            client_in: Vec::new(),
            lbs_in: Vec::new(),
        }
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// A new client connection starts.
    pub fn new_client(&mut self) {
        self.conn += 1;
        self.owed = 0;
        self.client_in.clear();
        self.client_out.clear();
    }

    /// The client went away: its pending answers will be dropped (its
    /// queued writes are still committed).
    pub fn client_gone(&mut self) {
        self.conn += 1;
        self.owed = 0;
        self.client_in.clear();
        self.client_out.clear();
    }

    /// Whether to read more client input (flow control).
    pub fn wants_client_input(&self) -> bool {
        self.owed < MAX_OWED
    }

    /// Nothing left to do for past clients: no queued or committing
    /// writes, no fetches.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && matches!(self.batch, Batch::Idle) && self.lbs_ops.is_empty()
    }

    /// When [`Core::tick`] must run next for a delayed batch.
    pub fn deadline(&self) -> Option<Instant> {
        self.first_queued.map(|t| t + self.opts.commit_delay)
    }

    // ---- client side ----

    pub fn client_bytes(&mut self, data: &[u8]) -> Result<(), Drop> {
        self.client_in.extend_from_slice(data);
        let dec = FrameDecoder::new(wk::MAX_REQUEST_RECORD);
        let mut at = 0;
        let mut buf = std::mem::take(&mut self.client_in);
        let res = loop {
            match dec.decode(&buf[at..]) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    at += consumed;
                    if let Err(e) = self.request(packet.id, packet.record) {
                        break Err(e);
                    }
                }
                Ok(Decoded::Incomplete { .. }) => break Ok(()),
                Err(e) => break Err(Drop::Frame(e)),
            }
        };
        buf.drain(..at);
        self.client_in = buf;
        self.maybe_start_batch(Instant::now());
        self.tree_maintenance();
        res
    }

    fn request(&mut self, id: u64, record: &[u8]) -> Result<(), Drop> {
        let req = KvldsRequest::decode(record)?;
        if req.exceeds_limits(self.opts.kmax, self.opts.vmax) {
            return Err(Drop::TooLong);
        }
        self.owed += 1;
        let conn = self.conn;
        let mr = match req {
            KvldsRequest::Params => {
                let r = KvldsResponse::Params {
                    kmax: self.opts.kmax as u32,
                    vmax: self.opts.vmax as u32,
                };
                self.respond(conn, id, |out| r.encode(out).expect("fits"));
                return Ok(());
            }
            KvldsRequest::Get { key } => {
                self.get(conn, id, key);
                return Ok(());
            }
            KvldsRequest::Range { max, start, end } => {
                let t = self.token();
                self.ranges.insert(
                    t,
                    PendingRange {
                        conn,
                        id,
                        start: start.to_vec(),
                        end: end.to_vec(),
                        max,
                        waiting: 0,
                    },
                );
                self.range(t);
                return Ok(());
            }
            KvldsRequest::Set { key, value } => Mr::Set {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            KvldsRequest::Cas { key, oval, value } => Mr::Cas {
                key: key.to_vec(),
                old: oval.to_vec(),
                value: value.to_vec(),
            },
            KvldsRequest::Add { key, value } => Mr::Add {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            KvldsRequest::Modify { key, value } => Mr::Modify {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            KvldsRequest::Delete { key } => Mr::Delete { key: key.to_vec() },
            KvldsRequest::Cad { key, oval } => Mr::Cad {
                key: key.to_vec(),
                old: oval.to_vec(),
            },
        };
        if self.queue.is_empty() {
            self.first_queued = Some(Instant::now());
        }
        self.queue.push_back((conn, id, mr));
        Ok(())
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn respond(&mut self, conn: u64, id: u64, f: impl FnOnce(&mut Vec<u8>)) {
        if conn != self.conn {
            return;
        }
        self.owed = self.owed.saturating_sub(1);
        let p = frame::begin(&mut self.client_out, id);
        f(&mut self.client_out);
        frame::finish(&mut self.client_out, p);
    }

    fn get(&mut self, conn: u64, id: u64, key: &[u8]) {
        if conn != self.conn {
            return;
        }
        // An over-long key is simply absent.
        let found = match self.tree.get(key) {
            Lookup::Found(v) => Some(Some(v.to_vec())),
            Lookup::Absent => Some(None),
            Lookup::Missing(leaf) => {
                let t = self.token();
                self.gets.insert(
                    t,
                    PendingGet {
                        conn,
                        id,
                        key: key.to_vec(),
                    },
                );
                self.fetch(leaf, Waiter::Get(t));
                None
            }
        };
        if let Some(v) = found {
            self.respond(conn, id, |out| {
                KvldsResponse::Get(v.as_deref())
                    .encode(out)
                    .expect("value fits")
            });
        }
    }

    fn range(&mut self, t: u64) {
        let Some(r) = self.ranges.get(&t) else { return };
        if r.conn != self.conn {
            self.ranges.remove(&t);
            return;
        }
        if self.tree.has_uncommitted() || self.tree.commit_in_flight() {
            // RANGE reads the committed tree only; wait for the commit.
            self.deferred.push(t);
            return;
        }
        let (start, end, max) = (r.start.clone(), r.end.clone(), r.max);
        match self.tree.range(&start, &end, max) {
            RangeOut::Done { pairs, next } => {
                let r = self.ranges.remove(&t).expect("pending");
                self.respond(r.conn, r.id, |out| {
                    wk::encode_range_response(
                        out,
                        &next,
                        pairs.iter().map(|(k, v)| (&k[..], &v[..])),
                    )
                    .expect("pairs fit")
                });
            }
            RangeOut::Missing(leaves) => {
                let n = leaves.len();
                self.ranges.get_mut(&t).expect("pending").waiting = n;
                for l in leaves {
                    self.fetch(l, Waiter::Range(t));
                }
            }
        }
    }

    // ---- batches ----

    /// Start a batch if none is running and the commit policy allows.
    pub fn maybe_start_batch(&mut self, now: Instant) {
        if !matches!(self.batch, Batch::Idle) || self.queue.is_empty() {
            return;
        }
        let due = self.opts.commit_delay.is_zero()
            || self
                .first_queued
                .is_some_and(|t| now >= t + self.opts.commit_delay)
            || self
                .opts
                .commit_count
                .is_some_and(|g| self.queue.len() >= g);
        if !due {
            return;
        }
        let cfg = self.tree.config();
        let limit = (cfg.cache_bytes / cfg.leaf_max / 4).clamp(16, MAX_BATCH);
        let n = self.queue.len().min(limit);
        let (mut who, mut mrs) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (g, id, mr) in self.queue.drain(..n) {
            who.push((g, id));
            mrs.push(mr);
        }
        self.first_queued = if self.queue.is_empty() {
            None
        } else {
            Some(now)
        };
        self.batch_seq += 1;
        self.batch = Batch::Fetching {
            seq: self.batch_seq,
            who,
            mrs,
            waiting: 0,
        };
        self.try_apply();
    }

    fn try_apply(&mut self) {
        let Batch::Fetching {
            seq,
            mrs,
            waiting: 0,
            ..
        } = &self.batch
        else {
            return;
        };
        let seq = *seq;
        match self.tree.apply(mrs) {
            Err(missing) => {
                if let Batch::Fetching { waiting, .. } = &mut self.batch {
                    *waiting = missing.len();
                }
                for l in missing {
                    self.fetch(l, Waiter::Batch(seq));
                }
            }
            Ok(status) => {
                let Batch::Fetching { who, .. } = std::mem::replace(&mut self.batch, Batch::Idle)
                else {
                    unreachable!("batch state")
                };
                let answers = who
                    .into_iter()
                    .zip(status)
                    .map(|((g, id), s)| (g, id, s))
                    .collect();
                self.batch = Batch::Committing {
                    answers,
                    chunks: VecDeque::new(),
                };
                self.commit();
            }
        }
    }

    /// Serialize the commit and send its APPEND (in pieces of at most
    /// lbs's limit, one at a time).
    fn commit(&mut self) {
        let Some(c) = self.tree.prepare_commit() else {
            self.commit_finished(None);
            return;
        };
        let b = self.block as usize;
        let max = (65_536 * b).min(256 << 20) / b * b;
        let mut chunks = VecDeque::new();
        let mut blk = c.first_block;
        for piece in c.blocks.chunks(max) {
            chunks.push_back((blk, piece.to_vec()));
            blk += (piece.len() / b) as u64;
        }
        if let Batch::Committing { chunks: c, .. } = &mut self.batch {
            *c = chunks;
        }
        self.send_next_chunk();
    }

    fn send_next_chunk(&mut self) {
        let Batch::Committing { chunks, .. } = &mut self.batch else {
            return;
        };
        let Some((blkno, data)) = chunks.pop_front() else {
            return;
        };
        let last = chunks.is_empty();
        let nblks = (data.len() / self.block as usize) as u32;
        let id = self.lbs_id(LbsOp::Append { last });
        let p = frame::begin(&mut self.lbs_out, id);
        LbsRequest::encode_append_header(&mut self.lbs_out, nblks, blkno);
        self.lbs_out.extend_from_slice(&data);
        frame::finish(&mut self.lbs_out, p);
    }

    fn commit_finished(&mut self, next_block: Option<u64>) {
        if let Some(next) = next_block {
            self.tree.commit_done(next);
        }
        let Batch::Committing { answers, .. } = std::mem::replace(&mut self.batch, Batch::Idle)
        else {
            return;
        };
        for (conn, id, s) in answers {
            self.respond(conn, id, |out| {
                KvldsResponse::Status(s).encode(out).expect("status")
            });
        }
        for t in std::mem::take(&mut self.deferred) {
            self.range(t);
        }
        self.clean_ahead();
        self.maybe_start_batch(Instant::now());
    }

    /// Fetch the leaves the cleaner will want in the next commit.
    fn clean_ahead(&mut self) {
        for l in self.tree.clean_wanted(CLEAN_FETCH) {
            if !self.fetches.contains_key(&l) {
                self.fetch(l, Waiter::Clean);
            }
        }
    }

    /// Evict and send FREE when it is safe to.
    fn tree_maintenance(&mut self) {
        if matches!(self.batch, Batch::Idle) {
            self.tree.evict();
        }
    }

    /// Once a second: tell lbs what it may delete; commit waiting
    /// cleaned leaves if no batch came along.
    pub fn tick(&mut self, now: Instant) {
        let keep = self.tree.keep_from();
        if keep > self.freed && !self.free_in_flight {
            self.freed = keep;
            self.free_in_flight = true;
            let id = self.lbs_id(LbsOp::Free);
            let p = frame::begin(&mut self.lbs_out, id);
            LbsRequest::Free { keep_from: keep }.encode(&mut self.lbs_out);
            frame::finish(&mut self.lbs_out, p);
        }
        self.maybe_start_batch(now);
        if matches!(self.batch, Batch::Idle) && self.tree.wants_commit() {
            self.batch = Batch::Committing {
                answers: Vec::new(),
                chunks: VecDeque::new(),
            };
            self.commit();
        }
        self.tree_maintenance();
    }

    // ---- lbs side ----

    fn lbs_id(&mut self, op: LbsOp) -> u64 {
        let id = self.next_lbs_id;
        self.next_lbs_id += 1;
        self.lbs_ops.insert(id, op);
        id
    }

    fn fetch(&mut self, leaf: NodeId, w: Waiter) {
        if let Some(f) = self.fetches.get_mut(&leaf) {
            f.waiters.push(w);
            return;
        }
        let Some((addr, first, n)) = self.tree.fetch_plan(leaf) else {
            // Loaded meanwhile: act as if it had just arrived.
            self.wake(w);
            return;
        };
        self.fetches.insert(
            leaf,
            Fetch {
                addr,
                first,
                blocks: vec![0; n as usize * self.block as usize],
                missing: n as usize,
                waiters: vec![w],
            },
        );
        for index in 0..n as usize {
            let id = self.lbs_id(LbsOp::Get { leaf, index });
            let p = frame::begin(&mut self.lbs_out, id);
            LbsRequest::Get {
                blkno: first + index as u64,
            }
            .encode(&mut self.lbs_out);
            frame::finish(&mut self.lbs_out, p);
        }
    }

    fn wake(&mut self, w: Waiter) {
        match w {
            Waiter::Get(t) => {
                if let Some(g) = self.gets.remove(&t) {
                    self.get(g.conn, g.id, &g.key);
                }
            }
            Waiter::Range(t) => {
                if let Some(r) = self.ranges.get_mut(&t) {
                    r.waiting = r.waiting.saturating_sub(1);
                    if r.waiting == 0 {
                        self.range(t);
                    }
                }
            }
            Waiter::Batch(n) => {
                if let Batch::Fetching { seq, waiting, .. } = &mut self.batch
                    && *seq == n
                {
                    *waiting = waiting.saturating_sub(1);
                    self.try_apply();
                }
            }
            Waiter::Clean => {}
        }
    }

    pub fn lbs_bytes(&mut self, data: &[u8]) -> Result<(), Fatal> {
        self.lbs_in.extend_from_slice(data);
        let dec = FrameDecoder::new(self.block as usize + 64);
        let mut buf = std::mem::take(&mut self.lbs_in);
        let mut at = 0;
        let res = loop {
            match dec.decode(&buf[at..]) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    at += consumed;
                    if let Err(e) = self.lbs_response(packet.id, packet.record) {
                        break Err(e);
                    }
                }
                Ok(Decoded::Incomplete { .. }) => break Ok(()),
                Err(e) => break Err(Fatal::Lbs(e.to_string())),
            }
        };
        buf.drain(..at);
        self.lbs_in = buf;
        self.tree_maintenance();
        res
    }

    fn lbs_response(&mut self, id: u64, rec: &[u8]) -> Result<(), Fatal> {
        let op = self
            .lbs_ops
            .remove(&id)
            .ok_or_else(|| Fatal::Lbs(format!("response to unknown request {id}")))?;
        let kind = match op {
            LbsOp::Get { .. } => LbsRequestKind::Get,
            LbsOp::Append { .. } => LbsRequestKind::Append,
            LbsOp::Free => LbsRequestKind::Free,
        };
        let resp =
            LbsResponse::decode(kind, rec, self.block).map_err(|e| Fatal::Lbs(e.to_string()))?;
        match (op, resp) {
            (LbsOp::Get { leaf, index }, LbsResponse::Get(Some(data))) => {
                let f = self.fetches.get_mut(&leaf).expect("fetch");
                let b = self.block as usize;
                f.blocks[index * b..(index + 1) * b].copy_from_slice(data);
                f.missing -= 1;
                if f.missing == 0 {
                    let f = self.fetches.remove(&leaf).expect("fetch");
                    self.tree.install(leaf, f.addr, f.first, &f.blocks)?;
                    for w in f.waiters {
                        self.wake(w);
                    }
                }
                Ok(())
            }
            (LbsOp::Get { leaf, index }, LbsResponse::Get(None)) => {
                let blk = self
                    .fetches
                    .get(&leaf)
                    .map_or(0, |f| f.first + index as u64);
                Err(crate::error::Corrupt::MissingBlock(blk).into())
            }
            (LbsOp::Append { last }, LbsResponse::Append(Some(next))) => {
                if last {
                    self.commit_finished(Some(next));
                } else {
                    self.send_next_chunk();
                }
                Ok(())
            }
            (LbsOp::Append { .. }, LbsResponse::Append(None)) => Err(Fatal::Lbs(
                "lbs refused an APPEND (is another kvlds using this store?)".into(),
            )),
            (LbsOp::Free, LbsResponse::Free) => {
                self.free_in_flight = false;
                Ok(())
            }
            _ => Err(Fatal::Lbs("mismatched response".into())),
        }
    }
}
