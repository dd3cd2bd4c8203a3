//! Property test: random campaigns as a proptest state machine, every invariant after every step.
//!
//! The transitions are the campaign's own steps (`harness::campaign::generate_step`), so what
//! `storeserv-sim check` explores and what this test explores is one generator; proptest adds
//! shrinking by removing transitions. On a failure the minimal case is written as a scenario file
//! and the panic message is the replay banner.
//!
//! Budget: `PROPTEST_CASES` cases (default 256) of up to `SIM_STEPS` steps (default 100); CI runs
//! the defaults, longer runs are opt-in: `PROPTEST_CASES=500 SIM_STEPS=300 cargo test --release
//! --test tests harness::properties`.

use std::sync::OnceLock;

use harness::campaign::{CampaignConfig, FaultKind};
use harness::scenario::StepToml;
use harness::world::{BuildOptions, World};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

/// Cases per run (`PROPTEST_CASES`, default 256).
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Most steps per case (`SIM_STEPS`, default 100).
pub fn max_steps() -> usize {
    std::env::var("SIM_STEPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

fn config() -> &'static CampaignConfig {
    static CONFIG: OnceLock<CampaignConfig> = OnceLock::new();
    CONFIG.get_or_init(|| CampaignConfig::new(FaultKind::parse_list("all").expect("known kinds")))
}

/// The reference state: the case's seed (the world's seed). Steps carry no state-dependent
/// choice, so the reference needs nothing else.
pub struct Campaign;

impl ReferenceStateMachine for Campaign {
    type State = u64;
    type Transition = StepToml;

    fn init_state() -> BoxedStrategy<u64> {
        any::<u64>().boxed()
    }

    fn transitions(_state: &u64) -> BoxedStrategy<StepToml> {
        any::<u64>().prop_map(|entropy| harness::campaign::generate_step(entropy, &config().faults)).boxed()
    }

    fn apply(state: u64, _transition: &StepToml) -> u64 {
        state
    }
}

/// The system under test: a world built from the campaign setup, plus what was applied (for the
/// replay file).
pub struct Sut {
    world: World,
    /// With a defect: the same steps on the correct engine, so a violation counts only when the
    /// correct engine does not show it too (a real bug is not a caught defect).
    shadow: Option<World>,
    seed: u64,
    steps: Vec<StepToml>,
    violations: Vec<simulator::invariants::Violation>,
    /// The deliberately wrong engine variant the world runs, which the banner's replay command
    /// must name.
    defect: Option<harness::Defect>,
}

/// Builds the system under test, optionally with a deliberately wrong engine variant.
pub fn init(seed: u64, defect: Option<harness::Defect>) -> Sut {
    let mut options = BuildOptions::new(seed);
    options.collect_timeline = false;
    options.trace_capacity = 0;
    options.defect = defect;
    let world = World::build(&config().scenario, options).unwrap_or_else(|e| panic!("campaign setup: {e}"));
    let shadow = defect.map(|_| {
        let mut options = options;
        options.defect = None;
        World::build(&config().scenario, options).unwrap_or_else(|e| panic!("campaign setup: {e}"))
    });
    Sut { world, shadow, seed, steps: Vec::new(), violations: Vec::new(), defect }
}

/// Applies one step and records its violations.
pub fn apply(mut sut: Sut, step: StepToml) -> Sut {
    let validated = config().scenario.step(&step).unwrap_or_else(|e| panic!("generated step invalid: {e}"));
    let mut violations = harness::campaign::step_guarded(&mut sut.world, &validated.action);
    if let Some(shadow) = sut.shadow.as_mut() {
        let correct = harness::campaign::step_guarded(shadow, &validated.action);
        violations.retain(|v| !correct.iter().any(|c| c.invariant == v.invariant));
    }
    sut.steps.push(step);
    sut.violations = violations;
    sut
}

/// Panics with the replay banner when the last step broke an invariant; writes the case as a
/// scenario under `target/proptest-failures/`.
pub fn check(sut: &Sut) {
    if sut.violations.is_empty() {
        return;
    }
    let invariant = sut.violations[0].invariant.to_owned();
    let failure = harness::campaign::Failure {
        campaign_seed: sut.seed,
        case: 0,
        case_seed: sut.seed,
        invariant: invariant.clone(),
        violations: sut.violations.clone(),
        original_steps: sut.steps.len(),
        steps: sut.steps.clone(),
        defect: sut.defect,
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/proptest-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{invariant}-{}.toml", sut.seed));
    let _ = std::fs::write(&path, failure.scenario_toml(config()));
    panic!("{}", failure.banner(&path.display().to_string()));
}

/// The state machine test with the correct engine.
pub struct Correct;

impl StateMachineTest for Correct {
    type SystemUnderTest = Sut;
    type Reference = Campaign;

    fn init_test(seed: &u64) -> Sut {
        init(*seed, None)
    }

    fn apply(sut: Sut, _seed: &u64, step: StepToml) -> Sut {
        apply(sut, step)
    }

    fn check_invariants(sut: &Sut, _seed: &u64) {
        check(sut);
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: cases(),
        max_shrink_iters: 4096,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("tests/harness/properties.regressions"))),
        .. Config::default()
    })]

    // Goal: no invariant breaks, after any step, in random campaigns with faults mid-workflow.
    // Method: proptest state machine over the campaign generator; shrinking removes steps.
    #[test]
    fn random_campaigns_keep_every_invariant(sequential 1..max_steps() => Correct);
}
