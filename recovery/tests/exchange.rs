//! The Exchange model and the verifier against a reference (spec §7.7 invariants 34 and 35).

use proptest::prelude::*;
use recovery::exchange::layout::{
    CHECKPOINT_OFFSET, GENERATION_HEADER_SIZE, GenerationHeader, LOG_SLOTS_OFFSET, slot_of,
};
use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{CommitOutcome, Database, ReferenceContents};
use recovery::verify::{
    ArrayVolume, Unrecoverable, read_database_contents, soft_recover_on_array, verify_database_only, verify_image,
};
use simulator::{ArrayId, SetSnapshotSpec, SetSpec, Simulation, SnapshotSpec};

use crate::common::{proptest_config, setup};

/// What the model knew when a snapshot was taken: the reference for the verdict.
#[derive(Debug, Clone)]
struct Taken {
    db_copy: String,
    log_copy: String,
    checkpoint: u64,
    current: u64,
    oldest: u64,
    contents: ReferenceContents,
}

/// Damage applied to a snapshot's read-write copy before verification.
#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    /// Delete the generation at this index of the image's generations.
    DeleteGeneration(usize),
    /// Flip a byte inside the generation's first record.
    CorruptGeneration(usize),
    /// Zero the second half of the generation's records.
    TearGeneration(usize),
    /// Zero the checkpoint (recovery falls back to the header's low end).
    WipeCheckpoint,
    /// Flip a byte of the database header.
    CorruptHeader,
    /// Verify the database volume alone.
    DatabaseOnly,
}

/// The verdict expected from the model's knowledge alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Recoverable,
    Missing(u64),
    Gap(u64),
    Checksum(u64),
    Torn(u64),
    HeaderCorrupt,
    NoLogs,
}

fn take_snapshot(sim: &mut Simulation, db: &Database, index: usize, contents: &ReferenceContents) -> Taken {
    let a = sim.primary();
    if sim.array(a).volume_set("dbset").is_err() {
        let spec =
            SetSpec { name: "dbset".into(), members: vec!["db1".into(), "db1.log".into()], ..SetSpec::default() };
        sim.array_mut(a).create_volume_set(spec).unwrap();
    }
    // Both volumes at one instant, as VSS commits a set.
    let pattern = format!("@vvname@.s{index}");
    let spec = SetSnapshotSpec { pattern, read_only: true, ..SetSnapshotSpec::default() };
    sim.array_mut(a).snapshot_volume_set("dbset", spec).unwrap();
    let (db_ro, log_ro) = (format!("db1.s{index}"), format!("db1.log.s{index}"));
    for ro in [&db_ro, &log_ro] {
        sim.array_mut(a).create_snapshot(ro, SnapshotSpec::read_write(&format!("{ro}w"))).unwrap();
    }
    Taken {
        db_copy: format!("{db_ro}w"),
        log_copy: format!("{log_ro}w"),
        checkpoint: db.checkpoint_generation().unwrap(),
        current: db.current_generation().unwrap(),
        oldest: db.oldest_generation().unwrap(),
        contents: contents.clone(),
    }
}

fn generation_header(sim: &Simulation, a: ArrayId, log: &str, generation: u64) -> (u64, GenerationHeader) {
    let config = recovery::exchange::DatabaseConfig::small();
    let offset =
        LOG_SLOTS_OFFSET + u64::from(slot_of(generation, config.log_slot_count)) * u64::from(config.log_slot_bytes);
    let bytes = sim.read(a, log, offset, GENERATION_HEADER_SIZE).unwrap();
    (offset, GenerationHeader::decode(&bytes).unwrap())
}

