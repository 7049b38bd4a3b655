//! Going to the background the way the C daemons do, so that scripts which
//! start a daemon and connect at once keep working: the parent exits 0 only
//! after the child has detached and written its pidfile (and the caller
//! binds its sockets *before* daemonizing, so they already listen).
//!
//! Must be called while the process has a single thread: before any
//! runtime starts.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use crate::log::{progname, warn};

/// Fork into the background. Returns in the child only; the parent exits 0
/// once the child is ready, or 1 (`Failed to daemonize`) if it died first.
///
/// The child calls setsid(), writes its pid (decimal, no newline) to
/// `pidfile`, and then tells the parent. Like upstream it does not chdir,
/// change the umask or close stdio: warnings still reach the inherited
/// stderr unless syslog is used.
pub fn daemonize(pidfile: &Path) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid 2-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        warn(&format!("pipe: {}", std::io::Error::last_os_error()));
        fail();
    }
    // SAFETY: both fds were just created and are owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: single-threaded caller (documented contract).
    match unsafe { libc::fork() } {
        -1 => {
            warn(&format!("fork: {}", std::io::Error::last_os_error()));
            fail();
        }
        0 => {
            drop(rd);
            // SAFETY: plain syscall.
            if unsafe { libc::setsid() } == -1 {
                warn(&format!("setsid: {}", std::io::Error::last_os_error()));
                std::process::exit(1);
            }
            if let Err(e) = write_pidfile(pidfile) {
                warn(&format!("fopen({}): {}", pidfile.display(), strerror(&e)));
                std::process::exit(1);
            }
            let mut w = std::fs::File::from(wr);
            let _ = w.write_all(b"1");
        }
        _child => {
            drop(wr);
            let mut r = std::fs::File::from(rd);
            let mut b = [0u8; 1];
            let ok = loop {
                match std::io::Read::read(&mut r, &mut b) {
                    Ok(n) => break n == 1,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            };
            if ok {
                // SAFETY: leave at once, without running destructors or
                // atexit handlers that belong to the child now.
                unsafe { libc::_exit(0) };
            }
            fail();
        }
    }
}

fn fail() -> ! {
    warn("Failed to daemonize");
    let _ = progname();
    // SAFETY: immediate exit.
    unsafe { libc::_exit(1) }
}

/// Write our pid, in decimal with no newline (upstream's exact format).
pub fn write_pidfile(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, std::process::id().to_string())
}

/// The strerror text alone, without Rust's " (os error N)" suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
