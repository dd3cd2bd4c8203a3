//! The event trace: one line per model event, for debugging and for tests that compare runs.
//!
//! Lines carry the virtual time and a global sequence number, so two runs of one seed produce
//! identical traces.
//! The trace keeps the newest `capacity` lines (a bounded ring) but hashes every line it ever saw,
//! so [`crate::Simulation::digest`] still tells two long runs apart.

use std::collections::VecDeque;
use std::fmt;

use crate::time::Instant;

/// One trace line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Global sequence number (0 for the first line ever recorded).
    pub seq: u64,
    /// Virtual time of the event.
    pub at: Instant,
    /// Short category: `volume`, `copy`, `rcopy`, `link`, `fault`, `task`, ...
    pub kind: &'static str,
    /// What happened, with the objects it concerned.
    pub text: String,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:<6} {:>20} {:<6} {}", self.seq, self.at.to_string(), self.kind, self.text)
    }
}

/// A bounded ring of trace lines plus a running hash of every line recorded.
#[derive(Debug, Clone)]
pub struct Trace {
    lines: VecDeque<TraceLine>,
    capacity: usize,
    recorded: u64,
    hasher: blake3::Hasher,
}

impl Trace {
    /// A trace keeping the newest `capacity` lines (0 keeps none but still counts and hashes).
    pub fn new(capacity: usize) -> Trace {
        Trace { lines: VecDeque::new(), capacity, recorded: 0, hasher: blake3::Hasher::new() }
    }

    /// Records one line.
    pub fn record(&mut self, at: Instant, kind: &'static str, text: String) {
        let line = TraceLine { seq: self.recorded, at, kind, text };
        self.hasher.update(&line.seq.to_le_bytes());
        self.hasher.update(&line.at.as_nanos().to_le_bytes());
        self.hasher.update(line.kind.as_bytes());
        self.hasher.update(line.text.as_bytes());
        self.recorded += 1;
        if self.capacity == 0 {
            return;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The lines still held, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &TraceLine> {
        self.lines.iter()
    }

    /// Lines recorded since the start (held or dropped).
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Lines with `seq >= from`, still held.
    pub fn since(&self, from: u64) -> impl Iterator<Item = &TraceLine> {
        self.lines.iter().filter(move |line| line.seq >= from)
    }

    /// Hash of every line ever recorded.
    pub fn hash(&self) -> blake3::Hash {
        self.hasher.finalize()
    }
}
