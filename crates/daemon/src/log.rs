//! Warnings in the C daemons' format: `<progname>: <message>` on stderr, or
//! to syslog (LOG_WARNING) once `--syslog` is switched on after
//! daemonizing. Never stdout: operators' scripts read stdout (spipe's is
//! the data stream).

use std::ffi::CString;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static PROGNAME: OnceLock<String> = OnceLock::new();
static SYSLOG: AtomicBool = AtomicBool::new(false);
/// syslog(3) keeps a pointer to the ident string: it must live for ever.
static IDENT: OnceLock<CString> = OnceLock::new();

/// Set the name used as prefix: the base name of argv[0].
pub fn init_progname(argv0: &str) {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let _ = PROGNAME.set(base.to_string());
}

/// The program name used as message prefix.
pub fn progname() -> &'static str {
    PROGNAME.get().map(String::as_str).unwrap_or("daemon")
}

/// Send warnings to syslog from now on (ident = program name).
pub fn use_syslog() {
    let ident =
        IDENT.get_or_init(|| CString::new(progname()).unwrap_or_else(|_| CString::from(c"daemon")));
    // SAFETY: ident is 'static.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    SYSLOG.store(true, Ordering::SeqCst);
}

/// Log a warning line (no trailing newline needed).
pub fn warn(msg: &str) {
    if SYSLOG.load(Ordering::Relaxed) {
        // Lines are capped at 4095 characters, as upstream does.
        let mut m: String = msg.chars().filter(|&c| c != '\0').take(4095).collect();
        if m.is_empty() {
            m.push(' ');
        }
        if let Ok(c) = CString::new(m) {
            // SAFETY: constant format string, valid C string argument.
            unsafe { libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), c.as_ptr()) };
        }
        return;
    }
    let line = format!("{}: {}\n", progname(), msg);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `warn!("fmt", args)`: a formatted warning.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::warn(&format!($($arg)*)) };
}
