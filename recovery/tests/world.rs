//! The world the engine tests run in: two arrays, a mailbox server with one database (small
//! layout) on the primary, optionally in a Remote Copy group, and an engine with a local and a
//! remote backup server whose repositories live in a temporary directory. The only code that
//! builds engines and groups; tests are data on top.

use std::time::Duration;

use recovery::engine::{BackupReport, BackupRequest, BackupServerConfig, Engine, EngineConfig, RepositoryStorage};
use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{DatabaseConfig, DatabaseSpec, MailboxServer, ReferenceContents};
use recovery::repository::{Durability, Entry, EntryKey, Site};
use recovery::verify::{ArrayVolume, read_database_contents, verify_database_only};
use simulator::{AdmitSpec, ArrayId, CpgSpec, GroupSpec, HostSpec, Instant, Mode, Simulation, StartOptions};

pub const SERVER: &str = "MBX01";
pub const DATABASE: &str = "DB1";
pub const DB_VOLUME: &str = "db1";
pub const LOG_VOLUME: &str = "db1.log";
pub const GROUP: &str = "rcg";
/// The backup servers' hosts (for mounts) on the primary and backup arrays.
pub const LOCAL_HOST: &str = "bkp-a";
pub const REMOTE_HOST: &str = "bkp-b";
/// The standby mailbox server's host on the backup array.
pub const STANDBY_HOST: &str = "mbx-dr";

/// How the database's volumes are replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    None,
    Synchronous,
    /// Periodic, manual syncs only (`None`) or with a period.
    Periodic(Option<Duration>),
}

impl Replication {
    pub const ALL: [Replication; 3] = [Replication::None, Replication::Synchronous, Replication::Periodic(None)];
}

pub struct World {
    pub sim: Simulation,
    pub engine: Engine,
    pub a: ArrayId,
    pub b: ArrayId,
    pub replication: Replication,
    /// The database's committed content (the reference the bytes are compared with).
    pub reference: ReferenceContents,
    pub workload: Workload,
    /// Committed content at each backup, by snapshot set id (unique per backup; a backup id can
    /// be reused once its entry is gone), only while the reference is certain.
    pub at_backup: std::collections::BTreeMap<String, ReferenceContents>,
    /// A workload write failed: its outcome on the volumes is indeterminate, so the reference is
    /// no longer exact (content comparisons stop).
    pub uncertain: bool,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path, a: ArrayId, b: ArrayId) -> EngineConfig {
    let mut config = EngineConfig::new(
        BackupServerConfig { name: "BKP-A".into(), array: a, storage: RepositoryStorage::Directory(dir.join("local")) },
        Some(BackupServerConfig {
            name: "BKP-B".into(),
            array: b,
            storage: RepositoryStorage::Directory(dir.join("remote")),
        }),
    );
    // Tests commit thousands of times; process-crash atomicity is what they exercise.
    config.durability = Durability::Unsynced;
    config
}

impl World {
    pub fn new(seed: u64, replication: Replication) -> World {
        World::with(seed, replication, |_| {})
    }

    /// A world whose engine configuration `adjust` may change (provider version, defects, ...).
    pub fn with(seed: u64, replication: Replication, adjust: impl FnOnce(&mut EngineConfig)) -> World {
        let mut sim = Simulation::new(seed);
        let (a, b) = (sim.primary(), sim.backup());
        for array in [a, b] {
            sim.array_mut(array).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
        }
        let mut server = MailboxServer::create(&mut sim, a, SERVER, "mbx01", &[]).unwrap();
        let spec = DatabaseSpec {
            name: DATABASE.into(),
            db_volume: DB_VOLUME.into(),
            log_volume: LOG_VOLUME.into(),
            cpg: "FC_r6".into(),
            snap_cpg: None,
            config: DatabaseConfig::small(),
        };
        server.create_database(&mut sim, spec).unwrap().mount(&mut sim).unwrap();
        if replication != Replication::None {
            let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
            let (mode, period) = match replication {
                Replication::Synchronous => (Mode::Synchronous, None),
                Replication::Periodic(period) => (Mode::Periodic, period),
                Replication::None => unreachable!(),
            };
            let spec = GroupSpec {
                remote_user_cpg: Some("FC_r6".into()),
                remote_snap_cpg: Some("FC_r6".into()),
                sync_period: period,
                ..GroupSpec::new(GROUP, &target, mode)
            };
            sim.remote_copy().create_group(a, spec).unwrap();
            for volume in [DB_VOLUME, LOG_VOLUME] {
                let admit = AdmitSpec {
                    volume: volume.into(),
                    secondary: volume.into(),
                    auto_create: true,
                    ..AdmitSpec::default()
                };
                sim.remote_copy().admit_volume(a, GROUP, admit).unwrap();
            }
            sim.remote_copy().start_group(a, GROUP, &StartOptions::default()).unwrap();
            let deadline = sim.now() + Duration::from_secs(3600);
            assert!(sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()));
        }
        for (array, host) in [(a, LOCAL_HOST), (b, REMOTE_HOST), (b, STANDBY_HOST)] {
            sim.array_mut(array).create_host(HostSpec { name: host.into(), ..HostSpec::default() }).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut engine_config = config(dir.path(), a, b);
        adjust(&mut engine_config);
        let mut engine = Engine::new(engine_config).unwrap();
        engine.register_mailbox_server(&mut sim, server).unwrap();
        World {
            sim,
            engine,
            a,
            b,
            replication,
            reference: ReferenceContents::default(),
            workload: Workload::new(
                seed,
                WorkloadConfig { flush_every: 4, pages_per_flush: 8, ..WorkloadConfig::default() },
            ),
            at_backup: std::collections::BTreeMap::new(),
            uncertain: false,
            dir,
        }
    }

