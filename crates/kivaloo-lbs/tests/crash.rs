//! Cut the power after every single write and sync of a workload, reboot
//! into each of several possible post-crash disks, and check that every
//! acknowledged APPEND is there, the interrupted one is all there or not at
//! all, and the store goes on working.

use std::sync::Arc;

use kivaloo_lbs::{AppendOutcome, CrashStorage, Storage, Store, StoreError};

const B: u32 = 512;

/// The content every test expects in block `blkno`.
fn block(blkno: u64) -> Vec<u8> {
    let mut v = vec![0u8; B as usize];
    for (i, c) in v.chunks_mut(8).enumerate() {
        c.copy_from_slice(&(blkno.wrapping_mul(0x1000_0001) ^ i as u64).to_le_bytes());
    }
    v
}

fn blocks(first: u64, n: u64) -> Vec<u8> {
    (first..first + n).flat_map(block).collect()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What the workload got acknowledged before the power went.
#[derive(Debug, Default)]
struct Acked {
    /// nextblk after the last acknowledged APPEND.
    next: u64,
    /// Highest FREE issued (acknowledged or not): blocks below may be gone.
    freed_below: u64,
    /// The APPEND that was in progress when the power failed.
    in_flight: Option<(u64, u64)>,
}

/// Run the workload until it finishes or the storage dies.
fn workload(
    store: &Store,
    start: u64,
    seed: u64,
    steps: usize,
    acked: &mut Acked,
) -> Result<(), StoreError> {
    let mut rng = Rng(seed);
    acked.next = start;
    for _ in 0..steps {
        match rng.below(10) {
            0 => {
                let keep = store.min_block() + rng.below(acked.next - store.min_block() + 1);
                acked.freed_below = acked.freed_below.max(keep);
                store.free(keep)?;
            }
            1 | 2 => {
                let (lo, hi) = (store.min_block(), acked.next);
                if hi > lo {
                    let b = lo + rng.below(hi - lo);
                    let mut buf = vec![0u8; B as usize];
                    if store.read(b, &mut buf)? {
                        assert_eq!(buf, block(b), "read back block {b}");
                    }
                }
            }
            _ => {
                let n = 1 + rng.below(4);
                let at = acked.next;
                acked.in_flight = Some((at, n));
                match store.append(at, &blocks(at, n))? {
                    AppendOutcome::Appended { nextblk } => {
                        assert_eq!(nextblk, at + n);
                        acked.next = nextblk;
                    }
                    AppendOutcome::Rejected => panic!("append at nextblk rejected"),
                }
                acked.in_flight = None;
            }
        }
    }
    Ok(())
}

/// Everything acknowledged is readable and right; the interrupted APPEND
/// is wholly present or wholly absent; nothing else exists.
fn verify(store: &Store, acked: &Acked, ctx: &str) {
    let next = store.next_block();
    let ok_nexts: Vec<u64> = match acked.in_flight {
        Some((at, n)) if at == acked.next => vec![acked.next, at + n],
        _ => vec![acked.next],
    };
    assert!(
        ok_nexts.contains(&next),
        "{ctx}: nextblk {next}, expected one of {ok_nexts:?}"
    );
    let mut buf = vec![0u8; B as usize];
    for b in 0..next {
        let present = store.read(b, &mut buf).unwrap();
        if b >= acked.freed_below {
            assert!(present, "{ctx}: acknowledged block {b} lost (next {next})");
        }
        if present {
            assert_eq!(buf, block(b), "{ctx}: block {b} has wrong contents");
        }
    }
    assert!(
        !store.read(next, &mut buf).unwrap(),
        "{ctx}: block past the end"
    );
}

fn run_with_cut(seed: u64, steps: usize, cut: Option<u64>) -> (CrashStorage, Acked) {
    let disk = CrashStorage::new();
    let store = Store::open(Arc::new(disk.clone()) as Arc<dyn Storage>, B).unwrap();
    if let Some(c) = cut {
        disk.cut_power_after(c);
    }
    let mut acked = Acked::default();
    let r = workload(&store, 0, seed, steps, &mut acked);
    match (cut, r) {
        (None, r) => r.unwrap(),
        (Some(_), Ok(())) => {}
        (Some(_), Err(e)) => {
            assert!(disk.is_dead(), "error without a power cut: {e}");
            // Once an I/O error happened the store must refuse to go on.
            let next = acked.next;
            assert!(store.append(next, &blocks(next, 1)).is_err());
        }
    }
    (disk, acked)
}

#[test]
fn power_cut_after_every_write_and_sync() {
    const STEPS: usize = 60;
    const REBOOTS: u64 = 6;
    let mut cuts = 0;
    for seed in [1u64, 2, 3] {
        let (full, _) = run_with_cut(seed, STEPS, None);
        let total = full.ops();
        assert!(total > 100, "workload too small: {total} ops");
        for cut in 0..=total {
            let (disk, acked) = run_with_cut(seed, STEPS, Some(cut));
            for r in 0..REBOOTS {
                let ctx = format!("seed {seed}, cut after op {cut}/{total}, reboot {r}");
                let disk2 = disk.reboot(seed * 1000 + cut * 10 + r);
                let store = Store::open(Arc::new(disk2.clone()) as Arc<dyn Storage>, B)
                    .unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
                verify(&store, &acked, &ctx);
                // The recovered store keeps working, and survives a restart.
                let next = store.next_block();
                assert_eq!(
                    store.append(next, &blocks(next, 2)).unwrap(),
                    AppendOutcome::Appended { nextblk: next + 2 }
                );
                drop(store);
                let again = Store::open(Arc::new(disk2.reboot(r)) as Arc<dyn Storage>, B).unwrap();
                let after = Acked {
                    next: next + 2,
                    freed_below: acked.freed_below,
                    in_flight: None,
                };
                verify(&again, &after, &format!("{ctx}, after one more append"));
                cuts += 1;
            }
        }
    }
    assert!(cuts > 300);
}

/// The process dies (nothing is lost from the page cache), restarts and
/// appends more; then the power fails. What the restarted process
/// acknowledged must survive even though it built on unsynced state.
#[test]
fn process_crash_then_power_cut() {
    const STEPS: usize = 60;
    let mut checked = 0;
    for seed in [4u64, 5] {
        let (full, _) = run_with_cut(seed, STEPS, None);
        let total = full.ops();
        for cut in 0..=total {
            let (disk, acked) = run_with_cut(seed, STEPS, Some(cut));
            let ctx = format!("seed {seed}, process killed after op {cut}/{total}");
            let alive = disk.restart_process();
            let store = Store::open(Arc::new(alive.clone()) as Arc<dyn Storage>, B)
                .unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
            verify(&store, &acked, &ctx);
            let next = store.next_block();
            store.append(next, &blocks(next, 3)).unwrap();
            drop(store);
            let after = Acked {
                next: next + 3,
                freed_below: acked.freed_below,
                in_flight: None,
            };
            for r in 0..4 {
                let ctx = format!("{ctx}, then power cut, reboot {r}");
                let rebooted = alive.reboot(seed * 7919 + cut * 13 + r);
                let store = Store::open(Arc::new(rebooted) as Arc<dyn Storage>, B)
                    .unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
                verify(&store, &after, &ctx);
                checked += 1;
            }
        }
    }
    assert!(checked > 400);
}
