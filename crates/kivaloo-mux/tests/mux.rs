//! kivaloo-mux (the binary) in front of a real lbs server (run in this
//! process on real files), with many real client connections.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kivaloo_client::net::AnyListener;
use kivaloo_lbs::server::{LbsServer, ServerConfig};
use kivaloo_lbs::{FsStorage, Storage, Store};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

const BIN: &str = env!("CARGO_BIN_EXE_kivaloo-mux");
const B: u32 = 512;
const NBLOCKS: u64 = 64;

fn block(n: u64) -> Vec<u8> {
    (0..B as u64).map(|i| (n * 13 + i) as u8).collect()
}

/// An lbs server in a thread of its own, holding NBLOCKS blocks. Dropping
/// the sender stops it (closing its connection).
fn start_lbs(dir: &Path) -> (PathBuf, tokio::sync::oneshot::Sender<()>) {
    let store_dir = dir.join("store");
    std::fs::create_dir_all(&store_dir).unwrap();
    let fs = FsStorage::new(&store_dir).unwrap();
    let store = Arc::new(Store::open(Arc::new(fs) as Arc<dyn Storage>, B).unwrap());
    if store.next_block() == 0 {
        let data: Vec<u8> = (0..NBLOCKS).flat_map(block).collect();
        store.append(0, &data).unwrap();
    }
    let sock = dir.join("lbs.sock");
    let _ = std::fs::remove_file(&sock);
    let std_l = daemon::listen::bind(&daemon::addr::ResolvedAddr::Unix(sock.clone())).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let srv = LbsServer::new(store, &ServerConfig::default()).unwrap();
            let l = AnyListener::from_std(std_l).unwrap();
            let serve = async {
                loop {
                    let c = l.accept().await.unwrap();
                    srv.serve(c).await.unwrap();
                }
            };
            tokio::select! {
                () = serve => {}
                _ = stop_rx => {}
            }
        });
    });
    (sock, stop_tx)
}

struct Mux {
    child: Child,
    sock: PathBuf,
}

