//! kvlds: a key-value store kept as a log-structured copy-on-write B+tree
//! in the blocks of an lbs block store (spec §4, §8, §9).
//!
//! * [`format`]: how records lie in lbs blocks;
//! * [`tree`]: the B+tree engine, without I/O;
//! * [`store`]: the block-store trait and an in-memory, power-cutting store;
//! * [`db`]: the tree driven synchronously over a block store;
//! * [`lbs_sync`]: a blocking lbs client (start-up and recovery);
//! * [`server`]: the daemon: a sans-IO core and its tokio shell.
//!
//! The design is explained in docs/kvlds.md.

pub mod db;
pub mod error;
pub mod format;
pub mod lbs_sync;
pub mod server;
pub mod store;
pub mod tree;

pub use db::Db;
pub use error::{Corrupt, Error, StoreError};
pub use store::{BlockStore, MemStore, StoreParams};
pub use tree::{Config, Mr, Tree};
