//! A blocking lbs client implementing [`BlockStore`]. kvlds opens (and if
//! need be recovers) its tree with it *before* daemonizing, while the
//! process has one thread and errors still reach the caller's terminal;
//! the daemon then hands the same socket to its async loop.

use std::collections::HashMap;
use std::io::{Read, Write};

use daemon::listen::Stream;
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

use crate::error::StoreError;
use crate::store::{BlockStore, StoreParams};

/// GETs in flight at once.
const WINDOW: usize = 1024;

pub struct SyncLbs {
    sock: Stream,
    next_id: u64,
    block_size: u32,
    inbuf: Vec<u8>,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl SyncLbs {
    pub fn new(sock: Stream) -> SyncLbs {
        SyncLbs {
            sock,
            next_id: 0,
            block_size: 0,
            inbuf: Vec::new(),
        }
    }

    /// The socket, for the daemon's async loop to adopt. Request IDs
    /// continue from [`SyncLbs::next_id`].
    pub fn into_parts(self) -> (Stream, u64) {
        (self.sock, self.next_id)
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match &mut self.sock {
            Stream::Tcp(t) => t,
            Stream::Unix(u) => u,
        }
    }

    fn send(&mut self, req: &LbsRequest<'_>) -> Result<u64, StoreError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut rec = Vec::new();
        req.encode(&mut rec);
        let mut pkt = Vec::with_capacity(rec.len() + frame::OVERHEAD);
        frame::encode(&mut pkt, id, &rec);
        self.stream().write_all(&pkt).map_err(io)?;
        Ok(id)
    }

    /// Read one response packet: (id, record).
    fn recv(&mut self) -> Result<(u64, Vec<u8>), StoreError> {
        let dec = FrameDecoder::new(self.block_size.max(64) as usize + 64);
        loop {
            if let Decoded::Packet { packet, consumed } = dec.decode(&self.inbuf).map_err(io)? {
                let out = (packet.id, packet.record.to_vec());
                self.inbuf.drain(..consumed);
                return Ok(out);
            }
            let mut buf = [0u8; 64 << 10];
            let n = self.stream().read(&mut buf).map_err(io)?;
            if n == 0 {
                return Err(StoreError::Io("lbs closed the connection".into()));
            }
            self.inbuf.extend_from_slice(&buf[..n]);
        }
    }

    fn call(&mut self, req: &LbsRequest<'_>) -> Result<Vec<u8>, StoreError> {
        let id = self.send(req)?;
        let (rid, rec) = self.recv()?;
        if rid != id {
            return Err(StoreError::Io(format!(
                "lbs answered request {rid}, expected {id}"
            )));
        }
        Ok(rec)
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl BlockStore for SyncLbs {
    fn params(&mut self) -> Result<StoreParams, StoreError> {
        let rec = self.call(&LbsRequest::Params2)?;
        match LbsResponse::decode(LbsRequestKind::Params2, &rec, 0).map_err(io)? {
            LbsResponse::Params2 {
                block_size,
                nextblk,
                ..
            } => {
                self.block_size = block_size;
                Ok(StoreParams {
                    block_size: block_size as usize,
                    next_block: nextblk,
                })
            }
            _ => Err(StoreError::Io("bad PARAMS2 answer".into())),
        }
    }

    fn get(&mut self, blknos: &[u64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = vec![None; blknos.len()];
        for (c, chunk) in blknos.chunks(WINDOW).enumerate() {
            let mut ids = HashMap::with_capacity(chunk.len());
            for (i, &blkno) in chunk.iter().enumerate() {
                ids.insert(self.send(&LbsRequest::Get { blkno })?, c * WINDOW + i);
            }
            for _ in 0..chunk.len() {
                let (id, rec) = self.recv()?;
                let i = ids
                    .remove(&id)
                    .ok_or_else(|| StoreError::Io(format!("unexpected lbs response {id}")))?;
                match LbsResponse::decode(LbsRequestKind::Get, &rec, self.block_size).map_err(io)? {
                    LbsResponse::Get(b) => out[i] = b.map(<[u8]>::to_vec),
                    _ => return Err(StoreError::Io("bad GET answer".into())),
                }
            }
        }
        Ok(out)
    }

    fn append(&mut self, blkno: u64, blocks: &[u8]) -> Result<u64, StoreError> {
        let b = self.block_size as usize;
        let max = (65_536 * b).min(256 << 20) / b * b;
        let mut at = blkno;
        let n = blocks.len().div_ceil(max);
        for (i, chunk) in blocks.chunks(max).enumerate() {
            let nblks = (chunk.len() / b) as u32;
            let rec = self.call(&LbsRequest::Append {
                nblks,
                blkno: at,
                data: chunk,
            })?;
            match LbsResponse::decode(LbsRequestKind::Append, &rec, self.block_size).map_err(io)? {
                // A store may skip block numbers after an APPEND (lbs-s3
                // does), but not inside one commit split in several.
                LbsResponse::Append(Some(next))
                    if next == at + u64::from(nblks)
                        || (i + 1 == n && next > at + u64::from(nblks)) =>
                {
                    at = next
                }
                LbsResponse::Append(Some(next)) => {
                    return Err(StoreError::Io(format!(
                        "lbs skipped block numbers (next block {next}, expected {})",
                        at + u64::from(nblks)
                    )));
                }
                _ => return Err(StoreError::AppendRefused(at)),
            }
        }
        Ok(at)
    }

    fn free(&mut self, keep_from: u64) -> Result<(), StoreError> {
        self.call(&LbsRequest::Free { keep_from }).map(drop)
    }
}
