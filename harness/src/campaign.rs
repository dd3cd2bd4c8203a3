//! Random campaigns: generated steps with faults mid-workflow, every invariant after every step,
//! shrinking to a minimal failing case, and that case written as a scenario file.
//!
//! What it holds: the campaign's fixed setup ([`setup`]: two arrays, a mailbox server with three
//! databases — one in no Remote Copy group, one synchronous, one periodic — and both backup
//! servers), the step generator ([`generate_step`]), the per-case and per-step seeds
//! ([`case_seed`], [`step_entropy`]), one case ([`run_case`]), shrinking ([`shrink`]) and the
//! replay banner ([`Failure::banner`]).
//!
//! What it does not do: no threads, progress bars or files (the CLI's `check` owns those and calls
//! [`run_case`] per case, possibly on several threads); no state-dependent generation.
//!
//! Main design choice: a step depends only on `(case seed, step index)`, never on the state the
//! earlier steps left. Steps that need an object name it relatively ("the #2 newest backup",
//! resolved modulo the backups that exist when it runs), so removing steps while shrinking leaves
//! every remaining step exactly as generated, and the minimal case is a plain list of scenario
//! steps that `run` replays. The cost: some generated steps are refused (nothing to mount yet);
//! refusals are outcomes, not failures, and cost little.

use std::collections::BTreeSet;
use std::time::Duration;

use simulator::Prng;
use simulator::invariants::Violation;

use recovery::repository::RemoteCopyMode;

use crate::engine::{Defect, WorkflowStep};
use crate::scenario::toml_format::{
    BackupArgs, CopyArgs, CpgGrowthLimitArgs, GroupArgs, MountArgs, RestoreArgs, SnapshotPolicyArgs, SyncArgs,
    VssFaultArgs, WorkflowFaultArgs, WriteArgs,
};
use crate::scenario::{DurationText, FaultToml, PolicyToml, Scenario, ScenarioError, StepToml};
use crate::world::{BuildOptions, World, WorldStats};

/// The campaign's setup (no steps): see `docs/testing.md`.
pub const SETUP_TOML: &str = include_str!("campaign_setup.toml");

/// Steps per case unless told otherwise.
pub const DEFAULT_STEPS_PER_CASE: usize = 200;

/// Most steps a case may have. A case's state grows with its steps (entries pile up and every
/// invariant visits them after every step), and a violation's case is replayed up to 2,000
/// times while shrinking and held as a list of steps (about 1.5 KB each): 100,000 steps keep
/// that list near 150 MB, and the longest cases run so far were 10,000 steps.
pub const MAX_STEPS_PER_CASE: usize = 100_000;

/// Kinds of faults a campaign may inject (`--faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Link down/up, partitions, latency changes.
    Link,
    /// Array crash and restart.
    Array,
    /// Workflow faults at named points (fail, backup-server crash, delay).
    Workflow,
    /// VSS faults (delays past the windows, provider vetoes).
    Vss,
    /// Backup server crash and restart between workflows.
    Server,
    /// Remote Copy failover, recover and restore.
    Dr,
    /// Snapshot space running out: CPG growth limits set a little above what the CPG uses (or
    /// removed), and databases switched between `stale_ss` and `no_stale_ss`.
    Space,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Link,
        FaultKind::Array,
        FaultKind::Workflow,
        FaultKind::Vss,
        FaultKind::Server,
        FaultKind::Dr,
        FaultKind::Space,
    ];

    /// The name used by `--faults`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Link => "link",
            FaultKind::Array => "array",
            FaultKind::Workflow => "workflow",
            FaultKind::Vss => "vss",
            FaultKind::Server => "server",
            FaultKind::Dr => "dr",
            FaultKind::Space => "space",
        }
    }

    /// Parses a comma-separated list (`all`, `none`, or names; spaces around names are ignored).
    ///
    /// Errors: an unknown name (with the known ones), or an empty name — which includes an empty
    /// list — since an empty list meaning "no faults" is too easy to ask for by mistake (an unset
    /// shell variable); `none` asks for no faults.
    pub fn parse_list(text: &str) -> Result<BTreeSet<FaultKind>, FaultListError> {
        let mut kinds = BTreeSet::new();
        for part in text.split(',').map(str::trim) {
            match part {
                "" => return Err(FaultListError::EmptyName),
                "all" => kinds.extend(FaultKind::ALL),
                "none" => {}
                name => match FaultKind::ALL.iter().find(|k| k.name() == name) {
                    Some(kind) => {
                        kinds.insert(*kind);
                    }
                    None => return Err(FaultListError::Unknown(name.to_owned())),
                },
            }
        }
        Ok(kinds)
    }
}

