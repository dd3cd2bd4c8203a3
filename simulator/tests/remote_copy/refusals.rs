//! Every refused Remote Copy operation returns the spec's error and changes nothing.
//!
//! Method: each case builds a world in a given state, takes the digest, runs the operation,
//! checks the error code and that the digest did not move.

use std::time::Duration;

use simulator::{
    AdmitSpec, ErrorCode, GroupChanges, GroupPolicies, GroupSpec, Mode, PromoteOptions, SnapshotSpec, StartOptions,
    SyncOptions, VolumeSpec,
};

use super::support::{GROUP, World};

type Case = (&'static str, ErrorCode, fn(&mut World) -> simulator::Result<()>);

fn check(started: bool, mode: Mode, cases: &[Case]) {
    for (name, expected, operation) in cases {
        let mut w = World::new(41, mode, GroupPolicies::default(), None);
        w.sim.array_mut(w.a).create_volume(VolumeSpec::thin("spare", "FC", 256)).unwrap();
        w.sim.array_mut(w.a).create_snapshot("spare", SnapshotSpec::read_only("spare.ro")).unwrap();
        w.sim.array_mut(w.a).create_snapshot("db", SnapshotSpec::read_only("db.ro")).unwrap();
        w.sim.array_mut(w.a).create_volume(VolumeSpec::thin("big", "FC", 512)).unwrap();
        w.sim.array_mut(w.b).create_volume(VolumeSpec::thin("small", "FC", 256)).unwrap();
        if started {
            w.start();
            w.settle(Duration::from_secs(10));
        }
        let before = w.sim.digest();
        let error = operation(&mut w).expect_err(name);
        assert_eq!(error.code, *expected, "{name}: {error}");
        assert_eq!(w.sim.digest(), before, "{name} changed the state");
    }
}

#[test]
fn refusals_on_a_new_group() {
    let partner = |w: &World| w.partner();
    check(
        false,
        Mode::Periodic,
        &[
            ("sync a group never started", ErrorCode::RCOPY_GROUP_NOT_STARTED, |w| {
                w.sim.remote_copy().sync_group(w.a, GROUP, &SyncOptions::default())
            }),
            ("start on the secondary side", ErrorCode::RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE, |w| {
                let p = w.partner();
                w.sim.remote_copy().start_group(w.b, &p, &StartOptions::default())
            }),
            ("unknown group", ErrorCode::NON_EXISTENT_RCOPY_GROUP, |w| {
                w.sim.remote_copy().start_group(w.a, "nope", &StartOptions::default())
            }),
            ("set and unset the user CPG", ErrorCode::INV_INPUT_PARAM_CONFLICT, |w| {
                w.sim.remote_copy().modify_group(
                    w.a,
                    GROUP,
                    GroupChanges {
                        remote_user_cpg: Some("FC".into()),
                        unset_user_cpg: true,
                        ..GroupChanges::default()
                    },
                )
            }),
            ("admit twice", ErrorCode::RCOPY_GROUP_EXISTENT_VOL, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec { volume: "db".into(), secondary: "x".into(), auto_create: true, ..AdmitSpec::default() },
                )
            }),
            ("admit a read-only copy", ErrorCode::RCOPY_GROUP_VOL_IS_RO, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec {
                        volume: "spare.ro".into(),
                        secondary: "x".into(),
                        auto_create: true,
                        ..AdmitSpec::default()
                    },
                )
            }),
            ("admit onto an existing volume with auto-create", ErrorCode::RCOPY_GROUP_EXISTENT_VOL_ON_TARGET, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec {
                        volume: "spare".into(),
                        secondary: "small".into(),
                        auto_create: true,
                        ..AdmitSpec::default()
                    },
                )
            }),
            ("admit with a missing secondary", ErrorCode::RCOPY_GROUP_NON_EXISTENT_VOL_ON_TARGET, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec { volume: "spare".into(), secondary: "nope".into(), ..AdmitSpec::default() },
                )
            }),
            ("admit with a size mismatch", ErrorCode::RCOPY_GROUP_VOL_SIZE_NOT_MATCH, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec { volume: "big".into(), secondary: "small".into(), ..AdmitSpec::default() },
                )
            }),
            ("period below 300 s", ErrorCode::INV_INPUT_BELOW_RANGE, |w| {
                w.sim.remote_copy().modify_group(
                    w.a,
                    GROUP,
                    GroupChanges { sync_period: Some(Duration::from_secs(299)), ..GroupChanges::default() },
                )
            }),
            ("period above a year", ErrorCode::INV_INPUT_EXCEEDS_RANGE, |w| {
                w.sim.remote_copy().modify_group(
                    w.a,
                    GROUP,
                    GroupChanges { sync_period: Some(Duration::from_secs(31_622_401)), ..GroupChanges::default() },
                )
            }),
            ("auto_failover on a periodic group", ErrorCode::RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP, |w| {
                w.sim.remote_copy().modify_group(
                    w.a,
                    GROUP,
                    GroupChanges {
                        policies: Some(GroupPolicies { auto_failover: true, ..GroupPolicies::default() }),
                        ..GroupChanges::default()
                    },
                )
            }),
            ("failover on the primary side", ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT, |w| {
                w.sim.remote_copy().failover(w.a, GROUP, Default::default())
            }),
            ("recover on a secondary", ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT, |w| {
                let p = w.partner();
                w.sim.remote_copy().recover(w.b, &p, Default::default())
            }),
            ("group name taken", ErrorCode::EXISTENT_RCOPY_GROUP, |w| {
                let t = w.sim.array(w.a).remote_copy().target_for(w.b).unwrap().name.clone();
                w.sim.remote_copy().create_group(w.a, GroupSpec::new(GROUP, &t, Mode::Periodic)).map(|_| ())
            }),
            ("unknown target", ErrorCode::RCOPY_GROUP_INV_TARGET, |w| {
                w.sim.remote_copy().create_group(w.a, GroupSpec::new("g2", "nowhere", Mode::Periodic)).map(|_| ())
            }),
            ("name leaving no room for the partner", ErrorCode::INV_INPUT_EXCEEDS_LENGTH, |w| {
                let t = w.sim.array(w.a).remote_copy().target_for(w.b).unwrap().name.clone();
                w.sim
                    .remote_copy()
                    .create_group(w.a, GroupSpec::new("a-name-of-twenty-eight-chars", &t, Mode::Periodic))
                    .map(|_| ())
            }),
            ("delete an admitted volume", ErrorCode::INV_OPERATION_VV_IN_REMOTE_COPY, |w| {
                w.sim.array_mut(w.a).delete_volume("db")
            }),
            ("write a secondary volume", ErrorCode::RCOPY_VOLUME_IS_SECONDARY, |w| {
                w.sim.write(w.b, "db", 0, b"x").map(|_| ())
            }),
            ("promote onto a group volume", ErrorCode::INV_OPERATION_VV_IN_REMOTE_COPY, |w| {
                w.sim.array_mut(w.a).promote_snapshot("db.ro", PromoteOptions::default()).map(|_| ())
            }),
        ],
    );
    let _ = partner;
}

