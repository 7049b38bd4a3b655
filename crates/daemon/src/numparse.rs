//! Numbers on the command line, parsed the way the C daemons parse them
//! (`strtod` and `strtoumax` with base 0), so `-o 0.5`, `-o 1e1`, `-o inf`,
//! `-n 0x10` and `-n 010` keep meaning what they meant.

use std::ffi::CString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// Upstream: `Error parsing argument: -o abc: Invalid argument`.
    #[error("Invalid argument")]
    Invalid,
    /// Upstream: `...: Numerical result out of range`.
    #[error("Numerical result out of range")]
    OutOfRange,
    /// NaN is a usage error upstream (it fails a later range check).
    #[error("not a number")]
    NaN,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(v: i32) {
    // SAFETY: __errno_location always returns this thread's errno.
    unsafe { *libc::__errno_location() = v };
}

/// A C double in `[min, max]`, the whole string consumed.
pub fn parse_double(s: &str, min: f64, max: f64) -> Result<f64, NumError> {
    let c = CString::new(s).map_err(|_| NumError::Invalid)?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    set_errno(0);
    // SAFETY: c is a valid C string; end points into it afterwards.
    let v = unsafe { libc::strtod(c.as_ptr(), &mut end) };
    let e = errno();
    // SAFETY: end is within c's buffer (or equal to its start).
    let consumed = unsafe { end.offset_from(c.as_ptr()) } as usize;
    if s.is_empty() || consumed != s.len() {
        return Err(NumError::Invalid);
    }
    if e == libc::ERANGE {
        return Err(NumError::OutOfRange);
    }
    if v.is_nan() {
        return Err(NumError::NaN);
    }
    if v < min || v > max {
        return Err(NumError::OutOfRange);
    }
    Ok(v)
}

/// A C `uintmax_t` with base 0 (decimal, `0x` hex, `0` octal); a leading
/// minus wraps round, as strtoumax does.
pub fn parse_unsigned(s: &str) -> Result<u64, NumError> {
    let c = CString::new(s).map_err(|_| NumError::Invalid)?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    set_errno(0);
    // SAFETY: as above.
    let v = unsafe { libc::strtoull(c.as_ptr(), &mut end, 0) };
    let e = errno();
    let consumed = unsafe { end.offset_from(c.as_ptr()) } as usize;
    if s.is_empty() || consumed != s.len() {
        return Err(NumError::Invalid);
    }
    if e == libc::ERANGE {
        return Err(NumError::OutOfRange);
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles() {
        let inf = f64::INFINITY;
        assert_eq!(parse_double("0.5", 0.0, inf), Ok(0.5));
        assert_eq!(parse_double("1e1", 0.0, inf), Ok(10.0));
        assert_eq!(parse_double("inf", 0.0, inf), Ok(inf));
        assert_eq!(parse_double("abc", 0.0, inf), Err(NumError::Invalid));
        assert_eq!(parse_double("", 0.0, inf), Err(NumError::Invalid));
        assert_eq!(parse_double("1x", 0.0, inf), Err(NumError::Invalid));
        assert_eq!(parse_double("-1", 0.0, inf), Err(NumError::OutOfRange));
        assert_eq!(parse_double("1e400", 0.0, inf), Err(NumError::OutOfRange));
        assert_eq!(parse_double("nan", 0.0, inf), Err(NumError::NaN));
    }

    #[test]
    fn unsigned() {
        assert_eq!(parse_unsigned("100"), Ok(100));
        assert_eq!(parse_unsigned("0x10"), Ok(16));
        assert_eq!(parse_unsigned("010"), Ok(8));
        assert_eq!(parse_unsigned("-1"), Ok(u64::MAX));
        assert_eq!(parse_unsigned("abc"), Err(NumError::Invalid));
        assert_eq!(
            parse_unsigned("99999999999999999999999"),
            Err(NumError::OutOfRange)
        );
    }
}
