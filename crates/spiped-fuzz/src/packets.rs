//! The packet codec under hostile input: one packet, and a whole stream
//! reassembled from arbitrary read sizes as the relay does.
//!
//! The attacker of [`stream`] holds the session keys (it is the peer), so it
//! can also send correctly tagged packets with a bad length field.

use std::collections::HashMap;

use spiped_proto::kdf::hmac;
use spiped_proto::{Decryptor, Encryptor, MAX_PAYLOAD, PACKET_LEN, PacketError};

use crate::input::{Input, Splits};

const ENC_KEY: [u8; 32] = [0x0e; 32];
const MAC_KEY: [u8; 32] = [0x4a; 32];
const CT_LEN: usize = MAX_PAYLOAD + 4;

/// A deterministic payload of `len` bytes for packet `pnum`.
fn payload(pnum: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (pnum as usize * 7 + i * 13) as u8)
        .collect()
}

/// One sealed packet, XORed with the fuzzer's mask: it must open exactly
/// when the mask is all zeros, and a refused packet must not move the
/// counter (the next honest packet still opens).
///
/// Input: payload length (u16, 1..=1024), then up to 1060 mask bytes.
pub fn open(data: &[u8]) {
    let mut inp = Input::new(data);
    let len = (inp.u16() as usize % MAX_PAYLOAD) + 1;
    let mask = inp.rest();
    let mut enc = Encryptor::new(&ENC_KEY, &MAC_KEY);
    let mut dec = Decryptor::new(&ENC_KEY, &MAC_KEY);
    let msg = payload(0, len);
    let mut pkt = [0u8; PACKET_LEN];
    enc.seal(&msg, &mut pkt);
    let honest = pkt;
    for (b, m) in pkt.iter_mut().zip(mask) {
        *b ^= m;
    }
    let changed = pkt != honest;
    match dec.open(&mut pkt) {
        Ok(m) => {
            assert!(!changed, "a modified packet was accepted");
            assert_eq!(m, &msg[..]);
            assert_eq!(dec.packets(), 1);
        }
        Err(e) => {
            assert!(changed, "an honest packet was refused: {e}");
            assert_eq!(e, PacketError::BadTag, "checked the tag first");
            assert_eq!(dec.packets(), 0);
            let mut again = honest;
            assert_eq!(dec.open(&mut again), Ok(&msg[..]));
        }
    }
}

/// A receiver built the way the relay reads: bytes arrive in any sizes,
/// whole packets are opened, a partial one waits; the first error stops it.
struct Reassembler {
    dec: Decryptor,
    buf: Vec<u8>,
    out: Vec<u8>,
    failed: Option<PacketError>,
}

impl Reassembler {
    fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        let whole = self.buf.len() / PACKET_LEN * PACKET_LEN;
        for pkt in self.buf[..whole].chunks_exact_mut(PACKET_LEN) {
            let pkt: &mut [u8; PACKET_LEN] = pkt.try_into().expect("exact chunk");
            match self.dec.open(pkt) {
                Ok(m) => self.out.extend_from_slice(m),
                Err(e) => {
                    self.failed = Some(e);
                    return;
                }
            }
        }
        self.buf.drain(..whole);
        assert!(self.buf.len() < PACKET_LEN);
    }
}