#[test]
fn refusals_on_a_started_group() {
    check(
        true,
        Mode::Periodic,
        &[
            ("start twice", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.remote_copy().start_group(w.a, GROUP, &StartOptions::default())
            }),
            ("admit into a started group", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.remote_copy().admit_volume(
                    w.a,
                    GROUP,
                    AdmitSpec {
                        volume: "spare".into(),
                        secondary: "spare".into(),
                        auto_create: true,
                        ..AdmitSpec::default()
                    },
                )
            }),
            ("dismiss from a started group", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.remote_copy().dismiss_volume(w.a, GROUP, "db", false, false)
            }),
            ("remove a started group", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.remote_copy().remove_group(w.a, GROUP, false)
            }),
            ("failover while started", ErrorCode::RCOPY_GROUP_NOT_STOPPED, |w| {
                let p = w.partner();
                w.sim.remote_copy().failover(w.b, &p, Default::default())
            }),
            ("switchover a periodic group", ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT, |w| {
                w.sim.remote_copy().switchover(w.a, GROUP)
            }),
            ("grow a started group's volume", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.array_mut(w.a).grow_volume("db", 256).map(|_| ())
            }),
            ("promote onto a started group's volume", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim
                    .array_mut(w.a)
                    .promote_snapshot(
                        "db.ro",
                        PromoteOptions { allow_remote_copy_parent: true, ..PromoteOptions::default() },
                    )
                    .map(|_| ())
            }),
            ("mode change while started", ErrorCode::RCOPY_GROUP_STARTED, |w| {
                w.sim.remote_copy().modify_group(
                    w.a,
                    GROUP,
                    GroupChanges { mode: Some((Mode::Synchronous, 1)), ..GroupChanges::default() },
                )
            }),
        ],
    );
}

