//! The VSS framework: event order, windows, limits, abort semantics, truncation (spec §7.6).

use std::time::Duration;

use proptest::prelude::*;
use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{MailboxServer, ReferenceContents};
use recovery::verify::{ArrayVolume, read_database_contents, soft_recover_on_array, verify_image};
use recovery::vss::{
    ArraySnapshotProvider, BackupComponents, BackupType, EXCHANGE_WRITER_NAME, ExchangeWriter, ExchangeWriterOptions,
    InjectedFault, Provider, ProviderConfig, ProviderError, RequestorState, ShadowCopy, SnapshotSetId, VolumeRef,
    VssCode, VssConfig, VssError, VssStep, Writer, WriterEvent,
};
use simulator::{Simulation, SnapshotSpec, VolumeSpec};

use crate::common::{proptest_config, setup, virtual_copies};

/// Mounts DB1 and runs `transactions` committed transactions; returns the committed content.
fn run_workload(sim: &mut Simulation, server: &mut MailboxServer, transactions: u32) -> ReferenceContents {
    let db = server.database_mut("DB1").unwrap();
    if !db.is_mounted() {
        db.mount(sim).unwrap();
    }
    let config = WorkloadConfig { flush_every: 5, pages_per_flush: 4, ..WorkloadConfig::default() };
    let mut workload = Workload::new(sim.seed(), config);
    let mut contents = ReferenceContents::default();
    for _ in 0..transactions {
        contents.apply(&workload.step(sim, db).unwrap().transaction);
    }
    contents
}

/// Runs one backup of DB1 up to `DoSnapshotSet` (included); returns the requestor.
fn backup_until_snapshot(
    sim: &mut Simulation,
    writer: &mut dyn Writer,
    provider: &mut dyn Provider,
    backup_type: BackupType,
    faults: &[(VssStep, InjectedFault)],
) -> (BackupComponents, Result<Vec<ShadowCopy>, VssError>) {
    let a = sim.primary();
    let mut vss = BackupComponents::default();
    for (step, fault) in faults {
        vss.inject(*step, *fault);
    }
    let result = (|| {
        vss.initialize_for_backup()?;
        vss.set_backup_state(backup_type)?;
        vss.gather_writer_metadata(sim, &mut [&mut *writer])?;
        vss.add_component(EXCHANGE_WRITER_NAME, "DB1")?;
        vss.start_snapshot_set(sim)?;
        vss.add_to_snapshot_set(sim, provider, VolumeRef::new(a, "db1"))?;
        vss.add_to_snapshot_set(sim, provider, VolumeRef::new(a, "db1.log"))?;
        vss.prepare_for_backup(sim, provider, &mut [&mut *writer])?;
        vss.do_snapshot_set(sim, provider, &mut [&mut *writer]).map(<[ShadowCopy]>::to_vec)
    })();
    (vss, result)
}

#[test]
fn full_backup_follows_the_event_order_and_truncates_at_backup_complete() {
    // Goal: invariants 28, 29, 32: events reach the writer in spec order; both copies share one
    // instant; the copy soft-recovers to the content committed before the freeze; logs are
    // truncated only at BackupComplete of the succeeded FULL backup, and never at or above the
    // captured checkpoint. Method: run a workload, back up, inspect events, copies and logs.
    let (mut sim, mut server) = setup(21);
    let contents = run_workload(&mut sim, &mut server, 200);
    let a = sim.primary();
    let oldest_before = server.database("DB1").unwrap().oldest_generation().unwrap();
    let mut provider = ArraySnapshotProvider::new(ProviderConfig::default());
    let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let (mut vss, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &[]);
    let copies = result.unwrap();
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[0].created_at, copies[1].created_at);
    let captured = writer.captured()["DB1"];
    assert_eq!(writer.server().database("DB1").unwrap().oldest_generation(), Some(oldest_before));
    vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true).unwrap();
    vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
    let events: Vec<WriterEvent> = vss.events().iter().map(|e| e.event).collect();
    assert_eq!(events, WriterEvent::ALL[..7]);
    // Each delivery is a trace line `<event> -> <writer>`, the event as its `Debug` form writes it.
    let delivered: Vec<String> =
        sim.trace().lines().filter(|line| line.kind == "vss" && line.text.contains(" -> ")).map(|l| l.text).collect();
    let expected: Vec<String> = events.iter().map(|e| format!("{e:?} -> {EXCHANGE_WRITER_NAME}")).collect();
    assert_eq!(delivered, expected);
    let (frozen_at, hold) = vss.windows();
    let (held_from, released) = hold.unwrap();
    assert!(frozen_at.unwrap() <= held_from && held_from <= copies[0].created_at && copies[0].created_at <= released);
    let db = writer.server().database("DB1").unwrap();
    assert_eq!(db.oldest_generation(), Some(captured.checkpoint.max(oldest_before)));
    assert!(db.oldest_generation().unwrap() <= captured.checkpoint);
    drop(writer);
    for copy in &copies {
        let rw = format!("{}w", copy.copy_name);
        sim.array_mut(a).create_snapshot(&copy.copy_name, SnapshotSpec::read_write(&rw)).unwrap();
    }
    let (db_rw, log_rw) = (format!("{}w", copies[0].copy_name), format!("{}w", copies[1].copy_name));
    let report =
        verify_image(&ArrayVolume::new(&sim, a, &db_rw).unwrap(), &ArrayVolume::new(&sim, a, &log_rw).unwrap())
            .unwrap();
    assert!(report.is_recoverable(), "{report:?}");
    soft_recover_on_array(&mut sim, a, &db_rw, &log_rw).unwrap();
    assert_eq!(read_database_contents(&ArrayVolume::new(&sim, a, &db_rw).unwrap()).unwrap(), contents.pages);
}

