//! The model's own promises, as functions over a [`Simulation`] returning every violation.
//!
//! Each function checks one invariant of `spec/domain.md` §7 (or, for [`one_volume_per_host_lun`],
//! of the WSAPI's export rules) that can be judged from the state alone (no history): the
//! harness calls them after every step, together with the recovery engine's invariants, and the
//! property tests call them after every operation.
//! Invariants that need history (RPO 0 of acknowledged writes, "no acknowledged write lost")
//! are checked by the tests' reference models, which know what was acknowledged.
//!
//! Design choice: plain functions returning `Vec<Violation>` rather than assertions, so a
//! campaign can report every broken invariant with context and keep going or shrink.
//! The cost: content comparisons walk the page maps (diffs skip shared subtrees, so the cost
//! follows how much the compared images differ).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::array::Array;
use crate::ids::{ArrayId, CpgId, VolumeId};
use crate::remote_copy::link::{HEARTBEAT_TIMEOUT_PERIODIC, HEARTBEAT_TIMEOUT_SYNC};
use crate::remote_copy::{GroupRef, GroupState, Mode, RcGroup, SyncStatus};
use crate::simulation::Simulation;
use crate::volume::{CpgRole, VolumeKind, check_cpg_domain};

/// One broken invariant, with the objects involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name (the checking function's name).
    pub invariant: &'static str,
    /// The spec item (e.g. `7.4/20`).
    pub spec: &'static str,
    /// What is wrong, naming arrays, groups and volumes.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (spec {}): {}", self.invariant, self.spec, self.detail)
    }
}

/// An invariant check.
pub type Check = fn(&Simulation) -> Vec<Violation>;

/// Every check of this module, by name.
pub const ALL: &[(&str, Check)] = &[
    ("copy_tree_shape", copy_tree_shape),
    ("retention_within_expiration", retention_within_expiration),
    ("snapshot_space_accounting", snapshot_space_accounting),
    ("rc_membership", rc_membership),
    ("rc_single_writer", rc_single_writer),
    ("rc_concurrent_syncs", rc_concurrent_syncs),
    ("rc_link_detection", rc_link_detection),
    ("rc_periodic_images", rc_periodic_images),
    ("rc_resync_guard", rc_resync_guard),
    ("one_volume_per_host_lun", one_volume_per_host_lun),
    ("volume_domain_is_user_cpg_domain", volume_domain_is_user_cpg_domain),
];

/// Runs every check.
pub fn check_all(sim: &Simulation) -> Vec<Violation> {
    ALL.iter().flat_map(|(_, check)| check(sim)).collect()
}

fn violation(invariant: &'static str, spec: &'static str, detail: String) -> Violation {
    Violation { invariant, spec, detail }
}

