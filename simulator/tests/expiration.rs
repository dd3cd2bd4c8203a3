//! Expiration and retention on the virtual clock (domain spec §2, §7.1 invariants 3–4).

use std::time::Duration;

use simulator::{ErrorCode as E, Instant, SnapshotSpec, VolumeChanges, VolumeSpec, hours};

use crate::support::{self, CPG, assert_refused, export, host, ro_copy, rw_copy, thin};

fn expiring(name: &str, expiration: u64, retention: Option<u64>) -> SnapshotSpec {
    SnapshotSpec { expiration_hours: Some(expiration), retention_hours: retention, ..SnapshotSpec::read_only(name) }
}

const NANO: Duration = Duration::from_nanos(1);

// Goal: an expired copy is removed at the first event at or after its expiration instant, not
// before; its family forgets it.
// Method: advance to one nanosecond before expiry, then to the instant itself.
#[test]
fn expired_copy_is_removed_at_its_expiration_instant() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.advance(Duration::from_secs(17));
    sim.array_mut(a).create_snapshot("base", expiring("ro", 2, None)).unwrap();
    let expiry = sim.array(a).volume("ro").unwrap().expires_at.unwrap();
    assert_eq!(expiry, Instant::from_secs(17) + hours(2));
    sim.advance_to(Instant::from_nanos(expiry.as_nanos() - 1));
    assert!(sim.array(a).has_volume("ro"));
    sim.advance_to(expiry);
    assert!(!sim.array(a).has_volume("ro"));
    assert_eq!(sim.array(a).volume("base").unwrap().family_copies(), 0);
    assert!(sim.array(a).volume("base").unwrap().children().is_empty());
}

// Goal: base volumes expire too, and changing or removing the expiration reschedules removal.
#[test]
fn expiration_changes_reschedule_removal() {
    let (mut sim, a) = support::world();
    for name in ["v1", "v2", "v3"] {
        let spec = VolumeSpec { expiration_hours: Some(1), ..VolumeSpec::thin(name, CPG, 256) };
        sim.array_mut(a).create_volume(spec).unwrap();
    }
    let extend = VolumeChanges { expiration_hours: Some(3), ..VolumeChanges::default() };
    sim.array_mut(a).modify_volume("v2", extend).unwrap();
    let remove = VolumeChanges { remove_expiration: true, ..VolumeChanges::default() };
    sim.array_mut(a).modify_volume("v3", remove).unwrap();
    sim.advance(hours(1));
    assert!(!sim.array(a).has_volume("v1"));
    assert!(sim.array(a).has_volume("v2"));
    sim.advance(hours(2));
    assert!(!sim.array(a).has_volume("v2"));
    sim.advance(hours(1000));
    assert!(sim.array(a).has_volume("v3"));
}

// Goal: a copy inside its retention cannot be deleted or refreshed; after retention ends it can.
// Retention only grows, and never beyond the expiration.
#[test]
fn retention_blocks_delete_and_only_grows() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.array_mut(a).create_snapshot("base", expiring("ro", 10, Some(2))).unwrap();
    sim.advance(Duration::from_secs(1800));
    assert_refused(&mut sim, "delete", E::RETAINED, |s| s.array_mut(a).delete_volume("ro"));
    assert_refused(&mut sim, "refresh", E::RETAINED, |s| s.array_mut(a).refresh_snapshot("ro", false));
    // From now (t = 30 min), 1 h of retention would end before the current 2 h: refused.
    let lower = VolumeChanges { retention_hours: Some(1), ..VolumeChanges::default() };
    assert_refused(&mut sim, "lower", E::INV_INPUT_TIME, |s| s.array_mut(a).modify_volume("ro", lower));
    let past_expiry = VolumeChanges { retention_hours: Some(10), ..VolumeChanges::default() };
    assert_refused(&mut sim, "past expiry", E::INV_INPUT_RETAIN_GT_EXPIRE, |s| {
        s.array_mut(a).modify_volume("ro", past_expiry)
    });
    sim.advance(Duration::from_secs(1800));
    let raise = VolumeChanges { retention_hours: Some(3), ..VolumeChanges::default() };
    sim.array_mut(a).modify_volume("ro", raise).unwrap();
    assert_eq!(sim.array(a).volume("ro").unwrap().retained_until, Some(Instant::ZERO + hours(4)));
    sim.advance(hours(2));
    assert_refused(&mut sim, "still retained at 3 h", E::RETAINED, |s| s.array_mut(a).delete_volume("ro"));
    sim.advance(hours(1));
    sim.array_mut(a).delete_volume("ro").unwrap();
}

