//! A real HTTPS server (`openssl s_server -www`) whose self-signed
//! certificate expires in a chosen number of days.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{TempDir, free_port, wait_listening};

pub struct HttpsServer {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    /// The certificate (PEM), to trust it as a CA.
    pub cert: PathBuf,
    _dir: TempDir,
}

impl HttpsServer {
    pub async fn start(days: u32) -> anyhow::Result<HttpsServer> {
        let dir = TempDir::new("https")?;
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let st = tokio::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
            .args(["-days", &days.to_string(), "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .context("running openssl req")?;
        if !st.success() {
            bail!("openssl req failed: {st}");
        }
        for _ in 0..5 {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut child = tokio::process::Command::new("openssl")
                .args([
                    "s_server",
                    "-quiet",
                    "-www",
                    "-accept",
                    &port.to_string(),
                    "-cert",
                ])
                .arg(&cert)
                .arg("-key")
                .arg(&key)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting openssl s_server")?;
            if wait_listening(addr, Duration::from_secs(5)).await.is_ok() {
                return Ok(HttpsServer {
                    child,
                    addr,
                    cert,
                    _dir: dir,
                });
            }
            let _ = child.kill().await;
        }
        bail!("openssl s_server did not start")
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
