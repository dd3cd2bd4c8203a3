//! The Recovery Manager engine: the backup workflows in each Remote Copy mode, policies, the
//! operations on backups (list, mount, unmount, restore, verify, remove), the Task Manager, and
//! the crash and restart of backup servers.
//!
//! What it holds: [`Engine`] (configuration, registrations, the mailbox servers, policies and the
//! two backup servers' repositories), its requests and reports, the named workflow steps where a
//! fault can be injected ([`WorkflowStep`], [`WorkflowFault`]), the 3PAR VSS provider
//! ([`ThreeParProvider`]) and the deliberately wrong variants tests use ([`Defect`]).
//! One file per workflow: `backup_none`, `backup_sync`, `backup_periodic`; `backup` holds what
//! they share (the VSS session, intents, undo); `mode` detects the Remote Copy mode; `policy`
//! plans numeric removals and places expiration and retention; `operations` are the user
//! operations; `reconcile` finishes or undoes interrupted work after a crash and is the Task
//! Manager.
//!
//! What it does not do: no scheduler of its own (the caller asks for each backup and calls
//! [`Engine::tick`] as the Task Manager), no streaming to media, no Exchange 2007 CCR `-both`
//! node selection, no concurrent workflows (one call runs to its end), no persistence of
//! registrations and policies (they are configuration, kept by the engine across a backup
//! server crash as RM keeps them in its configuration files).
//!
//! Main design choice: intents before effects. Every workflow commits an intent entry
//! ([`EntryState::Creating`]) naming the copies it is about to take before it asks an array for
//! them, and a removal marks its entry [`EntryState::Removing`] before deleting copies. A crash at
//! any point therefore leaves, on disk, a list of everything that may exist on the arrays, and
//! [`Engine::restart_backup_server`] finishes or undoes it: no entry ends up pointing at a missing
//! copy and no engine-made copy ends up unreferenced. The cost: two to five repository commits per
//! backup (each an atomic file replace; see `docs/benchmarks.md` for the commit cost).
//!
//! Everything runs on the simulation's virtual clock: a periodic backup waits for its Remote Copy
//! sync with [`Simulation::advance_until`], so faults scheduled on the timeline land inside it.

mod backup;
mod backup_none;
mod backup_periodic;
mod backup_sync;
mod mode;
mod operations;
mod policy;
mod provider;
mod reconcile;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use simulator::{ArrayId, Instant, Simulation};

use crate::exchange::MailboxServer;
use crate::registration::{RegistrationError, Registrations};
use crate::repository::{
    Applied, CommitPoint, CompactString, Durability, Entry, EntryKey, EntryState, MemoryDisk, Repository,
    RepositoryError, Site,
};
use crate::verify::{VerifyMemo, VerifyReport};
use crate::vss::VssConfig;

pub use backup::{BackupReport, BackupRequest, StepOutcome, StepRecord, WorkflowFault, WorkflowStep};
pub use mode::ReplicationMode;
pub use operations::{RestoreKind, RestoreReport};
pub use policy::{DEFAULT_MAX_COPIES, MAX_RETENTION_HOURS, Policy, PolicySpec};
pub use provider::{PlannedCopy, SyncRequirement, ThreeParConfig, ThreeParProvider};
pub use reconcile::{ReconcileReport, TickReport};

/// The tag every engine-made virtual copy carries at the start of its comment: how the
/// invariants (and an operator) tell Recovery Manager's copies from others.
pub const COPY_COMMENT_TAG: &str = "HP 3PAR Recovery Manager for Exchange";

/// The smallest 3PAR VSS provider version that supports synchronous Remote Copy backups (the
/// seed: "Needs VSS Provider ≥ 2.2").
pub const SYNC_MIN_PROVIDER_VERSION: (u32, u32) = (2, 2);

/// Where a backup server keeps its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryStorage {
    /// `repository.json` in this directory (the real thing: atomic replace, fsync per
    /// [`EngineConfig::durability`]).
    Directory(PathBuf),
    /// In memory, with the same commit points: the engine keeps the committed state across a
    /// crash and restart of the backup server (for campaigns that commit thousands of times a
    /// second).
    Memory,
}

/// Most step records and removals the engine keeps undrained (the oldest are dropped beyond).
pub const MAX_UNDRAINED_RECORDS: usize = 100_000;

