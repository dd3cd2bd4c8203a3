//! The VSS framework model: the requestor's backup components, writers, providers, the event
//! order of one shadow-copy set and its time windows on the virtual clock.
//!
//! What it holds: [`BackupComponents`] (the requestor side of `IVssBackupComponents`: a state
//! machine whose out-of-order calls return `VSS_E_BAD_STATE`), the [`Writer`] trait and the
//! Exchange writer ([`ExchangeWriter`]), the [`Provider`] trait and a simple provider over the
//! simulator ([`ArraySnapshotProvider`]), the error codes with their HRESULTs ([`VssCode`],
//! [`VssError`]) and the named steps where tests and workflows inject faults ([`VssStep`]).
//!
//! What it does not do: no Writer Metadata Document XML, no component selection by logical path,
//! no incremental/differential/log backups (FULL and COPY only), no software provider, no
//! `BackupShutdown` clean-up of a set whose `BackupComplete` never came (the workflow aborts it).
//! The requestor always accepts a writer's veto (it never ignores one). The 3PAR provider with
//! Remote Copy belongs to the workflows; [`ArraySnapshotProvider`] is the plain one.
//!
//! Main design choice: one synchronous call, [`BackupComponents::do_snapshot_set`], runs the
//! whole spec §4.2 sequence and checks each window against [`simulator::Simulation::now`] after
//! every step that can take time, instead of scheduling timer events. A provider or an injected
//! delay that moves the virtual clock past a window fails the set exactly as a timer would,
//! and the code reads in the order of the spec. The cost: a window is checked at step
//! boundaries, not in the middle of a provider call (a provider that overruns is caught when it
//! returns, and its copies are then deleted).
//!
//! Event order delivered to writers (spec §4.2, invariant 28):
//! Identify → PrepareForBackup → PrepareForSnapshot → Freeze → Thaw → PostSnapshot →
//! BackupComplete, or Abort at any point after PrepareForSnapshot.
//! Provider calls inside `do_snapshot_set`: BeginPrepareSnapshot (per volume) →
//! EndPrepareSnapshots → [writers PrepareForSnapshot, Freeze] → PreCommitSnapshots →
//! flush-and-hold → CommitSnapshots (all volumes at one instant) → writes released →
//! PostCommitSnapshots → [writers Thaw, PostSnapshot]; AbortSnapshots on any failure.
//!
//! One FULL backup of one database, as a workflow drives it:
//!
//! ```
//! use recovery::exchange::{DatabaseConfig, DatabaseSpec, MailboxServer};
//! use recovery::vss::{
//!     ArraySnapshotProvider, BackupComponents, BackupType, ExchangeWriter, ExchangeWriterOptions, VolumeRef,
//!     Writer, EXCHANGE_WRITER_NAME,
//! };
//! use simulator::{CpgSpec, Simulation};
//!
//! let mut sim = Simulation::new(1);
//! let a = sim.primary();
//! sim.array_mut(a).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
//! let mut server = MailboxServer::create(&mut sim, a, "MBX01", "mbx01", &[]).unwrap();
//! let spec = DatabaseSpec {
//!     name: "DB1".into(),
//!     db_volume: "db1".into(),
//!     log_volume: "db1.log".into(),
//!     cpg: "FC_r6".into(),
//!     snap_cpg: None,
//!     config: DatabaseConfig::small(),
//! };
//! server.create_database(&mut sim, spec).unwrap().mount(&mut sim).unwrap();
//!
//! let mut provider = ArraySnapshotProvider::default();
//! let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
//! let mut vss = BackupComponents::default();
//! vss.initialize_for_backup().unwrap();
//! vss.set_backup_state(BackupType::Full).unwrap();
//! vss.gather_writer_metadata(&mut sim, &mut [&mut writer as &mut dyn Writer]).unwrap();
//! vss.add_component(EXCHANGE_WRITER_NAME, "DB1").unwrap();
//! vss.start_snapshot_set(&mut sim).unwrap();
//! vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1")).unwrap();
//! vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1.log")).unwrap();
//! vss.prepare_for_backup(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
//! let copies = vss.do_snapshot_set(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
//! assert_eq!(copies.len(), 2);
//! // The requestor checks the copies (recovery::verify) before marking the component succeeded.
//! vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true).unwrap();
//! vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
//! ```

mod exchange_writer;
mod provider;

use compact_str::CompactString;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use simulator::{ArrayId, Instant, Simulation};

pub use exchange_writer::{EXCHANGE_WRITER_NAME, ExchangeWriter, ExchangeWriterOptions};
pub use provider::{ArraySnapshotProvider, ProviderConfig};

