//! Scenarios: a TOML file naming the arrays, volumes, links, Remote Copy groups, the Exchange
//! server and its databases, the backup servers and policies, a fault plan and the steps.
//!
//! What it holds: the file format ([`toml_format`], documented key by key in `docs/scenarios.md`),
//! durations as text ([`duration`]), and the validated form the runner executes ([`Scenario`],
//! [`Step`], [`Action`]). Loading reports the first problem as a [`ScenarioError`] naming the file,
//! line, column and key.
//!
//! What it does not do: it runs nothing (see [`crate::world`] and [`crate::runner`]) and checks
//! only what can be checked without running: names that refer to something declared, values in
//! range, exactly one action per step.
//!
//! Main design choice: a step keeps its file form ([`StepToml`]) next to its validated [`Action`].
//! Random campaigns generate file-form steps and validate them with the same code, so the minimal
//! case of a failure is written back as a scenario file that `run` replays exactly. The cost: the
//! file form is the campaign's vocabulary, so a new kind of step needs a key in the format first.

pub mod duration;
pub mod toml_format;

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use recovery::repository::Site;
use recovery::vss::{BackupType, InjectedFault, VssCode, VssStep};
use simulator::Direction;

use crate::engine::{Policy, PolicySpec, RestoreKind, WorkflowFault, WorkflowStep};
pub use duration::{DurationText, human};
pub use toml_format::{ExpectArgs, FaultToml, PolicyToml, ScenarioToml, StepToml};

/// A problem in a scenario file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (as given on the command line), or `<scenario>` for text without a file.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// The key at fault (dotted path, e.g. `step[3].backup.database`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    /// `file:line:column: `key`: message`; the parts a problem does not have (a file that
    /// cannot be read has no line and no key) are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file form (setup and steps), kept so the scenario can be written back.
    pub file: ScenarioToml,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Seed (from the file; the CLI may override it).
    pub seed: u64,
    /// The fault plan, sorted by time.
    pub fault_plan: Vec<PlannedFault>,
    /// The steps.
    pub steps: Vec<Step>,
    /// Names the setup declares (for validating generated steps).
    names: Names,
    /// The file's name, as errors give it.
    path: String,
    /// Byte offset of each line's start, for naming the line of a declaration in setup errors.
    line_starts: Vec<usize>,
}

/// A fault of the plan: `at` after the first step starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFault {
    /// Position in the file (`fault[index]`), for reports.
    pub index: usize,
    /// Offset from the start of the first step.
    pub at: Duration,
    /// What happens.
    pub fault: FaultAction,
}

/// A fault, as the runner applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Links between the first two arrays stop (per direction).
    LinkDown(Direction),
    /// Links come back.
    LinkUp(Direction),
    /// Links down, then up after the duration.
    Partition(Direction, Duration),
    /// New one-way base latency.
    Latency(Direction, Duration),
    /// The array (by position) crashes.
    ArrayCrash(usize),
    /// The array (by position) restarts.
    ArrayRestart(usize),
}

/// One validated step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The file form.
    pub toml: StepToml,
    /// What to do.
    pub action: Action,
    /// What the action's outcome must be.
    pub expectation: Expectation,
}

/// The expected outcome of a step's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Anything (campaign steps).
    Any,
    /// Success.
    Ok,
    /// Failure, optionally with text the error must contain.
    Error(Option<String>),
}

/// Which backup a step means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupSelector {
    /// The newest.
    Latest,
    /// The oldest.
    Oldest,
    /// The n-th newest (0 = latest); resolved modulo the number of backups, so a campaign step
    /// keeps a meaning when shrinking removed earlier backups.
    Newest(usize),
    /// An exact backup id.
    Id(String),
}

/// A backup of a database at a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySelector {
    /// Database.
    pub database: String,
    /// Site; `None` = wherever the selected backup is (local first when both hold it, as
    /// `World::resolve` orders them).
    pub site: Option<Site>,
    /// Which backup.
    pub backup: BackupSelector,
}

/// A backup request, validated: the engine's request with `server` left empty (the world runs it
/// against the scenario's mailbox server).
pub type BackupPlan = recovery::engine::BackupRequest;

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run `count` workload transactions against a database.
    Transactions {
        /// Database.
        database: String,
        /// Transactions.
        count: u32,
    },
    /// Write a seeded pattern to a plain volume of the primary array.
    WriteVolume {
        /// Volume.
        volume: String,
        /// Offset.
        offset: u64,
        /// Length.
        length: u64,
    },
    /// A Recovery Manager backup.
    Backup(BackupPlan),
    /// A Remote Copy sync.
    Sync {
        /// Group.
        group: String,
        /// Wait for the end.
        wait: bool,
        /// Full sync.
        full: bool,
    },
    /// Let time pass.
    Advance(Duration),
    /// Apply a fault `after` from now.
    Fault {
        /// Delay from the step's start.
        after: Duration,
        /// The fault.
        fault: FaultAction,
    },
    /// Failover on the backup array.
    Failover {
        /// Group.
        group: String,
        /// `-nopromote`.
        no_promote: bool,
    },
    /// Recover on the failed-over array.
    Recover {
        /// Group.
        group: String,
        /// Wait for the transfer.
        wait: bool,
    },
    /// Restore (fail back).
    RcRestore {
        /// Group.
        group: String,
        /// Wait for the transfer.
        wait: bool,
    },
    /// Start a group.
    RcStart {
        /// Group.
        group: String,
        /// Wait for the transfer.
        wait: bool,
    },
    /// Stop a group.
    RcStop {
        /// Group.
        group: String,
    },
    /// Mount a backup on a host.
    Mount {
        /// Which backup.
        copy: CopySelector,
        /// Host.
        host: String,
    },
    /// Unmount.
    Unmount(CopySelector),
    /// Restore from a backup.
    Restore(CopySelector, RestoreKind),
    /// Verify a backup.
    Verify(CopySelector),
    /// Remove a backup.
    Remove(CopySelector),
    /// Set a database's policy.
    SetPolicy {
        /// Database.
        database: String,
        /// Policy.
        policy: PolicySpec,
    },
    /// Crash a backup server.
    CrashBackupServer(Site),
    /// Restart a backup server.
    RestartBackupServer(Site),
    /// Mount the live database.
    MountDatabase(String),
    /// Set or remove a CPG's growth limit.
    CpgGrowthLimit {
        /// Array.
        array: String,
        /// CPG.
        cpg: String,
        /// The new limit.
        limit: GrowthLimit,
    },
    /// Set a database's snapshot-space failure policy.
    SnapshotPolicy {
        /// Database.
        database: String,
        /// `stale_ss` (else `no_stale_ss`).
        stale_ss: bool,
    },
    /// Check the state.
    Expect(ExpectArgs),
}

/// A CPG growth limit a step sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowthLimit {
    /// No limit.
    None,
    /// This many MiB.
    Mib(u64),
    /// What the CPG uses when the step runs, rounded up to whole MiB, plus this many MiB.
    Headroom(u64),
}

/// Names declared in the setup, for checking references.
#[derive(Debug, Clone, Default)]
struct Names {
    arrays: Vec<String>,
    cpgs: Vec<(String, String)>,
    volumes: Vec<String>,
    databases: Vec<String>,
    groups: Vec<String>,
    /// Hosts by name, on any array: `[[host]]` and the Exchange server's own host.
    hosts: Vec<String>,
    remote_server: bool,
}

/// The byte offsets at which the lines of `text` start: 0, then just after each newline.
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