/// §7.1/2: copies alternate (no read-only copy of a read-only volume), bases are read-write,
/// per-base and per-parent limits hold, and the family bookkeeping matches the volumes.
pub fn copy_tree_shape(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for array in sim.arrays() {
        let limits = &array.config().limits;
        let mut family: BTreeMap<VolumeId, u32> = BTreeMap::new();
        for volume in array.volumes() {
            match volume.kind {
                VolumeKind::VirtualCopy { parent, base } => {
                    *family.entry(base).or_insert(0) += 1;
                    let Some(parent_volume) = array.volume_by_id(parent) else {
                        found.push(violation(
                            "copy_tree_shape",
                            "7.1/2",
                            format!("{}: copy {} has no parent", array.name(), volume.name),
                        ));
                        continue;
                    };
                    if parent_volume.read_only && volume.read_only {
                        found.push(violation(
                            "copy_tree_shape",
                            "7.1/2",
                            format!(
                                "{}: read-only copy {} of read-only {}",
                                array.name(),
                                volume.name,
                                parent_volume.name
                            ),
                        ));
                    }
                    if !parent_volume.children().contains(&volume.id) {
                        found.push(violation(
                            "copy_tree_shape",
                            "7.1/2",
                            format!("{}: {} missing from its parent's children", array.name(), volume.name),
                        ));
                    }
                }
                VolumeKind::Base | VolumeKind::PhysicalCopy { .. } => {
                    if volume.read_only {
                        found.push(violation(
                            "copy_tree_shape",
                            "7.1/2",
                            format!("{}: base volume {} is read-only", array.name(), volume.name),
                        ));
                    }
                }
            }
            if volume.read_only {
                let rw =
                    volume.children().iter().filter(|c| array.volume_by_id(**c).is_some_and(|c| !c.read_only)).count()
                        as u32;
                if rw > limits.rw_copies_per_ro_parent {
                    found.push(violation(
                        "copy_tree_shape",
                        "7.1/2",
                        format!("{}: {} has {rw} read-write copies", array.name(), volume.name),
                    ));
                }
            }
        }
        for volume in array.volumes().filter(|v| !v.is_virtual_copy()) {
            let actual = family.get(&volume.id).copied().unwrap_or(0);
            if actual != volume.family_copies() || actual > limits.copies_per_base {
                found.push(violation(
                    "copy_tree_shape",
                    "7.1/2",
                    format!(
                        "{}: {} has {actual} copies, records {}, limit {}",
                        array.name(),
                        volume.name,
                        volume.family_copies(),
                        limits.copies_per_base
                    ),
                ));
            }
        }
    }
    found
}

/// §7.1/3: retention never outlasts expiration.
pub fn retention_within_expiration(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for array in sim.arrays() {
        for volume in array.volumes() {
            if let (Some(retained), Some(expires)) = (volume.retained_until, volume.expires_at)
                && retained > expires
            {
                found.push(violation(
                    "retention_within_expiration",
                    "7.1/3",
                    format!("{}: {} retained past its expiration", array.name(), volume.name),
                ));
            }
        }
    }
    found
}

/// §7.1/8, the part the state shows: a stale volume is a virtual copy whose data was discarded
/// (it holds no page, so nothing can read its old bytes), and every tree's kept snapshot-space
/// count (kept while a limit applies, see `snapshot_space`) equals a count made now by a scan,
/// the index of base volumes (`Array::base_volumes`) lists exactly the non-copies, and the
/// index of them by CPG (`Array::cpg_base_volumes`) lists under each CPG exactly the non-copies
/// whose user or snapshot CPG it is;
/// a kept count that drifted would let a write past a limit or refuse one within it. That a
/// failure made the copies stale (`stale_ss`) or failed the write and changed nothing
/// (`no_stale_ss`) needs history: `snapshot_space::snapshot_space_failures_follow_the_policy`
/// checks it against a reference model.
pub fn snapshot_space_accounting(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for array in sim.arrays() {
        // The array's fully provisioned total goes over the index of base volumes: it must
        // list exactly the volumes that are not virtual copies.
        let listed: Vec<VolumeId> = array.base_volumes().map(|v| v.id).collect();
        let scanned: Vec<VolumeId> = array.volumes().filter(|v| !v.is_virtual_copy()).map(|v| v.id).collect();
        if listed != scanned {
            found.push(violation(
                "snapshot_space_accounting",
                "7.1/8",
                format!("{}: the base volume index lists {listed:?}, the volumes are {scanned:?}", array.name()),
            ));
        }
        // And one CPG's count goes over its entry in the index by CPG: a volume missing there
        // would not be counted, one listed under a CPG it left would be counted twice.
        let scanned = base_volumes_by_cpg_scanned(array);
        let listed = &array.cpg_volume_ids.0;
        let cpgs: BTreeSet<CpgId> = scanned.keys().chain(listed.keys()).copied().collect();
        for cpg in cpgs {
            let scanned: Vec<VolumeId> = scanned.get(&cpg).into_iter().flatten().copied().collect();
            let listed: Vec<VolumeId> = listed.get(&cpg).into_iter().flatten().copied().collect();
            if listed != scanned {
                found.push(violation(
                    "snapshot_space_accounting",
                    "7.1/8",
                    format!(
                        "{}: the index of volumes by CPG lists {listed:?} under CPG #{}, a scan finds {scanned:?}",
                        array.name(),
                        cpg.0
                    ),
                ));
            }
        }
        for volume in array.volumes() {
            if volume.is_stale() && (!volume.is_virtual_copy() || volume.pages().page_count() != 0) {
                found.push(violation(
                    "snapshot_space_accounting",
                    "7.1/8",
                    format!(
                        "{}: stale volume {} is not a virtual copy without data ({} pages)",
                        array.name(),
                        volume.name,
                        volume.pages().page_count()
                    ),
                ));
            }
            if volume.is_virtual_copy() {
                continue;
            }
            if let Some(kept) = array.kept_snapshot_pages(volume.id) {
                let counted = array.snapshot_space_pages(volume.id);
                if kept != counted {
                    found.push(violation(
                        "snapshot_space_accounting",
                        "7.1/8",
                        format!(
                            "{}: the tree of {} keeps {kept} snapshot pages, a scan counts {counted}",
                            array.name(),
                            volume.name
                        ),
                    ));
                }
            }
        }
    }
    found
}

