//! The daemon's one loop around the core: wake when the core asks, run
//! checks and deliveries as separate tasks (so none waits for another),
//! feed their results back, and write every event to the history.

use std::sync::Arc;

use lookout_core::config::Config;
use lookout_core::model::{CheckResult, DeliveryId, IncidentId, Millis, Outcome};
use lookout_core::monitor::{DeliveryOutcome, Event, Input, Monitor, Output, Snapshot};
use tokio::sync::{mpsc, oneshot};

use crate::checks::Checker;
use crate::clock::Clock;
use crate::notify::Notifier;
use crate::secrets::Secrets;
use crate::store::{StartInfo, Store};

/// A config with everything built from it, ready to swap in.
pub struct Loaded {
    pub cfg: Config,
    pub secrets: Secrets,
    pub checker: Checker,
    pub notifier: Notifier,
}

impl Loaded {
    pub fn new(cfg: Config) -> anyhow::Result<Loaded> {
        let secrets = Secrets::resolve(&cfg)?;
        let checker = Checker::new(&cfg)?;
        let notifier = Notifier::new(&cfg, &secrets)?;
        Ok(Loaded {
            cfg,
            secrets,
            checker,
            notifier,
        })
    }
}

pub enum Control {
    Ack {
        incident: IncidentId,
        by: String,
        reply: oneshot::Sender<bool>,
    },
    Heartbeat {
        check: String,
        ok: bool,
        message: String,
        reply: oneshot::Sender<bool>,
    },
    Snapshot(oneshot::Sender<Snapshot>),
    RunNow {
        check: String,
        reply: oneshot::Sender<bool>,
    },
    Reload(Box<Loaded>, oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// How the rest of the daemon (web server, signal handlers, tests) talks
/// to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Control>,
}

impl EngineHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Control) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    pub async fn ack(&self, incident: IncidentId, by: &str) -> bool {
        let by = by.to_string();
        self.ask(|reply| Control::Ack {
            incident,
            by,
            reply,
        })
        .await
        .unwrap_or(false)
    }

    pub async fn heartbeat(&self, check: &str, ok: bool, message: String) -> bool {
        let check = check.to_string();
        self.ask(|reply| Control::Heartbeat {
            check,
            ok,
            message,
            reply,
        })
        .await
        .unwrap_or(false)
    }

    pub async fn snapshot(&self) -> Option<Snapshot> {
        self.ask(Control::Snapshot).await
    }

    pub async fn run_now(&self, check: &str) -> bool {
        let check = check.to_string();
        self.ask(|reply| Control::RunNow { check, reply })
            .await
            .unwrap_or(false)
    }

    pub async fn reload(&self, l: Loaded) {
        self.ask(|reply| Control::Reload(Box::new(l), reply)).await;
    }

    pub async fn stop(&self) {
        self.ask(Control::Stop).await;
    }
}

pub struct Engine {
    monitor: Monitor,
    loaded: Arc<Loaded>,
    clock: Arc<dyn Clock>,
    store: Store,
    ctrl: mpsc::Receiver<Control>,
    results_tx: mpsc::UnboundedSender<(String, CheckResult)>,
    results_rx: mpsc::UnboundedReceiver<(String, CheckResult)>,
    deliveries_tx: mpsc::UnboundedSender<(DeliveryId, DeliveryOutcome)>,
    deliveries_rx: mpsc::UnboundedReceiver<(DeliveryId, DeliveryOutcome)>,
    http: reqwest::Client,
    last_alive: Millis,
    stopping: bool,
}

impl Engine {
    pub fn new(
        loaded: Loaded,
        clock: Arc<dyn Clock>,
        store: Store,
        start: &StartInfo,
        seed: u64,
    ) -> (Engine, EngineHandle) {
        let now = clock.now();
        let mut monitor = Monitor::new(
            loaded.cfg.clone(),
            now,
            seed,
            (start.next_incident, start.next_delivery),
        );
        for (id, c) in loaded.cfg.checks.iter().enumerate() {
            if let Some(&t) = start.last_good.get(&c.name) {
                monitor.restore_heartbeat(id, t);
            }
        }
        let (tx, ctrl) = mpsc::channel(64);
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        let (deliveries_tx, deliveries_rx) = mpsc::unbounded_channel();
        let engine = Engine {
            monitor,
            loaded: Arc::new(loaded),
            clock,
            store,
            ctrl,
            results_tx,
            results_rx,
            deliveries_tx,
            deliveries_rx,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            last_alive: now,
            stopping: false,
        };
        (engine, EngineHandle { tx })
    }

    /// Feed one input now (used once at start for the unclean-stop alert).
    pub fn input(&mut self, input: Input) {
        let now = self.clock.now();
        let out = self.monitor.handle(now, input);
        self.carry_out(now, out);
    }

