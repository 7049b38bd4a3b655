//! aiosmtpd (PyPI) on loopback, delivering into a Maildir we can read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::{TempDir, free_port, wait_listening};

pub struct SmtpServer {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

impl SmtpServer {
    pub async fn start() -> anyhow::Result<SmtpServer> {
        let dir = TempDir::new("smtp")?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut child = tokio::process::Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(dir.path().join("Maildir"))
                .kill_on_drop(true)
                .spawn()
                .context("starting python3 -m aiosmtpd (scripts/deps/lookout.sh installs it)")?;
            match wait_listening(addr, Duration::from_secs(10)).await {
                Ok(()) => return Ok(SmtpServer { child, addr, dir }),
                Err(e) => {
                    let _ = child.kill().await;
                    last = Some(e);
                }
            }
        }
        Err(last.expect("tried").context("aiosmtpd did not start"))
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let newdir: PathBuf = self.dir.path().join("Maildir").join("new");
        if let Ok(rd) = std::fs::read_dir(newdir) {
            let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                if let Ok(s) = std::fs::read_to_string(p) {
                    out.push(s);
                }
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
