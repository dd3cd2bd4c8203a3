//! Virtual-copy tree shape, limits, delete, promote and refresh rules (domain spec §2, §7.1).

use simulator::{ErrorCode as E, PromoteOptions, SnapshotSpec, VolumeChanges, VolumeKind, VolumeSpec};

use crate::support::{
    self, CPG, assert_refused, export, host, pattern, primary_config, ro_copy, rw_copy, thin, volume_set,
};

// Goal: copies alternate read-only/read-write below a read-only copy, and a copy records its
// parent (copy-of) and its tree's base.
// Method: build base → ro → rw → ro → rw and try a read-only copy of each read-only node.
#[test]
fn copies_alternate_below_read_only_copies() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    ro_copy(&mut sim, a, "base", "ro1");
    rw_copy(&mut sim, a, "ro1", "rw1");
    ro_copy(&mut sim, a, "rw1", "ro2");
    rw_copy(&mut sim, a, "ro2", "rw2");
    // The model allows read-write copies of read-write volumes (the WSAPI default `readOnly:false`
    // on a base); 3PAR keeps a hidden read-only parent for those.
    rw_copy(&mut sim, a, "base", "rw_of_base");
    rw_copy(&mut sim, a, "rw1", "rw_of_rw");
    for ro in ["ro1", "ro2"] {
        assert_refused(&mut sim, ro, E::INV_OPERATION_VV_READONLY_TO_READONLY_SNAP, |s| {
            s.array_mut(a).create_snapshot(ro, SnapshotSpec::read_only("x"))
        });
    }
    let array = sim.array(a);
    let base = array.volume("base").unwrap().id;
    for (name, parent) in [("ro1", "base"), ("rw1", "ro1"), ("ro2", "rw1"), ("rw2", "ro2")] {
        let volume = array.volume(name).unwrap();
        let parent = array.volume(parent).unwrap();
        assert_eq!(volume.kind, VolumeKind::VirtualCopy { parent: parent.id, base });
        assert_eq!(volume.read_only, !parent.read_only, "{name}");
        assert!(parent.children().contains(&volume.id));
    }
    assert_eq!(array.volume("base").unwrap().family_copies(), 6);
}

// Goal: the per-base copy limit counts every copy in the tree, is configurable, and frees a slot
// when a copy is deleted.
#[test]
fn per_base_limit_counts_the_whole_tree() {
    let mut config = primary_config();
    config.limits.copies_per_base = 3;
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "base");
    thin(&mut sim, a, "other");
    ro_copy(&mut sim, a, "base", "ro");
    rw_copy(&mut sim, a, "ro", "rw");
    ro_copy(&mut sim, a, "rw", "ro2");
    for (source, spec) in [("base", SnapshotSpec::read_only("x")), ("ro2", SnapshotSpec::read_write("x"))] {
        assert_refused(&mut sim, source, E::SNAPSHOT_LIMIT_REACHED, |s| s.array_mut(a).create_snapshot(source, spec));
    }
    // Another base has its own budget.
    ro_copy(&mut sim, a, "other", "other.ro");
    sim.array_mut(a).delete_volume("ro2").unwrap();
    ro_copy(&mut sim, a, "base", "ro3");
}

// Goal: a read-only copy takes at most 256 read-write copies by default (and the configured
// number otherwise); read-only siblings do not count against it.
#[test]
fn read_only_parent_takes_256_read_write_copies() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    ro_copy(&mut sim, a, "base", "ro");
    for i in 0..256 {
        rw_copy(&mut sim, a, "ro", &format!("rw{i}"));
    }
    assert_refused(&mut sim, "257th", E::SNAPSHOT_LIMIT_REACHED, |s| {
        s.array_mut(a).create_snapshot("ro", SnapshotSpec::read_write("rw256"))
    });
    sim.array_mut(a).delete_volume("rw0").unwrap();
    rw_copy(&mut sim, a, "ro", "rw256");

    let mut config = primary_config();
    config.limits.rw_copies_per_ro_parent = 2;
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "base");
    ro_copy(&mut sim, a, "base", "ro");
    rw_copy(&mut sim, a, "ro", "rw0");
    rw_copy(&mut sim, a, "ro", "rw1");
    assert_refused(&mut sim, "third", E::SNAPSHOT_LIMIT_REACHED, |s| {
        s.array_mut(a).create_snapshot("ro", SnapshotSpec::read_write("rw2"))
    });
}

