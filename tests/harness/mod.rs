//! The harness: fixtures' reports pinned by snapshots, the CLI verbs, property tests of random
//! campaigns (proptest state machine over the campaign's generator), and the proof that the
//! harness can fail (deliberately wrong engine variants are caught).

mod cli;
#[cfg(feature = "defects")]
mod defects;
mod fixtures;
mod properties;
mod space;
