//! Test helpers: our own echo/record servers, a half-closing client, and
//! daemons (ours or Debian's reference spiped) started for real.
//!
//! The reference binaries must be present: tests that need them fail with
//! a clear message when they are missing (scripts/deps installs them).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const C_SPIPED: &str = "/usr/bin/spiped";
pub const C_SPIPE: &str = "/usr/bin/spipe";

/// Which implementation plays a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Rust,
    C,
}

pub fn spiped_bin(i: Impl) -> PathBuf {
    match i {
        Impl::Rust => PathBuf::from(env!("CARGO_BIN_EXE_spiped")),
        Impl::C => reference(C_SPIPED),
    }
}

pub fn spipe_bin(i: Impl) -> PathBuf {
    match i {
        Impl::Rust => PathBuf::from(env!("CARGO_BIN_EXE_spipe")),
        Impl::C => reference(C_SPIPE),
    }
}

fn reference(p: &str) -> PathBuf {
    assert!(
        Path::new(p).exists(),
        "reference peer {p} is missing: install Debian's spiped (scripts/deps/apt.sh)"
    );
    PathBuf::from(p)
}

/// Address family of every hop in a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Unix,
}

/// A scratch directory removed at drop.
pub struct Scratch {
    pub dir: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "spiped-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A key file of 32 random bytes, mode 0600.
    pub fn key(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            random_bytes(32, SEQ.fetch_add(1, Ordering::SeqCst) + now_seed()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    /// A fresh address of the given family, as spiped's syntax.
    pub fn addr(&self, fam: Family, name: &str) -> String {
        match fam {
            Family::V4 => format!("[127.0.0.1]:{}", free_port("127.0.0.1")),
            Family::V6 => format!("[::1]:{}", free_port("::1")),
            Family::Unix => self.path(name).to_string_lossy().into_owned(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn now_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

pub use daemon::testing::free_port;

/// Deterministic pseudo-random bytes (xorshift64*): cheap, reproducible.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}

pub fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// A connected client stream, TCP or Unix.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn connect(addr: &str) -> std::io::Result<Client> {
        if addr.starts_with('/') {
            UnixStream::connect(addr).map(Client::Unix)
        } else {
            let sa = to_socket_addr(addr);
            TcpStream::connect_timeout(&sa, Duration::from_secs(5)).map(Client::Tcp)
        }
    }
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }
    pub fn shutdown_write(&self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write),
            Client::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
    pub fn set_read_timeout(&self, d: Option<Duration>) {
        match self {
            Client::Tcp(s) => s.set_read_timeout(d).unwrap(),
            Client::Unix(s) => s.set_read_timeout(d).unwrap(),
        }
    }
    /// Read to EOF (error if the peer resets or the timeout passes).
    pub fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read_to_end(&mut v)?;
        Ok(v)
    }
}

impl Read for Client {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(b),
            Client::Unix(s) => s.read(b),
        }
    }
}

impl Write for Client {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(b),
            Client::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn to_socket_addr(addr: &str) -> std::net::SocketAddr {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    std::net::SocketAddr::new(host.parse().unwrap(), port.parse().unwrap())
}

/// What a test server does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Echo every byte; half-close when the client does.
    Echo,
    /// Send a banner first, then echo.
    BannerEcho(Vec<u8>),
    /// Read to EOF, then wait `delay`, send `reply` in `chunks` pieces
    /// `gap` apart, and close. Reports what it read.
    RecordThenReply {
        delay: Duration,
        reply: Vec<u8>,
        chunks: usize,
        gap: Duration,
    },
    /// Send `reply` and half-close at once, then read to EOF (the target
    /// closes first).
    ReplyFirst(Vec<u8>),
    /// Read and discard slowly: `bytes_per_sec`.
    SlowReader { bytes_per_sec: usize },
    /// Accept and close at once.
    Close,
    /// Read to EOF, never write (a peer that never speaks).
    Silent,
    /// Read to EOF with a small receive buffer (loopback's segments are
    /// 64 KiB, so smaller windows only stall TCP), in reads of random sizes
    /// with random pauses (so the daemon's writes are short and its flows
    /// stall and resume), then echo everything back the same way.
    Jittery { seed: u64 },
}

