//! The lbs protocol over one connection: a thin async shell around
//! [`Store`]. Requests are decoded with `kivaloo-wire`; GETs go to the
//! reader threads, APPENDs to a blocking task, FREE to a background
//! deletion; answers are framed into one shared output buffer that a
//! writer task drains in large writes.
//!
//! APPENDs: upstream refuses (status 1) an APPEND that arrives while
//! another is being written. Here an APPEND that starts exactly where the
//! ones in progress end is queued instead, and everything queued is written
//! with one write and one fdatasync when the current write is done (group
//! commit), each answered with its own next block number, in order. A
//! client that never pipelines APPENDs (upstream's kvlds) sees no
//! difference; one that does can overlap building its next batch with the
//! previous batch's fdatasync. Any other APPEND during a write still gets
//! status 1.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::lbs::{LbsRequest, LbsResponse};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::readpool::ReadPool;
use crate::store::{AppendOutcome, Store, StoreError};

/// Largest APPEND payload accepted: 65 536 blocks, at most 256 MiB.
pub fn max_append_bytes(block_size: u32) -> usize {
    let b = block_size as usize;
    (65_536 * b).min(256 << 20) / b * b
}

/// GETs handed to one reader thread at a time.
const GET_CHUNK: usize = 64;

/// Stop reading requests while this many answer bytes wait to be sent: a
/// client that sends without reading cannot make us buffer without bound.
const OUT_LIMIT: usize = 64 << 20;

/// Settings of the daemon that shape its service.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Reader threads (`-n`).
    pub readers: usize,
    /// Artificial delay per block read (`-l`, a test aid).
    pub read_latency: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            readers: 16,
            read_latency: Duration::ZERO,
        }
    }
}

/// How a connection ended, when the daemon can go on serving.
#[derive(Debug)]
pub enum ConnectionEnd {
    /// The client closed it.
    Closed,
    /// The client broke the protocol; the connection was dropped.
    ProtocolError(String),
    /// The socket failed.
    Io(io::Error),
}

/// Serves lbs connections for one store.
pub struct LbsServer {
    store: Arc<Store>,
    pool: ReadPool,
    read_latency: Duration,
    decoder: FrameDecoder,
}

/// State shared by a connection's reader, writer and worker threads.
struct Shared {
    out: Mutex<Vec<u8>>,
    wake_writer: Notify,
    /// The writer sent a batch (or died).
    drained: Notify,
    writer_dead: AtomicBool,
    inflight: AtomicUsize,
    idle: Notify,
    appends: Mutex<AppendQueue>,
    closing: AtomicBool,
    fatal: Mutex<Option<StoreError>>,
    fatal_notify: Notify,
}

impl Shared {
    fn push(&self, packets: &[u8]) {
        if packets.is_empty() {
            return;
        }
        lock(&self.out).extend_from_slice(packets);
        self.wake_writer.notify_one();
    }

    fn start(&self) {
        self.inflight.fetch_add(1, Ordering::AcqRel);
    }

