//! Email over SMTP (lettre): plain on loopback, STARTTLS or implicit TLS
//! elsewhere. Permanent SMTP replies (5xx) fall back; the rest retries.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use lookout_core::config::{SmtpCfg, SmtpTls};
use lookout_core::message::Message;
use lookout_core::monitor::DeliveryOutcome;

use crate::secrets::Secrets;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Smtp {
    pub fn new(cfg: &SmtpCfg, secrets: &Secrets) -> anyhow::Result<Smtp> {
        let (host, port) = match cfg.server.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(|c| c == '[' || c == ']'),
                p.parse::<u16>().context("smtp.server port")?,
            ),
            None => (cfg.server.as_str(), 25),
        };
        let mut b = match cfg.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        }
        .port(port)
        .timeout(Some(Duration::from_millis(cfg.timeout)));
        if let Some(user) = &cfg.username {
            let pass = cfg
                .password
                .as_ref()
                .and_then(|p| secrets.get(p))
                .context("smtp.username needs smtp.password")?;
            b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        Ok(Smtp {
            transport: b.build(),
            from: cfg.from.parse().context("smtp.from")?,
        })
    }

    pub async fn send(&self, to: &[String], m: &Message) -> DeliveryOutcome {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(m.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for t in to {
            match t.parse() {
                Ok(mb) => b = b.to(mb),
                Err(e) => {
                    return DeliveryOutcome::Permanent {
                        detail: format!("bad address {t}: {e}"),
                    };
                }
            }
        }
        let email = match b.body(m.text.clone()) {
            Ok(e) => e,
            Err(e) => {
                return DeliveryOutcome::Permanent {
                    detail: format!("building mail: {e}"),
                };
            }
        };
        match self.transport.send(email).await {
            Ok(r) => DeliveryOutcome::Accepted {
                provider_id: None,
                detail: format!("SMTP {}", r.code()),
            },
            Err(e) if e.is_permanent() => DeliveryOutcome::Permanent {
                detail: format!("SMTP: {e}"),
            },
            Err(e) => DeliveryOutcome::Transient {
                detail: format!("SMTP: {e}"),
                retry_after: None,
            },
        }
    }
}
