//! Real peers for lookout's tests, all on loopback and on ephemeral ports:
//!
//! * [`twilio::TwilioStandIn`]: an HTTP server speaking Twilio's REST
//!   contract (Basic auth, form fields, 201 resources, error bodies such as
//!   21211 and 20429) that records what it received;
//! * [`smtp::SmtpServer`]: Python's aiosmtpd, a real SMTP server, writing
//!   what it receives to a Maildir;
//! * [`https::HttpsServer`]: `openssl s_server` with a certificate of a chosen
//!   lifetime, for the certificate-expiry condition;
//! * [`target::HttpTarget`]: a plain HTTP server to check and to receive webhooks;
//! * [`chromium::dump_dom`]: Debian's Chromium, headless, returning the DOM
//!   of a page after its scripts ran.
//!
//! A missing peer is an error, never a skip: CI installs them all
//! (`scripts/deps/lookout.sh`).

pub mod chromium;
pub mod https;
pub mod smtp;
pub mod target;
pub mod twilio;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> anyhow::Result<TempDir> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        let p =
            std::env::temp_dir().join(format!("lookout-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port that was free a moment ago, for servers that cannot
/// be told to bind port 0 and report it.
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Wait until something accepts connections on `addr`.
pub async fn wait_listening(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > end {
            anyhow::bail!("nothing listening on {addr} after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `f` until it returns Some, or fail after `within`.
pub async fn eventually<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
