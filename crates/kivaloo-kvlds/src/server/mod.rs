//! The kvlds daemon's async shell: moves bytes between the sockets and
//! [`Core`], which holds all the logic. One client connection at a time
//! (others wait in the listen backlog, as upstream), one lbs connection
//! for the life of the process.

pub mod core;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use daemon::log::warn;
use kivaloo_client::net::{AnyListener, AnyStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::mpsc;

pub use self::core::{Core, Options};

/// Answers written but not yet taken by a slow client before kvlds stops
/// reading its requests.
const MAX_UNSENT: usize = 16 << 20;

/// A task that writes buffers to a socket in order; dropping the sender
/// closes the socket once everything queued is written.
struct Writer {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    unsent: Arc<AtomicUsize>,
}

impl Writer {
    fn spawn<W: AsyncWrite + Unpin + Send + 'static>(mut w: W) -> Writer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let unsent = Arc::new(AtomicUsize::new(0));
        let u = unsent.clone();
        tokio::spawn(async move {
            while let Some(buf) = rx.recv().await {
                let n = buf.len();
                if w.write_all(&buf).await.is_err() {
                    break;
                }
                u.fetch_sub(n, Ordering::Relaxed);
            }
            let _ = w.shutdown().await;
        });
        Writer { tx, unsent }
    }

    fn send(&self, buf: &mut Vec<u8>) -> bool {
        if buf.is_empty() {
            return true;
        }
        let out = std::mem::replace(buf, Vec::with_capacity(64 << 10));
        self.unsent.fetch_add(out.len(), Ordering::Relaxed);
        self.tx.send(out).is_ok()
    }

    fn backlogged(&self) -> bool {
        self.unsent.load(Ordering::Relaxed) > MAX_UNSENT
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    r: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Serve clients until the lbs connection fails (an error) or, with
/// `once`, until the first client has gone and its writes are durable.
pub async fn run(
    mut core: Core,
    lbs: AnyStream,
    listener: AnyListener,
    once: bool,
) -> anyhow::Result<()> {
    let (mut lbs_r, lbs_w) = tokio::io::split(lbs);
    let lbs_tx = Writer::spawn(lbs_w);
    let mut lbuf = vec![0u8; 1 << 20];
    let mut cbuf = vec![0u8; 256 << 10];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let client = loop {
            if !lbs_tx.send(&mut core.lbs_out) {
                bail!("lbs connection lost");
            }
            tokio::select! {
                c = listener.accept() => match c {
                    Ok(c) => break c,
                    Err(e) => warn(&format!("accept: {e}")),
                },
                n = lbs_r.read(&mut lbuf) => lbs_input(&mut core, n, &lbuf)?,
                _ = tick.tick() => core.tick(Instant::now()),
            }
        };
        core.new_client();
        let (cr, cw) = tokio::io::split(client);
        let mut cr: Option<ReadHalf<AnyStream>> = Some(cr);
        let mut cw = Some(Writer::spawn(cw));
        loop {
            if let Some(w) = &cw
                && !w.send(&mut core.client_out)
            {
                cr = None;
                cw = None;
                core.client_gone();
            }
            if !lbs_tx.send(&mut core.lbs_out) {
                bail!("lbs connection lost");
            }
            if cr.is_none() {
                cw = None;
                if core.idle() {
                    break;
                }
            }
            let readable = cr.is_some()
                && core.wants_client_input()
                && !cw.as_ref().is_some_and(Writer::backlogged);
            let deadline = core.deadline().map(tokio::time::Instant::from_std);
            tokio::select! {
                n = read_some(&mut cr, &mut cbuf), if readable => match n {
                    Ok(0) | Err(_) => {
                        cr = None;
                        core.client_gone();
                    }
                    Ok(n) => {
                        if let Err(e) = core.client_bytes(&cbuf[..n]) {
                            warn(&format!("dropping client connection: {e}"));
                            // Answers already made still go out, then close.
                            if let Some(w) = &cw {
                                w.send(&mut core.client_out);
                            }
                            cr = None;
                            core.client_gone();
                        }
                    }
                },
                n = lbs_r.read(&mut lbuf) => lbs_input(&mut core, n, &lbuf)?,
                _ = tick.tick() => core.tick(Instant::now()),
                _ = sleep_until(deadline), if deadline.is_some() => core.maybe_start_batch(Instant::now()),
            }
        }
        if once {
            return Ok(());
        }
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    if let Some(t) = t {
        tokio::time::sleep_until(t).await;
    }
}

fn lbs_input(core: &mut Core, n: std::io::Result<usize>, buf: &[u8]) -> anyhow::Result<()> {
    match n.context("reading from lbs")? {
        0 => bail!("lbs closed the connection"),
        n => core.lbs_bytes(&buf[..n]).map_err(Into::into),
    }
}
