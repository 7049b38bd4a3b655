//! The TOML file as written, field by field. Every table rejects unknown
//! keys, so a typo fails `lookout check-config` with its line number instead
//! of silently disabling something.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use crate::model::Millis;

/// A duration string (`"30s"`) checked while the file is read, so a bad
/// one is reported at its own line.
#[derive(Clone, Copy, Debug)]
pub struct Dur(pub Millis);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::duration::parse(&s)
            .map(Dur)
            .map_err(de::Error::custom)
    }
}

/// Where a secret comes from. Secrets are never written in the config
/// itself, so the config can live in git and be printed in bug reports.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the daemon.
    Env(String),
    /// A key of the secrets file (`monitor.secrets_file`).
    File(String),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(n) => write!(f, "secret:{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const HOW: &str = "secrets are never written inline: use { env = \"NAME\" } or { secret = \"key in secrets_file\" }";
        impl<'de> Visitor<'de> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(HOW)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(HOW))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let r = match key.as_str() {
                        "env" => SecretRef::Env(value),
                        "secret" => SecretRef::File(value),
                        other => {
                            return Err(de::Error::unknown_field(other, &["env", "secret"]));
                        }
                    };
                    if out.replace(r).is_some() {
                        return Err(de::Error::custom(HOW));
                    }
                }
                out.ok_or_else(|| de::Error::custom(HOW))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub monitor: RawMonitor,
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    pub channel: BTreeMap<String, Spanned<RawChannel>>,
    #[serde(default)]
    pub policy: BTreeMap<String, Spanned<RawPolicy>>,
    pub twilio: Option<RawTwilio>,
    pub smtp: Option<RawSmtp>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub delivery: RawDelivery,
    pub digest: Option<RawDigest>,
    pub heartbeat_out: Option<RawHeartbeatOut>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonitor {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub state_dir: Option<String>,
    pub secrets_file: Option<String>,
    pub ack_token: Option<SecretRef>,
    pub concurrency: Option<usize>,
    pub jitter: Option<Dur>,
    pub fail_after: Option<u32>,
    pub recover_after: Option<u32>,
    pub group_wait: Option<Dur>,
    pub retention: Option<Dur>,
    pub canary: Option<Vec<String>>,
    pub notify: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub interval: Option<Dur>,
    pub cron: Option<String>,
    pub timeout: Option<Dur>,
    pub jitter: Option<Dur>,
    pub fail_after: Option<u32>,
    pub recover_after: Option<u32>,
    pub policy: Option<String>,
    // ping
    pub host: Option<String>,
    // tcp
    pub address: Option<String>,
    // http
    pub url: Option<String>,
    pub expect_status: Option<Vec<u16>>,
    pub body_contains: Option<String>,
    pub body_regex: Option<String>,
    pub max_latency: Option<Dur>,
    pub cert_min_days: Option<u32>,
    pub ca_file: Option<String>,
    // exec
    pub command: Option<Vec<String>>,
    pub max_output: Option<usize>,
    pub accept_warning: Option<bool>,
    // heartbeat
    pub period: Option<Dur>,
    pub grace: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub to: Option<ToField>,
    pub url: Option<String>,
    pub fallback: Option<String>,
}

/// `to` is one phone number for SMS/call, one address or a list for email.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ToField {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub after: Dur,
    pub notify: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default)]
    pub steps: Vec<RawStep>,
    pub repeat: Option<Dur>,
    pub resolved: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilio {
    pub account_sid: String,
    pub auth_token: SecretRef,
    pub from: String,
    pub api_base: Option<String>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub server: String,
    pub from: String,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub sms_per_hour: Option<u32>,
    pub sms_per_day: Option<u32>,
    pub calls_per_hour: Option<u32>,
    pub calls_per_day: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub max_attempts: Option<u32>,
    pub backoff: Option<Dur>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    pub at: String,
    pub notify: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeatOut {
    pub url: String,
    pub interval: Dur,
}
