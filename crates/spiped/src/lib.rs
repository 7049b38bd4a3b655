//! The `spiped` daemon and the `spipe` client: thin shells around
//! `spiped-proto`.
//!
//! * [`cli`]: the command lines, parsed exactly as upstream parses them;
//! * [`keyfile`]: reading `-k` (a file or stdin);
//! * [`net`]: listening, connecting (address lists, `-b`, timeouts) and the
//!   socket options upstream sets;
//! * [`dhpool`]: ephemeral DH values made ahead of time on a helper thread;
//! * [`relay`]: the two data directions of a connection, batched;
//! * [`conn`]: one relayed connection from accept to close;
//! * [`server`]: the accept loop, the connection limit, re-resolution and
//!   graceful shutdown;
//! * [`spipe`]: the client, with blocking threads (one connection only).

pub mod cli;
pub mod conn;
pub mod dhpool;
pub mod keyfile;
pub mod net;
pub mod relay;
pub mod server;
pub mod spipe;

/// The upstream release whose behaviour we reproduce, printed by `-v`.
pub const UPSTREAM_VERSION: &str = "1.6.4";
