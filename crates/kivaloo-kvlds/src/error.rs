//! Typed errors of the tree engine and its block stores.

/// Something read back from the block store is not what kvlds wrote:
/// a bad block checksum, a malformed record, keys out of order. kvlds
/// stops rather than serve or build on damaged data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    #[error("block {0} is damaged or was not written by kvlds")]
    BadBlock(u64),
    #[error("block {0} is missing from the block store")]
    MissingBlock(u64),
    #[error("malformed record: {0}")]
    Record(&'static str),
    #[error("no commit record found in the block store")]
    NoCommit,
}

/// Failures of the block store underneath the tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store (connection, daemon or disk) failed; the text says how.
    #[error("block store: {0}")]
    Io(String),
    /// The store refused an APPEND at the block number kvlds expected:
    /// something else is writing to it.
    #[error("block store refused an APPEND at block {0}")]
    AppendRefused(u64),
    /// Test double only: the power was cut.
    #[error("power cut")]
    PowerCut,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bad configuration: {0}")]
    Config(String),
}
