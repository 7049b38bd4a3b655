//! Hostile command lines: whatever bytes are in argv, both programs exit 1
//! with a message, never with a panic.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};

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
