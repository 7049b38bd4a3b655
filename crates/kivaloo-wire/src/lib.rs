//! kivaloo's wire format, with no I/O.
//!
//! Every kivaloo connection (client↔mux↔kvlds↔lbs) carries packets in one
//! framing ([`frame`]) protected by kivaloo's CRC variant ([`crc`]); the
//! records inside are the lbs ([`lbs`]) and kvlds ([`kvlds`]) requests and
//! responses. Everything here works on byte slices so that daemons, clients,
//! tests, fuzzers and benchmarks share one implementation and a byte on the
//! wire means the same thing everywhere.
//!
//! Responses carry no type field: a response record can only be parsed by
//! someone who knows which request it answers, hence the `*Kind` enums.

pub mod crc;
pub mod frame;
pub mod kvlds;
pub mod lbs;
mod record;

pub use frame::{Decoded, FrameDecoder, FrameError, Packet};
pub use record::{DecodeError, EncodeError};
