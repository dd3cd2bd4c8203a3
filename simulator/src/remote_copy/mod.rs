//! Remote Copy: targets, links, groups, synchronous and asynchronous-periodic replication, and
//! disaster recovery (failover, recover, restore, reverse, switchover) between arrays.
//!
//! What it holds: per array, the array's own view of its targets and groups
//! ([`ArrayRemoteCopy`]: roles, states, per-volume sync status, resync snapshots); per pair of
//! arrays, the links between them and what each side has declared about them ([`RcPair`]);
//! and the work in flight (synchronous writes, page transfers) in [`RcWorld`].
//! Each array keeps its own view because real arrays do: after a failover both sides may call
//! themselves primary, and the model must show that.
//!
//! What it does not do: asynchronous streaming mode, Peer Persistence / failsafe, multi-target
//! groups (one target per group), quorum witnesses, per-link bandwidth shaping beyond an even
//! split between concurrent transfers.
//!
//! Main design choice: data moves as pages of the persistent page maps. A periodic resync diffs
//! the new resync snapshot against the previous one (cost follows the change, not the volume)
//! and ships those pages in chunks whose arrival times follow the link bandwidth, so a fault can
//! land in the middle of a transfer and leave a genuinely mixed secondary base — which the model
//! then rolls back from the pre-sync snapshot, as the array does.
//! The cost: a transfer holds references to the pages it still has to send (memory follows the
//! delta).
//!
//! Module map: `link` (pairs, links, heartbeats, faults), `group` (configuration operations),
//! `sync_write` (the synchronous host-write path), `transfer` (chunked page shipping with the
//! 20-volume concurrency limit), `sync_cycle` (starting and finishing syncs in both modes),
//! `dr` (role changes).

mod dr;
mod group;
pub(crate) mod link;
mod sync_cycle;
mod sync_write;
mod transfer;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use dr::DrOptions;
pub use group::{AdmitSpec, GroupChanges, GroupSpec, StartOptions, StopOptions, SyncOptions, TargetSpec};
pub use link::{Link, LinkSpec, RcPair};

use crate::error::{Error, ErrorCode, Result};
use crate::ids::{ArrayId, CpgId, GroupId, VolumeId};
use crate::registry::Registry;
use crate::simulation::Simulation;
use crate::time::Instant;

/// Smallest non-zero sync period (WSAPI `syncPeriod`).
pub const MIN_SYNC_PERIOD: Duration = Duration::from_secs(300);
/// Largest sync period (one year plus a day, 31,622,400 s).
pub const MAX_SYNC_PERIOD: Duration = Duration::from_secs(31_622_400);

/// Replication mode of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// Synchronous: a host write is acknowledged after the secondary applied it.
    Synchronous,
    /// Asynchronous periodic: changes are shipped at each sync, from group snapshots.
    Periodic,
}

/// Role of a group on one array (spec §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Natural source.
    Primary,
    /// Natural destination.
    Secondary,
    /// The natural secondary acting as source after a failover.
    PrimaryRev,
    /// The natural primary acting as destination after a recover.
    SecondaryRev,
}

impl Role {
    /// Whether this side is the source of replication (and host-writable).
    pub fn is_source(self) -> bool {
        matches!(self, Role::Primary | Role::PrimaryRev)
    }

    /// Whether the role is reversed from the natural pair (WSAPI `roleReversed`).
    pub fn is_reversed(self) -> bool {
        matches!(self, Role::PrimaryRev | Role::SecondaryRev)
    }

    /// WSAPI `role` number: 1 PRIMARY, 2 SECONDARY, 3 PRIMARY_REV, 4 SECONDARY_REV.
    pub fn number(self) -> u8 {
        match self {
            Role::Primary => 1,
            Role::Secondary => 2,
            Role::PrimaryRev => 3,
            Role::SecondaryRev => 4,
        }
    }

    /// CLI spelling (`Primary`, `Secondary`, `Primary-Rev`, `Secondary-Rev`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "Primary",
            Role::Secondary => "Secondary",
            Role::PrimaryRev => "Primary-Rev",
            Role::SecondaryRev => "Secondary-Rev",
        }
    }
}

