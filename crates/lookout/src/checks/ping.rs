//! Ping checks: one ICMP echo, answered in time or not. An unprivileged
//! datagram ICMP socket is tried first (Linux allows it to groups in
//! `net.ipv4.ping_group_range`), then a raw socket (root or CAP_NET_RAW).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use lookout_core::icmp;
use lookout_core::model::{CheckResult, Outcome};
use socket2::{Domain, Protocol, Socket, Type};

static SEQ: AtomicU16 = AtomicU16::new(1);

/// Open an ICMP socket for `ip`: (socket, is_raw).
fn open(ip: IpAddr) -> Result<(Socket, bool), String> {
    let (domain, proto) = if ip.is_ipv6() {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => Ok((s, true)),
            Err(raw) => Err(format!(
                "cannot open an ICMP socket (datagram: {dgram}; raw: {raw}); allow the daemon's group in net.ipv4.ping_group_range or give it CAP_NET_RAW"
            )),
        },
    }
}

async fn echo(ip: IpAddr) -> Result<&'static str, String> {
    let (sock, raw) = open(ip)?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let std_sock: std::net::UdpSocket = sock.into();
    let sock = tokio::net::UdpSocket::from_std(std_sock).map_err(|e| e.to_string())?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ ((seq as u64) << 48);
    let packet = icmp::echo_request(
        ip.is_ipv6(),
        (std::process::id() & 0xffff) as u16,
        seq,
        token,
    );
    sock.send_to(&packet, SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("send to {ip}: {e}"))?;
    let mut buf = [0u8; 1500];
    loop {
        let (n, _) = sock
            .recv_from(&mut buf)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        // Raw IPv4 sockets deliver the IP header too; IPv6 ones never do.
        let ip_header = raw && ip.is_ipv4();
        if icmp::is_echo_reply(&buf[..n], ip.is_ipv6(), ip_header, seq, token) {
            return Ok(if raw { "raw" } else { "datagram" });
        }
    }
}

pub async fn run(host: &str, timeout: Duration) -> CheckResult {
    let start = Instant::now();
    let ms = || start.elapsed().as_millis() as u64;
    let attempt = async {
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("no addresses for {host}"))?
                .ip(),
        };
        let how = echo(ip).await?;
        Ok::<_, String>((ip, how))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok((ip, how))) => {
            let us = start.elapsed().as_micros();
            CheckResult::new(
                Outcome::Good,
                ms(),
                format!(
                    "reply from {ip} in {}.{:03}ms ({how} socket)",
                    us / 1000,
                    us % 1000
                ),
            )
        }
        Ok(Err(e)) => CheckResult::new(Outcome::Failed, ms(), e),
        Err(_) => CheckResult::new(
            Outcome::TimedOut,
            ms(),
            format!(
                "no echo reply within {}",
                lookout_core::duration::format(timeout.as_millis() as u64)
            ),
        ),
    }
}
