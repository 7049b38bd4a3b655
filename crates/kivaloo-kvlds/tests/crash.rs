//! Crash tests: cut the power at an APPEND (keeping any prefix of its
//! blocks, including all of them: power lost after the write, before the
//! reply) or at a FREE, then restart. Every acknowledged batch must be
//! there, the batch in flight must be there entirely or not at all, the
//! tree must be consistent, and it must go on working. Sometimes the
//! power fails again during the recovery commit.

mod common;

use common::*;
use kivaloo_kvlds::store::Cut;
use kivaloo_kvlds::{Db, Error, MemStore, Mr, StoreError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random_batch(rng: &mut SmallRng, m: &Model, space: u32) -> Vec<Mr> {
    let n = if rng.random_ratio(1, 8) {
        rng.random_range(50..400)
    } else {
        rng.random_range(1..30)
    };
    (0..n).map(|_| random_mr(rng, m, space, 2)).collect()
}

fn power_cut(e: &Error) -> bool {
    matches!(e, Error::Store(StoreError::PowerCut))
}

/// Open after a crash, retrying if the power fails during recovery.
fn reopen(rng: &mut SmallRng, disk: &MemStore) -> Db<MemStore> {
    loop {
        let store = disk.restart();
        if rng.random_ratio(1, 3) {
            disk.set_cut(Cut::At {
                op: rng.random_range(0..2),
                keep: rng.random_range(0..4),
            });
        }
        match Db::open(store, small_config()) {
            Ok(db) => {
                disk.set_cut(Cut::Never);
                return db;
            }
            Err(e) if power_cut(&e) => continue,
            Err(e) => panic!("recovery failed: {e}"),
        }
    }
}

fn trial(seed: u64) -> (u64, bool, bool) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let space = [200, 2000, 20000][rng.random_range(0..3)];
    let disk = MemStore::new(512);
    let mut db = Db::open(disk.restart(), small_config()).expect("open");
    let mut m = Model::new();
    let mut ops = 0;
    for _ in 0..rng.random_range(0..60) {
        let b = random_batch(&mut rng, &m, space);
        let want: Vec<u32> = b.iter().map(|mr| model_apply(&mut m, mr)).collect();
        assert_eq!(db.apply(&b).expect("apply"), want);
        ops += b.len() as u64;
    }
    let keep = if rng.random_bool(0.5) {
        rng.random_range(0..3)
    } else {
        rng.random_range(0..40)
    };
    disk.set_cut(Cut::At {
        op: rng.random_range(0..40),
        keep,
    });
    let mut in_flight = None;
    let mut applied = false;
    for _ in 0..100 {
        let b = random_batch(&mut rng, &m, space);
        let mut after = m.clone();
        let want: Vec<u32> = b.iter().map(|mr| model_apply(&mut after, mr)).collect();
        ops += b.len() as u64;
        match db.apply(&b) {
            Ok(got) => {
                assert_eq!(got, want);
                m = after;
            }
            Err(e) if power_cut(&e) => {
                in_flight = Some(after);
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    drop(db);
    let mut db = reopen(&mut rng, &disk);
    db.tree().check().expect("consistent tree after the crash");
    let got = scan(&mut db, b"", b"", 1 << 16);
    let cut = in_flight.is_some();
    if got != model_range(&m, b"", b"") {
        let after = in_flight.expect("no batch was in flight, yet the data changed");
        assert_eq!(
            got,
            model_range(&after, b"", b""),
            "batch in flight half-applied"
        );
        m = after;
        applied = true;
    }
    for k in m.keys().take(50) {
        assert_eq!(db.get(k).expect("get").as_ref(), m.get(k));
    }
    // It goes on working.
    for _ in 0..10 {
        let b = random_batch(&mut rng, &m, space);
        let want: Vec<u32> = b.iter().map(|mr| model_apply(&mut m, mr)).collect();
        assert_eq!(db.apply(&b).expect("apply after recovery"), want);
    }
    drop(db);
    let mut db = Db::open(disk.restart(), small_config()).expect("reopen");
    assert_eq!(scan(&mut db, b"", b"", 1 << 16), model_range(&m, b"", b""));
    (ops, cut, applied)
}

#[test]
fn power_cuts_at_any_append_or_free() {
    let (mut ops, mut cuts, mut survived) = (0, 0, 0);
    for seed in 0..400 {
        let (o, c, a) = trial(seed);
        ops += o;
        cuts += u32::from(c);
        survived += u32::from(a);
    }
    eprintln!("{ops} operations, {cuts} cuts during a batch, {survived} of those batches durable");
    // Both outcomes of a cut batch must have been exercised.
    assert!(cuts > 200 && survived > 10 && cuts - survived > 10);
}
