//! Property test of Remote Copy as a state machine.
//!
//! Goal: random sequences of host writes, manual and periodic syncs, link flaps scheduled inside
//! operations, array crashes and restarts, stops and starts, and failover / recover / restore
//! never break an invariant of spec §7.2–7.4 and §7.9.
//! Method: proptest-state-machine generates the operations; the system under test is a
//! two-array simulation plus an oracle that knows what hosts wrote and which writes were
//! acknowledged. After every operation it checks `simulator::invariants::check_all` (state
//! invariants) and the history invariants only the oracle can judge:
//! - RPO 0: an acknowledged synchronous write of a started, synced group is on the destination;
//! - every byte a host wrote and saw acknowledged on the source is still there (writes whose
//!   outcome was cut by a fault are indeterminate: either content is accepted);
//! - a completed periodic sync carries exactly the source's content at the sync's start;
//! - failover exposes the last consistent image; after recover or restore both sides are
//!   identical and hold every write acknowledged on the side that was active.
//!
//! A refused management operation must leave the digest unchanged.
//! A second test runs the same machine for a fixed number of cases from a fixed seed and checks
//! that the snapshot-space limits some cases set really refuse writes and make copies stale.
//! Replay: proptest prints the minimal failing sequence and saves its seed under
//! `tests/remote_copy/model.regressions` (committed, replayed first on every run).
//! Longer runs: `PROPTEST_CASES=1000`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use simulator::{
    ArrayId, CpgSpec, Direction, DrOptions, ErrorCode, Fault, GroupPolicies, GroupState, Instant, Mode, PAGE_SIZE,
    Role, Simulation, StartOptions, StopOptions, SyncOptions, SyncStatus, VolumeChanges, VolumeId, VolumePolicies,
    VolumeSpec, invariants,
};

use super::support::{self, GROUP, VOLUMES, World};

/// Hosts write within the first 64 pages of each volume, which the oracle mirrors byte for byte.
const REF_PAGES: usize = 64;
const REF_BYTES: usize = REF_PAGES * PAGE_SIZE;

/// What the snapshot-space limits of [`limit_snapshot_space`] made host writes meet, tallied by
/// [`Sut::apply`] on the test's thread (read by
/// `limited_setups_refuse_writes_and_make_copies_stale`).
#[derive(Debug, Default, Clone, Copy)]
struct SpaceTally {
    /// Writes refused with `NO_SPACE` (`no_stale_ss`).
    no_space: u64,
    /// Writes after which a copy on the written array was stale that was not before (`stale_ss`).
    made_stale: u64,
}

thread_local! {
    static SPACE_TALLY: Cell<SpaceTally> = Cell::new(SpaceTally::default());
}

fn tally(count: impl FnOnce(&mut SpaceTally)) {
    SPACE_TALLY.with(|cell| {
        let mut tally = cell.get();
        count(&mut tally);
        cell.set(tally);
    });
}

/// The ids of the stale copies on `array`.
fn stale_copies(sim: &Simulation, array: ArrayId) -> BTreeSet<VolumeId> {
    sim.array(array).volumes().filter(|v| v.is_stale()).map(|v| v.id).collect()
}

/// The case's fixed setup.
#[derive(Debug, Clone)]
pub struct Setup {
    seed: u64,
    mode: Mode,
    policies: GroupPolicies,
    period: Option<Duration>,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    /// A host write on whichever array currently accepts it (tries the source view first).
    Write {
        volume: usize,
        offset: u32,
        len: u16,
        tag: u8,
    },
    /// A manual sync.
    Sync,
    /// Let virtual time pass.
    Advance {
        millis: u32,
    },
    /// Links fail `delay_us` from now (possibly inside the next operation), one or both ways.
    LinkDown {
        delay_us: u32,
        direction: u8,
    },
    /// Links come back `delay_ms` from now.
    LinkUp {
        delay_ms: u32,
    },
    /// An array crashes `delay_us` from now.
    Crash {
        array: u8,
        delay_us: u32,
    },
    /// A crashed array restarts.
    Restart {
        array: u8,
    },
    /// Operator stop and start.
    Stop,
    Start,
    /// Disaster recovery, issued on the destination / Primary-Rev side.
    Failover,
    Recover,
    Restore,
}

pub struct RcMachine;

