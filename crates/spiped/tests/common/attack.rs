//! A hostile spiped peer for the adversarial suite.
//!
//! It is built from spiped-proto's primitives (PBKDF2, HMAC, DH, the
//! packet codec), not from its `Handshake`, so it can do what an honest
//! implementation never does: corrupt one field of its handshake, send any
//! DH value with a correct MAC (it knows the key), trickle bytes, and forge
//! packets with the session keys (flipped, replayed, reordered, or with a
//! length field outside 1..=1024).
//!
//! Also here: a fake protocol server (for attacking `spiped -e`), a
//! watchdog client that keeps making round trips through a daemon while it
//! is attacked, a foreground daemon with its stderr captured, and /proc
//! readings (RSS, CPU time, open descriptors).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use spiped::dhpool::random_bytes as os_random;
use spiped_proto::dh::{DhKeypair, Y_ONE};
use spiped_proto::kdf::{hmac, pbkdf2_1};
use spiped_proto::{DH_LEN, Decryptor, Encryptor, Key, MAX_PAYLOAD, NONCE_LEN, PACKET_LEN, YH_LEN};

use crate::common::*;

/// A handshake field to corrupt (one byte flipped after the MAC is made,
/// as a man in the middle would).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Nonce,
    Y,
    H,
}

/// How the attacker plays its side of the handshake.
#[derive(Clone, Debug)]
pub enum Play {
    /// A fresh DH value, correct MAC: an honest peer.
    Honest,
    /// y = 1 with a correct MAC, as `-f` does.
    NoPfs,
    /// Honest, then one byte of this field flipped on the wire.
    Corrupt(Field),
    /// This y, with a correct MAC (the attacker holds the key).
    Y(Box<[u8; DH_LEN]>),
}

/// The key as the daemons derive it from a key file.
pub fn key_of(path: &Path) -> Key {
    Key::from_file_contents(&std::fs::read(path).unwrap())
}

/// A protocol connection after a handshake the peer accepted, with the
/// raw sending keys kept so packets can be forged.
pub struct Session {
    pub stream: TcpStream,
    pub send: Encryptor,
    pub recv: Decryptor,
    send_mac: [u8; 32],
}

/// How a handshake attempt ended.
pub enum Outcome {
    /// The peer accepted our half (and we checked its MAC).
    Accepted(Box<Session>),
    /// The peer closed or reset after sending `got` handshake bytes.
    Refused { got: usize },
}

impl Outcome {
    pub fn session(self) -> Session {
        match self {
            Outcome::Accepted(s) => *s,
            Outcome::Refused { got } => panic!("handshake refused after {got} bytes"),
        }
    }
    pub fn refused(&self) -> Option<usize> {
        match self {
            Outcome::Accepted(_) => None,
            Outcome::Refused { got } => Some(*got),
        }
    }
}

fn nonce() -> [u8; NONCE_LEN] {
    os_random::<NONCE_LEN>().unwrap()
}

/// Our y (and the exponent behind it, if any) for a play.
fn our_y(play: &Play) -> ([u8; DH_LEN], Option<DhKeypair>) {
    match play {
        Play::Honest | Play::Corrupt(_) => {
            let kp = DhKeypair::from_random(&os_random::<32>().unwrap());
            (kp.public, Some(kp))
        }
        Play::NoPfs => (Y_ONE, None),
        Play::Y(y) => (**y, None),
    }
}

/// y_SC as the peer computes it: its exponent applied to our y, which we
/// can only know for our own exponent or for y in {0, 1}; a -f peer
/// (y = 1) uses 1 whatever we sent. For any other y the keys we derive are
/// wrong (a test can then only check the handshake's verdict).
fn shared(ours: &[u8; DH_LEN], kp: &Option<DhKeypair>, theirs: &[u8; DH_LEN]) -> [u8; DH_LEN] {
    if *theirs == Y_ONE || *ours == Y_ONE {
        return Y_ONE;
    }
    if *ours == [0u8; DH_LEN] {
        return [0u8; DH_LEN];
    }
    match kp {
        Some(kp) => *kp.secret.shared(theirs),
        None => [0xee; DH_LEN],
    }
}

fn derive(
    key: &Key,
    nonces: &[u8],
    y_sc: &[u8; DH_LEN],
    client: bool,
) -> (Encryptor, Decryptor, [u8; 32]) {
    let mut d = [0u8; 128];
    pbkdf2_1(key.as_bytes(), &[nonces, &y_sc[..]].concat(), &mut d);
    let k = |i: usize| -> [u8; 32] { d[32 * i..32 * (i + 1)].try_into().unwrap() };
    if client {
        (
            Encryptor::new(&k(0), &k(1)),
            Decryptor::new(&k(2), &k(3)),
            k(1),
        )
    } else {
        (
            Encryptor::new(&k(2), &k(3)),
            Decryptor::new(&k(0), &k(1)),
            k(3),
        )
    }
}

