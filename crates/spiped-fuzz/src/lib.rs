//! Fuzz harnesses: one function per target, each taking the fuzzer's bytes.
//!
//! Every harness that sees outside input in spiped lives here, so that the
//! same code runs under libFuzzer (the thin targets in `/fuzz`, built with
//! cargo-fuzz) and in the ordinary test suite (`tests/smoke.rs` replays the
//! committed seeds in `/fuzz/seeds` and a few thousand mutations of them).
//!
//! A harness panics when it finds a bug. Beyond "no panic", each one checks
//! the result against an oracle computed another way:
//!
//! * [`handshake::peer`]: our handshake (either role, with or without
//!   `-f`/`-g`) against arbitrary peer bytes in arbitrary splits; it must
//!   succeed exactly when the peer's `y || h` passes upstream's checks
//!   (recomputed here from the key schedule), and then its keys must
//!   interoperate with keys derived independently;
//! * [`handshake::mitm`]: two honest handshakes with a man in the middle who
//!   flips bytes; both succeed if and only if nothing was changed;
//! * [`packets::open`]: one packet with arbitrary bit flips: opens only if
//!   unmodified;
//! * [`packets::stream`]: a stream of honest, flipped, replayed, reordered,
//!   dropped, length-forged and junk packets, reassembled in arbitrary
//!   splits as the relay does; exactly the valid prefix is delivered;
//! * [`addr::parse`]: the socket-address syntax; what parses re-parses the
//!   same from its canonical form;
//! * [`cli::parse`]: `spiped`'s and `spipe`'s command lines and `-u`; what
//!   parses re-parses the same from a canonical command line.

pub mod addr;
pub mod cli;
pub mod handshake;
pub mod input;
pub mod packets;
pub mod seeds;

/// A harness: takes the fuzzer's bytes, panics on a bug.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and seed folder.
pub const TARGETS: &[(&str, Harness)] = &[
    ("handshake_peer", handshake::peer),
    ("handshake_mitm", handshake::mitm),
    ("packet_open", packets::open),
    ("packet_stream", packets::stream),
    ("addr", addr::parse),
    ("cli", cli::parse),
];
