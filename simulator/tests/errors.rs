//! Every error path of the core operations, as tables of (case, operation, expected code).
//!
//! Goal: each refusal carries the 3PAR code the specs name (domain spec §2, WSAPI spec §4–§8 and
//! §15) and changes nothing (the state digest is equal before and after).
//! Method: one rich fixture ([`fixture`]) holds every object the refusals need; each feature has
//! an operation enum and a `check` function, the only code that calls the API; tests are tables.

use simulator::{
    AllocationAlerts, ArrayConfig, ArrayId, Chap, CpgChanges, CpgSpec, ErrorCode as E, HostChanges, HostSpec,
    PathChange, PhysicalCopySpec, PortPos, PromoteOptions, Provisioning, SetChanges, SetSnapshotSpec, SetSpec,
    Simulation, SnapshotSpec, TaskId, TuneSpec, VlunSpec, VolumeChanges, VolumePolicies, VolumeSpec,
};

use crate::support::{self, CPG, OTHER_DOMAIN, assert_refused, export, host, ro_copy, rw_copy, thin, volume_set};

/// The shared world of the error tables. Names used by the tables:
/// - CPGs: `FC_r6` (user and snapshot CPG of most volumes), `dom_cpg` (in `UNIT_TEST_DOMAIN`),
///   `other_cpg` (in `OTHER_DOMAIN`), `limited` (growth limit 1 GiB), `snap_only` (only a snapshot CPG);
/// - volumes: `base` (thin, children `base.ro` → `base.rw`, metadata `k1`), `full` (fully provisioned
///   in `limited`), `nosnap` (no snapshot CPG), `retained` (RO copy of `base2`, retained 24 h,
///   expiring 48 h), `exported` (LUN 1 to `h1`), `member` (in set `vvset`), `dom_vol` (in
///   `dom_cpg`), `small` (thin 256 MiB), `src` → `dst` (an active online copy), `fam` with RO copy
///   `fam.ro` exported to `h1` at LUN 5, `fam2` exported to `h1` at LUN 6 with copy `fam2.ro`,
///   `grown` with copy `grown.ro` taken before `grown` grew, `shared.ro` with two RW children,
///   `pcopy` (a completed offline physical copy of `other`);
/// - hosts: `h1` (iSCSI, exported to), `h2` (FC, in host set `hset`), `h_other` (in `OTHER_DOMAIN`),
///   `h3` (no export);
/// - volume sets: `vvset` (`member`), `emptyset`, `expset` (exported to `h3` at LUN 20),
///   `rosets` (two RO copies of different bases), `samebase` (`base`, `base.rw`), `nosnapset`.
fn fixture() -> (Simulation, ArrayId) {
    let (mut sim, a) = support::world();
    let cpgs = [
        CpgSpec { name: "dom_cpg".into(), domain: Some("UNIT_TEST_DOMAIN".into()), ..CpgSpec::default() },
        CpgSpec { name: "other_cpg".into(), domain: Some(OTHER_DOMAIN.into()), ..CpgSpec::default() },
        CpgSpec { name: "limited".into(), growth_limit_mib: Some(1024), ..CpgSpec::default() },
        CpgSpec { name: "snap_only".into(), ..CpgSpec::default() },
    ];
    for spec in cpgs {
        sim.array_mut(a).create_cpg(spec).unwrap();
    }
    let mut m = sim.array_mut(a);
    m.create_volume(VolumeSpec::thin("base", CPG, 1024)).unwrap();
    m.create_volume(VolumeSpec::full("full", "limited", 512)).unwrap();
    m.create_volume(VolumeSpec { snap_cpg: None, ..VolumeSpec::thin("nosnap", CPG, 256) }).unwrap();
    m.create_volume(VolumeSpec { snap_cpg: Some("snap_only".into()), ..VolumeSpec::thin("base2", CPG, 256) }).unwrap();
    m.create_volume(VolumeSpec::thin("dom_vol", "dom_cpg", 256)).unwrap();
    m.create_volume(VolumeSpec::thin("small", CPG, 256)).unwrap();
    m.create_snapshot(
        "base2",
        SnapshotSpec { retention_hours: Some(24), expiration_hours: Some(48), ..SnapshotSpec::read_only("retained") },
    )
    .unwrap();
    m.create_metadata("base", "k1", "v1").unwrap();
    for name in ["exported", "member", "fam", "fam2", "grown", "shared", "src", "pcopy", "other"] {
        thin(&mut sim, a, name);
    }
    ro_copy(&mut sim, a, "base", "base.ro");
    rw_copy(&mut sim, a, "base.ro", "base.rw");
    ro_copy(&mut sim, a, "fam", "fam.ro");
    ro_copy(&mut sim, a, "fam2", "fam2.ro");
    ro_copy(&mut sim, a, "grown", "grown.ro");
    sim.array_mut(a).grow_volume("grown", 256).unwrap();
    ro_copy(&mut sim, a, "shared", "shared.ro");
    rw_copy(&mut sim, a, "shared.ro", "shared.rw1");
    rw_copy(&mut sim, a, "shared.ro", "shared.rw2");
    ro_copy(&mut sim, a, "other", "other.ro");
    sim.array_mut(a).copy_volume("other", offline_spec("pcopy")).unwrap();
    sim.array_mut(a).copy_volume("src", online_spec("dst")).unwrap();

    host(&mut sim, a, "h1");
    host(&mut sim, a, "h3");
    let fc = HostSpec { name: "h2".into(), fc_wwns: vec!["10:00:00:00:C9:6F:7A:02".into()], ..HostSpec::default() };
    sim.array_mut(a).create_host(fc).unwrap();
    let other = HostSpec { name: "h_other".into(), domain: Some(OTHER_DOMAIN.into()), ..HostSpec::default() };
    sim.array_mut(a).create_host(other).unwrap();
    let hset = SetSpec { name: "hset".into(), members: vec!["h2".into()], ..SetSpec::default() };
    sim.array_mut(a).create_host_set(hset).unwrap();
    volume_set(&mut sim, a, "vvset", &["member"]);
    volume_set(&mut sim, a, "emptyset", &[]);
    volume_set(&mut sim, a, "expset", &[]);
    volume_set(&mut sim, a, "rosets", &["fam2.ro", "other.ro"]);
    volume_set(&mut sim, a, "samebase", &["base", "base.rw"]);
    volume_set(&mut sim, a, "nosnapset", &["nosnap"]);
    export(&mut sim, a, "exported", "h1", 1);
    export(&mut sim, a, "fam.ro", "h1", 5);
    export(&mut sim, a, "fam2", "h1", 6);
    export(&mut sim, a, "set:expset", "h3", 20);
    export(&mut sim, a, "small", "set:hset", 30);
    (sim, a)
}

fn offline_spec(destination: &str) -> PhysicalCopySpec {
    PhysicalCopySpec {
        destination: destination.into(),
        online: false,
        destination_cpg: None,
        provisioning: Provisioning::Thin,
        compression: false,
        snap_cpg: None,
        priority: None,
    }
}

/// Runs every row of `table` on a fresh copy of the fixture through `check`.
fn run<Op: std::fmt::Debug>(
    table: Vec<(&str, Op, E)>,
    check: fn(&mut Simulation, ArrayId, Op) -> simulator::Result<()>,
) {
    let (sim, a) = fixture();
    for (case, op, expected) in table {
        let mut sim = sim.clone();
        assert_refused(&mut sim, case, expected, |sim| check(sim, a, op));
    }
}

