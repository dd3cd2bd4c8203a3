//! Remote Copy configuration: targets, groups, volume admission and dismissal, and the
//! start/stop/sync entry points (whose mechanics live in `sync_cycle`).
//!
//! Operations are issued on one array, as on the CLI or WSAPI, and mirrored onto the partner
//! group on the peer while the link is up (the `mirror_config` default). A group created on
//! array A as `g` appears on its target B as `g.r<system id of A>`.
//! Validation is complete before any change, so a refused operation changes nothing.

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::ids::{ArrayId, GroupId, VolumeId};
use crate::names::{NAME31, validate_name};
use crate::port::PortPos;
use crate::remote_copy::link::{Link, LinkSpec, RcPair};
use crate::remote_copy::{
    GroupPolicies, GroupRef, GroupState, GroupSyncStats, MAX_SYNC_PERIOD, MIN_SYNC_PERIOD, Mode, RcGroup, RcTarget,
    RcVolume, RemoteCopyMut, Role, StopReason, SyncStatus, TargetState, VolumeSyncStats, sync_cycle,
};
use crate::simulation::Simulation;
use crate::volume::{VolumeKind, VolumeSpec};

/// A target pair to create: [`RemoteCopyMut::create_targets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// First array.
    pub a: ArrayId,
    /// Second array.
    pub b: ArrayId,
    /// Name of the target on `a` (pointing at `b`); by default `b`'s system name.
    pub name_on_a: String,
    /// Name of the target on `b` (pointing at `a`).
    pub name_on_b: String,
    /// Links between them (two by default).
    pub links: Vec<LinkSpec>,
}

/// A group to create: [`RemoteCopyMut::create_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Name (its partner on the target is `<name>.r<system id>`, which must fit 31 characters).
    pub name: String,
    /// Target name on the array the group is created on.
    pub target: String,
    /// Mode.
    pub mode: Mode,
    /// WSAPI mode number to report (1 sync, 2 or 3 periodic); derived from `mode` when absent.
    pub mode_number: Option<u8>,
    /// Local user CPG (for volumes created here by reverse operations).
    pub local_user_cpg: Option<String>,
    /// Local snapshot CPG.
    pub local_snap_cpg: Option<String>,
    /// User CPG on the target for automatically created secondary volumes.
    pub remote_user_cpg: Option<String>,
    /// Snapshot CPG on the target.
    pub remote_snap_cpg: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Sync period (periodic mode); zero or absent means manual syncs only.
    pub sync_period: Option<Duration>,
    /// Policies; defaults when absent.
    pub policies: Option<GroupPolicies>,
}

impl GroupSpec {
    /// A group `name` on `target` in `mode`, with defaults for everything else.
    pub fn new(name: &str, target: &str, mode: Mode) -> GroupSpec {
        GroupSpec {
            name: name.to_owned(),
            target: target.to_owned(),
            mode,
            mode_number: None,
            local_user_cpg: None,
            local_snap_cpg: None,
            remote_user_cpg: None,
            remote_snap_cpg: None,
            domain: None,
            sync_period: None,
            policies: None,
        }
    }
}

/// Changes to a group: [`RemoteCopyMut::modify_group`]. `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// New sync period; `Some(ZERO)` removes it (manual syncs only).
    pub sync_period: Option<Duration>,
    /// New policies.
    pub policies: Option<GroupPolicies>,
    /// New mode and WSAPI mode number (stopped groups only).
    pub mode: Option<(Mode, u8)>,
    /// New user CPG on the target.
    pub remote_user_cpg: Option<String>,
    /// New snapshot CPG on the target.
    pub remote_snap_cpg: Option<String>,
    /// New local user CPG.
    pub local_user_cpg: Option<String>,
    /// New local snapshot CPG.
    pub local_snap_cpg: Option<String>,
    /// Unset the local and the remote user CPG (WSAPI `unsetUserCPG`).
    pub unset_user_cpg: bool,
    /// Unset the local and the remote snapshot CPG (WSAPI `unsetSnapCPG`).
    pub unset_snap_cpg: bool,
}

/// A volume to admit: [`RemoteCopyMut::admit_volume`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmitSpec {
    /// Primary volume name.
    pub volume: String,
    /// Secondary volume name on the target.
    pub secondary: String,
    /// Create the secondary volume on the target (same size and provisioning, the group's remote
    /// CPGs, the same WWN unless `different_wwn`).
    pub auto_create: bool,
    /// Give an automatically created secondary its own WWN.
    pub different_wwn: bool,
    /// Admit as already in sync (`-nosync`): no initial sync for this volume.
    pub already_synced: bool,
}

/// Options of [`RemoteCopyMut::start_group`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// Skip the initial sync and mark every volume synced (`-nosync`).
    pub skip_initial_sync: bool,
}

/// Options of [`RemoteCopyMut::stop_group`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopOptions {
    /// Take no snapshots (and drop resync snapshots): the next start does a full sync.
    pub no_snapshot: bool,
}

/// Options of [`RemoteCopyMut::sync_group`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Force a full sync.
    pub full: bool,
}

