//! A real HTTPS server (`openssl s_server -www`) whose self-signed
//! certificate expires in a chosen number of days.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{TempDir, free_port, wait_listening};

pub struct HttpsServer {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub cert: PathBuf,
    _dir: TempDir,
}

impl HttpsServer {
    pub async fn start(days: u32) -> anyhow::Result<HttpsServer> {
        let dir = TempDir::new("https")?;
        // A CA (trusted by the test through `ca_file`) and a leaf for
        // localhost that expires in `days`: verifiers refuse a CA
        // certificate used as the server's own.
        let p = |n: &str| dir.path().join(n);
        let (ca, ca_key, key, csr, cert, ext) = (
            p("ca.pem"),
            p("ca.key"),
            p("key.pem"),
            p("leaf.csr"),
            p("cert.pem"),
            p("leaf.ext"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )?;
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let days = days.to_string();
        let path = |p: &Path| p.display().to_string();
        openssl(
            &format!(
                "req -x509 {ec} -days 3650 -keyout {} -out {}",
                path(&ca_key),
                path(&ca)
            ),
            "/CN=lookout test CA",
        )
        .await?;
        openssl(
            &format!("req {ec} -keyout {} -out {}", path(&key), path(&csr)),
            "/CN=localhost",
        )
        .await?;
        openssl(
            &format!(
                "x509 -req -days {days} -in {} -CA {} -CAkey {} -CAcreateserial -extfile {} -out {}",
                path(&csr),
                path(&ca),
                path(&ca_key),
                path(&ext),
                path(&cert)
            ),
            "",
        )
        .await?;
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
                    cert: ca,
                    _dir: dir,
                });
            }
            let _ = child.kill().await;
        }
        bail!("openssl s_server did not start")
    }
}

/// Run openssl with space-separated `args` (our temp paths have no
/// spaces) and, when given, a `-subj`.
async fn openssl(args: &str, subject: &str) -> anyhow::Result<()> {
    let mut cmd = tokio::process::Command::new("openssl");
    cmd.args(args.split(' '));
    if !subject.is_empty() {
        cmd.args(["-subj", subject]);
    }
    let st = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .context("running openssl (scripts/deps/lookout.sh installs it)")?;
    if !st.success() {
        bail!("openssl {args} failed: {st}");
    }
    Ok(())
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
