//! Hosts and VLUNs: what a host sees through its LUNs (issue 2 item 7, WSAPI spec §8).

use simulator::{ErrorCode as E, HostSpec, SetSpec, VlunSpec};

use crate::support::{self, assert_refused, export, host, pattern, ro_copy, rw_copy, thin, volume_set};

// Goal: a copy exported to a host is readable through that export and returns the copy's
// frozen bytes (not the base's newer ones); a read-write copy is writable through its LUN.
#[test]
fn exported_copy_is_readable_through_its_lun() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    let frozen = pattern(1, 50_000);
    sim.write(a, "base", 7, &frozen).unwrap();
    ro_copy(&mut sim, a, "base", "ro");
    rw_copy(&mut sim, a, "ro", "rw");
    sim.write(a, "base", 0, &pattern(2, 60_000)).unwrap();
    host(&mut sim, a, "backup");
    export(&mut sim, a, "ro", "backup", 3);
    export(&mut sim, a, "rw", "backup", 4);
    assert_eq!(sim.host_read(a, "backup", 3, 7, 50_000).unwrap(), frozen);
    assert_refused(&mut sim, "write to ro", E::INV_OPERATION_VV_READ_ONLY, |s| s.host_write(a, "backup", 3, 0, b"x"));
    sim.host_write(a, "backup", 4, 16_380, b"crosses a page").unwrap();
    assert_eq!(sim.read(a, "rw", 16_380, 14).unwrap(), b"crosses a page");
    assert_eq!(sim.host_read(a, "backup", 3, 7, 50_000).unwrap(), frozen);
    assert!(sim.array(a).is_exported(sim.array(a).volume("ro").unwrap().id));
}

// Goal: a volume set exported at LUN n shows its members at LUNs n, n+1, ... in member order,
// and auto LUN skips a range wide enough for the whole set.
#[test]
fn volume_set_export_maps_members_to_consecutive_luns() {
    let (mut sim, a) = support::world();
    let members = ["m0", "m1", "m2"];
    for (i, name) in members.iter().enumerate() {
        thin(&mut sim, a, name);
        sim.write(a, name, 0, name.as_bytes()).unwrap();
        let _ = i;
    }
    volume_set(&mut sim, a, "set", &members);
    host(&mut sim, a, "h");
    export(&mut sim, a, "set:set", "h", 10);
    for (i, name) in members.iter().enumerate() {
        let lun = 10 + i as u32;
        assert_eq!(sim.array(a).resolve_lun("h", lun).unwrap(), sim.array(a).volume(name).unwrap().id);
        assert_eq!(sim.host_read(a, "h", lun, 0, 2).unwrap(), name.as_bytes());
    }
    assert_eq!(sim.host_read(a, "h", 13, 0, 1).unwrap_err().code, E::NON_EXISTENT_VLUN);
    thin(&mut sim, a, "solo");
    let auto =
        VlunSpec { volume: "solo".into(), lun: 9, auto_lun: true, host: Some("h".into()), ..VlunSpec::default() };
    assert_eq!(sim.array_mut(a).create_vlun(auto).unwrap(), 9);
    let auto =
        VlunSpec { volume: "set:set".into(), lun: 9, auto_lun: true, host: Some("h2".into()), ..VlunSpec::default() };
    host(&mut sim, a, "h2");
    assert_eq!(sim.array_mut(a).create_vlun(auto).unwrap(), 9);
    let auto =
        VlunSpec { volume: "solo".into(), lun: 0, auto_lun: true, host: Some("h2".into()), ..VlunSpec::default() };
    assert_eq!(sim.array_mut(a).create_vlun(auto).unwrap(), 0);
}

// Goal: an export to a host set is seen by every member host; deleting the export hides it.
#[test]
fn host_set_export_reaches_every_member() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "v");
    sim.write(a, "v", 0, b"shared").unwrap();
    host(&mut sim, a, "h1");
    let fc = HostSpec { name: "h2".into(), fc_wwns: vec!["10:00:00:00:c9:6f:7a:01".into()], ..HostSpec::default() };
    sim.array_mut(a).create_host(fc).unwrap();
    assert_eq!(sim.array(a).host("h2").unwrap().fc_wwns, ["10000000C96F7A01"]);
    let set = SetSpec { name: "cluster".into(), members: vec!["h1".into(), "h2".into()], ..SetSpec::default() };
    sim.array_mut(a).create_host_set(set).unwrap();
    export(&mut sim, a, "v", "set:cluster", 2);
    for h in ["h1", "h2"] {
        assert_eq!(sim.host_read(a, h, 2, 0, 6).unwrap(), b"shared");
    }
    sim.array_mut(a).delete_vlun("v", 2, Some("set:cluster"), None).unwrap();
    assert_eq!(sim.host_read(a, "h1", 2, 0, 6).unwrap_err().code, E::NON_EXISTENT_VLUN);
    sim.array_mut(a).delete_host_set("cluster").unwrap();
    sim.array_mut(a).delete_host("h2").unwrap();
}

