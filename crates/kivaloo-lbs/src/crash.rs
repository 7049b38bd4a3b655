//! A storage double that can "cut the power" after any write or sync.
//!
//! It remembers, for every file, what the process sees (volatile) and what
//! a sync made durable, and for the directory which names a directory sync
//! made durable. After the cut every operation fails; [`CrashStorage::reboot`]
//! then builds the disk as it might look after power returns: durable state
//! plus an arbitrary (seeded) mix of what was not yet synced — unsynced
//! file creations and removals may or may not have happened, unsynced bytes
//! may be present, absent (zeros beyond the durable length) or present out
//! of order, 512-byte sector by sector.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::{Storage, StorageFile};

const SECTOR: usize = 512;

#[derive(Default)]
struct FileData {
    volatile: Vec<u8>,
    durable: Vec<u8>,
}

type FileRef = Arc<Mutex<FileData>>;

#[derive(Default)]
struct Disk {
    /// The directory as the process sees it.
    names: BTreeMap<String, FileRef>,
    /// The directory as the last directory sync left it.
    durable_names: BTreeMap<String, FileRef>,
    /// Operations done so far (writes, syncs, truncates, creates, removes).
    ops: u64,
    /// Fail every operation after this many.
    cut_after: Option<u64>,
}

/// The crash-injecting storage; cheap to clone (clones share the disk).
#[derive(Clone, Default)]
pub struct CrashStorage {
    disk: Arc<Mutex<Disk>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn power_failed() -> io::Error {
    io::Error::other("power failed (simulated)")
}

/// A small deterministic generator (xorshift64*), enough to pick crash
/// outcomes reproducibly from a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

impl CrashStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Operations performed so far.
    pub fn ops(&self) -> u64 {
        lock(&self.disk).ops
    }

    /// Let `n` more operations succeed, then fail everything: the power is
    /// cut right after the n-th.
    pub fn cut_power_after(&self, n: u64) {
        let mut d = lock(&self.disk);
        d.cut_after = Some(d.ops + n);
    }

    /// Whether the power has been cut.
    pub fn is_dead(&self) -> bool {
        let d = lock(&self.disk);
        d.cut_after.is_some_and(|c| d.ops >= c)
    }

    /// The disk after power returns, chosen by `seed` among the states the
    /// unsynced operations allow. The result is a fresh, working storage.
    pub fn reboot(&self, seed: u64) -> CrashStorage {
        let d = lock(&self.disk);
        let mut rng = Rng::new(seed);
        // Mode for unsynced bytes: 0 = lost, 1 = kept, 2 = sector lottery.
        let mode = rng.below(3);
        let mut names: BTreeMap<String, FileRef> = BTreeMap::new();
        let mut all: Vec<&String> = d.names.keys().chain(d.durable_names.keys()).collect();
        all.sort();
        all.dedup();
        for name in all {
            let cur = d.names.get(name);
            let dur = d.durable_names.get(name);
            let pick = match (cur, dur) {
                (Some(c), Some(u)) if Arc::ptr_eq(c, u) => Some(c),
                // Created or removed (or both) since the last directory
                // sync: either outcome is possible.
                (Some(c), Some(u)) => Some(if rng.below(2) == 0 { c } else { u }),
                (Some(c), None) | (None, Some(c)) => (rng.below(2) == 0).then_some(c),
                (None, None) => None,
            };
            if let Some(f) = pick {
                let f = lock(f);
                let data = settle(&f, mode, &mut rng);
                names.insert(
                    name.clone(),
                    Arc::new(Mutex::new(FileData {
                        volatile: data.clone(),
                        durable: data,
                    })),
                );
            }
        }
        CrashStorage {
            disk: Arc::new(Mutex::new(Disk {
                durable_names: names.clone(),
                names,
                ops: 0,
                cut_after: None,
            })),
        }
    }

    /// The disk after the *process* died (say, `kill -9`) but the machine
    /// did not: everything written is still there, synced or not, and a
    /// later power cut can still lose what was never synced.
    pub fn restart_process(&self) -> CrashStorage {
        let d = lock(&self.disk);
        let mut copies: Vec<(FileRef, FileRef)> = Vec::new();
        let mut copy = |f: &FileRef| -> FileRef {
            if let Some((_, c)) = copies.iter().find(|(o, _)| Arc::ptr_eq(o, f)) {
                return Arc::clone(c);
            }
            let g = lock(f);
            let c = Arc::new(Mutex::new(FileData {
                volatile: g.volatile.clone(),
                durable: g.durable.clone(),
            }));
            copies.push((Arc::clone(f), Arc::clone(&c)));
            c
        };
        let names = d.names.iter().map(|(n, f)| (n.clone(), copy(f))).collect();
        let durable_names = d
            .durable_names
            .iter()
            .map(|(n, f)| (n.clone(), copy(f)))
            .collect();
        CrashStorage {
            disk: Arc::new(Mutex::new(Disk {
                names,
                durable_names,
                ops: 0,
                cut_after: None,
            })),
        }
    }