// ---------------------------------------------------------------- CPGs

#[derive(Debug)]
enum CpgOp {
    Create(CpgSpec),
    Delete(&'static str),
    Modify(&'static str, CpgChanges),
}

fn check_cpg(sim: &mut Simulation, a: ArrayId, op: CpgOp) -> simulator::Result<()> {
    match op {
        CpgOp::Create(spec) => sim.array_mut(a).create_cpg(spec).map(drop),
        CpgOp::Delete(name) => sim.array_mut(a).delete_cpg(name),
        CpgOp::Modify(name, changes) => sim.array_mut(a).modify_cpg(name, changes),
    }
}

fn cpg(name: &str) -> CpgSpec {
    CpgSpec { name: name.into(), ..CpgSpec::default() }
}

#[test]
fn cpg_errors() {
    run(
        vec![
            ("empty name", CpgOp::Create(cpg("")), E::INV_INPUT_EMPTY_STR),
            ("long name", CpgOp::Create(cpg(&"c".repeat(32))), E::INV_INPUT_EXCEEDS_LENGTH),
            ("illegal char", CpgOp::Create(cpg("c&d")), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "bad domain name",
                CpgOp::Create(CpgSpec { domain: Some("doma&n".into()), ..cpg("c") }),
                E::INV_INPUT_ILLEGAL_CHAR,
            ),
            (
                "unknown domain",
                CpgOp::Create(CpgSpec { domain: Some("NO_DOMAIN".into()), ..cpg("c") }),
                E::NON_EXISTENT_DOMAIN,
            ),
            ("exists", CpgOp::Create(cpg(CPG)), E::EXISTENT_CPG),
            ("delete unknown", CpgOp::Delete("nope"), E::NON_EXISTENT_CPG),
            ("delete user CPG in use", CpgOp::Delete(CPG), E::IN_USE),
            ("delete snapshot CPG in use", CpgOp::Delete("snap_only"), E::IN_USE),
        ],
        check_cpg,
    );
}

// Goal: a refused CPG modify returns the code of its first failing check (input conflicts and
// the new name before the lookup, spec §1.8) and changes nothing, the valid changes of the same
// request included. The Remote Copy refusal of a rename is in `remote_copy::refusals`.
#[test]
fn cpg_modify_errors() {
    let changes = CpgChanges::default;
    let renamed = |name: &str| CpgChanges { new_name: Some(name.into()), growth_limit_mib: Some(1), ..changes() };
    let modify = |name, changes| CpgOp::Modify(name, changes);
    run(
        vec![
            ("modify unknown", modify("nope", changes()), E::NON_EXISTENT_CPG),
            ("rename unknown", modify("nope", renamed("fresh")), E::NON_EXISTENT_CPG),
            ("rename empty", modify("nope", renamed("")), E::INV_INPUT_EMPTY_STR),
            ("rename too long", modify("limited", renamed(&"c".repeat(32))), E::INV_INPUT_EXCEEDS_LENGTH),
            ("rename illegal", modify("limited", renamed("c d")), E::INV_INPUT_ILLEGAL_CHAR),
            ("rename to existing", modify("limited", renamed(CPG)), E::EXISTENT_CPG),
            (
                "limit and rmGrowthLimit",
                modify("nope", CpgChanges { growth_limit_mib: Some(1), remove_growth_limit: true, ..renamed("c d") }),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
            (
                "increment and disableAutoGrow",
                modify("limited", CpgChanges { growth_increment_mib: Some(8), disable_auto_grow: true, ..changes() }),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
            (
                "warning and rmWarningAlert",
                modify(
                    "limited",
                    CpgChanges { used_ld_warning_alert_mib: Some(8), remove_warning_alert: true, ..changes() },
                ),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
        ],
        check_cpg,
    );
}

// ---------------------------------------------------------------- volumes

#[derive(Debug)]
enum VolumeOp {
    Create(VolumeSpec),
    Delete(&'static str),
    Grow(&'static str, u64),
    Modify(&'static str, VolumeChanges),
}

fn check_volume(sim: &mut Simulation, a: ArrayId, op: VolumeOp) -> simulator::Result<()> {
    match op {
        VolumeOp::Create(spec) => sim.array_mut(a).create_volume(spec).map(drop),
        VolumeOp::Delete(name) => sim.array_mut(a).delete_volume(name),
        VolumeOp::Grow(name, add) => sim.array_mut(a).grow_volume(name, add).map(drop),
        VolumeOp::Modify(name, changes) => sim.array_mut(a).modify_volume(name, changes),
    }
}

fn vv(name: &str) -> VolumeSpec {
    VolumeSpec::thin(name, CPG, 1024)
}

#[test]
fn volume_create_errors() {
    use VolumeOp::Create;
    let alerts =
        |w, l| AllocationAlerts { snapshot_warning_pct: w, snapshot_limit_pct: l, ..AllocationAlerts::default() };
    run(
        vec![
            ("empty name", Create(vv("")), E::INV_INPUT_EMPTY_STR),
            ("59-character name", Create(vv(&"v".repeat(59))), E::INV_INPUT_EXCEEDS_LENGTH),
            ("illegal char", Create(vv("v!")), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "long comment",
                Create(VolumeSpec { comment: Some("c".repeat(512)), ..vv("v") }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "control char comment",
                Create(VolumeSpec { comment: Some("a\u{7}".into()), ..vv("v") }),
                E::INV_INPUT_ILLEGAL_CHAR,
            ),
            ("size 0", Create(VolumeSpec { size_mib: 0, ..vv("v") }), E::INV_INPUT_BELOW_RANGE),
            ("size 16 TiB + 2 MiB", Create(VolumeSpec { size_mib: 16_777_218, ..vv("v") }), E::TOO_LARGE),
            ("size u64::MAX", Create(VolumeSpec { size_mib: u64::MAX, ..vv("v") }), E::TOO_LARGE),
            ("expiration 0", Create(VolumeSpec { expiration_hours: Some(0), ..vv("v") }), E::INV_INPUT_BELOW_RANGE),
            (
                "expiration 43801 h",
                Create(VolumeSpec { expiration_hours: Some(43_801), ..vv("v") }),
                E::INV_INPUT_EXCEEDS_RANGE,
            ),
            (
                "retention above system max",
                Create(VolumeSpec { retention_hours: Some(337), ..vv("v") }),
                E::INV_INPUT_EXCEEDS_RANGE,
            ),
            (
                "retention > expiration",
                Create(VolumeSpec { retention_hours: Some(10), expiration_hours: Some(5), ..vv("v") }),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
            ("alert above 100", Create(VolumeSpec { alerts: alerts(101, 0), ..vv("v") }), E::INV_INPUT_EXCEEDS_RANGE),
            ("warning > limit", Create(VolumeSpec { alerts: alerts(50, 40), ..vv("v") }), E::INV_INPUT_WARN_GT_LIMIT),
            (
                "user alerts on a full volume",
                Create(VolumeSpec {
                    alerts: AllocationAlerts { user_warning_pct: 10, ..AllocationAlerts::default() },
                    ..VolumeSpec::full("v", CPG, 256)
                }),
                E::INV_INPUT_USR_ALRT_NON_TPVV,
            ),
            (
                "zero detect on a full volume",
                Create(VolumeSpec {
                    policies: VolumePolicies { zero_detect: true, ..VolumePolicies::default() },
                    ..VolumeSpec::full("v", CPG, 256)
                }),
                E::INV_OPERATION_VV_ZERO_DETECT_TPVV,
            ),
            ("unknown CPG", Create(VolumeSpec::thin("v", "nope", 256)), E::NON_EXISTENT_CPG),
            (
                "unknown snapshot CPG",
                Create(VolumeSpec { snap_cpg: Some("nope".into()), ..vv("v") }),
                E::NON_EXISTENT_CPG,
            ),
            ("name exists", Create(vv("base")), E::EXISTENT_VOL),
            ("id in use", Create(VolumeSpec { id: Some(1), ..vv("v") }), E::EXISTENT_ID),
            ("id out of range", Create(VolumeSpec { id: Some(u32::MAX), ..vv("v") }), E::INV_INPUT_EXCEEDS_RANGE),
            ("id 65536", Create(VolumeSpec { id: Some(65_536), ..vv("v") }), E::INV_INPUT_EXCEEDS_RANGE),
            (
                "snapshot CPG in another domain",
                Create(VolumeSpec { snap_cpg: Some("dom_cpg".into()), ..vv("v") }),
                E::CPG_NOT_IN_SAME_DOMAIN,
            ),
            ("beyond the CPG growth limit", Create(VolumeSpec::full("v", "limited", 768)), E::NO_SPACE),
        ],
        check_volume,
    );
}

#[test]
fn volume_delete_grow_modify_errors() {
    use VolumeOp::{Delete, Grow, Modify};
    let changes = VolumeChanges::default;
    run(
        vec![
            ("delete unknown", Delete("nope"), E::NON_EXISTENT_VOL),
            ("delete with children", Delete("base"), E::HAS_CHILD),
            ("delete read-only copy with a child", Delete("base.ro"), E::HAS_CHILD),
            ("delete set member", Delete("member"), E::IN_USE),
            ("delete exported", Delete("exported"), E::IN_USE),
            ("delete exported copy", Delete("fam.ro"), E::IN_USE),
            ("delete retained", Delete("retained"), E::RETAINED),
            ("delete online-copy source", Delete("src"), E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS),
            ("delete online-copy destination", Delete("dst"), E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS),
            ("grow unknown", Grow("nope", 256), E::NON_EXISTENT_VOL),
            ("grow by 0", Grow("base", 0), E::INV_INPUT_VV_GROW_SIZE),
            ("grow a copy", Grow("base.ro", 256), E::INV_OPERATION_UNSUPPORTED_VV_TYPE),
            ("grow a read-write copy", Grow("base.rw", 256), E::INV_OPERATION_UNSUPPORTED_VV_TYPE),
            ("grow past 16 TiB", Grow("base", 16 * 1024 * 1024), E::VV_NEW_SIZE_EXCEEDS_LIMITS),
            ("grow by u64::MAX", Grow("base", u64::MAX), E::VV_NEW_SIZE_EXCEEDS_LIMITS),
            ("grow online-copy source", Grow("src", 256), E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS),
            ("grow past the CPG limit", Grow("full", 768), E::VV_NEW_SIZE_EXCEEDS_CPG_LIMIT),
            ("modify unknown", Modify("nope", changes()), E::NON_EXISTENT_VOL),
            (
                "rename illegal",
                Modify("base", VolumeChanges { new_name: Some("a b".into()), ..changes() }),
                E::INV_INPUT_ILLEGAL_CHAR,
            ),
            (
                "rename too long",
                Modify("base", VolumeChanges { new_name: Some("n".repeat(32)), ..changes() }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "rename to existing",
                Modify("base", VolumeChanges { new_name: Some("full".into()), ..changes() }),
                E::EXISTENT_VOL,
            ),
            (
                "long comment",
                Modify("base", VolumeChanges { comment: Some("c".repeat(512)), ..changes() }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "retention lowered",
                Modify("retained", VolumeChanges { retention_hours: Some(1), ..changes() }),
                E::INV_INPUT_TIME,
            ),
            (
                "expiration before retention",
                Modify("retained", VolumeChanges { expiration_hours: Some(2), ..changes() }),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
            (
                "retention past expiration",
                Modify("retained", VolumeChanges { retention_hours: Some(72), ..changes() }),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
            (
                "retention and expiration crossed",
                Modify("base", VolumeChanges { retention_hours: Some(9), expiration_hours: Some(8), ..changes() }),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
            (
                "retention above system max",
                Modify("base", VolumeChanges { retention_hours: Some(337), ..changes() }),
                E::INV_INPUT_EXCEEDS_RANGE,
            ),
            (
                "expiration 0",
                Modify("base", VolumeChanges { expiration_hours: Some(0), ..changes() }),
                E::INV_INPUT_BELOW_RANGE,
            ),
            (
                "user CPG of a thin volume",
                Modify("base", VolumeChanges { user_cpg: Some(CPG.into()), ..changes() }),
                E::INV_OPERATION_VV_MODIFY_USR_CPG_TPVV,
            ),
            (
                "unknown user CPG",
                Modify("full", VolumeChanges { user_cpg: Some("nope".into()), ..changes() }),
                E::NON_EXISTENT_CPG,
            ),
            (
                "unknown snapshot CPG",
                Modify("base", VolumeChanges { snap_cpg: Some("nope".into()), ..changes() }),
                E::NON_EXISTENT_CPG,
            ),
            (
                "zero detect on full",
                Modify(
                    "full",
                    VolumeChanges {
                        policies: Some(VolumePolicies { zero_detect: true, ..VolumePolicies::default() }),
                        ..changes()
                    },
                ),
                E::INV_OPERATION_VV_ZERO_DETECT_TPVV,
            ),
            (
                "user alerts on full",
                Modify(
                    "full",
                    VolumeChanges {
                        alerts: Some(AllocationAlerts { user_limit_pct: 5, ..AllocationAlerts::default() }),
                        ..changes()
                    },
                ),
                E::INV_INPUT_USR_ALRT_NON_TPVV,
            ),
        ],
        check_volume,
    );
}

// Goal: retention needs the Virtual Lock licence (domain spec §2); without it creation and
// modification are refused with UNLICENSED_FEATURE and change nothing.
#[test]
fn retention_needs_the_virtual_lock_licence() {
    let mut config: ArrayConfig = support::primary_config();
    config.licences.retain(|l| l != "Virtual Lock");
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "v");
    let spec = VolumeSpec { retention_hours: Some(1), ..vv("w") };
    assert_refused(&mut sim, "create", E::UNLICENSED_FEATURE, |s| s.array_mut(a).create_volume(spec));
    let changes = VolumeChanges { retention_hours: Some(1), ..VolumeChanges::default() };
    assert_refused(&mut sim, "modify", E::UNLICENSED_FEATURE, |s| s.array_mut(a).modify_volume("v", changes));
    let copy = SnapshotSpec { retention_hours: Some(1), ..SnapshotSpec::read_only("v.ro") };
    assert_refused(&mut sim, "snapshot", E::UNLICENSED_FEATURE, |s| s.array_mut(a).create_snapshot("v", copy));
}

// Goal: the volume-count limit (configurable) refuses new volumes and copies with VV_LIMIT_REACHED.
#[test]
fn volume_count_limit_refuses_new_volumes() {
    let mut config = support::primary_config();
    config.limits.max_volumes = 2;
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "v1");
    ro_copy(&mut sim, a, "v1", "v1.ro");
    assert_refused(&mut sim, "volume", E::VV_LIMIT_REACHED, |s| s.array_mut(a).create_volume(vv("v2")));
    assert_refused(&mut sim, "copy", E::VV_LIMIT_REACHED, |s| {
        s.array_mut(a).create_snapshot("v1", SnapshotSpec::read_only("v1.ro2"))
    });
    // Two members, one free slot: the set snapshot is refused whole, with or without explicit ids.
    let mut config = support::primary_config();
    config.limits.max_volumes = 3;
    let (mut sim, a) = support::world_with(config);
    thin(&mut sim, a, "v1");
    thin(&mut sim, a, "v2");
    volume_set(&mut sim, a, "set", &["v1", "v2"]);
    for id in [None, Some(700)] {
        let spec = SetSnapshotSpec { pattern: "@vvname@.s".into(), read_only: true, id, ..SetSnapshotSpec::default() };
        assert_refused(&mut sim, &format!("set snapshot id={id:?}"), E::VV_LIMIT_REACHED, |s| {
            s.array_mut(a).snapshot_volume_set("set", spec)
        });
    }
}

// ---------------------------------------------------------------- metadata

#[derive(Debug)]
enum MetadataOp {
    Create(&'static str, String, String),
    Update(&'static str, &'static str, String),
    Delete(&'static str, &'static str),
}

fn check_metadata(sim: &mut Simulation, a: ArrayId, op: MetadataOp) -> simulator::Result<()> {
    match op {
        MetadataOp::Create(volume, key, value) => sim.array_mut(a).create_metadata(volume, &key, &value),
        MetadataOp::Update(volume, key, value) => sim.array_mut(a).update_metadata(volume, key, &value),
        MetadataOp::Delete(volume, key) => sim.array_mut(a).delete_metadata(volume, key),
    }
}

#[test]
fn metadata_errors() {
    use MetadataOp::{Create, Delete, Update};
    let s = |t: &str| t.to_owned();
    run(
        vec![
            ("create on unknown volume", Create("nope", s("k"), s("v")), E::NON_EXISTENT_VOL),
            ("empty key", Create("base", s(""), s("v")), E::INV_INPUT_EMPTY_STR),
            ("illegal key", Create("base", s("k&"), s("v")), E::INV_INPUT_ILLEGAL_CHAR),
            ("long key", Create("base", "k".repeat(32), s("v")), E::INV_INPUT_EXCEEDS_LENGTH),
            ("long value", Create("base", s("k2"), "v".repeat(256)), E::INV_INPUT_EXCEEDS_LENGTH),
            ("key exists", Create("base", s("k1"), s("v")), E::EXISTENT_OBJECT_KEY),
            ("update unknown volume", Update("nope", "k1", s("v")), E::NON_EXISTENT_VOL),
            ("update missing key", Update("base", "k2", s("v")), E::NON_EXISTENT_OBJECT_KEY),
            ("update long value", Update("base", "k1", "v".repeat(256)), E::INV_INPUT_EXCEEDS_LENGTH),
            ("delete missing key", Delete("base", "k2"), E::NON_EXISTENT_OBJECT_KEY),
            ("delete unknown volume", Delete("nope", "k1"), E::NON_EXISTENT_VOL),
        ],
        check_metadata,
    );
}

// ---------------------------------------------------------------- virtual copies

#[derive(Debug)]
enum CopyOp {
    Create(&'static str, SnapshotSpec),
    Promote(&'static str, PromoteOptions),
    Refresh(&'static str, bool),
}

fn check_copy(sim: &mut Simulation, a: ArrayId, op: CopyOp) -> simulator::Result<()> {
    match op {
        CopyOp::Create(source, spec) => sim.array_mut(a).create_snapshot(source, spec).map(drop),
        CopyOp::Promote(name, options) => sim.array_mut(a).promote_snapshot(name, options).map(drop),
        CopyOp::Refresh(name, with_parent) => sim.array_mut(a).refresh_snapshot(name, with_parent),
    }
}

#[test]
fn virtual_copy_errors() {
    use CopyOp::{Create, Promote, Refresh};
    let ro = SnapshotSpec::read_only;
    let promote = PromoteOptions::default;
    run(
        vec![
            ("illegal name", Create("base", ro("s s")), E::INV_INPUT_ILLEGAL_CHAR),
            ("long name", Create("base", ro(&"s".repeat(32))), E::INV_INPUT_EXCEEDS_LENGTH),
            (
                "long comment",
                Create("base", SnapshotSpec { comment: Some("c".repeat(512)), ..ro("s") }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "expiration 0",
                Create("base", SnapshotSpec { expiration_hours: Some(0), ..ro("s") }),
                E::INV_INPUT_BELOW_RANGE,
            ),
            (
                "retention > expiration",
                Create("base", SnapshotSpec { expiration_hours: Some(1), retention_hours: Some(2), ..ro("s") }),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
            ("unknown source", Create("nope", ro("s")), E::NON_EXISTENT_VOL),
            ("name exists", Create("base", ro("full")), E::EXISTENT_VOL),
            ("id in use", Create("base", SnapshotSpec { id: Some(1), ..ro("s") }), E::EXISTENT_ID),
            ("no snapshot CPG", Create("nosnap", ro("s")), E::NO_SNAP_CPG),
            ("read-only of read-only", Create("base.ro", ro("s")), E::INV_OPERATION_VV_READONLY_TO_READONLY_SNAP),
            ("copy of an online-copy destination", Create("dst", ro("s")), E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS),
            ("promote unknown", Promote("nope", promote()), E::NON_EXISTENT_VOL),
            ("promote a base", Promote("base", promote()), E::INV_OPERATION_VV_BASE_VOLUME),
            (
                "promote online with priority",
                Promote("base.ro", PromoteOptions { online: true, priority: Some(1), ..promote() }),
                E::INV_OPERATION_PARAM_CONFLICT,
            ),
            (
                "promote with priority 4",
                Promote("base.ro", PromoteOptions { priority: Some(4), ..promote() }),
                E::INV_INPUT_BAD_ENUM_VALUE,
            ),
            ("promote an exported copy", Promote("fam.ro", promote()), E::INV_OPERATION_VV_EXPORTED),
            ("promote onto an exported base", Promote("fam2.ro", promote()), E::INV_OPERATION_PARENT_VV_EXPORTED),
            ("promote onto a grown base", Promote("grown.ro", promote()), E::INV_OPERATION_PARENT_SIZE_HAS_INCREASED),
            (
                "promote onto a non-ancestor",
                Promote("base.rw", PromoteOptions { target: Some("full".into()), ..promote() }),
                E::INV_INPUT,
            ),
            (
                "promote onto a read-only ancestor",
                Promote("base.rw", PromoteOptions { target: Some("base.ro".into()), ..promote() }),
                E::INV_INPUT,
            ),
            (
                "promote onto an unknown target",
                Promote("base.rw", PromoteOptions { target: Some("nope".into()), ..promote() }),
                E::NON_EXISTENT_VOL,
            ),
            ("refresh unknown", Refresh("nope", false), E::NON_EXISTENT_VOL),
            ("refresh a base", Refresh("base", false), E::INV_OPERATION_VV_BASE_VOLUME),
            ("refresh a copy with children", Refresh("base.ro", false), E::HAS_CHILD),
            ("refresh a retained copy", Refresh("retained", false), E::RETAINED),
            (
                "refresh -ro with a shared parent",
                Refresh("shared.rw1", true),
                E::INV_OPERATION_RO_PARENT_HAS_RW_CHILDREN,
            ),
        ],
        check_copy,
    );
}

// ---------------------------------------------------------------- volume sets

#[derive(Debug)]
enum SetOp {
    Create(SetSpec),
    Modify(&'static str, SetChanges),
    Delete(&'static str),
    Snapshot(&'static str, SetSnapshotSpec),
}

fn check_set(sim: &mut Simulation, a: ArrayId, op: SetOp) -> simulator::Result<()> {
    match op {
        SetOp::Create(spec) => sim.array_mut(a).create_volume_set(spec).map(drop),
        SetOp::Modify(name, changes) => sim.array_mut(a).modify_volume_set(name, changes),
        SetOp::Delete(name) => sim.array_mut(a).delete_volume_set(name),
        SetOp::Snapshot(name, spec) => sim.array_mut(a).snapshot_volume_set(name, spec).map(drop),
    }
}

fn set(name: &str, members: &[&str]) -> SetSpec {
    SetSpec { name: name.into(), members: members.iter().map(|m| (*m).to_owned()).collect(), ..SetSpec::default() }
}

fn set_snap(pattern: &str) -> SetSnapshotSpec {
    SetSnapshotSpec { pattern: pattern.into(), read_only: true, ..SetSnapshotSpec::default() }
}

fn adding(members: &[&str]) -> SetChanges {
    SetChanges { add: members.iter().map(|m| (*m).to_owned()).collect(), ..SetChanges::default() }
}

#[test]
fn volume_set_errors() {
    use SetOp::{Create, Delete, Modify, Snapshot};
    run(
        vec![
            ("28-character name", Create(set(&"s".repeat(28), &[])), E::INV_INPUT_EXCEEDS_LENGTH),
            ("illegal name", Create(set("HostSet-!nval!d", &[])), E::INV_INPUT_ILLEGAL_CHAR),
            ("member listed twice", Create(set("s", &["base", "base"])), E::INV_INPUT_DUP_NAME),
            // Member names follow the name rules in the model too, not only over the WSAPI.
            ("member name with an illegal character", Create(set("s", &["b&d"])), E::INV_INPUT_ILLEGAL_CHAR),
            ("empty member name", Create(set("s", &[""])), E::INV_INPUT_EMPTY_STR),
            ("32-character member name", Create(set("s", &[&"m".repeat(32)])), E::INV_INPUT_EXCEEDS_LENGTH),
            ("illegal name listed twice", Create(set("s", &["b&d", "b&d"])), E::INV_INPUT_ILLEGAL_CHAR),
            ("add an illegal member name", Modify("vvset", adding(&["b&d"])), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "remove an empty member name",
                Modify("vvset", SetChanges { remove: vec![String::new()], ..SetChanges::default() }),
                E::INV_INPUT_EMPTY_STR,
            ),
            (
                "unknown domain",
                Create(SetSpec { domain: Some("NO_DOMAIN".into()), ..set("s", &[]) }),
                E::NON_EXISTENT_DOMAIN,
            ),
            ("name exists", Create(set("vvset", &[])), E::EXISTENT_SET),
            ("unknown member", Create(set("s", &["nope"])), E::NON_EXISTENT_VOL),
            (
                "member in another domain",
                Create(SetSpec { domain: Some(OTHER_DOMAIN.into()), ..set("s", &["dom_vol"]) }),
                E::MEMBER_NOT_IN_SAME_DOMAIN,
            ),
            ("modify unknown set", Modify("nope", adding(&["base"])), E::NON_EXISTENT_SET),
            ("add unknown member", Modify("vvset", adding(&["nope"])), E::NON_EXISTENT_VOL),
            ("add a member twice", Modify("vvset", adding(&["member"])), E::MEMBER_IN_SET),
            (
                "remove a non-member",
                Modify("vvset", SetChanges { remove: vec!["base".into()], ..SetChanges::default() }),
                E::MEMBER_NOT_IN_SET,
            ),
            (
                "rename to existing",
                Modify("vvset", SetChanges { new_name: Some("emptyset".into()), ..SetChanges::default() }),
                E::EXISTENT_SET,
            ),
            (
                "bad flash cache policy",
                Modify("vvset", SetChanges { flash_cache_policy: Some(3), ..SetChanges::default() }),
                E::INV_INPUT_BAD_ENUM_VALUE,
            ),
            ("delete unknown", Delete("nope"), E::NON_EXISTENT_SET),
            ("delete exported", Delete("expset"), E::EXPORTED_VLUN),
            ("snapshot unknown set", Snapshot("nope", set_snap("s-@count@")), E::NON_EXISTENT_SET),
            ("snapshot empty set", Snapshot("emptyset", set_snap("s-@count@")), E::EMPTY_SET),
            ("unknown token", Snapshot("vvset", set_snap("s-@x@")), E::INVALID_INPUT_VV_PATTERN),
            ("unterminated token", Snapshot("vvset", set_snap("s-@count")), E::INVALID_INPUT_VV_PATTERN),
            ("duplicate names", Snapshot("rosets", set_snap("same")), E::INVALID_INPUT_VV_PATTERN),
            (
                "expanded name too long",
                Snapshot("vvset", set_snap(&format!("{}@vvname@", "x".repeat(28)))),
                E::INVALID_INPUT_VV_PATTERN,
            ),
            ("expanded name exists", Snapshot("vvset", set_snap("base")), E::EXISTENT_VOL),
            ("id in use", Snapshot("vvset", SetSnapshotSpec { id: Some(1), ..set_snap("s-@count@") }), E::EXISTENT_ID),
            (
                "ids past the last volume id",
                Snapshot("rosets", SetSnapshotSpec { id: Some(u32::MAX), read_only: false, ..set_snap("s-@count@") }),
                E::INV_INPUT_EXCEEDS_RANGE,
            ),
            (
                "members share a base",
                Snapshot("samebase", set_snap("s-@count@")),
                E::INV_OPERATION_VV_SNAP_PARENT_SAME_BASE,
            ),
            ("member without snapshot CPG", Snapshot("nosnapset", set_snap("s-@count@")), E::NO_SNAP_CPG),
            (
                "read-only copies of read-only members",
                Snapshot("rosets", set_snap("s-@count@")),
                E::INV_OPERATION_VV_READONLY_TO_READONLY_SNAP,
            ),
            (
                "retention > expiration",
                Snapshot(
                    "vvset",
                    SetSnapshotSpec { expiration_hours: Some(1), retention_hours: Some(2), ..set_snap("s-@count@") },
                ),
                E::INV_INPUT_RETAIN_GT_EXPIRE,
            ),
        ],
        check_set,
    );
}

// ---------------------------------------------------------------- hosts and host sets

#[derive(Debug)]
enum HostOp {
    Create(HostSpec),
    Modify(&'static str, HostChanges),
    Delete(&'static str),
    CreateSet(SetSpec),
    ModifySet(&'static str, SetChanges),
    DeleteSet(&'static str),
}

fn check_host(sim: &mut Simulation, a: ArrayId, op: HostOp) -> simulator::Result<()> {
    let mut m = sim.array_mut(a);
    match op {
        HostOp::Create(spec) => m.create_host(spec).map(drop),
        HostOp::Modify(name, changes) => m.modify_host(name, changes),
        HostOp::Delete(name) => m.delete_host(name),
        HostOp::CreateSet(spec) => m.create_host_set(spec).map(drop),
        HostOp::ModifySet(name, changes) => m.modify_host_set(name, changes),
        HostOp::DeleteSet(name) => m.delete_host_set(name),
    }
}

fn iscsi(name: &str, iqns: &[&str]) -> HostSpec {
    HostSpec { name: name.into(), iscsi_names: iqns.iter().map(|i| (*i).to_owned()).collect(), ..HostSpec::default() }
}

fn chap(secret: &str) -> Chap {
    Chap { name: "chap".into(), secret: secret.into() }
}

#[test]
fn host_errors() {
    use HostOp::{Create, CreateSet, Delete, DeleteSet, Modify, ModifySet};
    let changes = HostChanges::default;
    let too_many: Vec<String> = (0..1025).map(|i| format!("iqn.2026-01.sim:many{i}")).collect();
    run(
        vec![
            ("illegal name", Create(iscsi("B&dHostName", &[])), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "40-character domain",
                Create(HostSpec { domain: Some("d".repeat(40)), ..iscsi("h", &[]) }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "empty domain",
                Create(HostSpec { domain: Some(String::new()), ..iscsi("h", &[]) }),
                E::INV_INPUT_EMPTY_STR,
            ),
            (
                "FC and iSCSI",
                Create(HostSpec { fc_wwns: vec!["1000000000000001".into()], ..iscsi("h", &["iqn.x"]) }),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
            (
                "7-byte WWN",
                Create(HostSpec { fc_wwns: vec!["10000000C96F7A".into()], ..iscsi("h", &[]) }),
                E::INV_INPUT_WRONG_TYPE,
            ),
            ("path twice", Create(iscsi("h", &["iqn.x", "iqn.x"])), E::INV_INPUT_DUP_PATH),
            (
                "too many paths",
                Create(HostSpec { iscsi_names: too_many, ..iscsi("h", &[]) }),
                E::INV_INPUT_EXCEEDS_RANGE,
            ),
            ("persona 0", Create(HostSpec { persona: Some(0), ..iscsi("h", &[]) }), E::INV_INPUT_BAD_ENUM_VALUE),
            (
                "unknown domain",
                Create(HostSpec { domain: Some("NO_DOMAIN".into()), ..iscsi("h", &[]) }),
                E::NON_EXISTENT_DOMAIN,
            ),
            ("path of another host", Create(iscsi("h", &["iqn.2026-01.sim:h1"])), E::EXISTENT_PATH),
            (
                "FC path of another host (other spelling)",
                Create(HostSpec { fc_wwns: vec!["10000000c96f7a02".into()], ..iscsi("h", &[]) }),
                E::EXISTENT_PATH,
            ),
            ("name exists", Create(iscsi("h1", &[])), E::EXISTENT_HOST),
            ("modify unknown", Modify("None", HostChanges { persona: Some(2), ..changes() }), E::NON_EXISTENT_HOST),
            (
                "new name illegal",
                Modify("h3", HostChanges { new_name: Some("New#O$TN@ME".into()), ..changes() }),
                E::INV_INPUT_ILLEGAL_CHAR,
            ),
            (
                "new name too long",
                Modify("h3", HostChanges { new_name: Some("n".repeat(32)), ..changes() }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            (
                "new name exists",
                Modify("h3", HostChanges { new_name: Some("h1".into()), ..changes() }),
                E::EXISTENT_HOST,
            ),
            ("bad persona", Modify("h3", HostChanges { persona: Some(14), ..changes() }), E::INV_INPUT_BAD_ENUM_VALUE),
            (
                "add a path of another host",
                Modify(
                    "h3",
                    HostChanges { paths: Some(PathChange::AddIscsi(vec!["iqn.2026-01.sim:h1".into()])), ..changes() },
                ),
                E::EXISTENT_PATH,
            ),
            (
                "add a bad WWN",
                Modify("h2", HostChanges { paths: Some(PathChange::AddFc(vec!["xyz".into()])), ..changes() }),
                E::INV_INPUT_WRONG_TYPE,
            ),
            (
                "remove a missing path",
                Modify(
                    "h3",
                    HostChanges { paths: Some(PathChange::RemoveIscsi(vec!["iqn.none".into()], false)), ..changes() },
                ),
                E::NON_EXISTENT_PATH,
            ),
            (
                "remove a path while exported",
                Modify(
                    "h1",
                    HostChanges {
                        paths: Some(PathChange::RemoveIscsi(vec!["iqn.2026-01.sim:h1".into()], false)),
                        ..changes()
                    },
                ),
                E::EXPORTED_VLUN,
            ),
            (
                "persona change while exported",
                Modify("h1", HostChanges { persona: Some(1), ..changes() }),
                E::EXPORTED_VLUN,
            ),
            (
                "short CHAP secret",
                Modify("h3", HostChanges { set_initiator_chap: Some(chap("short")), ..changes() }),
                E::INV_INPUT_BAD_LENGTH,
            ),
            (
                "target CHAP without initiator CHAP",
                Modify("h3", HostChanges { set_target_chap: Some(chap("0123456789ab")), ..changes() }),
                E::NO_INITIATOR_CHAP,
            ),
            (
                "remove missing CHAP",
                Modify("h3", HostChanges { remove_chap: Some(false), ..changes() }),
                E::NON_EXISTENT_CHAP,
            ),
            (
                "remove missing target CHAP",
                Modify("h3", HostChanges { remove_chap: Some(true), ..changes() }),
                E::NON_EXISTENT_CHAP,
            ),
            ("delete unknown", Delete("nope"), E::NON_EXISTENT_HOST),
            ("delete exported", Delete("h1"), E::EXPORTED_VLUN),
            ("delete set member", Delete("h2"), E::HOST_IN_SET),
            ("set name exists", CreateSet(set("hset", &[])), E::EXISTENT_SET),
            ("set with unknown host", CreateSet(set("s", &["nope"])), E::NON_EXISTENT_HOST),
            ("set member name with an illegal character", CreateSet(set("s", &["b&d"])), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "add a 32-character host name",
                ModifySet("hset", adding(&[&"h".repeat(32)])),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            ("set name too long", CreateSet(set(&"s".repeat(28), &[])), E::INV_INPUT_EXCEEDS_LENGTH),
            (
                "set member in another domain",
                CreateSet(SetSpec { domain: Some("UNIT_TEST_DOMAIN".into()), ..set("s", &["h_other"]) }),
                E::MEMBER_NOT_IN_SAME_DOMAIN,
            ),
            ("add unknown host", ModifySet("hset", adding(&["nope"])), E::NON_EXISTENT_HOST),
            ("add a member twice", ModifySet("hset", adding(&["h2"])), E::MEMBER_IN_SET),
            ("modify unknown set", ModifySet("nope", adding(&["h3"])), E::NON_EXISTENT_SET),
            ("delete unknown set", DeleteSet("nope"), E::NON_EXISTENT_SET),
            ("delete exported set", DeleteSet("hset"), E::EXPORTED_VLUN),
        ],
        check_host,
    );
}

// ---------------------------------------------------------------- VLUNs

#[derive(Debug)]
enum VlunOp {
    Create(VlunSpec),
    Delete(&'static str, u32, Option<&'static str>, Option<PortPos>),
}

fn check_vlun(sim: &mut Simulation, a: ArrayId, op: VlunOp) -> simulator::Result<()> {
    match op {
        VlunOp::Create(spec) => sim.array_mut(a).create_vlun(spec).map(drop),
        VlunOp::Delete(volume, lun, host, port) => sim.array_mut(a).delete_vlun(volume, lun, host, port),
    }
}

fn vlun(volume: &str, lun: u32, host: &str) -> VlunSpec {
    VlunSpec { volume: volume.into(), lun, host: Some(host.into()), ..VlunSpec::default() }
}

#[test]
fn vlun_errors() {
    use VlunOp::{Create, Delete};
    let on_port =
        |volume: &str, pos| VlunSpec { volume: volume.into(), lun: 40, port: Some(pos), ..VlunSpec::default() };
    run(
        vec![
            (
                "neither host nor port",
                Create(VlunSpec { volume: "base".into(), ..VlunSpec::default() }),
                E::MISSING_VLUN_EXPORT_INFO,
            ),
            ("LUN 100000", Create(vlun("base", 100_000, "h3")), E::TOO_LARGE),
            ("set export beyond the last LUN", Create(vlun("set:rosets", 16_383, "h3")), E::TOO_LARGE),
            ("unknown volume", Create(vlun("nope", 2, "h3")), E::NON_EXISTENT_VOL),
            ("unknown volume set", Create(vlun("set:nope", 2, "h3")), E::NON_EXISTENT_SET),
            ("unknown host", Create(vlun("base", 2, "nope")), E::NON_EXISTENT_HOST),
            ("unknown host set", Create(vlun("base", 2, "set:nope")), E::NON_EXISTENT_SET),
            ("unknown port", Create(on_port("base", PortPos::new(8, 8, 8))), E::NON_EXISTENT_PORT),
            ("not a host port", Create(on_port("base", PortPos::new(0, 3, 1))), E::BAD_PORT_TYPE),
            ("online-copy destination", Create(vlun("dst", 2, "h3")), E::INV_OPERATION_VLUN_PCOPY_TARGET_VV),
            ("different domains", Create(vlun("dom_vol", 2, "h_other")), E::INV_INPUT),
            ("LUN in use for the host", Create(vlun("base", 1, "h1")), E::EXISTENT_LUN),
            ("same template again", Create(vlun("exported", 1, "h1")), E::EXISTENT_LUN),
            ("LUN in use through a host set", Create(vlun("base", 30, "h2")), E::EXISTENT_LUN),
            ("set export overlapping a LUN", Create(vlun("set:rosets", 4, "h1")), E::EXISTENT_LUN),
            (
                "no free auto LUN",
                Create(VlunSpec { auto_lun: true, lun: 5, max_auto_lun: 6, ..vlun("base", 5, "h1") }),
                E::AUTO_LUN_ID_UNAVAILABLE,
            ),
            ("delete: unknown volume", Delete("nope", 1, Some("h1"), None), E::NON_EXISTENT_VLUN),
            ("delete: unknown host", Delete("exported", 1, Some("nope"), None), E::NON_EXISTENT_HOST),
            ("delete: no such template", Delete("exported", 2, Some("h1"), None), E::NON_EXISTENT_VLUN),
            ("delete: other host", Delete("exported", 1, Some("h3"), None), E::NON_EXISTENT_VLUN),
            (
                "delete: non-existent port",
                Delete("exported", 1, Some("h1"), Some(PortPos::new(8, 8, 8))),
                E::INV_INPUT_PORT_SPECIFICATION,
            ),
            (
                "delete: port checked before the volume",
                Delete("nope", 1, Some("h1"), Some(PortPos::new(8, 8, 8))),
                E::INV_INPUT_PORT_SPECIFICATION,
            ),
            ("delete: neither host nor port", Delete("exported", 1, None, None), E::MISSING_VLUN_EXPORT_INFO),
        ],
        check_vlun,
    );
}

// ---------------------------------------------------------------- tasks and physical copies

#[derive(Debug)]
enum TaskOp {
    Copy(&'static str, PhysicalCopySpec),
    Cancel(TaskId),
    Resync(&'static str),
    Tune(&'static str, TuneSpec),
}

fn check_task(sim: &mut Simulation, a: ArrayId, op: TaskOp) -> simulator::Result<()> {
    let mut m = sim.array_mut(a);
    match op {
        TaskOp::Copy(source, spec) => m.copy_volume(source, spec).map(drop),
        TaskOp::Cancel(id) => m.cancel_task(id),
        TaskOp::Resync(name) => m.resync_physical_copy(name).map(drop),
        TaskOp::Tune(name, spec) => m.tune_volume(name, spec).map(drop),
    }
}

fn online_spec(destination: &str) -> PhysicalCopySpec {
    PhysicalCopySpec {
        online: true,
        destination_cpg: Some(CPG.into()),
        snap_cpg: Some(CPG.into()),
        ..offline_spec(destination)
    }
}

#[test]
fn task_and_physical_copy_errors() {
    use TaskOp::{Cancel, Copy, Resync, Tune};
    let tune = TuneSpec::default;
    run(
        vec![
            ("illegal destination", Copy("base", offline_spec("d&d")), E::INV_INPUT_ILLEGAL_CHAR),
            (
                "online with priority",
                Copy("base", PhysicalCopySpec { priority: Some(1), ..online_spec("d") }),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
            (
                "offline with a CPG",
                Copy("base", PhysicalCopySpec { destination_cpg: Some(CPG.into()), ..offline_spec("small") }),
                E::INV_INPUT_PARAM_CONFLICT,
            ),
            (
                "online without CPG",
                Copy("base", PhysicalCopySpec { destination_cpg: None, ..online_spec("d") }),
                E::INV_INPUT_MISSING_REQUIRED,
            ),
            (
                "priority 4",
                Copy("base", PhysicalCopySpec { priority: Some(4), ..offline_spec("small") }),
                E::INV_INPUT_BAD_ENUM_VALUE,
            ),
            ("unknown source", Copy("nope", offline_spec("small")), E::NON_EXISTENT_VOL),
            ("copy to self", Copy("small", offline_spec("small")), E::INV_OPERATION_VV_COPY_TO_SELF),
            (
                "source in an online copy",
                Copy("src", offline_spec("small")),
                E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
            ),
            ("offline: unknown destination", Copy("small", offline_spec("nope")), E::NON_EXISTENT_VOL),
            ("offline: exported destination", Copy("small", offline_spec("exported")), E::INV_OPERATION_VV_EXPORTED),
            (
                "offline: destination is a copy",
                Copy("small", offline_spec("base.rw")),
                E::INV_OPERATION_VV_NOT_BASE_VOLUME,
            ),
            (
                "offline: destination smaller",
                Copy("base", offline_spec("pcopy")),
                E::INV_OPERATION_VV_COPY_PARENT_TOO_BIG,
            ),
            (
                "offline: destination in an online copy",
                Copy("small", offline_spec("dst")),
                E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
            ),
            ("online: destination exists", Copy("base", online_spec("small")), E::EXISTENT_VOL),
            (
                "online: unknown CPG",
                Copy("base", PhysicalCopySpec { destination_cpg: Some("nope".into()), ..online_spec("d") }),
                E::NON_EXISTENT_CPG,
            ),
            (
                "online: full destination beyond the CPG limit",
                Copy(
                    "base",
                    PhysicalCopySpec {
                        destination_cpg: Some("limited".into()),
                        provisioning: Provisioning::Full,
                        snap_cpg: None,
                        ..online_spec("d")
                    },
                ),
                E::NO_SPACE,
            ),
            (
                "online: snapshot CPG in another domain",
                Copy("base", PhysicalCopySpec { snap_cpg: Some("dom_cpg".into()), ..online_spec("d") }),
                E::CPG_NOT_IN_SAME_DOMAIN,
            ),
            ("cancel unknown task", Cancel(TaskId(60_000)), E::NON_EXISTENT_TASK),
            ("cancel a finished task", Cancel(TaskId(1)), E::NON_ACTIVE_TASK),
            ("resync unknown", Resync("nope"), E::NON_EXISTENT_VOL),
            ("resync a base volume", Resync("base"), E::INV_OPERATION_VV_NOT_PHYSICAL_COPY),
            ("tune unknown", Tune("nope", tune()), E::NON_EXISTENT_VOL),
            ("tune a copy", Tune("base.ro", tune()), E::INV_OPERATION_VV_NOT_BASE_VOLUME),
            (
                "tune to an unknown CPG",
                Tune("base", TuneSpec { user_cpg: Some("nope".into()), ..tune() }),
                E::NON_EXISTENT_CPG,
            ),
            (
                "convert with copies, no keepVV",
                Tune("base", TuneSpec { conversion: Some((Provisioning::Dedup, true)), ..tune() }),
                E::INV_INPUT_MISSING_REQUIRED,
            ),
            (
                "keep name exists",
                Tune("base", TuneSpec { keep_volume: Some("full".into()), ..tune() }),
                E::EXISTENT_VOL,
            ),
            (
                "keep name too long",
                Tune("base", TuneSpec { keep_volume: Some("k".repeat(46)), ..tune() }),
                E::INV_INPUT_EXCEEDS_LENGTH,
            ),
            ("tune an online-copy source", Tune("src", tune()), E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS),
            (
                "tune an online-copy source to an unknown CPG: 404 before 409",
                Tune("src", TuneSpec { user_cpg: Some("nope".into()), ..tune() }),
                E::NON_EXISTENT_CPG,
            ),
            (
                "keep an online-copy destination",
                Tune("dst", TuneSpec { keep_volume: Some("kept".into()), ..tune() }),
                E::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
            ),
        ],
        check_task,
    );
}

// Goal: an exported physical copy refuses resync; the tune message names keepVV (spec §15.2).
#[test]
fn physical_copy_resync_refused_while_exported_and_tune_names_keep_vv() {
    let (mut sim, a) = fixture();
    export(&mut sim, a, "pcopy", "h3", 3);
    assert_refused(&mut sim, "resync exported", E::INV_OPERATION_VV_EXPORTED, |s| {
        s.array_mut(a).resync_physical_copy("pcopy")
    });
    let spec = TuneSpec { conversion: Some((Provisioning::Dedup, true)), ..TuneSpec::default() };
    let error = sim.array_mut(a).tune_volume("base", spec).unwrap_err();
    assert!(error.message.contains("keepVV"), "{error}");
}

// ---------------------------------------------------------------- data path

#[derive(Debug)]
enum DataOp {
    Write(&'static str, u64, usize),
    Read(&'static str, u64, usize),
    HostWrite(&'static str, u32, u64, usize),
    HostRead(&'static str, u32, u64, usize),
}

fn check_data(sim: &mut Simulation, a: ArrayId, op: DataOp) -> simulator::Result<()> {
    match op {
        DataOp::Write(volume, offset, len) => sim.write(a, volume, offset, &vec![7u8; len]).map(drop),
        DataOp::Read(volume, offset, len) => sim.read(a, volume, offset, len).map(drop),
        DataOp::HostWrite(host, lun, offset, len) => sim.host_write(a, host, lun, offset, &vec![7u8; len]).map(drop),
        DataOp::HostRead(host, lun, offset, len) => sim.host_read(a, host, lun, offset, len).map(drop),
    }
}

#[test]
fn data_path_errors() {
    use DataOp::{HostRead, HostWrite, Read, Write};
    let end = 256u64 << 20;
    run(
        vec![
            ("write unknown volume", Write("nope", 0, 1), E::NON_EXISTENT_VOL),
            ("write a read-only copy", Write("base.ro", 0, 1), E::INV_OPERATION_VV_READ_ONLY),
            ("write past the end", Write("small", end - 1, 2), E::INV_INPUT_EXCEEDS_RANGE),
            ("write starting past the end", Write("small", end + 1, 0), E::INV_INPUT_EXCEEDS_RANGE),
            ("write offset overflow", Write("small", u64::MAX, 2), E::INV_INPUT_EXCEEDS_RANGE),
            ("read unknown volume", Read("nope", 0, 1), E::NON_EXISTENT_VOL),
            ("read past the end", Read("small", end - 1, 2), E::INV_INPUT_EXCEEDS_RANGE),
            ("read offset overflow", Read("small", u64::MAX, 2), E::INV_INPUT_EXCEEDS_RANGE),
            ("host write: unknown host", HostWrite("nope", 1, 0, 1), E::NON_EXISTENT_HOST),
            ("host write: no LUN", HostWrite("h1", 2, 0, 1), E::NON_EXISTENT_VLUN),
            ("host write: read-only copy", HostWrite("h1", 5, 0, 1), E::INV_OPERATION_VV_READ_ONLY),
            ("host read: unknown host", HostRead("nope", 1, 0, 1), E::NON_EXISTENT_HOST),
            ("host read: no LUN", HostRead("h1", 2, 0, 1), E::NON_EXISTENT_VLUN),
            ("host read: past the end", HostRead("h1", 1, end, 1), E::INV_INPUT_EXCEEDS_RANGE),
            ("host read: LUN exported to another host's set", HostRead("h3", 30, 0, 1), E::NON_EXISTENT_VLUN),
        ],
        check_data,
    );
}

// Goal: a crashed array refuses every operation with ARRAY_OFFLINE and changes nothing.
#[test]
fn a_crashed_array_refuses_everything() {
    let (mut sim, a) = fixture();
    sim.crash_array(a);
    type Op = fn(&mut Simulation, ArrayId) -> simulator::Result<()>;
    let table: Vec<(&str, Op)> = vec![
        ("create cpg", |s, a| s.array_mut(a).create_cpg(cpg("c")).map(drop)),
        ("modify cpg", |s, a| s.array_mut(a).modify_cpg("limited", CpgChanges::default())),
        ("create volume", |s, a| s.array_mut(a).create_volume(vv("v")).map(drop)),
        ("delete volume", |s, a| s.array_mut(a).delete_volume("small")),
        ("snapshot", |s, a| s.array_mut(a).create_snapshot("small", SnapshotSpec::read_only("s")).map(drop)),
        ("promote", |s, a| s.array_mut(a).promote_snapshot("base.ro", PromoteOptions::default()).map(drop)),
        ("refresh", |s, a| s.array_mut(a).refresh_snapshot("base.rw", false)),
        ("create host", |s, a| s.array_mut(a).create_host(iscsi("h", &[])).map(drop)),
        ("create vlun", |s, a| s.array_mut(a).create_vlun(vlun("small", 9, "h3")).map(drop)),
        ("metadata", |s, a| s.array_mut(a).create_metadata("base", "k9", "v")),
        ("write", |s, a| s.write(a, "small", 0, b"x").map(drop)),
        ("read", |s, a| s.read(a, "small", 0, 1).map(drop)),
        ("host read", |s, a| s.host_read(a, "h1", 1, 0, 1).map(drop)),
    ];
    for (case, op) in table {
        assert_refused(&mut sim, case, E::ARRAY_OFFLINE, |s| op(s, a));
    }
}
