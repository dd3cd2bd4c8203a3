//! What the three backup workflows share: the request and report, the named steps and faults,
//! the policy check that refuses before any side effect, copy planning and naming, the VSS
//! session, intents, the integrity check, completion, and the undo after a failure.
//!
//! What it does not do: the order of steps, which is each workflow's (`backup_none`,
//! `backup_sync`, `backup_periodic`); and no retry (VSS never retries; a new backup is a new
//! request).
//!
//! Main design choice: a failure and a crash end a workflow differently. A failure (an injected
//! [`WorkflowFault::Fail`], an array, VSS or verifier error) unwinds: the VSS set is aborted if it
//! is still open, and every entry this backup wrote is dissolved (its copies deleted, then the
//! entry removed; what an offline array prevents stays as an intent, deferred). A crash (an
//! injected [`WorkflowFault::BackupServerCrash`] or a failed repository commit) stops dead, as a
//! killed process would: only VSS's own clean-up of a set left inside its freeze happens (the
//! service aborts a set whose requestor vanished), and the restart reconciles from the intents.
//! The cost: a crash can leave up to two intents for the restart to resolve.

use std::collections::BTreeSet;
use std::sync::Arc;

use simulator::{ArrayId, Instant, Simulation, VolumeChanges};

use super::mode::{self, ReplicationMode};
use super::policy;
use super::provider::{PlannedCopy, ProviderFault, SyncRequirement, ThreeParProvider};
use super::{
    COPY_COMMENT_TAG, Engine, EngineError, SYNC_MIN_PROVIDER_VERSION, backup_none, backup_periodic, backup_sync,
};
use crate::exchange::{ExchangeError, MailboxServer};
use crate::repository::{
    BackupKind, CompactString, CopyRecord, Entry, EntryKey, EntryState, PolicyFields, RemoteCopyMode, RepositoryError,
    Site, VolumeRole, VssWindow, backup_id_at, set,
};
use crate::verify::{VerifyMemo, VerifyReport};
use crate::vss::{
    BackupComponents, BackupType, EXCHANGE_WRITER_NAME, ExchangeWriter, ExchangeWriterOptions, InjectedFault,
    RequestorState, SnapshotSetId, VolumeRef, VssCode, VssError, VssStep, Writer, WriterEvent,
};

/// The named points of a backup where a fault can be injected, in the order a backup reaches
/// them (not every mode reaches every step: [`WorkflowStep::steps_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkflowStep {
    /// Validation, mode detection, readiness and the numeric policy (removing the oldest set).
    PolicyCheck,
    /// Intent entries committed before any copy is taken.
    IntentRecorded,
    /// Writers frozen (VSS Freeze).
    VssFreeze,
    /// Virtual copies of the database and log volumes on the primary array.
    PrimaryCopies,
    /// Synchronous mode: copies of the secondary volumes on the backup array, same instant.
    SecondaryCopies,
    /// Writers thawed.
    Thaw,
    /// The verifier checks the copies (skipped with `-nc`).
    IntegrityCheck,
    /// The local entry is completed.
    LocalEntry,
    /// Periodic mode: the Remote Copy sync of the group is requested.
    RcSyncRequested,
    /// Periodic mode: the sync has completed.
    RcSyncCompleted,
    /// Periodic mode: copies of the secondary volumes on the backup array.
    RemoteCopies,
    /// The remote entry is completed on the remote backup server.
    RemoteEntry,
    /// Periodic mode: the local entry is removed (the primary copies stay, recorded as retained).
    LocalEntryRemoved,
    /// VSS BackupComplete: writers truncate logs after a succeeded FULL backup.
    BackupComplete,
    /// Retention (Virtual Lock) applied to the copies the mode places it on.
    Retention,
}

impl WorkflowStep {
    /// Every step.
    pub const ALL: [WorkflowStep; 15] = [
        WorkflowStep::PolicyCheck,
        WorkflowStep::IntentRecorded,
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
        WorkflowStep::Retention,
    ];

    /// The steps a backup in `mode` goes through, in order.
    pub fn steps_of(mode: RemoteCopyMode) -> &'static [WorkflowStep] {
        use WorkflowStep::*;
        match mode {
            RemoteCopyMode::None => &[
                PolicyCheck,
                IntentRecorded,
                VssFreeze,
                PrimaryCopies,
                Thaw,
                IntegrityCheck,
                LocalEntry,
                BackupComplete,
                Retention,
            ],
            RemoteCopyMode::Synchronous => &[
                PolicyCheck,
                IntentRecorded,
                VssFreeze,
                PrimaryCopies,
                SecondaryCopies,
                Thaw,
                IntegrityCheck,
                RemoteEntry,
                LocalEntry,
                BackupComplete,
                Retention,
            ],
            RemoteCopyMode::Periodic => &[
                PolicyCheck,
                IntentRecorded,
                VssFreeze,
                PrimaryCopies,
                Thaw,
                IntegrityCheck,
                LocalEntry,
                RcSyncRequested,
                RcSyncCompleted,
                RemoteCopies,
                RemoteEntry,
                LocalEntryRemoved,
                BackupComplete,
                Retention,
            ],
        }
    }

    /// The step's name in snake case (e.g. `rc_sync_completed`), as scenario files spell it.
    pub fn name(self) -> &'static str {
        match self {
            WorkflowStep::PolicyCheck => "policy_check",
            WorkflowStep::IntentRecorded => "intent_recorded",
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
            WorkflowStep::Retention => "retention",
        }
    }

    /// The backup server that performs the step (and crashes there with
    /// [`WorkflowFault::BackupServerCrash`]): the remote one takes and records the remote copies.
    pub fn site(self) -> Site {
        match self {
            WorkflowStep::SecondaryCopies | WorkflowStep::RemoteCopies | WorkflowStep::RemoteEntry => Site::Remote,
            _ => Site::Local,
        }
    }

    fn inside_vss(self) -> bool {
        matches!(
            self,
            WorkflowStep::VssFreeze | WorkflowStep::PrimaryCopies | WorkflowStep::SecondaryCopies | WorkflowStep::Thaw
        )
    }
}

