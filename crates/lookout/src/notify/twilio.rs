//! Twilio's REST API (2010-04-01): SMS through `Messages.json`, voice calls
//! with inline TwiML through `Calls.json`, HTTP Basic auth with the account
//! SID and auth token. The answer is sorted into accepted / transient /
//! permanent, the only distinction the delivery logic needs.

use std::time::Duration;

use lookout_core::monitor::DeliveryOutcome;
use serde::Deserialize;

use crate::secrets::Secret;

pub struct Twilio {
    pub http: reqwest::Client,
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: String,
}

/// Error codes that are worth retrying: rate limiting and a full queue.
const TRANSIENT_CODES: [u64; 2] = [20429, 21611];

#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    status: Option<serde_json::Value>,
    code: Option<u64>,
    message: Option<String>,
}

impl Twilio {
    pub async fn sms(&self, to: &str, body: &str) -> DeliveryOutcome {
        self.post(
            "Messages.json",
            &[("To", to), ("From", &self.from), ("Body", body)],
        )
        .await
    }

    pub async fn call(&self, to: &str, twiml: &str) -> DeliveryOutcome {
        // Ring for 25 s: long enough to wake someone, short of most voicemail.
        self.post(
            "Calls.json",
            &[
                ("To", to),
                ("From", &self.from),
                ("Twiml", twiml),
                ("Timeout", "25"),
            ],
        )
        .await
    }

    async fn post(&self, resource: &str, form: &[(&str, &str)]) -> DeliveryOutcome {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            self.api_base, self.account_sid
        );
        let resp = self
            .http
            .post(&url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(form)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                // Never the URL's credentials (there are none in it) nor the token.
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                return DeliveryOutcome::Transient {
                    detail: format!("Twilio {kind}"),
                    retry_after: None,
                };
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)).as_millis() as u64);
        let body: Option<Answer> = resp.json().await.ok();
        classify(status, body, retry_after)
    }
}

fn classify(status: u16, body: Option<Answer>, retry_after: Option<u64>) -> DeliveryOutcome {
    let (code, message) = body
        .as_ref()
        .map(|b| (b.code, b.message.clone().unwrap_or_default()))
        .unwrap_or((None, String::new()));
    if (200..300).contains(&status) {
        let sid = body.as_ref().and_then(|b| b.sid.clone());
        let st = body
            .as_ref()
            .and_then(|b| b.status.as_ref())
            .and_then(|s| s.as_str().map(str::to_string))
            .unwrap_or_default();
        return DeliveryOutcome::Accepted {
            provider_id: sid,
            detail: format!("HTTP {status} {st}").trim().to_string(),
        };
    }
    let detail = match code {
        Some(c) => format!("HTTP {status}, Twilio error {c}: {message}"),
        None => format!("HTTP {status}"),
    };
    if status == 429 || status >= 500 || code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) {
        DeliveryOutcome::Transient {
            detail,
            retry_after,
        }
    } else {
        DeliveryOutcome::Permanent { detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ans(code: u64) -> Option<Answer> {
        Some(Answer {
            sid: None,
            status: None,
            code: Some(code),
            message: Some("m".into()),
        })
    }

    #[test]
    fn classification() {
        assert!(matches!(
            classify(400, ans(21211), None),
            DeliveryOutcome::Permanent { .. }
        ));
        assert!(matches!(
            classify(401, ans(20003), None),
            DeliveryOutcome::Permanent { .. }
        ));
        assert_eq!(
            classify(429, ans(20429), Some(2000)),
            DeliveryOutcome::Transient {
                detail: "HTTP 429, Twilio error 20429: m".into(),
                retry_after: Some(2000)
            }
        );
        assert!(matches!(
            classify(400, ans(21611), None),
            DeliveryOutcome::Transient { .. }
        ));
        assert!(matches!(
            classify(503, None, None),
            DeliveryOutcome::Transient { .. }
        ));
    }
}
