//! History in SQLite: every result, incident and delivery attempt, plus
//! per-day GOOD/total counts that outlive the raw results, so 90-day uptime
//! stays cheap to compute and the database stays small.
//!
//! One thread owns the connection; writes queue up and are committed in
//! batches (one transaction per wake-up), so 1,000 checks every 10 s cost
//! one fsync per batch, not one per result.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

use anyhow::Context;
use lookout_core::civil::{self, DAY, HOUR};
use lookout_core::model::{IncidentId, Millis};
use lookout_core::monitor::Event;
use rusqlite::{Connection, OptionalExtension, params};

/// Incidents and deliveries are kept at least this long, whatever the
/// retention of raw results.
const KEEP_INCIDENTS: Millis = 400 * DAY;

/// How long writes may wait to share a transaction.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS results (
    check_name TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL,
    duration_ms INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_check ON results (check_name, at);
CREATE INDEX IF NOT EXISTS results_by_time ON results (at);
CREATE TABLE IF NOT EXISTS daily (
    check_name TEXT NOT NULL, day INTEGER NOT NULL, good INTEGER NOT NULL, total INTEGER NOT NULL,
    PRIMARY KEY (check_name, day));
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, opened_at INTEGER NOT NULL, checks TEXT NOT NULL, policy TEXT,
    paged_at INTEGER, inhibited INTEGER NOT NULL DEFAULT 0, acked_at INTEGER, acked_by TEXT,
    resolved_at INTEGER, note TEXT);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery INTEGER NOT NULL, incident INTEGER, channel TEXT NOT NULL, kind TEXT NOT NULL,
    attempt INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL,
    provider_id TEXT);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (at);
CREATE TABLE IF NOT EXISTS monitor_events (at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"#;

/// What the previous run left behind.
#[derive(Clone, Debug, Default)]
pub struct StartInfo {
    /// The last run did not record a clean stop.
    pub unclean: bool,
    pub last_alive: Option<Millis>,
    pub next_incident: IncidentId,
    pub next_delivery: u64,
    /// Last GOOD result per check (heartbeats resume their deadline).
    pub last_good: HashMap<String, Millis>,
}

#[derive(Clone, Debug)]
pub struct IncidentRow {
    pub id: IncidentId,
    pub opened_at: Millis,
    pub checks: String,
    pub paged_at: Option<Millis>,
    pub acked_at: Option<Millis>,
    pub acked_by: Option<String>,
    pub resolved_at: Option<Millis>,
    pub note: Option<String>,
}

#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub delivery: u64,
    pub incident: Option<IncidentId>,
    pub channel: String,
    pub kind: String,
    pub attempt: u32,
    pub at: Millis,
    pub status: String,
    pub detail: String,
    pub provider_id: Option<String>,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Cmd {
    Event(Event),
    Alive(Millis),
    Job(Job),
}

/// A handle to the history; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
}

