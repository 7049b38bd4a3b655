//! The lbs (block store) protocol: PARAMS, PARAMS2, GET, APPEND, FREE.
//!
//! A request record is a u32 type followed by its fields; a response is
//! identified only by the request it answers, so decoding one needs the
//! [`LbsRequestKind`] (and, for GET, the block size).

use crate::record::{DecodeError, Reader, put_u32, put_u64};

/// Smallest block size an lbs may use.
pub const MIN_BLOCK_SIZE: u32 = 512;
/// Largest block size an lbs may use.
pub const MAX_BLOCK_SIZE: u32 = 131_072;

/// Request type codes.
pub mod opcode {
    pub const PARAMS: u32 = 0x0000_0000;
    pub const GET: u32 = 0x0000_0001;
    pub const APPEND: u32 = 0x0000_0002;
    pub const FREE: u32 = 0x0000_0003;
    pub const PARAMS2: u32 = 0x0000_0004;
}

/// Which request a record is (or a response answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbsRequestKind {
    Params,
    Params2,
    Get,
    Append,
    Free,
}

impl LbsRequestKind {
    pub const fn opcode(self) -> u32 {
        match self {
            LbsRequestKind::Params => opcode::PARAMS,
            LbsRequestKind::Params2 => opcode::PARAMS2,
            LbsRequestKind::Get => opcode::GET,
            LbsRequestKind::Append => opcode::APPEND,
            LbsRequestKind::Free => opcode::FREE,
        }
    }

    pub const fn from_opcode(op: u32) -> Option<Self> {
        Some(match op {
            opcode::PARAMS => LbsRequestKind::Params,
            opcode::PARAMS2 => LbsRequestKind::Params2,
            opcode::GET => LbsRequestKind::Get,
            opcode::APPEND => LbsRequestKind::Append,
            opcode::FREE => LbsRequestKind::Free,
            _ => return None,
        })
    }

    /// Upstream's name for the request type (as its `perf` daemon logs it).
    pub const fn name(self) -> &'static str {
        match self {
            LbsRequestKind::Params => "LBS_PARAMS",
            LbsRequestKind::Params2 => "LBS_PARAMS2",
            LbsRequestKind::Get => "LBS_GET",
            LbsRequestKind::Append => "LBS_APPEND",
            LbsRequestKind::Free => "LBS_FREE",
        }
    }

    /// The kind of a request record, from its first four bytes.
    pub fn of_record(record: &[u8]) -> Result<Self, DecodeError> {
        let op = Reader::new(record).u32()?;
        Self::from_opcode(op).ok_or(DecodeError::UnknownType(op))
    }
}

/// A parsed lbs request, borrowing APPEND data from the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbsRequest<'a> {
    /// Obsolete form of PARAMS2 without `lastblk`.
    Params,
    Params2,
    Get {
        blkno: u64,
    },
    /// Write `nblks` blocks (`data` = nblks × B bytes) starting at `blkno`,
    /// which must be the store's `nextblk`.
    Append {
        nblks: u32,
        blkno: u64,
        data: &'a [u8],
    },
    /// Blocks below `keep_from` may be deleted.
    Free {
        keep_from: u64,
    },
}

impl<'a> LbsRequest<'a> {
    pub fn kind(&self) -> LbsRequestKind {
        match self {
            LbsRequest::Params => LbsRequestKind::Params,
            LbsRequest::Params2 => LbsRequestKind::Params2,
            LbsRequest::Get { .. } => LbsRequestKind::Get,
            LbsRequest::Append { .. } => LbsRequestKind::Append,
            LbsRequest::Free { .. } => LbsRequestKind::Free,
        }
    }

