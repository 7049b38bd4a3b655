//! Just enough DER to read an X.509 certificate's `notAfter`, for the
//! "certificate days left" condition of https checks. The certificate
//! comes from the peer, so every length is checked and a malformed one is
//! an error, never a panic.

use crate::civil;
use crate::model::Millis;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: {0}")]
pub struct DerError(&'static str);

/// Split one TLV off the front: (tag, contents, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError("truncated tag"))?;
    let (&first, mut rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError("bad length"));
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(DerError("truncated contents"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], want: u8) -> Result<(&[u8], &[u8]), DerError> {
    let (tag, body, rest) = tlv(input)?;
    if tag != want {
        return Err(DerError("unexpected tag"));
    }
    Ok((body, rest))
}

fn digits(s: &[u8]) -> Result<u32, DerError> {
    let mut v = 0u32;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(DerError("bad time digit"));
        }
        v = v * 10 + (b - b'0') as u32;
    }
    Ok(v)
}

/// UTCTime (tag 0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18,
/// `YYYYMMDDHHMMSSZ`) to Unix milliseconds; instants before 1970 clamp to 0.
fn time(tag: u8, body: &[u8]) -> Result<Millis, DerError> {
    let (year, rest) = match (tag, body.len()) {
        (0x17, 13) => {
            let yy = digits(&body[..2])? as i64;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &body[2..])
        }
        (0x18, 15) => (digits(&body[..4])? as i64, &body[4..]),
        _ => return Err(DerError("unsupported time format")),
    };
    if rest[10] != b'Z' {
        return Err(DerError("time not in UTC"));
    }
    let (mo, d, h, mi, s) = (
        digits(&rest[0..2])?,
        digits(&rest[2..4])?,
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&mo) || d == 0 || d > civil::days_in_month(year, mo) || h > 23 || mi > 59
    {
        return Err(DerError("time out of range"));
    }
    if year < 1970 {
        return Ok(0);
    }
    Ok(civil::from_civil(year, mo, d, h, mi) + s.min(59) as Millis * 1000)
}

/// The `notAfter` instant of a DER-encoded certificate.
pub fn not_after(cert: &[u8]) -> Result<Millis, DerError> {
    let (certificate, _) = expect(cert, 0x30)?;
    let (mut tbs, _) = expect(certificate, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2; // [0] EXPLICIT version
    }
    let (_, tbs) = expect(tbs, 0x02)?; // serialNumber
    let (_, tbs) = expect(tbs, 0x30)?; // signature algorithm
    let (_, tbs) = expect(tbs, 0x30)?; // issuer
    let (validity, _) = expect(tbs, 0x30)?;
    let (_, _, validity) = tlv(validity)?; // notBefore
    let (tag, body, _) = tlv(validity)?;
    time(tag, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal structure with the fields the reader walks.
    fn cert(not_after: &[u8], tag: u8) -> Vec<u8> {
        fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            if body.len() < 128 {
                v.push(body.len() as u8);
            } else {
                v.push(0x82);
                v.extend_from_slice(&(body.len() as u16).to_be_bytes());
            }
            v.extend_from_slice(body);
            v
        }
        let mut validity = wrap(0x17, b"250101000000Z");
        validity.extend(wrap(tag, not_after));
        let mut tbs = wrap(0xa0, &wrap(0x02, &[2]));
        tbs.extend(wrap(0x02, &[1, 2, 3]));
        tbs.extend(wrap(0x30, &[0x06, 0x00]));
        tbs.extend(wrap(0x30, &[0u8; 200]));
        tbs.extend(wrap(0x30, &validity));
        tbs.extend(wrap(0x30, b"subject"));
        let mut c = wrap(0x30, &tbs);
        c.extend(wrap(0x30, &[0x05, 0x00]));
        wrap(0x30, &c)
    }

    #[test]
    fn reads_both_time_forms() {
        let t = civil::from_civil(2027, 3, 1, 12, 30) + 15_000;
        assert_eq!(not_after(&cert(b"270301123015Z", 0x17)), Ok(t));
        assert_eq!(not_after(&cert(b"20270301123015Z", 0x18)), Ok(t));
        assert_eq!(
            not_after(&cert(b"491231235959Z", 0x17)).unwrap() / 1000,
            2_524_607_999
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        let good = cert(b"270301123015Z", 0x17);
        for cut in 0..good.len() {
            assert!(not_after(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(not_after(&cert(b"27030112301+Z", 0x17)).is_err());
        assert!(not_after(&cert(b"270230123015Z", 0x17)).is_err());
        assert!(not_after(&cert(b"270301123015+", 0x17)).is_err());
        assert!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
