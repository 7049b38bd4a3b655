//! Hostile command lines (whatever bytes are in argv, both programs exit 1
//! with a message, never with a panic) and a key file others can read.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn run(bin: &std::path::Path, args: &[OsString]) -> (Option<i32>, String) {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Regression: `std::env::args()` panicked (exit 101, a backtrace) on an
/// argument that is not valid UTF-8.
#[test]
fn non_utf8_arguments_are_refused_cleanly() {
    let bad = OsString::from_vec(b"/tmp/k\xff\xfe".to_vec());
    let cases: Vec<(std::path::PathBuf, Vec<OsString>)> = vec![
        (spiped_bin(Impl::Rust), vec!["-k".into(), bad.clone()]),
        (
            spiped_bin(Impl::Rust),
            vec![
                "-d".into(),
                "-s".into(),
                "[127.0.0.1]:1".into(),
                "-t".into(),
                OsString::from_vec(b"\xff:1".to_vec()),
                "-k".into(),
                "/dev/null".into(),
            ],
        ),
        (spipe_bin(Impl::Rust), vec![bad.clone()]),
        (
            spipe_bin(Impl::Rust),
            vec!["-t".into(), "[127.0.0.1]:1".into(), "-k".into(), bad],
        ),
    ];
    for (bin, args) in cases {
        let (code, err) = run(&bin, &args);
        assert_eq!(code, Some(1), "{bin:?} {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("Argument is not valid UTF-8: "), "{err}");
        assert!(err.contains("usage: "), "{err}");
    }
}

/// The key file is the whole security of a pipe: if group or others can
/// read it, both programs warn (an extension) and still run; mode 600
/// gives no warning.
#[test]
fn key_file_permissions_warning() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let key = s.key("k");
    let k = key.to_str().unwrap();
    let closed = s.addr(Family::V4, "");
    for (mode, warns) in [
        (0o644, true),
        (0o640, true),
        (0o604, true),
        (0o600, false),
        (0o400, false),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let expected = format!(
            "warning: key file {k} is readable by group or others (mode {mode:o}); use chmod 600"
        );

        // spipe reads the key, then fails to connect.
        let (code, _, err) = run_spipe(
            Impl::Rust,
            &["-t", &closed, "-k", k, "-o", "1"],
            b"",
            Duration::from_secs(10),
        );
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("Could not connect"), "{err}");
        assert_eq!(
            err.contains(&expected),
            warns,
            "spipe, mode {mode:o}: {err}"
        );
        assert_eq!(err.contains("warning: key file"), warns, "{err}");

        // spiped warns at start-up, before it listens.
        let sock = s.path(&format!("d{mode:o}.sock"));
        let log = s.path(&format!("d{mode:o}.err"));
        let mut child = Command::new(spiped_bin(Impl::Rust))
            .args([
                "-d",
                "-F",
                "-s",
                sock.to_str().unwrap(),
                "-t",
                &closed,
                "-k",
                k,
            ])
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let up = wait_for(Duration::from_secs(10), || unix_listening(&sock));
        let _ = child.kill();
        let _ = child.wait();
        assert!(up, "spiped did not start with a mode {mode:o} key file");
        let err = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            err.contains(&expected),
            warns,
            "spiped, mode {mode:o}: {err}"
        );
    }
}