impl Drop for Mux {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_mux(dir: &Path, upstream: &Path, extra: &[&str]) -> Mux {
    let sock = dir.join("mux.sock");
    let _ = std::fs::remove_file(&sock);
    let child = Command::new(BIN)
        .args([
            "-F",
            "-t",
            upstream.to_str().unwrap(),
            "-s",
            sock.to_str().unwrap(),
            "-p",
        ])
        .arg(dir.join("mux.pid"))
        .args(extra)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "mux did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    Mux { child, sock }
}

fn packet(id: u64, req: &LbsRequest) -> Vec<u8> {
    let mut rec = Vec::new();
    req.encode(&mut rec);
    let mut out = Vec::new();
    frame::encode(&mut out, id, &rec);
    out
}

/// Read `n` response packets (or fewer if the connection closes).
fn read_packets(s: &mut UnixStream, n: usize) -> Vec<(u64, Vec<u8>)> {
    let dec = FrameDecoder::new(1 << 20);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    while out.len() < n {
        match dec.decode(&buf).unwrap() {
            Decoded::Packet { packet, consumed } => {
                out.push((packet.id, packet.record.to_vec()));
                buf.drain(..consumed);
                continue;
            }
            Decoded::Incomplete { .. } => {}
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    out
}

fn connect(sock: &Path) -> UnixStream {
    let s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn many_clients_get_their_own_answers() {
    let d = tempfile::tempdir().unwrap();
    let (lbs, _stop) = start_lbs(d.path());
    let mux = start_mux(d.path(), &lbs, &[]);
    let mut threads = Vec::new();
    for c in 0..40u64 {
        let sock = mux.sock.clone();
        threads.push(std::thread::spawn(move || {
            let mut s = connect(&sock);
            // Client-chosen IDs, unrelated to mux's own.
            let mut want = HashMap::new();
            let mut out = Vec::new();
            for i in 0..300u64 {
                let id = (c << 40) | (i * 7919);
                let blkno = (c + i) % (NBLOCKS + 2); // some absent
                want.insert(id, blkno);
                out.extend(packet(id, &LbsRequest::Get { blkno }));
            }
            s.write_all(&out).unwrap();
            let got = read_packets(&mut s, want.len());
            assert_eq!(got.len(), want.len(), "client {c}");
            for (id, rec) in got {
                let blkno = want.remove(&id).expect("an ID this client sent, once");
                let r = LbsResponse::decode(LbsRequestKind::Get, &rec, B).unwrap();
                let want = block(blkno);
                let ok = match r {
                    LbsResponse::Get(Some(b)) => b == want.as_slice(),
                    // Blocks past the preload may or may not be appended yet.
                    LbsResponse::Get(None) => blkno >= NBLOCKS,
                    _ => false,
                };
                assert!(ok, "client {c}: wrong answer for block {blkno}");
            }
        }));
    }
    // Meanwhile a writer appends through mux too.
    let mut w = connect(&mux.sock);
    for next in NBLOCKS..NBLOCKS + 20 {
        w.write_all(&packet(
            1,
            &LbsRequest::Append {
                nblks: 1,
                blkno: next,
                data: &block(next),
            },
        ))
        .unwrap();
        let r = read_packets(&mut w, 1);
        assert_eq!(
            LbsResponse::decode(LbsRequestKind::Append, &r[0].1, B).unwrap(),
            LbsResponse::Append(Some(next + 1))
        );
    }
    for t in threads {
        t.join().unwrap();
    }
    // Duplicate IDs from one client: each request gets its own answer.
    let mut s = connect(&mux.sock);
    let mut out = packet(5, &LbsRequest::Get { blkno: 1 });
    out.extend(packet(5, &LbsRequest::Get { blkno: 2 }));
    s.write_all(&out).unwrap();
    let got = read_packets(&mut s, 2);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(id, _)| *id == 5));
}

#[test]
fn disconnects_and_bad_input_affect_only_that_client() {
    let d = tempfile::tempdir().unwrap();
    let (lbs, _stop) = start_lbs(d.path());
    let mux = start_mux(d.path(), &lbs, &[]);
    let mut steady = connect(&mux.sock);
    for round in 0..10u64 {
        // Leave with 2000 requests in flight.
        let mut s = connect(&mux.sock);
        let out: Vec<u8> = (0..2000)
            .flat_map(|i| packet(i, &LbsRequest::Get { blkno: i % NBLOCKS }))
            .collect();
        s.write_all(&out).unwrap();
        drop(s);
        // Half a packet, then leave.
        let mut s = connect(&mux.sock);
        s.write_all(&packet(1, &LbsRequest::Params2)[..10]).unwrap();
        drop(s);
        // A bad CRC: that client is dropped without an answer.
        let mut s = connect(&mux.sock);
        let mut bad = packet(1, &LbsRequest::Params2);
        bad[17] ^= 0x40;
        s.write_all(&bad).unwrap();
        assert!(read_packets(&mut s, 1).is_empty(), "round {round}");
        // The steady client is unaffected.
        steady
            .write_all(&packet(round, &LbsRequest::Get { blkno: round }))
            .unwrap();
        let r = read_packets(&mut steady, 1);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, round);
        assert_eq!(&r[0].1[4..], block(round).as_slice());
    }
}

#[test]
fn connection_limit_pauses_accepting() {
    let d = tempfile::tempdir().unwrap();
    let (lbs, _stop) = start_lbs(d.path());
    let mux = start_mux(d.path(), &lbs, &["-n", "1"]);
    let mut a = connect(&mux.sock);
    a.write_all(&packet(1, &LbsRequest::Params2)).unwrap();
    assert_eq!(read_packets(&mut a, 1).len(), 1);
    // The second connection waits in the backlog, unanswered...
    let mut b = connect(&mux.sock);
    b.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    b.write_all(&packet(2, &LbsRequest::Params2)).unwrap();
    assert!(
        read_packets(&mut b, 1).is_empty(),
        "second client served despite -n 1"
    );
    // ...until the first leaves.
    drop(a);
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_packets(&mut b, 1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, 2);
}

#[test]
fn mux_exits_when_upstream_dies() {
    let d = tempfile::tempdir().unwrap();
    let (lbs, stop) = start_lbs(d.path());
    let mut mux = start_mux(d.path(), &lbs, &[]);
    let mut c = connect(&mux.sock);
    c.write_all(&packet(1, &LbsRequest::Params2)).unwrap();
    assert_eq!(read_packets(&mut c, 1).len(), 1);
    drop(stop);
    // Clients are closed and mux exits (it is our child: we reap it).
    assert!(read_packets(&mut c, 1).is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = mux.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "mux still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

#[test]
fn bad_options_and_version() {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let v = run(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stderr).starts_with("kivaloo-mux "));
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("s");
    let s = s.to_str().unwrap();
    for args in [
        vec!["-t", "/nonexistent/sock"],
        vec!["-s", s],
        vec!["-t", "/nonexistent/sock", "-s", s, "-F"],
        vec!["-t", "/x", "-s", s, "-n", "70000"],
        vec!["-t", "/x", "-s", s, "-n", "abc"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(!o.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn a_client_that_never_reads_cannot_exhaust_memory() {
    let d = tempfile::tempdir().unwrap();
    let (lbs, _stop) = start_lbs(d.path());
    let mux = start_mux(d.path(), &lbs, &[]);
    let s = connect(&mux.sock);
    let mut w = s.try_clone().unwrap();
    // 400 000 GETs (about 200 MiB of answers), never reading any.
    let writer = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for i in 0..400_000u64 {
            batch.extend(packet(i, &LbsRequest::Get { blkno: i % NBLOCKS }));
            if batch.len() > 1 << 16 {
                if w.write_all(&batch).is_err() {
                    return;
                }
                batch.clear();
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", mux.child.id())).unwrap();
    let hwm: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        hwm < 100 * 1024,
        "mux buffered {hwm} KiB for a client that does not read"
    );
    // Others are still served.
    let mut other = connect(&mux.sock);
    other
        .write_all(&packet(3, &LbsRequest::Get { blkno: 3 }))
        .unwrap();
    let r = read_packets(&mut other, 1);
    assert_eq!(r.len(), 1);
    s.shutdown(std::net::Shutdown::Both).unwrap();
    writer.join().unwrap();
}
