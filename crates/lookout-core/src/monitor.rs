//! The whole monitor as one state machine: feed it inputs with the current
//! time, carry out the outputs, and call again at `next_wakeup()`.

use crate::alerting::{Alerting, Ctx};
use crate::civil;
use crate::config::{ChannelId, CheckKind, Config, Schedule};
use crate::message::{self, Mention, Message, MessageKind};
use crate::model::{CheckId, CheckResult, DeliveryId, IncidentId, Millis, Outcome};
use crate::rng::Rng;
use crate::schedule::{Due, Scheduler};
use crate::streak::{Streak, Transition};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Nothing happened but time passed.
    Tick,
    CheckDone {
        check: CheckId,
        result: CheckResult,
    },
    /// An inbound heartbeat: GOOD, or FAILED when the job reported failure.
    HeartbeatPing {
        check: CheckId,
        result: CheckResult,
    },
    DeliveryDone {
        delivery: DeliveryId,
        outcome: DeliveryOutcome,
    },
    Ack {
        incident: IncidentId,
        by: String,
    },
    /// The daemon found that its last run did not stop cleanly.
    UncleanStart {
        last_seen: Option<Millis>,
    },
    /// Run a check now (status page button, tests).
    RunNow {
        check: CheckId,
    },
}

/// How one delivery attempt went, as the notifier saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The provider took it (Twilio 201, SMTP 250, webhook 2xx).
    Accepted {
        provider_id: Option<String>,
        detail: String,
    },
    /// Worth retrying: 429, 5xx, timeouts, connection errors.
    Transient {
        detail: String,
        retry_after: Option<Millis>,
    },
    /// Retrying cannot help (Twilio 21211 and friends, 4xx): fall back.
    Permanent { detail: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    pub delivery: DeliveryId,
    pub channel: ChannelId,
    pub attempt: u32,
    pub message: Message,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Accepted,
    Transient,
    Permanent,
    Capped,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Transient => "transient-error",
            DeliveryStatus::Permanent => "permanent-error",
            DeliveryStatus::Capped => "capped",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
}

/// One delivery attempt, for the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub delivery: DeliveryId,
    pub incident: Option<IncidentId>,
    pub channel: String,
    pub kind: MessageKind,
    pub attempt: u32,
    pub at: Millis,
    pub status: DeliveryStatus,
    pub detail: String,
    pub provider_id: Option<String>,
}

/// Things worth remembering (the history database) or logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Result {
        check: String,
        at: Millis,
        result: CheckResult,
    },
    SkippedOverlap {
        check: String,
        at: Millis,
    },
    IncidentOpened {
        incident: IncidentId,
        at: Millis,
        check: String,
        policy: Option<String>,
    },
    IncidentJoined {
        incident: IncidentId,
        at: Millis,
        check: String,
    },
    IncidentPaged {
        incident: IncidentId,
        at: Millis,
        inhibited: bool,
    },
    IncidentResolved {
        incident: IncidentId,
        at: Millis,
    },
    IncidentAcked {
        incident: IncidentId,
        at: Millis,
        by: String,
    },
    Delivery(DeliveryRecord),
    DeliveryGaveUp {
        delivery: DeliveryId,
        at: Millis,
    },
    ConnectivityLost {
        at: Millis,
    },
    ConnectivityRestored {
        at: Millis,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    RunCheck(CheckId),
    Send(Send),
    /// Time to tell the outside dead-man's switch we are alive.
    OutboundHeartbeat,
    Record(Event),
}

#[derive(Clone, Debug, Default)]
struct CheckState {
    streak: Streak,
    last: Option<(Millis, CheckResult)>,
    /// Heartbeats: the last ping, and when silence becomes a failure.
    hb_last: Millis,
    hb_deadline: Option<Millis>,
}

