//! Data packets: 1060 bytes on the wire, whatever the payload.
//!
//! ```text
//! plain  (1028) = M || 0x00 * (1024 - len M) || BE32(len M)     1 <= len M <= 1024
//! ct     (1028) = AES-256-CTR(E, counter block BE64(pnum) || BE64(i)) xor plain
//! tag    (32)   = HMAC-SHA256(H, ct || BE64(pnum))
//! packet (1060) = ct || tag
//! ```
//!
//! pnum counts packets per direction from 0 and is never sent: a dropped,
//! replayed or reordered packet fails the next tag check. The receiver
//! checks the tag (in constant time) before decrypting anything.
//!
//! Speed: the AES key schedule and the keyed HMAC state are computed once
//! per direction; per packet we only clone the HMAC state. CTR keystream
//! for all 65 blocks of a packet is made with one `encrypt_blocks` call so
//! AES-NI/VAES can pipeline. No allocation on the per-packet path.

use aes::Aes256;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{MAX_PAYLOAD, PACKET_LEN};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of ciphertext in a packet: payload area plus the length field.
const CT_LEN: usize = MAX_PAYLOAD + 4;
/// AES blocks of keystream per packet (the last one only partly used).
const KS_BLOCKS: usize = CT_LEN.div_ceil(16);

/// Why an incoming packet was refused. Any of these drops the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Wrong key, tampering, a replayed, reordered or dropped packet.
    #[error("packet authentication failed")]
    BadTag,
    /// A correct tag over a length outside 1..=1024.
    #[error("packet length field {0} out of range")]
    BadLength(u32),
}

/// Keys and counter for one direction.
struct Direction {
    aes: Aes256,
    mac: HmacSha256,
    pnum: u64,
}

impl Direction {
    fn new(enc_key: &[u8; 32], mac_key: &[u8; 32]) -> Self {
        Direction {
            aes: Aes256::new(&Array::from(*enc_key)),
            mac: <HmacSha256 as hmac::KeyInit>::new_from_slice(mac_key)
                .expect("HMAC takes any key length"),
            pnum: 0,
        }
    }

    /// XOR the CTR keystream for packet `pnum` into `ct` (1028 bytes).
    fn apply_keystream(&self, ct: &mut [u8]) {
        let mut blocks = [[0u8; 16]; KS_BLOCKS];
        let hi = self.pnum.to_be_bytes();
        for (i, b) in blocks.iter_mut().enumerate() {
            b[..8].copy_from_slice(&hi);
            b[8..].copy_from_slice(&(i as u64).to_be_bytes());
        }
        self.aes
            .encrypt_blocks(Array::cast_slice_from_core_mut(&mut blocks));
        // The keystream is not wiped: XORed with the ciphertext (public)
        // it only gives this packet's plaintext, which sits in the
        // caller's buffers anyway. Wiping it per packet cost upstream ~10%
        // of its CPU time.
        for (c, k) in ct.iter_mut().zip(blocks.as_flattened()) {
            *c ^= k;
        }
    }

    fn tag(&self, ct: &[u8]) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(ct);
        m.update(&self.pnum.to_be_bytes());
        m.finalize().into_bytes().into()
    }
}

/// The sending half of a connection direction. The keyed state lives on
/// the heap (here and in [`Decryptor`]) so that moving the codec moves a
/// pointer: the AES round keys and HMAC states exist in one place, which
/// they wipe when dropped.
pub struct Encryptor(Box<Direction>);

impl Encryptor {
    pub fn new(enc_key: &[u8; 32], mac_key: &[u8; 32]) -> Self {
        Encryptor(Box::new(Direction::new(enc_key, mac_key)))
    }

    /// Packets sent so far.
    pub fn packets(&self) -> u64 {
        self.0.pnum
    }

    /// Seal one payload of 1..=1024 bytes into `out`.
    ///
    /// # Panics
    /// If the payload is empty or too long: upstream peers drop a
    /// connection on an empty packet, so sending one is a caller bug.
    pub fn seal(&mut self, payload: &[u8], out: &mut [u8; PACKET_LEN]) {
        assert!(
            payload.len() <= MAX_PAYLOAD,
            "payload must be 1..=1024 bytes"
        );
        out[..payload.len()].copy_from_slice(payload);
        self.seal_in_place(out, payload.len());
    }

    /// Seal a packet whose first `len` bytes (1..=1024) already hold the
    /// payload: pad, add the length, encrypt, and append the tag.
    ///
    /// # Panics
    /// If `len` is 0 or above 1024 (see [`Encryptor::seal`]).
    pub fn seal_in_place(&mut self, pkt: &mut [u8; PACKET_LEN], len: usize) {
        assert!(
            (1..=MAX_PAYLOAD).contains(&len),
            "payload must be 1..=1024 bytes"
        );
        let (ct, tag) = pkt.split_at_mut(CT_LEN);
        ct[len..MAX_PAYLOAD].fill(0);
        ct[MAX_PAYLOAD..].copy_from_slice(&(len as u32).to_be_bytes());
        self.0.apply_keystream(ct);
        tag.copy_from_slice(&self.0.tag(ct));
        self.0.pnum = self.0.pnum.wrapping_add(1);
    }

    /// Cut `data` into packets as upstream does (full 1024-byte packets,
    /// then the remainder) and append them to `out`. Empty input adds
    /// nothing.
    pub fn seal_all(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let n = data.len().div_ceil(MAX_PAYLOAD);
        out.resize(start + n * PACKET_LEN, 0);
        for (chunk, pkt) in data
            .chunks(MAX_PAYLOAD)
            .zip(out[start..].chunks_exact_mut(PACKET_LEN))
        {
            let pkt: &mut [u8; PACKET_LEN] = pkt.try_into().expect("exact chunk");
            self.seal(chunk, pkt);
        }
    }

