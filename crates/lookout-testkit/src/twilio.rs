//! A local stand-in for Twilio's REST API (2010-04-01), following the
//! contract in shared/specs/lookout-landscape.md §5: Basic auth checked
//! first (401, code 20003), form-encoded bodies with repeated keys,
//! validation in Twilio's order with its error codes, the magic test
//! numbers, `201` with a Message or Call resource, and JSON error bodies.
//! Every request is recorded; failures (429 + Retry-After, 5xx) can be
//! injected for the next requests.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
    pub status: u16,
    /// The Twilio error code returned, if any.
    pub code: Option<u32>,
    /// The sid of the created resource, on success.
    pub sid: Option<String>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_message(&self) -> bool {
        self.path.ends_with("/Messages.json")
    }
    pub fn is_call(&self) -> bool {
        self.path.ends_with("/Calls.json")
    }
}

/// A failure to return instead of processing a request.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    pub code: u32,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl Failure {
    pub fn too_many_requests(retry_after: u32) -> Failure {
        Failure {
            status: 429,
            code: 20429,
            message: "Too Many Requests".into(),
            retry_after: Some(retry_after),
        }
    }
    pub fn server_error() -> Failure {
        Failure {
            status: 503,
            code: 20500,
            message: "Service Unavailable".into(),
            retry_after: None,
        }
    }
}

#[derive(Default)]
struct State {
    account_sid: String,
    auth_token: String,
    recorded: Vec<Recorded>,
    failures: VecDeque<Failure>,
    resources: HashMap<String, Value>,
    counter: u64,
}

#[derive(Clone)]
pub struct TwilioStandIn {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for TwilioStandIn {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl TwilioStandIn {
    pub async fn start(account_sid: &str, auth_token: &str) -> anyhow::Result<TwilioStandIn> {
        let state = Arc::new(Mutex::new(State {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            ..Default::default()
        }));
        let st = state.clone();
        let app = Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { handle(&st, m, u, h, b) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TwilioStandIn {
            addr,
            state,
            task: Arc::new(task),
        })
    }

    /// What to put in `twilio.api_base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().recorded.clone()
    }

