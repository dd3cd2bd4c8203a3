//! Property test of the engine, state-machine style: random sequences of workload, backups in
//! every mode (with failures, crashes and delays at every named step, and crashes at repository
//! commit points), policy changes, mounts, restores, removals, the Task Manager, link faults and
//! array crashes scheduled on the timeline, and backup-server crashes with restarts. After every
//! operation both invariant sets must hold (`recovery::invariants`, `simulator::invariants`); a
//! restore that succeeds must give exactly the content committed at its backup; at the end, with
//! every array, link and server back, no intent may remain.
//!
//! Replay a failure: the seed and the minimal operation list are printed; the case is saved in
//! `tests/proptest-regressions/engine.txt` and replayed first on the next run. Longer runs:
//! `PROPTEST_CASES=500 cargo test -p recovery --test tests engine_model`.

use std::time::Duration;

use proptest::prelude::*;
use recovery::engine::{BackupRequest, PolicySpec, RestoreKind, WorkflowFault, WorkflowStep};
use recovery::repository::{CommitPoint, EntryKey, EntryState, Site};
use recovery::vss::BackupType;
use simulator::{Direction, Fault, StartOptions};

use crate::common::proptest_config;
use crate::world::{DATABASE, GROUP, LOCAL_HOST, REMOTE_HOST, Replication, SERVER, World};

#[derive(Debug, Clone)]
enum FaultKind {
    Fail,
    Crash,
    DelayMs(u32),
}

#[derive(Debug, Clone)]
enum Op {
    Work(u8),
    Backup { fault: Option<(u8, FaultKind)>, copy: bool, no_check: bool, expiration: Option<u8>, retention: Option<u8> },
    SetPolicy { numeric: Option<(u8, bool)>, expiration: u8, retention: Option<u8> },
    Mount(u8),
    Unmount(u8),
    Restore { index: u8, file_copy: bool },
    Remove(u8),
    Verify(u8),
    Advance(u16),
    LinkFlap { after_ms: u16, down_secs: u16 },
    ArrayCrash { primary: bool, after_ms: u16, down_secs: u16 },
    Tick,
    ServerCrash(bool),
    CommitCrash { remote: bool, nth: u8, point: u8 },
    MountDatabase,
    RestartGroup,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let fault =
        prop_oneof![Just(FaultKind::Fail), Just(FaultKind::Crash), (1u32..20_000).prop_map(FaultKind::DelayMs),];
    prop_oneof![
        6 => (1u8..40).prop_map(Op::Work),
        8 => (
            proptest::option::weighted(0.4, (any::<u8>(), fault)),
            proptest::bool::weighted(0.15),
            proptest::bool::weighted(0.1),
            proptest::option::weighted(0.2, 1u8..6),
            proptest::option::weighted(0.15, 1u8..4),
        )
            .prop_map(|(fault, copy, no_check, expiration, retention)| Op::Backup {
                fault,
                copy,
                no_check,
                expiration,
                retention: match (expiration, retention) {
                    (Some(e), Some(r)) => Some(r.min(e)),
                    (_, r) => r,
                },
            }),
        1 => (proptest::option::weighted(0.7, (1u8..5, any::<bool>())), 1u8..6, proptest::option::weighted(0.2, 1u8..3))
            .prop_map(|(numeric, expiration, retention)| Op::SetPolicy {
                numeric,
                expiration,
                retention: retention.map(|r| r.min(expiration)),
            }),
        2 => any::<u8>().prop_map(Op::Mount),
        2 => any::<u8>().prop_map(Op::Unmount),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(index, file_copy)| Op::Restore { index, file_copy }),
        2 => any::<u8>().prop_map(Op::Remove),
        1 => any::<u8>().prop_map(Op::Verify),
        3 => (1u16..7200).prop_map(Op::Advance),
        1 => (0u16..500, 1u16..120).prop_map(|(after_ms, down_secs)| Op::LinkFlap { after_ms, down_secs }),
        1 => (any::<bool>(), 0u16..500, 1u16..120)
            .prop_map(|(primary, after_ms, down_secs)| Op::ArrayCrash { primary, after_ms, down_secs }),
        2 => Just(Op::Tick),
        1 => any::<bool>().prop_map(Op::ServerCrash),
        1 => (any::<bool>(), 1u8..6, 0u8..4).prop_map(|(remote, nth, point)| Op::CommitCrash { remote, nth, point }),
        1 => Just(Op::MountDatabase),
        1 => Just(Op::RestartGroup),
    ]
}