// Goal: adding a member to an exported volume set gives it the next LUN of every export; when
// that LUN is already used for one of the export's hosts, the add is refused and changes nothing
// (otherwise a host would see two volumes at one LUN).
#[test]
fn growing_an_exported_set_needs_free_luns() {
    let (mut sim, a) = support::world();
    for name in ["m0", "m1", "m2", "solo"] {
        thin(&mut sim, a, name);
        sim.write(a, name, 0, name.as_bytes()).unwrap();
    }
    volume_set(&mut sim, a, "set", &["m0"]);
    host(&mut sim, a, "h");
    export(&mut sim, a, "set:set", "h", 10);
    export(&mut sim, a, "solo", "h", 12);
    let add = |name: &str| simulator::SetChanges { add: vec![name.into()], ..Default::default() };
    sim.array_mut(a).modify_volume_set("set", add("m1")).unwrap();
    assert_eq!(sim.host_read(a, "h", 11, 0, 2).unwrap(), b"m1");
    assert_refused(&mut sim, "LUN 12 is taken", E::EXISTENT_LUN, |s| {
        s.array_mut(a).modify_volume_set("set", add("m2"))
    });
    assert_eq!(sim.host_read(a, "h", 12, 0, 4).unwrap(), b"solo");
    sim.array_mut(a).delete_vlun("solo", 12, Some("h"), None).unwrap();
    sim.array_mut(a).modify_volume_set("set", add("m2")).unwrap();
    assert_eq!(sim.host_read(a, "h", 12, 0, 2).unwrap(), b"m2");
}

// Goal: a set whose export reaches the last LUN cannot grow: its new member would sit beyond it,
// so the add is refused with TOO_LARGE and the set keeps its members.
#[test]
fn growing_a_set_exported_at_the_last_lun_is_too_large() {
    let (mut sim, a) = support::world();
    for name in ["m0", "m1", "m2"] {
        thin(&mut sim, a, name);
    }
    volume_set(&mut sim, a, "set", &["m0"]);
    host(&mut sim, a, "h");
    export(&mut sim, a, "set:set", "h", 16_382);
    let add = |names: &[&str]| simulator::SetChanges {
        add: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    };
    sim.array_mut(a).modify_volume_set("set", add(&["m1"])).unwrap();
    assert_refused(&mut sim, "LUN 16,384 does not exist", E::TOO_LARGE, |s| {
        s.array_mut(a).modify_volume_set("set", add(&["m2"]))
    });
    assert_eq!(sim.array(a).resolve_lun("h", 16_383).unwrap(), sim.array(a).volume("m1").unwrap().id);
}

// Goal: a volume set exported to a port, or to a host set with no member yet, holds a LUN per
// member there too: another export into that range is refused, one just past it is not.
#[test]
fn a_set_export_holds_a_lun_per_member_on_a_port_and_on_an_empty_host_set() {
    let (mut sim, a) = support::world();
    for name in ["m0", "m1", "m2", "solo"] {
        thin(&mut sim, a, name);
    }
    volume_set(&mut sim, a, "set", &["m0", "m1", "m2"]);
    sim.array_mut(a).create_host_set(SetSpec { name: "empty".into(), ..SetSpec::default() }).unwrap();
    let on_port = |volume: &str, lun| VlunSpec {
        volume: volume.into(),
        lun,
        port: Some(simulator::PortPos::new(0, 1, 1)),
        ..VlunSpec::default()
    };
    let to_empty = |volume: &str, lun| VlunSpec {
        volume: volume.into(),
        lun,
        host: Some("set:empty".into()),
        ..VlunSpec::default()
    };
    let specs: [fn(&str, u32) -> VlunSpec; 2] = [on_port, to_empty];
    for spec in specs {
        sim.array_mut(a).create_vlun(spec("set:set", 10)).unwrap();
        assert_refused(&mut sim, "LUN 12 shows m2", E::EXISTENT_LUN, |s| s.array_mut(a).create_vlun(spec("solo", 12)));
        let auto = VlunSpec { auto_lun: true, ..spec("solo", 10) };
        assert_eq!(sim.array_mut(a).create_vlun(auto).unwrap(), 13);
    }
}

