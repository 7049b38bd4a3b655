//! Talking to kivaloo daemons.
//!
//! [`net`] puts Unix-domain and TCP sockets behind one async type, for the
//! daemons and for clients.

pub mod net;
