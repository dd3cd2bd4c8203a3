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
/// A line is formatted into one reused scratch buffer ([`Trace::record_with`],
/// [`Trace::record_fmt`], and [`Trace::record`], which copies its `String`), hashed from there,
/// and its text appended to the back of the current one of two text buffers; a small fixed-size
/// record of the held line (time, kind, where its text is) goes to the back of a ring. Recording
/// a line therefore allocates nothing once both text buffers have grown, and the memory it
/// writes is the scratch buffer (hot) and the ends of two sequentially filled buffers. Every
/// management operation records a line, and a model operation runs on caches its caller's data
/// has just evicted (a backup after a host's 16 MiB write): a ring of per-line `String`s
/// recycled in place would touch the cold record and the cold buffer of the line evicted
/// 10,000 lines earlier, three or so scattered cache misses per line.
///
/// The text buffers take turns: the current one takes new lines until it holds `capacity` of
/// them; then every held line is one of those (the ring holds at most `capacity`), so the other
/// buffer holds no held line's text, is cleared and becomes current.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The held lines, oldest first (at most `capacity`).
    held: VecDeque<Held>,
    /// The texts of the held lines, back to back: the current generation's buffer is
    /// `texts[generation % 2]`.
    texts: [String; 2],
    generation: u64,
    /// Lines whose text went to the current generation's buffer.
    in_generation: usize,
    capacity: usize,
    recorded: u64,
    hasher: blake3::Hasher,
    /// The buffer each line is formatted into before it is hashed and its text kept.
    scratch: String,
    /// Bytes of recorded lines not yet fed to `hasher` (see [`Trace::hash_line`]).
    pending: Vec<u8>,
}

/// A held line: all of [`TraceLine`] but its sequence number (which follows from its place in
/// the ring) and its text (a range of a text buffer).
#[derive(Debug, Clone, Copy)]
struct Held {
    at: Instant,
    kind: &'static str,
    /// Which text buffer: the parity of the generation the line was recorded in.
    buffer: u8,
    start: usize,
    len: usize,
}

/// Bytes of lines gathered before they are fed to the hash in one update.
const HASH_BATCH: usize = 8 * 1024;

impl Trace {
    /// A trace keeping the newest `capacity` lines (0 keeps none but still counts and hashes).
    pub fn new(capacity: usize) -> Trace {
        Trace {
            held: VecDeque::new(),
            texts: [String::new(), String::new()],
            generation: 0,
            in_generation: 0,
            capacity,
            recorded: 0,
            hasher: blake3::Hasher::new(),
            scratch: String::new(),
            pending: Vec::with_capacity(HASH_BATCH + 512),
        }
    }

    /// Records one line.
    pub fn record(&mut self, at: Instant, kind: &'static str, text: String) {
        self.record_with(at, kind, |buffer| buffer.push_str(&text));
    }

    /// Records one line whose text is `prefix` followed by `args`, formatted into the reused
    /// scratch buffer (no allocation once the buffers have grown). Same line, same hash as
    /// [`Trace::record`] with that text.
    pub fn record_fmt(&mut self, at: Instant, kind: &'static str, prefix: &str, args: fmt::Arguments<'_>) {
        self.record_with(at, kind, |text| {
            text.push_str(prefix);
            fmt::Write::write_fmt(text, args).expect("formatting into a String does not fail");
        });
    }

    /// Records one line whose text `write` appends to an empty buffer (the reused scratch
    /// buffer). Same line, same hash as [`Trace::record`] with that text.
    pub fn record_with(&mut self, at: Instant, kind: &'static str, write: impl FnOnce(&mut String)) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        write(&mut text);
        self.hash_line(at, kind, &text);
        self.keep(at, kind, &text);
        self.scratch = text;
    }

    /// Holds the line just hashed, evicting the oldest one when the ring is full.
    fn keep(&mut self, at: Instant, kind: &'static str, text: &str) {
        if self.capacity == 0 {
            return;
        }
        if self.in_generation == self.capacity {
            // Every held line is in the current buffer (see the type's comment): the other one
            // is free.
            self.generation += 1;
            self.in_generation = 0;
            let current = (self.generation % 2) as usize;
            let full = self.texts[1 - current].len();
            let free = &mut self.texts[current];
            free.clear();
            // The next `capacity` lines take about as many bytes as the last ones: room for
            // them at once, instead of a buffer grown (and copied) a dozen times while a model
            // operation records its line (the first time each buffer becomes current).
            free.reserve(full);
        }
        if self.held.len() == self.capacity {
            self.held.pop_front();
        }
        let buffer = (self.generation % 2) as u8;
        let texts = &mut self.texts[buffer as usize];
        let start = texts.len();
        texts.push_str(text);
        self.held.push_back(Held { at, kind, buffer, start, len: text.len() });
        self.in_generation += 1;
    }

