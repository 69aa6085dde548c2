//! The UTC calendar minute a cron run is for.
//!
//! Crons run in UTC, as on the platform. A run is for one minute, taken from the system clock or from
//! `--now` (so a test, or an operator replaying a missed minute, decides what is due); the date is
//! computed here from Unix seconds (the civil-from-days algorithm) rather than pulling in a calendar
//! crate for five numbers.

/// A minute of UTC time, split into what cron specs match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    /// Unix seconds at the start of the minute.
    pub unix: u64,
    /// 0-59.
    pub minute: u32,
    /// 0-23.
    pub hour: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// 1-12.
    pub month: u32,
    /// 0-6, Sunday is 0.
    pub weekday: u32,
    /// The year.
    pub year: i64,
}

impl Minute {
    /// The minute holding the Unix time `secs`.
    pub fn from_unix(secs: u64) -> Minute {
        let unix = secs - secs % 60;
        let days = (unix / 86_400) as i64;
        let in_day = (unix % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Minute {
            unix,
            minute: in_day / 60 % 60,
            hour: in_day / 3600,
            day,
            month,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4).rem_euclid(7)) as u32,
            year,
        }
    }

    /// The minute as a record name sorts and reads: `20261206T1005Z`.
    pub fn stamp(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Reads an RFC 3339 time (`2026-12-06T10:05:00Z`) as Unix seconds, for `--now`.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("`{s}`: {e} (e.g. 2026-12-06T10:05:00Z)"))?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("`{s}` is before 1970"))
}

/// Year, month (1-12) and day (1-31) of the day `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the given date (the inverse of `civil_from_days`), for tests.
#[cfg(test)]
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_agree_with_rfc3339() {
        for secs in [
            0u64,
            951_782_400,
            1_796_555_100,
            4_107_542_399,
            1_709_164_800,
        ] {
            let m = Minute::from_unix(secs);
            let text = slugstore::slug::format_time(m.unix);
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
                m.year, m.month, m.day, m.hour, m.minute
            );
            assert_eq!(text, expected);
            assert_eq!(
                days_from_civil(m.year, m.month, m.day),
                (secs / 86_400) as i64
            );
        }
        // 2026-12-06 10:05:42 UTC, a Sunday.
        let m = Minute::from_unix(1_796_551_542);
        assert_eq!(
            (m.year, m.month, m.day, m.hour, m.minute),
            (2026, 12, 6, 10, 5)
        );
        assert_eq!(m.weekday, 0);
        assert_eq!(m.stamp(), "20261206T1005Z");
    }
}
