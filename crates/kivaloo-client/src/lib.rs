//! Talking to kivaloo daemons.
//!
//! * [`net`]: Unix-domain and TCP sockets behind one async type, for the
//!   daemons and for clients;
//! * [`conn`]: a multiplexed connection (many tasks, one socket, requests
//!   pipelined, responses routed by ID);
//! * [`kvlds`] and [`lbs`]: typed clients for the two protocols;
//! * [`pipeline`]: a lean loop for bulk work that keeps thousands of
//!   requests in flight without a task or allocation per request;
//! * [`dumpfmt`]: upstream's kvlds-dump pair-stream format.

pub mod conn;
pub mod dumpfmt;
mod error;
pub mod kvlds;
pub mod lbs;
pub mod net;
pub mod pipeline;

pub use error::ClientError;
pub use kvlds::{KvldsClient, RangePage};
pub use lbs::{LbsClient, LbsParams};
