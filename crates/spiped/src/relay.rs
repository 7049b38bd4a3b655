//! The data phase of a connection: two independent one-way flows.
//!
//! Upstream moves at most 4 KiB per system call and waits for each write to
//! finish before it reads again. Here each read takes whatever the kernel
//! has, up to [`BATCH_PACKETS`] packets' worth, and the whole batch goes
//! out in one write: ~16x fewer system calls per byte. Plaintext is read
//! straight into the packets' payload slots and written out from them
//! (vectored I/O), so no payload is copied in user space. Nothing is held
//! back waiting for more data, so interactive traffic is not delayed.
//!
//! Buffers exist only while a flow is moving data: when a read would block
//! they are released, so an idle connection costs a few hundred bytes, not
//! two 64 KiB buffers per direction. Each burst starts with a small buffer
//! ([`FIRST_BATCH`] packets) and grows only when reads fill it, so short
//! exchanges (a handshake-sized request, an interactive keystroke) do not
//! pay for clearing 64 KiB.
//!
//! Semantics are upstream's:
//! * EOF on a flow's input sends FIN on its output (half-close passes
//!   through, each direction on its own);
//! * a trailing partial packet before EOF is dropped and counts as a clean
//!   EOF (the protocol has no authenticated close);
//! * any error (I/O, bad tag, bad length) fails the flow, and the caller
//!   drops the whole connection; packets opened earlier in the same batch
//!   are not delivered.

use std::io;

use spiped_proto::{Decryptor, Encryptor, OpenBuffer, PacketError, SealBuffer};

use crate::net::Stream;

/// Most packets per read and write.
pub const BATCH_PACKETS: usize = 62;

/// Packets per read at the start of a burst.
pub const FIRST_BATCH: usize = 4;

/// The next batch size after a read that filled a batch of `n`.
fn grow(n: usize) -> usize {
    (n * 4).min(BATCH_PACKETS)
}

/// Why a flow stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Packet(#[from] PacketError),
}

/// Plaintext from `src`, packets to `dst`, until EOF on `src`.
pub async fn encrypt_flow(
    src: &Stream,
    dst: &Stream,
    enc: &mut Encryptor,
) -> Result<(), FlowError> {
    loop {
        src.readable().await?;
        let mut batch = SealBuffer::new(FIRST_BATCH);
        loop {
            match src.try_read_vectored(&mut batch.read_slices()) {
                Ok(0) => {
                    dst.shutdown_write()?;
                    return Ok(());
                }
                Ok(n) => {
                    let full = n == batch.capacity();
                    dst.write_all(batch.seal(n, enc)).await?;
                    if full && batch.packets() < BATCH_PACKETS {
                        batch = SealBuffer::new(grow(batch.packets()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Packets from `src`, plaintext to `dst`, until EOF on `src`.
pub async fn decrypt_flow(
    src: &Stream,
    dst: &Stream,
    dec: &mut Decryptor,
) -> Result<(), FlowError> {
    // Bytes of an incomplete packet kept while the flow is idle.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        src.readable().await?;
        let mut batch = OpenBuffer::new(FIRST_BATCH);
        batch.restore_pending(&partial);
        loop {
            match src.try_read(batch.spare()) {
                Ok(0) => {
                    // A partial packet at EOF is dropped: clean EOF.
                    dst.shutdown_write()?;
                    return Ok(());
                }
                Ok(n) => {
                    let full = batch.spare().len() == n;
                    batch.advance(n);
                    batch.open(dec)?;
                    if batch.plaintext_len() > 0 {
                        dst.write_all_vectored(&mut batch.write_slices()).await?;
                    }
                    batch.consume();
                    if full && batch.packets() < BATCH_PACKETS {
                        let next = grow(batch.packets());
                        batch = batch.grown(next);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    partial = batch.take_pending();
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
