//! Recovery engine benches (issue 4): in-process model time of one complete backup.
//!
//! One Exchange database on two 1 GiB thin volumes (the default layout at the start of each, the
//! rest of the database volume filled with one shared page so the images are full-size), 16 MiB
//! changed between backups (1,024 whole pages at a rotating place beyond the database's pages,
//! plus eight Exchange transactions), numeric policy of four copy sets removing the oldest, so
//! every measured backup also removes its oldest set (steady state). The change and one second of
//! virtual time between backups are not timed.
//!
//! Group `backup`, ids `none`, `sync`, `periodic`: a FULL backup with the integrity check in each
//! Remote Copy mode, repositories on a tempdir (`Directory`) with `Durability::Unsynced` (atomic
//! rename, no fsync: the disk's fsync floor is reported separately by
//! `cargo bench -p recovery --bench repository`). Target ≥ 20,000 backups/s for `none` and
//! `sync`; `periodic` includes its Remote Copy sync of the changed pages.
//!
//! Group `backup_model`, same ids: the same backups with in-memory repositories (same commit
//! points, no files): the model's own time, without the file system.
//!
//! Group `backup_checked`, same ids: as `backup_model` with the oldest sets removed before each
//! backup, untimed (so the timed call frees no page): the workflow with its integrity check.
//!
//! Group `backup_steps`, same ids: the workflow's own steps — `-nc` (no verifier pass over the
//! database and logs) and the oldest sets removed before each backup, untimed — with in-memory
//! repositories. `backup_checked` − `backup_steps` is the integrity check; `backup_model` −
//! `backup_checked` is the policy's removal of the oldest set.
//!
//! Group `backup_periodic_changed`, ids `1MiB`, `16MiB`, `64MiB`: periodic backups as in
//! `backup_steps` after that much change, to show the cost follows the changed pages.
//!
//! Group `backup_other_databases`, ids `0`, `16`, `64`: `backup_model/sync` with that many other
//! databases on the same mailbox server, each with its four copy sets in the local repository
//! (no Remote Copy: their volumes are in no group). A backup reads only its own database's
//! repository entries; what still grows with the others is VSS Identify, where the Exchange
//! writer reports every mounted database of its server (see `docs/benchmarks.md`).
//!
//! Group `backup_removal`, ids `none`, `sync`: the removal of the oldest set (on each array that
//! has one) alone, as `Engine::remove` does it for each site — the same dissolve as the
//! policy's, without its planning — in the steady state of `backup_model` (after the change, so
//! the copy being deleted alone holds the 1,024 pages the change overwrote). Ids `none_warm`,
//! `sync_warm`: the same after reading, untimed, what the deleted copies alone hold (the pages
//! and trie nodes where they differ from the next copies): the difference is what the removal
//! spends waiting on memory last touched several backups earlier.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use recovery::engine::{BackupRequest, BackupServerConfig, Engine, EngineConfig, PolicySpec, RepositoryStorage};
use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{DatabaseConfig, DatabaseSpec, MailboxServer};
use recovery::repository::{Durability, EntryKey, Site};
use simulator::page::PageChange;
use simulator::{AdmitSpec, CpgSpec, GroupSpec, Mode, PAGE_SIZE, PageIndex, Simulation, StartOptions};

const SERVER: &str = "MBX01";
const DATABASE: &str = "DB1";
/// Where the bench's changes go on the database volume: beyond the database's pages.
const CHANGE_AREA_MIB: u64 = 64;
/// The numeric policy's maximum: copy sets kept per array.
const MAX_SETS: u32 = 4;

struct Bench {
    sim: Simulation,
    engine: Engine,
    workload: Workload,
    round: u64,
    _dir: tempfile::TempDir,
}

fn bench_world(mode: Option<Mode>, on_disk: bool) -> Bench {
    bench_world_with(mode, on_disk, 0)
}

/// The name of other database `i` (group `backup_other_databases`).
fn other_database(i: usize) -> String {
    format!("DB{}", i + 2)
}