#[test]
fn copy_backup_and_unsucceeded_full_backup_never_truncate() {
    // Goal: invariant 32: COPY backups, FULL backups whose component was not marked succeeded,
    // and -nc / -defer backups leave every log generation in place.
    let cases: [(BackupType, bool, ExchangeWriterOptions); 4] = [
        (BackupType::Copy, true, ExchangeWriterOptions::default()),
        (BackupType::Full, false, ExchangeWriterOptions::default()),
        (BackupType::Full, true, ExchangeWriterOptions { no_integrity_check: true, ..Default::default() }),
        (BackupType::Full, true, ExchangeWriterOptions { defer_truncation: true, ..Default::default() }),
    ];
    for (backup_type, succeeded, options) in cases {
        let (mut sim, mut server) = setup(22);
        run_workload(&mut sim, &mut server, 200);
        server.database_mut("DB1").unwrap().flush(&mut sim, usize::MAX).unwrap();
        let oldest = server.database("DB1").unwrap().oldest_generation();
        let mut provider = ArraySnapshotProvider::default();
        let mut writer = ExchangeWriter::new(&mut server, options);
        let (mut vss, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, backup_type, &[]);
        result.unwrap();
        vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", succeeded).unwrap();
        vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
        assert!(writer.truncated().is_empty(), "{backup_type:?} {succeeded} {options:?}");
        if options.defer_truncation {
            assert_eq!(writer.deferred_truncations().len(), 1);
        }
        assert_eq!(writer.server().database("DB1").unwrap().oldest_generation(), oldest);
    }
}

/// Asserts the set failed with `code`, left no copy on the array and a thawed, usable database.
fn assert_aborted_cleanly(sim: &mut Simulation, server: &mut MailboxServer, vss: &BackupComponents, code: VssCode) {
    assert_eq!(vss.state(), RequestorState::Aborted);
    assert!(vss.shadow_copies().is_empty());
    assert!(virtual_copies(sim, sim.primary()).is_empty(), "{:?}", virtual_copies(sim, sim.primary()));
    let db = server.database_mut("DB1").unwrap();
    assert!(db.freeze_point().is_none(), "{code:?}: the database is thawed");
    run_workload(sim, server, 3);
}