/// Why [`FaultKind::parse_list`] refused a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultListError {
    /// A name that is no fault kind.
    #[error("unknown fault kind `{0}` (known: all, none, {known})", known = FaultKind::ALL.map(FaultKind::name).join(", "))]
    Unknown(String),
    /// An empty list, or an empty name between commas.
    #[error("an empty fault kind in the list (write `none` for no faults)")]
    EmptyName,
}

/// What a campaign case needs besides its seed.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// The setup (parsed [`SETUP_TOML`]).
    pub scenario: Scenario,
    /// Fault kinds enabled.
    pub faults: BTreeSet<FaultKind>,
    /// Steps per case.
    pub steps_per_case: usize,
    /// A deliberately wrong engine variant (test-only).
    pub defect: Option<Defect>,
}

impl CampaignConfig {
    /// The standard campaign with `faults`.
    pub fn new(faults: BTreeSet<FaultKind>) -> CampaignConfig {
        CampaignConfig { scenario: setup(), faults, steps_per_case: DEFAULT_STEPS_PER_CASE, defect: None }
    }
}

/// The campaign's setup, parsed.
pub fn setup() -> Scenario {
    crate::scenario::parse("<campaign setup>", SETUP_TOML).expect("the built-in campaign setup is valid")
}

/// SplitMix64: spreads a counter into a well-mixed 64-bit value.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed of case `index` of the campaign seeded `campaign_seed`.
pub fn case_seed(campaign_seed: u64, index: u64) -> u64 {
    mix(mix(campaign_seed) ^ mix(index.wrapping_add(0x5EED)))
}

/// The entropy of step `index` of the case seeded `case_seed`.
pub fn step_entropy(case_seed: u64, index: u64) -> u64 {
    mix(case_seed ^ mix(index))
}

const DATABASES: [&str; 3] = ["DB-NONE", "DB-SYNC", "DB-PERIODIC"];
const GROUPS: [&str; 2] = ["rcg-sync", "rcg-periodic"];

fn pick<'a>(prng: &mut Prng, items: &[&'a str]) -> &'a str {
    items[prng.int_inclusive(items.len() as u64 - 1) as usize]
}

fn duration_log(prng: &mut Prng, min_ms: u64, max_ms: u64) -> DurationText {
    // Log-uniform: short and long waits equally likely per decade.
    let (lo, hi) = ((min_ms as f64).ln(), (max_ms as f64).ln());
    let ms = (lo + prng.unit() * (hi - lo)).exp().round() as u64;
    DurationText(Duration::from_millis(ms.clamp(min_ms, max_ms)))
}

fn site(prng: &mut Prng) -> Option<String> {
    match prng.int_inclusive(2) {
        0 => Some("local".into()),
        1 => Some("remote".into()),
        _ => None,
    }
}

fn backup_selector(prng: &mut Prng) -> Option<String> {
    match prng.int_inclusive(3) {
        0 => None,
        1 => Some("oldest".into()),
        _ => Some(format!("#{}", prng.int_inclusive(4))),
    }
}

