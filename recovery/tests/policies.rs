//! Policy rules (spec §3.2, §3.3, §7.8/37, /38, /41): numeric with and without removing the
//! oldest, mounted and retained copies, per-StoreServ counting, expiration through the array and
//! the Task Manager, retention, and where each is placed in each mode.

use std::time::Duration;

use recovery::engine::{BackupRequest, EngineError, PolicySpec, StepOutcome, WorkflowStep};
use recovery::repository::{Entry, EntryKey, Site};

use crate::world::{DATABASE, LOCAL_HOST, Replication, SERVER, World};

/// A backup a second after the previous one, with some work in between.
fn next_backup(world: &mut World) -> EntryKey {
    world.advance(Duration::from_secs(1));
    world.work(10);
    world.backup().key
}

fn keys(entries: &[Entry]) -> Vec<EntryKey> {
    entries.iter().map(|e| e.key.clone()).collect()
}

fn set_policy(world: &mut World, spec: PolicySpec) {
    world.engine.set_policy(SERVER, DATABASE, spec).unwrap();
}

/// The state a refused backup must leave unchanged: the simulation and both repositories.
fn snapshot(world: &World) -> (simulator::Digest, Vec<Entry>, Vec<Entry>) {
    (world.sim.digest(), world.entries(Site::Local), world.entries(Site::Remote))
}

#[test]
fn numeric_policy_removes_exactly_the_oldest() {
    // Goal: with "remove the oldest" on and the maximum reached, exactly the oldest set is
    // removed first (entry and copies), and the count never exceeds the maximum.
    // Method: maximum 3, four backups.
    let mut world = World::new(20, Replication::None);
    set_policy(&mut world, PolicySpec::numeric(3, true));
    let first: Vec<EntryKey> = (0..3).map(|_| next_backup(&mut world)).collect();
    let copies_before = world.engine_copies(world.a);
    world.advance(Duration::from_secs(1));
    let report = world.backup();
    assert_eq!(report.removed_by_policy, vec![(Site::Local, first[0].clone())]);
    let expected: Vec<EntryKey> = first[1..].iter().cloned().chain([report.key.clone()]).collect();
    assert_eq!(keys(&world.entries(Site::Local)), expected);
    let copies_after = world.engine_copies(world.a);
    assert_eq!(copies_after.len(), 6);
    let removed: Vec<&String> = copies_before.iter().filter(|c| !copies_after.contains(c)).collect();
    assert_eq!(removed.len(), 2, "the oldest set's two copies");
    world.check();
}

#[test]
fn numeric_policy_without_remove_oldest_refuses_before_any_side_effect() {
    // Goal: spec §7.8/37 — with "remove the oldest" off and the count at the maximum, the backup
    // fails without changing arrays or repositories. Method: digest and entries before and after.
    let mut world = World::new(21, Replication::None);
    set_policy(&mut world, PolicySpec::numeric(2, false));
    next_backup(&mut world);
    next_backup(&mut world);
    world.advance(Duration::from_secs(1));
    let before = snapshot(&world);
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(
        matches!(error, recovery::Error::Engine(EngineError::PolicyLimitReached { count: 2, max: 2, .. })),
        "{error}"
    );
    assert_eq!(snapshot(&world), before);
    world.check();
}

#[test]
fn numeric_policy_refuses_when_the_oldest_is_mounted() {
    // Goal: spec §3.3 — if the copy that would be removed is mounted, the new backup is refused
    // (before any side effect); after unmounting it goes through and removes that copy.
    let mut world = World::new(22, Replication::None);
    set_policy(&mut world, PolicySpec::numeric(2, true));
    let oldest = next_backup(&mut world);
    next_backup(&mut world);
    world.engine.mount(&mut world.sim, Site::Local, &oldest, LOCAL_HOST).unwrap();
    world.advance(Duration::from_secs(1));
    let before = snapshot(&world);
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(
        matches!(&error, recovery::Error::Engine(EngineError::OldestCopyMounted { key, .. }) if *key == oldest),
        "{error}"
    );
    assert_eq!(snapshot(&world), before);
    world.check();
    world.engine.unmount(&mut world.sim, Site::Local, &oldest).unwrap();
    let report = world.backup();
    assert_eq!(report.removed_by_policy, vec![(Site::Local, oldest)]);
    world.check();
}

