//! The lookout daemon: a thin tokio shell around `lookout-core`. It runs
//! the checks, sends the messages, keeps the history and serves the status
//! page; every decision about *when* is the core's.

pub mod app;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod notify;
pub mod page;
pub mod secrets;
pub mod store;
pub mod web;
