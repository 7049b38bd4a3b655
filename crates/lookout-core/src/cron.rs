//! Five-field cron expressions (`minute hour day-of-month month day-of-week`),
//! as crontab(5) writes them, evaluated in UTC.
//!
//! Supported: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`, lists
//! `a,b,c`, month and weekday names (`jan`, `mon`), weekday 7 = Sunday, and
//! the shorthands `@hourly @daily @midnight @weekly @monthly @yearly
//! @annually`. As in Vixie cron, when both day fields are restricted a day
//! matches if *either* does.

use crate::civil::{self, DAY, HOUR, MINUTE};
use crate::model::Millis;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron expression needs 5 fields (minute hour day month weekday), got {0}")]
    FieldCount(usize),
    #[error("bad {field} field {text:?}")]
    Field { field: &'static str, text: String },
    #[error("unknown shorthand {0:?}")]
    Shorthand(String),
    #[error("cron expression never matches")]
    NeverMatches,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    doms: u64,
    months: u64,
    dows: u64,
    dom_star: bool,
    dow_star: bool,
    source: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    names_base: u32,
}

fn parse_value(spec: &FieldSpec, s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return (spec.min..=spec.max).contains(&n).then_some(n);
    }
    let lower = s.to_ascii_lowercase();
    spec.names
        .iter()
        .position(|n| *n == lower)
        .map(|i| i as u32 + spec.names_base)
}

fn parse_field(spec: &FieldSpec, text: &str) -> Result<(u64, bool), CronError> {
    let bad = || CronError::Field {
        field: spec.name,
        text: text.to_string(),
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| bad())?;
                if step == 0 {
                    return Err(bad());
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = parse_value(spec, a).ok_or_else(bad)?;
            let hi = parse_value(spec, b).ok_or_else(bad)?;
            if lo > hi {
                return Err(bad());
            }
            (lo, hi)
        } else {
            let v = parse_value(spec, range).ok_or_else(bad)?;
            // `a/n` means from a to the end, stepping n.
            (v, if step.is_some() { spec.max } else { v })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, text == "*"))
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let source = expr.trim().to_string();
        let expanded = match source.as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            s if s.starts_with('@') => return Err(CronError::Shorthand(s.to_string())),
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::FieldCount(fields.len()));
        }
        let spec = |name, min, max, names, names_base| FieldSpec {
            name,
            min,
            max,
            names,
            names_base,
        };
        let (minutes, _) = parse_field(&spec("minute", 0, 59, &[], 0), fields[0])?;
        let (hours, _) = parse_field(&spec("hour", 0, 23, &[], 0), fields[1])?;
        let (doms, dom_star) = parse_field(&spec("day-of-month", 1, 31, &[], 0), fields[2])?;
        let (months, _) = parse_field(&spec("month", 1, 12, &MONTHS, 1), fields[3])?;
        let (mut dows, dow_star) = parse_field(&spec("day-of-week", 0, 7, &DAYS, 0), fields[4])?;
        if dows & (1 << 7) != 0 {
            dows = (dows | 1) & !(1 << 7);
        }
        let cron = Cron {
            minutes,
            hours,
            doms,
            months,
            dows,
            dom_star,
            dow_star,
            source,
        };
        // Reject expressions such as "0 0 30 2 *" up front.
        if cron.next_after(0).is_none() {
            return Err(CronError::NeverMatches);
        }
        Ok(cron)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn day_matches(&self, c: &civil::Civil) -> bool {
        let dom = self.doms & (1 << c.day) != 0;
        let dow = self.dows & (1 << c.weekday) != 0;
        match (self.dom_star, self.dow_star) {
            (false, false) => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first matching minute strictly after `t`, or None if there is
    /// none within the next eight years (a leap day needs up to eight).
    pub fn next_after(&self, t: Millis) -> Option<Millis> {
        let mut t = (t / MINUTE + 1) * MINUTE;
        let limit = t + 8 * 366 * DAY;
        while t < limit {
            let c = civil::to_civil(t);
            if self.months & (1 << c.month) == 0 {
                let (y, m) = if c.month == 12 {
                    (c.year + 1, 1)
                } else {
                    (c.year, c.month + 1)
                };
                t = civil::from_civil(y, m, 1, 0, 0);
                continue;
            }
            if !self.day_matches(&c) {
                t = (t / DAY + 1) * DAY;
                continue;
            }
            if self.hours & (1 << c.hour) == 0 {
                t = (t / HOUR + 1) * HOUR;
                continue;
            }
            if self.minutes & (1 << c.minute) == 0 {
                t += MINUTE;
                continue;
            }
            return Some(t);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::from_civil;

    fn next(expr: &str, from: Millis) -> Millis {
        Cron::parse(expr).unwrap().next_after(from).unwrap()
    }

    #[test]
    fn common_expressions() {
        let t = from_civil(2026, 12, 3, 16, 48); // Thursday
        assert_eq!(next("* * * * *", t), t + MINUTE);
        assert_eq!(next("*/5 * * * *", t), from_civil(2026, 12, 3, 16, 50));
        assert_eq!(next("0 3 * * *", t), from_civil(2026, 12, 4, 3, 0));
        assert_eq!(next("30 2 * * mon", t), from_civil(2026, 12, 7, 2, 30));
        assert_eq!(next("0 0 1 jan *", t), from_civil(2027, 1, 1, 0, 0));
        assert_eq!(next("@daily", t), from_civil(2026, 12, 4, 0, 0));
        assert_eq!(
            next("15,45 9-17/4 * * *", t),
            from_civil(2026, 12, 3, 17, 15)
        );
        assert_eq!(next("0 12 * * 7", t), from_civil(2026, 12, 6, 12, 0));
        assert_eq!(next("0 0 29 2 *", t), from_civil(2028, 2, 29, 0, 0));
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(next("0 0 13 * fri", t), from_civil(2026, 12, 4, 0, 0));
        // Seconds within the minute do not repeat a minute.
        assert_eq!(
            next("49 16 * * *", t + 30_000),
            from_civil(2026, 12, 3, 16, 49)
        );
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "@often",
            "0 0 30 2 *",
            "a * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