impl RemoteCopyMut<'_> {
    /// Creates a target on each array of a pair, and the pair's links.
    ///
    /// Errors: bad names; `UNLICENSED_FEATURE` (Remote Copy); `EXISTENT_RCOPY_TARGET` (a name is
    /// taken, or the arrays are already paired); `INV_INPUT` (same array twice or no links).
    pub fn create_targets(&mut self, spec: TargetSpec) -> Result<()> {
        validate_name("target", &spec.name_on_a, NAME31)?;
        validate_name("target", &spec.name_on_b, NAME31)?;
        if spec.a == spec.b || spec.links.is_empty() {
            return Err(Error::new(
                ErrorCode::INV_INPUT,
                "a target pair needs two different arrays and at least one link",
            ));
        }
        let sim = &mut *self.sim;
        for (array, name) in [(spec.a, &spec.name_on_a), (spec.b, &spec.name_on_b)] {
            let a = sim.array(array);
            if !a.config().licensed("Remote Copy") {
                return Err(Error::new(
                    ErrorCode::UNLICENSED_FEATURE,
                    format!("{} has no Remote Copy licence", a.name()),
                ));
            }
            if a.remote_copy.targets.contains_key(name.as_str()) {
                return Err(Error::new(
                    ErrorCode::EXISTENT_RCOPY_TARGET,
                    format!("target '{name}' exists on {}", a.name()),
                ));
            }
        }
        if sim.rc_pair(spec.a, spec.b).is_some() {
            return Err(Error::new(ErrorCode::EXISTENT_RCOPY_TARGET, "the arrays are already paired"));
        }
        let rcip = |array: ArrayId| -> Vec<PortPos> {
            sim.array(array).ports().iter().filter(|p| p.port_type == 7).map(|p| p.pos).collect()
        };
        let (a_ports, b_ports) = (rcip(spec.a), rcip(spec.b));
        let names = (sim.array(spec.a).name().to_owned(), sim.array(spec.b).name().to_owned());
        let links = spec
            .links
            .iter()
            .enumerate()
            .map(|(i, link)| Link {
                name: format!("{}-{}-{i}", names.0, names.1),
                a_port: a_ports.get(i % a_ports.len().max(1)).copied().unwrap_or(PortPos::new(i as u8, 3, 1)),
                b_port: b_ports.get(i % b_ports.len().max(1)).copied().unwrap_or(PortPos::new(i as u8, 3, 1)),
                up_ab: true,
                up_ba: true,
                spec: link.clone(),
            })
            .collect();
        let both_up = sim.array(spec.a).is_online() && sim.array(spec.b).is_online();
        sim.rc.pairs.push(RcPair {
            a: spec.a,
            b: spec.b,
            links,
            declared_up: both_up,
            target_failed: false,
            usable: both_up,
            broken_since: None,
            epoch: 0,
        });
        for (array, name, peer) in [(spec.a, &spec.name_on_a, spec.b), (spec.b, &spec.name_on_b, spec.a)] {
            let rc = &mut sim.arrays[array.0 as usize].remote_copy;
            rc.next_target += 1;
            let id = rc.next_target;
            rc.targets.insert(
                name.clone(),
                RcTarget { name: name.clone(), id, peer, mirror_config: true, state: TargetState::Ready },
            );
        }
        sim.record(
            "rcopy",
            format!("targets {} <-> {} with {} links", spec.name_on_a, spec.name_on_b, spec.links.len()),
        );
        Ok(())
    }

    /// Removes the targets joining `a` and `b` (on both arrays) and their links
    /// (`removercopytarget`).
    ///
    /// Errors: `NON_EXISTENT_RCOPY_TARGET` (the arrays are not paired); `IN_USE` while a group
    /// on either array replicates with the other.
    pub fn dismiss_targets(&mut self, a: ArrayId, b: ArrayId) -> Result<()> {
        let sim = &mut *self.sim;
        let Some(index) = sim.pair_index(a, b) else {
            return Err(Error::new(ErrorCode::NON_EXISTENT_RCOPY_TARGET, "the arrays are not paired"));
        };
        for (x, peer) in [(a, b), (b, a)] {
            if let Some(group) = sim.array(x).remote_copy.groups().find(|g| g.peer == peer) {
                return Err(Error::new(
                    ErrorCode::IN_USE,
                    format!("group '{}' on {} uses the target", group.name, sim.array(x).name()),
                ));
            }
        }
        let writes_or_transfers = sim.rc.writes.values().any(|w| w.pair() == index) || !sim.rc.transfers.is_empty();
        if writes_or_transfers {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, "replication traffic is in flight"));
        }
        for (x, peer) in [(a, b), (b, a)] {
            sim.arrays[x.0 as usize].remote_copy.targets.retain(|_, t| t.peer != peer);
        }
        sim.rc.pairs.remove(index);
        sim.record("rcopy", format!("targets between arrays {a} and {b} dismissed"));
        Ok(())
    }

    /// Adds a link between two paired arrays (`admitrcopylink`); traffic may use it at once.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_TARGET` (not paired).
    pub fn admit_link(&mut self, a: ArrayId, b: ArrayId, spec: LinkSpec) -> Result<()> {
        let sim = &mut *self.sim;
        let Some(index) = sim.pair_index(a, b) else {
            return Err(Error::new(ErrorCode::NON_EXISTENT_RCOPY_TARGET, "the arrays are not paired"));
        };
        let pair = &mut sim.rc.pairs[index];
        let n = pair.links.len();
        let names = (sim.arrays[pair.a.0 as usize].name().to_owned(), sim.arrays[pair.b.0 as usize].name().to_owned());
        pair.links.push(Link {
            name: format!("{}-{}-{n}", names.0, names.1),
            a_port: PortPos::new((n % 2) as u8, 3, 1),
            b_port: PortPos::new((n % 2) as u8, 3, 1),
            up_ab: true,
            up_ba: true,
            spec,
        });
        crate::remote_copy::link::refresh_pair(sim, index);
        sim.record("rcopy", format!("link {n} admitted between {} and {}", names.0, names.1));
        Ok(())
    }

    /// Removes link `link` (by position) between two paired arrays (`dismissrcopylink`); the
    /// pair breaks if it was the last link carrying traffic.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_TARGET` (not paired); `INV_INPUT_EXCEEDS_RANGE` (no such link).
    pub fn dismiss_link(&mut self, a: ArrayId, b: ArrayId, link: usize) -> Result<()> {
        let sim = &mut *self.sim;
        let Some(index) = sim.pair_index(a, b) else {
            return Err(Error::new(ErrorCode::NON_EXISTENT_RCOPY_TARGET, "the arrays are not paired"));
        };
        if link >= sim.rc.pairs[index].links.len() {
            return Err(Error::new(ErrorCode::INV_INPUT_EXCEEDS_RANGE, format!("there is no link {link}")));
        }
        let removed = sim.rc.pairs[index].links.remove(link);
        crate::remote_copy::link::refresh_pair(sim, index);
        sim.record("rcopy", format!("link {} dismissed", removed.name));
        Ok(())
    }

    /// Changes a target's `mirror_config` policy.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_TARGET`.
    pub fn set_mirror_config(&mut self, array: ArrayId, target: &str, mirror_config: bool) -> Result<()> {
        let rc = &mut self.sim.arrays[array.0 as usize].remote_copy;
        let Some(t) = rc.targets.get_mut(target) else {
            return Err(Error::new(ErrorCode::NON_EXISTENT_RCOPY_TARGET, format!("target '{target}' does not exist")));
        };
        t.mirror_config = mirror_config;
        Ok(())
    }

    /// Whether group operations can reach the peer of `target` on `array` now.
    fn require_peer_reachable(&self, array: ArrayId, peer: ArrayId) -> Result<()> {
        let sim = &*self.sim;
        let declared = sim.rc_pair(array, peer).is_some_and(|p| p.declared_up && p.usable);
        if !declared || !sim.array(peer).is_online() {
            return Err(Error::new(
                ErrorCode::RCOPY_TARGET_IS_NOT_READY,
                format!("{} cannot reach {}", sim.array(array).name(), sim.array(peer).name()),
            ));
        }
        Ok(())
    }

    /// Whether configuration changes of the group at `at` reach its partner (`mirror_config` of
    /// its target; on when the target is gone).
    fn mirrors_config(&self, at: GroupRef) -> bool {
        let group = self.sim.group(at);
        self.sim.array(at.array).remote_copy.target(&group.target).is_none_or(|t| t.mirror_config)
    }

    /// `RCOPY_GROUP_IN_FAILOVER_STATE` for a `Primary-Rev` group whose partner is still a source
    /// while `mirror_config` is on.
    fn refuse_in_failover_state(&self, at: GroupRef) -> Result<()> {
        let group = self.sim.group(at);
        let partner_is_source = self.sim.partner_of(at).is_some_and(|p| self.sim.group(p).role.is_source());
        if group.role == Role::PrimaryRev && partner_is_source && self.mirrors_config(at) {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_IN_FAILOVER_STATE,
                format!("'{}' and its partner are both sources: turn the target's mirror_config off first", group.name),
            ));
        }
        Ok(())
    }

    fn group_ref(&self, array: ArrayId, name: &str) -> Result<GroupRef> {
        let a = self.sim.array(array);
        a.require_online()?;
        Ok(GroupRef { array, group: a.remote_copy.group_id(name)? })
    }

    /// Creates a group on `array` and its partner on the target's array.
    ///
    /// Errors, in order: bad name (too long for the partner name too); `INV_INPUT_BAD_ENUM_VALUE`
    /// (mode number); period out of range (115/43) or a period on a synchronous group
    /// (`RCOPY_GROUP_IS_NOT_PERIODIC`); `RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP`;
    /// `RCOPY_GROUP_INV_TARGET`; `NON_EXISTENT_CPG` (local); `NON_EXISTENT_DOMAIN`;
    /// `EXISTENT_RCOPY_GROUP`; `RCOPY_TARGET_IS_NOT_READY`; `NON_EXISTENT_CPG` (on the target).
    pub fn create_group(&mut self, array: ArrayId, spec: GroupSpec) -> Result<GroupId> {
        let sim = &*self.sim;
        let a = sim.array(array);
        a.require_online()?;
        validate_name("remote copy group", &spec.name, NAME31)?;
        let partner_name = format!("{}.r{}", spec.name, a.config().system_id);
        if partner_name.len() > NAME31 {
            return Err(Error::new(
                ErrorCode::INV_INPUT_EXCEEDS_LENGTH,
                format!("group name '{}' leaves no room for its partner name '{partner_name}'", spec.name),
            ));
        }
        let mode_number = match (spec.mode, spec.mode_number) {
            (Mode::Synchronous, None | Some(1)) => 1,
            (Mode::Periodic, None) => 2,
            (Mode::Periodic, Some(n @ (2 | 3))) => n,
            (_, Some(n)) => {
                return Err(Error::new(
                    ErrorCode::INV_INPUT_BAD_ENUM_VALUE,
                    format!("mode {n} does not match {:?}", spec.mode),
                ));
            }
        };
        let policies = spec.policies.unwrap_or_default();
        let period = spec.sync_period.unwrap_or(Duration::ZERO);
        validate_period_and_policies(spec.mode, period, &policies)?;
        let target = a.remote_copy.target(&spec.target).ok_or_else(|| {
            Error::new(
                ErrorCode::RCOPY_GROUP_INV_TARGET,
                format!("target '{}' does not exist on {}", spec.target, a.name()),
            )
        })?;
        let peer = target.peer;
        let local_user_cpg = spec.local_user_cpg.as_deref().map(|c| a.cpg(c).map(|c| c.id)).transpose()?;
        let local_snap_cpg = spec.local_snap_cpg.as_deref().map(|c| a.cpg(c).map(|c| c.id)).transpose()?;
        a.require_domain(spec.domain.as_deref())?;
        if a.remote_copy.groups.contains_name(&spec.name) {
            return Err(Error::new(
                ErrorCode::EXISTENT_RCOPY_GROUP,
                format!("remote copy group '{}' exists", spec.name),
            ));
        }
        self.require_peer_reachable(array, peer)?;
        let p = sim.array(peer);
        let remote_user_cpg_id = spec.remote_user_cpg.as_deref().map(|c| p.cpg(c).map(|c| c.id)).transpose()?;
        let remote_snap_cpg_id = spec.remote_snap_cpg.as_deref().map(|c| p.cpg(c).map(|c| c.id)).transpose()?;
        p.require_domain(spec.domain.as_deref())?;
        if p.remote_copy.groups.contains_name(&partner_name) {
            return Err(Error::new(
                ErrorCode::EXISTENT_RCOPY_GROUP,
                format!("remote copy group '{partner_name}' exists on {}", p.name()),
            ));
        }
        let peer_target = p.remote_copy.target_for(array).map(|t| t.name.clone()).ok_or_else(|| {
            Error::new(ErrorCode::RCOPY_GROUP_INV_TARGET, format!("{} has no target pointing back", p.name()))
        })?;
        let local_cpg_names = (
            local_user_cpg.and_then(|c| a.cpg_by_id(c)).map(|c| c.name.clone()),
            local_snap_cpg.and_then(|c| a.cpg_by_id(c)).map(|c| c.name.clone()),
        );

        let make = |sim: &mut Simulation,
                    on: ArrayId,
                    name: &str,
                    role: Role,
                    target: &str,
                    peer: ArrayId,
                    partner: &str,
                    cpgs: (Option<crate::CpgId>, Option<crate::CpgId>),
                    remote: (Option<String>, Option<String>)| {
            let rc = &mut sim.arrays[on.0 as usize].remote_copy;
            let id = GroupId(rc.next_group + 1);
            rc.next_group += 1;
            let group = RcGroup {
                id,
                name: name.to_owned(),
                role,
                state: GroupState::New,
                mode: spec.mode,
                mode_number,
                target: target.to_owned(),
                peer,
                partner: partner.to_owned(),
                sync_period: period,
                policies,
                local_user_cpg: cpgs.0,
                local_snap_cpg: cpgs.1,
                remote_user_cpg: remote.0,
                remote_snap_cpg: remote.1,
                domain: spec.domain.clone(),
                volumes: Vec::new(),
                stop_reason: None,
                stats: GroupSyncStats::default(),
                running_transfer: None,
                next_sync_due: None,
                schedule_generation: 0,
                snapshot_generation: 0,
                sync_pending: false,
                restore_pending: false,
                restore_skip_start: false,
            };
            rc.groups.insert(id, name, group);
            id
        };
        let sim = &mut *self.sim;
        let id = make(
            sim,
            array,
            &spec.name,
            Role::Primary,
            &spec.target,
            peer,
            &partner_name,
            (local_user_cpg, local_snap_cpg),
            (spec.remote_user_cpg.clone(), spec.remote_snap_cpg.clone()),
        );
        make(
            sim,
            peer,
            &partner_name,
            Role::Secondary,
            &peer_target,
            array,
            &spec.name,
            (remote_user_cpg_id, remote_snap_cpg_id),
            local_cpg_names,
        );
        sim.record("rcopy", format!("create group {} ({:?}) with partner {partner_name}", spec.name, spec.mode));
        Ok(id)
    }

    /// Removes a group (and its partner when the peer is reachable). Admitted volumes are
    /// dismissed; both sides' volumes remain.
    /// The partner is removed too only while the target's `mirror_config` is on (WSAPI §12.5).
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_STARTED`; `RCOPY_GROUP_IS_BUSY` (a
    /// transfer runs); `RCOPY_GROUP_IN_FAILOVER_STATE` (see [`RemoteCopyMut::dismiss_volume`]).
    pub fn remove_group(&mut self, array: ArrayId, name: &str, keep_snapshots: bool) -> Result<()> {
        let at = self.group_ref(array, name)?;
        let group = self.sim.group(at);
        if group.state == GroupState::Started {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_STARTED, format!("group '{name}' is started")));
        }
        if group.is_syncing() {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, format!("group '{name}' is transferring")));
        }
        self.refuse_in_failover_state(at)?;
        let partner = if self.require_peer_reachable(array, group.peer).is_ok() && self.mirrors_config(at) {
            self.sim.partner_of(at)
        } else {
            None
        };
        for side in std::iter::once(at).chain(partner) {
            remove_group_side(self.sim, side, keep_snapshots);
        }
        self.sim.record("rcopy", format!("remove group {name}"));
        Ok(())
    }

    /// Changes a group's period, policies, mode or CPGs (mirrored to the partner while the
    /// target's `mirror_config` is on: the partner's local CPGs are this group's remote ones and
    /// the other way round).
    ///
    /// Errors: `INV_INPUT_PARAM_CONFLICT` (a CPG set and unset together);
    /// `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE`;
    /// `INV_INPUT_BELOW_RANGE` / `INV_INPUT_EXCEEDS_RANGE` (period);
    /// `RCOPY_GROUP_IS_NOT_PERIODIC`; `RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP`;
    /// `RCOPY_GROUP_STARTED` (mode change while started); `NON_EXISTENT_CPG`.
    pub fn modify_group(&mut self, array: ArrayId, name: &str, changes: GroupChanges) -> Result<()> {
        let sets_user = changes.local_user_cpg.is_some() || changes.remote_user_cpg.is_some();
        let sets_snap = changes.local_snap_cpg.is_some() || changes.remote_snap_cpg.is_some();
        if (changes.unset_user_cpg && sets_user) || (changes.unset_snap_cpg && sets_snap) {
            return Err(Error::new(ErrorCode::INV_INPUT_PARAM_CONFLICT, "a CPG cannot be set and unset together"));
        }
        let at = self.group_ref(array, name)?;
        let group = self.sim.group(at).clone();
        require_source(&group)?;
        let mode = changes.mode.map_or(group.mode, |(m, _)| m);
        if changes.mode.is_some_and(|(m, _)| m != group.mode) && group.state == GroupState::Started {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_STARTED, format!("stop '{name}' before changing its mode")));
        }
        if let Some((m, n)) = changes.mode
            && !matches!((m, n), (Mode::Synchronous, 1) | (Mode::Periodic, 2 | 3))
        {
            return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, format!("mode {n} does not match {m:?}")));
        }
        let period = changes.sync_period.unwrap_or(group.sync_period);
        let policies = changes.policies.unwrap_or(group.policies);
        if changes.sync_period.is_some_and(|p| !p.is_zero()) && mode == Mode::Synchronous {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_NOT_PERIODIC, format!("'{name}' is synchronous")));
        }
        validate_period_and_policies(mode, if mode == Mode::Periodic { period } else { Duration::ZERO }, &policies)?;
        let a = self.sim.array(array);
        let local_user = changes.local_user_cpg.as_deref().map(|c| a.cpg(c).map(|c| c.id)).transpose()?;
        let local_snap = changes.local_snap_cpg.as_deref().map(|c| a.cpg(c).map(|c| c.id)).transpose()?;
        let reachable = self.require_peer_reachable(array, group.peer).is_ok();
        let partner = if reachable { self.sim.partner_of(at) } else { None };
        // The partner's local CPGs: ids of this change's remote CPGs on the peer.
        let mut partner_cpgs = (None, None);
        if let Some(partner) = partner {
            let p = self.sim.array(partner.array);
            partner_cpgs = (
                changes.remote_user_cpg.as_deref().map(|c| p.cpg(c).map(|c| c.id)).transpose()?,
                changes.remote_snap_cpg.as_deref().map(|c| p.cpg(c).map(|c| c.id)).transpose()?,
            );
        }
        let mode_number = changes.mode.map_or(group.mode_number, |(_, n)| n);
        let apply = |g: &mut RcGroup| {
            g.mode = mode;
            g.mode_number = mode_number;
            g.sync_period = if mode == Mode::Periodic { period } else { Duration::ZERO };
            g.policies = policies;
        };
        apply(self.sim.group_mut(at));
        {
            let g = self.sim.group_mut(at);
            if let Some(c) = local_user {
                g.local_user_cpg = Some(c);
            }
            if let Some(c) = local_snap {
                g.local_snap_cpg = Some(c);
            }
            if let Some(c) = &changes.remote_user_cpg {
                g.remote_user_cpg = Some(c.clone());
            }
            if let Some(c) = &changes.remote_snap_cpg {
                g.remote_snap_cpg = Some(c.clone());
            }
            if changes.unset_user_cpg {
                g.local_user_cpg = None;
                g.remote_user_cpg = None;
            }
            if changes.unset_snap_cpg {
                g.local_snap_cpg = None;
                g.remote_snap_cpg = None;
            }
        }
        if let Some(partner) = partner {
            let mirror = self.sim.array(array).remote_copy.target(&group.target).is_none_or(|t| t.mirror_config);
            if mirror {
                let a = self.sim.array(array);
                let local_name = |id: Option<crate::CpgId>| id.and_then(|c| a.cpg_by_id(c)).map(|c| c.name.clone());
                let (local_user_name, local_snap_name) = (local_name(local_user), local_name(local_snap));
                let g = self.sim.group_mut(partner);
                apply(g);
                if let Some(c) = partner_cpgs.0 {
                    g.local_user_cpg = Some(c);
                }
                if let Some(c) = partner_cpgs.1 {
                    g.local_snap_cpg = Some(c);
                }
                if local_user_name.is_some() {
                    g.remote_user_cpg = local_user_name;
                }
                if local_snap_name.is_some() {
                    g.remote_snap_cpg = local_snap_name;
                }
                if changes.unset_user_cpg {
                    g.local_user_cpg = None;
                    g.remote_user_cpg = None;
                }
                if changes.unset_snap_cpg {
                    g.local_snap_cpg = None;
                    g.remote_snap_cpg = None;
                }
            }
        }
        sync_cycle::reschedule(self.sim, at);
        self.sim.record("rcopy", format!("modify group {name}: period {period:?}, {policies:?}"));
        Ok(())
    }

    /// Admits a volume (and its secondary on the target) into a group.
    ///
    /// Errors, in order: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE`;
    /// bad secondary name; `NON_EXISTENT_VOL`; `RCOPY_GROUP_EXISTENT_VOL`;
    /// `RCOPY_GROUP_VOL_IN_OTHER_GROUP`; `RCOPY_GROUP_VOL_IS_RO`; `RCOPY_GROUP_VOL_IS_PHYSICAL_COPY`;
    /// `RCOPY_GROUP_VOL_NO_SNAPSHOT_SPACE`; `RCOPY_GROUP_MULTIPLE_VOL_IN_SAME_FAMILY`;
    /// `RCOPY_GROUP_MAX_VOL_REACHED`; `RCOPY_GROUP_STARTED`; `RCOPY_TARGET_IS_NOT_READY`;
    /// auto-create: `RCOPY_GROUP_EXISTENT_VOL_ON_TARGET`, `RCOPY_GROUP_HAS_NO_CPG`;
    /// otherwise: `RCOPY_GROUP_NON_EXISTENT_VOL_ON_TARGET`, `RCOPY_GROUP_VOL_SIZE_NOT_MATCH`,
    /// `RCOPY_GROUP_TARGET_VOL_EXPORTED`, `RCOPY_GROUP_VOL_IN_OTHER_GROUP` (secondary).
    pub fn admit_volume(&mut self, array: ArrayId, group: &str, spec: AdmitSpec) -> Result<()> {
        let at = self.group_ref(array, group)?;
        let g = self.sim.group(at).clone();
        require_source(&g)?;
        validate_name("volume", &spec.secondary, NAME31)?;
        let a = self.sim.array(array);
        let volume = a.volume(&spec.volume)?;
        let vid = volume.id;
        if g.volume(vid).is_some() {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_EXISTENT_VOL,
                format!("'{}' is already in '{group}'", spec.volume),
            ));
        }
        if let Some(other) = a.remote_copy.group_of_volume(vid) {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_VOL_IN_OTHER_GROUP,
                format!("'{}' is in group '{other}'", spec.volume),
            ));
        }
        if volume.read_only {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_VOL_IS_RO, format!("'{}' is read-only", spec.volume)));
        }
        if matches!(volume.kind, VolumeKind::PhysicalCopy { .. }) || volume.is_virtual_copy() {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_VOL_IS_PHYSICAL_COPY,
                format!("'{}' is not a base volume", spec.volume),
            ));
        }
        if volume.snap_cpg().is_none() {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_VOL_NO_SNAPSHOT_SPACE,
                format!("'{}' has no snapshot CPG", spec.volume),
            ));
        }
        if g.volumes.iter().any(|v| a.vol(v.local).base_id() == volume.base_id()) {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_MULTIPLE_VOL_IN_SAME_FAMILY,
                format!("'{}' shares a family with a group volume", spec.volume),
            ));
        }
        if g.volumes.len() as u32 >= a.config().limits.volumes_per_rc_group {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_MAX_VOL_REACHED,
                format!("'{group}' holds {} volumes", g.volumes.len()),
            ));
        }
        if g.state == GroupState::Started {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_STARTED, format!("stop '{group}' before admitting volumes")));
        }
        self.require_peer_reachable(array, g.peer)?;
        let partner = self
            .sim
            .partner_of(at)
            .ok_or_else(|| Error::new(ErrorCode::RCOPY_GROUP_INV_TARGET, "the partner group is missing"))?;
        let (size_mib, provisioning, wwn) = (volume.size_mib, volume.provisioning, volume.wwn.clone());
        let p = self.sim.array(g.peer);
        let remote_id = if spec.auto_create {
            if p.has_volume(&spec.secondary) {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_EXISTENT_VOL_ON_TARGET,
                    format!("'{}' exists on {}", spec.secondary, p.name()),
                ));
            }
            let Some(user_cpg) = g.remote_user_cpg.clone().or_else(|| {
                self.sim.group(partner).local_user_cpg.and_then(|c| p.cpg_by_id(c)).map(|c| c.name.clone())
            }) else {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_HAS_NO_CPG,
                    format!("'{group}' has no CPG on {}", p.name()),
                ));
            };
            let snap_cpg = g.remote_snap_cpg.clone().or_else(|| Some(user_cpg.clone()));
            let spec_remote =
                VolumeSpec { provisioning, snap_cpg, ..VolumeSpec::thin(&spec.secondary, &user_cpg, size_mib) };
            let id = self.sim.array_mut(g.peer).create_volume(spec_remote).map_err(|e| {
                if e.code == ErrorCode::NON_EXISTENT_CPG {
                    Error::new(ErrorCode::RCOPY_GROUP_HAS_NO_CPG, e.message)
                } else {
                    e
                }
            })?;
            if !spec.different_wwn {
                self.sim.arrays[g.peer.0 as usize].vol_mut(id).wwn = wwn;
            }
            id
        } else {
            let secondary = p.volume(&spec.secondary).map_err(|_| {
                Error::new(
                    ErrorCode::RCOPY_GROUP_NON_EXISTENT_VOL_ON_TARGET,
                    format!("'{}' does not exist on {}", spec.secondary, p.name()),
                )
            })?;
            if secondary.size_mib != size_mib {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_VOL_SIZE_NOT_MATCH,
                    format!("'{}' is {} MiB, '{}' is {size_mib} MiB", spec.secondary, secondary.size_mib, spec.volume),
                ));
            }
            if p.is_exported(secondary.id) {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_TARGET_VOL_EXPORTED,
                    format!("'{}' is exported", spec.secondary),
                ));
            }
            if let Some(other) = p.remote_copy.group_of_volume(secondary.id) {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_VOL_IN_OTHER_GROUP,
                    format!("'{}' is in group '{other}'", spec.secondary),
                ));
            }
            if secondary.read_only || secondary.is_virtual_copy() {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_VOL_IS_RO,
                    format!("'{}' is not a writable base volume", spec.secondary),
                ));
            }
            secondary.id
        };
        let status = SyncStatus::New;
        let entry = |local: VolumeId, remote_name: &str, remote: VolumeId| RcVolume {
            local,
            remote_name: remote_name.to_owned(),
            remote,
            status,
            last_sync_time: None,
            sync_point: None,
            resync_snapshot: None,
            pre_sync_snapshot: None,
            pending_ranges: Vec::new(),
            stats: VolumeSyncStats::default(),
        };
        self.sim.group_mut(at).volumes.push(entry(vid, &spec.secondary, remote_id));
        self.sim.arrays[array.0 as usize].remote_copy.volume_groups.insert(vid, at.group);
        self.sim.group_mut(partner).volumes.push(entry(remote_id, &spec.volume, vid));
        self.sim.arrays[g.peer.0 as usize].remote_copy.volume_groups.insert(remote_id, partner.group);
        if spec.already_synced {
            sync_cycle::mark_already_synced(self.sim, at, vid);
        }
        self.sim.record(
            "rcopy",
            format!("admit {} -> {}:{} into {group}", spec.volume, self.sim.array(g.peer).name(), spec.secondary),
        );
        Ok(())
    }

    /// Dismisses a volume from a group (and its partner volume from the partner group, while
    /// the target's `mirror_config` is on).
    ///
    /// In the failover state (this side `Primary-Rev`, the partner still `Primary`: both are
    /// sources) dismissing or removing on the `Primary-Rev` side is refused while
    /// `mirror_config` is on, since mirroring would reach into the other source; Cinder turns
    /// the policy off first (WSAPI §12.3).
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `NON_EXISTENT_VOL`; `RCOPY_GROUP_VOL_NOT_IN_GROUP`;
    /// `RCOPY_GROUP_STARTED`; `RCOPY_GROUP_IS_BUSY`; `RCOPY_GROUP_IN_FAILOVER_STATE`;
    /// `INV_INPUT_PARAM_CONFLICT` (keep snapshots and remove the secondary together).
    pub fn dismiss_volume(
        &mut self,
        array: ArrayId,
        group: &str,
        volume: &str,
        keep_snapshots: bool,
        remove_secondary: bool,
    ) -> Result<()> {
        if keep_snapshots && remove_secondary {
            return Err(Error::new(
                ErrorCode::INV_INPUT_PARAM_CONFLICT,
                "keepSnap and removeSecondaryVolume exclude each other",
            ));
        }
        let at = self.group_ref(array, group)?;
        let vid = self.sim.array(array).volume_id(volume)?;
        let g = self.sim.group(at);
        let Some(entry) = g.volume(vid).cloned() else {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_VOL_NOT_IN_GROUP, format!("'{volume}' is not in '{group}'")));
        };
        if g.state == GroupState::Started {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_STARTED,
                format!("stop '{group}' before dismissing volumes"),
            ));
        }
        if g.is_syncing() {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, format!("'{group}' is transferring")));
        }
        self.refuse_in_failover_state(at)?;
        let g = self.sim.group(at);
        let reachable = self.require_peer_reachable(array, g.peer).is_ok() && self.mirrors_config(at);
        let peer = g.peer;
        dismiss_side(self.sim, at, vid, keep_snapshots);
        if reachable && let Some(partner) = self.sim.partner_of(at) {
            dismiss_side(self.sim, partner, entry.remote, keep_snapshots);
            if remove_secondary {
                let name = entry.remote_name.clone();
                self.sim.array_mut(peer).delete_volume(&name).ok();
            }
        }
        self.sim.record("rcopy", format!("dismiss {volume} from {group}"));
        Ok(())
    }

    /// Starts a group: replication begins with an initial full sync, or a resync of what
    /// changed since it stopped.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE`;
    /// `RCOPY_GROUP_STARTED`; `RCOPY_GROUP_EMPTY`; `RCOPY_TARGET_IS_NOT_READY`;
    /// `RCOPY_GROUP_IS_BUSY`.
    pub fn start_group(&mut self, array: ArrayId, name: &str, options: &StartOptions) -> Result<()> {
        let at = self.group_ref(array, name)?;
        self.start_group_ref(at, options)
    }

    pub(crate) fn start_group_ref(&mut self, at: GroupRef, options: &StartOptions) -> Result<()> {
        let g = self.sim.group(at);
        let name = g.name.clone();
        require_source(g)?;
        if g.state == GroupState::Started {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_STARTED, format!("'{name}' is started")));
        }
        if g.volumes.is_empty() {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_EMPTY, format!("'{name}' has no volumes")));
        }
        if g.is_syncing() {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_BUSY, format!("'{name}' is transferring")));
        }
        self.require_peer_reachable(at.array, g.peer)?;
        let Some(partner) = self.sim.partner_of(at) else {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_INV_TARGET, format!("the partner of '{name}' is missing")));
        };
        if self.sim.group(partner).role.is_source() {
            // Both sides are sources after a failover: only recover or restore may resolve it.
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_IN_FAILOVER_STATE,
                format!(
                    "'{name}' and its partner are both {}/{}",
                    self.sim.group(at).role.as_str(),
                    self.sim.group(partner).role.as_str()
                ),
            ));
        }
        sync_cycle::start(self.sim, at, options.skip_initial_sync);
        Ok(())
    }

    /// Stops a group on both arrays. Idempotent on a stopped group.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE`.
    pub fn stop_group(&mut self, array: ArrayId, name: &str, options: &StopOptions) -> Result<()> {
        let at = self.group_ref(array, name)?;
        let g = self.sim.group(at);
        require_source(g)?;
        if g.state != GroupState::Started {
            return Ok(());
        }
        sync_cycle::stop(self.sim, at, StopReason::Operator, options.no_snapshot);
        Ok(())
    }

    /// Synchronises a started group now (periodic: a resync; synchronous: repairs volumes that
    /// are not synced, or everything with `full`). Returns at once; the sync runs on the timeline.
    ///
    /// Errors: `NON_EXISTENT_RCOPY_GROUP`; `RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE`;
    /// `RCOPY_GROUP_NOT_STARTED`; `RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION`;
    /// `RCOPY_TARGET_IS_NOT_READY`.
    pub fn sync_group(&mut self, array: ArrayId, name: &str, options: &SyncOptions) -> Result<()> {
        let at = self.group_ref(array, name)?;
        let g = self.sim.group(at);
        require_source(g)?;
        if g.state != GroupState::Started {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_NOT_STARTED, format!("'{name}' is not started")));
        }
        if g.is_syncing() {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION,
                format!("'{name}' is already synchronizing"),
            ));
        }
        self.require_peer_reachable(at.array, g.peer)?;
        sync_cycle::sync_now(self.sim, at, options.full);
        Ok(())
    }
}

