//! Real files: cached descriptors, `pread`, `pwritev`, `fdatasync`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::{Storage, StorageFile};

/// A storage directory on the local file system.
#[derive(Debug)]
pub struct FsStorage {
    path: PathBuf,
    dir: File,
    /// Data-loss mode (`-L`): skip every fsync.
    no_sync: bool,
}

impl FsStorage {
    /// Use the existing directory `path`.
    pub fn new(path: &Path) -> io::Result<Self> {
        let dir = File::open(path)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", path.display()),
            ));
        }
        Ok(FsStorage {
            path: path.to_path_buf(),
            dir,
            no_sync: false,
        })
    }

    /// Skip fsync (upstream's `-L`): fast, and loses data on power failure.
    pub fn without_sync(mut self) -> Self {
        self.no_sync = true;
        self
    }
}

impl Storage for FsStorage {
    fn list(&self) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.path)? {
            let e = e?;
            let md = e.metadata()?;
            if !md.is_file() {
                continue;
            }
            if let Ok(name) = e.file_name().into_string() {
                out.push((name, md.len()));
            }
        }
        Ok(out)
    }

    fn create(&self, name: &str) -> io::Result<Arc<dyn StorageFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.path.join(name))?;
        Ok(Arc::new(FsFile {
            f,
            no_sync: self.no_sync,
        }))
    }

    fn open(&self, name: &str) -> io::Result<Arc<dyn StorageFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path.join(name))?;
        Ok(Arc::new(FsFile {
            f,
            no_sync: self.no_sync,
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    fn sync_dir(&self) -> io::Result<()> {
        if self.no_sync {
            return Ok(());
        }
        self.dir.sync_all()
    }
}

#[derive(Debug)]
struct FsFile {
    f: File,
    no_sync: bool,
}

impl StorageFile for FsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.f.read_exact_at(buf, offset)
    }

    fn write_at(&self, parts: &[&[u8]], offset: u64) -> io::Result<()> {
        pwritev_all(&self.f, parts, offset)
    }

    fn sync(&self) -> io::Result<()> {
        if self.no_sync {
            return Ok(());
        }
        self.f.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.f.set_len(len)
    }
}

/// pwritev until every byte is written (short writes happen on signals and
/// full disks; the latter then fails on the retry with ENOSPC).
fn pwritev_all(f: &File, parts: &[&[u8]], mut offset: u64) -> io::Result<()> {
    let mut parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    let mut first = 0;
    while first < parts.len() {
        let iov: Vec<libc::iovec> = parts[first..]
            .iter()
            .take(1024)
            .map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: iov points into live slices for the duration of the call.
        let n = unsafe {
            libc::pwritev(
                f.as_raw_fd(),
                iov.as_ptr(),
                iov.len() as libc::c_int,
                offset as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "pwritev wrote 0"));
        }
        let mut n = n as usize;
        offset += n as u64;
        while n > 0 {
            let p = parts[first];
            if n >= p.len() {
                n -= p.len();
                first += 1;
            } else {
                parts[first] = &p[n..];
                n = 0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_truncate_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = FsStorage::new(d.path()).unwrap();
        let f = s.create("a").unwrap();
        assert!(s.create("a").is_err(), "create must not reuse a file");
        f.write_at(&[b"hello ", b"", b"world"], 0).unwrap();
        f.write_at(&[b"!"], 11).unwrap();
        f.sync().unwrap();
        s.sync_dir().unwrap();
        let mut b = [0u8; 12];
        f.read_at(&mut b, 0).unwrap();
        assert_eq!(&b, b"hello world!");
        assert!(
            f.read_at(&mut [0u8; 2], 11).is_err(),
            "short read is an error"
        );
        f.truncate(5).unwrap();
        assert_eq!(s.list().unwrap(), vec![("a".to_string(), 5)]);
        let g = s.open("a").unwrap();
        let mut c = [0u8; 5];
        g.read_at(&mut c, 0).unwrap();
        assert_eq!(&c, b"hello");
        s.remove("a").unwrap();
        // The open handle still reads after removal.
        g.read_at(&mut c, 0).unwrap();
        assert!(s.list().unwrap().is_empty());
        assert!(FsStorage::new(&d.path().join("missing")).is_err());
    }
}
