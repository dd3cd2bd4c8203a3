//! End-to-end tests of the three backup workflows: array state (copies on each array), both
//! repositories, the step order, and the verifier's verdict on the copies and on restored data.

use std::collections::BTreeMap;
use std::time::Duration;

use recovery::engine::{BackupRequest, EngineError, ReplicationMode, RestoreKind, WorkflowStep};
use recovery::repository::{EntryState, RemoteCopyMode, Site, VolumeRole};
use recovery::verify::{ArrayVolume, soft_recover_on_array, verify_image};
use recovery::vss::BackupType;
use simulator::{ArrayId, Direction, Fault, SnapshotSpec};

use crate::world::{DATABASE, DB_VOLUME, GROUP, LOG_VOLUME, Replication, SERVER, STANDBY_HOST, World};

/// The content a copy set recovers to: read-write children of the two copies are soft
/// recovered and read, then deleted.
pub fn recovered_contents(world: &mut World, array: ArrayId, db_copy: &str, log_copy: &str) -> BTreeMap<u32, Vec<u8>> {
    let (db_rw, log_rw) = (format!("{db_copy}.rw"), format!("{log_copy}.rw"));
    for (copy, rw) in [(db_copy, &db_rw), (log_copy, &log_rw)] {
        world.sim.array_mut(array).create_snapshot(copy, SnapshotSpec::read_write(rw)).unwrap();
    }
    soft_recover_on_array(&mut world.sim, array, &db_rw, &log_rw).unwrap();
    let contents = world.contents(array, &db_rw);
    for rw in [&db_rw, &log_rw] {
        world.sim.array_mut(array).delete_volume(rw).unwrap();
    }
    contents
}

fn copies_of(entry: &recovery::repository::Entry) -> (String, String) {
    let db = entry.copies.iter().find(|c| c.role == VolumeRole::Database).unwrap().copy_volume.to_string();
    let log = entry.copies.iter().find(|c| c.role == VolumeRole::Log).unwrap().copy_volume.to_string();
    (db, log)
}

#[test]
fn backup_without_remote_copy() {
    // Goal: the no-Remote-Copy workflow leaves one complete local entry whose two copies exist on
    // the primary only, pass the verifier and recover to exactly the content committed at the
    // backup; steps come in the seed's order; logs are truncated by the FULL backup.
    // Method: workload, backup, inspect arrays and repositories, recover the copies.
    let mut world = World::new(1, Replication::None);
    world.work(150);
    let report = world.backup();
    assert_eq!(report.mode, ReplicationMode::None);
    let steps: Vec<WorkflowStep> = report.steps.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, WorkflowStep::steps_of(RemoteCopyMode::None));
    assert!(report.steps.windows(2).all(|w| w[0].1 <= w[1].1), "steps in time order: {:?}", report.steps);
    assert!(report.integrity.as_ref().unwrap().is_recoverable());
    assert!(report.truncated.is_some(), "a FULL backup of a running database truncates logs");
    let local = world.entries(Site::Local);
    assert_eq!(local.len(), 1);
    assert!(world.entries(Site::Remote).is_empty());
    let entry = &local[0];
    assert_eq!(
        (entry.state, entry.mode, entry.key.clone()),
        (EntryState::Complete, RemoteCopyMode::None, report.key.clone())
    );
    assert!(entry.integrity_checked);
    let (db_copy, log_copy) = copies_of(entry);
    let mut on_a = world.engine_copies(world.a);
    on_a.sort();
    let mut expected = vec![db_copy.clone(), log_copy.clone()];
    expected.sort();
    assert_eq!(on_a, expected);
    assert!(world.engine_copies(world.b).is_empty());
    let a = world.a;
    let report = verify_image(
        &ArrayVolume::new(&world.sim, a, &db_copy).unwrap(),
        &ArrayVolume::new(&world.sim, a, &log_copy).unwrap(),
    )
    .unwrap();
    assert!(report.is_recoverable());
    let expected = world.reference.pages.clone();
    assert_eq!(recovered_contents(&mut world, a, &db_copy, &log_copy), expected);
    world.check();
}

