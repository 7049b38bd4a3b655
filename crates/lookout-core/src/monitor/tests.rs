//! Scenario tests: a monitor driven by a fake clock, whose checks answer
//! with scripted outcomes and whose notifiers answer with scripted
//! delivery outcomes.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::config;
use crate::message::MessageKind;

const T0: Millis = 1_796_300_000_000; // 2026-12-03, a few hours before 08:00 UTC

const BASE: &str = r#"
[monitor]
name = "eu"
group_wait = "30s"
jitter = "0"
fail_after = 2
recover_after = 2

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = { env = "T" }
from = "+15005550006"

[smtp]
server = "127.0.0.1:25"
from = "lookout@example.com"

[channel.sms]
type = "sms"
to = "+15558675310"
fallback = "mail"

[channel.call]
type = "call"
to = "+15558675310"

[channel.mail]
type = "email"
to = "ops@example.com"

[policy.default]
steps = [
  { after = "0s", notify = ["sms"] },
  { after = "10m", notify = ["call"] },
]
repeat = "30m"

[[check]]
name = "web"
type = "tcp"
address = "127.0.0.1:1"
interval = "10s"

[[check]]
name = "db"
type = "tcp"
address = "127.0.0.1:2"
interval = "10s"

[[check]]
name = "quiet"
type = "tcp"
address = "127.0.0.1:3"
interval = "10s"
policy = "none"
"#;

struct Harness {
    m: Monitor,
    now: Millis,
    outcome: HashMap<String, Outcome>,
    /// Scripted answers per channel name; Accepted when empty.
    answers: HashMap<String, VecDeque<DeliveryOutcome>>,
    sent: Vec<(Millis, String, Send)>,
    events: Vec<Event>,
    runs: usize,
}

impl Harness {
    fn new(src: &str) -> Self {
        let cfg = config::parse(src).unwrap();
        let m = Monitor::new(cfg, T0, 42, (1, 1));
        let mut h = Harness {
            m,
            now: T0,
            outcome: HashMap::new(),
            answers: HashMap::new(),
            sent: Vec::new(),
            events: Vec::new(),
            runs: 0,
        };
        h.input(Input::Tick);
        h
    }

    fn set(&mut self, check: &str, o: Outcome) {
        self.outcome.insert(check.to_string(), o);
    }

    fn answer(&mut self, channel: &str, o: DeliveryOutcome) {
        self.answers
            .entry(channel.to_string())
            .or_default()
            .push_back(o);
    }

    fn input(&mut self, i: Input) {
        let mut queue = VecDeque::from([i]);
        while let Some(i) = queue.pop_front() {
            for o in self.m.handle(self.now, i) {
                match o {
                    Output::RunCheck(id) => {
                        self.runs += 1;
                        let name = &self.m.config().checks[id].name;
                        let oc = self.outcome.get(name).copied().unwrap_or(Outcome::Good);
                        queue.push_back(Input::CheckDone {
                            check: id,
                            result: CheckResult::new(
                                oc,
                                5,
                                if oc.is_good() { "ok" } else { "refused" },
                            ),
                        });
                    }
                    Output::Send(s) => {
                        let ch = self.m.config().channels[s.channel].name.clone();
                        let outcome = self
                            .answers
                            .get_mut(&ch)
                            .and_then(VecDeque::pop_front)
                            .unwrap_or(DeliveryOutcome::Accepted {
                                provider_id: Some(format!("SM{}", s.delivery)),
                                detail: "201".into(),
                            });
                        queue.push_back(Input::DeliveryDone {
                            delivery: s.delivery,
                            outcome,
                        });
                        self.sent.push((self.now, ch, s));
                    }
                    Output::Record(e) => self.events.push(e),
                    Output::OutboundHeartbeat => {}
                }
            }
        }
    }

    /// Let `ms` pass, waking whenever the monitor asks to.
    fn advance(&mut self, ms: Millis) {
        let end = self.now + ms;
        while let Some(t) = self.m.next_wakeup().filter(|&t| t <= end) {
            self.now = t.max(self.now);
            self.input(Input::Tick);
        }
        self.now = end;
        self.input(Input::Tick);
    }

    fn texts(&self) -> Vec<(String, MessageKind, String)> {
        self.sent
            .iter()
            .map(|(_, ch, s)| (ch.clone(), s.message.kind, s.message.subject.clone()))
            .collect()
    }

    fn take_sent(&mut self) -> Vec<(String, MessageKind, String)> {
        let t = self.texts();
        self.sent.clear();
        t
    }

