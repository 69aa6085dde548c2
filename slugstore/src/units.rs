//! The values users type for amounts: seconds (`--lock-timeout 0.5`), durations (`--keep-within
//! 30days`) and sizes (`--cache-max-size 10GiB`). One place, so every option that takes an amount
//! accepts and refuses the same spellings, and names the value it refuses.

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses a timeout given in (possibly fractional) seconds; a value no [`Duration`] holds (negative,
/// `inf`, `NaN`) is refused by name.
pub fn parse_seconds(s: &str) -> Result<Duration> {
    s.trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| Error::BadValue {
            what: "timeout".into(),
            value: format!("`{s}`"),
            why: "not a number of seconds".into(),
        })
}

/// Parses `30days`, `12h`, `2weeks` (humantime syntax).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e}"))
}

/// Parses a size: a number with an optional unit (`B`, `K`/`KB`/`KiB`, `M`, `G`, `T`; all powers
/// of 1024).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("`{s}`: unknown unit")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_seconds() {
        assert_eq!(parse_seconds("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_seconds("-1").unwrap_err().to_string().contains("-1"));
        assert!(parse_seconds("soon")
            .unwrap_err()
            .to_string()
            .contains("soon"));
        // What `f64` parses but no `Duration` holds (these once panicked in `--lock-timeout`).
        for bad in ["inf", "NaN", "1e300"] {
            assert!(parse_seconds(bad).unwrap_err().to_string().contains(bad));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("3 M"), Ok(3 << 20));
        assert!(parse_size("x").is_err());
    }
}