#[test]
fn synchronous_backup() {
    // Goal: the synchronous workflow takes the primary and secondary copies at one instant
    // inside the freeze; the remote entry (remote backup server) and the local entry both exist;
    // both copy sets are identical and recover to the committed content.
    // Method: a started, synced synchronous group; workload; backup; compare both arrays.
    let mut world = World::new(2, Replication::Synchronous);
    world.work(120);
    let report = world.backup();
    assert_eq!(report.mode, ReplicationMode::Synchronous { group: GROUP.into() });
    let steps: Vec<WorkflowStep> = report.steps.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, WorkflowStep::steps_of(RemoteCopyMode::Synchronous));
    let local = world.entry(Site::Local, &report.key).unwrap();
    let remote = world.entry(Site::Remote, &report.key).unwrap();
    assert_eq!(local.state, EntryState::Complete);
    assert_eq!(remote.state, EntryState::Complete);
    assert!(local.copies.iter().all(|c| c.array == "SIM-A"));
    assert!(remote.copies.iter().all(|c| c.array == "SIM-B"));
    let (a, b) = (world.a, world.b);
    for role in [VolumeRole::Database, VolumeRole::Log] {
        let l = local.copies.iter().find(|c| c.role == role).unwrap();
        let r = remote.copies.iter().find(|c| c.role == role).unwrap();
        let lv = world.sim.array(a).volume(&l.copy_volume).unwrap();
        let rv = world.sim.array(b).volume(&r.copy_volume).unwrap();
        assert_eq!(lv.created_at, rv.created_at, "one instant");
        assert!(lv.pages().same_content(rv.pages()), "identical copies");
    }
    let expected = world.reference.pages.clone();
    let (db_copy, log_copy) = copies_of(&remote);
    assert_eq!(recovered_contents(&mut world, b, &db_copy, &log_copy), expected);
    let (db_copy, log_copy) = copies_of(&local);
    assert_eq!(recovered_contents(&mut world, a, &db_copy, &log_copy), expected);
    world.check();
}

#[test]
fn synchronous_entries_and_copy_comments() {
    // Goal: each copy's comment names the backup, the role and the source volume in the engine's
    // words, and each completed entry (completed in place from its intent) carries the copies'
    // instant, the VSS window and the integrity flag, with the intent's content unchanged.
    // Method: a synchronous backup; read both entries and every copy's comment.
    let mut world = World::new(2, Replication::Synchronous);
    world.work(20);
    let report = world.backup();
    let copies_at = report.steps.iter().find(|(s, _)| *s == WorkflowStep::PrimaryCopies).unwrap().1;
    for (site, array) in [(Site::Local, world.a), (Site::Remote, world.b)] {
        let entry = world.entry(site, &report.key).unwrap();
        assert_eq!(entry.state, EntryState::Complete);
        assert_eq!(entry.site, site);
        assert_eq!(entry.created_at_nanos, copies_at.as_nanos());
        assert!(entry.vss_window.is_some());
        assert!(entry.integrity_checked);
        assert_eq!(entry.copies.len(), 2);
        for copy in &entry.copies {
            let volume = world.sim.array(array).volume(&copy.copy_volume).unwrap();
            let expected = format!(
                "{}: backup {} ({:?} volume {})",
                recovery::engine::COPY_COMMENT_TAG,
                report.key,
                copy.role,
                copy.source_volume
            );
            assert_eq!(volume.comment.as_deref(), Some(expected.as_str()));
        }
    }
    world.check();
}