/// A fault injected at a [`WorkflowStep`]; it fires when the step is reached, before its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkflowFault {
    /// The step is slow: the workflow spends this much virtual time there ([`Simulation::advance`],
    /// which runs the events due meanwhile, such as a fault the caller scheduled), then goes on.
    /// Inside VSS the delay is VSS's own (`Freeze`, `CommitSnapshots` for both copy steps —
    /// one commit takes all copies — and `Thaw`), so it counts against the VSS windows.
    Delay(std::time::Duration),
    /// The step fails: the workflow undoes what it did and returns
    /// [`EngineError::InjectedFailure`].
    Fail,
    /// The backup server performing the step ([`WorkflowStep::site`]) crashes: the workflow stops
    /// where it is, leaving disk and arrays as a crash would, and returns
    /// [`EngineError::BackupServerCrashed`]; the caller then calls
    /// [`Engine::restart_backup_server`].
    BackupServerCrash,
}

/// One backup to run (`HpRmCli Exch create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRequest {
    /// Mailbox server, exactly as registered.
    pub server: String,
    /// Database (storage group).
    pub database: String,
    /// FULL (logs truncated at BackupComplete) or COPY.
    pub backup_type: BackupType,
    /// `-nc`: skip the integrity check; no log truncation either.
    pub no_integrity_check: bool,
    /// Expiration override, hours.
    pub expiration_hours: Option<u64>,
    /// Retention override, hours (0: none).
    pub retention_hours: Option<u64>,
    /// A fault to inject (tests).
    pub fault: Option<(WorkflowStep, WorkflowFault)>,
    /// A VSS-level fault handed to the backup's requestor (`BackupComponents::inject`).
    pub vss_fault: Option<(VssStep, InjectedFault)>,
}

impl BackupRequest {
    /// A FULL backup with the integrity check, the policy's expiration and retention, no fault.
    pub fn full(server: &str, database: &str) -> BackupRequest {
        BackupRequest {
            server: server.to_owned(),
            database: database.to_owned(),
            backup_type: BackupType::Full,
            no_integrity_check: false,
            expiration_hours: None,
            retention_hours: None,
            fault: None,
            vss_fault: None,
        }
    }
}

/// How a backup fared at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step completed.
    Done,
    /// The backup failed here (the error's text); it was undone.
    Failed(String),
    /// The backup server performing it crashed here.
    Crashed,
}

/// One named step a backup reached ([`Engine::drain_step_records`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// When (virtual time).
    pub at: Instant,
    /// The backup's number in this engine, from 1.
    pub backup: u64,
    /// Mailbox server (inline up to 24 bytes: a record allocates nothing for usual names).
    pub server: CompactString,
    /// Database (inline as `server`).
    pub database: CompactString,
    /// The step.
    pub step: WorkflowStep,
    /// What happened there.
    pub outcome: StepOutcome,
}

/// What a backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The mode it ran in.
    pub mode: ReplicationMode,
    /// The backup's key (the same in both repositories).
    pub key: EntryKey,
    /// The local entry, if one remains (mode none, synchronous, or periodic with a failed sync).
    pub local: Option<EntryKey>,
    /// The remote entry, if one was made.
    pub remote: Option<EntryKey>,
    /// Each step reached, with the virtual instant it completed.
    pub steps: Vec<(WorkflowStep, Instant)>,
    /// Sets the numeric policy removed first.
    pub removed_by_policy: Vec<(Site, EntryKey)>,
    /// Periodic mode: bytes the backup's Remote Copy sync sent.
    pub bytes_replicated: u64,
    /// Periodic mode: why no remote copy was made (the local entry stays), if so.
    pub remote_copy_failure: Option<String>,
    /// Log generations truncated at BackupComplete (first, last).
    pub truncated: Option<(u64, u64)>,
    /// The writer's error at BackupComplete, if any (the backup itself stands).
    pub backup_complete_error: Option<String>,
    /// The verifier's report on the copies (none with `-nc`).
    pub integrity: Option<VerifyReport>,
}

/// How a workflow ended early.
pub(super) enum Stop {
    /// Undo what was done, then return the error.
    Fail(crate::Error),
    /// A backup server crashed: stop where we are.
    Crash(Site, crate::Error),
}

impl From<crate::Error> for Stop {
    fn from(error: crate::Error) -> Stop {
        match &error {
            crate::Error::Engine(EngineError::BackupServerCrashed { site, .. }) => Stop::Crash(*site, error),
            _ => Stop::Fail(error),
        }
    }
}

macro_rules! stop_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Stop {
            fn from(error: $t) -> Stop {
                Stop::from(crate::Error::from(error))
            }
        }
    )*};
}
stop_from!(simulator::Error, EngineError, VssError, ExchangeError, RepositoryError);

