//! A leaf's pairs, kept packed exactly as they are written to disk
//! (`klen key vlen value`, sorted), plus an offset per pair for binary
//! search. Keeping the serialized form in memory makes a cached leaf cost
//! about its disk size (82 bytes plus 4 for a 40+40-byte pair) and makes
//! loading and writing a leaf a copy.

use crate::error::Corrupt;
use crate::format::{LEAF_HEADER, REC_LEAF, Reader};

#[derive(Clone, Debug, Default)]
pub struct LeafData {
    buf: Vec<u8>,
    offs: Vec<u32>,
}

impl LeafData {
    pub fn len(&self) -> usize {
        self.offs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offs.is_empty()
    }

    /// Bytes of the leaf's record on disk.
    pub fn record_len(&self) -> usize {
        LEAF_HEADER + self.buf.len()
    }

    /// Bytes of memory the leaf holds.
    pub fn mem(&self) -> usize {
        self.buf.capacity() + 4 * self.offs.capacity() + 64
    }

    pub fn key(&self, i: usize) -> &[u8] {
        let o = self.offs[i] as usize;
        let n = usize::from(self.buf[o]);
        &self.buf[o + 1..o + 1 + n]
    }

    pub fn value(&self, i: usize) -> &[u8] {
        let o = self.offs[i] as usize;
        let k = usize::from(self.buf[o]);
        let vo = o + 1 + k;
        let n = usize::from(self.buf[vo]);
        &self.buf[vo + 1..vo + 1 + n]
    }

    /// Serialized bytes of pair `i`.
    pub fn pair_len(&self, i: usize) -> usize {
        self.end_of(i) - self.offs[i] as usize
    }

    fn end_of(&self, i: usize) -> usize {
        self.offs.get(i + 1).map_or(self.buf.len(), |&o| o as usize)
    }