/// Group state on one array (CLI `Status`; WSAPI target `state` 1 NEW, 3 STARTED, 5 STOPPED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupState {
    /// Created, never started.
    New,
    /// Replicating.
    Started,
    /// Not replicating.
    Stopped,
}

impl GroupState {
    /// WSAPI target `state` number.
    pub fn number(self) -> u8 {
        match self {
            GroupState::New => 1,
            GroupState::Started => 3,
            GroupState::Stopped => 5,
        }
    }
}

/// Per-volume sync status, exactly as the CLI names them (spec §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncStatus {
    /// Not started yet.
    New,
    /// A sync is transferring this volume now.
    Syncing,
    /// The last sync completed (synchronous: mirrored).
    Synced,
    /// Not in sync and no consistent image on the secondary yet (initial sync failed).
    NotSynced,
    /// Was in sync when the group was last started; may not be now.
    Stopped,
    /// The secondary holds a valid older point in time; the last sync attempt failed.
    Stale,
}

impl SyncStatus {
    /// WSAPI `syncStatus` number: 1 NEW, 2 SYNCING, 3 SYNCED, 4 NOT_SYNCED, 5 STOPPED, 6 STALE.
    pub fn number(self) -> u8 {
        match self {
            SyncStatus::New => 1,
            SyncStatus::Syncing => 2,
            SyncStatus::Synced => 3,
            SyncStatus::NotSynced => 4,
            SyncStatus::Stopped => 5,
            SyncStatus::Stale => 6,
        }
    }
}

/// Why a group stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StopReason {
    /// An operator stopped it.
    Operator,
    /// All links to the target were declared down.
    LinkFailure,
    /// The array restarted after a crash.
    ArrayRestart,
}

/// Group policies (spec §1.4; defaults as on the array).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupPolicies {
    /// `auto_recover`: restart a group stopped by link failure once links return (default off).
    pub auto_recover: bool,
    /// `fail_wrt_on_err`: fail host writes while the secondary is unreachable (synchronous only;
    /// default off = `no_fail_wrt_on_err`).
    pub fail_write_on_error: bool,
    /// `over_per_alert`: alert when a periodic sync takes longer than the period (default on).
    pub over_period_alert: bool,
    /// `auto_failover` (recorded; synchronous only).
    pub auto_failover: bool,
    /// `path_management` (recorded; synchronous only).
    pub path_management: bool,
}

impl Default for GroupPolicies {
    fn default() -> Self {
        GroupPolicies {
            auto_recover: false,
            fail_write_on_error: false,
            over_period_alert: true,
            auto_failover: false,
            path_management: false,
        }
    }
}

/// Statistics of one volume's replication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolumeSyncStats {
    /// Bytes sent by the last completed sync.
    pub last_bytes_sent: u64,
    /// Pages sent by the last completed sync.
    pub last_pages_sent: u64,
    /// Bytes sent since admission (syncs and synchronous writes).
    pub total_bytes_sent: u64,
    /// Synchronous host writes mirrored since admission.
    pub mirrored_writes: u64,
}

/// One volume of a group, as one array sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcVolume {
    /// The volume on this array.
    pub local: VolumeId,
    /// Its partner's name on the peer array.
    pub remote_name: String,
    /// Its partner's id on the peer array.
    pub remote: VolumeId,
    /// Sync status.
    pub status: SyncStatus,
    /// When the last sync that included this volume completed.
    pub last_sync_time: Option<Instant>,
    /// The source-side instant whose image the destination holds as its last completed sync point.
    pub sync_point: Option<Instant>,
    /// Source side: the snapshot of the last sync point (periodic), or of the instant replication
    /// stopped (synchronous), used to resync only what changed.
    pub resync_snapshot: Option<VolumeId>,
    /// Destination side: the snapshot of the last consistent image, kept while a sync runs.
    pub pre_sync_snapshot: Option<VolumeId>,
    /// Source side: byte ranges of writes in flight when replication failed (the array's NVRAM
    /// log), re-sent at the next resync.
    pub pending_ranges: Vec<(u64, u64)>,
    /// Statistics.
    pub stats: VolumeSyncStats,
}