// Goal: delete rules — children, retention, export and set membership each block a delete;
// once the blocker is gone the delete succeeds and unlinks the copy from its family.
#[test]
fn delete_rules() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    ro_copy(&mut sim, a, "base", "ro");
    let retained =
        SnapshotSpec { retention_hours: Some(2), expiration_hours: Some(4), ..SnapshotSpec::read_only("kept") };
    sim.array_mut(a).create_snapshot("base", retained).unwrap();
    rw_copy(&mut sim, a, "ro", "rw");
    host(&mut sim, a, "h");
    export(&mut sim, a, "rw", "h", 1);
    volume_set(&mut sim, a, "set", &["ro"]);

    assert_refused(&mut sim, "base has children", E::HAS_CHILD, |s| s.array_mut(a).delete_volume("base"));
    assert_refused(&mut sim, "ro has a child", E::HAS_CHILD, |s| s.array_mut(a).delete_volume("ro"));
    assert_refused(&mut sim, "rw exported", E::IN_USE, |s| s.array_mut(a).delete_volume("rw"));
    assert_refused(&mut sim, "kept retained", E::RETAINED, |s| s.array_mut(a).delete_volume("kept"));

    sim.array_mut(a).delete_vlun("rw", 1, Some("h"), None).unwrap();
    sim.array_mut(a).delete_volume("rw").unwrap();
    assert_refused(&mut sim, "ro in a set", E::IN_USE, |s| s.array_mut(a).delete_volume("ro"));
    sim.array_mut(a).delete_volume_set("set").unwrap();
    sim.array_mut(a).delete_volume("ro").unwrap();
    sim.advance(simulator::hours(2));
    sim.array_mut(a).delete_volume("kept").unwrap();
    let base = sim.array(a).volume("base").unwrap();
    assert!(base.children().is_empty());
    assert_eq!(base.family_copies(), 0);
    sim.array_mut(a).delete_volume("base").unwrap();
    assert_eq!(sim.array(a).volume_count(), 0);
}

// Goal: promote gives the base the copy's content, leaves the copy (and the copy's siblings)
// unchanged, and works from a copy of a copy and onto a read-write ancestor target.
#[test]
fn promote_restores_the_base_and_keeps_the_copy() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    let v1 = pattern(1, 40_000);
    sim.write(a, "base", 10_000, &v1).unwrap();
    ro_copy(&mut sim, a, "base", "ro");
    sim.write(a, "base", 5_000, &pattern(2, 60_000)).unwrap();
    rw_copy(&mut sim, a, "ro", "rw");
    let v3 = pattern(3, 20_000);
    sim.write(a, "rw", 30_000, &v3).unwrap();
    let read = |sim: &simulator::Simulation, name: &str| sim.read(a, name, 0, 100_000).unwrap();
    let (ro_before, rw_before) = (read(&sim, "ro"), read(&sim, "rw"));

    sim.array_mut(a).promote_snapshot("ro", PromoteOptions::default()).unwrap();
    assert_eq!(read(&sim, "base"), ro_before);
    assert_eq!(read(&sim, "ro"), ro_before);
    assert_eq!(read(&sim, "rw"), rw_before);

    sim.array_mut(a).promote_snapshot("rw", PromoteOptions::default()).unwrap();
    assert_eq!(read(&sim, "base"), rw_before);

    // A copy below a read-write copy promotes onto that copy when it is named as target.
    ro_copy(&mut sim, a, "rw", "rw.ro");
    sim.write(a, "rw", 0, &pattern(4, 100)).unwrap();
    let options = PromoteOptions { target: Some("rw".into()), ..PromoteOptions::default() };
    sim.array_mut(a).promote_snapshot("rw.ro", options).unwrap();
    assert_eq!(read(&sim, "rw"), rw_before);
    let task = sim.array(a).tasks().next().unwrap();
    assert_eq!(task.kind, simulator::TaskKind::PromoteVirtualCopy);
    assert_eq!(task.status, simulator::TaskStatus::Done);
}