    fn deliveries(&self) -> Vec<(String, DeliveryStatus, u32)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Delivery(d) => Some((d.channel.clone(), d.status, d.attempt)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn checks_failing_together_page_once_then_escalate_and_resolve_once() {
    let mut h = Harness::new(BASE);
    h.advance(60_000);
    assert!(h.sent.is_empty());
    h.set("web", Outcome::Failed);
    h.advance(5_000);
    h.set("db", Outcome::TimedOut);
    h.set("quiet", Outcome::Failed);
    // web fails at +60 s and +70 s: incident opens at +70 s; db joins at +80 s.
    h.advance(25_000);
    assert!(
        h.sent.is_empty(),
        "nothing before group_wait: {:?}",
        h.texts()
    );
    h.advance(20_000); // past +100 s: the group is paged
    assert_eq!(
        h.take_sent(),
        vec![(
            "sms".into(),
            MessageKind::Alert,
            "[eu] FAILED: db, web".into()
        )]
    );
    let alert = &h.events;
    assert!(
        alert
            .iter()
            .any(|e| matches!(e, Event::IncidentJoined { check, .. } if check == "db"))
    );
    // The record-only check opened its own incident and never paged.
    assert!(alert.iter().any(
        |e| matches!(e, Event::IncidentOpened { check, policy: None, .. } if check == "quiet")
    ));

    // 10 minutes after paging, still failing: a phone call.
    h.advance(9 * 60_000);
    assert!(h.sent.is_empty());
    h.advance(60_000);
    let s = h.take_sent();
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].0.as_str(), s[0].1), ("call", MessageKind::Reminder));
    assert!(
        s[0].2.starts_with("[eu] STILL FAILED for 10m"),
        "{}",
        s[0].2
    );
    // Then the last step repeats every 30 minutes.
    h.advance(30 * 60_000);
    assert_eq!(h.take_sent().len(), 1);
    h.advance(30 * 60_000);
    assert_eq!(h.take_sent().len(), 1);

    // Recovery of one check is not the end; both back → one RESOLVED.
    h.set("web", Outcome::Good);
    h.advance(60_000);
    assert!(h.sent.is_empty());
    h.set("db", Outcome::Good);
    h.set("quiet", Outcome::Good);
    h.advance(60_000);
    let s = h.take_sent();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "sms");
    assert_eq!(s[0].1, MessageKind::Resolved);
    assert!(
        s[0].2.starts_with("[eu] RESOLVED after 1h11m: web, db"),
        "{}",
        s[0].2
    );
    h.advance(3 * 3_600_000);
    assert!(h.sent.is_empty());
}

#[test]
fn ack_stops_the_ladder_but_not_the_resolved_message() {
    let mut h = Harness::new(BASE);
    h.set("web", Outcome::Failed);
    h.advance(60_000);
    assert_eq!(h.take_sent().len(), 1);
    let id = h
        .events
        .iter()
        .find_map(|e| match e {
            Event::IncidentOpened {
                incident, check, ..
            } if check == "web" => Some(*incident),
            _ => None,
        })
        .unwrap();
    h.input(Input::Ack {
        incident: id,
        by: "cli".into(),
    });
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::IncidentAcked { by, .. } if by == "cli"))
    );
    h.advance(2 * 3_600_000);
    assert!(h.sent.is_empty(), "{:?}", h.texts());
    h.set("web", Outcome::Good);
    h.advance(60_000);
    assert_eq!(h.take_sent()[0].1, MessageKind::Resolved);
}

#[test]
fn a_blip_shorter_than_the_thresholds_pages_nobody() {
    let mut h = Harness::new(BASE);
    for _ in 0..10 {
        h.set("web", Outcome::Failed);
        h.advance(10_000);
        h.set("web", Outcome::Good);
        h.advance(10_000);
    }
    assert!(h.sent.is_empty());
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::IncidentOpened { .. }))
    );
}

