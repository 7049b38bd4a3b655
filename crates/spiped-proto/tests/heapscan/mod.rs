//! A global allocator that scans every heap block as it is freed for
//! byte strings registered with [`watch`], to find secrets dropped without
//! being wiped. Shared by spiped-proto's `tests/secrets.rs` and spiped's
//! `tests/key_hygiene.rs` (included by path: each test binary installs it
//! as its own global allocator).
//!
//! Limits: only heap is checked (stack copies left by moves cannot be
//! found this way), only while [`arm`]ed, and only 32-byte strings we can
//! predict.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const SLOTS: usize = 16;

/// The watched secrets, (name, bytes), and how many slots are used; fixed
/// size, so registering one never allocates (the allocator takes this
/// lock).
type Watched = ([(&'static str, [u8; 32]); SLOTS], usize);
static WATCH: Mutex<Watched> = Mutex::new(([("", [0; 32]); SLOTS], 0));
static HITS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static ARMED: AtomicBool = AtomicBool::new(false);

struct Scanning;

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) && layout.size() >= 32 {
            // SAFETY: the block is still ours until System.dealloc.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let w = WATCH.lock().unwrap_or_else(|e| e.into_inner());
            for (i, (_, secret)) in w.0[..w.1].iter().enumerate() {
                if block.windows(32).any(|win| win == secret) {
                    HITS[i].fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Scanning = Scanning;

pub fn watch(name: &'static str, bytes: &[u8]) {
    let mut w = WATCH.lock().unwrap();
    let n = w.1;
    w.0[n] = (name, bytes.try_into().unwrap());
    w.1 += 1;
}

pub fn hits() -> Vec<(&'static str, usize)> {
    let w = WATCH.lock().unwrap();
    (0..w.1)
        .map(|i| (w.0[i].0, HITS[i].load(Ordering::SeqCst)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Scan freed blocks from now on (true) or not (false).
pub fn arm(on: bool) {
    ARMED.store(on, Ordering::SeqCst);
}