/// The complete entries, local first, for picking one by index.
fn pick(world: &World, index: u8) -> Option<(Site, EntryKey)> {
    let entries: Vec<(Site, EntryKey)> = [Site::Local, Site::Remote]
        .into_iter()
        .flat_map(|site| {
            world.entries(site).into_iter().filter(|e| e.state == EntryState::Complete).map(move |e| (site, e.key))
        })
        .collect();
    (!entries.is_empty()).then(|| entries[usize::from(index) % entries.len()].clone())
}

fn host_of(site: Site) -> &'static str {
    match site {
        Site::Local => LOCAL_HOST,
        Site::Remote => REMOTE_HOST,
    }
}

/// The production database's content after a clean dismount, if the arrays allow reading it.
fn production(world: &mut World) -> Option<std::collections::BTreeMap<u32, Vec<u8>>> {
    let a = world.a;
    let db = world.engine.mailbox_server_mut(SERVER).ok()?.database_mut(DATABASE).ok()?;
    db.dismount(&mut world.sim).ok()?;
    let image = recovery::verify::ArrayVolume::new(&world.sim, a, crate::world::DB_VOLUME).ok()?;
    let contents = recovery::verify::read_database_contents(&image).ok();
    let db = world.engine.mailbox_server_mut(SERVER).ok()?.database_mut(DATABASE).ok()?;
    db.mount(&mut world.sim).ok()?;
    contents
}

fn apply(world: &mut World, op: &Op) -> Result<(), TestCaseError> {
    let mode = world.engine.detect_mode(&world.sim, SERVER, DATABASE).map(|m| m.kind()).ok();
    match op {
        Op::Work(n) => {
            world.work_tolerant(usize::from(*n));
        }
        Op::Backup { fault, copy, no_check, expiration, retention } => {
            let fault = fault.as_ref().and_then(|(index, kind)| {
                let steps = WorkflowStep::steps_of(mode?);
                let step = steps[usize::from(*index) % steps.len()];
                let fault = match kind {
                    FaultKind::Fail => WorkflowFault::Fail,
                    FaultKind::Crash => WorkflowFault::BackupServerCrash,
                    FaultKind::DelayMs(ms) => WorkflowFault::Delay(Duration::from_millis(u64::from(*ms))),
                };
                Some((step, fault))
            });
            let request = BackupRequest {
                backup_type: if *copy { BackupType::Copy } else { BackupType::Full },
                no_integrity_check: *no_check,
                expiration_hours: expiration.map(u64::from),
                retention_hours: retention.map(u64::from),
                fault,
                ..world.request()
            };
            let _ = world.backup_with(&request);
        }
        Op::SetPolicy { numeric, expiration, retention } => {
            let spec = match numeric {
                Some((max, remove_oldest)) => PolicySpec::numeric(u32::from(*max), *remove_oldest),
                None => PolicySpec::expiration(u64::from(*expiration)),
            };
            let spec = PolicySpec { retention_hours: retention.map(u64::from), ..spec };
            let _ = world.engine.set_policy(SERVER, DATABASE, spec);
        }
        Op::Mount(index) => {
            if let Some((site, key)) = pick(world, *index) {
                let _ = world.engine.mount(&mut world.sim, site, &key, host_of(site));
            }
        }
        Op::Unmount(index) => {
            if let Some((site, key)) = pick(world, *index) {
                let _ = world.engine.unmount(&mut world.sim, site, &key);
            }
        }
        Op::Restore { index, file_copy } => {
            if let Some((site, key)) = pick(world, *index) {
                let kind = if *file_copy {
                    RestoreKind::FileCopy { host: host_of(site).into() }
                } else {
                    RestoreKind::VolumePromote
                };
                if world.engine.restore(&mut world.sim, site, &key, kind.clone()).is_ok() {
                    if let Some(expected) = world.at_backup.get(&key.backup_id).cloned().filter(|_| !world.uncertain) {
                        if let Some(contents) = production(world) {
                            prop_assert_eq!(&contents, &expected.pages, "{:?} restore of {:?} {}", kind, site, key);
                        }
                        world.reference = expected;
                    } else {
                        world.uncertain = true;
                    }
                }
            }
        }
        Op::Remove(index) => {
            if let Some((site, key)) = pick(world, *index) {
                let _ = world.engine.remove(&mut world.sim, site, &key);
            }
        }
        Op::Verify(index) => {
            if let Some((site, key)) = pick(world, *index)
                && let Ok(report) = world.engine.verify(&world.sim, site, &key)
            {
                let entry = world.entry(site, &key).unwrap();
                prop_assert!(!entry.integrity_checked || report.is_recoverable(), "{key}: {report:?}");
            }
        }
        Op::Advance(secs) => world.advance(Duration::from_secs(u64::from(*secs))),
        Op::LinkFlap { after_ms, down_secs } => {
            let now = world.now();
            let down = now + Duration::from_millis(u64::from(*after_ms));
            let (a, b) = (world.a, world.b);
            world.sim.schedule_fault(down, Fault::LinkDown { from: a, to: b, direction: Direction::Both });
            let up = down + Duration::from_secs(u64::from(*down_secs));
            world.sim.schedule_fault(up, Fault::LinkUp { from: a, to: b, direction: Direction::Both });
        }
        Op::ArrayCrash { primary, after_ms, down_secs } => {
            let array = if *primary { world.a } else { world.b };
            let at = world.now() + Duration::from_millis(u64::from(*after_ms));
            world.sim.schedule_fault(at, Fault::ArrayCrash(array));
            world.sim.schedule_fault(at + Duration::from_secs(u64::from(*down_secs)), Fault::ArrayRestart(array));
        }
        Op::Tick => {
            let _ = world.engine.tick(&mut world.sim);
        }
        Op::ServerCrash(remote) => {
            world.engine.crash_backup_server(if *remote { Site::Remote } else { Site::Local });
        }
        Op::CommitCrash { remote, nth, point } => {
            let site = if *remote { Site::Remote } else { Site::Local };
            world.engine.crash_at_commit(site, u32::from(*nth), CommitPoint::ALL[usize::from(*point) % 4]);
        }
        Op::MountDatabase => {
            if let Ok(db) = world.engine.mailbox_server_mut(SERVER).and_then(|s| Ok(s.database_mut(DATABASE)?))
                && !db.is_mounted()
                && db.mount(&mut world.sim).is_ok()
            {
                // Soft recovery replays what the logs hold: exact unless a write was in doubt.
            }
        }
        Op::RestartGroup => {
            if world.replication != Replication::None {
                let _ = world.sim.remote_copy().start_group(world.a, GROUP, &StartOptions::default());
            }
        }
    }
    Ok(())
}