/// The line and column (both from 1) of byte `offset` in a text whose lines start at
/// `line_starts` (from [`line_starts`]): one rule for setup errors ([`Source::at`]) and for the
/// declarations the model's errors name ([`Scenario::declaration`]).
fn line_and_column(line_starts: &[usize], offset: usize) -> (usize, usize) {
    let line = line_starts.partition_point(|start| *start <= offset);
    let column = offset - line_starts[line - 1] + 1;
    (line, column)
}

/// Where problems are reported: the file name and its text (for line numbers).
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    /// An error at byte `offset`.
    fn at(&self, offset: usize, key: &str, message: impl Into<String>) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let line_starts: Vec<usize> = line_starts(self.text).collect();
        let (line, column) = line_and_column(&line_starts, offset);
        ScenarioError { file: self.file.to_owned(), line, column, key: key.to_owned(), message: message.into() }
    }

    /// An error about `key` inside the table spanning `span`: points at the key's own line when
    /// the key is written there (its last path segment), else at the nearest enclosing key
    /// written there (`mount` for a `mount.host` left to its default), else at the table.
    fn in_table(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> ScenarioError {
        let offset = key.rsplit('.').find_map(|segment| {
            let leaf = segment.split('[').next().unwrap_or(segment);
            self.key_in_table(span, leaf)
        });
        self.at(offset.unwrap_or(span.start), key, message)
    }

    /// Where `leaf` is written as a key (or table name) in the table spanning `span`.
    fn key_in_table(&self, span: &Range<usize>, leaf: &str) -> Option<usize> {
        let start = span.start.min(self.text.len());
        // A table's span may cover only its header: search up to the next header.
        let header_end = self.text[start..].find('\n').map_or(self.text.len(), |n| start + n);
        let next_header = self.text[header_end..].find("\n[").map_or(self.text.len(), |n| header_end + n);
        let end = span.end.min(self.text.len()).max(next_header);
        let table = &self.text[start..end];
        let found = table.match_indices(leaf).find(|(i, _)| {
            let after = table[i + leaf.len()..].trim_start();
            let before_ok =
                *i == 0 || !table.as_bytes()[i - 1].is_ascii_alphanumeric() && table.as_bytes()[i - 1] != b'_';
            before_ok && (after.starts_with('=') || after.starts_with('.') || after.starts_with(']'))
        });
        found.map(|(i, _)| start + i)
    }
}

/// Loads and validates the scenario file at `path`.
///
/// Errors: [`ScenarioError`] for unreadable files (line 0), TOML syntax, unknown keys, bad values
/// and references to undeclared names.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
        file: file.clone(),
        line: 0,
        column: 0,
        key: String::new(),
        message: format!("cannot read: {error}"),
    })?;
    parse(&file, &text)
}

/// Parses and validates scenario `text`; `file` names it in errors.
///
/// Errors: as [`load`].
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source { file, text };
    let parsed: ScenarioToml = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_owned();
        let key = key_of(text, &span, &message);
        source.at(span.start, &key, message)
    })?;
    validate(&source, parsed)
}

/// The key a TOML error concerns: named in the message (``unknown field `x` ``, ``missing field
/// `x` ``) or written just before the span.
fn key_of(text: &str, span: &Range<usize>, message: &str) -> String {
    if let Some(rest) = message.split("field `").nth(1)
        && let Some(name) = rest.split('`').next()
    {
        return name.to_owned();
    }
    let start = span.start.min(text.len());
    if message.starts_with("duplicate key") {
        // The span starts at the repeated key (or table header) itself.
        let rest = &text[start..];
        let end = rest.find(['=', '\n']).unwrap_or(rest.len());
        let key = rest[..end].trim().trim_matches(['[', ']']).trim();
        if !key.is_empty() {
            return key.to_owned();
        }
    }
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[line_start..start];
    let before_eq = line.rsplit_once('=').map(|(k, _)| k).unwrap_or(line);
    let key = before_eq.rsplit(['{', ',', ' ']).find(|s| !s.trim().is_empty()).unwrap_or("").trim();
    if key.is_empty() { "(document)".to_owned() } else { key.trim_matches(['[', ']']).to_owned() }
}

fn validate(source: &Source<'_>, file: ScenarioToml) -> Result<Scenario, ScenarioError> {
    let names = check_setup(source, &file)?;
    let mut fault_plan = Vec::new();
    for (i, fault) in file.faults.iter().enumerate() {
        let span = fault.span();
        let key = format!("fault[{i}]");
        let Some(at) = fault.get_ref().at else {
            return Err(source.in_table(&span, &format!("{key}.at"), "a planned fault needs `at` (e.g. at = \"90s\")"));
        };
        if fault.get_ref().after.is_some() {
            return Err(source.in_table(
                &span,
                &format!("{key}.after"),
                "`after` is for fault steps; the plan uses `at`",
            ));
        }
        let action = fault_action(source, &span, &key, fault.get_ref(), &names)?;
        if at.0 > VIRTUAL_TIME_MAX {
            return Err(source.in_table(&span, &format!("{key}.at"), past_the_clock(at.0)));
        }
        fault_plan.push(PlannedFault { index: i, at: at.0, fault: action });
    }
    fault_plan.sort_by_key(|f| f.at);
    let mut steps = Vec::new();
    let mut advanced = Duration::ZERO;
    for (i, step) in file.steps.iter().enumerate() {
        let key = format!("step[{i}]");
        let step_ok = step_of(source, &step.span(), &key, step.get_ref(), &names)?;
        if let Action::Advance(d) = step_ok.action {
            advanced = advanced.saturating_add(d);
            if advanced > VIRTUAL_TIME_MAX {
                return Err(source.in_table(
                    &step.span(),
                    &format!("{key}.advance"),
                    format!("the advance steps so far add up to {}; {}", human(advanced), past_the_clock(advanced)),
                ));
            }
        }
        steps.push(step_ok);
    }
    Ok(Scenario {
        name: file.scenario.name.clone(),
        description: file.scenario.description.clone(),
        seed: file.scenario.seed,
        file,
        fault_plan,
        steps,
        names,
        path: source.file.to_owned(),
        line_starts: line_starts(source.text).collect(),
    })
}

/// Largest `[links] count`: real Remote Copy targets use a few links, and the model sends each
/// message over the best of them, so more only costs memory (and a count near `u32::MAX` an
/// allocation that cannot succeed).
pub const LINKS_MAX: u32 = 8;

/// Largest `bandwidth_mbit_per_sec` (1 Tbit/s); the model counts bytes per second in a `u64`.
pub const LINK_BANDWIDTH_MBIT_PER_SEC_MAX: u64 = 1_000_000;

/// Largest `size_mib` of a `[[volume]]`: a 3PAR virtual volume's 16 TiB (the model's
/// `ArrayConfig::max_volume_size_mib` default).
pub const VOLUME_SIZE_MIB_MAX: u64 = 16 * 1024 * 1024;

/// Longest virtual time a run may reach: 2^63 ns (about 292 years), half of what the clock
/// (`simulator::Instant`, nanoseconds in a `u64`) can count before it saturates, so the setup and
/// the steps' own waits after a long advance still fit. Planned faults' `at` and the sum of a
/// scenario's `advance` steps are checked against it at load time, every advance and fault step
/// again at run time.
pub const VIRTUAL_TIME_MAX: Duration = Duration::from_nanos(u64::MAX / 2);