// Goal: a host sees what is exported to it through each port as well as directly, each at
// its own LUN, and nothing exported to a port alone; deleting a template names its target
// exactly (the same volume and LUN through another port is another template).
#[test]
fn exports_through_ports_resolve_and_delete_by_their_own_target() {
    let (mut sim, a) = support::world();
    for name in ["direct", "fc0", "fc1", "port_only"] {
        thin(&mut sim, a, name);
    }
    host(&mut sim, a, "h");
    let (fc0, fc1) = (simulator::PortPos::new(0, 1, 1), simulator::PortPos::new(1, 1, 1));
    let on = |volume: &str, lun, host: Option<&str>, port| VlunSpec {
        volume: volume.into(),
        lun,
        host: host.map(str::to_owned),
        port,
        ..VlunSpec::default()
    };
    export(&mut sim, a, "direct", "h", 7);
    sim.array_mut(a).create_vlun(on("fc0", 2, Some("h"), Some(fc0))).unwrap();
    sim.array_mut(a).create_vlun(on("fc1", 9, Some("h"), Some(fc1))).unwrap();
    sim.array_mut(a).create_vlun(on("port_only", 4, None, Some(fc0))).unwrap();
    let id = |s: &simulator::Simulation, name: &str| s.array(a).volume(name).unwrap().id;
    for (lun, name) in [(2, "fc0"), (7, "direct"), (9, "fc1")] {
        assert_eq!(sim.array(a).resolve_lun("h", lun).unwrap(), id(&sim, name), "LUN {lun}");
    }
    for lun in [0, 3, 4, 8, 10] {
        assert_eq!(sim.array(a).resolve_lun("h", lun).unwrap_err().code, E::NON_EXISTENT_VLUN, "LUN {lun}");
    }
    assert_refused(&mut sim, "fc0 at LUN 2 is through port 0:1:1", E::NON_EXISTENT_VLUN, |s| {
        s.array_mut(a).delete_vlun("fc0", 2, Some("h"), Some(fc1))
    });
    assert_refused(&mut sim, "fc0 at LUN 2 is not a direct export", E::NON_EXISTENT_VLUN, |s| {
        s.array_mut(a).delete_vlun("fc0", 2, Some("h"), None)
    });
    assert_refused(&mut sim, "LUN 2 through 0:1:1 shows fc0", E::NON_EXISTENT_VLUN, |s| {
        s.array_mut(a).delete_vlun("direct", 2, Some("h"), Some(fc0))
    });
    sim.array_mut(a).delete_vlun("fc0", 2, Some("h"), Some(fc0)).unwrap();
    sim.array_mut(a).delete_vlun("port_only", 4, None, Some(fc0)).unwrap();
    assert_eq!(sim.array(a).resolve_lun("h", 2).unwrap_err().code, E::NON_EXISTENT_VLUN);
    assert_eq!(sim.array(a).resolve_lun("h", 9).unwrap(), id(&sim, "fc1"));
    // The freed LUN is free again for the host, through any target.
    export(&mut sim, a, "fc0", "h", 2);
    assert_eq!(sim.array(a).resolve_lun("h", 2).unwrap(), id(&sim, "fc0"));
    assert_eq!(sim.array(a).vluns().count(), 3);
    // A host exported to only through a port is still exported: it cannot be deleted.
    sim.array_mut(a).delete_vlun("fc0", 2, Some("h"), None).unwrap();
    sim.array_mut(a).delete_vlun("direct", 7, Some("h"), None).unwrap();
    assert!(sim.array(a).is_host_exported(sim.array(a).host("h").unwrap().id));
    assert_refused(&mut sim, "fc1 is exported to h through 1:1:1", E::EXPORTED_VLUN, |s| {
        s.array_mut(a).delete_host("h")
    });
    sim.array_mut(a).delete_vlun("fc1", 9, Some("h"), Some(fc1)).unwrap();
    sim.array_mut(a).delete_host("h").unwrap();
}

