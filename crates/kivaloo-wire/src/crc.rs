//! kivaloo's CRC: CRC-32C (Castagnoli) started from state 0x82F63B78 — the
//! state after one implicit leading 1 bit — with no final inversion, stored
//! little-endian.
//!
//! A standard CRC-32C inverts its state on the way in and out, so feeding the
//! inverted kivaloo state to `crc32c_append` and inverting the result gives
//! the kivaloo state; the `crc32c` crate then supplies the hardware path.

/// The raw running state before any byte is fed.
const START: u32 = 0x82F6_3B78;

/// An incremental kivaloo CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc(u32);

impl Default for Crc {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc {
    pub const fn new() -> Self {
        Crc(START)
    }

    /// Feed more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0 = !crc32c::crc32c_append(!self.0, data);
    }

    /// The 4 bytes as they appear on the wire.
    pub fn bytes(&self) -> [u8; 4] {
        self.0.to_le_bytes()
    }
}

/// The CRC of `data` as it appears on the wire.
pub fn crc(data: &[u8]) -> [u8; 4] {
    let mut c = Crc::new();
    c.update(data);
    c.bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bitwise definition from the spec, independent of the crc32c crate.
    fn reference(data: &[u8]) -> [u8; 4] {
        let mut s = START;
        for &b in data {
            s ^= u32::from(b);
            for _ in 0..8 {
                s = if s & 1 != 0 {
                    (s >> 1) ^ 0x82F6_3B78
                } else {
                    s >> 1
                };
            }
        }
        s.to_le_bytes()
    }

    #[test]
    fn spec_test_vectors() {
        assert_eq!(crc(b"hello world"), [0xca, 0x13, 0x0b, 0xaa]);
        assert_eq!(crc(b""), [0x78, 0x3b, 0xf6, 0x82]);
    }

    #[test]
    fn matches_bitwise_definition() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000] {
            assert_eq!(crc(&data[..len]), reference(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data = b"the quick brown fox jumps over the lazy dog";
        for split in 0..data.len() {
            let mut c = Crc::new();
            c.update(&data[..split]);
            c.update(&data[split..]);
            assert_eq!(c.bytes(), crc(data));
        }
    }
}
