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
///
/// Every line is written straight into the text buffer of the line it evicts (or into a scratch
/// buffer when the ring keeps none; [`Trace::record_with`], [`Trace::record_fmt`], and
/// [`Trace::record`], which copies its `String`), so a full ring records a line without
/// allocating or freeing: every management operation records one, and on a busy
/// array the allocation, the intermediate `format!` string and the free of a line written
/// thousands of operations earlier (cold memory) cost as much as a small operation itself.
#[derive(Debug, Clone)]
pub struct Trace {
    lines: VecDeque<TraceLine>,
    capacity: usize,
    recorded: u64,
    hasher: blake3::Hasher,
    /// The text buffer reused when `capacity` is 0 (lines are hashed, never kept).
    scratch: String,
    /// Bytes of recorded lines not yet fed to `hasher` (see [`Trace::hash_line`]).
    pending: Vec<u8>,
}

/// Capacity of a line's text buffer when the ring has none to recycle yet.
const NEW_LINE_CAPACITY: usize = 128;

/// Bytes of lines gathered before they are fed to the hash in one update.
const HASH_BATCH: usize = 8 * 1024;

impl Trace {
    /// A trace keeping the newest `capacity` lines (0 keeps none but still counts and hashes).
    pub fn new(capacity: usize) -> Trace {
        Trace {
            lines: VecDeque::new(),
            capacity,
            recorded: 0,
            hasher: blake3::Hasher::new(),
            scratch: String::new(),
            pending: Vec::with_capacity(HASH_BATCH + 512),
        }
    }

    /// Records one line (copied into a recycled buffer, like every other line).
    pub fn record(&mut self, at: Instant, kind: &'static str, text: String) {
        self.record_with(at, kind, |buffer| buffer.push_str(&text));
    }

    /// Records one line whose text is `prefix` followed by `args`, formatted into the buffer of
    /// the line it evicts (no allocation once the ring is full). Same line, same hash as
    /// [`Trace::record`] with that text.
    pub fn record_fmt(&mut self, at: Instant, kind: &'static str, prefix: &str, args: fmt::Arguments<'_>) {
        self.record_with(at, kind, |text| {
            text.push_str(prefix);
            fmt::Write::write_fmt(text, args).expect("formatting into a String does not fail");
        });
    }

    /// Records one line whose text `write` appends to an empty buffer: the buffer of the line it
    /// evicts once the ring is full (so no allocation), a scratch buffer when the ring keeps no
    /// lines. Same line, same hash as [`Trace::record`] with that text.
    pub fn record_with(&mut self, at: Instant, kind: &'static str, write: impl FnOnce(&mut String)) {
        let mut text = if self.capacity == 0 {
            std::mem::take(&mut self.scratch)
        } else if self.lines.len() == self.capacity {
            self.lines.pop_front().map(|line| line.text).unwrap_or_default()
        } else {
            // Room for a typical line, so appending piece by piece does not regrow it.
            String::with_capacity(NEW_LINE_CAPACITY)
        };
        text.clear();
        write(&mut text);
        let seq = self.hash_line(at, kind, &text);
        if self.capacity == 0 {
            self.scratch = text;
            return;
        }
        self.lines.push_back(TraceLine { seq, at, kind, text });
    }

