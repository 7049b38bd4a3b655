//! kivaloo's benchmarks: upstream's data set (`mkpairs`) and six workloads
//! (bulk insert, bulk update, bulk extract, random read, random mixed,
//! hot-spot read), each run on a fresh kivaloo stack and on a fresh Redis
//! with `appendonly yes` and `appendfsync always`, with the same request
//! streams and 4 096 requests in flight, printed side by side as ratios.

pub mod bench;
pub mod codec;
pub mod driver;
pub mod lbsbench;
pub mod pairs;
pub mod stack;
pub mod workloads;