/// Why a time beyond [`VIRTUAL_TIME_MAX`] is refused.
fn past_the_clock(at: Duration) -> String {
    format!(
        "{} is past the longest virtual time a run may reach, {} (the clock counts nanoseconds in 64 bits)",
        human(at),
        human(VIRTUAL_TIME_MAX)
    )
}

fn check_setup(source: &Source<'_>, file: &ScenarioToml) -> Result<Names, ScenarioError> {
    let mut names = Names::default();
    if file.scenario.name.trim().is_empty() {
        return Err(source.at(0, "scenario.name", "a scenario needs a name"));
    }
    check_arrays(source, file, &mut names)?;
    check_storage(source, file, &mut names)?;
    check_links(source, file)?;
    check_databases(source, file, &mut names)?;
    check_workload(source, file)?;
    check_groups(source, file, &mut names)?;
    check_backup_servers(source, file, &mut names)?;
    let mut with_policy: Vec<&str> = Vec::new();
    for (i, policy) in file.policies.iter().enumerate() {
        let key = format!("policy[{i}]");
        policy_spec(source, &policy.span(), &key, policy.get_ref(), &names)?;
        let database = policy.get_ref().database.as_str();
        if let Some(first) = with_policy.iter().position(|d| *d == database) {
            return Err(source.in_table(
                &policy.span(),
                &format!("{key}.database"),
                format!("database `{database}` already has a policy (policy[{first}]); a database has one"),
            ));
        }
        with_policy.push(database);
    }
    Ok(names)
}

/// A name that must not be empty (nor only blanks): the model would refuse it at setup, or
/// worse, a default would quietly take its place.
fn not_empty(source: &Source<'_>, span: &Range<usize>, key: &str, name: &str) -> Result<(), ScenarioError> {
    if name.trim().is_empty() { Err(source.in_table(span, key, "must not be empty")) } else { Ok(()) }
}

fn check_arrays(source: &Source<'_>, file: &ScenarioToml, names: &mut Names) -> Result<(), ScenarioError> {
    if file.arrays.is_empty() {
        names.arrays = vec!["SIM-A".to_owned(), "SIM-B".to_owned()];
    }
    let mut system_ids: Vec<u32> = Vec::new();
    for (i, array) in file.arrays.iter().enumerate() {
        let a = array.get_ref();
        not_empty(source, &array.span(), &format!("array[{i}].name"), &a.name)?;
        if names.arrays.contains(&a.name) {
            return Err(source.in_table(
                &array.span(),
                &format!("array[{i}].name"),
                format!("array `{}` declared twice", a.name),
            ));
        }
        names.arrays.push(a.name.clone());
        let id = array_system_id(i, a);
        if system_ids.contains(&id) {
            return Err(source.in_table(
                &array.span(),
                &format!("array[{i}].system_id"),
                format!("system id {id} is already another array's (ids default to 20001, 20002, … by position)"),
            ));
        }
        system_ids.push(id);
    }
    Ok(())
}

/// The system id of the `index`-th `[[array]]`: its own, or 20001, 20002, … by position.
pub fn array_system_id(index: usize, array: &toml_format::ArrayToml) -> u32 {
    array.system_id.unwrap_or(20_001 + index as u32)
}

/// Records that `key` declares the `what` named `name` on `array`, refusing a second declaration
/// of the same name on the same array.
fn declared_once<'f>(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    seen: &mut Vec<(&'f str, &'f str)>,
    what: &str,
    array: &'f str,
    name: &'f str,
) -> Result<(), ScenarioError> {
    if seen.contains(&(array, name)) {
        return Err(source.in_table(span, key, format!("{what} `{name}` declared twice on array `{array}`")));
    }
    seen.push((array, name));
    Ok(())
}

fn check_storage(source: &Source<'_>, file: &ScenarioToml, names: &mut Names) -> Result<(), ScenarioError> {
    let mut cpgs: Vec<(&str, &str)> = Vec::new();
    for (i, cpg) in file.cpgs.iter().enumerate() {
        let c = cpg.get_ref();
        require(source, &cpg.span(), &format!("cpg[{i}].array"), &names.arrays, &c.array, "array")?;
        not_empty(source, &cpg.span(), &format!("cpg[{i}].name"), &c.name)?;
        declared_once(source, &cpg.span(), &format!("cpg[{i}].name"), &mut cpgs, "CPG", &c.array, &c.name)?;
        names.cpgs.push((c.array.clone(), c.name.clone()));
    }
    let mut hosts: Vec<(&str, &str)> = Vec::new();
    for (i, host) in file.hosts.iter().enumerate() {
        let h = host.get_ref();
        require(source, &host.span(), &format!("host[{i}].array"), &names.arrays, &h.array, "array")?;
        not_empty(source, &host.span(), &format!("host[{i}].name"), &h.name)?;
        declared_once(source, &host.span(), &format!("host[{i}].name"), &mut hosts, "host", &h.array, &h.name)?;
        names.hosts.push(h.name.clone());
    }
    let primary = names.arrays[0].clone();
    let mut volumes: Vec<(&str, &str)> = Vec::new();
    for (i, volume) in file.volumes.iter().enumerate() {
        let v = volume.get_ref();
        let key = format!("volume[{i}]");
        require(source, &volume.span(), &format!("{key}.array"), &names.arrays, &v.array, "array")?;
        not_empty(source, &volume.span(), &format!("{key}.name"), &v.name)?;
        declared_once(source, &volume.span(), &format!("{key}.name"), &mut volumes, "volume", &v.array, &v.name)?;
        require_cpg(source, &volume.span(), &format!("{key}.cpg"), names, &v.array, "", &v.cpg)?;
        if v.size_mib == 0 || v.size_mib > VOLUME_SIZE_MIB_MAX {
            return Err(source.in_table(
                &volume.span(),
                &format!("{key}.size_mib"),
                format!("{}: expected 1 .. {VOLUME_SIZE_MIB_MAX} MiB (16 TiB)", v.size_mib),
            ));
        }
        if let Some(p) = &v.provisioning
            && p != "thin"
            && p != "full"
        {
            return Err(source.in_table(
                &volume.span(),
                &format!("{key}.provisioning"),
                format!("`{p}`: expected \"thin\" or \"full\""),
            ));
        }
        if v.array == primary {
            names.volumes.push(v.name.clone());
        }
    }
    Ok(())
}

fn check_links(source: &Source<'_>, file: &ScenarioToml) -> Result<(), ScenarioError> {
    let Some(links) = &file.links else { return Ok(()) };
    let l = links.get_ref();
    if l.count.is_some_and(|count| count == 0 || count > LINKS_MAX) {
        return Err(source.in_table(&links.span(), "links.count", format!("expected 1 .. {LINKS_MAX} links")));
    }
    if l.bandwidth_mbit_per_sec.is_some_and(|b| b == 0 || b > LINK_BANDWIDTH_MBIT_PER_SEC_MAX) {
        return Err(source.in_table(
            &links.span(),
            "links.bandwidth_mbit_per_sec",
            format!("expected 1 .. {LINK_BANDWIDTH_MBIT_PER_SEC_MAX} Mbit/s"),
        ));
    }
    if l.tail_per_mille.is_some_and(|t| t > 1000) {
        return Err(source.in_table(&links.span(), "links.tail_per_mille", "at most 1000"));
    }
    Ok(())
}

/// The configuration of a `[[database]]`: its layout's, with `page_count` applied.
pub fn database_config(d: &toml_format::DatabaseToml) -> recovery::exchange::DatabaseConfig {
    let mut config = if d.layout.as_deref() == Some("standard") {
        recovery::exchange::DatabaseConfig::default()
    } else {
        recovery::exchange::DatabaseConfig::small()
    };
    if let Some(pages) = d.page_count {
        config.page_count = pages;
    }
    config
}