#[test]
fn windows_are_measured_on_the_virtual_clock() {
    // Goal: invariant 30: a provider commit or flush overrunning the 10 s flush-and-hold window
    // fails the set with HOLD/FLUSH_WRITES_TIMEOUT; an overrun of the 60 s freeze window gives
    // WRITERERROR_TIMEOUT and Abort; in every case no copy of the set survives.
    // Method: a slow provider, and delays injected at named steps.
    type Case = (ProviderConfig, Vec<(VssStep, InjectedFault)>, VssCode);
    let slow = ProviderConfig { commit_duration: Duration::from_secs(11), ..ProviderConfig::default() };
    let cases: Vec<Case> = vec![
        (slow, vec![], VssCode::HOLD_WRITES_TIMEOUT),
        (
            ProviderConfig::default(),
            vec![(VssStep::FlushAndHold, InjectedFault::Delay(Duration::from_secs(11)))],
            VssCode::FLUSH_WRITES_TIMEOUT,
        ),
        (
            ProviderConfig::default(),
            vec![(VssStep::PostCommitSnapshots, InjectedFault::Delay(Duration::from_secs(61)))],
            VssCode::WRITERERROR_TIMEOUT,
        ),
    ];
    for (config, faults, code) in cases {
        let (mut sim, mut server) = setup(23);
        run_workload(&mut sim, &mut server, 20);
        let mut provider = ArraySnapshotProvider::new(config);
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let (vss, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &faults);
        assert_eq!(result.unwrap_err().code, code);
        assert_eq!(vss.events().last().unwrap().event, WriterEvent::Abort);
        drop(writer);
        assert_aborted_cleanly(&mut sim, &mut server, &vss, code);
    }
    // Just inside the windows: 10 s of hold and 60 s of freeze succeed.
    let (mut sim, mut server) = setup(23);
    run_workload(&mut sim, &mut server, 20);
    let config = ProviderConfig { commit_duration: Duration::from_secs(10), ..ProviderConfig::default() };
    let mut provider = ArraySnapshotProvider::new(config);
    let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let faults = [(VssStep::PostCommitSnapshots, InjectedFault::Delay(Duration::from_secs(50)))];
    let (_, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &faults);
    assert_eq!(result.unwrap().len(), 2);
}

#[test]
fn a_fault_at_every_step_leaves_no_copy_and_a_thawed_database() {
    // Goal: invariant 30/33 and abort semantics: a failure injected at any named step before
    // BackupComplete aborts the set (no copy survives), writers get Abort only after
    // PrepareForSnapshot, the database is usable again, and a retry is a new set with a new id.
    for step in VssStep::ALL {
        let (mut sim, mut server) = setup(24);
        run_workload(&mut sim, &mut server, 20);
        let mut provider = ArraySnapshotProvider::default();
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let fault = [(step, InjectedFault::Fail(VssCode::WRITERERROR_RETRYABLE))];
        let (mut vss, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &fault);
        if step == VssStep::BackupComplete {
            result.unwrap();
            vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true).unwrap();
            let error =
                vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap_err();
            assert_eq!(error.code, VssCode::WRITERERROR_RETRYABLE);
            assert_eq!(virtual_copies(&sim, sim.primary()).len(), 2, "copies are kept");
            continue;
        }
        assert_eq!(result.unwrap_err().code, VssCode::WRITERERROR_RETRYABLE, "{step:?}");
        let aborted = vss.events().iter().any(|e| e.event == WriterEvent::Abort);
        let prepared = vss.events().iter().any(|e| e.event == WriterEvent::PrepareForSnapshot);
        assert_eq!(aborted, prepared, "{step:?}: Abort only after PrepareForSnapshot");
        let first_set = vss.set_id();
        // VSS never retries: the failed requestor refuses to go on.
        let again = vss.do_snapshot_set(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]);
        assert_eq!(again.unwrap_err().code, VssCode::BAD_STATE);
        drop(writer);
        if step != VssStep::Identify {
            assert_aborted_cleanly(&mut sim, &mut server, &vss, VssCode::WRITERERROR_RETRYABLE);
        }
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let (retry, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &[]);
        result.unwrap();
        assert_ne!(retry.set_id(), first_set, "a retry is a new set");
    }
}

