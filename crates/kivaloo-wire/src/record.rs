//! Field-level reading and writing shared by the lbs and kvlds codecs:
//! big-endian integers and 1-byte-length-prefixed strings.

/// Why a record did not parse. Every variant means the same thing to a
/// server — drop the connection without a reply — but the detail helps
/// whoever reads the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record too short")]
    Truncated,
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    #[error("unknown request type 0x{0:08x}")]
    UnknownType(u32),
    #[error("unknown status {0}")]
    BadStatus(u32),
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

/// Why a record could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Keys and values carry a 1-byte length.
    #[error("a key or value is {0} bytes long; at most 255 fit")]
    TooLong(usize),
}

/// A cursor over a record that refuses to run past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A 1-byte length followed by that many bytes.
    pub(crate) fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.bytes(1)?[0] as usize;
        self.bytes(n)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The record must be consumed exactly.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Append a 1-byte-length-prefixed string.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), EncodeError> {
    let n = u8::try_from(s.len()).map_err(|_| EncodeError::TooLong(s.len()))?;
    out.push(n);
    out.extend_from_slice(s);
    Ok(())
}

/// Check lengths first so that a failed encode leaves `out` untouched.
pub(crate) fn check_strings(fields: &[&[u8]]) -> Result<(), EncodeError> {
    match fields.iter().find(|f| f.len() > 255) {
        Some(f) => Err(EncodeError::TooLong(f.len())),
        None => Ok(()),
    }
}
