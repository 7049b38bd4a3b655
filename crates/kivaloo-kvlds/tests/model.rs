//! Randomized model test: long runs of mixed requests against the engine
//! over an in-memory block store, checked against a BTreeMap after every
//! batch, with RANGE pagination and restarts (clean, and with whatever
//! the store holds after the last acknowledged commit).

mod common;

use common::*;
use kivaloo_kvlds::{Db, MemStore};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn run(seed: u64, batches: usize, space: u32, delete_weight: u32) -> u64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let disk = MemStore::new(512);
    let mut db = Db::open(disk.restart(), small_config()).expect("open");
    let mut m = Model::new();
    let mut ops = 0u64;
    for b in 0..batches {
        let n = if rng.random_ratio(1, 10) {
            rng.random_range(100..600)
        } else {
            rng.random_range(1..40)
        };
        let mrs: Vec<_> = (0..n)
            .map(|_| random_mr(&mut rng, &m, space, delete_weight))
            .collect();
        let want: Vec<u32> = mrs.iter().map(|mr| model_apply(&mut m, mr)).collect();
        let got = db.apply(&mrs).expect("apply");
        assert_eq!(got, want, "statuses, batch {b}");
        ops += n as u64;
        for _ in 0..rng.random_range(0..20) {
            let k = key(&mut rng, space);
            assert_eq!(
                db.get(&k).expect("get"),
                m.get(&k).cloned(),
                "GET {k:?}, batch {b}"
            );
            ops += 1;
        }
        db.tree().check().expect("tree invariants");
        assert_eq!(db.tree().stats().npairs, m.len() as u64);
        if rng.random_ratio(1, 50) {
            let (s, e) = (key(&mut rng, space), key(&mut rng, space));
            let (s, e) = if rng.random_bool(0.3) {
                (s, Vec::new())
            } else {
                (s.clone().min(e.clone()), s.max(e))
            };
            let max = [0u32, 1, 100, 1000, 1 << 20][rng.random_range(0..5)];
            assert_eq!(
                scan(&mut db, &s, &e, max),
                model_range(&m, &s, &e),
                "RANGE, batch {b}"
            );
            ops += 1;
        }
        if rng.random_ratio(1, 100) {
            drop(db);
            db = Db::open(disk.restart(), small_config()).expect("reopen");
            db.tree().check().expect("tree invariants after restart");
            assert_eq!(
                scan(&mut db, b"", b"", 4096),
                model_range(&m, b"", b""),
                "after restart"
            );
        }
    }
    assert_eq!(scan(&mut db, b"", b"", 1 << 20), model_range(&m, b"", b""));
    let st = db.tree().stats();
    eprintln!(
        "seed {seed}: {st:?}, stored blocks {}",
        disk.stored_blocks()
    );
    // The store stays within a constant factor of the live tree.
    assert!(
        st.span_bytes <= 2 * st.node_bytes + (64 << 10),
        "span {} vs live {}",
        st.span_bytes,
        st.node_bytes
    );
    ops
}

#[test]
fn mixed_requests_small_key_space() {
    let ops: u64 = (0..4).map(|s| run(s, 1500, 300, 2)).sum();
    eprintln!("{ops} operations");
}

#[test]
fn mixed_requests_growing_then_shrinking() {
    let grow = run(100, 2500, 20_000, 0);
    let shrink = run(101, 2500, 3_000, 12);
    eprintln!("{} operations", grow + shrink);
}
