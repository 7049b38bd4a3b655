//! The kvlds (key-value store) protocol.
//!
//! Keys and values are byte strings of 0–255 bytes, each sent as a length
//! byte followed by the bytes. Statuses are u32: 0 means done, 1 means the
//! request's condition failed (key existed, key absent, old value did not
//! match, or GET found nothing).

use crate::record::{DecodeError, EncodeError, Reader, check_strings, put_string, put_u32};

/// Longest request record kvlds accepts: a type and three maximal strings
/// (CAS). Larger lengths are refused from the packet header alone.
pub const MAX_REQUEST_RECORD: usize = 4 + 3 * 256;

/// Request type codes.
pub mod opcode {
    pub const PARAMS: u32 = 0x0000_0100;
    pub const SET: u32 = 0x0000_0110;
    pub const CAS: u32 = 0x0000_0111;
    pub const ADD: u32 = 0x0000_0112;
    pub const MODIFY: u32 = 0x0000_0113;
    pub const DELETE: u32 = 0x0000_0120;
    pub const CAD: u32 = 0x0000_0121;
    pub const GET: u32 = 0x0000_0130;
    pub const RANGE: u32 = 0x0000_0131;
}

/// Status: the request did what it asked.
pub const STATUS_OK: u32 = 0;
/// Status: the request's condition failed (or GET found nothing).
pub const STATUS_FAILED: u32 = 1;

/// Which request a record is (or a response answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvldsRequestKind {
    Params,
    Set,
    Cas,
    Add,
    Modify,
    Delete,
    Cad,
    Get,
    Range,
}

impl KvldsRequestKind {
    pub const ALL: [KvldsRequestKind; 9] = [
        KvldsRequestKind::Params,
        KvldsRequestKind::Set,
        KvldsRequestKind::Cas,
        KvldsRequestKind::Add,
        KvldsRequestKind::Modify,
        KvldsRequestKind::Delete,
        KvldsRequestKind::Cad,
        KvldsRequestKind::Get,
        KvldsRequestKind::Range,
    ];

    pub const fn opcode(self) -> u32 {
        match self {
            KvldsRequestKind::Params => opcode::PARAMS,
            KvldsRequestKind::Set => opcode::SET,
            KvldsRequestKind::Cas => opcode::CAS,
            KvldsRequestKind::Add => opcode::ADD,
            KvldsRequestKind::Modify => opcode::MODIFY,
            KvldsRequestKind::Delete => opcode::DELETE,
            KvldsRequestKind::Cad => opcode::CAD,
            KvldsRequestKind::Get => opcode::GET,
            KvldsRequestKind::Range => opcode::RANGE,
        }
    }

    pub const fn from_opcode(op: u32) -> Option<Self> {
        Some(match op {
            opcode::PARAMS => KvldsRequestKind::Params,
            opcode::SET => KvldsRequestKind::Set,
            opcode::CAS => KvldsRequestKind::Cas,
            opcode::ADD => KvldsRequestKind::Add,
            opcode::MODIFY => KvldsRequestKind::Modify,
            opcode::DELETE => KvldsRequestKind::Delete,
            opcode::CAD => KvldsRequestKind::Cad,
            opcode::GET => KvldsRequestKind::Get,
            opcode::RANGE => KvldsRequestKind::Range,
            _ => return None,
        })
    }

    /// Modifying requests are batched and answered only once durable.
    pub const fn is_modifying(self) -> bool {
        matches!(
            self,
            KvldsRequestKind::Set
                | KvldsRequestKind::Cas
                | KvldsRequestKind::Add
                | KvldsRequestKind::Modify
                | KvldsRequestKind::Delete
                | KvldsRequestKind::Cad
        )
    }

    /// Upstream's name for the request type (as its `perf` daemon logs it).
    pub const fn name(self) -> &'static str {
        match self {
            KvldsRequestKind::Params => "KVLDS_PARAMS",
            KvldsRequestKind::Set => "KVLDS_SET",
            KvldsRequestKind::Cas => "KVLDS_CAS",
            KvldsRequestKind::Add => "KVLDS_ADD",
            KvldsRequestKind::Modify => "KVLDS_MODIFY",
            KvldsRequestKind::Delete => "KVLDS_DELETE",
            KvldsRequestKind::Cad => "KVLDS_CAD",
            KvldsRequestKind::Get => "KVLDS_GET",
            KvldsRequestKind::Range => "KVLDS_RANGE",
        }
    }

    /// The kind of a request record, from its first four bytes.
    pub fn of_record(record: &[u8]) -> Result<Self, DecodeError> {
        let op = Reader::new(record).u32()?;
        Self::from_opcode(op).ok_or(DecodeError::UnknownType(op))
    }
}