/// [`bench_world`] with `other_databases` more databases on the server (their own volumes, no
/// Remote Copy), each with `MAX_SETS` copy sets taken.
fn bench_world_with(mode: Option<Mode>, on_disk: bool, other_databases: usize) -> Bench {
    let mut sim = Simulation::new(1);
    let (a, b) = (sim.primary(), sim.backup());
    for array in [a, b] {
        sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
    }
    let mut server = MailboxServer::create(&mut sim, a, SERVER, "mbx01", &[]).unwrap();
    let spec = DatabaseSpec {
        name: DATABASE.into(),
        db_volume: "db1".into(),
        log_volume: "db1.log".into(),
        cpg: "FC".into(),
        snap_cpg: None,
        config: DatabaseConfig::default(),
    };
    server.create_database(&mut sim, spec).unwrap();
    for i in 0..other_databases {
        let spec = DatabaseSpec {
            name: other_database(i),
            db_volume: format!("odb{i}"),
            log_volume: format!("odb{i}.log"),
            cpg: "FC".into(),
            snap_cpg: None,
            config: DatabaseConfig::default(),
        };
        server.create_database(&mut sim, spec).unwrap();
        server.database_mut(&other_database(i)).unwrap().mount(&mut sim).unwrap();
    }
    let pages_per_mib = (1 << 20) / PAGE_SIZE as u64;
    let first = PageIndex(CHANGE_AREA_MIB * pages_per_mib);
    sim.array_mut(a)
        .fill_volume("db1", first, (1024 - CHANGE_AREA_MIB) * pages_per_mib, &vec![0x5A; PAGE_SIZE])
        .unwrap();
    server.database_mut(DATABASE).unwrap().mount(&mut sim).unwrap();
    if let Some(mode) = mode {
        let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
        let spec = GroupSpec {
            remote_user_cpg: Some("FC".into()),
            remote_snap_cpg: Some("FC".into()),
            ..GroupSpec::new("rcg", &target, mode)
        };
        sim.remote_copy().create_group(a, spec).unwrap();
        for volume in ["db1", "db1.log"] {
            let admit = AdmitSpec {
                volume: volume.into(),
                secondary: volume.into(),
                auto_create: true,
                ..AdmitSpec::default()
            };
            sim.remote_copy().admit_volume(a, "rcg", admit).unwrap();
        }
        sim.remote_copy().start_group(a, "rcg", &StartOptions::default()).unwrap();
        let deadline = sim.now() + Duration::from_secs(3600);
        assert!(sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()));
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = |name: &str| {
        if on_disk { RepositoryStorage::Directory(dir.path().join(name)) } else { RepositoryStorage::Memory }
    };
    let mut config = EngineConfig::new(
        BackupServerConfig { name: "BKP-A".into(), array: a, storage: storage("local") },
        Some(BackupServerConfig { name: "BKP-B".into(), array: b, storage: storage("remote") }),
    );
    config.durability = Durability::Unsynced;
    let mut engine = Engine::new(config).unwrap();
    engine.register_mailbox_server(&mut sim, server).unwrap();
    engine.set_policy(SERVER, DATABASE, PolicySpec::numeric(MAX_SETS, true)).unwrap();
    for i in 0..other_databases {
        engine.set_policy(SERVER, &other_database(i), PolicySpec::numeric(MAX_SETS, true)).unwrap();
        for _ in 0..MAX_SETS {
            engine.backup(&mut sim, &BackupRequest::full(SERVER, &other_database(i))).unwrap();
            sim.advance(Duration::from_secs(1));
        }
    }
    let workload = Workload::new(1, WorkloadConfig::default());
    Bench { sim, engine, workload, round: 0, _dir: dir }
}

impl Bench {
    /// The untimed part between two backups: `changed_mib` of whole pages, eight transactions,
    /// one second of virtual time.
    fn change(&mut self, changed_mib: u64) {
        let a = self.sim.primary();
        self.round += 1;
        let slots = (1024 - CHANGE_AREA_MIB - 64) / changed_mib.max(1);
        let offset = (CHANGE_AREA_MIB + (self.round % slots) * changed_mib) << 20;
        let data = vec![(self.round % 251) as u8; (changed_mib << 20) as usize];
        self.sim.write(a, "db1", offset, &data).unwrap();
        let db = self.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
        for _ in 0..8 {
            self.workload.step(&mut self.sim, db).unwrap();
        }
        self.sim.advance(Duration::from_secs(1));
    }

    /// Removes the oldest sets (untimed) so the next backup finds fewer than the policy's
    /// maximum and removes nothing itself.
    fn make_room(&mut self) {
        for site in [Site::Local, Site::Remote] {
            let keys: Vec<EntryKey> = self
                .engine
                .list(SERVER, DATABASE)
                .into_iter()
                .filter(|(s, _)| *s == site)
                .map(|(_, e)| e.key.clone())
                .collect();
            for key in keys.iter().take(keys.len().saturating_sub(MAX_SETS as usize - 1)) {
                self.engine.remove(&mut self.sim, site, key).unwrap();
            }
        }
    }

