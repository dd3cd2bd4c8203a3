//! Harness benches (issue 5).
//!
//! `campaign/steps_200`: wall time of one campaign case of 200 generated steps (the campaign's
//! setup, workload, backups in all modes, policies, mounts, restores, faults mid-workflow) with
//! every invariant checked after every step — what `storeserv-sim check` does per case. The
//! target is ≥ 5,000 steps/s on one core; criterion's throughput line gives steps/s.
//! The world's setup (arrays, databases, initial syncs) is built once per iteration and included.
//!
//! `invariants/{simulator,recovery,harness,all}/copies=N`: one pass of the invariants over a world
//! holding N engine-made virtual copies (N/2 backups of a database in no Remote Copy group, both
//! volumes copied), to show how the cost grows with the number of copies. Expectation: linear in
//! N (every layer walks the volumes or the entries once; content checks compare page-map
//! pointers first, so an unchanged copy costs O(1)).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use harness::campaign::{self, CampaignConfig, FaultKind};
use harness::scenario::toml_format::{BackupArgs, WriteArgs};
use harness::scenario::{PolicyToml, StepToml};
use harness::world::{BuildOptions, World};

fn campaign(c: &mut Criterion) {
    let config = CampaignConfig::new(FaultKind::parse_list("all").unwrap());
    let mut group = c.benchmark_group("campaign");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(200));
    let mut case = 0u64;
    group.bench_function("steps_200", |b| {
        b.iter(|| {
            // A different case each iteration, so the figure averages over what campaigns do.
            case += 1;
            let seed = campaign::case_seed(1, case);
            let steps = campaign::generate_case(seed, 200, &config.faults);
            let outcome = campaign::run_case(&config, seed, &steps);
            assert!(outcome.violation.is_none(), "campaign case {case} broke an invariant: {:?}", outcome.violation);
            outcome.steps
        })
    });
    group.finish();
}

/// A world with `copies` engine-made virtual copies (two per backup of DB-NONE).
fn world_with_copies(copies: usize) -> World {
    let config = CampaignConfig::new(FaultKind::parse_list("none").unwrap());
    let mut options = BuildOptions::new(7);
    options.collect_timeline = false;
    options.trace_capacity = 0;
    let mut world = World::build(&config.scenario, options).unwrap();
    let policy = StepToml {
        set_policy: Some(PolicyToml { database: "DB-NONE".into(), max_copies: Some(10_000), ..PolicyToml::default() }),
        ..StepToml::default()
    };
    let steps = [
        policy,
        StepToml {
            write: Some(WriteArgs { database: Some("DB-NONE".into()), transactions: Some(2), ..WriteArgs::default() }),
            ..StepToml::default()
        },
        StepToml {
            backup: Some(BackupArgs { database: "DB-NONE".into(), ..BackupArgs::default() }),
            ..StepToml::default()
        },
        StepToml { advance: Some(harness::scenario::DurationText(Duration::from_secs(1))), ..StepToml::default() },
    ];
    let validated: Vec<_> = steps.iter().map(|s| config.scenario.step(s).unwrap()).collect();
    world.apply(&validated[0].action);
    for _ in 0..copies / 2 {
        for step in &validated[1..] {
            let result = world.apply(&step.action);
            assert!(result.ok, "{}: {:?}", result.detail, result.error);
            world.settle();
        }
    }
    assert!(harness::invariants::check_all(&world).is_empty());
    world
}

fn invariants(c: &mut Criterion) {
    let mut group = c.benchmark_group("invariants");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    for copies in [16usize, 64, 256, 512] {
        let world = world_with_copies(copies);
        group.bench_with_input(BenchmarkId::new("simulator", format!("copies={copies}")), &world, |b, w| {
            b.iter(|| harness::invariants::simulator_invariants::check_all(&w.sim))
        });
        group.bench_with_input(BenchmarkId::new("recovery", format!("copies={copies}")), &world, |b, w| {
            b.iter(|| harness::invariants::recovery_invariants::check_all(&w.sim, &w.engine))
        });
        group.bench_with_input(BenchmarkId::new("harness", format!("copies={copies}")), &world, |b, w| {
            b.iter(|| harness::invariants::HARNESS.iter().map(|(_, check)| check(w).len()).sum::<usize>())
        });
        group.bench_with_input(BenchmarkId::new("all", format!("copies={copies}")), &world, |b, w| {
            b.iter(|| harness::invariants::check_all(w))
        });
    }
    group.finish();
}

criterion_group!(benches, campaign, invariants);
criterion_main!(benches);
