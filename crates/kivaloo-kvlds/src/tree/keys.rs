//! A parent's separator keys packed in one buffer: a lookup's binary
//! search then touches two small arrays instead of one heap allocation
//! per key compared.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyList {
    buf: Vec<u8>,
    offs: Vec<u32>,
}

impl KeyList {
    pub fn len(&self) -> usize {
        self.offs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offs.is_empty()
    }

    fn end(&self, i: usize) -> usize {
        self.offs.get(i + 1).map_or(self.buf.len(), |&o| o as usize)
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.buf[self.offs[i] as usize..self.end(i)]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Number of keys ≤ `key` (the child to descend into).
    pub fn partition_point(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.offs.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.get(mid) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub fn push(&mut self, key: &[u8]) {
        self.offs.push(self.buf.len() as u32);
        self.buf.extend_from_slice(key);
    }

    pub fn insert(&mut self, i: usize, key: &[u8]) {
        let at = self.offs.get(i).map_or(self.buf.len(), |&o| o as usize);
        self.buf.splice(at..at, key.iter().copied());
        for o in &mut self.offs[i..] {
            *o += key.len() as u32;
        }
        self.offs.insert(i, at as u32);
    }

    pub fn remove(&mut self, i: usize) -> Vec<u8> {
        let (lo, hi) = (self.offs[i] as usize, self.end(i));
        let k: Vec<u8> = self.buf.drain(lo..hi).collect();
        self.offs.remove(i);
        for o in &mut self.offs[i..] {
            *o -= k.len() as u32;
        }
        k
    }

    pub fn pop(&mut self) -> Option<Vec<u8>> {
        let n = self.len();
        (n > 0).then(|| self.remove(n - 1))
    }

    /// Move keys `i..` into a new list.
    pub fn split_off(&mut self, i: usize) -> KeyList {
        let at = self.offs.get(i).map_or(self.buf.len(), |&o| o as usize);
        let buf = self.buf.split_off(at);
        let offs = self
            .offs
            .split_off(i)
            .into_iter()
            .map(|o| o - at as u32)
            .collect();
        KeyList { buf, offs }
    }

    pub fn append(&mut self, other: KeyList) {
        let base = self.buf.len() as u32;
        self.buf.extend_from_slice(&other.buf);
        self.offs.extend(other.offs.into_iter().map(|o| o + base));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_and_routing() {
        let mut k = KeyList::default();
        k.push(b"b");
        k.push(b"dd");
        k.insert(0, b"a");
        k.insert(3, b"e");
        k.insert(2, b"c");
        let all: Vec<&[u8]> = k.iter().collect();
        assert_eq!(all, vec![&b"a"[..], b"b", b"c", b"dd", b"e"]);
        assert_eq!(k.partition_point(b""), 0);
        assert_eq!(k.partition_point(b"a"), 1);
        assert_eq!(k.partition_point(b"d"), 3);
        assert_eq!(k.partition_point(b"z"), 5);
        assert_eq!(k.remove(1), b"b");
        let mut r = k.split_off(2);
        assert_eq!(r.get(0), b"dd");
        assert_eq!(k.pop(), Some(b"c".to_vec()));
        k.append(r.clone());
        assert_eq!(k.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"dd", b"e"]);
        assert_eq!(r.pop(), Some(b"e".to_vec()));
    }
}
