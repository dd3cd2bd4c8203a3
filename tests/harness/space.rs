//! Snapshot space running out in campaigns (`--faults space`): the generator's CPG growth limits
//! and policy switches must really make backups' copies stale and refuse writes, or the property
//! tests and `check` would explore the recovery engine against stale copies in name only.
//!
//! Method: 20 generated cases of 200 steps with only the `space` fault kind, every invariant
//! after every step (as `check` runs them), tallying what the steps met. Each outcome below must
//! occur at least once; the tallies are printed for the record. A second test runs one case by
//! hand: a FULL backup whose log truncation runs out of space.

use std::collections::BTreeSet;

use harness::campaign::{CampaignConfig, FaultKind, case_seed, generate_case};
use harness::scenario::Action;
use harness::world::{BuildOptions, World};
use recovery::repository::Site;

#[derive(Debug, Default)]
struct Tallies {
    /// Copies named by a repository entry seen stale after some step.
    stale_copies: BTreeSet<(u64, String)>,
    /// Of those, copies no entry named any more at the end of their case (removed by policy,
    /// expiry or a remove step).
    stale_copies_removed: usize,
    /// Steps refused with `NO_SPACE` (writes of a database under `no_stale_ss`).
    no_space: usize,
    /// Verify, mount and restore steps refused because a copy is stale (942).
    stale_refused: usize,
    /// Backups that succeeded while an older entry of the same database had a stale copy.
    backups_beside_stale: usize,
}

/// Every copy the running repositories' entries name: its database, `array:copy`, and whether
/// it is stale now.
fn named_copies(world: &World) -> Vec<(String, String, bool)> {
    let mut found = Vec::new();
    for site in [Site::Local, Site::Remote] {
        let Some(repository) = world.engine.repository(site) else { continue };
        for entry in repository.entries().values() {
            for copy in &entry.copies {
                let stale = world
                    .sim
                    .array_by_name(&copy.array)
                    .and_then(|a| world.sim.array(a).volume(&copy.copy_volume).ok())
                    .is_some_and(simulator::Volume::is_stale);
                found.push((entry.key.database.to_string(), format!("{}:{}", copy.array, copy.copy_volume), stale));
            }
        }
    }
    found
}

/// The stale ones of [`named_copies`], with their database.
fn stale_named(world: &World) -> BTreeSet<(String, String)> {
    named_copies(world).into_iter().filter(|(_, _, stale)| *stale).map(|(db, copy, _)| (db, copy)).collect()
}

// Goal: campaigns of the `space` kind reach every snapshot-space outcome the recovery engine
// must live with — copies of recorded backups going stale, database writes refused, verifies,
// mounts and restores of stale backups refused, new backups beside stale ones, stale backups
// removed — with no invariant broken.
#[test]
fn space_campaigns_make_copies_stale_and_refuse_writes() {
    let config = CampaignConfig::new(FaultKind::parse_list("space").expect("known kind"));
    let mut tallies = Tallies::default();
    for case in 0..20u64 {
        let seed = case_seed(7, case);
        let mut options = BuildOptions::new(seed);
        options.collect_timeline = false;
        options.trace_capacity = 0;
        let mut world = World::build(&config.scenario, options).expect("campaign setup");
        let mut seen_stale: BTreeSet<(String, String)> = BTreeSet::new();
        for (i, toml) in generate_case(seed, 200, &config.faults).iter().enumerate() {
            let step = config.scenario.step(toml).expect("generated steps validate");
            let stale_before = stale_named(&world);
            let (result, _, violations) = world.step(&step.action);
            assert!(violations.is_empty(), "case {case} step {i} ({toml:?}): {violations:?}");
            let error = result.error.as_deref().unwrap_or_default();
            if error.contains("NO_SPACE") {
                tallies.no_space += 1;
            }
            if error.contains("INV_OPERATION_VV_SNAPSHOT_STALE")
                && matches!(step.action, Action::Verify(_) | Action::Mount { .. } | Action::Restore(..))
            {
                tallies.stale_refused += 1;
            }
            if let Action::Backup(plan) = &step.action
                && result.ok
                && stale_before.iter().any(|(db, _)| *db == plan.database)
            {
                tallies.backups_beside_stale += 1;
            }
            seen_stale.extend(stale_named(&world));
        }
        let named: BTreeSet<String> = named_copies(&world).into_iter().map(|(_, copy, _)| copy).collect();
        tallies.stale_copies_removed += seen_stale.iter().filter(|(_, copy)| !named.contains(copy)).count();
        tallies.stale_copies.extend(seen_stale.into_iter().map(|(_, copy)| (case, copy)));
    }
    println!("{tallies:?}");
    assert!(!tallies.stale_copies.is_empty(), "no recorded copy went stale: {tallies:?}");
    assert!(tallies.stale_copies_removed > 0, "no stale copy was removed: {tallies:?}");
    assert!(tallies.no_space > 0, "no write was refused: {tallies:?}");
    assert!(tallies.stale_refused > 0, "no verify, mount or restore met a stale copy: {tallies:?}");
    assert!(tallies.backups_beside_stale > 0, "no backup ran beside a stale one: {tallies:?}");
}

// Goal: a FULL backup whose log truncation runs out of space (`no_stale_ss`, a 0 MiB snapshot
// CPG) stands — its entry and valid copies stay — while the step says BackupComplete failed and
// why, and the database, taken offline by the I/O error as Exchange does, mounts again once the
// limit is gone.
#[test]
fn a_backup_whose_log_truncation_runs_out_of_space_stands_and_says_so() {
    let text = r#"
[scenario]
name = "truncation out of space"
seed = 1
[[cpg]]
array = "SIM-A"
name = "FC_r6"
[[cpg]]
array = "SIM-A"
name = "SNAP"
[exchange]
server = "MBX01"
[[database]]
name = "DB1"
cpg = "FC_r6"
snap_cpg = "SNAP"
[backup_servers]
local = "BKP-LOCAL"
[[step]]
write = { database = "DB1", transactions = 400 }
[[step]]
backup = { database = "DB1" }
[[step]]
write = { database = "DB1", transactions = 400 }
[[step]]
snapshot_policy = { database = "DB1", stale_ss = false }
[[step]]
cpg_growth_limit = { array = "SIM-A", cpg = "SNAP", mib = 0 }
[[step]]
backup = { database = "DB1" }
outcome = "ok"
[[step]]
verify = { database = "DB1" }
outcome = "ok"
[[step]]
write = { database = "DB1", transactions = 1 }
error_contains = "not mounted"
[[step]]
cpg_growth_limit = { array = "SIM-A", cpg = "SNAP" }
[[step]]
mount_database = "DB1"
outcome = "ok"
[[step]]
write = { database = "DB1", transactions = 1 }
outcome = "ok"
[[step]]
expect = { database = "DB1", local_entries = 2, recoverable = true }
"#;
    let scenario = harness::scenario::parse("truncation.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let report = harness::runner::run(&scenario, harness::runner::RunOptions::default()).unwrap();
    let detail = &report.steps[5].detail;
    assert!(detail.contains("BackupComplete failed") && detail.contains("NO_SPACE"), "{detail}");
    assert!(report.passed(), "{}", harness::report::text(&report));
}