    /// Parse a request record for a store of block size `block_size`. An
    /// APPEND must carry at least one block and exactly nblks × B bytes.
    pub fn decode(record: &'a [u8], block_size: u32) -> Result<Self, DecodeError> {
        let mut r = Reader::new(record);
        let op = r.u32()?;
        let req = match op {
            opcode::PARAMS => LbsRequest::Params,
            opcode::PARAMS2 => LbsRequest::Params2,
            opcode::GET => LbsRequest::Get { blkno: r.u64()? },
            opcode::APPEND => {
                let nblks = r.u32()?;
                let blkno = r.u64()?;
                if nblks == 0 {
                    return Err(DecodeError::Invalid("APPEND of zero blocks"));
                }
                if r.remaining() as u64 != u64::from(nblks) * u64::from(block_size) {
                    return Err(DecodeError::Invalid(
                        "APPEND data is not nblks × block size",
                    ));
                }
                LbsRequest::Append {
                    nblks,
                    blkno,
                    data: r.rest(),
                }
            }
            opcode::FREE => LbsRequest::Free {
                keep_from: r.u64()?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish()?;
        Ok(req)
    }

    /// Append the request record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.kind().opcode());
        match *self {
            LbsRequest::Params | LbsRequest::Params2 => {}
            LbsRequest::Get { blkno } => put_u64(out, blkno),
            LbsRequest::Append { nblks, blkno, data } => {
                put_u32(out, nblks);
                put_u64(out, blkno);
                out.extend_from_slice(data);
            }
            LbsRequest::Free { keep_from } => put_u64(out, keep_from),
        }
    }

    /// Append the fixed part of an APPEND record; the caller then appends
    /// the nblks × B data bytes itself (serializing pages straight into
    /// the packet instead of copying them).
    pub fn encode_append_header(out: &mut Vec<u8>, nblks: u32, blkno: u64) {
        put_u32(out, opcode::APPEND);
        put_u32(out, nblks);
        put_u64(out, blkno);
    }
}

/// A parsed lbs response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbsResponse<'a> {
    Params {
        block_size: u32,
        nextblk: u64,
    },
    /// `lastblk` is `nextblk − 1`, or 2^64 − 1 for an empty store.
    Params2 {
        block_size: u32,
        nextblk: u64,
        lastblk: u64,
    },
    /// The block's B bytes, or `None` (status 1) when it is not stored.
    Get(Option<&'a [u8]>),
    /// The new `nextblk`, or `None` (status 1): wrong block number or
    /// another APPEND in progress; nothing was written.
    Append(Option<u64>),
    Free,
}

impl<'a> LbsResponse<'a> {
    /// Parse the response to a request of kind `kind`; `block_size` is the
    /// store's B (it fixes the length of a GET answer).
    pub fn decode(
        kind: LbsRequestKind,
        record: &'a [u8],
        block_size: u32,
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(record);
        let resp = match kind {
            LbsRequestKind::Params => LbsResponse::Params {
                block_size: r.u32()?,
                nextblk: r.u64()?,
            },
            LbsRequestKind::Params2 => LbsResponse::Params2 {
                block_size: r.u32()?,
                nextblk: r.u64()?,
                lastblk: r.u64()?,
            },
            LbsRequestKind::Get => match r.u32()? {
                0 => LbsResponse::Get(Some(r.bytes(block_size as usize)?)),
                1 => LbsResponse::Get(None),
                s => return Err(DecodeError::BadStatus(s)),
            },
            LbsRequestKind::Append => match r.u32()? {
                0 => LbsResponse::Append(Some(r.u64()?)),
                1 => LbsResponse::Append(None),
                s => return Err(DecodeError::BadStatus(s)),
            },
            LbsRequestKind::Free => match r.u32()? {
                0 => LbsResponse::Free,
                s => return Err(DecodeError::BadStatus(s)),
            },
        };
        r.finish()?;
        Ok(resp)
    }

    /// Append the response record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            LbsResponse::Params {
                block_size,
                nextblk,
            } => {
                put_u32(out, block_size);
                put_u64(out, nextblk);
            }
            LbsResponse::Params2 {
                block_size,
                nextblk,
                lastblk,
            } => {
                put_u32(out, block_size);
                put_u64(out, nextblk);
                put_u64(out, lastblk);
            }
            LbsResponse::Get(Some(data)) => {
                put_u32(out, 0);
                out.extend_from_slice(data);
            }
            LbsResponse::Get(None) | LbsResponse::Append(None) => put_u32(out, 1),
            LbsResponse::Append(Some(next)) => {
                put_u32(out, 0);
                put_u64(out, next);
            }
            LbsResponse::Free => put_u32(out, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_req(r: &LbsRequest) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(&mut v);
        v
    }