#[test]
fn numeric_policy_skips_retained_copies() {
    // Goal: "exactly the oldest unmounted, non-retained copy set" — a retained oldest set is
    // skipped and the next oldest removed; if every set is retained the backup is refused.
    let mut world = World::new(23, Replication::None);
    set_policy(&mut world, PolicySpec::numeric(2, true));
    world.advance(Duration::from_secs(1));
    let retained = world.backup_with(&BackupRequest { retention_hours: Some(24), ..world.request() }).unwrap().key;
    let second = next_backup(&mut world);
    world.advance(Duration::from_secs(1));
    let report = world.backup();
    assert_eq!(report.removed_by_policy, vec![(Site::Local, second)]);
    world.check();
    // Now both remaining sets retained: refused.
    set_policy(&mut world, PolicySpec { retention_hours: Some(24), ..PolicySpec::numeric(2, true) });
    let third = report.key;
    world.engine.remove(&mut world.sim, Site::Local, &third).unwrap();
    world.advance(Duration::from_secs(1));
    world.backup();
    world.advance(Duration::from_secs(1));
    let before = snapshot(&world);
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::NoRemovableCopy { .. })), "{error}");
    assert_eq!(snapshot(&world), before);
    assert!(world.entry(Site::Local, &retained).is_some());
    world.check();
}

#[test]
fn numeric_policy_counts_per_storeserv_in_synchronous_mode() {
    // Goal: the maximum holds per StoreServ: a synchronous backup places a set on each array,
    // and each array keeps at most the maximum (so the pair holds up to twice it, spec §3.3).
    let mut world = World::new(24, Replication::Synchronous);
    set_policy(&mut world, PolicySpec::numeric(2, true));
    let keys_made: Vec<EntryKey> = (0..3).map(|_| next_backup(&mut world)).collect();
    assert_eq!(keys(&world.entries(Site::Local)), keys_made[1..].to_vec());
    assert_eq!(keys(&world.entries(Site::Remote)), keys_made[1..].to_vec());
    assert_eq!(world.engine_copies(world.a).len(), 4);
    assert_eq!(world.engine_copies(world.b).len(), 4);
    world.check();
}

#[test]
fn numeric_policy_counts_retained_primary_copies_in_periodic_mode() {
    // Goal: in periodic mode a remote set also occupies the primary through its retained copies;
    // removing the oldest remote set removes those too.
    let mut world = World::new(25, Replication::Periodic(None));
    set_policy(&mut world, PolicySpec::numeric(2, true));
    let keys_made: Vec<EntryKey> = (0..3).map(|_| next_backup(&mut world)).collect();
    assert!(world.entries(Site::Local).is_empty());
    assert_eq!(keys(&world.entries(Site::Remote)), keys_made[1..].to_vec());
    assert_eq!(world.engine_copies(world.a).len(), 4, "two retained sets on the primary");
    assert_eq!(world.engine_copies(world.b).len(), 4);
    world.check();
}

#[test]
fn lowering_the_maximum_removes_as_many_oldest_as_needed() {
    // Goal: after the maximum is lowered, the next backup removes the oldest sets until the new
    // maximum holds (documented extension of "exactly the oldest").
    let mut world = World::new(26, Replication::None);
    set_policy(&mut world, PolicySpec::numeric(4, true));
    let made: Vec<EntryKey> = (0..4).map(|_| next_backup(&mut world)).collect();
    set_policy(&mut world, PolicySpec::numeric(2, true));
    world.advance(Duration::from_secs(1));
    let report = world.backup();
    let removed: Vec<EntryKey> = report.removed_by_policy.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(removed, made[..3].to_vec());
    assert_eq!(world.entries(Site::Local).len(), 2);
    world.check();
}