/// One backup server: its exact name, the array it sees and where its repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupServerConfig {
    /// The server's name, registered exactly.
    pub name: String,
    /// The array it manages copies on (local: the primary; remote: the Remote Copy backup array).
    pub array: ArrayId,
    /// Where its repository lives.
    pub storage: RepositoryStorage,
}

/// Deliberately wrong workflow variants, for tests that must show the invariants catch them.
///
/// The variants always exist (so configurations compile the same with and without the feature),
/// but the wrong code paths are compiled only with the crate feature `defects`, and
/// [`Engine::new`] refuses a defect without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// Periodic: the remote entry is committed as soon as the sync is requested, before the sync
    /// completes (and kept if it fails).
    RemoteEntryBeforeSync,
    /// The primary copies are taken after the writers were thawed, outside the VSS freeze.
    CopyOutsideFreeze,
    /// Periodic: the local entry is kept after the remote entry is made.
    KeepLocalEntryInPeriodic,
    /// Periodic: the secondary volumes are snapshotted when the sync is requested, before it has
    /// carried the backup's data.
    SecondarySnapshotBeforeSync,
}

/// Everything [`Engine::new`] needs. [`EngineConfig::new`] fills the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The local backup server (sees the primary array).
    pub local: BackupServerConfig,
    /// The remote backup server (sees the Remote Copy backup array), if any.
    pub remote: Option<BackupServerConfig>,
    /// The 3PAR VSS provider version (default 2.2); synchronous-mode backups need at least 2.2.
    pub provider_version: (u32, u32),
    /// The provider's timing (default: a `CommitSnapshots` of 50 ms).
    pub provider: ThreeParConfig,
    /// VSS windows and limits.
    pub vss: VssConfig,
    /// How repositories commit (default: fsync'd).
    pub durability: Durability,
    /// Longest a periodic backup waits for its Remote Copy sync (default one day, virtual).
    pub periodic_sync_timeout: Duration,
    /// A deliberately wrong variant (feature `defects` only).
    pub defect: Option<Defect>,
}

impl Defect {
    /// Every defect.
    pub const ALL: [Defect; 4] = [
        Defect::RemoteEntryBeforeSync,
        Defect::CopyOutsideFreeze,
        Defect::KeepLocalEntryInPeriodic,
        Defect::SecondarySnapshotBeforeSync,
    ];

    /// The defect's name in snake case (e.g. `remote_entry_before_sync`).
    pub fn name(self) -> &'static str {
        match self {
            Defect::RemoteEntryBeforeSync => "remote_entry_before_sync",
            Defect::CopyOutsideFreeze => "copy_outside_freeze",
            Defect::KeepLocalEntryInPeriodic => "keep_local_entry_in_periodic",
            Defect::SecondarySnapshotBeforeSync => "secondary_snapshot_before_sync",
        }
    }
}

impl EngineConfig {
    /// The defaults: provider 2.2, a 50 ms commit, VSS defaults, fsync'd repositories, one day
    /// of sync wait, no defect.
    pub fn new(local: BackupServerConfig, remote: Option<BackupServerConfig>) -> EngineConfig {
        EngineConfig {
            local,
            remote,
            provider_version: SYNC_MIN_PROVIDER_VERSION,
            provider: ThreeParConfig::default(),
            vss: VssConfig::default(),
            durability: Durability::Synced,
            periodic_sync_timeout: Duration::from_secs(24 * 3600),
            defect: None,
        }
    }
}

