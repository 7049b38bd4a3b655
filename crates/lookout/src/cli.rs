//! The terminal commands that talk to a running daemon over its HTTP
//! endpoint: `lookout status` and `lookout ack`.

use std::fmt::Write;

use anyhow::{Context, bail};
use lookout_core::config::Config;
use serde_json::Value;

use crate::secrets::Secrets;

fn base(cfg: &Config) -> anyhow::Result<String> {
    let addr = crate::app::listen_addr(cfg)?
        .context("monitor.listen is not set: the daemon serves no HTTP")?;
    let ip = if addr.ip().is_unspecified() {
        if addr.is_ipv6() {
            "[::1]".to_string()
        } else {
            "127.0.0.1".to_string()
        }
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    Ok(format!("http://{ip}:{}", addr.port()))
}

fn pct(v: &Value) -> String {
    match v.as_f64() {
        Some(p) if p >= 99.995 => "100%".into(),
        Some(p) => format!("{p:.2}%"),
        None => "-".into(),
    }
}

/// Render `/api/status` for a terminal.
pub fn render_status(v: &Value) -> String {
    let mut o = String::new();
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    let failing: Vec<&str> = checks
        .iter()
        .filter(|c| c["failing"].as_bool() == Some(true))
        .filter_map(|c| c["name"].as_str())
        .collect();
    let name = v["monitor"].as_str().unwrap_or("lookout");
    if failing.is_empty() {
        let _ = writeln!(o, "{name}: all {} checks GOOD", checks.len());
    } else {
        let _ = writeln!(
            o,
            "{name}: {} of {} checks failing: {}",
            failing.len(),
            checks.len(),
            failing.join(", ")
        );
    }
    if v["connectivity_lost_since"].is_u64() {
        let _ = writeln!(o, "MONITOR LOST CONNECTIVITY: alerts are held");
    }
    let w = checks
        .iter()
        .filter_map(|c| c["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        o,
        "{:w$}  {:9}  {:9}  {:>7}  {:>7}  {:>7}  RESULT",
        "CHECK", "TYPE", "STATE", "7D", "30D", "90D"
    );
    for c in &checks {
        let _ = writeln!(
            o,
            "{:w$}  {:9}  {:9}  {:>7}  {:>7}  {:>7}  {}",
            c["name"].as_str().unwrap_or(""),
            c["type"].as_str().unwrap_or(""),
            c["state"].as_str().unwrap_or(""),
            pct(&c["uptime"]["d7"]),
            pct(&c["uptime"]["d30"]),
            pct(&c["uptime"]["d90"]),
            c["message"].as_str().unwrap_or("")
        );
    }
    let open = v["open_incidents"].as_array().cloned().unwrap_or_default();
    if !open.is_empty() {
        let _ = writeln!(o, "\nOpen incidents:");
        for i in &open {
            let checks: Vec<&str> = i["checks"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let opened = i["opened_at"]
                .as_u64()
                .map(lookout_core::civil::format_utc)
                .unwrap_or_default();
            let acked = match i["acked_by"].as_str() {
                Some(by) => format!(", acknowledged by {by}"),
                None => format!("; ack with: lookout ack {}", i["id"]),
            };
            let _ = writeln!(
                o,
                "  #{} {} since {opened}{acked}",
                i["id"],
                checks.join(", ")
            );
        }
    }
    o
}

pub async fn status(cfg: &Config, json: bool) -> anyhow::Result<String> {
    let url = format!("{}/api/status", base(cfg)?);
    let resp = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach the daemon at {url}"))?;
    if !resp.status().is_success() {
        bail!("{url}: HTTP {}", resp.status());
    }
    let v: Value = resp.json().await.context("reading the status")?;
    Ok(if json {
        format!("{v:#}\n")
    } else {
        render_status(&v)
    })
}

pub async fn ack(cfg: &Config, incident: u64) -> anyhow::Result<String> {
    let url = format!("{}/ack/{incident}", base(cfg)?);
    let user = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let mut req = reqwest::Client::new()
        .post(&url)
        .header("x-lookout-by", format!("{user} (cli)"));
    if let Some(r) = &cfg.monitor.ack_token {
        let secrets = Secrets::resolve(cfg)?;
        let tok = secrets.get(r).context("ack_token")?;
        req = req.bearer_auth(tok.expose());
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach the daemon at {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{}", text.trim());
    }
    Ok(text)
}
