//! Array pairs and their links: latency, bandwidth, up/down per direction, heartbeats.
//!
//! Each array pair joined by targets has a list of links (RCIP by default, two: one per node).
//! A direction of the pair is usable when some link carries traffic that way and both arrays are
//! up; the pair is usable when both directions are (heartbeats need a round trip).
//!
//! Detection follows the spec's timeouts on the virtual clock (§1.4, invariant 13): when the pair
//! breaks, both arrays declare the links down exactly one heartbeat timeout later (15 s when a
//! synchronous group uses the pair, 25 s otherwise) and the target failed one target timeout
//! after that (15 s / 200 s). Replication stops at the link declaration. When the pair is usable
//! again the next heartbeat (1 s) declares the links up; groups with `auto_recover` restart.
//! Every change of usability bumps the pair's epoch: events carry the epoch they were scheduled
//! under and are ignored when it moved on.

use std::time::Duration;

use crate::fault::{Direction, Fault};
use crate::ids::ArrayId;
use crate::port::PortPos;
use crate::prng::Prng;
use crate::remote_copy::{
    GroupRef, GroupState, Mode, RcEvent, StopReason, SyncStatus, TargetState, sync_cycle, sync_write, transfer,
};
use crate::simulation::Simulation;

/// Heartbeat timeout for pairs serving synchronous groups.
pub const HEARTBEAT_TIMEOUT_SYNC: Duration = Duration::from_secs(15);
/// Heartbeat timeout for pairs serving only periodic groups.
pub const HEARTBEAT_TIMEOUT_PERIODIC: Duration = Duration::from_secs(25);
/// Target timeout after the links were declared down, synchronous.
pub const TARGET_TIMEOUT_SYNC: Duration = Duration::from_secs(15);
/// Target timeout after the links were declared down, periodic.
pub const TARGET_TIMEOUT_PERIODIC: Duration = Duration::from_secs(200);
/// Interval between heartbeats: a repaired pair is declared up this long after repair.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Properties of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    /// One-way base latency.
    pub latency: Duration,
    /// Chance, per thousand messages, of a latency tail.
    pub tail_per_mille: u32,
    /// A tail adds up to this many times the base latency (uniformly drawn from the seeded PRNG).
    pub tail_max_factor: u32,
    /// Bandwidth in each direction.
    pub bandwidth_bytes_per_sec: u64,
}

impl Default for LinkSpec {
    /// 1 ms one-way, 1 % of messages up to 4 ms slower, 1 Gbit/s.
    fn default() -> Self {
        LinkSpec {
            latency: Duration::from_millis(1),
            tail_per_mille: 10,
            tail_max_factor: 4,
            bandwidth_bytes_per_sec: 125_000_000,
        }
    }
}

/// One link between the two arrays of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Name (`<first array>-<second array>-<n>`).
    pub name: String,
    /// Port on the pair's first array.
    pub a_port: PortPos,
    /// Port on the pair's second array.
    pub b_port: PortPos,
    /// Carries traffic from the first array to the second.
    pub up_ab: bool,
    /// Carries traffic from the second array to the first.
    pub up_ba: bool,
    /// Latency and bandwidth.
    pub spec: LinkSpec,
}

/// Two arrays joined by Remote Copy links, with what they have declared about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcPair {
    /// First array.
    pub a: ArrayId,
    /// Second array.
    pub b: ArrayId,
    /// Links.
    pub links: Vec<Link>,
    /// Whether the arrays currently consider the links up (heartbeats answered).
    pub declared_up: bool,
    /// Whether the targets are declared failed.
    pub target_failed: bool,
    /// Whether the pair carries traffic both ways right now (physical truth).
    pub usable: bool,
    /// When the pair last stopped being usable.
    pub broken_since: Option<crate::Instant>,
    pub(crate) epoch: u64,
}

impl RcPair {
    /// Whether this pair joins `x` and `y` (in either order).
    pub fn joins(&self, x: ArrayId, y: ArrayId) -> bool {
        (self.a == x && self.b == y) || (self.a == y && self.b == x)
    }

    /// The other array of the pair.
    pub fn other(&self, x: ArrayId) -> ArrayId {
        if self.a == x { self.b } else { self.a }
    }

    fn link_up(&self, link: &Link, from: ArrayId) -> bool {
        if from == self.a { link.up_ab } else { link.up_ba }
    }

    /// Whether some link carries traffic from `from` to the other array (array states aside).
    pub fn direction_up(&self, from: ArrayId) -> bool {
        self.links.iter().any(|l| self.link_up(l, from))
    }

