//! The backup workflow in asynchronous periodic Remote Copy mode (RM 4.4.2, the seed's sequence):
//! VSS freeze → primary virtual copies → thaw → integrity check → local entry → Remote Copy sync
//! of the group → once that sync has completed, virtual copies of the secondary volumes on the
//! backup array → remote repository entry → local entry removed, primary copies kept and recorded
//! as retained in the remote entry → BackupComplete → retention on the remote copies only.
//!
//! What it holds: the order of the steps, the sync request and the wait for *this backup's* sync
//! on the virtual timeline.
//!
//! What it does not do: no sync of its own making (it asks the array, as RM does), no retry of a
//! failed sync (the local copy stays registered and the report says why, spec §7.8 invariant 39),
//! no 4.1.0 behaviour (deleting the primary copy after the sync).
//!
//! Main design choice: the sync is requested at the instant of the thaw's completion. In this
//! single-threaded model no application write can land between the copies and that request (the
//! engine runs the whole backup in one call, and BackupComplete's log truncation — the backup's
//! only write — comes after the remote copies), so the sync's resync snapshot holds exactly the
//! primary copies' content, and the remote copies taken when it completes equal them (checked by
//! `invariants::periodic_remote_after_sync`). If a sync is already running, the backup waits for
//! it and then requests its own; it waits on the timeline with `advance_until` (bounded by
//! `EngineConfig::periodic_sync_timeout`), so link faults and array crashes scheduled meanwhile
//! land inside the wait. The cost: a periodic backup's model time includes its sync's events,
//! which grow with the pages changed since the last sync.

use std::sync::Arc;

use simulator::{ErrorCode, GroupState, Instant, Simulation, SyncOptions};

use super::backup::{self, Content, Session, Stop, WorkflowStep};
use super::{Engine, mode};
use crate::repository::{PolicyFields, Site};

/// Most sync requests a backup makes while other syncs keep the group busy.
const MAX_SYNC_REQUESTS: u32 = 8;

/// The sync a backup asked for: when, and the group's counters just before.
#[derive(Debug, Clone, Copy)]
struct SyncTicket {
    requested_at: Instant,
    completed_before: u64,
    failed_before: u64,
    deadline: Instant,
}

pub(super) fn run(engine: &mut Engine, sim: &mut Simulation, s: &mut Session<'_>, group: &str) -> Result<(), Stop> {
    let (primary, remote) = (Arc::clone(&s.primary), Arc::clone(&s.remote));
    // The local entry is a staging entry: placement puts no policy on the primary copies.
    let local = Content { copies: &primary, retained: &[], fields: PolicyFields::default() };
    let remote_content = Content { copies: &remote, retained: &primary, fields: s.fields };
    s.reach(sim, WorkflowStep::IntentRecorded)?;
    backup::record_intent(engine, sim, s, Site::Local, &local)?;
    s.done(sim, WorkflowStep::IntentRecorded);
    backup::snapshots(sim, s)?;
    backup::integrity_check(sim, s)?;
    s.reach(sim, WorkflowStep::LocalEntry)?;
    backup::complete(engine, sim, s, Site::Local, &local, s.copies_at)?;
    s.report.local = Some(s.key.clone());
    s.done(sim, WorkflowStep::LocalEntry);

    s.reach(sim, WorkflowStep::RcSyncRequested)?;
    let deadline = sim.now() + engine.config.periodic_sync_timeout;
    let ticket = match request_sync(sim, s.primary_array, group, deadline) {
        Ok(ticket) => ticket,
        Err(reason) => return sync_failed(engine, sim, s, reason),
    };
    s.done(sim, WorkflowStep::RcSyncRequested);
    let remote_taken = wrong_steps_at_sync_request(engine, sim, s, &remote_content)?;

    s.reach(sim, WorkflowStep::RcSyncCompleted)?;
    if let Err(reason) = wait_for_sync(sim, s, group, ticket) {
        return sync_failed(engine, sim, s, reason);
    }
    s.report.bytes_replicated =
        mode::group(sim, s.primary_array, group).map(|g| g.stats.last_sync_bytes).unwrap_or_default();
    s.done(sim, WorkflowStep::RcSyncCompleted);

    s.reach(sim, WorkflowStep::RemoteCopies)?;
    let remote_at = sim.now();
    if !remote_taken {
        if s.report.remote.is_none() {
            backup::record_intent(engine, sim, s, Site::Remote, &remote_content)?;
        }
        for copy in remote.iter() {
            if let Err(error) = copy.create(sim) {
                let reason = format!("virtual copy {} on the backup array: {error}", copy.copy);
                engine.dissolve(sim, Site::Remote, &s.key)?;
                s.written.remove(&Site::Remote);
                return sync_failed(engine, sim, s, reason);
            }
        }
    }
    s.done(sim, WorkflowStep::RemoteCopies);
    s.reach(sim, WorkflowStep::RemoteEntry)?;
    backup::complete(engine, sim, s, Site::Remote, &remote_content, remote_at)?;
    s.report.remote = Some(s.key.clone());
    s.done(sim, WorkflowStep::RemoteEntry);

    s.reach(sim, WorkflowStep::LocalEntryRemoved)?;
    if !engine.has_defect(super::Defect::KeepLocalEntryInPeriodic) {
        engine.remove_entry(Site::Local, &s.key)?;
        s.written.remove(&Site::Local);
        s.report.local = None;
    }
    s.done(sim, WorkflowStep::LocalEntryRemoved);
    backup::backup_complete(sim, s)?;
    backup::apply_retention(sim, s, remote.iter())?;
    Ok(())
}

