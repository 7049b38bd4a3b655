//! The status page, loaded in Debian's headless Chromium after real checks
//! ran, and the terminal rendering of the same data.

mod support;

use lookout_testkit::target::HttpTarget;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_renders_in_chromium() {
    let t = HttpTarget::start().await.unwrap();
    let state = state_dir();
    let closed = lookout_testkit::free_port().unwrap();
    let cfg = format!(
        r#"
[monitor]
name = "eu-1 <monitor>"
state_dir = "{}"
group_wait = "0s"
jitter = "0"
[[check]]
name = "web"
type = "http"
url = "{}"
interval = "30s"
[[check]]
name = "db"
type = "tcp"
address = "127.0.0.1:{closed}"
interval = "30s"
policy = "none"
[[check]]
name = "nightly"
type = "heartbeat"
period = "1d"
"#,
        state.path().display(),
        t.url("/ok")
    );
    let d = Daemon::start(&cfg, real_now()).await;
    d.advance(60_000, 30_000).await;

    let dom = lookout_testkit::chromium::dump_dom(&format!("{}/", d.base))
        .await
        .unwrap();
    // The script ran: timestamps became relative and the page says so.
    assert!(dom.contains("data-rendered=\"yes\""), "{dom}");
    assert!(dom.contains(" ago</time>"), "{dom}");
    // Names are escaped, states and uptime shown.
    assert!(dom.contains("<h1>eu-1 &lt;monitor&gt;</h1>"), "{dom}");
    assert!(dom.contains("1 of 3 checks failing: db"), "{dom}");
    assert!(
        dom.contains(r#"<tr data-check="web" data-state="GOOD">"#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<tr data-check="db" data-state="FAILED">"#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<tr data-check="nightly" data-state="PENDING">"#),
        "{dom}"
    );
    assert!(dom.contains("<td class=\"up7\">100%</td>"), "{dom}");
    assert!(dom.contains("<td class=\"up90\">0.00%</td>"), "{dom}");
    assert!(
        dom.contains("<tr data-incident=\"1\"><td>1</td><td>db</td>"),
        "{dom}"
    );

    let text = lookout::cli::render_status(&d.status().await);
    assert!(
        text.starts_with("eu-1 <monitor>: 1 of 3 checks failing: db\n"),
        "{text}"
    );
    assert!(
        text.contains("\nweb      http       GOOD          100%     100%     100%  HTTP 200 in"),
        "{text}"
    );
    assert!(text.contains("Open incidents:\n  #1 db since "), "{text}");
    d.running.stop().await;
}
