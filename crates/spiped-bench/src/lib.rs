//! spiped-bench: our spiped pair against Debian's C spiped, side by side in
//! one run on loopback, each figure for both and the ratio.
//!
//! The building blocks are public so the smoke test drives them briefly:
//! [`pair`] starts daemons, [`bulk`], [`conns`] and [`echo`] make the load
//! (all in this process, cheap, large buffers), [`machine`] and [`procs`]
//! read /proc, [`crypto`] measures the ceiling, [`run`] sequences the
//! phases and [`report`] prints the table.

pub mod bulk;
pub mod conns;
pub mod crypto;
pub mod echo;
pub mod machine;
pub mod pair;
pub mod procs;
pub mod report;
pub mod run;
pub mod stats;
