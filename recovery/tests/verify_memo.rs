//! The memoised verifier ([`recovery::verify::VerifyMemo`]) against the full verification.

use proptest::prelude::*;
use recovery::exchange::layout::{db_page_offset, slot_offset};
use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{DatabaseConfig, DatabaseSpec};
use recovery::verify::{ArrayVolume, VerifyMemo, VerifyReport, verify_image};
use simulator::{ArrayId, Simulation, SnapshotSpec};

use crate::common::{proptest_config, setup_with};

/// Where a scribble lands.
#[derive(Debug, Clone, Copy)]
enum Area {
    /// The database volume, header and pages.
    Database,
    /// The log volume, superblock, checkpoint and slots.
    Log,
}

/// Bytes written over an image before it is verified: `len` bytes of `byte` (zeros tear).
#[derive(Debug, Clone, Copy)]
struct Scribble {
    area: Area,
    /// Fraction of the area, in 1/65536.
    at: u16,
    len: u16,
    byte: u8,
}

#[derive(Debug, Clone)]
enum Action {
    Transactions(u32),
    Flush(usize),
    Truncate,
    CrashAndMount,
    /// Verify read-write copies of both volumes, scribbled on first.
    VerifyCopy(Vec<Scribble>),
    /// Verify the live volumes themselves (the memo must not be fooled by in-place writes).
    VerifyLive,
    /// Verify the other database's volumes (an unrelated image).
    VerifyOther,
}

fn scribble_strategy() -> impl Strategy<Value = Scribble> {
    (prop_oneof![Just(Area::Database), Just(Area::Log)], any::<u16>(), 1u16..700, prop_oneof![Just(0u8), any::<u8>()])
        .prop_map(|(area, at, len, byte)| Scribble { area, at, len, byte })
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (1u32..40).prop_map(Action::Transactions),
        2 => (0usize..20).prop_map(Action::Flush),
        1 => Just(Action::Truncate),
        1 => Just(Action::CrashAndMount),
        4 => prop::collection::vec(scribble_strategy(), 0..3).prop_map(Action::VerifyCopy),
        1 => Just(Action::VerifyLive),
        1 => Just(Action::VerifyOther),
    ]
}

/// Layouts: the small one (16 KiB generations: a slot per simulator page) and one whose pages
/// and generations straddle simulator pages (64 KiB generations, 300 pages).
fn layout(wide: bool) -> DatabaseConfig {
    if wide {
        DatabaseConfig { page_count: 300, log_slot_bytes: 64 * 1024, log_slot_count: 24, ..DatabaseConfig::small() }
    } else {
        DatabaseConfig::small()
    }
}

fn full(sim: &Simulation, array: ArrayId, db: &str, log: &str) -> VerifyReport {
    let db = ArrayVolume::new(sim, array, db).unwrap();
    let log = ArrayVolume::new(sim, array, log).unwrap();
    verify_image(&db, &log).unwrap()
}

fn scribble(sim: &mut Simulation, array: ArrayId, volume: &str, end: u64, scribble: Scribble) {
    let at = end * u64::from(scribble.at) / 65536;
    let len = u64::from(scribble.len).min(end - at) as usize;
    sim.write(array, volume, at, &vec![scribble.byte; len]).unwrap();
}

