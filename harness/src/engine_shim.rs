//! TEMPORARY stand-in for `recovery::engine` (see /work/helpers/ENGINE_API.md) so the harness
//! compiles and runs before the real engine lands on branch `workflows`. It follows the contract's
//! names and signatures with crude behaviour (no VSS framework, files in a temporary directory).
//! Deleted when the real engine is merged; nothing outside `harness` may depend on it.
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use recovery::exchange::MailboxServer;
use recovery::repository::{
    BackupKind, CopyRecord, Entry, EntryKey, PolicyFields, RemoteCopyMode, Repository, Site, VolumeRole,
};
use recovery::vss;
use simulator::invariants::Violation;
use simulator::{ArrayId, Instant, Mode, Simulation, SnapshotSpec};

pub type Result<T> = std::result::Result<T, recovery::Error>;

fn fail(message: String) -> recovery::Error {
    recovery::Error::Array(simulator::Error::new(simulator::ErrorCode::INV_INPUT, message))
}

#[derive(Debug, Clone)]
pub enum RepositoryStorage {
    Directory(PathBuf),
    Memory,
}

#[derive(Debug, Clone)]
pub struct BackupServerConfig {
    pub name: String,
    pub array: ArrayId,
    pub storage: RepositoryStorage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Defect {
    RemoteEntryBeforeSync,
    CopyOutsideFreeze,
    KeepLocalEntryInPeriodic,
    SecondarySnapshotBeforeSync,
}

impl Defect {
    pub const ALL: [Defect; 4] = [
        Defect::RemoteEntryBeforeSync,
        Defect::CopyOutsideFreeze,
        Defect::KeepLocalEntryInPeriodic,
        Defect::SecondarySnapshotBeforeSync,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Defect::RemoteEntryBeforeSync => "remote_entry_before_sync",
            Defect::CopyOutsideFreeze => "copy_outside_freeze",
            Defect::KeepLocalEntryInPeriodic => "keep_local_entry_in_periodic",
            Defect::SecondarySnapshotBeforeSync => "secondary_snapshot_before_sync",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub local: BackupServerConfig,
    pub remote: Option<BackupServerConfig>,
    pub provider_version: (u32, u32),
    pub vss: vss::VssConfig,
    pub defect: Option<Defect>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationMode {
    None,
    Synchronous { group: String },
    Periodic { group: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Numeric { max_copies: u32, remove_oldest: bool },
    Expiration { hours: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySpec {
    pub kind: Policy,
    pub retention_hours: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkflowStep {
    PolicyCheck,
    VssFreeze,
    PrimaryCopies,
    SecondaryCopies,
    Thaw,
    IntegrityCheck,
    LocalEntry,
    RcSyncRequested,
    RcSyncCompleted,
    RemoteCopies,
    RemoteEntry,
    LocalEntryRemoved,
    BackupComplete,
}

impl WorkflowStep {
    pub const ALL: [WorkflowStep; 13] = [
        WorkflowStep::PolicyCheck,
        WorkflowStep::VssFreeze,
        WorkflowStep::PrimaryCopies,
        WorkflowStep::SecondaryCopies,
        WorkflowStep::Thaw,
        WorkflowStep::IntegrityCheck,
        WorkflowStep::LocalEntry,
        WorkflowStep::RcSyncRequested,
        WorkflowStep::RcSyncCompleted,
        WorkflowStep::RemoteCopies,
        WorkflowStep::RemoteEntry,
        WorkflowStep::LocalEntryRemoved,
        WorkflowStep::BackupComplete,
    ];
    pub fn name(self) -> &'static str {
        match self {
            WorkflowStep::PolicyCheck => "policy_check",
            WorkflowStep::VssFreeze => "vss_freeze",
            WorkflowStep::PrimaryCopies => "primary_copies",
            WorkflowStep::SecondaryCopies => "secondary_copies",
            WorkflowStep::Thaw => "thaw",
            WorkflowStep::IntegrityCheck => "integrity_check",
            WorkflowStep::LocalEntry => "local_entry",
            WorkflowStep::RcSyncRequested => "rc_sync_requested",
            WorkflowStep::RcSyncCompleted => "rc_sync_completed",
            WorkflowStep::RemoteCopies => "remote_copies",
            WorkflowStep::RemoteEntry => "remote_entry",
            WorkflowStep::LocalEntryRemoved => "local_entry_removed",
            WorkflowStep::BackupComplete => "backup_complete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowFault {
    Fail,
    BackupServerCrash,
    Delay(Duration),
}

#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub server: String,
    pub database: String,
    pub backup_type: vss::BackupType,
    pub no_integrity_check: bool,
    pub expiration_hours: Option<u64>,
    pub retention_hours: Option<u64>,
    pub fault: Option<(WorkflowStep, WorkflowFault)>,
    pub vss_fault: Option<(vss::VssStep, vss::InjectedFault)>,
}

#[derive(Debug, Clone)]
pub struct BackupReport {
    pub mode: ReplicationMode,
    pub local: Option<EntryKey>,
    pub remote: Option<EntryKey>,
    pub steps: Vec<(WorkflowStep, Instant)>,
    pub removed_by_policy: Vec<EntryKey>,
    pub bytes_replicated: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreKind {
    VolumePromote,
    FileCopy,
    DatabaseFromRemote,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub removed: Vec<(Site, EntryKey)>,
}

#[derive(Debug, Clone, Default)]
pub struct TickReport {
    pub removed: Vec<(Site, EntryKey)>,
}

#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    pub removed: Vec<(Site, EntryKey)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Done,
    Failed(String),
    Crashed,
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub at: Instant,
    pub backup: u64,
    pub server: String,
    pub database: String,
    pub step: WorkflowStep,
    pub outcome: StepOutcome,
}

#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    servers: BTreeMap<String, MailboxServer>,
    policies: BTreeMap<(String, String), PolicySpec>,
    local: Option<Repository>,
    remote: Option<Repository>,
    dirs: BTreeMap<Site, PathBuf>,
    records: Vec<StepRecord>,
    backups: u64,
}

static DIRS: AtomicU64 = AtomicU64::new(0);

fn dir_of(storage: &RepositoryStorage) -> PathBuf {
    match storage {
        RepositoryStorage::Directory(dir) => dir.clone(),
        RepositoryStorage::Memory => std::env::temp_dir().join(format!(
            "harness-shim-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        )),
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine> {
        let mut dirs = BTreeMap::new();
        dirs.insert(Site::Local, dir_of(&config.local.storage));
        let local = Some(Repository::open(&dirs[&Site::Local], &config.local.name, Site::Local)?);
        let remote = match &config.remote {
            Some(remote) => {
                dirs.insert(Site::Remote, dir_of(&remote.storage));
                Some(Repository::open(&dirs[&Site::Remote], &remote.name, Site::Remote)?)
            }
            None => None,
        };
        Ok(Engine {
            config,
            servers: BTreeMap::new(),
            policies: BTreeMap::new(),
            local,
            remote,
            dirs,
            records: Vec::new(),
            backups: 0,
        })
    }

    pub fn register_mailbox_server(&mut self, _sim: &mut Simulation, server: MailboxServer) -> Result<()> {
        self.servers.insert(server.name().to_owned(), server);
        Ok(())
    }

    pub fn mailbox_server(&self, name: &str) -> Result<&MailboxServer> {
        self.servers.get(name).ok_or_else(|| fail(format!("server {name} not registered")))
    }

    pub fn mailbox_server_mut(&mut self, name: &str) -> Result<&mut MailboxServer> {
        self.servers.get_mut(name).ok_or_else(|| fail(format!("server {name} not registered")))
    }

    pub fn set_policy(&mut self, server: &str, database: &str, policy: PolicySpec) -> Result<()> {
        self.policies.insert((server.to_owned(), database.to_owned()), policy);
        Ok(())
    }

    pub fn detect_mode(&self, sim: &Simulation, server: &str, database: &str) -> Result<ReplicationMode> {
        let server = self.mailbox_server(server)?;
        let db = server.database(database)?;
        let array = sim.array(db.array());
        let mut modes = Vec::new();
        for volume in [db.db_volume(), db.log_volume()] {
            let id = array.volume(volume)?.id;
            modes.push(array.remote_copy().membership(id).map(|(g, _)| (g.name.clone(), g.mode)));
        }
        match (&modes[0], &modes[1]) {
            (None, None) => Ok(ReplicationMode::None),
            (Some((a, Mode::Synchronous)), Some((b, _))) if a == b => {
                Ok(ReplicationMode::Synchronous { group: a.clone() })
            }
            (Some((a, Mode::Periodic)), Some((b, _))) if a == b => Ok(ReplicationMode::Periodic { group: a.clone() }),
            _ => Err(fail("database volumes in different Remote Copy groups".into())),
        }
    }

    fn repo_mut(&mut self, site: Site) -> Result<&mut Repository> {
        match site {
            Site::Local => self.local.as_mut(),
            Site::Remote => self.remote.as_mut(),
        }
        .ok_or_else(|| fail(format!("{site:?} backup server down or absent")))
    }

    pub fn repository(&self, site: Site) -> Option<&Repository> {
        match site {
            Site::Local => self.local.as_ref(),
            Site::Remote => self.remote.as_ref(),
        }
    }

    pub fn drain_step_records(&mut self) -> Vec<StepRecord> {
        std::mem::take(&mut self.records)
    }

    fn reach(
        &mut self,
        sim: &mut Simulation,
        request: &BackupRequest,
        step: WorkflowStep,
    ) -> std::result::Result<(), (WorkflowFault, String)> {
        let id = self.backups;
        let mut outcome = StepOutcome::Done;
        let mut result = Ok(());
        if let Some((at, fault)) = request.fault
            && at == step
        {
            match fault {
                WorkflowFault::Delay(d) => sim.advance(d),
                WorkflowFault::Fail => {
                    outcome = StepOutcome::Failed(format!("injected failure at {}", step.name()));
                    result = Err((fault, format!("injected failure at {}", step.name())));
                }
                WorkflowFault::BackupServerCrash => {
                    outcome = StepOutcome::Crashed;
                    result = Err((fault, format!("backup server crashed at {}", step.name())));
                }
            }
        }
        self.records.push(StepRecord {
            at: sim.now(),
            backup: id,
            server: request.server.clone(),
            database: request.database.clone(),
            step,
            outcome,
        });
        result
    }

    pub fn backup(&mut self, sim: &mut Simulation, request: &BackupRequest) -> Result<BackupReport> {
        self.backups += 1;
        let mode = self.detect_mode(sim, &request.server, &request.database)?;
        let (array, db_volume, log_volume) = {
            let db = self.mailbox_server(&request.server)?.database(&request.database)?;
            (db.array(), db.db_volume().to_owned(), db.log_volume().to_owned())
        };
        let mut steps = Vec::new();
        let mut made: Vec<(ArrayId, String)> = Vec::new();
        let result = self.backup_inner(sim, request, &mode, array, &db_volume, &log_volume, &mut steps, &mut made);
        if let Err(error) = &result {
            let _ = error;
            for (array, copy) in made.iter().rev() {
                let _ = sim.array_mut(*array).delete_volume(copy);
            }
            let db = self.mailbox_server_mut(&request.server)?.database_mut(&request.database)?;
            if db.freeze_point().is_some() {
                let _ = db.thaw(sim);
            }
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn backup_inner(
        &mut self,
        sim: &mut Simulation,
        request: &BackupRequest,
        mode: &ReplicationMode,
        array: ArrayId,
        db_volume: &str,
        log_volume: &str,
        steps: &mut Vec<(WorkflowStep, Instant)>,
        made: &mut Vec<(ArrayId, String)>,
    ) -> Result<BackupReport> {
        let step = |engine: &mut Engine, sim: &mut Simulation, s: WorkflowStep, steps: &mut Vec<_>| {
            engine.reach(sim, request, s).map(|()| steps.push((s, sim.now()))).map_err(|(fault, text)| {
                if fault == WorkflowFault::BackupServerCrash {
                    engine.crash_backup_server(Site::Local);
                }
                fail(text)
            })
        };
        let key_server = request.server.clone();
        let mut removed = Vec::new();
        step(self, sim, WorkflowStep::PolicyCheck, steps)?;
        let policy = self.policies.get(&(request.server.clone(), request.database.clone())).copied();
        let policy_site = if matches!(mode, ReplicationMode::Periodic { .. }) { Site::Remote } else { Site::Local };
        if let Some(PolicySpec { kind: Policy::Numeric { max_copies, remove_oldest }, .. }) = policy {
            let entries: Vec<Entry> = self
                .repository(policy_site)
                .map(|r| r.entries_of(&request.server, &request.database).cloned().collect())
                .unwrap_or_default();
            if entries.len() as u32 >= max_copies {
                if !remove_oldest {
                    return Err(fail("max copies reached".into()));
                }
                let Some(oldest) = entries.iter().find(|e| e.mounted.is_none()) else {
                    return Err(fail("oldest copy mounted".into()));
                };
                self.remove(sim, policy_site, &oldest.key.clone())?;
                if policy_site == Site::Local
                    && self.remote.is_some()
                    && matches!(mode, ReplicationMode::Synchronous { .. })
                {
                    let _ = self.remove(sim, Site::Remote, &oldest.key.clone());
                }
                removed.push(oldest.key.clone());
            }
        }
        let db = self.mailbox_server_mut(&request.server)?.database_mut(&request.database)?;
        db.freeze(sim)?;
        step(self, sim, WorkflowStep::VssFreeze, steps)?;
        if let Some((_, vss::InjectedFault::Delay(d))) = request.vss_fault {
            sim.advance(d);
            if d > self.config.vss.flush_and_hold_timeout {
                return Err(recovery::Error::Vss(vss::VssError::new(
                    vss::VssCode::FLUSH_WRITES_TIMEOUT,
                    "flush-and-hold timeout",
                )));
            }
        }
        let set = sim.prng().next_u64() as u32;
        let at = sim.now();
        let backup_id = recovery::repository::backup_id_at(sim, at);
        let mut local_copies = Vec::new();
        for (role, volume) in [(VolumeRole::Database, db_volume), (VolumeRole::Log, log_volume)] {
            let stem: String = volume.chars().take(22).collect();
            let name = format!("{stem}.{set:08x}");
            sim.array_mut(array).create_snapshot(volume, SnapshotSpec::read_only(&name))?;
            made.push((array, name.clone()));
            local_copies.push(CopyRecord {
                array: sim.array(array).name().to_owned(),
                role,
                source_volume: volume.to_owned(),
                copy_volume: name,
            });
        }
        step(self, sim, WorkflowStep::PrimaryCopies, steps)?;
        let mut remote_copies = Vec::new();
        let backup_array = if sim.array_ids().count() > 1 { Some(sim.backup()) } else { None };
        if let (ReplicationMode::Synchronous { group }, Some(b)) = (mode, backup_array) {
            let g = sim.array(array).remote_copy().group(group)?.clone();
            for copy in &local_copies {
                let id = sim.array(array).volume(&copy.source_volume)?.id;
                let remote_name = g.volume(id).map(|v| v.remote_name.clone()).unwrap_or_default();
                let name = format!("{}.{set:08x}", remote_name.chars().take(22).collect::<String>());
                sim.array_mut(b).create_snapshot(&remote_name, SnapshotSpec::read_only(&name))?;
                made.push((b, name.clone()));
                remote_copies.push(CopyRecord {
                    array: sim.array(b).name().to_owned(),
                    role: copy.role,
                    source_volume: remote_name,
                    copy_volume: name,
                });
            }
            step(self, sim, WorkflowStep::SecondaryCopies, steps)?;
        }
        self.mailbox_server_mut(&request.server)?.database_mut(&request.database)?.thaw(sim)?;
        step(self, sim, WorkflowStep::Thaw, steps)?;
        let created_at_unix_secs = sim.unix_secs(at);
        let entry = |site: Site, copies: Vec<CopyRecord>, mode: RemoteCopyMode| Entry {
            key: EntryKey {
                server: key_server.clone(),
                database: request.database.clone(),
                backup_id: backup_id.clone(),
            },
            snapshot_set_id: format!("{set:08x}"),
            created_at_unix_secs,
            backup_kind: match request.backup_type {
                vss::BackupType::Full => BackupKind::Full,
                vss::BackupType::Copy => BackupKind::Copy,
            },
            mode,
            site,
            copies,
            retained_on_primary: Vec::new(),
            policy: PolicyFields {
                expiration_hours: request.expiration_hours,
                retention_hours: request.retention_hours,
            },
            mounted: None,
        };
        let mut report = BackupReport {
            mode: mode.clone(),
            local: None,
            remote: None,
            steps: Vec::new(),
            removed_by_policy: removed,
            bytes_replicated: 0,
        };
        match mode {
            ReplicationMode::None | ReplicationMode::Synchronous { .. } => {
                let rc_mode = if remote_copies.is_empty() { RemoteCopyMode::None } else { RemoteCopyMode::Synchronous };
                let e = entry(Site::Local, local_copies, rc_mode);
                report.local = Some(e.key.clone());
                self.repo_mut(Site::Local)?.add(e)?;
                made.clear();
                step(self, sim, WorkflowStep::LocalEntry, steps)?;
                if !remote_copies.is_empty() {
                    let e = entry(Site::Remote, remote_copies, rc_mode);
                    report.remote = Some(e.key.clone());
                    self.repo_mut(Site::Remote)?.add(e)?;
                    step(self, sim, WorkflowStep::RemoteEntry, steps)?;
                }
            }
            ReplicationMode::Periodic { group } => {
                let b = sim.backup();
                let e = entry(Site::Local, local_copies.clone(), RemoteCopyMode::Periodic);
                self.repo_mut(Site::Local)?.add(e.clone())?;
                made.clear();
                step(self, sim, WorkflowStep::LocalEntry, steps)?;
                let before = sim.array(array).remote_copy().group(group)?.stats;
                sim.remote_copy().sync_group(array, group, &simulator::SyncOptions::default())?;
                step(self, sim, WorkflowStep::RcSyncRequested, steps)?;
                let deadline = sim.now() + Duration::from_secs(3600);
                let group_name = group.clone();
                sim.advance_until(deadline, |s| {
                    s.array(array).remote_copy().group(&group_name).is_ok_and(|g| {
                        g.stats.syncs_completed > before.syncs_completed || g.stats.syncs_failed > before.syncs_failed
                    })
                });
                let after = sim.array(array).remote_copy().group(group)?.stats;
                if after.syncs_completed <= before.syncs_completed {
                    return Err(fail(format!("Remote Copy sync of {group} did not complete")));
                }
                report.bytes_replicated = after.last_sync_bytes;
                step(self, sim, WorkflowStep::RcSyncCompleted, steps)?;
                let g = sim.array(array).remote_copy().group(group)?.clone();
                for copy in &local_copies {
                    let id = sim.array(array).volume(&copy.source_volume)?.id;
                    let remote_name = g.volume(id).map(|v| v.remote_name.clone()).unwrap_or_default();
                    let name = format!("{}.{set:08x}", remote_name.chars().take(22).collect::<String>());
                    sim.array_mut(b).create_snapshot(&remote_name, SnapshotSpec::read_only(&name))?;
                    remote_copies.push(CopyRecord {
                        array: sim.array(b).name().to_owned(),
                        role: copy.role,
                        source_volume: remote_name,
                        copy_volume: name,
                    });
                }
                step(self, sim, WorkflowStep::RemoteCopies, steps)?;
                let mut r = entry(Site::Remote, remote_copies, RemoteCopyMode::Periodic);
                r.retained_on_primary = local_copies;
                report.remote = Some(r.key.clone());
                self.repo_mut(Site::Remote)?.add(r)?;
                step(self, sim, WorkflowStep::RemoteEntry, steps)?;
                self.repo_mut(Site::Local)?.remove(&e.key)?;
                step(self, sim, WorkflowStep::LocalEntryRemoved, steps)?;
            }
        }
        step(self, sim, WorkflowStep::BackupComplete, steps)?;
        report.steps = steps.clone();
        Ok(report)
    }

    pub fn list(&self, server: &str, database: &str) -> Vec<(Site, &Entry)> {
        let mut out = Vec::new();
        for site in [Site::Local, Site::Remote] {
            if let Some(r) = self.repository(site) {
                out.extend(
                    r.entries()
                        .values()
                        .filter(|e| e.key.server == server && e.key.database == database)
                        .map(|e| (site, e)),
                );
            }
        }
        out
    }

    fn site_array(&self, sim: &Simulation, site: Site) -> ArrayId {
        match site {
            Site::Local => self.config.local.array,
            Site::Remote => self.config.remote.as_ref().map(|r| r.array).unwrap_or(sim.backup()),
        }
    }

    pub fn mount(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        key: &EntryKey,
        host: &str,
    ) -> Result<Vec<(String, u32)>> {
        let entry =
            self.repository(site).and_then(|r| r.entry(key)).cloned().ok_or_else(|| fail(format!("no entry {key}")))?;
        let array = self.site_array(sim, site);
        if sim.array(array).host(host).is_err() {
            sim.array_mut(array).create_host(simulator::HostSpec { name: host.to_owned(), ..Default::default() })?;
        }
        let mut exported = Vec::new();
        let mut names = Vec::new();
        for copy in &entry.copies {
            let rw = format!("{}.m", copy.copy_volume.chars().take(29).collect::<String>());
            sim.array_mut(array).create_snapshot(&copy.copy_volume, SnapshotSpec::read_write(&rw))?;
            let lun = sim.array_mut(array).create_vlun(simulator::VlunSpec {
                volume: rw.clone(),
                lun: 0,
                auto_lun: true,
                host: Some(host.to_owned()),
                ..Default::default()
            })?;
            exported.push((rw.clone(), lun));
            names.push(rw);
        }
        let record = recovery::repository::MountRecord {
            host: host.to_owned(),
            array: sim.array(array).name().to_owned(),
            exported_volumes: names,
        };
        self.repo_mut(site)?.set_mounted(key, Some(record))?;
        Ok(exported)
    }

    pub fn unmount(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> Result<()> {
        let entry =
            self.repository(site).and_then(|r| r.entry(key)).cloned().ok_or_else(|| fail(format!("no entry {key}")))?;
        let Some(mounted) = entry.mounted else { return Ok(()) };
        let array = self.site_array(sim, site);
        for volume in &mounted.exported_volumes {
            let id = sim.array(array).volume(volume)?.id;
            let luns: Vec<u32> = sim
                .array(array)
                .vluns()
                .filter(|v| v.volume == simulator::VlunVolume::Volume(id))
                .map(|v| v.lun)
                .collect();
            for lun in luns {
                let _ = sim.array_mut(array).delete_vlun(volume, lun, Some(&mounted.host), None);
            }
            sim.array_mut(array).delete_volume(volume)?;
        }
        self.repo_mut(site)?.set_mounted(key, None)?;
        Ok(())
    }

    pub fn restore(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        key: &EntryKey,
        _kind: RestoreKind,
    ) -> Result<RestoreReport> {
        let entry =
            self.repository(site).and_then(|r| r.entry(key)).cloned().ok_or_else(|| fail(format!("no entry {key}")))?;
        let array = self.site_array(sim, site);
        for copy in &entry.copies {
            sim.array_mut(array).promote_snapshot(&copy.copy_volume, simulator::PromoteOptions::default())?;
        }
        sim.advance(Duration::from_secs(1));
        Ok(RestoreReport::default())
    }

    pub fn verify(&self, sim: &Simulation, site: Site, key: &EntryKey) -> Result<recovery::verify::VerifyReport> {
        let entry = self.repository(site).and_then(|r| r.entry(key)).ok_or_else(|| fail(format!("no entry {key}")))?;
        let array = self.site_array(sim, site);
        let db =
            entry.copies.iter().find(|c| c.role == VolumeRole::Database).ok_or_else(|| fail("no db copy".into()))?;
        let log = entry.copies.iter().find(|c| c.role == VolumeRole::Log).ok_or_else(|| fail("no log copy".into()))?;
        let db = recovery::verify::ArrayVolume::new(sim, array, &db.copy_volume)?;
        let log = recovery::verify::ArrayVolume::new(sim, array, &log.copy_volume)?;
        Ok(recovery::verify::verify_image(&db, &log)?)
    }

    pub fn remove(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> Result<()> {
        let entry =
            self.repository(site).and_then(|r| r.entry(key)).cloned().ok_or_else(|| fail(format!("no entry {key}")))?;
        if entry.mounted.is_some() {
            return Err(fail(format!("{key} is mounted")));
        }
        let array = self.site_array(sim, site);
        for copy in entry.copies.iter() {
            sim.array_mut(array).delete_volume(&copy.copy_volume)?;
        }
        for copy in entry.retained_on_primary.iter() {
            let _ = sim.array_mut(self.config.local.array).delete_volume(&copy.copy_volume);
        }
        self.repo_mut(site)?.remove(key)?;
        Ok(())
    }

    pub fn tick(&mut self, _sim: &mut Simulation) -> Result<TickReport> {
        Ok(TickReport::default())
    }

    pub fn crash_backup_server(&mut self, site: Site) {
        match site {
            Site::Local => self.local = None,
            Site::Remote => self.remote = None,
        }
    }

    pub fn restart_backup_server(&mut self, _sim: &mut Simulation, site: Site) -> Result<ReconcileReport> {
        let name = match site {
            Site::Local => self.config.local.name.clone(),
            Site::Remote => self.config.remote.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
        };
        let repo = Repository::open(&self.dirs[&site], &name, site)?;
        match site {
            Site::Local => self.local = Some(repo),
            Site::Remote => self.remote = Some(repo),
        }
        Ok(ReconcileReport::default())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for (site, dir) in &self.dirs {
            let memory = match site {
                Site::Local => matches!(self.config.local.storage, RepositoryStorage::Memory),
                Site::Remote => {
                    self.config.remote.as_ref().is_some_and(|r| matches!(r.storage, RepositoryStorage::Memory))
                }
            };
            if memory {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The engine's invariants (stand-in: repository references existing copies).
pub mod invariants {
    use super::*;

    pub type Check = fn(&Simulation, &Engine) -> Vec<Violation>;

    pub const ALL: &[(&str, Check)] =
        &[("repository_references_existing_copies", repository_references_existing_copies)];

    pub fn check_all(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
        ALL.iter().flat_map(|(_, c)| c(sim, engine)).collect()
    }

    pub fn repository_references_existing_copies(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
        let mut found = Vec::new();
        for site in [Site::Local, Site::Remote] {
            let Some(repo) = engine.repository(site) else { continue };
            for entry in repo.entries().values() {
                for copy in entry.copies.iter().chain(&entry.retained_on_primary) {
                    let Some(array) = sim.array_by_name(&copy.array) else { continue };
                    if !sim.array(array).has_volume(&copy.copy_volume) {
                        found.push(Violation {
                            invariant: "repository_references_existing_copies",
                            spec: "7.8/36",
                            detail: format!("{site:?} entry {} names missing copy {}", entry.key, copy.copy_volume),
                        });
                    }
                }
            }
        }
        found
    }
}