/// One backup in progress: what it plans, what it has done, and the VSS objects of its set.
pub(super) struct Session<'s> {
    pub(super) fault: Option<(WorkflowStep, WorkflowFault)>,
    pub(super) mode: ReplicationMode,
    pub(super) key: EntryKey,
    pub(super) kind: BackupKind,
    pub(super) fields: PolicyFields,
    pub(super) no_integrity_check: bool,
    pub(super) primary_array: ArrayId,
    pub(super) db_volume: String,
    pub(super) log_volume: String,
    pub(super) writer: ExchangeWriter<'s>,
    pub(super) vss: BackupComponents,
    pub(super) provider: ThreeParProvider,
    /// Copies of the database and log volumes on the primary array (shared with the provider).
    pub(super) primary: Arc<[PlannedCopy]>,
    /// Copies on the backup array: the secondary copies (synchronous) or the remote copies
    /// (periodic).
    pub(super) remote: Arc<[PlannedCopy]>,
    pub(super) set_id: SnapshotSetId,
    /// When the primary copies were taken.
    pub(super) copies_at: Instant,
    pub(super) vss_window: Option<VssWindow>,
    pub(super) integrity_checked: bool,
    /// The database's verification memo, taken from the engine for the backup's duration.
    pub(super) memo: VerifyMemo,
    /// Defect `CopyOutsideFreeze` is on.
    #[cfg_attr(not(feature = "defects"), allow(dead_code))]
    pub(super) copy_outside_freeze: bool,
    /// Sites holding an entry this backup wrote.
    pub(super) written: BTreeSet<Site>,
    /// The step being attempted (the one a failure is recorded at).
    pub(super) current: WorkflowStep,
    pub(super) report: BackupReport,
}

/// Runs a backup (see [`Engine::backup`]).
pub(super) fn run(engine: &mut Engine, sim: &mut Simulation, request: &BackupRequest) -> crate::Result<BackupReport> {
    let registered = engine.registrations.mailbox_server(&request.server)?.to_owned();
    let Some(mut server) = engine.servers.remove(&registered) else {
        return Err(crate::registration::RegistrationError::NotRegistered(request.server.clone()).into());
    };
    let result = run_with_server(engine, sim, request, &mut server);
    engine.servers.insert(registered, server);
    result
}

fn run_with_server(
    engine: &mut Engine,
    sim: &mut Simulation,
    request: &BackupRequest,
    server: &mut MailboxServer,
) -> crate::Result<BackupReport> {
    engine.backups_started += 1;
    let number = engine.backups_started;
    let (server_name, database_name) = (CompactString::new(&request.server), CompactString::new(&request.database));
    let record = |engine: &mut Engine, at: Instant, step: WorkflowStep, outcome: StepOutcome| {
        engine.push_record(StepRecord {
            at,
            backup: number,
            server: server_name.clone(),
            database: database_name.clone(),
            step,
            outcome,
        });
    };
    let mut fault = request.fault;
    if let Some((WorkflowStep::PolicyCheck, injected)) = fault {
        fault = None;
        match injected {
            WorkflowFault::Delay(duration) => sim.advance(duration),
            WorkflowFault::Fail => {
                let error = EngineError::InjectedFailure(WorkflowStep::PolicyCheck);
                record(engine, sim.now(), WorkflowStep::PolicyCheck, StepOutcome::Failed(error.to_string()));
                return Err(error.into());
            }
            WorkflowFault::BackupServerCrash => {
                engine.crash_backup_server(Site::Local);
                record(engine, sim.now(), WorkflowStep::PolicyCheck, StepOutcome::Crashed);
                return Err(EngineError::BackupServerCrashed {
                    site: Site::Local,
                    at: Some(WorkflowStep::PolicyCheck),
                }
                .into());
            }
        }
    }
    let checked = prepare(engine, sim, request, server).and_then(|plan| {
        let mut removed = Vec::new();
        for (site, key) in &plan.removals {
            engine.remove_for_policy(sim, *site, key)?;
            removed.push((*site, key.clone()));
        }
        Ok((plan, removed))
    });
    let (plan, removed_by_policy) = match checked {
        Ok(checked) => {
            // The policy this backup was planned under bounds the copy count from now on (it may
            // complete, or complete later at a restart).
            let bound_key = super::database_key(&request.server, &request.database);
            match engine.policy(&request.server, &request.database).kind {
                policy::Policy::Numeric { max_copies, .. } => {
                    engine.numeric_bounds.insert(bound_key, max_copies);
                }
                policy::Policy::Expiration { .. } => {
                    engine.numeric_bounds.remove(&bound_key);
                }
            }
            checked
        }
        Err(error) => {
            let crashed = matches!(error, crate::Error::Engine(EngineError::BackupServerCrashed { .. }));
            let outcome = if crashed { StepOutcome::Crashed } else { StepOutcome::Failed(error.to_string()) };
            record(engine, sim.now(), WorkflowStep::PolicyCheck, outcome);
            return Err(error);
        }
    };
    let report = BackupReport {
        mode: plan.mode.clone(),
        key: plan.key.clone(),
        local: None,
        remote: None,
        steps: vec![(WorkflowStep::PolicyCheck, sim.now())],
        removed_by_policy,
        bytes_replicated: 0,
        remote_copy_failure: None,
        truncated: None,
        backup_complete_error: None,
        integrity: None,
    };
    let requirement = match &plan.mode {
        ReplicationMode::Synchronous { group } => {
            Some(SyncRequirement { array: plan.primary_array, group: group.clone() })
        }
        _ => None,
    };
    // The planned copies are shared by the session, its workflow and the provider (each copy's
    // three strings are not copied for each of them).
    let (primary, remote): (Arc<[PlannedCopy]>, Arc<[PlannedCopy]>) = (plan.primary.into(), plan.remote.into());
    let secondary = if matches!(plan.mode, ReplicationMode::Synchronous { .. }) {
        Arc::clone(&remote)
    } else {
        Arc::from(Vec::new())
    };
    #[allow(unused_mut)]
    let mut provider = ThreeParProvider::new(
        engine.config.provider_version,
        engine.config.provider,
        Arc::clone(&primary),
        secondary,
        requirement,
    );
    let copy_outside_freeze = engine.has_defect(super::Defect::CopyOutsideFreeze);
    #[cfg(feature = "defects")]
    if copy_outside_freeze {
        provider.skip_primary_copies();
    }
    let mut vss = BackupComponents::new(engine.config.vss);
    if let Some((step, injected)) = request.vss_fault {
        vss.inject(step, injected);
    }
    let options = ExchangeWriterOptions { no_integrity_check: request.no_integrity_check, defer_truncation: false };
    let mut session = Session {
        fault,
        mode: plan.mode.clone(),
        key: plan.key.clone(),
        kind: match request.backup_type {
            BackupType::Full => BackupKind::Full,
            BackupType::Copy => BackupKind::Copy,
        },
        fields: plan.fields,
        no_integrity_check: request.no_integrity_check,
        primary_array: plan.primary_array,
        db_volume: plan.db_volume.clone(),
        log_volume: plan.log_volume.clone(),
        writer: ExchangeWriter::new(server, options),
        vss,
        provider,
        primary,
        remote,
        set_id: SnapshotSetId(0),
        copies_at: sim.now(),
        vss_window: None,
        integrity_checked: false,
        memo: engine
            .verify_memos
            .remove(&super::database_key(&plan.key.server, &plan.key.database))
            .unwrap_or_default(),
        copy_outside_freeze,
        written: BTreeSet::new(),
        current: WorkflowStep::IntentRecorded,
        report,
    };
    let outcome = start_vss(sim, &mut session, request.backup_type).and_then(|()| match &plan.mode {
        ReplicationMode::None => backup_none::run(engine, sim, &mut session),
        ReplicationMode::Synchronous { .. } => backup_sync::run(engine, sim, &mut session),
        ReplicationMode::Periodic { group } => backup_periodic::run(engine, sim, &mut session, group),
    });
    let (result, failed_at) = match outcome {
        Ok(()) => {
            sim.record_fmt("rm", format_args!("backup {} done ({})", session.key, session.mode));
            (Ok(()), None)
        }
        Err(Stop::Fail(error)) => {
            sim.record_fmt("rm", format_args!("backup {} failed: {error}; undoing", session.key));
            let at = sim.now();
            match undo(engine, sim, &mut session) {
                None => {
                    let outcome = StepOutcome::Failed(error.to_string());
                    (Err(error), Some((at, outcome)))
                }
                Some(crash) => (Err(crash), Some((at, StepOutcome::Crashed))),
            }
        }
        Err(Stop::Crash(site, error)) => {
            sim.record_fmt("rm", format_args!("backup {}: {site:?} backup server crashed", session.key));
            let at = sim.now();
            abandon(sim, &mut session);
            engine.crash_backup_server(site);
            (Err(error), Some((at, StepOutcome::Crashed)))
        }
    };
    let memo_key = super::database_key(&session.key.server, &session.key.database);
    engine.verify_memos.insert(memo_key, std::mem::take(&mut session.memo));
    for &(step, at) in &session.report.steps {
        record(engine, at, step, StepOutcome::Done);
    }
    if let Some((at, outcome)) = failed_at {
        record(engine, at, session.current, outcome);
    }
    // The report moves out of the finished session (not a copy of its keys and steps).
    result.map(|()| session.report)
}

