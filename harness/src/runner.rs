//! Runs a scenario: builds its world, applies each step, checks every invariant after each, and
//! collects a [`RunReport`].
//!
//! What it holds: [`run`] and the report's data ([`RunReport`], [`StepReport`], [`SiteReport`],
//! [`ArrayReport`]); rendering is [`crate::report`].
//!
//! What it does not do: print, write files or exit (the CLI does); stop at the first failure
//! (every step runs, so a report shows everything that went wrong).
//!
//! Main design choice: the report is plain data that serialises to JSON (`--json`) and renders to
//! text; the text is what the fixtures' snapshot tests pin. The cost: everything shown must be
//! computed even when nobody reads it (a few lists per run).

use serde::Serialize;
use simulator::invariants::Violation;

use crate::scenario::{Action, Expectation, Scenario};
use crate::timeline::{Lane, TimelineEvent};
use crate::world::{BuildOptions, SetupError, World, WorldStats, site_name};

/// One broken invariant, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationReport {
    /// Invariant (function) name.
    pub invariant: String,
    /// Spec item.
    pub spec: String,
    /// What is wrong.
    pub detail: String,
}

impl From<&Violation> for ViolationReport {
    fn from(v: &Violation) -> Self {
        ViolationReport { invariant: v.invariant.to_owned(), spec: v.spec.to_owned(), detail: v.detail.clone() }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Position, from 1.
    pub index: usize,
    /// The step's label, if it has one.
    pub label: Option<String>,
    /// What the step does.
    pub action: String,
    /// Virtual seconds since the first step started, at the step's start.
    pub started_secs: f64,
    /// ... and at its end.
    pub ended_secs: f64,
    /// Whether the action succeeded.
    pub ok: bool,
    /// What happened.
    pub detail: String,
    /// The error, if it failed.
    pub error: Option<String>,
    /// The expectation, if any, in words.
    pub expected: Option<String>,
    /// Whether the expectation (and `expect` checks) held.
    pub expectation_met: bool,
    /// The engine's tick failed after the step.
    pub tick_error: Option<String>,
    /// Invariants broken after the step.
    pub violations: Vec<ViolationReport>,
}

/// One repository entry, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    /// Database.
    pub database: String,
    /// Backup id.
    pub backup_id: String,
    /// Mode.
    pub mode: String,
    /// Copies (array:name).
    pub copies: Vec<String>,
    /// Copies retained on the primary (periodic).
    pub retained_on_primary: Vec<String>,
    /// Mounted on (host), if mounted.
    pub mounted_on: Option<String>,
}

/// One backup server's repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteReport {
    /// `local` or `remote`.
    pub site: String,
    /// Whether the server is up (its repository loaded).
    pub up: bool,
    /// Entries, oldest first.
    pub entries: Vec<EntryReport>,
}

/// One array's state at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrayReport {
    /// Name.
    pub name: String,
    /// Online.
    pub online: bool,
    /// Virtual copies made for backups and mounts (Remote Copy's internal snapshots excluded).
    pub copies: Vec<String>,
    /// Remote Copy's internal snapshots.
    pub internal_snapshots: usize,
    /// Groups: name, role, state.
    pub groups: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Description.
    pub description: String,
    /// Seed used.
    pub seed: u64,
    /// Steps.
    pub steps: Vec<StepReport>,
    /// Repositories at the end.
    pub sites: Vec<SiteReport>,
    /// Arrays at the end.
    pub arrays: Vec<ArrayReport>,
    /// Bytes Remote Copy sent (syncs and synchronous writes), all groups.
    pub bytes_replicated: u64,
    /// Invariants checked after each step.
    pub invariants_checked: usize,
    /// Counters.
    pub transactions: u64,
    /// Backups that succeeded.
    pub backups_ok: u64,
    /// Backups that failed.
    pub backups_failed: u64,
    /// Faults that took effect: scheduled ones whose time came, workflow faults, backup server
    /// crashes.
    pub faults: u64,
    /// Faults scheduled on the timeline (plan and fault steps) whose time never came: the run
    /// ended first. Each says which fault and when it was due.
    pub faults_never_fired: Vec<String>,
    /// Violations in all.
    pub violations: usize,
    /// Steps whose expectation failed.
    pub expectations_failed: usize,
    /// Virtual seconds the steps took.
    pub virtual_secs: f64,
    /// Timeline (not serialised).
    #[serde(skip)]
    pub timeline: Vec<TimelineEvent>,
    /// Lanes of the timeline (not serialised).
    #[serde(skip)]
    pub lanes: Vec<(Lane, String)>,
}

