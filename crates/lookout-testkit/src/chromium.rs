//! Debian's Chromium, headless, as a real browser for the status page.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::TempDir;

/// Load `url` and return the DOM after scripts ran (`--dump-dom`).
pub async fn dump_dom(url: &str) -> anyhow::Result<String> {
    let profile = TempDir::new("chromium")?;
    let child = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting chromium (scripts/deps/lookout.sh installs it)")?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .context("chromium took over 60 s")??;
    if !out.status.success() {
        bail!(
            "chromium failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
