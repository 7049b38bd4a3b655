//! In-process engine timing over MemStore (development aid).
struct Instant(f64);
impl Instant {
    fn now() -> Self {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        Instant(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(Instant::now().0 - self.0)
    }
}
use kivaloo_kvlds::{Config, Db, MemStore, Mr};

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}
fn key(i: u64) -> Vec<u8> {
    let mut k = (i >> 16).to_be_bytes().to_vec();
    for j in 0..4 {
        k.extend_from_slice(&mix(i * 4 + j).to_be_bytes());
    }
    k
}
fn main() {
    let n: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let mut db = Db::open(MemStore::new(2048), Config::for_block_size(2048)).unwrap();
    let mut keys: Vec<Vec<u8>> = (0..n).map(key).collect();
    keys.sort();
    let t = Instant::now();
    for c in keys.chunks(4096) {
        let b: Vec<Mr> = c
            .iter()
            .map(|k| Mr::Set {
                key: k.clone(),
                value: vec![7; 40],
            })
            .collect();
        db.apply(&b).unwrap();
    }
    println!(
        "insert {:.0}/s {:?}",
        n as f64 / t.elapsed().as_secs_f64(),
        db.tree().stats()
    );
    let t = Instant::now();
    let mut r = 1;
    for _ in 0..1_000_000 {
        r = mix(r);
        db.get(&key(r % n)).unwrap().unwrap();
    }
    println!("get {:.0}/s", 1e6 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    for _ in 0..100 {
        let b: Vec<Mr> = (0..2048)
            .map(|_| {
                r = mix(r);
                Mr::Set {
                    key: key(r % n),
                    value: vec![1; 40],
                }
            })
            .collect();
        db.apply(&b).unwrap();
    }
    println!(
        "random set {:.0}/s {:?}",
        204800.0 / t.elapsed().as_secs_f64(),
        db.tree().stats()
    );
}
