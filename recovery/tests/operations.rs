//! The operations on backups and their refusals: list, mount/unmount, verify, remove, restore
//! (volume promote, file copy, database from the remote copy), and management by exact
//! registered name.

use std::time::Duration;

use recovery::engine::{Engine, EngineError, RestoreKind};
use recovery::exchange::MailboxServer;
use recovery::registration::RegistrationError;
use recovery::repository::{EntryKey, Site};
use recovery::verify::{ArrayVolume, ReadAt};
use simulator::ErrorCode;

use crate::world::{DATABASE, DB_VOLUME, GROUP, LOCAL_HOST, REMOTE_HOST, Replication, SERVER, STANDBY_HOST, World};

fn engine_error(error: &recovery::Error) -> Option<&EngineError> {
    match error {
        recovery::Error::Engine(e) => Some(e),
        _ => None,
    }
}

#[test]
fn mount_exports_the_copies_and_unmount_removes_the_exports() {
    // Goal: mount exports each copy of the set to the host (bytes read through the LUN equal the
    // copy's) and records the mount; unmount removes both; refusals change nothing.
    let mut world = World::new(40, Replication::None);
    world.work(40);
    let key = world.backup().key;
    let a = world.a;
    let error = world.engine.mount(&mut world.sim, Site::Local, &key, "no-such-host").unwrap_err();
    assert!(matches!(error, recovery::Error::Array(ref e) if e.code == ErrorCode::NON_EXISTENT_HOST), "{error}");
    assert!(world.entry(Site::Local, &key).unwrap().mounted.is_none());
    let luns = world.engine.mount(&mut world.sim, Site::Local, &key, LOCAL_HOST).unwrap();
    assert_eq!(luns.len(), 2);
    for (copy, lun) in &luns {
        let through_lun = world.sim.host_read(a, LOCAL_HOST, *lun, 0, 1 << 16).unwrap();
        assert_eq!(through_lun, world.sim.read(a, copy, 0, 1 << 16).unwrap());
    }
    let mounted = world.entry(Site::Local, &key).unwrap().mounted.unwrap();
    assert_eq!(mounted.host, LOCAL_HOST);
    let error = world.engine.mount(&mut world.sim, Site::Local, &key, LOCAL_HOST).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::Mounted(_))), "{error}");
    world.check();
    world.engine.unmount(&mut world.sim, Site::Local, &key).unwrap();
    assert!(world.entry(Site::Local, &key).unwrap().mounted.is_none());
    assert!(luns.iter().all(|(copy, _)| !world.sim.array(a).is_exported(world.sim.array(a).volume(copy).unwrap().id)));
    let error = world.engine.unmount(&mut world.sim, Site::Local, &key).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::NotMounted(_))), "{error}");
    world.check();
}

#[test]
fn verify_reads_through_the_export_when_mounted() {
    // Goal: verify gives the same verdict from the array and through a mount; damage to a
    // mounted copy's log... is impossible (copies are read-only), so both say recoverable.
    let mut world = World::new(41, Replication::Synchronous);
    world.work(60);
    let key = world.backup().key;
    for site in [Site::Local, Site::Remote] {
        let unmounted = world.engine.verify(&world.sim, site, &key).unwrap();
        assert!(unmounted.is_recoverable());
        let host = if site == Site::Local { LOCAL_HOST } else { REMOTE_HOST };
        world.engine.mount(&mut world.sim, site, &key, host).unwrap();
        let mounted = world.engine.verify(&world.sim, site, &key).unwrap();
        assert_eq!(mounted, unmounted);
        world.engine.unmount(&mut world.sim, site, &key).unwrap();
    }
    world.check();
}