/// Errors of the engine's own rules (array, VSS, repository and Exchange errors keep their own
/// types in [`crate::Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The backup server is not running (it crashed); restart it.
    #[error("the {0:?} backup server is not running; restart it")]
    BackupServerDown(Site),
    /// The backup server crashed during the operation (an injected crash or a failed commit).
    #[error("the {site:?} backup server crashed{}", .at.map(|s| format!(" at {s:?}")).unwrap_or_default())]
    BackupServerCrashed {
        /// Which server.
        site: Site,
        /// The workflow step it crashed at, when the crash was injected at one.
        at: Option<WorkflowStep>,
    },
    /// A failure injected at a workflow step; the workflow undid what it had done.
    #[error("injected failure at {0:?}")]
    InjectedFailure(WorkflowStep),
    /// The operation needs a remote backup server and none is configured.
    #[error("no remote backup server is configured")]
    NoRemoteBackupServer,
    /// The database's volumes are in Remote Copy configurations Recovery Manager cannot back up.
    #[error("cannot back up {server}/{database}: {detail}")]
    ModeMix {
        /// Mailbox server.
        server: String,
        /// Database.
        database: String,
        /// Which volumes are where.
        detail: String,
    },
    /// The Remote Copy group is not in a state the backup needs.
    #[error("remote copy group '{group}' is not ready for a backup: {reason}")]
    GroupNotReady {
        /// The group (on the primary array).
        group: String,
        /// What is wrong, naming volumes and states.
        reason: String,
    },
    /// Synchronous Remote Copy backups need a newer provider.
    #[error(
        "synchronous Remote Copy backups need HP 3PAR VSS Provider {}.{} or later; this one is {}.{}",
        SYNC_MIN_PROVIDER_VERSION.0, SYNC_MIN_PROVIDER_VERSION.1, .version.0, .version.1
    )]
    ProviderTooOld {
        /// The configured provider version.
        version: (u32, u32),
    },
    /// The group replicates to an array the remote backup server does not see.
    #[error("remote copy group '{group}' replicates to {peer}, but the remote backup server manages {configured}")]
    RemoteArrayMismatch {
        /// The group.
        group: String,
        /// The group's peer array.
        peer: String,
        /// The remote backup server's array.
        configured: String,
    },
    /// The mailbox server's volumes are on an array the local backup server does not manage.
    #[error("mailbox server '{server}' is on {array}, but the local backup server manages {configured}")]
    WrongArray {
        /// Mailbox server.
        server: String,
        /// Its array.
        array: String,
        /// The local backup server's array.
        configured: String,
    },
    /// Numeric policy: the maximum is reached and "remove the oldest" is off.
    #[error(
        "numeric policy of {database}: {count} virtual copies on {array}, at most {max}, and removing the oldest is off"
    )]
    PolicyLimitReached {
        /// Database.
        database: String,
        /// The StoreServ.
        array: String,
        /// Copy sets there now.
        count: u32,
        /// The policy's maximum.
        max: u32,
    },
    /// Numeric policy: the oldest copy that would be removed is mounted.
    #[error("numeric policy: the oldest virtual copy {key} on {array} is mounted; unmount it first")]
    OldestCopyMounted {
        /// The mounted backup.
        key: EntryKey,
        /// The StoreServ.
        array: String,
    },
    /// Numeric policy: no copy can be removed (all are retained).
    #[error("numeric policy of {database}: the maximum is reached on {array} and every copy there is retained")]
    NoRemovableCopy {
        /// Database.
        database: String,
        /// The StoreServ.
        array: String,
    },
    /// A policy or request value is out of range.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// The verifier found the copies unrecoverable; the backup was undone.
    #[error("integrity check of {key} failed: {}", .report.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    IntegrityCheckFailed {
        /// The backup.
        key: EntryKey,
        /// The verifier's report.
        report: Box<VerifyReport>,
    },
    /// No such backup in that repository.
    #[error("the {site:?} repository has no backup {key}")]
    EntryNotFound {
        /// The repository.
        site: Site,
        /// The backup.
        key: EntryKey,
    },
    /// The backup is an interrupted one, not yet finished or undone.
    #[error("backup {0} is not complete (interrupted; a restart or the Task Manager will finish or undo it)")]
    NotComplete(EntryKey),
    /// The backup is mounted.
    #[error("backup {0} is mounted; unmount it first")]
    Mounted(EntryKey),
    /// The backup is not mounted.
    #[error("backup {0} is not mounted")]
    NotMounted(EntryKey),
    /// The backup is retained (Virtual Lock).
    #[error("backup {key} is retained until {until}")]
    Retained {
        /// The backup.
        key: EntryKey,
        /// When its retention ends (virtual time).
        until: Instant,
    },
    /// A removal could not delete every copy now; the entry stays as a `Removing` intent that
    /// later engine calls finish.
    #[error("removal of {site:?} backup {key} is deferred: {reason}")]
    RemovalDeferred {
        /// The repository.
        site: Site,
        /// The backup.
        key: EntryKey,
        /// Why (an array offline, a retained copy, the other backup server down).
        reason: String,
    },
    /// The restore cannot run as asked.
    #[error("cannot restore {key}: {reason}")]
    RestoreNotPossible {
        /// The backup.
        key: EntryKey,
        /// Why.
        reason: String,
    },
    /// The restore failed after it began writing the production volumes (an array went down
    /// mid-copy): their content is indeterminate; restore again once the array is back.
    #[error(
        "restore of {key} interrupted after it began writing the production volumes (their content is indeterminate; restore again): {error}"
    )]
    RestoreInterrupted {
        /// The backup.
        key: EntryKey,
        /// What interrupted it.
        error: String,
    },
    /// The copy names a backup needs are taken on the array.
    #[error("virtual copy name for {source_volume} on {array} is taken ({name} and its variants)")]
    CopyNameTaken {
        /// The array.
        array: String,
        /// The copied volume.
        source_volume: String,
        /// The first name tried.
        name: String,
    },
    /// A defect was configured but the crate was built without the `defects` feature.
    #[error("deliberately wrong variants need the recovery crate's `defects` feature")]
    DefectsNotCompiled,
}

