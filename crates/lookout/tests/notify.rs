//! Each notifier against a real peer: the Twilio stand-in (REST contract),
//! aiosmtpd (SMTP) and a plain HTTP server (webhook).

use base64::Engine as _;
use lookout::notify::Notifier;
use lookout::secrets::Secrets;
use lookout_core::config::{self, Config};
use lookout_core::message::{self, Mention, Message};
use lookout_core::model::{CheckResult, Outcome};
use lookout_core::monitor::DeliveryOutcome;
use lookout_testkit::smtp::SmtpServer;
use lookout_testkit::target::HttpTarget;
use lookout_testkit::twilio::{Failure, TwilioStandIn};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN_ENV: &str = "LOOKOUT_NOTIFY_TEST_TOKEN";
const TOKEN: &str = "auth-token-7f3a";

fn cfg(twilio: &str, smtp: &str, hook: &str, to: &str) -> Config {
    // SAFETY: every test sets the same value; nothing else reads it.
    unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
    config::parse(&format!(
        r#"
[monitor]
name = "eu-1"
[twilio]
account_sid = "{SID}"
auth_token = {{ env = "{TOKEN_ENV}" }}
from = "+15005550006"
api_base = "{twilio}"
[smtp]
server = "{smtp}"
from = "lookout@monitor.test"
tls = "none"
[channel.sms]
type = "sms"
to = "{to}"
[channel.call]
type = "call"
to = "{to}"
[channel.mail]
type = "email"
to = ["ops@example.com", "oncall@example.com"]
[channel.hook]
type = "webhook"
url = "{hook}"
"#
    ))
    .unwrap()
}

fn setup(twilio: &str, smtp: &str, hook: &str, to: &str) -> (Config, Notifier) {
    let c = cfg(twilio, smtp, hook, to);
    let n = Notifier::new(&c, &Secrets::resolve(&c).unwrap()).unwrap();
    (c, n)
}

fn alert() -> Message {
    let r = CheckResult::new(Outcome::Failed, 3, "HTTP 503 <upstream & co>");
    message::alert(
        "eu-1",
        7,
        &[Mention {
            name: "web",
            last: Some(&r),
        }],
    )
}

fn channel(c: &Config, name: &str) -> lookout_core::config::ChannelKind {
    c.channels
        .iter()
        .find(|x| x.name == name)
        .unwrap()
        .kind
        .clone()
}

#[tokio::test]
async fn twilio_sms_and_call_follow_the_rest_contract() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    let (c, n) = setup(
        &tw.base_url(),
        "127.0.0.1:1",
        "http://127.0.0.1:1/",
        "+15558675310",
    );

    let o = n.deliver(&channel(&c, "sms"), &alert()).await;
    let DeliveryOutcome::Accepted {
        provider_id: Some(sid),
        detail,
    } = o
    else {
        panic!("{o:?}")
    };
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(detail, "HTTP 201 queued");
    let r = &tw.requests()[0];
    assert!(r.authorized && r.is_message());
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.field("To"), Some("+15558675310"));
    assert_eq!(r.field("From"), Some("+15005550006"));
    assert_eq!(
        r.field("Body"),
        Some("eu-1: web FAILED (HTTP 503 <upstream & co>). Incident #7; ack: lookout ack 7")
    );

    let o = n.deliver(&channel(&c, "call"), &alert()).await;
    assert!(
        matches!(o, DeliveryOutcome::Accepted { provider_id: Some(ref s), .. } if s.starts_with("CA")),
        "{o:?}"
    );
    let r = &tw.requests()[1];
    assert!(r.is_call());
    assert_eq!(r.field("Timeout"), Some("25"));
    let twiml = r.field("Twiml").unwrap();
    assert!(
        twiml.starts_with("<Response><Say>[eu-1] FAILED: web</Say>"),
        "{twiml}"
    );
    assert!(r.field("Url").is_none());
}

#[tokio::test]
async fn twilio_errors_are_sorted_into_permanent_and_transient() {
    let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
    // The magic number +15005550001 is an invalid 'To': 21211, permanent.
    let (c, n) = setup(
        &tw.base_url(),
        "127.0.0.1:1",
        "http://127.0.0.1:1/",
        "+15005550001",
    );
    let o = n.deliver(&channel(&c, "sms"), &alert()).await;
    assert_eq!(
        o,
        DeliveryOutcome::Permanent {
            detail: "HTTP 400, Twilio error 21211: The 'To' number +15005550001 is not a valid phone number.".into()
        }
    );
    assert_eq!(tw.requests()[0].code, Some(21211));

    let (c, n) = setup(
        &tw.base_url(),
        "127.0.0.1:1",
        "http://127.0.0.1:1/",
        "+15558675310",
    );
    tw.fail_next(Failure::too_many_requests(3));
    let o = n.deliver(&channel(&c, "sms"), &alert()).await;
    assert_eq!(
        o,
        DeliveryOutcome::Transient {
            detail: "HTTP 429, Twilio error 20429: Too Many Requests".into(),
            retry_after: Some(3000)
        }
    );
    tw.fail_next(Failure::server_error());
    assert!(matches!(
        n.deliver(&channel(&c, "call"), &alert()).await,
        DeliveryOutcome::Transient { .. }
    ));

    // A wrong token: 401 / 20003, permanent (a config error), and the
    // token never appears in what we report.
    let tw2 = TwilioStandIn::start(SID, "another-token").await.unwrap();
    let (c, n) = setup(
        &tw2.base_url(),
        "127.0.0.1:1",
        "http://127.0.0.1:1/",
        "+15558675310",
    );
    let o = n.deliver(&channel(&c, "sms"), &alert()).await;
    let DeliveryOutcome::Permanent { detail } = o else {
        panic!("{o:?}")
    };
    assert!(detail.contains("20003"), "{detail}");
    assert!(!detail.contains(TOKEN));
    assert!(!tw2.requests()[0].authorized);

    // Twilio unreachable: transient.
    let port = lookout_testkit::free_port().unwrap();
    let (c, n) = setup(
        &format!("http://127.0.0.1:{port}"),
        "127.0.0.1:1",
        "http://127.0.0.1:1/",
        "+15558675310",
    );
    let o = n.deliver(&channel(&c, "sms"), &alert()).await;
    assert_eq!(
        o,
        DeliveryOutcome::Transient {
            detail: "Twilio cannot connect".into(),
            retry_after: None
        }
    );
}

