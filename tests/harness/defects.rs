//! The harness proves it can fail: each deliberately wrong engine variant (`recovery` feature
//! `defects`) is caught by the property test within a bounded number of cases.
//!
//! Each step runs on the defective engine and, in a shadow world, on the correct one; a violation
//! counts only if the correct engine does not break the same invariant on the same steps, so a
//! real engine bug can never pass for a caught defect.

use harness::Defect;

use super::properties::{Campaign, Sut, apply, check, init};
use proptest::test_runner::{Config, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

/// Most cases a defect may take to be caught.
const CASES_BOUND: u32 = 400;

macro_rules! defect_machine {
    ($name:ident, $defect:expr) => {
        struct $name;
        impl StateMachineTest for $name {
            type SystemUnderTest = Sut;
            type Reference = Campaign;
            fn init_test(seed: &u64) -> Sut {
                init(*seed, Some($defect))
            }
            fn apply(sut: Sut, _seed: &u64, step: harness::scenario::StepToml) -> Sut {
                apply(sut, step)
            }
            fn check_invariants(sut: &Sut, _seed: &u64) {
                check(sut);
            }
        }
    };
}

defect_machine!(RemoteEntryBeforeSync, Defect::RemoteEntryBeforeSync);
defect_machine!(CopyOutsideFreeze, Defect::CopyOutsideFreeze);
defect_machine!(KeepLocalEntryInPeriodic, Defect::KeepLocalEntryInPeriodic);
defect_machine!(SecondarySnapshotBeforeSync, Defect::SecondarySnapshotBeforeSync);

/// Runs the property test against machine `M` with a fixed seed and at most `CASES_BOUND`
/// cases; returns the failure message if one was found.
fn caught<M: StateMachineTest<Reference = Campaign>>() -> Option<String> {
    let config = Config {
        cases: CASES_BOUND,
        max_shrink_iters: 256,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config.clone(),
        proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm),
    );
    let strategy = Campaign::sequential_strategy(1..80);
    // Cases run until the first failure (shrinking runs more, not counted).
    let cases = std::cell::Cell::new(0u32);
    let failed = std::cell::Cell::new(false);
    let result = runner.run(&strategy, |(seed, transitions, seen)| {
        if !failed.get() {
            cases.set(cases.get() + 1);
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            M::test_sequential(config.clone(), seed, transitions, seen)
        }));
        if let Err(payload) = outcome {
            failed.set(true);
            std::panic::resume_unwind(payload);
        }
        Ok(())
    });
    eprintln!("caught after {} case(s)", cases.get());
    result.err().map(|e| e.to_string())
}

/// The invariant named in a failure's banner.
fn broken(failure: &str) -> String {
    failure.split("VIOLATION  ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or("?").to_owned()
}

// Goal: each wrong variant is caught within CASES_BOUND cases, and by an invariant about what
// it does wrong. Method: the property test's state machine with the defect switched on (and the
// correct engine as a shadow), a deterministic proptest RNG, the broken invariant read from the
// replay banner.
#[test]
fn remote_entry_before_sync_is_caught() {
    let failure = caught::<RemoteEntryBeforeSync>().expect("caught within the bound");
    let name = broken(&failure);
    assert!(
        ["periodic_remote_after_sync", "periodic_remote_copy_after_sync", "entries_reference_existing_copies"]
            .contains(&name.as_str()),
        "{failure}"
    );
}

#[test]
fn copy_outside_freeze_is_caught() {
    let failure = caught::<CopyOutsideFreeze>().expect("caught within the bound");
    let name = broken(&failure);
    assert!(["copies_inside_freeze", "backup_copies_inside_freeze"].contains(&name.as_str()), "{failure}");
}

#[test]
fn keep_local_entry_in_periodic_is_caught() {
    let failure = caught::<KeepLocalEntryInPeriodic>().expect("caught within the bound");
    let name = broken(&failure);
    assert!(
        ["periodic_local_entry_handed_over", "engine_copies_referenced_once", "policy_placement"]
            .contains(&name.as_str()),
        "{failure}"
    );
}

#[test]
fn secondary_snapshot_before_sync_is_caught() {
    let failure = caught::<SecondarySnapshotBeforeSync>().expect("caught within the bound");
    let name = broken(&failure);
    assert!(
        ["periodic_remote_after_sync", "periodic_remote_copy_after_sync", "backup_image_matches_reference"]
            .contains(&name.as_str()),
        "{failure}"
    );
}
