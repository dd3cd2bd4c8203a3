//! Page transfers: shipping the pages of a sync from the source array to the destination.
//!
//! A transfer carries, per volume, the sorted page indexes to send and where their content comes
//! from: a frozen snapshot map (periodic syncs, and every sync of a periodic group) or the live
//! source volume (synchronous-mode resyncs, during which new host writes are mirrored as well).
//! Each `TransferStep` event is the arrival of one chunk ([`CHUNK_PAGES`] pages, round-robin over
//! the transfer's active volumes); its time follows the pair's bandwidth in that direction,
//! shared evenly by the transfers running on the pair. Chunks are applied to the destination base
//! in page order as they arrive, so mid-transfer the destination base is genuinely mixed, and the
//! pre-sync snapshot is its only consistent image.
//!
//! At most [`crate::Limits::concurrent_syncs`] volumes per array transfer at once (20 by default,
//! counted on both arrays); further volumes queue in FIFO order and keep their previous status.
//!
//! A broken pair pauses transfers; repair before the heartbeat timeout resumes them; the links
//! being declared down, an array restart or an operator stop fails them (see `fail`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::event::Event;
use crate::ids::{ArrayId, VolumeId};
use crate::page::{PAGE_SIZE_U64, PageChange, PageIndex, PageMap, PageRef};
use crate::remote_copy::{GroupRef, Mode, RcEvent, SyncStatus, dr, sync_cycle};
use crate::simulation::Simulation;
use crate::time::Instant;

/// Pages per transfer step (1 MiB).
pub const CHUNK_PAGES: usize = 64;

/// What a transfer is for, which decides how it finishes and fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    /// A periodic sync (frozen content from new resync snapshots).
    Periodic,
    /// A synchronous-mode initial sync or resync (live content, writes mirrored meanwhile).
    SyncResync,
    /// A recover (reverse direction after failover); `restore` switches roles back at the end.
    Recover { restore: bool, skip_start: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolumeState {
    Queued,
    Active,
    Done,
}

/// One volume's part of a transfer.
#[derive(Debug, Clone)]
pub(crate) struct VolumeTransfer {
    pub(crate) source_volume: VolumeId,
    pub(crate) dest_volume: VolumeId,
    pages: Vec<u64>,
    next: usize,
    state: VolumeState,
    /// Frozen content (periodic), or `None` to read the live source volume.
    pub(crate) frozen: Option<PageMap>,
    /// The source-side snapshot that becomes the resync snapshot on success (periodic).
    pub(crate) new_resync_snapshot: Option<VolumeId>,
    /// The instant the content represents (frozen), for the destination's sync point.
    pub(crate) content_instant: Option<Instant>,
    /// The destination's sync point before this transfer, restored on rollback.
    pub(crate) previous_sync_point: Option<Instant>,
    pages_sent: u64,
}

impl VolumeTransfer {
    pub(crate) fn new(source_volume: VolumeId, dest_volume: VolumeId, pages: Vec<u64>) -> VolumeTransfer {
        VolumeTransfer {
            source_volume,
            dest_volume,
            pages,
            next: 0,
            state: VolumeState::Queued,
            frozen: None,
            new_resync_snapshot: None,
            content_instant: None,
            previous_sync_point: None,
            pages_sent: 0,
        }
    }
}

/// A running transfer.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub(crate) source_group: GroupRef,
    pub(crate) dest_group: GroupRef,
    pub(crate) kind: TransferKind,
    pub(crate) volumes: Vec<VolumeTransfer>,
    pub(crate) started_at: Instant,
    pair: usize,
    epoch: u64,
    paused: bool,
    step_scheduled: bool,
}

impl Transfer {
    pub(crate) fn unfinished_volumes(&self) -> usize {
        self.volumes.iter().filter(|v| v.state != VolumeState::Done).count()
    }

    fn active(&self) -> usize {
        self.volumes.iter().filter(|v| v.state == VolumeState::Active).count()
    }
}

/// The page indexes where `newer` differs from `older`.
pub(crate) fn changed_indexes(newer: &PageMap, older: &PageMap) -> Vec<u64> {
    newer.changed_pages(older).map(|c| c.index().0).collect()
}

