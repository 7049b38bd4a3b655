//! The tree driven synchronously over a [`BlockStore`]: every call returns
//! once its effect is durable. Used by the tests (with a power-cutting
//! store) and usable in-process as a library.

use crate::error::{Corrupt, Error};
use crate::store::BlockStore;
use crate::tree::{Config, Lookup, Mr, NodeId, RangeOut, Tree};

/// A key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Leaves fetched ahead for cleaning per commit.
const CLEAN_FETCH: usize = 256;

pub struct Db<S: BlockStore> {
    tree: Tree,
    store: S,
}

impl<S: BlockStore> Db<S> {
    pub fn open(mut store: S, cfg: Config) -> Result<Self, Error> {
        let tree = Tree::open(&mut store, cfg)?;
        Ok(Db { tree, store })
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.tree.evict();
        loop {
            match self.tree.get(key) {
                Lookup::Found(v) => return Ok(Some(v.to_vec())),
                Lookup::Absent => return Ok(None),
                Lookup::Missing(id) => load_leaves(&mut self.tree, &mut self.store, &[id])?,
            }
        }
    }

    /// One RANGE request: (pairs, next).
    pub fn range(
        &mut self,
        start: &[u8],
        end: &[u8],
        max: u32,
    ) -> Result<(Vec<Pair>, Vec<u8>), Error> {
        self.tree.evict();
        loop {
            match self.tree.range(start, end, max) {
                RangeOut::Done { pairs, next } => return Ok((pairs, next)),
                RangeOut::Missing(ids) => load_leaves(&mut self.tree, &mut self.store, &ids)?,
            }
        }
    }

    /// Apply a batch of modifying requests and make it durable.
    pub fn apply(&mut self, mrs: &[Mr]) -> Result<Vec<u32>, Error> {
        self.tree.evict();
        let status = loop {
            match self.tree.apply(mrs) {
                Ok(s) => break s,
                Err(missing) => load_leaves(&mut self.tree, &mut self.store, &missing)?,
            }
        };
        let wanted = self.tree.clean_wanted(CLEAN_FETCH);
        load_leaves(&mut self.tree, &mut self.store, &wanted)?;
        commit_sync(&mut self.tree, &mut self.store)?;
        Ok(status)
    }
}

/// Fetch leaves with one batched read.
/// Nothing is evicted here: callers make room before they start looking
/// up leaves, so that the leaves a request needs stay until it is done.
pub(crate) fn load_leaves<S: BlockStore>(
    tree: &mut Tree,
    store: &mut S,
    ids: &[NodeId],
) -> Result<(), Error> {
    let plans: Vec<_> = ids
        .iter()
        .filter_map(|&id| tree.fetch_plan(id).map(|p| (id, p)))
        .collect();
    if plans.is_empty() {
        return Ok(());
    }
    let mut blknos = Vec::new();
    for (_, (_, first, n)) in &plans {
        blknos.extend(*first..*first + *n);
    }
    let blocks = store.get(&blknos)?;
    let mut at = 0;
    for (id, (addr, first, n)) in plans {
        let mut buf = Vec::with_capacity(n as usize * tree.block_size());
        for (i, b) in blocks[at..at + n as usize].iter().enumerate() {
            let b = b.as_ref().ok_or(Corrupt::MissingBlock(first + i as u64))?;
            buf.extend_from_slice(b);
        }
        at += n as usize;
        tree.install(id, addr, first, &buf)?;
    }
    Ok(())
}

/// Write the pending commit, if any, and wait until it is durable.
pub(crate) fn commit_sync<S: BlockStore>(tree: &mut Tree, store: &mut S) -> Result<(), Error> {
    if let Some(c) = tree.prepare_commit() {
        let next = store.append(c.first_block, &c.blocks)?;
        let keep = tree.commit_done(next);
        store.free(keep)?;
    }
    Ok(())
}