/// For each CPG, the volumes that are not virtual copies and have it as their user or snapshot
/// CPG, in id order, found by a scan of every volume (what `Array::cpg_base_volumes` indexes).
fn base_volumes_by_cpg_scanned(array: &Array) -> BTreeMap<CpgId, BTreeSet<VolumeId>> {
    let mut by_cpg: BTreeMap<CpgId, BTreeSet<VolumeId>> = BTreeMap::new();
    for volume in array.volumes().filter(|v| !v.is_virtual_copy()) {
        for cpg in [volume.user_cpg(), volume.snap_cpg()].into_iter().flatten() {
            by_cpg.entry(cpg).or_default().insert(volume.id);
        }
    }
    by_cpg
}

/// WSAPI §8.4 (not a §7 item): a host sees at most one volume at each LUN, whether through its
/// own exports or its host sets' (a volume-set export showing a LUN per member). Creating an
/// export, growing an exported volume set and a host joining an exported host set are refused
/// with `EXISTENT_LUN` where they would break it.
pub fn one_volume_per_host_lun(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for array in sim.arrays() {
        for host in array.hosts() {
            let mut ranges = Vec::new();
            array.scanned_luns_of_host(host.id, &mut ranges);
            ranges.sort_unstable();
            let mut reached: Option<u32> = None;
            for (first, last) in ranges {
                if reached.is_some_and(|end| first <= end) {
                    found.push(violation(
                        "one_volume_per_host_lun",
                        "wsapi 8.4",
                        format!("{}: host {} sees two volumes at LUN {first}", array.name(), host.name),
                    ));
                    break;
                }
                reached = Some(reached.map_or(last, |end| end.max(last)));
            }
        }
    }
    found
}

/// WSAPI §5.1 (not a §7 item): a volume's domain is its user CPG's, and every volume has a user
/// CPG that exists. Creating a volume takes the user CPG's domain, a virtual copy its parent's
/// user CPG and domain, and a modify or tune refuses a CPG in another domain with
/// `CPG_NOT_IN_SAME_DOMAIN`; set membership and exports are checked against `domain` alone,
/// so a volume whose domain drifted from its CPG's would pass checks it should fail.
pub fn volume_domain_is_user_cpg_domain(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for array in sim.arrays() {
        for volume in array.volumes() {
            let cpg = volume.user_cpg().and_then(|id| array.cpg_by_id(id));
            let detail = match cpg.map(|cpg| check_cpg_domain(CpgRole::User, cpg, volume.domain.as_deref())) {
                None => format!("{}: volume {} has no user CPG", array.name(), volume.name),
                Some(Err(error)) => format!("{}: volume {}: {}", array.name(), volume.name, error.message),
                Some(Ok(())) => continue,
            };
            found.push(violation("volume_domain_is_user_cpg_domain", "wsapi 5.1", detail));
        }
    }
    found
}

