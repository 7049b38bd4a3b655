//! kivaloo-mux: many clients, one upstream connection.
//!
//! Every packet a client sends is forwarded upstream under a fresh request
//! ID (sequential, as upstream's mux allocates them) and its answer is
//! sent back to that client under the client's own ID. Records are never
//! parsed, so mux sits in front of kvlds, lbs or any kivaloo service; only
//! the framing is checked (a client with bad framing is dropped, alone).
//! Re-labelling costs one 12-byte CRC per packet ([`frame::reframe`]).
//!
//! When the upstream connection fails, mux stops accepting, closes every
//! client and [`run`] returns: the daemon then exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, BytesMut};
use kivaloo_client::net::{AnyListener, AnyStream};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{Notify, Semaphore};

/// Largest record forwarded in either direction: enough for any lbs
/// APPEND this workspace's lbs accepts, and far beyond kvlds's 772 bytes.
pub const MAX_RECORD: usize = (256 << 20) + 16;

/// Stop reading a client's requests while this many answer bytes wait to
/// be sent to it, or this many of its requests are unanswered: a client
/// that sends without reading cannot make mux buffer without bound.
const CLIENT_OUT_LIMIT: usize = 16 << 20;
const CLIENT_INFLIGHT_LIMIT: usize = 16_384;

/// Why [`run`] returned.
#[derive(Debug)]
pub enum MuxEnd {
    /// The upstream connection closed or failed.
    UpstreamLost(String),
}

/// One client connection's outgoing side.
struct Client {
    out: Mutex<Vec<u8>>,
    /// Wakes the writer (a stored permit: never lost).
    wake: Notify,
    /// Tells a draining reader that an answer arrived.
    answered: Notify,
    /// The writer sent a batch.
    drained: Notify,
    /// Requests forwarded and not yet answered.
    inflight: AtomicUsize,
    alive: AtomicBool,
}

/// The upstream connection's state, under one lock so IDs, the routing
/// table and the outgoing bytes stay in step.
struct Upstream {
    next_id: u64,
    routes: HashMap<u64, (Arc<Client>, u64)>,
    out: Vec<u8>,
}

struct Shared {
    up: Mutex<Upstream>,
    up_wake: Notify,
    dead: AtomicBool,
    dead_notify: Notify,
    dead_reason: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn die(&self, why: String) {
        lock(&self.dead_reason).get_or_insert(why);
        self.dead.store(true, Ordering::Release);
        self.dead_notify.notify_waiters();
        self.up_wake.notify_one();
    }
}

/// Run mux over an established upstream connection until it fails.
/// `max_clients` = 0 means no limit.
pub async fn run<U>(upstream: U, listeners: Vec<AnyListener>, max_clients: usize) -> MuxEnd
where
    U: AsyncRead + AsyncWrite + Send + 'static,
{
    let shared = Arc::new(Shared {
        up: Mutex::new(Upstream {
            next_id: 0,
            routes: HashMap::new(),
            out: Vec::new(),
        }),
        up_wake: Notify::new(),
        dead: AtomicBool::new(false),
        dead_notify: Notify::new(),
        dead_reason: Mutex::new(None),
    });
    let (rd, wr) = tokio::io::split(upstream);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(upstream_writer(wr, Arc::clone(&shared)));
    tasks.spawn(upstream_reader(rd, Arc::clone(&shared)));
    let limit = Arc::new(Semaphore::new(if max_clients == 0 {
        Semaphore::MAX_PERMITS
    } else {
        max_clients
    }));
    for l in listeners {
        tasks.spawn(accept_loop(l, Arc::clone(&limit), Arc::clone(&shared)));
    }
    // Everything ends when upstream dies.
    loop {
        let n = shared.dead_notify.notified();
        if shared.dead.load(Ordering::Acquire) {
            break;
        }
        n.await;
    }
    tasks.shutdown().await;
    let why = lock(&shared.dead_reason).take().unwrap_or_default();
    MuxEnd::UpstreamLost(why)
}

async fn upstream_writer<W: AsyncWrite>(wr: WriteHalf<W>, shared: Arc<Shared>) {
    let mut wr = wr;
    let mut spare = Vec::new();
    loop {
        if shared.dead.load(Ordering::Acquire) {
            return;
        }
        let batch = {
            let mut up = lock(&shared.up);
            std::mem::swap(&mut up.out, &mut spare);
            std::mem::take(&mut spare)
        };
        if batch.is_empty() {
            shared.up_wake.notified().await;
            continue;
        }
        if let Err(e) = wr.write_all(&batch).await {
            shared.die(format!("writing upstream: {e}"));
            return;
        }
        spare = batch;
        spare.clear();
    }
}

