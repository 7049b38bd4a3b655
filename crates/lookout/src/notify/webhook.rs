//! A generic webhook: POST a small JSON document; 2xx is delivered.

use lookout_core::message::Message;
use lookout_core::monitor::DeliveryOutcome;

pub async fn post(
    http: &reqwest::Client,
    url: &str,
    monitor: &str,
    m: &Message,
) -> DeliveryOutcome {
    let doc = serde_json::json!({
        "monitor": monitor,
        "kind": m.kind.as_str(),
        "incident": m.incident,
        "subject": m.subject,
        "text": m.text,
    });
    match http.post(url).json(&doc).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            if (200..300).contains(&s) {
                DeliveryOutcome::Accepted {
                    provider_id: None,
                    detail: format!("HTTP {s}"),
                }
            } else if s == 408 || s == 429 || s >= 500 {
                DeliveryOutcome::Transient {
                    detail: format!("HTTP {s}"),
                    retry_after: None,
                }
            } else {
                DeliveryOutcome::Permanent {
                    detail: format!("HTTP {s}"),
                }
            }
        }
        Err(e) => DeliveryOutcome::Transient {
            detail: if e.is_timeout() {
                "timed out".into()
            } else {
                format!("cannot reach webhook: {}", e.without_url())
            },
            retry_after: None,
        },
    }
}
