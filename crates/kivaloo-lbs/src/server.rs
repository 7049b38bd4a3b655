//! The lbs protocol over one connection: a thin async shell around
//! [`Store`]. Requests are decoded with `kivaloo-wire`; GETs go to the
//! reader threads, an APPEND to a blocking task (one at a time, as the
//! protocol demands), FREE to a background deletion; answers are framed
//! into one shared output buffer that a writer task drains in large
//! writes.

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
    inflight: AtomicUsize,
    idle: Notify,
    appending: AtomicBool,
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
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            appending: AtomicBool::new(false),
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
                    if shared.appending.load(Ordering::Acquire) {
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
                    if shared.appending.load(Ordering::Acquire) || blkno != self.store.next_block()
                    {
                        respond(&mut out, id, &LbsResponse::Append(None));
                        buf.advance(consumed);
                        continue;
                    }
                    // Hand the packet's own bytes to the writer: no copy.
                    let packet = buf.split_to(consumed).freeze();
                    let start = frame::HEADER_LEN + 16;
                    let data = packet.slice(start..start + nblks as usize * b as usize);
                    shared.appending.store(true, Ordering::Release);
                    shared.start();
                    let store = Arc::clone(&self.store);
                    let sh = Arc::clone(shared);
                    tokio::task::spawn_blocking(move || {
                        let mut o = Vec::new();
                        match store.append(blkno, &data) {
                            Ok(AppendOutcome::Appended { nextblk }) => {
                                respond(&mut o, id, &LbsResponse::Append(Some(nextblk)));
                            }
                            Ok(AppendOutcome::Rejected) => {
                                respond(&mut o, id, &LbsResponse::Append(None));
                            }
                            Err(e) => sh.fail(e),
                        }
                        sh.appending.store(false, Ordering::Release);
                        sh.push(&o);
                        sh.done();
                    });
                }
            }
        };
        shared.push(&out);
        for chunk in gets.chunks(GET_CHUNK) {
            self.submit_gets(chunk.to_vec(), shared);
        }
        r
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
        wr.write_all(&batch).await?;
        spare = batch;
        spare.clear();
    }
}
