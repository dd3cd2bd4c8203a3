//! Disaster recovery: failover, recover, restore, reverse, switchover (spec §1.5, WSAPI §12.4).
//!
//! Which action is legal for which role and state is decided in one exhaustive `match`
//! ([`check_transition`]); a refused action returns the role/state error and changes nothing.
//!
//! Data outcomes:
//! - failover (on the destination): it becomes the source (`Primary-Rev`) with the last
//!   consistent image it held — pre-sync snapshots left by an interrupted synchronous resync are
//!   promoted unless `skip_promote` (then the mixed image is exposed: the documented risk) — and
//!   takes a failover snapshot, the reference for shipping its own changes back later.
//! - recover (on the `Primary-Rev` side, original source reachable): the original source becomes
//!   `Secondary-Rev` and receives every page that changed on either side since the last common
//!   point (the failover snapshot here, its resync snapshot there), so no write made on the
//!   `Primary-Rev` side is lost and the two end identical.
//! - restore (on the `Primary-Rev` side): ships the latest changes back (as recover, if not yet
//!   done), refuses host writes on the failing-back side meanwhile, then returns both sides to
//!   their natural roles, started unless `skip_start`.
//! - reverse: swaps roles on a stopped group; data stays; the next start is a full sync.
//! - switchover: planned swap of a started, fully synced synchronous group; stays started.

use crate::error::{Error, ErrorCode, Result};
use crate::ids::ArrayId;
use crate::remote_copy::sync_cycle::{self, LaunchOptions, drop_internal_snapshot, take_internal_snapshot};
use crate::remote_copy::transfer::TransferKind;
use crate::remote_copy::{GroupRef, GroupState, Mode, RemoteCopyMut, Role, SyncStatus};
use crate::simulation::Simulation;

/// Options of the disaster-recovery actions (WSAPI §12.4 members; CLI options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrOptions {
    /// Do not start the group afterwards (`-nostart`, `skipStart`).
    pub skip_start: bool,
    /// Do not sync (`-nosync`, `skipSync`): the sides are assumed identical.
    pub skip_sync: bool,
    /// Failover: do not promote pre-sync snapshots (`-nopromote`, `skipPromote`).
    pub skip_promote: bool,
    /// Reverse: stop the group first if it is started (`-stopgroups`, `stopGroups`).
    pub stop_groups: bool,
}

/// A disaster-recovery action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrAction {
    /// `setrcopygroup failover` (WSAPI 7).
    Failover,
    /// `setrcopygroup recover` (WSAPI 9).
    Recover,
    /// `setrcopygroup restore` (WSAPI 10).
    Restore,
    /// `setrcopygroup reverse` (WSAPI 6).
    Reverse,
    /// `setrcopygroup switchover` (WSAPI 8).
    Switchover,
}

/// Whether `action` is legal for a group with `role` and `state` on the issuing array.
pub fn check_transition(action: DrAction, role: Role, state: GroupState, mode: Mode) -> Result<()> {
    let conflict = |what: &str| {
        Err(Error::new(
            ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT,
            format!("{what} is not allowed on a {} group", role.as_str()),
        ))
    };
    match (action, role) {
        (DrAction::Failover, Role::Secondary | Role::SecondaryRev) => match state {
            GroupState::Started => Err(Error::new(
                ErrorCode::RCOPY_GROUP_NOT_STOPPED,
                "stop the group (or wait for the link failure to stop it) before failover",
            )),
            GroupState::New | GroupState::Stopped => Ok(()),
        },
        (DrAction::Failover, Role::Primary | Role::PrimaryRev) => conflict("failover"),
        (DrAction::Recover | DrAction::Restore, Role::PrimaryRev) => Ok(()),
        (DrAction::Recover, Role::Primary | Role::Secondary | Role::SecondaryRev) => conflict("recover"),
        (DrAction::Restore, Role::Primary | Role::Secondary | Role::SecondaryRev) => conflict("restore"),
        (DrAction::Reverse, _) => Ok(()),
        (DrAction::Switchover, Role::Primary | Role::PrimaryRev) => match (state, mode) {
            (GroupState::Started, Mode::Synchronous) => Ok(()),
            (GroupState::Started, Mode::Periodic) => Err(Error::new(
                ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT,
                "switchover needs a synchronous group",
            )),
            (GroupState::New | GroupState::Stopped, _) => {
                Err(Error::new(ErrorCode::RCOPY_GROUP_NOT_STARTED, "switchover needs a started group"))
            }
        },
        (DrAction::Switchover, Role::Secondary | Role::SecondaryRev) => conflict("switchover"),
    }
}

fn swapped(role: Role) -> Role {
    match role {
        Role::Primary => Role::Secondary,
        Role::Secondary => Role::Primary,
        Role::PrimaryRev => Role::SecondaryRev,
        Role::SecondaryRev => Role::PrimaryRev,
    }
}