#[test]
fn refusals_specific_to_synchronous_groups() {
    check(
        true,
        Mode::Synchronous,
        &[("sync period on a synchronous group", ErrorCode::RCOPY_GROUP_IS_NOT_PERIODIC, |w| {
            w.sim.remote_copy().modify_group(
                w.a,
                GROUP,
                GroupChanges { sync_period: Some(Duration::from_secs(600)), ..GroupChanges::default() },
            )
        })],
    );
}

// Goal: a CPG a Remote Copy group names as its local user CPG cannot be deleted (IN_USE, nothing
// changed), while an unused CPG next to it can (found missing by cargo-mutants: `uses_cpg`).
// Method: point the group's remote user CPG at a CPG of its own on the backup array (mirrored
// onto the partner group's local user CPG), then delete that CPG and an unused one.
#[test]
fn a_cpg_a_group_uses_cannot_be_deleted() {
    let mut w = World::new(42, Mode::Periodic, GroupPolicies::default(), None);
    for name in ["RC_CPG", "SPARE_CPG"] {
        w.sim.array_mut(w.b).create_cpg(simulator::CpgSpec { name: name.into(), ..Default::default() }).unwrap();
    }
    let changes = GroupChanges { remote_user_cpg: Some("RC_CPG".into()), ..GroupChanges::default() };
    w.sim.remote_copy().modify_group(w.a, GROUP, changes).unwrap();
    let before = w.sim.digest();
    let error = w.sim.array_mut(w.b).delete_cpg("RC_CPG").unwrap_err();
    assert_eq!(error.code, ErrorCode::IN_USE, "{error}");
    assert_eq!(w.sim.digest(), before, "a refused delete changed the state");
    w.sim.array_mut(w.b).delete_cpg("SPARE_CPG").unwrap();
}

// Goal: a CPG rename keeps every reference. References by id (volumes, a group's local CPGs)
// follow it; the one by name (a group's remote CPG, held on the peer array) cannot be updated
// from the renamed CPG's array, so renaming a CPG a group on its array uses is refused (IN_USE,
// nothing changed) until the group stops using it. Method: the world's group names `FC` on B as
// its remote CPGs (the partner holds it as local CPGs); rename `FC` on B, then on A (used by
// volumes only), admit a volume auto-created on B by that name, unset the group's CPGs, rename
// on B again.
#[test]
fn a_cpg_a_group_uses_cannot_be_renamed() {
    let mut w = World::new(43, Mode::Periodic, GroupPolicies::default(), None);
    let rename = |name: &str| simulator::CpgChanges { new_name: Some(name.into()), ..Default::default() };
    let before = w.sim.digest();
    let error = w.sim.array_mut(w.b).modify_cpg("FC", rename("FC_B")).unwrap_err();
    assert_eq!(error.code, ErrorCode::IN_USE, "{error}");
    assert_eq!(w.sim.digest(), before, "a refused rename changed the state");

    let id = w.sim.array(w.a).cpg("FC").unwrap().id;
    w.sim.array_mut(w.a).modify_cpg("FC", rename("FC_A")).unwrap();
    assert!(w.sim.array(w.a).cpg("FC").is_err());
    assert_eq!(w.sim.array(w.a).cpg("FC_A").unwrap().id, id);
    assert_eq!(w.sim.array(w.a).volume("db").unwrap().user_cpg(), Some(id));
    w.sim.array_mut(w.a).create_volume(VolumeSpec::thin("extra", "FC_A", 256)).unwrap();
    let admit =
        AdmitSpec { volume: "extra".into(), secondary: "extra".into(), auto_create: true, ..AdmitSpec::default() };
    w.sim.remote_copy().admit_volume(w.a, GROUP, admit).unwrap();
    let fc_b = w.sim.array(w.b).cpg("FC").unwrap().id;
    assert_eq!(w.sim.array(w.b).volume("extra").unwrap().user_cpg(), Some(fc_b));

    let unset = GroupChanges { unset_user_cpg: true, unset_snap_cpg: true, ..GroupChanges::default() };
    w.sim.remote_copy().modify_group(w.a, GROUP, unset).unwrap();
    w.sim.array_mut(w.b).modify_cpg("FC", rename("FC_B")).unwrap();
    assert_eq!(w.sim.array(w.b).cpg("FC_B").unwrap().id, fc_b);
    assert_eq!(w.sim.array(w.b).volume("extra").unwrap().user_cpg(), Some(fc_b));
    assert!(simulator::invariants::check_all(&w.sim).is_empty());
}