/// Read exactly `buf.len()` bytes; `Err(n)` with the count read if the
/// peer closed or reset first.
fn read_full(s: &mut TcpStream, buf: &mut [u8]) -> Result<(), usize> {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return Err(n),
            Ok(k) => n += k,
        }
    }
    Ok(())
}

/// Our y || h, with the corruption the play asks for.
fn y_and_h(play: &Play, y: &[u8; DH_LEN], dhmac: &[u8]) -> Vec<u8> {
    let mut yh = y.to_vec();
    yh.extend_from_slice(&hmac(dhmac, y));
    match play {
        Play::Corrupt(Field::Y) => yh[100] ^= 0x01,
        Play::Corrupt(Field::H) => yh[DH_LEN + 7] ^= 0x01,
        _ => {}
    }
    yh
}

/// Play the client (against `spiped -d`), with `key`.
pub fn as_client(mut s: TcpStream, key: &Key, play: Play) -> Outcome {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let nc = nonce();
    let mut wire = nc;
    if matches!(play, Play::Corrupt(Field::Nonce)) {
        wire[5] ^= 0x20;
    }
    if s.write_all(&wire).is_err() {
        return Outcome::Refused { got: 0 };
    }
    let mut ns = [0u8; NONCE_LEN];
    if let Err(got) = read_full(&mut s, &mut ns) {
        return Outcome::Refused { got };
    }
    let nonces = [nc, ns].concat();
    let mut dk1 = [0u8; 64];
    pbkdf2_1(key.as_bytes(), &nonces, &mut dk1);
    let (y, kp) = our_y(&play);
    // A write can fail if the server has already given up on us.
    let _ = s.write_all(&y_and_h(&play, &y, &dk1[..32]));
    let mut theirs = [0u8; YH_LEN];
    if let Err(n) = read_full(&mut s, &mut theirs) {
        return Outcome::Refused { got: NONCE_LEN + n };
    }
    let ys: [u8; DH_LEN] = theirs[..DH_LEN].try_into().unwrap();
    assert_eq!(
        &theirs[DH_LEN..],
        hmac(&dk1[32..], &ys),
        "the server's MAC is wrong"
    );
    let (send, recv, send_mac) = derive(key, &nonces, &shared(&y, &kp, &ys), true);
    Outcome::Accepted(Box::new(Session {
        stream: s,
        send,
        recv,
        send_mac,
    }))
}

/// Play the server (against `spiped -e`), with `key`.
pub fn as_server(mut s: TcpStream, key: &Key, play: Play) -> Outcome {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut nc = [0u8; NONCE_LEN];
    if let Err(got) = read_full(&mut s, &mut nc) {
        return Outcome::Refused { got };
    }
    let ns = nonce();
    let mut wire = ns;
    if matches!(play, Play::Corrupt(Field::Nonce)) {
        wire[9] ^= 0x04;
    }
    let _ = s.write_all(&wire);
    let nonces = [nc, ns].concat();
    let mut dk1 = [0u8; 64];
    pbkdf2_1(key.as_bytes(), &nonces, &mut dk1);
    let mut theirs = [0u8; YH_LEN];
    if let Err(n) = read_full(&mut s, &mut theirs) {
        return Outcome::Refused { got: NONCE_LEN + n };
    }
    // The client's MAC is not checked: a hostile server goes on anyway.
    let yc: [u8; DH_LEN] = theirs[..DH_LEN].try_into().unwrap();
    let (y, kp) = our_y(&play);
    let _ = s.write_all(&y_and_h(&play, &y, &dk1[32..]));
    let (send, recv, send_mac) = derive(key, &nonces, &shared(&y, &kp, &yc), false);
    Outcome::Accepted(Box::new(Session {
        stream: s,
        send,
        recv,
        send_mac,
    }))
}

