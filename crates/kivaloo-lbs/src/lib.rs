//! kivaloo's log-structured block store.
//!
//! [`Store`] is the engine: fixed-size blocks appended to append-only files,
//! every APPEND made durable (one vectored write + one fdatasync) before it
//! is acknowledged and all-or-nothing across crashes, whole old files
//! deleted on FREE, recovery on open. Its I/O goes through [`Storage`], so
//! the same engine runs on real files ([`FsStorage`]) and on the
//! crash-injecting double ([`CrashStorage`]).
//!
//! Use it in-process through [`Store`], or over the lbs protocol through
//! [`server::LbsServer`] (the `kivaloo-lbs` daemon is a thin shell around
//! it).

pub mod crash;
pub mod format;
pub mod fs;
mod readpool;
pub mod server;
pub mod storage;
pub mod store;

pub use crash::CrashStorage;
pub use fs::FsStorage;
pub use storage::{Storage, StorageFile};
pub use store::{AppendOutcome, Store, StoreError};