#[test]
fn set_limits_and_consistency() {
    // Goal: invariant 31 (the 65th volume is refused), duplicate and unknown volumes are refused,
    // and a set lacking the log volume fails with WRITERERROR_INCONSISTENTSNAPSHOT.
    let (mut sim, mut server) = setup(25);
    run_workload(&mut sim, &mut server, 5);
    let a = sim.primary();
    for i in 0..65 {
        sim.array_mut(a).create_volume(VolumeSpec::thin(&format!("v{i}"), "FC_r6", 256)).unwrap();
    }
    let mut provider = ArraySnapshotProvider::default();
    let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let mut vss = BackupComponents::new(VssConfig::default());
    vss.initialize_for_backup().unwrap();
    vss.set_backup_state(BackupType::Full).unwrap();
    vss.gather_writer_metadata(&mut sim, &mut [&mut writer as &mut dyn Writer]).unwrap();
    vss.start_snapshot_set(&mut sim).unwrap();
    for i in 0..64 {
        vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, &format!("v{i}"))).unwrap();
    }
    let error = vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "v64")).unwrap_err();
    assert_eq!(error.code, VssCode::MAXIMUM_NUMBER_OF_VOLUMES_REACHED);
    assert_eq!(error.code.hresult(), 0x8004_2312);

    let mut vss = BackupComponents::default();
    vss.initialize_for_backup().unwrap();
    vss.set_backup_state(BackupType::Full).unwrap();
    vss.gather_writer_metadata(&mut sim, &mut [&mut writer as &mut dyn Writer]).unwrap();
    vss.add_component(EXCHANGE_WRITER_NAME, "DB1").unwrap();
    assert_eq!(vss.add_component(EXCHANGE_WRITER_NAME, "DB9").unwrap_err().code, VssCode::OBJECT_NOT_FOUND);
    vss.start_snapshot_set(&mut sim).unwrap();
    vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1")).unwrap();
    let duplicate = vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1")).unwrap_err();
    assert_eq!(duplicate.code, VssCode::OBJECT_ALREADY_EXISTS);
    let missing = vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "nope")).unwrap_err();
    assert_eq!(missing.code, VssCode::OBJECT_NOT_FOUND);
    vss.prepare_for_backup(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
    let error = vss.do_snapshot_set(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap_err();
    assert_eq!(error.code, VssCode::WRITERERROR_INCONSISTENTSNAPSHOT);
    drop(writer);
    assert_aborted_cleanly(&mut sim, &mut server, &vss, error.code);
}

/// A provider that checks, around flush-and-hold, that the set's volumes do not change.
struct HoldChecker {
    inner: ArraySnapshotProvider,
    before: Option<Vec<Vec<u8>>>,
}

fn read_volumes(sim: &Simulation) -> Vec<Vec<u8>> {
    let a = sim.primary();
    ["db1", "db1.log"].iter().map(|v| sim.read(a, v, 0, 2 << 20).unwrap()).collect()
}

impl Provider for HoldChecker {
    fn name(&self) -> &str {
        "hold checker"
    }
    fn is_supported(&self, sim: &Simulation, volume: &VolumeRef) -> bool {
        self.inner.is_supported(sim, volume)
    }
    fn begin_prepare_snapshot(
        &mut self,
        sim: &mut Simulation,
        set: SnapshotSetId,
        volume: &VolumeRef,
    ) -> Result<(), ProviderError> {
        self.inner.begin_prepare_snapshot(sim, set, volume)
    }
    fn end_prepare_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        self.inner.end_prepare_snapshots(sim, set)
    }
    fn pre_commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        self.before = Some(read_volumes(sim));
        self.inner.pre_commit_snapshots(sim, set)
    }
    fn commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        self.inner.commit_snapshots(sim, set)
    }
    fn post_commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        assert_eq!(self.before.as_ref(), Some(&read_volumes(sim)), "no write between PreCommit and PostCommit");
        self.inner.post_commit_snapshots(sim, set)
    }
    fn abort_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        self.inner.abort_snapshots(sim, set)
    }
    fn shadow_copies(&self, set: SnapshotSetId) -> Vec<ShadowCopy> {
        self.inner.shadow_copies(set)
    }
    fn detach_set(&mut self, sim: &mut Simulation, set: SnapshotSetId) {
        self.inner.detach_set(sim, set)
    }
}

#[test]
fn no_write_reaches_the_volumes_while_writes_are_held() {
    // Goal: invariant 29: between the first and the last CommitSnapshots no application write
    // lands on a volume of the set. Method: a provider that reads both volumes at PreCommit and
    // at PostCommit, while the database is frozen with transactions submitted.
    let (mut sim, mut server) = setup(26);
    run_workload(&mut sim, &mut server, 30);
    let mut provider = HoldChecker { inner: ArraySnapshotProvider::default(), before: None };
    let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let (_, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Copy, &[]);
    assert_eq!(result.unwrap().len(), 2);
    assert!(provider.before.is_some());
}

/// One requestor call, for the state-machine property test.
#[derive(Debug, Clone, Copy)]
enum Call {
    Initialize,
    SetState,
    Gather,
    AddComponent,
    Start,
    AddVolume(bool),
    Prepare,
    DoSnapshot,
    SetSucceeded,
    Complete,
    Abort,
}