impl Session {
    /// Seal one packet (the counter moves on) without sending it.
    pub fn packet(&mut self, payload: &[u8]) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        self.send.seal(payload, &mut p);
        p
    }

    /// A correctly tagged packet at the current counter whose length field
    /// says `len`: seal 1024 zero bytes (the ciphertext is then the
    /// keystream), rewrite the encrypted length field, tag again.
    pub fn forge_length(&mut self, len: u32) -> [u8; PACKET_LEN] {
        let pnum = self.send.packets();
        let mut p = self.packet(&[0u8; MAX_PAYLOAD]);
        let field = (MAX_PAYLOAD as u32 ^ len).to_be_bytes();
        for (c, f) in p[MAX_PAYLOAD..MAX_PAYLOAD + 4].iter_mut().zip(field) {
            *c ^= f;
        }
        let mut m = p[..MAX_PAYLOAD + 4].to_vec();
        m.extend_from_slice(&pnum.to_be_bytes());
        p[MAX_PAYLOAD + 4..].copy_from_slice(&hmac(&self.send_mac, &m));
        p
    }

    pub fn send_data(&mut self, payload: &[u8]) {
        let p = self.packet(payload);
        self.stream.write_all(&p).unwrap();
    }

    /// Read and open one packet from the peer.
    pub fn recv_data(&mut self) -> Vec<u8> {
        let mut p = [0u8; PACKET_LEN];
        read_full(&mut self.stream, &mut p).expect("a whole packet");
        self.recv.open(&mut p).expect("the peer's packet").to_vec()
    }

    /// The peer drops the connection within `d`: EOF or reset, and no
    /// more bytes.
    pub fn expect_dropped(&mut self, d: Duration) {
        expect_closed(&mut self.stream, d);
    }
}

/// The connection ends (EOF or reset) within `d`, with nothing more read.
pub fn expect_closed(s: &mut TcpStream, d: Duration) {
    s.set_read_timeout(Some(d)).unwrap();
    let mut buf = [0u8; 2048];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{n} more bytes instead of a close"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "not closed within {d:?}: {e}"
        ),
    }
}

pub fn connect(addr: &str) -> TcpStream {
    TcpStream::connect_timeout(&to_socket_addr(addr), Duration::from_secs(5)).unwrap()
}

/// What a hostile fake server saw on one connection.
#[derive(Debug)]
pub struct Seen {
    /// Handshake bytes the daemon sent before it stopped (320 = all).
    pub handshake_bytes: usize,
    /// Bytes that came after the handshake before the close.
    pub after: usize,
    /// Whether the daemon closed the connection within 10 s.
    pub closed: bool,
}

/// A fake protocol server for attacking `spiped -e`. Connections are
/// forwarded to a real `spiped -d` (`honest_to`) unless a hostile play is
/// armed: the next connection accepted takes it.
pub struct FakeServer {
    pub addr: String,
    armed: Arc<Mutex<VecDeque<Armed>>>,
    pub gate: Gate,
}

/// A hostile play for the next connection: how to play, with which key
/// (None: the right one), and where to report.
type Armed = (Play, Option<Key>, mpsc::Sender<Seen>);

/// Serializes connection starts, so that the connection a hostile play is
/// armed for is the one that takes it, while other clients keep running.
#[derive(Clone)]
pub struct Gate {
    pub lock: Arc<Mutex<()>>,
    pub accepted: Arc<AtomicU64>,
}

impl Gate {
    /// Run `connect` under the lock and wait until the fake server has
    /// accepted the connection it leads to.
    pub fn pass<T>(&self, connect: impl FnOnce() -> T) -> T {
        let _g = self.lock.lock().unwrap();
        let before = self.accepted.load(Ordering::SeqCst);
        let t = connect();
        assert!(
            wait_for(Duration::from_secs(10), || self
                .accepted
                .load(Ordering::SeqCst)
                > before),
            "the daemon never connected to its target"
        );
        t
    }
}

impl FakeServer {
    pub fn start(scratch: &Scratch, key: Key, honest_to: String) -> FakeServer {
        let addr = scratch.addr(Family::V4, "");
        let l = TcpListener::bind(to_socket_addr(&addr)).unwrap();
        let armed: Arc<Mutex<VecDeque<Armed>>> = Arc::default();
        let gate = Gate {
            lock: Arc::default(),
            accepted: Arc::default(),
        };
        let (a, acc) = (armed.clone(), gate.accepted.clone());
        let key = Arc::new(key);
        thread::spawn(move || {
            for s in l.incoming().flatten() {
                let job = a.lock().unwrap().pop_front();
                acc.fetch_add(1, Ordering::SeqCst);
                let key = key.clone();
                let honest_to = honest_to.clone();
                thread::spawn(move || match job {
                    Some((play, other_key, tx)) => {
                        let _ = tx.send(hostile(s, other_key.as_ref().unwrap_or(&key), play));
                    }
                    None => proxy(s, &honest_to),
                });
            }
        });
        FakeServer { addr, armed, gate }
    }

    /// Arm `play` for the next connection; its report comes on the channel.
    pub fn arm(&self, play: Play, key: Option<Key>) -> mpsc::Receiver<Seen> {
        let (tx, rx) = mpsc::channel();
        self.armed.lock().unwrap().push_back((play, key, tx));
        rx
    }
}

