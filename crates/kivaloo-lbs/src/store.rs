//! The block store engine: append-only files of fixed-size blocks, recovery
//! on open, all-or-nothing durable APPENDs, FREE by whole files.
//!
//! Thread-safe and synchronous: readers run concurrently with one appender
//! and one deleter. The map from block numbers to file offsets lives in
//! memory under a short-held lock; the I/O itself happens outside it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use kivaloo_wire::lbs::{MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};

use crate::format::{self, AppendHeader, HEADER_LEN};
use crate::storage::{Storage, StorageFile};

/// Highest block number lbs will ever hand out (upstream's limit).
pub const MAX_BLKNO: u64 = u64::MAX - 1;

/// Why the store failed. I/O errors are fatal: once one happens the store
/// refuses further writes (what is on disk may differ from what we
/// believe), and the daemon exits.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("block size {0} is outside {MIN_BLOCK_SIZE}..={MAX_BLOCK_SIZE}")]
    BadBlockSize(u32),
    #[error("{file}: written with block size {found}, opened with {expected}")]
    BlockSizeMismatch {
        file: String,
        found: u32,
        expected: u32,
    },
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    #[error("APPEND data is not a whole, non-zero number of blocks")]
    BadAppendLength,
    #[error("the block store would pass its last block number")]
    Full,
    #[error("an earlier I/O error stopped the store")]
    Poisoned,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// What became of an APPEND.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Durable; the next block number to append at.
    Appended { nextblk: u64 },
    /// Not written: the block number was not `nextblk`, or another APPEND
    /// is in progress.
    Rejected,
}

/// One `blks_*` file.
struct BlockFile {
    name: String,
    start: u64,
    file: Arc<dyn StorageFile>,
    /// (first block, byte offset of its data) per APPEND record.
    appends: Vec<(u64, u64)>,
    /// One past the last block in the file.
    end: u64,
    /// Bytes in the file.
    len: u64,
}

impl BlockFile {
    /// Byte offset of block `blkno`, which must lie in this file.
    fn offset_of(&self, blkno: u64, b: u64) -> u64 {
        let i = self.appends.partition_point(|&(first, _)| first <= blkno) - 1;
        let (first, off) = self.appends[i];
        off + (blkno - first) * b
    }
}

struct State {
    files: Vec<BlockFile>,
    nextblk: u64,
}

impl State {
    fn minblk(&self) -> u64 {
        self.files.first().map_or(self.nextblk, |f| f.start)
    }
}

/// A block store over any [`Storage`].
pub struct Store {
    storage: Arc<dyn Storage>,
    block_size: u32,
    state: RwLock<State>,
    appending: Mutex<()>,
    deleting: Mutex<()>,
    poisoned: AtomicBool,
}