#[test]
fn periodic_backup() {
    // Goal: the periodic workflow syncs the group after the thaw, takes the remote copies once
    // that sync completed, records them on the remote backup server with the primary copies as
    // retained, and removes the local entry; the remote copies equal the primary copies and
    // recover to the committed content.
    // Method: a started periodic group (manual syncs); workload; backup; inspect.
    let mut world = World::new(3, Replication::Periodic(None));
    world.work(120);
    let report = world.backup();
    assert_eq!(report.mode, ReplicationMode::Periodic { group: GROUP.into() });
    assert_eq!(report.remote_copy_failure, None);
    let steps: Vec<WorkflowStep> = report.steps.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, WorkflowStep::steps_of(RemoteCopyMode::Periodic));
    let at = |step| report.steps.iter().find(|(s, _)| *s == step).unwrap().1;
    assert!(at(WorkflowStep::RcSyncRequested) == at(WorkflowStep::Thaw), "sync requested at the thaw's instant");
    assert!(at(WorkflowStep::RcSyncCompleted) > at(WorkflowStep::RcSyncRequested), "the sync takes time");
    assert_eq!(at(WorkflowStep::RemoteCopies), at(WorkflowStep::RcSyncCompleted));
    assert!(report.bytes_replicated > 0);
    assert_eq!((report.local.clone(), report.remote.clone()), (None, Some(report.key.clone())));
    assert!(world.entries(Site::Local).is_empty(), "the local entry is removed");
    let remote = world.entry(Site::Remote, &report.key).unwrap();
    assert_eq!(remote.retained_on_primary.len(), 2);
    let (a, b) = (world.a, world.b);
    assert_eq!(world.engine_copies(a).len(), 2, "primary copies retained");
    assert_eq!(world.engine_copies(b).len(), 2);
    for role in [VolumeRole::Database, VolumeRole::Log] {
        let r = remote.copies.iter().find(|c| c.role == role).unwrap();
        let p = remote.retained_on_primary.iter().find(|c| c.role == role).unwrap();
        let rv = world.sim.array(b).volume(&r.copy_volume).unwrap();
        let pv = world.sim.array(a).volume(&p.copy_volume).unwrap();
        assert!(rv.pages().same_content(pv.pages()));
    }
    let expected = world.reference.pages.clone();
    let (db_copy, log_copy) = copies_of(&remote);
    assert_eq!(recovered_contents(&mut world, b, &db_copy, &log_copy), expected);
    world.check();
}

#[test]
fn periodic_backup_waits_for_a_running_sync_then_syncs_its_own() {
    // Goal: when a sync is already running, the backup waits for it and requests its own, whose
    // data is the backup's. Method: start a sync, write more, back up at once; compare the
    // remote copy with the committed content at the backup.
    let mut world = World::new(4, Replication::Periodic(None));
    world.work(60);
    // 64 MiB beyond the database's pages: a sync that takes a quarter of a second to ship.
    let a = world.a;
    world.sim.write(a, DB_VOLUME, 100 << 20, &vec![0x5A; 64 << 20]).unwrap();
    world.sim.remote_copy().sync_group(world.a, GROUP, &simulator::SyncOptions::default()).unwrap();
    world.work(40);
    assert!(world.sim.rc_running_transfers().next().is_some(), "a sync is running when the backup starts");
    let report = world.backup();
    assert_eq!(report.remote_copy_failure, None);
    let remote = world.entry(Site::Remote, &report.key).unwrap();
    let (db_copy, log_copy) = copies_of(&remote);
    let expected = world.reference.pages.clone();
    let b = world.b;
    assert_eq!(recovered_contents(&mut world, b, &db_copy, &log_copy), expected);
    world.check();
}

