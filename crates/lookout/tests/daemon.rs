//! The whole daemon end to end: real checks, the Twilio stand-in, a real
//! SMTP server, the HTTP endpoints and the history, with a manual clock
//! driving escalation and heartbeat timing.

mod support;

use std::time::Duration;

use lookout_testkit::eventually;
use lookout_testkit::smtp::SmtpServer;
use lookout_testkit::target::HttpTarget;
use lookout_testkit::twilio::{Failure, TwilioStandIn};
use support::*;

const MIN: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_pages_escalates_to_a_call_is_acked_and_resolves_once() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let smtp = SmtpServer::start().await.unwrap();
    let state = state_dir();
    let port = lookout_testkit::free_port().unwrap();
    let cfg = base_config(state.path(), &tw.base_url(), &smtp.addr.to_string())
        + &format!(
            "[[check]]\nname = \"db\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ninterval = \"10s\"\n"
        );
    let d = Daemon::start(&cfg, real_now()).await;

    // Fails at 0 s and 10 s: incident at 10 s, paged after group_wait (40 s).
    d.advance(30_000, 10_000).await;
    assert!(tw.requests().is_empty());
    d.advance(10_000, 10_000).await;
    let reqs = tw.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].is_message());
    let body = reqs[0].field("Body").unwrap();
    assert!(body.starts_with("eu-1: db FAILED (127.0.0.1:"), "{body}");
    assert!(body.contains("Connection refused"), "{body}");
    let mail = eventually(Duration::from_secs(5), "the alert mail", || {
        smtp.messages().pop()
    })
    .await;
    assert!(mail.contains("Subject: [eu-1] FAILED: db"), "{mail}");

    // Still failing 10 minutes later: a phone call with inline TwiML.
    d.advance(10 * MIN, MIN).await;
    let reqs = tw.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].is_call());
    assert!(
        reqs[1]
            .field("Twiml")
            .unwrap()
            .contains("STILL FAILED for 10m: db")
    );

    // Acknowledge over HTTP; the ladder stops.
    let st = d.status().await;
    let id = st["open_incidents"][0]["id"].as_u64().unwrap();
    assert_eq!(d.post("/ack/999", "").await.0, 404);
    assert_eq!(
        d.post(&format!("/ack/{id}"), "").await,
        (200, format!("incident {id} acknowledged\n"))
    );
    d.advance(60 * MIN, 5 * MIN).await;
    assert_eq!(tw.requests().len(), 2);

    // The service comes back: one RESOLVED text (and mail), nothing more.
    let _listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    d.advance(30_000, 10_000).await;
    let reqs = tw.requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(
        reqs[2]
            .field("Body")
            .unwrap()
            .starts_with("eu-1: RESOLVED after 1h1"),
        "{:?}",
        reqs[2].field("Body")
    );
    d.advance(60 * MIN, 10 * MIN).await;
    assert_eq!(tw.requests().len(), 3);

    // Every attempt is in the history, with Twilio's sids.
    let rows = d.running.store.deliveries(100).await.unwrap();
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.kind.clone(), r.channel.clone(), r.status.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("alert", "sms-ops", "accepted"),
            ("alert", "mail-ops", "accepted"),
            ("reminder", "call-ops", "accepted"),
            ("resolved", "sms-ops", "accepted"),
            ("resolved", "mail-ops", "accepted"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    assert_eq!(rows[0].provider_id, reqs[0].sid);
    assert_eq!(rows[2].provider_id, reqs[1].sid);
    let inc = &d.running.store.recent_incidents(5).await.unwrap()[0];
    assert_eq!(inc.acked_by.as_deref(), Some("http"));
    assert!(inc.resolved_at.is_some());
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_numbers_fall_back_and_rate_limits_are_retried() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let smtp = SmtpServer::start().await.unwrap();
    let state = state_dir();
    let port = lookout_testkit::free_port().unwrap();
    // sms-ops now points at Twilio's magic invalid number (21211).
    let cfg = base_config(state.path(), &tw.base_url(), &smtp.addr.to_string())
        .replace(
            "to = \"+15558675310\"\nfallback",
            "to = \"+15005550001\"\nfallback",
        )
        .replace(
            "notify = [\"sms-ops\", \"mail-ops\"]",
            "notify = [\"sms-ops\", \"sms-2\"]",
        )
        + "[channel.sms-2]\ntype = \"sms\"\nto = \"+15558675311\"\n"
        + &format!(
            "[[check]]\nname = \"web\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ninterval = \"10s\"\n"
        );
    let d = Daemon::start(&cfg, real_now()).await;
    d.advance(40_000, 10_000).await;
    // The message Twilio refused went to mail-ops instead.
    let mail = eventually(Duration::from_secs(5), "the fallback mail", || {
        smtp.messages().pop()
    })
    .await;
    assert!(mail.contains("Subject: [eu-1] FAILED: web"), "{mail}");
    // Twilio is busy when the call is due: retried after the 10 s backoff.
    tw.fail_next(Failure::too_many_requests(1));
    d.advance(10 * MIN, MIN).await;
    d.advance(10_000, 10_000).await;
    let rows = d.running.store.deliveries(100).await.unwrap();
    let mut got: Vec<(String, String, u32)> = rows
        .iter()
        .map(|r| (r.channel.clone(), r.status.clone(), r.attempt))
        .collect();
    got.sort();
    let want: Vec<(String, String, u32)> = [
        ("call-ops", "accepted", 2),
        ("call-ops", "transient-error", 1),
        ("mail-ops", "accepted", 1),
        ("sms-2", "accepted", 1),
        ("sms-ops", "permanent-error", 1),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
    .collect();
    assert_eq!(got, want);
    let retried = rows
        .iter()
        .filter(|r| r.channel == "call-ops")
        .map(|r| r.at)
        .collect::<Vec<_>>();
    assert_eq!(retried[1] - retried[0], 10_000);
    let codes: Vec<Option<u32>> = tw.requests().iter().map(|r| r.code).collect();
    assert!(
        codes.contains(&Some(21211)) && codes.contains(&Some(20429)),
        "{codes:?}"
    );
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_silence_fails_and_pings_over_http_recover() {
    let hook = HttpTarget::start().await.unwrap();
    let state = state_dir();
    let cfg = format!(
        r#"
[monitor]
name = "eu-1"
state_dir = "{}"
group_wait = "0s"
[channel.hook]
type = "webhook"
url = "{}"
[policy.default]
steps = [{{ after = "0s", notify = ["hook"] }}]
[[check]]
name = "nightly-backup"
type = "heartbeat"
period = "1h"
grace = "10m"
"#,
        state.path().display(),
        hook.url("/hook")
    );
    let d = Daemon::start(&cfg, real_now()).await;
    assert_eq!(
        d.get("/heartbeat/nightly-backup").await,
        (200, "OK\n".into())
    );
    assert_eq!(d.get("/heartbeat/nope").await.0, 404);
    d.advance(69 * MIN, MIN).await;
    assert!(hook.hooks().is_empty());
    d.advance(2 * MIN, MIN).await;
    let h = hook.hooks();
    assert_eq!(h.len(), 1, "{h:?}");
    let v: serde_json::Value = serde_json::from_str(&h[0]).unwrap();
    assert_eq!(v["subject"], "[eu-1] FAILED: nightly-backup");
    assert!(v["text"].as_str().unwrap().contains("no ping since"), "{v}");
    assert_eq!(d.post("/heartbeat/nightly-backup", "").await.0, 200);
    d.settle().await;
    let v: serde_json::Value = serde_json::from_str(&hook.hooks()[1]).unwrap();
    assert_eq!(v["kind"], "resolved");
    // A job that reports its own failure, with its output.
    assert_eq!(
        d.post(
            "/heartbeat/nightly-backup/fail",
            "backup: 3 files unreadable\n"
        )
        .await
        .0,
        200
    );
    d.settle().await;
    let v: serde_json::Value = serde_json::from_str(&hook.hooks()[2]).unwrap();
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains("nightly-backup FAILED (backup: 3 files unreadable)"),
        "{v}"
    );
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_restarts_and_an_unclean_stop_is_reported() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let state = state_dir();
    let t = HttpTarget::start().await.unwrap();
    let cfg = base_config(state.path(), &tw.base_url(), "127.0.0.1:1")
        .replace(
            "[policy.default]",
            "[limits]\nsms_per_day = 10\n\n[policy.default]",
        )
        .replace(
            "group_wait = \"30s\"",
            "group_wait = \"30s\"\nretention = \"30d\"",
        )
        + &format!(
            "[[check]]\nname = \"web\"\ntype = \"http\"\nurl = \"{}\"\ninterval = \"1m\"\n",
            t.url("/ok")
        );
    let t0 = real_now() - 40 * 86_400_000;
    let d = Daemon::start(&cfg, t0).await;
    d.advance(10 * MIN, MIN).await;
    assert_eq!(d.running.store.result_count("web").await.unwrap(), 11);
    // Crash: no clean-stop record.
    d.running.crash();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Forty days later: raw results are past retention, the daily counts
    // remain, and the unclean stop is reported.
    let d = Daemon::start(&cfg, real_now()).await;
    let texts = eventually(Duration::from_secs(5), "the unclean-start SMS", || {
        let r = tw.requests();
        (!r.is_empty()).then_some(r)
    })
    .await;
    let body = texts[0].field("Body").unwrap();
    assert!(
        body.starts_with("eu-1: restarted after an unclean stop (last seen alive "),
        "{body}"
    );
    assert_eq!(d.running.store.result_count("web").await.unwrap(), 1);
    let up = d.status().await;
    let web = &up["checks"][0];
    assert_eq!(web["uptime"]["d90"], 100.0);
    assert_eq!(web["uptime"]["d7"], 100.0);
    d.running.stop().await;

    // A clean stop is not reported.
    let d = Daemon::start(&cfg, real_now() + MIN).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(tw.requests().len(), 1);
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_uplink_gives_one_connectivity_alert() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let state = state_dir();
    let mut cfg = base_config(state.path(), &tw.base_url(), "127.0.0.1:1").replace(
        "group_wait = \"30s\"",
        "group_wait = \"30s\"\ncanary = [\"outside-a\", \"outside-b\"]\nnotify = [\"sms-ops\"]",
    );
    // Everything "outside" is unreachable: closed loopback ports stand in.
    for name in ["outside-a", "outside-b", "web", "api", "dns", "backup-s3"] {
        let port = lookout_testkit::free_port().unwrap();
        cfg += &format!(
            "[[check]]\nname = \"{name}\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ninterval = \"10s\"\n"
        );
    }
    let d = Daemon::start(&cfg, real_now()).await;
    d.advance(15 * MIN, MIN / 2).await;
    let bodies: Vec<String> = tw
        .requests()
        .iter()
        .filter_map(|r| r.field("Body").map(str::to_string))
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0].starts_with("eu-1: monitor lost connectivity"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("4 check(s) failing"), "{}", bodies[0]);
    let st = d.status().await;
    assert!(st["connectivity_lost_since"].is_u64());
    assert_eq!(st["open_incidents"][0]["held"], true);
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_heartbeat_and_daily_digest() {
    let t = HttpTarget::start().await.unwrap();
    let state = state_dir();
    let cfg = format!(
        r#"
[monitor]
name = "eu-1"
state_dir = "{}"
notify = ["hook"]
[channel.hook]
type = "webhook"
url = "{}"
[digest]
at = "08:00"
[heartbeat_out]
url = "{}"
interval = "5m"
[[check]]
name = "web"
type = "http"
url = "{}"
interval = "10m"
"#,
        state.path().display(),
        t.url("/hook"),
        t.url("/beat"),
        t.url("/ok")
    );
    let d = Daemon::start(&cfg, real_now()).await;
    // The outside GETs run in their own tasks: wait for each to land.
    for n in 1..=3u64 {
        eventually(Duration::from_secs(5), "an outbound heartbeat", || {
            (t.beats() >= n).then_some(())
        })
        .await;
        d.advance(5 * MIN, MIN).await;
    }
    assert!(t.hooks().is_empty());
    d.advance(24 * 60 * MIN, 30 * MIN).await;
    let h = t.hooks();
    assert_eq!(h.len(), 1, "{h:?}");
    let v: serde_json::Value = serde_json::from_str(&h[0]).unwrap();
    assert_eq!(v["kind"], "digest");
    assert_eq!(v["subject"], "[eu-1] daily: all GOOD (1 check)");
    assert_eq!(
        v["text"],
        "eu-1 daily digest: all GOOD (1 check); 0 incident(s) in the last 24h."
    );
    eventually(Duration::from_secs(5), "more heartbeats", || {
        (t.beats() >= 10).then_some(())
    })
    .await;
    d.running.stop().await;
}
