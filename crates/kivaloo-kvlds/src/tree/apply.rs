//! Modifying requests, applied in arrival order, and the structural
//! changes they cause (splits, merges, new roots, deroots).

use super::leaf::LeafData;
use super::{Body, Internal, Leaf, NONE, Node, NodeId, Tree};

/// A modifying request, with upstream's semantics (spec §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mr {
    /// Store the pair. Always 0.
    Set { key: Vec<u8>, value: Vec<u8> },
    /// Replace the value if it is `old`: 0 = swapped, 1 = not.
    Cas {
        key: Vec<u8>,
        old: Vec<u8>,
        value: Vec<u8>,
    },
    /// Store if absent: 0 = added, 1 = key existed.
    Add { key: Vec<u8>, value: Vec<u8> },
    /// Replace if present: 0 = replaced, 1 = absent.
    Modify { key: Vec<u8>, value: Vec<u8> },
    /// Remove. Always 0.
    Delete { key: Vec<u8> },
    /// Remove if the value is `old`: 0 = deleted, 1 = not.
    Cad { key: Vec<u8>, old: Vec<u8> },
}

impl Mr {
    pub fn key(&self) -> &[u8] {
        match self {
            Mr::Set { key, .. }
            | Mr::Cas { key, .. }
            | Mr::Add { key, .. }
            | Mr::Modify { key, .. }
            | Mr::Delete { key }
            | Mr::Cad { key, .. } => key,
        }
    }

    /// The value it would store, if any (for length checks).
    pub fn new_value(&self) -> Option<&[u8]> {
        match self {
            Mr::Set { value, .. }
            | Mr::Cas { value, .. }
            | Mr::Add { value, .. }
            | Mr::Modify { value, .. } => Some(value),
            Mr::Delete { .. } | Mr::Cad { .. } => None,
        }
    }

    /// Status to report and the change to make, given the current value.
    fn decide<'a>(&'a self, cur: Option<&[u8]>) -> (u32, Option<Option<&'a [u8]>>) {
        match self {
            Mr::Set { value, .. } => (0, Some(Some(value))),
            Mr::Cas { old, value, .. } if cur == Some(&old[..]) => (0, Some(Some(value))),
            Mr::Add { value, .. } if cur.is_none() => (0, Some(Some(value))),
            Mr::Modify { value, .. } if cur.is_some() => (0, Some(Some(value))),
            Mr::Delete { .. } => (0, cur.map(|_| None)),
            Mr::Cad { old, .. } if cur == Some(&old[..]) => (0, Some(None)),
            _ => (1, None),
        }
    }
}