#[test]
fn remove_deletes_copies_and_entry_and_refuses_while_mounted() {
    // Goal: spec §7.8/38 — a mounted backup is never removed; an unmounted one loses its copies
    // (for a periodic remote backup also the copies retained on the primary) and its entry.
    let mut world = World::new(42, Replication::Periodic(None));
    world.work(30);
    let key = world.backup().key;
    world.engine.mount(&mut world.sim, Site::Remote, &key, REMOTE_HOST).unwrap();
    let before = world.sim.digest();
    let error = world.engine.remove(&mut world.sim, Site::Remote, &key).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::Mounted(_))), "{error}");
    assert_eq!(world.sim.digest(), before);
    world.engine.unmount(&mut world.sim, Site::Remote, &key).unwrap();
    world.engine.remove(&mut world.sim, Site::Remote, &key).unwrap();
    assert!(world.entries(Site::Remote).is_empty());
    assert!(world.engine_copies(world.a).is_empty(), "retained primary copies removed with the remote set");
    assert!(world.engine_copies(world.b).is_empty());
    let error = world.engine.remove(&mut world.sim, Site::Remote, &key).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::EntryNotFound { .. })), "{error}");
    world.check();
}

#[test]
fn list_shows_both_repositories() {
    // Goal: list returns the database's backups from both backup servers, local first.
    let mut world = World::new(43, Replication::Synchronous);
    world.work(10);
    let key = world.backup().key;
    let listed: Vec<(Site, EntryKey)> =
        world.engine.list(SERVER, DATABASE).into_iter().map(|(s, e)| (s, e.key.clone())).collect();
    assert_eq!(listed, vec![(Site::Local, key.clone()), (Site::Remote, key)]);
    assert!(world.engine.list(SERVER, "other").is_empty());
}

#[test]
fn volume_promote_restores_the_backup_in_every_mode() {
    // Goal: a volume-promote restore brings the production database back to exactly the content
    // committed at the backup (verified by reading the remounted database), restarting the
    // Remote Copy group around the promote; the secondary catches up with the restored volumes.
    // Method: backup, more work, restore, compare; for replicated modes, settle and compare arrays.
    for (seed, replication, site) in [
        (44, Replication::None, Site::Local),
        (45, Replication::Synchronous, Site::Local),
        (46, Replication::Periodic(None), Site::Remote),
    ] {
        let mut world = World::new(seed, replication);
        world.work(80);
        let key = world.backup().key;
        let expected = world.reference.pages.clone();
        world.work(80);
        let report = world.engine.restore(&mut world.sim, site, &key, RestoreKind::VolumePromote).unwrap();
        assert_eq!(report.group_restarted.is_some(), replication != Replication::None, "{replication:?}");
        let mount = report.mount.as_ref().expect("the restored database mounts");
        assert!(mount.recovery.is_some() || mount.generation > 0);
        assert_eq!(world.production_contents(), expected, "{replication:?}");
        world.check();
        if replication != Replication::None {
            world.work(10);
            world.settle();
            if matches!(replication, Replication::Periodic(_)) {
                world.sim.remote_copy().sync_group(world.a, GROUP, &simulator::SyncOptions::default()).unwrap();
                world.settle();
            }
            for volume in [DB_VOLUME, crate::world::LOG_VOLUME] {
                let pa = world.sim.array(world.a).volume(volume).unwrap().pages();
                let pb = world.sim.array(world.b).volume(volume).unwrap().pages();
                assert!(pa.same_content(pb), "{replication:?}: {volume} replicated after the restore");
            }
            world.check();
        }
    }
}

