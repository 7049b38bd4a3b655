//! The two wire protocols the benchmark speaks: kivaloo's (kvlds) and
//! Redis's RESP2, behind one trait so every workload runs unchanged
//! against both.

use anyhow::{Result, bail};
use kivaloo_wire::frame::{self, Decoded, FrameDecoder};
use kivaloo_wire::kvlds::{KvldsRequest, MAX_REQUEST_RECORD};

/// A benchmark operation.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    Set(&'a [u8], &'a [u8]),
    Get(&'a [u8]),
}

/// What came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// SET done.
    Stored,
    /// GET: whether the key was found.
    Value { found: bool },
}

pub trait Codec {
    fn encode(&mut self, id: u64, op: &Op<'_>, out: &mut Vec<u8>);
    /// One reply from the front of `buf`: (bytes consumed, reply).
    fn decode(&mut self, buf: &[u8]) -> Result<Option<(usize, Reply)>>;
}

/// kvlds requests, framed.
pub struct Kivaloo {
    dec: FrameDecoder,
    rec: Vec<u8>,
}

impl Default for Kivaloo {
    fn default() -> Self {
        Kivaloo {
            dec: FrameDecoder::new(1 << 16),
            rec: Vec::with_capacity(MAX_REQUEST_RECORD),
        }
    }
}

impl Codec for Kivaloo {
    fn encode(&mut self, id: u64, op: &Op<'_>, out: &mut Vec<u8>) {
        self.rec.clear();
        let req = match *op {
            Op::Set(key, value) => KvldsRequest::Set { key, value },
            Op::Get(key) => KvldsRequest::Get { key },
        };
        // Benchmark keys and values are 40 bytes: always encodable.
        req.encode(&mut self.rec).expect("40-byte keys and values");
        frame::encode(out, id, &self.rec);
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<(usize, Reply)>> {
        match self.dec.decode(buf)? {
            Decoded::Incomplete { .. } => Ok(None),
            Decoded::Packet { packet, consumed } => {
                // SET answers are a bare status; GET answers carry a value
                // when found. The status alone tells them apart enough.
                let r = packet.record;
                let reply = match (r.len(), r.get(..4)) {
                    (4, Some([0, 0, 0, 0])) => Reply::Stored,
                    (4, Some([0, 0, 0, 1])) => Reply::Value { found: false },
                    (n, Some([0, 0, 0, 0])) if n > 4 => Reply::Value { found: true },
                    _ => bail!("unexpected kvlds answer {r:?}"),
                };
                Ok(Some((consumed, reply)))
            }
        }
    }
}

/// Redis RESP2 (answers come back in order; IDs are not sent).
#[derive(Default)]
pub struct Redis;

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Encode a command as a RESP array of bulk strings.
pub fn resp_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        bulk(out, a);
    }
}

/// A parsed RESP value (what the benchmark needs of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(Vec<u8>),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let i = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..i], i + 2))
}

fn int(b: &[u8]) -> Result<i64> {
    Ok(std::str::from_utf8(b)?.parse()?)
}

/// Parse one RESP value: (value, bytes consumed), or None if incomplete.
pub fn parse_resp(buf: &[u8]) -> Result<Option<(Resp, usize)>> {
    let Some(&t) = buf.first() else {
        return Ok(None);
    };
    let Some((l, n)) = line(&buf[1..]) else {
        return Ok(None);
    };
    let n = n + 1;
    Ok(Some(match t {
        b'+' => (Resp::Simple(l.to_vec()), n),
        b'-' => (Resp::Error(String::from_utf8_lossy(l).into_owned()), n),
        b':' => (Resp::Int(int(l)?), n),
        b'$' => {
            let len = int(l)?;
            if len < 0 {
                (Resp::Bulk(None), n)
            } else {
                let len = len as usize;
                if buf.len() < n + len + 2 {
                    return Ok(None);
                }
                (Resp::Bulk(Some(buf[n..n + len].to_vec())), n + len + 2)
            }
        }
        b'*' => {
            let count = int(l)?;
            let mut at = n;
            let mut items = Vec::new();
            for _ in 0..count.max(0) {
                match parse_resp(&buf[at..])? {
                    None => return Ok(None),
                    Some((v, used)) => {
                        items.push(v);
                        at += used;
                    }
                }
            }
            (Resp::Array(items), at)
        }
        other => bail!("bad RESP type byte {other:#x}"),
    }))
}

impl Codec for Redis {
    fn encode(&mut self, _id: u64, op: &Op<'_>, out: &mut Vec<u8>) {
        match *op {
            Op::Set(k, v) => resp_command(out, &[b"SET", k, v]),
            Op::Get(k) => resp_command(out, &[b"GET", k]),
        }
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<(usize, Reply)>> {
        // Fast paths for the two answers that matter.
        if buf.starts_with(b"+OK\r\n") {
            return Ok(Some((5, Reply::Stored)));
        }
        match parse_resp(buf)? {
            None => Ok(None),
            Some((Resp::Bulk(v), n)) => Ok(Some((n, Reply::Value { found: v.is_some() }))),
            Some((other, _)) => bail!("unexpected Redis answer {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_round_trip() {
        let mut out = Vec::new();
        Redis.encode(0, &Op::Set(b"k", b"vv"), &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n");
        let mut r = Redis;
        assert_eq!(r.decode(b"+OK\r\n").unwrap(), Some((5, Reply::Stored)));
        assert_eq!(
            r.decode(b"$-1\r\n").unwrap(),
            Some((5, Reply::Value { found: false }))
        );
        assert_eq!(
            r.decode(b"$2\r\nab\r\n").unwrap(),
            Some((8, Reply::Value { found: true }))
        );
        assert_eq!(r.decode(b"$2\r\nab\r").unwrap(), None);
        assert!(r.decode(b"-ERR x\r\n").is_err());
        let (v, n) = parse_resp(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, 22);
        assert_eq!(
            v,
            Resp::Array(vec![
                Resp::Bulk(Some(b"0".to_vec())),
                Resp::Array(vec![Resp::Bulk(Some(b"a".to_vec()))])
            ])
        );
    }

    #[test]
    fn kivaloo_answers() {
        let mut k = Kivaloo::default();
        let mut out = Vec::new();
        frame::encode(&mut out, 3, &[0, 0, 0, 0]);
        frame::encode(&mut out, 4, &[0, 0, 0, 1]);
        frame::encode(&mut out, 5, &[0, 0, 0, 0, 1, b'x']);
        let (n, r) = k.decode(&out).unwrap().unwrap();
        assert_eq!(r, Reply::Stored);
        let (m, r) = k.decode(&out[n..]).unwrap().unwrap();
        assert_eq!(r, Reply::Value { found: false });
        let (_, r) = k.decode(&out[n + m..]).unwrap().unwrap();
        assert_eq!(r, Reply::Value { found: true });
    }
}