    /// Times `iterations` backups (only the backups). `check`: with the integrity check (else
    /// `-nc`); `removal`: the policy removes the oldest set inside the timed call (else the oldest
    /// sets are removed before it, untimed).
    fn time(&mut self, iterations: u64, changed_mib: u64, Timed { check, removal }: Timed) -> Duration {
        let request = BackupRequest { no_integrity_check: !check, ..BackupRequest::full(SERVER, DATABASE) };
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            self.change(changed_mib);
            if !removal {
                self.make_room();
            }
            let start = Instant::now();
            let report = self.engine.backup(&mut self.sim, &request).unwrap();
            total += start.elapsed();
            assert!(report.remote_copy_failure.is_none());
        }
        total
    }

    /// Times `iterations` removals of the oldest sets (see group `backup_removal`); `warm`: read
    /// what the deleted copies alone hold first, untimed.
    fn time_removal(&mut self, iterations: u64, warm: bool) -> Duration {
        let request = BackupRequest { no_integrity_check: true, ..BackupRequest::full(SERVER, DATABASE) };
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            self.change(16);
            if warm {
                self.warm_oldest();
            }
            let start = Instant::now();
            self.make_room();
            total += start.elapsed();
            self.engine.backup(&mut self.sim, &request).unwrap();
        }
        total
    }

    /// Reads the pages and trie nodes where each site's oldest copies differ from the next ones.
    fn warm_oldest(&self) {
        let mut touched = 0usize;
        for site in [Site::Local, Site::Remote] {
            let sets: Vec<_> =
                self.engine.list(SERVER, DATABASE).into_iter().filter(|(s, _)| *s == site).map(|(_, e)| e).collect();
            let [oldest, next, ..] = sets[..] else { continue };
            for (old, new) in oldest.copies.iter().zip(&next.copies) {
                let array = self.sim.array_by_name(&old.array).unwrap();
                let pages = |name: &str| self.sim.array(array).volume(name).unwrap().pages();
                for change in pages(&old.copy_volume).changed_pages(pages(&new.copy_volume)) {
                    if let PageChange::Written(_, page) = change {
                        touched = touched.wrapping_add(usize::from(page.bytes()[0]));
                    }
                }
            }
        }
        std::hint::black_box(touched);
    }
}

/// What the timed call includes besides the workflow's own steps.
#[derive(Clone, Copy)]
struct Timed {
    check: bool,
    removal: bool,
}

fn modes() -> [(&'static str, Option<Mode>); 3] {
    [("none", None), ("sync", Some(Mode::Synchronous)), ("periodic", Some(Mode::Periodic))]
}

fn backup(c: &mut Criterion) {
    let complete = Timed { check: true, removal: true };
    // (group, repository on a tempdir, what is timed)
    for (group_name, on_disk, timed) in [
        ("backup", true, complete),
        ("backup_model", false, complete),
        ("backup_checked", false, Timed { check: true, removal: false }),
        ("backup_steps", false, Timed { check: false, removal: false }),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for (id, mode) in modes() {
            let mut bench = bench_world(mode, on_disk);
            group.bench_function(id, |bencher| bencher.iter_custom(|iterations| bench.time(iterations, 16, timed)));
        }
        group.finish();
    }
}

fn periodic_changed(c: &mut Criterion) {
    let mut group = c.benchmark_group("backup_periodic_changed");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for changed_mib in [1u64, 16, 64] {
        let mut bench = bench_world(Some(Mode::Periodic), false);
        group.bench_function(BenchmarkId::from_parameter(format!("{changed_mib}MiB")), |bencher| {
            bencher
                .iter_custom(|iterations| bench.time(iterations, changed_mib, Timed { check: false, removal: false }))
        });
    }
    group.finish();
}

fn other_databases(c: &mut Criterion) {
    let mut group = c.benchmark_group("backup_other_databases");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for others in [0usize, 16, 64] {
        let mut bench = bench_world_with(Some(Mode::Synchronous), false, others);
        let listed: usize = (0..others).map(|i| bench.engine.list(SERVER, &other_database(i)).len()).sum();
        assert_eq!(listed, others * MAX_SETS as usize, "every other database has its sets");
        let complete = Timed { check: true, removal: true };
        group.bench_function(BenchmarkId::from_parameter(others), |bencher| {
            bencher.iter_custom(|iterations| bench.time(iterations, 16, complete))
        });
    }
    group.finish();
}

fn removal(c: &mut Criterion) {
    let mut group = c.benchmark_group("backup_removal");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    // Each removal follows an untimed 16 MiB change and backup (about a millisecond): a short
    // measurement keeps the group's wall time to a minute or two.
    group.measurement_time(Duration::from_millis(500));
    for (id, mode) in [("none", None), ("sync", Some(Mode::Synchronous))] {
        for warm in [false, true] {
            let mut bench = bench_world(mode, false);
            let name = if warm { format!("{id}_warm") } else { id.to_owned() };
            group
                .bench_function(name, |bencher| bencher.iter_custom(|iterations| bench.time_removal(iterations, warm)));
        }
    }
    group.finish();
}

criterion_group!(benches, backup, periodic_changed, other_databases, removal);
criterion_main!(benches);