impl Store {
    /// Open (or create) the database, prune it, and find out how the last
    /// run ended. `now` marks this run as started.
    pub fn open(path: &Path, retention: Millis, now: Millis) -> anyhow::Result<(Store, StartInfo)> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut conn =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA).context("creating the schema")?;
        let info = start_info(&conn)?;
        let tx = conn.transaction()?;
        if let Some(seen) = info.last_alive.filter(|_| info.unclean) {
            tx.execute(
                "UPDATE incidents SET resolved_at = ?1, note = 'monitor stopped' WHERE resolved_at IS NULL",
                params![seen as i64],
            )?;
        } else {
            tx.execute(
                "UPDATE incidents SET resolved_at = ?1, note = 'monitor stopped' WHERE resolved_at IS NULL",
                params![now as i64],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('running', 1)",
            [],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_alive', ?1)",
            params![now as i64],
        )?;
        tx.commit()?;
        prune(&conn, retention, now)?;

        let (tx, rx) = mpsc::channel::<Cmd>();
        std::thread::Builder::new()
            .name("lookout-store".into())
            .spawn(move || writer(conn, rx, retention))
            .context("starting the store thread")?;
        Ok((Store { tx }, info))
    }

    pub fn record(&self, e: Event) {
        let _ = self.tx.send(Cmd::Event(e));
    }

    /// Note that the monitor is alive at `now` (for the unclean-stop alert).
    pub fn alive(&self, now: Millis) {
        let _ = self.tx.send(Cmd::Alive(now));
    }

    /// Run `f` on the store thread, after every write queued before it.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            let _ = otx.send(f(c));
        });
        self.tx
            .send(Cmd::Job(job))
            .map_err(|_| anyhow::anyhow!("store stopped"))?;
        orx.await.map_err(|_| anyhow::anyhow!("store stopped"))?
    }

    /// Record a clean stop; returns once it is on disk.
    pub async fn clean_stop(&self) -> anyhow::Result<()> {
        self.query(|c| {
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('running', 0)",
                [],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn uptime(
        &self,
        days: u32,
        today: i64,
    ) -> anyhow::Result<HashMap<String, (u64, u64)>> {
        self.query(move |c| {
            let mut st = c.prepare_cached(
                "SELECT check_name, SUM(good), SUM(total) FROM daily WHERE day > ?1 GROUP BY check_name",
            )?;
            let rows = st.query_map(params![today - days as i64], |r| {
                Ok((r.get::<_, String>(0)?, (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn recent_incidents(&self, limit: u32) -> anyhow::Result<Vec<IncidentRow>> {
        self.query(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, opened_at, checks, paged_at, acked_at, acked_by, resolved_at, note
                 FROM incidents ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit], |r| {
                Ok(IncidentRow {
                    id: r.get::<_, i64>(0)? as u64,
                    opened_at: r.get::<_, i64>(1)? as u64,
                    checks: r.get(2)?,
                    paged_at: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    acked_at: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    acked_by: r.get(5)?,
                    resolved_at: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    note: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn deliveries(&self, limit: u32) -> anyhow::Result<Vec<DeliveryRow>> {
        self.query(move |c| {
            let mut st = c.prepare_cached(
                "SELECT delivery, incident, channel, kind, attempt, at, status, detail, provider_id
                 FROM deliveries ORDER BY rowid DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit], |r| {
                Ok(DeliveryRow {
                    delivery: r.get::<_, i64>(0)? as u64,
                    incident: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                    channel: r.get(2)?,
                    kind: r.get(3)?,
                    attempt: r.get::<_, i64>(4)? as u32,
                    at: r.get::<_, i64>(5)? as u64,
                    status: r.get(6)?,
                    detail: r.get(7)?,
                    provider_id: r.get(8)?,
                })
            })?;
            let mut v: Vec<DeliveryRow> = rows.collect::<Result<_, _>>()?;
            v.reverse();
            Ok(v)
        })
        .await
    }

    pub async fn result_count(&self, check: &str) -> anyhow::Result<u64> {
        let check = check.to_string();
        self.query(move |c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM results WHERE check_name = ?1",
                params![check],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }
}

fn start_info(conn: &Connection) -> anyhow::Result<StartInfo> {
    let meta = |k: &str| -> anyhow::Result<Option<i64>> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![k], |r| {
                r.get(0)
            })
            .optional()?)
    };
    let running = meta("running")?;
    let last_alive = meta("last_alive")?.map(|v| v as u64);
    let next_incident: i64 =
        conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM incidents", [], |r| {
            r.get(0)
        })?;
    let next_delivery: i64 = conn.query_row(
        "SELECT COALESCE(MAX(delivery), 0) + 1 FROM deliveries",
        [],
        |r| r.get(0),
    )?;
    let mut last_good = HashMap::new();
    let mut st = conn.prepare(
        "SELECT check_name, MAX(at) FROM results WHERE outcome = 'GOOD' GROUP BY check_name",
    )?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (k, v) = row?;
        last_good.insert(k, v as u64);
    }
    Ok(StartInfo {
        unclean: running == Some(1),
        last_alive,
        next_incident: next_incident as u64,
        next_delivery: next_delivery as u64,
        last_good,
    })
}

fn prune(conn: &Connection, retention: Millis, now: Millis) -> anyhow::Result<()> {
    let cut = now.saturating_sub(retention) as i64;
    let keep = now.saturating_sub(KEEP_INCIDENTS.max(retention)) as i64;
    conn.execute("DELETE FROM results WHERE at < ?1", params![cut])?;
    conn.execute("DELETE FROM deliveries WHERE at < ?1", params![keep])?;
    conn.execute(
        "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1",
        params![keep],
    )?;
    conn.execute("DELETE FROM monitor_events WHERE at < ?1", params![keep])?;
    conn.execute(
        "DELETE FROM daily WHERE day < ?1",
        params![civil::day_number(keep as u64)],
    )?;
    Ok(())
}

fn apply(tx: &rusqlite::Transaction<'_>, e: &Event) -> rusqlite::Result<()> {
    match e {
        Event::Result { check, at, result } => {
            tx.prepare_cached("INSERT INTO results (check_name, at, outcome, duration_ms, message) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![check, *at as i64, result.outcome.as_str(), result.duration_ms as i64, result.message])?;
            tx.prepare_cached(
                "INSERT INTO daily (check_name, day, good, total) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (check_name, day) DO UPDATE SET good = good + ?3, total = total + 1",
            )?
            .execute(params![
                check,
                civil::day_number(*at),
                result.outcome.is_good() as i64
            ])?;
        }
        Event::SkippedOverlap { .. } => {}
        Event::IncidentOpened {
            incident,
            at,
            check,
            policy,
        } => {
            tx.execute(
                "INSERT OR REPLACE INTO incidents (id, opened_at, checks, policy) VALUES (?1, ?2, ?3, ?4)",
                params![*incident as i64, *at as i64, check, policy],
            )?;
        }
        Event::IncidentJoined {
            incident, check, ..
        } => {
            tx.execute(
                "UPDATE incidents SET checks = checks || ', ' || ?2 WHERE id = ?1",
                params![*incident as i64, check],
            )?;
        }
        Event::IncidentPaged {
            incident,
            at,
            inhibited,
        } => {
            tx.execute(
                "UPDATE incidents SET paged_at = CASE WHEN ?3 THEN paged_at ELSE ?2 END, inhibited = ?3 WHERE id = ?1",
                params![*incident as i64, *at as i64, *inhibited],
            )?;
        }
        Event::IncidentResolved { incident, at } => {
            tx.execute(
                "UPDATE incidents SET resolved_at = ?2 WHERE id = ?1",
                params![*incident as i64, *at as i64],
            )?;
        }
        Event::IncidentAcked { incident, at, by } => {
            tx.execute(
                "UPDATE incidents SET acked_at = ?2, acked_by = ?3 WHERE id = ?1",
                params![*incident as i64, *at as i64, by],
            )?;
        }
        Event::Delivery(d) => {
            tx.prepare_cached(
                "INSERT INTO deliveries (delivery, incident, channel, kind, attempt, at, status, detail, provider_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                d.delivery as i64,
                d.incident.map(|i| i as i64),
                d.channel,
                d.kind.as_str(),
                d.attempt,
                d.at as i64,
                d.status.as_str(),
                d.detail,
                d.provider_id
            ])?;
        }
        Event::DeliveryGaveUp { delivery, at } => {
            tx.execute(
                "INSERT INTO monitor_events (at, kind, detail) VALUES (?1, 'delivery-gave-up', ?2)",
                params![
                    *at as i64,
                    format!("delivery {delivery}: every channel failed")
                ],
            )?;
        }
        Event::ConnectivityLost { at } => {
            tx.execute("INSERT INTO monitor_events (at, kind, detail) VALUES (?1, 'connectivity-lost', '')", params![*at as i64])?;
        }
        Event::ConnectivityRestored { at } => {
            tx.execute(
                "INSERT INTO monitor_events (at, kind, detail) VALUES (?1, 'connectivity-restored', '')",
                params![*at as i64],
            )?;
        }
    }
    Ok(())
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Cmd>, retention: Millis) {
    let mut last_prune: Millis = 0;
    while let Ok(first) = rx.recv() {
        // Gather writes for a moment so that one transaction carries many
        // results; a query (someone is waiting) ends the gathering at once.
        let gather_until = std::time::Instant::now() + BATCH_WINDOW;
        let mut waiting = matches!(first, Cmd::Job(_));
        let mut batch = vec![first];
        while batch.len() < 5000 && !waiting {
            let left = gather_until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(c) => {
                    waiting = matches!(c, Cmd::Job(_));
                    batch.push(c);
                }
                Err(_) => break,
            }
        }
        let mut jobs = Vec::new();
        let mut newest: Millis = 0;
        match conn.transaction() {
            Ok(tx) => {
                for c in batch {
                    match c {
                        Cmd::Event(e) => {
                            if let Event::Result { at, .. } = &e {
                                newest = newest.max(*at);
                            }
                            if let Err(err) = apply(&tx, &e) {
                                daemon::log::warn(&format!("history: {err}"));
                            }
                        }
                        Cmd::Alive(t) => {
                            newest = newest.max(t);
                            let _ = tx.execute(
                                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_alive', ?1)",
                                params![t as i64],
                            );
                        }
                        Cmd::Job(j) => jobs.push(j),
                    }
                }
                if let Err(err) = tx.commit() {
                    daemon::log::warn(&format!("history commit: {err}"));
                }
            }
            Err(err) => daemon::log::warn(&format!("history: {err}")),
        }
        // Jobs run after the writes queued before them are committed.
        for j in jobs {
            j(&mut conn);
        }
        if newest > last_prune + HOUR {
            last_prune = newest;
            if let Err(err) = prune(&conn, retention, newest) {
                daemon::log::warn(&format!("history prune: {err}"));
            }
        }
    }
}
