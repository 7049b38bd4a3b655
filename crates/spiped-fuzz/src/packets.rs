//! The packet codec under hostile input: one packet, and a whole stream
//! reassembled from arbitrary read sizes as the relay does.
//!
//! The attacker of [`stream`] holds the session keys (it is the peer), so it
//! can also send correctly tagged packets with a bad length field.

use std::collections::HashMap;

use spiped_proto::kdf::hmac;
use spiped_proto::{
    Decryptor, Encryptor, MAX_PAYLOAD, OpenBuffer, PACKET_LEN, PacketError, SealBuffer,
};

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

/// A hostile packet stream into the relay's receiver, [`OpenBuffer`].
/// Input: the buffer's size in packets and whether to park partial
/// packets between reads (as the relay does while idle), chunk sizes, a
/// count of operations
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
    let shape = inp.byte();
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

    // The receiver under test, driven as the relay drives it: read into
    // `spare`, `advance`, `open`, write the slices, `consume`; between
    // reads, maybe park the partial packet and restore it.
    let mut rx = OpenBuffer::new(1 + (shape & 7) as usize);
    let park = shape & 8 != 0;
    let mut dec = Decryptor::new(&ENC_KEY, &MAC_KEY);
    let mut out = Vec::new();
    let mut failed = None;
    let mut pos = 0;
    while pos < wire.len() {
        let room = rx.spare().len();
        assert!(room > 0, "no room to read into");
        let n = splits.next(wire.len() - pos).min(room);
        rx.spare()[..n].copy_from_slice(&wire[pos..pos + n]);
        rx.advance(n);
        pos += n;
        if let Err(e) = rx.open(&mut dec) {
            // The whole batch is dropped with the connection.
            failed = Some(e);
            break;
        }
        // What a vectored write of the slices sends, in order.
        let slices = rx.write_slices();
        let wrote: usize = slices.iter().map(|s| s.len()).sum();
        assert_eq!(wrote, rx.plaintext_len());
        for sl in &slices {
            out.extend_from_slice(sl);
        }
        rx.consume();
        assert!(rx.pending() < PACKET_LEN);
        if park {
            let held = rx.take_pending();
            assert_eq!(rx.pending(), 0);
            rx.restore_pending(&held);
        }
    }
    assert_eq!(failed.is_some(), expect_fail, "{failed:?}");
    if expect_fail {
        assert!(
            expect_out.starts_with(&out),
            "delivered bytes are not a prefix of the valid packets' payloads"
        );
    } else {
        assert!(
            out == expect_out,
            "delivered bytes differ from the valid packets' payloads"
        );
        assert_eq!(rx.pending(), wire.len() % PACKET_LEN);
    }
}

/// Plaintext read in arbitrary sizes into the sender's [`SealBuffer`]:
/// each read becomes ceil(n / 1024) packets (full ones, then the rest), and
/// the wire decodes to exactly the plaintext, in order.
///
/// Input: the buffer's size in packets, chunk sizes, then the plaintext.
pub fn seal(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut tx = SealBuffer::new(1 + (inp.byte() & 7) as usize);
    let mut splits = Splits::read(&mut inp);
    let plain = inp.rest();
    let mut enc = Encryptor::new(&ENC_KEY, &MAC_KEY);
    let mut dec = Decryptor::new(&ENC_KEY, &MAC_KEY);
    let mut pos = 0;
    while pos < plain.len() {
        let n = splits.next(plain.len() - pos).min(tx.capacity());
        let mut left = &plain[pos..pos + n];
        let mut slots = tx.read_slices();
        for slot in slots.iter_mut() {
            let k = left.len().min(slot.len());
            slot[..k].copy_from_slice(&left[..k]);
            left = &left[k..];
        }
        drop(slots);
        let before = enc.packets();
        let wire = tx.seal(n, &mut enc).to_vec();
        assert_eq!(wire.len(), n.div_ceil(MAX_PAYLOAD) * PACKET_LEN);
        assert_eq!(enc.packets() - before, n.div_ceil(MAX_PAYLOAD) as u64);
        let mut got = Vec::new();
        for (i, pkt) in wire.chunks_exact(PACKET_LEN).enumerate() {
            let mut pkt: [u8; PACKET_LEN] = pkt.try_into().expect("exact chunk");
            let m = dec.open(&mut pkt).expect("our own packet");
            let want = (n - i * MAX_PAYLOAD).min(MAX_PAYLOAD);
            assert_eq!(m.len(), want, "packet {i} of a {n}-byte read");
            got.extend_from_slice(m);
        }
        assert!(got == plain[pos..pos + n], "round trip changed the data");
        pos += n;
    }
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