#[test]
fn volume_promote_with_the_backup_array_down_restores_and_leaves_the_group_stopped() {
    // Goal: once the copies are promoted, the restore is done even if the Remote Copy group
    // cannot start again (its target down): the engine must report success with the group left
    // stopped, not a failure while the production volumes already hold the backup (found by a
    // campaign: `tests/harness/regressions/restore-promote-while-backup-array-down.toml`).
    // Method: periodic backup, more work, crash the backup array, restore from the retained
    // primary copies, compare the database with the backup; then bring the array back, start
    // and sync the group, and require both arrays to hold the restored content.
    let mut world = World::new(47, Replication::Periodic(None));
    world.work(60);
    let key = world.backup().key;
    let expected = world.reference.pages.clone();
    world.work(40);
    world.sim.crash_array(world.b);
    let report = world.engine.restore(&mut world.sim, Site::Remote, &key, RestoreKind::VolumePromote).unwrap();
    assert_eq!(report.group_restarted, None);
    let (group, error) = report.group_restart_failed.clone().expect("the group could not start again");
    assert_eq!(group, GROUP);
    assert!(!error.is_empty());
    assert_eq!(world.production_contents(), expected);
    world.sim.restart_array(world.b);
    world.settle();
    world.sim.remote_copy().start_group(world.a, GROUP, &simulator::StartOptions::default()).unwrap();
    world.settle();
    world.sim.remote_copy().sync_group(world.a, GROUP, &simulator::SyncOptions::default()).unwrap();
    world.settle();
    for volume in [DB_VOLUME, crate::world::LOG_VOLUME] {
        let pa = world.sim.array(world.a).volume(volume).unwrap().pages();
        let pb = world.sim.array(world.b).volume(volume).unwrap().pages();
        assert!(pa.same_content(pb), "{volume} replicated after the restore");
    }
    world.check();
}

#[test]
fn a_primary_crash_during_a_file_copy_restore_is_reported_for_what_it_did() {
    // Goal: an array crash inside a file-copy restore never passes for "nothing happened" once
    // production bytes were written: mid-copy it is `RestoreInterrupted` (content indeterminate),
    // after the copy the restore succeeds with the mount's failure in the report (found by a
    // campaign: `tests/harness/regressions/restore-done-then-primary-crash-before-mount.toml`).
    // Either way, once the array is back, the database (restored again if interrupted) holds the
    // backup exactly. Method: the same restore with the primary's crash scheduled at growing
    // delays; "mounted" and "restored but not mounted" must both occur, and every outcome must
    // end with the backup's content.
    let mut seen = (0, 0, 0);
    for delay_us in (0..40u64).map(|i| i * 50).chain((3..16).map(|i| i * 500)) {
        let mut world = World::new(48, Replication::None);
        world.work(60);
        let key = world.backup().key;
        let expected = world.reference.pages.clone();
        world.work(40);
        let now = world.now();
        world.sim.schedule_fault(now + Duration::from_micros(delay_us), simulator::Fault::ArrayCrash(world.a));
        let kind = RestoreKind::FileCopy { host: LOCAL_HOST.into() };
        let outcome = world.engine.restore(&mut world.sim, Site::Local, &key, kind.clone());
        world.advance(Duration::from_secs(1));
        world.sim.restart_array(world.a);
        match outcome {
            Ok(report) => {
                if report.mount.is_ok() {
                    seen.0 += 1;
                } else {
                    seen.1 += 1;
                    let db = world.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
                    db.mount(&mut world.sim).unwrap();
                }
            }
            Err(error) if matches!(engine_error(&error), Some(EngineError::RestoreInterrupted { .. })) => {
                seen.2 += 1;
                let _ = world.engine.unmount(&mut world.sim, Site::Local, &key);
                world.engine.restore(&mut world.sim, Site::Local, &key, kind).unwrap();
            }
            // The crash came before the copy wrote anything: the production data is untouched.
            Err(_) => continue,
        }
        assert_eq!(world.production_contents(), expected, "crash after {delay_us} µs");
    }
    // The copy writes the differing chunks within one instant here, so no delay lands inside
    // it: `seen.2` (interrupted) is handled above but not required.
    assert!(seen.0 > 0 && seen.1 > 0, "(mounted, restored but not mounted, interrupted) = {seen:?}");
}