    fn done(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_one();
        }
    }

    fn fail(&self, e: StoreError) {
        lock(&self.fatal).get_or_insert(e);
        self.fatal_notify.notify_one();
    }

    fn is_fatal(&self) -> bool {
        lock(&self.fatal).is_some()
    }

    /// Wait while too many answer bytes are queued. False if the writer
    /// died (the client is gone).
    async fn wait_for_room(&self) -> bool {
        loop {
            let drained = self.drained.notified();
            if self.writer_dead.load(Ordering::Acquire) {
                return false;
            }
            if lock(&self.out).len() <= OUT_LIMIT {
                return true;
            }
            drained.await;
        }
    }

    async fn wait_idle(&self) {
        while self.inflight.load(Ordering::Acquire) != 0 {
            self.idle.notified().await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LbsServer {
    pub fn new(store: Arc<Store>, cfg: &ServerConfig) -> io::Result<Self> {
        let max = 16 + max_append_bytes(store.block_size());
        Ok(LbsServer {
            pool: ReadPool::new(cfg.readers)?,
            read_latency: cfg.read_latency,
            decoder: FrameDecoder::new(max),
            store,
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Serve one connection until it closes. `Err` means the store failed
    /// (an I/O error): the daemon must stop.
    pub async fn serve<S>(&self, stream: S) -> Result<ConnectionEnd, StoreError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, wr) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            out: Mutex::new(Vec::new()),
            wake_writer: Notify::new(),
            drained: Notify::new(),
            writer_dead: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            appends: Mutex::new(AppendQueue::default()),
            closing: AtomicBool::new(false),
            fatal: Mutex::new(None),
            fatal_notify: Notify::new(),
        });
        let writer = tokio::spawn(write_loop(wr, Arc::clone(&shared)));
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let end = loop {
            if let Err(e) = self.process(&mut buf, &shared) {
                break ConnectionEnd::ProtocolError(e);
            }
            if shared.is_fatal() {
                break ConnectionEnd::Closed;
            }
            if !shared.wait_for_room().await {
                break ConnectionEnd::Io(io::Error::other("writing answers failed"));
            }
            tokio::select! {
                r = rd.read_buf(&mut buf) => match r {
                    Ok(0) => break ConnectionEnd::Closed,
                    Ok(_) => {}
                    Err(e) => break ConnectionEnd::Io(e),
                },
                () = shared.fatal_notify.notified() => {}
            }
        };
        // Let an APPEND in progress finish (its blocks are consistent
        // either way, but the next client must see a settled nextblk).
        shared.wait_idle().await;
        if let Some(e) = lock(&shared.fatal).take() {
            writer.abort();
            return Err(e);
        }
        match end {
            ConnectionEnd::Closed => {
                // Deliver what is owed (a client may have half-closed).
                shared.closing.store(true, Ordering::Release);
                shared.wake_writer.notify_one();
                let _ = writer.await;
            }
            _ => writer.abort(),
        }
        Ok(end)
    }

    /// Handle every complete packet in `buf`.
    fn process(&self, buf: &mut BytesMut, shared: &Arc<Shared>) -> Result<(), String> {
        let b = self.store.block_size();
        let mut out = Vec::new();
        let mut gets: Vec<(u64, u64)> = Vec::new();
        let r = loop {
            let (id, consumed, req) = match self.decoder.decode(buf) {
                Err(e) => break Err(e.to_string()),
                Ok(Decoded::Incomplete { needed }) => {
                    buf.reserve(needed.saturating_sub(buf.len()).max(16 * 1024));
                    break Ok(());
                }
                Ok(Decoded::Packet { packet, consumed }) => {
                    match LbsRequest::decode(packet.record, b) {
                        Ok(LbsRequest::Append { nblks, blkno, .. }) => {
                            (packet.id, consumed, Req::Append { nblks, blkno })
                        }
                        Ok(LbsRequest::Get { blkno }) => (packet.id, consumed, Req::Get(blkno)),
                        Ok(LbsRequest::Free { keep_from }) => {
                            (packet.id, consumed, Req::Free(keep_from))
                        }
                        Ok(LbsRequest::Params) => (packet.id, consumed, Req::Params(false)),
                        Ok(LbsRequest::Params2) => (packet.id, consumed, Req::Params(true)),
                        Err(e) => break Err(e.to_string()),
                    }
                }
            };
            match req {
                Req::Get(blkno) => {
                    gets.push((id, blkno));
                    buf.advance(consumed);
                }
                Req::Params(v2) => {
                    if lock(&shared.appends).in_progress {
                        break Err("PARAMS while an APPEND is in progress".into());
                    }
                    let next = self.store.next_block();
                    let resp = if v2 {
                        LbsResponse::Params2 {
                            block_size: b,
                            nextblk: next,
                            lastblk: next.wrapping_sub(1),
                        }
                    } else {
                        LbsResponse::Params {
                            block_size: b,
                            nextblk: next,
                        }
                    };
                    respond(&mut out, id, &resp);
                    buf.advance(consumed);
                }
                Req::Free(keep_from) => {
                    respond(&mut out, id, &LbsResponse::Free);
                    buf.advance(consumed);
                    let store = Arc::clone(&self.store);
                    let sh = Arc::clone(shared);
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = store.free(keep_from) {
                            sh.fail(e);
                        }
                    });
                }
                Req::Append { nblks, blkno } => {
                    let data_len = nblks as usize * b as usize;
                    let mut q = lock(&shared.appends);
                    let accept = if q.in_progress {
                        // Chained right after the APPENDs in progress:
                        // queue it for the next group commit.
                        blkno == q.next
                    } else {
                        blkno == self.store.next_block()
                    };
                    if !accept {
                        drop(q);
                        respond(&mut out, id, &LbsResponse::Append(None));
                        buf.advance(consumed);
                        continue;
                    }
                    // Hand the packet's own bytes to the writer: no copy.
                    let packet = buf.split_to(consumed).freeze();
                    let start = frame::HEADER_LEN + 16;
                    let data = packet.slice(start..start + data_len);
                    q.next = blkno + u64::from(nblks);
                    q.queued.push(Pending {
                        id,
                        blkno,
                        nblks,
                        data,
                    });
                    if !q.in_progress {
                        q.in_progress = true;
                        drop(q);
                        self.start_appender(shared);
                    }
                }
            }
        };
        shared.push(&out);
        for chunk in gets.chunks(GET_CHUNK) {
            self.submit_gets(chunk.to_vec(), shared);
        }
        r
    }

    /// Write queued APPENDs until none is left: every APPEND that arrived
    /// (chained) while one was being written goes into the next write and
    /// shares its fdatasync — group commit for a client that pipelines.
    fn start_appender(&self, shared: &Arc<Shared>) {
        shared.start();
        let store = Arc::clone(&self.store);
        let sh = Arc::clone(shared);
        let max = max_append_bytes(store.block_size());
        tokio::task::spawn_blocking(move || {
            loop {
                let batch = {
                    let mut q = lock(&sh.appends);
                    if q.queued.is_empty() {
                        // (Only reached if the last write failed.)
                        q.in_progress = false;
                        break;
                    }
                    // Bounded: take APPENDs while they fit in one write.
                    let mut total = 0;
                    let n = q
                        .queued
                        .iter()
                        .take_while(|p| {
                            total += p.data.len();
                            total <= max
                        })
                        .count()
                        .max(1);
                    q.queued.drain(..n).collect::<Vec<_>>()
                };
                let parts: Vec<&[u8]> = batch.iter().map(|p| &p.data[..]).collect();
                let mut o = Vec::new();
                match store.append_parts(batch[0].blkno, &parts) {
                    Ok(AppendOutcome::Appended { .. }) => {
                        for p in &batch {
                            let end = p.blkno + u64::from(p.nblks);
                            respond(&mut o, p.id, &LbsResponse::Append(Some(end)));
                        }
                    }
                    Ok(AppendOutcome::Rejected) => {
                        for p in &batch {
                            respond(&mut o, p.id, &LbsResponse::Append(None));
                        }
                    }
                    Err(e) => {
                        sh.fail(e);
                        lock(&sh.appends).in_progress = false;
                        break;
                    }
                }
                // Done with the queue? Say so before answering, so that a
                // client that got every answer may ask PARAMS at once.
                let more = {
                    let mut q = lock(&sh.appends);
                    q.in_progress = !q.queued.is_empty();
                    q.in_progress
                };
                sh.push(&o);
                if !more {
                    break;
                }
            }
            sh.done();
        });
    }

    fn submit_gets(&self, gets: Vec<(u64, u64)>, shared: &Arc<Shared>) {
        shared.start();
        let store = Arc::clone(&self.store);
        let sh = Arc::clone(shared);
        let latency = self.read_latency;
        self.pool.submit(move || {
            let b = store.block_size() as usize;
            let mut out = Vec::with_capacity(gets.len() * (b + 24));
            for (id, blkno) in gets {
                if !latency.is_zero() {
                    std::thread::sleep(latency);
                }
                let p = frame::begin(&mut out, id);
                let at = out.len();
                out.extend_from_slice(&0u32.to_be_bytes());
                out.resize(at + 4 + b, 0);
                match store.read(blkno, &mut out[at + 4..]) {
                    Ok(true) => {}
                    Ok(false) => {
                        out.truncate(at);
                        out.extend_from_slice(&1u32.to_be_bytes());
                    }
                    Err(e) => {
                        sh.fail(e);
                        out.truncate(at);
                        out.extend_from_slice(&1u32.to_be_bytes());
                    }
                }
                frame::finish(&mut out, p);
            }
            sh.push(&out);
            sh.done();
        });
    }
}