/// A check as the status page shows it.
#[derive(Clone, Debug)]
pub struct CheckStatus {
    pub name: String,
    pub kind: &'static str,
    pub last: Option<(Millis, CheckResult)>,
    pub failing: bool,
    pub running: bool,
    pub next_due: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct IncidentStatus {
    pub id: IncidentId,
    pub checks: Vec<String>,
    pub active: Vec<String>,
    pub opened_at: Millis,
    pub paged_at: Option<Millis>,
    pub acked: Option<(Millis, String)>,
    pub inhibited: bool,
    pub next_step_at: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub monitor: String,
    pub now: Millis,
    pub started_at: Millis,
    pub checks: Vec<CheckStatus>,
    pub incidents: Vec<IncidentStatus>,
    pub connectivity_lost_since: Option<Millis>,
    /// Deliveries waiting for a retry or in flight.
    pub pending_deliveries: usize,
    /// Deliveries handed to a notifier and not answered yet.
    pub deliveries_in_flight: usize,
}

pub struct Monitor {
    cfg: Config,
    /// The heartbeat checks, so per-input work does not scan every check.
    heartbeats: Vec<CheckId>,
    rng: Rng,
    sched: Scheduler,
    checks: Vec<CheckState>,
    alerting: Alerting,
    digest_next: Option<Millis>,
    hb_out_next: Option<Millis>,
    started_at: Millis,
}

fn heartbeat_deadline(schedule: &Schedule, grace: Millis, last: Millis) -> Millis {
    let expected = match schedule {
        Schedule::Every(p) => last.saturating_add(*p),
        Schedule::Cron(c) => c.next_after(last).unwrap_or(Millis::MAX),
    };
    expected.saturating_add(grace)
}

impl Monitor {
    /// `next_ids` continue the incident and delivery numbering of the
    /// history, so numbers stay unique across restarts.
    pub fn new(cfg: Config, now: Millis, seed: u64, next_ids: (IncidentId, DeliveryId)) -> Self {
        let mut rng = Rng::new(seed);
        let sched = Scheduler::new(&cfg.checks, cfg.monitor.concurrency, now, &mut rng);
        let checks = cfg
            .checks
            .iter()
            .map(|c| {
                let mut s = CheckState {
                    hb_last: now,
                    ..Default::default()
                };
                if let CheckKind::Heartbeat { grace } = c.kind {
                    s.hb_deadline = Some(heartbeat_deadline(&c.schedule, grace, now));
                }
                s
            })
            .collect();
        let mut m = Monitor {
            heartbeats: heartbeat_ids(&cfg),
            digest_next: None,
            hb_out_next: cfg.heartbeat_out.as_ref().map(|_| now),
            cfg,
            rng,
            sched,
            checks,
            alerting: Alerting::new(next_ids.0, next_ids.1),
            started_at: now,
        };
        m.digest_next = m
            .cfg
            .digest
            .as_ref()
            .map(|d| civil::next_time_of_day(now, d.hour, d.minute));
        m
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Remember when a heartbeat check was last pinged before a restart.
    pub fn restore_heartbeat(&mut self, check: CheckId, last_ping: Millis) {
        let c = &self.cfg.checks[check];
        if let CheckKind::Heartbeat { grace } = c.kind {
            let s = &mut self.checks[check];
            s.hb_last = last_ping;
            s.hb_deadline = Some(heartbeat_deadline(&c.schedule, grace, last_ping));
        }
    }

    /// Switch to a new config (SIGHUP), keeping what is known about checks
    /// that kept their name and type, and the open incidents.
    pub fn reconfigure(&mut self, cfg: Config, now: Millis) -> Vec<Output> {
        let mut out = Vec::new();
        let mut sched = Scheduler::new(&cfg.checks, cfg.monitor.concurrency, now, &mut self.rng);
        let mut checks = Vec::with_capacity(cfg.checks.len());
        for (id, c) in cfg.checks.iter().enumerate() {
            let old = self
                .cfg
                .check_by_name(&c.name)
                .filter(|&o| self.cfg.checks[o].kind.type_name() == c.kind.type_name());
            let mut st = match old {
                Some(o) => {
                    if self.sched.is_running(o) {
                        sched.mark_running(id);
                    }
                    std::mem::take(&mut self.checks[o])
                }
                None => CheckState {
                    hb_last: now,
                    ..Default::default()
                },
            };
            if let CheckKind::Heartbeat { grace } = c.kind {
                st.hb_deadline = Some(heartbeat_deadline(&c.schedule, grace, st.hb_last));
            }
            checks.push(st);
        }
        let gone: Vec<String> = self
            .cfg
            .checks
            .iter()
            .filter(|c| cfg.check_by_name(&c.name).is_none())
            .map(|c| c.name.clone())
            .collect();
        self.heartbeats = heartbeat_ids(&cfg);
        self.cfg = cfg;
        self.sched = sched;
        self.checks = checks;
        self.digest_next = self
            .cfg
            .digest
            .as_ref()
            .map(|d| civil::next_time_of_day(now, d.hour, d.minute));
        self.hb_out_next = self.cfg.heartbeat_out.as_ref().map(|_| now);
        for name in gone {
            self.with_alerting(now, &mut out, |a, cx| a.recovered(cx, &name));
        }
        self.update_connectivity(now, &mut out);
        self.tick(now, &mut out);
        out
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Tick => {}
            Input::CheckDone { check, result } => {
                if check < self.checks.len() {
                    for next in self.sched.finished(check) {
                        out.push(Output::RunCheck(next));
                    }
                    self.record_result(now, check, result, &mut out);
                }
            }
            Input::HeartbeatPing { check, result } => {
                if let Some(c) = self.cfg.checks.get(check)
                    && let CheckKind::Heartbeat { grace } = c.kind
                {
                    let s = &mut self.checks[check];
                    s.hb_last = now;
                    s.hb_deadline = Some(heartbeat_deadline(&c.schedule, grace, now));
                    self.record_result(now, check, result, &mut out);
                }
            }
            Input::DeliveryDone { delivery, outcome } => {
                self.with_alerting(now, &mut out, |a, cx| {
                    a.delivery_done(cx, delivery, outcome)
                });
            }
            Input::Ack { incident, by } => {
                self.with_alerting(now, &mut out, |a, cx| a.ack(cx, incident, &by));
            }
            Input::UncleanStart { last_seen } => {
                let seen = last_seen.map(civil::format_utc);
                let m = message::unclean_start(&self.cfg.monitor.name, seen.as_deref());
                let to = self.cfg.monitor.notify.clone();
                self.notify(now, &to, m, &mut out);
            }
            Input::RunNow { check } => {
                if self.sched.run_now(check) {
                    out.push(Output::RunCheck(check));
                }
            }
        }
        self.tick(now, &mut out);
        out
    }