    /// `Ok(i)` if the key is pair `i`, `Err(i)` if it would be inserted at `i`.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.offs.binary_search_by(|&o| {
            let o = o as usize;
            let n = usize::from(self.buf[o]);
            self.buf[o + 1..o + 1 + n].cmp(key)
        })
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.search(key).ok().map(|i| self.value(i))
    }

    /// Put `value` under `key`; returns the old value's presence.
    pub fn insert_at(&mut self, i: usize, key: &[u8], value: &[u8]) {
        let at = self.offs.get(i).map_or(self.buf.len(), |&o| o as usize);
        let add = 2 + key.len() + value.len();
        let mut pair = Vec::with_capacity(add);
        pair.push(key.len() as u8);
        pair.extend_from_slice(key);
        pair.push(value.len() as u8);
        pair.extend_from_slice(value);
        self.buf.splice(at..at, pair);
        for o in &mut self.offs[i..] {
            *o += add as u32;
        }
        self.offs.insert(i, at as u32);
    }

    pub fn replace_value(&mut self, i: usize, value: &[u8]) {
        let o = self.offs[i] as usize;
        let vo = o + 1 + usize::from(self.buf[o]);
        let old = usize::from(self.buf[vo]);
        let mut v = Vec::with_capacity(1 + value.len());
        v.push(value.len() as u8);
        v.extend_from_slice(value);
        self.buf.splice(vo..vo + 1 + old, v);
        let delta = value.len() as i64 - old as i64;
        if delta != 0 {
            for o in &mut self.offs[i + 1..] {
                *o = (i64::from(*o) + delta) as u32;
            }
        }
    }

    pub fn remove(&mut self, i: usize) {
        let lo = self.offs[i] as usize;
        let hi = self.end_of(i);
        self.buf.drain(lo..hi);
        self.offs.remove(i);
        let d = (hi - lo) as u32;
        for o in &mut self.offs[i..] {
            *o -= d;
        }
    }

    /// Set or delete `key`; returns whether the pair count changed by
    /// +1 (insert), −1 (delete) or 0, and the insertion index if inserted.
    pub fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> (i64, Option<usize>) {
        match (self.search(key), value) {
            (Ok(i), Some(v)) => {
                if self.value(i) != v {
                    self.replace_value(i, v);
                }
                (0, None)
            }
            (Ok(i), None) => {
                self.remove(i);
                (-1, None)
            }
            (Err(i), Some(v)) => {
                self.insert_at(i, key, v);
                (1, Some(i))
            }
            (Err(_), None) => (0, None),
        }
    }

    /// Move pairs `i..` into a new leaf.
    pub fn split_off(&mut self, i: usize) -> LeafData {
        let at = self.offs[i] as usize;
        let buf = self.buf.split_off(at);
        let offs = self
            .offs
            .split_off(i)
            .iter()
            .map(|o| o - at as u32)
            .collect();
        self.buf.shrink_to_fit();
        self.offs.shrink_to_fit();
        LeafData { buf, offs }
    }

    /// Append all of `right`'s pairs (whose keys are all greater).
    pub fn absorb(&mut self, right: LeafData) {
        let base = self.buf.len() as u32;
        self.buf.extend_from_slice(&right.buf);
        self.offs.extend(right.offs.iter().map(|o| o + base));
    }

    pub fn encode(&self, lsn: u64, out: &mut Vec<u8>) {
        out.push(REC_LEAF);
        out.extend_from_slice(&lsn.to_be_bytes());
        out.extend_from_slice(&(self.offs.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.buf);
    }

    /// Parse and validate a leaf record; returns (lsn, pairs).
    pub fn decode(rec: &[u8]) -> Result<(u64, LeafData), Corrupt> {
        let mut r = Reader::new(rec);
        if r.u8()? != REC_LEAF {
            return Err(Corrupt::Record("not a leaf"));
        }
        let lsn = r.u64()?;
        let n = usize::from(r.u16()?);
        let start = r.pos();
        let mut offs = Vec::with_capacity(n);
        let mut prev: Option<&[u8]> = None;
        for _ in 0..n {
            offs.push((r.pos() - start) as u32);
            let k = r.lstr()?;
            r.lstr()?;
            if prev.is_some_and(|p| p >= k) {
                return Err(Corrupt::Record("leaf keys out of order"));
            }
            prev = Some(k);
        }
        if !r.done() {
            return Err(Corrupt::Record("trailing bytes in leaf"));
        }
        Ok((
            lsn,
            LeafData {
                buf: rec[start..].to_vec(),
                offs,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_and_round_trip() {
        let mut l = LeafData::default();
        assert_eq!(l.put(b"b", Some(b"2")), (1, Some(0)));
        assert_eq!(l.put(b"a", Some(b"1")), (1, Some(0)));
        assert_eq!(l.put(b"", Some(b"")), (1, Some(0)));
        assert_eq!(l.put(b"c", Some(b"33")), (1, Some(3)));
        assert_eq!(l.put(b"a", Some(b"longer")), (0, None));
        assert_eq!(l.get(b"a"), Some(&b"longer"[..]));
        assert_eq!(l.get(b"c"), Some(&b"33"[..]));
        assert_eq!(l.put(b"b", None), (-1, None));
        assert_eq!(l.put(b"zz", None), (0, None));
        let mut rec = Vec::new();
        l.encode(9, &mut rec);
        assert_eq!(rec.len(), l.record_len());
        let (lsn, back) = LeafData::decode(&rec).unwrap();
        assert_eq!(lsn, 9);
        let keys: Vec<_> = (0..back.len()).map(|i| back.key(i).to_vec()).collect();
        assert_eq!(keys, vec![b"".to_vec(), b"a".to_vec(), b"c".to_vec()]);
        let mut left = back.clone();
        let right = left.split_off(1);
        assert_eq!(left.len(), 1);
        assert_eq!(right.get(b"c"), Some(&b"33"[..]));
        left.absorb(right);
        assert_eq!(left.get(b"c"), Some(&b"33"[..]));
        assert_eq!(left.search(b"b"), Err(2));
    }

    #[test]
    fn decode_rejects_bad_leaves() {
        let mut l = LeafData::default();
        l.put(b"a", Some(b"1"));
        l.put(b"b", Some(b"2"));
        let mut rec = Vec::new();
        l.encode(1, &mut rec);
        // Swap the keys: out of order.
        let mut bad = rec.clone();
        let i = bad.iter().position(|&c| c == b'a').unwrap();
        bad[i] = b'c';
        assert!(LeafData::decode(&bad).is_err());
        // Truncated, and trailing bytes.
        assert!(LeafData::decode(&rec[..rec.len() - 1]).is_err());
        let mut long = rec.clone();
        long.push(0);
        assert!(LeafData::decode(&long).is_err());
        // A length byte that runs past the end.
        let mut over = rec.clone();
        *over.last_mut().unwrap() = 0;
        let n = over.len();
        over[n - 2] = 200;
        assert!(LeafData::decode(&over).is_err());
    }
}