fn groups(sim: &Simulation) -> impl Iterator<Item = (ArrayId, &RcGroup)> {
    sim.arrays().flat_map(|a| a.remote_copy().groups().map(move |g| (a.id(), g)))
}

fn partner<'a>(sim: &'a Simulation, group: &RcGroup) -> Option<&'a RcGroup> {
    sim.array(group.peer).remote_copy().group(&group.partner).ok()
}

/// Whether configuration changes of `group` (on `array`) and of its partner reach each other:
/// `mirror_config` on at both ends (a target that is gone counts as on).
fn mirrored(sim: &Simulation, array: ArrayId, group: &RcGroup, partner: &RcGroup) -> bool {
    let on = |at: ArrayId, target: &str| sim.array(at).remote_copy().target(target).is_none_or(|t| t.mirror_config);
    on(array, &group.target) && on(group.peer, &partner.target)
}

/// §7.2/9: a volume belongs to one group; partner entries point at each other (while
/// `mirror_config` is on at both ends); sizes match.
pub fn rc_membership(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for (array_id, group) in groups(sim) {
        let array = sim.array(array_id);
        for entry in &group.volumes {
            match array.remote_copy().group_of_volume(entry.local) {
                Some(name) if name == group.name => {}
                other => found.push(violation(
                    "rc_membership",
                    "7.2/9",
                    format!("{}: volume {} of {} indexed as {other:?}", array.name(), entry.local, group.name),
                )),
            }
            let Some(partner) = partner(sim, group) else { continue };
            if !mirrored(sim, array_id, group, partner) {
                // With `mirror_config` off on either side, each side's configuration changes stay
                // on that side (the DR clean-up procedure): the pair may disagree by design.
                continue;
            }
            let Some(back) = partner.volume(entry.remote) else {
                found.push(violation(
                    "rc_membership",
                    "7.2/9",
                    format!("{}: {} lists {} but the partner does not", array.name(), group.name, entry.remote_name),
                ));
                continue;
            };
            if back.remote != entry.local {
                found.push(violation(
                    "rc_membership",
                    "7.2/9",
                    format!("{}: {} and its partner disagree on a pair", array.name(), group.name),
                ));
            }
            let (Some(local), Some(remote)) =
                (array.volume_by_id(entry.local), sim.array(group.peer).volume_by_id(entry.remote))
            else {
                found.push(violation(
                    "rc_membership",
                    "7.2/9",
                    format!("{}: a volume of {} is missing", array.name(), group.name),
                ));
                continue;
            };
            if local.size_mib != remote.size_mib {
                found.push(violation(
                    "rc_membership",
                    "7.2/9",
                    format!("{} is {} MiB but its partner {} MiB", local.name, local.size_mib, remote.size_mib),
                ));
            }
        }
    }
    found
}

/// §7.2/10–11: both sides of a group are never writable sources while both are started
/// (a failover leaves both sides sources, but stopped, until recover).
pub fn rc_single_writer(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for (array_id, group) in groups(sim) {
        let Some(partner) = partner(sim, group) else { continue };
        if group.role.is_source()
            && partner.role.is_source()
            && group.state == GroupState::Started
            && partner.state == GroupState::Started
        {
            found.push(violation(
                "rc_single_writer",
                "7.2/11",
                format!("{}: {} and {} are both started sources", sim.array(array_id).name(), group.name, partner.name),
            ));
        }
    }
    found
}

/// §7.2/12: at most [`crate::Limits::concurrent_syncs`] volumes per array are `Syncing`.
pub fn rc_concurrent_syncs(sim: &Simulation) -> Vec<Violation> {
    sim.arrays()
        .filter_map(|array| {
            let syncing = array
                .remote_copy()
                .groups()
                .flat_map(|g| &g.volumes)
                .filter(|v| v.status == SyncStatus::Syncing)
                .count();
            let limit = array.config().limits.concurrent_syncs as usize;
            (syncing > limit).then(|| {
                violation(
                    "rc_concurrent_syncs",
                    "7.2/12",
                    format!("{}: {syncing} volumes syncing (limit {limit})", array.name()),
                )
            })
        })
        .collect()
}