    /// Commits `n` transactions of the seeded workload (each advances the clock by its writes).
    pub fn work(&mut self, n: usize) {
        let db = self.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
        for _ in 0..n {
            let step = self.workload.step(&mut self.sim, db).unwrap();
            self.reference.apply(&step.transaction);
        }
    }

    /// Commits `n` transactions, tolerating refusals (a database offline after an array crash):
    /// only committed ones reach the reference.
    pub fn work_tolerant(&mut self, n: usize) -> usize {
        let Ok(server) = self.engine.mailbox_server_mut(SERVER) else { return 0 };
        let Ok(db) = server.database_mut(DATABASE) else { return 0 };
        if !db.is_mounted() {
            return 0;
        }
        let mut committed = 0;
        for _ in 0..n {
            match self.workload.step(&mut self.sim, db) {
                Ok(step) => {
                    if matches!(step.outcome, recovery::exchange::CommitOutcome::Committed { .. }) {
                        self.reference.apply(&step.transaction);
                        committed += 1;
                    }
                }
                Err(_) => {
                    self.uncertain = true;
                    break;
                }
            }
        }
        committed
    }

    pub fn request(&self) -> BackupRequest {
        BackupRequest::full(SERVER, DATABASE)
    }

    /// Runs a backup; on success remembers the committed content it holds.
    pub fn backup_with(&mut self, request: &BackupRequest) -> recovery::Result<BackupReport> {
        let report = self.engine.backup(&mut self.sim, request)?;
        if !self.uncertain {
            let entry = self.entry(Site::Local, &report.key).or_else(|| self.entry(Site::Remote, &report.key));
            if let Some(entry) = entry {
                self.at_backup.insert(entry.snapshot_set_id, self.reference.clone());
            }
        }
        Ok(report)
    }

    pub fn backup(&mut self) -> BackupReport {
        let request = self.request();
        self.backup_with(&request).unwrap()
    }

    /// Advances the clock, running events (syncs, expirations, faults).
    pub fn advance(&mut self, duration: Duration) {
        self.sim.advance(duration);
    }

    pub fn now(&self) -> Instant {
        self.sim.now()
    }

    pub fn entries(&self, site: Site) -> Vec<Entry> {
        self.engine.repository(site).map(|r| r.entries().values().map(|e| (**e).clone()).collect()).unwrap_or_default()
    }

    pub fn entry(&self, site: Site, key: &EntryKey) -> Option<Entry> {
        self.engine.repository(site).and_then(|r| r.entry(key).cloned())
    }

    /// Names of the virtual copies on `array` made by the engine.
    pub fn engine_copies(&self, array: ArrayId) -> Vec<String> {
        self.sim
            .array(array)
            .volumes()
            .filter(|v| v.comment.as_deref().is_some_and(|c| c.starts_with(recovery::engine::COPY_COMMENT_TAG)))
            .map(|v| v.name.clone())
            .collect()
    }

    /// Every violation of both invariant sets.
    pub fn violations(&self) -> Vec<String> {
        let mut found: Vec<String> =
            simulator::invariants::check_all(&self.sim).iter().map(ToString::to_string).collect();
        found.extend(recovery::invariants::check_all(&self.sim, &self.engine).iter().map(ToString::to_string));
        found
    }

    /// Asserts both invariant sets hold.
    #[track_caller]
    pub fn check(&self) {
        let found = self.violations();
        assert!(found.is_empty(), "invariants violated:\n{}", found.join("\n"));
    }

    /// The database's content read from `volume` on `array` (a clean or recovered image).
    pub fn contents(&self, array: ArrayId, volume: &str) -> std::collections::BTreeMap<u32, Vec<u8>> {
        read_database_contents(&ArrayVolume::new(&self.sim, array, volume).unwrap()).unwrap()
    }

    /// The production database's content, read after a clean dismount (the verifier must find
    /// the dismounted image clean and recoverable without logs), then remounted.
    pub fn production_contents(&mut self) -> std::collections::BTreeMap<u32, Vec<u8>> {
        let a = self.a;
        let db = self.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
        db.dismount(&mut self.sim).unwrap();
        let report = verify_database_only(&ArrayVolume::new(&self.sim, a, DB_VOLUME).unwrap()).unwrap();
        assert!(report.is_recoverable() && !report.needs_replay(), "restored image: {report:?}");
        let contents = self.contents(a, DB_VOLUME);
        let db = self.engine.mailbox_server_mut(SERVER).unwrap().database_mut(DATABASE).unwrap();
        db.mount(&mut self.sim).unwrap();
        contents
    }

    /// Runs Remote Copy transfers to their end (bounded).
    pub fn settle(&mut self) {
        let deadline = self.sim.now() + Duration::from_secs(24 * 3600);
        assert!(self.sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()));
    }
}