#[test]
fn expiration_policy_the_array_expires_and_the_task_manager_drops() {
    // Goal: expiration-based policy — the copies carry the VV expiration, the array removes them
    // when it passes (the invariants accept the entry until the Task Manager runs), and tick()
    // drops the entry; a mounted copy is never expired.
    let mut world = World::new(27, Replication::None);
    set_policy(&mut world, PolicySpec::expiration(2));
    world.work(20);
    let expiring = world.backup().key;
    world.advance(Duration::from_secs(1));
    let mounted = world.backup().key;
    world.engine.mount(&mut world.sim, Site::Local, &mounted, LOCAL_HOST).unwrap();
    world.advance(Duration::from_secs(3600));
    assert_eq!(world.engine_copies(world.a).len(), 4);
    world.advance(Duration::from_secs(2 * 3600));
    assert_eq!(world.engine_copies(world.a).len(), 2, "the mounted set is kept, the other expired");
    world.check();
    let tick = world.engine.tick(&mut world.sim).unwrap();
    assert_eq!(tick.expired, vec![(Site::Local, expiring.clone())]);
    assert!(world.entry(Site::Local, &expiring).is_none());
    assert!(world.entry(Site::Local, &mounted).is_some());
    world.check();
    // Unmounted, the array removes it at its next retry (hourly) and the Task Manager follows.
    world.engine.unmount(&mut world.sim, Site::Local, &mounted).unwrap();
    world.advance(Duration::from_secs(3600));
    let tick = world.engine.tick(&mut world.sim).unwrap();
    assert_eq!(tick.expired, vec![(Site::Local, mounted)]);
    assert!(world.engine_copies(world.a).is_empty());
    world.check();
}

#[test]
fn expiration_and_retention_placement_per_mode() {
    // Goal: spec §3.2 / §7.8/41 — synchronous: expiration and retention on both copies;
    // periodic: on the remote copy only (the copies retained on the primary carry neither).
    let request =
        |world: &World| BackupRequest { expiration_hours: Some(48), retention_hours: Some(24), ..world.request() };
    let mut world = World::new(28, Replication::Synchronous);
    world.work(10);
    let report = world.backup_with(&request(&world)).unwrap();
    for (site, array) in [(Site::Local, world.a), (Site::Remote, world.b)] {
        let entry = world.entry(site, &report.key).unwrap();
        for copy in &entry.copies {
            let v = world.sim.array(array).volume(&copy.copy_volume).unwrap();
            assert!(v.expires_at.is_some() && v.retained_until.is_some(), "{site:?} {}", copy.copy_volume);
        }
    }
    world.check();

    let mut world = World::new(29, Replication::Periodic(None));
    world.work(10);
    let report = world.backup_with(&request(&world)).unwrap();
    let entry = world.entry(Site::Remote, &report.key).unwrap();
    for copy in &entry.copies {
        let v = world.sim.array(world.b).volume(&copy.copy_volume).unwrap();
        assert!(v.expires_at.is_some() && v.retained_until.is_some());
    }
    for copy in &entry.retained_on_primary {
        let v = world.sim.array(world.a).volume(&copy.copy_volume).unwrap();
        assert!(v.expires_at.is_none() && v.retained_until.is_none());
    }
    world.check();
}