#[test]
fn file_copy_restores_through_a_mounted_copy() {
    // Goal: a file-level restore mounts the copies on a host, copies the database and log files
    // through the LUNs onto the production volumes and mounts the database: content of the
    // backup. Also from the remote copy of a synchronous backup (read on the backup array).
    for (seed, replication, site, host) in
        [(47, Replication::None, Site::Local, LOCAL_HOST), (48, Replication::Synchronous, Site::Remote, REMOTE_HOST)]
    {
        let mut world = World::new(seed, replication);
        world.work(80);
        let key = world.backup().key;
        let expected = world.reference.pages.clone();
        world.work(80);
        let report =
            world.engine.restore(&mut world.sim, site, &key, RestoreKind::FileCopy { host: host.into() }).unwrap();
        assert!(report.bytes_written > 0);
        assert!(world.entry(site, &key).unwrap().mounted.is_none(), "the restore's own mount is removed");
        assert_eq!(world.production_contents(), expected, "{replication:?}");
        world.check();
    }
}

#[test]
fn database_from_remote_after_losing_a_synchronous_primary() {
    // Goal: a synchronous remote backup restores the database on the backup array after the
    // primary is lost: failover, promote, export to the standby host, mount.
    let mut world = World::new(49, Replication::Synchronous);
    world.work(80);
    let key = world.backup().key;
    let expected = world.reference.pages.clone();
    world.work(30);
    world.sim.crash_array(world.a);
    world.advance(Duration::from_secs(60));
    let kind = RestoreKind::DatabaseFromRemote { host: STANDBY_HOST.into() };
    let report = world.engine.restore(&mut world.sim, Site::Remote, &key, kind).unwrap();
    assert!(report.failed_over.is_some());
    let mut database = report.database.unwrap();
    let b = world.b;
    database.dismount(&mut world.sim).unwrap();
    assert_eq!(world.contents(b, DB_VOLUME), expected);
    let exported = world.sim.array(b).volume(DB_VOLUME).unwrap().id;
    assert!(world.sim.array(b).is_exported(exported));
}

#[test]
fn restore_refusals() {
    // Goal: restores that cannot run are typed errors before any change: promote of a mounted
    // copy; database-from-remote of a local backup; promote of a synchronous remote backup; a
    // failover while the group is started (the primary is alive).
    let mut world = World::new(50, Replication::Synchronous);
    world.work(20);
    let key = world.backup().key;
    world.engine.mount(&mut world.sim, Site::Local, &key, LOCAL_HOST).unwrap();
    let before = world.sim.digest();
    let error = world.engine.restore(&mut world.sim, Site::Local, &key, RestoreKind::VolumePromote).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::Mounted(_))), "{error}");
    let from_remote = RestoreKind::DatabaseFromRemote { host: STANDBY_HOST.into() };
    let error = world.engine.restore(&mut world.sim, Site::Local, &key, from_remote.clone()).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::RestoreNotPossible { .. })), "{error}");
    let error = world.engine.restore(&mut world.sim, Site::Remote, &key, RestoreKind::VolumePromote).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::RestoreNotPossible { .. })), "{error}");
    let error = world.engine.restore(&mut world.sim, Site::Remote, &key, from_remote).unwrap_err();
    assert!(matches!(error, recovery::Error::Array(ref e) if e.code == ErrorCode::RCOPY_GROUP_NOT_STOPPED), "{error}");
    assert_eq!(world.sim.digest(), before);
    world.check();
}

#[test]
fn remote_copies_are_managed_only_under_the_exact_registered_name() {
    // Goal: spec §3.2 — remote copies recorded for "MBX01" cannot be managed by a Recovery
    // Manager where the mailbox server is registered under another spelling; the error names the
    // registered spelling. Method: back up with one engine; open the same repositories with a
    // second engine that registered "mbx01.corp.example"; mount and verify are refused.
    let mut world = World::new(51, Replication::Synchronous);
    world.work(20);
    let key = world.backup().key;
    let a = world.a;
    let config = world.engine.config().clone();
    let World { mut sim, engine, dir, .. } = world;
    drop(engine);
    let mut engine = Engine::new(config).unwrap();
    let other = MailboxServer::create(&mut sim, a, "mbx01.corp.example", "mbx01", &[]).unwrap();
    engine.register_mailbox_server(&mut sim, other).unwrap();
    assert_eq!(engine.list(SERVER, DATABASE).len(), 2, "the entries are there");
    let error = engine.mount(&mut sim, Site::Remote, &key, REMOTE_HOST).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, recovery::Error::Registration(RegistrationError::RegisteredUnderAnotherSpelling { .. })),
        "{text}"
    );
    assert!(text.contains("mbx01.corp.example"), "{text}");
    assert!(engine.verify(&sim, Site::Remote, &key).is_err());
    drop(engine);
    drop(dir);
}

