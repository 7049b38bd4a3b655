//! How the tree lies in lbs blocks.
//!
//! lbs stores fixed-size blocks; kvlds treats the payloads of its blocks as
//! one byte stream so that records (leaves, parents, logs of pair updates,
//! commits) can have any size and pack densely: a 300-byte leaf costs 300
//! bytes, not a whole block. A record is addressed by its stream position
//! `pos = blkno × P + offset` (P = payload bytes per block) and its length.
//!
//! Every block starts with an 8-byte header that user data can never
//! forge: a magic byte, the block kind (data, or *commit*: the last block
//! of an APPEND, whose header says where the commit record starts) and a
//! CRC-32C over the block number and the rest of the block. The CRC makes
//! a stale, torn or misplaced block detectable, and since lbs never makes
//! the last block of an APPEND durable before the others, a valid commit
//! block proves its whole APPEND is there.

use crate::error::Corrupt;

/// Bytes of header at the start of every block.
pub const BLOCK_HEADER: usize = 8;
const BLOCK_MAGIC: u8 = 0xB7;
const KIND_DATA: u8 = 1;
const KIND_COMMIT: u8 = 2;

/// Smallest lbs block size kvlds accepts (lbs itself allows 512…131072).
pub const MIN_BLOCK: usize = 512;

pub const REC_LEAF: u8 = 1;
pub const REC_INTERNAL: u8 = 2;
pub const REC_LOG: u8 = 3;
pub const REC_COMMIT: u8 = 4;

/// Size of a leaf record with no pairs: kind, lsn, count.
pub const LEAF_HEADER: usize = 1 + 8 + 2;
/// Size of an internal record with no children: kind, height, count.
pub const INTERNAL_HEADER: usize = 1 + 1 + 2;
/// Per-child bytes in an internal record: position, length, oldest.
pub const CHILD_ENTRY: usize = 8 + 4 + 8;
/// Size of a commit record.
pub const COMMIT_LEN: usize = 1 + 8 + 8 + 4 + 1 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 8;

/// A record's place in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addr {
    pub pos: u64,
    pub len: u32,
}

/// Mapping between stream positions and blocks for one block size.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub block: usize,
}

impl Geometry {
    pub fn payload(&self) -> u64 {
        (self.block - BLOCK_HEADER) as u64
    }

    /// Stream position where block `blkno`'s payload starts.
    pub fn block_start(&self, blkno: u64) -> u64 {
        blkno.saturating_mul(self.payload())
    }

    /// The blocks holding `addr`, as (first, count).
    pub fn blocks_of(&self, addr: Addr) -> (u64, u64) {
        let p = self.payload();
        let first = addr.pos / p;
        let last = (addr.pos + u64::from(addr.len.max(1)) - 1) / p;
        (first, last - first + 1)
    }

    /// Check a block read back from lbs and return its payload.
    pub fn check_block<'a>(&self, blkno: u64, blk: &'a [u8]) -> Result<&'a [u8], Corrupt> {
        self.block_kind(blkno, blk)
            .map(|_| &blk[BLOCK_HEADER..])
            .ok_or(Corrupt::BadBlock(blkno))
    }

    /// `Some(true)` for a valid commit block, `Some(false)` for a valid
    /// data block, `None` for anything else. A commit block's record
    /// fills the last [`COMMIT_LEN`] bytes of its payload.
    pub fn block_kind(&self, blkno: u64, blk: &[u8]) -> Option<bool> {
        if blk.len() != self.block || blk[0] != BLOCK_MAGIC || blk[2..4] != [0, 0] {
            return None;
        }
        let want = u32::from_be_bytes(blk[4..8].try_into().ok()?);
        if block_crc(blkno, blk) != want {
            return None;
        }
        match blk[1] {
            KIND_DATA => Some(false),
            KIND_COMMIT => Some(true),
            _ => None,
        }
    }

    /// The commit record of a valid commit block.
    pub fn commit_of(&self, blkno: u64, blk: &[u8]) -> Option<Commit> {
        if self.block_kind(blkno, blk)? {
            Commit::decode(&blk[self.block - COMMIT_LEN..]).ok()
        } else {
            None
        }
    }

    /// Stream position the commit record will get if the records of an
    /// APPEND end at `end`: the record is right-aligned in its block.
    pub fn commit_pos(&self, end: u64) -> u64 {
        let p = self.payload();
        let c = COMMIT_LEN as u64;
        (end + c).div_ceil(p) * p - c
    }

    /// Cut `stream` (which starts at the payload of block `first`; its
    /// length is already padded so that the commit record, last, ends a
    /// block) into blocks; the last one is marked as the commit block.
    pub fn seal(&self, first: u64, stream: &[u8]) -> Vec<u8> {
        let p = self.payload() as usize;
        debug_assert!(stream.len().is_multiple_of(p) && !stream.is_empty());
        let nblocks = stream.len() / p;
        let mut out = vec![0u8; nblocks * self.block];
        for (i, blk) in out.chunks_mut(self.block).enumerate() {
            blk[BLOCK_HEADER..].copy_from_slice(&stream[i * p..(i + 1) * p]);
            blk[0] = BLOCK_MAGIC;
            blk[1] = if i + 1 == nblocks {
                KIND_COMMIT
            } else {
                KIND_DATA
            };
            let crc = block_crc(first + i as u64, blk);
            blk[4..8].copy_from_slice(&crc.to_be_bytes());
        }
        out
    }
}