async fn upstream_reader<R: AsyncRead>(rd: ReadHalf<R>, shared: Arc<Shared>) {
    let mut rd = rd;
    let dec = FrameDecoder::new(MAX_RECORD);
    let mut buf = BytesMut::with_capacity(256 * 1024);
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) => return shared.die("upstream closed the connection".into()),
            Ok(_) => {}
            Err(e) => return shared.die(format!("reading upstream: {e}")),
        }
        loop {
            let (id, consumed) = match dec.decode(&buf) {
                Err(e) => return shared.die(format!("bad packet from upstream: {e}")),
                Ok(Decoded::Incomplete { needed }) => {
                    buf.reserve(needed.saturating_sub(buf.len()).max(64 * 1024));
                    break;
                }
                Ok(Decoded::Packet { packet, consumed }) => (packet.id, consumed),
            };
            let Some((client, cid)) = lock(&shared.up).routes.remove(&id) else {
                return shared.die(format!("upstream answered unknown request ID {id}"));
            };
            if client.alive.load(Ordering::Acquire) {
                frame::reframe(&mut lock(&client.out), &buf[..consumed], cid);
            }
            client.inflight.fetch_sub(1, Ordering::AcqRel);
            client.wake.notify_one();
            client.answered.notify_waiters();
            buf.advance(consumed);
        }
    }
}

async fn accept_loop(l: AnyListener, limit: Arc<Semaphore>, shared: Arc<Shared>) {
    loop {
        // At the cap, stop accepting until a client leaves.
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            return;
        };
        let conn = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                daemon::log::warn(&format!("accept: {e}"));
                // Typically EMFILE: back off briefly instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let sh = Arc::clone(&shared);
        tokio::spawn(async move {
            serve_client(conn, sh).await;
            drop(permit);
        });
    }
}

async fn serve_client(conn: AnyStream, shared: Arc<Shared>) {
    let client = Arc::new(Client {
        out: Mutex::new(Vec::new()),
        wake: Notify::new(),
        answered: Notify::new(),
        drained: Notify::new(),
        inflight: AtomicUsize::new(0),
        alive: AtomicBool::new(true),
    });
    let (mut rd, wr) = tokio::io::split(conn);
    let writer = tokio::spawn(client_writer(wr, Arc::clone(&client)));
    let dec = FrameDecoder::new(MAX_RECORD);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let clean = loop {
        // Too much owed to this client: wait until it reads some.
        loop {
            let drained = client.drained.notified();
            let answered = client.answered.notified();
            if !client.alive.load(Ordering::Acquire)
                || (lock(&client.out).len() <= CLIENT_OUT_LIMIT
                    && client.inflight.load(Ordering::Acquire) <= CLIENT_INFLIGHT_LIMIT)
            {
                break;
            }
            tokio::select! {
                () = drained => {}
                () = answered => {}
                () = shared.dead_notify.notified() => break,
            }
        }
        if !client.alive.load(Ordering::Acquire) {
            break false;
        }
        let r = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            () = shared.dead_notify.notified() => break false,
        };
        match r {
            Ok(0) => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
        // Forward every complete packet under one lock.
        let mut up = lock(&shared.up);
        let bad = loop {
            match dec.decode(&buf) {
                Err(_) => break true,
                Ok(Decoded::Incomplete { needed }) => {
                    buf.reserve(needed.saturating_sub(buf.len()).max(16 * 1024));
                    break false;
                }
                Ok(Decoded::Packet { packet, consumed }) => {
                    let id = up.next_id;
                    up.next_id += 1;
                    up.routes.insert(id, (Arc::clone(&client), packet.id));
                    client.inflight.fetch_add(1, Ordering::AcqRel);
                    frame::reframe(&mut up.out, &buf[..consumed], id);
                    buf.advance(consumed);
                }
            }
        };
        drop(up);
        shared.up_wake.notify_one();
        if bad {
            break false;
        }
    };
    if clean && !shared.dead.load(Ordering::Acquire) {
        // The client is done sending: deliver what it is owed, then close.
        while client.inflight.load(Ordering::Acquire) > 0 && !shared.dead.load(Ordering::Acquire) {
            let n = client.answered.notified();
            if client.inflight.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::select! {
                () = n => {}
                () = shared.dead_notify.notified() => break,
            }
        }
    }
    // Answers still in flight are dropped when they arrive.
    client.alive.store(false, Ordering::Release);
    client.wake.notify_one();
    let _ = writer.await;
}

async fn client_writer<W: AsyncWrite>(wr: WriteHalf<W>, client: Arc<Client>) {
    let mut wr = wr;
    let mut spare = Vec::new();
    loop {
        let batch = {
            let mut o = lock(&client.out);
            std::mem::swap(&mut *o, &mut spare);
            std::mem::take(&mut spare)
        };
        if batch.is_empty() {
            if !client.alive.load(Ordering::Acquire) {
                let _ = wr.shutdown().await;
                return;
            }
            client.wake.notified().await;
            continue;
        }
        let r = wr.write_all(&batch).await;
        if r.is_err() {
            // The client is gone; its reader will notice too.
            client.alive.store(false, Ordering::Release);
        }
        client.drained.notify_waiters();
        if r.is_err() {
            return;
        }
        spare = batch;
        spare.clear();
    }
}