/// APPENDs accepted and not yet written.
#[derive(Default)]
struct AppendQueue {
    /// An appender task is running.
    in_progress: bool,
    /// The block number the next chained APPEND must start at.
    next: u64,
    queued: Vec<Pending>,
}

struct Pending {
    id: u64,
    blkno: u64,
    nblks: u32,
    data: bytes::Bytes,
}

enum Req {
    Params(bool),
    Get(u64),
    Append { nblks: u32, blkno: u64 },
    Free(u64),
}

fn respond(out: &mut Vec<u8>, id: u64, resp: &LbsResponse) {
    let p = frame::begin(out, id);
    resp.encode(out);
    frame::finish(out, p);
}

async fn write_loop<W: AsyncWrite>(wr: W, shared: Arc<Shared>) -> io::Result<()> {
    tokio::pin!(wr);
    let mut spare = Vec::new();
    loop {
        let batch = {
            let mut o = lock(&shared.out);
            std::mem::swap(&mut *o, &mut spare);
            std::mem::take(&mut spare)
        };
        if batch.is_empty() {
            if shared.closing.load(Ordering::Acquire) {
                wr.shutdown().await?;
                return Ok(());
            }
            shared.wake_writer.notified().await;
            continue;
        }
        let r = wr.write_all(&batch).await;
        if r.is_err() {
            shared.writer_dead.store(true, Ordering::Release);
        }
        shared.drained.notify_waiters();
        r?;
        spare = batch;
        spare.clear();
    }
}
