//! The `kivaloo-lbs` daemon over real sockets: the protocol, bad input,
//! `kill -9` under write load, daemonizing, options.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

const BIN: &str = env!("CARGO_BIN_EXE_kivaloo-lbs");
const B: u32 = 512;

struct Daemon {
    child: Child,
    sock: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> Daemon {
    let sock = dir.join("lbs.sock");
    let _ = std::fs::remove_file(&sock);
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let child = Command::new(BIN)
        .args([
            "-F",
            "-s",
            sock.to_str().unwrap(),
            "-d",
            store.to_str().unwrap(),
            "-b",
        ])
        .arg(B.to_string())
        .arg("-p")
        .arg(dir.join("lbs.pid"))
        .args(extra)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "lbs did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    Daemon { child, sock }
}

/// A blocking client speaking the framing by hand.
struct Conn {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(sock: &Path) -> Conn {
        let s = UnixStream::connect(sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s, buf: Vec::new() }
    }

    fn send(&mut self, id: u64, req: &LbsRequest) {
        let mut rec = Vec::new();
        req.encode(&mut rec);
        let mut out = Vec::new();
        frame::encode(&mut out, id, &rec);
        self.s.write_all(&out).unwrap();
    }

    /// Next packet, or None when the server closed the connection.
    fn recv(&mut self) -> Option<(u64, Vec<u8>)> {
        let dec = FrameDecoder::new(1 << 20);
        loop {
            if let Decoded::Packet { packet, consumed } = dec.decode(&self.buf).unwrap() {
                let r = (packet.id, packet.record.to_vec());
                self.buf.drain(..consumed);
                return Some(r);
            }
            let mut b = [0u8; 65536];
            match self.s.read(&mut b) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn call(&mut self, id: u64, req: &LbsRequest) -> Vec<u8> {
        self.send(id, req);
        let (rid, rec) = self.recv().expect("connection closed");
        assert_eq!(rid, id);
        rec
    }

    fn params2(&mut self) -> (u32, u64, u64) {
        let r = self.call(0, &LbsRequest::Params2);
        match LbsResponse::decode(LbsRequestKind::Params2, &r, B).unwrap() {
            LbsResponse::Params2 {
                block_size,
                nextblk,
                lastblk,
            } => (block_size, nextblk, lastblk),
            other => panic!("{other:?}"),
        }
    }

    fn get(&mut self, blkno: u64) -> Option<Vec<u8>> {
        let r = self.call(1, &LbsRequest::Get { blkno });
        match LbsResponse::decode(LbsRequestKind::Get, &r, B).unwrap() {
            LbsResponse::Get(b) => b.map(<[u8]>::to_vec),
            other => panic!("{other:?}"),
        }
    }

    fn append(&mut self, blkno: u64, data: &[u8]) -> Option<u64> {
        let nblks = (data.len() / B as usize) as u32;
        let r = self.call(2, &LbsRequest::Append { nblks, blkno, data });
        match LbsResponse::decode(LbsRequestKind::Append, &r, B).unwrap() {
            LbsResponse::Append(n) => n,
            other => panic!("{other:?}"),
        }
    }

    /// The server must close the connection without answering.
    fn expect_closed(&mut self, what: &str) {
        assert_eq!(
            self.recv(),
            None,
            "{what}: server should have dropped the connection"
        );
    }
}

fn block(n: u64) -> Vec<u8> {
    (0..B as u64)
        .map(|i| (n.wrapping_mul(37) ^ i) as u8)
        .collect()
}

fn blocks(first: u64, n: u64) -> Vec<u8> {
    (first..first + n).flat_map(block).collect()
}

#[test]
fn protocol_round_trip_and_restart() {
    let d = tempfile::tempdir().unwrap();
    let lbs = start(d.path(), &[]);
    let mut c = Conn::new(&lbs.sock);
    assert_eq!(c.params2(), (B, 0, u64::MAX));
    assert_eq!(c.append(1, &blocks(1, 1)), None, "wrong block number");
    assert_eq!(c.append(0, &blocks(0, 3)), Some(3));
    assert_eq!(c.append(3, &blocks(3, 1)), Some(4));
    assert_eq!(c.params2(), (B, 4, 3));
    let r = c.call(9, &LbsRequest::Params);
    assert_eq!(
        LbsResponse::decode(LbsRequestKind::Params, &r, B).unwrap(),
        LbsResponse::Params {
            block_size: B,
            nextblk: 4
        }
    );
    for n in 0..4 {
        assert_eq!(c.get(n), Some(block(n)));
    }
    assert_eq!(c.get(4), None);
    assert_eq!(c.get(u64::MAX), None);
    assert_eq!(c.call(5, &LbsRequest::Free { keep_from: 0 }), [0, 0, 0, 0]);
    // Pipelined GETs with one duplicated ID all come back.
    for n in 0..4 {
        c.send(77, &LbsRequest::Get { blkno: n });
    }
    let mut got: Vec<Vec<u8>> = (0..4)
        .map(|_| c.recv().unwrap())
        .map(|(id, r)| {
            assert_eq!(id, 77);
            r[4..].to_vec()
        })
        .collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = (0..4).map(block).collect();
    want.sort();
    assert_eq!(got, want);
    drop(c);
    drop(lbs);
    // Same directory, new daemon: everything is still there.
    let lbs = start(d.path(), &[]);
    let mut c = Conn::new(&lbs.sock);
    assert_eq!(c.params2(), (B, 4, 3));
    assert_eq!(c.get(2), Some(block(2)));
}

#[test]
fn bad_input_closes_that_connection_only() {
    let d = tempfile::tempdir().unwrap();
    let lbs = start(d.path(), &[]);
    let mut good = Conn::new(&lbs.sock);
    assert_eq!(good.append(0, &blocks(0, 2)), Some(2));
    drop(good);

    let packet = |rec: &[u8]| {
        let mut out = Vec::new();
        frame::encode(&mut out, 1, rec);
        out
    };
    let get0 = {
        let mut r = Vec::new();
        LbsRequest::Get { blkno: 0 }.encode(&mut r);
        r
    };
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut bad_hdr = packet(&get0);
    bad_hdr[3] ^= 1;
    cases.push(("bad header CRC", bad_hdr));
    let mut bad_rec = packet(&get0);
    bad_rec[17] ^= 1;
    cases.push(("bad record CRC", bad_rec));
    cases.push(("unknown opcode", packet(&[0, 0, 0, 9])));
    cases.push(("trailing bytes", packet(&[0, 0, 0, 4, 0])));
    let mut short_append = Vec::new();
    LbsRequest::encode_append_header(&mut short_append, 2, 2);
    short_append.extend_from_slice(&[0; 700]);
    cases.push(("APPEND payload not nblks × B", packet(&short_append)));
    let mut huge = packet(&get0)[..16].to_vec();
    huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    let h = kivaloo_wire::crc::crc(&huge[..12]);
    huge[12..16].copy_from_slice(&h);
    cases.push(("4 GiB length", huge));
    for (what, bytes) in &cases {
        let mut c = Conn::new(&lbs.sock);
        c.s.write_all(bytes).unwrap();
        c.expect_closed(what);
    }
    // Truncated packets, then a disconnect mid-request.
    for cut in [5, 16, 20] {
        let mut c = Conn::new(&lbs.sock);
        let mut a = Vec::new();
        LbsRequest::Append {
            nblks: 1,
            blkno: 2,
            data: &block(2),
        }
        .encode(&mut a);
        c.s.write_all(&packet(&a)[..cut]).unwrap();
        drop(c);
    }
    // The daemon goes on, nothing was lost, nothing half-written.
    let mut c = Conn::new(&lbs.sock);
    assert_eq!(c.params2(), (B, 2, 1));
    assert_eq!(c.get(0), Some(block(0)));
    assert_eq!(c.get(1), Some(block(1)));
    assert_eq!(c.append(2, &blocks(2, 1)), Some(3));
}

#[test]
fn kill_9_under_write_load_loses_nothing_acknowledged() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..3u64 {
        let mut lbs = start(d.path(), &[]);
        let mut c = Conn::new(&lbs.sock);
        let (_, mut next, _) = c.params2();
        let acked_before = next;
        let killer = {
            let pid = lbs.child.id() as i32;
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150 + 50 * round));
                // SAFETY: plain kill(2) of our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            })
        };
        // Write until the daemon dies; remember what it acknowledged and
        // which APPEND was in flight when it died.
        let in_flight = loop {
            let n = 1 + next % 7;
            let data = blocks(next, n);
            let mut rec = Vec::new();
            LbsRequest::Append {
                nblks: n as u32,
                blkno: next,
                data: &data,
            }
            .encode(&mut rec);
            let mut out = Vec::new();
            frame::encode(&mut out, next, &rec);
            if c.s.write_all(&out).is_err() {
                break (next, n);
            }
            match c.recv() {
                None => break (next, n),
                Some((_, r)) => match LbsResponse::decode(LbsRequestKind::Append, &r, B).unwrap() {
                    LbsResponse::Append(Some(nn)) => {
                        assert_eq!(nn, next + n);
                        next = nn;
                    }
                    other => panic!("{other:?}"),
                },
            }
        };
        killer.join().unwrap();
        let _ = lbs.child.wait();
        assert!(
            next > acked_before,
            "round {round}: no write was acknowledged"
        );
        drop(lbs);
        let lbs = start(d.path(), &[]);
        let mut c = Conn::new(&lbs.sock);
        let (_, after, _) = c.params2();
        let ok = after == next || after == in_flight.0 + in_flight.1;
        assert!(
            ok,
            "round {round}: nextblk {after}, acknowledged {next}, in flight {in_flight:?}"
        );
        for b in 0..after {
            assert_eq!(c.get(b), Some(block(b)), "round {round}: block {b}");
        }
    }
}

