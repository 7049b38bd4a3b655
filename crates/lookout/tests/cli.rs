//! The `lookout` binary: check-config, run in the foreground, SIGHUP
//! reload, status, ack and a clean SIGTERM stop.

use std::process::{Command, Stdio};
use std::time::Duration;

use lookout_testkit::twilio::TwilioStandIn;
use lookout_testkit::{TempDir, eventually};

const BIN: &str = env!("CARGO_BIN_EXE_lookout");
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "cli-token-never-logged-93ad";

fn lookout(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("LOOKOUT_CLI_TOKEN", TOKEN)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_reports_errors_with_line_numbers() {
    let dir = TempDir::new("cli").unwrap();
    let f = dir.path().join("l.toml");
    let fs = f.to_str().unwrap();
    std::fs::write(
        &f,
        "[monitor]\nname = \"x\"\n\n[[check]]\nname = \"a\"\ntype = \"tcp\"\nadress = \"x:1\"\n",
    )
    .unwrap();
    let (code, out, err) = lookout(&["check-config", "-f", fs]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!("lookout: {fs}: line 7: unknown field `adress`")),
        "{err}"
    );

    std::fs::write(&f, "[monitor]\nack_token = \"hunter2\"\n").unwrap();
    let (code, _, err) = lookout(&["check-config", "-f", fs]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2: secrets are never written inline"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));

    std::fs::write(
        &f,
        "[monitor]\nack_token = { env = \"LOOKOUT_UNSET_VAR\" }\n",
    )
    .unwrap();
    let (code, _, err) = lookout(&["check-config", "-f", fs]);
    assert_eq!(code, 1);
    assert!(
        err.contains("environment variable LOOKOUT_UNSET_VAR is not set"),
        "{err}"
    );

    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, "ack = \"from-the-file\"\n").unwrap();
    std::fs::write(
        &f,
        format!(
            "[monitor]\nsecrets_file = \"{}\"\nack_token = {{ secret = \"ack\" }}\n[[check]]\nname = \"a\"\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n",
            secrets.display()
        ),
    )
    .unwrap();
    let (code, out, err) = lookout(&["check-config", "-f", fs]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        format!("{fs}: OK (1 checks, 0 channels, 0 policies)\n")
    );

    let (code, _, err) = lookout(&["frobnicate"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("usage: lookout run"), "{err}");
}

fn config(state: &std::path::Path, port: u16, twilio: &str, extra: &str) -> String {
    format!(
        r#"
[monitor]
name = "cli"
listen = "127.0.0.1:{port}"
state_dir = "{}"
group_wait = "0s"
fail_after = 1
[twilio]
account_sid = "{SID}"
auth_token = {{ env = "LOOKOUT_CLI_TOKEN" }}
from = "+15005550006"
api_base = "{twilio}"
[channel.sms]
type = "sms"
to = "+15558675310"
[policy.default]
steps = [{{ after = "0s", notify = ["sms"] }}]
[[check]]
name = "down"
type = "tcp"
address = "127.0.0.1:1"
interval = "1s"
{extra}
"#,
        state.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reload_status_ack_and_stop() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let dir = TempDir::new("cli-run").unwrap();
    let f = dir.path().join("l.toml");
    let fs = f.to_str().unwrap().to_string();
    let port = lookout_testkit::free_port().unwrap();
    std::fs::write(&f, config(dir.path(), port, &tw.base_url(), "")).unwrap();
    let errlog = dir.path().join("stderr.log");
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "-F", "-f", &fs])
        .env("LOOKOUT_CLI_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errlog).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    lookout_testkit::wait_listening(([127, 0, 0, 1], port).into(), Duration::from_secs(10))
        .await
        .unwrap();

    // The failing check pages at once (fail_after 1, group_wait 0).
    eventually(Duration::from_secs(10), "the SMS", || {
        tw.requests().first().cloned()
    })
    .await;
    let st = tokio::task::spawn_blocking({
        let fs = fs.clone();
        move || lookout(&["status", "-f", &fs])
    })
    .await
    .unwrap();
    assert_eq!(st.0, 0, "{st:?}");
    assert!(
        st.1.starts_with("cli: 1 of 1 checks failing: down\n"),
        "{}",
        st.1
    );
    assert!(st.1.contains("ack with: lookout ack 1"), "{}", st.1);

    let fs2 = fs.clone();
    let (code, out, _) = tokio::task::spawn_blocking(move || lookout(&["ack", "-f", &fs2, "1"]))
        .await
        .unwrap();
    assert_eq!((code, out.as_str()), (0, "incident 1 acknowledged\n"));
    let fs2 = fs.clone();
    let (code, _, err) = tokio::task::spawn_blocking(move || lookout(&["ack", "-f", &fs2, "42"]))
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert_eq!(err, "lookout: no open incident 42\n");

    // SIGHUP: a broken file is refused and the old config keeps running;
    // a good one adds a check.
    let pid = child.id().unwrap() as i32;
    std::fs::write(&f, config(dir.path(), port, &tw.base_url(), "bogus = 1")).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let extra =
        "[[check]]\nname = \"added\"\ntype = \"ping\"\nhost = \"127.0.0.1\"\ninterval = \"1s\"";
    eventually(Duration::from_secs(10), "the refused reload", || {
        std::fs::read_to_string(&errlog)
            .ok()
            .filter(|s| s.contains("reload failed, keeping the running configuration"))
    })
    .await;
    std::fs::write(&f, config(dir.path(), port, &tw.base_url(), extra)).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let fs2 = fs.clone();
    let json = eventually(Duration::from_secs(10), "the added check", || {
        let (_, out, _) = lookout(&["status", "-f", &fs2, "--json"]);
        out.contains("\"name\": \"added\"").then_some(out)
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["open_incidents"][0]["acked_by"],
        format!("{} (cli)", std::env::var("USER").unwrap_or("cli".into()))
    );

    unsafe { libc::kill(pid, libc::SIGTERM) };
    let st = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(st.success(), "{st}");
    let log = std::fs::read_to_string(&errlog).unwrap();
    assert!(log.contains("incident 1 opened: down"), "{log}");
    assert!(!log.contains(TOKEN), "the auth token leaked into the log");
    let db = rusqlite::Connection::open(dir.path().join("lookout.db")).unwrap();
    let running: i64 = db
        .query_row("SELECT value FROM meta WHERE key = 'running'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(running, 0, "clean stop recorded");
    let dump: String = db
        .query_row(
            "SELECT group_concat(detail || provider_id) FROM deliveries",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!dump.contains(TOKEN));
}

#[tokio::test]
async fn check_runs_one_check_and_reports_by_exit_status() {
    let t = lookout_testkit::target::HttpTarget::start().await.unwrap();
    let dir = TempDir::new("cli-check").unwrap();
    let f = dir.path().join("l.toml");
    let fs = f.to_str().unwrap().to_string();
    std::fs::write(
        &f,
        format!(
            "[[check]]\nname = \"web\"\ntype = \"http\"\nurl = \"{}\"\n[[check]]\nname = \"broken\"\ntype = \"http\"\nurl = \"{}\"\n[[check]]\nname = \"slow\"\ntype = \"exec\"\ncommand = [\"sleep\", \"5\"]\ntimeout = \"200ms\"\n[[check]]\nname = \"hb\"\ntype = \"heartbeat\"\nperiod = \"1h\"\n",
            t.url("/ok"),
            t.url("/status/500")
        ),
    )
    .unwrap();
    let run = |name: &'static str| {
        let fs = fs.clone();
        tokio::task::spawn_blocking(move || lookout(&["check", "-f", &fs, name]))
    };
    let (code, out, _) = run("web").await.unwrap();
    assert_eq!(code, 0);
    assert!(
        out.starts_with("web: GOOD in ") && out.contains(": HTTP 200 in "),
        "{out}"
    );
    let (code, out, _) = run("broken").await.unwrap();
    assert_eq!(code, 2);
    assert!(out.ends_with(": HTTP 500\n"), "{out}");
    let (code, out, _) = run("slow").await.unwrap();
    assert_eq!(code, 3);
    assert!(out.starts_with("slow: TIMED OUT in "), "{out}");
    let (code, _, err) = run("hb").await.unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("heartbeat"), "{err}");
    let (code, _, err) = run("nope").await.unwrap();
    assert_eq!(
        (code, err.as_str()),
        (1, "lookout: no check named `nope`\n")
    );
}

/// Run `lookout check` as `nobody` in a fresh network namespace, with
/// unprivileged ICMP sockets allowed or not.
fn ping_as_nobody(allow_dgram: bool) -> (i32, String) {
    let dir = TempDir::new("ping").unwrap();
    let f = dir.path().join("l.toml");
    std::fs::write(
        &f,
        "[[check]]\nname = \"lo\"\ntype = \"ping\"\nhost = \"127.0.0.1\"\ntimeout = \"2s\"\n",
    )
    .unwrap();
    let range = if allow_dgram { "0 2147483647" } else { "1 0" };
    let script = format!(
        "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='{range}' && exec setpriv --reuid=65534 --regid=65534 --clear-groups {BIN} check -f {} lo",
        f.display()
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ping_uses_an_unprivileged_datagram_socket_when_allowed() {
    let (code, out) = ping_as_nobody(true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("reply from 127.0.0.1") && out.contains("(datagram socket)"),
        "{out}"
    );
    // Neither socket type: FAILED, saying what to grant.
    let (code, out) = ping_as_nobody(false);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("ping_group_range") && out.contains("CAP_NET_RAW"),
        "{out}"
    );
}
