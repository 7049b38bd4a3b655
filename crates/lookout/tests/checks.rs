//! Every check type against real targets on loopback.

use std::time::{Duration, Instant};

use lookout::checks::Checker;
use lookout_core::config;
use lookout_core::model::{CheckResult, Outcome};
use lookout_testkit::https::HttpsServer;
use lookout_testkit::target::HttpTarget;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Run the one check described by `body` (the inside of a `[[check]]`).
async fn run(body: &str) -> CheckResult {
    let cfg = config::parse(&format!("[[check]]\nname = \"t\"\n{body}\n")).unwrap();
    let checker = Checker::new(&cfg).unwrap();
    checker.run(&cfg.checks[0], now()).await
}

fn assert_outcome(r: &CheckResult, want: Outcome, needle: &str) {
    assert_eq!(r.outcome, want, "{r:?}");
    assert!(
        r.message.contains(needle),
        "{:?} lacks {needle:?}",
        r.message
    );
}

#[tokio::test]
async fn http_conditions() {
    let t = HttpTarget::start().await.unwrap();
    let ok = t.url("/ok");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{ok}\"\nbody_contains = \"hello\""
    ))
    .await;
    assert_outcome(&r, Outcome::Good, "HTTP 200");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{ok}\"\nbody_regex = \"build [0-9]+\""
    ))
    .await;
    assert_outcome(&r, Outcome::Good, "HTTP 200");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{ok}\"\nbody_contains = \"goodbye\""
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "body lacks \"goodbye\"");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{ok}\"\nbody_regex = \"^nothing$\""
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "does not match");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{}\"",
        t.url("/status/503")
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "HTTP 503");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{}\"\nexpect_status = [404]",
        t.url("/status/404")
    ))
    .await;
    assert_outcome(&r, Outcome::Good, "HTTP 404");
    let r = run(&format!(
        "type = \"http\"\nurl = \"{}\"\nmax_latency = \"100ms\"",
        t.url("/slow/300")
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "slow");
    let start = Instant::now();
    let r = run(&format!(
        "type = \"http\"\nurl = \"{}\"\ntimeout = \"300ms\"",
        t.url("/slow/5000")
    ))
    .await;
    assert_outcome(&r, Outcome::TimedOut, "no complete response within 300ms");
    assert!(start.elapsed() < Duration::from_secs(2));
    // Nothing listening: FAILED, not TIMED OUT.
    let port = lookout_testkit::free_port().unwrap();
    let r = run(&format!(
        "type = \"http\"\nurl = \"http://127.0.0.1:{port}/\""
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "");
}

#[tokio::test]
async fn https_certificate_days_left() {
    let s = HttpsServer::start(10).await.unwrap();
    let url = format!("https://localhost:{}/", s.addr.port());
    let ca = s.cert.display();
    let r = run(&format!(
        "type = \"https\"\nurl = \"{url}\"\nca_file = \"{ca}\"\ncert_min_days = 5"
    ))
    .await;
    assert_outcome(&r, Outcome::Good, "certificate valid 9 more days");
    let r = run(&format!(
        "type = \"https\"\nurl = \"{url}\"\nca_file = \"{ca}\"\ncert_min_days = 30"
    ))
    .await;
    assert_outcome(
        &r,
        Outcome::Failed,
        "certificate expires in 9 days (minimum 30)",
    );
    // Not trusted without the CA: FAILED with the TLS reason.
    let r = run(&format!("type = \"https\"\nurl = \"{url}\"")).await;
    assert_outcome(&r, Outcome::Failed, "certificate");
}

#[tokio::test]
async fn ping_and_tcp_on_loopback() {
    let r = run("type = \"ping\"\nhost = \"127.0.0.1\"").await;
    assert_outcome(&r, Outcome::Good, "reply from 127.0.0.1");
    let r = run("type = \"ping\"\nhost = \"::1\"").await;
    assert_outcome(&r, Outcome::Good, "reply from ::1");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let r = run(&format!("type = \"tcp\"\naddress = \"{addr}\"")).await;
    assert_outcome(&r, Outcome::Good, "connected");
    drop(l);
    let r = run(&format!("type = \"tcp\"\naddress = \"{addr}\"")).await;
    assert_outcome(&r, Outcome::Failed, "refused");
    let r = run("type = \"tcp\"\naddress = \"no-such-host.invalid:80\"").await;
    assert_outcome(&r, Outcome::Failed, "cannot resolve");
}

fn alive(pid: i32) -> bool {
    // A zombie waiting for PID 1 to reap it counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn exec_hang_is_timed_out_and_its_whole_group_killed() {
    let dir = lookout_testkit::TempDir::new("exec").unwrap();
    let pidfile = dir.path().join("child.pid");
    let script = format!("sleep 60 & echo $! > {}; sleep 60", pidfile.display());
    let start = Instant::now();
    let r = run(&format!(
        "type = \"exec\"\ncommand = [\"sh\", \"-c\", \"{script}\"]\ntimeout = \"500ms\""
    ))
    .await;
    assert_outcome(&r, Outcome::TimedOut, "process group killed");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!alive(pid), "background child {pid} survived the deadline");
}