    /// Feeds one line into the running hash and counts it. The hash is of the concatenation
    /// `seq ‖ at ‖ kind ‖ text` of every line (BLAKE3 streams, so how the bytes are split between
    /// `update` calls does not change it). Lines are gathered in a buffer and hashed
    /// [`HASH_BATCH`] bytes at a time: a line is a hundred bytes or so, an `update` that short
    /// costs more in setup than in hashing, and BLAKE3 hashes several kilobytes at once with its
    /// wide SIMD path.
    /// Returns the line's sequence number.
    fn hash_line(&mut self, at: Instant, kind: &'static str, text: &str) -> u64 {
        let seq = self.recorded;
        self.pending.extend_from_slice(&seq.to_le_bytes());
        self.pending.extend_from_slice(&at.as_nanos().to_le_bytes());
        self.pending.extend_from_slice(kind.as_bytes());
        self.pending.extend_from_slice(text.as_bytes());
        if self.pending.len() >= HASH_BATCH {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
        self.recorded += 1;
        seq
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
        if self.pending.is_empty() {
            return self.hasher.finalize();
        }
        let mut hasher = self.hasher.clone();
        hasher.update(&self.pending);
        hasher.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a line formatted into a recycled buffer is the same line, with the same hash, as the
    // one recorded from a `String`, whether the ring is filling, full (the evicted line's buffer
    // is reused) or keeps nothing (the scratch buffer is reused).
    #[test]
    fn formatted_lines_equal_string_lines_in_text_and_hash() {
        for capacity in [0, 1, 3, 100] {
            let (mut by_string, mut by_format) = (Trace::new(capacity), Trace::new(capacity));
            for i in 0..10u64 {
                let at = Instant::from_nanos(i * 1_000);
                let long = "x".repeat(i as usize * 40);
                by_string.record(at, "copy", format!("SIM-A: line {i} {long}"));
                by_format.record_fmt(at, "copy", "SIM-A", format_args!(": line {i} {long}"));
                assert_eq!(by_string.hash(), by_format.hash(), "capacity {capacity}, line {i}");
                assert_eq!(by_string.lines().collect::<Vec<_>>(), by_format.lines().collect::<Vec<_>>());
            }
            assert_eq!(by_format.recorded(), 10);
            assert_eq!(by_format.lines().count(), capacity.min(10));
            if let Some(last) = by_format.lines().last() {
                assert_eq!(last.seq, 9);
                assert!(last.text.starts_with("SIM-A: line 9 xxx"));
            }
        }
    }

    // Goal: the hash covers the order of lines and each of their fields.
    #[test]
    fn the_hash_tells_lines_apart() {
        let line = |trace: &mut Trace, at: u64, kind: &'static str, text: &str| {
            trace.record_fmt(Instant::from_nanos(at), kind, "A", format_args!("{text}"))
        };
        let mut base = Trace::new(4);
        line(&mut base, 1, "copy", "x");
        for (at, kind, text) in [(2, "copy", "x"), (1, "cpg", "x"), (1, "copy", "y")] {
            let mut other = Trace::new(4);
            line(&mut other, at, kind, text);
            assert_ne!(base.hash(), other.hash());
        }
    }

    // Goal: the running hash is BLAKE3 over every line's `seq ‖ at ‖ kind ‖ text` (the digest
    // of every recorded run depends on it), whichever way the lines are batched before they
    // reach the hasher. Method: after each line, compare with a hasher fed the four parts of
    // every line separately; the lines cross the batch size several times (short lines, lines
    // of thousands of bytes, one longer than a batch).
    #[test]
    fn hash_is_of_each_lines_concatenated_parts() {
        let mut trace = Trace::new(2);
        let mut expected = blake3::Hasher::new();
        let mut texts = vec![String::new(), "create ro virtual copy db1.d261202 of db1".to_owned()];
        texts.extend((0..200).map(|i| format!("line {i} {}", "x".repeat(i % 97))));
        texts.extend(["y".repeat(5000), "z".repeat(HASH_BATCH - 30), "w".repeat(3 * HASH_BATCH), "v".repeat(10)]);
        let count = texts.len();
        for (i, text) in texts.into_iter().enumerate() {
            let at = Instant::from_nanos(1_000_000_007 * i as u64);
            expected.update(&(i as u64).to_le_bytes());
            expected.update(&at.as_nanos().to_le_bytes());
            expected.update(b"copy");
            expected.update(text.as_bytes());
            trace.record(at, "copy", text);
            assert_eq!(trace.hash(), expected.finalize(), "after line {i}");
        }
        assert_eq!(trace.recorded(), count as u64);
        assert_eq!(trace.lines().count(), 2);
    }
}