/// The union of two sorted index lists.
pub(crate) fn union(mut a: Vec<u64>, b: Vec<u64>) -> Vec<u64> {
    a.extend(b);
    a.sort_unstable();
    a.dedup();
    a
}

/// Page indexes covering byte ranges.
pub(crate) fn range_pages(ranges: &[(u64, u64)]) -> Vec<u64> {
    let mut pages: Vec<u64> = ranges
        .iter()
        .filter(|(_, len)| *len > 0)
        .flat_map(|(offset, len)| (offset / PAGE_SIZE_U64)..=((offset + len - 1) / PAGE_SIZE_U64))
        .collect();
    pages.sort_unstable();
    pages.dedup();
    pages
}

/// Starts a transfer; volumes without pages complete at once.
pub(crate) fn launch(
    sim: &mut Simulation,
    source_group: GroupRef,
    dest_group: GroupRef,
    kind: TransferKind,
    volumes: Vec<VolumeTransfer>,
) {
    let pair = sim.pair_index(source_group.array, dest_group.array).expect("groups replicate between paired arrays");
    let id = sim.rc.next_transfer;
    sim.rc.next_transfer += 1;
    let total_pages: usize = volumes.iter().map(|v| v.pages.len()).sum();
    let transfer = Transfer {
        source_group,
        dest_group,
        kind,
        volumes,
        started_at: sim.now(),
        pair,
        epoch: sim.rc.pairs[pair].epoch,
        paused: false,
        step_scheduled: false,
    };
    sim.rc.transfers.insert(id, transfer);
    sim.group_mut(source_group).running_transfer = Some(id);
    sim.group_mut(dest_group).running_transfer = Some(id);
    let name = sim.group(source_group).name.clone();
    sim.record("rcopy", format!("sync of {name} started: {kind:?}, {total_pages} pages to send"));
    let empty: Vec<usize> =
        sim.rc.transfers[&id].volumes.iter().enumerate().filter(|(_, v)| v.pages.is_empty()).map(|(i, _)| i).collect();
    for index in empty {
        complete_volume(sim, id, index);
    }
    if sim.rc.transfers[&id].unfinished_volumes() == 0 {
        finish(sim, id);
        return;
    }
    fill_slots(sim);
}

/// Activates queued volumes while both arrays have free sync slots, in transfer and volume order,
/// and schedules a step for every transfer that has active volumes and none scheduled.
fn fill_slots(sim: &mut Simulation) {
    let mut active: BTreeMap<ArrayId, u32> = BTreeMap::new();
    for transfer in sim.rc.transfers.values() {
        let count = transfer.active() as u32;
        *active.entry(transfer.source_group.array).or_insert(0) += count;
        *active.entry(transfer.dest_group.array).or_insert(0) += count;
    }
    let ids: Vec<u64> = sim.rc.transfers.keys().copied().collect();
    for id in ids {
        let (src, dst) = {
            let t = &sim.rc.transfers[&id];
            (t.source_group.array, t.dest_group.array)
        };
        let limit_src = sim.array(src).config().limits.concurrent_syncs;
        let limit_dst = sim.array(dst).config().limits.concurrent_syncs;
        for index in 0..sim.rc.transfers[&id].volumes.len() {
            if sim.rc.transfers[&id].volumes[index].state != VolumeState::Queued {
                continue;
            }
            if active.get(&src).copied().unwrap_or(0) >= limit_src
                || active.get(&dst).copied().unwrap_or(0) >= limit_dst
            {
                break;
            }
            *active.entry(src).or_insert(0) += 1;
            *active.entry(dst).or_insert(0) += 1;
            let transfer = sim.rc.transfers.get_mut(&id).expect("listed");
            transfer.volumes[index].state = VolumeState::Active;
            let (source_volume, dest_volume) =
                (transfer.volumes[index].source_volume, transfer.volumes[index].dest_volume);
            let (source_group, dest_group) = (transfer.source_group, transfer.dest_group);
            set_status(sim, source_group, source_volume, SyncStatus::Syncing);
            set_status(sim, dest_group, dest_volume, SyncStatus::Syncing);
        }
        schedule_step(sim, id, false);
    }
}

