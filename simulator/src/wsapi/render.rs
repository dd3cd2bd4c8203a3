//! JSON shapes shared by several resources: collections, port positions and time stamps.
//!
//! Times are the virtual clock mapped to the calendar from the simulation's epoch, always UTC,
//! so two runs of one seed render identical bodies.

use serde::Serialize;

use crate::{Instant, PortPos, Simulation};

/// `{"total": n, "members": [...]}`, the shape of every WSAPI collection.
#[derive(Debug, Serialize)]
pub(crate) struct Collection<T> {
    pub(crate) total: usize,
    pub(crate) members: Vec<T>,
}

impl<T> Collection<T> {
    pub(crate) fn of(members: Vec<T>) -> Collection<T> {
        Collection { total: members.len(), members }
    }
}

/// `{"node", "slot", "cardPort"}`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct PortPosJson {
    pub(crate) node: u8,
    pub(crate) slot: u8,
    #[serde(rename = "cardPort")]
    pub(crate) card_port: u8,
}

impl From<PortPos> for PortPosJson {
    fn from(pos: PortPos) -> PortPosJson {
        PortPosJson { node: pos.node, slot: pos.slot, card_port: pos.card_port }
    }
}

/// ISO 8601 calendar time of `at` (UTC), e.g. `2026-01-01T00:00:00+00:00`.
pub(crate) fn iso8601(sim: &Simulation, at: Instant) -> String {
    calendar_text(sim, at, 'T', "+00:00")
}

/// Task time format, e.g. `2026-01-01 00:00:00 UTC`.
pub(crate) fn task_time(sim: &Simulation, at: Instant) -> String {
    calendar_text(sim, at, ' ', " UTC")
}

/// `YYYY-MM-DD<separator>HH:MM:SS<suffix>`, written field by field: every volume and task in a
/// listing carries such times, and a format-string interpreter costs several times more.
fn calendar_text(sim: &Simulation, at: Instant, separator: char, suffix: &str) -> String {
    use std::fmt::Write as _;
    let t = sim.calendar(at);
    let mut text = String::with_capacity(25);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}{suffix}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    text
}

/// Unix seconds of `at`.
pub(crate) fn unix_secs(sim: &Simulation, at: Instant) -> i64 {
    sim.unix_secs(at)
}
