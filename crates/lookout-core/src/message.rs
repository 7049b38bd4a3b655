//! The words people receive. Short enough for one SMS where possible (the
//! first line carries the news), with the incident number for `lookout ack`.

use crate::duration;
use crate::model::{CheckResult, IncidentId, Millis, truncate};

/// Twilio rejects bodies over 1600 characters (error 21617).
pub const MAX_SMS: usize = 1600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Alert,
    Reminder,
    Resolved,
    ConnectivityLost,
    ConnectivityRestored,
    UncleanStart,
    Digest,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Reminder => "reminder",
            MessageKind::Resolved => "resolved",
            MessageKind::ConnectivityLost => "connectivity-lost",
            MessageKind::ConnectivityRestored => "connectivity-restored",
            MessageKind::UncleanStart => "unclean-start",
            MessageKind::Digest => "digest",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    pub incident: Option<IncidentId>,
    /// Email subject; also the one line a phone call reads out.
    pub subject: String,
    /// SMS and email body.
    pub text: String,
}

/// A check as a message mentions it.
pub struct Mention<'a> {
    pub name: &'a str,
    pub last: Option<&'a CheckResult>,
}

fn describe(m: &Mention<'_>) -> String {
    match m.last {
        Some(r) if r.message.is_empty() => format!("{} {}", m.name, r.outcome),
        Some(r) => format!("{} {} ({})", m.name, r.outcome, truncate(&r.message, 120)),
        None => m.name.to_string(),
    }
}

