//! Starting, running, scheduling and stopping syncs, in both modes.
//!
//! Periodic resync (spec §1.3, five steps), as `launch_periodic` and `transfer::finish` do it:
//! 1. snapshot the destination volumes that hold a completed sync point (pre-sync snapshots);
//! 2. snapshot every group volume on the source at one instant (the new resync snapshots);
//! 3. send only the pages that differ from the previous resync snapshot (all pages for an
//!    initial or full sync), bandwidth-limited on the timeline;
//! 4. on success drop the destination's pre-sync snapshots;
//! 5. drop the old resync snapshot; the new one takes its place.
//!
//! On failure the destination is rolled back from its pre-sync snapshots (`transfer::fail`).
//!
//! Synchronous mode keeps no snapshots while replicating. Stopping (by an operator or a link
//! failure) snapshots every synced source volume; the restart resync sends what changed since
//! that snapshot plus the ranges of writes that were in flight, reading the live source while
//! new writes are mirrored, with a pre-sync snapshot guarding the destination's last consistent
//! image until it finishes.
//!
//! Scheduling: a started periodic group with a period syncs when started and then at
//! `max(previous start + period, previous end)` (spec invariant 24).

use crate::array::Array;
use crate::error::Result;
use crate::event::Event;
use crate::ids::{ArrayId, VolumeId};
use crate::remote_copy::transfer::{self, TransferKind, VolumeTransfer, changed_indexes, range_pages, union};
use crate::remote_copy::{GroupRef, GroupState, Mode, RcEvent, StopReason, SyncStatus};
use crate::simulation::Simulation;
use crate::virtual_copy::SnapshotSpec;
use crate::volume::Volume;

/// Takes an internal read-only snapshot of `volume` on `array` (named like the array's own:
/// `rcpy.<group id>.<volume id>.<n>`).
pub(crate) fn take_internal_snapshot(sim: &mut Simulation, at: GroupRef, volume: VolumeId) -> Result<VolumeId> {
    let generation = {
        let group = sim.group_mut(at);
        group.snapshot_generation += 1;
        group.snapshot_generation
    };
    let mut name = format!("rcpy.{}.{}.{}", at.group, volume, generation);
    let array = sim.array(at.array);
    let mut suffix = 0;
    // Bounded by the number of volumes on the array.
    while array.has_volume(&name) && suffix <= array.volume_count() {
        suffix += 1;
        name = format!("rcpy.{}.{}.{}.{suffix}", at.group, volume, generation);
    }
    let source = array.vol(volume).name.clone();
    sim.array_mut(at.array).create_snapshot(&source, SnapshotSpec::read_only(&name))
}

/// Removes an internal snapshot if the delete rules allow it; a snapshot someone copied or
/// exported meanwhile is kept (and reported in the trace).
pub(crate) fn drop_internal_snapshot(sim: &mut Simulation, array: ArrayId, snapshot: VolumeId) {
    let a = sim.array(array);
    let Some(volume) = a.volume_by_id(snapshot) else { return };
    let name = volume.name.clone();
    let now = sim.now();
    match a.delete_blocker(snapshot, now) {
        None => {
            sim.arrays[array.0 as usize].remove_volume(snapshot);
            sim.record("copy", format!("{}: remote copy dropped snapshot {name}", sim.array(array).name()));
        }
        Some(blocker) => sim.record("copy", format!("remote copy snapshot {name} kept: {}", blocker.message)),
    }
}

/// Marks an admitted volume as already in sync (`-nosync` admission).
pub(crate) fn mark_already_synced(sim: &mut Simulation, at: GroupRef, volume: VolumeId) {
    let now = sim.now();
    let partner = sim.partner_of(at).expect("admission checked the partner");
    let remote = sim.group(at).volume(volume).expect("just admitted").remote;
    let snapshot =
        if sim.group(at).mode == Mode::Periodic { take_internal_snapshot(sim, at, volume).ok() } else { None };
    for (group, v) in [(at, volume), (partner, remote)] {
        if let Some(entry) = sim.group_mut(group).volume_mut(v) {
            entry.status = SyncStatus::Synced;
            entry.sync_point = Some(now);
        }
    }
    if let Some(entry) = sim.group_mut(at).volume_mut(volume) {
        entry.resync_snapshot = snapshot;
    }
}

