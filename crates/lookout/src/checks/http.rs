//! http/https checks: one request; GOOD when the status, body, latency and
//! certificate conditions all hold. The certificate is read from the same
//! TLS session as the request (no second connection).

use std::time::{Duration, Instant};

use lookout_core::civil::DAY;
use lookout_core::model::{CheckResult, Millis, Outcome};
use lookout_core::{der, duration};

/// Bodies are read up to this size for the substring/regex conditions.
const MAX_BODY: usize = 1 << 20;

pub struct HttpSpec<'a> {
    pub url: &'a str,
    pub expect_status: &'a [u16],
    pub body_contains: Option<&'a str>,
    pub body_regex: Option<&'a regex::Regex>,
    pub max_latency: Option<Millis>,
    pub cert_min_days: Option<u32>,
    pub timeout: Duration,
}

/// A client for http checks; `ca_pem` adds a trusted root (self-signed
/// internal services).
pub fn client(ca_pem: Option<&[u8]>) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .tls_info(true)
        .user_agent(concat!("lookout/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(0);
    if let Some(pem) = ca_pem {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
    }
    Ok(b.build()?)
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

pub async fn run(client: &reqwest::Client, spec: &HttpSpec<'_>, now: Millis) -> CheckResult {
    let start = Instant::now();
    let ms = || start.elapsed().as_millis() as u64;
    let timed_out = || {
        CheckResult::new(
            Outcome::TimedOut,
            ms(),
            format!(
                "no complete response within {}",
                duration::format(spec.timeout.as_millis() as u64)
            ),
        )
    };
    let work = async {
        let mut resp = match client.get(spec.url).timeout(spec.timeout).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(None),
            Err(e) => return Err(Some(describe(&e))),
        };
        let status = resp.status().as_u16();
        let cert_days = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(|der_cert| {
                der::not_after(der_cert).map(|t| (t as i64 - now as i64).div_euclid(DAY as i64))
            });
        let mut body = Vec::new();
        if spec.body_contains.is_some() || spec.body_regex.is_some() {
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        let room = MAX_BODY - body.len();
                        body.extend_from_slice(&c[..c.len().min(room)]);
                        if body.len() >= MAX_BODY {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.is_timeout() => return Err(None),
                    Err(e) => return Err(Some(format!("reading body: {}", describe(&e)))),
                }
            }
        }
        Ok((status, cert_days, body))
    };
    let (status, cert_days, body) = match tokio::time::timeout(spec.timeout, work).await {
        Err(_) | Ok(Err(None)) => return timed_out(),
        Ok(Err(Some(e))) => return CheckResult::new(Outcome::Failed, ms(), e),
        Ok(Ok(v)) => v,
    };
    let took = ms();
    let fail = |m: String| CheckResult::new(Outcome::Failed, took, m);
    let status_ok = if spec.expect_status.is_empty() {
        (200..400).contains(&status)
    } else {
        spec.expect_status.contains(&status)
    };
    if !status_ok {
        return fail(format!("HTTP {status}"));
    }
    let text = String::from_utf8_lossy(&body);
    if let Some(s) = spec.body_contains
        && !text.contains(s)
    {
        return fail(format!("HTTP {status}, body lacks {s:?}"));
    }
    if let Some(r) = spec.body_regex
        && !r.is_match(&text)
    {
        return fail(format!(
            "HTTP {status}, body does not match /{}/",
            r.as_str()
        ));
    }
    if let Some(max) = spec.max_latency
        && took > max
    {
        return fail(format!(
            "HTTP {status} but slow: {} > {}",
            duration::format(took),
            duration::format(max)
        ));
    }
    let mut msg = format!("HTTP {status} in {}", duration::format(took));
    match (spec.cert_min_days, cert_days) {
        (Some(_), None) => return fail(format!("HTTP {status}, but no TLS certificate to check")),
        (_, Some(Err(e))) => return fail(format!("HTTP {status}, {e}")),
        (Some(min), Some(Ok(days))) if days < min as i64 => {
            return fail(format!(
                "certificate expires in {days} days (minimum {min})"
            ));
        }
        (_, Some(Ok(days))) => msg.push_str(&format!(", certificate valid {days} more days")),
        _ => {}
    }
    CheckResult::new(Outcome::Good, took, msg)
}
