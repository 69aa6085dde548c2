//! Cron schedules: the five-field `spec` of a job (`*/5 * * * *`) and the shorthands (`@hourly`).
//!
//! The platform reads `spec` as classic cron does, in UTC: minute, hour, day of month, month, day of
//! week, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n` or `a/n`, or a comma list of those;
//! months and weekdays also by their English three-letter names, weekday 7 being Sunday like 0. When
//! both day fields are restricted, a day matches when *either* does (Vixie cron's rule, which the
//! platform follows): `0 0 1 * MON` runs on the 1st and on every Monday.
//!
//! A spec is small and read once per run, so it is parsed into one bit set per field; matching a minute
//! is five bit tests. Errors name the field and the value (`hour: 24 is out of range 0-23`), for the
//! configuration's diagnostics.

use std::fmt;

use super::clock::Minute;

/// A parsed cron schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// The day-of-month field was `*` (or `*/n`): only the weekday restricts the day.
    days_any: bool,
    /// The day-of-week field was `*` (or `*/n`).
    weekdays_any: bool,
}

/// One of the five fields: its name in messages, its range and the names it accepts.
struct FieldRule {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldRule = FieldRule {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldRule = FieldRule {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: FieldRule = FieldRule {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldRule = FieldRule {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
/// Weekdays accept 0-7 (7 is Sunday again); names start at Sunday = 0.
const WEEKDAY: FieldRule = FieldRule {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// The shorthands and the specs they stand for.
const SHORTHANDS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

impl Schedule {
    /// Parses a spec; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let trimmed = text.trim();
        let expanded = if trimmed.starts_with('@') {
            SHORTHANDS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
                .map(|(_, spec)| *spec)
                .ok_or_else(|| {
                    let names: Vec<&str> = SHORTHANDS.iter().map(|(n, _)| *n).collect();
                    format!(
                        "`{trimmed}` is not a known shorthand (one of {})",
                        names.join(", ")
                    )
                })?
        } else {
            trimmed
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "`{trimmed}` has {} fields; a spec has 5 (minute hour day-of-month month day-of-week) \
                 or is a shorthand such as @hourly",
                fields.len()
            ));
        };
        let mut weekdays = field(weekday, &WEEKDAY)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        Ok(Schedule {
            text: trimmed.to_owned(),
            minutes: field(minute, &MINUTE)?,
            hours: field(hour, &HOUR)?,
            days: field(day, &DAY)?,
            months: field(month, &MONTH)?,
            weekdays,
            days_any: day.starts_with('*'),
            weekdays_any: weekday.starts_with('*'),
        })
    }

    /// Whether the job is due at `m`.
    pub fn matches(&self, m: &Minute) -> bool {
        let bit = |set: u64, v: u32| set & (1 << v) != 0;
        let day = bit(self.days, m.day);
        let weekday = bit(self.weekdays, m.weekday);
        let day_ok = match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => weekday,
            (false, true) => day,
            (false, false) => day || weekday,
        };
        bit(self.minutes, m.minute)
            && bit(self.hours, m.hour)
            && bit(self.months, m.month)
            && day_ok
    }

    /// The spec as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The bit set of one field: a comma list of `*`, `N`, `A-B`, each optionally `/STEP`.
fn field(text: &str, rule: &FieldRule) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (rule.min, rule.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, rule)?, value(b, rule)?)
        } else {
            let v = value(range, rule)?;
            // `a/n` runs from a to the end of the range, as in Vixie cron.
            (v, if step.is_some() { rule.max } else { v })
        };
        if lo > hi {
            return Err(format!(
                "{}: the range `{range}` runs backwards ({lo} > {hi})",
                rule.name
            ));
        }
        let step = match step {
            None => 1,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "{}: the step `{s}` in `{item}` is not a whole number above 0",
                        rule.name
                    ))
                }
            },
        };
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