// Goal: an expired copy that is exported, or that has a child, is kept past its expiration
// (readable through its export) and removed by the next hourly sweep once it is free; its
// reported expiration time stays the one that was set.
#[test]
fn exported_or_parent_copies_outlive_expiry_until_free() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.write(a, "base", 0, b"mounted").unwrap();
    sim.array_mut(a).create_snapshot("base", expiring("mounted", 1, None)).unwrap();
    sim.array_mut(a).create_snapshot("base", expiring("parent", 1, None)).unwrap();
    rw_copy(&mut sim, a, "parent", "child");
    host(&mut sim, a, "h");
    export(&mut sim, a, "mounted", "h", 1);
    let expiry = sim.array(a).volume("mounted").unwrap().created_at + hours(1);

    sim.advance(hours(5));
    for name in ["mounted", "parent"] {
        assert!(sim.array(a).has_volume(name), "{name} was removed while in use");
        assert_eq!(sim.array(a).volume(name).unwrap().expires_at, Some(expiry), "{name}");
    }
    assert_eq!(sim.host_read(a, "h", 1, 0, 7).unwrap(), b"mounted");

    let freed_at = sim.now() + Duration::from_secs(600);
    sim.advance_to(freed_at);
    sim.array_mut(a).delete_vlun("mounted", 1, Some("h"), None).unwrap();
    sim.array_mut(a).delete_volume("child").unwrap();
    sim.advance(hours(1));
    assert!(!sim.array(a).has_volume("mounted"));
    assert!(!sim.array(a).has_volume("parent"));
}

// Goal: a retained copy whose expiration passed while it was still in use is removed once free;
// retention never makes expiry remove a copy early.
#[test]
fn expiry_never_removes_a_retained_copy() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.array_mut(a).create_snapshot("base", expiring("ro", 2, Some(2))).unwrap();
    sim.advance_to(Instant::from_nanos((Instant::ZERO + hours(2)).as_nanos() - 1));
    assert!(sim.array(a).has_volume("ro"));
    sim.advance(NANO);
    assert!(!sim.array(a).has_volume("ro"));
}

// Goal: a copy that expires while its array is down is removed after the array restarts.
#[test]
fn expiry_during_an_outage_happens_after_restart() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "base");
    sim.array_mut(a).create_snapshot("base", expiring("ro", 1, None)).unwrap();
    sim.crash_array(a);
    sim.advance(hours(2));
    assert!(sim.array(a).has_volume("ro"));
    sim.restart_array(a);
    sim.advance(hours(1));
    assert!(!sim.array(a).has_volume("ro"));
}

// Goal: a set snapshot applies expiration and retention to every copy it creates.
#[test]
fn set_snapshot_copies_expire_together() {
    let (mut sim, a) = support::world();
    thin(&mut sim, a, "v1");
    thin(&mut sim, a, "v2");
    support::volume_set(&mut sim, a, "set", &["v1", "v2"]);
    let spec = simulator::SetSnapshotSpec {
        pattern: "@vvname@.ro".into(),
        read_only: true,
        expiration_hours: Some(3),
        retention_hours: Some(1),
        ..simulator::SetSnapshotSpec::default()
    };
    sim.array_mut(a).snapshot_volume_set("set", spec).unwrap();
    assert_refused(&mut sim, "retained", E::RETAINED, |s| s.array_mut(a).delete_volume("v2.ro"));
    sim.advance(hours(3));
    assert!(!sim.array(a).has_volume("v1.ro"));
    assert!(!sim.array(a).has_volume("v2.ro"));
    ro_copy(&mut sim, a, "v1", "v1.ro");
}