fn block_crc(blkno: u64, blk: &[u8]) -> u32 {
    let c = crc32c::crc32c(&blkno.to_be_bytes());
    let c = crc32c::crc32c_append(c, &blk[..4]);
    crc32c::crc32c_append(c, &blk[BLOCK_HEADER..])
}

/// The commit record: everything needed to find the tree and the log of
/// pair updates not yet folded into leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Commit sequence number, 1 for the first.
    pub seq: u64,
    pub root: Addr,
    pub root_height: u8,
    /// Position of the previous commit record (`u64::MAX` if none).
    pub prev: u64,
    /// This commit's log record (len 0 if it logged nothing).
    pub log: Addr,
    /// Oldest commit whose log must be replayed on start-up.
    pub log_start_seq: u64,
    /// Stream position where that commit's APPEND starts.
    pub log_start_pos: u64,
    /// Stream position where this commit's APPEND starts.
    pub append_start: u64,
    /// Number of key-value pairs in the tree.
    pub npairs: u64,
    /// Bytes of live tree records (leaves and parents).
    pub node_bytes: u64,
}

impl Commit {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(REC_COMMIT);
        for v in [self.seq, self.root.pos] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.root.len.to_be_bytes());
        out.push(self.root_height);
        for v in [self.prev, self.log.pos] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.log.len.to_be_bytes());
        for v in [
            self.log_start_seq,
            self.log_start_pos,
            self.append_start,
            self.npairs,
            self.node_bytes,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub fn decode(b: &[u8]) -> Result<Commit, Corrupt> {
        let mut r = Reader::new(b);
        if r.u8()? != REC_COMMIT {
            return Err(Corrupt::Record("commit kind"));
        }
        Ok(Commit {
            seq: r.u64()?,
            root: Addr {
                pos: r.u64()?,
                len: r.u32()?,
            },
            root_height: r.u8()?,
            prev: r.u64()?,
            log: Addr {
                pos: r.u64()?,
                len: r.u32()?,
            },
            log_start_seq: r.u64()?,
            log_start_pos: r.u64()?,
            append_start: r.u64()?,
            npairs: r.u64()?,
            node_bytes: r.u64()?,
        })
    }
}

/// A bounds-checked cursor over a record: every read of page contents
/// goes through it, so a corrupt page is an error, never a panic.
pub struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, at: 0 }
    }
    pub fn done(&self) -> bool {
        self.at == self.b.len()
    }
    pub fn pos(&self) -> usize {
        self.at
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(Corrupt::Record("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, Corrupt> {
        Ok(self.bytes(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Corrupt> {
        Ok(u16::from_be_bytes(self.bytes(2)?.try_into().expect("2")))
    }
    pub fn u32(&mut self) -> Result<u32, Corrupt> {
        Ok(u32::from_be_bytes(self.bytes(4)?.try_into().expect("4")))
    }
    pub fn u64(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_be_bytes(self.bytes(8)?.try_into().expect("8")))
    }
    /// A length-prefixed string (one length byte).
    pub fn lstr(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }
}

pub fn put_lstr(out: &mut Vec<u8>, s: &[u8]) {
    debug_assert!(s.len() <= 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_check_round_trip() {
        let g = Geometry { block: 512 };
        let mut stream = vec![7u8; 1200];
        let c = Commit {
            seq: 3,
            root: Addr { pos: 10, len: 20 },
            root_height: 1,
            prev: u64::MAX,
            log: Addr { pos: 0, len: 0 },
            log_start_seq: 4,
            log_start_pos: 99,
            append_start: 5 * 504,
            npairs: 17,
            node_bytes: 1000,
        };
        let at = g.commit_pos(stream.len() as u64) as usize;
        assert_eq!((at + COMMIT_LEN) % 504, 0);
        stream.resize(at, 0);
        c.encode(&mut stream);
        let blocks = g.seal(5, &stream);
        assert_eq!(blocks.len(), 3 * 512);
        let mut back = Vec::new();
        for (i, b) in blocks.chunks(512).enumerate() {
            let kind = g.block_kind(5 + i as u64, b).expect("valid");
            assert_eq!(kind, i == 2);
            back.extend_from_slice(g.check_block(5 + i as u64, b).unwrap());
            // The same bytes at another block number are rejected.
            assert!(g.block_kind(6 + i as u64, b).is_none());
        }
        assert_eq!(g.commit_of(7, &blocks[1024..]), Some(c));
        assert_eq!(back, stream);
        let mut bad = blocks[..512].to_vec();
        bad[100] ^= 1;
        assert!(g.block_kind(5, &bad).is_none());
    }

    #[test]
    fn blocks_of_spans() {
        let g = Geometry { block: 512 };
        assert_eq!(g.blocks_of(Addr { pos: 0, len: 504 }), (0, 1));
        assert_eq!(g.blocks_of(Addr { pos: 500, len: 10 }), (0, 2));
        assert_eq!(g.blocks_of(Addr { pos: 1008, len: 1 }), (2, 1));
    }

    #[test]
    fn reader_rejects_overruns() {
        let mut r = Reader::new(&[3, 1, 2]);
        assert!(r.lstr().is_err());
        let mut r = Reader::new(&[2, 1, 2]);
        assert_eq!(r.lstr().unwrap(), &[1, 2]);
        assert!(r.done());
    }
}