impl RunReport {
    /// Whether the run passed: no violation and every expectation met.
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.expectations_failed == 0
    }
}

/// Options of [`run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Seed override.
    pub seed: Option<u64>,
    /// A deliberately wrong engine variant (test-only).
    pub defect: Option<crate::engine::Defect>,
}

/// Runs `scenario`.
///
/// Errors: [`SetupError`] when the setup itself is refused by the model.
pub fn run(scenario: &Scenario, options: RunOptions) -> Result<RunReport, SetupError> {
    run_keeping_world(scenario, options).map(|(report, _)| report)
}

/// Runs `scenario` like [`run`] and also returns the world in the state the last step left it
/// (what `serve --scenario` serves). The report's timeline is moved out of the world.
///
/// Errors: [`SetupError`] when the setup itself is refused by the model.
pub fn run_keeping_world(scenario: &Scenario, options: RunOptions) -> Result<(RunReport, World), SetupError> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let mut build = BuildOptions::new(seed);
    build.defect = options.defect;
    let mut world = World::build(scenario, build)?;
    let invariants = crate::invariants::registry().len();
    let mut steps = Vec::new();
    let setup_violations = crate::invariants::check_all(&world);
    if !setup_violations.is_empty() {
        steps.push(StepReport {
            index: 0,
            label: Some("setup".into()),
            action: "setup".into(),
            started_secs: 0.0,
            ended_secs: 0.0,
            ok: true,
            detail: "setup".into(),
            error: None,
            expected: None,
            expectation_met: true,
            tick_error: None,
            violations: setup_violations.iter().map(Into::into).collect(),
        });
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let started = world.sim.now();
        world.timeline.push(TimelineEvent {
            at: started,
            lane: Lane::Steps,
            kind: "step",
            text: format!("{}: {}", i + 1, describe(&step.action)),
            end: None,
        });
        let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.step(&step.action)));
        let (result, tick_error, violations) = match guarded {
            Ok(outcome) => outcome,
            Err(payload) => {
                // A panic inside the model is a bug it asserts against: report it as a violation
                // and stop, the world being unusable after it.
                let violation = crate::campaign::model_panic(payload.as_ref());
                steps.push(StepReport {
                    index: i + 1,
                    label: step.toml.label.clone(),
                    action: describe(&step.action),
                    started_secs: (started - world.start).as_secs_f64(),
                    ended_secs: (started - world.start).as_secs_f64(),
                    ok: false,
                    detail: "the model panicked".to_owned(),
                    error: None,
                    expected: None,
                    expectation_met: true,
                    tick_error: None,
                    violations: vec![(&violation).into()],
                });
                break;
            }
        };
        let met = result.expect_failures.is_empty()
            && match &step.expectation {
                Expectation::Any => true,
                Expectation::Ok => result.ok,
                Expectation::Error(None) => !result.ok,
                Expectation::Error(Some(text)) => {
                    !result.ok && result.error.as_deref().is_some_and(|e| e.contains(text.as_str()))
                }
            };
        let expected = match &step.expectation {
            Expectation::Any => None,
            Expectation::Ok => Some("ok".to_owned()),
            Expectation::Error(None) => Some("an error".to_owned()),
            Expectation::Error(Some(text)) => Some(format!("an error containing \"{text}\"")),
        };
        steps.push(StepReport {
            index: i + 1,
            label: step.toml.label.clone(),
            action: describe(&step.action),
            started_secs: (started - world.start).as_secs_f64(),
            ended_secs: (world.sim.now() - world.start).as_secs_f64(),
            ok: result.ok,
            detail: result.detail,
            error: result.error,
            expected,
            expectation_met: met,
            tick_error,
            violations: violations.iter().map(Into::into).collect(),
        });
    }
    let report = finish(scenario, seed, &mut world, steps, invariants);
    Ok((report, world))
}