impl Store {
    /// Open (recovering if needed) the store in `storage` with block size
    /// `block_size`. A torn final APPEND is removed; anything else that
    /// does not chain up is refused as corruption.
    pub fn open(storage: Arc<dyn Storage>, block_size: u32) -> Result<Store, StoreError> {
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
            return Err(StoreError::BadBlockSize(block_size));
        }
        let mut names: Vec<(u64, String, u64)> = storage
            .list()?
            .into_iter()
            .filter_map(|(n, len)| format::parse_file_name(&n).map(|s| (s, n, len)))
            .collect();
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        let mut expected: Option<u64> = None;
        let last = names.len().saturating_sub(1);
        for (i, (start, name, len)) in names.into_iter().enumerate() {
            if let Some(e) = expected
                && e != start
            {
                return Err(StoreError::Corrupt(format!(
                    "{name} starts at block {start}, the previous file ends at {e}"
                )));
            }
            let file = storage.open(&name)?;
            let f = recover_file(&name, start, file, len, block_size, i == last)?;
            expected = Some(f.end);
            files.push(f);
        }
        let nextblk = expected.unwrap_or(0);
        // After a process crash (the machine still up) the last APPEND may
        // be intact in the page cache yet not durable, and a file created
        // just before the crash may lack a durable directory entry. Later
        // APPENDs build on both, so make them durable first.
        if let Some(f) = files.last() {
            f.file.sync()?;
        }
        storage.sync_dir()?;
        Ok(Store {
            storage,
            block_size,
            state: RwLock::new(State { files, nextblk }),
            appending: Mutex::new(()),
            deleting: Mutex::new(()),
            poisoned: AtomicBool::new(false),
        })
    }

    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// First never-written block number.
    pub fn next_block(&self) -> u64 {
        self.read_state().nextblk
    }

    /// Oldest block still stored.
    pub fn min_block(&self) -> u64 {
        self.read_state().minblk()
    }

    /// Number of `blks_*` files.
    pub fn file_count(&self) -> usize {
        self.read_state().files.len()
    }

    /// Whether an APPEND is being written right now (PARAMS then has no
    /// stable answer).
    pub fn append_in_progress(&self) -> bool {
        matches!(self.appending.try_lock(), Err(TryLockError::WouldBlock))
    }

    /// Read block `blkno` into `buf` (B bytes). `Ok(false)` if the block is
    /// not stored (freed, or never written).
    pub fn read(&self, blkno: u64, buf: &mut [u8]) -> Result<bool, StoreError> {
        assert_eq!(
            buf.len(),
            self.block_size as usize,
            "buffer must be one block"
        );
        let b = u64::from(self.block_size);
        let (file, off) = {
            let st = self.read_state();
            if blkno >= st.nextblk || blkno < st.minblk() {
                return Ok(false);
            }
            let i = st.files.partition_point(|f| f.start <= blkno) - 1;
            let f = &st.files[i];
            (Arc::clone(&f.file), f.offset_of(blkno, b))
        };
        file.read_at(buf, off).map_err(|e| self.poison(e))?;
        Ok(true)
    }

    /// Append `data` (a whole number of blocks) at `blkno` and make it
    /// durable before returning.
    pub fn append(&self, blkno: u64, data: &[u8]) -> Result<AppendOutcome, StoreError> {
        self.append_parts(blkno, &[data])
    }

    /// [`Store::append`] with the data given in pieces (say, one page
    /// each), written with one vectored write.
    pub fn append_parts(&self, blkno: u64, parts: &[&[u8]]) -> Result<AppendOutcome, StoreError> {
        let b = u64::from(self.block_size);
        let total: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if total == 0 || !total.is_multiple_of(b) || total / b > u64::from(u32::MAX) {
            return Err(StoreError::BadAppendLength);
        }
        let nblks = total / b;
        let _guard = match self.appending.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => return Ok(AppendOutcome::Rejected),
            Err(TryLockError::Poisoned(_)) => return Err(StoreError::Poisoned),
        };
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        // Only this thread changes nextblk and the last file, so the
        // snapshot stays valid while we write.
        let (nextblk, target) = {
            let st = self.read_state();
            if blkno != st.nextblk {
                return Ok(AppendOutcome::Rejected);
            }
            let live = st.nextblk - st.minblk();
            let target = match st.files.last() {
                Some(f) if (f.end - f.start) <= live / 16 => Some((Arc::clone(&f.file), f.len)),
                _ => None,
            };
            (st.nextblk, target)
        };
        let newnext = nextblk
            .checked_add(nblks)
            .filter(|&n| n <= MAX_BLKNO)
            .ok_or(StoreError::Full)?;
        let header = AppendHeader {
            blkno: nextblk,
            nblks: nblks as u32,
            data_crc: format::data_crc(parts),
            block_size: self.block_size,
        }
        .encode();
        let mut iov: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        iov.push(&header);
        iov.extend_from_slice(parts);
        let record_len = HEADER_LEN as u64 + total;
        let new_file = match target {
            Some((file, off)) => {
                let r = file.write_at(&iov, off).and_then(|()| file.sync());
                r.map_err(|e| self.poison(e))?;
                None
            }
            None => {
                let name = format::file_name(nextblk);
                let r = (|| {
                    let file = self.storage.create(&name)?;
                    file.write_at(&iov, 0)?;
                    file.sync()?;
                    self.storage.sync_dir()?;
                    Ok(file)
                })();
                Some((name, r.map_err(|e| self.poison(e))?))
            }
        };
        let mut st = self.write_state();
        match new_file {
            Some((name, file)) => st.files.push(BlockFile {
                name,
                start: nextblk,
                file,
                appends: vec![(nextblk, HEADER_LEN as u64)],
                end: newnext,
                len: record_len,
            }),
            None => {
                let f = st.files.last_mut().expect("appended to the last file");
                f.appends.push((nextblk, f.len + HEADER_LEN as u64));
                f.end = newnext;
                f.len += record_len;
            }
        }
        st.nextblk = newnext;
        Ok(AppendOutcome::Appended { nextblk: newnext })
    }

    /// Delete whole files whose blocks are all below `keep_from`, oldest
    /// first, never the last file. Returns the number of files removed,
    /// or `None` if another deletion was already running (upstream ignores
    /// such a FREE; the client repeats it).
    pub fn free(&self, keep_from: u64) -> Result<Option<usize>, StoreError> {
        let _guard = match self.deleting.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Poisoned(_)) => return Err(StoreError::Poisoned),
        };
        let mut removed = 0;
        loop {
            if self.poisoned.load(Ordering::Acquire) {
                return Err(StoreError::Poisoned);
            }
            let victim = {
                let mut st = self.write_state();
                if st.files.len() < 2 || st.files[0].end > keep_from {
                    break;
                }
                // Readers of these blocks now get "absent", which FREE allows.
                st.files.remove(0)
            };
            let r = self
                .storage
                .remove(&victim.name)
                .and_then(|()| self.storage.sync_dir());
            r.map_err(|e| self.poison(e))?;
            removed += 1;
        }
        Ok(Some(removed))
    }

    fn poison(&self, e: io::Error) -> StoreError {
        self.poisoned.store(true, Ordering::Release);
        StoreError::Io(e)
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The state is only changed after all fallible work is done, so a
        // panic elsewhere cannot leave it half-updated.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Walk a file's APPEND records. A torn tail is cut off if this is the
/// last file (only the last APPEND can be torn: each one was synced before
/// the next was written); anywhere else it is corruption.
fn recover_file(
    name: &str,
    start: u64,
    file: Arc<dyn StorageFile>,
    len: u64,
    block_size: u32,
    is_last: bool,
) -> Result<BlockFile, StoreError> {
    let b = u64::from(block_size);
    let mut appends = Vec::new();
    let mut off = 0u64;
    let mut next = start;
    let mut last_hdr: Option<(u64, AppendHeader)> = None;
    let mut torn = false;
    while off < len {
        let mut h = [0u8; HEADER_LEN];
        let avail = (len - off).min(HEADER_LEN as u64) as usize;
        file.read_at(&mut h[..avail], off)?;
        let hdr = if avail == HEADER_LEN {
            AppendHeader::decode(&h)
        } else {
            None
        };
        let Some(hdr) = hdr else {
            if !is_last || !format::looks_like_torn_header(&h[..avail]) {
                return Err(StoreError::Corrupt(format!(
                    "{name}: bad APPEND header at byte {off}"
                )));
            }
            torn = true;
            break;
        };
        if hdr.block_size != block_size {
            return Err(StoreError::BlockSizeMismatch {
                file: name.to_string(),
                found: hdr.block_size,
                expected: block_size,
            });
        }
        if hdr.blkno != next || hdr.nblks == 0 {
            return Err(StoreError::Corrupt(format!(
                "{name}: APPEND at byte {off} holds block {}, expected {next}",
                hdr.blkno
            )));
        }
        let rec = HEADER_LEN as u64 + u64::from(hdr.nblks) * b;
        if len - off < rec {
            if !is_last {
                return Err(StoreError::Corrupt(format!(
                    "{name}: short APPEND at byte {off}"
                )));
            }
            torn = true;
            break;
        }
        appends.push((next, off + HEADER_LEN as u64));
        last_hdr = Some((off, hdr));
        next += u64::from(hdr.nblks);
        off += rec;
    }
    // The last complete-looking APPEND of the last file may still hold
    // pages that never reached the disk: check its data.
    if is_last
        && !torn
        && let Some((hoff, hdr)) = last_hdr
    {
        let mut data = vec![0u8; (u64::from(hdr.nblks) * b) as usize];
        file.read_at(&mut data, hoff + HEADER_LEN as u64)?;
        if crc32c::crc32c(&data) != hdr.data_crc {
            appends.pop();
            next = hdr.blkno;
            off = hoff;
            torn = true;
        }
    }
    if torn || off != len {
        file.truncate(off)?;
        file.sync()?;
    }
    Ok(BlockFile {
        name: name.to_string(),
        start,
        file,
        appends,
        end: next,
        len: off,
    })
}