    /// Bandwidth from `from` to the other array: the sum over links up that way.
    pub fn bandwidth(&self, from: ArrayId) -> u64 {
        self.links.iter().filter(|l| self.link_up(l, from)).map(|l| l.spec.bandwidth_bytes_per_sec).sum()
    }

    /// One message's latency from `from`: the fastest link up that way, plus a seeded tail.
    pub(crate) fn latency(&self, from: ArrayId, prng: &mut Prng) -> Duration {
        let Some(link) = self.links.iter().filter(|l| self.link_up(l, from)).min_by_key(|l| l.spec.latency) else {
            return Duration::ZERO;
        };
        let spec = &link.spec;
        let tail = if spec.tail_per_mille > 0 && prng.chance(spec.tail_per_mille.min(1000), 1000) {
            let max = spec.latency.as_nanos() as u64 * u64::from(spec.tail_max_factor);
            Duration::from_nanos(prng.int_inclusive(max))
        } else {
            Duration::ZERO
        };
        spec.latency + tail
    }
}

impl Simulation {
    pub(crate) fn pair_index(&self, x: ArrayId, y: ArrayId) -> Option<usize> {
        self.rc.pairs.iter().position(|p| p.joins(x, y))
    }

    /// Whether messages from `from` reach `to` now.
    pub(crate) fn path_up(&self, from: ArrayId, to: ArrayId) -> bool {
        self.array(from).is_online()
            && self.array(to).is_online()
            && self.rc_pair(from, to).is_some_and(|p| p.direction_up(from))
    }

    /// Draws one message latency from `from` to `to`.
    pub(crate) fn message_latency(&mut self, from: ArrayId, to: ArrayId) -> Duration {
        let Some(index) = self.pair_index(from, to) else { return Duration::ZERO };
        let pair = &self.rc.pairs[index];
        pair.latency(from, &mut self.world.prng)
    }

    fn uses_sync_groups(&self, pair: usize) -> bool {
        let (a, b) = (self.rc.pairs[pair].a, self.rc.pairs[pair].b);
        [a, b].iter().any(|x| {
            let peer = if *x == a { b } else { a };
            self.array(*x).remote_copy.groups().any(|g| g.peer == peer && g.mode == Mode::Synchronous)
        })
    }
}

/// Re-evaluates whether pair `index` is usable and reacts to a change.
pub(crate) fn refresh_pair(sim: &mut Simulation, index: usize) {
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    let usable = sim.path_up(a, b) && sim.path_up(b, a);
    let now = sim.now();
    let pair = &mut sim.rc.pairs[index];
    if pair.usable == usable {
        return;
    }
    pair.usable = usable;
    pair.epoch += 1;
    let epoch = pair.epoch;
    let names = (sim.array(a).name().to_owned(), sim.array(b).name().to_owned());
    if usable {
        sim.rc.pairs[index].broken_since = None;
        sim.record("link", format!("{}<->{} usable again", names.0, names.1));
        if sim.rc.pairs[index].declared_up {
            // Repaired before anyone noticed: traffic resumes where it stopped.
            sync_write::resume_pair(sim, index);
            transfer::resume_pair(sim, index);
        } else {
            sim.schedule(
                now + HEARTBEAT_INTERVAL,
                crate::event::Event::RemoteCopy(RcEvent::HeartbeatRestored { pair: index, epoch }),
            );
        }
    } else {
        sim.rc.pairs[index].broken_since = Some(now);
        let timeout = if sim.uses_sync_groups(index) { HEARTBEAT_TIMEOUT_SYNC } else { HEARTBEAT_TIMEOUT_PERIODIC };
        sim.record("link", format!("{}<->{} broken; heartbeat timeout in {timeout:?}", names.0, names.1));
        if sim.rc.pairs[index].declared_up {
            sim.schedule(
                now + timeout,
                crate::event::Event::RemoteCopy(RcEvent::HeartbeatTimeout { pair: index, epoch }),
            );
        }
    }
}