// Goal: a host joins an exported host set only when the set's LUNs are free for it; otherwise
// the change is refused with EXISTENT_LUN and nothing changes (the host would see two volumes at
// one LUN). Removing the conflict lets it join and see the set's volume.
#[test]
fn a_host_joins_an_exported_host_set_only_where_its_luns_are_free() {
    let (mut sim, a) = support::world();
    for name in ["m0", "m1", "own"] {
        thin(&mut sim, a, name);
        sim.write(a, name, 0, name.as_bytes()).unwrap();
    }
    volume_set(&mut sim, a, "set", &["m0", "m1"]);
    host(&mut sim, a, "h1");
    host(&mut sim, a, "h2");
    let cluster = SetSpec { name: "cluster".into(), members: vec!["h1".into()], ..SetSpec::default() };
    sim.array_mut(a).create_host_set(cluster).unwrap();
    export(&mut sim, a, "set:set", "set:cluster", 4);
    export(&mut sim, a, "own", "h2", 5);
    let join = || simulator::SetChanges { add: vec!["h2".into()], ..Default::default() };
    assert_refused(&mut sim, "LUN 5 shows m1", E::EXISTENT_LUN, |s| s.array_mut(a).modify_host_set("cluster", join()));
    let refused = sim.array_mut(a).modify_host_set("cluster", join()).unwrap_err().to_string();
    assert!(refused.contains("LUN 5") && refused.contains("'h2'"), "{refused}");
    assert!(!sim.array(a).is_host_set_member(sim.array(a).host("h2").unwrap().id));
    assert_eq!(sim.host_read(a, "h2", 5, 0, 3).unwrap(), b"own");
    sim.array_mut(a).delete_vlun("own", 5, Some("h2"), None).unwrap();
    sim.array_mut(a).modify_host_set("cluster", join()).unwrap();
    assert_eq!(sim.host_read(a, "h2", 5, 0, 2).unwrap(), b"m1");
}

/// One step of [`the_export_index_agrees_with_a_scan`]: indices pick among a few fixed names;
/// a step the array refuses is part of the test (its refusal is checked too).
#[derive(Debug, Clone)]
enum ExportStep {
    CreateVolume(usize),
    DeleteVolume(usize),
    CreateSet {
        set: usize,
        members: Vec<usize>,
    },
    ModifySet {
        set: usize,
        add: Vec<usize>,
        remove: Vec<usize>,
    },
    DeleteSet(usize),
    ExportVolume {
        volume: usize,
        host: usize,
        lun: u32,
    },
    ExportSet {
        set: usize,
        host: usize,
        lun: u32,
    },
    /// Exports a volume to host set `host_set` (a host set's export reaches its members).
    ExportToHostSet {
        volume: usize,
        host_set: usize,
        lun: u32,
    },
    Unexport(usize),
    CreateHost(usize),
    DeleteHost(usize),
    CreateHostSet {
        set: usize,
        members: Vec<usize>,
    },
    ModifyHostSet {
        set: usize,
        add: Vec<usize>,
        remove: Vec<usize>,
    },
    DeleteHostSet(usize),
}

const INDEX_VOLUMES: usize = 6;
const INDEX_SETS: usize = 3;
const INDEX_HOSTS: usize = 3;
const INDEX_HOST_SETS: usize = 2;

fn index_volume(i: usize) -> String {
    format!("v{i}")
}

fn index_set(i: usize) -> String {
    format!("s{i}")
}

fn index_host(i: usize) -> String {
    format!("h{i}")
}

fn index_host_set(i: usize) -> String {
    format!("hs{i}")
}