impl RemoteCopyMut<'_> {
    fn dr_group(&self, array: ArrayId, name: &str, action: DrAction) -> Result<GroupRef> {
        let a = self.sim.array(array);
        a.require_online()?;
        let group = a.remote_copy.group(name)?;
        if group.is_syncing() && !matches!(action, DrAction::Restore) {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, format!("'{name}' is transferring")));
        }
        check_transition(action, group.role, group.state, group.mode)?;
        Ok(GroupRef { array, group: group.id })
    }

    fn reachable_partner(&self, at: GroupRef) -> Result<GroupRef> {
        let group = self.sim.group(at);
        let up = self.sim.rc_pair(at.array, group.peer).is_some_and(|p| p.declared_up && p.usable)
            && self.sim.array(group.peer).is_online();
        let partner = self.sim.partner_of(at).filter(|_| up);
        partner.ok_or_else(|| {
            Error::new(
                ErrorCode::RCOPY_TARGET_IS_NOT_READY,
                format!("the partner of '{}' is not reachable", group.name),
            )
        })
    }

    /// Failover, issued on the destination side: it becomes the source with its last consistent
    /// image (see the module doc).
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT`;
    /// `RCOPY_GROUP_NOT_STOPPED`; `RCOPY_GROUP_IS_BUSY`.
    pub fn failover(&mut self, array: ArrayId, name: &str, options: DrOptions) -> Result<()> {
        let at = self.dr_group(array, name, DrAction::Failover)?;
        let sim = &mut *self.sim;
        let entries = sim.group(at).volumes.clone();
        for entry in &entries {
            if let Some(snapshot) = entry.pre_sync_snapshot {
                if !options.skip_promote {
                    let image = sim.array(array).vol(snapshot).pages().clone();
                    sim.arrays[array.0 as usize].replace_pages(entry.local, image);
                    if let Some(e) = sim.group_mut(at).volume_mut(entry.local) {
                        e.status = SyncStatus::Stale;
                    }
                }
                if let Some(e) = sim.group_mut(at).volume_mut(entry.local) {
                    e.pre_sync_snapshot = None;
                }
                drop_internal_snapshot(sim, array, snapshot);
            }
            if let Some(old) = sim.group_mut(at).volume_mut(entry.local).and_then(|e| e.resync_snapshot.take()) {
                drop_internal_snapshot(sim, array, old);
            }
            // The reference for shipping this side's own changes back at recover.
            let snapshot = take_internal_snapshot(sim, at, entry.local).ok();
            if let Some(e) = sim.group_mut(at).volume_mut(entry.local) {
                e.resync_snapshot = snapshot;
            }
        }
        let group = sim.group_mut(at);
        group.role = match group.role {
            Role::Secondary => Role::PrimaryRev,
            Role::SecondaryRev | Role::Primary | Role::PrimaryRev => Role::Primary,
        };
        if group.state == GroupState::New {
            group.state = GroupState::Stopped;
        }
        let role = group.role;
        sim.record("rcopy", format!("failover of {name} on {}: now {}", sim.array(array).name(), role.as_str()));
        Ok(())
    }

    /// Recover, issued on the `Primary-Rev` side once the original source is reachable: the
    /// original source becomes `Secondary-Rev` and is resynchronised from this side.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT`;
    /// `RCOPY_GROUP_IS_BUSY`; `RCOPY_TARGET_IS_NOT_READY`.
    pub fn recover(&mut self, array: ArrayId, name: &str, options: DrOptions) -> Result<()> {
        let at = self.dr_group(array, name, DrAction::Recover)?;
        let partner = self.reachable_partner(at)?;
        self.begin_reverse_sync(at, partner, options, false)
    }

    /// Restore, issued on the `Primary-Rev` side: ships the latest changes back and returns both
    /// sides to their natural roles (completes when that sync completes).
    ///
    /// Errors: as [`RemoteCopyMut::recover`].
    pub fn restore(&mut self, array: ArrayId, name: &str, options: DrOptions) -> Result<()> {
        let at = self.dr_group(array, name, DrAction::Restore)?;
        if self.sim.group(at).restore_pending {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, format!("a restore of '{name}' is in progress")));
        }
        let partner = self.reachable_partner(at)?;
        if self.sim.group(at).running_transfer.is_some() {
            // A recover sync is running: host writes stop now, and once it completes one more
            // sync carries the writes made meanwhile before the roles switch back.
            let group = self.sim.group_mut(at);
            group.restore_pending = true;
            group.restore_skip_start = options.skip_start;
            return Ok(());
        }
        self.begin_reverse_sync(at, partner, options, true)
    }

    fn begin_reverse_sync(&mut self, at: GroupRef, partner: GroupRef, options: DrOptions, restore: bool) -> Result<()> {
        let sim = &mut *self.sim;
        let name = sim.group(at).name.clone();
        // After a completed recover the sides are in sync (and, in synchronous mode, mirrored).
        let recovered = sim.group(partner).role == Role::SecondaryRev
            && sim.group(partner).state == GroupState::Started
            && sim.group(at).state == GroupState::Started;
        if restore {
            sim.group_mut(at).restore_pending = true;
        }
        let partner_group = sim.group_mut(partner);
        partner_group.role = Role::SecondaryRev;
        partner_group.state = GroupState::Started;
        partner_group.stop_reason = None;
        let group = sim.group_mut(at);
        group.state = GroupState::Started;
        group.stop_reason = None;
        sim.record(
            "rcopy",
            format!(
                "{} of {name}: syncing back to {}",
                if restore { "restore" } else { "recover" },
                sim.array(partner.array).name()
            ),
        );
        let kind = TransferKind::Recover { restore, skip_start: options.skip_start };
        if options.skip_sync {
            let volumes: Vec<_> = sim.group(at).volumes.iter().map(|v| v.local).collect();
            for volume in volumes {
                sync_cycle::mark_already_synced(sim, at, volume);
            }
            if restore {
                complete_restore(sim, at, options.skip_start);
            }
            return Ok(());
        }
        let now = sim.now();
        sim.group_mut(at).stats.last_sync_started = Some(now);
        let launched = match sim.group(at).mode {
            Mode::Periodic => sync_cycle::launch_periodic(sim, at, options_after(recovered), kind),
            Mode::Synchronous => sync_cycle::launch_live(sim, at, options_after(recovered), kind),
        };
        if let Err(error) = launched {
            sim.group_mut(at).restore_pending = false;
            return Err(error);
        }
        sync_cycle::reschedule(sim, at);
        Ok(())
    }

    /// Reverse: swaps source and destination roles of a stopped group on both arrays.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_NOT_STOPPED` (unless `stop_groups`);
    /// `RCOPY_GROUP_IS_BUSY`; `RCOPY_TARGET_IS_NOT_READY`.
    pub fn reverse(&mut self, array: ArrayId, name: &str, options: DrOptions) -> Result<()> {
        let at = self.dr_group(array, name, DrAction::Reverse)?;
        let partner = self.reachable_partner(at)?;
        if self.sim.group(at).state == GroupState::Started {
            if !options.stop_groups {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_NOT_STOPPED,
                    format!("stop '{name}' before reversing it"),
                ));
            }
            let source = if self.sim.group(at).role.is_source() { at } else { partner };
            sync_cycle::stop(self.sim, source, crate::remote_copy::StopReason::Operator, false);
        }
        let sim = &mut *self.sim;
        for side in [at, partner] {
            let entries = sim.group(side).volumes.clone();
            for entry in entries {
                for snapshot in [entry.resync_snapshot, entry.pre_sync_snapshot].into_iter().flatten() {
                    drop_internal_snapshot(sim, side.array, snapshot);
                }
            }
            let group = sim.group_mut(side);
            group.role = swapped(group.role);
            for entry in &mut group.volumes {
                entry.resync_snapshot = None;
                entry.pre_sync_snapshot = None;
                entry.pending_ranges.clear();
                entry.sync_point = None;
                entry.status = SyncStatus::New;
            }
            sync_cycle::reschedule(sim, side);
        }
        sim.record("rcopy", format!("reverse of {name}: roles swapped"));
        Ok(())
    }

    /// Switchover: planned role swap of a started, fully synced synchronous group.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT`;
    /// `RCOPY_GROUP_NOT_STARTED`; `RCOPY_GROUP_IS_BUSY`; `RCOPY_TARGET_IS_NOT_READY`;
    /// `RCOPY_GROUP_NOT_STOPPED`-free but `INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT` when a volume
    /// is not synced.
    pub fn switchover(&mut self, array: ArrayId, name: &str) -> Result<()> {
        let at = self.dr_group(array, name, DrAction::Switchover)?;
        let partner = self.reachable_partner(at)?;
        if self.sim.group(at).volumes.iter().any(|v| v.status != SyncStatus::Synced) {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT,
                format!("every volume of '{name}' must be synced"),
            ));
        }
        for side in [at, partner] {
            let group = self.sim.group_mut(side);
            group.role = swapped(group.role);
        }
        self.sim.record("rcopy", format!("switchover of {name}: roles swapped, group stays started"));
        Ok(())
    }
}