/// The step of entropy `entropy`: a scenario step in file form. Pure: the same entropy and
/// fault kinds always give the same step.
pub fn generate_step(entropy: u64, faults: &BTreeSet<FaultKind>) -> StepToml {
    let mut prng = Prng::from_seed(entropy);
    let database = pick(&mut prng, &DATABASES).to_owned();
    let roll = prng.int_inclusive(999);
    let mut step = StepToml::default();
    match roll {
        0..=399 => {
            step.write = Some(WriteArgs {
                database: Some(database),
                transactions: Some(prng.range_inclusive(1, 4) as u32),
                ..WriteArgs::default()
            })
        }
        400..=599 => {
            let mode = match database.as_str() {
                "DB-SYNC" => RemoteCopyMode::Synchronous,
                "DB-PERIODIC" => RemoteCopyMode::Periodic,
                _ => RemoteCopyMode::None,
            };
            let mut backup = BackupArgs { database, ..BackupArgs::default() };
            if prng.chance(1, 5) {
                backup.backup_type = Some("copy".into());
            }
            if faults.contains(&FaultKind::Workflow) && prng.chance(3, 10) {
                // A point this mode's workflow really reaches.
                let points = WorkflowStep::steps_of(mode);
                let point = points[prng.int_inclusive(points.len() as u64 - 1) as usize];
                let (kind, delay) = match prng.int_inclusive(9) {
                    0..=3 => ("fail", None),
                    4..=6 => ("crash", None),
                    _ => ("delay", Some(duration_log(&mut prng, 10, 120_000))),
                };
                backup.fault = Some(WorkflowFaultArgs { at: point.name().to_owned(), kind: kind.to_owned(), delay });
            } else if faults.contains(&FaultKind::Vss) && prng.chance(1, 12) {
                let (at, delay, error) = if prng.chance(1, 2) {
                    ("commit_snapshots", Some(duration_log(&mut prng, 1_000, 20_000)), None)
                } else {
                    ("pre_commit_snapshots", None, Some("VSS_E_PROVIDER_VETO".to_owned()))
                };
                backup.vss_fault = Some(VssFaultArgs { at: at.to_owned(), delay, error });
            }
            step.backup = Some(backup);
        }
        600..=689 => step.advance = Some(duration_log(&mut prng, 100, 900_000)),
        690..=719 => {
            step.sync = Some(SyncArgs { group: "rcg-periodic".into(), wait: Some(prng.chance(3, 4)), full: None })
        }
        720..=759 => {
            step.mount =
                Some(MountArgs { database, site: site(&mut prng), backup: backup_selector(&mut prng), host: None })
        }
        760..=799 => {
            step.unmount = Some(CopyArgs { database, site: site(&mut prng), backup: backup_selector(&mut prng) })
        }
        800..=829 => {
            step.verify = Some(CopyArgs { database, site: site(&mut prng), backup: backup_selector(&mut prng) })
        }
        830..=859 => {
            step.remove = Some(CopyArgs { database, site: site(&mut prng), backup: backup_selector(&mut prng) })
        }
        860..=874 => {
            let kind = match prng.int_inclusive(2) {
                0 => "volume_promote",
                1 => "file_copy",
                _ => "database_from_remote",
            };
            step.restore = Some(RestoreArgs {
                database,
                site: site(&mut prng),
                backup: backup_selector(&mut prng),
                kind: Some(kind.to_owned()),
                host: None,
            });
        }
        875..=894 => {
            let policy = if prng.chance(2, 3) {
                PolicyToml {
                    database,
                    max_copies: Some(prng.range_inclusive(1, 6) as u32),
                    remove_oldest: Some(prng.chance(2, 3)),
                    ..PolicyToml::default()
                }
            } else {
                let hours = prng.range_inclusive(1, 48);
                let retention = prng.chance(1, 3).then(|| prng.range_inclusive(1, hours));
                PolicyToml {
                    database,
                    expiration_hours: Some(hours),
                    retention_hours: retention,
                    ..PolicyToml::default()
                }
            };
            step.set_policy = Some(policy);
        }
        895..=909 => step.mount_database = Some(database),
        _ => fault_step(&mut prng, faults, &mut step),
    }
    if step == StepToml::default() {
        step.write = Some(WriteArgs {
            database: Some(pick(&mut prng, &DATABASES).to_owned()),
            transactions: Some(1),
            ..WriteArgs::default()
        });
    }
    step
}

