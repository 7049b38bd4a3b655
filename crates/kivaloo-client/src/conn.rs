//! A multiplexed connection: any number of tasks send request records and
//! await their responses; one background task frames, writes, reads and
//! routes by request ID. Request IDs are sequential from 0 per connection,
//! as upstream's clients allocate them.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::ClientError;

/// Most requests a connection keeps in flight (upstream's clients and
/// kvlds's MAXREQS use the same figure).
pub const DEFAULT_WINDOW: usize = 4096;

type Reply = oneshot::Sender<Result<Bytes, ClientError>>;

/// A handle on a connection; cheap to clone, usable from many tasks.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<(Vec<u8>, Reply)>,
}

impl Connection {
    /// Run the connection over `stream` (inside a tokio runtime), accepting
    /// responses of up to `max_response` bytes.
    pub fn new<S>(stream: S, max_response: usize) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(stream, rx, FrameDecoder::new(max_response)));
        Connection { tx }
    }

    /// Send one request record; resolves to the response record.
    pub async fn request(&self, record: Vec<u8>) -> Result<Bytes, ClientError> {
        let (rtx, rrx) = oneshot::channel();
        self.tx
            .send((record, rtx))
            .map_err(|_| ClientError::Closed)?;
        rrx.await.map_err(|_| ClientError::Closed)?
    }
}

async fn run<S>(stream: S, mut rx: mpsc::UnboundedReceiver<(Vec<u8>, Reply)>, dec: FrameDecoder)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut pending: HashMap<u64, Reply> = HashMap::new();
    let mut next_id = 0u64;
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0usize;
    let mut inbuf = BytesMut::with_capacity(64 * 1024);
    let mut accepting = true;
    let err = loop {
        if !accepting && pending.is_empty() && written == out.len() {
            return;
        }
        let can_take = accepting && pending.len() < DEFAULT_WINDOW;
        tokio::select! {
            m = rx.recv(), if can_take => match m {
                Some((rec, reply)) => {
                    frame::encode(&mut out, next_id, &rec);
                    pending.insert(next_id, reply);
                    next_id += 1;
                    // Take whatever else is queued, so it goes in one write.
                    while pending.len() < DEFAULT_WINDOW {
                        let Ok((rec, reply)) = rx.try_recv() else { break };
                        frame::encode(&mut out, next_id, &rec);
                        pending.insert(next_id, reply);
                        next_id += 1;
                    }
                }
                None => accepting = false,
            },
            r = wr.write(&out[written..]), if written < out.len() => match r {
                Ok(n) => {
                    written += n;
                    if written == out.len() {
                        out.clear();
                        written = 0;
                    }
                }
                Err(e) => break ClientError::Io(e),
            },
            r = rd.read_buf(&mut inbuf), if !pending.is_empty() => match r {
                Ok(0) => break ClientError::Closed,
                Ok(_) => {
                    if let Err(e) = route(&mut inbuf, &dec, &mut pending) {
                        break e;
                    }
                }
                Err(e) => break ClientError::Io(e),
            },
        }
    };
    // Fail everything still waiting, with the first error's text.
    let text = err.to_string();
    let mut first = Some(err);
    for (_, reply) in pending.drain() {
        let e = first.take().unwrap_or_else(|| clone_error(&text));
        let _ = reply.send(Err(e));
    }
    rx.close();
    while let Ok((_, reply)) = rx.try_recv() {
        let _ = reply.send(Err(clone_error(&text)));
    }
    let _ = wr.shutdown().await;
}

fn clone_error(text: &str) -> ClientError {
    if text == ClientError::Closed.to_string() {
        ClientError::Closed
    } else {
        ClientError::Protocol(text.to_string())
    }
}

/// Deliver every complete response in `inbuf`.
fn route(
    inbuf: &mut BytesMut,
    dec: &FrameDecoder,
    pending: &mut HashMap<u64, Reply>,
) -> Result<(), ClientError> {
    loop {
        let (id, consumed, len) = match dec.decode(inbuf)? {
            Decoded::Incomplete { needed } => {
                inbuf.reserve(needed.saturating_sub(inbuf.len()));
                return Ok(());
            }
            Decoded::Packet { packet, consumed } => (packet.id, consumed, packet.record.len()),
        };
        let reply = pending
            .remove(&id)
            .ok_or_else(|| ClientError::Protocol(format!("response with unknown ID {id}")))?;
        let mut pkt = inbuf.split_to(consumed);
        pkt.advance(frame::HEADER_LEN);
        pkt.truncate(len);
        let _ = reply.send(Ok(pkt.freeze()));
    }
}