/// A test server on loopback: one thread per connection. Every connection's
/// received bytes are reported on `received`.
pub struct Server {
    pub addr: String,
    pub received: mpsc::Receiver<Vec<u8>>,
    pub accepted: std::sync::Arc<AtomicU64>,
}

pub fn server(scratch: &Scratch, fam: Family, b: Behaviour) -> Server {
    let (tx, rx) = mpsc::channel();
    let accepted = std::sync::Arc::new(AtomicU64::new(0));
    let addr = scratch.addr(fam, "target.sock");
    let acc = accepted.clone();
    if fam == Family::Unix {
        let l = UnixListener::bind(&addr).unwrap();
        thread::spawn(move || {
            for s in l.incoming().flatten() {
                acc.fetch_add(1, Ordering::SeqCst);
                let (b, tx) = (b.clone(), tx.clone());
                thread::spawn(move || handle(Client::Unix(s), b, tx));
            }
        });
    } else {
        let l = TcpListener::bind(to_socket_addr(&addr)).unwrap();
        thread::spawn(move || {
            for s in l.incoming().flatten() {
                acc.fetch_add(1, Ordering::SeqCst);
                let (b, tx) = (b.clone(), tx.clone());
                thread::spawn(move || handle(Client::Tcp(s), b, tx));
            }
        });
    }
    Server {
        addr,
        received: rx,
        accepted,
    }
}

fn handle(mut s: Client, b: Behaviour, tx: mpsc::Sender<Vec<u8>>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    match b {
        Behaviour::Echo | Behaviour::BannerEcho(_) => {
            if let Behaviour::BannerEcho(banner) = &b
                && s.write_all(banner).is_err()
            {
                return;
            }
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            s.shutdown_write();
        }
        Behaviour::RecordThenReply {
            delay,
            reply,
            chunks,
            gap,
        } => {
            let _ = s.read_to_end(&mut got);
            thread::sleep(delay);
            let per = reply.len().div_ceil(chunks.max(1)).max(1);
            for c in reply.chunks(per) {
                if s.write_all(c).is_err() {
                    break;
                }
                thread::sleep(gap);
            }
            s.shutdown_write();
        }
        Behaviour::ReplyFirst(reply) => {
            let _ = s.write_all(&reply);
            s.shutdown_write();
            let _ = s.read_to_end(&mut got);
        }
        Behaviour::SlowReader { bytes_per_sec } => {
            let step = (bytes_per_sec / 10).max(1);
            let mut small = vec![0u8; step];
            loop {
                match s.read(&mut small) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&small[..n]),
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        Behaviour::Jittery { seed } => {
            if let Client::Tcp(t) = &s {
                let _ = socket2::SockRef::from(t).set_recv_buffer_size(256 << 10);
                let _ = socket2::SockRef::from(t).set_send_buffer_size(256 << 10);
            }
            let sizes = random_bytes(1 << 16, seed);
            let mut k = 0usize;
            let mut next = || {
                k = (k + 2) % sizes.len();
                u16::from_le_bytes([sizes[k], sizes[k + 1]])
            };
            let mut small = vec![0u8; 16 << 10];
            loop {
                let want = 1 + next() as usize % small.len();
                match s.read(&mut small[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&small[..n]),
                }
                if next() % 64 == 0 {
                    thread::sleep(Duration::from_millis(1 + next() as u64 % 20));
                }
            }
            let mut rest = &got[..];
            while !rest.is_empty() {
                let n = (1 + next() as usize % 20_000).min(rest.len());
                if s.write_all(&rest[..n]).is_err() {
                    break;
                }
                rest = &rest[n..];
                if next() % 64 == 0 {
                    thread::sleep(Duration::from_millis(1 + next() as u64 % 20));
                }
            }
            s.shutdown_write();
        }
        Behaviour::Close => {}
        Behaviour::Silent => {
            let _ = s.read_to_end(&mut got);
        }
    }
    let _ = tx.send(got);
}

/// A daemon we started (it daemonized, so it is not our child). Held by a
/// pidfd, so signals can never reach another process that reused its pid
/// (pids wrap at 32768 here). Killed (SIGKILL) at drop if still running.
pub struct Daemon {
    pub pid: i32,
    pub pidfile: PathBuf,
    pidfd: std::os::fd::OwnedFd,
}

impl Daemon {
    /// Take hold of the daemon whose pid is in `pidfile`; its command line
    /// must name `pidfile` (which tells it apart from a pid reused since).
    pub fn from_pidfile(pidfile: PathBuf) -> Daemon {
        use std::os::fd::FromRawFd;
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        assert!(
            fd >= 0,
            "pidfd_open({pid}): {}",
            std::io::Error::last_os_error()
        );
        let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let want = pidfile.to_string_lossy().into_owned().into_bytes();
        let named = cmdline.split(|&b| b == 0).any(|a| a == want.as_slice());
        // A pidfile given by default (no -p) cannot be checked this way.
        assert!(
            named || !cmdline.windows(2).any(|w| w == b"-p"),
            "pid {pid} is not our daemon"
        );
        Daemon {
            pid,
            pidfile,
            pidfd,
        }
    }

    pub fn signal(&self, sig: i32) {
        use std::os::fd::AsRawFd;
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<u8>(),
                0,
            )
        };
    }

    /// Whether the process still runs: its pidfd turns readable once the
    /// whole process (every thread, so every socket) has exited.
    pub fn alive(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut p = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut p, 1, 0) == 0 }
    }

    /// Wait up to `d` for the process to end.
    pub fn wait_gone(&self, d: Duration) -> bool {
        wait_for(d, || !self.alive())
    }

    /// Its resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(libc::SIGKILL);
        }
    }
}

