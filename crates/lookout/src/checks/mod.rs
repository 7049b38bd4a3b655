//! Running one check: the I/O behind each check type. Each run ends in
//! exactly one result, and no run outlives its timeout.

pub mod exec;
pub mod http;
pub mod ping;
pub mod tcp;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use lookout_core::config::{CheckCfg, CheckKind, Config};
use lookout_core::model::{CheckResult, Millis, Outcome};

/// Everything a check run needs that is built once per config: HTTP
/// clients (one shared, one per custom CA) and compiled regexes.
pub struct Checker {
    http: reqwest::Client,
    http_ca: HashMap<String, reqwest::Client>,
    regexes: HashMap<String, regex::Regex>,
    scrub_env: Vec<String>,
}

impl Checker {
    pub fn new(cfg: &Config) -> anyhow::Result<Checker> {
        let mut http_ca = HashMap::new();
        let mut regexes = HashMap::new();
        for c in &cfg.checks {
            if let CheckKind::Http {
                ca_file,
                body_regex,
                ..
            } = &c.kind
            {
                if let Some(f) = ca_file
                    && !http_ca.contains_key(f)
                {
                    let pem = std::fs::read(f)
                        .with_context(|| format!("check `{}`: reading ca_file {f}", c.name))?;
                    http_ca.insert(
                        f.clone(),
                        http::client(Some(&pem))
                            .with_context(|| format!("check `{}`: ca_file {f}", c.name))?,
                    );
                }
                if let Some(r) = body_regex {
                    regexes.insert(r.clone(), regex::Regex::new(r)?);
                }
            }
        }
        Ok(Checker {
            http: http::client(None)?,
            http_ca,
            regexes,
            scrub_env: crate::secrets::env_names(cfg),
        })
    }

    /// Run `check` once; `now` is the monitor's time (certificate expiry
    /// is measured against it).
    pub async fn run(&self, check: &CheckCfg, now: Millis) -> CheckResult {
        let timeout = Duration::from_millis(check.timeout);
        match &check.kind {
            CheckKind::Ping { host } => ping::run(host, timeout).await,
            CheckKind::Tcp { address } => tcp::run(address, timeout).await,
            CheckKind::Http {
                url,
                expect_status,
                body_contains,
                body_regex,
                max_latency,
                cert_min_days,
                ca_file,
            } => {
                let client = ca_file
                    .as_ref()
                    .and_then(|f| self.http_ca.get(f))
                    .unwrap_or(&self.http);
                let spec = http::HttpSpec {
                    url,
                    expect_status,
                    body_contains: body_contains.as_deref(),
                    body_regex: body_regex.as_ref().and_then(|r| self.regexes.get(r)),
                    max_latency: *max_latency,
                    cert_min_days: *cert_min_days,
                    timeout,
                };
                http::run(client, &spec, now).await
            }
            CheckKind::Exec {
                command,
                max_output,
                accept_warning,
            } => {
                exec::run(&exec::ExecSpec {
                    command,
                    timeout,
                    max_output: *max_output,
                    accept_warning: *accept_warning,
                    scrub_env: &self.scrub_env,
                })
                .await
            }
            CheckKind::Heartbeat { .. } => {
                CheckResult::new(Outcome::Failed, 0, "heartbeats are not run")
            }
        }
    }
}