/// What the policy check decided.
struct Plan {
    mode: ReplicationMode,
    key: EntryKey,
    fields: PolicyFields,
    primary_array: ArrayId,
    db_volume: String,
    log_volume: String,
    primary: Vec<PlannedCopy>,
    remote: Vec<PlannedCopy>,
    removals: Vec<(Site, EntryKey)>,
}

/// The policy check: every refusal happens here, before any side effect (the only thing it may
/// change is the virtual clock, to the next second when this second's backup id is taken).
fn prepare(
    engine: &Engine,
    sim: &mut Simulation,
    request: &BackupRequest,
    server: &MailboxServer,
) -> crate::Result<Plan> {
    let db = server.database(&request.database)?;
    if !db.is_mounted() {
        return Err(ExchangeError::NotMounted(request.database.clone()).into());
    }
    let primary_array = server.array();
    let (db_volume, log_volume) = (db.db_volume().to_owned(), db.log_volume().to_owned());
    engine.running(Site::Local)?;
    let spec = engine.policy(&request.server, &request.database);
    let fields = policy::request_fields(&spec, request.expiration_hours, request.retention_hours)?;
    let key = free_backup_id(engine, sim, &request.server, &request.database);
    let mode = mode::detect(sim, primary_array, &db_volume, &log_volume, &request.server, &request.database)?;
    let backup_array = match &mode {
        ReplicationMode::None => None,
        ReplicationMode::Synchronous { group } | ReplicationMode::Periodic { group } => {
            let remote = engine.config.remote.as_ref().ok_or(EngineError::NoRemoteBackupServer)?;
            engine.running(Site::Remote)?;
            if matches!(mode, ReplicationMode::Synchronous { .. }) {
                if engine.config.provider_version < SYNC_MIN_PROVIDER_VERSION {
                    return Err(EngineError::ProviderTooOld { version: engine.config.provider_version }.into());
                }
                mode::check_synchronous_ready(sim, primary_array, group)?;
            } else {
                mode::check_periodic_ready(sim, primary_array, group)?;
            }
            let peer = mode::group(sim, primary_array, group)?.peer;
            if peer != remote.array {
                return Err(EngineError::RemoteArrayMismatch {
                    group: group.clone(),
                    peer: sim.array(peer).name().to_owned(),
                    configured: sim.array(remote.array).name().to_owned(),
                }
                .into());
            }
            Some(peer)
        }
    };
    // Placement (spec §3.2): expiration and retention on the primary copies unless periodic; on
    // the backup array's copies in both Remote Copy modes. Each array that will carry them must
    // accept them (its retention maximum, Virtual Lock): refused here, before any copy is taken
    // or any old set removed, not at the Retention step after BackupComplete. The Retention step
    // itself is placed per mode (`apply_retention`'s callers in backup_none/_sync/_periodic.rs);
    // a change of placement must change both.
    let periodic = mode.kind() == RemoteCopyMode::Periodic;
    let primary_expiration = if periodic { None } else { fields.expiration_hours };
    let primary_retention = if periodic { None } else { fields.retention_hours };
    sim.array(primary_array).check_time_limits(primary_expiration, primary_retention)?;
    if let Some(backup) = backup_array {
        sim.array(backup).check_time_limits(fields.expiration_hours, fields.retention_hours)?;
    }
    let targets: Vec<ArrayId> = std::iter::once(primary_array).chain(backup_array).collect();
    let removals = engine.plan_numeric(sim, &request.server, &request.database, &targets)?;
    let mut primary = Vec::new();
    for (role, volume) in [(VolumeRole::Database, &db_volume), (VolumeRole::Log, &log_volume)] {
        primary.push(plan_copy(sim, primary_array, role, volume, &key, primary_expiration)?);
    }
    let mut remote = Vec::new();
    if let (Some(backup), Some(group)) = (backup_array, mode.group()) {
        let g = mode::group(sim, primary_array, group)?;
        for (role, volume) in [(VolumeRole::Database, &db_volume), (VolumeRole::Log, &log_volume)] {
            let id = sim.array(primary_array).volume(volume)?.id;
            let secondary =
                g.volume(id).map(|v| v.remote_name.clone()).expect("detection found both volumes in the group");
            remote.push(plan_copy(sim, backup, role, &secondary, &key, fields.expiration_hours)?);
        }
    }
    Ok(Plan { mode, key, fields, primary_array, db_volume, log_volume, primary, remote, removals })
}