impl RcVolume {
    /// Source side: the snapshot a sync diffs against. The resync snapshot counts only while
    /// the destination holds a completed sync point; without one there is no reference.
    pub(crate) fn resync_reference(&self) -> Option<VolumeId> {
        self.resync_snapshot.filter(|_| self.sync_point.is_some())
    }
}

/// Statistics of one group's syncs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSyncStats {
    /// When the last sync started.
    pub last_sync_started: Option<Instant>,
    /// When the last sync completed (WSAPI `groupLastSyncTime`).
    pub last_sync_completed: Option<Instant>,
    /// How long the last completed sync took.
    pub last_sync_duration: Option<Duration>,
    /// Bytes the last completed sync sent.
    pub last_sync_bytes: u64,
    /// Pages the last completed sync sent.
    pub last_sync_pages: u64,
    /// Syncs completed.
    pub syncs_completed: u64,
    /// Syncs that failed or were interrupted.
    pub syncs_failed: u64,
    /// Periodic syncs that took longer than the period (`over_per_alert`).
    pub over_period_alerts: u64,
}

/// A Remote Copy group as one array sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcGroup {
    /// Id on this array.
    pub id: GroupId,
    /// Name on this array (`<name>.r<primary id>` for the partner created on the target).
    pub name: String,
    /// Role on this array.
    pub role: Role,
    /// State on this array.
    pub state: GroupState,
    /// Replication mode.
    pub mode: Mode,
    /// The WSAPI mode number the group was created with (1 sync, 2 or 3 periodic), reported back.
    pub mode_number: u8,
    /// Name of the target (on this array) the group replicates with.
    pub target: String,
    /// The peer array.
    pub peer: ArrayId,
    /// The group's name on the peer array.
    pub partner: String,
    /// Sync period (periodic mode); zero means manual syncs only.
    pub sync_period: Duration,
    /// Policies.
    pub policies: GroupPolicies,
    /// CPGs on this array for volumes created here.
    pub local_user_cpg: Option<CpgId>,
    /// Snapshot CPG on this array.
    pub local_snap_cpg: Option<CpgId>,
    /// User CPG on the peer for automatically created secondary volumes.
    pub remote_user_cpg: Option<String>,
    /// Snapshot CPG on the peer.
    pub remote_snap_cpg: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Volumes, in admission order.
    pub volumes: Vec<RcVolume>,
    /// Why the group last stopped.
    pub stop_reason: Option<StopReason>,
    /// Sync statistics.
    pub stats: GroupSyncStats,
    /// The sync transfer running for this group (source side), if any.
    pub(crate) running_transfer: Option<u64>,
    /// When the next periodic sync is due (source side, started periodic groups with a period).
    pub next_sync_due: Option<Instant>,
    /// Bumped whenever the schedule changes, so stale schedule events are ignored.
    pub(crate) schedule_generation: u64,
    /// Counter for internal snapshot names.
    pub(crate) snapshot_generation: u64,
    /// A sync was requested while another ran: start it when that one ends.
    pub(crate) sync_pending: bool,
    /// Restore requested: host writes are refused and the roles switch back once the restore's
    /// final sync completes.
    pub(crate) restore_pending: bool,
    /// `skip_start` of the pending restore.
    pub(crate) restore_skip_start: bool,
}

impl RcGroup {
    /// The volume entry for local volume `id`.
    pub fn volume(&self, id: VolumeId) -> Option<&RcVolume> {
        self.volumes.iter().find(|v| v.local == id)
    }

    pub(crate) fn volume_mut(&mut self, id: VolumeId) -> Option<&mut RcVolume> {
        self.volumes.iter_mut().find(|v| v.local == id)
    }

    /// Whether a sync (or recover transfer) of this group is running.
    pub fn is_syncing(&self) -> bool {
        self.running_transfer.is_some()
    }
}

/// State of a target as one array sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetState {
    /// Links usable.
    Ready,
    /// All links declared down for longer than the target timeout.
    Failed,
}

/// A Remote Copy target: this array's definition of a partner array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcTarget {
    /// Name on this array.
    pub name: String,
    /// Target id on this array.
    pub id: u32,
    /// The partner array.
    pub peer: ArrayId,
    /// `mirror_config` policy: configuration changes are mirrored to partner groups.
    pub mirror_config: bool,
    /// State.
    pub state: TargetState,
}

