//! The status page: server-rendered HTML that works without scripts; a
//! small script only turns timestamps into "3m ago" and marks the page as
//! rendered.

use std::fmt::Write;

use lookout_core::civil;

use crate::web::{StatusData, uptime_pct};

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn when(t: Option<u64>) -> String {
    match t {
        Some(t) => format!("<time data-at=\"{t}\">{}</time>", civil::format_utc(t)),
        None => "-".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(p) if p >= 99.995 => "100%".into(),
        Some(p) => format!("{p:.2}%"),
        None => "-".into(),
    }
}

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}
.GOOD{color:#137333;font-weight:600}.FAILED,.TIMED{color:#b3261e;font-weight:600}.PENDING{color:#777}
#summary{font-size:1.3em}.bad{color:#b3261e}.ok{color:#137333}small{color:#666}";

const SCRIPT: &str = "(function(){var now=Number(document.body.dataset.now);
function ago(ms){var s=Math.max(0,Math.round((now-ms)/1000));if(s<60)return s+'s ago';var m=Math.round(s/60);if(m<60)return m+'m ago';var h=Math.round(m/60);if(h<48)return h+'h ago';return Math.round(h/24)+'d ago';}
document.querySelectorAll('time[data-at]').forEach(function(t){t.title=t.textContent;t.textContent=ago(Number(t.dataset.at));});
document.body.dataset.rendered='yes';})();";

pub fn render(d: &StatusData) -> String {
    let s = &d.snap;
    let failing: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| c.failing)
        .map(|c| c.name.as_str())
        .collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=30>\
         <title>{0} status</title><style>{STYLE}</style></head><body data-now=\"{1}\"><h1>{0}</h1>",
        esc(&s.monitor),
        s.now
    );
    if let Some(t) = s.connectivity_lost_since {
        let _ = write!(
            h,
            "<p class=bad id=connectivity>Monitor lost connectivity {}: alerts are held.</p>",
            when(Some(t))
        );
    }
    if failing.is_empty() {
        let _ = write!(
            h,
            "<p id=summary class=ok data-failing=0>All {} checks GOOD</p>",
            s.checks.len()
        );
    } else {
        let _ = write!(
            h,
            "<p id=summary class=bad data-failing={}>{} of {} checks failing: {}</p>",
            failing.len(),
            failing.len(),
            s.checks.len(),
            esc(&failing.join(", "))
        );
    }
    h.push_str("<table id=checks><thead><tr><th>Check<th>Type<th>State<th>Result<th>Checked<th>7 days<th>30 days<th>90 days</tr></thead><tbody>");
    for c in &s.checks {
        let (state, msg, at) = match &c.last {
            Some((at, r)) => (r.outcome.as_str(), r.message.as_str(), Some(*at)),
            None => ("PENDING", "not run yet", None),
        };
        let class = state.split(' ').next().unwrap_or(state);
        let _ = write!(
            h,
            "<tr data-check=\"{n}\" data-state=\"{state}\"><td>{n}{f}<td>{k}<td class={class}>{state}<td>{m}<td>{w}<td class=up7>{u7}<td class=up30>{u30}<td class=up90>{u90}</tr>",
            n = esc(&c.name),
            f = if c.failing {
                " <small>(incident)</small>"
            } else {
                ""
            },
            k = c.kind,
            m = esc(msg),
            w = when(at),
            u7 = pct(uptime_pct(&d.uptime[0], &c.name)),
            u30 = pct(uptime_pct(&d.uptime[1], &c.name)),
            u90 = pct(uptime_pct(&d.uptime[2], &c.name)),
        );
    }
    h.push_str("</tbody></table><h2>Recent incidents</h2><table id=incidents><thead><tr><th>#<th>Checks<th>Opened<th>Acknowledged<th>Resolved<th>Duration</tr></thead><tbody>");
    if d.recent.is_empty() {
        h.push_str("<tr><td colspan=6>None recorded.</tr>");
    }
    for i in &d.recent {
        let dur = i.resolved_at.unwrap_or(s.now).saturating_sub(i.opened_at);
        let resolved = match (i.resolved_at, &i.note) {
            (Some(t), None) => when(Some(t)),
            (Some(t), Some(n)) => format!("{} <small>({})</small>", when(Some(t)), esc(n)),
            (None, _) => "<span class=bad>open</span>".into(),
        };
        let acked = match (&i.acked_at, &i.acked_by) {
            (Some(t), Some(by)) => format!("{} by {}", when(Some(*t)), esc(by)),
            _ => "-".into(),
        };
        let _ = write!(
            h,
            "<tr data-incident={}><td>{}<td>{}<td>{}<td>{}<td>{}<td>{}</tr>",
            i.id,
            i.id,
            esc(&i.checks),
            when(Some(i.opened_at)),
            acked,
            resolved,
            lookout_core::duration::format(dur)
        );
    }
    let _ = write!(
        h,
        "</tbody></table><p><small>Monitor up since {}. Times are UTC. JSON: <a href=\"/api/status\">/api/status</a></small></p><script>{SCRIPT}</script></body></html>",
        when(Some(s.started_at))
    );
    h
}
