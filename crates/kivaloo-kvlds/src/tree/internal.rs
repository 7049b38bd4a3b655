//! Parent nodes: separators and children. Parents are always resident, so
//! only their record format lives here; the in-memory form is plain vectors.

use super::keys::KeyList;
use crate::error::Corrupt;
use crate::format::{Addr, CHILD_ENTRY, INTERNAL_HEADER, REC_INTERNAL, Reader, put_lstr};

/// A child as recorded in its parent on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildRef {
    pub addr: Addr,
    /// Oldest stream position of any record under this child.
    pub oldest: u64,
}

/// Record length of a parent with these separators and `n` children.
pub fn record_len<'a>(seps: impl Iterator<Item = &'a [u8]>, n: usize) -> usize {
    INTERNAL_HEADER + CHILD_ENTRY * n + seps.map(|s| 1 + s.len()).sum::<usize>()
}

pub fn encode(height: u8, children: &[ChildRef], seps: &KeyList, out: &mut Vec<u8>) {
    debug_assert_eq!(children.len(), seps.len() + 1);
    out.push(REC_INTERNAL);
    out.push(height);
    out.extend_from_slice(&(children.len() as u16).to_be_bytes());
    for c in children {
        out.extend_from_slice(&c.addr.pos.to_be_bytes());
        out.extend_from_slice(&c.addr.len.to_be_bytes());
        out.extend_from_slice(&c.oldest.to_be_bytes());
    }
    for s in seps.iter() {
        put_lstr(out, s);
    }
}

/// A parsed parent record.
pub struct Decoded {
    pub height: u8,
    pub children: Vec<ChildRef>,
    pub seps: KeyList,
}

pub fn decode(rec: &[u8]) -> Result<Decoded, Corrupt> {
    let mut r = Reader::new(rec);
    if r.u8()? != REC_INTERNAL {
        return Err(Corrupt::Record("not a parent node"));
    }
    let height = r.u8()?;
    let n = usize::from(r.u16()?);
    if height == 0 || n == 0 {
        return Err(Corrupt::Record("bad parent header"));
    }
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        let pos = r.u64()?;
        let len = r.u32()?;
        let oldest = r.u64()?;
        if len == 0 || oldest > pos {
            return Err(Corrupt::Record("bad child entry"));
        }
        children.push(ChildRef {
            addr: Addr { pos, len },
            oldest,
        });
    }
    let mut seps = KeyList::default();
    let mut prev: Option<&[u8]> = None;
    for _ in 1..n {
        let s = r.lstr()?;
        if prev.is_some_and(|p| p >= s) {
            return Err(Corrupt::Record("separators out of order"));
        }
        prev = Some(s);
        seps.push(s);
    }
    if !r.done() {
        return Err(Corrupt::Record("trailing bytes in parent"));
    }
    Ok(Decoded {
        height,
        children,
        seps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_validation() {
        let kids = [
            ChildRef {
                addr: Addr { pos: 5, len: 10 },
                oldest: 5,
            },
            ChildRef {
                addr: Addr { pos: 50, len: 7 },
                oldest: 20,
            },
        ];
        let mut seps = KeyList::default();
        seps.push(b"m");
        let mut rec = Vec::new();
        encode(1, &kids, &seps, &mut rec);
        assert_eq!(rec.len(), record_len(seps.iter(), 2));
        let d = decode(&rec).unwrap();
        assert_eq!(d.height, 1);
        assert_eq!(d.children, kids);
        assert_eq!(d.seps, seps);
        assert!(decode(&rec[..rec.len() - 1]).is_err());
        let mut bad = rec.clone();
        bad[1] = 0;
        assert!(decode(&bad).is_err());
    }
}