/// Remote Copy state held by one array: its targets and its view of its groups.
#[derive(Debug, Clone, Default)]
pub struct ArrayRemoteCopy {
    pub(crate) targets: BTreeMap<String, RcTarget>,
    pub(crate) groups: Registry<GroupId, RcGroup>,
    /// Which group each admitted volume belongs to.
    pub(crate) volume_groups: BTreeMap<VolumeId, GroupId>,
    pub(crate) next_group: u32,
    pub(crate) next_target: u32,
}

impl ArrayRemoteCopy {
    /// Targets by name.
    pub fn targets(&self) -> impl Iterator<Item = &RcTarget> {
        self.targets.values()
    }

    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&RcTarget> {
        self.targets.get(name)
    }

    /// The target pointing at `peer`.
    pub fn target_for(&self, peer: ArrayId) -> Option<&RcTarget> {
        self.targets.values().find(|t| t.peer == peer)
    }

    /// Groups in id order.
    pub fn groups(&self) -> impl Iterator<Item = &RcGroup> {
        self.groups.iter().map(|(_, g)| g)
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Result<&RcGroup> {
        self.groups.by_name(name).ok_or_else(|| {
            Error::new(ErrorCode::NON_EXISTENT_RCOPY_GROUP, format!("remote copy group '{name}' does not exist"))
        })
    }

    /// The group with `id`.
    pub fn group_by_id(&self, id: GroupId) -> Option<&RcGroup> {
        self.groups.get(id)
    }

    /// The name of the group volume `id` belongs to.
    pub fn group_of_volume(&self, volume: VolumeId) -> Option<&str> {
        self.volume_groups.get(&volume).and_then(|g| self.groups.get(*g)).map(|g| g.name.as_str())
    }

    /// The group (and its entry) volume `id` belongs to.
    pub fn membership(&self, volume: VolumeId) -> Option<(&RcGroup, &RcVolume)> {
        let group = self.groups.get(*self.volume_groups.get(&volume)?)?;
        Some((group, group.volume(volume)?))
    }

    pub(crate) fn volume_in_started_group(&self, volume: VolumeId) -> bool {
        self.membership(volume).is_some_and(|(g, _)| g.state == GroupState::Started)
    }

    /// Refuses host writes to a volume whose group is on the destination side.
    pub(crate) fn check_host_writable(&self, volume: VolumeId, name: &str) -> Result<()> {
        match self.membership(volume) {
            Some((group, _)) if !group.role.is_source() => Err(Error::new(
                ErrorCode::RCOPY_VOLUME_IS_SECONDARY,
                format!("'{name}' is a {} volume of remote copy group '{}'", group.role.as_str(), group.name),
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn uses_cpg(&self, cpg: CpgId) -> bool {
        self.group_using_cpg(cpg).is_some()
    }

    /// The first group (in id order) with `cpg` as its local user or snapshot CPG.
    pub(crate) fn group_using_cpg(&self, cpg: CpgId) -> Option<&RcGroup> {
        self.groups().find(|g| g.local_user_cpg == Some(cpg) || g.local_snap_cpg == Some(cpg))
    }

    pub(crate) fn group_mut(&mut self, id: GroupId) -> &mut RcGroup {
        self.groups.get_mut(id).expect("group ids held by the model refer to existing groups")
    }

    pub(crate) fn group_id(&self, name: &str) -> Result<GroupId> {
        self.group(name).map(|g| g.id)
    }
}

/// Remote Copy events on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RcEvent {
    /// A synchronous write reaches the secondary.
    SyncWriteDeliver { write: u64 },
    /// The secondary's acknowledgement of a synchronous write reaches the primary.
    SyncWriteAck { write: u64 },
    /// The heartbeat timeout of a broken pair expires.
    HeartbeatTimeout { pair: usize, epoch: u64 },
    /// The target timeout after the links were declared down expires.
    TargetTimeout { pair: usize, epoch: u64 },
    /// Heartbeats succeed again on a repaired pair.
    HeartbeatRestored { pair: usize, epoch: u64 },
    /// The next chunk of a transfer has arrived.
    TransferStep { transfer: u64, epoch: u64 },
    /// A periodic sync is due.
    PeriodicSyncDue { array: ArrayId, group: GroupId, generation: u64 },
}

/// Simulation-wide Remote Copy state: array pairs and their links, writes and transfers in flight.
#[derive(Debug, Clone, Default)]
pub(crate) struct RcWorld {
    pub(crate) pairs: Vec<RcPair>,
    pub(crate) writes: BTreeMap<u64, sync_write::InflightWrite>,
    pub(crate) next_write: u64,
    pub(crate) transfers: BTreeMap<u64, transfer::Transfer>,
    pub(crate) next_transfer: u64,
}

/// A group's location: the array it lives on and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupRef {
    /// The array.
    pub array: ArrayId,
    /// The group on that array.
    pub group: GroupId,
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "array{}:group{}", self.array, self.group)
    }
}

/// The write side of Remote Copy, handed out by [`Simulation::remote_copy`].
pub struct RemoteCopyMut<'a> {
    pub(crate) sim: &'a mut Simulation,
}

