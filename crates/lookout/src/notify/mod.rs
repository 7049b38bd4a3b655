//! Delivering one message on one channel, and saying how it went.

pub mod smtp;
pub mod twilio;
pub mod webhook;

use std::time::Duration;

use anyhow::Context;
use lookout_core::config::{ChannelKind, Config};
use lookout_core::message::{self, Message};
use lookout_core::monitor::DeliveryOutcome;

use crate::secrets::Secrets;

pub struct Notifier {
    monitor: String,
    http: reqwest::Client,
    twilio: Option<twilio::Twilio>,
    smtp: Option<smtp::Smtp>,
    timeout: Duration,
}

impl Notifier {
    pub fn new(cfg: &Config, secrets: &Secrets) -> anyhow::Result<Notifier> {
        let timeout = Duration::from_millis(cfg.delivery.timeout);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("lookout/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let twilio = match &cfg.twilio {
            Some(t) => Some(twilio::Twilio {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_millis(t.timeout))
                    .build()?,
                api_base: t.api_base.clone(),
                account_sid: t.account_sid.clone(),
                auth_token: secrets
                    .get(&t.auth_token)
                    .context("twilio.auth_token not resolved")?
                    .clone(),
                from: t.from.clone(),
            }),
            None => None,
        };
        let smtp = match &cfg.smtp {
            Some(s) => Some(smtp::Smtp::new(s, secrets)?),
            None => None,
        };
        Ok(Notifier {
            monitor: cfg.monitor.name.clone(),
            http,
            twilio,
            smtp,
            timeout,
        })
    }

    pub async fn deliver(&self, channel: &ChannelKind, m: &Message) -> DeliveryOutcome {
        let work = async {
            match channel {
                ChannelKind::Sms { to } => match &self.twilio {
                    Some(t) => t.sms(to, &m.text).await,
                    None => DeliveryOutcome::Permanent {
                        detail: "no [twilio] config".into(),
                    },
                },
                ChannelKind::Call { to } => match &self.twilio {
                    Some(t) => t.call(to, &message::twiml(&m.subject)).await,
                    None => DeliveryOutcome::Permanent {
                        detail: "no [twilio] config".into(),
                    },
                },
                ChannelKind::Email { to } => match &self.smtp {
                    Some(s) => s.send(to, m).await,
                    None => DeliveryOutcome::Permanent {
                        detail: "no [smtp] config".into(),
                    },
                },
                ChannelKind::Webhook { url } => {
                    webhook::post(&self.http, url, &self.monitor, m).await
                }
            }
        };
        // A hung provider must not hold the delivery for ever.
        match tokio::time::timeout(self.timeout + Duration::from_secs(5), work).await {
            Ok(o) => o,
            Err(_) => DeliveryOutcome::Transient {
                detail: "timed out".into(),
                retry_after: None,
            },
        }
    }
}