/// Start a spiped that daemonizes (so it returns once listening); its pid
/// comes from the pidfile.
pub fn spiped(i: Impl, scratch: &Scratch, args: &[&str]) -> Daemon {
    let pidfile = scratch.path(&format!(
        "spiped-{}.pid",
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let st = Command::new(spiped_bin(i))
        .args(args)
        .arg("-p")
        .arg(&pidfile)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{i:?} spiped {args:?} failed to start: {st}");
    Daemon::from_pidfile(pidfile)
}

/// Send `data` through `addr`, half-close, and read the answer to EOF.
pub fn round_trip(addr: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut c = Client::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(60)));
    let mut w = c.try_clone();
    let data = data.to_vec();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        w.write_all(&data)?;
        w.shutdown_write();
        Ok(())
    });
    let got = c.read_all();
    writer.join().unwrap()?;
    got
}

/// Run spipe with `stdin` as input; returns (exit code, stdout, stderr).
/// Panics if it has not exited within `timeout`.
pub fn run_spipe(
    i: Impl,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> (i32, Vec<u8>, String) {
    let (code, out, err) = run_spipe_or_kill(i, args, stdin, timeout);
    match code {
        Some(c) => (c, out, err),
        None => panic!("spipe {args:?} did not exit within {timeout:?}"),
    }
}

/// Run spipe with `stdin` as input; returns (exit code, or None if it was
/// killed at `timeout`, stdout, stderr).
pub fn run_spipe_or_kill(
    i: Impl,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(spipe_bin(i))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let r = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let mut err = child.stderr.take().unwrap();
    let e = thread::spawn(move || {
        let mut v = String::new();
        let _ = err.read_to_string(&mut v);
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let _ = w.join();
            return (None, r.join().unwrap(), e.join().unwrap());
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = w.join();
    let code = status
        .code()
        .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0));
    (Some(code), r.join().unwrap(), e.join().unwrap())
}

/// Wait until `cond` holds or `d` passes.
pub fn wait_for(d: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Whether some process listens on the Unix socket `path` (from
/// /proc/net/unix: the accept-connections flag), without connecting to it.
pub fn unix_listening(path: &Path) -> bool {
    let want = path.to_string_lossy();
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 8 && f[7] == want && f[3] == "00010000"
        })
}