impl ReferenceStateMachine for RcMachine {
    type State = Setup;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Setup> {
        (any::<u64>(), prop::bool::ANY, prop::bool::ANY, prop::bool::ANY, prop::bool::ANY)
            .prop_map(|(seed, periodic, auto_recover, fail_writes, with_period)| {
                let mode = if periodic { Mode::Periodic } else { Mode::Synchronous };
                let policies = GroupPolicies {
                    auto_recover,
                    fail_write_on_error: fail_writes && !periodic,
                    ..GroupPolicies::default()
                };
                let period = (periodic && with_period).then(|| Duration::from_secs(300));
                Setup { seed, mode, policies, period }
            })
            .boxed()
    }

    fn transitions(_: &Setup) -> BoxedStrategy<Op> {
        prop_oneof![
            8 => (0..VOLUMES.len(), 0..(REF_BYTES as u32 - 1), 1u16..20_000, any::<u8>())
                .prop_map(|(volume, offset, len, tag)| Op::Write { volume, offset, len, tag }),
            2 => Just(Op::Sync),
            3 => (0u32..90_000).prop_map(|millis| Op::Advance { millis }),
            1 => (0u32..20_000, 0u8..3).prop_map(|(delay_us, direction)| Op::LinkDown { delay_us, direction }),
            1 => (0u32..60_000).prop_map(|delay_ms| Op::LinkUp { delay_ms }),
            1 => (0u8..2, 0u32..5_000).prop_map(|(array, delay_us)| Op::Crash { array, delay_us }),
            1 => (0u8..2).prop_map(|array| Op::Restart { array }),
            1 => Just(Op::Stop),
            2 => Just(Op::Start),
            1 => Just(Op::Failover),
            1 => Just(Op::Recover),
            1 => Just(Op::Restore),
        ]
        .boxed()
    }

    fn apply(state: Setup, _: &Op) -> Setup {
        state
    }
}

/// What the oracle expects one array's volume to read in its first [`REF_BYTES`].
#[derive(Debug, Clone)]
struct Expected {
    bytes: Vec<u8>,
    /// Bytes whose content is indeterminate (a write cut by a fault may or may not have landed).
    unknown: Vec<bool>,
}

impl Expected {
    fn zeros() -> Expected {
        Expected { bytes: vec![0; REF_BYTES], unknown: vec![false; REF_BYTES] }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        self.bytes[offset..offset + data.len()].copy_from_slice(data);
        self.unknown[offset..offset + data.len()].fill(false);
    }

    fn forget(&mut self, offset: usize, len: usize) {
        self.unknown[offset..offset + len].fill(true);
    }

    /// The first byte where `actual` contradicts the expectation.
    fn mismatch(&self, actual: &[u8]) -> Option<usize> {
        (0..REF_BYTES).find(|i| !self.unknown[*i] && self.bytes[*i] != actual[*i])
    }
}

pub struct Sut {
    w: World,
    /// Expected content of each volume on the array that is the source now, by volume index.
    source: Vec<Expected>,
    source_array: ArrayId,
    /// Expected content of each volume at the last completed periodic sync point.
    committed: Vec<Expected>,
    /// Content at the start of the periodic sync that is running (start instant, content).
    pending: Option<(Instant, Vec<Expected>)>,
    /// Expected content captured at the last point the destination held a consistent image in
    /// synchronous mode (the oracle's mirror of what replication guarantees).
    mirror: Vec<Expected>,
    completed_seen: u64,
    log: Vec<String>,
}

fn read_prefix(sim: &Simulation, array: ArrayId, volume: &str) -> Vec<u8> {
    let v = sim.array(array).volume(volume).expect("volumes are never deleted in this test");
    let mut buf = vec![0u8; REF_BYTES];
    v.read_into(0, &mut buf).expect("in range");
    buf
}

impl Sut {
    fn group_view(&self, array: ArrayId) -> (Role, GroupState) {
        let name = if array == self.w.a { GROUP.to_owned() } else { self.w.partner() };
        let g = self.w.sim.array(array).remote_copy().group(&name).expect("groups are never removed in this test");
        (g.role, g.state)
    }

    fn group_name(&self, array: ArrayId) -> String {
        if array == self.w.a { GROUP.to_owned() } else { self.w.partner() }
    }