macro_rules! vss_codes {
    ($( $(#[$doc:meta])* $variant:ident = $hresult:literal; )*) => {
        /// A VSS error code: its symbol (`VSS_E_` + the variant name) and HRESULT.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        #[allow(non_camel_case_types)]
        pub enum VssCode {
            $( $(#[$doc])* $variant, )*
        }

        impl VssCode {
            /// Every code, in table order.
            pub const ALL: &'static [VssCode] = &[$(VssCode::$variant,)*];

            /// The HRESULT, e.g. `0x80042301` for `VSS_E_BAD_STATE`.
            pub fn hresult(self) -> u32 {
                match self { $(VssCode::$variant => $hresult,)* }
            }

            /// The symbol, e.g. `VSS_E_BAD_STATE`.
            pub fn symbol(self) -> &'static str {
                match self { $(VssCode::$variant => concat!("VSS_E_", stringify!($variant)),)* }
            }
        }
    };
}

vss_codes! {
    /// A call out of sequence.
    BAD_STATE = 0x8004_2301;
    /// An unexpected error in VSS itself.
    UNEXPECTED = 0x8004_2302;
    /// The provider refused the operation (transient).
    PROVIDER_VETO = 0x8004_2306;
    /// The object (volume, set) was not found.
    OBJECT_NOT_FOUND = 0x8004_2308;
    /// The volume cannot be shadow-copied.
    VOLUME_NOT_SUPPORTED = 0x8004_230C;
    /// The object already exists (a volume added twice).
    OBJECT_ALREADY_EXISTS = 0x8004_230D;
    /// The provider does not support the volume.
    VOLUME_NOT_SUPPORTED_BY_PROVIDER = 0x8004_230E;
    /// The provider failed in an unexpected way (any other provider error is converted to this).
    UNEXPECTED_PROVIDER_ERROR = 0x8004_230F;
    /// More than 64 volumes in one set.
    MAXIMUM_NUMBER_OF_VOLUMES_REACHED = 0x8004_2312;
    /// Flushing the file systems took longer than the flush-and-hold window.
    FLUSH_WRITES_TIMEOUT = 0x8004_2313;
    /// Writes were held longer than the flush-and-hold window (10 s).
    HOLD_WRITES_TIMEOUT = 0x8004_2314;
    /// Events could not be delivered to writers.
    UNEXPECTED_WRITER_ERROR = 0x8004_2315;
    /// Another set is being created.
    SNAPSHOT_SET_IN_PROGRESS = 0x8004_2316;
    /// The volume has as many shadow copies as it may.
    MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED = 0x8004_2317;
    /// Not enough storage for the shadow copy.
    INSUFFICIENT_STORAGE = 0x8004_231F;
    /// A reboot is required.
    REBOOT_REQUIRED = 0x8004_2327;
    /// Freezing a transaction manager timed out.
    TRANSACTION_FREEZE_TIMEOUT = 0x8004_2328;
    /// Too long between freezing and thawing a transaction manager.
    TRANSACTION_THAW_TIMEOUT = 0x8004_2329;
    /// Volumes nested too deeply.
    NESTED_VOLUME_LIMIT = 0x8004_232C;
    /// The set lacks volumes the writer needs.
    WRITERERROR_INCONSISTENTSNAPSHOT = 0x8004_23F0;
    /// The writer ran out of resources (retry after 10 minutes, up to 3 times).
    WRITERERROR_OUTOFRESOURCES = 0x8004_23F1;
    /// The Freeze→Thaw window expired (retry after 10 minutes, up to 3 times).
    WRITERERROR_TIMEOUT = 0x8004_23F2;
    /// A transient writer error (retry after 10 minutes, up to 3 times).
    WRITERERROR_RETRYABLE = 0x8004_23F3;
    /// A writer error that would recur.
    WRITERERROR_NONRETRYABLE = 0x8004_23F4;
    /// Component-level writer errors.
    WRITERERROR_PARTIAL_FAILURE = 0x8004_2336;
}

impl VssCode {
    /// Whether the code is a writer failure (`VSS_E_WRITERERROR_*`).
    pub fn is_writer_error(self) -> bool {
        self.symbol().starts_with("VSS_E_WRITERERROR_")
    }
}

/// A failed VSS call: the code, a sentence of context and, for provider failures caused by the
/// array, the array's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct VssError {
    /// The VSS code.
    pub code: VssCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The array error behind a provider failure, if any.
    pub array_error: Option<simulator::Error>,
}

impl fmt::Display for VssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#010x}): {}", self.code.symbol(), self.code.hresult(), self.message)?;
        if let Some(cause) = &self.array_error {
            write!(f, " [{cause}]")?;
        }
        Ok(())
    }
}

impl VssError {
    /// An error with `code` and a sentence of context.
    pub fn new(code: VssCode, message: impl Into<String>) -> VssError {
        VssError { code, message: message.into(), array_error: None }
    }
}

/// Result of a VSS call.
pub type Result<T, E = VssError> = std::result::Result<T, E>;

/// The backup type set by `SetBackupState` (spec §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackupType {
    /// `VSS_BT_FULL`: backup history updated, logs truncated at `BackupComplete`.
    Full,
    /// `VSS_BT_COPY`: history not updated, logs never truncated.
    Copy,
}

/// A shadow-copy set id: a GUID drawn from the simulation's PRNG (a retry gets a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotSetId(pub u128);

impl fmt::Display for SnapshotSetId {
    /// The GUID form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lowercase): the 32 hex digits of the
    /// id, most significant first, with dashes after the 8th, 12th, 16th and 20th.
    /// Written digit by digit into a buffer: every backup formats its set id a few times (entries,
    /// trace lines), and five padded hex arguments through `write!` cost about 2,500
    /// instructions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guid = self.guid();
        f.write_str(std::str::from_utf8(&guid).expect("hex digits and dashes are ASCII"))
    }
}