proptest! {
    #![proptest_config(proptest_config(64, "tests/proptest-regressions/verify_memo.txt"))]

    /// Goal: the memoised verification gives exactly the full verification's report, every
    /// field, whatever happened since the memo's last image: new records in the current
    /// generation, flushed pages, truncation, a crash and remount, scribbles anywhere in either
    /// volume (headers, superblock, checkpoint, pages, records, zeros that tear), the live
    /// volumes written in place, an unrelated database. Method: one memo follows a random
    /// history; at each verification compare with `verify_image` on the same volumes.
    #[test]
    fn memo_agrees_with_full_verification(
        seed in any::<u64>(),
        wide in any::<bool>(),
        actions in prop::collection::vec(action_strategy(), 1..24),
    ) {
        let (mut sim, mut server) = setup_with(seed, layout(wide));
        let a = sim.primary();
        let other = DatabaseSpec {
            name: "DB2".into(),
            db_volume: "db2".into(),
            log_volume: "db2.log".into(),
            cpg: "FC_r6".into(),
            snap_cpg: None,
            config: layout(!wide),
        };
        server.create_database(&mut sim, other).unwrap();
        server.database_mut("DB2").unwrap().mount(&mut sim).unwrap();
        let mut workload2 = Workload::new(seed ^ 1, WorkloadConfig::default());
        for _ in 0..20 {
            workload2.step(&mut sim, server.database_mut("DB2").unwrap()).unwrap();
        }
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let config = *db.config();
        let db_end = db_page_offset(config.page_count);
        let log_end = slot_offset(config.log_slot_bytes, config.log_slot_count);
        let config = WorkloadConfig { flush_every: 5, pages_per_flush: 4, ..WorkloadConfig::default() };
        let mut workload = Workload::new(seed, config);
        let mut memo = VerifyMemo::new();
        let mut copies = 0;
        for action in actions {
            let (db_volume, log_volume) = match action {
                Action::Transactions(n) => {
                    for _ in 0..n {
                        if workload.step(&mut sim, db).is_err() {
                            break; // the log disk filled up: nothing was written
                        }
                    }
                    continue;
                }
                Action::Flush(pages) => {
                    db.flush(&mut sim, pages).unwrap();
                    continue;
                }
                Action::Truncate => {
                    let checkpoint = db.checkpoint_generation().unwrap();
                    db.truncate_logs(&mut sim, checkpoint).unwrap();
                    continue;
                }
                Action::CrashAndMount => {
                    db.crash(&mut sim);
                    db.mount(&mut sim).unwrap();
                    continue;
                }
                Action::VerifyCopy(scribbles) => {
                    copies += 1;
                    let names = (format!("db1.c{copies}"), format!("db1.log.c{copies}"));
                    for (base, copy) in [("db1", &names.0), ("db1.log", &names.1)] {
                        sim.array_mut(a).create_snapshot(base, SnapshotSpec::read_write(copy)).unwrap();
                    }
                    for s in scribbles {
                        match s.area {
                            Area::Database => scribble(&mut sim, a, &names.0, db_end, s),
                            Area::Log => scribble(&mut sim, a, &names.1, log_end, s),
                        }
                    }
                    names
                }
                Action::VerifyLive => ("db1".to_owned(), "db1.log".to_owned()),
                Action::VerifyOther => ("db2".to_owned(), "db2.log".to_owned()),
            };
            let memoised = memo.verify_on_array(&sim, a, &db_volume, &log_volume).unwrap();
            prop_assert_eq!(memoised, full(&sim, a, &db_volume, &log_volume), "{} + {}", db_volume, log_volume);
        }
    }
}

#[test]
fn memo_of_an_offline_array_fails_and_starts_over() {
    // Goal: a failed read leaves no stale memo behind. Method: verify, crash the array (the
    // verification fails with ARRAY_OFFLINE), restart, write, verify again: equal to the full one.
    let (mut sim, mut server) = setup_with(5, DatabaseConfig::small());
    let a = sim.primary();
    let db = server.database_mut("DB1").unwrap();
    db.mount(&mut sim).unwrap();
    let mut workload = Workload::new(5, WorkloadConfig::default());
    for _ in 0..30 {
        workload.step(&mut sim, db).unwrap();
    }
    let mut memo = VerifyMemo::new();
    assert_eq!(memo.verify_on_array(&sim, a, "db1", "db1.log").unwrap(), full(&sim, a, "db1", "db1.log"));
    sim.crash_array(a);
    let error = memo.verify_on_array(&sim, a, "db1", "db1.log").unwrap_err();
    assert_eq!(error.code, simulator::ErrorCode::ARRAY_OFFLINE);
    sim.restart_array(a);
    sim.write(a, "db1.log", 20_000, &[7u8; 300]).unwrap();
    let report = memo.verify_on_array(&sim, a, "db1", "db1.log").unwrap();
    assert_eq!(report, full(&sim, a, "db1", "db1.log"));
}
