//! Half-close passes through each direction on its own, and a target that
//! talks first works, against our daemons and the reference ones.

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Start `-d` (impl `d`) in front of `target`, and `-e` (impl `e`) in front
/// of it; returns the address clients use and the daemons.
fn pipe(s: &Scratch, e: Impl, d: Impl, target: &str) -> (String, Vec<Daemon>) {
    let key = s.key("key");
    let key = key.to_str().unwrap();
    let d_addr = s.addr(Family::V4, "d.sock");
    let e_addr = s.addr(Family::V4, "e.sock");
    let dd = spiped(d, s, &["-d", "-s", &d_addr, "-t", target, "-k", key]);
    let ee = spiped(e, s, &["-e", "-s", &e_addr, "-t", &d_addr, "-k", key]);
    (e_addr, vec![dd, ee])
}

const PAIRS: &[(Impl, Impl)] = &[
    (Impl::Rust, Impl::Rust),
    (Impl::Rust, Impl::C),
    (Impl::C, Impl::Rust),
];

#[test]
fn client_closes_first_target_answers_slowly() {
    for &(e, d) in PAIRS {
        let s = Scratch::new();
        let reply = random_bytes(300_000, 7);
        let target = server(
            &s,
            Family::V4,
            Behaviour::RecordThenReply {
                delay: Duration::from_millis(500),
                reply: reply.clone(),
                chunks: 3,
                gap: Duration::from_millis(600),
            },
        );
        let (addr, _daemons) = pipe(&s, e, d, &target.addr);
        let request = random_bytes(200_000, 8);
        let t0 = Instant::now();
        let got = round_trip(&addr, &request).unwrap();
        assert!(
            t0.elapsed() >= Duration::from_millis(1500),
            "{e:?}->{d:?}: reply came too fast"
        );
        assert_eq!(sha(&got), sha(&reply), "{e:?}->{d:?}: reply");
        let seen = target
            .received
            .recv_timeout(Duration::from_secs(10))
            .unwrap();
        assert_eq!(sha(&seen), sha(&request), "{e:?}->{d:?}: request");
    }
}

#[test]
fn target_closes_first_client_keeps_sending() {
    for &(e, d) in PAIRS {
        let s = Scratch::new();
        let reply = random_bytes(5_000, 9);
        let target = server(&s, Family::V4, Behaviour::ReplyFirst(reply.clone()));
        let (addr, _daemons) = pipe(&s, e, d, &target.addr);
        let mut c = Client::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20)));
        // Read the whole reply and its EOF before sending anything.
        let got = c.read_all().unwrap();
        assert_eq!(sha(&got), sha(&reply), "{e:?}->{d:?}");
        // The other direction still works, for seconds.
        let request = random_bytes(400_000, 10);
        for chunk in request.chunks(100_000) {
            c.write_all(chunk).unwrap();
            thread::sleep(Duration::from_millis(300));
        }
        c.shutdown_write();
        let seen = target
            .received
            .recv_timeout(Duration::from_secs(10))
            .unwrap();
        assert_eq!(sha(&seen), sha(&request), "{e:?}->{d:?}");
    }
}

#[test]
fn target_talks_first() {
    for &(e, d) in PAIRS {
        let s = Scratch::new();
        let banner = b"220 mail.example ESMTP ready\r\n".to_vec();
        let target = server(&s, Family::V4, Behaviour::BannerEcho(banner.clone()));
        let (addr, _daemons) = pipe(&s, e, d, &target.addr);
        let mut c = Client::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10)));
        let mut got = vec![0u8; banner.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, banner, "{e:?}->{d:?}");
        c.write_all(b"EHLO client\r\n").unwrap();
        let mut echo = vec![0u8; 13];
        c.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"EHLO client\r\n");
        c.shutdown_write();
        assert!(c.read_all().unwrap().is_empty());
    }
}

#[test]
fn interactive_bytes_are_not_held_back() {
    let s = Scratch::new();
    let target = server(&s, Family::V4, Behaviour::Echo);
    let (addr, _daemons) = pipe(&s, Impl::Rust, Impl::Rust, &target.addr);
    let mut c = Client::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5)));
    for i in 0..50u8 {
        c.write_all(&[i]).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i);
    }
}