fn set_status(sim: &mut Simulation, group: GroupRef, volume: VolumeId, status: SyncStatus) {
    if let Some(entry) = sim.group_mut(group).volume_mut(volume) {
        entry.status = status;
    }
}

/// Pages the next step will carry for transfer `id`.
fn next_chunk_pages(transfer: &Transfer) -> usize {
    let remaining: usize =
        transfer.volumes.iter().filter(|v| v.state == VolumeState::Active).map(|v| v.pages.len() - v.next).sum();
    remaining.min(CHUNK_PAGES)
}

fn schedule_step(sim: &mut Simulation, id: u64, first_after_resume: bool) {
    let transfer = &sim.rc.transfers[&id];
    if transfer.step_scheduled || transfer.paused || transfer.active() == 0 {
        return;
    }
    let (src, dst, pair) = (transfer.source_group.array, transfer.dest_group.array, transfer.pair);
    let pages = next_chunk_pages(transfer) as u64;
    let sharing = sim.rc.transfers.values().filter(|t| t.pair == pair && t.active() > 0).count().max(1) as u64;
    let bandwidth = (sim.rc.pairs[pair].bandwidth(src) / sharing).max(1);
    let bytes = pages * PAGE_SIZE_U64;
    let mut delay = Duration::from_nanos(
        ((u128::from(bytes) * 1_000_000_000) / u128::from(bandwidth)).min(u128::from(u64::MAX)) as u64,
    );
    let first = sim.rc.transfers[&id].volumes.iter().all(|v| v.next == 0) || first_after_resume;
    if first {
        delay += sim.message_latency(src, dst);
    }
    let at = sim.now() + delay;
    let transfer = sim.rc.transfers.get_mut(&id).expect("exists");
    transfer.step_scheduled = true;
    let epoch = transfer.epoch;
    sim.schedule(at, Event::RemoteCopy(RcEvent::TransferStep { transfer: id, epoch }));
}