#[test]
fn copies_read_back_byte_for_byte_through_the_verifier_image() {
    // Goal: a copy's image as the verifier reads it (ArrayVolume) has the volume's size and
    // reads the same bytes as the array (guards the mount/verify plumbing).
    let mut world = World::new(52, Replication::None);
    world.work(10);
    let key = world.backup().key;
    let entry = world.entry(Site::Local, &key).unwrap();
    let a = world.a;
    let copy = &entry.copies[0].copy_volume;
    let image = ArrayVolume::new(&world.sim, a, copy).unwrap();
    assert_eq!(image.size_bytes(), world.sim.array(a).volume(copy).unwrap().size_bytes());
    let mut buf = vec![0u8; 4096];
    image.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, world.sim.read(a, copy, 0, 4096).unwrap());
}

#[test]
fn a_file_copy_cut_short_by_an_array_crash_is_reported_interrupted() {
    // Goal: a file-level restore that fails after it began writing the production volumes says
    // so (RestoreInterrupted: their content is neither image), whether the restore mounted the
    // copies itself or found them mounted. Method: synchronous mode, so every chunk written
    // waits for the backup array's acknowledgement in virtual time; the primary crashes one
    // nanosecond after the copy starts, which lands inside the first chunk's write.
    for premounted in [false, true] {
        let mut world = World::new(52, Replication::Synchronous);
        world.work(80);
        let key = world.backup().key;
        world.work(80);
        if premounted {
            world.engine.mount(&mut world.sim, Site::Local, &key, LOCAL_HOST).unwrap();
        }
        // Dismounted first: the restore's own dismount would flush pages (and meet the crash).
        let db = world.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
        db.dismount(&mut world.sim).unwrap();
        let at = world.now() + Duration::from_nanos(1);
        world.sim.schedule_fault(at, simulator::Fault::ArrayCrash(world.a));
        let kind = RestoreKind::FileCopy { host: LOCAL_HOST.into() };
        let error = world.engine.restore(&mut world.sim, Site::Local, &key, kind).unwrap_err();
        assert!(
            matches!(engine_error(&error), Some(EngineError::RestoreInterrupted { key: k, .. }) if *k == key),
            "premounted {premounted}: {error}"
        );
        assert!(!world.sim.array(world.a).is_online());
        world.sim.restart_array(world.a);
        world.check();
    }
}

#[test]
fn a_restore_onto_remote_copy_secondaries_is_refused() {
    // Goal: after a failover and recover the production volumes are the Remote Copy secondaries
    // of the backup array; a restore onto them is refused before any change. A file copy used
    // to find their bytes equal, "succeed" without writing and leave a database that cannot
    // mount (campaign seed 38); a promote of the retained copies succeeded and left the same
    // unmountable, unrecovered image (seed 59). Method: periodic mode, backup, stop, failover and
    // recover on the backup array, let the reverse sync finish, restore each way:
    // RestoreNotPossible and the simulation's digest unchanged.
    for kind in [RestoreKind::FileCopy { host: REMOTE_HOST.into() }, RestoreKind::VolumePromote] {
        restore_onto_secondaries_is_refused(kind);
    }
}

