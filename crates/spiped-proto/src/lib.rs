//! spiped's wire protocol with no I/O.
//!
//! This crate turns bytes into bytes: the key file into the protocol secret
//! K ([`key`]), a handshake as a state machine driven by the caller
//! ([`handshake`]), Diffie-Hellman over RFC 3526 group 14 ([`dh`]), and the
//! 1060-byte data packets ([`packet`]). It never touches a socket, a clock
//! or a random-number generator: randomness comes in as arguments, so every
//! path is deterministic, testable against the published vectors, and
//! fuzzable. The daemons in the `spiped` crate are thin shells around it.
//!
//! The wire format has been the same in every spiped release since 1.0.0.

pub mod batch;
pub mod dh;
pub mod handshake;
pub mod kdf;
pub mod key;
pub mod packet;

pub use batch::{OpenBuffer, SealBuffer};
pub use handshake::{Handshake, HandshakeConfig, HandshakeError, Role, SessionKeys};
pub use key::Key;
pub use packet::{Decryptor, Encryptor, PacketError};

/// Bytes of payload a data packet can carry.
pub const MAX_PAYLOAD: usize = 1024;
/// Bytes of a data packet on the wire: 1028 of ciphertext, 32 of tag.
pub const PACKET_LEN: usize = 1060;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes of a DH public value (2048 bits, big-endian, zero-padded).
pub const DH_LEN: usize = 256;
/// Bytes of `y || h` in the handshake.
pub const YH_LEN: usize = DH_LEN + 32;
