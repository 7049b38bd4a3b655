//! Secret hygiene, checked on real memory: a global allocator that scans
//! every block as it is freed for the secrets of a handshake we know in
//! advance (K, dk_1, the DH exponents, y_SC, the four session keys). A
//! secret found in freed heap means a copy was dropped without being
//! wiped, where anyone who later gets that memory could read it.
//!
//! Limits: only heap is checked (stack copies left by moves cannot be
//! found this way), and only byte strings we can predict.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use spiped_proto::dh::DhKeypair;
use spiped_proto::kdf::pbkdf2_1;
use spiped_proto::{DH_LEN, Handshake, HandshakeConfig, Key, PACKET_LEN, Role, SessionKeys};

const SLOTS: usize = 16;

/// The watched secrets, (name, bytes), and how many slots are used; fixed
/// size, so registering one never allocates (the allocator takes this
/// lock).
type Watched = ([(&'static str, [u8; 32]); SLOTS], usize);
static WATCH: Mutex<Watched> = Mutex::new(([("", [0; 32]); SLOTS], 0));
static HITS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static ARMED: AtomicBool = AtomicBool::new(false);

struct Scanning;

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) && layout.size() >= 32 {
            // SAFETY: the block is still ours until System.dealloc.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let w = WATCH.lock().unwrap_or_else(|e| e.into_inner());
            for (i, (_, secret)) in w.0[..w.1].iter().enumerate() {
                if block.windows(32).any(|win| win == secret) {
                    HITS[i].fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Scanning = Scanning;

fn watch(name: &'static str, bytes: &[u8]) {
    let mut w = WATCH.lock().unwrap();
    let n = w.1;
    w.0[n] = (name, bytes.try_into().unwrap());
    w.1 += 1;
}

fn hits() -> Vec<(&'static str, usize)> {
    let w = WATCH.lock().unwrap();
    (0..w.1)
        .map(|i| (w.0[i].0, HITS[i].load(Ordering::SeqCst)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Run a handshake in memory, both sides boxed (so their state lives on
/// the heap and is freed through the allocator), then one packet each way.
fn handshake(key: &Key, xc: &[u8; 32], xs: &[u8; 32], nc: [u8; 32], ns: [u8; 32]) {
    let cfg = HandshakeConfig::default();
    let mut c = Box::new(Handshake::new(
        Role::Client,
        cfg,
        key,
        nc,
        Some(DhKeypair::from_random(xc)),
    ));
    let mut s = Box::new(Handshake::new(
        Role::Server,
        cfg,
        key,
        ns,
        Some(DhKeypair::from_random(xs)),
    ));
    fn step(a: &mut Handshake, b: &mut Handshake) {
        while a.needs_compute() {
            a.compute().unwrap();
        }
        let out = a.pending_output().to_vec();
        let used = b.feed(&out).unwrap();
        a.consume_output(used);
    }
    for _ in 0..10 {
        step(&mut c, &mut s);
        step(&mut s, &mut c);
    }
    assert!(c.is_done() && s.is_done());
    let mut ck: Box<SessionKeys> = Box::new(c.into_keys().unwrap());
    let mut sk: Box<SessionKeys> = Box::new(s.into_keys().unwrap());
    let mut pkt = Box::new([0u8; PACKET_LEN]);
    ck.send.seal(b"to the server", &mut pkt);
    assert_eq!(sk.recv.open(&mut pkt).unwrap(), b"to the server");
    sk.send.seal(b"to the client", &mut pkt);
    assert_eq!(ck.recv.open(&mut pkt).unwrap(), b"to the client");
}

#[test]
fn no_secret_is_left_in_freed_heap() {
    let key = Key::from_file_contents(b"a key file for the hygiene test");
    let (xc, xs) = ([0x3c; 32], [0xa5; 32]);
    let (nc, ns) = ([0x01; 32], [0x02; 32]);

    // The secrets, computed beforehand (the allocator is not armed yet).
    let nonces = [nc, ns].concat();
    let mut dk1 = [0u8; 64];
    pbkdf2_1(key.as_bytes(), &nonces, &mut dk1);
    let server_public = DhKeypair::from_random(&xs).public;
    let y_sc = DhKeypair::from_random(&xc).secret.shared(&server_public);
    let mut dk2 = [0u8; 128];
    pbkdf2_1(key.as_bytes(), &[&nonces[..], &y_sc[..]].concat(), &mut dk2);
    // The exponent e = 2^258 + x as crypto-bigint holds it: little-endian
    // 64-bit limbs, so the low 32 bytes are x reversed.
    let limbs = |x: &[u8; 32]| -> Vec<u8> { x.iter().rev().copied().collect() };
    watch("K", key.as_bytes());
    watch("dhmac_C", &dk1[..32]);
    watch("dhmac_S", &dk1[32..]);
    watch("exponent x_C", &limbs(&xc));
    watch("exponent x_S", &limbs(&xs));
    watch("y_SC (bytes 0-31)", &y_sc[..32]);
    watch("y_SC (bytes 224-255)", &y_sc[DH_LEN - 32..]);
    watch("E_C", &dk2[..32]);
    watch("H_C", &dk2[32..64]);
    watch("E_S", &dk2[64..96]);
    watch("H_S", &dk2[96..]);

    ARMED.store(true, Ordering::SeqCst);
    handshake(&key, &xc, &xs, nc, ns);
    ARMED.store(false, Ordering::SeqCst);
    assert_eq!(hits(), vec![], "secrets found in freed heap blocks");

    // The detector works: a key dropped without wiping is found.
    ARMED.store(true, Ordering::SeqCst);
    drop(std::hint::black_box(Box::new(*key.as_bytes())));
    ARMED.store(false, Ordering::SeqCst);
    assert_eq!(hits(), vec![("K", 1)]);
}

/// Types that hold secrets wipe themselves when dropped (compile-time).
#[test]
fn secret_types_zeroize_on_drop() {
    fn wipes<T: zeroize::ZeroizeOnDrop>() {}
    wipes::<Key>();
    wipes::<spiped_proto::dh::DhSecret>();
    // The packet codec's per-direction state: AES round keys, and the keyed
    // HMAC-SHA256 state, whose inner and outer hash states are each one of
    // these cores (hmac's wrapper does not say ZeroizeOnDrop itself, but
    // every field it has wipes itself).
    wipes::<aes::Aes256>();
    wipes::<<sha2::Sha256 as sha2::digest::block_api::CoreProxy>::Core>();
}

/// Debug output never shows key material.
#[test]
fn debug_output_redacts_secrets() {
    let key = Key::from_file_contents(b"k");
    let kp = DhKeypair::from_random(&[0x77; 32]);
    let hs = Handshake::new(
        Role::Client,
        HandshakeConfig::default(),
        &key,
        [9; 32],
        Some(DhKeypair::from_random(&[0x77; 32])),
    );
    let text = format!("{key:?} {kp:?} {hs:?} {:?}", kp.secret);
    assert!(text.contains("Key(<redacted>)"), "{text}");
    assert!(text.contains("DhSecret(<redacted>)"), "{text}");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for secret in [&key.as_bytes()[..8], &[0x77; 8][..]] {
        assert!(!text.contains(&hex(secret)), "{text}");
        assert!(!text.contains(&format!("{:?}", &secret[..4])), "{text}");
    }
}