/// One chunk arrives at the destination.
pub(crate) fn step(sim: &mut Simulation, id: u64, epoch: u64) {
    let Some(transfer) = sim.rc.transfers.get_mut(&id) else { return };
    if transfer.epoch != epoch {
        return;
    }
    transfer.step_scheduled = false;
    let (src, dst, pair) = (transfer.source_group.array, transfer.dest_group.array, transfer.pair);
    if sim.rc.pairs[pair].epoch != epoch || !sim.path_up(src, dst) {
        sim.rc.transfers.get_mut(&id).expect("exists").paused = true;
        return;
    }
    let mut budget = next_chunk_pages(&sim.rc.transfers[&id]);
    let mut finished = Vec::new();
    // Round-robin one page at a time over the active volumes, in volume order.
    while budget > 0 {
        let mut progressed = false;
        for index in 0..sim.rc.transfers[&id].volumes.len() {
            if budget == 0 {
                break;
            }
            let vt = &sim.rc.transfers[&id].volumes[index];
            if vt.state != VolumeState::Active || vt.next >= vt.pages.len() {
                continue;
            }
            let page = PageIndex(vt.pages[vt.next]);
            let change = match &vt.frozen {
                Some(map) => map.page(page).map(PageRef::to_page),
                None => sim
                    .array(src)
                    .volume_by_id(vt.source_volume)
                    .and_then(|v| v.pages().page(page).map(PageRef::to_page)),
            };
            let change = match change {
                Some(content) => PageChange::Written(page, content),
                None => PageChange::Zeroed(page),
            };
            let dest_volume = vt.dest_volume;
            // Not a checked write, but the destination's kept count follows it (one page).
            sim.arrays[dst.0 as usize].write_unchecked(dest_volume, page.0..page.0 + 1, |pages| pages.apply(&change));
            let vt = &mut sim.rc.transfers.get_mut(&id).expect("exists").volumes[index];
            vt.next += 1;
            vt.pages_sent += 1;
            if vt.next == vt.pages.len() {
                finished.push(index);
            }
            budget -= 1;
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    for index in finished {
        complete_volume(sim, id, index);
    }
    if sim.rc.transfers[&id].unfinished_volumes() == 0 {
        finish(sim, id);
    } else {
        fill_slots(sim);
        schedule_step(sim, id, false);
    }
}

/// One volume has all its pages on the destination.
fn complete_volume(sim: &mut Simulation, id: u64, index: usize) {
    let now = sim.now();
    let transfer = sim.rc.transfers.get_mut(&id).expect("exists");
    let vt = &mut transfer.volumes[index];
    vt.state = VolumeState::Done;
    let (source_group, dest_group) = (transfer.source_group, transfer.dest_group);
    let (source_volume, dest_volume, pages, instant) =
        (vt.source_volume, vt.dest_volume, vt.pages_sent, vt.content_instant.unwrap_or(now));
    for (group, volume) in [(source_group, source_volume), (dest_group, dest_volume)] {
        if let Some(entry) = sim.group_mut(group).volume_mut(volume) {
            entry.status = SyncStatus::Synced;
            entry.sync_point = Some(instant);
            entry.last_sync_time = Some(now);
            entry.stats.last_pages_sent = pages;
            entry.stats.last_bytes_sent = pages * PAGE_SIZE_U64;
        }
    }
    if let Some(entry) = sim.group_mut(source_group).volume_mut(source_volume) {
        entry.stats.total_bytes_sent += pages * PAGE_SIZE_U64;
    }
}

/// Every volume arrived: finish the sync as its kind requires.
fn finish(sim: &mut Simulation, id: u64) {
    let transfer = sim.rc.transfers.remove(&id).expect("exists");
    let (source, dest) = (transfer.source_group, transfer.dest_group);
    let now = sim.now();
    for vt in &transfer.volumes {
        // The destination's consistent image is now its base: drop the pre-sync snapshot.
        let dest_snapshot = sim.group_mut(dest).volume_mut(vt.dest_volume).and_then(|e| e.pre_sync_snapshot.take());
        if let Some(snapshot) = dest_snapshot {
            sync_cycle::drop_internal_snapshot(sim, dest.array, snapshot);
        }
        // The destination keeps no resync snapshot of its own, and its writes in doubt (from
        // when it was the source) are settled: it now holds the source's image.
        if let Some(e) = sim.group_mut(dest).volume_mut(vt.dest_volume) {
            e.pending_ranges.clear();
        }
        let dest_resync = sim.group_mut(dest).volume_mut(vt.dest_volume).and_then(|e| e.resync_snapshot.take());
        if let Some(snapshot) = dest_resync {
            sync_cycle::drop_internal_snapshot(sim, dest.array, snapshot);
        }
        let entry = sim.group_mut(source).volume_mut(vt.source_volume);
        let Some(entry) = entry else { continue };
        entry.pending_ranges.clear();
        let old = std::mem::replace(&mut entry.resync_snapshot, vt.new_resync_snapshot);
        if let Some(old) = old.filter(|old| Some(*old) != vt.new_resync_snapshot) {
            sync_cycle::drop_internal_snapshot(sim, source.array, old);
        }
    }
    let pages: u64 = transfer.volumes.iter().map(|v| v.pages_sent).sum();
    let duration = now - transfer.started_at;
    for group in [source, dest] {
        let g = sim.group_mut(group);
        g.running_transfer = None;
        g.stats.last_sync_completed = Some(now);
        g.stats.last_sync_duration = Some(duration);
        g.stats.last_sync_pages = pages;
        g.stats.last_sync_bytes = pages * PAGE_SIZE_U64;
        g.stats.syncs_completed += 1;
    }
    let g = sim.group(source);
    let (name, mode, period, alert) = (g.name.clone(), g.mode, g.sync_period, g.policies.over_period_alert);
    sim.record("rcopy", format!("sync of {name} completed: {pages} pages in {duration:?}"));
    if mode == Mode::Periodic && !period.is_zero() && duration > period {
        sim.group_mut(source).stats.over_period_alerts += 1;
        if alert {
            sim.record(
                "alert",
                format!("over_per_alert: sync of {name} took {duration:?}, longer than its period {period:?}"),
            );
        }
    }
    match transfer.kind {
        TransferKind::Recover { restore: true, skip_start } => dr::complete_restore(sim, source, skip_start),
        TransferKind::Recover { restore: false, .. } | TransferKind::Periodic | TransferKind::SyncResync => {
            if sim.group(source).restore_pending {
                dr::continue_restore(sim, source);
            }
        }
    }
    sync_cycle::after_sync(sim, source);
    fill_slots(sim);
}

/// Fails transfer `id`: the destination returns to its last consistent image where the mode
/// says so, the source keeps its previous resync snapshot.
pub(crate) fn fail(sim: &mut Simulation, id: u64) {
    let Some(transfer) = sim.rc.transfers.remove(&id) else { return };
    let (source, dest) = (transfer.source_group, transfer.dest_group);
    let periodic_content = transfer.volumes.iter().any(|v| v.frozen.is_some());
    for vt in &transfer.volumes {
        let dest_entry = sim.group(dest).volumes.iter().find(|v| v.local == vt.dest_volume).cloned();
        let Some(dest_entry) = dest_entry else { continue };
        let status = match (dest_entry.pre_sync_snapshot, periodic_content) {
            (Some(snapshot), true) => {
                // Periodic: the array promotes the pre-sync snapshot at once (spec §1.4).
                let image = sim.array(dest.array).volume_by_id(snapshot).map(|s| s.pages().clone());
                let dest_array = &mut sim.arrays[dest.array.0 as usize];
                if let Some(image) = image
                    && dest_array.volume_by_id(vt.dest_volume).is_some()
                {
                    dest_array.replace_pages(vt.dest_volume, image);
                }
                sync_cycle::drop_internal_snapshot(sim, dest.array, snapshot);
                SyncStatus::Stale
            }
            // Synchronous: the base stays as it is, the snapshot keeps the consistent image.
            (Some(_), false) => SyncStatus::NotSynced,
            (None, _) => SyncStatus::NotSynced,
        };
        let sync_point = if status == SyncStatus::NotSynced && dest_entry.pre_sync_snapshot.is_none() {
            None
        } else {
            vt.previous_sync_point
        };
        // A failed recover leaves the destination with its own pre-recover data, which is no
        // sync point of the new source: it is not in sync.
        let recovering = matches!(transfer.kind, TransferKind::Recover { .. });
        let (status, sync_point) = if recovering { (SyncStatus::NotSynced, None) } else { (status, sync_point) };
        for (group, volume) in [(dest, vt.dest_volume), (source, vt.source_volume)] {
            if let Some(entry) = sim.group_mut(group).volume_mut(volume) {
                entry.status = status;
                entry.sync_point = sync_point;
                if periodic_content && group == dest {
                    entry.pre_sync_snapshot = None;
                }
            }
        }
        if let Some(snapshot) = vt.new_resync_snapshot {
            sync_cycle::drop_internal_snapshot(sim, source.array, snapshot);
        }
    }
    for group in [source, dest] {
        let g = sim.group_mut(group);
        g.running_transfer = None;
        g.stats.syncs_failed += 1;
        g.restore_pending = false;
    }
    let name = sim.group(source).name.clone();
    sim.record("rcopy", format!("sync of {name} failed; destination kept its last consistent image"));
    fill_slots(sim);
}

/// The pair was repaired before its links were declared down: paused transfers continue.
pub(crate) fn resume_pair(sim: &mut Simulation, pair: usize) {
    let epoch = sim.rc.pairs[pair].epoch;
    let ids: Vec<u64> = sim.rc.transfers.iter().filter(|(_, t)| t.pair == pair).map(|(id, _)| *id).collect();
    for id in ids {
        let transfer = sim.rc.transfers.get_mut(&id).expect("listed");
        transfer.epoch = epoch;
        transfer.paused = false;
        transfer.step_scheduled = false;
        schedule_step(sim, id, true);
    }
}

/// The pair's links were declared down: its transfers fail.
pub(crate) fn fail_pair(sim: &mut Simulation, pair: usize) {
    let ids: Vec<u64> = sim.rc.transfers.iter().filter(|(_, t)| t.pair == pair).map(|(id, _)| *id).collect();
    for id in ids {
        fail(sim, id);
    }
}

/// An array restarted: transfers it took part in fail.
pub(crate) fn fail_array(sim: &mut Simulation, array: ArrayId) {
    let ids: Vec<u64> = sim
        .rc
        .transfers
        .iter()
        .filter(|(_, t)| t.source_group.array == array || t.dest_group.array == array)
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        fail(sim, id);
    }
}