/// Starts replication of a (checked) stopped or new group.
pub(crate) fn start(sim: &mut Simulation, at: GroupRef, skip_initial_sync: bool) {
    let partner = sim.partner_of(at).expect("start checked the partner");
    for side in [at, partner] {
        let group = sim.group_mut(side);
        group.state = GroupState::Started;
        group.stop_reason = None;
    }
    let name = sim.group(at).name.clone();
    sim.record("rcopy", format!("start group {name}"));
    if skip_initial_sync {
        let volumes: Vec<VolumeId> = sim
            .group(at)
            .volumes
            .iter()
            .filter(|v| v.sync_point.is_none() || v.status != SyncStatus::Synced)
            .map(|v| v.local)
            .collect();
        for volume in volumes {
            if let Some(old) = sim.group_mut(at).volume_mut(volume).and_then(|e| e.resync_snapshot.take()) {
                drop_internal_snapshot(sim, at.array, old);
            }
            mark_already_synced(sim, at, volume);
        }
    }
    sync_now(sim, at, false);
    reschedule(sim, at);
}

/// Runs a sync now (the caller checked the group is started and idle).
pub(crate) fn sync_now(sim: &mut Simulation, at: GroupRef, full: bool) {
    let now = sim.now();
    sim.group_mut(at).stats.last_sync_started = Some(now);
    let result = match sim.group(at).mode {
        Mode::Periodic => launch_periodic(sim, at, LaunchOptions { full, diverged: false }, TransferKind::Periodic),
        Mode::Synchronous => launch_live(sim, at, LaunchOptions { full, diverged: false }, TransferKind::SyncResync),
    };
    if let Err(error) = result {
        let name = sim.group(at).name.clone();
        sim.group_mut(at).stats.syncs_failed += 1;
        sim.record("rcopy", format!("sync of {name} could not start: {error}"));
    }
}

/// How a transfer chooses its pages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LaunchOptions {
    /// Send every page (ignore the resync references).
    pub(crate) full: bool,
    /// The destination may hold writes of its own since the last common point (a recover after
    /// a failover): every volume is resynced, and a destination without a reference snapshot
    /// has all its pages overwritten.
    pub(crate) diverged: bool,
}

/// The page indexes a transfer must send for one volume: what changed on the source since its
/// reference, what the destination changed since its own (after a failover), and the ranges
/// of writes in doubt; everything on either side when a reference is missing.
fn pages_to_send(
    source: &crate::page::PageMap,
    source_reference: Option<&crate::page::PageMap>,
    dest: &crate::page::PageMap,
    dest_reference: Option<&crate::page::PageMap>,
    pending: &[(u64, u64)],
    options: LaunchOptions,
) -> Vec<u64> {
    let everything = || union(source.iter().map(|(i, _)| i.0).collect(), dest.iter().map(|(i, _)| i.0).collect());
    let Some(reference) = source_reference.filter(|_| !options.full) else { return everything() };
    let mut pages = union(changed_indexes(source, reference), range_pages(pending));
    match dest_reference {
        Some(dest_reference) => pages = union(pages, changed_indexes(dest, dest_reference)),
        None if options.diverged => pages = union(pages, dest.iter().map(|(i, _)| i.0).collect()),
        None => {}
    }
    pages
}

/// A resync reference snapshot, unless a snapshot-space failure made it stale (spec 7.1/8): a
/// stale copy holds no image, so a sync without a usable reference sends every page.
fn reference_snapshot(array: &Array, snapshot: Option<VolumeId>) -> Option<&Volume> {
    snapshot.and_then(|s| array.volume_by_id(s)).filter(|v| !v.is_stale())
}