/// Applies `damage` to the copy and returns the expected verdict.
fn damage_copy(sim: &mut Simulation, taken: &Taken, damage: Damage) -> Expected {
    let a = sim.primary();
    let required = taken.checkpoint..=taken.current;
    let pick = |i: usize| taken.oldest + (i as u64) % (taken.current - taken.oldest + 1);
    match damage {
        Damage::None | Damage::WipeCheckpoint => {
            if let Damage::WipeCheckpoint = damage {
                sim.write(a, &taken.log_copy, CHECKPOINT_OFFSET, &[0u8; 4096]).unwrap();
            }
            Expected::Recoverable
        }
        Damage::DeleteGeneration(i) => {
            let g = pick(i);
            let (offset, _) = generation_header(sim, a, &taken.log_copy, g);
            sim.write(a, &taken.log_copy, offset, &[0u8; GENERATION_HEADER_SIZE]).unwrap();
            match (required.contains(&g), g == taken.current) {
                (false, _) => Expected::Recoverable,
                (true, true) => Expected::Missing(g),
                (true, false) => Expected::Gap(g),
            }
        }
        Damage::CorruptGeneration(i) | Damage::TearGeneration(i) => {
            let g = pick(i);
            let (offset, header) = generation_header(sim, a, &taken.log_copy, g);
            if header.record_count < 2 {
                return Expected::Recoverable;
            }
            let payload = offset + GENERATION_HEADER_SIZE as u64;
            if let Damage::CorruptGeneration(_) = damage {
                // Byte 20 is inside the first record's data (16 bytes of overhead, ≥ 8 of data).
                let byte = sim.read(a, &taken.log_copy, payload + 20, 1).unwrap()[0];
                sim.write(a, &taken.log_copy, payload + 20, &[byte ^ 0x5a]).unwrap();
            } else {
                let half = u64::from(header.payload_bytes) / 2;
                let zeros = vec![0u8; (u64::from(header.payload_bytes) - half) as usize];
                sim.write(a, &taken.log_copy, payload + half, &zeros).unwrap();
            }
            match (required.contains(&g), damage) {
                (false, _) => Expected::Recoverable,
                (true, Damage::CorruptGeneration(_)) => Expected::Checksum(g),
                (true, _) => Expected::Torn(g),
            }
        }
        Damage::CorruptHeader => {
            let byte = sim.read(a, &taken.db_copy, 8, 1).unwrap()[0];
            sim.write(a, &taken.db_copy, 8, &[byte ^ 1]).unwrap();
            Expected::HeaderCorrupt
        }
        Damage::DatabaseOnly => Expected::NoLogs,
    }
}

fn check_verdict(sim: &mut Simulation, taken: &Taken, damage: Damage, expected: Expected) {
    let a = sim.primary();
    let db = ArrayVolume::new(sim, a, &taken.db_copy).unwrap();
    let log = ArrayVolume::new(sim, a, &taken.log_copy).unwrap();
    let report = match damage {
        Damage::DatabaseOnly => verify_database_only(&db).unwrap(),
        _ => verify_image(&db, &log).unwrap(),
    };
    let first = report.problems.first().cloned();
    match expected {
        Expected::Recoverable => assert!(report.is_recoverable(), "{damage:?}: {report:?}"),
        Expected::Missing(g) => assert_eq!(first, Some(Unrecoverable::MissingGeneration { generation: g })),
        Expected::Gap(g) => {
            assert_eq!(first, Some(Unrecoverable::GenerationGap { missing: g, next_present: g + 1 }))
        }
        Expected::Checksum(g) => assert_eq!(first, Some(Unrecoverable::LogChecksumMismatch { generation: g })),
        Expected::Torn(g) => {
            assert!(matches!(first, Some(Unrecoverable::TornLog { generation, .. }) if generation == g), "{report:?}")
        }
        Expected::HeaderCorrupt => assert!(matches!(first, Some(Unrecoverable::DatabaseHeaderCorrupt(_)))),
        Expected::NoLogs => assert!(matches!(first, Some(Unrecoverable::DirtyShutdownWithoutLogs { .. }))),
    }
    if expected != Expected::Recoverable {
        return;
    }
    // Invariant 34: soft recovery of a recoverable image yields Clean Shutdown and exactly the
    // content committed when the snapshot was taken.
    soft_recover_on_array(sim, a, &taken.db_copy, &taken.log_copy).unwrap();
    let db = ArrayVolume::new(sim, a, &taken.db_copy).unwrap();
    let after = verify_database_only(&db).unwrap();
    assert!(after.is_recoverable() && !after.needs_replay(), "{after:?}");
    assert_eq!(read_database_contents(&db).unwrap(), taken.contents.pages);
}