impl Tree {
    /// Leaves that must be fetched before `mrs` can be applied.
    pub fn missing_for<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> Vec<NodeId> {
        let mut out = Vec::new();
        for k in keys {
            let id = self.leaf_for(k);
            if !self.is_loaded(id) && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// Apply a batch in order and return each request's status; or, if
    /// some leaves are not in memory, change nothing and name them.
    /// Must not be called while a commit is in flight.
    pub fn apply(&mut self, mrs: &[Mr]) -> Result<Vec<u32>, Vec<NodeId>> {
        assert!(self.inflight.is_none(), "apply during an in-flight commit");
        let missing = self.missing_for(mrs.iter().map(Mr::key));
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(mrs.iter().map(|m| self.apply_one(m)).collect())
    }

    fn apply_one(&mut self, mr: &Mr) -> u32 {
        let key = mr.key();
        let id = self.leaf_for(key);
        let data = self.leaf_of(id).data.as_ref().expect("leaf loaded");
        let cur = data.get(key);
        let (status, change) = mr.decide(cur);
        let Some(new) = change else { return status };
        if new == cur {
            return status;
        }
        if !self.overlay.contains_key(key) {
            let old = cur.map(Box::<[u8]>::from);
            self.overlay.insert(key.into(), old);
        }
        self.put_in_leaf(id, key, new);
        status
    }

    /// Change one pair in a loaded leaf, then fix the structure.
    pub(crate) fn put_in_leaf(&mut self, id: NodeId, key: &[u8], value: Option<&[u8]>) {
        let l = self.leaf_of_mut(id);
        let d = l.data.as_mut().expect("leaf loaded");
        let before = d.mem();
        let (delta, ins) = d.put(key, value);
        let after = d.mem();
        let at_end = ins.is_some_and(|i| i + 1 == d.len());
        let too_big = d.record_len();
        let too_small = d.is_empty() || d.record_len() < self.cfg.leaf_max / 4;
        self.mem = self.mem + after - before;
        self.npairs = self.npairs.wrapping_add_signed(delta);
        self.touch(id);
        if too_big > self.cfg.leaf_max {
            self.split_leaf(id, at_end);
        } else if delta < 0 && too_small {
            self.merge_leaf(id);
        }
    }

    pub(crate) fn touch(&mut self, id: NodeId) {
        let l = self.leaf_of_mut(id);
        if !l.touched {
            l.touched = true;
            self.touched.push(id);
        }
    }

    pub(crate) fn mark_dirty(&mut self, id: NodeId) {
        let n = self.node_mut(id);
        if !n.dirty {
            n.dirty = true;
            self.dirty_list.push(id);
        }
    }

    /// A new leaf inherits the commit number of the leaf it came from, so
    /// that log replay on start-up treats its pairs like the original's.
    fn new_leaf(&mut self, parent: NodeId, data: LeafData, lsn: u64) -> NodeId {
        self.mem += data.mem();
        let id = self.alloc(Node {
            parent,
            addr: None,
            oldest: u64::MAX,
            dirty: false,
            body: Body::Leaf(Leaf {
                data: Some(data),
                lsn,
                pending: None,
                logged: 0,
                touched: false,
                referenced: true,
            }),
        });
        self.mark_dirty(id);
        self.touch(id);
        id
    }

    /// Split an oversized leaf. After an insertion at its end (the
    /// pattern of a bulk load in key order) the old pairs stay together
    /// in a full leaf; otherwise the pairs are halved by bytes.
    fn split_leaf(&mut self, id: NodeId, at_end: bool) {
        let max = self.cfg.leaf_max;
        let d = self.leaf_of_mut(id).data.as_mut().expect("leaf loaded");
        let n = d.len();
        if n < 2 {
            return;
        }
        let at = if at_end {
            n - 1
        } else {
            let total = d.record_len();
            let mut acc = crate::format::LEAF_HEADER;
            let mut i = 0;
            while i < n - 1 && acc + d.pair_len(i) <= total / 2 {
                acc += d.pair_len(i);
                i += 1;
            }
            i.max(1)
        };
        let before = d.mem();
        let right = d.split_off(at);
        let left_big = d.record_len() > max;
        let after = d.mem();
        self.mem = self.mem + after - before;
        let sep: Box<[u8]> = right.key(0).into();
        let right_big = right.record_len() > max;
        let parent = self.node(id).parent;
        let lsn = self.leaf_of(id).lsn;
        let r = self.new_leaf(parent, right, lsn);
        self.mark_dirty(id);
        self.insert_child(id, sep, r, at_end);
        if left_big {
            self.split_leaf(id, false);
        }
        if right_big {
            self.split_leaf(r, false);
        }
    }

    /// Change a parent's contents, keeping the memory count right.
    fn edit_internal<R>(&mut self, id: NodeId, f: impl FnOnce(&mut Internal) -> R) -> R {
        let i = self.internal_of_mut(id);
        let before = i.record_len();
        let r = f(i);
        let after = i.record_len();
        self.mem = self.mem + after - before;
        self.mark_dirty(id);
        r
    }

    /// Put `right` just after `left` in their parent, under `sep`.
    fn insert_child(&mut self, left: NodeId, sep: Box<[u8]>, right: NodeId, at_end: bool) {
        let p = self.node(left).parent;
        if p == NONE {
            let height = self.node(left).internal().map_or(0, |i| i.height) + 1;
            let body = Internal {
                height,
                seps: {
                    let mut k = super::keys::KeyList::default();
                    k.push(&sep);
                    k
                },
                children: vec![left, right],
            };
            self.mem += body.record_len() + 64;
            let root = self.alloc(Node {
                parent: NONE,
                addr: None,
                oldest: u64::MAX,
                dirty: false,
                body: Body::Internal(body),
            });
            self.mark_dirty(root);
            self.node_mut(left).parent = root;
            self.node_mut(right).parent = root;
            self.root = root;
            return;
        }
        let i = self.child_index(p, left);
        let last = self.edit_internal(p, |pi| {
            pi.seps.insert(i, &sep);
            pi.children.insert(i + 1, right);
            i + 2 == pi.children.len()
        });
        self.node_mut(right).parent = p;
        if self.internal_of(p).record_len() > self.cfg.internal_max {
            self.split_internal(p, at_end && last);
        }
    }

    fn split_internal(&mut self, id: NodeId, at_end: bool) {
        let height = self.internal_of(id).height;
        let (sep, seps, children) = self.edit_internal(id, |pi| {
            let n = pi.children.len();
            let k = if at_end { n - 1 } else { n / 2 };
            let children = pi.children.split_off(k);
            let seps = pi.seps.split_off(k);
            let sep: Box<[u8]> = pi.seps.pop().expect("separator").into();
            (sep, seps, children)
        });
        let body = Internal {
            height,
            seps,
            children,
        };
        self.mem += body.record_len() + 64;
        let kids = body.children.clone();
        let parent = self.node(id).parent;
        let r = self.alloc(Node {
            parent,
            addr: None,
            oldest: u64::MAX,
            dirty: false,
            body: Body::Internal(body),
        });
        self.mark_dirty(r);
        for c in kids {
            self.node_mut(c).parent = r;
        }
        self.insert_child(id, sep, r, at_end);
    }

    /// A leaf shrank: drop it if empty, or fold it into a loaded sibling
    /// when both fit comfortably in one leaf.
    fn merge_leaf(&mut self, id: NodeId) {
        let p = self.node(id).parent;
        if p == NONE {
            return;
        }
        if self.replaying {
            return;
        }
        let d = self.leaf_of(id).data.as_ref().expect("leaf loaded");
        if d.is_empty() {
            // The neighbour that takes over the key range must be in
            // memory: the deletions are logged against it.
            let i = self.child_index(p, id);
            let kids = &self.internal_of(p).children;
            let heir = match (i.checked_sub(1), kids.get(i + 1)) {
                (Some(l), _) if kids.len() > 1 => kids[l],
                (None, Some(&r)) => r,
                _ => return,
            };
            if self.is_loaded(heir) {
                self.touch(heir);
                self.remove_child(p, i);
            }
            return;
        }
        let i = self.child_index(p, id);
        let kids = &self.internal_of(p).children;
        let (l, r, li) = if i + 1 < kids.len() {
            (id, kids[i + 1], i)
        } else if i > 0 {
            (kids[i - 1], id, i - 1)
        } else {
            return;
        };
        let (Some(ld), Some(rd)) = (self.leaf_of(l).data.as_ref(), self.leaf_of(r).data.as_ref())
        else {
            return;
        };
        if ld.record_len() + rd.record_len() > self.cfg.leaf_max * 3 / 4 {
            return;
        }
        let rdata = self.leaf_of_mut(r).data.take().expect("loaded");
        self.mem -= rdata.mem();
        let ld = self.leaf_of_mut(l).data.as_mut().expect("loaded");
        let before = ld.mem();
        ld.absorb(rdata);
        let after = ld.mem();
        self.mem = self.mem + after - before;
        self.mark_dirty(l);
        self.touch(l);
        self.remove_child(p, li + 1);
    }

    /// Remove child `i` of `p` (an empty leaf, or a node whose contents
    /// moved to its left sibling) and fix the parent up.
    fn remove_child(&mut self, p: NodeId, i: usize) {
        let gone = self.edit_internal(p, |pi| {
            let c = pi.children.remove(i);
            if !pi.seps.is_empty() {
                pi.seps.remove(i.saturating_sub(1));
            }
            c
        });
        self.release(gone);
        let pi = self.internal_of(p);
        let (n, small) = (
            pi.children.len(),
            pi.record_len() < self.cfg.internal_max / 4,
        );
        let pp = self.node(p).parent;
        if n == 0 {
            // Only reachable for a non-root parent (a root parent keeps
            // at least two children, or is derooted below).
            let j = self.child_index(pp, p);
            self.remove_child(pp, j);
        } else if pp == NONE {
            if n == 1 {
                self.deroot();
            }
        } else if small {
            self.merge_internal(p);
        }
    }

    fn deroot(&mut self) {
        let old = self.root;
        let child = self.internal_of(old).children[0];
        self.node_mut(child).parent = NONE;
        self.root = child;
        self.release(old);
        // The commit record must point at the new root, which may be an
        // unchanged node already on disk: nothing else to write.
        if let Some(i) = self.node(child).internal()
            && i.children.len() == 1
        {
            self.deroot();
        }
    }

    fn merge_internal(&mut self, id: NodeId) {
        let p = self.node(id).parent;
        let i = self.child_index(p, id);
        let pi = self.internal_of(p);
        let (l, r, li) = if i + 1 < pi.children.len() {
            (id, pi.children[i + 1], i)
        } else if i > 0 {
            (pi.children[i - 1], id, i - 1)
        } else {
            return;
        };
        let sep_len = 1 + pi.seps.get(li).len();
        let len = self.internal_of(l).record_len() + self.internal_of(r).record_len() + sep_len
            - crate::format::INTERNAL_HEADER;
        if len > self.cfg.internal_max * 3 / 4 {
            return;
        }
        let sep = self.internal_of(p).seps.get(li).to_vec();
        let rbody = std::mem::replace(
            self.internal_of_mut(r),
            Internal {
                height: 0,
                seps: super::keys::KeyList::default(),
                children: Vec::new(),
            },
        );
        self.mem -= rbody.record_len();
        self.mem += crate::format::INTERNAL_HEADER;
        for &c in &rbody.children {
            self.node_mut(c).parent = l;
        }
        self.edit_internal(l, |li| {
            li.seps.push(&sep);
            li.seps.append(rbody.seps);
            li.children.extend(rbody.children);
        });
        self.remove_child(p, li + 1);
    }
}
