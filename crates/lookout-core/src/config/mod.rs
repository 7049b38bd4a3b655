//! The validated configuration: what the monitor does, with every name
//! resolved to an index and every default filled in. `parse` is the one
//! way in; the daemon, `lookout check-config` and SIGHUP reloads all use it.

mod raw;

use std::collections::HashMap;

pub use raw::SecretRef;
use raw::{RawChannel, RawCheck, RawConfig, ToField};

use crate::cron::Cron;
use crate::model::{CheckId, Millis};

pub type ChannelId = usize;
pub type PolicyId = usize;

/// A config error, with the line it comes from when known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub monitor: MonitorCfg,
    pub checks: Vec<CheckCfg>,
    pub channels: Vec<ChannelCfg>,
    pub policies: Vec<PolicyCfg>,
    pub twilio: Option<TwilioCfg>,
    pub smtp: Option<SmtpCfg>,
    pub limits: Limits,
    pub delivery: DeliveryCfg,
    pub digest: Option<DigestCfg>,
    pub heartbeat_out: Option<HeartbeatOutCfg>,
    /// Check name to index: results arrive by name 100 times a second.
    check_index: HashMap<String, CheckId>,
}

#[derive(Clone, Debug)]
pub struct MonitorCfg {
    pub name: String,
    /// Address of the status page, heartbeat and ack endpoints
    /// (`daemon::addr` syntax). None: no HTTP server.
    pub listen: Option<String>,
    pub state_dir: String,
    pub secrets_file: Option<String>,
    pub ack_token: Option<SecretRef>,
    pub concurrency: usize,
    pub jitter: Millis,
    pub group_wait: Millis,
    pub retention: Millis,
    pub canary: Vec<CheckId>,
    /// Channels for the monitor's own alerts (lost connectivity, unclean
    /// restart).
    pub notify: Vec<ChannelId>,
}

#[derive(Clone, Debug)]
pub enum Schedule {
    Every(Millis),
    Cron(Cron),
}

#[derive(Clone, Debug)]
pub struct CheckCfg {
    pub name: String,
    pub kind: CheckKind,
    /// For heartbeats: when pings are expected.
    pub schedule: Schedule,
    pub timeout: Millis,
    pub jitter: Millis,
    pub fail_after: u32,
    pub recover_after: u32,
    pub policy: Option<PolicyId>,
    pub line: usize,
}

#[derive(Clone, Debug)]
pub enum CheckKind {
    Ping {
        host: String,
    },
    Tcp {
        address: String,
    },
    Http {
        url: String,
        expect_status: Vec<u16>,
        body_contains: Option<String>,
        body_regex: Option<String>,
        max_latency: Option<Millis>,
        cert_min_days: Option<u32>,
        ca_file: Option<String>,
    },
    Exec {
        command: Vec<String>,
        max_output: usize,
        accept_warning: bool,
    },
    Heartbeat {
        grace: Millis,
    },
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Ping { .. } => "ping",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Http { .. } => "http",
            CheckKind::Exec { .. } => "exec",
            CheckKind::Heartbeat { .. } => "heartbeat",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Sms { to: String },
    Call { to: String },
    Email { to: Vec<String> },
    Webhook { url: String },
}

/// What the hourly/daily caps count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapKind {
    Sms,
    Call,
}

