use super::*;

const FULL: &str = r#"
[monitor]
name = "lookout-eu"
listen = "127.0.0.1:8080"
state_dir = "/tmp/lookout"
group_wait = "30s"
canary = ["outside-a", "outside-b"]

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = { env = "TWILIO_AUTH_TOKEN" }
from = "+15005550006"

[smtp]
server = "127.0.0.1:25"
from = "lookout@example.com"
tls = "none"

[channel.sms-ops]
type = "sms"
to = "+15558675310"
fallback = "mail-ops"

[channel.call-ops]
type = "call"
to = "+15558675310"
fallback = "sms-ops"

[channel.mail-ops]
type = "email"
to = ["ops@example.com"]

[policy.default]
steps = [
  { after = "0s", notify = ["sms-ops", "mail-ops"] },
  { after = "10m", notify = ["call-ops"] },
]
repeat = "30m"

[[check]]
name = "outside-a"
type = "ping"
host = "192.0.2.1"

[[check]]
name = "outside-b"
type = "tcp"
address = "192.0.2.2:443"

[[check]]
name = "web"
type = "http"
url = "https://example.com/"
expect_status = [200, 204]
body_regex = "Welcome|Hello"
cert_min_days = 14
interval = "30s"

[[check]]
name = "backup"
type = "exec"
command = ["/usr/local/bin/backup-test", "--quick"]
cron = "0 3 * * *"
timeout = "20m"
policy = "none"

[[check]]
name = "nightly"
type = "heartbeat"
period = "1d"
grace = "2h"

[digest]
at = "08:00"
"#;

#[test]
fn full_config_resolves_names_and_defaults() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.checks.len(), 5);
    assert_eq!(c.monitor.canary, vec![0, 1]);
    let sms = c.channels.iter().position(|x| x.name == "sms-ops").unwrap();
    let mail = c
        .channels
        .iter()
        .position(|x| x.name == "mail-ops")
        .unwrap();
    assert_eq!(c.monitor.notify, vec![sms, mail]);
    assert_eq!(c.channels[sms].fallback, Some(mail));
    let p = &c.policies[0];
    assert_eq!(p.steps[1].after, 600_000);
    // RESOLVED defaults to the first step minus calls.
    assert_eq!(p.resolved, vec![sms, mail]);
    let web = &c.checks[2];
    assert!(matches!(web.schedule, Schedule::Every(30_000)));
    assert_eq!(
        (web.fail_after, web.recover_after, web.timeout),
        (2, 2, 10_000)
    );
    assert_eq!(web.policy, Some(0));
    assert_eq!(web.line, 50);
    assert_eq!(c.checks[3].policy, None);
    assert!(matches!(c.checks[3].schedule, Schedule::Cron(_)));
    assert_eq!(c.checks[4].fail_after, 1);
    assert_eq!(c.digest.as_ref().unwrap().notify, vec![sms, mail]);
    assert_eq!(
        c.secret_refs(),
        vec![&SecretRef::Env("TWILIO_AUTH_TOKEN".into())]
    );
}

fn error_of(src: &str) -> ConfigError {
    parse(src).expect_err("config should be rejected")
}

#[test]
fn unknown_keys_are_errors_with_line_numbers() {
    let e = error_of(
        "[monitor]\nname = \"x\"\n\n[[check]]\nname = \"a\"\ntype = \"tcp\"\naddres = \"x:1\"\n",
    );
    assert_eq!(e.line, Some(7), "{e}");
    assert!(e.message.contains("unknown field `addres`"), "{e}");
    let e = error_of("[monitr]\n");
    assert_eq!(e.line, Some(1));
    let e = error_of("[monitor]\n\ngroup_wait = \"5 minutes\"\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("invalid duration"), "{e}");
}

#[test]
fn secrets_cannot_be_inline() {
    let src = FULL.replace(r#"{ env = "TWILIO_AUTH_TOKEN" }"#, r#""hunter2""#);
    let e = error_of(&src);
    assert!(e.message.contains("never written inline"), "{e}");
    assert!(!e.to_string().contains("hunter2"));
    assert_eq!(e.line, Some(11));
    let src = FULL.replace(r#"{ env = "TWILIO_AUTH_TOKEN" }"#, r#"{ secret = "tw" }"#);
    assert_eq!(
        parse(&src).unwrap().secret_refs(),
        vec![&SecretRef::File("tw".into())]
    );
}

#[test]
fn semantic_errors_point_at_their_table() {
    let e = error_of(&FULL.replace("address = \"192.0.2.2:443\"", "url = \"http://x/\""));
    assert_eq!(e.line, Some(45));
    assert!(
        e.message.contains("`url` does not apply to a tcp check"),
        "{e}"
    );
    let e = error_of(&FULL.replace("0 3 * * *", "0 3 * *"));
    assert!(e.message.contains("cron"), "{e}");
    let e = error_of(&FULL.replace("policy = \"none\"", "policy = \"loud\""));
    assert!(e.message.contains("unknown policy `loud`"), "{e}");
    let e = error_of(&FULL.replace("\"call-ops\"] }", "\"pager\"] }"));
    assert!(e.message.contains("unknown channel `pager`"), "{e}");
    let e = error_of(&FULL.replace("name = \"nightly\"", "name = \"web\""));
    assert!(e.message.contains("already defined at line 50"), "{e}");
    let e = error_of(&FULL.replace("Welcome|Hello", "Welcome(("));
    assert!(e.message.contains("body_regex"), "{e}");
    let e = error_of(&FULL.replace(
        "+15558675310\"\nfallback = \"mail",
        "5558675310\"\nfallback = \"mail",
    ));
    assert!(e.message.contains("E.164"), "{e}");
    let e = error_of(&FULL.replace("[smtp]", "[smtp-old]"));
    assert!(e.to_string().contains("unknown field"), "{e}");
}