/// A test hook: the `nth` commit (counting from 1) to `site`'s repository from now on stops at
/// `point`, as a crash of the backup server would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CommitCrash {
    site: Site,
    nth: u32,
    point: CommitPoint,
}

/// The key of a database's per-database state (policy, numeric bound, verification memo):
/// server and database names, held inline when short (as registered names are), so building
/// one for a lookup allocates nothing.
fn database_key(server: &str, database: &str) -> (CompactString, CompactString) {
    (CompactString::new(server), CompactString::new(database))
}

/// The Recovery Manager for Exchange engine over one simulation's arrays.
pub struct Engine {
    config: EngineConfig,
    registrations: Registrations,
    servers: BTreeMap<String, MailboxServer>,
    /// Keyed by server and database (short names stay inline: a lookup allocates nothing).
    policies: BTreeMap<(CompactString, CompactString), PolicySpec>,
    local: Option<Repository>,
    remote: Option<Repository>,
    /// The numeric maximum in force at each database's last successful backup (invariant 37).
    numeric_bounds: BTreeMap<(CompactString, CompactString), u32>,
    /// Intents whose resolution had to wait (an array offline, a copy retained, the other
    /// backup server down); retried by every engine call.
    deferred: BTreeSet<(Site, EntryKey)>,
    /// Complete entries whose retention or mount record an offline array keeps from repairing;
    /// retried by every engine call.
    repairs: BTreeSet<(Site, EntryKey)>,
    /// Whether a repository may hold intents to resolve (set at open and when one is deferred).
    pending_check: bool,
    commit_crash: Option<CommitCrash>,
    commits_seen: [u32; 2],
    /// The committed state of in-memory repositories, kept across backup server crashes.
    disks: [Option<MemoryDisk>; 2],
    /// Backups started (numbers the step records).
    backups_started: u64,
    step_records: VecDeque<StepRecord>,
    removed: VecDeque<(Site, EntryKey)>,
    /// What the integrity check last verified of each database, by (server, database): a cache
    /// whose verdicts equal a full verification's ([`VerifyMemo`]), so a backup checks only the
    /// pages that changed since the previous one.
    verify_memos: BTreeMap<(CompactString, CompactString), VerifyMemo>,
}

// The CLI runs one simulation (and engine) per worker thread.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Engine>();
};

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("servers", &self.servers.keys().collect::<Vec<_>>())
            .field("local_running", &self.local.is_some())
            .field("remote_running", &self.remote.is_some())
            .field("deferred", &self.deferred)
            .finish_non_exhaustive()
    }
}

fn site_index(site: Site) -> usize {
    match site {
        Site::Local => 0,
        Site::Remote => 1,
    }
}

impl Engine {
    /// Opens both repositories and registers the backup servers by their exact names.
    ///
    /// Errors: [`EngineError::DefectsNotCompiled`]; registration errors (bad names, a name used
    /// twice); repository errors (`Locked`, `Corrupt`, `WrongServer`, I/O).
    pub fn new(config: EngineConfig) -> crate::Result<Engine> {
        if config.defect.is_some() && !cfg!(feature = "defects") {
            return Err(EngineError::DefectsNotCompiled.into());
        }
        let mut registrations = Registrations::new();
        registrations.register_backup_server(&config.local.name, Site::Local)?;
        if let Some(remote) = &config.remote {
            registrations.register_backup_server(&remote.name, Site::Remote)?;
        }
        let memory = |server: &BackupServerConfig| (server.storage == RepositoryStorage::Memory).then(MemoryDisk::new);
        let disks = [memory(&config.local), config.remote.as_ref().and_then(memory)];
        let local = open_repository(&config.local, Site::Local, config.durability, disks[0].as_ref())?;
        let remote = match &config.remote {
            Some(remote) => Some(open_repository(remote, Site::Remote, config.durability, disks[1].as_ref())?),
            None => None,
        };
        Ok(Engine {
            config,
            registrations,
            servers: BTreeMap::new(),
            policies: BTreeMap::new(),
            local: Some(local),
            remote,
            numeric_bounds: BTreeMap::new(),
            verify_memos: BTreeMap::new(),
            deferred: BTreeSet::new(),
            repairs: BTreeSet::new(),
            pending_check: true,
            commit_crash: None,
            commits_seen: [0, 0],
            disks,
            backups_started: 0,
            step_records: VecDeque::new(),
            removed: VecDeque::new(),
        })
    }