/// Refuses operations reserved to the source side of a group.
fn require_source(group: &RcGroup) -> Result<()> {
    if group.role.is_source() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE,
            format!("'{}' is a {} group", group.name, group.role.as_str()),
        ))
    }
}

fn validate_period_and_policies(mode: Mode, period: Duration, policies: &GroupPolicies) -> Result<()> {
    if !period.is_zero() {
        if mode == Mode::Synchronous {
            return Err(Error::new(ErrorCode::RCOPY_GROUP_IS_NOT_PERIODIC, "a synchronous group has no sync period"));
        }
        if period < MIN_SYNC_PERIOD {
            return Err(Error::new(ErrorCode::INV_INPUT_BELOW_RANGE, "minimum allowable period is 300 seconds"));
        }
        if period > MAX_SYNC_PERIOD {
            return Err(Error::new(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "maximum allowable period is 31622400 seconds"));
        }
    }
    if mode == Mode::Periodic && (policies.auto_failover || policies.path_management) {
        return Err(Error::new(
            ErrorCode::RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP,
            "auto_failover and path_management need a synchronous group",
        ));
    }
    if mode == Mode::Periodic && policies.fail_write_on_error {
        return Err(Error::new(
            ErrorCode::RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP,
            "fail_wrt_on_err needs a synchronous group",
        ));
    }
    Ok(())
}

/// Removes one side of a group: drops its internal snapshots (unless kept) and its volume index.
fn remove_group_side(sim: &mut Simulation, at: GroupRef, keep_snapshots: bool) {
    let volumes: Vec<VolumeId> = sim.group(at).volumes.iter().map(|v| v.local).collect();
    for volume in volumes {
        dismiss_side(sim, at, volume, keep_snapshots);
    }
    let name = sim.group(at).name.clone();
    sim.arrays[at.array.0 as usize].remote_copy.groups.remove(at.group, &name);
}

/// Removes `volume` from one side of a group, dropping its internal snapshots unless kept.
fn dismiss_side(sim: &mut Simulation, at: GroupRef, volume: VolumeId, keep_snapshots: bool) {
    let group = sim.group_mut(at);
    let Some(position) = group.volumes.iter().position(|v| v.local == volume) else { return };
    let entry = group.volumes.remove(position);
    sim.arrays[at.array.0 as usize].remote_copy.volume_groups.remove(&volume);
    if !keep_snapshots {
        for snapshot in [entry.resync_snapshot, entry.pre_sync_snapshot].into_iter().flatten() {
            sync_cycle::drop_internal_snapshot(sim, at.array, snapshot);
        }
    }
}