/// The database and log volume names of a `[[database]]`: its own, or `<name>.edb` and
/// `<name>.log` in lower case.
pub fn database_volumes(d: &toml_format::DatabaseToml) -> (String, String) {
    let lower = d.name.to_lowercase().replace(' ', "-");
    (
        d.db_volume.clone().unwrap_or_else(|| format!("{lower}.edb")),
        d.log_volume.clone().unwrap_or_else(|| format!("{lower}.log")),
    )
}

fn check_databases(source: &Source<'_>, file: &ScenarioToml, names: &mut Names) -> Result<(), ScenarioError> {
    if let Some(exchange) = &file.exchange {
        let e = exchange.get_ref();
        not_empty(source, &exchange.span(), "exchange.server", &e.server)?;
        if let Some(host) = &e.host {
            not_empty(source, &exchange.span(), "exchange.host", host)?;
        }
        names.hosts.push(e.host.clone().unwrap_or_else(|| e.server.to_lowercase()));
    }
    if !file.databases.is_empty() && file.exchange.is_none() {
        return Err(source.in_table(&file.databases[0].span(), "database", "databases need an [exchange] server"));
    }
    let primary = names.arrays[0].clone();
    // Volumes of the primary taken so far: plain ones, then each database's two.
    let mut taken: Vec<String> = names.volumes.clone();
    for (i, db) in file.databases.iter().enumerate() {
        let d = db.get_ref();
        let key = format!("database[{i}]");
        not_empty(source, &db.span(), &format!("{key}.name"), &d.name)?;
        require_cpg(source, &db.span(), &format!("{key}.cpg"), names, &primary, "the primary ", &d.cpg)?;
        if let Some(snap_cpg) = &d.snap_cpg {
            require_cpg(source, &db.span(), &format!("{key}.snap_cpg"), names, &primary, "the primary ", snap_cpg)?;
        }
        if let Some(layout) = &d.layout
            && layout != "small"
            && layout != "standard"
        {
            return Err(source.in_table(
                &db.span(),
                &format!("{key}.layout"),
                format!("`{layout}`: expected \"small\" or \"standard\""),
            ));
        }
        if d.page_count == Some(0) {
            return Err(source.in_table(&db.span(), &format!("{key}.page_count"), "at least one page"));
        }
        if names.databases.contains(&d.name) {
            return Err(source.in_table(
                &db.span(),
                &format!("{key}.name"),
                format!("database `{}` declared twice", d.name),
            ));
        }
        let (db_volume, log_volume) = database_volumes(d);
        for (leaf, volume) in [("db_volume", &db_volume), ("log_volume", &log_volume)] {
            // An explicit name points at its key; a default one at the database's name.
            let field = if leaf == "db_volume" { &d.db_volume } else { &d.log_volume };
            let at = if field.is_some() { format!("{key}.{leaf}") } else { format!("{key}.name") };
            not_empty(source, &db.span(), &at, volume)?;
            if taken.contains(volume) {
                return Err(source.in_table(
                    &db.span(),
                    &at,
                    format!("the {leaf} `{volume}` is already a volume of the primary array `{primary}`"),
                ));
            }
            taken.push(volume.clone());
        }
        names.databases.push(d.name.clone());
    }
    Ok(())
}

fn check_workload(source: &Source<'_>, file: &ScenarioToml) -> Result<(), ScenarioError> {
    let Some(workload) = &file.workload else { return Ok(()) };
    let w = workload.get_ref();
    let config = workload_config(w);
    if let Err(error) = config.validate() {
        return Err(source.in_table(&workload.span(), "workload", error.to_string()));
    }
    // The largest transaction the generator can draw must fit one log generation of every
    // database it writes to; otherwise commits fail at run time (and a huge `updates_max`
    // would allocate its updates before that).
    let needed = u64::from(config.updates_max)
        * recovery::exchange::layout::LogRecord::encoded_len(usize::from(config.bytes_max)) as u64;
    let smallest = file
        .databases
        .iter()
        .map(|db| {
            let config = database_config(db.get_ref());
            let capacity = config.log_slot_bytes - recovery::exchange::layout::GENERATION_HEADER_SIZE as u32;
            (capacity, db.get_ref().name.as_str())
        })
        .min();
    if let Some((capacity, database)) = smallest
        && needed > u64::from(capacity)
    {
        let key = if w.bytes_max.is_some() && w.updates_max.is_none() {
            "workload.bytes_max"
        } else {
            "workload.updates_max"
        };
        let overhead = recovery::exchange::layout::RECORD_OVERHEAD;
        return Err(source.in_table(
            &workload.span(),
            key,
            format!(
                "a transaction of up to {} updates of up to {} bytes needs {needed} bytes of log, but a log \
                 generation of database `{database}` holds {capacity}: keep updates_max × (bytes_max + {overhead}) \
                 ≤ {capacity}",
                config.updates_max, config.bytes_max
            ),
        ));
    }
    Ok(())
}

fn check_groups(source: &Source<'_>, file: &ScenarioToml, names: &mut Names) -> Result<(), ScenarioError> {
    // Databases and plain volumes already in a group, with the group's name.
    let mut grouped: Vec<(&str, &str)> = Vec::new();
    for (i, group) in file.rc_groups.iter().enumerate() {
        let g = group.get_ref();
        let key = format!("rc_group[{i}]");
        if names.arrays.len() < 2 {
            return Err(source.in_table(&group.span(), &key, "Remote Copy needs two arrays"));
        }
        not_empty(source, &group.span(), &format!("{key}.name"), &g.name)?;
        if g.mode != "synchronous" && g.mode != "periodic" {
            return Err(source.in_table(
                &group.span(),
                &format!("{key}.mode"),
                format!("`{}`: expected \"synchronous\" or \"periodic\"", g.mode),
            ));
        }
        if let Some(period) = g.period {
            if g.mode == "synchronous" && !period.0.is_zero() {
                return Err(source.in_table(
                    &group.span(),
                    &format!("{key}.period"),
                    "a synchronous group has no period",
                ));
            }
            let allowed = Duration::from_secs(300)..=Duration::from_secs(31_622_400);
            if !period.0.is_zero() && !allowed.contains(&period.0) {
                return Err(source.in_table(
                    &group.span(),
                    &format!("{key}.period"),
                    "period must be 0 or 5m .. 366 days (300 .. 31,622,400 s)",
                ));
            }
        }
        let members = [
            ("databases", &g.databases, &names.databases, "database"),
            ("volumes", &g.volumes, &names.volumes, "primary volume"),
        ];
        for (list, members, declared, what) in members {
            for (j, member) in members.iter().enumerate() {
                let at = format!("{key}.{list}[{j}]");
                require(source, &group.span(), &at, declared, member, what)?;
                if let Some((_, other)) = grouped.iter().find(|(name, _)| *name == member.as_str()) {
                    return Err(source.in_table(
                        &group.span(),
                        &at,
                        format!("`{member}` is already in group `{other}`; a volume is in one group at most"),
                    ));
                }
                grouped.push((member, &g.name));
            }
        }
        let target_key = format!("{key}.target_cpg");
        require_cpg(source, &group.span(), &target_key, names, &names.arrays[1], "the backup ", &g.target_cpg)?;
        if names.groups.contains(&g.name) {
            return Err(source.in_table(
                &group.span(),
                &format!("{key}.name"),
                format!("group `{}` declared twice", g.name),
            ));
        }
        names.groups.push(g.name.clone());
    }
    Ok(())
}