    /// Answer the next request with `f` instead of processing it.
    pub fn fail_next(&self, f: Failure) {
        self.lock().failures.push_back(f);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn error(status: u16, code: u32, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

fn is_e164(s: &str) -> bool {
    s.len() >= 8
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded`, keeping repeated keys.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(body);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn rfc2822_now() -> String {
    // Fixed-format date; tests do not depend on its value.
    "Thu, 03 Dec 2026 15:00:00 +0000".into()
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let path = uri.path().to_string();
    let form = parse_form(&body);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let authorized = check_auth(&st, &headers, &path);
    let mut rec = Recorded {
        method: method.to_string(),
        path: path.clone(),
        authorized,
        content_type,
        form: form.clone(),
        status: 0,
        code: None,
        sid: None,
    };
    let (status, body, retry_after) = if !authorized {
        let (s, b) = error(401, 20003, "Authenticate");
        (s, b, None)
    } else if let Some(f) = st.failures.pop_front() {
        let (s, b) = error(f.status, f.code, &f.message);
        (s, b, f.retry_after)
    } else {
        let (s, b) = route(&mut st, &method, &path, &form);
        (s, b, None)
    };
    rec.status = status.as_u16();
    rec.code = body.get("code").and_then(Value::as_u64).map(|c| c as u32);
    rec.sid = if status.is_success() {
        body.get("sid").and_then(Value::as_str).map(str::to_string)
    } else {
        None
    };
    st.recorded.push(rec);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(r) = retry_after
        && let Ok(v) = r.to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn check_auth(st: &State, headers: &HeaderMap, path: &str) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(pair) = String::from_utf8(raw) else {
        return false;
    };
    let Some((user, pass)) = pair.split_once(':') else {
        return false;
    };
    let in_path = path
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    user == st.account_sid && in_path == user && pass == st.auth_token
}

fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    form: &[(String, String)],
) -> (StatusCode, Value) {
    let prefix = format!("/2010-04-01/Accounts/{}/", st.account_sid);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(404, 20404, "The requested resource was not found");
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match (method.as_str(), rest) {
        ("POST", "Messages.json") => {
            let Some(to) = get("To") else {
                return error(400, 21604, "A 'To' phone number is required.");
            };
            if !is_e164(to) {
                return error(
                    400,
                    21211,
                    &format!("The 'To' number {to} is not a valid phone number."),
                );
            }
            let from = get("From");
            if from.is_none() && get("MessagingServiceSid").is_none() {
                return error(400, 21603, "A 'From' phone number is required.");
            }
            let body = get("Body");
            if body.is_none() && get("MediaUrl").is_none() && get("ContentSid").is_none() {
                return error(400, 21602, "Message body is required.");
            }
            if body.is_some_and(|b| b.chars().count() > 1600) {
                return error(
                    400,
                    21617,
                    "The concatenated message body exceeds the 1600 character limit.",
                );
            }
            let magic_to = match to {
                "+15005550001" => Some(21211),
                "+15005550002" => Some(21612),
                "+15005550003" => Some(21408),
                "+15005550004" => Some(21610),
                "+15005550009" => Some(21614),
                _ => None,
            };
            if let Some(code) = magic_to {
                return error(
                    400,
                    code,
                    &format!("The 'To' number {to} is not a valid phone number."),
                );
            }
            if let Some(f) = from {
                let magic_from = match f {
                    "+15005550001" => Some(21212),
                    "+15005550007" => Some(21606),
                    "+15005550008" => Some(21611),
                    f if !is_e164(f) => Some(21212),
                    _ => None,
                };
                if let Some(code) = magic_from {
                    return error(400, code, &format!("The 'From' number {f} is not valid."));
                }
            }
            st.counter += 1;
            let sid = format!("SM{:032x}", st.counter);
            let b = body.unwrap_or("");
            let segments = b.chars().count().div_ceil(153).max(1);
            let now = rfc2822_now();
            let v = json!({
                "sid": sid, "account_sid": st.account_sid, "to": to, "from": from,
                "messaging_service_sid": get("MessagingServiceSid"), "body": b,
                "status": if from.is_some() { "queued" } else { "accepted" },
                "num_segments": segments.to_string(), "num_media": "0",
                "direction": "outbound-api", "api_version": "2010-04-01",
                "price": null, "price_unit": "USD", "error_code": null, "error_message": null,
                "date_created": now, "date_updated": now, "date_sent": null,
                "uri": format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", st.account_sid),
                "subresource_uris": {"media": format!("/2010-04-01/Accounts/{}/Messages/{sid}/Media.json", st.account_sid)},
            });
            st.resources.insert(sid, v.clone());
            (StatusCode::CREATED, v)
        }
        ("POST", "Calls.json") => {
            let Some(to) = get("To") else {
                return error(400, 21201, "No 'To' number is specified");
            };
            let Some(from) = get("From") else {
                return error(400, 21213, "No 'From' number is specified");
            };
            if get("Url").is_none() && get("Twiml").is_none() && get("ApplicationSid").is_none() {
                return error(400, 21205, "Url parameter is required.");
            }
            if let Some(u) = get("Url")
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                return error(400, 21205, "Url is not a valid URL.");
            }
            let magic = match (to, from) {
                (_, "+15005550001") => Some(21212),
                ("+15005550001", _) => Some(21217),
                ("+15005550002", _) => Some(21214),
                ("+15005550003", _) => Some(21215),
                ("+15005550004", _) => Some(21216),
                (t, _) if !is_e164(t) => Some(21217),
                _ => None,
            };
            if let Some(code) = magic {
                return error(400, code, &format!("Cannot call {to} from {from}."));
            }
            st.counter += 1;
            let sid = format!("CA{:032x}", st.counter);
            let now = rfc2822_now();
            let v = json!({
                "sid": sid, "account_sid": st.account_sid, "to": to, "to_formatted": to,
                "from": from, "from_formatted": from, "status": "queued",
                "direction": "outbound-api", "api_version": "2010-04-01",
                "start_time": null, "end_time": null, "duration": null, "answered_by": null,
                "price": null, "price_unit": "USD", "parent_call_sid": null,
                "date_created": now, "date_updated": now,
                "uri": format!("/2010-04-01/Accounts/{}/Calls/{sid}.json", st.account_sid),
            });
            st.resources.insert(sid, v.clone());
            (StatusCode::CREATED, v)
        }
        ("GET", r) => {
            let sid = r
                .strip_prefix("Messages/")
                .or_else(|| r.strip_prefix("Calls/"))
                .and_then(|s| s.strip_suffix(".json"));
            match sid.and_then(|s| st.resources.get(s)) {
                Some(v) => (StatusCode::OK, v.clone()),
                None => error(404, 20404, "The requested resource was not found"),
            }
        }
        _ => error(404, 20404, "The requested resource was not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"To=%2B15558675310&Body=web+FAILED+%28HTTP+503%29&A=1&A=2&bad=%zz");
        assert_eq!(f[0], ("To".into(), "+15558675310".into()));
        assert_eq!(f[1].1, "web FAILED (HTTP 503)");
        assert_eq!(f.iter().filter(|(k, _)| k == "A").count(), 2);
        assert_eq!(f[4].1, "%zz");
    }
}
