//! The whole stack on real sockets and files: kivaloo-lbs, kivaloo-kvlds
//! and kivaloo-mux as processes, driven by the `kivaloo` CLI and the
//! client library. Bad input, `kill -9` of lbs under write load, and many
//! clients through mux.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kivaloo_client::KvldsClient;
use kivaloo_client::net::AnyStream;
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::kvlds::{KvldsRequest, KvldsRequestKind, KvldsResponse};

const CLI: &str = env!("CARGO_BIN_EXE_kivaloo");

/// A workspace binary next to the CLI (built by the same `cargo nextest
/// run --workspace`; built here if this crate's tests run alone).
fn bin(name: &str, package: &str) -> PathBuf {
    let dir = Path::new(CLI).parent().expect("target dir");
    let p = dir.join(name);
    if !p.exists() {
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.args(["build", "-p", package, "--bin", name]);
        if dir.ends_with("release") {
            c.arg("--release");
        }
        assert!(
            c.status().expect("running cargo").success(),
            "building {name}"
        );
    }
    p
}

fn wait_for_socket(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(p).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// lbs + kvlds (+ mux), each in the foreground as our child. kvlds
/// serves one client at a time: with mux, mux is that client.
struct Stack {
    dir: PathBuf,
    block_size: u32,
    with_mux: bool,
    lbs: Option<Proc>,
    kvlds: Option<Proc>,
    mux: Option<Proc>,
}

impl Stack {
    fn new(dir: &Path, block_size: u32, with_mux: bool) -> Stack {
        std::fs::create_dir_all(dir.join("store")).unwrap();
        let mut s = Stack {
            dir: dir.to_path_buf(),
            block_size,
            with_mux,
            lbs: None,
            kvlds: None,
            mux: None,
        };
        s.start();
        s
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }

    fn spawn(&self, name: &str, package: &str, args: &[&str]) -> Proc {
        let sock = self.sock(name.trim_start_matches("kivaloo-"));
        let _ = std::fs::remove_file(&sock);
        let child = Command::new(bin(name, package))
            .arg("-F")
            .arg("-p")
            .arg(self.dir.join(format!("{name}.pid")))
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_socket(&sock);
        Proc(child)
    }

    fn start(&mut self) {
        let (lbs, kvlds, mux) = (self.sock("lbs"), self.sock("kvlds"), self.sock("mux"));
        let store = self.dir.join("store");
        self.lbs = Some(self.spawn(
            "kivaloo-lbs",
            "kivaloo-lbs",
            &[
                "-s",
                s(&lbs),
                "-d",
                s(&store),
                "-b",
                &self.block_size.to_string(),
            ],
        ));
        self.kvlds = Some(self.spawn(
            "kivaloo-kvlds",
            "kivaloo-kvlds",
            &["-s", s(&kvlds), "-l", s(&lbs)],
        ));
        if self.with_mux {
            self.mux = Some(self.spawn(
                "kivaloo-mux",
                "kivaloo-mux",
                &["-t", s(&kvlds), "-s", s(&mux)],
            ));
        }
    }

    fn stop(&mut self) {
        self.mux = None;
        self.kvlds = None;
        self.lbs = None;
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_input(args, b"")
    }

    fn cli_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut c = Command::new(CLI)
            .arg("-t")
            .arg(self.sock("mux"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input).unwrap();
        c.wait_with_output().unwrap()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cli_round_trip_through_mux() {
    let d = tempfile::tempdir().unwrap();
    let st = Stack::new(d.path(), 2048, true);
    let ok = |args: &[&str]| {
        let o = st.cli(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out(&o)
    };
    let code = |args: &[&str]| st.cli(args).status.code();
    ok(&["set", "hello", "world"]);
    assert_eq!(ok(&["get", "hello"]), "world\n");
    assert_eq!(code(&["get", "nothing"]), Some(1));
    assert_eq!(code(&["add", "hello", "x"]), Some(1));
    ok(&["add", "new", "1"]);
    ok(&["modify", "new", "2"]);
    assert_eq!(code(&["modify", "absent", "2"]), Some(1));
    assert_eq!(code(&["cas", "new", "1", "3"]), Some(1));
    ok(&["cas", "new", "2", "3"]);
    assert_eq!(ok(&["get", "new"]), "3\n");
    assert_eq!(code(&["cad", "new", "2"]), Some(1));
    ok(&["cad", "new", "3"]);
    ok(&["delete", "new"]);
    ok(&["delete", "new"]);
    assert_eq!(code(&["get", "new"]), Some(1));
    // Binary keys and values with -x; the empty key is a key.
    ok(&["-x", "set", "00ff", "0a0b"]);
    assert_eq!(ok(&["-x", "get", "00ff"]), "0a0b\n");
    ok(&["set", "", "empty key"]);
    assert_eq!(ok(&["get", ""]), "empty key\n");
    // Load a pair stream, then range, dump and stats see it.
    let mut stream = Vec::new();
    for i in 0..5000u32 {
        kivaloo_client::dumpfmt::write_pair(
            &mut stream,
            format!("k{i:05}").as_bytes(),
            &i.to_be_bytes(),
        )
        .unwrap();
    }
    let o = st.cli_with_input(&["load", "-"], &stream);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = ok(&["range", "--start", "k00010", "--end", "k00013"]);
    assert_eq!(
        r,
        "k00010\t\\x00\\x00\\x00\\x0a\nk00011\t\\x00\\x00\\x00\\x0b\nk00012\t\\x00\\x00\\x00\\x0c\n"
    );
    assert_eq!(
        ok(&["range", "--start", "k", "--limit", "2"])
            .lines()
            .count(),
        2
    );
    let o = st.cli(&["dump", "--start", "k", "--end", "l"]);
    assert_eq!(o.stdout, stream, "dump gives back exactly what load stored");
    let stats = ok(&["stats"]);
    assert!(stats.contains("pairs\t5003\n"), "{stats}");
    // A truncated stream stores what precedes the cut and fails.
    let o = st.cli_with_input(&["load", "-"], &stream[..stream.len() - 3]);
    assert_eq!(o.status.code(), Some(2));
    // Errors: no server, over-long key.
    assert_eq!(code(&["set", &"k".repeat(256), "v"]), Some(2));
    let o = Command::new(CLI)
        .args(["-t", "/nonexistent.sock", "get", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// A blocking raw connection for bad-input tests.
struct Raw {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Raw {
    fn new(p: &Path) -> Raw {
        let s = UnixStream::connect(p).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw { s, buf: Vec::new() }
    }
    fn send_req(&mut self, id: u64, req: &KvldsRequest) {
        let mut rec = Vec::new();
        req.encode(&mut rec).unwrap();
        let mut p = Vec::new();
        frame::encode(&mut p, id, &rec);
        self.s.write_all(&p).unwrap();
    }
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
}

fn packet(id: u64, rec: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    frame::encode(&mut p, id, rec);
    p
}

#[test]
fn bad_input_closes_one_connection_and_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    // 512-byte blocks: kvlds allows keys of 64 bytes and values of 96.
    let st = Stack::new(d.path(), 512, false);
    let kvlds = st.sock("kvlds");
    let mut c = Raw::new(&kvlds);
    c.send_req(1, &KvldsRequest::Params);
    let (_, r) = c.recv().unwrap();
    assert_eq!(
        KvldsResponse::decode(KvldsRequestKind::Params, &r).unwrap(),
        KvldsResponse::Params { kmax: 64, vmax: 96 }
    );
    c.send_req(
        2,
        &KvldsRequest::Set {
            key: b"keep",
            value: b"me",
        },
    );
    assert_eq!(c.recv().unwrap().1, [0, 0, 0, 0]);
    drop(c);

    let get = {
        let mut r = Vec::new();
        KvldsRequest::Get { key: b"keep" }.encode(&mut r).unwrap();
        r
    };
    let long_key = [b'k'; 65];
    let long_val = [b'v'; 97];
    let mut set_long_key = Vec::new();
    KvldsRequest::Set {
        key: &long_key,
        value: b"v",
    }
    .encode(&mut set_long_key)
    .unwrap();
    let mut set_long_val = Vec::new();
    KvldsRequest::Set {
        key: b"k",
        value: &long_val,
    }
    .encode(&mut set_long_val)
    .unwrap();
    let mut bad_hdr = packet(1, &get);
    bad_hdr[2] ^= 1;
    let mut bad_rec = packet(1, &get);
    bad_rec[18] ^= 1;
    let mut huge = packet(1, &get)[..16].to_vec();
    huge[8..12].copy_from_slice(&100_000u32.to_be_bytes());
    let h = kivaloo_wire::crc::crc(&huge[..12]);
    huge[12..16].copy_from_slice(&h);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad header CRC", bad_hdr),
        ("bad record CRC", bad_rec),
        ("unknown opcode", packet(1, &[0, 0, 1, 0x77])),
        ("trailing bytes", packet(1, &[&get[..], &[0]].concat())),
        ("over-long key", packet(1, &set_long_key)),
        ("over-long value", packet(1, &set_long_val)),
        ("over-long record", huge),
    ];
    for (what, bytes) in &cases {
        let mut c = Raw::new(&kvlds);
        c.s.write_all(bytes).unwrap();
        assert_eq!(c.recv(), None, "{what}: kvlds should drop the connection");
    }
    // Truncated requests and disconnects mid-request.
    for cut in [3, 16, 22] {
        let mut c = Raw::new(&kvlds);
        let mut rec = Vec::new();
        KvldsRequest::Set {
            key: b"half",
            value: b"written",
        }
        .encode(&mut rec)
        .unwrap();
        c.s.write_all(&packet(1, &rec)[..cut]).unwrap();
    }
    // Nothing lost, nothing half-applied, and kvlds still serves.
    let mut c = Raw::new(&kvlds);
    c.send_req(7, &KvldsRequest::Get { key: b"keep" });
    assert_eq!(c.recv().unwrap().1, [0, 0, 0, 0, 2, b'm', b'e']);
    c.send_req(8, &KvldsRequest::Get { key: b"half" });
    assert_eq!(c.recv().unwrap().1, [0, 0, 0, 1]);
    c.send_req(
        9,
        &KvldsRequest::Get {
            key: &long_key[..64],
        },
    );
    assert_eq!(c.recv().unwrap().1, [0, 0, 0, 1]);
}

#[test]
fn kill_9_of_lbs_under_write_load_loses_nothing_acknowledged() {
    let d = tempfile::tempdir().unwrap();
    let mut st = Stack::new(d.path(), 2048, false);
    let kvlds = st.sock("kvlds");
    let mut acked: HashMap<u32, u32> = HashMap::new();
    for round in 0..2u32 {
        // Pipelined SETs of fresh keys until the store dies under us.
        let mut c = Raw::new(&kvlds);
        let mut sent: HashMap<u64, u32> = HashMap::new();
        let lbs_pid = st.lbs.as_ref().unwrap().0.id() as i32;
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(lbs_pid, libc::SIGKILL) };
        });
        let mut next = round * 1_000_000;
        let mut inflight = 0usize;
        'load: loop {
            while inflight < 256 {
                let key = next.to_be_bytes();
                let val = (next ^ 0xABCD).to_be_bytes();
                let mut rec = Vec::new();
                KvldsRequest::Set {
                    key: &key,
                    value: &val,
                }
                .encode(&mut rec)
                .unwrap();
                if c.s.write_all(&packet(u64::from(next), &rec)).is_err() {
                    break 'load;
                }
                sent.insert(u64::from(next), next);
                next += 1;
                inflight += 1;
            }
            match c.recv() {
                None => break,
                Some((id, r)) => {
                    assert_eq!(r, [0, 0, 0, 0]);
                    let k = sent.remove(&id).expect("answer to a request we sent");
                    acked.insert(k, k ^ 0xABCD);
                    inflight -= 1;
                }
            }
        }
        killer.join().unwrap();
        assert!(
            acked.len() > 100,
            "round {round}: only {} SETs acknowledged",
            acked.len()
        );
        // Restart everything on the same directory and check.
        st.stop();
        st.start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = tokio::net::UnixStream::connect(&kvlds).await.unwrap();
            let c = KvldsClient::new(AnyStream::Unix(s));
            for (&k, &v) in &acked {
                let got = c.get(&k.to_be_bytes()).await.unwrap();
                assert_eq!(
                    got,
                    Some(v.to_be_bytes().to_vec()),
                    "round {round}: key {k}"
                );
            }
            for &k in sent.values() {
                // Unacknowledged: absent or whole, never something else.
                let got = c.get(&k.to_be_bytes()).await.unwrap();
                assert!(got.is_none() || got == Some((k ^ 0xABCD).to_be_bytes().to_vec()));
            }
        });
    }
}

