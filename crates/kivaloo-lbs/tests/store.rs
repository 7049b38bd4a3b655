//! The engine on real files: restart, FREE, rejections, torn tails and
//! foreign files.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use kivaloo_lbs::{AppendOutcome, FsStorage, Storage, Store, StoreError};

const B: u32 = 1024;

fn open(dir: &Path, b: u32) -> Result<Store, StoreError> {
    Store::open(
        Arc::new(FsStorage::new(dir).unwrap()) as Arc<dyn Storage>,
        b,
    )
}

fn block(n: u64) -> Vec<u8> {
    (0..B as u64).map(|i| (n * 131 + i) as u8).collect()
}

fn append(s: &Store, first: u64, n: u64) {
    let data: Vec<u8> = (first..first + n).flat_map(block).collect();
    assert_eq!(
        s.append(first, &data).unwrap(),
        AppendOutcome::Appended { nextblk: first + n }
    );
}

fn read(s: &Store, n: u64) -> Option<Vec<u8>> {
    let mut b = vec![0; B as usize];
    s.read(n, &mut b).unwrap().then_some(b)
}

fn blks_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("blks_"))
        .collect();
    v.sort();
    v
}

#[test]
fn append_read_restart() {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path(), B).unwrap();
    assert_eq!((s.next_block(), s.min_block()), (0, 0));
    assert_eq!(read(&s, 0), None);
    append(&s, 0, 3);
    // Wrong block numbers are refused and write nothing.
    assert_eq!(s.append(2, &block(2)).unwrap(), AppendOutcome::Rejected);
    assert_eq!(s.append(4, &block(4)).unwrap(), AppendOutcome::Rejected);
    assert!(matches!(
        s.append(3, &[0; 100]),
        Err(StoreError::BadAppendLength)
    ));
    assert!(matches!(s.append(3, &[]), Err(StoreError::BadAppendLength)));
    for n in 0..3 {
        assert_eq!(read(&s, n), Some(block(n)));
    }
    assert_eq!(read(&s, 3), None);
    assert_eq!(read(&s, u64::MAX), None);
    // Pieces are written as one APPEND.
    let (a, b) = (block(3), block(4));
    assert_eq!(
        s.append_parts(3, &[&a, &b]).unwrap(),
        AppendOutcome::Appended { nextblk: 5 }
    );
    drop(s);
    let s = open(d.path(), B).unwrap();
    assert_eq!(s.next_block(), 5);
    for n in 0..5 {
        assert_eq!(read(&s, n), Some(block(n)));
    }
}

#[test]
fn free_removes_whole_old_files_only() {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path(), B).unwrap();
    let mut next = 0;
    for n in [1, 2, 3, 5, 8, 13, 21, 34] {
        append(&s, next, n);
        next += n;
    }
    let files = blks_files(d.path());
    assert!(files.len() >= 3, "expected several files, got {files:?}");
    assert_eq!(s.file_count(), files.len());
    // Nothing below the first file's end: nothing removed.
    assert_eq!(s.free(0).unwrap(), Some(0));
    let keep = 20;
    let removed = s.free(keep).unwrap().unwrap();
    assert!(removed >= 1);
    let min = s.min_block();
    assert!(min <= keep && min > 0, "min {min}");
    assert_eq!(blks_files(d.path()).len(), files.len() - removed);
    assert_eq!(read(&s, min - 1), None);
    for n in min..next {
        assert_eq!(read(&s, n), Some(block(n)), "block {n}");
    }
    // The last file always stays, even if everything is freed.
    s.free(u64::MAX).unwrap();
    assert_eq!(blks_files(d.path()).len(), 1);
    assert_eq!(s.next_block(), next);
    drop(s);
    let s = open(d.path(), B).unwrap();
    assert_eq!(s.next_block(), next);
    assert_eq!(read(&s, next - 1), Some(block(next - 1)));
    append(&s, next, 1);
}