/// A parsed kvlds request, borrowing its strings from the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvldsRequest<'a> {
    /// Ask for the maximum key and value lengths.
    Params,
    Set {
        key: &'a [u8],
        value: &'a [u8],
    },
    /// Store `value` if the current value is `oval`.
    Cas {
        key: &'a [u8],
        oval: &'a [u8],
        value: &'a [u8],
    },
    /// Store if the key is absent.
    Add {
        key: &'a [u8],
        value: &'a [u8],
    },
    /// Store if the key is present.
    Modify {
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        key: &'a [u8],
    },
    /// Delete if the current value is `oval`.
    Cad {
        key: &'a [u8],
        oval: &'a [u8],
    },
    Get {
        key: &'a [u8],
    },
    /// Pairs with start ≤ key < end (empty end = no end), about `max`
    /// bytes of them.
    Range {
        max: u32,
        start: &'a [u8],
        end: &'a [u8],
    },
}

impl<'a> KvldsRequest<'a> {
    pub fn kind(&self) -> KvldsRequestKind {
        match self {
            KvldsRequest::Params => KvldsRequestKind::Params,
            KvldsRequest::Set { .. } => KvldsRequestKind::Set,
            KvldsRequest::Cas { .. } => KvldsRequestKind::Cas,
            KvldsRequest::Add { .. } => KvldsRequestKind::Add,
            KvldsRequest::Modify { .. } => KvldsRequestKind::Modify,
            KvldsRequest::Delete { .. } => KvldsRequestKind::Delete,
            KvldsRequest::Cad { .. } => KvldsRequestKind::Cad,
            KvldsRequest::Get { .. } => KvldsRequestKind::Get,
            KvldsRequest::Range { .. } => KvldsRequestKind::Range,
        }
    }

    /// Parse a request record; it must be consumed exactly.
    pub fn decode(record: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(record);
        let op = r.u32()?;
        let req = match op {
            opcode::PARAMS => KvldsRequest::Params,
            opcode::SET => KvldsRequest::Set {
                key: r.string()?,
                value: r.string()?,
            },
            opcode::CAS => KvldsRequest::Cas {
                key: r.string()?,
                oval: r.string()?,
                value: r.string()?,
            },
            opcode::ADD => KvldsRequest::Add {
                key: r.string()?,
                value: r.string()?,
            },
            opcode::MODIFY => KvldsRequest::Modify {
                key: r.string()?,
                value: r.string()?,
            },
            opcode::DELETE => KvldsRequest::Delete { key: r.string()? },
            opcode::CAD => KvldsRequest::Cad {
                key: r.string()?,
                oval: r.string()?,
            },
            opcode::GET => KvldsRequest::Get { key: r.string()? },
            opcode::RANGE => KvldsRequest::Range {
                max: r.u32()?,
                start: r.string()?,
                end: r.string()?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish()?;
        Ok(req)
    }

    /// Append the request record to `out`; on error `out` is unchanged.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let strings: [&[u8]; 3] = match *self {
            KvldsRequest::Params => [&[], &[], &[]],
            KvldsRequest::Set { key, value }
            | KvldsRequest::Add { key, value }
            | KvldsRequest::Modify { key, value } => [key, value, &[]],
            KvldsRequest::Cas { key, oval, value } => [key, oval, value],
            KvldsRequest::Delete { key } | KvldsRequest::Get { key } => [key, &[], &[]],
            KvldsRequest::Cad { key, oval } => [key, oval, &[]],
            KvldsRequest::Range { start, end, .. } => [start, end, &[]],
        };
        check_strings(&strings)?;
        put_u32(out, self.kind().opcode());
        let n = match *self {
            KvldsRequest::Params => 0,
            KvldsRequest::Delete { .. } | KvldsRequest::Get { .. } => 1,
            KvldsRequest::Cas { .. } => 3,
            KvldsRequest::Range { max, .. } => {
                put_u32(out, max);
                2
            }
            _ => 2,
        };
        for s in &strings[..n] {
            put_string(out, s)?;
        }
        Ok(())
    }

    /// kvlds's length rule: a request that stores a value (SET, CAS, ADD,
    /// MODIFY) with a key longer than `kmax` or a new value longer than
    /// `vmax` is refused by dropping the connection. CAS's old value and
    /// the keys of other requests are not checked.
    pub fn exceeds_limits(&self, kmax: usize, vmax: usize) -> bool {
        match *self {
            KvldsRequest::Set { key, value }
            | KvldsRequest::Cas { key, value, .. }
            | KvldsRequest::Add { key, value }
            | KvldsRequest::Modify { key, value } => key.len() > kmax || value.len() > vmax,
            _ => false,
        }
    }
}

