//! Synchronous mode: RPO 0 at the acknowledgement, link loss per policy, resync of what changed.

use std::time::Duration;

use simulator::{Direction, ErrorCode, Fault, GroupPolicies, GroupState, Mode, PAGE_SIZE, StartOptions, SyncStatus};

use super::support::{GROUP, World, pattern};

fn started(policies: GroupPolicies) -> World {
    let mut w = World::new(1, Mode::Synchronous, policies, None);
    w.start();
    w.settle(Duration::from_secs(60));
    w
}

// Goal: an acknowledged synchronous write is on both arrays at the acknowledgement, and its
// completion time includes the round trip. Method: write, then read both arrays at once.
#[test]
fn acknowledged_write_is_on_both_arrays() {
    let mut w = started(GroupPolicies::default());
    assert_eq!(w.statuses(w.a, GROUP), vec![SyncStatus::Synced; 2]);
    let data = pattern(7, 40_000);
    let ack = w.sim.write(w.a, "db", 12_345, &data).unwrap();
    assert!(ack.acknowledged_at - ack.submitted_at >= Duration::from_millis(2), "round trip is at least 2 x 1 ms");
    assert_eq!(w.read(w.b, "db", 12_345, data.len()), data);
    assert_eq!(w.read(w.a, "db", 12_345, data.len()), data);
}

// Goal: the initial full sync copies data written before the start, and sends exactly the
// written pages.
#[test]
fn initial_sync_copies_existing_data() {
    let mut w = World::new(2, Mode::Synchronous, GroupPolicies::default(), None);
    w.sim.write(w.a, "db", 0, &pattern(1, 3 * PAGE_SIZE)).unwrap();
    w.sim.write(w.a, "log", 10 * PAGE_SIZE as u64, &pattern(2, 100)).unwrap();
    w.start();
    w.settle(Duration::from_secs(60));
    assert!(w.same_on_both("db"));
    assert!(w.same_on_both("log"));
    let group = w.sim.array(w.a).remote_copy().group(GROUP).unwrap();
    assert_eq!(group.stats.last_sync_pages, 4);
    assert_eq!(group.stats.last_sync_bytes, 4 * PAGE_SIZE as u64);
}

// Goal (no_fail_wrt_on_err): a write whose round trip is cut by a link failure is acknowledged
// when the links are declared down (15 s heartbeat), the group stops, the synced volumes get
// resync snapshots and the write's range is recorded; after restart only the changes travel
// and both sides end equal.
#[test]
fn link_loss_stops_the_group_and_restart_resyncs_only_changes() {
    let mut w = started(GroupPolicies::default());
    w.sim.write(w.a, "db", 0, &pattern(3, 10 * PAGE_SIZE)).unwrap();
    let t = w.now();
    w.sim.schedule_fault(
        t + Duration::from_micros(300),
        Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Both },
    );
    let ack = w.sim.write(w.a, "db", 0, &pattern(4, 100)).unwrap();
    assert!(ack.acknowledged_at - t >= Duration::from_secs(15), "acknowledged at the link declaration");
    let group = w.sim.array(w.a).remote_copy().group(GROUP).unwrap();
    assert_eq!(group.state, GroupState::Stopped);
    assert!(group.volumes.iter().all(|v| v.resync_snapshot.is_some()));
    assert_eq!(group.volumes[0].pending_ranges, vec![(0, 100)]);
    // The secondary never got it.
    assert_eq!(w.read(w.b, "db", 0, 100), pattern(3, 10 * PAGE_SIZE)[..100].to_vec());
    // More writes while stopped, then repair and restart.
    w.sim.write(w.a, "log", 5 * PAGE_SIZE as u64, &pattern(5, 10)).unwrap();
    w.sim.inject_fault(Fault::LinkUp { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(2));
    w.start();
    w.settle(Duration::from_secs(60));
    assert!(w.same_on_both("db"));
    assert!(w.same_on_both("log"));
    let group = w.sim.array(w.a).remote_copy().group(GROUP).unwrap();
    assert_eq!(group.stats.last_sync_pages, 2, "one page of db (pending range), one of log");
    assert!(group.volumes.iter().all(|v| v.resync_snapshot.is_none() && v.pending_ranges.is_empty()));
}

