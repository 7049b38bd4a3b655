//! One relayed connection, from accept to close.
//!
//! Order of events, as upstream:
//! * `-d`: on accept, connect to the target *and* run the handshake at the
//!   same time; both must succeed. (So the target sees a TCP connection for
//!   every incoming one, even one that never proves the key.)
//! * `-e`: connect to the target first; the handshake starts once the
//!   connect completes.
//! * Two timers of `-o` each: one for the connect (from accept), one for the
//!   handshake (from its start).
//! * Nothing is read from the plaintext side until the handshake is done.
//!
//! Any failure drops the connection: both sockets are closed (RST if unread
//! data is pending), nothing is sent to explain it.

use std::sync::Arc;
use std::time::Duration;

use daemon::addr::ResolvedAddr;
use tokio::sync::oneshot;

use spiped_proto::{Handshake, HandshakeConfig, HandshakeError, Key, Role, SessionKeys, YH_LEN};

use crate::cli::Mode;
use crate::dhpool::{DhPool, random_bytes};
use crate::net::{Stream, connect_any, with_timeout};
use crate::relay::{FlowError, decrypt_flow, encrypt_flow};

/// What every connection of one daemon shares.
pub struct ConnParams {
    pub mode: Mode,
    pub key: Key,
    pub pfs: HandshakeConfig,
    pub timeout: Duration,
    pub keepalive: bool,
    pub bind: Option<ResolvedAddr>,
    /// Present unless `-f`.
    pub pool: Option<DhPool>,
}

/// Why a connection ended early. Upstream logs none of these; we keep
/// them typed so they can be counted and logged on request.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("connect to target failed: {0}")]
    Connect(std::io::Error),
    #[error("connect to target timed out")]
    ConnectTimeout,
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error("handshake timed out")]
    HandshakeTimeout,
    #[error("peer closed the connection during the handshake")]
    HandshakeEof,
    #[error("I/O error during the handshake: {0}")]
    HandshakeIo(std::io::Error),
    #[error("connection error: {0}")]
    Flow(#[from] FlowError),
}

/// Run the handshake on `s`, the protocol socket. With `reply_gate`, the
/// server holds its reply until the gate opens (the target is connected).
pub async fn handshake(
    s: &Stream,
    role: Role,
    p: &ConnParams,
    mut reply_gate: Option<oneshot::Receiver<()>>,
) -> Result<SessionKeys, ConnError> {
    let nonce = random_bytes::<32>().map_err(ConnError::HandshakeIo)?;
    let mut hs = Handshake::new(role, p.pfs, &p.key, nonce, None);
    let mut buf = [0u8; YH_LEN];
    loop {
        if !hs.pending_output().is_empty() {
            let out = hs.pending_output().to_vec();
            s.write_all(&out).await.map_err(ConnError::HandshakeIo)?;
            hs.consume_output(out.len());
            continue;
        }
        if hs.needs_compute() {
            if hs.about_to_reply()
                && let Some(gate) = reply_gate.take()
            {
                gate.await.map_err(|_| ConnError::ConnectTimeout)?;
            }
            // Only now, once the peer has proved the key (server) or we
            // are about to send (client), spend a DH value.
            if hs.needs_keypair()
                && let Some(pool) = &p.pool
            {
                hs.set_keypair(pool.take().map_err(ConnError::HandshakeIo)?);
            }
            hs.compute()?;
            continue;
        }
        if hs.is_done() {
            return hs
                .into_keys()
                .ok_or(ConnError::Handshake(HandshakeError::OutOfOrder));
        }
        let want = hs.wanted();
        if want == 0 {
            return Err(HandshakeError::OutOfOrder.into());
        }
        // Exactly what the handshake needs: data packets that follow stay
        // in the socket for the relay.
        let n = s
            .read(&mut buf[..want])
            .await
            .map_err(ConnError::HandshakeIo)?;
        if n == 0 {
            return Err(ConnError::HandshakeEof);
        }
        hs.feed(&buf[..n])?;
    }
}

async fn connect_target(targets: &[ResolvedAddr], p: &ConnParams) -> Result<Stream, ConnError> {
    match with_timeout(p.timeout, connect_any(targets, p.bind.as_ref())).await {
        None => Err(ConnError::ConnectTimeout),
        Some(r) => r.map_err(ConnError::Connect),
    }
}

async fn timed_handshake(
    s: &Stream,
    role: Role,
    p: &ConnParams,
    reply_gate: Option<oneshot::Receiver<()>>,
) -> Result<SessionKeys, ConnError> {
    with_timeout(p.timeout, handshake(s, role, p, reply_gate))
        .await
        .unwrap_or(Err(ConnError::HandshakeTimeout))
}

/// Serve one accepted connection to its end.
pub async fn serve(
    accepted: Stream,
    targets: Arc<Vec<ResolvedAddr>>,
    p: Arc<ConnParams>,
) -> Result<(), ConnError> {
    match p.mode {
        Mode::Decrypt => {
            // Connect and handshake at once, as upstream; but the reply
            // that completes the handshake waits for the target, so a
            // client whose target is down sees the handshake fail rather
            // than a session that closes at once.
            let (up, gate) = oneshot::channel();
            let connect = async {
                let t = connect_target(&targets, &p).await?;
                let _ = up.send(());
                Ok::<_, ConnError>(t)
            };
            let (target, mut keys) = tokio::try_join!(
                connect,
                timed_handshake(&accepted, Role::Server, &p, Some(gate))
            )?;
            accepted.set_relay_options(p.keepalive);
            target.set_relay_options(p.keepalive);
            tokio::try_join!(
                decrypt_flow(&accepted, &target, &mut keys.recv),
                encrypt_flow(&target, &accepted, &mut keys.send)
            )?;
        }
        Mode::Encrypt => {
            let target = connect_target(&targets, &p).await?;
            let mut keys = timed_handshake(&target, Role::Client, &p, None).await?;
            accepted.set_relay_options(p.keepalive);
            target.set_relay_options(p.keepalive);
            tokio::try_join!(
                encrypt_flow(&accepted, &target, &mut keys.send),
                decrypt_flow(&target, &accepted, &mut keys.recv)
            )?;
        }
    }
    Ok(())
}