#[test]
fn stand_in_validates_like_twilio() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tw = TwilioStandIn::start(SID, TOKEN).await.unwrap();
        let http = reqwest::Client::new();
        let url = format!("{}/2010-04-01/Accounts/{SID}/Messages.json", tw.base_url());
        let post = |form: Vec<(&'static str, String)>| {
            http.post(&url)
                .basic_auth(SID, Some(TOKEN))
                .form(&form)
                .send()
        };
        let body = "x".repeat(1601);
        for (form, status, code) in [
            (
                vec![("From", "+15005550006".to_string()), ("Body", "b".into())],
                400,
                21604,
            ),
            (
                vec![
                    ("To", "5551234".into()),
                    ("From", "+15005550006".into()),
                    ("Body", "b".into()),
                ],
                400,
                21211,
            ),
            (
                vec![("To", "+15558675310".into()), ("Body", "b".into())],
                400,
                21603,
            ),
            (
                vec![
                    ("To", "+15558675310".into()),
                    ("From", "+15005550006".into()),
                ],
                400,
                21602,
            ),
            (
                vec![
                    ("To", "+15558675310".into()),
                    ("From", "+15005550006".into()),
                    ("Body", body),
                ],
                400,
                21617,
            ),
            (
                vec![
                    ("To", "+15005550009".into()),
                    ("From", "+15005550006".into()),
                    ("Body", "b".into()),
                ],
                400,
                21614,
            ),
        ] {
            let r = post(form).await.unwrap();
            assert_eq!(r.status().as_u16(), status);
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["code"], code);
            assert_eq!(v["status"], status);
            assert_eq!(
                v["more_info"],
                format!("https://www.twilio.com/docs/errors/{code}")
            );
        }
        let r = http
            .post(&url)
            .form(&[("To", "+15558675310")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
        let r = http
            .get(format!(
                "{}/2010-04-01/Accounts/{SID}/Messages/SMnope.json",
                tw.base_url()
            ))
            .header("Authorization", format!("Basic {creds}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], 20404);
    });
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server() {
    let smtp = SmtpServer::start().await.unwrap();
    let (c, n) = setup(
        "http://127.0.0.1:1",
        &smtp.addr.to_string(),
        "http://127.0.0.1:1/",
        "+15558675310",
    );
    let o = n.deliver(&channel(&c, "mail"), &alert()).await;
    assert!(
        matches!(o, DeliveryOutcome::Accepted { ref detail, .. } if detail == "SMTP 250"),
        "{o:?}"
    );
    let mails = lookout_testkit::eventually(std::time::Duration::from_secs(5), "the mail", || {
        let m = smtp.messages();
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.contains("Subject: [eu-1] FAILED: web"), "{m}");
    assert!(m.contains("To: ops@example.com, oncall@example.com"), "{m}");
    assert!(m.contains("From: lookout@monitor.test"), "{m}");
    assert!(m.contains("Incident #7"), "{m}");

    // Nobody listening: transient (retry later), not permanent.
    let port = lookout_testkit::free_port().unwrap();
    let (c, n) = setup(
        "http://127.0.0.1:1",
        &format!("127.0.0.1:{port}"),
        "http://127.0.0.1:1/",
        "+15558675310",
    );
    assert!(matches!(
        n.deliver(&channel(&c, "mail"), &alert()).await,
        DeliveryOutcome::Transient { .. }
    ));
}

#[tokio::test]
async fn webhook_posts_json() {
    let t = HttpTarget::start().await.unwrap();
    let (c, n) = setup(
        "http://127.0.0.1:1",
        "127.0.0.1:1",
        &t.url("/hook"),
        "+15558675310",
    );
    let o = n.deliver(&channel(&c, "hook"), &alert()).await;
    assert!(matches!(o, DeliveryOutcome::Accepted { .. }), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&t.hooks()[0]).unwrap();
    assert_eq!(v["monitor"], "eu-1");
    assert_eq!(v["kind"], "alert");
    assert_eq!(v["incident"], 7);
    assert_eq!(v["subject"], "[eu-1] FAILED: web");
    let (c, n) = setup(
        "http://127.0.0.1:1",
        "127.0.0.1:1",
        &t.url("/status/404"),
        "+15558675310",
    );
    assert!(matches!(
        n.deliver(&channel(&c, "hook"), &alert()).await,
        DeliveryOutcome::Permanent { .. }
    ));
}