/// The heartbeat timeout expired: if the pair is still broken, declare its links down.
pub(crate) fn heartbeat_timeout(sim: &mut Simulation, index: usize, epoch: u64) {
    if sim.rc.pairs[index].epoch != epoch || sim.rc.pairs[index].usable || !sim.rc.pairs[index].declared_up {
        return;
    }
    sim.rc.pairs[index].declared_up = false;
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    let names = (sim.array(a).name().to_owned(), sim.array(b).name().to_owned());
    sim.record("link", format!("{}<->{} links declared down", names.0, names.1));
    let timeout = if sim.uses_sync_groups(index) { TARGET_TIMEOUT_SYNC } else { TARGET_TIMEOUT_PERIODIC };
    let now = sim.now();
    sim.schedule(now + timeout, crate::event::Event::RemoteCopy(RcEvent::TargetTimeout { pair: index, epoch }));
    links_declared_down(sim, index);
}

/// What replication does when the links of pair `index` are declared down: in-flight synchronous
/// writes resolve per policy, transfers fail, started groups on both arrays stop.
fn links_declared_down(sim: &mut Simulation, index: usize) {
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    sync_write::resolve_pair_down(sim, index);
    transfer::fail_pair(sim, index);
    for (x, peer) in [(a, b), (b, a)] {
        let groups: Vec<_> = sim
            .array(x)
            .remote_copy
            .groups()
            .filter(|g| g.peer == peer && g.state == GroupState::Started)
            .map(|g| {
                (GroupRef { array: x, group: g.id }, g.mode == Mode::Synchronous && g.policies.fail_write_on_error)
            })
            .collect();
        for (group, fail_writes) in groups {
            if fail_writes {
                // `fail_wrt_on_err`: replication does not stop; writes fail until the links return,
                // and volumes with writes in doubt are no longer in sync.
                for entry in &mut sim.group_mut(group).volumes {
                    if !entry.pending_ranges.is_empty() && entry.status == SyncStatus::Synced {
                        entry.status = SyncStatus::NotSynced;
                    }
                }
            } else {
                sync_cycle::stop_side(sim, group, StopReason::LinkFailure, false);
            }
        }
    }
}

/// The target timeout expired: mark the targets failed on both arrays.
pub(crate) fn target_timeout(sim: &mut Simulation, index: usize, epoch: u64) {
    if sim.rc.pairs[index].epoch != epoch || sim.rc.pairs[index].declared_up {
        return;
    }
    sim.rc.pairs[index].target_failed = true;
    set_target_state(sim, index, TargetState::Failed);
}

fn set_target_state(sim: &mut Simulation, index: usize, state: TargetState) {
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    for (x, peer) in [(a, b), (b, a)] {
        let targets = &mut sim.arrays[x.0 as usize].remote_copy.targets;
        for target in targets.values_mut().filter(|t| t.peer == peer) {
            target.state = state;
        }
    }
    let names = (sim.array(a).name().to_owned(), sim.array(b).name().to_owned());
    sim.record("link", format!("{}<->{} targets {state:?}", names.0, names.1));
}

/// Heartbeats succeed again: declare the links up and restart `auto_recover` groups.
pub(crate) fn heartbeat_restored(sim: &mut Simulation, index: usize, epoch: u64) {
    if sim.rc.pairs[index].epoch != epoch || !sim.rc.pairs[index].usable || sim.rc.pairs[index].declared_up {
        return;
    }
    sim.rc.pairs[index].declared_up = true;
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    let names = (sim.array(a).name().to_owned(), sim.array(b).name().to_owned());
    sim.record("link", format!("{}<->{} links declared up", names.0, names.1));
    if sim.rc.pairs[index].target_failed {
        sim.rc.pairs[index].target_failed = false;
    }
    set_target_state(sim, index, TargetState::Ready);
    auto_recover_pair(sim, index);
}

/// Restarts the groups of pair `index` that `auto_recover` covers: stopped by a link failure or
/// an array restart, never by an operator.
fn auto_recover_pair(sim: &mut Simulation, index: usize) {
    let (a, b) = (sim.rc.pairs[index].a, sim.rc.pairs[index].b);
    for (x, peer) in [(a, b), (b, a)] {
        let groups: Vec<_> = sim
            .array(x)
            .remote_copy
            .groups()
            .filter(|g| {
                g.peer == peer
                    && g.state == GroupState::Stopped
                    && g.role.is_source()
                    && g.policies.auto_recover
                    && matches!(g.stop_reason, Some(StopReason::LinkFailure | StopReason::ArrayRestart))
            })
            .map(|g| GroupRef { array: x, group: g.id })
            .collect();
        for group in groups {
            let name = sim.group(group).name.clone();
            match sim.remote_copy().start_group_ref(group, &Default::default()) {
                Ok(()) => sim.record("rcopy", format!("auto_recover restarted group {name}")),
                Err(error) => sim.record("rcopy", format!("auto_recover could not restart {name}: {error}")),
            }
        }
        // Groups that kept running (`fail_wrt_on_err`) resync the ranges left in doubt.
        let running: Vec<_> = sim
            .array(x)
            .remote_copy
            .groups()
            .filter(|g| {
                g.peer == peer
                    && g.state == GroupState::Started
                    && g.role.is_source()
                    && !g.is_syncing()
                    && g.volumes.iter().any(|v| v.status != SyncStatus::Synced || !v.pending_ranges.is_empty())
            })
            .map(|g| GroupRef { array: x, group: g.id })
            .collect();
        for group in running {
            sync_cycle::sync_now(sim, group, false);
        }
    }
}