/// One value of a field: a number in range, or a name the field accepts.
fn value(text: &str, rule: &FieldRule) -> Result<u32, String> {
    if let Some(i) = rule.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32 + u32::from(rule.min == 1));
    }
    let range = format!("{}-{}", rule.min, rule.max);
    match text.parse::<u32>() {
        Ok(v) if (rule.min..=rule.max).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{}: {v} is out of range {range}", rule.name)),
        Err(_) if text.is_empty() => Err(format!("{}: a value is missing", rule.name)),
        Err(_) => Err(format!(
            "{}: `{text}` is not a number in {range}{}",
            rule.name,
            if rule.names.is_empty() {
                String::new()
            } else {
                format!(" or a name ({}, ...)", rule.names[..3].join(", "))
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::clock::Minute;

    /// 2026-12-07 is a Monday.
    fn at(day: u32, hour: u32, minute: u32) -> Minute {
        Minute::from_unix(
            (crate::schedule::clock::days_from_civil(2026, 12, day) * 86_400) as u64
                + u64::from(hour) * 3600
                + u64::from(minute) * 60,
        )
    }

    fn due(spec: &str, m: &Minute) -> bool {
        Schedule::parse(spec).unwrap().matches(m)
    }

    #[test]
    fn fields_lists_ranges_and_steps() {
        assert!(due("* * * * *", &at(7, 10, 3)));
        assert!(due("*/5 * * * *", &at(7, 10, 5)));
        assert!(!due("*/5 * * * *", &at(7, 10, 6)));
        assert!(due("0,30 9-17 * * *", &at(7, 17, 30)));
        assert!(!due("0,30 9-17 * * *", &at(7, 18, 0)));
        assert!(due("10-20/5 * * * *", &at(7, 0, 15)));
        assert!(!due("10-20/5 * * * *", &at(7, 0, 25)));
        assert!(due("50/5 * * * *", &at(7, 0, 55)));
        assert!(!due("50/5 * * * *", &at(7, 0, 5)));
        assert!(due("0 0 7 dec *", &at(7, 0, 0)));
        assert!(!due("0 0 7 JAN *", &at(7, 0, 0)));
    }

    #[test]
    fn weekdays_and_the_either_rule() {
        let monday = at(7, 0, 0);
        let tuesday = at(8, 0, 0);
        let sunday = at(6, 0, 0);
        assert_eq!(monday.weekday, 1);
        assert!(due("0 0 * * mon", &monday));
        assert!(!due("0 0 * * 1", &tuesday));
        assert!(due("0 0 * * 7", &sunday), "7 is Sunday");
        assert!(due("0 0 * * 0", &sunday));
        assert!(due("0 0 * * 5-7", &sunday));
        // Both day fields restricted: either matches.
        assert!(due("0 0 1 * mon", &monday));
        assert!(due("0 0 8 * mon", &tuesday));
        assert!(!due("0 0 9 * mon", &tuesday));
        // Only one restricted: that one decides.
        assert!(!due("0 0 * * mon", &tuesday));
        assert!(due("0 0 8 * *", &tuesday));
    }

    #[test]
    fn shorthands() {
        assert!(due("@hourly", &at(7, 5, 0)));
        assert!(!due("@hourly", &at(7, 5, 1)));
        assert!(due("@daily", &at(7, 0, 0)));
        assert!(due("@midnight", &at(7, 0, 0)));
        assert!(!due("@daily", &at(7, 1, 0)));
        assert!(due("@weekly", &at(6, 0, 0)));
        assert!(!due("@weekly", &at(7, 0, 0)));
        assert!(!due("@monthly", &at(7, 0, 0)));
        assert!(due("@monthly", &at(1, 0, 0)));
        assert!(!due("@yearly", &at(1, 0, 0)));
        assert!(due("@annually", &Minute::from_unix(0)));
    }

    #[test]
    fn errors_name_the_field_and_value() {
        let err = |s: &str| Schedule::parse(s).unwrap_err();
        assert!(
            err("* * * *").contains("has 4 fields"),
            "{}",
            err("* * * *")
        );
        assert_eq!(err("60 * * * *"), "minute: 60 is out of range 0-59");
        assert_eq!(err("* 24 * * *"), "hour: 24 is out of range 0-23");
        assert_eq!(err("* * 0 * *"), "day of month: 0 is out of range 1-31");
        assert!(err("* * * foo *").contains("month: `foo` is not a number in 1-12"));
        assert!(err("*/0 * * * *").contains("the step `0`"));
        assert!(err("5-1 * * * *").contains("runs backwards"));
        assert!(err("1,,2 * * * *").contains("a value is missing"));
        assert!(err("@reboot").contains("not a known shorthand"));
    }
}