// Goal (fail_wrt_on_err): while the secondary is unreachable no write is acknowledged and the
// source keeps no trace of failed writes; when links return writes succeed and both sides match.
#[test]
fn fail_write_on_error_never_acknowledges_while_unreachable() {
    let policies = GroupPolicies { fail_write_on_error: true, ..GroupPolicies::default() };
    let mut w = started(policies);
    w.sim.write(w.a, "db", 0, &pattern(1, 100)).unwrap();
    let t = w.now();
    w.sim.schedule_fault(
        t + Duration::from_micros(100),
        Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Forward },
    );
    let cut = w.sim.write(w.a, "db", 0, &pattern(2, 100)).unwrap_err();
    assert_eq!(cut.code, ErrorCode::RCOPY_GROUP_WRITE_FAILED);
    assert_eq!(w.read(w.a, "db", 0, 100), pattern(1, 100), "the failed write left no trace on the source");
    let refused = w.sim.write(w.a, "db", 0, &pattern(3, 100)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::RCOPY_GROUP_WRITE_FAILED);
    assert_eq!(w.sim.array(w.a).remote_copy().group(GROUP).unwrap().state, GroupState::Started);
    w.sim.inject_fault(Fault::LinkUp { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(2));
    w.settle(Duration::from_secs(60));
    w.sim.write(w.a, "db", 0, &pattern(6, 100)).unwrap();
    assert_eq!(w.read(w.b, "db", 0, 100), pattern(6, 100));
    assert!(w.same_on_both("db"));
}

// Goal: auto_recover restarts a group stopped by a link failure once links return, and never
// one an operator stopped.
#[test]
fn auto_recover_restarts_only_link_failures() {
    let policies = GroupPolicies { auto_recover: true, ..GroupPolicies::default() };
    let mut w = started(policies);
    w.sim.inject_fault(Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(16));
    assert_eq!(w.sim.array(w.a).remote_copy().group(GROUP).unwrap().state, GroupState::Stopped);
    w.sim.write(w.a, "db", 0, &pattern(9, 5000)).unwrap();
    w.sim.inject_fault(Fault::LinkUp { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(2));
    w.settle(Duration::from_secs(60));
    assert_eq!(w.sim.array(w.a).remote_copy().group(GROUP).unwrap().state, GroupState::Started);
    assert!(w.same_on_both("db"));

    w.sim.remote_copy().stop_group(w.a, GROUP, &Default::default()).unwrap();
    w.sim.inject_fault(Fault::LinkDown { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(30));
    w.sim.inject_fault(Fault::LinkUp { from: w.a, to: w.b, direction: Direction::Both });
    w.sim.advance(Duration::from_secs(30));
    assert_eq!(w.sim.array(w.a).remote_copy().group(GROUP).unwrap().state, GroupState::Stopped);
}

// Goal: during a restart resync the destination keeps a snapshot equal to its last consistent
// image until the resync finishes, then drops it.
#[test]
fn restart_resync_guards_the_last_consistent_image() {
    let mut w = started(GroupPolicies::default());
    w.sim.write(w.a, "db", 0, &pattern(1, 64 * PAGE_SIZE)).unwrap();
    w.sim.remote_copy().stop_group(w.a, GROUP, &Default::default()).unwrap();
    let consistent = w.sim.array(w.b).volume("db").unwrap().pages().clone();
    for i in 0..200u64 {
        w.sim.write(w.a, "db", i * PAGE_SIZE as u64, &pattern(2, PAGE_SIZE)).unwrap();
    }
    w.sim.remote_copy().start_group(w.a, GROUP, &StartOptions::default()).unwrap();
    let partner = w.partner();
    let guard =
        w.sim.array(w.b).remote_copy().group(&partner).unwrap().volumes[0].pre_sync_snapshot.expect("guard snapshot");
    let mut checks = 0;
    let deadline = w.now() + Duration::from_secs(60);
    w.sim.advance_until(deadline, |s| {
        if let Some(snapshot) = s.array(s.backup()).volume_by_id(guard) {
            assert!(snapshot.pages().same_content(&consistent));
            checks += 1;
        }
        s.rc_running_transfers().next().is_none()
    });
    assert!(checks > 1, "the guard was checked during the resync");
    assert!(w.sim.array(w.b).volume_by_id(guard).is_none(), "dropped at the end");
    assert!(w.same_on_both("db"));
}
