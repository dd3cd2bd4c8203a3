//! Virtual time: the only clock the model reads.
//!
//! [`Instant`] counts nanoseconds since the simulation began; durations are plain
//! [`std::time::Duration`] values (a value type, not a clock).
//! Nothing in the model reads wall time: a 5-minute sync period or a 10-second VSS window passes
//! as fast as the events in it can be processed.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point on the virtual timeline, in nanoseconds since the simulation began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant the simulation begins.
    pub const ZERO: Instant = Instant(0);
    /// The end of time; used as "never" in schedules.
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// The instant `secs` seconds after the start.
    pub const fn from_secs(secs: u64) -> Instant {
        Instant(secs * 1_000_000_000)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds since the start.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// Seconds since the start, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + duration`, clamped at [`Instant::MAX`].
    pub fn saturating_add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    /// `123.456789012s`: seconds with nanosecond precision, so trace lines sort and compare exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

/// A duration for people, in error messages: `"2 h 5 min 3 s"`, whole seconds rounded up (so
/// a time not yet reached never reads as 0 s).
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let (h, min, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, min) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{min} min {s} s"),
        _ => format!("{h} h {min} min {s} s"),
    }
}

/// Hours as a [`Duration`] (3PAR expresses expiration and retention in hours).
pub fn hours(hours: u64) -> Duration {
    Duration::from_secs(hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_displays_exactly() {
        let t = Instant::from_secs(5) + Duration::from_millis(250);
        assert_eq!(t.as_nanos(), 5_250_000_000);
        assert_eq!(t.to_string(), "5.250000000s");
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::from_secs(5), Duration::from_millis(250));
    }

    // Goal: error messages show durations the way people read them (black-box review finding
    // 8 saw "retained until 3658.809194761s"). Method: a few edges.
    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_millis(1)), "1 s");
        assert_eq!(human_duration(Duration::from_secs(61)), "1 min 1 s");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 h 0 min 0 s");
        assert_eq!(human_duration(Duration::from_millis(3_599_200)), "1 h 0 min 0 s");
    }
}
