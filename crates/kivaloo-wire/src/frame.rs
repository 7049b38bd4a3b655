//! The packet framing every kivaloo connection uses, both directions:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | request ID (u64 BE) |
//! | 8 | 4 | record length L (u32 BE) |
//! | 12 | 4 | H = CRC(bytes 0..12) |
//! | 16 | L | record |
//! | 16+L | 4 | CRC(record) XOR H |
//!
//! The header CRC is checked before the length is trusted, and the length is
//! capped by the caller's protocol before anything is buffered, so a garbage
//! header can neither make us allocate gigabytes nor wait for bytes that will
//! never come. XORing H into the trailer ties each record to its header.

use crate::crc::{Crc, crc};

/// Bytes before the record.
pub const HEADER_LEN: usize = 16;
/// Bytes after the record.
pub const TRAILER_LEN: usize = 4;
/// Framing bytes per packet.
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;

/// One packet, borrowing its record from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub id: u64,
    pub record: &'a [u8],
}

/// A framing violation. The connection cannot be resynchronised after one,
/// so the only answer is to close it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("packet header CRC mismatch")]
    BadHeaderCrc,
    #[error("packet record CRC mismatch")]
    BadRecordCrc,
    #[error("record of {len} bytes exceeds the limit of {max}")]
    TooLong { len: u64, max: usize },
}

/// What [`FrameDecoder::decode`] found at the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole, verified packet which took `consumed` bytes.
    Packet { packet: Packet<'a>, consumed: usize },
    /// Not enough bytes yet: the packet needs `needed` bytes in all (known
    /// once the header is in; [`HEADER_LEN`] before that).
    Incomplete { needed: usize },
}

/// Splits a byte stream into verified packets. Stateless apart from the
/// record-length cap, so it can sit in front of any buffer type.
#[derive(Clone, Copy, Debug)]
pub struct FrameDecoder {
    max_record: usize,
}

impl FrameDecoder {
    /// Accept records of at most `max_record` bytes.
    pub const fn new(max_record: usize) -> Self {
        FrameDecoder { max_record }
    }

    pub const fn max_record(&self) -> usize {
        self.max_record
    }

    /// Decode the packet at the front of `buf`, if it is all there.
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Decoded<'a>, FrameError> {
        let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(Decoded::Incomplete { needed: HEADER_LEN });
        };
        let (id, len) = parse_header(header)?;
        if len as usize > self.max_record {
            return Err(FrameError::TooLong {
                len: u64::from(len),
                max: self.max_record,
            });
        }
        let total = len as usize + OVERHEAD;
        if buf.len() < total {
            return Ok(Decoded::Incomplete { needed: total });
        }
        let record = &buf[HEADER_LEN..HEADER_LEN + len as usize];
        let trailer = &buf[HEADER_LEN + len as usize..total];
        let h = &header[12..16];
        let mut expect = crc(record);
        for (e, hb) in expect.iter_mut().zip(h) {
            *e ^= hb;
        }
        if expect != trailer {
            return Err(FrameError::BadRecordCrc);
        }
        Ok(Decoded::Packet {
            packet: Packet { id, record },
            consumed: total,
        })
    }
}

/// Check a header's CRC and return (request ID, record length).
pub fn parse_header(header: &[u8; HEADER_LEN]) -> Result<(u64, u32), FrameError> {
    if crc(&header[..12]) != header[12..16] {
        return Err(FrameError::BadHeaderCrc);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&header[..8]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[8..12]);
    Ok((u64::from_be_bytes(id), u32::from_be_bytes(len)))
}

/// Append a whole packet carrying `record`.
pub fn encode(out: &mut Vec<u8>, id: u64, record: &[u8]) {
    let start = begin(out, id);
    out.extend_from_slice(record);
    finish(out, start);
}

/// Where a packet being built in place starts; see [`begin`].
#[derive(Debug)]
#[must_use = "a begun packet must be finished"]
pub struct PacketStart {
    offset: usize,
    id: u64,
}

/// Start a packet in place: reserve its header, after which the caller
/// appends the record straight into `out` (no copy) and calls [`finish`].
pub fn begin(out: &mut Vec<u8>, id: u64) -> PacketStart {
    let offset = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    PacketStart { offset, id }
}

/// Fill in the header of a packet started with [`begin`] and append its
/// trailer. Panics if more than 2^32 − 1 record bytes were appended, which
/// no kivaloo protocol can produce.
pub fn finish(out: &mut Vec<u8>, start: PacketStart) {
    let rec_start = start.offset + HEADER_LEN;
    let len = u32::try_from(out.len() - rec_start).expect("kivaloo record longer than 4 GiB");
    let hdr = &mut out[start.offset..rec_start];
    hdr[..8].copy_from_slice(&start.id.to_be_bytes());
    hdr[8..12].copy_from_slice(&len.to_be_bytes());
    let h = crc(&hdr[..12]);
    hdr[12..16].copy_from_slice(&h);
    let mut c = Crc::new();
    c.update(&out[rec_start..]);
    let mut t = c.bytes();
    for (tb, hb) in t.iter_mut().zip(h) {
        *tb ^= hb;
    }
    out.extend_from_slice(&t);
}

