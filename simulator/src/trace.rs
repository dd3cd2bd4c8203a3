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
        // The hash is of the concatenation `seq ‖ at ‖ kind ‖ text` (BLAKE3 streams, so how the
        // bytes are split between `update` calls does not matter). A line up to a few hundred
        // bytes — nearly all of them — is hashed in one call from a stack buffer: each `update`
        // costs more in setup than in hashing bytes this short.
        let parts: [&[u8]; 4] =
            [&line.seq.to_le_bytes(), &line.at.as_nanos().to_le_bytes(), line.kind.as_bytes(), line.text.as_bytes()];
        let mut buffer = [0u8; 256];
        let total: usize = parts.iter().map(|part| part.len()).sum();
        if total <= buffer.len() {
            let mut at = 0;
            for part in parts {
                buffer[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            self.hasher.update(&buffer[..total]);
        } else {
            for part in parts {
                self.hasher.update(part);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the running hash is BLAKE3 over every line's `seq ‖ at ‖ kind ‖ text` (the digest
    // of every recorded run depends on it), whichever way a line is fed to the hasher. Method:
    // short lines, a line at the stack buffer's edge and a long one, against a hasher fed the
    // four parts separately.
    #[test]
    fn hash_is_of_each_lines_concatenated_parts() {
        let mut trace = Trace::new(2);
        let mut expected = blake3::Hasher::new();
        // 8 + 8 + 4 bytes of header: 236 bytes of text fill the 256-byte buffer, 237 do not.
        let texts = [
            String::new(),
            "create ro virtual copy db1.d261202 of db1".to_owned(),
            "x".repeat(236),
            "x".repeat(237),
            "y".repeat(5000),
        ];
        for (i, text) in texts.into_iter().enumerate() {
            let at = Instant::from_nanos(1_000_000_007 * i as u64);
            expected.update(&(i as u64).to_le_bytes());
            expected.update(&at.as_nanos().to_le_bytes());
            expected.update(b"copy");
            expected.update(text.as_bytes());
            trace.record(at, "copy", text);
        }
        assert_eq!(trace.recorded(), 5);
        assert_eq!(trace.hash(), expected.finalize());
        assert_eq!(trace.lines().count(), 2);
    }
}
