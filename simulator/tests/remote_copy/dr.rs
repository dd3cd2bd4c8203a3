//! Disaster recovery: failover, recover, restore, reverse, switchover.

use std::time::Duration;

use simulator::{
    Direction, DrOptions, ErrorCode, Fault, GroupPolicies, GroupState, Mode, PAGE_SIZE, Role, StopOptions, SyncOptions,
    SyncStatus,
};

use super::support::{GROUP, World, pattern};

fn role(w: &World, array: simulator::ArrayId, group: &str) -> (Role, GroupState) {
    let g = w.sim.array(array).remote_copy().group(group).unwrap();
    (g.role, g.state)
}

// Goal: the whole DR cycle in periodic mode after losing the primary array: failover exposes the
// last sync point on the backup; writes made there survive recover and restore; the pair ends
// in natural roles with identical data. Roles follow the spec's table at each step.
#[test]
fn periodic_failover_recover_restore_after_losing_the_primary() {
    let mut w = World::new(31, Mode::Periodic, GroupPolicies::default(), None);
    w.sim.write(w.a, "db", 0, &pattern(1, 50 * PAGE_SIZE)).unwrap();
    w.start();
    w.settle(Duration::from_secs(60));
    let synced_image = w.sim.array(w.b).volume("db").unwrap().pages().clone();
    // Written on A after the last sync: lost with A (never replicated).
    w.sim.write(w.a, "db", 0, &pattern(2, 100)).unwrap();
    w.sim.crash_array(w.a);
    w.sim.advance(Duration::from_secs(30));
    let partner = w.partner();
    assert_eq!(role(&w, w.b, &partner), (Role::Secondary, GroupState::Stopped));

    w.sim.remote_copy().failover(w.b, &partner, DrOptions::default()).unwrap();
    assert_eq!(role(&w, w.b, &partner), (Role::PrimaryRev, GroupState::Stopped));
    assert!(w.sim.array(w.b).volume("db").unwrap().pages().same_content(&synced_image), "last consistent image");
    w.sim.write(w.b, "db", 5 * PAGE_SIZE as u64, &pattern(3, 100)).unwrap();

    w.sim.restart_array(w.a);
    w.sim.advance(Duration::from_secs(5));
    assert_eq!(role(&w, w.a, GROUP).0, Role::Primary);
    assert_eq!(
        w.sim.remote_copy().recover(w.a, GROUP, DrOptions::default()).unwrap_err().code,
        ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT
    );
    w.sim.remote_copy().recover(w.b, &partner, DrOptions::default()).unwrap();
    assert_eq!(role(&w, w.a, GROUP), (Role::SecondaryRev, GroupState::Started));
    w.settle(Duration::from_secs(60));
    assert_eq!(role(&w, w.b, &partner), (Role::PrimaryRev, GroupState::Started));
    assert!(w.same_on_both("db"));
    assert_eq!(w.read(w.a, "db", 5 * PAGE_SIZE as u64, 100), pattern(3, 100), "the Primary-Rev write reached A");
    assert_eq!(w.read(w.a, "db", 0, 100), pattern(1, 50 * PAGE_SIZE)[..100].to_vec(), "A's unreplicated write is gone");

    w.sim.write(w.b, "log", 0, &pattern(4, 10)).unwrap();
    w.sim.remote_copy().restore(w.b, &partner, DrOptions::default()).unwrap();
    let blocked = w.sim.write(w.b, "log", 0, &pattern(5, 10)).unwrap_err();
    assert_eq!(blocked.code, ErrorCode::RCOPY_VOLUME_IS_SECONDARY, "no writes while failing back");
    w.settle(Duration::from_secs(60));
    assert_eq!(role(&w, w.a, GROUP), (Role::Primary, GroupState::Started));
    assert_eq!(role(&w, w.b, &partner), (Role::Secondary, GroupState::Started));
    assert!(w.same_on_both("db"));
    assert!(w.same_on_both("log"));
    assert_eq!(w.read(w.a, "log", 0, 10), pattern(4, 10));
    // Natural direction works again: a periodic sync A -> B.
    w.sim.write(w.a, "db", 0, &pattern(6, 10)).unwrap();
    w.sim.remote_copy().sync_group(w.a, GROUP, &SyncOptions::default()).unwrap();
    w.settle(Duration::from_secs(60));
    assert_eq!(w.read(w.b, "db", 0, 10), pattern(6, 10));
}