fn fault_step(prng: &mut Prng, faults: &BTreeSet<FaultKind>, step: &mut StepToml) {
    let enabled: Vec<FaultKind> =
        faults.iter().copied().filter(|k| !matches!(k, FaultKind::Workflow | FaultKind::Vss)).collect();
    if enabled.is_empty() {
        return;
    }
    let kind = enabled[prng.int_inclusive(enabled.len() as u64 - 1) as usize];
    // Scheduled a little ahead, so the fault lands inside the next step more often than between.
    let after = prng.chance(2, 3).then(|| duration_log(prng, 1, 2_000));
    match kind {
        FaultKind::Link => {
            let fault = match prng.int_inclusive(3) {
                0 => FaultToml {
                    kind: "partition".into(),
                    duration: Some(duration_log(prng, 1_000, 600_000)),
                    ..FaultToml::default()
                },
                1 => FaultToml { kind: "link_down".into(), ..FaultToml::default() },
                2 => FaultToml { kind: "link_up".into(), ..FaultToml::default() },
                _ => FaultToml {
                    kind: "latency".into(),
                    latency: Some(duration_log(prng, 1, 200)),
                    ..FaultToml::default()
                },
            };
            step.fault = Some(FaultToml { after, ..fault });
        }
        FaultKind::Array => {
            let array = if prng.chance(1, 2) { "SIM-A" } else { "SIM-B" };
            let kind = if prng.chance(1, 3) { "array_crash" } else { "array_restart" };
            step.fault =
                Some(FaultToml { kind: kind.into(), array: Some(array.into()), after, ..FaultToml::default() });
        }
        FaultKind::Server => {
            let which = if prng.chance(1, 2) { "local" } else { "remote" };
            if prng.chance(1, 2) {
                step.crash_backup_server = Some(which.into());
            } else {
                step.restart_backup_server = Some(which.into());
            }
        }
        FaultKind::Dr => {
            let group = GroupArgs { group: pick(prng, &GROUPS).to_owned(), ..GroupArgs::default() };
            match prng.int_inclusive(4) {
                0 => step.failover = Some(group),
                1 => step.recover = Some(group),
                2 => step.rc_restore = Some(group),
                3 => step.rc_stop = Some(group),
                _ => step.rc_start = Some(group),
            }
        }
        FaultKind::Space => {
            if prng.chance(2, 3) {
                // Mostly on the primary, whose host writes check the space; the backup array's
                // writes are Remote Copy applies (never checked) until a failover or a restore.
                // SNAP holds DB-NONE's snapshot space alone (its copies go stale, its writes are
                // never short of user space); FC_r6 every database's user space and the other
                // two's snapshot space.
                let (array, cpg) = match prng.int_inclusive(9) {
                    0..=3 => ("SIM-A", "FC_r6"),
                    4..=7 => ("SIM-A", "SNAP"),
                    _ => ("SIM-B", "FC_r6"),
                };
                // FC_r6: a limit relative to its use when the step runs (the generator does not
                // see the state). SNAP holds a few dozen pages at most, less than a MiB of
                // headroom's rounding, so mostly an absolute 0 or 1 MiB: the next copy-on-write
                // (or the 65th page) passes it. Neither key removes the limit.
                let (mib, headroom_mib) = match (cpg, prng.int_inclusive(9)) {
                    (_, 0..=1) => (None, None),
                    ("SNAP", 2..=7) => (Some(prng.int_inclusive(1)), None),
                    (_, 2..=7) => (None, Some(prng.int_inclusive(2))),
                    _ => (None, Some(prng.range_inclusive(3, 16))),
                };
                step.cpg_growth_limit =
                    Some(CpgGrowthLimitArgs { array: array.into(), cpg: cpg.into(), mib, headroom_mib });
            } else {
                step.snapshot_policy = Some(SnapshotPolicyArgs {
                    database: pick(prng, &DATABASES).to_owned(),
                    stale_ss: prng.chance(1, 2),
                });
            }
        }
        FaultKind::Workflow | FaultKind::Vss => {}
    }
}

