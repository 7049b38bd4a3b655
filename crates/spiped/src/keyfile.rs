//! Reading the shared key (`-k file` or `-k -` for standard input).

use std::io::Read;

use daemon::daemonize::strerror;
use spiped_proto::Key;
use zeroize::Zeroizing;

/// Why the key could not be read; `Display` gives upstream's first line
/// (callers then print `Error reading shared secret`).
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("Cannot open file: {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("Error reading file: {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("Error reading from stdin")]
    Stdin,
}

/// Read the key file (or stdin for `-`) to EOF and derive K. The raw
/// contents are wiped once hashed, and no copy is left behind on the way.
pub fn read_key(path: &str) -> Result<Key, KeyFileError> {
    let buf = if path == "-" {
        // fd 0 itself, not std's buffered stdin: its buffer would keep a
        // piece of the key for the life of the process.
        // SAFETY: fd 0 stays open; ManuallyDrop keeps us from closing it.
        let mut stdin = std::mem::ManuallyDrop::new(unsafe {
            <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(0)
        });
        read_to_end_wiped(&mut *stdin).map_err(|_| KeyFileError::Stdin)?
    } else {
        let mut f = std::fs::File::open(path).map_err(|e| KeyFileError::Open {
            path: path.to_string(),
            reason: strerror(&e),
        })?;
        warn_if_readable_by_others(path, &f);
        read_to_end_wiped(&mut f).map_err(|e| KeyFileError::Read {
            path: path.to_string(),
            reason: strerror(&e),
        })?
    };
    Ok(Key::from_file_contents(&buf))
}

/// Read to EOF. A `Vec` that grows (as `read_to_end`'s does, from a pipe)
/// moves its contents to a new allocation and frees the old one unwiped:
/// grow by hand instead, wiping each buffer given up.
fn read_to_end_wiped(r: &mut impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        let n = match r.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(2 * (buf.len() + n)));
            bigger.extend_from_slice(&buf);
            // The old buffer is wiped (its whole capacity) as it drops.
            buf = bigger;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// An extension: upstream says nothing about a key file others can read.
/// We warn (and still start, so no existing set-up breaks).
fn warn_if_readable_by_others(path: &str, f: &std::fs::File) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = f.metadata()
        && m.is_file()
        && m.mode() & 0o044 != 0
    {
        daemon::warn!(
            "warning: key file {path} is readable by group or others (mode {:o}); use chmod 600",
            m.mode() & 0o777
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_message() {
        let e = read_key("/nonexistent/key").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot open file: /nonexistent/key: No such file or directory"
        );
    }

    #[test]
    fn dev_null_is_the_empty_key() {
        let k = read_key("/dev/null").unwrap();
        assert_eq!(k.as_bytes(), Key::from_file_contents(b"").as_bytes());
    }
}