/// Applies a link fault (down, up, latency change) to the pair of the two arrays.
pub(crate) fn apply_link_fault(sim: &mut Simulation, fault: Fault) {
    let (from, to, direction) = match &fault {
        Fault::LinkDown { from, to, direction } | Fault::LinkUp { from, to, direction } => (*from, *to, *direction),
        Fault::LatencyChange { from, to, direction, .. } => (*from, *to, *direction),
        Fault::BandwidthChange { from, to, .. } => (*from, *to, Direction::Both),
        Fault::ArrayCrash(_) | Fault::ArrayRestart(_) => unreachable!("array faults are handled by the simulation"),
    };
    let Some(index) = sim.pair_index(from, to) else {
        sim.record("fault", format!("no links between arrays {from} and {to}: fault ignored"));
        return;
    };
    let pair = &mut sim.rc.pairs[index];
    // Map the fault's direction (from→to) onto the pair's (a→b).
    let forward_is_ab = pair.a == from;
    let (ab, ba) = match direction {
        Direction::Forward => (forward_is_ab, !forward_is_ab),
        Direction::Backward => (!forward_is_ab, forward_is_ab),
        Direction::Both => (true, true),
    };
    for link in &mut pair.links {
        match &fault {
            Fault::LinkDown { .. } => {
                link.up_ab &= !ab;
                link.up_ba &= !ba;
            }
            Fault::LinkUp { .. } => {
                link.up_ab |= ab;
                link.up_ba |= ba;
            }
            Fault::LatencyChange { latency, .. } => link.spec.latency = *latency,
            Fault::BandwidthChange { bandwidth_bytes_per_sec, .. } => {
                link.spec.bandwidth_bytes_per_sec = (*bandwidth_bytes_per_sec).max(1)
            }
            Fault::ArrayCrash(_) | Fault::ArrayRestart(_) => {}
        }
    }
    refresh_pair(sim, index);
}

/// An array crashed: its pairs break; synchronous writes it was serving fail at once.
pub(crate) fn on_array_crash(sim: &mut Simulation, array: ArrayId) {
    sync_write::fail_writes_of_array(sim, array);
    for index in 0..sim.rc.pairs.len() {
        if sim.rc.pairs[index].a == array || sim.rc.pairs[index].b == array {
            refresh_pair(sim, index);
        }
    }
}

/// An array restarted: its started groups stop (replication state was lost with the crash),
/// transfers involving it fail, and its pairs become usable again.
pub(crate) fn on_array_restart(sim: &mut Simulation, array: ArrayId) {
    transfer::fail_array(sim, array);
    let stopped: Vec<_> = sim.array(array).remote_copy.groups().map(|g| GroupRef { array, group: g.id }).collect();
    for group in stopped {
        sync_cycle::snapshot_missed_stop_points(sim, group);
    }
    let groups: Vec<_> = sim
        .array(array)
        .remote_copy
        .groups()
        .filter(|g| g.state == GroupState::Started)
        .map(|g| GroupRef { array, group: g.id })
        .collect();
    for group in groups {
        sync_cycle::stop_side(sim, group, StopReason::ArrayRestart, false);
        // The peer's view follows once it hears from the restarted array.
        if let Some(partner) = sim.partner_of(group)
            && sim.group(partner).state == GroupState::Started
        {
            sync_cycle::stop_side(sim, partner, StopReason::ArrayRestart, false);
        }
    }
    for index in 0..sim.rc.pairs.len() {
        if sim.rc.pairs[index].a == array || sim.rc.pairs[index].b == array {
            refresh_pair(sim, index);
            // Back before the heartbeat timeout: no link declaration will follow, so recover now.
            if sim.rc.pairs[index].declared_up && sim.rc.pairs[index].usable {
                auto_recover_pair(sim, index);
            }
        }
    }
}