    pub async fn run(mut self) {
        loop {
            let wake = self.monitor.next_wakeup().unwrap_or(Millis::MAX);
            let clock = self.clock.clone();
            let input = tokio::select! {
                _ = clock.sleep_until(wake) => Input::Tick,
                Some((name, result)) = self.results_rx.recv() => {
                    // Runs started before a reload report by name.
                    match self.monitor.config().check_by_name(&name) {
                        Some(check) => Input::CheckDone { check, result },
                        None => continue,
                    }
                }
                Some((delivery, outcome)) = self.deliveries_rx.recv() => Input::DeliveryDone { delivery, outcome },
                c = self.ctrl.recv() => match c {
                    None => return,
                    Some(c) => match self.control(c).await {
                        Some(i) => i,
                        None => {
                            if self.stopping { return; }
                            continue;
                        }
                    },
                },
            };
            let now = self.clock.now();
            let out = self.monitor.handle(now, input);
            self.carry_out(now, out);
            if now >= self.last_alive + 60_000 {
                self.last_alive = now;
                self.store.alive(now);
            }
        }
    }

    async fn control(&mut self, c: Control) -> Option<Input> {
        let now = self.clock.now();
        match c {
            Control::Ack {
                incident,
                by,
                reply,
            } => {
                let known = self.monitor.has_incident(incident);
                let _ = reply.send(known);
                known.then_some(Input::Ack { incident, by })
            }
            Control::Heartbeat {
                check,
                ok,
                message,
                reply,
            } => {
                let id = self.monitor.config().check_by_name(&check).filter(|&i| {
                    matches!(
                        self.monitor.config().checks[i].kind,
                        lookout_core::config::CheckKind::Heartbeat { .. }
                    )
                });
                let _ = reply.send(id.is_some());
                let outcome = if ok { Outcome::Good } else { Outcome::Failed };
                let message = if message.is_empty() {
                    if ok {
                        "ping".into()
                    } else {
                        "job reported failure".into()
                    }
                } else {
                    message
                };
                id.map(|check| Input::HeartbeatPing {
                    check,
                    result: CheckResult::new(outcome, 0, message),
                })
            }
            Control::Snapshot(reply) => {
                // Act on anything due first, so the picture is current.
                let out = self.monitor.handle(now, Input::Tick);
                self.carry_out(now, out);
                let _ = reply.send(self.monitor.snapshot(now));
                None
            }
            Control::RunNow { check, reply } => {
                let id = self.monitor.config().check_by_name(&check);
                let _ = reply.send(id.is_some());
                id.map(|check| Input::RunNow { check })
            }
            Control::Reload(l, reply) => {
                let out = self.monitor.reconfigure(l.cfg.clone(), now);
                self.loaded = Arc::new(*l);
                self.carry_out(now, out);
                let _ = reply.send(());
                None
            }
            Control::Stop(reply) => {
                let _ = self.store.clean_stop().await;
                let _ = reply.send(());
                self.stopping = true;
                None
            }
        }
    }

    fn carry_out(&mut self, now: Millis, out: Vec<Output>) {
        for o in out {
            match o {
                Output::RunCheck(id) => {
                    let loaded = self.loaded.clone();
                    let tx = self.results_tx.clone();
                    tokio::spawn(async move {
                        let check = &loaded.cfg.checks[id];
                        let result = loaded.checker.run(check, now).await;
                        let _ = tx.send((check.name.clone(), result));
                    });
                }
                Output::Send(s) => {
                    let loaded = self.loaded.clone();
                    let tx = self.deliveries_tx.clone();
                    tokio::spawn(async move {
                        let kind = &loaded.cfg.channels[s.channel].kind;
                        let outcome = loaded.notifier.deliver(kind, &s.message).await;
                        let _ = tx.send((s.delivery, outcome));
                    });
                }
                Output::OutboundHeartbeat => {
                    if let Some(h) = &self.loaded.cfg.heartbeat_out {
                        let (http, url) = (self.http.clone(), h.url.clone());
                        tokio::spawn(async move {
                            if let Err(e) = http
                                .get(&url)
                                .send()
                                .await
                                .and_then(|r| r.error_for_status())
                            {
                                daemon::log::warn(&format!(
                                    "outbound heartbeat: {}",
                                    e.without_url()
                                ));
                            }
                        });
                    }
                }
                Output::Record(e) => {
                    log_event(&e);
                    self.store.record(e);
                }
            }
        }
    }
}

/// Incidents and deliveries go to the log too (never message bodies'
/// secrets: there are none in them, and tokens never reach events).
fn log_event(e: &Event) {
    let line = match e {
        Event::IncidentOpened {
            incident, check, ..
        } => format!("incident {incident} opened: {check}"),
        Event::IncidentResolved { incident, .. } => format!("incident {incident} resolved"),
        Event::IncidentAcked { incident, by, .. } => {
            format!("incident {incident} acknowledged by {by}")
        }
        Event::Delivery(d) => format!(
            "delivery {} ({}) via {} attempt {}: {} {}",
            d.delivery,
            d.kind.as_str(),
            d.channel,
            d.attempt,
            d.status.as_str(),
            d.detail
        ),
        Event::DeliveryGaveUp { delivery, .. } => {
            format!("delivery {delivery}: every channel failed")
        }
        Event::ConnectivityLost { .. } => {
            "monitor lost connectivity (all canary checks failing)".into()
        }
        Event::ConnectivityRestored { .. } => "monitor connectivity restored".into(),
        _ => return,
    };
    daemon::log::warn(&line);
}