fn call_strategy() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::Initialize),
        Just(Call::SetState),
        Just(Call::Gather),
        Just(Call::AddComponent),
        Just(Call::Start),
        any::<bool>().prop_map(Call::AddVolume),
        Just(Call::Prepare),
        Just(Call::DoSnapshot),
        Just(Call::SetSucceeded),
        Just(Call::Complete),
        Just(Call::Abort),
    ]
}

/// The reference: the states a call is allowed in (spec §4.2 order).
fn allowed(call: Call) -> &'static [RequestorState] {
    use RequestorState::*;
    match call {
        Call::Initialize => &[Created],
        Call::SetState => &[Initialized],
        Call::Gather => &[BackupStateSet],
        Call::AddComponent => &[MetadataGathered, SetStarted],
        Call::Start => &[MetadataGathered],
        Call::AddVolume(_) => &[SetStarted],
        Call::Prepare => &[SetStarted],
        Call::DoSnapshot => &[PreparedForBackup],
        Call::SetSucceeded => &[SnapshotsTaken],
        Call::Complete => &[SnapshotsTaken],
        Call::Abort => &[SetStarted, PreparedForBackup, SnapshotsTaken],
    }
}

proptest! {
    #![proptest_config(proptest_config(64, "tests/proptest-regressions/vss.txt"))]

    /// Goal: invariant 28: a random sequence of requestor calls gets VSS_E_BAD_STATE exactly
    /// when a call is out of order (per the reference table), a refused call changes nothing,
    /// writer events are a prefix of the spec order (Abort only after PrepareForSnapshot), and
    /// an aborted set leaves no copy on the array. Method: drive BackupComponents and a
    /// reference state machine side by side.
    #[test]
    fn requestor_state_machine(seed in any::<u64>(), calls in prop::collection::vec(call_strategy(), 1..24)) {
        let (mut sim, mut server) = setup(seed);
        run_workload(&mut sim, &mut server, 10);
        let a = sim.primary();
        let mut provider = ArraySnapshotProvider::default();
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let mut vss = BackupComponents::default();
        let mut state = RequestorState::Created;
        let mut volumes = std::collections::BTreeSet::new();
        let mut component = false;
        for call in calls {
            let in_order = allowed(call).contains(&state);
            let writers: &mut [&mut dyn Writer] = &mut [&mut writer];
            let result = match call {
                Call::Initialize => vss.initialize_for_backup(),
                Call::SetState => vss.set_backup_state(BackupType::Full),
                Call::Gather => vss.gather_writer_metadata(&mut sim, writers),
                Call::AddComponent => vss.add_component(EXCHANGE_WRITER_NAME, "DB1"),
                Call::Start => vss.start_snapshot_set(&mut sim).map(|_| ()),
                Call::AddVolume(log) => {
                    let name = if log { "db1.log" } else { "db1" };
                    vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, name))
                }
                Call::Prepare => vss.prepare_for_backup(&mut sim, &mut provider, writers),
                Call::DoSnapshot => vss.do_snapshot_set(&mut sim, &mut provider, writers).map(|_| ()),
                Call::SetSucceeded => vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true),
                Call::Complete => vss.backup_complete(&mut sim, &mut provider, writers),
                Call::Abort => vss.abort_backup(&mut sim, &mut provider, writers),
            };
            if !in_order {
                prop_assert_eq!(result.unwrap_err().code, VssCode::BAD_STATE, "{:?} in {:?}", call, state);
                prop_assert_eq!(vss.state(), state);
                continue;
            }
            // In order: the reference decides the outcome.
            let expected_state = match call {
                Call::Initialize => Ok(RequestorState::Initialized),
                Call::SetState => Ok(RequestorState::BackupStateSet),
                Call::Gather => Ok(RequestorState::MetadataGathered),
                Call::AddComponent => { component = true; Ok(state) }
                Call::Start => Ok(RequestorState::SetStarted),
                Call::AddVolume(log) => if volumes.insert(log) { Ok(state) } else { Err(VssCode::OBJECT_ALREADY_EXISTS) },
                Call::Prepare => if volumes.is_empty() { Err(VssCode::BAD_STATE) } else { Ok(RequestorState::PreparedForBackup) },
                Call::DoSnapshot => if component && volumes.len() < 2 {
                    Err(VssCode::WRITERERROR_INCONSISTENTSNAPSHOT)
                } else {
                    Ok(RequestorState::SnapshotsTaken)
                },
                Call::SetSucceeded => if component { Ok(state) } else { Err(VssCode::OBJECT_NOT_FOUND) },
                Call::Complete => Ok(RequestorState::BackupCompleted),
                Call::Abort => Ok(RequestorState::Aborted),
            };
            match expected_state {
                Ok(next) => {
                    prop_assert!(result.is_ok(), "{:?} in {:?}: {:?}", call, state, result);
                    state = next;
                }
                Err(code) => {
                    prop_assert_eq!(result.unwrap_err().code, code);
                    if code == VssCode::WRITERERROR_INCONSISTENTSNAPSHOT {
                        state = RequestorState::Aborted;
                    }
                }
            }
            prop_assert_eq!(vss.state(), state);
        }
        // Writer events follow the spec order.
        let order = [
            WriterEvent::Identify, WriterEvent::PrepareForBackup, WriterEvent::PrepareForSnapshot,
            WriterEvent::Freeze, WriterEvent::Thaw, WriterEvent::PostSnapshot, WriterEvent::BackupComplete,
        ];
        let events: Vec<WriterEvent> = vss.events().iter().map(|e| e.event).collect();
        let (body, abort) = match events.split_last() {
            Some((WriterEvent::Abort, body)) => (body.to_vec(), true),
            _ => (events.clone(), false),
        };
        prop_assert_eq!(&body[..], &order[..body.len()]);
        if abort {
            prop_assert!(body.contains(&WriterEvent::PrepareForSnapshot));
        }
        // An aborted set leaves no copy; a completed or taken set keeps its copies.
        let copies = virtual_copies(&sim, a);
        match state {
            RequestorState::Aborted => prop_assert!(copies.is_empty(), "{:?}", copies),
            RequestorState::SnapshotsTaken | RequestorState::BackupCompleted => prop_assert_eq!(copies.len(), volumes.len()),
            _ => prop_assert!(copies.is_empty()),
        }
        // The provider holds a set only while it is taken and not yet detached or aborted.
        prop_assert_eq!(provider.sets_held(), usize::from(state == RequestorState::SnapshotsTaken));
        drop(writer);
        prop_assert!(server.database("DB1").unwrap().freeze_point().is_none());
    }
}