/// §7.2/13: links broken for longer than the heartbeat timeout are declared down.
pub fn rc_link_detection(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for pair in sim.rc_pairs() {
        let Some(since) = pair.broken_since else { continue };
        let sync = [pair.a, pair.b].iter().any(|x| {
            sim.array(*x).remote_copy().groups().any(|g| g.peer == pair.other(*x) && g.mode == Mode::Synchronous)
        });
        let timeout = if sync { HEARTBEAT_TIMEOUT_SYNC } else { HEARTBEAT_TIMEOUT_PERIODIC };
        if !pair.usable && pair.declared_up && sim.now() > since + timeout {
            found.push(violation(
                "rc_link_detection",
                "7.2/13",
                format!("links {}-{} broken since {since} still declared up", pair.a, pair.b),
            ));
        }
    }
    found
}

/// The source and destination of a group whose two views agree on the direction, with both
/// arrays up and no restore switching roles.
fn agreed(sim: &Simulation) -> Vec<(GroupRef, GroupRef)> {
    let mut pairs = Vec::new();
    for (array_id, group) in groups(sim) {
        let Some(partner) = partner(sim, group) else { continue };
        if group.role.is_source()
            && !partner.role.is_source()
            && sim.array(array_id).is_online()
            && sim.array(group.peer).is_online()
        {
            pairs.push((
                GroupRef { array: array_id, group: group.id },
                GroupRef { array: group.peer, group: partner.id },
            ));
        }
    }
    pairs
}

/// §7.4/20, 21, 25, 26: in periodic groups the destination always holds a completed sync point:
/// while idle its base equals the source's resync snapshot (after success, or after a failed
/// sync rolled it back), each source volume has at most one resync snapshot and the destination
/// no pre-sync snapshot; while a sync runs, the pre-sync snapshot equals the previous sync point.
/// A resync snapshot made stale by a snapshot-space failure (§7.1/8) holds no image, so the two
/// image comparisons skip it (the Remote Copy property test's oracle still checks the
/// destination's content against the last sync point).
pub fn rc_periodic_images(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for (source, dest) in agreed(sim) {
        let (sg, dg) = (
            sim.array(source.array).remote_copy().group_by_id(source.group),
            sim.array(dest.array).remote_copy().group_by_id(dest.group),
        );
        let (Some(sg), Some(dg)) = (sg, dg) else { continue };
        if sg.mode != Mode::Periodic {
            continue;
        }
        let (sa, da) = (sim.array(source.array), sim.array(dest.array));
        for entry in &sg.volumes {
            let Some(dest_entry) = dg.volume(entry.remote) else { continue };
            let resync = entry.resync_snapshot.and_then(|s| sa.volume_by_id(s));
            let (Some(base), Some(resync)) = (da.volume_by_id(entry.remote), resync) else { continue };
            let name = &base.name;
            // A resync snapshot that a snapshot-space failure made stale (spec 7.1/8) holds no
            // image to compare with; the next sync sends every page instead of the difference.
            let image = (!resync.is_stale()).then(|| resync.pages());
            if !sg.is_syncing() {
                if matches!(dest_entry.status, SyncStatus::Synced | SyncStatus::Stale | SyncStatus::Stopped)
                    && image.is_some_and(|image| !base.pages().same_content(image))
                {
                    found.push(violation(
                        "rc_periodic_images",
                        "7.4/20",
                        format!("{}: {name} differs from the last sync point", da.name()),
                    ));
                }
                if dest_entry.pre_sync_snapshot.is_some() {
                    found.push(violation(
                        "rc_periodic_images",
                        "7.4/26",
                        format!("{}: {name} keeps a pre-sync snapshot after the sync", da.name()),
                    ));
                }
                let family =
                    sa.volumes().filter(|v| v.name.starts_with("rcpy.") && v.copy_of() == Some(entry.local)).count();
                if family > 1 {
                    found.push(violation(
                        "rc_periodic_images",
                        "7.4/26",
                        format!("{}: {family} resync snapshots of one volume", sa.name()),
                    ));
                }
            } else if !sim.running_recover(sg)
                && let Some(pre) = dest_entry.pre_sync_snapshot.and_then(|s| da.volume_by_id(s))
                && let Some(image) = image
                && !pre.pages().same_content(image)
            {
                found.push(violation(
                    "rc_periodic_images",
                    "7.4/21",
                    format!("{}: the pre-sync snapshot of {name} is not the last sync point", da.name()),
                ));
            }
        }
    }
    found
}

