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
/// contents are wiped once hashed.
pub fn read_key(path: &str) -> Result<Key, KeyFileError> {
    let mut buf = Zeroizing::new(Vec::new());
    if path == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|_| KeyFileError::Stdin)?;
    } else {
        let mut f = std::fs::File::open(path).map_err(|e| KeyFileError::Open {
            path: path.to_string(),
            reason: strerror(&e),
        })?;
        warn_if_readable_by_others(path, &f);
        f.read_to_end(&mut buf).map_err(|e| KeyFileError::Read {
            path: path.to_string(),
            reason: strerror(&e),
        })?;
    }
    Ok(Key::from_file_contents(&buf))
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