impl SnapshotSetId {
    /// The bytes of the GUID form (see the `Display` impl), without a `String`: for comparing
    /// with a recorded id.
    pub(crate) fn guid(self) -> [u8; 36] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in self.0.to_be_bytes().into_iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            out[at] = DIGITS[usize::from(byte >> 4)];
            out[at + 1] = DIGITS[usize::from(byte & 0xf)];
            at += 2;
        }
        out
    }
}

/// A volume as VSS sees it: a virtual volume on an array (the LUN behind a Windows volume).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VolumeRef {
    /// The array.
    pub array: ArrayId,
    /// The virtual volume's name (inline up to 24 bytes: a writer reports every component's
    /// volumes at each Identify).
    pub volume: CompactString,
}

impl VolumeRef {
    /// `volume` on `array`.
    pub fn new(array: ArrayId, volume: &str) -> VolumeRef {
        VolumeRef { array, volume: volume.into() }
    }
}

/// One shadow copy of a committed set: an array virtual copy of one source volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowCopy {
    /// The set.
    pub set_id: SnapshotSetId,
    /// The source volume.
    pub source: VolumeRef,
    /// The virtual copy's name on the source's array.
    pub copy_name: String,
    /// When it was committed.
    pub created_at: Instant,
}

/// A component a writer reports at Identify (an Exchange database): its name and volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Component name (the database name; inline up to 24 bytes).
    pub name: CompactString,
    /// Volumes the component lives on; all must be in the set.
    pub volumes: Vec<VolumeRef>,
}

/// What a writer reports at Identify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterMetadata {
    /// Writer name.
    pub writer: String,
    /// Its components.
    pub components: Vec<Component>,
}

/// What a writer is told with each event: a view of the requestor's set, borrowed for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupContext<'a> {
    /// The set.
    pub set_id: SnapshotSetId,
    /// FULL or COPY.
    pub backup_type: BackupType,
    /// This writer's components selected for the backup.
    pub components: &'a BTreeSet<String>,
    /// Every volume in the set.
    pub volumes: &'a [VolumeRef],
    /// Components marked succeeded (`SetBackupSucceeded`); meaningful at BackupComplete.
    pub succeeded: &'a BTreeSet<String>,
}

impl BackupContext<'_> {
    /// Whether the set holds `volume` on `array`.
    pub fn has_volume(&self, array: ArrayId, volume: &str) -> bool {
        self.volumes.iter().any(|v| v.array == array && v.volume == volume)
    }
}

/// The components of a writer with none selected or succeeded.
static NO_COMPONENTS: BTreeSet<String> = BTreeSet::new();

