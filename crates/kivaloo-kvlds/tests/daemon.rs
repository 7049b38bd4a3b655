//! The kivaloo-kvlds daemon against a real lbs (kivaloo-lbs's engine and
//! server, on real files, in its own process) over real sockets: requests
//! on the wire, bad input, `kill -9` of kvlds and of lbs under write load.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::kvlds::{KvldsRequest, KvldsRequestKind, KvldsResponse};

const KVLDS: &str = env!("CARGO_BIN_EXE_kivaloo-kvlds");

type Pair = (Vec<u8>, Vec<u8>);
type Pairs = BTreeMap<Vec<u8>, Vec<u8>>;

/// Not a test: the lbs process of the other tests (this test binary,
/// re-run with `--exact lbs_process --ignored`), serving a directory with
/// kivaloo-lbs's engine and protocol server until it is killed.
#[test]
#[ignore = "helper process for the other tests"]
fn lbs_process() {
    let (Ok(sock), Ok(dir), Ok(bs)) = (
        std::env::var("KVT_LBS_SOCK"),
        std::env::var("KVT_LBS_DIR"),
        std::env::var("KVT_LBS_BLOCK"),
    ) else {
        return;
    };
    let fs = kivaloo_lbs::FsStorage::new(Path::new(&dir)).expect("storage dir");
    let store = kivaloo_lbs::Store::open(Arc::new(fs), bs.parse().expect("block size"))
        .expect("open store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let server = kivaloo_lbs::server::LbsServer::new(Arc::new(store), &Default::default())
            .expect("server");
        let l = tokio::net::UnixListener::bind(&sock).expect("bind");
        loop {
            let (c, _) = l.accept().await.expect("accept");
            server.serve(c).await.expect("lbs store failure");
        }
    });
}

struct Proc(Child);