/// Launches a periodic-style transfer (frozen content) from the group at `at` to its partner.
pub(crate) fn launch_periodic(
    sim: &mut Simulation,
    at: GroupRef,
    options: LaunchOptions,
    kind: TransferKind,
) -> Result<()> {
    let partner = sim.partner_of(at).expect("started groups have partners");
    let entries = sim.group(at).volumes.clone();
    let mut pre_sync = Vec::new();
    let mut new_snapshots = Vec::new();
    let undo = |sim: &mut Simulation, pre: &[(VolumeId, VolumeId)], new: &[VolumeId]| {
        for (_, snapshot) in pre {
            drop_internal_snapshot(sim, partner.array, *snapshot);
        }
        for snapshot in new {
            drop_internal_snapshot(sim, at.array, *snapshot);
        }
    };
    // Step 1: the destination keeps its last consistent image.
    for entry in &entries {
        let dest = sim.group(partner).volume(entry.remote).cloned().expect("partners list the same volumes");
        if entry.sync_point.is_some() && dest.pre_sync_snapshot.is_none() {
            match take_internal_snapshot(sim, partner, entry.remote) {
                Ok(snapshot) => pre_sync.push((entry.remote, snapshot)),
                Err(error) => {
                    undo(sim, &pre_sync, &new_snapshots);
                    return Err(error);
                }
            }
        }
    }
    // Step 2: every source volume at one instant.
    for entry in &entries {
        match take_internal_snapshot(sim, at, entry.local) {
            Ok(snapshot) => new_snapshots.push(snapshot),
            Err(error) => {
                undo(sim, &pre_sync, &new_snapshots);
                return Err(error);
            }
        }
    }
    for (volume, snapshot) in &pre_sync {
        if let Some(e) = sim.group_mut(partner).volume_mut(*volume) {
            e.pre_sync_snapshot = Some(*snapshot);
        }
    }
    // Step 3: only what changed since the previous resync snapshot.
    let now = sim.now();
    let mut volumes = Vec::new();
    for (entry, snapshot) in entries.iter().zip(&new_snapshots) {
        let source = sim.array(at.array);
        let frozen = source.vol(*snapshot).pages().clone();
        let previous = reference_snapshot(source, entry.resync_reference());
        let dest_array = sim.array(partner.array);
        let dest_base = dest_array.volume_by_id(entry.remote).map(|v| v.pages().clone()).unwrap_or_default();
        let dest_reference =
            reference_snapshot(dest_array, sim.group(partner).volume(entry.remote).and_then(|d| d.resync_snapshot));
        let pages = pages_to_send(
            &frozen,
            previous.map(|v| v.pages()),
            &dest_base,
            dest_reference.map(|v| v.pages()),
            &[],
            options,
        );
        let mut vt = VolumeTransfer::new(entry.local, entry.remote, pages);
        vt.frozen = Some(frozen);
        vt.new_resync_snapshot = Some(*snapshot);
        vt.content_instant = Some(now);
        vt.previous_sync_point = entry.sync_point;
        volumes.push(vt);
    }
    transfer::launch(sim, at, partner, kind, volumes);
    Ok(())
}