    /// Whether an incident is open (for `lookout ack` answers).
    /// Run `f` on the alerting state with a context borrowing the rest.
    fn with_alerting<R>(
        &mut self,
        now: Millis,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut Alerting, &mut Ctx<'_>) -> R,
    ) -> R {
        let (cfg, checks) = (&self.cfg, &self.checks);
        let last = |n: &str| last_result(cfg, checks, n);
        let mut cx = Ctx {
            cfg,
            now,
            last: &last,
            out,
        };
        f(&mut self.alerting, &mut cx)
    }

    pub fn has_incident(&self, id: IncidentId) -> bool {
        self.alerting.incidents.contains_key(&id)
    }

    fn notify(&mut self, now: Millis, channels: &[ChannelId], m: Message, out: &mut Vec<Output>) {
        let names: Vec<String> = channels
            .iter()
            .map(|&c| self.cfg.channels[c].name.clone())
            .collect();
        self.with_alerting(now, out, |a, cx| a.notify(cx, None, &names, m));
    }

    fn record_result(
        &mut self,
        now: Millis,
        id: CheckId,
        result: CheckResult,
        out: &mut Vec<Output>,
    ) {
        let c = &self.cfg.checks[id];
        let s = &mut self.checks[id];
        let transition = s
            .streak
            .record(result.outcome, c.fail_after, c.recover_after);
        s.last = Some((now, result.clone()));
        out.push(Output::Record(Event::Result {
            check: c.name.clone(),
            at: now,
            result,
        }));
        let Some(t) = transition else { return };
        if self.cfg.monitor.canary.contains(&id) {
            self.update_connectivity(now, out);
            return;
        }
        let name = c.name.clone();
        let policy = c.policy.map(|p| self.cfg.policies[p].name.clone());
        self.with_alerting(now, out, |a, cx| match t {
            Transition::ProblemStarted => a.problem_started(cx, &name, policy.as_deref()),
            Transition::Recovered => a.recovered(cx, &name),
        });
    }