    fn enc_resp(r: &LbsResponse) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(&mut v);
        v
    }

    #[test]
    fn request_layouts() {
        assert_eq!(enc_req(&LbsRequest::Params), [0, 0, 0, 0]);
        assert_eq!(enc_req(&LbsRequest::Params2), [0, 0, 0, 4]);
        assert_eq!(
            enc_req(&LbsRequest::Get { blkno: 0x0102 }),
            [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2]
        );
        assert_eq!(
            enc_req(&LbsRequest::Free { keep_from: 7 }),
            [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        let data = vec![0xAB; 1024];
        let a = enc_req(&LbsRequest::Append {
            nblks: 2,
            blkno: 5,
            data: &data,
        });
        assert_eq!(&a[..16], [0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&a[16..], &data[..]);
        let mut h = Vec::new();
        LbsRequest::encode_append_header(&mut h, 2, 5);
        h.extend_from_slice(&data);
        assert_eq!(h, a);
    }

    #[test]
    fn requests_round_trip() {
        let data = vec![0x5A; 1536];
        for req in [
            LbsRequest::Params,
            LbsRequest::Params2,
            LbsRequest::Get { blkno: u64::MAX },
            LbsRequest::Append {
                nblks: 3,
                blkno: 99,
                data: &data,
            },
            LbsRequest::Free { keep_from: 12345 },
        ] {
            let rec = enc_req(&req);
            assert_eq!(LbsRequest::decode(&rec, 512).unwrap(), req);
            assert_eq!(LbsRequestKind::of_record(&rec).unwrap(), req.kind());
        }
    }

    #[test]
    fn bad_requests_are_rejected() {
        // Unknown type.
        assert_eq!(
            LbsRequest::decode(&[0, 0, 0, 9], 512),
            Err(DecodeError::UnknownType(9))
        );
        // Truncated and trailing fields.
        assert_eq!(
            LbsRequest::decode(&[0, 0, 0], 512),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            LbsRequest::decode(&[0, 0, 0, 4, 0], 512),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            LbsRequest::decode(&[0, 0, 0, 1, 0, 0, 0], 512),
            Err(DecodeError::Truncated)
        );
        // APPEND with zero blocks, or a payload that is not nblks × B.
        let mut z = Vec::new();
        LbsRequest::encode_append_header(&mut z, 0, 0);
        assert!(matches!(
            LbsRequest::decode(&z, 512),
            Err(DecodeError::Invalid(_))
        ));
        let mut short = Vec::new();
        LbsRequest::encode_append_header(&mut short, 2, 0);
        short.extend_from_slice(&[0; 1023]);
        assert!(matches!(
            LbsRequest::decode(&short, 512),
            Err(DecodeError::Invalid(_))
        ));
        short.extend_from_slice(&[0; 2]);
        assert!(matches!(
            LbsRequest::decode(&short, 512),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn response_layouts() {
        // Probed upstream: PARAMS2 on an empty store with B = 2048.
        let p2 = enc_resp(&LbsResponse::Params2 {
            block_size: 2048,
            nextblk: 0,
            lastblk: u64::MAX,
        });
        assert_eq!(
            p2,
            [
                0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
        assert_eq!(
            enc_resp(&LbsResponse::Params {
                block_size: 512,
                nextblk: 3
            }),
            [0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3]
        );
        assert_eq!(enc_resp(&LbsResponse::Get(None)), [0, 0, 0, 1]);
        assert_eq!(enc_resp(&LbsResponse::Append(None)), [0, 0, 0, 1]);
        assert_eq!(
            enc_resp(&LbsResponse::Append(Some(3))),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]
        );
        assert_eq!(enc_resp(&LbsResponse::Free), [0, 0, 0, 0]);
        let blk = vec![7u8; 512];
        let g = enc_resp(&LbsResponse::Get(Some(&blk)));
        assert_eq!(&g[..4], [0, 0, 0, 0]);
        assert_eq!(&g[4..], &blk[..]);
    }

    #[test]
    fn responses_round_trip() {
        let blk = vec![9u8; 512];
        for (kind, resp) in [
            (
                LbsRequestKind::Params,
                LbsResponse::Params {
                    block_size: 512,
                    nextblk: 1,
                },
            ),
            (
                LbsRequestKind::Params2,
                LbsResponse::Params2 {
                    block_size: 512,
                    nextblk: 1,
                    lastblk: 0,
                },
            ),
            (LbsRequestKind::Get, LbsResponse::Get(Some(&blk))),
            (LbsRequestKind::Get, LbsResponse::Get(None)),
            (LbsRequestKind::Append, LbsResponse::Append(Some(8))),
            (LbsRequestKind::Append, LbsResponse::Append(None)),
            (LbsRequestKind::Free, LbsResponse::Free),
        ] {
            let rec = enc_resp(&resp);
            assert_eq!(LbsResponse::decode(kind, &rec, 512).unwrap(), resp);
        }
    }

    #[test]
    fn bad_responses_are_rejected() {
        // A GET answer whose block is not B bytes.
        let mut g = vec![0, 0, 0, 0];
        g.extend_from_slice(&[0; 511]);
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Get, &g, 512),
            Err(DecodeError::Truncated)
        );
        g.extend_from_slice(&[0; 2]);
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Get, &g, 512),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Append, &[0, 0, 0, 2], 512),
            Err(DecodeError::BadStatus(2))
        );
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Free, &[0, 0, 0, 1], 512),
            Err(DecodeError::BadStatus(1))
        );
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Append, &[0, 0, 0, 1, 0], 512),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn kinds_and_opcodes() {
        for k in [
            LbsRequestKind::Params,
            LbsRequestKind::Params2,
            LbsRequestKind::Get,
            LbsRequestKind::Append,
            LbsRequestKind::Free,
        ] {
            assert_eq!(LbsRequestKind::from_opcode(k.opcode()), Some(k));
            assert!(k.name().starts_with("LBS_"));
        }
        assert_eq!(LbsRequestKind::from_opcode(5), None);
        assert_eq!(
            LbsRequestKind::of_record(&[0, 0, 1, 0]),
            Err(DecodeError::UnknownType(0x100))
        );
    }
}