#[tokio::test]
async fn exec_exit_codes_output_and_environment() {
    let r = run("type = \"exec\"\ncommand = [\"true\"]").await;
    assert_outcome(&r, Outcome::Good, "OK");
    let r = run("type = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo 'DISK CRITICAL - 2% free|free=2%'; exit 2\"]").await;
    assert_outcome(&r, Outcome::Failed, "DISK CRITICAL - 2% free");
    assert!(!r.message.contains("free=2%"));
    let r = run("type = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo slow-ish; exit 1\"]").await;
    assert_outcome(&r, Outcome::Failed, "WARNING: slow-ish");
    let r =
        run("type = \"exec\"\ncommand = [\"sh\", \"-c\", \"exit 1\"]\naccept_warning = true").await;
    assert_eq!(r.outcome, Outcome::Good);
    let r = run("type = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo oops >&2; exit 7\"]").await;
    assert_outcome(&r, Outcome::Failed, "exit 7: oops");
    let r = run("type = \"exec\"\ncommand = [\"/nonexistent/backup-test\"]").await;
    assert_outcome(&r, Outcome::Failed, "cannot run");
    // A shell is not involved: metacharacters are plain arguments.
    let r = run("type = \"exec\"\ncommand = [\"echo\", \"$HOME;\", \"&&\", \"`x`\"]").await;
    assert_outcome(&r, Outcome::Good, "$HOME; && `x`");
    // A flood of output is capped and does not block the program.
    let start = Instant::now();
    let r = run("type = \"exec\"\ncommand = [\"sh\", \"-c\", \"head -c 50000000 /dev/zero | tr '\\\\0' x\"]\nmax_output = 1000\ntimeout = \"20s\"").await;
    assert_outcome(&r, Outcome::Good, "(output truncated)");
    assert!(r.message.len() <= 300);
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn exec_children_do_not_see_secrets() {
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("LOOKOUT_TEST_TOKEN", "s3cr3t-value") };
    let cfg = config::parse(
        "[monitor]\nack_token = { env = \"LOOKOUT_TEST_TOKEN\" }\n[[check]]\nname = \"t\"\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo token=${LOOKOUT_TEST_TOKEN:-absent}\"]\n",
    )
    .unwrap();
    let r = Checker::new(&cfg).unwrap().run(&cfg.checks[0], now()).await;
    assert_outcome(&r, Outcome::Good, "token=absent");
}

#[tokio::test]
async fn debian_monitoring_plugins_work_as_exec_checks() {
    let plugin = "/usr/lib/nagios/plugins/check_tcp";
    assert!(
        std::path::Path::new(plugin).exists(),
        "{plugin} missing: run scripts/deps/lookout.sh"
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let r = run(&format!(
        "type = \"exec\"\ncommand = [\"{plugin}\", \"-H\", \"127.0.0.1\", \"-p\", \"{port}\"]"
    ))
    .await;
    assert_outcome(&r, Outcome::Good, "TCP OK");
    drop(l);
    let r = run(&format!(
        "type = \"exec\"\ncommand = [\"{plugin}\", \"-H\", \"127.0.0.1\", \"-p\", \"{port}\"]"
    ))
    .await;
    assert_outcome(&r, Outcome::Failed, "CRITICAL");
    let r = run(
        "type = \"exec\"\ncommand = [\"/usr/lib/nagios/plugins/check_dummy\", \"3\", \"no idea\"]",
    )
    .await;
    assert_outcome(&r, Outcome::Failed, "UNKNOWN");
}
