//! The event queue: work scheduled on the virtual timeline.
//!
//! Events are ordered by `(time, sequence)`: two events at the same instant run in the order they
//! were scheduled, so a run never depends on heap internals.
//! Events are validated when they fire, not when they are cancelled: an event whose object changed
//! or vanished meanwhile is dropped at that point (an expiry of a deleted copy, a transfer step of
//! a sync that was aborted), which keeps scheduling O(log n) and cancellation free.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ids::{ArrayId, TaskId, VolumeId};
use crate::remote_copy::RcEvent;
use crate::time::Instant;

/// Something that happens at a scheduled instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A volume's expiration time is reached: remove it if the rules allow.
    Expire { array: ArrayId, volume: VolumeId, at: Instant },
    /// A task's work is done (online physical copy).
    TaskFinished { array: ArrayId, task: TaskId },
    /// Remote Copy work (links, heartbeats, transfers, schedules).
    RemoteCopy(RcEvent),
    /// A fault the user put on the timeline.
    Fault(crate::fault::Fault),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Scheduled {
    at: Instant,
    seq: u64,
    event: Event,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A min-queue of events by `(time, sequence)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    next_seq: u64,
}

impl EventQueue {
    /// Schedules `event` at `at`; events at one instant keep their scheduling order.
    pub(crate) fn schedule(&mut self, at: Instant, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Scheduled { at, seq, event }));
    }

    /// Time of the earliest event, if any.
    pub(crate) fn next_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    /// Removes and returns the earliest event if it is due at or before `until`.
    pub(crate) fn pop_due(&mut self, until: Instant) -> Option<(Instant, Event)> {
        if self.next_time()? > until {
            return None;
        }
        self.heap.pop().map(|Reverse(s)| (s.at, s.event))
    }

    /// Number of pending events.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Pending events in firing order (for the digest).
    pub(crate) fn sorted(&self) -> Vec<(Instant, u64, &Event)> {
        let mut all: Vec<_> = self.heap.iter().map(|Reverse(s)| (s.at, s.seq, &s.event)).collect();
        all.sort_by_key(|(at, seq, _)| (*at, *seq));
        all
    }
}
