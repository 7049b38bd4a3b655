//! The key file's bytes are the secret K is made from: reading them must
//! not leave copies in freed heap (tests/heapscan in spiped-proto scans
//! every block as it is freed).

#[path = "../../spiped-proto/tests/heapscan/mod.rs"]
mod heapscan;

use std::io::Write;

use heapscan::{arm, hits, watch};

/// Deterministic bytes that look random (the "key file").
fn key_file(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Regression: `-k -` read stdin with `read_to_end` into a growing `Vec`;
/// each time it grew, the old buffer (holding the key bytes read so far)
/// was freed unwiped.
#[test]
fn key_from_stdin_leaves_no_copy_in_freed_heap() {
    let contents = std::sync::Arc::new(key_file(200_000));
    watch("key file bytes 0-31", &contents[..32]);
    watch("key file bytes 70000-70031", &contents[70_000..70_032]);
    watch("key file bytes 199968-199999", &contents[199_968..]);

    // Our stdin becomes a pipe with the key file in it.
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    assert!(unsafe { libc::dup2(fds[0], 0) } >= 0);
    unsafe { libc::close(fds[0]) };
    let writer = {
        let mut w = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
        // Shared, not copied: the writer's copy must not be freed while
        // the scan is armed.
        let c = std::sync::Arc::clone(&contents);
        std::thread::spawn(move || {
            w.write_all(&c).unwrap();
        })
    };

    arm(true);
    let key = spiped::keyfile::read_key("-").unwrap();
    arm(false);
    writer.join().unwrap();
    assert_eq!(
        key.as_bytes(),
        spiped_proto::Key::from_file_contents(&contents).as_bytes()
    );
    assert_eq!(hits(), vec![], "key file bytes found in freed heap");
}

/// The same for a key file on disk.
#[test]
fn key_from_file_leaves_no_copy_in_freed_heap() {
    let contents = key_file(200_000);
    watch("key file bytes 0-31", &contents[..32]);
    watch("key file bytes 199968-199999", &contents[199_968..]);
    let path = std::env::temp_dir().join(format!("spiped-key-hygiene-{}", std::process::id()));
    std::fs::write(&path, &contents).unwrap();
    arm(true);
    let key = spiped::keyfile::read_key(path.to_str().unwrap()).unwrap();
    arm(false);
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        key.as_bytes(),
        spiped_proto::Key::from_file_contents(&contents).as_bytes()
    );
    assert_eq!(hits(), vec![], "key file bytes found in freed heap");
}