/// §7.3/18: while a synchronous resync runs, every destination volume that had a consistent
/// image keeps it in a pre-sync snapshot.
pub fn rc_resync_guard(sim: &Simulation) -> Vec<Violation> {
    let mut found = Vec::new();
    for (source, dest) in agreed(sim) {
        let sg = sim.array(source.array).remote_copy().group_by_id(source.group);
        let dg = sim.array(dest.array).remote_copy().group_by_id(dest.group);
        let (Some(sg), Some(dg)) = (sg, dg) else { continue };
        if sg.mode != Mode::Synchronous || !sg.is_syncing() {
            continue;
        }
        for entry in &dg.volumes {
            if entry.status == SyncStatus::Syncing && entry.sync_point.is_some() && entry.pre_sync_snapshot.is_none() {
                found.push(violation(
                    "rc_resync_guard",
                    "7.3/18",
                    format!(
                        "{}: volume {} resyncs without a guard snapshot",
                        sim.array(dest.array).name(),
                        entry.remote_name
                    ),
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{one_volume_per_host_lun, snapshot_space_accounting, volume_domain_is_user_cpg_domain};
    use crate::ids::{CpgId, VolumeId};
    use crate::vlun::{Vlun, VlunTarget, VlunVolume};
    use crate::{CpgSpec, HostSpec, SetSpec, Simulation, SnapshotSpec, VlunSpec, VolumeChanges, VolumeSpec};

    /// The public API keeps every volume in its user CPG's domain (it refuses a CPG change
    /// across domains), so the broken states are made behind the checks: a volume moved to
    /// another domain, and one whose user CPG is gone. The invariant must name each volume;
    /// before that, volumes and a virtual copy in a domain and outside one must pass.
    #[test]
    fn a_volume_outside_its_user_cpgs_domain_is_reported() {
        let mut sim = Simulation::builder().build().unwrap();
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        array.create_cpg(CpgSpec { name: "plain".into(), ..CpgSpec::default() }).unwrap();
        let in_domain = CpgSpec { name: "dom".into(), domain: Some("UNIT_TEST_DOMAIN".into()), ..CpgSpec::default() };
        array.create_cpg(in_domain).unwrap();
        for (name, cpg) in [("v", "plain"), ("d", "dom"), ("gone", "plain")] {
            array.create_volume(VolumeSpec { snap_cpg: Some(cpg.into()), ..VolumeSpec::thin(name, cpg, 16) }).unwrap();
        }
        array.create_snapshot("d", SnapshotSpec::read_only("d.ro")).unwrap();
        assert_eq!(volume_domain_is_user_cpg_domain(&sim), []);
        let array = sim.array_mut(a);
        let (v, gone) = (array.volume("v").unwrap().id, array.volume("gone").unwrap().id);
        array.array.vol_mut(v).domain = Some("UNIT_TEST_DOMAIN".into());
        let snap_cpg = array.array.vol(gone).snap_cpg();
        array.array.set_volume_cpgs(gone, Some(CpgId(u32::MAX)), snap_cpg);
        let found: Vec<String> = volume_domain_is_user_cpg_domain(&sim).into_iter().map(|v| v.detail).collect();
        assert_eq!(
            found,
            [
                "SIM-A: volume v: user CPG 'plain' is in no domain, the volume in domain 'UNIT_TEST_DOMAIN'",
                "SIM-A: volume gone has no user CPG",
            ],
        );
    }

    /// The public API keeps the index of volumes by CPG, so the broken states are made behind
    /// it: a volume listed under a CPG it does not use and missing from the one it uses (a
    /// change of its snapshot CPG the index missed), and a deleted volume left listed. The
    /// invariant must name each CPG with both lists; before that, volumes, a copy, a modify and
    /// a delete must pass.
    #[test]
    fn an_index_of_volumes_by_cpg_that_disagrees_with_the_volumes_is_reported() {
        let mut sim = Simulation::builder().build().unwrap();
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        for cpg in ["one", "two"] {
            array.create_cpg(CpgSpec { name: cpg.into(), ..CpgSpec::default() }).unwrap();
        }
        for name in ["v", "w", "gone"] {
            array.create_volume(VolumeSpec::thin(name, "one", 16)).unwrap();
        }
        array.create_snapshot("v", SnapshotSpec::read_only("v.ro")).unwrap();
        array.modify_volume("w", VolumeChanges { snap_cpg: Some("two".into()), ..VolumeChanges::default() }).unwrap();
        array.delete_volume("gone").unwrap();
        assert_eq!(snapshot_space_accounting(&sim), []);
        let array = sim.array_mut(a);
        let (one, two) = (array.cpg("one").unwrap().id, array.cpg("two").unwrap().id);
        let (v, w) = (array.volume("v").unwrap().id, array.volume("w").unwrap().id);
        array.array.cpg_volume_ids.remove(w, [Some(two), None]);
        array.array.cpg_volume_ids.insert(v, [Some(two), None]);
        array.array.cpg_volume_ids.insert(VolumeId(99), [Some(one), None]);
        let found: Vec<String> = snapshot_space_accounting(&sim).into_iter().map(|v| v.detail).collect();
        assert_eq!(
            found,
            [
                format!(
                    "SIM-A: the index of volumes by CPG lists [{v:?}, {w:?}, VolumeId(99)] under CPG #{}, a scan finds [{v:?}, {w:?}]",
                    one.0
                ),
                format!("SIM-A: the index of volumes by CPG lists [{v:?}] under CPG #{}, a scan finds [{w:?}]", two.0),
            ],
        );
    }

    /// The public API refuses every way to a LUN seen twice, so the broken state is made by
    /// adding a template behind the checks: the invariant must name the host and the LUN.
    #[test]
    fn a_host_seeing_two_volumes_at_one_lun_is_reported() {
        let mut sim = Simulation::builder().build().unwrap();
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        array.create_cpg(CpgSpec { name: "cpg".into(), ..CpgSpec::default() }).unwrap();
        for name in ["m0", "m1", "v"] {
            array.create_volume(VolumeSpec::thin(name, "cpg", 16)).unwrap();
        }
        let members = vec!["m0".into(), "m1".into()];
        array.create_volume_set(SetSpec { name: "set".into(), members, ..SetSpec::default() }).unwrap();
        let host = HostSpec { name: "h".into(), iscsi_names: vec!["iqn.2026-01.sim:h".into()], ..HostSpec::default() };
        array.create_host(host).unwrap();
        let export =
            |volume: &str, lun| VlunSpec { volume: volume.into(), lun, host: Some("h".into()), ..VlunSpec::default() };
        array.create_vlun(export("set:set", 3)).unwrap();
        array.create_vlun(export("v", 5)).unwrap();
        assert!(one_volume_per_host_lun(&sim).is_empty());
        let array = sim.array_mut(a);
        let (v, h) = (array.volume("v").unwrap().id, array.host("h").unwrap().id);
        // LUN 4 shows m1; a second template puts v there too.
        array.array.vluns.insert(
            u64::MAX,
            Vlun { volume: VlunVolume::Volume(v), lun: 4, target: VlunTarget::Host(h), no_vcn: false },
        );
        let found = one_volume_per_host_lun(&sim);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.ends_with("host h sees two volumes at LUN 4"), "{}", found[0].detail);
    }
}