impl Simulation {
    /// Remote Copy operations (targets, groups, start/stop/sync, disaster recovery).
    pub fn remote_copy(&mut self) -> RemoteCopyMut<'_> {
        RemoteCopyMut { sim: self }
    }

    /// The pair of arrays `a` and `b` with its links, if a target joins them.
    pub fn rc_pair(&self, a: ArrayId, b: ArrayId) -> Option<&RcPair> {
        self.rc.pairs.iter().find(|p| p.joins(a, b))
    }

    /// Every array pair with links.
    pub fn rc_pairs(&self) -> impl Iterator<Item = &RcPair> {
        self.rc.pairs.iter()
    }

    /// Transfers (syncs) running now: (source array, group, volumes still to finish).
    pub fn rc_running_transfers(&self) -> impl Iterator<Item = (GroupRef, usize)> + '_ {
        self.rc.transfers.values().map(|t| (t.source_group, t.unfinished_volumes()))
    }

    /// Whether the transfer running for the group at `at` is a recover (reverse resync after a
    /// failover), whose destination's consistent image is its own pre-recover content rather
    /// than a sync point.
    pub(crate) fn running_recover(&self, group: &RcGroup) -> bool {
        group
            .running_transfer
            .and_then(|id| self.rc.transfers.get(&id))
            .is_some_and(|t| matches!(t.kind, transfer::TransferKind::Recover { .. }))
    }

    pub(crate) fn group(&self, at: GroupRef) -> &RcGroup {
        self.array(at.array).remote_copy.groups.get(at.group).expect("group refs held by the model are valid")
    }

    pub(crate) fn group_mut(&mut self, at: GroupRef) -> &mut RcGroup {
        self.arrays[at.array.0 as usize].remote_copy.group_mut(at.group)
    }

    /// The partner of the group at `at`, if it exists on the peer.
    pub(crate) fn partner_of(&self, at: GroupRef) -> Option<GroupRef> {
        let group = self.group(at);
        let peer = self.array(group.peer);
        peer.remote_copy.groups.id_of(&group.partner).map(|id| GroupRef { array: group.peer, group: id })
    }
}

pub(crate) fn handle_event(sim: &mut Simulation, event: RcEvent) {
    match event {
        RcEvent::SyncWriteDeliver { write } => sync_write::deliver(sim, write),
        RcEvent::SyncWriteAck { write } => sync_write::acknowledge(sim, write),
        RcEvent::HeartbeatTimeout { pair, epoch } => link::heartbeat_timeout(sim, pair, epoch),
        RcEvent::TargetTimeout { pair, epoch } => link::target_timeout(sim, pair, epoch),
        RcEvent::HeartbeatRestored { pair, epoch } => link::heartbeat_restored(sim, pair, epoch),
        RcEvent::TransferStep { transfer, epoch } => transfer::step(sim, transfer, epoch),
        RcEvent::PeriodicSyncDue { array, group, generation } => {
            sync_cycle::periodic_due(sim, GroupRef { array, group }, generation)
        }
    }
}

pub(crate) use link::{apply_link_fault, on_array_crash, on_array_restart};
pub(crate) use sync_write::host_write;