    /// Count one operation, or fail if the power is off.
    fn op(&self) -> io::Result<MutexGuard<'_, Disk>> {
        let mut d = lock(&self.disk);
        if d.cut_after.is_some_and(|c| d.ops >= c) {
            return Err(power_failed());
        }
        d.ops += 1;
        Ok(d)
    }

    /// Raw contents of a file as the process sees it (for tests).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let d = lock(&self.disk);
        d.names.get(name).map(|f| lock(f).volatile.clone())
    }
}

/// What a file holds after the power cut.
fn settle(f: &FileData, mode: u64, rng: &mut Rng) -> Vec<u8> {
    let (v, d) = (&f.volatile, &f.durable);
    match mode {
        0 => return d.clone(),
        1 => return v.clone(),
        _ => {}
    }
    // The length lands anywhere between the two (size updates and data
    // reach the disk independently).
    let (lo, hi) = (v.len().min(d.len()), v.len().max(d.len()));
    let len = match rng.below(4) {
        0 => lo,
        1 => hi,
        _ => lo + rng.below((hi - lo) as u64 + 1) as usize,
    };
    let mut out = vec![0u8; len];
    for s in (0..len).step_by(SECTOR) {
        let e = (s + SECTOR).min(len);
        let src = if rng.below(2) == 0 { v } else { d };
        for (i, b) in out[s..e].iter_mut().enumerate() {
            *b = src.get(s + i).copied().unwrap_or(0);
        }
    }
    out
}

struct CrashFile {
    storage: CrashStorage,
    data: FileRef,
}

impl Storage for CrashStorage {
    fn list(&self) -> io::Result<Vec<(String, u64)>> {
        let d = lock(&self.disk);
        if d.cut_after.is_some_and(|c| d.ops >= c) {
            return Err(power_failed());
        }
        Ok(d.names
            .iter()
            .map(|(n, f)| (n.clone(), lock(f).volatile.len() as u64))
            .collect())
    }

    fn create(&self, name: &str) -> io::Result<Arc<dyn StorageFile>> {
        let mut d = self.op()?;
        if d.names.contains_key(name) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let data: FileRef = Arc::default();
        d.names.insert(name.to_string(), Arc::clone(&data));
        Ok(Arc::new(CrashFile {
            storage: self.clone(),
            data,
        }))
    }

    fn open(&self, name: &str) -> io::Result<Arc<dyn StorageFile>> {
        let d = lock(&self.disk);
        let data = d
            .names
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(Arc::new(CrashFile {
            storage: self.clone(),
            data,
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut d = self.op()?;
        d.names
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut d = self.op()?;
        d.durable_names = d.names.clone();
        Ok(())
    }
}

impl StorageFile for CrashFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let f = lock(&self.data);
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| f.volatile.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&self, parts: &[&[u8]], offset: u64) -> io::Result<()> {
        let _d = self.storage.op()?;
        let mut f = lock(&self.data);
        let mut at = offset as usize;
        for p in parts {
            if f.volatile.len() < at + p.len() {
                f.volatile.resize(at + p.len(), 0);
            }
            f.volatile[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let _d = self.storage.op()?;
        let mut f = lock(&self.data);
        f.durable = f.volatile.clone();
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let _d = self.storage.op()?;
        let mut f = lock(&self.data);
        f.volatile.truncate(len as usize);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_data_survives_and_power_cut_stops_everything() {
        let s = CrashStorage::new();
        let f = s.create("a").unwrap();
        f.write_at(&[b"durable"], 0).unwrap();
        f.sync().unwrap();
        s.sync_dir().unwrap();
        f.write_at(&[b"+volatile"], 7).unwrap();
        s.cut_power_after(0);
        assert!(s.is_dead());
        assert!(f.write_at(&[b"x"], 0).is_err());
        assert!(f.sync().is_err());
        assert!(s.create("b").is_err());
        let mut kept = 0;
        let mut lost = 0;
        for seed in 0..64 {
            let r = s.reboot(seed);
            let c = r.contents("a").unwrap();
            assert!(c.starts_with(b"durable"), "synced bytes always survive");
            match c.len() {
                7 => lost += 1,
                16 => kept += 1,
                _ => {}
            }
        }
        assert!(kept > 0 && lost > 0, "both outcomes must be explored");
    }

    #[test]
    fn unsynced_directory_changes_may_go_either_way() {
        let s = CrashStorage::new();
        s.create("old").unwrap();
        s.sync_dir().unwrap();
        s.remove("old").unwrap();
        s.create("new").unwrap();
        let (mut old, mut new) = (0, 0);
        for seed in 0..64 {
            let r = s.reboot(seed);
            old += r.contents("old").is_some() as u32;
            new += r.contents("new").is_some() as u32;
        }
        assert!(old > 0 && old < 64);
        assert!(new > 0 && new < 64);
        // Once synced, the directory is settled.
        s.sync_dir().unwrap();
        for seed in 0..16 {
            let r = s.reboot(seed);
            assert!(r.contents("old").is_none() && r.contents("new").is_some());
        }
    }
}