#[test]
fn daemonizes_and_exits_after_one_connection() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    std::fs::create_dir(&store).unwrap();
    // A free TCP port on loopback.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("[127.0.0.1]:{port}");
    let pidfile = d.path().join("pid");
    let st = Command::new(BIN)
        .args([
            "-s",
            &addr,
            "-d",
            store.to_str().unwrap(),
            "-b",
            "1024",
            "-1",
            "-p",
        ])
        .arg(&pidfile)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The command returned: the socket already listens.
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut out = Vec::new();
    frame::encode(&mut out, 5, &[0, 0, 0, 4]);
    s.write_all(&out).unwrap();
    let mut r = [0u8; 40];
    s.read_exact(&mut r).unwrap();
    assert_eq!(&r[16..20], &1024u32.to_be_bytes());
    drop(s);
    // -1: the daemon exits once that connection is gone. It is not our
    // child, so poll /proc until it is gone or a zombie (PID 1 reaps
    // slowly here).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if stat.is_empty() || state == Some('Z') {
            break;
        }
        assert!(Instant::now() < deadline, "lbs -1 did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_options_and_version() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let sock = d.path().join("s");
    let sock = sock.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let v = run(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stderr).starts_with("kivaloo-lbs "));
    for args in [
        vec!["-s", sock, "-d", dir],
        vec!["-s", sock, "-d", dir, "-b", "100"],
        vec!["-s", sock, "-d", dir, "-b", "200000"],
        vec!["-s", sock, "-d", dir, "-b", "512", "-n", "0"],
        vec!["-s", sock, "-d", "/nonexistent/dir", "-b", "512", "-F"],
        vec!["-s", "relative", "-d", dir, "-b", "512", "-F"],
        vec!["-s", sock, "-d", dir, "-b", "512", "-x"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(!o.stderr.is_empty(), "{args:?}: no message");
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let l = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_client_that_never_reads_cannot_exhaust_memory() {
    let d = tempfile::tempdir().unwrap();
    let lbs = start(d.path(), &[]);
    let mut c = Conn::new(&lbs.sock);
    assert_eq!(c.append(0, &blocks(0, 64)), Some(64));
    // 600 000 GETs (about 300 MiB of answers), never reading any.
    let w = c.s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = w;
        let mut batch = Vec::new();
        for i in 0..600_000u64 {
            let mut rec = Vec::new();
            LbsRequest::Get { blkno: i % 64 }.encode(&mut rec);
            frame::encode(&mut batch, i, &rec);
            if batch.len() > 1 << 16 {
                if w.write_all(&batch).is_err() {
                    return;
                }
                batch.clear();
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let peak = vm_hwm_kib(lbs.child.id());
    assert!(
        peak < 160 * 1024,
        "lbs buffered {peak} KiB for a client that does not read"
    );
    // The stalled client leaves; the daemon serves the next one.
    c.s.shutdown(std::net::Shutdown::Both).unwrap();
    drop(c);
    writer.join().unwrap();
    let mut c = Conn::new(&lbs.sock);
    assert_eq!(c.get(5), Some(block(5)));
}

fn append_packet(id: u64, blkno: u64, n: u64) -> Vec<u8> {
    let data = blocks(blkno, n);
    let mut rec = Vec::new();
    LbsRequest::Append {
        nblks: n as u32,
        blkno,
        data: &data,
    }
    .encode(&mut rec);
    let mut out = Vec::new();
    frame::encode(&mut out, id, &rec);
    out
}

/// APPENDs chained after one in progress are accepted and written together
/// (an extension: upstream answers 1); anything else still gets status 1.
#[test]
fn chained_appends_are_group_committed() {
    let d = tempfile::tempdir().unwrap();
    let lbs = start(d.path(), &[]);
    let mut c = Conn::new(&lbs.sock);
    let mut out = Vec::new();
    let mut next = 0;
    for (i, n) in [2u64, 3, 1, 4, 1, 1, 2].into_iter().enumerate() {
        out.extend(append_packet(i as u64, next, n));
        next += n;
    }
    // Not chained (a gap), so refused whatever is in progress.
    out.extend(append_packet(100, next + 1, 1));
    c.s.write_all(&out).unwrap();
    let mut answers: Vec<(u64, Vec<u8>)> = (0..8).map(|_| c.recv().unwrap()).collect();
    answers.sort();
    let mut end = 0;
    for (i, n) in [2u64, 3, 1, 4, 1, 1, 2].into_iter().enumerate() {
        end += n;
        assert_eq!(answers[i].0, i as u64);
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Append, &answers[i].1, B).unwrap(),
            LbsResponse::Append(Some(end))
        );
    }
    assert_eq!(answers[7], (100, vec![0, 0, 0, 1]));
    assert_eq!(c.params2(), (B, next, next - 1));
    for b in 0..next {
        assert_eq!(c.get(b), Some(block(b)));
    }
}

#[test]
fn kill_9_under_pipelined_write_load_loses_nothing_acknowledged() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..2u64 {
        let mut lbs = start(d.path(), &[]);
        let mut c = Conn::new(&lbs.sock);
        let (_, start_blk, _) = c.params2();
        let pid = lbs.child.id() as i32;
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200 + 100 * round));
            // SAFETY: plain kill(2) of our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        // Four chained APPENDs in flight at all times.
        let (mut sent, mut acked) = (start_blk, start_blk);
        let mut inflight = 0;
        'load: loop {
            while inflight < 4 {
                let n = 1 + sent % 5;
                if c.s.write_all(&append_packet(sent, sent, n)).is_err() {
                    break 'load;
                }
                sent += n;
                inflight += 1;
            }
            match c.recv() {
                None => break,
                Some((_, r)) => match LbsResponse::decode(LbsRequestKind::Append, &r, B).unwrap() {
                    LbsResponse::Append(Some(end)) => {
                        assert!(end > acked, "acknowledgements come in order");
                        acked = end;
                        inflight -= 1;
                    }
                    other => panic!("round {round}: {other:?}"),
                },
            }
        }
        killer.join().unwrap();
        let _ = lbs.child.wait();
        assert!(acked > start_blk, "round {round}: nothing acknowledged");
        drop(lbs);
        let lbs = start(d.path(), &[]);
        let mut c = Conn::new(&lbs.sock);
        let (_, after, _) = c.params2();
        assert!(
            (acked..=sent).contains(&after),
            "round {round}: nextblk {after}, acknowledged {acked}, sent {sent}"
        );
        for b in 0..after {
            assert_eq!(c.get(b), Some(block(b)), "round {round}: block {b}");
        }
    }
}