fn names(ms: &[Mention<'_>]) -> String {
    ms.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

fn finish(
    kind: MessageKind,
    incident: Option<IncidentId>,
    subject: String,
    text: String,
) -> Message {
    Message {
        kind,
        incident,
        subject: truncate(&subject, 200),
        text: truncate(&text, MAX_SMS),
    }
}

pub fn alert(monitor: &str, id: IncidentId, checks: &[Mention<'_>]) -> Message {
    let list: Vec<String> = checks.iter().map(describe).collect();
    finish(
        MessageKind::Alert,
        Some(id),
        format!("[{monitor}] FAILED: {}", names(checks)),
        format!(
            "{monitor}: {}. Incident #{id}; ack: lookout ack {id}",
            list.join("; ")
        ),
    )
}

pub fn reminder(monitor: &str, id: IncidentId, checks: &[Mention<'_>], for_ms: Millis) -> Message {
    let list: Vec<String> = checks.iter().map(describe).collect();
    let d = duration::format(for_ms);
    finish(
        MessageKind::Reminder,
        Some(id),
        format!("[{monitor}] STILL FAILED for {d}: {}", names(checks)),
        format!(
            "{monitor}: STILL FAILED for {d}: {}. Incident #{id}; ack: lookout ack {id}",
            list.join("; ")
        ),
    )
}

pub fn resolved(
    monitor: &str,
    id: IncidentId,
    checks: &[Mention<'_>],
    after_ms: Millis,
) -> Message {
    let d = duration::format(after_ms);
    finish(
        MessageKind::Resolved,
        Some(id),
        format!("[{monitor}] RESOLVED after {d}: {}", names(checks)),
        format!(
            "{monitor}: RESOLVED after {d}: {}. Incident #{id}",
            names(checks)
        ),
    )
}

pub fn connectivity_lost(monitor: &str, canary: &[Mention<'_>], failing: usize) -> Message {
    finish(
        MessageKind::ConnectivityLost,
        None,
        format!("[{monitor}] monitor lost connectivity"),
        format!(
            "{monitor}: monitor lost connectivity: every canary check is failing ({}). {failing} check(s) failing; their alerts are held until connectivity returns.",
            names(canary)
        ),
    )
}

pub fn connectivity_restored(monitor: &str, after_ms: Millis) -> Message {
    let d = duration::format(after_ms);
    finish(
        MessageKind::ConnectivityRestored,
        None,
        format!("[{monitor}] monitor connectivity restored after {d}"),
        format!("{monitor}: monitor connectivity restored after {d}."),
    )
}

pub fn unclean_start(monitor: &str, last_seen: Option<&str>) -> Message {
    let seen = last_seen.map_or(String::new(), |s| format!(" (last seen alive {s})"));
    finish(
        MessageKind::UncleanStart,
        None,
        format!("[{monitor}] restarted after an unclean stop"),
        format!(
            "{monitor}: restarted after an unclean stop{seen}. Checks were not running in between."
        ),
    )
}

pub fn digest(
    monitor: &str,
    total: usize,
    failing: &[Mention<'_>],
    incidents_24h: usize,
) -> Message {
    let s = if total == 1 { "" } else { "s" };
    let state = if failing.is_empty() {
        format!("all GOOD ({total} check{s})")
    } else {
        format!(
            "{} of {total} check{s} failing: {}",
            failing.len(),
            names(failing)
        )
    };
    finish(
        MessageKind::Digest,
        None,
        format!("[{monitor}] daily: {state}"),
        format!("{monitor} daily digest: {state}; {incidents_24h} incident(s) in the last 24h."),
    )
}

/// Inline TwiML for a voice alert: the subject, said twice. XML-escaped,
/// since check names and outputs end up inside it.
pub fn twiml(text: &str) -> String {
    let mut said = String::new();
    for c in text.chars() {
        match c {
            '&' => said.push_str("&amp;"),
            '<' => said.push_str("&lt;"),
            '>' => said.push_str("&gt;"),
            '"' => said.push_str("&quot;"),
            '\'' => said.push_str("&apos;"),
            c if c.is_control() => said.push(' '),
            c => said.push(c),
        }
    }
    format!("<Response><Say>{said}</Say><Pause length=\"1\"/><Say>{said}</Say></Response>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    #[test]
    fn texts_carry_the_news_first() {
        let r = CheckResult::new(Outcome::Failed, 12, "HTTP 503");
        let t = CheckResult::new(Outcome::TimedOut, 5000, "");
        let ms = [
            Mention {
                name: "web",
                last: Some(&r),
            },
            Mention {
                name: "db",
                last: Some(&t),
            },
        ];
        let a = alert("eu", 12, &ms);
        assert_eq!(a.subject, "[eu] FAILED: web, db");
        assert_eq!(
            a.text,
            "eu: web FAILED (HTTP 503); db TIMED OUT. Incident #12; ack: lookout ack 12"
        );
        let z = resolved("eu", 12, &ms, 37 * 60_000 + 5_000);
        assert_eq!(z.subject, "[eu] RESOLVED after 37m: web, db");
        let s = reminder("eu", 12, &ms[..1], 40 * 60_000);
        assert!(s.text.starts_with("eu: STILL FAILED for 40m: web FAILED"));
        let d = digest("eu", 3, &[], 0);
        assert_eq!(d.subject, "[eu] daily: all GOOD (3 checks)");
        assert_eq!(
            digest("eu", 1, &[], 0).subject,
            "[eu] daily: all GOOD (1 check)"
        );
    }

    #[test]
    fn twiml_is_escaped() {
        assert_eq!(
            twiml("a<b & \"c\""),
            "<Response><Say>a&lt;b &amp; &quot;c&quot;</Say><Pause length=\"1\"/><Say>a&lt;b &amp; &quot;c&quot;</Say></Response>"
        );
    }

    #[test]
    fn long_texts_fit_one_twilio_message() {
        let long = "x".repeat(5000);
        let r = CheckResult::new(Outcome::Failed, 1, long);
        let names: Vec<String> = (0..200).map(|i| format!("check-{i}")).collect();
        let ms: Vec<Mention> = names
            .iter()
            .map(|n| Mention {
                name: n,
                last: Some(&r),
            })
            .collect();
        let a = alert("eu", 1, &ms);
        assert!(a.text.len() <= MAX_SMS);
        assert!(a.subject.len() <= 200);
    }
}
