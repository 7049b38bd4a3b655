//! UTC calendar arithmetic on Unix milliseconds (proleptic Gregorian), for
//! cron schedules, the daily digest and the day buckets of uptime figures.
//! lookout works in UTC throughout: no time-zone database, no DST surprises.

use crate::model::Millis;

pub const MINUTE: Millis = 60_000;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// A UTC date and time of day, to the minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Sunday .. 6 = Saturday
    pub weekday: u32,
}

/// Days since 1970-01-01 of a date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn to_civil(t: Millis) -> Civil {
    let days = (t / DAY) as i64;
    let (year, month, day) = civil_from_days(days);
    let rem = t % DAY;
    Civil {
        year,
        month,
        day,
        hour: (rem / HOUR) as u32,
        minute: ((rem % HOUR) / MINUTE) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

pub fn from_civil(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> Millis {
    let days = days_from_civil(year, month, day);
    days.max(0) as Millis * DAY + hour as Millis * HOUR + minute as Millis * MINUTE
}

/// The UTC day number of an instant (the bucket key of daily uptime).
pub fn day_number(t: Millis) -> i64 {
    (t / DAY) as i64
}

/// `YYYY-MM-DD HH:MM:SS` UTC, for messages and the status page.
pub fn format_utc(t: Millis) -> String {
    let c = to_civil(t);
    let secs = (t % MINUTE) / 1000;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute, secs
    )
}

/// The first instant strictly after `t` at `hh:mm` UTC.
pub fn next_time_of_day(t: Millis, hour: u32, minute: u32) -> Millis {
    let start = (t / DAY) * DAY + hour as Millis * HOUR + minute as Millis * MINUTE;
    if start > t { start } else { start + DAY }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-1000i64, 0, 59, 60, 11_016, 20_000, 20_790, 100_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 2026-12-03 is a Thursday.
        let t = from_civil(2026, 12, 3, 16, 48);
        let c = to_civil(t);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2026, 12, 3, 16, 48)
        );
        assert_eq!(c.weekday, 4);
        assert_eq!(format_utc(t + 5_000), "2026-12-03 16:48:05 UTC");
    }

    #[test]
    fn next_time_of_day_is_strictly_later() {
        let t = from_civil(2026, 12, 3, 8, 0);
        assert_eq!(next_time_of_day(t, 8, 0), t + DAY);
        assert_eq!(next_time_of_day(t - 1, 8, 0), t);
        assert_eq!(next_time_of_day(t, 9, 30), t + HOUR + 30 * MINUTE);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
    }
}
