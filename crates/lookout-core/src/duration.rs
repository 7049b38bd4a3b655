//! Durations as people write them in the config (`"30s"`, `"5m"`,
//! `"1h30m"`, `"250ms"`, `"2d"`) and as messages print them (`"37m"`).

use crate::model::Millis;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\", \"2d\"")]
pub struct DurationError(pub String);

/// Parse a duration into milliseconds. `"0"` is allowed and means zero.
pub fn parse(s: &str) -> Result<Millis, DurationError> {
    let err = || DurationError(s.to_string());
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    if t.is_empty() {
        return Err(err());
    }
    let mut total: Millis = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let n: Millis = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// A short human form: `"850ms"`, `"45s"`, `"37m"`, `"2h05m"`, `"3d4h"`.
pub fn format(ms: Millis) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        let (m, r) = (s / 60, s % 60);
        if r == 0 || m >= 10 {
            format!("{m}m")
        } else {
            format!("{m}m{r:02}s")
        }
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_forms() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("30s"), Ok(30_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000));
        assert_eq!(parse("2d"), Ok(172_800_000));
        for bad in ["", "5", "s", "5x", "1h 30m", "-1s", "99999999999999999999s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_for_messages() {
        assert_eq!(format(850), "850ms");
        assert_eq!(format(45_000), "45s");
        assert_eq!(format(37 * 60_000 + 12_000), "37m");
        assert_eq!(format(90_000), "1m30s");
        assert_eq!(format(2 * 3_600_000 + 5 * 60_000), "2h05m");
        assert_eq!(format(3 * 86_400_000 + 4 * 3_600_000), "3d4h");
    }
}