    fn update_connectivity(&mut self, now: Millis, out: &mut Vec<Output>) {
        let canary = &self.cfg.monitor.canary;
        let lost = !canary.is_empty() && canary.iter().all(|&c| self.checks[c].streak.problem);
        let names: Vec<String> = canary
            .iter()
            .map(|&c| self.cfg.checks[c].name.clone())
            .collect();
        // Checks whose last run failed: most have not crossed their own
        // threshold yet when the canary's verdict comes.
        let failing = self
            .checks
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                !canary.contains(i) && s.last.as_ref().is_some_and(|(_, r)| !r.outcome.is_good())
            })
            .count();
        self.with_alerting(now, out, |a, cx| {
            a.set_connectivity(cx, lost, &names, failing)
        });
    }

    fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        for due in self.sched.poll(now, &self.cfg.checks, &mut self.rng) {
            match due {
                Due::Start(id) => out.push(Output::RunCheck(id)),
                Due::SkippedOverlap(id) => out.push(Output::Record(Event::SkippedOverlap {
                    check: self.cfg.checks[id].name.clone(),
                    at: now,
                })),
            }
        }
        // Heartbeats that went quiet.
        for i in 0..self.heartbeats.len() {
            let id = self.heartbeats[i];
            let Some(deadline) = self.checks[id].hb_deadline.filter(|&d| d <= now) else {
                continue;
            };
            let c = &self.cfg.checks[id];
            let CheckKind::Heartbeat { grace } = c.kind else {
                continue;
            };
            let expected = deadline.saturating_sub(grace);
            let next_expected = match &c.schedule {
                Schedule::Every(p) => expected.saturating_add(*p),
                Schedule::Cron(cr) => cr.next_after(expected).unwrap_or(Millis::MAX),
            };
            let last = self.checks[id].hb_last;
            self.checks[id].hb_deadline = Some(next_expected.saturating_add(grace));
            let msg = format!(
                "no ping since {} (grace {})",
                civil::format_utc(last),
                crate::duration::format(grace)
            );
            self.record_result(now, id, CheckResult::new(Outcome::Failed, 0, msg), out);
        }
        if let Some(t) = self.digest_next.filter(|&t| t <= now) {
            let d = self.cfg.digest.clone().expect("digest_next implies digest");
            self.digest_next = Some(civil::next_time_of_day(t.max(now), d.hour, d.minute));
            let failing: Vec<(String, Option<CheckResult>)> = self
                .cfg
                .checks
                .iter()
                .zip(&self.checks)
                .filter(|(_, s)| s.streak.problem)
                .map(|(c, s)| (c.name.clone(), s.last.as_ref().map(|l| l.1.clone())))
                .collect();
            let mentions: Vec<Mention> = failing
                .iter()
                .map(|(n, r)| Mention {
                    name: n,
                    last: r.as_ref(),
                })
                .collect();
            let incidents = self.alerting.incidents_last_day(now);
            let m = message::digest(
                &self.cfg.monitor.name,
                self.cfg.checks.len(),
                &mentions,
                incidents,
            );
            self.notify(now, &d.notify, m, out);
        }
        if let Some(t) = self.hb_out_next.filter(|&t| t <= now) {
            let interval = self
                .cfg
                .heartbeat_out
                .as_ref()
                .map_or(60_000, |h| h.interval);
            self.hb_out_next = Some((t + interval).max(now + 1));
            out.push(Output::OutboundHeartbeat);
        }
        self.with_alerting(now, out, |a, cx| a.tick(cx));
    }

    /// When to call `handle(.., Input::Tick)` next, at the latest.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let hb = self
            .heartbeats
            .iter()
            .filter_map(|&i| self.checks[i].hb_deadline)
            .min();
        [
            self.sched.next_wakeup(),
            hb,
            self.digest_next,
            self.hb_out_next,
            self.alerting.next_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn snapshot(&self, now: Millis) -> Snapshot {
        Snapshot {
            monitor: self.cfg.monitor.name.clone(),
            now,
            started_at: self.started_at,
            checks: self
                .cfg
                .checks
                .iter()
                .zip(&self.checks)
                .enumerate()
                .map(|(i, (c, s))| CheckStatus {
                    name: c.name.clone(),
                    kind: c.kind.type_name(),
                    last: s.last.clone(),
                    failing: s.streak.problem,
                    running: self.sched.is_running(i),
                    next_due: self.sched.next_due(i).or(s.hb_deadline),
                })
                .collect(),
            incidents: self
                .alerting
                .incidents
                .values()
                .map(|i| IncidentStatus {
                    id: i.id,
                    checks: i.members.clone(),
                    active: i.active.iter().cloned().collect(),
                    opened_at: i.opened_at,
                    paged_at: i.paged_at,
                    acked: i.acked.clone(),
                    inhibited: i.inhibited,
                    next_step_at: i.next_step_at(),
                })
                .collect(),
            connectivity_lost_since: self.alerting.connectivity_lost_since,
            pending_deliveries: self.alerting.pending_deliveries(),
            deliveries_in_flight: self.alerting.deliveries_in_flight(),
        }
    }
}

fn heartbeat_ids(cfg: &Config) -> Vec<CheckId> {
    (0..cfg.checks.len())
        .filter(|&i| matches!(cfg.checks[i].kind, CheckKind::Heartbeat { .. }))
        .collect()
}

fn last_result(cfg: &Config, checks: &[CheckState], name: &str) -> Option<CheckResult> {
    let id = cfg.check_by_name(name)?;
    checks.get(id)?.last.as_ref().map(|(_, r)| r.clone())
}

#[cfg(test)]
mod tests;
