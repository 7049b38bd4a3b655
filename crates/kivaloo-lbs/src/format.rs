//! On-disk layout. Files are named `blks_` + 16 lowercase hex digits (the
//! number of their first block, as upstream names them); each holds a run
//! of *append records*:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `kvlbsAP1` |
//! | 8 | 8 | first block number (u64 BE) |
//! | 16 | 4 | number of blocks n (u32 BE) |
//! | 20 | 4 | CRC-32C of the n × B data bytes (LE) |
//! | 24 | 4 | block size B (u32 BE) |
//! | 28 | 4 | CRC-32C of bytes 0..28 (LE) |
//! | 32 | n × B | the blocks |
//!
//! Upstream stores bare blocks and truncates a torn tail to whole blocks,
//! which can leave part of an unacknowledged APPEND readable, or a block
//! whose bytes never reached the disk (file systems may persist the later
//! pages of a write before the earlier ones). The 32-byte header per APPEND
//! lets recovery drop the whole torn APPEND instead, so an APPEND is
//! all-or-nothing, and records B so a store cannot be reopened with
//! another block size.

/// Bytes before each APPEND's blocks.
pub const HEADER_LEN: usize = 32;
const MAGIC: [u8; 8] = *b"kvlbsAP1";
const PREFIX: &str = "blks_";

/// The name of the file whose first block is `start`.
pub fn file_name(start: u64) -> String {
    format!("{PREFIX}{start:016x}")
}

/// The first block of a file named like [`file_name`]'s output.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(PREFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// A decoded append header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendHeader {
    pub blkno: u64,
    pub nblks: u32,
    pub data_crc: u32,
    pub block_size: u32,
}

impl AppendHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(&MAGIC);
        h[8..16].copy_from_slice(&self.blkno.to_be_bytes());
        h[16..20].copy_from_slice(&self.nblks.to_be_bytes());
        h[20..24].copy_from_slice(&self.data_crc.to_le_bytes());
        h[24..28].copy_from_slice(&self.block_size.to_be_bytes());
        let c = crc32c::crc32c(&h[..28]);
        h[28..32].copy_from_slice(&c.to_le_bytes());
        h
    }

    /// `None` if the header is not intact.
    pub fn decode(h: &[u8; HEADER_LEN]) -> Option<Self> {
        let word = |r: std::ops::Range<usize>| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&h[r]);
            a
        };
        if h[..8] != MAGIC || crc32c::crc32c(&h[..28]) != u32::from_le_bytes(word(28..32)) {
            return None;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[8..16]);
        Some(AppendHeader {
            blkno: u64::from_be_bytes(b),
            nblks: u32::from_be_bytes(word(16..20)),
            data_crc: u32::from_le_bytes(word(20..24)),
            block_size: u32::from_be_bytes(word(24..28)),
        })
    }
}

/// Could these bytes be what is left of an interrupted header write (a
/// prefix of ours, zeros where the rest never arrived)? If not, the file
/// is not ours (say, an upstream lbs file) and must not be truncated.
pub fn looks_like_torn_header(h: &[u8]) -> bool {
    h.iter()
        .take(MAGIC.len())
        .zip(MAGIC)
        .all(|(&b, m)| b == 0 || b == m)
}

/// CRC-32C of data given in parts.
pub fn data_crc(parts: &[&[u8]]) -> u32 {
    parts.iter().fold(0, |c, p| crc32c::crc32c_append(c, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(7), "blks_0000000000000007");
        assert_eq!(parse_file_name("blks_0000000000000007"), Some(7));
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "blks_000000000000007",
            "blks_000000000000000A",
            "blks_00000000000000007",
            "xblks_0000000000000007",
            "blks_+000000000000007",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_round_trip_and_damage() {
        let h = AppendHeader {
            blkno: 1 << 40,
            nblks: 3,
            data_crc: 0xdeadbeef,
            block_size: 2048,
        };
        let e = h.encode();
        assert_eq!(AppendHeader::decode(&e), Some(h));
        for i in 0..HEADER_LEN {
            let mut bad = e;
            bad[i] ^= 0x10;
            assert_eq!(AppendHeader::decode(&bad), None, "byte {i}");
        }
        assert!(looks_like_torn_header(&[0; 32]));
        assert!(looks_like_torn_header(&e[..5]));
        let mut partial = [0u8; 32];
        partial[..3].copy_from_slice(&e[..3]);
        assert!(looks_like_torn_header(&partial));
        assert!(!looks_like_torn_header(b"KVLDS\0\0\x01"));
    }

    #[test]
    fn crc_over_parts() {
        assert_eq!(data_crc(&[b"ab", b"", b"cd"]), crc32c::crc32c(b"abcd"));
    }
}