#[test]
fn same_seed_same_backup() {
    // Goal: determinism: one seed and one sequence of calls give the same bytes, copy names and
    // trace (equal simulation digests); another seed gives another run. Method: a workload and a
    // FULL backup twice per seed, compare digests.
    fn run(seed: u64) -> (simulator::Digest, Vec<String>) {
        let (mut sim, mut server) = setup(seed);
        run_workload(&mut sim, &mut server, 40);
        let mut provider = ArraySnapshotProvider::default();
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let (mut vss, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &[]);
        let names = result.unwrap().into_iter().map(|c| c.copy_name).collect();
        vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true).unwrap();
        vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
        (sim.digest(), names)
    }
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).0, run(8).0);
}

#[test]
fn two_databases_in_one_set() {
    // Goal: a set with two databases (four volumes) freezes both, commits all four copies at one
    // instant, and truncates both logs at BackupComplete; a database not selected is not frozen.
    // Method: create DB2 and DB3, back up DB1 and DB2 only.
    use recovery::exchange::{DatabaseConfig, DatabaseSpec};
    let (mut sim, mut server) = setup(27);
    for name in ["DB2", "DB3"] {
        let lower = name.to_lowercase();
        let spec = DatabaseSpec {
            name: name.into(),
            db_volume: lower.clone(),
            log_volume: format!("{lower}.log"),
            cpg: "FC_r6".into(),
            snap_cpg: None,
            config: DatabaseConfig::small(),
        };
        server.create_database(&mut sim, spec).unwrap().mount(&mut sim).unwrap();
    }
    run_workload(&mut sim, &mut server, 150);
    for name in ["DB1", "DB2"] {
        let db = server.database_mut(name).unwrap();
        let mut workload = Workload::new(27, WorkloadConfig { flush_every: 0, ..WorkloadConfig::default() });
        for _ in 0..150 {
            workload.step(&mut sim, db).unwrap();
        }
        db.flush(&mut sim, usize::MAX).unwrap();
    }
    let a = sim.primary();
    let mut provider = ArraySnapshotProvider::default();
    let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let mut vss = BackupComponents::default();
    vss.initialize_for_backup().unwrap();
    vss.set_backup_state(BackupType::Full).unwrap();
    vss.gather_writer_metadata(&mut sim, &mut [&mut writer as &mut dyn Writer]).unwrap();
    assert_eq!(vss.writer_metadata()[0].components.len(), 3);
    vss.start_snapshot_set(&mut sim).unwrap();
    for name in ["DB1", "DB2"] {
        vss.add_component(EXCHANGE_WRITER_NAME, name).unwrap();
        let lower = name.to_lowercase();
        for volume in [lower.clone(), format!("{lower}.log")] {
            vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, &volume)).unwrap();
        }
    }
    vss.prepare_for_backup(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
    let copies = vss.do_snapshot_set(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap().to_vec();
    assert_eq!(copies.len(), 4);
    assert!(copies.iter().all(|c| c.created_at == copies[0].created_at));
    assert_eq!(writer.captured().keys().cloned().collect::<Vec<_>>(), ["DB1", "DB2"]);
    for name in ["DB1", "DB2"] {
        vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, name, true).unwrap();
    }
    vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
    for name in ["DB1", "DB2"] {
        let captured = writer.captured()[name];
        let db = writer.server().database(name).unwrap();
        assert!(writer.truncated()[name].is_some(), "{name}");
        assert_eq!(db.oldest_generation(), Some(captured.checkpoint));
    }
    assert!(!writer.truncated().contains_key("DB3"));
}

