//! The deliberately wrong variants (feature `defects`): each does its wrong thing and the
//! invariants catch it in a plain scenario; without the feature the engine refuses them.

#[cfg(feature = "defects")]
mod caught {
    use std::time::Duration;

    use recovery::engine::Defect;
    use simulator::{Direction, Fault};

    use crate::world::{Replication, World};

    /// The names of the invariants `world` violates.
    fn violated(world: &World) -> Vec<&'static str> {
        let mut names: Vec<&'static str> =
            recovery::invariants::check_all(&world.sim, &world.engine).iter().map(|v| v.invariant).collect();
        names.dedup();
        names
    }

    fn world(seed: u64, replication: Replication, defect: Defect) -> World {
        World::with(seed, replication, |c| c.defect = Some(defect))
    }

    #[test]
    fn remote_entry_before_sync_is_caught_when_the_sync_fails() {
        // Goal: a remote entry committed before the sync completes survives a failed sync and
        // points at copies that were never taken: `entries_reference_existing_copies`.
        // Method: a link failure during the sync.
        let mut world = world(70, Replication::Periodic(None), Defect::RemoteEntryBeforeSync);
        world.work(400);
        // 16 MiB beyond the database's pages keeps the sync busy for tens of milliseconds.
        let a = world.a;
        world.sim.write(a, crate::world::DB_VOLUME, 100 << 20, &vec![7; 16 << 20]).unwrap();
        let now = world.now();
        world.sim.schedule_fault(
            now + Duration::from_millis(55),
            Fault::LinkDown { from: world.a, to: world.b, direction: Direction::Both },
        );
        let report = world.backup();
        assert!(report.remote_copy_failure.is_some(), "{report:?}");
        assert!(violated(&world).contains(&"entries_reference_existing_copies"), "{:?}", violated(&world));
    }

    #[test]
    fn secondary_snapshot_before_sync_is_caught_by_content() {
        // Goal: remote copies taken before the sync carried the data differ from the primary
        // copies: `periodic_remote_after_sync`.
        let mut world = world(71, Replication::Periodic(None), Defect::SecondarySnapshotBeforeSync);
        world.work(50);
        world.backup();
        assert!(violated(&world).contains(&"periodic_remote_after_sync"), "{:?}", violated(&world));
    }

    #[test]
    fn keep_local_entry_in_periodic_is_caught_as_a_double_reference() {
        // Goal: keeping the local entry after the remote one records the primary copies twice:
        // `engine_copies_referenced_once`.
        let mut world = world(72, Replication::Periodic(None), Defect::KeepLocalEntryInPeriodic);
        world.work(20);
        world.backup();
        assert!(violated(&world).contains(&"engine_copies_referenced_once"), "{:?}", violated(&world));
    }

    #[test]
    fn copy_outside_freeze_is_caught_by_the_copy_instants() {
        // Goal: copies taken after the writers were thawed fall outside the recorded freeze
        // window: `copies_inside_freeze`. In every mode.
        for (seed, replication) in
            [(73, Replication::None), (74, Replication::Synchronous), (75, Replication::Periodic(None))]
        {
            let mut world = world(seed, replication, Defect::CopyOutsideFreeze);
            world.work(20);
            world.backup();
            assert!(violated(&world).contains(&"copies_inside_freeze"), "{replication:?}: {:?}", violated(&world));
        }
    }

    #[test]
    fn the_correct_engine_passes_the_same_scenarios() {
        // Goal: the scenarios above are not failing for another reason: without the defect the
        // invariants hold.
        let mut world = World::new(71, Replication::Periodic(None));
        world.work(50);
        world.backup();
        assert!(violated(&world).is_empty(), "{:?}", violated(&world));
    }
}

#[cfg(not(feature = "defects"))]
#[test]
fn defects_are_refused_without_the_feature() {
    // Goal: a build without the `defects` feature cannot run a wrong variant.
    let error = std::panic::catch_unwind(|| ()).map(|()| {
        let dir = tempfile::tempdir().unwrap();
        let sim = simulator::Simulation::new(1);
        let mut config = crate::world::config(dir.path(), sim.primary(), sim.backup());
        config.defect = Some(recovery::engine::Defect::CopyOutsideFreeze);
        recovery::engine::Engine::new(config).unwrap_err()
    });
    let error = error.unwrap();
    assert!(matches!(error, recovery::Error::Engine(recovery::engine::EngineError::DefectsNotCompiled)), "{error}");
}