/// The case indices shard `shard` of `shards` (1-based) runs, for a campaign of `total_steps`
/// in cases of `steps_per_case` (rounded up to whole cases): every case belongs to exactly one
/// shard, the one whose number is the case index modulo `shards`, plus 1.
pub fn shard_cases(total_steps: u64, steps_per_case: usize, shard: u64, shards: u64) -> ShardCases {
    assert!(shards >= 1);
    assert!((1..=shards).contains(&shard));
    assert!(steps_per_case >= 1);
    ShardCases { total_cases: total_steps.div_ceil(steps_per_case as u64), first: shard - 1, stride: shards }
}

/// The cases of one shard, computed rather than listed: a campaign's size costs no memory (a
/// campaign of 10^12 steps would otherwise list 5·10^9 indices before running one).
///
/// The cases are `first`, `first + stride`, ... below `total_cases`, in that order; slot `n` of
/// the shard is the `n`-th of them, which lets worker threads share one counter of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardCases {
    /// Cases of the whole campaign (every shard).
    pub total_cases: u64,
    /// The shard's first case index (the shard number minus 1).
    pub first: u64,
    /// Distance between the shard's cases (the number of shards).
    pub stride: u64,
}

impl ShardCases {
    /// How many cases the shard runs.
    pub fn len(&self) -> u64 {
        self.total_cases.saturating_sub(self.first).div_ceil(self.stride)
    }

    /// Whether the shard runs no case (a campaign with fewer cases than shards).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The case index of slot `slot` (0-based), if the shard has that many cases.
    pub fn get(&self, slot: u64) -> Option<u64> {
        let case = slot.checked_mul(self.stride)?.checked_add(self.first)?;
        (case < self.total_cases).then_some(case)
    }

    /// The case indices, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + use<> {
        let cases = *self;
        (0..cases.len()).map_while(move |slot| cases.get(slot))
    }
}

/// The steps of case `case_seed`, `count` of them.
pub fn generate_case(case_seed: u64, count: usize, faults: &BTreeSet<FaultKind>) -> Vec<StepToml> {
    (0..count as u64).map(|i| generate_step(step_entropy(case_seed, i), faults)).collect()
}

/// The first broken invariant of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseViolation {
    /// Index of the step after which it was found (0-based).
    pub step: usize,
    /// Every violation found then.
    pub violations: Vec<Violation>,
}

/// What one case did.
#[derive(Debug, Clone, Default)]
pub struct CaseOutcome {
    /// Steps run (up to and including the violating one).
    pub steps: usize,
    /// Counters.
    pub stats: WorldStats,
    /// The first violation, if any.
    pub violation: Option<CaseViolation>,
    /// The setup itself failed (a harness or model bug).
    pub setup_error: Option<String>,
}

/// One step with every invariant after it; a panic inside the model (a bug the model asserts
/// against, such as a runaway event schedule) becomes a `model_panic` violation, so a campaign
/// shrinks and replays it like any other. After a panic the world must not be used again.
pub fn step_guarded(world: &mut World, action: &crate::scenario::Action) -> Vec<Violation> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.step(action))) {
        Ok((_, _, violations)) => violations,
        Err(payload) => vec![model_panic(payload.as_ref())],
    }
}

/// The `model_panic` violation for a panic caught around a step, with the panic's message.
pub fn model_panic(payload: &(dyn std::any::Any + Send)) -> Violation {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic without a message".to_owned());
    Violation { invariant: "model_panic", spec: "-", detail: message }
}

