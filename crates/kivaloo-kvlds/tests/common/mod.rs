//! Shared by the engine tests: a reference model of kvlds semantics on a
//! BTreeMap, and random request generators.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kivaloo_kvlds::{Config, Db, Mr, store::BlockStore};
use rand::Rng;
use rand::rngs::SmallRng;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Small nodes and a tiny cache, so that splits, merges, deep trees,
/// eviction and refetching happen within a few thousand pairs.
pub fn small_config() -> Config {
    Config {
        kmax: 64,
        vmax: 96,
        leaf_max: 400,
        internal_max: 400,
        cache_bytes: 24 << 10,
        cleaning: true,
        span_slack: 16 << 10,
        log_slack: 8 << 10,
    }
}

/// Apply one request to the model; returns the status upstream gives.
pub fn model_apply(m: &mut Model, mr: &Mr) -> u32 {
    match mr {
        Mr::Set { key, value } => {
            m.insert(key.clone(), value.clone());
            0
        }
        Mr::Cas { key, old, value } => {
            if m.get(key) == Some(old) {
                m.insert(key.clone(), value.clone());
                0
            } else {
                1
            }
        }
        Mr::Add { key, value } => {
            if m.contains_key(key) {
                1
            } else {
                m.insert(key.clone(), value.clone());
                0
            }
        }
        Mr::Modify { key, value } => {
            if m.contains_key(key) {
                m.insert(key.clone(), value.clone());
                0
            } else {
                1
            }
        }
        Mr::Delete { key } => {
            m.remove(key);
            0
        }
        Mr::Cad { key, old } => {
            if m.get(key) == Some(old) {
                m.remove(key);
                0
            } else {
                1
            }
        }
    }
}

/// A key from a space of about `space` keys, lengths 0 to 64, so that
/// requests collide and keys of very different lengths interleave.
pub fn key(rng: &mut SmallRng, space: u32) -> Vec<u8> {
    let n = rng.random_range(0..space);
    let mut k = format!("{n:x}").into_bytes();
    match n % 7 {
        0 => k.clear(),
        1 => k.resize(64, b'~'),
        2 => k.resize(20 + (n % 13) as usize, b'.'),
        _ => {}
    }
    if n % 7 == 0 && n != 0 {
        k = format!("{n}").into_bytes();
    }
    k
}

pub fn value(rng: &mut SmallRng, m: &Model, key: &[u8]) -> Vec<u8> {
    if rng.random_ratio(1, 4)
        && let Some(v) = m.get(key)
    {
        return v.clone();
    }
    let n = match rng.random_range(0..10) {
        0 => 0,
        1 => 96,
        _ => rng.random_range(1..40),
    };
    (0..n).map(|_| rng.random()).collect()
}

/// A random modifying request; `old` values are often the real ones so
/// that CAS and CAD succeed as well as fail.
pub fn random_mr(rng: &mut SmallRng, m: &Model, space: u32, delete_weight: u32) -> Mr {
    let key = key(rng, space);
    let real_old = || m.get(&key).cloned().unwrap_or_default();
    let pick = rng.random_range(0..10 + delete_weight);
    match pick {
        0..=3 => Mr::Set {
            value: value(rng, m, &key),
            key,
        },
        4 => {
            let old = if rng.random_bool(0.7) {
                real_old()
            } else {
                b"x".to_vec()
            };
            Mr::Cas {
                old,
                value: value(rng, m, &key),
                key,
            }
        }
        5 | 6 => Mr::Add {
            value: value(rng, m, &key),
            key,
        },
        7 => Mr::Modify {
            value: value(rng, m, &key),
            key,
        },
        8 => {
            let old = if rng.random_bool(0.7) {
                real_old()
            } else {
                Vec::new()
            };
            Mr::Cad { key, old }
        }
        _ => Mr::Delete { key },
    }
}

/// Read everything back with RANGE requests of `max` bytes, checking
/// each answer's contract (order, bounds, budget, `next`).
pub fn scan<S: BlockStore>(
    db: &mut Db<S>,
    start: &[u8],
    end: &[u8],
    max: u32,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut from = start.to_vec();
    loop {
        let (pairs, next) = db.range(&from, end, max).expect("range");
        let bytes: usize = pairs.iter().map(|(k, v)| 2 + k.len() + v.len()).sum();
        assert!(pairs.len() <= 1 || bytes <= max as usize, "budget exceeded");
        for (k, _) in &pairs {
            assert!(k.as_slice() >= from.as_slice(), "key below start");
            assert!(end.is_empty() || k.as_slice() < end, "key at or past end");
            if let Some((p, _)) = out.last() {
                assert!(p < k, "keys out of order");
            }
            if !next.is_empty() {
                assert!(k < &next, "key not below next");
            }
        }
        out.extend(pairs);
        if next.is_empty() || (!end.is_empty() && next.as_slice() >= end) {
            return out;
        }
        assert!(next > from, "RANGE made no progress");
        from = next;
    }
}

pub fn model_range(m: &Model, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.range(start.to_vec()..)
        .take_while(|(k, _)| end.is_empty() || k.as_slice() < end)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