#[test]
fn transient_errors_retry_with_backoff_and_permanent_ones_fall_back() {
    let mut h = Harness::new(BASE);
    h.answer(
        "sms",
        DeliveryOutcome::Transient {
            detail: "HTTP 503".into(),
            retry_after: None,
        },
    );
    h.answer(
        "sms",
        DeliveryOutcome::Transient {
            detail: "HTTP 429 code 20429".into(),
            retry_after: Some(60_000),
        },
    );
    h.set("web", Outcome::Failed);
    h.advance(50_000); // opened at +10 s (runs at 0 and +10 s), paged at +40 s
    let first = h.sent[0].0;
    h.advance(200_000);
    let times: Vec<Millis> = h.sent.iter().map(|(t, _, _)| t - first).collect();
    // Retry after the 10 s backoff, then after Retry-After (60 s) > 20 s backoff.
    assert_eq!(times, vec![0, 10_000, 70_000]);
    assert_eq!(
        h.deliveries(),
        vec![
            ("sms".into(), DeliveryStatus::Transient, 1),
            ("sms".into(), DeliveryStatus::Transient, 2),
            ("sms".into(), DeliveryStatus::Accepted, 3),
        ]
    );

    // A permanent error (21211) goes straight to the fallback channel.
    let mut h = Harness::new(BASE);
    h.answer(
        "sms",
        DeliveryOutcome::Permanent {
            detail: "HTTP 400 code 21211".into(),
        },
    );
    h.set("web", Outcome::Failed);
    h.advance(60_000);
    assert_eq!(
        h.deliveries(),
        vec![
            ("sms".into(), DeliveryStatus::Permanent, 1),
            ("mail".into(), DeliveryStatus::Accepted, 1),
        ]
    );
    assert_eq!(h.sent[1].2.message.kind, MessageKind::Alert);

    // Retries exhausted: fallback too; with no fallback left, it gives up.
    let mut h = Harness::new(BASE);
    for _ in 0..4 {
        h.answer(
            "sms",
            DeliveryOutcome::Transient {
                detail: "timeout".into(),
                retry_after: None,
            },
        );
    }
    h.answer(
        "mail",
        DeliveryOutcome::Permanent {
            detail: "550".into(),
        },
    );
    h.set("web", Outcome::Failed);
    h.advance(5 * 60_000);
    let d = h.deliveries();
    assert_eq!(d.len(), 5, "{d:?}");
    assert_eq!(d[4], ("mail".into(), DeliveryStatus::Permanent, 1));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::DeliveryGaveUp { .. }))
    );
}

#[test]
fn caps_limit_sms_and_fall_back_to_email() {
    let src = BASE
        .replace(
            "[policy.default]",
            "[limits]\nsms_per_hour = 2\n\n[policy.default]",
        )
        .replace(
            "fail_after = 2\nrecover_after = 2",
            "fail_after = 1\nrecover_after = 1",
        )
        .replace("group_wait = \"30s\"", "group_wait = \"0s\"");
    let mut h = Harness::new(&src);
    // Flap web three times: three incidents, three alerts and three RESOLVED.
    for _ in 0..3 {
        h.set("web", Outcome::Failed);
        h.advance(10_000);
        h.set("web", Outcome::Good);
        h.advance(10_000);
    }
    let d = h.deliveries();
    let sms_ok = d
        .iter()
        .filter(|x| x.0 == "sms" && x.1 == DeliveryStatus::Accepted)
        .count();
    let capped = d.iter().filter(|x| x.1 == DeliveryStatus::Capped).count();
    let mail = d.iter().filter(|x| x.0 == "mail").count();
    assert_eq!((sms_ok, capped, mail), (2, 4, 4), "{d:?}");
    // An hour later SMS flows again.
    h.advance(3_600_000);
    h.events.clear();
    h.set("web", Outcome::Failed);
    h.advance(10_000);
    assert_eq!(
        h.deliveries()[0],
        ("sms".into(), DeliveryStatus::Accepted, 1)
    );
}

#[test]
fn canary_turns_a_storm_into_one_alert() {
    let mut src = BASE.replace(
        "group_wait = \"30s\"",
        "group_wait = \"30s\"\ncanary = [\"out-a\", \"out-b\"]\nnotify = [\"mail\"]",
    );
    for n in ["out-a", "out-b"] {
        src += &format!(
            "[[check]]\nname = \"{n}\"\ntype = \"ping\"\nhost = \"192.0.2.1\"\ninterval = \"10s\"\n"
        );
    }
    let mut h = Harness::new(&src);
    h.advance(30_000);
    for c in ["web", "db", "out-a", "out-b"] {
        h.set(c, Outcome::TimedOut);
    }
    h.advance(10 * 60_000);
    assert_eq!(
        h.take_sent(),
        vec![(
            "mail".into(),
            MessageKind::ConnectivityLost,
            "[eu] monitor lost connectivity".into()
        )]
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::IncidentPaged {
            inhibited: true,
            ..
        }
    )));
    // One canary comes back: connectivity is back; web and db still fail,
    // so their held incident is paged now.
    h.set("out-a", Outcome::Good);
    h.advance(30_000);
    let s = h.take_sent();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].1, MessageKind::ConnectivityRestored);
    assert_eq!((s[1].0.as_str(), s[1].1), ("sms", MessageKind::Alert));
}