/// Runs `steps` from a fresh world seeded `seed`, checking every invariant after every step;
/// stops at the first step with a violation. The steps may be borrowed (`&[StepToml]`, a
/// replay or a shrinking candidate) or generated as they run ([`run_generated_case`]).
pub fn run_case<S: std::borrow::Borrow<StepToml>>(
    config: &CampaignConfig,
    seed: u64,
    steps: impl IntoIterator<Item = S>,
) -> CaseOutcome {
    let mut build = BuildOptions::new(seed);
    build.collect_timeline = false;
    build.trace_capacity = 0;
    build.defect = config.defect;
    let mut world = match World::build(&config.scenario, build) {
        Ok(world) => world,
        Err(error) => return CaseOutcome { setup_error: Some(error.to_string()), ..CaseOutcome::default() },
    };
    let mut outcome = CaseOutcome::default();
    for (i, toml) in steps.into_iter().enumerate() {
        let step = match config.scenario.step(toml.borrow()) {
            Ok(step) => step,
            Err(error) => {
                outcome.setup_error = Some(format!("generated step {i} is invalid: {error}"));
                return outcome;
            }
        };
        let violations = step_guarded(&mut world, &step.action);
        outcome.steps = i + 1;
        if !violations.is_empty() {
            outcome.violation = Some(CaseViolation { step: i, violations });
            break;
        }
    }
    outcome.stats = world.stats();
    outcome
}

/// Runs the `config.steps_per_case` generated steps of the case seeded `case_seed` as
/// [`run_case`] runs `generate_case(case_seed, config.steps_per_case, ..)`, but generates each
/// step when it runs and keeps none: memory does not grow with the case's length. A violating
/// case's steps are generated again, up to the violation, with [`generate_case`].
pub fn run_generated_case(config: &CampaignConfig, case_seed: u64) -> CaseOutcome {
    let steps = (0..config.steps_per_case as u64).map(|i| generate_step(step_entropy(case_seed, i), &config.faults));
    run_case(config, case_seed, steps)
}

/// Shrinks `steps` (which break `invariant`) to a smaller list that still breaks it: drops the
/// steps after the violation, then removes chunks of halving size while the same invariant
/// still breaks (delta debugging). At most `max_runs` replays.
pub fn shrink(
    config: &CampaignConfig,
    seed: u64,
    steps: &[StepToml],
    invariant: &str,
    max_runs: usize,
) -> Vec<StepToml> {
    let breaks = |candidate: &[StepToml]| -> Option<usize> {
        let outcome = run_case(config, seed, candidate);
        outcome.violation.filter(|v| v.violations.iter().any(|x| x.invariant == invariant)).map(|v| v.step)
    };
    let mut current: Vec<StepToml> = steps.to_vec();
    let mut runs = 0;
    let mut chunk = current.len().div_ceil(2).max(1);
    while chunk >= 1 && runs < max_runs {
        let mut start = 0;
        let mut removed_any = false;
        while start < current.len() && runs < max_runs {
            let end = (start + chunk).min(current.len());
            let candidate: Vec<StepToml> = current[..start].iter().chain(&current[end..]).cloned().collect();
            runs += 1;
            if let Some(step) = breaks(&candidate) {
                current = candidate[..=step].to_vec();
                removed_any = true;
            } else {
                start = end;
            }
        }
        if !removed_any {
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    current
}

/// A violation found by a campaign, shrunk.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Campaign seed.
    pub campaign_seed: u64,
    /// Case index.
    pub case: u64,
    /// Case (simulation) seed.
    pub case_seed: u64,
    /// The broken invariant (the first one found).
    pub invariant: String,
    /// Its violations at the minimal case's last step.
    pub violations: Vec<Violation>,
    /// Steps of the original case up to the violation.
    pub original_steps: usize,
    /// The minimal steps.
    pub steps: Vec<StepToml>,
    /// The deliberately wrong engine variant the campaign ran (test-only), which the replay
    /// command must name to reproduce the violation.
    pub defect: Option<Defect>,
}

impl Failure {
    /// The minimal case as a scenario file.
    pub fn scenario_toml(&self, config: &CampaignConfig) -> String {
        let mut scenario = config.scenario.clone();
        scenario.file.scenario.name =
            format!("campaign {} case {} ({})", self.campaign_seed, self.case, self.invariant);
        let defect = self.defect.map(|d| format!(" --defect {}", d.name())).unwrap_or_default();
        scenario.file.scenario.description = format!(
            "Minimal case found by `storeserv-sim check --seed {}{defect}`: {} of {} steps; breaks {}.{}",
            self.campaign_seed,
            self.steps.len(),
            self.original_steps,
            self.invariant,
            if defect.is_empty() { "" } else { " Replay it with the same --defect (a `defects` build)." }
        );
        scenario.to_toml(self.case_seed, &self.steps)
    }

    /// The replay banner: seed, minimal steps, broken invariant, the one-line replay command.
    pub fn banner(&self, file: &str) -> String {
        let mut out = String::new();
        let rule = "=".repeat(78);
        out.push_str(&format!(
            "{rule}\nVIOLATION  {}  (campaign seed {}, case {}, case seed {})\n",
            self.invariant, self.campaign_seed, self.case, self.case_seed
        ));
        for v in &self.violations {
            out.push_str(&format!("  {} (spec {}): {}\n", v.invariant, v.spec, v.detail));
        }
        out.push_str(&format!("minimal steps ({} of {}):\n", self.steps.len(), self.original_steps));
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {:>3}. {}\n", i + 1, crate::scenario::step_line(step)));
        }
        match self.defect {
            None => out.push_str(&format!("replay:  cargo run --release -- run {file}\n")),
            Some(defect) => out.push_str(&format!(
                "replay:  cargo run --release --features defects -- run {file} --defect {}\n",
                defect.name()
            )),
        }
        out.push_str(&format!("{rule}\n"));
        out
    }
}

