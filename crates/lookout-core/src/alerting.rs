//! Incidents and the messages about them: grouping of checks that fail
//! together, the escalation ladder, acknowledgement, the one RESOLVED
//! message, the canary's storm suppression, delivery retries, fallbacks and
//! the SMS/call caps.
//!
//! Checks, channels and policies are held by *name* here, so that state
//! survives a config reload that renumbers them.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::civil::{DAY, HOUR};
use crate::config::{CapKind, Config};
use crate::message::{self, Mention, Message};
use crate::model::{CheckResult, DeliveryId, IncidentId, Millis};
use crate::monitor::{DeliveryOutcome, DeliveryRecord, DeliveryStatus, Event, Output, Send};

/// What the alerting logic needs from its caller for one step.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a Config,
    pub now: Millis,
    pub last: &'a dyn Fn(&str) -> Option<CheckResult>,
    pub out: &'a mut Vec<Output>,
}

impl Ctx<'_> {
    fn mentions<'n>(
        &self,
        names: &'n [String],
        results: &'n [Option<CheckResult>],
    ) -> Vec<Mention<'n>> {
        names
            .iter()
            .zip(results)
            .map(|(n, r)| Mention {
                name: n,
                last: r.as_ref(),
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Incident {
    pub id: IncidentId,
    pub policy: Option<String>,
    /// Every check that was part of it, in order of joining.
    pub members: Vec<String>,
    /// Those still failing.
    pub active: BTreeSet<String>,
    pub opened_at: Millis,
    /// While set, checks that start failing join this incident.
    pub gather_until: Option<Millis>,
    pub paged_at: Option<Millis>,
    /// Held back because the monitor itself lost connectivity.
    pub inhibited: bool,
    pub acked: Option<(Millis, String)>,
    next_step: usize,
    next_at: Option<Millis>,
    fired: u32,
}

#[derive(Clone, Debug)]
struct Pending {
    incident: Option<IncidentId>,
    channel: String,
    attempt: u32,
    message: Message,
    /// Channels this message already went (or goes) to: fallbacks skip them.
    tried: Vec<String>,
    retry_at: Option<Millis>,
    in_flight: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Alerting {
    pub incidents: BTreeMap<IncidentId, Incident>,
    pending: BTreeMap<DeliveryId, Pending>,
    accepted: HashMap<CapKind, VecDeque<Millis>>,
    pub connectivity_lost_since: Option<Millis>,
    next_incident: IncidentId,
    next_delivery: DeliveryId,
    opened_log: VecDeque<Millis>,
}

impl Alerting {
    pub fn new(next_incident: IncidentId, next_delivery: DeliveryId) -> Self {
        Alerting {
            incidents: BTreeMap::new(),
            pending: BTreeMap::new(),
            accepted: HashMap::new(),
            connectivity_lost_since: None,
            next_incident: next_incident.max(1),
            next_delivery: next_delivery.max(1),
            opened_log: VecDeque::new(),
        }
    }

    pub fn incidents_last_day(&mut self, now: Millis) -> usize {
        while self.opened_log.front().is_some_and(|&t| t + DAY <= now) {
            self.opened_log.pop_front();
        }
        self.opened_log.len()
    }

    /// A check crossed its failure threshold.
    pub fn problem_started(&mut self, cx: &mut Ctx<'_>, check: &str, policy: Option<&str>) {
        let now = cx.now;
        // Failing again while its incident is still open: back into it.
        if let Some(inc) = self
            .incidents
            .values_mut()
            .find(|i| i.members.iter().any(|m| m == check))
        {
            inc.active.insert(check.to_string());
            return;
        }
        let policy = policy.map(str::to_string);
        if let Some(inc) = self
            .incidents
            .values_mut()
            .find(|i| i.gather_until.is_some() && i.policy == policy)
        {
            inc.members.push(check.to_string());
            inc.active.insert(check.to_string());
            cx.out.push(Output::Record(Event::IncidentJoined {
                incident: inc.id,
                at: now,
                check: check.to_string(),
            }));
            return;
        }
        let id = self.next_incident;
        self.next_incident += 1;
        self.opened_log.push_back(now);
        self.incidents.insert(
            id,
            Incident {
                id,
                policy: policy.clone(),
                members: vec![check.to_string()],
                active: BTreeSet::from([check.to_string()]),
                opened_at: now,
                gather_until: Some(now + cx.cfg.monitor.group_wait),
                paged_at: None,
                inhibited: false,
                acked: None,
                next_step: 0,
                next_at: None,
                fired: 0,
            },
        );
        cx.out.push(Output::Record(Event::IncidentOpened {
            incident: id,
            at: now,
            check: check.to_string(),
            policy,
        }));
    }

    /// A check crossed its recovery threshold (or left the config).
    pub fn recovered(&mut self, cx: &mut Ctx<'_>, check: &str) {
        let done: Vec<IncidentId> = self
            .incidents
            .values_mut()
            .filter_map(|i| (i.active.remove(check) && i.active.is_empty()).then_some(i.id))
            .collect();
        for id in done {
            self.resolve(cx, id);
        }
    }

    fn resolve(&mut self, cx: &mut Ctx<'_>, id: IncidentId) {
        let Some(inc) = self.incidents.remove(&id) else {
            return;
        };
        let now = cx.now;
        cx.out.push(Output::Record(Event::IncidentResolved {
            incident: id,
            at: now,
        }));
        // Retries of this incident's alerts would now be false news.
        let stale: Vec<DeliveryId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.incident == Some(id) && !p.in_flight)
            .map(|(&d, _)| d)
            .collect();
        for d in stale {
            self.finish(
                cx,
                d,
                DeliveryStatus::Cancelled,
                "incident resolved".into(),
                None,
            );
        }
        if inc.paged_at.is_some()
            && !inc.inhibited
            && let Some(p) = inc.policy.as_deref().and_then(|p| policy(cx.cfg, p))
        {
            let channels: Vec<String> = p
                .resolved
                .iter()
                .map(|&c| cx.cfg.channels[c].name.clone())
                .collect();
            let results = vec![None; inc.members.len()];
            let m = message::resolved(
                &cx.cfg.monitor.name,
                id,
                &cx.mentions(&inc.members, &results),
                now.saturating_sub(inc.opened_at),
            );
            self.notify(cx, Some(id), &channels, m);
        }
    }

    pub fn ack(&mut self, cx: &mut Ctx<'_>, id: IncidentId, by: &str) -> bool {
        let Some(inc) = self.incidents.get_mut(&id) else {
            return false;
        };
        if inc.acked.is_none() {
            inc.acked = Some((cx.now, by.to_string()));
            inc.next_at = None;
            cx.out.push(Output::Record(Event::IncidentAcked {
                incident: id,
                at: cx.now,
                by: by.to_string(),
            }));
        }
        true
    }

    /// The canary's verdict changed.
    pub fn set_connectivity(
        &mut self,
        cx: &mut Ctx<'_>,
        lost: bool,
        canary: &[String],
        failing: usize,
    ) {
        let now = cx.now;
        let notify: Vec<String> = cx
            .cfg
            .monitor
            .notify
            .iter()
            .map(|&c| cx.cfg.channels[c].name.clone())
            .collect();
        match (lost, self.connectivity_lost_since) {
            (true, None) => {
                self.connectivity_lost_since = Some(now);
                cx.out
                    .push(Output::Record(Event::ConnectivityLost { at: now }));
                let results: Vec<Option<CheckResult>> =
                    canary.iter().map(|c| (cx.last)(c)).collect();
                let m = message::connectivity_lost(
                    &cx.cfg.monitor.name,
                    &cx.mentions(canary, &results),
                    failing,
                );
                self.notify(cx, None, &notify, m);
            }
            (false, Some(since)) => {
                self.connectivity_lost_since = None;
                cx.out
                    .push(Output::Record(Event::ConnectivityRestored { at: now }));
                let m = message::connectivity_restored(&cx.cfg.monitor.name, now - since);
                self.notify(cx, None, &notify, m);
                // Incidents held back during the outage and still open are real.
                for inc in self.incidents.values_mut().filter(|i| i.inhibited) {
                    inc.inhibited = false;
                    page(inc, cx);
                }
            }
            _ => {}
        }
    }

    /// Act on everything due at `cx.now`.
    pub fn tick(&mut self, cx: &mut Ctx<'_>) {
        let now = cx.now;
        let lost = self.connectivity_lost_since.is_some();
        for inc in self.incidents.values_mut() {
            if inc.gather_until.is_some_and(|t| t <= now) {
                inc.gather_until = None;
                if inc.policy.is_none() {
                    continue; // recorded, never paged
                }
                if lost {
                    inc.inhibited = true;
                    cx.out.push(Output::Record(Event::IncidentPaged {
                        incident: inc.id,
                        at: now,
                        inhibited: true,
                    }));
                } else {
                    page(inc, cx);
                }
            }
        }
        if !lost {
            let due: Vec<IncidentId> = self
                .incidents
                .values()
                .filter(|i| i.acked.is_none() && i.next_at.is_some_and(|t| t <= now))
                .map(|i| i.id)
                .collect();
            for id in due {
                self.fire_step(cx, id);
            }
        }
        let retries: Vec<DeliveryId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.retry_at.is_some_and(|t| t <= now))
            .map(|(&d, _)| d)
            .collect();
        for d in retries {
            if let Some(p) = self.pending.get_mut(&d) {
                p.retry_at = None;
            }
            self.try_send(cx, d);
        }
    }

    fn fire_step(&mut self, cx: &mut Ctx<'_>, id: IncidentId) {
        let now = cx.now;
        let Some(inc) = self.incidents.get_mut(&id) else {
            return;
        };
        let Some(p) = inc.policy.as_deref().and_then(|p| policy(cx.cfg, p)) else {
            inc.next_at = None;
            return;
        };
        let step = inc.next_step.min(p.steps.len() - 1);
        let channels: Vec<String> = p.steps[step]
            .notify
            .iter()
            .map(|&c| cx.cfg.channels[c].name.clone())
            .collect();
        let active: Vec<String> = inc.active.iter().cloned().collect();
        let results: Vec<Option<CheckResult>> = active.iter().map(|c| (cx.last)(c)).collect();
        let mentions = cx.mentions(&active, &results);
        let m = if inc.fired == 0 {
            message::alert(&cx.cfg.monitor.name, id, &mentions)
        } else {
            message::reminder(&cx.cfg.monitor.name, id, &mentions, now - inc.opened_at)
        };
        inc.fired += 1;
        let paged_at = inc.paged_at.unwrap_or(now);
        if step + 1 < p.steps.len() {
            inc.next_step = step + 1;
            inc.next_at = Some((paged_at + p.steps[step + 1].after).max(now));
        } else {
            inc.next_step = step;
            inc.next_at = p.repeat.map(|r| now + r);
        }
        self.notify(cx, Some(id), &channels, m);
    }

    /// Send `message` to each channel (one delivery per channel).
    pub fn notify(
        &mut self,
        cx: &mut Ctx<'_>,
        incident: Option<IncidentId>,
        channels: &[String],
        message: Message,
    ) {
        for ch in channels {
            let id = self.next_delivery;
            self.next_delivery += 1;
            self.pending.insert(
                id,
                Pending {
                    incident,
                    channel: ch.clone(),
                    attempt: 1,
                    message: message.clone(),
                    tried: channels.to_vec(),
                    retry_at: None,
                    in_flight: false,
                },
            );
            self.try_send(cx, id);
        }
    }

    fn in_flight(&self, cfg: &Config, kind: CapKind) -> u32 {
        self.pending
            .values()
            .filter(|p| p.in_flight && channel_cap(cfg, &p.channel) == Some(kind))
            .count() as u32
    }

    fn cap_reached(&mut self, cfg: &Config, kind: CapKind, now: Millis) -> Option<&'static str> {
        let (per_hour, per_day) = match kind {
            CapKind::Sms => (cfg.limits.sms_per_hour, cfg.limits.sms_per_day),
            CapKind::Call => (cfg.limits.calls_per_hour, cfg.limits.calls_per_day),
        };
        let inflight = self.in_flight(cfg, kind);
        let list = self.accepted.entry(kind).or_default();
        while list.front().is_some_and(|&t| t + DAY <= now) {
            list.pop_front();
        }
        let hour = list.iter().filter(|&&t| t + HOUR > now).count() as u32 + inflight;
        let day = list.len() as u32 + inflight;
        if per_hour.is_some_and(|c| hour >= c) {
            Some("hourly cap reached")
        } else if per_day.is_some_and(|c| day >= c) {
            Some("daily cap reached")
        } else {
            None
        }
    }

    fn try_send(&mut self, cx: &mut Ctx<'_>, id: DeliveryId) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        let Some(ch) = cx.cfg.channels.iter().position(|c| c.name == p.channel) else {
            self.finish(
                cx,
                id,
                DeliveryStatus::Cancelled,
                "channel no longer configured".into(),
                None,
            );
            return;
        };
        if let Some(kind) = cx.cfg.channels[ch].kind.cap_kind()
            && let Some(why) = self.cap_reached(cx.cfg, kind, cx.now)
        {
            self.record(cx, id, DeliveryStatus::Capped, why.into(), None);
            self.fall_back(cx, id);
            return;
        }
        let p = self.pending.get_mut(&id).expect("checked above");
        p.in_flight = true;
        cx.out.push(Output::Send(Send {
            delivery: id,
            channel: ch,
            attempt: p.attempt,
            message: p.message.clone(),
        }));
    }

    pub fn delivery_done(&mut self, cx: &mut Ctx<'_>, id: DeliveryId, outcome: DeliveryOutcome) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        p.in_flight = false;
        match outcome {
            DeliveryOutcome::Accepted {
                provider_id,
                detail,
            } => {
                if let Some(kind) = channel_cap(cx.cfg, &p.channel) {
                    self.accepted.entry(kind).or_default().push_back(cx.now);
                }
                self.finish(cx, id, DeliveryStatus::Accepted, detail, provider_id);
            }
            DeliveryOutcome::Transient {
                detail,
                retry_after,
            } => {
                self.record(cx, id, DeliveryStatus::Transient, detail, None);
                let p = self.pending.get_mut(&id).expect("present");
                if p.attempt < cx.cfg.delivery.max_attempts {
                    let backoff = cx
                        .cfg
                        .delivery
                        .backoff
                        .saturating_mul(1 << (p.attempt - 1).min(16));
                    p.attempt += 1;
                    p.retry_at = Some(cx.now + backoff.max(retry_after.unwrap_or(0)));
                } else {
                    self.fall_back(cx, id);
                }
            }
            DeliveryOutcome::Permanent { detail } => {
                self.record(cx, id, DeliveryStatus::Permanent, detail, None);
                self.fall_back(cx, id);
            }
        }
    }

    fn fall_back(&mut self, cx: &mut Ctx<'_>, id: DeliveryId) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let next = cx
            .cfg
            .channels
            .iter()
            .find(|c| c.name == p.channel)
            .and_then(|c| c.fallback)
            .map(|f| cx.cfg.channels[f].name.clone())
            .filter(|f| !p.tried.contains(f));
        match next {
            Some(f) => {
                p.tried.push(f.clone());
                p.channel = f;
                p.attempt = 1;
                self.try_send(cx, id);
            }
            None => {
                self.pending.remove(&id);
                cx.out.push(Output::Record(Event::DeliveryGaveUp {
                    delivery: id,
                    at: cx.now,
                }));
            }
        }
    }

    fn record(
        &self,
        cx: &mut Ctx<'_>,
        id: DeliveryId,
        status: DeliveryStatus,
        detail: String,
        provider_id: Option<String>,
    ) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        cx.out.push(Output::Record(Event::Delivery(DeliveryRecord {
            delivery: id,
            incident: p.incident,
            channel: p.channel.clone(),
            kind: p.message.kind,
            attempt: p.attempt,
            at: cx.now,
            status,
            detail,
            provider_id,
        })));
    }

    fn finish(
        &mut self,
        cx: &mut Ctx<'_>,
        id: DeliveryId,
        status: DeliveryStatus,
        detail: String,
        provider_id: Option<String>,
    ) {
        self.record(cx, id, status, detail, provider_id);
        self.pending.remove(&id);
    }

    pub fn next_wakeup(&self) -> Option<Millis> {
        let lost = self.connectivity_lost_since.is_some();
        let incidents = self.incidents.values().flat_map(|i| {
            let step = if lost || i.acked.is_some() {
                None
            } else {
                i.next_at
            };
            [i.gather_until, step]
        });
        let retries = self.pending.values().map(|p| p.retry_at);
        incidents.chain(retries).flatten().min()
    }

    pub fn pending_deliveries(&self) -> usize {
        self.pending.len()
    }

    pub fn deliveries_in_flight(&self) -> usize {
        self.pending.values().filter(|p| p.in_flight).count()
    }
}

fn page(inc: &mut Incident, cx: &mut Ctx<'_>) {
    let Some(p) = inc.policy.as_deref().and_then(|p| policy(cx.cfg, p)) else {
        return;
    };
    inc.paged_at = Some(cx.now);
    inc.next_step = 0;
    inc.next_at = Some(cx.now + p.steps[0].after);
    cx.out.push(Output::Record(Event::IncidentPaged {
        incident: inc.id,
        at: cx.now,
        inhibited: false,
    }));
}

fn policy<'c>(cfg: &'c Config, name: &str) -> Option<&'c crate::config::PolicyCfg> {
    cfg.policies.iter().find(|p| p.name == name)
}

fn channel_cap(cfg: &Config, name: &str) -> Option<CapKind> {
    cfg.channels
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.kind.cap_kind())
}

impl Incident {
    /// For the status page: when the next escalation step is due.
    pub fn next_step_at(&self) -> Option<Millis> {
        self.next_at
    }
}