/// The backup's key: its timestamp, one backup of a database per second. When this second's id
/// is taken (in either repository) the backup starts at the next second.
fn free_backup_id(engine: &Engine, sim: &mut Simulation, server: &str, database: &str) -> EntryKey {
    let key_at = |sim: &Simulation| EntryKey {
        server: CompactString::new(server),
        database: CompactString::new(database),
        backup_id: backup_id_at(sim, sim.now()),
    };
    let mut key = key_at(sim);
    // Bounded: the next second's id is new unless a backup of the future exists (never), so a
    // handful of steps always suffice.
    for _ in 0..4 {
        let taken = [Site::Local, Site::Remote]
            .into_iter()
            .any(|site| engine.repository(site).is_some_and(|r| r.entry(&key).is_some()));
        if !taken {
            break;
        }
        let next_second = Instant::from_secs(sim.now().as_secs() + 1);
        sim.advance_to(next_second);
        key = key_at(sim);
    }
    key
}

/// Plans one copy: `<source ≤ 14>.<d|l><YYMMDDhhmmss>` (28 characters at most), or a numbered
/// variant when that name is taken on the array.
///
/// A backup's own copies never collide: on one array there is a database and a log copy, whose
/// role letters differ, and Remote Copy pairs two different arrays.
fn plan_copy(
    sim: &Simulation,
    array: ArrayId,
    role: VolumeRole,
    source: &str,
    key: &EntryKey,
    expiration_hours: Option<u64>,
) -> crate::Result<PlannedCopy> {
    let stamp = key.backup_id.get(2..).unwrap_or(&key.backup_id);
    let letter = match role {
        VolumeRole::Database => ".d",
        VolumeRole::Log => ".l",
    };
    // The first `n` characters of the source (a borrowed prefix: names are built by appending,
    // without `format!`, as this runs for every copy of every backup).
    let stem = |n: usize| source.char_indices().nth(n).map_or(source, |(end, _)| &source[..end]);
    let name_of = |k: Option<u32>| {
        let mut name = String::with_capacity(32);
        name.push_str(stem(if k.is_some() { 12 } else { 14 }));
        name.push_str(letter);
        name.push_str(stamp);
        if let Some(k) = k {
            name.push('.');
            name.push(char::from_digit(k, 10).expect("candidates are numbered 1 to 9"));
        }
        name
    };
    let free = |name: &String| !sim.array(array).has_volume(name);
    let Some(name) = std::iter::once(None).chain((1..=9).map(Some)).map(name_of).find(free) else {
        return Err(EngineError::CopyNameTaken {
            array: sim.array(array).name().to_owned(),
            source_volume: source.to_owned(),
            name: name_of(None),
        }
        .into());
    };
    // `<tag>: backup <key> (<role> volume <source>)`, the key as its `Display` writes it and the
    // role by its `Debug` name, appended piece by piece (the formatting machinery cost more than
    // the rest of the planning).
    let role_name = match role {
        VolumeRole::Database => "Database",
        VolumeRole::Log => "Log",
    };
    let mut comment = String::with_capacity(COPY_COMMENT_TAG.len() + 64 + source.len());
    for piece in [COPY_COMMENT_TAG, ": backup ", &key.server, "/", &key.database, "/", &key.backup_id, " ("] {
        comment.push_str(piece);
    }
    for piece in [role_name, " volume ", source, ")"] {
        comment.push_str(piece);
    }
    Ok(PlannedCopy { array, role, source: source.to_owned(), copy: name, comment, expiration_hours })
}