fn export_step() -> impl proptest::strategy::Strategy<Value = ExportStep> {
    use proptest::prelude::*;
    let volume = 0..INDEX_VOLUMES;
    let set = 0..INDEX_SETS;
    let members = || proptest::sample::subsequence((0..INDEX_VOLUMES).collect::<Vec<_>>(), 0..=3);
    let host = 0..INDEX_HOSTS;
    let host_set = 0..INDEX_HOST_SETS;
    let hosts = || proptest::sample::subsequence((0..INDEX_HOSTS).collect::<Vec<_>>(), 0..=2);
    // One host added or removed at a time: a change naming a host already in (or not in) the
    // set is refused whole, and random subsets are mostly refused.
    let one_host = || proptest::sample::subsequence((0..INDEX_HOSTS).collect::<Vec<_>>(), 0..=1);
    prop_oneof![
        volume.clone().prop_map(ExportStep::CreateVolume),
        volume.clone().prop_map(ExportStep::DeleteVolume),
        (set.clone(), members()).prop_map(|(set, members)| ExportStep::CreateSet { set, members }),
        (set.clone(), members(), members()).prop_map(|(set, add, remove)| ExportStep::ModifySet { set, add, remove }),
        set.clone().prop_map(ExportStep::DeleteSet),
        (volume.clone(), host.clone(), 0..40u32).prop_map(|(volume, host, lun)| ExportStep::ExportVolume {
            volume,
            host,
            lun
        }),
        (set, host.clone(), 0..40u32).prop_map(|(set, host, lun)| ExportStep::ExportSet { set, host, lun }),
        (volume, host_set.clone(), 0..40u32).prop_map(|(volume, host_set, lun)| ExportStep::ExportToHostSet {
            volume,
            host_set,
            lun
        }),
        (0..8usize).prop_map(ExportStep::Unexport),
        host.clone().prop_map(ExportStep::CreateHost),
        host.prop_map(ExportStep::DeleteHost),
        (host_set.clone(), hosts()).prop_map(|(set, members)| ExportStep::CreateHostSet { set, members }),
        (host_set.clone(), one_host(), one_host()).prop_map(|(set, add, remove)| ExportStep::ModifyHostSet {
            set,
            add,
            remove
        }),
        host_set.prop_map(ExportStep::DeleteHostSet),
    ]
}

/// Whether `id` is exported or in a set, found by scanning every template and set.
fn scanned(array: &simulator::Array, id: simulator::VolumeId) -> (bool, bool) {
    let in_set = |set: simulator::SetId| array.volume_sets().any(|s| s.id == set && s.members.contains(&id));
    let exported = array.vluns().any(|vlun| match vlun.volume {
        simulator::VlunVolume::Volume(volume) => volume == id,
        simulator::VlunVolume::Set(set) => in_set(set),
    });
    (exported, array.volume_sets().any(|s| s.members.contains(&id)))
}

/// Whether host `id` has a template of its own (to it, or to it through a port) or is in a host
/// set, found by scanning every template and host set.
fn scanned_host(array: &simulator::Array, id: simulator::HostId) -> (bool, bool) {
    use simulator::VlunTarget;
    let exported =
        array.vluns().any(|v| matches!(v.target, VlunTarget::Host(h) | VlunTarget::HostOnPort(h, _) if h == id));
    (exported, array.host_sets().any(|s| s.members.contains(&id)))
}

/// The volume host `id` sees at `lun`, found by scanning every template in creation order (the
/// first that shows the LUN, as `resolve_lun` answered before the export index).
fn scanned_lun(array: &simulator::Array, id: simulator::HostId, lun: u32) -> Option<simulator::VolumeId> {
    use simulator::{VlunTarget, VlunVolume};
    array.vluns().find_map(|v| {
        let sees = match v.target {
            VlunTarget::Host(h) | VlunTarget::HostOnPort(h, _) => h == id,
            VlunTarget::HostSet(set) => array.host_sets().any(|s| s.id == set && s.members.contains(&id)),
            VlunTarget::Port(_) => false,
        };
        match v.volume {
            _ if !sees || lun < v.lun => None,
            VlunVolume::Volume(volume) => (v.lun == lun).then_some(volume),
            VlunVolume::Set(set) => {
                array.volume_sets().find(|s| s.id == set)?.members.get((lun - v.lun) as usize).copied()
            }
        }
    })
}

/// The arguments of `delete_vlun` that name template `v`: volume (or `set:<name>`), LUN, host
/// (or `set:<name>`, none for a port-only template) and port.
fn deletion(
    array: &simulator::Array,
    v: &simulator::Vlun,
) -> (String, u32, Option<String>, Option<simulator::PortPos>) {
    use simulator::{VlunTarget, VlunVolume};
    let volume = match v.volume {
        VlunVolume::Volume(id) => array.volume_by_id(id).map(|v| v.name.clone()),
        VlunVolume::Set(id) => array.volume_sets().find(|s| s.id == id).map(|s| format!("set:{}", s.name)),
    };
    let host = |id| array.hosts().find(|x| x.id == id).map(|x| x.name.clone()).expect("an exported host exists");
    let (host, port) = match v.target {
        VlunTarget::Host(h) => (Some(host(h)), None),
        VlunTarget::HostOnPort(h, port) => (Some(host(h)), Some(port)),
        VlunTarget::HostSet(s) => (array.host_sets().find(|x| x.id == s).map(|x| format!("set:{}", x.name)), None),
        VlunTarget::Port(port) => (None, Some(port)),
    };
    (volume.expect("an exported volume or set exists"), v.lun, host, port)
}

