//! Faults: events a test puts on the virtual timeline so they land inside operations.

use std::time::Duration;

use crate::ids::ArrayId;

/// Which direction(s) of the links between two arrays a fault concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the first named array to the second.
    Forward,
    /// From the second named array to the first.
    Backward,
    /// Both directions.
    Both,
}

/// A fault scheduled with [`crate::Simulation::schedule_fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The array stops: it refuses every operation and host I/O until restarted.
    ArrayCrash(ArrayId),
    /// The array comes back with its persistent state.
    ArrayRestart(ArrayId),
    /// The links from `from` to `to` (per `direction`) stop carrying traffic.
    LinkDown {
        /// One end.
        from: ArrayId,
        /// Other end.
        to: ArrayId,
        /// Which directions.
        direction: Direction,
    },
    /// The links come back.
    LinkUp {
        /// One end.
        from: ArrayId,
        /// Other end.
        to: ArrayId,
        /// Which directions.
        direction: Direction,
    },
    /// The one-way base latency of the links changes.
    LatencyChange {
        /// One end.
        from: ArrayId,
        /// Other end.
        to: ArrayId,
        /// Which directions.
        direction: Direction,
        /// New base one-way latency.
        latency: Duration,
    },
    /// The bandwidth of every link between the two arrays changes (the model keeps one bandwidth
    /// per link, used in both directions). Transfers in flight use it from their next chunk on.
    BandwidthChange {
        /// One end.
        from: ArrayId,
        /// Other end.
        to: ArrayId,
        /// New bandwidth of each link, bytes per second (0 is taken as 1).
        bandwidth_bytes_per_sec: u64,
    },
}