fn check_backup_servers(source: &Source<'_>, file: &ScenarioToml, names: &mut Names) -> Result<(), ScenarioError> {
    let Some(servers) = &file.backup_servers else {
        if let Some(db) = file.databases.first() {
            return Err(source.in_table(
                &db.span(),
                "backup_servers",
                "databases need [backup_servers] (at least `local`)",
            ));
        }
        return Ok(());
    };
    let s = servers.get_ref();
    let span = servers.span();
    not_empty(source, &span, "backup_servers.local", &s.local)?;
    for (key, value) in [
        ("backup_servers.remote", &s.remote),
        ("backup_servers.local_repository", &s.local_repository),
        ("backup_servers.remote_repository", &s.remote_repository),
    ] {
        if let Some(value) = value {
            not_empty(source, &span, key, value)?;
        }
    }
    names.remote_server = s.remote.is_some();
    if let Some(version) = &s.provider_version
        && parse_version(version).is_none()
    {
        return Err(source.in_table(
            &span,
            "backup_servers.provider_version",
            format!("`{version}`: expected \"major.minor\", e.g. \"2.2\""),
        ));
    }
    if s.remote.is_some() && names.arrays.len() < 2 {
        return Err(source.in_table(&span, "backup_servers.remote", "a remote backup server needs a second array"));
    }
    Ok(())
}

/// Requires CPG `cpg` to be declared on `array` (described as `which` array: `""`,
/// `"the primary "`, `"the backup "`).
fn require_cpg(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    names: &Names,
    array: &str,
    which: &str,
    cpg: &str,
) -> Result<(), ScenarioError> {
    if names.cpgs.iter().any(|(a, c)| a == array && c == cpg) {
        Ok(())
    } else {
        Err(source.in_table(span, key, format!("no CPG `{cpg}` on {which}array `{array}`")))
    }
}

fn require(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    known: &[String],
    name: &str,
    what: &str,
) -> Result<(), ScenarioError> {
    if known.iter().any(|k| k == name) {
        Ok(())
    } else {
        let list = if known.is_empty() { "none declared".to_owned() } else { known.join(", ") };
        Err(source.in_table(span, key, format!("no {what} `{name}` (declared: {list})")))
    }
}

/// `"2.2"` → `(2, 2)`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The workload configuration a `[workload]` table describes (defaults for absent keys).
pub fn workload_config(w: &toml_format::WorkloadToml) -> recovery::exchange::workload::WorkloadConfig {
    let d = recovery::exchange::workload::WorkloadConfig::default();
    recovery::exchange::workload::WorkloadConfig {
        updates_min: w.updates_min.unwrap_or(d.updates_min),
        updates_max: w.updates_max.unwrap_or(d.updates_max),
        bytes_min: w.bytes_min.unwrap_or(d.bytes_min),
        bytes_max: w.bytes_max.unwrap_or(d.bytes_max),
        flush_every: w.flush_every.unwrap_or(d.flush_every),
        pages_per_flush: w.pages_per_flush.unwrap_or(d.pages_per_flush),
    }
}

fn policy_spec(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    p: &PolicyToml,
    names: &Names,
) -> Result<PolicySpec, ScenarioError> {
    require(source, span, &format!("{key}.database"), &names.databases, &p.database, "database")?;
    let kind = match (p.max_copies, p.expiration_hours) {
        (Some(_), Some(_)) => {
            return Err(source.in_table(
                span,
                &format!("{key}.expiration_hours"),
                "a policy is numeric (max_copies) or expiration-based, not both",
            ));
        }
        (Some(0), None) => return Err(source.in_table(span, &format!("{key}.max_copies"), "at least 1")),
        (Some(max_copies), None) => Policy::Numeric { max_copies, remove_oldest: p.remove_oldest.unwrap_or(false) },
        (None, Some(hours)) => {
            if p.remove_oldest.is_some() {
                return Err(source.in_table(
                    span,
                    &format!("{key}.remove_oldest"),
                    "remove_oldest belongs to a numeric policy",
                ));
            }
            if hours == 0 {
                return Err(source.in_table(span, &format!("{key}.expiration_hours"), "at least 1 hour"));
            }
            Policy::Expiration { hours }
        }
        (None, None) => return Err(source.in_table(span, key, "give max_copies or expiration_hours")),
    };
    if let (Policy::Expiration { hours }, Some(retention)) = (kind, p.retention_hours)
        && retention > hours
    {
        return Err(source.in_table(span, &format!("{key}.retention_hours"), "retention cannot exceed expiration"));
    }
    Ok(PolicySpec { kind, retention_hours: p.retention_hours })
}

/// The policy a validated `[[policy]]` table describes.
pub fn policy_of(p: &PolicyToml) -> PolicySpec {
    let kind = match (p.max_copies, p.expiration_hours) {
        (Some(max_copies), _) => Policy::Numeric { max_copies, remove_oldest: p.remove_oldest.unwrap_or(false) },
        (None, hours) => Policy::Expiration { hours: hours.unwrap_or(1) },
    };
    PolicySpec { kind, retention_hours: p.retention_hours }
}

fn direction(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    text: Option<&str>,
) -> Result<Direction, ScenarioError> {
    match text.unwrap_or("both") {
        "both" => Ok(Direction::Both),
        "forward" => Ok(Direction::Forward),
        "backward" => Ok(Direction::Backward),
        other => Err(source.in_table(span, key, format!("`{other}`: expected \"both\", \"forward\" or \"backward\""))),
    }
}

fn array_index(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    name: Option<&str>,
    names: &Names,
) -> Result<usize, ScenarioError> {
    let Some(name) = name else { return Err(source.in_table(span, key, "this fault needs `array`")) };
    require(source, span, key, &names.arrays, name, "array")?;
    Ok(names.arrays.iter().position(|a| a == name).unwrap_or(0))
}

fn fault_action(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    f: &FaultToml,
    names: &Names,
) -> Result<FaultAction, ScenarioError> {
    let dir = || direction(source, span, &format!("{key}.direction"), f.direction.as_deref());
    let unused = |present: bool, name: &str| {
        if present {
            Err(source.in_table(
                span,
                &format!("{key}.{name}"),
                format!("`{name}` does not apply to a {} fault", f.kind),
            ))
        } else {
            Ok(())
        }
    };
    let link = f.kind.starts_with("link") || f.kind == "partition" || f.kind == "latency";
    if link && names.arrays.len() < 2 {
        return Err(source.in_table(span, &format!("{key}.kind"), "link faults need two arrays"));
    }
    let action = match f.kind.as_str() {
        "link_down" | "link_up" => {
            unused(f.array.is_some(), "array")?;
            unused(f.duration.is_some(), "duration")?;
            unused(f.latency.is_some(), "latency")?;
            if f.kind == "link_down" { FaultAction::LinkDown(dir()?) } else { FaultAction::LinkUp(dir()?) }
        }
        "partition" => {
            unused(f.array.is_some(), "array")?;
            unused(f.latency.is_some(), "latency")?;
            let Some(duration) = f.duration else {
                return Err(source.in_table(span, &format!("{key}.duration"), "a partition needs `duration`"));
            };
            FaultAction::Partition(dir()?, duration.0)
        }
        "latency" => {
            unused(f.array.is_some(), "array")?;
            unused(f.duration.is_some(), "duration")?;
            let Some(latency) = f.latency else {
                return Err(source.in_table(span, &format!("{key}.latency"), "a latency fault needs `latency`"));
            };
            FaultAction::Latency(dir()?, latency.0)
        }
        "array_crash" | "array_restart" => {
            unused(f.direction.is_some(), "direction")?;
            unused(f.duration.is_some(), "duration")?;
            unused(f.latency.is_some(), "latency")?;
            let index = array_index(source, span, &format!("{key}.array"), f.array.as_deref(), names)?;
            if f.kind == "array_crash" { FaultAction::ArrayCrash(index) } else { FaultAction::ArrayRestart(index) }
        }
        other => {
            return Err(source.in_table(
                span,
                &format!("{key}.kind"),
                format!("`{other}`: expected link_down, link_up, partition, latency, array_crash or array_restart"),
            ));
        }
    };
    Ok(action)
}