#[test]
fn times_an_array_would_refuse_fail_the_policy_check() {
    // Goal: a retention beyond the arrays' system maximum (336 h by default, under RM's own
    // 43,800 h) or an expiration beyond their time limit is refused at PolicyCheck, with the
    // array's 3PAR code, before any copy is taken or old set removed: the world is unchanged.
    // Before, the retention failed at the Retention step, after BackupComplete, and the whole
    // backup was undone. In periodic mode only the backup array's copies carry them.
    for (seed, replication) in
        [(80, Replication::None), (81, Replication::Synchronous), (82, Replication::Periodic(None))]
    {
        let mut world = World::new(seed, replication);
        world.work(10);
        world.backup();
        world.advance(Duration::from_secs(1));
        world.work(10);
        set_policy(&mut world, PolicySpec::numeric(1, true));
        let refused = [
            BackupRequest { retention_hours: Some(337), ..world.request() },
            BackupRequest { expiration_hours: Some(43_801), ..world.request() },
        ];
        for request in refused {
            let before = snapshot(&world);
            world.engine.drain_step_records();
            let error = world.backup_with(&request).unwrap_err();
            assert!(
                matches!(error, recovery::Error::Array(ref e) if e.code == simulator::ErrorCode::INV_INPUT_EXCEEDS_RANGE),
                "{replication:?} {request:?}: {error}"
            );
            let records = world.engine.drain_step_records();
            let steps: Vec<_> = records.iter().map(|r| r.step).collect();
            assert_eq!(steps, [WorkflowStep::PolicyCheck], "{replication:?}: {records:?}");
            assert!(matches!(records[0].outcome, StepOutcome::Failed(_)));
            assert_eq!(
                snapshot(&world),
                before,
                "{replication:?}: the old set stays (both repositories unchanged), nothing is copied"
            );
        }
        // The system maximum itself is accepted, and carried as the spec places it.
        let report = world.backup_with(&BackupRequest { retention_hours: Some(336), ..world.request() }).unwrap();
        let site = if replication == Replication::None { Site::Local } else { Site::Remote };
        let array = if replication == Replication::None { world.a } else { world.b };
        for copy in &world.entry(site, &report.key).unwrap().copies {
            assert!(world.sim.array(array).volume(&copy.copy_volume).unwrap().retained_until.is_some());
        }
        world.check();
    }
}

#[test]
fn retention_blocks_removal_until_it_ends() {
    // Goal: a retained backup cannot be removed (typed error, nothing changed) until its
    // retention ends; then it can.
    let mut world = World::new(30, Replication::None);
    world.work(10);
    let key = world.backup_with(&BackupRequest { retention_hours: Some(1), ..world.request() }).unwrap().key;
    let before = snapshot(&world);
    let error = world.engine.remove(&mut world.sim, Site::Local, &key).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::Retained { .. })), "{error}");
    assert_eq!(snapshot(&world), before);
    world.advance(Duration::from_secs(3601));
    world.engine.remove(&mut world.sim, Site::Local, &key).unwrap();
    assert!(world.entries(Site::Local).is_empty());
    assert!(world.engine_copies(world.a).is_empty());
    world.check();
}

#[test]
fn invalid_policies_are_refused() {
    // Goal: out-of-range policy values are typed errors and change nothing.
    let mut world = World::new(31, Replication::None);
    let invalid = [
        PolicySpec::numeric(0, true),
        PolicySpec::expiration(0),
        PolicySpec { retention_hours: Some(48), ..PolicySpec::expiration(24) },
        PolicySpec { retention_hours: Some(43_801), ..PolicySpec::numeric(4, true) },
    ];
    for spec in invalid {
        let error = world.engine.set_policy(SERVER, DATABASE, spec).unwrap_err();
        assert!(matches!(error, recovery::Error::Engine(EngineError::InvalidPolicy(_))), "{spec:?}: {error}");
    }
    assert_eq!(world.engine.policy(SERVER, DATABASE), PolicySpec::default());
    let request = BackupRequest { expiration_hours: Some(2), retention_hours: Some(3), ..world.request() };
    let error = world.backup_with(&request).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::InvalidPolicy(_))), "{error}");
    assert!(world.entries(Site::Local).is_empty());
}