// Goal: synchronous DR straight from failover to restore (WSAPI 7 then 10).
#[test]
fn synchronous_failover_then_restore() {
    let mut w = World::new(32, Mode::Synchronous, GroupPolicies::default(), None);
    w.start();
    w.settle(Duration::from_secs(10));
    w.sim.write(w.a, "db", 0, &pattern(1, 3 * PAGE_SIZE)).unwrap();
    w.sim.remote_copy().stop_group(w.a, GROUP, &StopOptions::default()).unwrap();
    let partner = w.partner();
    w.sim.remote_copy().failover(w.b, &partner, DrOptions::default()).unwrap();
    assert_eq!(w.read(w.b, "db", 0, 3 * PAGE_SIZE), pattern(1, 3 * PAGE_SIZE));
    w.sim.write(w.b, "db", PAGE_SIZE as u64, &pattern(2, 10)).unwrap();
    w.sim.remote_copy().restore(w.b, &partner, DrOptions::default()).unwrap();
    w.settle(Duration::from_secs(60));
    assert_eq!(role(&w, w.a, GROUP), (Role::Primary, GroupState::Started));
    assert_eq!(role(&w, w.b, &partner), (Role::Secondary, GroupState::Started));
    assert!(w.same_on_both("db"));
    assert_eq!(w.read(w.a, "db", PAGE_SIZE as u64, 10), pattern(2, 10));
    // Synchronous replication runs A -> B again.
    w.sim.write(w.a, "db", 0, &pattern(3, 10)).unwrap();
    assert_eq!(w.read(w.b, "db", 0, 10), pattern(3, 10));
}

// Goal: a write still waiting for the secondary's acknowledgement when the links fail completes
// on the primary alone (in doubt); after a failover, the restore from the backup array must
// overwrite it there too, so both sides end identical (campaign seed 68: the restore sent only
// what the backup array changed, and the primary kept its in-doubt write).
#[test]
fn restore_after_failover_overwrites_the_primarys_writes_in_doubt() {
    let mut w = World::new(34, Mode::Synchronous, GroupPolicies::default(), None);
    w.start();
    w.settle(Duration::from_secs(10));
    w.sim.write(w.a, "db", 0, &pattern(1, 3 * PAGE_SIZE)).unwrap();
    w.sim.inject_fault(Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Both });
    // Waits for an acknowledgement that never comes; the group stops and the write stays on A.
    w.sim.write(w.a, "db", PAGE_SIZE as u64, &pattern(2, 100)).unwrap();
    assert_eq!(role(&w, w.a, GROUP).1, GroupState::Stopped);
    assert_eq!(w.read(w.a, "db", PAGE_SIZE as u64, 100), pattern(2, 100));
    assert_ne!(w.read(w.b, "db", PAGE_SIZE as u64, 100), pattern(2, 100));
    let partner = w.partner();
    w.sim.remote_copy().failover(w.b, &partner, DrOptions::default()).unwrap();
    w.sim.inject_fault(Fault::LinkUp { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(2));
    w.sim.remote_copy().restore(w.b, &partner, DrOptions::default()).unwrap();
    w.settle(Duration::from_secs(60));
    assert_eq!(role(&w, w.a, GROUP), (Role::Primary, GroupState::Started));
    assert!(w.same_on_both("db"), "the in-doubt write survived on the primary only");
    assert_eq!(w.read(w.a, "db", 0, 3 * PAGE_SIZE), pattern(1, 3 * PAGE_SIZE));
}

// Goal: an interrupted synchronous resync leaves the backup base mixed with a guard snapshot;
// failover promotes it (consistent) unless skip_promote, which exposes the mixed image — the
// documented risk of -nopromote.
#[test]
fn failover_promotes_unless_told_not_to() {
    for skip_promote in [false, true] {
        let mut w = World::new(33, Mode::Synchronous, GroupPolicies::default(), None);
        w.start();
        w.settle(Duration::from_secs(10));
        w.sim.write(w.a, "db", 0, &pattern(1, 300 * PAGE_SIZE)).unwrap();
        w.sim.remote_copy().stop_group(w.a, GROUP, &StopOptions::default()).unwrap();
        let consistent = w.sim.array(w.b).volume("db").unwrap().pages().clone();
        w.sim.write(w.a, "db", 0, &pattern(2, 300 * PAGE_SIZE)).unwrap();
        w.start();
        w.sim.advance(Duration::from_millis(8));
        w.sim.crash_array(w.a);
        w.sim.advance(Duration::from_secs(20));
        let partner = w.partner();
        let options = DrOptions { skip_promote, ..DrOptions::default() };
        w.sim.remote_copy().failover(w.b, &partner, options).unwrap();
        let image = w.sim.array(w.b).volume("db").unwrap().pages();
        assert_eq!(image.same_content(&consistent), !skip_promote, "skip_promote={skip_promote}");
    }
}