/// Checks that `host` sees at each of `luns` the volume [`scanned_lun`] finds, or gets
/// `NON_EXISTENT_VLUN` where it finds none (after `step`).
fn sees_as_scanned(
    array: &simulator::Array,
    host: &simulator::Host,
    luns: std::ops::Range<u32>,
    step: &dyn std::fmt::Debug,
) -> Result<(), proptest::test_runner::TestCaseError> {
    for lun in luns {
        let resolved = array.resolve_lun(&host.name, lun);
        let scanned = scanned_lun(array, host.id, lun);
        proptest::prop_assert_eq!(
            resolved.as_ref().ok(),
            scanned.as_ref(),
            "{} at LUN {} after {:?}",
            host.name,
            lun,
            step
        );
        if let Err(error) = resolved {
            proptest::prop_assert_eq!(error.code, E::NON_EXISTENT_VLUN);
        }
    }
    Ok(())
}

/// Deletes the `k`-th template (in creation order), if there is one, naming it by its exact
/// target: it must succeed.
fn unexport_nth(sim: &mut simulator::Simulation, a: simulator::ArrayId, k: usize) {
    let array = sim.array(a);
    let Some((volume, lun, host, port)) = array.vluns().nth(k).map(|v| deletion(array, v)) else { return };
    sim.array_mut(a).delete_vlun(&volume, lun, host.as_deref(), port).unwrap();
}

/// Checks the outcome of deleting set `name` against what a scan found: `None` (no such set),
/// or whether a template exports it.
fn set_deletion_as_scanned(
    name: &str,
    exported: Option<bool>,
    result: simulator::Result<()>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    match exported {
        None => proptest::prop_assert_eq!(result.unwrap_err().code, E::NON_EXISTENT_SET),
        Some(false) => proptest::prop_assert!(result.is_ok(), "{name} is not exported: {result:?}"),
        Some(true) => proptest::prop_assert_eq!(result.unwrap_err().code, E::EXPORTED_VLUN),
    }
    Ok(())
}

