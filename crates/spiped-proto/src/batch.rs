//! Buffers laid out for many packets per system call, with no copy of the
//! payload on either side.
//!
//! * [`SealBuffer`]: plaintext is read (vectored) straight into the payload
//!   slots of consecutive packets; sealing in place then leaves the wire
//!   bytes contiguous, ready for one write.
//! * [`OpenBuffer`]: wire bytes are read contiguously; packets are opened
//!   in place, and their payloads are written out (vectored) from where
//!   they lie. An incomplete trailing packet is kept for the next read.
//!
//! Neither does I/O: the caller reads into the slices they hand out and
//! writes the slices they return.

use std::io::{IoSlice, IoSliceMut};

use crate::packet::{Decryptor, Encryptor, PacketError};
use crate::{MAX_PAYLOAD, PACKET_LEN};

/// Plaintext in, packets out.
pub struct SealBuffer {
    buf: Vec<u8>,
    packets: usize,
}

impl SealBuffer {
    /// Room for `packets` packets (so up to `packets * 1024` bytes of
    /// plaintext per read).
    pub fn new(packets: usize) -> Self {
        assert!(packets > 0);
        SealBuffer {
            buf: vec![0u8; packets * PACKET_LEN],
            packets,
        }
    }

    /// Packets this buffer holds.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Most plaintext bytes one read may bring.
    pub fn capacity(&self) -> usize {
        self.packets * MAX_PAYLOAD
    }

    /// The payload slots, in order, for a vectored read.
    pub fn read_slices(&mut self) -> Vec<IoSliceMut<'_>> {
        self.buf
            .chunks_exact_mut(PACKET_LEN)
            .map(|p| IoSliceMut::new(&mut p[..MAX_PAYLOAD]))
            .collect()
    }

    /// Seal the first `n` bytes read into the slots (1 <= n <= capacity)
    /// and return the wire bytes: full packets, then the remainder, as
    /// upstream cuts a read.
    pub fn seal(&mut self, n: usize, enc: &mut Encryptor) -> &[u8] {
        assert!(n > 0 && n <= self.capacity(), "bad read length {n}");
        let count = n.div_ceil(MAX_PAYLOAD);
        for (i, pkt) in self
            .buf
            .chunks_exact_mut(PACKET_LEN)
            .take(count)
            .enumerate()
        {
            let len = (n - i * MAX_PAYLOAD).min(MAX_PAYLOAD);
            let pkt: &mut [u8; PACKET_LEN] = pkt.try_into().expect("exact chunk");
            enc.seal_in_place(pkt, len);
        }
        &self.buf[..count * PACKET_LEN]
    }
}

/// Packets in, plaintext out.
pub struct OpenBuffer {
    buf: Vec<u8>,
    /// Bytes received and not yet consumed.
    filled: usize,
    /// Whole packets opened in the last [`OpenBuffer::open`].
    opened: Vec<(usize, usize)>,
}

impl OpenBuffer {
    /// Room for `packets` packets per read.
    pub fn new(packets: usize) -> Self {
        assert!(packets > 0);
        OpenBuffer {
            buf: vec![0u8; packets * PACKET_LEN],
            filled: 0,
            opened: Vec::with_capacity(packets),
        }
    }

    /// Packets this buffer holds.
    pub fn packets(&self) -> usize {
        self.buf.len() / PACKET_LEN
    }

    /// A buffer for `packets` packets holding this one's incomplete
    /// packet (call after [`OpenBuffer::consume`]).
    pub fn grown(mut self, packets: usize) -> OpenBuffer {
        let mut b = OpenBuffer::new(packets.max(1));
        b.restore_pending(&self.take_pending());
        b
    }

    /// Hand back the bytes of an incomplete packet (to keep while idle,
    /// without holding the whole buffer).
    pub fn take_pending(&mut self) -> Vec<u8> {
        let v = self.buf[..self.filled].to_vec();
        self.filled = 0;
        v
    }

    /// Put back bytes from [`OpenBuffer::take_pending`].
    pub fn restore_pending(&mut self, bytes: &[u8]) {
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.filled = bytes.len();
    }