/// Checks that a written minimal case replays to the same violation.
///
/// Errors: the file does not parse ([`ScenarioError`]).
pub fn replays(config: &CampaignConfig, text: &str, invariant: &str) -> Result<bool, ScenarioError> {
    let scenario = crate::scenario::parse("<replay>", text)?;
    let steps: Vec<StepToml> = scenario.steps.iter().map(|s| s.toml.clone()).collect();
    let config = CampaignConfig { scenario, ..config.clone() };
    let seed = config.scenario.seed;
    let outcome = run_case(&config, seed, &steps);
    Ok(outcome.violation.is_some_and(|v| v.violations.iter().any(|x| x.invariant == invariant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: shards partition a campaign: every case in exactly one shard, none twice.
    #[test]
    fn shards_partition_the_cases() {
        for shards in 1..=5u64 {
            let mut all: Vec<u64> = (1..=shards).flat_map(|k| shard_cases(10_000, 200, k, shards).iter()).collect();
            all.sort();
            assert_eq!(all, (0..50).collect::<Vec<u64>>(), "{shards} shards");
        }
    }

    // Goal: a step depends only on (case seed, index), so removing earlier steps (shrinking) or
    // generating fewer does not change the others.
    #[test]
    fn steps_depend_only_on_seed_and_index() {
        let faults = FaultKind::parse_list("all").unwrap();
        let long = generate_case(7, 50, &faults);
        let short = generate_case(7, 20, &faults);
        assert_eq!(&long[..20], &short[..]);
        assert_eq!(generate_step(step_entropy(7, 33), &faults), long[33]);
        assert_ne!(generate_case(8, 20, &faults), short);
    }

    // Goal: every generated step is a valid scenario step (the generator speaks the file format).
    #[test]
    fn generated_steps_validate() {
        let config = CampaignConfig::new(FaultKind::parse_list("all").unwrap());
        for step in generate_case(11, 2_000, &config.faults) {
            config.scenario.step(&step).unwrap_or_else(|e| panic!("{e}: {step:?}"));
        }
        assert!(FaultKind::parse_list("link,bogus").is_err());
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
    }

    // Goal (review finding 6): an empty fault list or an empty name in one is an error, not a
    // quiet `none`; `none` and spaces around names still work.
    #[test]
    fn an_empty_fault_list_is_an_error() {
        for text in ["", " ", ",,", "link,", ",link", "link,,array"] {
            assert_eq!(FaultKind::parse_list(text), Err(FaultListError::EmptyName), "{text:?}");
        }
        assert_eq!(FaultKind::parse_list(" link , array "), Ok(BTreeSet::from([FaultKind::Link, FaultKind::Array])));
        assert_eq!(FaultKind::parse_list("none"), Ok(BTreeSet::new()));
    }

    // Goal (review finding 3): a shard's cases are computed, not listed, so a campaign of any
    // size costs no memory for them, and they are the cases the list had. Method: a campaign of
    // u64::MAX one-step cases in 3 shards (listing it would need 2^64 entries), and small
    // campaigns against the filter the list was built with.
    #[test]
    fn shard_cases_are_computed_not_listed() {
        let huge = shard_cases(u64::MAX, 1, 2, 3);
        assert_eq!(huge.len(), u64::MAX / 3);
        assert_eq!(huge.get(0), Some(1));
        assert_eq!(huge.get(huge.len() - 1), Some(u64::MAX - 2));
        assert_eq!(huge.get(huge.len()), None);
        assert_eq!(huge.get(u64::MAX), None);
        for (steps, per_case, shards) in [(0, 200, 1), (1, 200, 1), (2_100, 300, 4), (10_000, 200, 3), (5, 1, 7)] {
            for shard in 1..=shards {
                let cases = shard_cases(steps, per_case, shard, shards);
                let listed: Vec<u64> =
                    (0..steps.div_ceil(per_case as u64)).filter(|i| i % shards == shard - 1).collect();
                assert_eq!(cases.iter().collect::<Vec<u64>>(), listed, "{steps} {per_case} {shard}/{shards}");
                assert_eq!(cases.len(), listed.len() as u64);
            }
        }
    }

    // Goal (review finding 2): a case whose steps are generated as it runs does exactly what the
    // same steps listed up front do (so campaigns replay as before), without holding them.
    // Method: several seeds, with and without faults, compared field by field.
    #[test]
    fn a_generated_case_runs_the_listed_steps() {
        for faults in ["all", "none"] {
            let mut config = CampaignConfig::new(FaultKind::parse_list(faults).unwrap());
            config.steps_per_case = 60;
            for seed in 1..=4 {
                let generated = run_generated_case(&config, seed);
                let listed = run_case(&config, seed, generate_case(seed, 60, &config.faults));
                assert_eq!(generated.steps, listed.steps, "{faults} {seed}");
                assert_eq!(generated.stats, listed.stats, "{faults} {seed}");
                assert_eq!(generated.violation, listed.violation, "{faults} {seed}");
                assert_eq!(generated.setup_error, listed.setup_error, "{faults} {seed}");
            }
        }
    }

    /// A shrunk failure of campaign seed 1, case seed 2, with no steps.
    fn failure_without_steps() -> Failure {
        Failure {
            campaign_seed: 1,
            case: 0,
            case_seed: 2,
            invariant: "copies_inside_freeze".to_owned(),
            violations: Vec::new(),
            original_steps: 0,
            steps: Vec::new(),
            defect: None,
        }
    }

    // Goal (review finding 8): the banner's replay command of a defect run names the defect (and
    // the feature that builds it), so it reproduces the violation; without one it is unchanged.
    #[test]
    fn the_replay_command_names_the_defect() {
        let mut failure = failure_without_steps();
        assert!(failure.banner("f.toml").contains("\nreplay:  cargo run --release -- run f.toml\n"));
        failure.defect = Some(Defect::CopyOutsideFreeze);
        assert!(
            failure.banner("f.toml").contains(
                "\nreplay:  cargo run --release --features defects -- run f.toml --defect copy_outside_freeze\n"
            ),
            "{}",
            failure.banner("f.toml")
        );
    }

    #[test]
    fn the_scenario_file_names_the_defect() {
        let config = CampaignConfig::new(BTreeSet::new());
        let mut failure = failure_without_steps();
        assert!(failure.scenario_toml(&config).contains("Minimal case found by `storeserv-sim check --seed 1`:"));
        failure.defect = Some(Defect::CopyOutsideFreeze);
        let text = failure.scenario_toml(&config);
        assert!(text.contains("`storeserv-sim check --seed 1 --defect copy_outside_freeze`"), "{text}");
        assert!(text.contains("Replay it with the same --defect"), "{text}");
    }
}
