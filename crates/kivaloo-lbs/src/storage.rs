//! The I/O the block store needs, behind a small trait: a flat directory of
//! append-only files. [`crate::fs::FsStorage`] is the real thing;
//! [`crate::crash::CrashStorage`] keeps "durable" and "volatile" state apart
//! so a test can cut the power after any write or sync.

use std::io;
use std::sync::Arc;

/// A directory of block files.
pub trait Storage: Send + Sync + 'static {
    /// Names and lengths of the regular files in the directory.
    fn list(&self) -> io::Result<Vec<(String, u64)>>;
    /// Create a new, empty file; fails if it exists.
    fn create(&self, name: &str) -> io::Result<Arc<dyn StorageFile>>;
    /// Open an existing file for reading and appending.
    fn open(&self, name: &str) -> io::Result<Arc<dyn StorageFile>>;
    /// Remove a file (open handles keep working, as on POSIX).
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Make creations and removals durable (fsync of the directory).
    fn sync_dir(&self) -> io::Result<()>;
}

/// One open file.
pub trait StorageFile: Send + Sync {
    /// Read exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Write all of `parts`, one after another, at `offset`.
    fn write_at(&self, parts: &[&[u8]], offset: u64) -> io::Result<()>;
    /// Make the contents durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Cut the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;
}