#[test]
fn files_grow_geometrically() {
    let d = tempfile::tempdir().unwrap();
    // Layout only: skip fsync (upstream's -L) to keep the test quick.
    let fs = FsStorage::new(d.path()).unwrap().without_sync();
    let s = Store::open(Arc::new(fs) as Arc<dyn Storage>, 512).unwrap();
    let data = vec![7u8; 512 * 16];
    let mut next = 0;
    for _ in 0..2000 {
        s.append(next, &data).unwrap();
        next += 16;
    }
    let n = blks_files(d.path()).len();
    assert!((20..=150).contains(&n), "{n} files for {next} blocks");
}

#[test]
fn torn_tail_is_cut_whole() {
    let d = tempfile::tempdir().unwrap();
    let last_file = || d.path().join(blks_files(d.path()).pop().unwrap());
    let s = open(d.path(), B).unwrap();
    append(&s, 0, 2);
    append(&s, 2, 2);
    append(&s, 4, 2);
    drop(s);
    // An APPEND whose last block never arrived.
    let last = last_file();
    let full = std::fs::metadata(&last).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(full - B as u64)
        .unwrap();
    let s = open(d.path(), B).unwrap();
    assert_eq!(s.next_block(), 4, "the torn APPEND must vanish whole");
    assert_eq!(read(&s, 4), None);
    assert_eq!(read(&s, 3), Some(block(3)));
    assert!(std::fs::metadata(&last).unwrap().len() < full - B as u64);
    // An APPEND whose bytes are all there but one block is zeros (pages
    // persisted out of order).
    append(&s, 4, 2);
    drop(s);
    let last = last_file();
    let mut bytes = std::fs::read(&last).unwrap();
    let n = bytes.len();
    bytes[n - 2 * B as usize..n - B as usize].fill(0);
    std::fs::write(&last, &bytes).unwrap();
    let s = open(d.path(), B).unwrap();
    assert_eq!(s.next_block(), 4);
    drop(s);
    // A partial header at the end.
    let mut f = OpenOptions::new().append(true).open(last_file()).unwrap();
    f.write_all(b"kvlbs").unwrap();
    drop(f);
    let s = open(d.path(), B).unwrap();
    assert_eq!(s.next_block(), 4);
    append(&s, 4, 1);
    assert_eq!(read(&s, 4), Some(block(4)));
    drop(s);
    assert_eq!(open(d.path(), B).unwrap().next_block(), 5);
}

#[test]
fn foreign_or_damaged_stores_are_refused_not_truncated() {
    let d = tempfile::tempdir().unwrap();
    // A bare-block file as upstream's lbs writes it: a kvlds page.
    let mut page = vec![0u8; B as usize];
    page[..6].copy_from_slice(b"KVLDS\0");
    let f = d.path().join("blks_0000000000000000");
    std::fs::write(&f, &page).unwrap();
    assert!(matches!(open(d.path(), B), Err(StoreError::Corrupt(_))));
    assert_eq!(std::fs::read(&f).unwrap(), page, "refusal must not modify");
    std::fs::remove_file(&f).unwrap();

    // Opened with another block size.
    let s = open(d.path(), B).unwrap();
    append(&s, 0, 1);
    drop(s);
    assert!(matches!(
        open(d.path(), 2048),
        Err(StoreError::BlockSizeMismatch {
            found: 1024,
            expected: 2048,
            ..
        })
    ));
    assert!(matches!(
        open(d.path(), 100),
        Err(StoreError::BadBlockSize(100))
    ));

    // A gap between files.
    let s = open(d.path(), B).unwrap();
    append(&s, 1, 1);
    append(&s, 2, 1);
    drop(s);
    let files = blks_files(d.path());
    assert!(files.len() >= 3, "{files:?}");
    std::fs::remove_file(d.path().join(&files[1])).unwrap();
    assert!(matches!(open(d.path(), B), Err(StoreError::Corrupt(_))));
    // Other names in the directory are ignored.
    let e = tempfile::tempdir().unwrap();
    std::fs::write(e.path().join("notes.txt"), b"hello").unwrap();
    std::fs::write(e.path().join("blks_xyz"), b"hello").unwrap();
    assert_eq!(open(e.path(), B).unwrap().next_block(), 0);
}
