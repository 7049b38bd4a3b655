//! A lean pipelined request loop for bulk work (loading, benchmarks): the
//! caller generates requests and consumes responses through [`Workload`];
//! one task keeps up to `window` requests in flight, writing and reading
//! concurrently in large chunks, with no per-request allocation or task.

use bytes::{Buf, BytesMut};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ClientError;

/// A source of requests and a sink of responses.
pub trait Workload {
    /// Append the record of request `id` to `record` and return true, or
    /// return false if there is nothing to send now.
    fn next_request(&mut self, id: u64, record: &mut Vec<u8>) -> bool;
    /// The response to request `id`.
    fn response(&mut self, id: u64, record: &[u8]) -> Result<(), ClientError>;
    /// Checked when nothing is in flight and nothing is to be sent: true
    /// ends the loop.
    fn finished(&mut self) -> bool;
}

/// Run `w` over `stream` until it is finished.
pub async fn drive<S, W>(
    stream: &mut S,
    window: usize,
    max_response: usize,
    w: &mut W,
) -> Result<(), ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    W: Workload,
{
    let dec = FrameDecoder::new(max_response);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut out: Vec<u8> = Vec::with_capacity(window * 64);
    let mut written = 0usize;
    let mut rec = Vec::with_capacity(1024);
    let mut inbuf = BytesMut::with_capacity(1 << 20);
    let mut next_id = 0u64;
    let mut inflight = 0usize;
    let mut exhausted = false;
    loop {
        while inflight < window {
            rec.clear();
            if !w.next_request(next_id, &mut rec) {
                exhausted = true;
                break;
            }
            exhausted = false;
            frame::encode(&mut out, next_id, &rec);
            next_id += 1;
            inflight += 1;
        }
        if inflight == 0 {
            if w.finished() {
                wr.flush().await?;
                return Ok(());
            }
            if exhausted {
                // Nothing in flight, nothing to send, not finished: the
                // workload would wait for ever.
                return Err(ClientError::Protocol("workload stalled".into()));
            }
        }
        tokio::select! {
            r = wr.write(&out[written..]), if written < out.len() => {
                written += r?;
                if written == out.len() {
                    out.clear();
                    written = 0;
                }
            }
            r = rd.read_buf(&mut inbuf), if inflight > 0 => {
                if r? == 0 {
                    return Err(ClientError::Closed);
                }
                loop {
                    match dec.decode(&inbuf)? {
                        Decoded::Incomplete { needed } => {
                            inbuf.reserve(needed.saturating_sub(inbuf.len()).max(64 * 1024));
                            break;
                        }
                        Decoded::Packet { packet, consumed } => {
                            w.response(packet.id, packet.record)?;
                            inflight -= 1;
                            inbuf.advance(consumed);
                        }
                    }
                }
            }
        }
    }
}