/// Append a copy of the whole packet `packet` (as returned by
/// [`FrameDecoder::decode`]: header, record, trailer) carrying `new_id`
/// instead of its own. The record's CRC is not recomputed: the trailer is
/// fixed up by XORing out the old header CRC and in the new one, so a
/// forwarder (mux) re-labels packets at the cost of one 12-byte CRC.
pub fn reframe(out: &mut Vec<u8>, packet: &[u8], new_id: u64) {
    debug_assert!(packet.len() >= OVERHEAD);
    let start = out.len();
    out.extend_from_slice(packet);
    let p = &mut out[start..];
    let mut old_h = [0u8; 4];
    old_h.copy_from_slice(&p[12..16]);
    p[..8].copy_from_slice(&new_id.to_be_bytes());
    let h = crc(&p[..12]);
    p[12..16].copy_from_slice(&h);
    let n = p.len();
    for i in 0..4 {
        p[n - 4 + i] ^= old_h[i] ^ h[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn spec_vector_kvlds_params_request() {
        let mut out = Vec::new();
        encode(&mut out, 0, &[0, 0, 1, 0]);
        assert_eq!(
            out,
            hex("0000000000000000 00000004 077d22df 00000100 2c3022a2")
        );
        let d = FrameDecoder::new(772).decode(&out).unwrap();
        assert_eq!(
            d,
            Decoded::Packet {
                packet: Packet {
                    id: 0,
                    record: &[0, 0, 1, 0]
                },
                consumed: 24
            }
        );
    }

    #[test]
    fn round_trip_ids_and_lengths() {
        let dec = FrameDecoder::new(100_000);
        for (id, len) in [
            (0u64, 0usize),
            (1, 1),
            (u64::MAX, 4),
            (0x0102030405060708, 65_536),
        ] {
            let rec: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
            let mut out = vec![0xEE]; // a packet need not start at offset 0
            encode(&mut out, id, &rec);
            assert_eq!(out.len(), 1 + len + OVERHEAD);
            match dec.decode(&out[1..]).unwrap() {
                Decoded::Packet { packet, consumed } => {
                    assert_eq!(packet.id, id);
                    assert_eq!(packet.record, &rec[..]);
                    assert_eq!(consumed, len + OVERHEAD);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn in_place_building_equals_encode() {
        let mut a = Vec::new();
        encode(&mut a, 42, b"record bytes");
        let mut b = Vec::new();
        let p = begin(&mut b, 42);
        b.extend_from_slice(b"record ");
        b.extend_from_slice(b"bytes");
        finish(&mut b, p);
        assert_eq!(a, b);
    }

    #[test]
    fn incomplete_at_every_prefix() {
        let mut out = Vec::new();
        encode(&mut out, 7, b"abcdef");
        let dec = FrameDecoder::new(772);
        for n in 0..out.len() {
            let want = if n < HEADER_LEN {
                HEADER_LEN
            } else {
                out.len()
            };
            assert_eq!(
                dec.decode(&out[..n]).unwrap(),
                Decoded::Incomplete { needed: want },
                "prefix {n}"
            );
        }
    }

    #[test]
    fn corrupt_header_or_record_or_trailer_is_rejected() {
        let mut out = Vec::new();
        encode(&mut out, 9, b"payload");
        let dec = FrameDecoder::new(772);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x01;
            let want = if i < HEADER_LEN {
                FrameError::BadHeaderCrc
            } else {
                FrameError::BadRecordCrc
            };
            assert_eq!(dec.decode(&bad).unwrap_err(), want, "byte {i}");
        }
    }

    #[test]
    fn record_spliced_onto_another_header_fails() {
        let mut a = Vec::new();
        encode(&mut a, 1, b"same");
        let mut b = Vec::new();
        encode(&mut b, 2, b"same");
        let mut spliced = b[..HEADER_LEN].to_vec();
        spliced.extend_from_slice(&a[HEADER_LEN..]);
        assert_eq!(
            FrameDecoder::new(772).decode(&spliced).unwrap_err(),
            FrameError::BadRecordCrc
        );
    }

    #[test]
    fn over_long_length_rejected_from_the_header_alone() {
        let mut out = Vec::new();
        encode(&mut out, 3, &[0u8; 773]);
        let err = FrameDecoder::new(772)
            .decode(&out[..HEADER_LEN])
            .unwrap_err();
        assert_eq!(err, FrameError::TooLong { len: 773, max: 772 });
        // A header claiming 4 GiB is refused just as early.
        let mut hdr = [0u8; HEADER_LEN];
        hdr[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let h = crc(&hdr[..12]);
        hdr[12..].copy_from_slice(&h);
        assert!(matches!(
            FrameDecoder::new(772).decode(&hdr),
            Err(FrameError::TooLong { .. })
        ));
    }

    #[test]
    fn reframing_equals_encoding_with_the_new_id() {
        for rec in [&b""[..], b"x", b"some longer record bytes"] {
            let mut a = Vec::new();
            encode(&mut a, 1, rec);
            let mut b = vec![0xAA];
            reframe(&mut b, &a, 0xFEDC_BA98_7654_3210);
            let mut c = vec![0xAA];
            encode(&mut c, 0xFEDC_BA98_7654_3210, rec);
            assert_eq!(b, c);
        }
    }

    #[test]
    fn back_to_back_packets() {
        let mut out = Vec::new();
        for id in 0..5u64 {
            encode(&mut out, id, &id.to_be_bytes()[..id as usize]);
        }
        let dec = FrameDecoder::new(772);
        let mut at = 0;
        for id in 0..5u64 {
            match dec.decode(&out[at..]).unwrap() {
                Decoded::Packet { packet, consumed } => {
                    assert_eq!(packet.id, id);
                    assert_eq!(packet.record.len(), id as usize);
                    at += consumed;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(at, out.len());
    }
}
