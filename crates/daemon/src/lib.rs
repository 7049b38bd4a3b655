//! Conventions shared by the daemons of this workspace (spiped, kivaloo).
//!
//! Their C ancestors share one library (libcperciva) for the socket-address
//! syntax, option parsing, daemonizing and warnings; operators' scripts depend
//! on those details, so they live here once.
//!
//! Nothing here starts a runtime: daemonizing forks, and forking must happen
//! while the process still has one thread.

pub mod addr;
pub mod args;
pub mod daemonize;
pub mod getopt;
pub mod listen;
pub mod log;
pub mod numparse;
pub mod privs;
pub mod testing;