/// The repository record of a planned copy.
pub(super) fn record(sim: &Simulation, copy: &PlannedCopy) -> CopyRecord {
    CopyRecord {
        array: CompactString::new(sim.array(copy.array).name()),
        role: copy.role,
        source_volume: CompactString::new(&copy.source),
        copy_volume: CompactString::new(&copy.copy),
    }
}

/// VSS up to the set's start: writers identified, the database's component selected, both
/// volumes in the set. Nothing is frozen or copied yet.
fn start_vss(sim: &mut Simulation, s: &mut Session<'_>, backup_type: BackupType) -> Result<(), Stop> {
    let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
    s.vss.initialize_for_backup()?;
    s.vss.set_backup_state(backup_type)?;
    s.vss.gather_writer_metadata(sim, writers)?;
    s.vss.add_component(EXCHANGE_WRITER_NAME, &s.key.database)?;
    s.set_id = s.vss.start_snapshot_set(sim)?;
    for volume in [s.db_volume.clone(), s.log_volume.clone()] {
        s.vss.add_to_snapshot_set(sim, &s.provider, VolumeRef::new(s.primary_array, &volume))?;
    }
    Ok(())
}

impl Session<'_> {
    /// The step is reached: fires its fault, if one is injected there.
    pub(super) fn reach(&mut self, sim: &mut Simulation, step: WorkflowStep) -> Result<(), Stop> {
        self.current = step;
        match self.fault {
            Some((at, fault)) if at == step => {
                self.fault = None;
                if let WorkflowFault::Delay(duration) = fault {
                    sim.record_fmt("rm", format_args!("{step:?} takes {duration:?}"));
                    sim.advance(duration);
                    return Ok(());
                }
                Err(injected(step, fault))
            }
            _ => Ok(()),
        }
    }

    /// The step completed now.
    pub(super) fn done(&mut self, sim: &Simulation, step: WorkflowStep) {
        self.report.steps.push((step, sim.now()));
    }

    /// A new entry for this backup at `site` (an intent until completed).
    pub(super) fn entry(
        &self,
        sim: &Simulation,
        site: Site,
        state: EntryState,
        content: &Content<'_>,
        created_at: Instant,
    ) -> Entry {
        let Content { copies, retained, fields } = *content;
        Entry {
            key: self.key.clone(),
            state,
            snapshot_set_id: self.set_id.to_string(),
            created_at_unix_secs: sim.unix_secs(created_at),
            created_at_nanos: created_at.as_nanos(),
            vss_window: if state == EntryState::Creating { None } else { self.vss_window },
            integrity_checked: state == EntryState::Complete && self.integrity_checked,
            backup_kind: self.kind,
            mode: self.mode.kind(),
            site,
            copies: copies.iter().map(|c| record(sim, c)).collect(),
            retained_on_primary: retained.iter().map(|c| record(sim, c)).collect(),
            policy: fields,
            mounted: None,
        }
    }

    /// Whether `entry` holds what [`Session::entry`] would write at `site` for `content` in
    /// every field but those completion sets (state, creation time, VSS window, integrity flag):
    /// then completing it is writing those fields. Compared without building the records.
    fn lists_content(&self, sim: &Simulation, entry: &Entry, site: Site, content: &Content<'_>) -> bool {
        let Content { copies, retained, fields } = *content;
        let records_match = |records: &[CopyRecord], planned: &[PlannedCopy]| {
            records.len() == planned.len()
                && records.iter().zip(planned).all(|(record, copy)| {
                    record.array == sim.array(copy.array).name()
                        && record.role == copy.role
                        && record.source_volume == copy.source
                        && record.copy_volume == copy.copy
                })
        };
        entry.key == self.key
            && entry.snapshot_set_id.as_bytes() == self.set_id.guid()
            && entry.backup_kind == self.kind
            && entry.mode == self.mode.kind()
            && entry.site == site
            && records_match(&entry.copies, copies)
            && records_match(&entry.retained_on_primary, retained)
            && entry.policy == fields
            && entry.mounted.is_none()
    }
}

fn injected(step: WorkflowStep, fault: WorkflowFault) -> Stop {
    match fault {
        WorkflowFault::Fail | WorkflowFault::Delay(_) => Stop::Fail(EngineError::InjectedFailure(step).into()),
        WorkflowFault::BackupServerCrash => {
            let site = step.site();
            Stop::Crash(site, EngineError::BackupServerCrashed { site, at: Some(step) }.into())
        }
    }
}

/// What an entry lists: its own copies, copies retained on the primary, and policy fields.
#[derive(Clone, Copy)]
pub(super) struct Content<'a> {
    pub(super) copies: &'a [PlannedCopy],
    pub(super) retained: &'a [PlannedCopy],
    pub(super) fields: PolicyFields,
}

/// Commits an intent entry at `site` listing the copies about to be taken.
pub(super) fn record_intent(
    engine: &mut Engine,
    sim: &Simulation,
    s: &mut Session<'_>,
    site: Site,
    content: &Content<'_>,
) -> Result<(), Stop> {
    let entry = s.entry(sim, site, EntryState::Creating, content, sim.now());
    s.written.insert(site);
    engine.commit(site, |r| r.add(entry))?;
    Ok(())
}