#[test]
fn periodic_backup_with_a_failed_sync_keeps_the_local_entry() {
    // Goal: spec §7.8/39 — if the sync fails, no remote entry is created and the local copy stays
    // registered. Method: a link failure scheduled to land during the sync (after the thaw).
    let mut world = World::new(5, Replication::Periodic(None));
    world.work(200);
    let now = world.now();
    let link_down = Fault::LinkDown { from: world.a, to: world.b, direction: Direction::Both };
    world.sim.schedule_fault(now + Duration::from_millis(10), link_down);
    let report = world.backup();
    assert!(report.remote_copy_failure.is_some(), "{report:?}");
    assert_eq!(report.remote, None);
    assert_eq!(report.local, Some(report.key.clone()));
    assert!(world.entries(Site::Remote).is_empty());
    let local = world.entry(Site::Local, &report.key).unwrap();
    assert_eq!(local.state, EntryState::Complete);
    assert!(world.engine_copies(world.b).is_empty());
    world.check();
}

#[test]
fn synchronous_backup_needs_provider_2_2_and_a_synced_group() {
    // Goal: the seed's refusals, before any side effect: provider older than 2.2; a group that is
    // stopped (link failure). Method: configure an old provider; then stop the group by a link
    // failure; compare the simulation digest before and after each refused backup.
    let mut world = World::with(6, Replication::Synchronous, |c| c.provider_version = (2, 1));
    world.work(20);
    let before = world.sim.digest();
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::ProviderTooOld { version: (2, 1) })), "{error}");
    assert_eq!(world.sim.digest(), before);
    assert!(world.entries(Site::Local).is_empty());

    let mut world = World::new(7, Replication::Synchronous);
    let now = world.now();
    world.sim.schedule_fault(now, Fault::LinkDown { from: world.a, to: world.b, direction: Direction::Both });
    world.advance(Duration::from_secs(60));
    world.work(5);
    let before = world.sim.digest();
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::GroupNotReady { .. })), "{error}");
    assert_eq!(world.sim.digest(), before);
    world.check();
}

#[test]
fn mode_detection_refuses_a_mix() {
    // Goal: a database whose log volume is in a group and whose database volume is not (or in
    // another group) is refused with a clear error naming the volumes.
    // Method: dismiss the database volume from the group.
    let mut world = World::new(8, Replication::Periodic(None));
    world.sim.remote_copy().stop_group(world.a, GROUP, &simulator::StopOptions::default()).unwrap();
    world.sim.remote_copy().dismiss_volume(world.a, GROUP, DB_VOLUME, false, false).unwrap();
    let error = world.engine.detect_mode(&world.sim, SERVER, DATABASE).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, recovery::Error::Engine(EngineError::ModeMix { .. })));
    assert!(text.contains(DB_VOLUME) && text.contains(LOG_VOLUME) && text.contains(GROUP), "{text}");
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::ModeMix { .. })));
}

#[test]
fn copy_backup_and_no_integrity_check_never_truncate() {
    // Goal: spec §7.6/32 through the engine — a COPY backup and a FULL backup with `-nc` truncate
    // no log; a FULL backup does. Method: three backups with workload in between.
    let mut world = World::new(9, Replication::None);
    world.work(150);
    let copy = BackupRequest { backup_type: BackupType::Copy, ..world.request() };
    assert_eq!(world.backup_with(&copy).unwrap().truncated, None);
    world.work(150);
    let nc = BackupRequest { no_integrity_check: true, ..world.request() };
    let report = world.backup_with(&nc).unwrap();
    assert_eq!(report.truncated, None);
    assert!(report.integrity.is_none());
    assert!(!world.entry(Site::Local, &report.key).unwrap().integrity_checked);
    world.work(150);
    assert!(world.backup().truncated.is_some());
    world.check();
}

#[test]
fn a_failed_integrity_check_leaves_nothing() {
    // Goal: a copy the verifier rejects marks the backup failed: no entry, no copy, no
    // truncation. Method: damage a log generation the database still needs, then back up.
    let mut world = World::new(10, Replication::None);
    world.work(80);
    let a = world.a;
    let db = world.engine.mailbox_server(SERVER).unwrap().database(DATABASE).unwrap();
    let (checkpoint, config) = (db.checkpoint_generation().unwrap(), *db.config());
    let slot = recovery::exchange::layout::slot_of(checkpoint, config.log_slot_count);
    let offset = recovery::exchange::layout::slot_offset(config.log_slot_bytes, slot) + 600;
    world.sim.write(a, LOG_VOLUME, offset, &[0xAB; 64]).unwrap();
    let error = world.backup_with(&world.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::IntegrityCheckFailed { .. })), "{error}");
    assert!(world.entries(Site::Local).is_empty());
    assert!(world.engine_copies(a).is_empty());
    world.check();
}