/// Launches a live transfer (synchronous mode, or a synchronous recover): volumes not in sync.
///
/// Only volumes not in sync or with writes in doubt are sent, unless `options` says every one.
pub(crate) fn launch_live(
    sim: &mut Simulation,
    at: GroupRef,
    options: LaunchOptions,
    kind: TransferKind,
) -> Result<()> {
    let partner = sim.partner_of(at).expect("started groups have partners");
    let entries: Vec<_> = sim
        .group(at)
        .volumes
        .iter()
        .filter(|e| options.full || options.diverged || e.status != SyncStatus::Synced || !e.pending_ranges.is_empty())
        .cloned()
        .collect();
    let mut volumes = Vec::new();
    for entry in &entries {
        let dest = sim.group(partner).volume(entry.remote).cloned().expect("partners list the same volumes");
        if entry.sync_point.is_some() && dest.pre_sync_snapshot.is_none() {
            let snapshot = take_internal_snapshot(sim, partner, entry.remote)?;
            if let Some(e) = sim.group_mut(partner).volume_mut(entry.remote) {
                e.pre_sync_snapshot = Some(snapshot);
            }
        }
        let source = sim.array(at.array);
        let live = source.vol(entry.local).pages().clone();
        let dest_array = sim.array(partner.array);
        let dest_base = dest_array.vol(entry.remote).pages().clone();
        let reference = reference_snapshot(source, entry.resync_reference());
        let dest_reference = reference_snapshot(dest_array, dest.resync_snapshot);
        // After a failover the destination may hold writes of its own that were in doubt when
        // the links failed (applied there, never acknowledged by this side): its reference
        // snapshot already contains them, so only its in-doubt ranges name them.
        let mut pending = entry.pending_ranges.clone();
        if options.diverged {
            pending.extend_from_slice(&dest.pending_ranges);
        }
        let pages = pages_to_send(
            &live,
            reference.map(|v| v.pages()),
            &dest_base,
            dest_reference.map(|v| v.pages()),
            &pending,
            options,
        );
        let mut vt = VolumeTransfer::new(entry.local, entry.remote, pages);
        vt.previous_sync_point = entry.sync_point;
        volumes.push(vt);
    }
    if volumes.is_empty() {
        let now = sim.now();
        for side in [at, partner] {
            sim.group_mut(side).stats.last_sync_completed = Some(now);
        }
        if let TransferKind::Recover { restore: true, skip_start } = kind {
            crate::remote_copy::dr::complete_restore(sim, at, skip_start);
        }
        return Ok(());
    }
    transfer::launch(sim, at, partner, kind, volumes);
    Ok(())
}

/// Bookkeeping after a sync finished: a sync requested meanwhile starts now.
pub(crate) fn after_sync(sim: &mut Simulation, at: GroupRef) {
    let group = sim.group(at);
    if group.sync_pending && group.state == GroupState::Started && group.role.is_source() {
        sim.group_mut(at).sync_pending = false;
        sync_now(sim, at, false);
        reschedule(sim, at);
    }
}

/// Recomputes the periodic schedule of the group at `at`.
pub(crate) fn reschedule(sim: &mut Simulation, at: GroupRef) {
    let group = sim.group_mut(at);
    group.schedule_generation += 1;
    group.next_sync_due = None;
    if group.mode != Mode::Periodic
        || group.state != GroupState::Started
        || !group.role.is_source()
        || group.sync_period.is_zero()
    {
        return;
    }
    let now = sim.now();
    let group = sim.group(at);
    let due = group.stats.last_sync_started.map_or(now + group.sync_period, |start| start + group.sync_period).max(now);
    schedule_due(sim, at, due);
}

/// Like [`reschedule`], but with the next sync due at `due`.
fn reschedule_at(sim: &mut Simulation, at: GroupRef, due: crate::Instant) {
    let group = sim.group_mut(at);
    group.schedule_generation += 1;
    group.next_sync_due = None;
    schedule_due(sim, at, due);
}

fn schedule_due(sim: &mut Simulation, at: GroupRef, due: crate::Instant) {
    let generation = sim.group(at).schedule_generation;
    sim.group_mut(at).next_sync_due = Some(due);
    sim.schedule(due, Event::RemoteCopy(RcEvent::PeriodicSyncDue { array: at.array, group: at.group, generation }));
}