/// A VSS writer: receives the events of spec §4.2.
///
/// A handler that returns `Err` vetoes (`SetWriterFailure`): the requestor fails the set.
pub trait Writer {
    /// The writer's name.
    fn name(&self) -> &str;
    /// `OnIdentify`: report components.
    fn on_identify(&mut self, sim: &mut Simulation) -> Result<WriterMetadata>;
    /// `OnPrepareBackup`.
    fn on_prepare_backup(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnPrepareSnapshot`: long work goes here.
    fn on_prepare_snapshot(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnFreeze`: stop writing.
    fn on_freeze(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnThaw`: resume writing.
    fn on_thaw(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnPostSnapshot`.
    fn on_post_snapshot(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnBackupComplete`: a FULL backup's writer truncates logs here.
    fn on_backup_complete(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()>;
    /// `OnAbort`: undo the freeze, forget the backup. Cannot fail.
    fn on_abort(&mut self, sim: &mut Simulation, context: &BackupContext);
}

/// Why a provider call failed; the requestor converts it to a [`VssCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider refuses now (→ `VSS_E_PROVIDER_VETO`).
    #[error("provider veto: {0}")]
    Veto(String),
    /// Not enough space (→ `VSS_E_INSUFFICIENT_STORAGE`).
    #[error("insufficient storage: {0}")]
    InsufficientStorage(String),
    /// An array operation failed (→ by its code, else `VSS_E_UNEXPECTED_PROVIDER_ERROR`).
    #[error(transparent)]
    Array(#[from] simulator::Error),
    /// Anything else (→ `VSS_E_UNEXPECTED_PROVIDER_ERROR`).
    #[error("{0}")]
    Unexpected(String),
}

impl ProviderError {
    /// The VSS error the requestor reports for this provider failure.
    pub fn to_vss(&self, call: &str) -> VssError {
        use simulator::ErrorCode;
        let (code, array_error) = match self {
            ProviderError::Veto(_) => (VssCode::PROVIDER_VETO, None),
            ProviderError::InsufficientStorage(_) => (VssCode::INSUFFICIENT_STORAGE, None),
            ProviderError::Array(e) if e.code == ErrorCode::NO_SPACE => {
                (VssCode::INSUFFICIENT_STORAGE, Some(e.clone()))
            }
            ProviderError::Array(e) if e.code == ErrorCode::SNAPSHOT_LIMIT_REACHED => {
                (VssCode::MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED, Some(e.clone()))
            }
            ProviderError::Array(e) => (VssCode::UNEXPECTED_PROVIDER_ERROR, Some(e.clone())),
            ProviderError::Unexpected(_) => (VssCode::UNEXPECTED_PROVIDER_ERROR, None),
        };
        VssError { code, message: format!("provider {call}: {self}"), array_error }
    }
}

/// A VSS hardware provider (spec §4.2 provider calls).
pub trait Provider {
    /// The provider's name.
    fn name(&self) -> &str;
    /// Whether the provider can shadow-copy `volume` (`IsVolumeSupported`).
    fn is_supported(&self, sim: &Simulation, volume: &VolumeRef) -> bool;
    /// `BeginPrepareSnapshot` for one volume of the set.
    fn begin_prepare_snapshot(
        &mut self,
        sim: &mut Simulation,
        set: SnapshotSetId,
        volume: &VolumeRef,
    ) -> Result<(), ProviderError>;
    /// `EndPrepareSnapshots`, once.
    fn end_prepare_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError>;
    /// `PreCommitSnapshots`: applications are frozen.
    fn pre_commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError>;
    /// `CommitSnapshots`: take every copy of the set at one instant (writes are held).
    fn commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError>;
    /// `PostCommitSnapshots`: writes released, applications still frozen.
    fn post_commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError>;
    /// `AbortSnapshots`: delete every copy made for the set.
    fn abort_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError>;
    /// The copies committed for the set (`GetSnapshotProperties`).
    fn shadow_copies(&self, set: SnapshotSetId) -> Vec<ShadowCopy>;
    /// The backup is complete: the set's copies now belong to the requestor (Recovery Manager
    /// detaches them from VSS control, spec §3.1); the provider forgets the set and will not
    /// delete its copies.
    fn detach_set(&mut self, sim: &mut Simulation, set: SnapshotSetId);
}

/// The named points of one backup where a fault can be injected ([`BackupComponents::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VssStep {
    /// Writers' Identify (`GatherWriterMetadata`).
    Identify,
    /// Writers' PrepareForBackup.
    PrepareForBackup,
    /// Provider `BeginPrepareSnapshot` (each volume).
    BeginPrepareSnapshot,
    /// Provider `EndPrepareSnapshots`.
    EndPrepareSnapshots,
    /// Writers' PrepareForSnapshot.
    PrepareForSnapshot,
    /// Writers' Freeze.
    Freeze,
    /// Provider `PreCommitSnapshots`.
    PreCommitSnapshots,
    /// The kernel's flush of the set's file systems (start of flush-and-hold).
    FlushAndHold,
    /// Provider `CommitSnapshots`.
    CommitSnapshots,
    /// Release of the held writes.
    ReleaseWrites,
    /// Provider `PostCommitSnapshots`.
    PostCommitSnapshots,
    /// Writers' Thaw.
    Thaw,
    /// Writers' PostSnapshot.
    PostSnapshot,
    /// Writers' BackupComplete.
    BackupComplete,
}

impl VssStep {
    /// Every step, in the order a backup reaches them.
    pub const ALL: [VssStep; 14] = [
        VssStep::Identify,
        VssStep::PrepareForBackup,
        VssStep::BeginPrepareSnapshot,
        VssStep::EndPrepareSnapshots,
        VssStep::PrepareForSnapshot,
        VssStep::Freeze,
        VssStep::PreCommitSnapshots,
        VssStep::FlushAndHold,
        VssStep::CommitSnapshots,
        VssStep::ReleaseWrites,
        VssStep::PostCommitSnapshots,
        VssStep::Thaw,
        VssStep::PostSnapshot,
        VssStep::BackupComplete,
    ];
}

/// A fault injected at a [`VssStep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    /// The step fails with this code (for writer steps: the writer vetoes with it).
    Fail(VssCode),
    /// The step takes this long in virtual time before it runs (to overrun a window).
    Delay(Duration),
}

/// An event delivered to a writer (recorded by [`BackupComponents::events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WriterEvent {
    /// `OnIdentify`.
    Identify,
    /// `OnPrepareBackup`.
    PrepareForBackup,
    /// `OnPrepareSnapshot`.
    PrepareForSnapshot,
    /// `OnFreeze`.
    Freeze,
    /// `OnThaw`.
    Thaw,
    /// `OnPostSnapshot`.
    PostSnapshot,
    /// `OnBackupComplete`.
    BackupComplete,
    /// `OnAbort`.
    Abort,
}

impl WriterEvent {
    /// Every event, in the order a successful backup delivers them, then `Abort`.
    pub const ALL: [WriterEvent; 8] = [
        WriterEvent::Identify,
        WriterEvent::PrepareForBackup,
        WriterEvent::PrepareForSnapshot,
        WriterEvent::Freeze,
        WriterEvent::Thaw,
        WriterEvent::PostSnapshot,
        WriterEvent::BackupComplete,
        WriterEvent::Abort,
    ];

    /// The event's name, as its `Debug` form writes it (`PrepareForBackup`).
    pub fn name(self) -> &'static str {
        match self {
            WriterEvent::Identify => "Identify",
            WriterEvent::PrepareForBackup => "PrepareForBackup",
            WriterEvent::PrepareForSnapshot => "PrepareForSnapshot",
            WriterEvent::Freeze => "Freeze",
            WriterEvent::Thaw => "Thaw",
            WriterEvent::PostSnapshot => "PostSnapshot",
            WriterEvent::BackupComplete => "BackupComplete",
            WriterEvent::Abort => "Abort",
        }
    }
}

