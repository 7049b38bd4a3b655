//! The HTTP side: status page, JSON status, inbound heartbeat URLs and the
//! acknowledgement endpoint.
//!
//! * `GET /`: the status page (HTML)
//! * `GET /api/status`: the same as JSON (`lookout status` reads it)
//! * `GET|POST /heartbeat/{check}`: a heartbeat check's ping (GOOD)
//! * `GET|POST /heartbeat/{check}/fail`: the job reports failure (FAILED)
//! * `POST /ack/{incident}`: acknowledge (Bearer token when `ack_token` is set)
//! * `GET /healthz`

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use lookout_core::civil;
use lookout_core::model::IncidentId;
use lookout_core::monitor::Snapshot;
use serde_json::{Value, json};

use crate::engine::EngineHandle;
use crate::secrets::Secret;
use crate::store::{IncidentRow, Store};

#[derive(Clone)]
pub struct AppState {
    pub engine: EngineHandle,
    pub store: Store,
    pub ack_token: Option<Secret>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/status", get(api_status))
        .route("/heartbeat/{check}", get(hb_good).post(hb_good_post))
        .route("/heartbeat/{check}/fail", get(hb_fail).post(hb_fail_post))
        .route("/ack/{incident}", post(ack))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(state)
}

/// Serve until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) {
    if let Err(e) = axum::serve(listener, router(state)).await {
        daemon::log::warn(&format!("http server: {e}"));
    }
}

/// What the page and the JSON show, gathered once.
pub struct StatusData {
    pub snap: Snapshot,
    /// Per check: (good, total) over 7, 30 and 90 days.
    pub uptime: [HashMap<String, (u64, u64)>; 3],
    pub recent: Vec<IncidentRow>,
}

pub async fn gather(state: &AppState) -> Option<StatusData> {
    let snap = state.engine.snapshot().await?;
    let today = civil::day_number(snap.now);
    let (a, b, c) = tokio::join!(
        state.store.uptime(7, today),
        state.store.uptime(30, today),
        state.store.uptime(90, today)
    );
    let recent = state.store.recent_incidents(20).await.ok()?;
    Some(StatusData {
        snap,
        uptime: [a.ok()?, b.ok()?, c.ok()?],
        recent,
    })
}

pub fn uptime_pct(u: &HashMap<String, (u64, u64)>, check: &str) -> Option<f64> {
    u.get(check)
        .filter(|(_, t)| *t > 0)
        .map(|(g, t)| *g as f64 * 100.0 / *t as f64)
}

pub fn status_json(d: &StatusData) -> Value {
    let checks: Vec<Value> = d
        .snap
        .checks
        .iter()
        .map(|c| {
            let (state, message, at, dur) = match &c.last {
                Some((at, r)) => (
                    r.outcome.as_str(),
                    r.message.as_str(),
                    Some(*at),
                    Some(r.duration_ms),
                ),
                None => ("PENDING", "", None, None),
            };
            json!({
                "name": c.name, "type": c.kind, "state": state, "failing": c.failing,
                "message": message, "at": at, "duration_ms": dur, "running": c.running,
                "next_due": c.next_due,
                "uptime": {
                    "d7": uptime_pct(&d.uptime[0], &c.name),
                    "d30": uptime_pct(&d.uptime[1], &c.name),
                    "d90": uptime_pct(&d.uptime[2], &c.name),
                },
            })
        })
        .collect();
    let open: Vec<Value> = d
        .snap
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "checks": i.checks, "active": i.active, "opened_at": i.opened_at,
                "paged_at": i.paged_at, "acked_at": i.acked.as_ref().map(|a| a.0),
                "acked_by": i.acked.as_ref().map(|a| a.1.clone()), "held": i.inhibited,
                "next_step_at": i.next_step_at,
            })
        })
        .collect();
    let recent: Vec<Value> = d
        .recent
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "checks": i.checks, "opened_at": i.opened_at, "paged_at": i.paged_at,
                "acked_at": i.acked_at, "acked_by": i.acked_by, "resolved_at": i.resolved_at, "note": i.note,
            })
        })
        .collect();
    json!({
        "monitor": d.snap.monitor, "now": d.snap.now, "started_at": d.snap.started_at,
        "connectivity_lost_since": d.snap.connectivity_lost_since,
        "pending_deliveries": d.snap.pending_deliveries,
        "checks": checks, "open_incidents": open, "recent_incidents": recent,
    })
}

async fn page(State(st): State<AppState>) -> Response {
    match gather(&st).await {
        Some(d) => Html(crate::page::render(&d)).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "monitor is stopping\n").into_response(),
    }
}

async fn api_status(State(st): State<AppState>) -> Response {
    match gather(&st).await {
        Some(d) => (
            [(header::CONTENT_TYPE, "application/json")],
            status_json(&d).to_string(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "monitor is stopping\n").into_response(),
    }
}

async fn heartbeat(st: &AppState, check: &str, ok: bool, body: &[u8]) -> Response {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let msg = lookout_core::nagios::status_text(text.as_bytes());
    if st.engine.heartbeat(check, ok, msg).await {
        (StatusCode::OK, "OK\n").into_response()
    } else {
        (StatusCode::NOT_FOUND, "no such heartbeat check\n").into_response()
    }
}

async fn hb_good(State(st): State<AppState>, Path(check): Path<String>) -> Response {
    heartbeat(&st, &check, true, b"").await
}
async fn hb_good_post(
    State(st): State<AppState>,
    Path(check): Path<String>,
    body: Bytes,
) -> Response {
    heartbeat(&st, &check, true, &body).await
}
async fn hb_fail(State(st): State<AppState>, Path(check): Path<String>) -> Response {
    heartbeat(&st, &check, false, b"").await
}
async fn hb_fail_post(
    State(st): State<AppState>,
    Path(check): Path<String>,
    body: Bytes,
) -> Response {
    heartbeat(&st, &check, false, &body).await
}

/// Compare without early exit, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn ack(
    State(st): State<AppState>,
    Path(incident): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(tok) = &st.ack_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.as_bytes(), tok.expose().as_bytes()) {
            return (StatusCode::UNAUTHORIZED, "bad or missing ack token\n").into_response();
        }
    }
    let Ok(id) = incident.parse::<IncidentId>() else {
        return (StatusCode::BAD_REQUEST, "incident must be a number\n").into_response();
    };
    let by = headers
        .get("x-lookout-by")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        })
        .unwrap_or_else(|| "http".into());
    if st.engine.ack(id, &by).await {
        (StatusCode::OK, format!("incident {id} acknowledged\n")).into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no open incident {id}\n")).into_response()
    }
}