#[test]
fn database_restore_from_the_remote_copy_after_losing_the_primary() {
    // Goal: after the primary array is lost, the remote copy of a periodic backup is promoted
    // onto the secondary volumes after a failover and the database comes up there with exactly
    // the content of the backup. Method: backup, more workload (never synced), crash the
    // primary, wait for the link detection, restore from remote, compare.
    let mut world = World::new(11, Replication::Periodic(None));
    world.work(100);
    let report = world.backup();
    let expected = world.reference.pages.clone();
    world.work(50);
    world.sim.crash_array(world.a);
    world.advance(Duration::from_secs(120));
    let restore = world
        .engine
        .restore(
            &mut world.sim,
            Site::Remote,
            &report.key,
            RestoreKind::DatabaseFromRemote { host: STANDBY_HOST.into() },
        )
        .unwrap();
    assert_eq!(
        restore.failed_over.as_deref(),
        Some(format!("{GROUP}.r{}", world.sim.array(world.a).config().system_id).as_str())
    );
    let mut database = restore.database.unwrap();
    assert!(database.is_mounted());
    let b = world.b;
    database.dismount(&mut world.sim).unwrap();
    assert_eq!(world.contents(b, DB_VOLUME), expected);
}

#[test]
fn a_copy_name_taken_on_an_array_gets_the_next_numbered_variant() {
    // Goal: a copy whose name `<source>.<d|l><YYMMDDhhmmss>` is taken on its array gets the first
    // free numbered variant (`….1` to `….9`), on each array independently; when all ten are
    // taken the backup fails with `CopyNameTaken` and leaves no entry and no copy behind.
    // Method: a first world (same seed, so same instant) learns the four copy names; a second
    // world creates volumes under some of those names and their variants before its backup.
    let names = |world: &World| {
        let local = world.entries(Site::Local);
        let remote = world.entries(Site::Remote);
        (copies_of(&local[0]), copies_of(&remote[0]))
    };
    let fresh = || {
        let mut world = World::new(3, Replication::Synchronous);
        world.work(20);
        world
    };
    let mut first = fresh();
    first.backup();
    let ((db, log), (remote_db, remote_log)) = names(&first);
    let (a, b) = (first.sim.primary(), first.sim.backup());
    let occupy = |world: &mut World, array: ArrayId, name: &str| {
        world.sim.array_mut(array).create_volume(simulator::VolumeSpec::thin(name, "FC_r6", 256)).unwrap();
    };

    let mut world = fresh();
    occupy(&mut world, a, &db);
    occupy(&mut world, a, &format!("{db}.1"));
    occupy(&mut world, b, &remote_log);
    world.backup();
    let ((db2, log2), (remote_db2, remote_log2)) = names(&world);
    assert_eq!((db2, log2), (format!("{db}.2"), log));
    assert_eq!((remote_db2, remote_log2), (remote_db, format!("{remote_log}.1")));
    world.check();

    let mut full = fresh();
    occupy(&mut full, a, &db);
    for k in 1..=9 {
        occupy(&mut full, a, &format!("{db}.{k}"));
    }
    let error = full.backup_with(&full.request()).unwrap_err();
    assert!(matches!(error, recovery::Error::Engine(EngineError::CopyNameTaken { .. })), "unexpected error: {error}");
    assert!(full.entries(Site::Local).is_empty() && full.entries(Site::Remote).is_empty());
    assert!(full.engine_copies(a).is_empty() && full.engine_copies(b).is_empty());
    full.check();
}