/// The Exchange writer plus a mail workload that keeps submitting transactions while frozen.
struct BusyWriter<'a> {
    inner: ExchangeWriter<'a>,
    workload: Workload,
    submitted_while_frozen: Vec<recovery::exchange::Transaction>,
}

impl Writer for BusyWriter<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn on_identify(&mut self, sim: &mut Simulation) -> Result<recovery::vss::WriterMetadata, VssError> {
        self.inner.on_identify(sim)
    }
    fn on_prepare_backup(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_prepare_backup(sim, c)
    }
    fn on_prepare_snapshot(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_prepare_snapshot(sim, c)
    }
    fn on_freeze(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_freeze(sim, c)?;
        let db = self.inner.server_mut().database_mut("DB1").unwrap();
        for _ in 0..5 {
            let step = self.workload.step(sim, db).unwrap();
            assert_eq!(step.outcome, recovery::exchange::CommitOutcome::Held);
            self.submitted_while_frozen.push(step.transaction);
        }
        Ok(())
    }
    fn on_thaw(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_thaw(sim, c)
    }
    fn on_post_snapshot(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_post_snapshot(sim, c)
    }
    fn on_backup_complete(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) -> Result<(), VssError> {
        self.inner.on_backup_complete(sim, c)
    }
    fn on_abort(&mut self, sim: &mut Simulation, c: &recovery::vss::BackupContext) {
        self.inner.on_abort(sim, c)
    }
}

#[test]
fn transactions_submitted_during_the_freeze_are_held_out_of_the_copy() {
    // Goal: invariant 29 with an application that keeps writing: transactions submitted between
    // Freeze and Thaw reach neither volume before Thaw (the HoldChecker provider sees no change
    // between PreCommit and PostCommit), the copy holds exactly the content committed before
    // the freeze, and the held transactions are committed at Thaw.
    let (mut sim, mut server) = setup(28);
    let before = run_workload(&mut sim, &mut server, 60);
    let a = sim.primary();
    let mut provider = HoldChecker { inner: ArraySnapshotProvider::default(), before: None };
    let inner = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
    let workload = Workload::new(99, WorkloadConfig::default());
    let mut writer = BusyWriter { inner, workload, submitted_while_frozen: Vec::new() };
    let (_, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &[]);
    let copies = result.unwrap();
    let held = std::mem::take(&mut writer.submitted_while_frozen);
    assert_eq!(held.len(), 5);
    assert_eq!(writer.inner.server().database("DB1").unwrap().held_transactions(), 0, "committed at thaw");
    drop(writer);
    for copy in &copies {
        sim.array_mut(a)
            .create_snapshot(&copy.copy_name, SnapshotSpec::read_write(&format!("{}w", copy.copy_name)))
            .unwrap();
    }
    let (db_rw, log_rw) = (format!("{}w", copies[0].copy_name), format!("{}w", copies[1].copy_name));
    soft_recover_on_array(&mut sim, a, &db_rw, &log_rw).unwrap();
    assert_eq!(read_database_contents(&ArrayVolume::new(&sim, a, &db_rw).unwrap()).unwrap(), before.pages);
    let mut after = before.clone();
    for transaction in &held {
        after.apply(transaction);
    }
    let db = server.database_mut("DB1").unwrap();
    db.dismount(&mut sim).unwrap();
    assert_eq!(read_database_contents(&ArrayVolume::new(&sim, a, "db1").unwrap()).unwrap(), after.pages);
}

