//! Volume-set snapshots: one creation instant for every member (domain spec §7.1 invariant 5).

use simulator::{ErrorCode as E, SetSnapshotSpec, VolumeKind};

use crate::support::{self, assert_refused, pattern, thin, volume_set};

// Goal: every copy of a set snapshot equals its member's content at the call, shares one
// creation instant, takes consecutive ids in member order and the `@count@` names.
// Method: write distinct data to each member, snapshot, keep writing; compare each copy with the
// member content captured just before the call.
#[test]
fn set_snapshot_freezes_members_at_one_instant() {
    let (mut sim, a) = support::world();
    let members = ["db1", "db2", "log1"];
    for (i, name) in members.iter().enumerate() {
        thin(&mut sim, a, name);
        sim.write(a, name, 1000 * i as u64, &pattern(i as u8, 30_000)).unwrap();
    }
    volume_set(&mut sim, a, "set", &members);
    let frozen: Vec<Vec<u8>> = members.iter().map(|m| sim.read(a, m, 0, 70_000).unwrap()).collect();
    let spec = SetSnapshotSpec {
        pattern: "snap-@count@".into(),
        read_only: true,
        id: Some(100),
        ..SetSnapshotSpec::default()
    };
    let ids = sim.array_mut(a).snapshot_volume_set("set", spec).unwrap();
    for name in members {
        sim.write(a, name, 0, &pattern(9, 70_000)).unwrap();
    }

    let array = sim.array(a);
    let mut instants = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let copy = array.volume(&format!("snap-{i}")).unwrap();
        assert_eq!(copy.id.0, 100 + i as u32);
        assert_eq!(copy.id, ids[i]);
        let member_id = array.volume(member).unwrap().id;
        assert_eq!(copy.kind, VolumeKind::VirtualCopy { parent: member_id, base: member_id });
        assert!(copy.read_only);
        instants.push(copy.created_at);
        assert_eq!(sim.read(a, &copy.name, 0, 70_000).unwrap(), frozen[i], "{member}");
    }
    assert!(instants.windows(2).all(|w| w[0] == w[1]));
}

// Goal: `@vvname@` names copies after members, and a refused set snapshot (one member over its
// limit) creates no copy of any member.
#[test]
fn set_snapshot_is_all_or_nothing() {
    let mut config = support::primary_config();
    config.limits.copies_per_base = 1;
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "v1");
    thin(&mut sim, a, "v2");
    volume_set(&mut sim, a, "set", &["v1", "v2"]);
    support::ro_copy(&mut sim, a, "v2", "v2.old");
    let spec = SetSnapshotSpec { pattern: "@vvname@.new".into(), read_only: true, ..SetSnapshotSpec::default() };
    assert_refused(&mut sim, "v2 at its limit", E::SNAPSHOT_LIMIT_REACHED, |s| {
        s.array_mut(a).snapshot_volume_set("set", spec.clone())
    });
    assert!(!sim.array(a).has_volume("v1.new"));
    sim.array_mut(a).delete_volume("v2.old").unwrap();
    sim.array_mut(a).snapshot_volume_set("set", spec).unwrap();
    assert!(sim.array(a).has_volume("v1.new"));
    assert!(sim.array(a).has_volume("v2.new"));
}