    /// The step records of backups since the last drain, oldest first: one per named step a
    /// backup reached, with its outcome (the failing step gets `Failed`, a crash `Crashed`).
    pub fn drain_step_records(&mut self) -> Vec<StepRecord> {
        self.step_records.drain(..).collect()
    }

    /// Every entry removed from a repository since the last drain, whatever the path (policy,
    /// user removal, Task Manager, undo, reconciliation, periodic hand-over), oldest first. A
    /// removal is listed when its commit is attempted, so one a crash interrupted before the
    /// rename appears although the entry stays.
    pub fn drain_removed(&mut self) -> Vec<(Site, EntryKey)> {
        self.removed.drain(..).collect()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The registered servers.
    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// Registers a mailbox server by its exact name and takes charge of it (its databases are
    /// backed up and restored through the engine; [`Engine::mailbox_server_mut`] lends it back
    /// for workloads).
    ///
    /// Errors: [`EngineError::WrongArray`] (its volumes are not on the local backup server's
    /// array); registration errors (invalid name, another spelling already registered).
    pub fn register_mailbox_server(&mut self, sim: &mut Simulation, server: MailboxServer) -> crate::Result<()> {
        if server.array() != self.config.local.array {
            return Err(EngineError::WrongArray {
                server: server.name().to_owned(),
                array: sim.array(server.array()).name().to_owned(),
                configured: sim.array(self.config.local.array).name().to_owned(),
            }
            .into());
        }
        self.registrations.register_mailbox_server(server.name())?;
        sim.record_fmt("rm", format_args!("register mailbox server {}", server.name()));
        self.servers.insert(server.name().to_owned(), server);
        Ok(())
    }

    /// The mailbox server registered exactly as `name`.
    ///
    /// Errors: [`RegistrationError::RegisteredUnderAnotherSpelling`];
    /// [`RegistrationError::NotRegistered`].
    pub fn mailbox_server(&self, name: &str) -> crate::Result<&MailboxServer> {
        let registered = self.registrations.mailbox_server(name)?;
        self.servers.get(registered).ok_or_else(|| RegistrationError::NotRegistered(name.to_owned()).into())
    }

    /// The mailbox server registered exactly as `name`, for changes (workloads, mounts).
    ///
    /// Errors: as [`Engine::mailbox_server`].
    pub fn mailbox_server_mut(&mut self, name: &str) -> crate::Result<&mut MailboxServer> {
        let registered = self.registrations.mailbox_server(name)?.to_owned();
        self.servers.get_mut(&registered).ok_or_else(|| RegistrationError::NotRegistered(name.to_owned()).into())
    }

    /// Sets the policy of one database.
    ///
    /// Errors: [`EngineError::InvalidPolicy`]; registration and Exchange errors (unknown server or
    /// database).
    pub fn set_policy(&mut self, server: &str, database: &str, spec: PolicySpec) -> crate::Result<()> {
        spec.validate()?;
        self.mailbox_server(server)?.database(database)?;
        self.policies.insert(database_key(server, database), spec);
        Ok(())
    }

    /// The policy of one database ([`PolicySpec::default`] until one is set).
    pub fn policy(&self, server: &str, database: &str) -> PolicySpec {
        self.policies.get(&database_key(server, database)).copied().unwrap_or_default()
    }

    /// The Remote Copy mode of a database's volumes, read from the arrays.
    ///
    /// Errors: registration and Exchange errors; [`EngineError::ModeMix`].
    pub fn detect_mode(&self, sim: &Simulation, server: &str, database: &str) -> crate::Result<ReplicationMode> {
        let mailbox = self.mailbox_server(server)?;
        let db = mailbox.database(database)?;
        mode::detect(sim, mailbox.array(), db.db_volume(), db.log_volume(), server, database)
    }

    /// Runs one backup of a database in the mode its volumes are in (see `docs/recovery.md` for
    /// the three sequences).
    ///
    /// Errors: refusals before any side effect (policy, mode, readiness, provider version,
    /// backup server down); failures during the workflow, after which it has undone what it
    /// did ([`EngineError::InjectedFailure`], array, VSS and verifier errors); a crash
    /// ([`EngineError::BackupServerCrashed`]), after which the caller restarts that server.
    pub fn backup(&mut self, sim: &mut Simulation, request: &BackupRequest) -> crate::Result<BackupReport> {
        self.resolve_pending(sim);
        backup::run(self, sim, request)
    }

    /// The backups of one database in both repositories (those running), local first.
    pub fn list(&self, server: &str, database: &str) -> Vec<(Site, &Entry)> {
        self.database_entries(server, database).collect()
    }

    /// Simulates a crash of a backup server: its in-memory state (the repository handle) is
    /// gone; the files stay as the last commit left them.
    pub fn crash_backup_server(&mut self, site: Site) {
        match site {
            Site::Local => self.local = None,
            Site::Remote => self.remote = None,
        }
    }

    /// Whether a backup server is running.
    pub fn is_running(&self, site: Site) -> bool {
        self.repository(site).is_some()
    }

    /// The repository of a running backup server.
    pub fn repository(&self, site: Site) -> Option<&Repository> {
        match site {
            Site::Local => self.local.as_ref(),
            Site::Remote => self.remote.as_ref(),
        }
    }

    /// Test hook: the `nth` commit (from 1) to `site`'s repository from now on stops at `point`,
    /// as a crash of that backup server would; the operation returns
    /// [`EngineError::BackupServerCrashed`].
    pub fn crash_at_commit(&mut self, site: Site, nth: u32, point: CommitPoint) {
        self.commit_crash = Some(CommitCrash { site, nth, point });
        self.commits_seen[site_index(site)] = 0;
    }

    /// Intents whose resolution is waiting for an array, a retention period or the other
    /// backup server; every engine call retries them.
    pub fn deferred_cleanups(&self) -> &BTreeSet<(Site, EntryKey)> {
        &self.deferred
    }

    /// Complete entries whose missing retention or stale mount record could not be repaired yet
    /// (an array offline), and local periodic entries whose hand-over to the remote entry waits
    /// for their unmount; every engine call retries them.
    pub fn deferred_repairs(&self) -> &BTreeSet<(Site, EntryKey)> {
        &self.repairs
    }

    /// The numeric maximum in force at the database's last successful backup, if that policy
    /// was numeric.
    pub fn numeric_bound(&self, server: &str, database: &str) -> Option<u32> {
        self.numeric_bounds.get(&database_key(server, database)).copied()
    }

    /// The array a site's backup server manages.
    pub fn site_array(&self, site: Site) -> Option<ArrayId> {
        match site {
            Site::Local => Some(self.config.local.array),
            Site::Remote => self.config.remote.as_ref().map(|r| r.array),
        }
    }

    /// Whether a deliberately wrong variant is configured (always false without the feature).
    #[cfg(feature = "defects")]
    fn has_defect(&self, defect: Defect) -> bool {
        self.config.defect == Some(defect)
    }

    #[cfg(not(feature = "defects"))]
    fn has_defect(&self, _defect: Defect) -> bool {
        false
    }

    fn repository_mut(&mut self, site: Site) -> Result<&mut Repository, EngineError> {
        let repository = match site {
            Site::Local => self.local.as_mut(),
            Site::Remote => self.remote.as_mut(),
        };
        repository.ok_or(EngineError::BackupServerDown(site))
    }

    /// The running repository of `site`.
    fn running(&self, site: Site) -> Result<&Repository, EngineError> {
        if site == Site::Remote && self.config.remote.is_none() {
            return Err(EngineError::NoRemoteBackupServer);
        }
        self.repository(site).ok_or(EngineError::BackupServerDown(site))
    }

    /// Commits one repository change. A commit that fails (an I/O error or an injected crash)
    /// leaves the handle poisoned: the backup server is then treated as crashed (its handle is
    /// dropped) and [`EngineError::BackupServerCrashed`] returned, so the caller stops where a
    /// crashed process would. Refusals that commit nothing (`Conflict`, `NotFound`, `Mounted`)
    /// are returned as they are.
    fn commit(
        &mut self,
        site: Site,
        change: impl FnOnce(&mut Repository) -> Result<Applied, RepositoryError>,
    ) -> crate::Result<Applied> {
        let crash = self.commit_crash;
        let seen = &mut self.commits_seen[site_index(site)];
        let armed = match crash {
            Some(crash) if crash.site == site => {
                *seen += 1;
                (*seen == crash.nth).then_some(crash.point)
            }
            _ => None,
        };
        let repository = self.repository_mut(site)?;
        if armed.is_some() {
            repository.crash_at(armed);
        }
        match change(repository) {
            Ok(applied) => {
                if armed.is_some() {
                    // The change committed nothing (already done): the crash stays armed for the
                    // next commit.
                    repository.crash_at(None);
                    self.commits_seen[site_index(site)] -= 1;
                }
                Ok(applied)
            }
            Err(RepositoryError::InjectedCrash(_) | RepositoryError::Io { .. } | RepositoryError::Poisoned) => {
                if armed.is_some() {
                    self.commit_crash = None;
                }
                self.crash_backup_server(site);
                Err(EngineError::BackupServerCrashed { site, at: None }.into())
            }
            Err(refusal) => {
                if armed.is_some() {
                    repository.crash_at(None);
                    self.commits_seen[site_index(site)] -= 1;
                }
                Err(refusal.into())
            }
        }
    }

    /// Removes the entry `key` of `site` (listed for [`Engine::drain_removed`]).
    fn remove_entry(&mut self, site: Site, key: &EntryKey) -> crate::Result<Applied> {
        if self.removed.len() >= MAX_UNDRAINED_RECORDS {
            self.removed.pop_front();
        }
        self.removed.push_back((site, key.clone()));
        self.commit(site, |r| r.remove(key))
    }

    fn push_record(&mut self, record: StepRecord) {
        if self.step_records.len() >= MAX_UNDRAINED_RECORDS {
            self.step_records.pop_front();
        }
        self.step_records.push_back(record);
    }

    /// The complete entry `key` of `site`, cloned.
    fn complete_entry(&self, site: Site, key: &EntryKey) -> crate::Result<Entry> {
        self.complete_entry_ref(site, key).cloned()
    }

    /// The complete entry `key` of `site`, borrowed.
    fn complete_entry_ref(&self, site: Site, key: &EntryKey) -> crate::Result<&Entry> {
        let entry = self
            .running(site)?
            .entry(key)
            .ok_or_else(|| crate::Error::from(EngineError::EntryNotFound { site, key: key.clone() }))?;
        if entry.state != EntryState::Complete {
            return Err(EngineError::NotComplete(key.clone()).into());
        }
        Ok(entry)
    }

    /// The entries of one database in both running repositories (local first), with their site:
    /// a range of each catalogue ([`Repository::entries_of`]).
    fn database_entries<'a, 'q>(
        &'a self,
        server: &'q str,
        database: &'q str,
    ) -> impl Iterator<Item = (Site, &'a Entry)> + 'q
    where
        'a: 'q,
    {
        self.running_repositories().flat_map(move |(site, r)| r.entries_of(server, database).map(move |e| (site, e)))
    }

    /// Every entry of both running repositories, with its site.
    pub(crate) fn all_entries(&self) -> impl Iterator<Item = (Site, &Entry)> {
        self.running_repositories().flat_map(|(site, r)| r.entries().values().map(move |e| (site, &**e)))
    }

    /// The repositories of the running backup servers, local first.
    fn running_repositories(&self) -> impl Iterator<Item = (Site, &Repository)> {
        [Site::Local, Site::Remote].into_iter().filter_map(|site| self.repository(site).map(|r| (site, r)))
    }
}

/// Opens a backup server's repository where its configuration says.
fn open_repository(
    server: &BackupServerConfig,
    site: Site,
    durability: Durability,
    disk: Option<&MemoryDisk>,
) -> crate::Result<Repository> {
    Ok(match (&server.storage, disk) {
        (RepositoryStorage::Directory(dir), _) => Repository::open_with(dir, &server.name, site, durability)?,
        (RepositoryStorage::Memory, Some(disk)) => Repository::open_memory(disk, &server.name, site)?,
        (RepositoryStorage::Memory, None) => unreachable!("the engine creates a disk for every in-memory repository"),
    })
}