proptest! {
    #![proptest_config(proptest_config(64, "tests/proptest-regressions/vss_windows.txt"))]

    /// Goal: invariant 30 for any timing: with random virtual delays at the steps inside the
    /// freeze, the set fails with FLUSH_WRITES_TIMEOUT, HOLD_WRITES_TIMEOUT or
    /// WRITERERROR_TIMEOUT exactly when the reference sums exceed 10 s / 10 s / 60 s (a window
    /// reached exactly is still inside), and a failed set leaves no copy. Method: inject delays
    /// of whole seconds, compute the windows independently, compare.
    #[test]
    fn windows_match_the_reference(
        freeze in 0u64..20, pre_commit in 0u64..20, flush in 0u64..13, commit in 0u64..8,
        release in 0u64..8, post_commit in 0u64..40, thaw in 0u64..20,
    ) {
        let (mut sim, mut server) = setup(29);
        run_workload(&mut sim, &mut server, 5);
        let secs = Duration::from_secs;
        let faults = [
            (VssStep::Freeze, InjectedFault::Delay(secs(freeze))),
            (VssStep::PreCommitSnapshots, InjectedFault::Delay(secs(pre_commit))),
            (VssStep::FlushAndHold, InjectedFault::Delay(secs(flush))),
            (VssStep::CommitSnapshots, InjectedFault::Delay(secs(commit))),
            (VssStep::ReleaseWrites, InjectedFault::Delay(secs(release))),
            (VssStep::PostCommitSnapshots, InjectedFault::Delay(secs(post_commit))),
            (VssStep::Thaw, InjectedFault::Delay(secs(thaw))),
        ];
        let mut provider = ArraySnapshotProvider::default();
        let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
        let (_, result) = backup_until_snapshot(&mut sim, &mut writer, &mut provider, BackupType::Full, &faults);
        let hold = flush + commit + release;
        let frozen = freeze + pre_commit + hold + post_commit + thaw;
        let expected = if flush > 10 {
            Some(VssCode::FLUSH_WRITES_TIMEOUT)
        } else if hold > 10 {
            Some(VssCode::HOLD_WRITES_TIMEOUT)
        } else if frozen > 60 {
            Some(VssCode::WRITERERROR_TIMEOUT)
        } else {
            None
        };
        prop_assert_eq!(result.as_ref().err().map(|e| e.code), expected);
        let copies = virtual_copies(&sim, sim.primary()).len();
        prop_assert_eq!(copies, if expected.is_none() { 2 } else { 0 });
    }
}

proptest! {
    #![proptest_config(proptest_config(256, "tests/proptest-regressions/vss_set_id.txt"))]

    // Goal: a snapshot-set id prints as the GUID it always printed (entries and traces carry it,
    // so digests and repositories depend on it). Method: any 128-bit id, compared with the
    // padded-hex `format!` the type's `Display` was first written with.
    #[test]
    fn snapshot_set_id_prints_as_a_guid(high in any::<u64>(), low in any::<u64>()) {
        let v = (u128::from(high) << 64) | u128::from(low);
        let expected = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        );
        prop_assert_eq!(SnapshotSetId(v).to_string(), expected);
    }
}

#[test]
fn snapshot_set_id_edge_values() {
    assert_eq!(SnapshotSetId(0).to_string(), "00000000-0000-0000-0000-000000000000");
    assert_eq!(SnapshotSetId(u128::MAX).to_string(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
    assert_eq!(
        SnapshotSetId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210).to_string(),
        "01234567-89ab-cdef-fedc-ba9876543210"
    );
}

/// Goal: an event's name is its `Debug` form (trace lines and their hash use the name).
#[test]
fn an_event_name_is_its_debug_form() {
    for event in WriterEvent::ALL {
        assert_eq!(event.name(), format!("{event:?}"));
    }
}
