//! The data phase of a connection: two independent one-way flows.
//!
//! Upstream moves at most 4 KiB per system call and waits for each write to
//! finish before it reads again. Here each read takes whatever the kernel
//! has, up to [`BATCH_PACKETS`] packets' worth, and the whole batch goes
//! out in one write: ~16x fewer system calls per byte. Nothing is held
//! back waiting for more data, so interactive traffic is not delayed.
//!
//! Buffers exist only while a flow is moving data: when a read would block
//! they are released, so an idle connection costs a few hundred bytes, not
//! two 64 KiB buffers per direction.
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

use spiped_proto::{Decryptor, Encryptor, MAX_PAYLOAD, PACKET_LEN, PacketError};

use crate::net::Stream;

/// Packets per read and write.
pub const BATCH_PACKETS: usize = 62;

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
    let cap = BATCH_PACKETS * MAX_PAYLOAD;
    loop {
        src.readable().await?;
        let mut input: Vec<u8> = Vec::with_capacity(cap);
        let mut output: Vec<u8> = Vec::with_capacity(BATCH_PACKETS * PACKET_LEN);
        loop {
            input.clear();
            match src.try_read_buf(&mut input) {
                Ok(0) => {
                    dst.shutdown_write()?;
                    return Ok(());
                }
                Ok(_) => {
                    output.clear();
                    enc.seal_all(&input, &mut output);
                    dst.write_all(&output).await?;
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
    let cap = BATCH_PACKETS * PACKET_LEN;
    // Bytes of an incomplete packet carried over between reads.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        src.readable().await?;
        let mut input: Vec<u8> = Vec::with_capacity(cap);
        input.extend_from_slice(&std::mem::take(&mut partial));
        let mut output: Vec<u8> = Vec::with_capacity(BATCH_PACKETS * MAX_PAYLOAD);
        loop {
            match src.try_read_buf(&mut input) {
                Ok(0) => {
                    // A partial packet at EOF is dropped: clean EOF.
                    dst.shutdown_write()?;
                    return Ok(());
                }
                Ok(_) => {
                    output.clear();
                    let whole = input.len() / PACKET_LEN * PACKET_LEN;
                    for pkt in input[..whole].chunks_exact_mut(PACKET_LEN) {
                        let pkt: &mut [u8; PACKET_LEN] = pkt.try_into().expect("exact chunk");
                        output.extend_from_slice(dec.open(pkt)?);
                    }
                    input.drain(..whole);
                    if !output.is_empty() {
                        dst.write_all(&output).await?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    partial = input;
                    partial.shrink_to_fit();
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