/// A parsed kvlds response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvldsResponse<'a> {
    Params {
        kmax: u32,
        vmax: u32,
    },
    /// Answer to SET, CAS, ADD, MODIFY, DELETE or CAD: [`STATUS_OK`] or
    /// [`STATUS_FAILED`].
    Status(u32),
    /// The value, or `None` when the key is absent.
    Get(Option<&'a [u8]>),
    Range(RangeResponse<'a>),
}

/// A RANGE answer: `next` (empty = end of key space) and the pairs,
/// validated on decode and iterated without copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeResponse<'a> {
    pub next: &'a [u8],
    count: u32,
    pairs: &'a [u8],
}

impl<'a> RangeResponse<'a> {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The pairs in key order.
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs {
            r: Reader::new(self.pairs),
            left: self.count,
        }
    }
}

/// Iterator over a RANGE answer's (key, value) pairs.
pub struct Pairs<'a> {
    r: Reader<'a>,
    left: u32,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated when the response was decoded.
        let k = self.r.string().ok()?;
        let v = self.r.string().ok()?;
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

impl<'a> KvldsResponse<'a> {
    /// Parse the response to a request of kind `kind`.
    pub fn decode(kind: KvldsRequestKind, record: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(record);
        let resp = match kind {
            KvldsRequestKind::Params => KvldsResponse::Params {
                kmax: r.u32()?,
                vmax: r.u32()?,
            },
            KvldsRequestKind::Get => match r.u32()? {
                STATUS_OK => KvldsResponse::Get(Some(r.string()?)),
                STATUS_FAILED => KvldsResponse::Get(None),
                s => return Err(DecodeError::BadStatus(s)),
            },
            KvldsRequestKind::Range => {
                match r.u32()? {
                    STATUS_OK => {}
                    s => return Err(DecodeError::BadStatus(s)),
                }
                let count = r.u32()?;
                let next = r.string()?;
                let pairs = r.rest();
                let mut check = Reader::new(pairs);
                for _ in 0..count {
                    check.string()?;
                    check.string()?;
                }
                check.finish()?;
                KvldsResponse::Range(RangeResponse { next, count, pairs })
            }
            _ => match r.u32()? {
                s @ (STATUS_OK | STATUS_FAILED) => KvldsResponse::Status(s),
                s => return Err(DecodeError::BadStatus(s)),
            },
        };
        r.finish()?;
        Ok(resp)
    }

    /// Append the response record to `out`. (RANGE answers are usually
    /// built with [`encode_range_response`] instead.)
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match *self {
            KvldsResponse::Params { kmax, vmax } => {
                put_u32(out, kmax);
                put_u32(out, vmax);
            }
            KvldsResponse::Status(s) => put_u32(out, s),
            KvldsResponse::Get(None) => put_u32(out, STATUS_FAILED),
            KvldsResponse::Get(Some(v)) => {
                check_strings(&[v])?;
                put_u32(out, STATUS_OK);
                put_string(out, v)?;
            }
            KvldsResponse::Range(rr) => {
                check_strings(&[rr.next])?;
                put_u32(out, STATUS_OK);
                put_u32(out, rr.count);
                put_string(out, rr.next)?;
                out.extend_from_slice(rr.pairs);
            }
        }
        Ok(())
    }
}

/// Append a RANGE answer carrying `next` and `pairs`. On error (a string
/// over 255 bytes) `out` is left as it was.
pub fn encode_range_response<'b, I>(
    out: &mut Vec<u8>,
    next: &[u8],
    pairs: I,
) -> Result<(), EncodeError>
where
    I: IntoIterator<Item = (&'b [u8], &'b [u8])>,
{
    check_strings(&[next])?;
    let start = out.len();
    put_u32(out, STATUS_OK);
    put_u32(out, 0);
    put_string(out, next)?;
    let mut count: u32 = 0;
    for (k, v) in pairs {
        if let Err(e) = check_strings(&[k, v]) {
            out.truncate(start);
            return Err(e);
        }
        put_string(out, k)?;
        put_string(out, v)?;
        count += 1;
    }
    out[start + 4..start + 8].copy_from_slice(&count.to_be_bytes());
    Ok(())
}

/// Bytes a pair takes in a RANGE answer (what the `max` budget counts).
pub const fn range_pair_size(key: &[u8], value: &[u8]) -> usize {
    2 + key.len() + value.len()
}

#[cfg(test)]
mod tests;