/// Replaces the entry at `site` by the complete one.
pub(super) fn complete(
    engine: &mut Engine,
    sim: &Simulation,
    s: &mut Session<'_>,
    site: Site,
    content: &Content<'_>,
    created_at: Instant,
) -> Result<(), Stop> {
    s.written.insert(site);
    let existing = engine.running(site)?.entry(&s.key);
    let own_intent = existing.is_some_and(|entry| s.lists_content(sim, entry, site, content));
    if own_intent {
        // The entry differs from the complete one only in the fields completion sets: they are
        // written in place (the same result as replacing it, without building a new entry and
        // dropping the old one, every string of both).
        let unix_secs = sim.unix_secs(created_at);
        let nanos = created_at.as_nanos();
        let (vss_window, integrity_checked) = (s.vss_window, s.integrity_checked);
        // `|`, not `||`: every field is set.
        let change = |entry: &mut Entry| {
            set(&mut entry.state, EntryState::Complete)
                | set(&mut entry.created_at_unix_secs, unix_secs)
                | set(&mut entry.created_at_nanos, nanos)
                | set(&mut entry.vss_window, vss_window)
                | set(&mut entry.integrity_checked, integrity_checked)
        };
        engine.commit(site, |r| r.modify(&s.key, change))?;
        // `lists_content` stands for the entry built in full: every debug run (all the workflow
        // and property tests) checks that completing in place wrote exactly that entry.
        debug_assert_eq!(
            engine.running(site).ok().and_then(|r| r.entry(&s.key)),
            Some(&s.entry(sim, site, EntryState::Complete, content, created_at)),
            "an intent completed in place differs from the complete entry"
        );
        return Ok(());
    }
    let entry = s.entry(sim, site, EntryState::Complete, content, created_at);
    if existing.is_some() {
        engine.commit(site, |r| r.replace(entry))?;
    } else {
        engine.commit(site, |r| r.add(entry))?;
    }
    Ok(())
}

/// PrepareForBackup and DoSnapshotSet: freeze, copies, thaw. Steps `VssFreeze`, `PrimaryCopies`,
/// `SecondaryCopies` (synchronous) and `Thaw` happen inside VSS; a fault injected at one of them
/// is handed to VSS or the provider so that the set fails exactly there and VSS aborts it (the
/// provider deletes its copies, writers thaw), as the VSS service does when the requestor fails
/// or disappears inside the freeze.
pub(super) fn snapshots(sim: &mut Simulation, s: &mut Session<'_>) -> Result<(), Stop> {
    s.current = WorkflowStep::VssFreeze;
    let inside = s.fault.filter(|(step, _)| step.inside_vss() && WorkflowStep::steps_of(s.mode.kind()).contains(step));
    if let Some((step, fault)) = inside {
        match (step, fault) {
            (WorkflowStep::VssFreeze, WorkflowFault::Delay(d)) => {
                s.vss.inject(VssStep::Freeze, InjectedFault::Delay(d))
            }
            (WorkflowStep::PrimaryCopies | WorkflowStep::SecondaryCopies, WorkflowFault::Delay(d)) => {
                s.vss.inject(VssStep::CommitSnapshots, InjectedFault::Delay(d));
            }
            (_, WorkflowFault::Delay(d)) => s.vss.inject(VssStep::Thaw, InjectedFault::Delay(d)),
            (WorkflowStep::VssFreeze, _) => {
                s.vss.inject(VssStep::Freeze, InjectedFault::Fail(VssCode::WRITERERROR_RETRYABLE));
            }
            (WorkflowStep::PrimaryCopies, _) => s.provider.inject(ProviderFault::BeforePrimaryCopies),
            (WorkflowStep::SecondaryCopies, _) => s.provider.inject(ProviderFault::BeforeSecondaryCopies),
            _ => s.vss.inject(VssStep::Thaw, InjectedFault::Fail(VssCode::UNEXPECTED)),
        }
        if matches!(fault, WorkflowFault::Delay(_)) {
            s.fault = None;
        }
    }
    let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
    s.vss.prepare_for_backup(sim, &mut s.provider, writers)?;
    if let Err(error) = s.vss.do_snapshot_set(sim, &mut s.provider, writers) {
        if let Some((step, fault)) = inside
            && !matches!(fault, WorkflowFault::Delay(_))
            && error.message.contains("injected")
        {
            s.fault = None;
            s.current = step;
            return Err(injected(step, fault));
        }
        return Err(error.into());
    }
    #[cfg(feature = "defects")]
    if s.copy_outside_freeze {
        // Defect `CopyOutsideFreeze`: the provider took nothing; the copies are taken now, after
        // the writers were thawed.
        for copy in s.primary.iter() {
            copy.create(sim)?;
        }
    }
    let frozen_at = event_time(&s.vss, WriterEvent::Freeze);
    let thawed_at = event_time(&s.vss, WriterEvent::Thaw);
    let copies_at = s.vss.shadow_copies().first().map_or(sim.now(), |c| c.created_at);
    s.copies_at = copies_at;
    s.vss_window = Some(VssWindow { frozen_at_nanos: frozen_at.as_nanos(), thawed_at_nanos: thawed_at.as_nanos() });
    s.report.steps.push((WorkflowStep::VssFreeze, frozen_at));
    s.report.steps.push((WorkflowStep::PrimaryCopies, copies_at));
    if s.mode.kind() == RemoteCopyMode::Synchronous {
        s.report.steps.push((WorkflowStep::SecondaryCopies, copies_at));
    }
    s.report.steps.push((WorkflowStep::Thaw, thawed_at));
    Ok(())
}

fn event_time(vss: &BackupComponents, event: WriterEvent) -> Instant {
    vss.events().iter().find(|e| e.event == event).map(|e| e.at).expect("a taken set delivered the event")
}