/// The caller's side of a crash: restart every backup server that is down.
fn restart_servers(world: &mut World) {
    for site in [Site::Local, Site::Remote] {
        if !world.engine.is_running(site) {
            world.engine.restart_backup_server(&mut world.sim, site).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(proptest_config(24, "tests/proptest-regressions/engine.txt"))]

    #[test]
    fn engine_state_machine(seed in any::<u64>(), mode in 0u8..4, ops in prop::collection::vec(op_strategy(), 1..40)) {
        // Goal: the invariants of spec §7.6–§7.8 (and the simulator's) hold after every operation
        // of any sequence, restores give the backup's content, and nothing is left half-done at
        // the end. Method: see the module doc.
        let replication = match mode {
            0 => Replication::None,
            1 => Replication::Synchronous,
            2 => Replication::Periodic(None),
            _ => Replication::Periodic(Some(Duration::from_secs(300))),
        };
        let mut world = World::new(seed, replication);
        world.work(20);
        for (i, op) in ops.iter().enumerate() {
            apply(&mut world, op)?;
            restart_servers(&mut world);
            let found = world.violations();
            prop_assert!(found.is_empty(), "after op {} {:?}:\n{}", i, op, found.join("\n"));
        }
        // Heal: arrays back, links up, servers up, retention periods over; the Task Manager then
        // leaves no intent behind.
        let (a, b) = (world.a, world.b);
        world.advance(Duration::from_secs(4 * 3600));
        for array in [a, b] {
            world.sim.restart_array(array);
        }
        world.sim.inject_fault(Fault::LinkUp { from: a, to: b, direction: Direction::Both });
        world.advance(Duration::from_secs(60));
        // A commit crash armed by the sequence may fire once more here: restart and go again.
        for _ in 0..3 {
            restart_servers(&mut world);
            world.engine.tick(&mut world.sim).unwrap();
        }
        restart_servers(&mut world);
        prop_assert!(world.engine.deferred_cleanups().is_empty(), "deferred: {:?}", world.engine.deferred_cleanups());
        for site in [Site::Local, Site::Remote] {
            let intents: Vec<_> = world.entries(site).into_iter().filter(|e| e.state != EntryState::Complete).collect();
            prop_assert!(intents.is_empty(), "{:?} intents left: {:?}", site, intents);
        }
        let found = world.violations();
        prop_assert!(found.is_empty(), "at the end:\n{}", found.join("\n"));
    }
}