    /// Bytes on the wire for `n` bytes of payload.
    pub fn sealed_len(n: usize) -> usize {
        n.div_ceil(MAX_PAYLOAD) * PACKET_LEN
    }
}

/// The receiving half of a connection direction.
pub struct Decryptor(Box<Direction>);

impl Decryptor {
    pub fn new(enc_key: &[u8; 32], mac_key: &[u8; 32]) -> Self {
        Decryptor(Box::new(Direction::new(enc_key, mac_key)))
    }

    /// Packets accepted so far.
    pub fn packets(&self) -> u64 {
        self.0.pnum
    }

    /// Check and decrypt one packet in place; returns the payload (a prefix
    /// of the packet's buffer). On error nothing was decrypted and the
    /// packet counter did not move; the connection must be dropped.
    pub fn open<'a>(&mut self, pkt: &'a mut [u8; PACKET_LEN]) -> Result<&'a [u8], PacketError> {
        let (ct, tag) = pkt.split_at_mut(CT_LEN);
        let want = self.0.tag(ct);
        if !bool::from(want.ct_eq(tag)) {
            return Err(PacketError::BadTag);
        }
        self.0.apply_keystream(ct);
        let len = u32::from_be_bytes(ct[MAX_PAYLOAD..].try_into().expect("4 bytes"));
        if len == 0 || len as usize > MAX_PAYLOAD {
            ct.zeroize();
            return Err(PacketError::BadLength(len));
        }
        self.0.pnum = self.0.pnum.wrapping_add(1);
        Ok(&ct[..len as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Encryptor, Decryptor) {
        let (e, h) = ([7u8; 32], [9u8; 32]);
        (Encryptor::new(&e, &h), Decryptor::new(&e, &h))
    }

    #[test]
    fn round_trip_every_length_edge() {
        let (mut enc, mut dec) = pair();
        for len in [1usize, 2, 15, 16, 17, 1023, 1024] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let mut pkt = [0u8; PACKET_LEN];
            enc.seal(&msg, &mut pkt);
            assert_eq!(dec.open(&mut pkt).unwrap(), &msg[..]);
        }
        assert_eq!(enc.packets(), 7);
        assert_eq!(dec.packets(), 7);
    }

    #[test]
    fn seal_all_cuts_like_upstream() {
        let (mut enc, mut dec) = pair();
        let data = vec![0xabu8; 3003];
        let mut out = Vec::new();
        enc.seal_all(&data, &mut out);
        assert_eq!(out.len(), 3 * PACKET_LEN);
        assert_eq!(Encryptor::sealed_len(3003), out.len());
        let mut lens = Vec::new();
        for pkt in out.chunks_exact_mut(PACKET_LEN) {
            let pkt: &mut [u8; PACKET_LEN] = pkt.try_into().unwrap();
            lens.push(dec.open(pkt).unwrap().len());
        }
        assert_eq!(lens, vec![1024, 1024, 955]);
        let mut none = Vec::new();
        enc.seal_all(&[], &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn any_bit_flip_is_refused_and_counter_stays() {
        let (mut enc, _) = pair();
        let mut pkt = [0u8; PACKET_LEN];
        enc.seal(b"hello", &mut pkt);
        for bit in (0..PACKET_LEN * 8).step_by(97) {
            let (_, mut dec) = pair();
            let mut bad = pkt;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(dec.open(&mut bad), Err(PacketError::BadTag));
            assert_eq!(dec.packets(), 0);
            let mut good = pkt;
            assert_eq!(dec.open(&mut good).unwrap(), b"hello");
        }
    }

    #[test]
    fn replay_and_reorder_are_refused() {
        let (mut enc, mut dec) = pair();
        let mut p0 = [0u8; PACKET_LEN];
        let mut p1 = [0u8; PACKET_LEN];
        enc.seal(b"zero", &mut p0);
        enc.seal(b"one", &mut p1);
        let mut r1 = p1;
        assert_eq!(dec.open(&mut r1), Err(PacketError::BadTag));
        let mut c0 = p0;
        assert_eq!(dec.open(&mut c0).unwrap(), b"zero");
        let mut again = p0;
        assert_eq!(dec.open(&mut again), Err(PacketError::BadTag));
        assert_eq!(dec.open(&mut p1).unwrap(), b"one");
    }

    /// Build a correctly tagged packet whose length field is `len`, as a
    /// peer holding the keys could, to check the receiver's range check.
    fn forge(len: u32) -> [u8; PACKET_LEN] {
        let d = Direction::new(&[7u8; 32], &[9u8; 32]);
        let mut pkt = [0u8; PACKET_LEN];
        let (ct, tag) = pkt.split_at_mut(CT_LEN);
        ct[MAX_PAYLOAD..].copy_from_slice(&len.to_be_bytes());
        d.apply_keystream(ct);
        tag.copy_from_slice(&d.tag(ct));
        pkt
    }

    #[test]
    fn length_field_out_of_range_is_refused() {
        for len in [0u32, 1025, 0xffff_ffff] {
            let (_, mut dec) = pair();
            let mut pkt = forge(len);
            assert_eq!(dec.open(&mut pkt), Err(PacketError::BadLength(len)));
        }
        for len in [1u32, 1024] {
            let (_, mut dec) = pair();
            let mut pkt = forge(len);
            assert_eq!(dec.open(&mut pkt).unwrap().len(), len as usize);
        }
    }
}