#[test]
fn many_clients_through_mux_see_each_other() {
    let d = tempfile::tempdir().unwrap();
    let st = Stack::new(d.path(), 2048, true);
    let mux = st.sock("mux");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let connect = || async {
            KvldsClient::new(AnyStream::Unix(
                tokio::net::UnixStream::connect(&mux).await.unwrap(),
            ))
        };
        // Ten clients with their own key prefixes, concurrently.
        let mut tasks = Vec::new();
        for c in 0..10u8 {
            let cl = connect().await;
            tasks.push(tokio::spawn(async move {
                for i in 0..200u32 {
                    let k = [&[c][..], &i.to_be_bytes()].concat();
                    cl.set(&k, &i.to_le_bytes()).await.unwrap();
                }
                for i in 0..200u32 {
                    let k = [&[c][..], &i.to_be_bytes()].concat();
                    assert_eq!(cl.get(&k).await.unwrap(), Some(i.to_le_bytes().to_vec()));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Ping-pong through a shared key: each side waits for the other's
        // CAS, so every step crosses from one client to the other.
        let (a, b) = (connect().await, connect().await);
        a.set(b"ball", b"0").await.unwrap();
        let player = |me: KvldsClient, parity: u32| async move {
            let mut turn = parity;
            while turn < 40 {
                let cur = turn.to_string();
                let nxt = (turn + 1).to_string();
                if me
                    .cas(b"ball", cur.as_bytes(), nxt.as_bytes())
                    .await
                    .unwrap()
                {
                    turn += 2;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let (ra, rb) = tokio::join!(
            tokio::spawn(player(a.clone(), 0)),
            tokio::spawn(player(b, 1))
        );
        ra.unwrap();
        rb.unwrap();
        assert_eq!(a.get(b"ball").await.unwrap(), Some(b"40".to_vec()));
    });
}