fn add_host(sim: &mut simulator::Simulation, a: simulator::ArrayId, i: usize) -> simulator::Result<simulator::HostId> {
    let name = index_host(i);
    let spec =
        HostSpec { name: name.clone(), iscsi_names: vec![format!("iqn.2026-01.sim:{name}")], ..HostSpec::default() };
    sim.array_mut(a).create_host(spec)
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: support::proptest_cases(128), ..proptest::test_runner::Config::default()
    })]

    // Goal: whether a volume or host is exported (directly or through a set) and whether it, or
    // a set, may be deleted agree with a scan of every template and set after every step of
    // random volume, host, set and export changes: the array answers them from an index
    // (`ExportIndex`) kept as templates and sets change, and a stale entry would let an exported
    // volume, host or set, or a set's member, be deleted, or refuse a free one. The volume each
    // host sees at each LUN, read from the index's templates per target, is the one a scan of
    // every template finds (and `Unexport` finds its template through the index).
    #[test]
    fn the_export_index_agrees_with_a_scan(steps in proptest::collection::vec(export_step(), 1..60)) {
        let (mut sim, a) = support::world();
        for i in 0..INDEX_VOLUMES {
            thin(&mut sim, a, &index_volume(i));
        }
        for i in 0..INDEX_HOSTS {
            add_host(&mut sim, a, i).unwrap();
        }
        let names = |indices: &[usize]| indices.iter().map(|&i| index_volume(i)).collect::<Vec<_>>();
        let host_names = |indices: &[usize]| indices.iter().map(|&i| index_host(i)).collect::<Vec<_>>();
        for step in steps {
            match &step {
                ExportStep::CreateVolume(i) => {
                    let _ = sim.array_mut(a).create_volume(simulator::VolumeSpec::thin(&index_volume(*i), support::CPG, 256));
                }
                ExportStep::DeleteVolume(i) => {
                    let name = index_volume(*i);
                    let expected = sim.array(a).volume(&name).ok().map(|v| scanned(sim.array(a), v.id));
                    let result = sim.array_mut(a).delete_volume(&name);
                    match expected {
                        None => proptest::prop_assert_eq!(result.unwrap_err().code, E::NON_EXISTENT_VOL),
                        Some((false, false)) => proptest::prop_assert!(result.is_ok(), "{name} is free: {result:?}"),
                        Some(_) => proptest::prop_assert_eq!(result.unwrap_err().code, E::IN_USE),
                    }
                }
                ExportStep::CreateSet { set, members } => {
                    let spec = SetSpec { name: index_set(*set), members: names(members), ..SetSpec::default() };
                    let _ = sim.array_mut(a).create_volume_set(spec);
                }
                ExportStep::ModifySet { set, add, remove } => {
                    let changes = simulator::SetChanges { add: names(add), remove: names(remove), ..Default::default() };
                    let _ = sim.array_mut(a).modify_volume_set(&index_set(*set), changes);
                }
                ExportStep::DeleteSet(i) => {
                    let name = index_set(*i);
                    let exported = sim.array(a).volume_set(&name).ok().map(|set| {
                        sim.array(a).vluns().any(|v| v.volume == simulator::VlunVolume::Set(set.id))
                    });
                    let result = sim.array_mut(a).delete_volume_set(&name);
                    set_deletion_as_scanned(&name, exported, result)?;
                }
                ExportStep::ExportVolume { volume, host, lun } => {
                    let spec = VlunSpec { volume: index_volume(*volume), lun: *lun, host: Some(format!("h{host}")), ..VlunSpec::default() };
                    let _ = sim.array_mut(a).create_vlun(spec);
                }
                ExportStep::ExportSet { set, host, lun } => {
                    let spec = VlunSpec { volume: format!("set:{}", index_set(*set)), lun: *lun, host: Some(format!("h{host}")), ..VlunSpec::default() };
                    let _ = sim.array_mut(a).create_vlun(spec);
                }
                ExportStep::ExportToHostSet { volume, host_set, lun } => {
                    let host = Some(format!("set:{}", index_host_set(*host_set)));
                    let spec = VlunSpec { volume: index_volume(*volume), lun: *lun, host, ..VlunSpec::default() };
                    let _ = sim.array_mut(a).create_vlun(spec);
                }
                ExportStep::CreateHost(i) => {
                    let _ = add_host(&mut sim, a, *i);
                }
                ExportStep::DeleteHost(i) => {
                    let name = index_host(*i);
                    let expected = sim.array(a).host(&name).ok().map(|h| scanned_host(sim.array(a), h.id));
                    let result = sim.array_mut(a).delete_host(&name);
                    match expected {
                        None => proptest::prop_assert_eq!(result.unwrap_err().code, E::NON_EXISTENT_HOST),
                        Some((true, _)) => proptest::prop_assert_eq!(result.unwrap_err().code, E::EXPORTED_VLUN),
                        Some((false, true)) => proptest::prop_assert_eq!(result.unwrap_err().code, E::HOST_IN_SET),
                        Some((false, false)) => proptest::prop_assert!(result.is_ok(), "{name} is free: {result:?}"),
                    }
                }
                ExportStep::CreateHostSet { set, members } => {
                    let spec = SetSpec { name: index_host_set(*set), members: host_names(members), ..SetSpec::default() };
                    let _ = sim.array_mut(a).create_host_set(spec);
                }
                ExportStep::ModifyHostSet { set, add, remove } => {
                    let changes =
                        simulator::SetChanges { add: host_names(add), remove: host_names(remove), ..Default::default() };
                    let _ = sim.array_mut(a).modify_host_set(&index_host_set(*set), changes);
                }
                ExportStep::DeleteHostSet(i) => {
                    let name = index_host_set(*i);
                    let exported = sim.array(a).host_set(&name).ok().map(|set| {
                        sim.array(a).vluns().any(|v| v.target == simulator::VlunTarget::HostSet(set.id))
                    });
                    let result = sim.array_mut(a).delete_host_set(&name);
                    set_deletion_as_scanned(&name, exported, result)?;
                }
                ExportStep::Unexport(k) => {
                    unexport_nth(&mut sim, a, *k);
                }
            }
            // Whatever was refused or done, no host sees two volumes at one LUN.
            let doubled = simulator::invariants::one_volume_per_host_lun(&sim);
            proptest::prop_assert!(doubled.is_empty(), "{doubled:?}");
            let array = sim.array(a);
            for volume in array.volumes() {
                let found = (array.is_exported(volume.id), array.is_set_member(volume.id));
                proptest::prop_assert_eq!(found, scanned(array, volume.id), "{} after {:?}", volume.name, step);
            }
            for host in array.hosts() {
                let found = (array.is_host_exported(host.id), array.is_host_set_member(host.id));
                proptest::prop_assert_eq!(found, scanned_host(array, host.id), "{} after {:?}", host.name, step);
                // Exports take LUNs below 40 and sets hold at most three members.
                sees_as_scanned(array, host, 0..44, &step)?;
            }
        }
    }
}