impl Proc {
    fn kill9(&mut self) {
        // SAFETY: plain syscall on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_for_socket(p: &Path, child: &mut Child) {
    let t = Instant::now();
    while UnixStream::connect(p).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("process exited early: {st}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{} never listened",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fields drop in order: kvlds goes before lbs, and the directory last.
struct Stack {
    kvlds: Option<Proc>,
    lbs: Option<Proc>,
    block: u32,
    dir: tempfile::TempDir,
}

impl Stack {
    fn new(block: u32) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("blocks")).expect("mkdir");
        Stack {
            dir,
            block,
            lbs: None,
            kvlds: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start_lbs(&mut self) {
        let sock = self.path("lbs.sock");
        let _ = std::fs::remove_file(&sock);
        let mut c = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "lbs_process",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KVT_LBS_SOCK", &sock)
            .env("KVT_LBS_DIR", self.path("blocks"))
            .env("KVT_LBS_BLOCK", self.block.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn lbs");
        wait_for_socket(&sock, &mut c);
        self.lbs = Some(Proc(c));
    }

    fn start_kvlds(&mut self, extra: &[&str]) {
        let sock = self.path("kvlds.sock");
        let pidfile = self.path("kvlds.pid");
        let _ = std::fs::remove_file(&sock);
        let _ = std::fs::remove_file(&pidfile);
        let mut c = Command::new(KVLDS)
            .arg("-s")
            .arg(&sock)
            .arg("-l")
            .arg(self.path("lbs.sock"))
            .arg("-p")
            .arg(self.path("kvlds.pid"))
            .arg("-F")
            .args(extra)
            .spawn()
            .expect("spawn kvlds");
        // Not by connecting: with -1 that would be the one connection.
        // The pidfile is written once the socket listens.
        let t = Instant::now();
        while !pidfile.exists() {
            if let Ok(Some(st)) = c.try_wait() {
                panic!("kvlds exited early: {st}");
            }
            assert!(t.elapsed() < Duration::from_secs(20), "kvlds never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kvlds = Some(Proc(c));
    }

    fn start(block: u32, extra: &[&str]) -> Stack {
        let mut s = Stack::new(block);
        s.start_lbs();
        s.start_kvlds(extra);
        s
    }

    fn connect(&self) -> Client {
        Client::new(UnixStream::connect(self.path("kvlds.sock")).expect("connect kvlds"))
    }

    fn store_bytes(&self) -> u64 {
        std::fs::read_dir(self.path("blocks"))
            .expect("dir")
            .map(|e| e.expect("entry").metadata().expect("metadata").len())
            .sum()
    }
}

/// A blocking client that speaks the framing by hand, so that tests can
/// also send what a real client never would.
struct Client {
    s: UnixStream,
    inbuf: Vec<u8>,
    next_id: u64,
}

impl Client {
    fn new(s: UnixStream) -> Client {
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Client {
            s,
            inbuf: Vec::new(),
            next_id: 0,
        }
    }

    fn send(&mut self, req: &KvldsRequest<'_>) -> std::io::Result<u64> {
        let mut rec = Vec::new();
        req.encode(&mut rec).expect("encodable");
        let id = self.next_id;
        self.next_id += 1;
        let mut pkt = Vec::new();
        frame::encode(&mut pkt, id, &rec);
        self.s.write_all(&pkt)?;
        Ok(id)
    }

    /// Next response: (id, record), or None at end of stream.
    fn recv(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        let dec = FrameDecoder::new(1 << 24);
        loop {
            if let Decoded::Packet { packet, consumed } =
                dec.decode(&self.inbuf).expect("valid framing")
            {
                let r = (packet.id, packet.record.to_vec());
                self.inbuf.drain(..consumed);
                return Ok(Some(r));
            }
            let mut b = [0u8; 65536];
            let n = self.s.read(&mut b)?;
            if n == 0 {
                return Ok(None);
            }
            self.inbuf.extend_from_slice(&b[..n]);
        }
    }

    fn call(&mut self, req: &KvldsRequest<'_>) -> Vec<u8> {
        let id = self.send(req).expect("send");
        let (rid, rec) = self.recv().expect("recv").expect("an answer");
        assert_eq!(rid, id);
        rec
    }

    fn status(&mut self, req: &KvldsRequest<'_>) -> u32 {
        match KvldsResponse::decode(req.kind(), &self.call(req)).expect("response") {
            KvldsResponse::Status(s) => s,
            r => panic!("unexpected {r:?}"),
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let rec = self.call(&KvldsRequest::Get { key });
        match KvldsResponse::decode(KvldsRequestKind::Get, &rec).expect("response") {
            KvldsResponse::Get(v) => v.map(<[u8]>::to_vec),
            r => panic!("unexpected {r:?}"),
        }
    }

    fn range(&mut self, start: &[u8], end: &[u8], max: u32) -> (Vec<Pair>, Vec<u8>) {
        let rec = self.call(&KvldsRequest::Range { max, start, end });
        match KvldsResponse::decode(KvldsRequestKind::Range, &rec).expect("response") {
            KvldsResponse::Range(r) => (
                r.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
                r.next.to_vec(),
            ),
            r => panic!("unexpected {r:?}"),
        }
    }

    fn scan(&mut self, max: u32) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut from = Vec::new();
        loop {
            let (pairs, next) = self.range(&from, b"", max);
            out.extend(pairs);
            if next.is_empty() {
                return out;
            }
            from = next;
        }
    }

    /// The server closed the connection without answering.
    fn closed_silently(&mut self) -> bool {
        match self.recv() {
            Ok(None) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(Some(_)) => false,
        }
    }
}

#[test]
fn requests_on_the_wire() {
    let mut st = Stack::start(1024, &[]);
    let mut c = st.connect();
    let p = c.call(&KvldsRequest::Params);
    assert_eq!(
        KvldsResponse::decode(KvldsRequestKind::Params, &p).unwrap(),
        KvldsResponse::Params {
            kmax: 128,
            vmax: 192
        }
    );
    fn set<'a>(key: &'a [u8], value: &'a [u8]) -> KvldsRequest<'a> {
        KvldsRequest::Set { key, value }
    }
    assert_eq!(c.status(&set(b"a", b"1")), 0);
    assert_eq!(
        c.status(&KvldsRequest::Add {
            key: b"a",
            value: b"2"
        }),
        1
    );
    assert_eq!(
        c.status(&KvldsRequest::Add {
            key: b"b",
            value: b"2"
        }),
        0
    );
    assert_eq!(
        c.status(&KvldsRequest::Modify {
            key: b"zz",
            value: b"2"
        }),
        1
    );
    assert_eq!(
        c.status(&KvldsRequest::Modify {
            key: b"b",
            value: b"22"
        }),
        0
    );
    assert_eq!(
        c.status(&KvldsRequest::Cas {
            key: b"b",
            oval: b"2",
            value: b"3"
        }),
        1
    );
    assert_eq!(
        c.status(&KvldsRequest::Cas {
            key: b"b",
            oval: b"22",
            value: b"3"
        }),
        0
    );
    assert_eq!(
        c.status(&KvldsRequest::Cad {
            key: b"a",
            oval: b"x"
        }),
        1
    );
    assert_eq!(
        c.status(&KvldsRequest::Cad {
            key: b"a",
            oval: b"1"
        }),
        0
    );
    assert_eq!(c.status(&KvldsRequest::Delete { key: b"a" }), 0);
    assert_eq!(c.status(&KvldsRequest::Delete { key: b"nothing" }), 0);
    assert_eq!(c.status(&set(b"", b"")), 0);
    assert_eq!(c.status(&set(b"c", b"4")), 0);
    assert_eq!(c.get(b"a"), None);
    assert_eq!(c.get(b"b"), Some(b"3".to_vec()));
    assert_eq!(c.get(b""), Some(Vec::new()));
    assert_eq!(c.get(&[b'x'; 255]), None);
    // RANGE: the end key is exclusive; the first pair always comes back.
    let (pairs, next) = c.range(b"b", b"c", 1 << 20);
    assert_eq!(pairs, vec![(b"b".to_vec(), b"3".to_vec())]);
    assert_eq!(next, b"c");
    let (pairs, next) = c.range(b"", b"", 0);
    assert_eq!(pairs.len(), 1);
    assert_eq!(next, b"b");
    let (pairs, next) = c.range(b"b", b"b", 100);
    assert!(pairs.is_empty() && next == b"b");

    // Many pairs, read back one by one and by paginated RANGE, also after
    // restarting kvlds.
    let mut want: BTreeMap<Vec<u8>, Vec<u8>> = c.scan(1 << 20);
    let mut ids = Vec::new();
    for i in 0..20_000u32 {
        let k = format!("key{:08}", i.wrapping_mul(2_654_435_761) % 1_000_000).into_bytes();
        let v = vec![(i % 251) as u8; (i % 190) as usize];
        ids.push(c.send(&set(&k, &v)).unwrap());
        want.insert(k, v);
    }
    for _ in &ids {
        let (_, rec) = c.recv().unwrap().unwrap();
        assert_eq!(rec, 0u32.to_be_bytes());
    }
    assert_eq!(c.scan(1000), want);
    drop(c);
    st.kvlds.take().unwrap().kill9();
    st.start_kvlds(&[]);
    let mut c = st.connect();
    assert_eq!(c.scan(4096), want);
    for (k, v) in want.iter().step_by(97) {
        assert_eq!(c.get(k).as_ref(), Some(v));
    }
}

fn packet(id: u64, rec: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    frame::encode(&mut p, id, rec);
    p
}

#[test]
fn bad_input_closes_only_that_connection() {
    let st = Stack::start(1024, &["-k", "16", "-v", "32"]);
    // kvlds serves one connection at a time: each one below is closed
    // before the next is opened.
    assert_eq!(
        st.connect().status(&KvldsRequest::Set {
            key: b"kept",
            value: b"safe"
        }),
        0
    );

    let mut set = Vec::new();
    KvldsRequest::Set {
        key: b"k",
        value: b"v",
    }
    .encode(&mut set)
    .unwrap();
    let mut bad_header = packet(1, &set);
    bad_header[13] ^= 1;
    let mut bad_record = packet(1, &set);
    let n = bad_record.len();
    bad_record[n - 1] ^= 1;
    let unknown = packet(1, &0x0000_0199u32.to_be_bytes());
    let mut trailing = set.clone();
    trailing.push(0);
    let trailing = packet(1, &trailing);
    let mut long_key = Vec::new();
    KvldsRequest::Set {
        key: &[b'k'; 17],
        value: b"v",
    }
    .encode(&mut long_key)
    .unwrap();
    let mut long_value = Vec::new();
    KvldsRequest::Set {
        key: b"k",
        value: &[b'v'; 33],
    }
    .encode(&mut long_value)
    .unwrap();
    let mut runs_past = set.clone();
    runs_past[4] = 200;
    let mut huge = packet(1, &set);
    huge[8..12].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    let h = kivaloo_wire::crc::crc(&huge[..12]);
    huge[12..16].copy_from_slice(&h);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad header CRC", bad_header),
        ("bad record CRC", bad_record),
        ("unknown opcode", unknown),
        ("trailing bytes", trailing),
        ("key over -k", packet(1, &long_key)),
        ("value over -v", packet(1, &long_value)),
        ("length byte past the end", packet(1, &runs_past)),
        ("record length over the limit", huge),
    ];
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        let tag = format!("case{i}");
        let mut c = st.connect();
        assert_eq!(
            c.status(&KvldsRequest::Set {
                key: tag.as_bytes(),
                value: b"ok"
            }),
            0,
            "{what}"
        );
        c.s.write_all(&bytes).unwrap();
        assert!(c.closed_silently(), "{what}: connection not closed");
        // The daemon goes on, and the acknowledged write is there.
        let mut c = st.connect();
        assert_eq!(c.get(tag.as_bytes()), Some(b"ok".to_vec()), "{what}");
    }
    // A client that vanishes halfway through a packet.
    for cut in [3, 16, 20] {
        let mut c = st.connect();
        let p = packet(9, &set);
        c.s.write_all(&p[..cut]).unwrap();
        drop(c);
    }
    // A client that disconnects with requests in flight.
    let mut c = st.connect();
    for i in 0..500u32 {
        c.send(&KvldsRequest::Set {
            key: &i.to_be_bytes(),
            value: b"x",
        })
        .unwrap();
    }
    drop(c);
    let mut c = st.connect();
    assert_eq!(c.get(b"kept"), Some(b"safe".to_vec()));
    assert_eq!(
        c.status(&KvldsRequest::Set {
            key: b"after",
            value: b"1"
        }),
        0
    );
    assert_eq!(c.get(b"after"), Some(b"1".to_vec()));
}

/// Write distinct keys as fast as the daemon takes them (512 in flight)
/// until the connection dies; returns (acknowledged, sent) as key → value.
fn write_until_killed(
    mut c: Client,
    tag: u32,
    stop: &AtomicBool,
    count: &AtomicUsize,
) -> (Pairs, Pairs) {
    let mut acked = BTreeMap::new();
    let mut sent = BTreeMap::new();
    let mut by_id = BTreeMap::new();
    let mut i = 0u32;
    'outer: loop {
        for _ in 0..512 {
            let k = format!("t{tag}-{:07}", i.wrapping_mul(40503) % 10_000_000).into_bytes();
            let v = format!("value {i}").into_bytes();
            i += 1;
            match c.send(&KvldsRequest::Set { key: &k, value: &v }) {
                Ok(id) => {
                    sent.insert(k.clone(), v.clone());
                    by_id.insert(id, (k, v));
                }
                Err(_) => break 'outer,
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        while !by_id.is_empty() {
            match c.recv() {
                Ok(Some((id, rec))) => {
                    assert_eq!(rec, 0u32.to_be_bytes());
                    let (k, v) = by_id.remove(&id).expect("known id");
                    acked.insert(k, v);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                _ => break 'outer,
            }
        }
    }
    (acked, sent)
}

/// Let the writer get going (however loaded the machine is) before the kill.
fn wait_for_load(count: &AtomicUsize, n: usize) {
    let t = Instant::now();
    while count.load(Ordering::Relaxed) < n {
        assert!(t.elapsed() < Duration::from_secs(60), "writes stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn check_after_crash(
    c: &mut Client,
    all_acked: &BTreeMap<Vec<u8>, Vec<u8>>,
    all_sent: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> usize {
    let got = c.scan(1 << 20);
    for (k, v) in all_acked {
        assert_eq!(got.get(k), Some(v), "acknowledged write lost");
    }
    for (k, v) in &got {
        assert_eq!(all_sent.get(k), Some(v), "a pair nobody wrote");
    }
    got.len()
}

#[test]
fn kill_9_kvlds_under_write_load() {
    let mut st = Stack::start(2048, &[]);
    let (mut acked_all, mut sent_all) = (BTreeMap::new(), BTreeMap::new());
    for round in 0..3 {
        let (stop, count) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let c = st.connect();
        let (s2, c2) = (stop.clone(), count.clone());
        let w = std::thread::spawn(move || write_until_killed(c, round, &s2, &c2));
        wait_for_load(&count, 3000 + 2000 * round as usize);
        st.kvlds.take().unwrap().kill9();
        stop.store(true, Ordering::Relaxed);
        let (acked, sent) = w.join().unwrap();
        assert!(
            acked.len() > 100,
            "too little load before the kill: {}",
            acked.len()
        );
        acked_all.extend(acked);
        sent_all.extend(sent);
        st.start_kvlds(&[]);
        let n = check_after_crash(&mut st.connect(), &acked_all, &sent_all);
        assert!(n >= acked_all.len());
    }
}

#[test]
fn kill_9_lbs_under_write_load() {
    let mut st = Stack::start(2048, &[]);
    let (mut acked_all, mut sent_all) = (BTreeMap::new(), BTreeMap::new());
    for round in 0..2 {
        let (stop, count) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let c = st.connect();
        let (s2, c2) = (stop.clone(), count.clone());
        let w = std::thread::spawn(move || write_until_killed(c, round, &s2, &c2));
        wait_for_load(&count, 4000);
        st.lbs.take().unwrap().kill9();
        // kvlds cannot go on without its block store: it exits.
        let mut k = st.kvlds.take().unwrap();
        let status = k.0.wait().expect("wait kvlds");
        assert!(!status.success());
        stop.store(true, Ordering::Relaxed);
        let (acked, sent) = w.join().unwrap();
        assert!(
            acked.len() > 100,
            "too little load before the kill: {}",
            acked.len()
        );
        acked_all.extend(acked);
        sent_all.extend(sent);
        st.start_lbs();
        st.start_kvlds(&[]);
        check_after_crash(&mut st.connect(), &acked_all, &sent_all);
    }
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// SET pairs `range` of a pseudo-random key sequence, 4096 in flight.
fn load(c: &mut Client, range: std::ops::Range<u32>, want: &mut Pairs) {
    let mut pending = 0;
    for i in range {
        let k = format!("{:08x}", i.wrapping_mul(2_654_435_761)).into_bytes();
        let v = format!("{i:0>90}").into_bytes();
        c.send(&KvldsRequest::Set { key: &k, value: &v }).unwrap();
        want.insert(k, v);
        pending += 1;
        if pending == 4096 {
            for _ in 0..pending {
                c.recv().unwrap().unwrap();
            }
            pending = 0;
        }
    }
    for _ in 0..pending {
        c.recv().unwrap().unwrap();
    }
}

#[test]
fn small_cache_evicts_and_refetches() {
    // 1024 pages of 512 bytes: a 512 kB cache for tens of MB of pairs.
    let st = Stack::start(512, &["-C", "1024"]);
    let pid = st.kvlds.as_ref().unwrap().0.id();
    let mut c = st.connect();
    let mut want = BTreeMap::new();
    load(&mut c, 0..50_000, &mut want);
    let (rss1, data1) = (rss_kb(pid), st.store_bytes() / 1024);
    load(&mut c, 50_000..100_000, &mut want);
    let (rss2, data2) = (rss_kb(pid), st.store_bytes() / 1024);
    eprintln!("kvlds RSS {rss1} kB → {rss2} kB while the store grew {data1} kB → {data2} kB");
    assert!(
        4 * (rss2.saturating_sub(rss1)) < data2 - data1,
        "memory grows with the data: the cache bound did not hold"
    );
    // Point reads (pipelined, nearly all misses) and a full scan.
    let keys: Vec<&Vec<u8>> = want.keys().step_by(25).collect();
    let mut ids = BTreeMap::new();
    for k in &keys {
        ids.insert(c.send(&KvldsRequest::Get { key: k }).unwrap(), *k);
    }
    for _ in 0..keys.len() {
        let (id, rec) = c.recv().unwrap().unwrap();
        let k = ids[&id];
        match KvldsResponse::decode(KvldsRequestKind::Get, &rec).unwrap() {
            KvldsResponse::Get(v) => assert_eq!(v, Some(&want[k][..])),
            r => panic!("{r:?}"),
        }
    }
    assert_eq!(c.scan(1 << 16), want);
}

#[test]
fn exits_after_one_connection_with_dash_1() {
    let mut st = Stack::start(1024, &["-1"]);
    let mut c = st.connect();
    assert_eq!(
        c.status(&KvldsRequest::Set {
            key: b"a",
            value: b"b"
        }),
        0
    );
    drop(c);
    let mut k = st.kvlds.take().unwrap();
    let t = Instant::now();
    loop {
        if let Some(s) = k.0.try_wait().unwrap() {
            assert!(s.success());
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "kvlds -1 did not exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    st.start_kvlds(&[]);
    assert_eq!(st.connect().get(b"a"), Some(b"b".to_vec()));
}

#[test]
fn refuses_bad_limits_like_upstream() {
    let mut st = Stack::new(512);
    st.start_lbs();
    for args in [&["-k", "96", "-v", "32"][..], &["-v", "200"], &["-C", "10"]] {
        let out = Command::new(KVLDS)
            .arg("-s")
            .arg(st.path("never.sock"))
            .arg("-l")
            .arg(st.path("lbs.sock"))
            .arg("-F")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