fn site(source: &Source<'_>, span: &Range<usize>, key: &str, text: &str, names: &Names) -> Result<Site, ScenarioError> {
    match text {
        "local" => Ok(Site::Local),
        "remote" if names.remote_server => Ok(Site::Remote),
        "remote" => Err(source.in_table(span, key, "no remote backup server is declared in [backup_servers]")),
        other => Err(source.in_table(span, key, format!("`{other}`: expected \"local\" or \"remote\""))),
    }
}

fn selector(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    text: Option<&str>,
) -> Result<BackupSelector, ScenarioError> {
    Ok(match text.unwrap_or("latest") {
        "latest" => BackupSelector::Latest,
        "oldest" => BackupSelector::Oldest,
        n if n.starts_with('#') => BackupSelector::Newest(
            n[1..].parse().map_err(|_| source.in_table(span, key, format!("`{n}`: expected #0, #1, ...")))?,
        ),
        id if id.len() == 14 && id.bytes().all(|b| b.is_ascii_digit()) => BackupSelector::Id(id.to_owned()),
        other => {
            return Err(source.in_table(
                span,
                key,
                format!("`{other}`: expected \"latest\", \"oldest\", \"#n\" or a backup id (14 digits)"),
            ));
        }
    })
}

fn copy_selector(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    database: &str,
    site_text: Option<&str>,
    backup: Option<&str>,
    names: &Names,
) -> Result<CopySelector, ScenarioError> {
    require(source, span, &format!("{key}.database"), &names.databases, database, "database")?;
    let site = match site_text {
        Some(text) => Some(site(source, span, &format!("{key}.site"), text, names)?),
        None => None,
    };
    Ok(CopySelector {
        database: database.to_owned(),
        site,
        backup: selector(source, span, &format!("{key}.backup"), backup)?,
    })
}

