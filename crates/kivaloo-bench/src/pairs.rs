//! Upstream's benchmark data set (`mkpairs N`): pair i = X·2^16 + Y has
//!
//! * key   = BE64(X) ‖ SHA-256(0x00 ‖ BE64(X) ‖ BE64(Y))
//! * value = BE64(X·2^16 + Y) ‖ SHA-256(0x00 ‖ BE64(X) ‖ BE64(Y))
//!
//! (upstream's documentation says the value hash uses 0x01; its code uses
//! 0x00, and the data set is what the code makes). Pairs are emitted sorted
//! by key within each group of 65 536 X-siblings, hence globally sorted.

use sha2::{Digest, Sha256};

pub const KEY_LEN: usize = 40;
pub const VALUE_LEN: usize = 40;
/// One `mkpairs` output record: key then value.
pub const RECORD_LEN: usize = KEY_LEN + VALUE_LEN;

/// The pair with index `i`.
pub fn pair(i: u64) -> ([u8; KEY_LEN], [u8; VALUE_LEN]) {
    let (x, y) = (i >> 16, i & 0xffff);
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(x.to_be_bytes());
    h.update(y.to_be_bytes());
    let d = h.finalize();
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&x.to_be_bytes());
    k[8..].copy_from_slice(&d);
    let mut v = [0u8; VALUE_LEN];
    v[..8].copy_from_slice(&i.to_be_bytes());
    v[8..].copy_from_slice(&d);
    (k, v)
}

/// All N pairs as `mkpairs N` writes them: 80-byte records in key order.
pub fn mkpairs(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * RECORD_LEN);
    let mut group: Vec<([u8; KEY_LEN], [u8; VALUE_LEN])> = Vec::with_capacity(65_536);
    let mut x = 0u64;
    while x << 16 < n {
        group.clear();
        let end = ((x + 1) << 16).min(n);
        group.extend(((x << 16)..end).map(pair));
        group.sort_unstable_by_key(|p| p.0);
        for (k, v) in &group {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        x += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_order() {
        let (k, v) = pair(0x0001_0002);
        assert_eq!(&k[..8], &1u64.to_be_bytes());
        assert_eq!(&v[..8], &0x0001_0002u64.to_be_bytes());
        // Bytes 8..40 of the value equal those of the key (both hash 0x00).
        assert_eq!(k[8..], v[8..]);
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(1u64.to_be_bytes());
        h.update(2u64.to_be_bytes());
        assert_eq!(&k[8..], h.finalize().as_slice());

        let n = 65_536 + 1000;
        let all = mkpairs(n);
        assert_eq!(all.len(), n as usize * RECORD_LEN);
        let keys: Vec<&[u8]> = all.chunks(RECORD_LEN).map(|r| &r[..KEY_LEN]).collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        // Every index appears once (the value carries it).
        let mut idx: Vec<u64> = all
            .chunks(RECORD_LEN)
            .map(|r| u64::from_be_bytes(r[KEY_LEN..KEY_LEN + 8].try_into().unwrap()))
            .collect();
        idx.sort_unstable();
        assert!(idx.iter().copied().eq(0..n));
    }
}
