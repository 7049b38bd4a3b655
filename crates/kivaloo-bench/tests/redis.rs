//! The benchmark's Redis side against a real redis-server (Debian's,
//! installed by scripts/deps/kivaloo.sh): the same workloads must run and
//! give sane figures. Fails if redis-server is missing.

use std::time::Duration;

use kivaloo_bench::bench::{System, find_redis, measure};
use kivaloo_bench::stack::{RedisStack, Stack};
use kivaloo_bench::workloads::{DataSet, Timing, Workload};

#[test]
fn workloads_run_against_redis() {
    let redis = find_redis(None).expect("redis-server is required (scripts/deps/kivaloo.sh)");
    let work = tempfile::tempdir().unwrap();
    let data = DataSet::new(1 << 12);
    let timing = Timing {
        warmup: Duration::ZERO,
        measure: Duration::from_secs(1),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for w in [
        Workload::BulkInsert,
        Workload::RandomRead,
        Workload::BulkExtract,
    ] {
        let st = RedisStack::start(&redis, work.path()).unwrap();
        let f = rt
            .block_on(measure(System::Redis, &st as &dyn Stack, &data, w, timing))
            .unwrap();
        assert!(f.rate > 100.0, "{w:?}: {} pairs/s", f.rate);
        assert_eq!(f.misses, 0, "{w:?}: every key was loaded");
        // An append-only file holding 4096 SETs of 80 bytes of data.
        assert!(
            f.disk_per_pair_loaded >= 80.0,
            "{w:?}: {}",
            f.disk_per_pair_loaded
        );
        assert!(f.peak_rss > 1 << 20);
    }
}