/// The snake_case name of a VSS step (`CommitSnapshots` → `commit_snapshots`).
pub fn vss_step_name(step: VssStep) -> String {
    snake(&format!("{step:?}"))
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn vss_code(symbol: &str) -> Option<VssCode> {
    let wanted = symbol.trim_start_matches("VSS_E_");
    VssCode::ALL.iter().copied().find(|c| c.symbol().trim_start_matches("VSS_E_") == wanted)
}

fn backup_plan(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    b: &toml_format::BackupArgs,
    names: &Names,
) -> Result<BackupPlan, ScenarioError> {
    require(source, span, &format!("{key}.database"), &names.databases, &b.database, "database")?;
    let backup_type = match b.backup_type.as_deref().unwrap_or("full") {
        "full" => BackupType::Full,
        "copy" => BackupType::Copy,
        other => {
            return Err(source.in_table(
                span,
                &format!("{key}.type"),
                format!("`{other}`: expected \"full\" or \"copy\""),
            ));
        }
    };
    let fault = match &b.fault {
        None => None,
        Some(f) => {
            let Some(step) = WorkflowStep::ALL.iter().copied().find(|s| s.name() == f.at) else {
                let all: Vec<&str> = WorkflowStep::ALL.iter().map(|s| s.name()).collect();
                return Err(source.in_table(
                    span,
                    &format!("{key}.fault.at"),
                    format!("`{}`: expected one of {}", f.at, all.join(", ")),
                ));
            };
            let kind = match (f.kind.as_str(), f.delay) {
                ("fail", None) => WorkflowFault::Fail,
                ("crash", None) => WorkflowFault::BackupServerCrash,
                ("delay", Some(d)) => WorkflowFault::Delay(d.0),
                ("delay", None) => {
                    return Err(source.in_table(span, &format!("{key}.fault.delay"), "a delay fault needs `delay`"));
                }
                ("fail" | "crash", Some(_)) => {
                    return Err(source.in_table(
                        span,
                        &format!("{key}.fault.delay"),
                        "`delay` belongs to kind = \"delay\"",
                    ));
                }
                (other, _) => {
                    return Err(source.in_table(
                        span,
                        &format!("{key}.fault.kind"),
                        format!("`{other}`: expected \"fail\", \"crash\" or \"delay\""),
                    ));
                }
            };
            Some((step, kind))
        }
    };
    let vss_fault = match &b.vss_fault {
        None => None,
        Some(f) => {
            let Some(step) = VssStep::ALL.iter().copied().find(|s| vss_step_name(*s) == f.at) else {
                let all: Vec<String> = VssStep::ALL.iter().map(|s| vss_step_name(*s)).collect();
                return Err(source.in_table(
                    span,
                    &format!("{key}.vss_fault.at"),
                    format!("`{}`: expected one of {}", f.at, all.join(", ")),
                ));
            };
            let fault = match (&f.delay, &f.error) {
                (Some(d), None) => InjectedFault::Delay(d.0),
                (None, Some(symbol)) => match vss_code(symbol) {
                    Some(code) => InjectedFault::Fail(code),
                    None => {
                        return Err(source.in_table(
                            span,
                            &format!("{key}.vss_fault.error"),
                            format!("`{symbol}` is not a VSS error this model knows"),
                        ));
                    }
                },
                _ => {
                    return Err(source.in_table(
                        span,
                        &format!("{key}.vss_fault"),
                        "give exactly one of `delay` or `error`",
                    ));
                }
            };
            Some((step, fault))
        }
    };
    Ok(BackupPlan {
        server: String::new(),
        database: b.database.clone(),
        backup_type,
        no_integrity_check: b.no_integrity_check.unwrap_or(false),
        expiration_hours: b.expiration_hours,
        retention_hours: b.retention_hours,
        fault,
        vss_fault,
    })
}

fn step_of(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    s: &StepToml,
    names: &Names,
) -> Result<Step, ScenarioError> {
    let k = |name: &str| format!("{key}.{name}");
    if let Some(label) = &s.label
        && label.chars().any(char::is_control)
    {
        return Err(source.in_table(
            span,
            &k("label"),
            "a label is shown on one report line: no line breaks or other control characters",
        ));
    }
    let mut actions: Vec<(&str, Action)> = Vec::new();
    if let Some(w) = &s.write {
        let action = match (&w.database, &w.volume) {
            (Some(db), None) => {
                require(source, span, &k("write.database"), &names.databases, db, "database")?;
                if w.offset.is_some() || w.length.is_some() {
                    return Err(source.in_table(span, &k("write.offset"), "offset/length are for volume writes"));
                }
                Action::Transactions { database: db.clone(), count: w.transactions.unwrap_or(1) }
            }
            (None, Some(volume)) => {
                require(source, span, &k("write.volume"), &names.volumes, volume, "primary volume")?;
                if w.transactions.is_some() {
                    return Err(source.in_table(
                        span,
                        &k("write.transactions"),
                        "transactions are for database writes",
                    ));
                }
                let length = w.length.unwrap_or(4096);
                if length == 0 || length > 64 << 20 {
                    return Err(source.in_table(span, &k("write.length"), "1 byte .. 64 MiB"));
                }
                Action::WriteVolume { volume: volume.clone(), offset: w.offset.unwrap_or(0), length }
            }
            _ => return Err(source.in_table(span, &k("write"), "give exactly one of `database` or `volume`")),
        };
        actions.push(("write", action));
    }
    if let Some(b) = &s.backup {
        actions.push(("backup", Action::Backup(backup_plan(source, span, &k("backup"), b, names)?)));
    }
    if let Some(sync) = &s.sync {
        require(source, span, &k("sync.group"), &names.groups, &sync.group, "Remote Copy group")?;
        actions.push((
            "sync",
            Action::Sync {
                group: sync.group.clone(),
                wait: sync.wait.unwrap_or(true),
                full: sync.full.unwrap_or(false),
            },
        ));
    }
    if let Some(d) = s.advance {
        if d.0 > VIRTUAL_TIME_MAX {
            return Err(source.in_table(span, &k("advance"), past_the_clock(d.0)));
        }
        actions.push(("advance", Action::Advance(d.0)));
    }
    if let Some(f) = &s.fault {
        if f.at.is_some() {
            return Err(source.in_table(
                span,
                &k("fault.at"),
                "a fault step uses `after` (from the step's start); `at` is for the [[fault]] plan",
            ));
        }
        let fault = fault_action(source, span, &k("fault"), f, names)?;
        actions.push(("fault", Action::Fault { after: f.after.map_or(Duration::ZERO, |d| d.0), fault }));
    }
    let group = |name: &str, g: &toml_format::GroupArgs| -> Result<(), ScenarioError> {
        require(source, span, &k(&format!("{name}.group")), &names.groups, &g.group, "Remote Copy group")?;
        if g.no_promote.is_some() && name != "failover" {
            return Err(source.in_table(span, &k(&format!("{name}.no_promote")), "no_promote belongs to failover"));
        }
        if g.wait.is_some() && (name == "failover" || name == "rc_stop") {
            return Err(source.in_table(
                span,
                &k(&format!("{name}.wait")),
                format!("{name} has no transfer to wait for; `wait` belongs to recover, rc_restore and rc_start"),
            ));
        }
        Ok(())
    };
    if let Some(g) = &s.failover {
        group("failover", g)?;
        actions
            .push(("failover", Action::Failover { group: g.group.clone(), no_promote: g.no_promote.unwrap_or(false) }));
    }
    if let Some(g) = &s.recover {
        group("recover", g)?;
        actions.push(("recover", Action::Recover { group: g.group.clone(), wait: g.wait.unwrap_or(true) }));
    }
    if let Some(g) = &s.rc_restore {
        group("rc_restore", g)?;
        actions.push(("rc_restore", Action::RcRestore { group: g.group.clone(), wait: g.wait.unwrap_or(true) }));
    }
    if let Some(g) = &s.rc_start {
        group("rc_start", g)?;
        actions.push(("rc_start", Action::RcStart { group: g.group.clone(), wait: g.wait.unwrap_or(true) }));
    }
    if let Some(g) = &s.rc_stop {
        group("rc_stop", g)?;
        actions.push(("rc_stop", Action::RcStop { group: g.group.clone() }));
    }
    if let Some(m) = &s.mount {
        let copy =
            copy_selector(source, span, &k("mount"), &m.database, m.site.as_deref(), m.backup.as_deref(), names)?;
        let host = host_of(source, span, &k("mount.host"), m.host.as_deref(), "backup-host", names)?;
        actions.push(("mount", Action::Mount { copy, host }));
    }
    if let Some(c) = &s.unmount {
        actions.push((
            "unmount",
            Action::Unmount(copy_selector(
                source,
                span,
                &k("unmount"),
                &c.database,
                c.site.as_deref(),
                c.backup.as_deref(),
                names,
            )?),
        ));
    }
    if let Some(r) = &s.restore {
        let copy =
            copy_selector(source, span, &k("restore"), &r.database, r.site.as_deref(), r.backup.as_deref(), names)?;
        let kind = match r.kind.as_deref().unwrap_or("volume_promote") {
            "volume_promote" if r.host.is_some() => {
                return Err(source.in_table(span, &k("restore.host"), "a volume promote needs no host"));
            }
            "volume_promote" => RestoreKind::VolumePromote,
            "file_copy" => RestoreKind::FileCopy {
                host: host_of(source, span, &k("restore.host"), r.host.as_deref(), "backup-host", names)?,
            },
            "database_from_remote" => RestoreKind::DatabaseFromRemote {
                host: host_of(source, span, &k("restore.host"), r.host.as_deref(), "standby-host", names)?,
            },
            other => {
                return Err(source.in_table(
                    span,
                    &k("restore.kind"),
                    format!("`{other}`: expected \"volume_promote\", \"file_copy\" or \"database_from_remote\""),
                ));
            }
        };
        actions.push(("restore", Action::Restore(copy, kind)));
    }
    if let Some(c) = &s.verify {
        actions.push((
            "verify",
            Action::Verify(copy_selector(
                source,
                span,
                &k("verify"),
                &c.database,
                c.site.as_deref(),
                c.backup.as_deref(),
                names,
            )?),
        ));
    }
    if let Some(c) = &s.remove {
        actions.push((
            "remove",
            Action::Remove(copy_selector(
                source,
                span,
                &k("remove"),
                &c.database,
                c.site.as_deref(),
                c.backup.as_deref(),
                names,
            )?),
        ));
    }
    if let Some(p) = &s.set_policy {
        let policy = policy_spec(source, span, &k("set_policy"), p, names)?;
        actions.push(("set_policy", Action::SetPolicy { database: p.database.clone(), policy }));
    }
    if let Some(text) = &s.crash_backup_server {
        actions.push((
            "crash_backup_server",
            Action::CrashBackupServer(site(source, span, &k("crash_backup_server"), text, names)?),
        ));
    }
    if let Some(text) = &s.restart_backup_server {
        actions.push((
            "restart_backup_server",
            Action::RestartBackupServer(site(source, span, &k("restart_backup_server"), text, names)?),
        ));
    }
    if let Some(db) = &s.mount_database {
        require(source, span, &k("mount_database"), &names.databases, db, "database")?;
        actions.push(("mount_database", Action::MountDatabase(db.clone())));
    }
    if let Some(c) = &s.cpg_growth_limit {
        require(source, span, &k("cpg_growth_limit.array"), &names.arrays, &c.array, "array")?;
        require_cpg(source, span, &k("cpg_growth_limit.cpg"), names, &c.array, "", &c.cpg)?;
        let limit = match (c.mib, c.headroom_mib) {
            (None, None) => GrowthLimit::None,
            (Some(mib), None) => GrowthLimit::Mib(mib),
            (None, Some(mib)) => GrowthLimit::Headroom(mib),
            (Some(_), Some(_)) => {
                return Err(source.in_table(
                    span,
                    &k("cpg_growth_limit.headroom_mib"),
                    "give `mib` or `headroom_mib`, not both (neither removes the limit)",
                ));
            }
        };
        actions
            .push(("cpg_growth_limit", Action::CpgGrowthLimit { array: c.array.clone(), cpg: c.cpg.clone(), limit }));
    }
    if let Some(p) = &s.snapshot_policy {
        require(source, span, &k("snapshot_policy.database"), &names.databases, &p.database, "database")?;
        actions
            .push(("snapshot_policy", Action::SnapshotPolicy { database: p.database.clone(), stale_ss: p.stale_ss }));
    }
    if let Some(e) = &s.expect {
        check_expect(source, span, &k("expect"), e, names)?;
        actions.push(("expect", Action::Expect(e.clone())));
    }
    let action = match actions.len() {
        1 => actions.pop().map(|(_, a)| a).expect("one action"),
        0 => return Err(source.in_table(span, key, "a step needs one action (write, backup, sync, advance, fault, failover, recover, rc_restore, rc_start, rc_stop, mount, unmount, restore, verify, remove, set_policy, crash_backup_server, restart_backup_server, mount_database, cpg_growth_limit, snapshot_policy, expect)")),
        _ => {
            let keys: Vec<&str> = actions.iter().map(|(name, _)| *name).collect();
            return Err(source.in_table(span, &k(keys[1]), format!("one action per step; this one has {}", keys.join(" and "))));
        }
    };
    let expectation = match (s.outcome.as_deref(), &s.error_contains) {
        (None, None) => Expectation::Any,
        (Some("ok"), None) => Expectation::Ok,
        (Some("error") | None, Some(text)) => Expectation::Error(Some(text.clone())),
        (Some("error"), None) => Expectation::Error(None),
        (Some("ok"), Some(_)) => {
            return Err(source.in_table(span, &k("error_contains"), "contradicts outcome = \"ok\""));
        }
        (Some(other), _) => {
            return Err(source.in_table(span, &k("outcome"), format!("`{other}`: expected \"ok\" or \"error\"")));
        }
    };
    if matches!(action, Action::Expect(_)) && expectation != Expectation::Any {
        return Err(source.in_table(span, &k("outcome"), "an expect step has no outcome of its own"));
    }
    Ok(Step { toml: s.clone(), action, expectation })
}

/// The host a step names, or `default` when it names none; either must be declared (`[[host]]`,
/// or the Exchange server's own host).
fn host_of(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    host: Option<&str>,
    default: &str,
    names: &Names,
) -> Result<String, ScenarioError> {
    let name = host.unwrap_or(default);
    if names.hosts.iter().any(|h| h == name) {
        return Ok(name.to_owned());
    }
    let list = if names.hosts.is_empty() { "none declared".to_owned() } else { names.hosts.join(", ") };
    let default_note = if host.is_none() { " (the default; declare it in [[host]] or give `host`)" } else { "" };
    Err(source.in_table(span, key, format!("no host `{name}`{default_note} (declared: {list})")))
}

fn check_expect(
    source: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    e: &ExpectArgs,
    names: &Names,
) -> Result<(), ScenarioError> {
    if let Some(db) = &e.database {
        require(source, span, &format!("{key}.database"), &names.databases, db, "database")?;
    } else if e.local_entries.is_some()
        || e.remote_entries.is_some()
        || e.retained_on_primary.is_some()
        || e.recoverable.is_some()
    {
        return Err(source.in_table(
            span,
            &format!("{key}.database"),
            "entry counts and `recoverable` need `database`",
        ));
    }
    if let Some(text) = &e.site
        && text != "live"
    {
        site(source, span, &format!("{key}.site"), text, names)?;
    }
    if e.site.is_some() && e.recoverable.is_none() {
        return Err(source.in_table(span, &format!("{key}.site"), "`site` is for `recoverable`, which is missing"));
    }
    let database_checks = e.local_entries.is_some()
        || e.remote_entries.is_some()
        || e.retained_on_primary.is_some()
        || e.recoverable.is_some();
    if e.database.is_some() && !database_checks {
        return Err(source.in_table(
            span,
            &format!("{key}.database"),
            "checks nothing by itself: add local_entries, remote_entries, retained_on_primary or recoverable",
        ));
    }
    if e.group.is_some() && e.role.is_none() && e.group_state.is_none() {
        return Err(source.in_table(
            span,
            &format!("{key}.group"),
            "checks nothing by itself: add role or group_state",
        ));
    }
    if e.array.is_some() && e.array_online.is_none() && e.role.is_none() && e.group_state.is_none() {
        return Err(source.in_table(
            span,
            &format!("{key}.array"),
            "checks nothing by itself: add array_online, or role or group_state with group",
        ));
    }
    if e == &ExpectArgs::default() {
        return Err(source.in_table(span, key, "an expect step needs at least one check (see docs/scenarios.md)"));
    }
    if let Some(group) = &e.group {
        require(source, span, &format!("{key}.group"), &names.groups, group, "Remote Copy group")?;
    } else if e.role.is_some() || e.group_state.is_some() {
        return Err(source.in_table(span, &format!("{key}.group"), "`role` and `group_state` need `group`"));
    }
    if let Some(array) = &e.array {
        require(source, span, &format!("{key}.array"), &names.arrays, array, "array")?;
    } else if e.array_online.is_some() {
        return Err(source.in_table(span, &format!("{key}.array"), "`array_online` needs `array`"));
    }
    if let Some(role) = &e.role
        && !["Primary", "Secondary", "Primary-Rev", "Secondary-Rev"].contains(&role.as_str())
    {
        return Err(source.in_table(
            span,
            &format!("{key}.role"),
            format!("`{role}`: expected Primary, Secondary, Primary-Rev or Secondary-Rev"),
        ));
    }
    if let Some(state) = &e.group_state
        && !["new", "started", "stopped"].contains(&state.as_str())
    {
        return Err(source.in_table(
            span,
            &format!("{key}.group_state"),
            format!("`{state}`: expected new, started or stopped"),
        ));
    }
    Ok(())
}

impl Scenario {
    /// Where the `index`-th `[[table]]` declaration spanning `span` is: `f.toml:12: [[cpg]] #2`,
    /// for errors the model only finds at setup.
    pub fn declaration(&self, table: &str, index: usize, span: &Range<usize>) -> String {
        let (line, _) = line_and_column(&self.line_starts, span.start);
        format!("{}:{line}: [[{table}]] #{}", self.path, index + 1)
    }

    /// The scenario as a TOML file: the setup as loaded, the steps given (file form), the seed
    /// given. `run` on the result replays exactly those steps.
    pub fn to_toml(&self, seed: u64, steps: &[StepToml]) -> String {
        let mut file = self.file.clone();
        file.scenario.seed = seed;
        file.steps.clear();
        let mut text =
            toml::to_string(&file).unwrap_or_else(|error| format!("# could not write the scenario: {error}\n"));
        for step in steps {
            text.push_str("\n[[step]]\n");
            text.push_str(&step_lines(step));
        }
        text
    }

    /// Validates `step` (file form) against this scenario's setup, as a file step would be.
    ///
    /// Errors: as [`parse`]; the location is `<generated>`.
    pub fn step(&self, step: &StepToml) -> Result<Step, ScenarioError> {
        let source = Source { file: "<generated>", text: "" };
        step_of(&source, &(0..0), "step", step, &self.names)
    }
}

/// One step as `key = inline value` lines (the form fixtures are written in).
pub fn step_lines(step: &StepToml) -> String {
    let mut out = String::new();
    if let Ok(toml::Value::Table(table)) = toml::Value::try_from(step) {
        for (key, value) in &table {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    out
}

/// One step on one line: `backup = { database = "DB1" }; outcome = "ok"`.
pub fn step_line(step: &StepToml) -> String {
    step_lines(step).trim_end().replace('\n', "; ")
}

#[cfg(test)]
pub(crate) mod tests;