fn restore_onto_secondaries_is_refused(kind: RestoreKind) {
    let mut world = World::new(53, Replication::Periodic(None));
    world.work(40);
    let key = world.backup().key;
    let (a, b) = (world.a, world.b);
    world.sim.remote_copy().stop_group(a, GROUP, &simulator::StopOptions::default()).unwrap();
    let partner = world.sim.array(b).remote_copy().groups().next().unwrap().name.clone();
    world.sim.remote_copy().failover(b, &partner, simulator::DrOptions::default()).unwrap();
    world.sim.remote_copy().recover(b, &partner, simulator::DrOptions::default()).unwrap();
    world.advance(Duration::from_secs(3600));
    // The database lost its volumes' writability with the failover: it stops without a flush.
    world.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap().crash(&mut world.sim);
    let before = world.sim.digest();
    let error = world.engine.restore(&mut world.sim, Site::Remote, &key, kind).unwrap_err();
    assert!(matches!(engine_error(&error), Some(EngineError::RestoreNotPossible { .. })), "{error}");
    assert!(error.to_string().contains("takes no host writes"), "{error}");
    assert_eq!(world.sim.digest(), before, "a refused restore changes nothing");
}

#[test]
fn a_stale_copy_makes_verify_mount_and_restore_fail_with_its_code() {
    // Goal: spec §7.1/8 seen from Recovery Manager. A backup whose database copy went stale (a
    // snapshot-space failure under stale_ss) is not treated as valid: verify, mount and both
    // restores answer the array's INV_OPERATION_VV_SNAPSHOT_STALE (942), nothing panics, and the
    // backup can still be removed.
    // Method: give the database volume, past its database file, one page more than a 1 %
    // snapshot-space limit allows, back up, set the limit and overwrite those pages.
    const PAGE: usize = simulator::PAGE_SIZE;
    const FAR: u64 = 128 << 20;
    let mut world = World::new(47, Replication::None);
    world.work(20);
    let a = world.a;
    let size = world.sim.array(a).volume(DB_VOLUME).unwrap().size_bytes();
    let pages = (size / 100 / PAGE as u64) as usize + 1;
    world.sim.write(a, DB_VOLUME, FAR, &vec![1; pages * PAGE]).unwrap();
    let key = world.backup().key;
    let alerts = simulator::AllocationAlerts { snapshot_limit_pct: 1, ..simulator::AllocationAlerts::default() };
    let changes = simulator::VolumeChanges { alerts: Some(alerts), ..simulator::VolumeChanges::default() };
    world.sim.array_mut(a).modify_volume(DB_VOLUME, changes).unwrap();
    world.sim.write(a, DB_VOLUME, FAR, &vec![2; pages * PAGE]).unwrap();
    let db_copy = world.entry(Site::Local, &key).unwrap().copies[0].copy_volume.clone();
    assert!(world.sim.array(a).volume(&db_copy).unwrap().is_stale(), "{db_copy} is stale");
    let stale_code = |error: &recovery::Error| match error {
        recovery::Error::Array(e) => Some(e.code),
        _ => None,
    };
    let expected = Some(ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
    let error = world.engine.verify(&world.sim, Site::Local, &key).unwrap_err();
    assert_eq!(stale_code(&error), expected, "verify: {error}");
    let error = world.engine.mount(&mut world.sim, Site::Local, &key, LOCAL_HOST).unwrap_err();
    assert_eq!(stale_code(&error), expected, "mount: {error}");
    assert!(world.entry(Site::Local, &key).unwrap().mounted.is_none());
    let error = world.engine.restore(&mut world.sim, Site::Local, &key, RestoreKind::VolumePromote).unwrap_err();
    assert_eq!(stale_code(&error), expected, "volume promote: {error}");
    let file_copy = RestoreKind::FileCopy { host: LOCAL_HOST.into() };
    let error = world.engine.restore(&mut world.sim, Site::Local, &key, file_copy).unwrap_err();
    assert_eq!(stale_code(&error), expected, "file copy: {error}");
    world.engine.remove(&mut world.sim, Site::Local, &key).unwrap();
}