#[test]
fn heartbeat_silence_past_grace_fails_and_a_ping_recovers() {
    let src = BASE.to_string()
        + "[[check]]\nname = \"backup\"\ntype = \"heartbeat\"\nperiod = \"1h\"\ngrace = \"10m\"\n";
    let mut h = Harness::new(&src);
    let hb = h.m.config().check_by_name("backup").unwrap();
    h.advance(30 * 60_000);
    h.input(Input::HeartbeatPing {
        check: hb,
        result: CheckResult::new(Outcome::Good, 0, "ping"),
    });
    // Next ping expected by +1h30m, failure after +1h40m.
    h.advance(69 * 60_000);
    assert!(h.sent.is_empty());
    h.advance(2 * 60_000);
    h.advance(31_000); // group_wait
    let s = h.take_sent();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].2, "[eu] FAILED: backup");
    assert!(h.sent.is_empty());
    h.input(Input::HeartbeatPing {
        check: hb,
        result: CheckResult::new(Outcome::Good, 0, "ping"),
    });
    let s = h.take_sent();
    assert_eq!(s[0].1, MessageKind::Resolved);
    // An explicit failure report fails at once.
    h.input(Input::HeartbeatPing {
        check: hb,
        result: CheckResult::new(Outcome::Failed, 0, "exit 1"),
    });
    h.advance(31_000);
    assert_eq!(h.take_sent()[0].1, MessageKind::Alert);
}

#[test]
fn watching_the_watcher() {
    let src = BASE.to_string()
        + "[digest]\nat = \"08:00\"\n\n[heartbeat_out]\nurl = \"https://hc.example/x\"\ninterval = \"5m\"\n";
    let mut h = Harness::new(&src);
    h.input(Input::UncleanStart {
        last_seen: Some(T0 - 60_000),
    });
    let s = h.take_sent();
    assert_eq!(
        s,
        vec![(
            "sms".into(),
            MessageKind::UncleanStart,
            "[eu] restarted after an unclean stop".into()
        )]
    );
    assert!(h.sent.is_empty());
    h.advance(crate::civil::DAY);
    let s = h.take_sent();
    assert_eq!(
        s,
        vec![(
            "sms".into(),
            MessageKind::Digest,
            "[eu] daily: all GOOD (3 checks)".into()
        )]
    );
    assert_eq!(h.sent.len(), 0);
}

#[test]
fn outbound_heartbeat_and_reload_keep_state() {
    let mut h = Harness::new(BASE);
    h.set("web", Outcome::Failed);
    h.advance(60_000);
    assert_eq!(h.take_sent().len(), 1);
    // Reload with db removed and a new check: web's incident stays open,
    // and its ladder goes on.
    let src = BASE.replace("name = \"db\"", "name = \"db2\"");
    let out = h.m.reconfigure(config::parse(&src).unwrap(), h.now);
    assert!(!out.iter().any(|o| matches!(o, Output::Send(_))));
    h.advance(10 * 60_000);
    let s = h.take_sent();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "call");
    let snap = h.m.snapshot(h.now);
    assert!(snap.checks.iter().any(|c| c.name == "web" && c.failing));
    assert_eq!(snap.incidents.len(), 1);
}

#[test]
fn concurrency_and_overlap_with_slow_checks() {
    let mut src = String::from("[monitor]\nconcurrency = 2\njitter = \"0\"\n");
    for i in 0..4 {
        src += &format!(
            "[[check]]\nname = \"c{i}\"\ntype = \"exec\"\ncommand = [\"x\"]\ninterval = \"10s\"\n"
        );
    }
    let cfg = config::parse(&src).unwrap();
    let mut m = Monitor::new(cfg, T0, 1, (1, 1));
    let out = m.handle(T0, Input::Tick);
    let runs: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::RunCheck(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(runs, vec![0, 1]);
    // c0 hangs; c1 finishes: c2 starts.
    let out = m.handle(
        T0 + 5,
        Input::CheckDone {
            check: 1,
            result: CheckResult::new(Outcome::Good, 5, ""),
        },
    );
    assert!(out.contains(&Output::RunCheck(2)));
    // At +10 s c0 is still running: skipped, not doubled.
    let out = m.handle(T0 + 10_000, Input::Tick);
    assert!(out.iter().any(
        |o| matches!(o, Output::Record(Event::SkippedOverlap { check, .. }) if check == "c0")
    ));
    assert!(!out.contains(&Output::RunCheck(0)));
}
