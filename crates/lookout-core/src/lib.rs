//! The decisions of the lookout monitor, without any I/O.
//!
//! Everything that decides *when* something happens (schedules, jitter, the
//! N-bad/M-good incident rule, grouping, the escalation ladder, retries,
//! fallbacks, caps, the canary, the digest) lives here as plain state
//! machines that are told the current time. The daemon (`crates/lookout`)
//! runs checks and sends messages; tests drive this crate with a fake clock
//! and get the same answers every time.

pub mod civil;
pub mod config;
pub mod cron;
pub mod der;
pub mod duration;
pub mod icmp;
pub mod message;
pub mod model;
pub mod monitor;
pub mod nagios;
pub mod rng;
pub mod schedule;

mod alerting;
mod streak;

pub use model::{CheckResult, Millis, Outcome};
pub use monitor::{Input, Monitor, Output};