// Goal: promote is refused while the copy or (unless online) its base is exported, and after the
// base grew; an online promote onto an exported base is allowed.
#[test]
fn promote_rules() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.write(a, "base", 0, b"old").unwrap();
    ro_copy(&mut sim, a, "base", "ro");
    sim.write(a, "base", 0, b"new").unwrap();
    host(&mut sim, a, "h");
    export(&mut sim, a, "ro", "h", 1);
    assert_refused(&mut sim, "copy exported", E::INV_OPERATION_VV_EXPORTED, |s| {
        s.array_mut(a).promote_snapshot("ro", PromoteOptions::default())
    });
    sim.array_mut(a).delete_vlun("ro", 1, Some("h"), None).unwrap();
    export(&mut sim, a, "base", "h", 2);
    assert_refused(&mut sim, "base exported", E::INV_OPERATION_PARENT_VV_EXPORTED, |s| {
        s.array_mut(a).promote_snapshot("ro", PromoteOptions::default())
    });
    let online = PromoteOptions { online: true, ..PromoteOptions::default() };
    sim.array_mut(a).promote_snapshot("ro", online).unwrap();
    assert_eq!(sim.host_read(a, "h", 2, 0, 3).unwrap(), b"old");

    sim.array_mut(a).delete_vlun("base", 2, Some("h"), None).unwrap();
    sim.array_mut(a).grow_volume("base", 1).unwrap();
    assert_refused(&mut sim, "base grew", E::INV_OPERATION_PARENT_SIZE_HAS_INCREASED, |s| {
        s.array_mut(a).promote_snapshot("ro", PromoteOptions::default())
    });
}

// Goal: refresh (updatevv) keeps name, id and WWN, takes the parent's content and size now, and
// with `-ro` refreshes a read-write copy's read-only parent from its own parent first.
#[test]
fn refresh_keeps_name_and_id() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.write(a, "base", 0, &pattern(1, 50_000)).unwrap();
    ro_copy(&mut sim, a, "base", "ro");
    rw_copy(&mut sim, a, "ro", "rw");
    sim.write(a, "rw", 100, b"rw data").unwrap();
    sim.write(a, "base", 1000, &pattern(2, 30_000)).unwrap();
    sim.array_mut(a).grow_volume("base", 256).unwrap();
    sim.advance(std::time::Duration::from_secs(60));
    let before = sim.array(a).volume("rw").unwrap().clone();

    // Plain refresh: rw takes ro's (unchanged) content, dropping its own writes.
    sim.array_mut(a).refresh_snapshot("rw", false).unwrap();
    let after = sim.array(a).volume("rw").unwrap();
    assert_eq!((after.id, &after.name, &after.wwn), (before.id, &before.name, &before.wwn));
    assert_eq!(after.created_at, sim.now());
    assert_eq!(sim.read(a, "rw", 0, 80_000).unwrap(), sim.read(a, "ro", 0, 80_000).unwrap());

    // With -ro: ro takes base's content and size now, then rw takes ro's.
    let ro_id = sim.array(a).volume("ro").unwrap().id;
    sim.array_mut(a).refresh_snapshot("rw", true).unwrap();
    let base_now = sim.read(a, "base", 0, 80_000).unwrap();
    assert_eq!(sim.read(a, "ro", 0, 80_000).unwrap(), base_now);
    assert_eq!(sim.read(a, "rw", 0, 80_000).unwrap(), base_now);
    assert_eq!(sim.array(a).volume("ro").unwrap().id, ro_id);
    assert_eq!(sim.array(a).volume("ro").unwrap().size_mib, 512);
    assert_eq!(sim.array(a).volume("rw").unwrap().size_mib, 512);
}

// Goal: renaming a volume keeps its id, WWN, data, metadata and family links (WSAPI §5.5).
#[test]
fn rename_keeps_identity_and_links() {
    let (mut sim, a) = support::world();
    sim.array_mut(a).create_volume(VolumeSpec::thin("base", CPG, 256)).unwrap();
    sim.write(a, "base", 0, b"data").unwrap();
    sim.array_mut(a).create_metadata("base", "k", "v").unwrap();
    ro_copy(&mut sim, a, "base", "ro");
    let before = sim.array(a).volume("base").unwrap().clone();
    let changes = VolumeChanges { new_name: Some("renamed".into()), ..VolumeChanges::default() };
    sim.array_mut(a).modify_volume("base", changes).unwrap();
    let after = sim.array(a).volume("renamed").unwrap();
    assert_eq!((after.id, &after.wwn, &after.metadata), (before.id, &before.wwn, &before.metadata));
    assert!(!sim.array(a).has_volume("base"));
    assert_eq!(sim.array(a).volume("ro").unwrap().copy_of(), Some(after.id));
    assert_eq!(sim.read(a, "renamed", 0, 4).unwrap(), b"data");
}