    /// Where the next read goes. Never empty after [`OpenBuffer::consume`].
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Record that `n` bytes were read into [`OpenBuffer::spare`].
    pub fn advance(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// Bytes of an incomplete packet held (dropped at EOF, as upstream).
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// Check and decrypt every whole packet received. On error the
    /// connection must be dropped; nothing from this batch may be
    /// delivered.
    pub fn open(&mut self, dec: &mut Decryptor) -> Result<(), PacketError> {
        self.opened.clear();
        let whole = self.filled / PACKET_LEN;
        for i in 0..whole {
            let at = i * PACKET_LEN;
            let pkt: &mut [u8; PACKET_LEN] = (&mut self.buf[at..at + PACKET_LEN])
                .try_into()
                .expect("exact slice");
            let len = dec.open(pkt)?.len();
            self.opened.push((at, len));
        }
        Ok(())
    }

    /// Plaintext bytes from the last [`OpenBuffer::open`].
    pub fn plaintext_len(&self) -> usize {
        self.opened.iter().map(|&(_, l)| l).sum()
    }

    /// The payloads from the last [`OpenBuffer::open`], for a vectored
    /// write.
    pub fn write_slices(&self) -> Vec<IoSlice<'_>> {
        self.opened
            .iter()
            .map(|&(at, len)| IoSlice::new(&self.buf[at..at + len]))
            .collect()
    }

    /// Drop the opened packets, keeping an incomplete one at the front.
    pub fn consume(&mut self) {
        let used = self.opened.len() * PACKET_LEN;
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        self.opened.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn keys() -> (Encryptor, Decryptor) {
        (
            Encryptor::new(&[3; 32], &[4; 32]),
            Decryptor::new(&[3; 32], &[4; 32]),
        )
    }

    /// Read `data` through a SealBuffer in reads of the given sizes, then
    /// feed the wire bytes to an OpenBuffer in other sizes: the plaintext
    /// comes out whole, whatever the boundaries.
    fn through(data: &[u8], reads: &[usize], wire_reads: &[usize]) -> Vec<u8> {
        let (mut enc, mut dec) = keys();
        let mut seal = SealBuffer::new(4);
        let mut wire = Vec::new();
        let mut src = data;
        let mut r = reads.iter().cycle();
        while !src.is_empty() {
            let want = (*r.next().unwrap()).min(seal.capacity());
            let mut limited = &src[..want.min(src.len())];
            let n = limited.read_vectored(&mut seal.read_slices()).unwrap();
            src = &src[n..];
            wire.extend_from_slice(seal.seal(n, &mut enc));
        }
        let mut open = OpenBuffer::new(3);
        let mut out = Vec::new();
        let mut w = &wire[..];
        let mut wr = wire_reads.iter().cycle();
        while !w.is_empty() {
            let want = (*wr.next().unwrap()).min(open.spare().len());
            let n = (&w[..want.min(w.len())]).read(open.spare()).unwrap();
            w = &w[n..];
            open.advance(n);
            open.open(&mut dec).unwrap();
            let wrote = out.write_vectored(&open.write_slices()).unwrap();
            assert_eq!(wrote, open.plaintext_len());
            open.consume();
        }
        assert_eq!(open.pending(), 0);
        out
    }

    #[test]
    fn boundaries_never_matter() {
        let data: Vec<u8> = (0..6_000u32).map(|i| (i * 7 + i / 1024) as u8).collect();
        for reads in [
            &[1usize][..],
            &[1023],
            &[1024],
            &[1025],
            &[4096],
            &[3003, 17, 2048],
        ] {
            for wire in [
                &[1usize][..],
                &[1059],
                &[1060],
                &[1061],
                &[3180],
                &[7, 2000],
            ] {
                assert_eq!(through(&data, reads, wire), data, "{reads:?} {wire:?}");
            }
        }
    }

    #[test]
    fn a_read_is_cut_like_upstream() {
        let (mut enc, mut dec) = keys();
        let mut seal = SealBuffer::new(4);
        let n = (&[9u8; 3003][..])
            .read_vectored(&mut seal.read_slices())
            .unwrap();
        let wire = seal.seal(n, &mut enc).to_vec();
        assert_eq!(wire.len(), 3 * PACKET_LEN);
        let mut open = OpenBuffer::new(4);
        open.spare()[..wire.len()].copy_from_slice(&wire);
        open.advance(wire.len());
        open.open(&mut dec).unwrap();
        let lens: Vec<usize> = open.write_slices().iter().map(|s| s.len()).collect();
        assert_eq!(lens, vec![1024, 1024, 955]);
    }

    #[test]
    fn a_bad_packet_fails_the_batch() {
        let (mut enc, mut dec) = keys();
        let mut seal = SealBuffer::new(4);
        let n = (&[1u8; 4096][..])
            .read_vectored(&mut seal.read_slices())
            .unwrap();
        let mut wire = seal.seal(n, &mut enc).to_vec();
        wire[2 * PACKET_LEN + 5] ^= 1;
        let mut open = OpenBuffer::new(4);
        open.spare()[..wire.len()].copy_from_slice(&wire);
        open.advance(wire.len());
        assert_eq!(open.open(&mut dec), Err(PacketError::BadTag));
    }
}