/// How a reverse sync picks its pages: after a completed recover the sides are in sync; right
/// after a failover the original source may hold writes of its own.
fn options_after(recovered: bool) -> LaunchOptions {
    LaunchOptions { full: false, diverged: !recovered }
}

/// A recover sync completed while a restore waited for it: run the restore's final sync.
pub(crate) fn continue_restore(sim: &mut Simulation, at: GroupRef) {
    let skip_start = sim.group(at).restore_skip_start;
    let kind = TransferKind::Recover { restore: true, skip_start };
    let launched = match sim.group(at).mode {
        Mode::Periodic => sync_cycle::launch_periodic(sim, at, LaunchOptions::default(), kind),
        Mode::Synchronous => sync_cycle::launch_live(sim, at, LaunchOptions::default(), kind),
    };
    if let Err(error) = launched {
        sim.group_mut(at).restore_pending = false;
        let name = sim.group(at).name.clone();
        sim.record("rcopy", format!("restore of {name} could not continue: {error}"));
    }
}

/// The restore's sync back completed: natural roles return, the original source takes over.
pub(crate) fn complete_restore(sim: &mut Simulation, at: GroupRef, skip_start: bool) {
    let Some(partner) = sim.partner_of(at) else { return };
    let name = sim.group(at).name.clone();
    let mode = sim.group(at).mode;
    // The failing-back side is destination again: its source-side snapshots go.
    let entries = sim.group(at).volumes.clone();
    for entry in entries {
        if let Some(snapshot) = entry.resync_snapshot {
            drop_internal_snapshot(sim, at.array, snapshot);
        }
    }
    for entry in &mut sim.group_mut(at).volumes {
        entry.resync_snapshot = None;
    }
    let group = sim.group_mut(at);
    group.role = Role::Secondary;
    group.restore_pending = false;
    let partner_group = sim.group_mut(partner);
    partner_group.role = Role::Primary;
    // The natural source holds the same data as the destination now; in periodic mode its
    // snapshot of this instant is the reference for the next resync.
    if mode == Mode::Periodic {
        let volumes: Vec<_> = sim.group(partner).volumes.iter().map(|v| v.local).collect();
        for volume in volumes {
            let snapshot = take_internal_snapshot(sim, partner, volume).ok();
            if let Some(e) = sim.group_mut(partner).volume_mut(volume) {
                e.resync_snapshot = snapshot;
            }
        }
    }
    let state = if skip_start { GroupState::Stopped } else { GroupState::Started };
    for side in [at, partner] {
        let group = sim.group_mut(side);
        group.state = state;
        if skip_start {
            group.stop_reason = Some(crate::remote_copy::StopReason::Operator);
        }
        for entry in &mut group.volumes {
            if entry.status == SyncStatus::Synced && skip_start {
                entry.status = SyncStatus::Stopped;
            }
        }
    }
    sync_cycle::reschedule(sim, partner);
    sync_cycle::reschedule(sim, at);
    sim.record("rcopy", format!("restore of {name} complete: natural roles, {state:?}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the transition table, exhaustively: for every action, role, state and mode, the
    // decision matches the spec's rules (§1.5, §7.2/14, WSAPI §12.4).
    #[test]
    fn every_transition_is_decided_as_the_spec_says() {
        let roles = [Role::Primary, Role::Secondary, Role::PrimaryRev, Role::SecondaryRev];
        let states = [GroupState::New, GroupState::Started, GroupState::Stopped];
        let modes = [Mode::Synchronous, Mode::Periodic];
        let actions =
            [DrAction::Failover, DrAction::Recover, DrAction::Restore, DrAction::Reverse, DrAction::Switchover];
        for action in actions {
            for role in roles {
                for state in states {
                    for mode in modes {
                        let expected: std::result::Result<(), ErrorCode> = match action {
                            DrAction::Failover if role.is_source() => {
                                Err(ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT)
                            }
                            DrAction::Failover if state == GroupState::Started => {
                                Err(ErrorCode::RCOPY_GROUP_NOT_STOPPED)
                            }
                            DrAction::Failover => Ok(()),
                            DrAction::Recover | DrAction::Restore if role == Role::PrimaryRev => Ok(()),
                            DrAction::Recover | DrAction::Restore => {
                                Err(ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT)
                            }
                            DrAction::Reverse => Ok(()),
                            DrAction::Switchover if !role.is_source() => {
                                Err(ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT)
                            }
                            DrAction::Switchover if state != GroupState::Started => {
                                Err(ErrorCode::RCOPY_GROUP_NOT_STARTED)
                            }
                            DrAction::Switchover if mode == Mode::Periodic => {
                                Err(ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT)
                            }
                            DrAction::Switchover => Ok(()),
                        };
                        let got = check_transition(action, role, state, mode).map_err(|e| e.code);
                        assert_eq!(got, expected, "{action:?} on {role:?}/{state:?}/{mode:?}");
                    }
                }
            }
        }
    }
}
