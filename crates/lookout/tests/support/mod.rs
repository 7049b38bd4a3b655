//! A lookout daemon in-process, on a manual clock, with its HTTP server on
//! an ephemeral loopback port.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use lookout::app::{self, Running};
use lookout::clock::{Clock, ManualClock, SystemClock};
use lookout::engine::Loaded;
use lookout_core::config;

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "e2e-token-51c9";
pub const TOKEN_ENV: &str = "LOOKOUT_E2E_TOKEN";

pub struct Daemon {
    pub clock: Arc<ManualClock>,
    pub running: Running,
    pub base: String,
}

pub fn real_now() -> u64 {
    SystemClock.now()
}

impl Daemon {
    pub async fn start(cfg: &str, at: u64) -> Daemon {
        // SAFETY: all tests set the same value.
        unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
        let cfg = config::parse(cfg).unwrap_or_else(|e| panic!("{e}"));
        let loaded = Loaded::new(cfg).unwrap();
        let clock = Arc::new(ManualClock::new(at));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let running = app::start(loaded, clock.clone(), Some(listener), 7)
            .await
            .unwrap();
        let base = format!("http://{}", running.addr.unwrap());
        let d = Daemon {
            clock,
            running,
            base,
        };
        d.settle().await;
        d
    }

    /// Wait until no check is running and no delivery is in flight.
    pub async fn settle(&self) {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.running.engine.snapshot().await.expect("engine alive");
            if s.checks.iter().all(|c| !c.running) && s.deliveries_in_flight == 0 {
                return;
            }
            assert!(std::time::Instant::now() < end, "engine did not settle");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Let `total` ms of monitor time pass in steps of `step`.
    pub async fn advance(&self, total: u64, step: u64) {
        let mut left = total;
        while left > 0 {
            let s = step.min(left);
            self.clock.advance(s);
            left -= s;
            self.settle().await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, String) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/api/status").await;
        assert_eq!(code, 200);
        serde_json::from_str(&body).unwrap()
    }
}

pub fn state_dir() -> lookout_testkit::TempDir {
    lookout_testkit::TempDir::new("state").unwrap()
}

/// `[monitor]`, `[twilio]`, `[smtp]` and the usual channels and policy.
pub fn base_config(state: &std::path::Path, twilio: &str, smtp: &str) -> String {
    format!(
        r#"
[monitor]
name = "eu-1"
state_dir = "{state}"
jitter = "0"
group_wait = "30s"
fail_after = 2
recover_after = 2

[twilio]
account_sid = "{SID}"
auth_token = {{ env = "{TOKEN_ENV}" }}
from = "+15005550006"
api_base = "{twilio}"

[smtp]
server = "{smtp}"
from = "lookout@monitor.test"
tls = "none"

[channel.sms-ops]
type = "sms"
to = "+15558675310"
fallback = "mail-ops"

[channel.call-ops]
type = "call"
to = "+15558675310"

[channel.mail-ops]
type = "email"
to = "ops@example.com"

[policy.default]
steps = [
  {{ after = "0s", notify = ["sms-ops", "mail-ops"] }},
  {{ after = "10m", notify = ["call-ops"] }},
]
repeat = "30m"
"#,
        state = state.display()
    )
}