/// One delivered event: when, to whom, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Virtual time of delivery.
    pub at: Instant,
    /// The writer.
    pub writer: String,
    /// The event.
    pub event: WriterEvent,
}

/// Time and size limits. Defaults (spec §4.3, §4.4): freeze 60 s, flush-and-hold 10 s,
/// 64 volumes per set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VssConfig {
    /// Longest Freeze→Thaw window before writers abort (`dwTimeoutFreeze`).
    pub freeze_timeout: Duration,
    /// Longest flush-and-hold before the kernel cancels it.
    pub flush_and_hold_timeout: Duration,
    /// Most volumes in one set.
    pub max_volumes: usize,
}

impl Default for VssConfig {
    fn default() -> Self {
        VssConfig {
            freeze_timeout: Duration::from_secs(60),
            flush_and_hold_timeout: Duration::from_secs(10),
            max_volumes: 64,
        }
    }
}

/// Where the requestor is in one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestorState {
    /// `CreateVssBackupComponents` done.
    Created,
    /// `InitializeForBackup` done.
    Initialized,
    /// `SetBackupState` done.
    BackupStateSet,
    /// `GatherWriterMetadata` done (writers identified).
    MetadataGathered,
    /// `StartSnapshotSet` done; volumes may be added.
    SetStarted,
    /// `PrepareForBackup` done.
    PreparedForBackup,
    /// `DoSnapshotSet` succeeded; the copies exist.
    SnapshotsTaken,
    /// `BackupComplete` delivered. Final.
    BackupCompleted,
    /// The set was aborted (by a failure or `AbortBackup`); its copies are deleted. Final.
    Aborted,
}

/// The requestor's side of one backup (`IVssBackupComponents`).
///
/// Calls must come in the order of spec §4.2; any other order returns `VSS_E_BAD_STATE` and
/// changes nothing. A failed set is final: VSS never retries, a retry is a new
/// `BackupComponents` with a new set id.
pub struct BackupComponents {
    config: VssConfig,
    state: RequestorState,
    backup_type: BackupType,
    set_id: Option<SnapshotSetId>,
    volumes: Vec<VolumeRef>,
    metadata: Vec<WriterMetadata>,
    /// Selected components: writer → component names.
    selected: BTreeMap<String, BTreeSet<String>>,
    /// Components marked succeeded: writer → component names.
    succeeded: BTreeMap<String, BTreeSet<String>>,
    /// Writers that received PrepareForSnapshot (they get Abort on failure).
    prepared_writers: bool,
    events: Vec<EventRecord>,
    faults: BTreeMap<VssStep, InjectedFault>,
    shadow_copies: Vec<ShadowCopy>,
    abort_failure: Option<VssError>,
    frozen_at: Option<Instant>,
    hold: Option<(Instant, Instant)>,
}

impl Default for BackupComponents {
    fn default() -> Self {
        BackupComponents::new(VssConfig::default())
    }
}

impl BackupComponents {
    /// `CreateVssBackupComponents` with the given limits.
    pub fn new(config: VssConfig) -> BackupComponents {
        BackupComponents {
            config,
            state: RequestorState::Created,
            backup_type: BackupType::Full,
            set_id: None,
            volumes: Vec::new(),
            metadata: Vec::new(),
            selected: BTreeMap::new(),
            succeeded: BTreeMap::new(),
            prepared_writers: false,
            events: Vec::new(),
            faults: BTreeMap::new(),
            shadow_copies: Vec::new(),
            abort_failure: None,
            frozen_at: None,
            hold: None,
        }
    }

    /// Injects `fault` at `step` (one fault per step; it fires once).
    pub fn inject(&mut self, step: VssStep, fault: InjectedFault) {
        self.faults.insert(step, fault);
    }

    /// The current state.
    pub fn state(&self) -> RequestorState {
        self.state
    }

    /// The backup type.
    pub fn backup_type(&self) -> BackupType {
        self.backup_type
    }

    /// The set id, once `StartSnapshotSet` ran.
    pub fn set_id(&self) -> Option<SnapshotSetId> {
        self.set_id
    }

    /// Volumes added to the set.
    pub fn volumes(&self) -> &[VolumeRef] {
        &self.volumes
    }

    /// What writers reported at Identify.
    pub fn writer_metadata(&self) -> &[WriterMetadata] {
        &self.metadata
    }

    /// Every event delivered to writers, in delivery order.
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    /// The copies of the committed set (`GetSnapshotProperties`); empty unless the snapshots
    /// were taken and not aborted.
    pub fn shadow_copies(&self) -> &[ShadowCopy] {
        &self.shadow_copies
    }

    /// When the writers were frozen, and when the held writes were held and released.
    pub fn windows(&self) -> (Option<Instant>, Option<(Instant, Instant)>) {
        (self.frozen_at, self.hold)
    }

    /// The error the provider returned when asked to delete an aborted set's copies, if any:
    /// those copies may survive and the caller must remove them.
    pub fn abort_failure(&self) -> Option<&VssError> {
        self.abort_failure.as_ref()
    }

