//! Durations as scenario files write them: `"250ms"`, `"1.5s"`, `"5m"`, `"2h"`, `"0s"`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written with a unit (`ms`, `s`, `m`, `h`); a number alone is refused so that a
/// reader never has to guess the unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurationText(pub Duration);

impl DurationText {
    /// Parses `text`; the error says what was expected.
    pub fn parse(text: &str) -> Result<DurationText, String> {
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let nanos_per_unit: f64 = match unit.trim() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("duration `{text}` needs a unit: ms, s, m or h (e.g. \"5m\")")),
            other => return Err(format!("unknown duration unit `{other}` in `{text}`: use ms, s, m or h")),
        };
        let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration like \"1.5s\" or \"5m\""))?;
        let nanos = value * nanos_per_unit;
        if !nanos.is_finite() || !(0.0..=1e19).contains(&nanos) {
            return Err(format!("duration `{text}` is out of range"));
        }
        Ok(DurationText(Duration::from_nanos(nanos.round() as u64)))
    }
}

impl fmt::Display for DurationText {
    /// The shortest exact spelling: `5m`, `90s`, `1500ms`, `1250us`, `7ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        for (unit, size) in [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if nanos >= size && nanos.is_multiple_of(size) {
                return write!(f, "{}{unit}", nanos / size);
            }
        }
        if nanos == 0 { write!(f, "0s") } else { write!(f, "{nanos}ns") }
    }
}

/// A duration for people: `0s`, `850us`, `16.8ms`, `2.35s`, `5m 3s`, `2h 1m`.
pub fn human(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    match nanos {
        0 => "0s".to_owned(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}us", n / 1_000),
        n if n < 1_000_000_000 => format!("{:.1}ms", n as f64 / 1e6),
        n if n < 60_000_000_000 => format!("{:.2}s", n as f64 / 1e9),
        n if n < 3_600_000_000_000 => format!("{}m {}s", n / 60_000_000_000, (n / 1_000_000_000) % 60),
        n => format!("{}h {}m", n / 3_600_000_000_000, (n / 60_000_000_000) % 60),
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DurationText::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: every unit parses to the exact duration and prints back to a string that parses to
    // the same value (scenario files written by `check` must replay exactly).
    #[test]
    fn parses_units_and_round_trips() {
        for (text, nanos) in [
            ("250ms", 250_000_000u64),
            ("1.5s", 1_500_000_000),
            ("5m", 300_000_000_000),
            ("2h", 7_200_000_000_000),
            ("0s", 0),
            ("7ns", 7),
            ("3us", 3_000),
        ] {
            let parsed = DurationText::parse(text).unwrap();
            assert_eq!(parsed.0.as_nanos() as u64, nanos, "{text}");
            assert_eq!(DurationText::parse(&parsed.to_string()).unwrap(), parsed);
        }
        assert!(DurationText::parse("5").unwrap_err().contains("needs a unit"));
        assert!(DurationText::parse("5 parsecs").unwrap_err().contains("unknown duration unit"));
        assert!(DurationText::parse("x s").is_err());
    }
}
