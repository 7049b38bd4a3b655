//! TCP checks: can we complete a handshake with `host:port` in time?

use std::time::{Duration, Instant};

use lookout_core::model::{CheckResult, Outcome};

pub async fn run(address: &str, timeout: Duration) -> CheckResult {
    let start = Instant::now();
    let attempt = async {
        let addrs: Vec<_> = tokio::net::lookup_host(address)
            .await
            .map_err(|e| format!("cannot resolve {address}: {e}"))?
            .collect();
        let mut last = format!("no addresses for {address}");
        for a in addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(_) => return Ok(a),
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        Err(last)
    };
    let ms = || start.elapsed().as_millis() as u64;
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(a)) => CheckResult::new(
            Outcome::Good,
            ms(),
            format!("connected to {a} in {}ms", ms()),
        ),
        Ok(Err(e)) => CheckResult::new(Outcome::Failed, ms(), e),
        Err(_) => CheckResult::new(
            Outcome::TimedOut,
            ms(),
            format!(
                "no connection within {}",
                lookout_core::duration::format(timeout.as_millis() as u64)
            ),
        ),
    }
}