/// One step of [`every_host_sees_at_each_lun_what_a_scan_finds`].
#[derive(Debug, Clone)]
enum ViewStep {
    /// Volume `v<volume>` (4: `set:s`) to `h0`, `h1`, `set:hs` (2) or no host (3), through port
    /// `port` if any, at `lun`.
    Export {
        volume: usize,
        to: usize,
        port: Option<usize>,
        lun: u32,
    },
    Unexport(usize),
    /// `v3` joins (or leaves) volume set `s`.
    GrowSet(bool),
    /// `h1` joins (or leaves) host set `hs`.
    JoinHostSet(bool),
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: support::proptest_cases(128), ..proptest::test_runner::Config::default()
    })]

    // Goal: the volume every host sees at every LUN, read from the export index (per target: the
    // host, the host through each port, its host sets), is what a scan of every template in
    // creation order finds, after every step of random exports to hosts, hosts through ports,
    // a host set and ports alone, deletions named by their exact target, and sets that grow,
    // shrink, gain or lose a host. (The index's other answers have their own proptest above,
    // without ports.)
    #[test]
    fn every_host_sees_at_each_lun_what_a_scan_finds(steps in proptest::collection::vec(view_step(), 1..40)) {
        let (mut sim, a) = support::world();
        for i in 0..4 {
            thin(&mut sim, a, &format!("v{i}"));
        }
        volume_set(&mut sim, a, "s", &["v1", "v2"]);
        host(&mut sim, a, "h0");
        host(&mut sim, a, "h1");
        sim.array_mut(a).create_host_set(SetSpec { name: "hs".into(), members: vec!["h0".into()], ..SetSpec::default() }).unwrap();
        let ports = [simulator::PortPos::new(0, 1, 1), simulator::PortPos::new(1, 1, 1)];
        for step in &steps {
            let changes = |name: &str, join: bool| {
                let names = vec![name.to_owned()];
                if join {
                    simulator::SetChanges { add: names, ..Default::default() }
                } else {
                    simulator::SetChanges { remove: names, ..Default::default() }
                }
            };
            match step {
                ViewStep::Export { volume, to, port, lun } => {
                    let volume = if *volume == 4 { "set:s".to_owned() } else { format!("v{volume}") };
                    let host = ["h0", "h1", "set:hs"].get(*to).map(|h| (*h).to_owned());
                    let spec = VlunSpec { volume, lun: *lun, host, port: port.map(|p| ports[p]), ..VlunSpec::default() };
                    let _ = sim.array_mut(a).create_vlun(spec);
                }
                ViewStep::Unexport(k) => {
                    unexport_nth(&mut sim, a, *k);
                }
                ViewStep::GrowSet(join) => {
                    let _ = sim.array_mut(a).modify_volume_set("s", changes("v3", *join));
                }
                ViewStep::JoinHostSet(join) => {
                    let _ = sim.array_mut(a).modify_host_set("hs", changes("h1", *join));
                }
            }
            let doubled = simulator::invariants::one_volume_per_host_lun(&sim);
            proptest::prop_assert!(doubled.is_empty(), "{doubled:?}");
            let array = sim.array(a);
            for host in array.hosts() {
                // Exports take LUNs below 12 and the set holds at most three members.
                sees_as_scanned(array, host, 0..16, step)?;
            }
        }
    }
}

fn view_step() -> impl proptest::strategy::Strategy<Value = ViewStep> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0..5usize, 0..4usize, proptest::option::of(0..2usize), 0..12u32)
            .prop_map(|(volume, to, port, lun)| ViewStep::Export { volume, to, port, lun }),
        2 => (0..6usize).prop_map(ViewStep::Unexport),
        1 => any::<bool>().prop_map(ViewStep::GrowSet),
        1 => any::<bool>().prop_map(ViewStep::JoinHostSet),
    ]
}