/// A hostile packet stream. Input: chunk sizes, a count of operations
/// (up to 63), then the operations the sender (who holds the keys) runs,
/// each one byte then its arguments:
///
/// * 0: seal an honest packet (u16 length, 1..=1024);
/// * 1: flip one bit (u16 position) of the last packet on the wire;
/// * 2: replay an earlier packet (byte index) at the end;
/// * 3: swap the last two packets;
/// * 4: seal a correctly tagged packet whose length field is a u32;
/// * 5: drop: seal a packet but never send it (the counter moves on);
/// * 6: append junk bytes (byte count);
/// * 7: truncate the wire by a few bytes (byte count).
///
/// The oracle knows which (position, bytes) pairs are
/// valid packets, so the expected output is the payloads of the longest
/// valid prefix; a complete invalid packet after it must fail the stream,
/// a trailing partial one must not.
pub fn stream(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut splits = Splits::read(&mut inp);
    let mut enc = Encryptor::new(&ENC_KEY, &MAC_KEY);
    // What the sender put on the wire, packet by packet (junk and
    // truncation work on the flat stream, applied in order).
    let mut wire: Vec<u8> = Vec::new();
    // Every packet the key holder made that a receiver at that counter
    // value must accept, with its payload.
    let mut valid: HashMap<(u64, Vec<u8>), Vec<u8>> = HashMap::new();
    let mut starts: Vec<usize> = Vec::new();
    for _ in 0..inp.byte() % 64 {
        match inp.byte() % 8 {
            0 => {
                let len = (inp.u16() as usize % MAX_PAYLOAD) + 1;
                let pnum = enc.packets();
                let msg = payload(pnum, len);
                let mut pkt = [0u8; PACKET_LEN];
                enc.seal(&msg, &mut pkt);
                valid.insert((pnum, pkt.to_vec()), msg);
                starts.push(wire.len());
                wire.extend_from_slice(&pkt);
            }
            1 => {
                let bit = inp.u16() as usize % (PACKET_LEN * 8);
                if let Some(&s) = starts.last()
                    && s + bit / 8 < wire.len()
                {
                    wire[s + bit / 8] ^= 1 << (bit % 8);
                }
            }
            2 => {
                let i = inp.byte() as usize;
                if !starts.is_empty() {
                    let s = starts[i % starts.len()];
                    let end = (s + PACKET_LEN).min(wire.len());
                    let copy = wire[s..end].to_vec();
                    starts.push(wire.len());
                    wire.extend_from_slice(&copy);
                }
            }
            3 => {
                let n = starts.len();
                if n >= 2 && starts[n - 1] + PACKET_LEN == wire.len() {
                    let (a, b) = (starts[n - 2], starts[n - 1]);
                    if a + PACKET_LEN == b {
                        let first = wire[a..b].to_vec();
                        wire.copy_within(b.., a);
                        wire[a + PACKET_LEN..].copy_from_slice(&first);
                    }
                }
            }
            4 => {
                let len = inp.u32();
                let pnum = enc.packets();
                let pkt = forge_length(&mut enc, len);
                if (1..=MAX_PAYLOAD as u32).contains(&len) {
                    valid.insert((pnum, pkt.to_vec()), vec![0u8; len as usize]);
                }
                starts.push(wire.len());
                wire.extend_from_slice(&pkt);
            }
            5 => {
                let mut pkt = [0u8; PACKET_LEN];
                enc.seal(b"dropped", &mut pkt);
            }
            6 => {
                let n = inp.byte() as usize;
                wire.extend_from_slice(&payload(n as u64, n));
            }
            _ => {
                let n = inp.byte() as usize;
                wire.truncate(wire.len().saturating_sub(n));
                starts.retain(|&s| s < wire.len());
            }
        }
    }

    let mut expect_out = Vec::new();
    let mut expect_fail = false;
    for (i, chunk) in wire.chunks_exact(PACKET_LEN).enumerate() {
        match valid.get(&(i as u64, chunk.to_vec())) {
            Some(m) => expect_out.extend_from_slice(m),
            None => {
                expect_fail = true;
                break;
            }
        }
    }

    let mut rx = Reassembler {
        dec: Decryptor::new(&ENC_KEY, &MAC_KEY),
        buf: Vec::new(),
        out: Vec::new(),
        failed: None,
    };
    let mut pos = 0;
    while pos < wire.len() {
        let n = splits.next(wire.len() - pos);
        rx.push(&wire[pos..pos + n]);
        pos += n;
    }
    assert_eq!(rx.failed.is_some(), expect_fail, "{:?}", rx.failed);
    assert!(
        rx.out == expect_out,
        "delivered bytes differ from the valid prefix"
    );
}

/// A packet with a correct tag at the sender's current counter whose
/// length field says `len`, built as a key holder would: seal 1024 zero
/// bytes (so the ciphertext is the keystream), rewrite the encrypted length
/// field, and tag again.
fn forge_length(enc: &mut Encryptor, len: u32) -> [u8; PACKET_LEN] {
    let pnum = enc.packets();
    let mut pkt = [0u8; PACKET_LEN];
    enc.seal(&[0u8; MAX_PAYLOAD], &mut pkt);
    let field = (MAX_PAYLOAD as u32 ^ len).to_be_bytes();
    for (c, f) in pkt[MAX_PAYLOAD..CT_LEN].iter_mut().zip(field) {
        *c ^= f;
    }
    let mut msg = pkt[..CT_LEN].to_vec();
    msg.extend_from_slice(&pnum.to_be_bytes());
    pkt[CT_LEN..].copy_from_slice(&hmac(&MAC_KEY, &msg));
    pkt
}
