//! The pair-stream format of upstream's kvlds-dump / kvlds-undump:
//! concatenated (1-byte key length, key, 1-byte value length, value).

use std::io::{self, BufRead, Write};

/// Write one pair.
pub fn write_pair<W: Write>(w: &mut W, key: &[u8], value: &[u8]) -> io::Result<()> {
    let (Ok(kl), Ok(vl)) = (u8::try_from(key.len()), u8::try_from(value.len())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "key or value over 255 bytes",
        ));
    };
    w.write_all(&[kl])?;
    w.write_all(key)?;
    w.write_all(&[vl])?;
    w.write_all(value)
}

/// Read one pair into `key` and `value`; `Ok(false)` at a clean end of
/// input, an error if the input stops inside a pair.
pub fn read_pair<R: BufRead>(
    r: &mut R,
    key: &mut Vec<u8>,
    value: &mut Vec<u8>,
) -> io::Result<bool> {
    let mut len = [0u8; 1];
    match r.read(&mut len) {
        Ok(0) => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return read_pair(r, key, value),
        Err(e) => return Err(e),
    }
    let truncated = |e: io::Error| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "input ends inside a key/value pair",
            )
        } else {
            e
        }
    };
    key.resize(len[0] as usize, 0);
    r.read_exact(key).map_err(truncated)?;
    r.read_exact(&mut len).map_err(truncated)?;
    value.resize(len[0] as usize, 0);
    r.read_exact(value).map_err(truncated)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_including_empty_strings() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"".to_vec(), b"".to_vec()),
            (b"k".to_vec(), vec![0xff; 255]),
            (vec![0; 255], b"".to_vec()),
        ];
        let mut buf = Vec::new();
        for (k, v) in &pairs {
            write_pair(&mut buf, k, v).unwrap();
        }
        assert_eq!(&buf[..4], [0, 0, 1, b'k']);
        let mut r = &buf[..];
        let (mut k, mut v) = (Vec::new(), Vec::new());
        let mut got = Vec::new();
        while read_pair(&mut r, &mut k, &mut v).unwrap() {
            got.push((k.clone(), v.clone()));
        }
        assert_eq!(got, pairs);
        // Every truncation inside a pair is an error, never a silent stop.
        for cut in 1..buf.len() {
            let mut r = &buf[..cut];
            let mut n = 0;
            let res = loop {
                match read_pair(&mut r, &mut k, &mut v) {
                    Ok(true) => n += 1,
                    other => break other,
                }
            };
            let boundary = [0usize, 2, 2 + 2 + 255 + 1].contains(&cut) || cut == buf.len();
            if boundary {
                assert!(res.is_ok(), "cut {cut}");
            } else {
                assert!(res.is_err(), "cut {cut} after {n} pairs");
            }
        }
        assert!(write_pair(&mut Vec::new(), &[0; 256], b"").is_err());
    }
}