/// A periodic sync is due: start it, or defer it until the running one ends.
pub(crate) fn periodic_due(sim: &mut Simulation, at: GroupRef, generation: u64) {
    let Some(group) = sim.array(at.array).remote_copy.group_by_id(at.group) else { return };
    if group.schedule_generation != generation || group.state != GroupState::Started || !sim.array(at.array).is_online()
    {
        return;
    }
    if group.is_syncing() {
        // Overran: the next sync starts when this one ends (spec §1.2, invariant 24).
        sim.group_mut(at).sync_pending = true;
        sim.group_mut(at).next_sync_due = None;
        return;
    }
    let declared = sim.rc_pair(at.array, group.peer).is_some_and(|p| p.declared_up && p.usable);
    if declared {
        sync_now(sim, at, false);
        reschedule(sim, at);
    } else {
        // The target cannot be reached now: this sync is skipped, the next is due a period on.
        let name = group.name.clone();
        sim.record("rcopy", format!("periodic sync of {name} skipped: target not reachable"));
        let now = sim.now();
        reschedule_at(sim, at, now + sim.group(at).sync_period);
    }
}

/// Stops the group on both arrays (operator stop; the peer follows while reachable).
pub(crate) fn stop(sim: &mut Simulation, at: GroupRef, reason: StopReason, no_snapshot: bool) {
    stop_side(sim, at, reason, no_snapshot);
    if let Some(partner) = sim.partner_of(at)
        && sim.group(partner).state == GroupState::Started
    {
        stop_side(sim, partner, reason, no_snapshot);
    }
}

/// Stops one array's view of a group: a running transfer fails; the source snapshots its synced
/// volumes in synchronous mode (unless `no_snapshot`, which drops resync snapshots instead).
pub(crate) fn stop_side(sim: &mut Simulation, at: GroupRef, reason: StopReason, no_snapshot: bool) {
    if let Some(id) = sim.group(at).running_transfer {
        transfer::fail(sim, id);
    }
    let group = sim.group_mut(at);
    group.state = GroupState::Stopped;
    group.stop_reason = Some(reason);
    group.sync_pending = false;
    let (mode, is_source, name) = (group.mode, group.role.is_source(), group.name.clone());
    reschedule(sim, at);
    let volumes: Vec<_> = sim.group(at).volumes.clone();
    for entry in volumes {
        if is_source && no_snapshot {
            if let Some(old) = sim.group_mut(at).volume_mut(entry.local).and_then(|e| e.resync_snapshot.take()) {
                drop_internal_snapshot(sim, at.array, old);
            }
        } else if is_source
            && mode == Mode::Synchronous
            && entry.status == SyncStatus::Synced
            && entry.resync_snapshot.is_none()
        {
            // Fully synced volumes get a snapshot marking the point replication stopped.
            match take_internal_snapshot(sim, at, entry.local) {
                Ok(snapshot) => {
                    if let Some(e) = sim.group_mut(at).volume_mut(entry.local) {
                        e.resync_snapshot = Some(snapshot);
                    }
                }
                Err(error) => sim
                    .record("rcopy", format!("stop of {name}: no resync snapshot for volume {}: {error}", entry.local)),
            }
        }
        if let Some(e) = sim.group_mut(at).volume_mut(entry.local)
            && e.status == SyncStatus::Synced
        {
            e.status = SyncStatus::Stopped;
        }
    }
    sim.record("rcopy", format!("{}: group {name} stopped ({reason:?})", sim.array(at.array).name()));
}

/// A source array that was down when its synchronous group stopped could not snapshot its
/// volumes then; it does so when it comes back (its data has not changed meanwhile), so the
/// next resync still sends only what changed.
pub(crate) fn snapshot_missed_stop_points(sim: &mut Simulation, at: GroupRef) {
    let group = sim.group(at);
    if group.mode != Mode::Synchronous || !group.role.is_source() || group.state == GroupState::Started {
        return;
    }
    let missing: Vec<VolumeId> = group
        .volumes
        .iter()
        .filter(|e| e.status == SyncStatus::Stopped && e.sync_point.is_some() && e.resync_snapshot.is_none())
        .map(|e| e.local)
        .collect();
    for volume in missing {
        if let Ok(snapshot) = take_internal_snapshot(sim, at, volume)
            && let Some(e) = sim.group_mut(at).volume_mut(volume)
        {
            e.resync_snapshot = Some(snapshot);
        }
    }
}