// Goal: volume ids stay in 1..=65535: after an explicit id 65535 the next allocated id wraps to
// the lowest free one; a set snapshot with an explicit first id takes consecutive ids.
#[test]
fn volume_ids_wrap_within_sixteen_bits() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "first");
    let spec = VolumeSpec { id: Some(simulator::volume::MAX_VOLUME_ID), ..VolumeSpec::thin("last", CPG, 256) };
    sim.array_mut(a).create_volume(spec).unwrap();
    let next = sim.array_mut(a).create_snapshot("last", SnapshotSpec::read_only("last.ro")).unwrap();
    assert_eq!(next.0, 2);
    volume_set(&mut sim, a, "set", &["first", "last"]);
    let spec = simulator::SetSnapshotSpec { pattern: "@vvname@.s".into(), id: Some(10), ..Default::default() };
    let ids = sim.array_mut(a).snapshot_volume_set("set", spec).unwrap();
    assert_eq!(ids.iter().map(|id| id.0).collect::<Vec<_>>(), [10, 11]);
}

// Goal: after the id allocator wrapped, allocation continues next to the last id handed out
// (so it does not rescan the ids in use on every call: vc_create stays O(1) in copies present).
#[test]
fn id_allocation_continues_after_a_wrap() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "first");
    let spec = VolumeSpec { id: Some(simulator::volume::MAX_VOLUME_ID), ..VolumeSpec::thin("last", CPG, 256) };
    sim.array_mut(a).create_volume(spec).unwrap();
    let ids: Vec<u32> = (0..3)
        .map(|i| sim.array_mut(a).create_snapshot("last", SnapshotSpec::read_only(&format!("s{i}"))).unwrap().0)
        .collect();
    assert_eq!(ids, [2, 3, 4]);
    sim.array_mut(a).delete_volume("s0").unwrap();
    let next = sim.array_mut(a).create_snapshot("last", SnapshotSpec::read_only("s3")).unwrap();
    assert_eq!(next.0, 5, "the counter does not go back to the freed id 2");
}

// Goal: a completed offline physical copy holds its source's bytes, outlives its source (it then
// becomes a base volume), follows a re-copy from another source, and a kept tune clone of it
// is re-based too.
#[test]
fn physical_copies_outlive_their_source() {
    use simulator::{PhysicalCopySpec, Provisioning, TuneSpec, VolumeKind};
    let (mut sim, a) = support::world();
    for name in ["a", "b", "c", "dest"] {
        thin(&mut sim, a, name);
        sim.write(a, name, 0, name.as_bytes()).unwrap();
    }
    let offline = |destination: &str| PhysicalCopySpec {
        destination: destination.into(),
        online: false,
        destination_cpg: None,
        provisioning: Provisioning::Thin,
        compression: false,
        snap_cpg: None,
        priority: None,
    };
    let kind = |sim: &simulator::Simulation, name: &str| sim.array(a).volume(name).unwrap().kind;
    let id = |sim: &simulator::Simulation, name: &str| sim.array(a).volume(name).unwrap().id;
    sim.array_mut(a).copy_volume("a", offline("dest")).unwrap();
    assert_eq!(kind(&sim, "dest"), VolumeKind::PhysicalCopy { parent: id(&sim, "a") });
    assert_eq!(sim.read(a, "dest", 0, 1).unwrap(), b"a");
    sim.array_mut(a).copy_volume("b", offline("dest")).unwrap();
    assert_eq!(sim.read(a, "dest", 0, 1).unwrap(), b"b");
    let keep = TuneSpec { keep_volume: Some("dest.kept".into()), ..TuneSpec::default() };
    sim.array_mut(a).tune_volume("dest", keep).unwrap();
    assert_eq!(kind(&sim, "dest.kept"), VolumeKind::PhysicalCopy { parent: id(&sim, "b") });
    sim.array_mut(a).delete_volume("a").unwrap();
    assert_eq!(kind(&sim, "dest"), VolumeKind::PhysicalCopy { parent: id(&sim, "b") });
    sim.array_mut(a).delete_volume("b").unwrap();
    assert_eq!(kind(&sim, "dest"), VolumeKind::Base);
    assert_eq!(kind(&sim, "dest.kept"), VolumeKind::Base);
    assert_eq!(sim.read(a, "dest.kept", 0, 1).unwrap(), b"b");
    sim.array_mut(a).copy_volume("c", offline("dest")).unwrap();
    sim.array_mut(a).delete_volume("dest").unwrap();
    sim.array_mut(a).delete_volume("c").unwrap();
}