#[derive(Debug, Clone)]
enum Action {
    Transactions(u32),
    Flush(usize),
    Truncate,
    CrashAndMount,
    Snapshot(Damage),
}

fn damage_strategy() -> impl Strategy<Value = Damage> {
    prop_oneof![
        2 => Just(Damage::None),
        2 => any::<usize>().prop_map(Damage::DeleteGeneration),
        2 => any::<usize>().prop_map(Damage::CorruptGeneration),
        2 => any::<usize>().prop_map(Damage::TearGeneration),
        1 => Just(Damage::WipeCheckpoint),
        1 => Just(Damage::CorruptHeader),
        1 => Just(Damage::DatabaseOnly),
    ]
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (1u32..60).prop_map(Action::Transactions),
        2 => (0usize..40).prop_map(Action::Flush),
        1 => Just(Action::Truncate),
        1 => Just(Action::CrashAndMount),
        3 => damage_strategy().prop_map(Action::Snapshot),
    ]
}

proptest! {
    #![proptest_config(proptest_config(64, "tests/proptest-regressions/exchange.txt"))]

    /// Goal: for random workloads, snapshots at random points and random damage, the verifier's
    /// verdict equals the one computed from the model's knowledge (checkpoint, current
    /// generation, what was damaged), and every recoverable image recovers to the committed
    /// content. Method: run actions on a live database; at each snapshot take both volumes at
    /// one instant, damage a read-write copy, verify, recover.
    #[test]
    fn verdict_matches_reference(seed in any::<u64>(), actions in prop::collection::vec(action_strategy(), 1..14)) {
        let (mut sim, mut server) = setup(seed);
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let config = WorkloadConfig { flush_every: 7, pages_per_flush: 3, ..WorkloadConfig::default() };
        let mut workload = Workload::new(seed, config);
        let mut contents = ReferenceContents::default();
        let mut snapshots = 0;
        for action in actions {
            match action {
                Action::Transactions(n) => {
                    for _ in 0..n {
                        let step = workload.step(&mut sim, db).unwrap();
                        let committed = matches!(step.outcome, CommitOutcome::Committed { .. });
                        prop_assert!(committed);
                        contents.apply(&step.transaction);
                    }
                }
                Action::Flush(pages) => {
                    db.flush(&mut sim, pages).unwrap();
                    // Clean pages beyond the cache bound are dropped; dirty ones never.
                    let bound = db.config().cache_pages_max.max(db.dirty_pages());
                    prop_assert!(db.cached_pages() <= bound);
                }
                Action::Truncate => {
                    let checkpoint = db.checkpoint_generation().unwrap();
                    db.truncate_logs(&mut sim, checkpoint).unwrap();
                    prop_assert!(db.oldest_generation().unwrap() <= checkpoint);
                }
                Action::CrashAndMount => {
                    db.crash(&mut sim);
                    db.mount(&mut sim).unwrap();
                }
                Action::Snapshot(damage) => {
                    let taken = take_snapshot(&mut sim, db, snapshots, &contents);
                    snapshots += 1;
                    let expected = damage_copy(&mut sim, &taken, damage);
                    check_verdict(&mut sim, &taken, damage, expected);
                }
            }
        }
        // The live database itself always recovers to the committed content.
        db.crash(&mut sim);
        db.mount(&mut sim).unwrap();
        db.dismount(&mut sim).unwrap();
        let a = sim.primary();
        let image = ArrayVolume::new(&sim, a, "db1").unwrap();
        prop_assert_eq!(read_database_contents(&image).unwrap(), contents.pages);
    }
}