fn finish(scenario: &Scenario, seed: u64, world: &mut World, steps: Vec<StepReport>, invariants: usize) -> RunReport {
    let server = world.server.clone().unwrap_or_default();
    let mut sites = Vec::new();
    for site in [recovery::repository::Site::Local, recovery::repository::Site::Remote] {
        if site == recovery::repository::Site::Remote && !world.has_remote() {
            continue;
        }
        let repository = world.engine.repository(site);
        let entries = repository
            .map(|r| {
                r.entries()
                    .values()
                    .filter(|e| e.key.server == server)
                    .map(|e| EntryReport {
                        database: e.key.database.to_string(),
                        backup_id: e.key.backup_id.to_string(),
                        mode: format!("{:?}", e.mode).to_lowercase(),
                        copies: e.copies.iter().map(|c| format!("{}:{}", c.array, c.copy_volume)).collect(),
                        retained_on_primary: e
                            .retained_on_primary
                            .iter()
                            .map(|c| format!("{}:{}", c.array, c.copy_volume))
                            .collect(),
                        mounted_on: e.mounted.as_ref().map(|m| m.host.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        sites.push(SiteReport { site: site_name(site).to_owned(), up: repository.is_some(), entries });
    }
    let mut arrays = Vec::new();
    let mut bytes_replicated = 0;
    for array in world.sim.arrays() {
        let copies = array
            .volumes()
            .filter(|v| v.is_virtual_copy() && !v.name.starts_with("rcpy."))
            .map(|v| v.name.clone())
            .collect();
        let internal_snapshots = array.volumes().filter(|v| v.name.starts_with("rcpy.")).count();
        let groups = array
            .remote_copy()
            .groups()
            .map(|g| format!("{} {} {:?} ({:?})", g.name, g.role.as_str(), g.state, g.mode))
            .collect();
        for group in array.remote_copy().groups().filter(|g| g.role.is_source()) {
            bytes_replicated += group.volumes.iter().map(|v| v.stats.total_bytes_sent).sum::<u64>();
        }
        arrays.push(ArrayReport {
            name: array.name().to_owned(),
            online: array.is_online(),
            copies,
            internal_snapshots,
            groups,
        });
    }
    let mut lanes = vec![(Lane::Steps, "steps".to_owned())];
    for (i, array) in world.sim.arrays().enumerate() {
        lanes.push((Lane::Array(i), format!("array {}", array.name())));
        if i == 0 && world.sim.arrays().count() > 1 {
            lanes.push((Lane::Links, "Remote Copy links".to_owned()));
        }
    }
    lanes.push((Lane::BackupServer(recovery::repository::Site::Local), "local backup server".to_owned()));
    if world.has_remote() {
        lanes.push((Lane::BackupServer(recovery::repository::Site::Remote), "remote backup server".to_owned()));
    }
    let stats: WorldStats = world.stats();
    let ended = world.sim.now();
    let faults_never_fired: Vec<String> = world
        .scheduled_faults()
        .filter(|(_, fired)| !fired)
        .map(|(f, _)| {
            format!(
                "{} ({}) never fired: due at {}, the run ended at {}",
                f.origin,
                world.describe_fault(f.fault),
                crate::scenario::human(f.at - world.start),
                crate::scenario::human(ended - world.start)
            )
        })
        .collect();
    RunReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        seed,
        violations: steps.iter().map(|s| s.violations.len()).sum(),
        expectations_failed: steps.iter().filter(|s| !s.expectation_met).count(),
        virtual_secs: (world.sim.now() - world.start).as_secs_f64(),
        steps,
        sites,
        arrays,
        bytes_replicated,
        invariants_checked: invariants,
        transactions: stats.transactions,
        backups_ok: stats.backups_ok,
        backups_failed: stats.backups_failed,
        faults: stats.faults,
        faults_never_fired,
        timeline: std::mem::take(&mut world.timeline),
        lanes,
    }
}

/// A step's action in a few words.
pub fn describe(action: &Action) -> String {
    use crate::scenario::{BackupSelector, CopySelector, DurationText};
    let copy = |c: &CopySelector| {
        let which = match &c.backup {
            BackupSelector::Latest => "latest".to_owned(),
            BackupSelector::Oldest => "oldest".to_owned(),
            BackupSelector::Newest(n) => format!("#{n}"),
            BackupSelector::Id(id) => id.clone(),
        };
        match c.site {
            Some(site) => format!("{} {which} ({})", c.database, site_name(site)),
            None => format!("{} {which}", c.database),
        }
    };
    match action {
        Action::Transactions { database, count } => format!("write {count} transactions to {database}"),
        Action::WriteVolume { volume, offset, length } => format!("write {length} bytes at {offset} of {volume}"),
        Action::Backup(plan) => {
            let mut text = format!("backup {} ({})", plan.database, format!("{:?}", plan.backup_type).to_lowercase());
            if let Some((step, fault)) = &plan.fault {
                text.push_str(&format!(", {fault:?} at {}", step.name()));
            }
            if let Some((step, fault)) = &plan.vss_fault {
                text.push_str(&format!(", VSS {fault:?} at {}", crate::scenario::vss_step_name(*step)));
            }
            text
        }
        Action::Sync { group, .. } => format!("sync {group}"),
        Action::Advance(d) => format!("advance {}", DurationText(*d)),
        Action::Fault { after, fault } => {
            if after.is_zero() {
                format!("fault {fault:?}")
            } else {
                format!("fault {fault:?} in {}", DurationText(*after))
            }
        }
        Action::Failover { group, .. } => format!("failover {group}"),
        Action::Recover { group, .. } => format!("recover {group}"),
        Action::RcRestore { group, .. } => format!("rc restore {group}"),
        Action::RcStart { group, .. } => format!("start {group}"),
        Action::RcStop { group } => format!("stop {group}"),
        Action::Mount { copy: c, host } => format!("mount {} on {host}", copy(c)),
        Action::Unmount(c) => format!("unmount {}", copy(c)),
        Action::Restore(c, kind) => {
            let how = match kind {
                crate::engine::RestoreKind::VolumePromote => "volume promote".to_owned(),
                crate::engine::RestoreKind::FileCopy { host } => format!("file copy via {host}"),
                crate::engine::RestoreKind::DatabaseFromRemote { host } => format!("database from remote, on {host}"),
            };
            format!("restore {} ({how})", copy(c))
        }
        Action::Verify(c) => format!("verify {}", copy(c)),
        Action::Remove(c) => format!("remove {}", copy(c)),
        Action::SetPolicy { database, .. } => format!("set policy of {database}"),
        Action::CrashBackupServer(site) => format!("crash {} backup server", site_name(*site)),
        Action::RestartBackupServer(site) => format!("restart {} backup server", site_name(*site)),
        Action::MountDatabase(db) => format!("mount database {db}"),
        Action::CpgGrowthLimit { array, cpg, limit } => {
            let limit = match limit {
                crate::scenario::GrowthLimit::None => "none".to_owned(),
                crate::scenario::GrowthLimit::Mib(mib) => format!("{mib} MiB"),
                crate::scenario::GrowthLimit::Headroom(mib) => format!("{mib} MiB above its use"),
            };
            format!("growth limit of CPG {cpg} on {array}: {limit}")
        }
        Action::SnapshotPolicy { database, stale_ss } => {
            format!("snapshot policy of {database}: {}", if *stale_ss { "stale_ss" } else { "no_stale_ss" })
        }
        Action::Expect(_) => "expect".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The review's minimal scenario (`B.toml`): the scenario tests' setup with its backup
    /// servers.
    fn b() -> String {
        format!("{}[backup_servers]\nlocal = \"L\"\nremote = \"R\"\n", crate::scenario::tests::B_HEAD)
    }

    fn run_b(extra: &str) -> Result<RunReport, SetupError> {
        let scenario = crate::scenario::parse("b.toml", &format!("{}{extra}", b())).unwrap_or_else(|e| panic!("{e}"));
        run(&scenario, RunOptions::default())
    }

    // Goal: a planned fault whose time never comes is not counted as a fault, and the report
    // says which one never fired (review finding 4: "1 faults", PASS, no warning). Method: a
    // crash planned at 10h in a 1 s run, then one planned at 1 s in a 2 s run.
    #[test]
    fn a_fault_that_never_fired_is_reported() {
        let report =
            run_b("[[fault]]\nkind = \"array_crash\"\narray = \"SIM-A\"\nat = \"10h\"\n[[step]]\nadvance = \"1s\"\n")
                .unwrap();
        assert_eq!(report.faults, 0);
        assert_eq!(report.faults_never_fired.len(), 1, "{:?}", report.faults_never_fired);
        assert!(report.faults_never_fired[0].starts_with("fault[0] at 10h (SIM-A crashes) never fired"));
        let text = crate::report::text(&report);
        assert!(text.contains("0 faults (1 more scheduled, never fired)"), "{text}");
        assert!(text.contains("\nwarning: fault[0] at 10h (SIM-A crashes) never fired: due at 10h"), "{text}");
        assert!(crate::report::json(&report).contains("\"faults_never_fired\": ["));

        let report = run_b(
            "[[fault]]\nkind = \"link_down\"\nat = \"1s\"\n[[step]]\nadvance = \"2s\"\n[[step]]\nfault = { kind = \"link_up\", after = \"1h\" }\n",
        )
        .unwrap();
        assert_eq!(report.faults, 1);
        assert_eq!(report.faults_never_fired.len(), 1);
        assert!(report.faults_never_fired[0].starts_with("fault step at 2s (links up (both ways)) never fired"));
    }

    // Goal: a step that would carry virtual time past the clock's limit fails with a clear
    // error instead of saturating the clock (review finding 3). Method: a long advance the
    // loader accepts, then a fault step whose `after` passes the limit (only known at run time).
    #[test]
    fn a_step_past_the_clock_fails() {
        let report =
            run_b("[[step]]\nadvance = \"2562047h\"\n[[step]]\nfault = { kind = \"link_down\", after = \"1h\" }\n")
                .unwrap();
        assert!(report.steps[0].ok, "{:?}", report.steps[0]);
        let error = report.steps[1].error.as_deref().unwrap_or_default();
        assert!(!report.steps[1].ok && error.contains("virtual time would pass"), "{error}");
        assert!(report.faults_never_fired.is_empty());
    }

    // Goal: the text report never cuts a step's error (review finding 11: it was cut at 78
    // characters). Method: a real run's report with a long error put into its step.
    #[test]
    fn a_long_error_is_printed_whole() {
        let mut report = run_b("[[step]]\nadvance = \"1s\"\n").unwrap();
        let long = format!("host 'nohost' does not exist {}end", "and more ".repeat(12));
        report.steps[0].ok = false;
        report.steps[0].error = Some(long.clone());
        let text = crate::report::text(&report);
        assert!(text.contains(&format!("\n{:>24}error: {long}\n", "")), "{text}");
    }

    // Goal: an error only the model finds at setup names the declaration it concerns: file,
    // line and position (review finding 10). Method: a volume name longer than 3PAR's 31
    // characters, which the loader does not check.
    #[test]
    fn a_setup_error_names_the_declaration() {
        let volume = "[[volume]]\narray = \"SIM-A\"\nname = \"a-volume-name-longer-than-31-characters\"\ncpg = \"C\"\nsize_mib = 1024\n";
        let error = run_b(volume).expect_err("the model refuses the name").to_string();
        let line = b().matches('\n').count() + 1;
        assert!(error.starts_with(&format!("setup: b.toml:{line}: [[volume]] #1 `a-volume-name")), "{error}");
    }
}