impl ChannelKind {
    pub fn cap_kind(&self) -> Option<CapKind> {
        match self {
            ChannelKind::Sms { .. } => Some(CapKind::Sms),
            ChannelKind::Call { .. } => Some(CapKind::Call),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ChannelCfg {
    pub name: String,
    pub kind: ChannelKind,
    /// Where a message goes when this channel fails for good.
    pub fallback: Option<ChannelId>,
}

#[derive(Clone, Debug)]
pub struct Step {
    /// Delay after the incident is first paged.
    pub after: Millis,
    pub notify: Vec<ChannelId>,
}

#[derive(Clone, Debug)]
pub struct PolicyCfg {
    pub name: String,
    pub steps: Vec<Step>,
    /// Repeat the last step this often until ack or recovery.
    pub repeat: Option<Millis>,
    /// Channels for the one RESOLVED message.
    pub resolved: Vec<ChannelId>,
}

#[derive(Clone, Debug)]
pub struct TwilioCfg {
    pub account_sid: String,
    pub auth_token: SecretRef,
    pub from: String,
    pub api_base: String,
    pub timeout: Millis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpCfg {
    pub server: String,
    pub from: String,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub timeout: Millis,
}

#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub sms_per_hour: Option<u32>,
    pub sms_per_day: Option<u32>,
    pub calls_per_hour: Option<u32>,
    pub calls_per_day: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct DeliveryCfg {
    pub max_attempts: u32,
    pub backoff: Millis,
    pub timeout: Millis,
}

#[derive(Clone, Debug)]
pub struct DigestCfg {
    pub hour: u32,
    pub minute: u32,
    pub notify: Vec<ChannelId>,
}

#[derive(Clone, Debug)]
pub struct HeartbeatOutCfg {
    pub url: String,
    pub interval: Millis,
}

impl Config {
    pub fn check_by_name(&self, name: &str) -> Option<CheckId> {
        self.check_index.get(name).copied()
    }

    /// Every secret the config refers to, for resolving them up front.
    pub fn secret_refs(&self) -> Vec<&SecretRef> {
        let mut v = Vec::new();
        v.extend(self.monitor.ack_token.iter());
        v.extend(self.twilio.iter().map(|t| &t.auth_token));
        v.extend(self.smtp.iter().filter_map(|s| s.password.as_ref()));
        v
    }
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn err(line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError {
        line: Some(line),
        message: message.into(),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Parse and validate a config file's text.
pub fn parse(src: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(src).map_err(|e| ConfigError {
        line: e.span().map(|s| line_of(src, s.start)),
        message: e.message().trim().to_string(),
    })?;
    Builder { src }.build(raw)
}

struct Builder<'a> {
    src: &'a str,
}

impl Builder<'_> {
    fn build(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let top = |m: String| ConfigError {
            line: None,
            message: m,
        };

        // Channels first: checks and policies refer to them.
        let names: Vec<String> = raw.channel.keys().cloned().collect();
        let channel_ids: HashMap<&str, ChannelId> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut channels = Vec::new();
        for (name, ch) in &raw.channel {
            let line = line_of(self.src, ch.span().start);
            channels.push(self.channel(name, ch.get_ref(), line, &channel_ids)?);
        }
        let resolve = |list: &[String], line: Option<usize>, what: &str| {
            list.iter()
                .map(|n| {
                    channel_ids.get(n.as_str()).copied().ok_or(ConfigError {
                        line,
                        message: format!("{what}: unknown channel `{n}`"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };

        let mut policies = Vec::new();
        for (name, p) in &raw.policy {
            let line = line_of(self.src, p.span().start);
            let p = p.get_ref();
            if !valid_name(name) {
                return Err(err(line, format!("bad policy name `{name}`")));
            }
            let what = format!("policy `{name}`");
            let mut steps = Vec::new();
            let mut last = 0;
            for s in &p.steps {
                if s.after.0 < last {
                    return Err(err(
                        line,
                        format!("{what}: steps must be in order of `after`"),
                    ));
                }
                last = s.after.0;
                steps.push(crate::config::Step {
                    after: s.after.0,
                    notify: resolve(&s.notify, Some(line), &what)?,
                });
            }
            if steps.is_empty() {
                return Err(err(line, format!("{what}: needs at least one step")));
            }
            if p.repeat.is_some_and(|r| r.0 < 60_000) {
                return Err(err(line, format!("{what}: repeat must be at least 1m")));
            }
            let resolved = match &p.resolved {
                Some(list) => resolve(list, Some(line), &what)?,
                // By default RESOLVED goes where the first page went,
                // except phone calls: nobody wants a call to say all is well.
                None => steps[0]
                    .notify
                    .iter()
                    .copied()
                    .filter(|&c| !matches!(channels[c].kind, ChannelKind::Call { .. }))
                    .collect(),
            };
            policies.push(PolicyCfg {
                name: name.clone(),
                steps,
                repeat: p.repeat.map(|d| d.0),
                resolved,
            });
        }
        let policy_ids: HashMap<&str, PolicyId> = policies
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();

        let m = &raw.monitor;
        let fail_after = m.fail_after.unwrap_or(2);
        let recover_after = m.recover_after.unwrap_or(2);
        if fail_after == 0 || recover_after == 0 {
            return Err(top(
                "monitor: fail_after and recover_after must be at least 1".into(),
            ));
        }
        let jitter = m.jitter.map_or(1000, |d| d.0);

        let mut checks = Vec::new();
        let mut seen = HashMap::new();
        for c in &raw.check {
            let line = line_of(self.src, c.span().start);
            let check = self.check(
                c.get_ref(),
                line,
                &policy_ids,
                (fail_after, recover_after, jitter),
            )?;
            if let Some(prev) = seen.insert(check.name.clone(), line) {
                return Err(err(
                    line,
                    format!("check `{}` already defined at line {prev}", check.name),
                ));
            }
            checks.push(check);
        }
        let check_ids: HashMap<&str, CheckId> = checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let canary = m
            .canary
            .iter()
            .flatten()
            .map(|n| {
                check_ids
                    .get(n.as_str())
                    .copied()
                    .ok_or_else(|| top(format!("monitor.canary: unknown check `{n}`")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let notify = match &m.notify {
            Some(list) => resolve(list, None, "monitor.notify")?,
            None => policy_ids
                .get("default")
                .map(|&p| policies[p].steps[0].notify.clone())
                .unwrap_or_default(),
        };
        let concurrency = m.concurrency.unwrap_or(32);
        if concurrency == 0 {
            return Err(top("monitor.concurrency must be at least 1".into()));
        }
        let monitor = MonitorCfg {
            name: m.name.clone().unwrap_or_else(|| "lookout".into()),
            listen: m.listen.clone(),
            state_dir: m
                .state_dir
                .clone()
                .unwrap_or_else(|| "/var/lib/lookout".into()),
            secrets_file: m.secrets_file.clone(),
            ack_token: m.ack_token.clone(),
            concurrency,
            jitter,
            group_wait: m.group_wait.map_or(30_000, |d| d.0),
            retention: m.retention.map_or(30 * 86_400_000, |d| d.0),
            canary,
            notify,
        };

        let needs_twilio = channels
            .iter()
            .any(|c| matches!(c.kind, ChannelKind::Sms { .. } | ChannelKind::Call { .. }));
        let needs_smtp = channels
            .iter()
            .any(|c| matches!(c.kind, ChannelKind::Email { .. }));
        let twilio = raw.twilio.map(|t| TwilioCfg {
            account_sid: t.account_sid,
            auth_token: t.auth_token,
            from: t.from,
            api_base: t
                .api_base
                .unwrap_or_else(|| "https://api.twilio.com".into())
                .trim_end_matches('/')
                .to_string(),
            timeout: t.timeout.map_or(15_000, |d| d.0),
        });
        if needs_twilio && twilio.is_none() {
            return Err(top("sms/call channels need a [twilio] section".into()));
        }
        if let Some(t) = &twilio {
            if !t.account_sid.starts_with("AC") || !valid_name(&t.account_sid) {
                return Err(top(
                    "twilio.account_sid must look like AC followed by hex".into()
                ));
            }
            if !is_e164(&t.from) {
                return Err(top(
                    "twilio.from must be an E.164 number (+15017122661)".into()
                ));
            }
        }
        let smtp = match raw.smtp {
            Some(s) => Some(SmtpCfg {
                server: s.server,
                from: s.from,
                tls: match s.tls.as_deref() {
                    None | Some("starttls") => SmtpTls::StartTls,
                    Some("none") => SmtpTls::None,
                    Some("tls") => SmtpTls::Tls,
                    Some(o) => {
                        return Err(top(format!(
                            "smtp.tls must be none, starttls or tls, not `{o}`"
                        )));
                    }
                },
                username: s.username,
                password: s.password,
                timeout: s.timeout.map_or(15_000, |d| d.0),
            }),
            None => None,
        };
        if needs_smtp && smtp.is_none() {
            return Err(top("email channels need an [smtp] section".into()));
        }

        let l = raw.limits;
        let d = raw.delivery;
        let delivery = DeliveryCfg {
            max_attempts: d.max_attempts.unwrap_or(4).max(1),
            backoff: d.backoff.map_or(10_000, |x| x.0),
            timeout: d.timeout.map_or(15_000, |x| x.0),
        };
        let digest = match raw.digest {
            Some(dg) => {
                let (h, mi) = dg
                    .at
                    .split_once(':')
                    .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                    .filter(|&(h, m)| h < 24 && m < 60)
                    .ok_or_else(|| {
                        top(format!("digest.at must be HH:MM (UTC), not `{}`", dg.at))
                    })?;
                let notify = match &dg.notify {
                    Some(list) => resolve(list, None, "digest.notify")?,
                    None => monitor.notify.clone(),
                };
                Some(DigestCfg {
                    hour: h,
                    minute: mi,
                    notify,
                })
            }
            None => None,
        };
        let heartbeat_out = raw.heartbeat_out.map(|h| HeartbeatOutCfg {
            url: h.url,
            interval: h.interval.0.max(1000),
        });

        let check_index = checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Config {
            monitor,
            checks,
            channels,
            policies,
            twilio,
            smtp,
            limits: Limits {
                sms_per_hour: l.sms_per_hour,
                sms_per_day: l.sms_per_day,
                calls_per_hour: l.calls_per_hour,
                calls_per_day: l.calls_per_day,
            },
            delivery,
            digest,
            heartbeat_out,
            check_index,
        })
    }

    fn channel(
        &self,
        name: &str,
        c: &RawChannel,
        line: usize,
        ids: &HashMap<&str, ChannelId>,
    ) -> Result<ChannelCfg, ConfigError> {
        let what = format!("channel `{name}`");
        if !valid_name(name) {
            return Err(err(line, format!("bad channel name `{name}`")));
        }
        let one_to = || match &c.to {
            Some(ToField::One(s)) => Ok(s.clone()),
            _ => Err(err(line, format!("{what}: `to` must be one phone number"))),
        };
        let kind = match c.kind.as_deref() {
            Some("sms") | Some("call") => {
                let to = one_to()?;
                if !is_e164(&to) {
                    return Err(err(
                        line,
                        format!("{what}: `to` must be E.164 (+15558675310)"),
                    ));
                }
                if c.url.is_some() {
                    return Err(err(line, format!("{what}: `url` does not apply")));
                }
                if c.kind.as_deref() == Some("sms") {
                    ChannelKind::Sms { to }
                } else {
                    ChannelKind::Call { to }
                }
            }
            Some("email") => {
                let to = match &c.to {
                    Some(ToField::One(s)) => vec![s.clone()],
                    Some(ToField::Many(v)) if !v.is_empty() => v.clone(),
                    _ => return Err(err(line, format!("{what}: needs `to`"))),
                };
                if to.iter().any(|a| !a.contains('@')) || c.url.is_some() {
                    return Err(err(line, format!("{what}: `to` must be mail addresses")));
                }
                ChannelKind::Email { to }
            }
            Some("webhook") => {
                let url = c
                    .url
                    .clone()
                    .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                    .ok_or_else(|| err(line, format!("{what}: needs an http(s) `url`")))?;
                if c.to.is_some() {
                    return Err(err(line, format!("{what}: `to` does not apply")));
                }
                ChannelKind::Webhook { url }
            }
            Some(o) => {
                return Err(err(
                    line,
                    format!("{what}: type must be sms, call, email or webhook, not `{o}`"),
                ));
            }
            None => return Err(err(line, format!("{what}: needs a `type`"))),
        };
        let fallback = match &c.fallback {
            Some(f) if f == name => {
                return Err(err(line, format!("{what}: cannot fall back to itself")));
            }
            Some(f) => Some(
                *ids.get(f.as_str())
                    .ok_or_else(|| err(line, format!("{what}: unknown fallback `{f}`")))?,
            ),
            None => None,
        };
        Ok(ChannelCfg {
            name: name.to_string(),
            kind,
            fallback,
        })
    }

    fn check(
        &self,
        c: &RawCheck,
        line: usize,
        policies: &HashMap<&str, PolicyId>,
        (fail_after, recover_after, jitter): (u32, u32, Millis),
    ) -> Result<CheckCfg, ConfigError> {
        let name = c
            .name
            .clone()
            .ok_or_else(|| err(line, "check needs a `name`"))?;
        if !valid_name(&name) {
            return Err(err(
                line,
                format!("check name `{name}` may hold only letters, digits, `-`, `_` and `.`"),
            ));
        }
        let what = format!("check `{name}`");
        let ty = c
            .kind
            .as_deref()
            .ok_or_else(|| err(line, format!("{what}: needs a `type`")))?;
        // Which type-specific fields are set, to reject those that do not apply.
        let set: Vec<&str> = [
            ("host", c.host.is_some()),
            ("address", c.address.is_some()),
            ("url", c.url.is_some()),
            ("expect_status", c.expect_status.is_some()),
            ("body_contains", c.body_contains.is_some()),
            ("body_regex", c.body_regex.is_some()),
            ("max_latency", c.max_latency.is_some()),
            ("cert_min_days", c.cert_min_days.is_some()),
            ("ca_file", c.ca_file.is_some()),
            ("command", c.command.is_some()),
            ("max_output", c.max_output.is_some()),
            ("accept_warning", c.accept_warning.is_some()),
            ("period", c.period.is_some()),
            ("grace", c.grace.is_some()),
            ("interval", c.interval.is_some()),
            ("timeout", c.timeout.is_some()),
        ]
        .into_iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| n)
        .collect();
        let allowed: &[&str] = match ty {
            "ping" => &["host", "interval", "timeout"],
            "tcp" => &["address", "interval", "timeout"],
            "http" | "https" => &[
                "url",
                "expect_status",
                "body_contains",
                "body_regex",
                "max_latency",
                "cert_min_days",
                "ca_file",
                "interval",
                "timeout",
            ],
            "exec" => &[
                "command",
                "max_output",
                "accept_warning",
                "interval",
                "timeout",
            ],
            "heartbeat" => &["period", "grace"],
            o => {
                return Err(err(
                    line,
                    format!("{what}: type must be ping, tcp, http, exec or heartbeat, not `{o}`"),
                ));
            }
        };
        if let Some(f) = set.iter().find(|f| !allowed.contains(f)) {
            return Err(err(
                line,
                format!("{what}: `{f}` does not apply to a {ty} check"),
            ));
        }
        let need = |v: &Option<String>, field: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(line, format!("{what}: needs `{field}`")))
        };
        let (kind, default_timeout) = match ty {
            "ping" => (
                CheckKind::Ping {
                    host: need(&c.host, "host")?,
                },
                5_000,
            ),
            "tcp" => (
                CheckKind::Tcp {
                    address: need(&c.address, "address")?,
                },
                5_000,
            ),
            "http" | "https" => {
                let url = need(&c.url, "url")?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(err(line, format!("{what}: url must start with http(s)://")));
                }
                if let Some(r) = &c.body_regex {
                    regex::Regex::new(r)
                        .map_err(|e| err(line, format!("{what}: body_regex: {e}")))?;
                }
                let expect_status = c.expect_status.clone().unwrap_or_default();
                if expect_status.iter().any(|s| !(100..=599).contains(s)) {
                    return Err(err(line, format!("{what}: expect_status must be 100..599")));
                }
                (
                    CheckKind::Http {
                        url,
                        expect_status,
                        body_contains: c.body_contains.clone(),
                        body_regex: c.body_regex.clone(),
                        max_latency: c.max_latency.map(|d| d.0),
                        cert_min_days: c.cert_min_days,
                        ca_file: c.ca_file.clone(),
                    },
                    10_000,
                )
            }
            "exec" => {
                let command = c
                    .command
                    .clone()
                    .filter(|v| !v.is_empty() && !v[0].is_empty())
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("{what}: needs `command` = [program, args...]"),
                        )
                    })?;
                (
                    CheckKind::Exec {
                        command,
                        max_output: c.max_output.unwrap_or(64 * 1024).clamp(64, 16 << 20),
                        accept_warning: c.accept_warning.unwrap_or(false),
                    },
                    60_000,
                )
            }
            _ => (
                CheckKind::Heartbeat {
                    grace: c.grace.map_or(3_600_000, |d| d.0),
                },
                0,
            ),
        };
        let is_heartbeat = matches!(kind, CheckKind::Heartbeat { .. });
        let schedule = match (c.interval, c.period, &c.cron) {
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                return Err(err(
                    line,
                    format!("{what}: give an interval or a cron, not both"),
                ));
            }
            (_, _, Some(expr)) => Schedule::Cron(
                Cron::parse(expr).map_err(|e| err(line, format!("{what}: cron: {e}")))?,
            ),
            (Some(d), _, None) | (_, Some(d), None) => {
                if d.0 < 1000 {
                    return Err(err(line, format!("{what}: interval must be at least 1s")));
                }
                Schedule::Every(d.0)
            }
            (None, None, None) if is_heartbeat => {
                return Err(err(line, format!("{what}: needs a `period` or a `cron`")));
            }
            (None, None, None) => Schedule::Every(60_000),
        };
        let timeout = c.timeout.map_or(default_timeout, |d| d.0);
        if !is_heartbeat && timeout < 10 {
            return Err(err(line, format!("{what}: timeout too short")));
        }
        let policy = match c.policy.as_deref() {
            Some("none") => None,
            Some(p) => Some(
                *policies
                    .get(p)
                    .ok_or_else(|| err(line, format!("{what}: unknown policy `{p}`")))?,
            ),
            None => policies.get("default").copied(),
        };
        // A heartbeat's silence is already a grace period: act on the first miss.
        let (dfail, drecover) = if is_heartbeat {
            (1, 1)
        } else {
            (fail_after, recover_after)
        };
        let fail_after = c.fail_after.unwrap_or(dfail);
        let recover_after = c.recover_after.unwrap_or(drecover);
        if fail_after == 0 || recover_after == 0 {
            return Err(err(
                line,
                format!("{what}: fail_after/recover_after must be >= 1"),
            ));
        }
        Ok(CheckCfg {
            name,
            kind,
            schedule,
            timeout,
            jitter: c.jitter.map_or(jitter, |d| d.0),
            fail_after,
            recover_after,
            policy,
            line,
        })
    }
}

fn is_e164(s: &str) -> bool {
    s.len() >= 8
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests;