    /// Feeds one line into the running hash and counts it. The hash is of the concatenation
    /// `seq ‖ at ‖ kind ‖ text` of every line (BLAKE3 streams, so how the bytes are split between
    /// `update` calls does not change it). Lines are gathered in a buffer and hashed
    /// [`HASH_BATCH`] bytes at a time: a line is a hundred bytes or so, an `update` that short
    /// costs more in setup than in hashing, and BLAKE3 hashes several kilobytes at once with its
    /// wide SIMD path.
    fn hash_line(&mut self, at: Instant, kind: &'static str, text: &str) {
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
    }

    /// The lines still held, oldest first (each built on demand: reading the trace is rare,
    /// recording it is not).
    pub fn lines(&self) -> impl Iterator<Item = TraceLine> + '_ {
        self.since(0)
    }

    /// Lines recorded since the start (held or dropped).
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Lines with `seq >= from`, still held (only those are visited).
    pub fn since(&self, from: u64) -> impl Iterator<Item = TraceLine> + '_ {
        let first = self.recorded - self.held.len() as u64;
        let skip = from.saturating_sub(first).min(self.held.len() as u64);
        self.held.range(skip as usize..).zip(first + skip..).map(|(held, seq)| TraceLine {
            seq,
            at: held.at,
            kind: held.kind,
            text: self.texts[held.buffer as usize][held.start..held.start + held.len].to_owned(),
        })
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

    // Goal: when the text buffers change turns, the one becoming current is emptied and given
    // room for as many bytes as the other holds (the next lines' text is written without growing
    // it), and every held line still reads back.
    #[test]
    fn a_buffer_becoming_current_is_empty_with_room_for_a_generation() {
        let mut trace = Trace::new(3);
        for i in 0..7u64 {
            trace.record_fmt(Instant::from_nanos(i), "copy", "A", format_args!(": line {i} {}", "x".repeat(50)));
            let lines: Vec<String> = trace.lines().map(|l| l.text).collect();
            let expected: Vec<String> =
                (i.saturating_sub(2)..=i).map(|j| format!("A: line {j} {}", "x".repeat(50))).collect();
            assert_eq!(lines, expected);
            // Lines 0–2 go to buffer 0, 3–5 to buffer 1 (current for the first time at line 3),
            // and line 6 to buffer 0 again.
            if i == 3 || i == 6 {
                let current = (trace.generation % 2) as usize;
                let (current, other) = (&trace.texts[current], &trace.texts[1 - current]);
                assert_eq!((trace.generation, current.len(), other.len()), (i / 3, 60, 3 * 60));
                assert!(current.capacity() >= other.len());
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

    // Goal: the ring holds exactly the newest `capacity` lines, each with its own sequence
    // number, time, kind and text, and `since` yields exactly the held lines from a sequence
    // number on, however the lines fall across the two text buffers' turns (several turns per
    // case, lines of every length including empty ones and ones longer than the rest
    // together). Model: every recorded line in a `Vec`, the held ones its last `capacity`.
    proptest::proptest! {
        #[test]
        fn the_ring_holds_the_newest_lines(
            capacity in 0usize..6,
            lines in proptest::collection::vec((0u8..3, 0usize..300, 0u64..5), 0..40),
            queries in proptest::collection::vec(0u64..45, 1..6),
        ) {
            const KINDS: [&str; 3] = ["copy", "volume", "rm"];
            let mut trace = Trace::new(capacity);
            let mut all: Vec<TraceLine> = Vec::new();
            let mut at = 0;
            for (i, (kind, len, step)) in lines.into_iter().enumerate() {
                at += step;
                let text: String = (0..len).map(|j| char::from(b'a' + ((i + j) % 26) as u8)).collect();
                let kind = KINDS[kind as usize];
                let line = TraceLine { seq: i as u64, at: Instant::from_nanos(at), kind, text: text.clone() };
                if i % 2 == 0 {
                    trace.record(line.at, kind, text);
                } else {
                    trace.record_fmt(line.at, kind, "", format_args!("{text}"));
                }
                all.push(line);
                let held = &all[all.len().saturating_sub(capacity)..];
                proptest::prop_assert_eq!(trace.lines().collect::<Vec<_>>(), held.to_vec());
                for &from in &queries {
                    let expected: Vec<TraceLine> = held.iter().filter(|l| l.seq >= from).cloned().collect();
                    proptest::prop_assert_eq!(trace.since(from).collect::<Vec<_>>(), expected);
                }
            }
            proptest::prop_assert_eq!(trace.recorded(), all.len() as u64);
        }
    }
}