    fn expect_state(&self, allowed: &[RequestorState], call: &str) -> Result<()> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(VssError::new(VssCode::BAD_STATE, format!("{call} called in state {:?}", self.state)))
        }
    }

    fn take_fault(&mut self, sim: &mut Simulation, step: VssStep) -> Result<()> {
        match self.faults.remove(&step) {
            None => Ok(()),
            Some(InjectedFault::Delay(duration)) => {
                sim.record_fmt("vss", format_args!("injected delay of {duration:?} at {step:?}"));
                sim.advance(duration);
                Ok(())
            }
            Some(InjectedFault::Fail(code)) => {
                sim.record_fmt("vss", format_args!("injected {} at {step:?}", code.symbol()));
                Err(VssError::new(code, format!("injected at {step:?}")))
            }
        }
    }

    fn context_for(&self, writer: &str) -> BackupContext<'_> {
        BackupContext {
            set_id: self.set_id.unwrap_or(SnapshotSetId(0)),
            backup_type: self.backup_type,
            components: self.selected.get(writer).unwrap_or(&NO_COMPONENTS),
            volumes: &self.volumes,
            succeeded: self.succeeded.get(writer).unwrap_or(&NO_COMPONENTS),
        }
    }

    fn record_event(&mut self, sim: &mut Simulation, writer: &str, event: WriterEvent) {
        // `<event> -> <writer>`, appended piece by piece: seven lines per backup.
        sim.record_with("vss", |text| {
            for piece in [event.name(), " -> ", writer] {
                text.push_str(piece);
            }
        });
        self.events.push(EventRecord { at: sim.now(), writer: writer.to_owned(), event });
    }

    /// Delivers `event` to every writer; the first veto fails the step.
    fn deliver(
        &mut self,
        sim: &mut Simulation,
        writers: &mut [&mut dyn Writer],
        step: VssStep,
        event: WriterEvent,
    ) -> Result<()> {
        self.take_fault(sim, step)?;
        self.deliver_event(sim, writers, event)
    }

    /// Delivers `event` to every writer without taking the step's fault.
    fn deliver_event(
        &mut self,
        sim: &mut Simulation,
        writers: &mut [&mut dyn Writer],
        event: WriterEvent,
    ) -> Result<()> {
        for writer in writers.iter_mut() {
            self.record_event(sim, writer.name(), event);
            if event == WriterEvent::PrepareForSnapshot {
                // From here on, a failure owes the writers an Abort.
                self.prepared_writers = true;
            }
            let context = self.context_for(writer.name());
            let result = match event {
                WriterEvent::PrepareForBackup => writer.on_prepare_backup(sim, &context),
                WriterEvent::PrepareForSnapshot => writer.on_prepare_snapshot(sim, &context),
                WriterEvent::Freeze => writer.on_freeze(sim, &context),
                WriterEvent::Thaw => writer.on_thaw(sim, &context),
                WriterEvent::PostSnapshot => writer.on_post_snapshot(sim, &context),
                WriterEvent::BackupComplete => writer.on_backup_complete(sim, &context),
                WriterEvent::Identify | WriterEvent::Abort => unreachable!("delivered by their own calls"),
            };
            result?;
        }
        Ok(())
    }

    /// `InitializeForBackup`.
    pub fn initialize_for_backup(&mut self) -> Result<()> {
        self.expect_state(&[RequestorState::Created], "InitializeForBackup")?;
        self.state = RequestorState::Initialized;
        Ok(())
    }

    /// `SetBackupState`: FULL or COPY.
    pub fn set_backup_state(&mut self, backup_type: BackupType) -> Result<()> {
        self.expect_state(&[RequestorState::Initialized], "SetBackupState")?;
        self.backup_type = backup_type;
        self.state = RequestorState::BackupStateSet;
        Ok(())
    }

    /// `GatherWriterMetadata`: writers get Identify.
    ///
    /// Errors: `VSS_E_BAD_STATE`; a writer's veto (the backup may be retried from scratch).
    pub fn gather_writer_metadata(&mut self, sim: &mut Simulation, writers: &mut [&mut dyn Writer]) -> Result<()> {
        self.expect_state(&[RequestorState::BackupStateSet], "GatherWriterMetadata")?;
        self.take_fault(sim, VssStep::Identify)?;
        let mut metadata = Vec::with_capacity(writers.len());
        for writer in writers.iter_mut() {
            self.record_event(sim, writer.name(), WriterEvent::Identify);
            metadata.push(writer.on_identify(sim)?);
        }
        self.metadata = metadata;
        self.state = RequestorState::MetadataGathered;
        Ok(())
    }

    /// `AddComponent`: selects a component a writer reported.
    ///
    /// Errors: `VSS_E_BAD_STATE`; `VSS_E_OBJECT_NOT_FOUND` for an unknown writer or component.
    pub fn add_component(&mut self, writer: &str, component: &str) -> Result<()> {
        self.expect_state(&[RequestorState::MetadataGathered, RequestorState::SetStarted], "AddComponent")?;
        let known =
            self.metadata.iter().any(|m| m.writer == writer && m.components.iter().any(|c| c.name == component));
        if !known {
            return Err(VssError::new(
                VssCode::OBJECT_NOT_FOUND,
                format!("writer '{writer}' reported no component '{component}'"),
            ));
        }
        self.selected.entry(writer.to_owned()).or_default().insert(component.to_owned());
        Ok(())
    }

    /// `StartSnapshotSet`: a new set with a new id.
    pub fn start_snapshot_set(&mut self, sim: &mut Simulation) -> Result<SnapshotSetId> {
        self.expect_state(&[RequestorState::MetadataGathered], "StartSnapshotSet")?;
        let high = u128::from(sim.prng().next_u64());
        let low = u128::from(sim.prng().next_u64());
        let id = SnapshotSetId((high << 64) | low);
        sim.record_fmt("vss", format_args!("start snapshot set {id}"));
        self.set_id = Some(id);
        self.state = RequestorState::SetStarted;
        Ok(id)
    }

    /// `AddToSnapshotSet`.
    ///
    /// Errors: `VSS_E_BAD_STATE`; `VSS_E_OBJECT_NOT_FOUND` (no such volume);
    /// `VSS_E_OBJECT_ALREADY_EXISTS` (added twice); `VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER`;
    /// `VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED` (the 65th volume).
    pub fn add_to_snapshot_set(&mut self, sim: &Simulation, provider: &dyn Provider, volume: VolumeRef) -> Result<()> {
        self.expect_state(&[RequestorState::SetStarted], "AddToSnapshotSet")?;
        if self.volumes.len() >= self.config.max_volumes {
            return Err(VssError::new(
                VssCode::MAXIMUM_NUMBER_OF_VOLUMES_REACHED,
                format!("a set holds at most {} volumes", self.config.max_volumes),
            ));
        }
        if self.volumes.contains(&volume) {
            return Err(VssError::new(
                VssCode::OBJECT_ALREADY_EXISTS,
                format!("'{}' is already in the set", volume.volume),
            ));
        }
        let exists = sim.array_ids().any(|a| a == volume.array) && sim.array(volume.array).has_volume(&volume.volume);
        if !exists {
            return Err(VssError::new(VssCode::OBJECT_NOT_FOUND, format!("volume '{}' not found", volume.volume)));
        }
        if !provider.is_supported(sim, &volume) {
            return Err(VssError::new(
                VssCode::VOLUME_NOT_SUPPORTED_BY_PROVIDER,
                format!("provider {} does not support '{}'", provider.name(), volume.volume),
            ));
        }
        self.volumes.push(volume);
        Ok(())
    }

    /// `PrepareForBackup`: writers get PrepareForBackup.
    ///
    /// Errors: `VSS_E_BAD_STATE` (also with an empty set); a writer's veto (the set is aborted).
    pub fn prepare_for_backup(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
    ) -> Result<()> {
        self.expect_state(&[RequestorState::SetStarted], "PrepareForBackup")?;
        if self.volumes.is_empty() {
            return Err(VssError::new(VssCode::BAD_STATE, "PrepareForBackup with an empty set"));
        }
        if let Err(error) = self.deliver(sim, writers, VssStep::PrepareForBackup, WriterEvent::PrepareForBackup) {
            return Err(self.fail(sim, provider, writers, error));
        }
        self.state = RequestorState::PreparedForBackup;
        Ok(())
    }

    /// `DoSnapshotSet`: the whole sequence of spec §4.2 step 4. On success the copies exist and
    /// are listed by [`BackupComponents::shadow_copies`]; on failure the set is aborted (provider
    /// `AbortSnapshots`, writers Abort after PrepareForSnapshot) and the error returned.
    ///
    /// Errors: `VSS_E_BAD_STATE`; provider errors (converted); writer vetoes;
    /// `VSS_E_FLUSH_WRITES_TIMEOUT` / `VSS_E_HOLD_WRITES_TIMEOUT` (flush-and-hold over its
    /// window); `VSS_E_WRITERERROR_TIMEOUT` (Freeze→Thaw over its window).
    pub fn do_snapshot_set(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
    ) -> Result<&[ShadowCopy]> {
        self.expect_state(&[RequestorState::PreparedForBackup], "DoSnapshotSet")?;
        match self.run_snapshot_sequence(sim, provider, writers) {
            Ok(()) => {
                self.state = RequestorState::SnapshotsTaken;
                Ok(&self.shadow_copies)
            }
            Err(error) => Err(self.fail(sim, provider, writers, error)),
        }
    }

    fn run_snapshot_sequence(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
    ) -> Result<()> {
        let set = self.set_id.expect("set started");
        self.take_fault(sim, VssStep::BeginPrepareSnapshot)?;
        for volume in self.volumes.clone() {
            provider.begin_prepare_snapshot(sim, set, &volume).map_err(|e| e.to_vss("BeginPrepareSnapshot"))?;
        }
        self.take_fault(sim, VssStep::EndPrepareSnapshots)?;
        provider.end_prepare_snapshots(sim, set).map_err(|e| e.to_vss("EndPrepareSnapshots"))?;
        self.deliver(sim, writers, VssStep::PrepareForSnapshot, WriterEvent::PrepareForSnapshot)?;
        self.frozen_at = Some(sim.now());
        self.deliver(sim, writers, VssStep::Freeze, WriterEvent::Freeze)?;
        self.take_fault(sim, VssStep::PreCommitSnapshots)?;
        provider.pre_commit_snapshots(sim, set).map_err(|e| e.to_vss("PreCommitSnapshots"))?;
        let hold_start = sim.now();
        self.take_fault(sim, VssStep::FlushAndHold)?;
        if sim.now() - hold_start > self.config.flush_and_hold_timeout {
            return Err(VssError::new(
                VssCode::FLUSH_WRITES_TIMEOUT,
                format!("flush took {:?}, window {:?}", sim.now() - hold_start, self.config.flush_and_hold_timeout),
            ));
        }
        self.take_fault(sim, VssStep::CommitSnapshots)?;
        provider.commit_snapshots(sim, set).map_err(|e| e.to_vss("CommitSnapshots"))?;
        self.take_fault(sim, VssStep::ReleaseWrites)?;
        let released = sim.now();
        self.hold = Some((hold_start, released));
        if released - hold_start > self.config.flush_and_hold_timeout {
            return Err(VssError::new(
                VssCode::HOLD_WRITES_TIMEOUT,
                format!("writes held {:?}, window {:?}", released - hold_start, self.config.flush_and_hold_timeout),
            ));
        }
        self.take_fault(sim, VssStep::PostCommitSnapshots)?;
        provider.post_commit_snapshots(sim, set).map_err(|e| e.to_vss("PostCommitSnapshots"))?;
        self.take_fault(sim, VssStep::Thaw)?;
        let frozen_for = sim.now() - self.frozen_at.expect("frozen above");
        if frozen_for > self.config.freeze_timeout {
            return Err(VssError::new(
                VssCode::WRITERERROR_TIMEOUT,
                format!("writers frozen {frozen_for:?}, window {:?}", self.config.freeze_timeout),
            ));
        }
        // The Thaw step's fault was taken above: its delay counts inside the freeze window.
        self.deliver_event(sim, writers, WriterEvent::Thaw)?;
        self.deliver(sim, writers, VssStep::PostSnapshot, WriterEvent::PostSnapshot)?;
        self.shadow_copies = provider.shadow_copies(set);
        Ok(())
    }

    /// Aborts the set after a failure: provider `AbortSnapshots`, writers Abort (those that got
    /// PrepareForSnapshot), state Aborted. Returns the error to report.
    fn fail(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
        error: VssError,
    ) -> VssError {
        sim.record_fmt("vss", format_args!("set fails: {error}"));
        self.abort_all(sim, provider, writers);
        error
    }

    fn abort_all(&mut self, sim: &mut Simulation, provider: &mut dyn Provider, writers: &mut [&mut dyn Writer]) {
        if let Some(set) = self.set_id
            && let Err(error) = provider.abort_snapshots(sim, set)
        {
            let error = error.to_vss("AbortSnapshots");
            sim.record_fmt("vss", format_args!("abort could not delete copies: {error}"));
            self.abort_failure = Some(error);
        }
        if self.prepared_writers {
            for writer in writers.iter_mut() {
                self.record_event(sim, writer.name(), WriterEvent::Abort);
                let context = self.context_for(writer.name());
                writer.on_abort(sim, &context);
            }
        }
        self.shadow_copies.clear();
        self.state = RequestorState::Aborted;
    }

    /// `SetBackupSucceeded`: marks a selected component's backup succeeded (or not).
    ///
    /// Errors: `VSS_E_BAD_STATE`; `VSS_E_OBJECT_NOT_FOUND` for a component not selected.
    pub fn set_backup_succeeded(&mut self, writer: &str, component: &str, succeeded: bool) -> Result<()> {
        self.expect_state(&[RequestorState::SnapshotsTaken], "SetBackupSucceeded")?;
        if !self.selected.get(writer).is_some_and(|c| c.contains(component)) {
            return Err(VssError::new(
                VssCode::OBJECT_NOT_FOUND,
                format!("component '{component}' of '{writer}' is not in the backup"),
            ));
        }
        let marked = self.succeeded.entry(writer.to_owned()).or_default();
        if succeeded {
            marked.insert(component.to_owned());
        } else {
            marked.remove(component);
        }
        Ok(())
    }

    /// `BackupComplete`: writers get BackupComplete (a FULL backup's writers truncate logs of
    /// components marked succeeded), then the provider detaches the set: its copies belong to
    /// the caller from now on. The state becomes final even if a writer reports an error.
    ///
    /// Errors: `VSS_E_BAD_STATE`; the first writer error (the copies are kept).
    pub fn backup_complete(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
    ) -> Result<()> {
        self.expect_state(&[RequestorState::SnapshotsTaken], "BackupComplete")?;
        let result = self.deliver(sim, writers, VssStep::BackupComplete, WriterEvent::BackupComplete);
        provider.detach_set(sim, self.set_id.expect("set started"));
        self.state = RequestorState::BackupCompleted;
        result
    }

    /// `AbortBackup`: deletes the set's copies (if taken) and tells writers.
    ///
    /// Errors: `VSS_E_BAD_STATE` before `StartSnapshotSet` or after the set is final.
    pub fn abort_backup(
        &mut self,
        sim: &mut Simulation,
        provider: &mut dyn Provider,
        writers: &mut [&mut dyn Writer],
    ) -> Result<()> {
        self.expect_state(
            &[RequestorState::SetStarted, RequestorState::PreparedForBackup, RequestorState::SnapshotsTaken],
            "AbortBackup",
        )?;
        sim.record_fmt("vss", format_args!("abort backup"));
        self.abort_all(sim, provider, writers);
        Ok(())
    }
}