fn hostile(s: TcpStream, key: &Key, play: Play) -> Seen {
    let t0 = Instant::now();
    match as_server(s, key, play) {
        Outcome::Refused { got } => Seen {
            handshake_bytes: got,
            after: 0,
            closed: true,
        },
        Outcome::Accepted(mut sess) => {
            // Our y || h went out; the daemon should drop us now. Count
            // whatever it sends instead.
            let d = Duration::from_secs(10).saturating_sub(t0.elapsed());
            sess.stream.set_read_timeout(Some(d)).unwrap();
            let mut after = 0;
            let mut buf = [0u8; 4096];
            let closed = loop {
                match sess.stream.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => after += n,
                    Err(e) => break e.kind() == io::ErrorKind::ConnectionReset,
                }
            };
            Seen {
                handshake_bytes: NONCE_LEN + YH_LEN,
                after,
                closed,
            }
        }
    }
}

/// Forward bytes both ways, passing half-closes on.
fn proxy(a: TcpStream, to: &str) {
    let Ok(b) = TcpStream::connect(to_socket_addr(to)) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let t1 = pipe(a.try_clone().unwrap(), b.try_clone().unwrap());
    let t2 = pipe(b, a);
    let _ = t1.join();
    let _ = t2.join();
}

/// A client that keeps making round trips through a daemon while it is
/// attacked: the daemon must serve it throughout.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    handle: JoinHandle<Vec<String>>,
}

impl Watchdog {
    pub fn start(addr: &str, gate: Option<Gate>) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let (st, pa, okc) = (stop.clone(), paused.clone(), ok.clone());
        let addr = addr.to_string();
        let handle = thread::spawn(move || {
            let data = random_bytes(20_000, 0xd06);
            let mut failures = Vec::new();
            while !st.load(Ordering::SeqCst) {
                if pa.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let r = match &gate {
                    Some(g) => g
                        .pass(|| Client::connect(&addr))
                        .and_then(|c| round_trip_on(c, &data)),
                    None => round_trip(&addr, &data),
                };
                match r {
                    Ok(got) if got == data => {
                        okc.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(got) => failures.push(format!("got {} bytes back, wrong", got.len())),
                    Err(e) => failures.push(e.to_string()),
                }
                thread::sleep(Duration::from_millis(20));
            }
            failures
        });
        Watchdog {
            stop,
            paused,
            ok,
            handle,
        }
    }

    /// Hold off (for a quiet CPU reading); the round trip under way, if
    /// any, still completes.
    pub fn pause(&self, on: bool) {
        self.paused.store(on, Ordering::SeqCst);
        if on {
            thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stop and check: every round trip succeeded, and at least one more
    /// succeeded after the attacks (so the daemon still serves).
    pub fn finish(self) -> u64 {
        let now = self.ok.load(Ordering::SeqCst);
        let more = wait_for(Duration::from_secs(20), || {
            self.ok.load(Ordering::SeqCst) > now.max(1)
        });
        self.stop.store(true, Ordering::SeqCst);
        let failures = self.handle.join().unwrap();
        assert!(failures.is_empty(), "good client not served: {failures:?}");
        assert!(more, "no round trip completed after the attacks");
        self.ok.load(Ordering::SeqCst)
    }
}

/// `round_trip` on a connection already made.
pub fn round_trip_on(mut c: Client, data: &[u8]) -> io::Result<Vec<u8>> {
    c.set_read_timeout(Some(Duration::from_secs(30)));
    let mut w = c.try_clone();
    let d = data.to_vec();
    let writer = thread::spawn(move || -> io::Result<()> {
        w.write_all(&d)?;
        w.shutdown_write();
        Ok(())
    });
    let got = c.read_all();
    writer.join().unwrap()?;
    got
}

/// Our spiped in the foreground, as a child, with stderr in a file.
pub struct Foreground {
    pub child: Child,
    pub stderr: PathBuf,
}

impl Foreground {
    /// Start and wait until it accepts on `listen` (a TCP address).
    pub fn start(scratch: &Scratch, args: &[&str], listen: &str) -> Foreground {
        let stderr = scratch.path(&format!("stderr-{}", listen.replace(['[', ']', ':'], "")));
        let child = Command::new(spiped_bin(Impl::Rust))
            .arg("-F")
            .args(args)
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let port = to_socket_addr(listen).port();
        assert!(
            wait_for(Duration::from_secs(10), || tcp_listening(port)),
            "spiped {args:?} never listened"
        );
        Foreground { child, stderr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Exit status within `d`, if it exits.
    pub fn wait(&mut self, d: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < d {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// CPU time (user + system) a process has used, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Open file descriptors of a process.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Whether some socket listens on this TCP port (from /proc/net/tcp and
/// tcp6), without connecting to it: a probe connection would reach the
/// daemon's target and be counted there.
pub fn tcp_listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                c.len() > 3 && c[1].ends_with(&want) && c[3] == "0A"
            })
    })
}
