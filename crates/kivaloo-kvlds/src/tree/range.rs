//! RANGE: pairs with start ≤ key < end, in key order, within a byte budget.
//!
//! End-key choice: `end` is *exclusive*, as the protocol intends (upstream
//! includes a key equal to a non-empty `end`, its issue #352). An empty
//! `end` means the end of the key space. As upstream does, the first pair
//! is returned even when it alone exceeds the budget, and `next` is where
//! the caller continues: the first key not returned, `end` when the range
//! is exhausted below it, or the empty string at the end of the key space.

use super::{NodeId, Tree};

/// Largest budget honoured; clients loop on `next`, so a smaller answer
/// is always correct.
const MAX_BUDGET: usize = 8 << 20;
/// Most leaves fetched ahead for one RANGE.
const MAX_PREFETCH: usize = 256;

#[derive(Debug, PartialEq, Eq)]
pub enum RangeOut {
    Done {
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        next: Vec<u8>,
    },
    /// Fetch these leaves, then ask again.
    Missing(Vec<NodeId>),
}

impl Tree {
    /// Answer a RANGE from the committed state. Must not be called while
    /// uncommitted changes exist (callers wait for the commit instead).
    pub fn range(&mut self, start: &[u8], end: &[u8], max: u32) -> RangeOut {
        debug_assert!(self.overlay.is_empty());
        let budget = (max as usize).min(MAX_BUDGET);
        let mut pairs = Vec::new();
        let mut used = 0usize;
        let mut from: Vec<u8> = start.to_vec();
        loop {
            let id = self.leaf_for(&from);
            let Some(d) = self.leaf_of(id).data.as_ref() else {
                if pairs.is_empty() {
                    return RangeOut::Missing(self.range_prefetch(id, budget));
                }
                return RangeOut::Done { pairs, next: from };
            };
            let i0 = d.search(&from).unwrap_or_else(|i| i);
            for i in i0..d.len() {
                let k = d.key(i);
                if !end.is_empty() && k >= end {
                    return RangeOut::Done {
                        pairs,
                        next: end.to_vec(),
                    };
                }
                let v = d.value(i);
                let size = 2 + k.len() + v.len();
                if !pairs.is_empty() && used + size > budget {
                    return RangeOut::Done {
                        pairs,
                        next: k.to_vec(),
                    };
                }
                used += size;
                pairs.push((k.to_vec(), v.to_vec()));
            }
            self.leaf_of_mut(id).referenced = true;
            match self.bounds(id).1 {
                None => {
                    return RangeOut::Done {
                        pairs,
                        next: Vec::new(),
                    };
                }
                Some(hi) => {
                    if !end.is_empty() && hi >= end {
                        return RangeOut::Done {
                            pairs,
                            next: end.to_vec(),
                        };
                    }
                    from = hi.to_vec();
                }
            }
        }
    }

    /// `first` and the leaves after it, up to about `budget` bytes.
    fn range_prefetch(&self, first: NodeId, budget: usize) -> Vec<NodeId> {
        let mut out = vec![first];
        let mut bytes = 0usize;
        let mut id = first;
        while out.len() < MAX_PREFETCH {
            bytes += self.node(id).addr.map_or(0, |a| a.len as usize);
            if bytes >= budget {
                break;
            }
            let Some(hi) = self.bounds(id).1 else { break };
            id = self.leaf_for(hi);
            if !self.is_loaded(id) {
                out.push(id);
            }
        }
        out
    }
}