#[test]
fn gap_makes_later_generations_unusable() {
    // Goal: invariant 35: with a generation missing inside the required range, the image is not
    // recoverable even though every later generation is intact. Method: no flush (checkpoint
    // stays at the first generation), delete a middle generation on a copy.
    let (mut sim, mut server) = setup(3);
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    let mut workload = Workload::new(3, WorkloadConfig { flush_every: 0, ..WorkloadConfig::default() });
    let mut contents = ReferenceContents::default();
    for _ in 0..150 {
        contents.apply(&workload.step(&mut sim, db).unwrap().transaction);
    }
    assert!(db.current_generation().unwrap() >= 4);
    let taken = take_snapshot(&mut sim, db, 0, &contents);
    assert_eq!(taken.checkpoint, 1);
    let expected = damage_copy(&mut sim, &taken, Damage::DeleteGeneration(1));
    assert_eq!(expected, Expected::Gap(2));
    check_verdict(&mut sim, &taken, Damage::DeleteGeneration(1), expected);
}

#[test]
fn log_disk_full_is_refused_and_truncation_frees_it() {
    // Goal: with every slot holding an untruncated generation, the next generation is refused
    // with LogDiskFull and nothing is written; truncation below the checkpoint makes room.
    let (mut sim, mut server) = setup(4);
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    let mut workload = Workload::new(4, WorkloadConfig { flush_every: 0, ..WorkloadConfig::default() });
    let refused = loop {
        match workload.step(&mut sim, db) {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert!(matches!(refused, recovery::exchange::ExchangeError::LogDiskFull { .. }), "{refused}");
    db.flush(&mut sim, usize::MAX).unwrap();
    let checkpoint = db.checkpoint_generation().unwrap();
    assert!(db.truncate_logs(&mut sim, checkpoint).unwrap().is_some());
    workload.step(&mut sim, db).unwrap();
}

#[test]
fn a_copy_mounted_on_a_host_and_a_memory_image_give_the_same_verdict() {
    // Goal: the verifier reads any image: a copy exported to a backup server's host (through
    // its LUNs) and an in-memory copy of it give the same report as the array volumes.
    // Method: snapshot a running database, export the read-write copies, verify three ways.
    use recovery::verify::{HostLun, MemoryImage};
    use simulator::{HostSpec, VlunSpec};
    let (mut sim, mut server) = setup(5);
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    let mut workload = Workload::new(5, WorkloadConfig::default());
    let mut contents = ReferenceContents::default();
    for _ in 0..80 {
        contents.apply(&workload.step(&mut sim, db).unwrap().transaction);
    }
    let taken = take_snapshot(&mut sim, db, 0, &contents);
    let a = sim.primary();
    sim.array_mut(a).create_host(HostSpec { name: "bkp-a".into(), ..HostSpec::default() }).unwrap();
    let mut luns = Vec::new();
    for volume in [&taken.db_copy, &taken.log_copy] {
        let spec =
            VlunSpec { volume: volume.clone(), host: Some("bkp-a".into()), auto_lun: true, ..VlunSpec::default() };
        luns.push(sim.array_mut(a).create_vlun(spec).unwrap());
    }
    let on_array = verify_image(
        &ArrayVolume::new(&sim, a, &taken.db_copy).unwrap(),
        &ArrayVolume::new(&sim, a, &taken.log_copy).unwrap(),
    )
    .unwrap();
    let db_lun = HostLun::new(&sim, a, "bkp-a", luns[0]).unwrap();
    let log_lun = HostLun::new(&sim, a, "bkp-a", luns[1]).unwrap();
    let mounted = verify_image(&db_lun, &log_lun).unwrap();
    let log_bytes = 16 * 1024 + 64 * 16 * 1024;
    let in_memory = verify_image(
        &MemoryImage::copy_of(&db_lun, 1 << 20).unwrap(),
        &MemoryImage::copy_of(&log_lun, log_bytes).unwrap(),
    )
    .unwrap();
    assert!(on_array.is_recoverable() && on_array.needs_replay());
    assert_eq!(mounted, on_array);
    assert_eq!(in_memory, on_array);
}

proptest! {
    #![proptest_config(proptest_config(48, "tests/proptest-regressions/exchange_damage.txt"))]

    /// Goal: the verifier never panics on damaged bytes, and whatever it calls recoverable does
    /// recover to a clean header. Method: copy a running database's snapshot into memory, write
    /// random bytes at random offsets of the used areas, verify, and recover when recoverable.
    #[test]
    fn random_damage_never_panics(
        seed in any::<u64>(),
        damage in prop::collection::vec((any::<bool>(), any::<u32>(), prop::collection::vec(any::<u8>(), 1..64)), 1..6),
    ) {
        use recovery::verify::{MemoryImage, WriteAt, soft_recover};
        let (mut sim, mut server) = setup(seed);
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let mut workload = Workload::new(seed, WorkloadConfig { flush_every: 9, ..WorkloadConfig::default() });
        for _ in 0..(seed % 120) {
            workload.step(&mut sim, db).unwrap();
        }
        let taken = take_snapshot(&mut sim, db, 0, &ReferenceContents::default());
        let a = sim.primary();
        let (db_used, log_used) = (65 * 4096u64, 16 * 1024 + 64 * 16 * 1024u64);
        let mut db_image = MemoryImage::copy_of(&ArrayVolume::new(&sim, a, &taken.db_copy).unwrap(), db_used).unwrap();
        let mut log_image = MemoryImage::copy_of(&ArrayVolume::new(&sim, a, &taken.log_copy).unwrap(), log_used).unwrap();
        for (on_log, at, bytes) in damage {
            let (image, used) = if on_log { (&mut log_image, log_used) } else { (&mut db_image, db_used) };
            let offset = u64::from(at) % (used - bytes.len() as u64);
            image.write_at(offset, &bytes).unwrap();
        }
        let report = verify_image(&db_image, &log_image).unwrap();
        if report.is_recoverable() {
            soft_recover(&mut db_image, &log_image).unwrap();
            let after = verify_database_only(&db_image).unwrap();
            prop_assert!(after.is_recoverable() && !after.needs_replay(), "{:?}", after);
        } else {
            prop_assert!(soft_recover(&mut db_image, &log_image).is_err());
        }
    }
}

#[test]
fn foreign_logs_and_damaged_pages_are_named() {
    // Goal: the verifier names two more reasons: logs of another database paired with this one,
    // and a database page failing its checksum. Method: two databases; pair one's database copy
    // with the other's log copy; flip a byte of a flushed page.
    use recovery::exchange::{DatabaseConfig, DatabaseSpec};
    let (mut sim, mut server) = setup(6);
    let spec = DatabaseSpec {
        name: "DB2".into(),
        db_volume: "db2".into(),
        log_volume: "db2.log".into(),
        cpg: "FC_r6".into(),
        snap_cpg: None,
        config: DatabaseConfig::small(),
    };
    server.create_database(&mut sim, spec).unwrap();
    let mut workload = Workload::new(6, WorkloadConfig::default());
    for name in ["DB1", "DB2"] {
        let db = server.database_mut(name).unwrap();
        db.mount(&mut sim).unwrap();
        for _ in 0..20 {
            workload.step(&mut sim, db).unwrap();
        }
        db.flush(&mut sim, usize::MAX).unwrap();
    }
    let a = sim.primary();
    let report =
        verify_image(&ArrayVolume::new(&sim, a, "db1").unwrap(), &ArrayVolume::new(&sim, a, "db2.log").unwrap())
            .unwrap();
    assert!(matches!(report.problems[..], [Unrecoverable::LogsOfAnotherDatabase { .. }]), "{report:?}");

    let page = *read_database_contents(&ArrayVolume::new(&sim, a, "db1").unwrap()).unwrap().keys().next().unwrap();
    let offset = recovery::exchange::layout::db_page_offset(page) + 100;
    let byte = sim.read(a, "db1", offset, 1).unwrap()[0];
    sim.write(a, "db1", offset, &[byte ^ 0xff]).unwrap();
    let report =
        verify_image(&ArrayVolume::new(&sim, a, "db1").unwrap(), &ArrayVolume::new(&sim, a, "db1.log").unwrap())
            .unwrap();
    assert!(
        matches!(report.problems[..], [Unrecoverable::DatabasePageCorrupt { page: p, .. }] if p == page),
        "{report:?}"
    );
}

#[test]
fn held_transactions_are_bounded() {
    // Goal: while frozen, transactions beyond the configured bound are refused with a typed
    // error (never silently dropped), and the held ones commit at thaw.
    use recovery::exchange::{DatabaseConfig, ExchangeError};
    let config = DatabaseConfig { held_transactions_max: 3, ..DatabaseConfig::small() };
    let (mut sim, mut server) = crate::common::setup_with(7, config);
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    db.freeze(&mut sim).unwrap();
    let mut workload = Workload::new(7, WorkloadConfig::default());
    let mut contents = ReferenceContents::default();
    for _ in 0..3 {
        let step = workload.step(&mut sim, db).unwrap();
        assert_eq!(step.outcome, CommitOutcome::Held);
        contents.apply(&step.transaction);
    }
    let refused = db.commit(&mut sim, workload.next_transaction(64)).unwrap_err();
    assert_eq!(refused, ExchangeError::FrozenQueueFull { database: "DB1".into(), held: 3 });
    assert_eq!(db.freeze(&mut sim).unwrap_err(), ExchangeError::Frozen("DB1".into()));
    assert_eq!(db.thaw(&mut sim).unwrap(), 3);
    assert_eq!(db.thaw(&mut sim).unwrap_err(), ExchangeError::NotFrozen("DB1".into()));
    db.dismount(&mut sim).unwrap();
    let a = sim.primary();
    assert_eq!(read_database_contents(&ArrayVolume::new(&sim, a, "db1").unwrap()).unwrap(), contents.pages);
}

#[test]
fn a_damaged_page_is_refused_not_rebuilt() {
    // Goal: never lost data: a transaction touching a page that fails its checksum on the volume
    // is refused (JET -1018) and writes nothing, instead of rebuilding the page from zeros; a
    // mount of a database with a damaged page is refused too. Method: flush a page, remount,
    // damage it, commit to it.
    use recovery::exchange::{ExchangeError, PageUpdate, Transaction};
    let (mut sim, mut server) = setup(8);
    let a = sim.primary();
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    let update = |byte: u8| Transaction { updates: vec![PageUpdate { page: 3, offset: 0, bytes: vec![byte; 16] }] };
    db.commit(&mut sim, update(1)).unwrap();
    db.dismount(&mut sim).unwrap();
    db.mount(&mut sim).unwrap();
    let offset = recovery::exchange::layout::db_page_offset(3) + 40;
    sim.write(a, "db1", offset, &[0xee]).unwrap();
    let writes = db.stats();
    let refused = db.commit(&mut sim, update(2)).unwrap_err();
    assert!(matches!(refused, ExchangeError::PageCorrupt { page: 3, .. }), "{refused}");
    assert_eq!(db.stats(), writes, "nothing written");
    assert!(db.is_mounted());
    db.crash(&mut sim);
    assert!(matches!(db.mount(&mut sim), Err(ExchangeError::NotRecoverable(_))));
}
