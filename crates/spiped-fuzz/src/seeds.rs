//! The seed corpus, as code: `cargo run -p spiped-fuzz --example
//! write_seeds -- fuzz/seeds` writes one file per seed. Each seed is a
//! meaningful case (an honest exchange, each boundary value of y, each
//! packet attack), so the fuzzer starts deep in the state space.

use spiped_proto::dh::{P, Y_ONE};
use spiped_proto::{DH_LEN, NONCE_LEN};

/// (target, seed name, bytes).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v = Vec::new();
    handshake_peer(&mut v);
    handshake_mitm(&mut v);
    packets(&mut v);
    text(&mut v);
    v
}

type Seeds = Vec<(&'static str, String, Vec<u8>)>;

fn handshake_peer(v: &mut Seeds) {
    let mut p_minus_1 = P;
    p_minus_1[DH_LEN - 1] -= 1;
    let mut p_plus_1 = P;
    p_plus_1[DH_LEN - 1] = p_plus_1[DH_LEN - 1].wrapping_add(1);
    let mut two = [0u8; DH_LEN];
    two[DH_LEN - 1] = 2;
    let ys: [(&str, [u8; DH_LEN]); 7] = [
        ("y0", [0u8; DH_LEN]),
        ("y1", Y_ONE),
        ("y2", two),
        ("p-1", p_minus_1),
        ("p", P),
        ("p+1", p_plus_1),
        ("max", [0xff; DH_LEN]),
    ];
    for role in 0..2u8 {
        let r = if role == 0 { "client" } else { "server" };
        for (cfg, c) in [(0u8, "pfs"), (1, "f"), (2, "g")] {
            for (name, y) in &ys {
                // flags: role, cfg, the attacker knows the key; one split
                // size of 0 (all at once), or 1-byte reads.
                for (split, s) in [(vec![0u8], "whole"), (vec![1u8, 7, 31], "bits")] {
                    let mut b = vec![role | (cfg << 1) | 8, split.len() as u8];
                    b.extend_from_slice(&split);
                    b.extend_from_slice(&[0x77; NONCE_LEN]);
                    b.extend_from_slice(y);
                    b.extend_from_slice(&[0u8; 32]);
                    b.extend_from_slice(b"data after the handshake");
                    v.push(("handshake_peer", format!("{r}-{c}-{name}-{s}"), b));
                }
            }
            // Without the key: the MAC check fails.
            let mut b = vec![role | (cfg << 1), 0];
            b.extend((0..NONCE_LEN + DH_LEN + 32).map(|i| i as u8));
            v.push(("handshake_peer", format!("{r}-{c}-nokey"), b));
            // A short stream: the handshake just waits.
            v.push((
                "handshake_peer",
                format!("{r}-{c}-short"),
                vec![role, 0, 1, 2],
            ));
        }
    }
}

fn handshake_mitm(v: &mut Seeds) {
    for cc in 0..3u8 {
        for sc in 0..3u8 {
            v.push((
                "handshake_mitm",
                format!("honest-{cc}{sc}"),
                vec![cc | (sc << 2), 0, 2, 0, 5],
            ));
        }
    }
    // One flipped byte in each field, each direction.
    for (dir, d) in [(0u16, "c2s"), (0x8000, "s2c")] {
        for (field, at) in [("nonce", 3u16), ("y", 100), ("h", 300)] {
            let at = (dir | at).to_be_bytes();
            v.push((
                "handshake_mitm",
                format!("{d}-{field}"),
                vec![0, 1, at[0], at[1], 0x40, 1, 0],
            ));
        }
    }
}

fn packets(v: &mut Seeds) {
    v.push(("packet_open", "honest-5".into(), vec![0, 4]));
    v.push(("packet_open", "honest-1024".into(), vec![0x03, 0xff]));
    let mut flip = vec![0, 4];
    flip.extend(std::iter::repeat_n(0, 600));
    flip.push(0x10);
    v.push(("packet_open", "flip-ct".into(), flip));
    let mut tag = vec![0, 4];
    tag.extend(std::iter::repeat_n(0, 1059));
    tag.push(0x80);
    v.push(("packet_open", "flip-tag".into(), tag));

    // packet_stream programs: op bytes with their arguments, then splits.
    let honest = |n: u16| {
        let b = n.to_be_bytes();
        vec![0, b[0], b[1]]
    };
    let mut s = |name: &str, ops: Vec<Vec<u8>>, splits: &[u8]| {
        let mut b = vec![splits.len() as u8];
        b.extend_from_slice(splits);
        b.push(ops.len() as u8);
        b.extend(ops.concat());
        v.push(("packet_stream", name.to_string(), b));
    };
    s("three", vec![honest(4), honest(1023), honest(99)], &[]);
    s(
        "three-odd-reads",
        vec![honest(4), honest(1023), honest(99)],
        &[1, 100, 0],
    );
    s(
        "flip",
        vec![honest(10), vec![1, 0x01, 0x00], honest(10)],
        &[],
    );
    s("replay", vec![honest(10), honest(20), vec![2, 0]], &[]);
    s("reorder", vec![honest(10), honest(20), vec![3]], &[]);
    s("len0", vec![honest(10), vec![4, 0, 0, 0, 0]], &[]);
    s("len1025", vec![vec![4, 0, 0, 4, 1]], &[]);
    s("len1024", vec![vec![4, 0, 0, 4, 0], honest(5)], &[]);
    s("lenmax", vec![vec![4, 0xff, 0xff, 0xff, 0xff]], &[]);
    s("drop", vec![honest(10), vec![5], honest(10)], &[]);
    s("junk-tail", vec![honest(10), vec![6, 200]], &[]);
    s("truncated", vec![honest(10), honest(10), vec![7, 30]], &[]);
    s("junk-middle", vec![honest(10), vec![6, 3], honest(10)], &[]);
}

fn text(v: &mut Seeds) {
    for a in [
        "[127.0.0.1]:8025",
        "[::1]:22",
        "/tmp/spiped.sock",
        "localhost:ssh",
        "[127.0.0.1]:0",
        "[127.0.0.1]",
        "[::1]",
        "[1.2.3]:1",
        "[::1",
        ":80",
        "foo",
        "[fe80::1%eth0]:22",
        "a:b:c:80",
    ] {
        v.push(("addr", a.replace(['/', ':', '[', ']'], "_"), a.into()));
    }
    for (i, cmd) in [
        "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k",
        "-eDFjf -s/tmp/s -t[::1]:8 -k- -n5 -o2 -p/tmp/p -r10 --syslog -u nobody -b [::1]",
        "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k -n 0x10 -o 1e1 -r 0 -R",
        "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k -o nan",
        "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k -f -g",
        "-d -v -h junk",
        "-t [127.0.0.1]:9 -k /k -g -j -o 1",
        "-t x:1 -k /k -b localhost",
        "-d -s :80 -t [127.0.0.1]:2 -k /k",
        "--syslog=x",
        "-d -- -s",
        "-u :wheel -d -s a:1 -t b:2 -k k",
    ]
    .iter()
    .enumerate()
    {
        v.push((
            "cli",
            format!("cmd{i:02}"),
            cmd.replace(' ', "\0").into_bytes(),
        ));
    }
}