/// The integrity check: the verifier on the primary copies (a point-in-time image of database
/// and logs). A failed check marks the component not succeeded and completes the VSS backup
/// (nothing is truncated), then fails the workflow so the copies and intents are undone.
pub(super) fn integrity_check(sim: &mut Simulation, s: &mut Session<'_>) -> Result<(), Stop> {
    s.reach(sim, WorkflowStep::IntegrityCheck)?;
    if s.no_integrity_check {
        s.vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, &s.key.database, true)?;
        s.done(sim, WorkflowStep::IntegrityCheck);
        return Ok(());
    }
    let report = s.memo.verify_on_array(sim, s.primary_array, &s.primary[0].copy, &s.primary[1].copy)?;
    if !report.is_recoverable() {
        s.vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, &s.key.database, false)?;
        let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
        let _ = s.vss.backup_complete(sim, &mut s.provider, writers);
        return Err(Stop::Fail(
            EngineError::IntegrityCheckFailed { key: s.key.clone(), report: Box::new(report) }.into(),
        ));
    }
    s.vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, &s.key.database, true)?;
    s.integrity_checked = true;
    s.report.integrity = Some(report);
    s.done(sim, WorkflowStep::IntegrityCheck);
    Ok(())
}

/// VSS BackupComplete: the writer truncates logs after a succeeded FULL backup (not with `-nc`).
/// A writer error here is reported, not undone: the copies are complete and recorded.
pub(super) fn backup_complete(sim: &mut Simulation, s: &mut Session<'_>) -> Result<(), Stop> {
    s.reach(sim, WorkflowStep::BackupComplete)?;
    let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
    if let Err(error) = s.vss.backup_complete(sim, &mut s.provider, writers) {
        s.report.backup_complete_error = Some(error.to_string());
    }
    s.report.truncated = s.writer.truncated().get(s.key.database.as_str()).copied().flatten();
    s.done(sim, WorkflowStep::BackupComplete);
    Ok(())
}

/// Retention (Virtual Lock) on `copies`, after BackupComplete (a retained copy of an aborted set
/// could not be deleted). `prepare` has checked that each array carrying `copies` accepts the
/// times, with the same placement per mode. The expiration is set again with it, so retention ≤ expiration holds
/// from this instant.
pub(super) fn apply_retention<'c>(
    sim: &mut Simulation,
    s: &mut Session<'_>,
    copies: impl IntoIterator<Item = &'c PlannedCopy>,
) -> Result<(), Stop> {
    s.reach(sim, WorkflowStep::Retention)?;
    if let Some(retention) = s.fields.retention_hours {
        for copy in copies {
            let changes = VolumeChanges {
                retention_hours: Some(retention),
                expiration_hours: s.fields.expiration_hours,
                ..VolumeChanges::default()
            };
            sim.array_mut(copy.array).modify_volume(&copy.copy, changes)?;
        }
    }
    s.done(sim, WorkflowStep::Retention);
    Ok(())
}

/// Undo after a failure: abort the VSS set if it is still open, then dissolve every entry this
/// backup wrote (copies first, then the entry; what cannot be deleted now stays as a deferred
/// intent), then delete any planned copy left unreferenced. A crash of a backup server during the
/// undo stops it there (the restart reconciles the rest) and is returned.
fn undo(engine: &mut Engine, sim: &mut Simulation, s: &mut Session<'_>) -> Option<crate::Error> {
    if matches!(
        s.vss.state(),
        RequestorState::SetStarted | RequestorState::PreparedForBackup | RequestorState::SnapshotsTaken
    ) {
        // Taken copies are listed by this backup's entries, which may be complete by now: they
        // are deleted below through those entries (intent first), not by the provider's abort.
        s.provider.release(s.set_id);
        let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
        let _ = s.vss.abort_backup(sim, &mut s.provider, writers);
    }
    for site in [Site::Local, Site::Remote] {
        if !s.written.contains(&site) || !engine.is_running(site) {
            continue;
        }
        match engine.dissolve(sim, site, &s.key) {
            Ok(_) => {}
            Err(error @ crate::Error::Engine(EngineError::BackupServerCrashed { .. })) => return Some(error),
            Err(error) => sim.record_fmt("rm", format_args!("undo of {} at {site:?}: {error}", s.key)),
        }
    }
    // With a backup server down its references are unknown: leave the copies to the restart.
    let all_running =
        engine.is_running(Site::Local) && (engine.config.remote.is_none() || engine.is_running(Site::Remote));
    if !all_running {
        return None;
    }
    for copy in s.primary.iter().chain(s.remote.iter()) {
        let name = sim.array(copy.array).name().to_owned();
        if sim.array(copy.array).has_volume(&copy.copy)
            && !engine.is_referenced(&s.key, &name, &copy.copy)
            && let Err(error) = sim.array_mut(copy.array).delete_volume(&copy.copy)
        {
            sim.record_fmt("rm", format_args!("undo could not delete {}: {error}", copy.copy));
        }
    }
    None
}

/// After a crash: only VSS's own clean-up of a set whose requestor vanished before the snapshots
/// (nothing frozen or copied yet). A set already taken keeps its copies: the intents list them.
fn abandon(sim: &mut Simulation, s: &mut Session<'_>) {
    if matches!(s.vss.state(), RequestorState::SetStarted | RequestorState::PreparedForBackup) {
        let writers: &mut [&mut dyn Writer] = &mut [&mut s.writer];
        let _ = s.vss.abort_backup(sim, &mut s.provider, writers);
    }
}
