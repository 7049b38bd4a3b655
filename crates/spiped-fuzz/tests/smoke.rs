//! A fuzz smoke run inside the ordinary test suite (no cargo-fuzz, no
//! nightly): every committed seed in /fuzz/seeds, then a few hundred
//! mutations of them per target (bit flips, byte changes, insertions,
//! deletions, splices), through the same harnesses libFuzzer runs. The
//! mutations are seeded, so a failure reproduces; the failing input is
//! written to the scratch directory and named in the panic message.

use std::path::{Path, PathBuf};

use spiped_fuzz::TARGETS;

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

fn read_seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = seeds_dir().join(target);
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds for {target}");
    v.into_iter().map(|(_, b)| b).collect()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(i..i, ins);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(len - i);
                b.drain(i..i + n);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                // Boundary bytes where the harnesses read sizes and flags.
                let i = rng.below(len.min(8));
                b[i] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
            }
            _ => b.push(rng.next() as u8),
        }
    }
    b
}

fn run_one(target: &str, f: fn(&[u8]), input: &[u8]) {
    if std::panic::catch_unwind(|| f(input)).is_err() {
        let out =
            std::env::temp_dir().join(format!("spiped-fuzz-{target}-crash-{}", std::process::id()));
        let _ = std::fs::write(&out, input);
        panic!(
            "{target} failed on an input saved to {}; replay it with \
             `cargo fuzz run {target} {}` (see docs/fuzzing.md)",
            out.display(),
            out.display()
        );
    }
}

fn smoke(target: &str, mutations: usize) {
    let f = TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .expect("known target")
        .1;
    let seeds = read_seeds(target);
    for s in &seeds {
        run_one(target, f, s);
    }
    let name_hash = target.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng(name_hash | 1);
    for _ in 0..mutations {
        let m = mutate(&mut rng, &seeds);
        run_one(target, f, &m);
    }
}

#[test]
fn every_target_has_a_smoke_test_and_seeds() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    for n in &names {
        assert!(!read_seeds(n).is_empty());
        let target_file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/fuzz_targets")
            .join(format!("{n}.rs"));
        assert!(target_file.exists(), "no cargo-fuzz target {n}");
    }
}

#[test]
fn smoke_handshake_peer() {
    smoke("handshake_peer", 1500);
}

#[test]
fn smoke_handshake_mitm() {
    smoke("handshake_mitm", 300);
}

#[test]
fn smoke_packet_open() {
    smoke("packet_open", 3000);
}

#[test]
fn smoke_packet_stream() {
    smoke("packet_stream", 3000);
}

#[test]
fn smoke_addr() {
    smoke("addr", 100_000);
}

#[test]
fn smoke_cli() {
    smoke("cli", 50_000);
}