// Goal: reverse needs a stopped group (or stop_groups) and swaps roles; switchover swaps a
// started synchronous group and keeps it started.
#[test]
fn reverse_and_switchover_swap_roles() {
    let mut w = World::new(34, Mode::Synchronous, GroupPolicies::default(), None);
    w.start();
    w.settle(Duration::from_secs(10));
    let partner = w.partner();
    w.sim.remote_copy().switchover(w.a, GROUP).unwrap();
    assert_eq!(role(&w, w.a, GROUP), (Role::Secondary, GroupState::Started));
    assert_eq!(role(&w, w.b, &partner), (Role::Primary, GroupState::Started));
    w.sim.write(w.b, "db", 0, &pattern(1, 10)).unwrap();
    assert_eq!(w.read(w.a, "db", 0, 10), pattern(1, 10));

    assert_eq!(
        w.sim.remote_copy().reverse(w.b, &partner, DrOptions::default()).unwrap_err().code,
        ErrorCode::RCOPY_GROUP_NOT_STOPPED
    );
    w.sim.remote_copy().reverse(w.b, &partner, DrOptions { stop_groups: true, ..DrOptions::default() }).unwrap();
    assert_eq!(role(&w, w.a, GROUP), (Role::Primary, GroupState::Stopped));
    assert_eq!(role(&w, w.b, &partner), (Role::Secondary, GroupState::Stopped));
    assert_eq!(w.statuses(w.a, GROUP), vec![SyncStatus::New; 2]);
    w.start();
    w.settle(Duration::from_secs(10));
    assert!(w.same_on_both("db"));
}

// Goal: a link failure while recovering stops both sides (recover fails) and the original
// source keeps its pre-sync image.
#[test]
fn recover_that_fails_leaves_both_stopped() {
    let mut w = World::new(35, Mode::Periodic, GroupPolicies::default(), None);
    w.sim.write(w.a, "db", 0, &pattern(1, 10 * PAGE_SIZE)).unwrap();
    w.start();
    w.settle(Duration::from_secs(60));
    w.sim.remote_copy().stop_group(w.a, GROUP, &StopOptions::default()).unwrap();
    let partner = w.partner();
    w.sim.remote_copy().failover(w.b, &partner, DrOptions::default()).unwrap();
    w.sim.write(w.b, "db", 0, &pattern(2, 300 * PAGE_SIZE)).unwrap();
    let a_before = w.sim.array(w.a).volume("db").unwrap().pages().clone();
    w.sim.remote_copy().recover(w.b, &partner, DrOptions::default()).unwrap();
    w.sim.advance(Duration::from_millis(6));
    w.sim.inject_fault(Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(30));
    assert_eq!(role(&w, w.b, &partner), (Role::PrimaryRev, GroupState::Stopped));
    assert_eq!(role(&w, w.a, GROUP), (Role::SecondaryRev, GroupState::Stopped));
    assert!(w.sim.array(w.a).volume("db").unwrap().pages().same_content(&a_before));
}

// Goal: in the failover state (B `Primary-Rev`, A still `Primary`) removing the group or
// dismissing a volume on B is refused while B's target mirrors configuration
// (`RCOPY_GROUP_IN_FAILOVER_STATE`, nothing changes); with `mirror_config` off it acts on B only
// and A's group keeps its volumes (WSAPI §12.3, the way Cinder cleans up after a failover).
#[test]
fn failover_state_guards_removal_until_mirroring_is_off() {
    let mut w = World::new(36, Mode::Periodic, GroupPolicies::default(), None);
    w.start();
    w.settle(Duration::from_secs(60));
    w.sim.remote_copy().stop_group(w.a, GROUP, &StopOptions::default()).unwrap();
    let partner = w.partner();
    w.sim.remote_copy().failover(w.b, &partner, DrOptions::default()).unwrap();
    let before = w.sim.digest();
    let removed = w.sim.remote_copy().remove_group(w.b, &partner, false).unwrap_err();
    assert_eq!(removed.code, ErrorCode::RCOPY_GROUP_IN_FAILOVER_STATE);
    let dismissed = w.sim.remote_copy().dismiss_volume(w.b, &partner, "db", false, false).unwrap_err();
    assert_eq!(dismissed.code, ErrorCode::RCOPY_GROUP_IN_FAILOVER_STATE);
    assert_eq!(w.sim.digest(), before, "refusals change nothing");
    let target = w.sim.array(w.b).remote_copy().group(&partner).unwrap().target.clone();
    w.sim.remote_copy().set_mirror_config(w.b, &target, false).unwrap();
    w.sim.remote_copy().remove_group(w.b, &partner, false).unwrap();
    assert!(w.sim.array(w.b).remote_copy().group(&partner).is_err());
    let a = w.sim.array(w.a).remote_copy().group(GROUP).unwrap();
    assert_eq!((a.role, a.volumes.len()), (Role::Primary, 2), "the other source is untouched");
    assert!(w.sim.array(w.b).volume("db").is_ok(), "volumes remain");
}