    fn other(&self, array: ArrayId) -> ArrayId {
        if array == self.w.a { self.w.b } else { self.w.a }
    }

    fn fail(&self, what: String) -> ! {
        panic!("{what}\nsteps:\n  {}\ntrace tail:\n{}", self.log.join("\n  "), self.trace_tail());
    }

    fn trace_tail(&self) -> String {
        let lines: Vec<String> = self.w.sim.trace().lines().map(|l| l.to_string()).collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Whether the group replicates source -> destination with both views agreeing.
    fn agreed(&self) -> bool {
        let (sr, _) = self.group_view(self.source_array);
        let (dr, _) = self.group_view(self.other(self.source_array));
        sr.is_source() && !dr.is_source()
    }

    fn idle(&self) -> bool {
        self.w.sim.rc_running_transfers().next().is_none()
    }

    fn statuses(&self, array: ArrayId) -> Vec<SyncStatus> {
        self.w.statuses(array, &self.group_name(array))
    }
}

/// Two cases in three put the primary's volumes under a snapshot-space limit of 1 to 8 pages
/// for both trees (their snapshot CPG's 1 MiB growth limit, mostly used by a thin volume of its
/// own), and fill the oracle's pages before the group starts, so the first sync's resync
/// snapshot shares every page and a host write needs snapshot space until the next sync (spec
/// 7.1/8): with `stale_ss` the writes go through and the internal snapshots go stale (a stale
/// resync snapshot is no reference: the next sync sends everything); with `no_stale_ss` such
/// writes are refused and change nothing. Drawn from the seed, so the operations a seed
/// generates stay the same. Returns what the oracle's pages of each volume hold.
/// `limited_setups_refuse_writes_and_make_copies_stale` checks that both outcomes happen.
fn limit_snapshot_space(w: &mut World, seed: u64) -> Vec<Expected> {
    let stale_ss = match seed % 3 {
        0 => return vec![Expected::zeros(); VOLUMES.len()],
        1 => true,
        _ => false,
    };
    let cpg = CpgSpec { name: "SNAP".into(), growth_limit_mib: Some(1), ..CpgSpec::default() };
    w.sim.array_mut(w.a).create_cpg(cpg).unwrap();
    w.sim.array_mut(w.a).create_volume(VolumeSpec::thin("filler", "SNAP", 256)).unwrap();
    let filler = 56 + (seed / 3 % 8) as usize;
    w.sim.write(w.a, "filler", 0, &vec![0xf1; filler * PAGE_SIZE]).unwrap();
    let mut expected = Vec::new();
    for (i, name) in VOLUMES.into_iter().enumerate() {
        let changes = VolumeChanges {
            snap_cpg: Some("SNAP".into()),
            policies: Some(VolumePolicies { stale_ss, ..VolumePolicies::default() }),
            ..VolumeChanges::default()
        };
        w.sim.array_mut(w.a).modify_volume(name, changes).unwrap();
        let mut filled = Expected::zeros();
        filled.write(0, &support::pattern(0xa0 + i as u8, REF_BYTES));
        w.sim.write(w.a, name, 0, &filled.bytes).unwrap();
        expected.push(filled);
    }
    expected
}

fn management(sut: &mut Sut, name: &str, operation: impl FnOnce(&mut Simulation) -> simulator::Result<()>) -> bool {
    let before = sut.w.sim.digest();
    match operation(&mut sut.w.sim) {
        Ok(()) => {
            sut.log.push(format!("{name}: ok"));
            true
        }
        Err(error) => {
            sut.log.push(format!("{name}: refused {}", error.code));
            if sut.w.sim.digest() != before {
                sut.fail(format!("refused {name} ({error}) changed the state"));
            }
            false
        }
    }
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = RcMachine;

    fn init_test(setup: &Setup) -> Sut {
        let mut w = World::new(setup.seed, setup.mode, setup.policies, setup.period);
        let initial = limit_snapshot_space(&mut w, setup.seed);
        w.start();
        w.settle(Duration::from_secs(60));
        let a = w.a;
        Sut {
            w,
            source: initial.clone(),
            source_array: a,
            committed: initial.clone(),
            pending: None,
            mirror: initial,
            completed_seen: 1,
            log: vec![format!("setup {setup:?}")],
        }
    }

    fn apply(mut sut: Sut, setup: &Setup, op: Op) -> Sut {
        let now = sut.w.now();
        let (a, b) = (sut.w.a, sut.w.b);
        let array_of = |i: u8| if i == 0 { a } else { b };
        match op {
            Op::Write { volume, offset, len, tag } => {
                let offset = offset as usize;
                let len = (len as usize).min(REF_BYTES - offset);
                let data: Vec<u8> = (0..len).map(|i| tag.wrapping_add((i * 7) as u8)).collect();
                let target = sut.source_array;
                let name = VOLUMES[volume];
                let before = sut.w.sim.digest();
                let stale_before = stale_copies(&sut.w.sim, target);
                let replicating = {
                    let (role, state) = sut.group_view(target);
                    setup.mode == Mode::Synchronous && role.is_source() && state == GroupState::Started
                };
                let outcome = sut.w.sim.write(target, name, offset as u64, &data);
                if !stale_copies(&sut.w.sim, target).is_subset(&stale_before) {
                    tally(|t| t.made_stale += 1);
                }
                match outcome {
                    Ok(_) => {
                        sut.log.push(format!("write {name}@{offset}+{len} on {target}: acked"));
                        sut.source[volume].write(offset, &data);
                        let (role, state) = sut.group_view(target);
                        let synced = sut.statuses(target).iter().all(|s| *s == SyncStatus::Synced);
                        if setup.mode == Mode::Synchronous
                            && role.is_source()
                            && state == GroupState::Started
                            && synced
                            && sut.agreed()
                        {
                            // RPO 0: the acknowledged write is on the destination now.
                            let dest = sut.other(target);
                            let got = sut.w.sim.read(dest, name, offset as u64, len).unwrap_or_default();
                            if got != data {
                                sut.fail(format!(
                                    "RPO 0 broken: acknowledged write on {name}@{offset} missing on the destination"
                                ));
                            }
                            sut.mirror[volume].write(offset, &data);
                        } else if replicating {
                            // Acknowledged at a link declaration: on the destination or not.
                            sut.mirror[volume].forget(offset, len);
                        }
                    }
                    Err(error) => {
                        let refused = sut.w.sim.digest() == before;
                        sut.log.push(format!(
                            "write {name}@{offset}+{len} on {target}: {} ({})",
                            error.code,
                            if refused { "refused" } else { "indeterminate" }
                        ));
                        // Both are refused before anything changes: a secondary's host write,
                        // and a write past the snapshot space under `no_stale_ss` (7.1/8).
                        if matches!(error.code, ErrorCode::RCOPY_VOLUME_IS_SECONDARY | ErrorCode::NO_SPACE) && !refused
                        {
                            sut.fail("a refused write changed the state".into());
                        }
                        if error.code == ErrorCode::NO_SPACE {
                            tally(|t| t.no_space += 1);
                        }
                        if !refused {
                            sut.source[volume].forget(offset, len);
                            sut.mirror[volume].forget(offset, len);
                        }
                    }
                }
            }
            Op::Sync => {
                let source = sut.source_array;
                let group = sut.group_name(source);
                management(&mut sut, "sync", |sim| {
                    sim.remote_copy().sync_group(source, &group, &SyncOptions::default())
                });
            }
            Op::Advance { millis } => {
                sut.log.push(format!("advance {millis} ms"));
                sut.w.sim.advance(Duration::from_millis(u64::from(millis)));
            }
            Op::LinkDown { delay_us, direction } => {
                let direction = [Direction::Forward, Direction::Backward, Direction::Both][direction as usize];
                sut.log.push(format!("link down {direction:?} at +{delay_us} us"));
                sut.w.sim.schedule_fault(
                    now + Duration::from_micros(u64::from(delay_us)),
                    Fault::LinkDown { from: a, to: b, direction },
                );
            }
            Op::LinkUp { delay_ms } => {
                sut.log.push(format!("link up at +{delay_ms} ms"));
                sut.w.sim.schedule_fault(
                    now + Duration::from_millis(u64::from(delay_ms)),
                    Fault::LinkUp { from: a, to: b, direction: Direction::Both },
                );
            }
            Op::Crash { array, delay_us } => {
                sut.log.push(format!("crash {array} at +{delay_us} us"));
                sut.w.sim.schedule_fault(
                    now + Duration::from_micros(u64::from(delay_us)),
                    Fault::ArrayCrash(array_of(array)),
                );
            }
            Op::Restart { array } => {
                sut.log.push(format!("restart {array}"));
                sut.w.sim.restart_array(array_of(array));
            }
            Op::Stop => {
                let source = sut.source_array;
                let group = sut.group_name(source);
                management(&mut sut, "stop", |sim| {
                    sim.remote_copy().stop_group(source, &group, &StopOptions::default())
                });
            }
            Op::Start => {
                let source = sut.source_array;
                let group = sut.group_name(source);
                management(&mut sut, "start", |sim| {
                    sim.remote_copy().start_group(source, &group, &StartOptions::default())
                });
            }
            Op::Failover => {
                let dest = sut.other(sut.source_array);
                let group = sut.group_name(dest);
                let expected_image = match setup.mode {
                    Mode::Periodic => sut.committed.clone(),
                    Mode::Synchronous => sut.mirror.clone(),
                };
                let consistent = sut
                    .w
                    .sim
                    .array(dest)
                    .remote_copy()
                    .group(&group)
                    .map(|g| g.volumes.iter().all(|v| v.sync_point.is_some()))
                    .unwrap_or(false);
                if management(&mut sut, "failover", |sim| {
                    sim.remote_copy().failover(dest, &group, DrOptions::default())
                }) {
                    // §7.9/43: the new source holds the last consistent image.
                    if consistent {
                        for (i, name) in VOLUMES.iter().enumerate() {
                            let actual = read_prefix(&sut.w.sim, dest, name);
                            if let Some(at) = expected_image[i].mismatch(&actual) {
                                sut.fail(format!("failover exposed a wrong image of {name} at byte {at}"));
                            }
                        }
                        sut.source = expected_image;
                    } else {
                        sut.source = VOLUMES
                            .iter()
                            .map(|name| Expected {
                                bytes: read_prefix(&sut.w.sim, dest, name),
                                unknown: vec![false; REF_BYTES],
                            })
                            .collect();
                    }
                    sut.source_array = dest;
                    sut.mirror = sut.source.clone();
                    sut.committed = sut.source.clone();
                    sut.pending = None;
                }
            }
            Op::Recover => {
                let source = sut.source_array;
                let group = sut.group_name(source);
                management(&mut sut, "recover", |sim| sim.remote_copy().recover(source, &group, DrOptions::default()));
            }
            Op::Restore => {
                let source = sut.source_array;
                let group = sut.group_name(source);
                management(&mut sut, "restore", |sim| sim.remote_copy().restore(source, &group, DrOptions::default()));
            }
        }
        sut.observe(setup);
        sut
    }

    fn check_invariants(sut: &Sut, setup: &Setup) {
        let violations = invariants::check_all(&sut.w.sim);
        if !violations.is_empty() {
            let text: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            sut.fail(format!("invariants broken:\n  {}", text.join("\n  ")));
        }
        // The source side holds every acknowledged write.
        if sut.w.sim.array(sut.source_array).is_online() {
            for (i, name) in VOLUMES.iter().enumerate() {
                let actual = read_prefix(&sut.w.sim, sut.source_array, name);
                if let Some(at) = sut.source[i].mismatch(&actual) {
                    sut.fail(format!("{name} on the source lost an acknowledged byte at {at}"));
                }
            }
        }
        // An idle, agreed group's destination holds the image replication promises.
        let dest = sut.other(sut.source_array);
        if sut.agreed() && sut.idle() && sut.w.sim.array(dest).is_online() {
            let statuses = sut.statuses(dest);
            let expected = match setup.mode {
                Mode::Periodic
                    if statuses
                        .iter()
                        .all(|s| matches!(s, SyncStatus::Synced | SyncStatus::Stale | SyncStatus::Stopped)) =>
                {
                    Some(&sut.committed)
                }
                Mode::Synchronous
                    if statuses.iter().all(|s| *s == SyncStatus::Synced)
                        && sut.group_view(dest).1 == GroupState::Started =>
                {
                    Some(&sut.source)
                }
                _ => None,
            };
            if let Some(expected) = expected {
                for (i, name) in VOLUMES.iter().enumerate() {
                    let actual = read_prefix(&sut.w.sim, dest, name);
                    if let Some(at) = expected[i].mismatch(&actual) {
                        sut.fail(format!(
                            "the destination's {name} differs from its sync point at byte {at} ({statuses:?})"
                        ));
                    }
                }
            }
        }
    }
}

impl Sut {
    /// Follows syncs and role changes that happened during the step.
    fn observe(&mut self, setup: &Setup) {
        let source = self.source_array;
        let name = self.group_name(source);
        let Ok(group) = self.w.sim.array(source).remote_copy().group(&name).cloned() else { return };
        // A periodic sync started during the step carries the source's content as of now
        // (hosts only write between steps).
        if group.mode == Mode::Periodic
            && let Some(started) = group.stats.last_sync_started
            && self.pending.as_ref().is_none_or(|(at, _)| *at != started)
            && group.is_syncing()
        {
            self.pending = Some((started, self.source.clone()));
        }
        if group.stats.syncs_completed > self.completed_seen {
            self.completed_seen = group.stats.syncs_completed;
            match group.mode {
                Mode::Periodic => {
                    // Completed within the step (started and ended) or completed a pending one.
                    let content = match &self.pending {
                        Some((at, content)) if Some(*at) == group.stats.last_sync_started => content.clone(),
                        _ => self.source.clone(),
                    };
                    if self.agreed() {
                        self.committed = content;
                    }
                    if !group.is_syncing() {
                        self.pending = None;
                    }
                }
                Mode::Synchronous => {
                    // A completed resync left the destination equal to the source (hosts only
                    // write between steps), even if a failure stopped the group later in the step.
                    self.mirror = self.source.clone();
                }
            }
        }
        // Roles may have swapped back during the step (restore completed): follow the source.
        let other = self.other(source);
        let (our_role, _) = self.group_view(source);
        let (their_role, _) = self.group_view(other);
        if !our_role.is_source() && their_role.is_source() {
            // A restore completed: it shipped the active side's content back, so both sides hold
            // it and it is the new sync point.
            self.log.push(format!("roles switched: source is now array {other}"));
            self.source_array = other;
            self.committed = self.source.clone();
            self.mirror = self.source.clone();
            self.pending = None;
            let _ = setup;
        }
        // After a recover or restore both sides are identical (§7.9/44) and hold every write
        // acknowledged on the side that was active (§7.9/45): checked by the source check and
        // this identity once idle and synced.
        let source = self.source_array;
        let dest = self.other(source);
        if self.agreed() && self.idle() && self.w.sim.array(dest).is_online() && self.w.sim.array(source).is_online() {
            let (_, state) = self.group_view(source);
            if state == GroupState::Started
                && self.statuses(source).iter().all(|s| *s == SyncStatus::Synced)
                && setup.mode == Mode::Synchronous
            {
                self.mirror = self.source.clone();
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

prop_state_machine! {
    #![proptest_config(Config { cases: cases(), max_shrink_iters: 2000, failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))), ..Config::default() })]
    #[test]
    fn remote_copy_state_machine(sequential 1..40 => Sut);
}

/// Cases of the fixed-seed run below: about 2 in 3 are limited, half of those per policy.
const TALLY_CASES: u32 = 64;

// Goal: the limited setups of `limit_snapshot_space` really reach their outcomes — host writes
// refused with NO_SPACE under `no_stale_ss`, copies made stale under `stale_ss` — so that the
// state machine above does not explore them in name only if the filler's sizing drifts.
// Method: the state machine's own strategy and test (every invariant after every step), run for
// a fixed number of cases from proptest's deterministic RNG, tallying what the writes met; each
// outcome must occur at least once. The tallies are printed for the record.
#[test]
fn limited_setups_refuse_writes_and_make_copies_stale() {
    let config = Config {
        cases: TALLY_CASES,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config.clone(), TestRng::deterministic_rng(config.rng_algorithm));
    SPACE_TALLY.with(|cell| cell.set(SpaceTally::default()));
    let result = runner.run(&RcMachine::sequential_strategy(1..40), |(setup, transitions, seen)| {
        Sut::test_sequential(config.clone(), setup, transitions, seen);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    let tally = SPACE_TALLY.with(Cell::get);
    eprintln!("{TALLY_CASES} cases: {tally:?}");
    assert!(tally.no_space > 0, "no write was refused with NO_SPACE: {tally:?}");
    assert!(tally.made_stale > 0, "no write made a copy stale: {tally:?}");
}