/// The deliberately wrong variants that act when the sync is requested; returns whether the
/// remote copies were taken.
#[cfg(feature = "defects")]
fn wrong_steps_at_sync_request(
    engine: &mut Engine,
    sim: &mut Simulation,
    s: &mut Session<'_>,
    remote_content: &Content<'_>,
) -> Result<bool, Stop> {
    if engine.has_defect(super::Defect::RemoteEntryBeforeSync) {
        // Wrong: the remote entry before the sync has carried the data.
        backup::complete(engine, sim, s, Site::Remote, remote_content, sim.now())?;
        s.report.remote = Some(s.key.clone());
    }
    if engine.has_defect(super::Defect::SecondarySnapshotBeforeSync) {
        // Wrong: the secondary volumes still hold the previous sync's image.
        backup::record_intent(engine, sim, s, Site::Remote, remote_content)?;
        for copy in remote_content.copies {
            copy.create(sim)?;
        }
        return Ok(true);
    }
    Ok(false)
}

#[cfg(not(feature = "defects"))]
fn wrong_steps_at_sync_request(
    _engine: &mut Engine,
    _sim: &mut Simulation,
    _s: &mut Session<'_>,
    _remote_content: &Content<'_>,
) -> Result<bool, Stop> {
    Ok(false)
}

/// Requests the group's sync; waits first for a sync already running.
fn request_sync(
    sim: &mut Simulation,
    array: simulator::ArrayId,
    group: &str,
    deadline: Instant,
) -> Result<SyncTicket, String> {
    for _ in 0..MAX_SYNC_REQUESTS {
        let g = mode::group(sim, array, group).map_err(|e| e.to_string())?;
        if g.state != GroupState::Started {
            return Err(format!("remote copy group '{group}' is {:?}", g.state));
        }
        if g.is_syncing() {
            let idle = sim.advance_until(deadline, |s| {
                s.array(array)
                    .remote_copy()
                    .group(group)
                    .is_ok_and(|g| !g.is_syncing() || g.state != GroupState::Started)
            });
            if !idle {
                return Err(format!("remote copy group '{group}' was still syncing at the deadline"));
            }
            continue;
        }
        let (completed_before, failed_before) = (g.stats.syncs_completed, g.stats.syncs_failed);
        match sim.remote_copy().sync_group(array, group, &SyncOptions::default()) {
            Ok(()) => {
                return Ok(SyncTicket { requested_at: sim.now(), completed_before, failed_before, deadline });
            }
            Err(error) if error.code == ErrorCode::RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION => continue,
            Err(error) => return Err(format!("sync of remote copy group '{group}' refused: {error}")),
        }
    }
    Err(format!("remote copy group '{group}' stayed busy with other syncs"))
}

/// Waits on the timeline until the requested sync completes (or fails, or the deadline passes).
/// Success means the group completed a sync and both of the database's volumes hold a sync
/// point at or after the request.
fn wait_for_sync(sim: &mut Simulation, s: &Session<'_>, group: &str, ticket: SyncTicket) -> Result<(), String> {
    let array = s.primary_array;
    let ended = |sim: &Simulation| {
        sim.array(array).remote_copy().group(group).map_or(true, |g| {
            g.stats.syncs_completed > ticket.completed_before
                || g.stats.syncs_failed > ticket.failed_before
                || g.state != GroupState::Started
        })
    };
    if !sim.advance_until(ticket.deadline, ended) {
        return Err(format!("the sync of remote copy group '{group}' did not complete before the deadline"));
    }
    let g = mode::group(sim, array, group).map_err(|e| e.to_string())?;
    if g.stats.syncs_completed <= ticket.completed_before {
        return Err(format!(
            "the sync of remote copy group '{group}' failed ({:?}, {} failed syncs)",
            g.state, g.stats.syncs_failed
        ));
    }
    for volume in [&s.db_volume, &s.log_volume] {
        let id = sim.array(array).volume(volume).map_err(|e| e.to_string())?.id;
        let point = g.volume(id).and_then(|v| v.sync_point);
        if point.is_none_or(|p| p < ticket.requested_at) {
            return Err(format!("volume {volume} holds no sync point of the backup's sync"));
        }
    }
    Ok(())
}

/// The sync (or the remote copies) failed: no remote entry; the local entry stays registered
/// (spec §7.8 invariant 39). BackupComplete still runs (the local copy is a complete backup).
fn sync_failed(engine: &mut Engine, sim: &mut Simulation, s: &mut Session<'_>, reason: String) -> Result<(), Stop> {
    sim.record_fmt("rm", format_args!("backup {}: no remote copy: {reason}", s.key));
    if !engine.has_defect(super::Defect::RemoteEntryBeforeSync) && s.written.contains(&Site::Remote) {
        engine.dissolve(sim, Site::Remote, &s.key)?;
        s.written.remove(&Site::Remote);
    }
    s.report.remote_copy_failure = Some(reason);
    backup::backup_complete(sim, s)?;
    s.reach(sim, WorkflowStep::Retention)?;
    Ok(())
}
