//! The world a scenario builds — simulation, recovery engine, workloads, reference model — and
//! the execution of one step.
//!
//! What it holds: [`World`] (everything one run owns), [`World::build`] (the scenario's setup:
//! arrays, CPGs, volumes, links, the Exchange server and its mounted databases, Remote Copy groups
//! started and in sync, the engine with its backup servers and policies, the fault plan on the
//! timeline) and [`World::apply`] (one step, returning a [`StepResult`]).
//!
//! What it does not do: it checks no invariant (the runner and campaigns call
//! [`crate::invariants::check_all`] after each step) and judges no expectation except `expect`
//! steps, whose checks are state queries.
//!
//! Main design choice: every step goes through [`World::apply`], whatever its origin (fixture,
//! campaign, property test), and after it [`World::settle`] runs the engine's `tick`, drains the
//! engine's step records into the reference model and collects timeline events from the trace.
//! The cost: a step's bookkeeping (trace scan, records) is paid even when nobody draws a timeline;
//! collecting is switched off for campaigns.

use std::collections::BTreeMap;
use std::time::Duration;

use recovery::exchange::workload::{Workload, WorkloadConfig};
use recovery::exchange::{CommitOutcome, DatabaseSpec, MailboxServer};
use recovery::repository::{Entry, EntryKey, Site};
use simulator::{
    AdmitSpec, ArrayConfig, ArrayId, CpgSpec, Direction, DrOptions, Fault, GroupPolicies, GroupSpec, LinkSpec, Mode,
    Simulation, StartOptions, StopOptions, SyncOptions, TargetSpec, VolumeSpec,
};

use crate::engine::{
    BackupRequest, BackupServerConfig, Engine, EngineConfig, EngineError, RepositoryStorage, StepOutcome, StepRecord,
};
use crate::reference::Reference;
use crate::scenario::{
    Action, BackupSelector, CopySelector, ExpectArgs, FaultAction, Scenario, database_config, database_volumes,
    parse_version, workload_config,
};
use crate::timeline::{Lane, TimelineEvent};

/// Longest a step waits on the virtual timeline for a transfer to end.
pub const TRANSFER_WAIT: Duration = Duration::from_secs(6 * 3600);

/// Options of [`World::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// Seed (the scenario's, or the CLI's override).
    pub seed: u64,
    /// Collect timeline events (the runner does; campaigns do not).
    pub collect_timeline: bool,
    /// Trace lines kept in memory.
    pub trace_capacity: usize,
    /// A deliberately wrong engine variant (test-only).
    pub defect: Option<crate::engine::Defect>,
}

impl BuildOptions {
    /// Defaults for `seed`: timeline on, 100,000 trace lines, no defect.
    pub fn new(seed: u64) -> BuildOptions {
        BuildOptions { seed, collect_timeline: true, trace_capacity: 100_000, defect: None }
    }
}

/// A database as the scenario declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// Database volume on the primary array.
    pub db_volume: String,
    /// Log volume on the primary array.
    pub log_volume: String,
    /// Remote Copy group replicating it, if any.
    pub group: Option<String>,
}

/// A Remote Copy group as the scenario declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Mode.
    pub mode: Mode,
    /// Its partner's name on the backup array.
    pub partner: String,
}

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Workload transactions committed.
    pub transactions: u64,
    /// Backups that succeeded.
    pub backups_ok: u64,
    /// Backups that failed.
    pub backups_failed: u64,
    /// Other engine workflows run (mount, unmount, restore, verify, remove).
    pub workflows: u64,
    /// Faults that took effect: scheduled ones (plan and steps) whose time has come, workflow
    /// and server faults, and CPG growth limits set.
    pub faults: u64,
}

/// A fault put on the timeline, by the plan or a fault step. Kept as data: its texts are only
/// built for a report ([`World::describe_fault`], the origin's `Display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledFault {
    /// When it is due.
    pub at: simulator::Instant,
    /// Where it comes from.
    pub origin: FaultOrigin,
    /// What it does.
    pub fault: FaultAction,
}

/// Where a scheduled fault comes from, displayed as `fault[0] at 10h` or `fault step at 5s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOrigin {
    /// The `index`-th `[[fault]]` of the plan, due `at` after the start.
    Plan { index: usize, at: Duration },
    /// A fault step taken `at` after the start.
    Step { at: Duration },
}

impl std::fmt::Display for FaultOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            FaultOrigin::Plan { index, at } => write!(f, "fault[{index}] at {}", crate::scenario::DurationText(at)),
            FaultOrigin::Step { at } => write!(f, "fault step at {}", crate::scenario::DurationText(at)),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepResult {
    /// Whether the action succeeded.
    pub ok: bool,
    /// One line: what happened.
    pub detail: String,
    /// The error, when it failed.
    pub error: Option<String>,
    /// `expect` steps: the checks that did not hold.
    pub expect_failures: Vec<String>,
}

impl StepResult {
    fn ok(detail: String) -> StepResult {
        StepResult { ok: true, detail, ..StepResult::default() }
    }

    fn failed(detail: String, error: String) -> StepResult {
        StepResult { ok: false, detail, error: Some(error), ..StepResult::default() }
    }
}

/// Everything one run owns.
pub struct World {
    /// The arrays and the clock.
    pub sim: Simulation,
    /// The recovery engine (backup servers, repositories, the mailbox server).
    pub engine: Engine,
    /// The mailbox server's name, if the scenario has one.
    pub server: Option<String>,
    /// Databases by name.
    pub databases: BTreeMap<String, DatabaseInfo>,
    /// Remote Copy groups by name.
    pub groups: BTreeMap<String, GroupInfo>,
    /// The reference model (history invariants).
    pub reference: Reference,
    /// Counters.
    stats: WorldStats,
    /// Timeline events collected so far (when enabled).
    pub timeline: Vec<TimelineEvent>,
    /// Virtual time when the first step started.
    pub start: simulator::Instant,
    /// Memoised invariant verdicts (see [`crate::invariants::check_all`]).
    pub memo: crate::invariants::Memo,
    workloads: BTreeMap<String, Workload>,
    /// Faults put on the timeline (see [`World::scheduled_faults`]).
    scheduled_faults: Vec<ScheduledFault>,
    workload_config: WorkloadConfig,
    collect_timeline: bool,
    trace_seen: u64,
    has_remote: bool,
}

/// Why a world could not be built.
#[derive(Debug, thiserror::Error)]
#[error("setup: {what}: {error}")]
pub struct SetupError {
    /// What was being set up.
    pub what: String,
    /// The error.
    pub error: String,
}

/// The `map_err` of a setup step: `what` (built only on an error) names the declaration.
fn setup<E: std::fmt::Display, S: Into<String>>(what: impl FnOnce() -> S) -> impl FnOnce(E) -> SetupError {
    move |error| SetupError { what: what().into(), error: error.to_string() }
}

impl World {
    /// Builds the scenario's setup and schedules its fault plan.
    ///
    /// Errors: [`SetupError`] naming the object the model refused.
    pub fn build(scenario: &Scenario, options: BuildOptions) -> Result<World, SetupError> {
        let file = &scenario.file;
        let mut builder = Simulation::builder();
        builder.seed(options.seed).pair_first_two(false).trace_capacity(options.trace_capacity);
        if file.arrays.is_empty() {
            builder.array(ArrayConfig::primary()).array(ArrayConfig::backup());
        }
        for (i, array) in file.arrays.iter().enumerate() {
            let a = array.get_ref();
            let id = crate::scenario::array_system_id(i, a);
            builder.array(ArrayConfig::named(&a.name, id, &format!("16{id}")));
        }
        let mut sim = builder.build().map_err(setup(|| "arrays"))?;
        let arrays: Vec<ArrayId> = sim.array_ids().collect();
        if arrays.len() >= 2 {
            let links = file.links.as_ref().map(|l| l.get_ref().clone()).unwrap_or_default();
            let default = LinkSpec::default();
            let spec = LinkSpec {
                latency: links.latency.map_or(default.latency, |d| d.0),
                tail_per_mille: links.tail_per_mille.unwrap_or(default.tail_per_mille),
                tail_max_factor: default.tail_max_factor,
                bandwidth_bytes_per_sec: links
                    .bandwidth_mbit_per_sec
                    .map_or(default.bandwidth_bytes_per_sec, |m| m * 125_000),
            };
            let (a, b) = (arrays[0], arrays[1]);
            let target = TargetSpec {
                a,
                b,
                name_on_a: sim.array(b).name().to_owned(),
                name_on_b: sim.array(a).name().to_owned(),
                links: vec![spec; links.count.unwrap_or(2) as usize],
            };
            sim.remote_copy().create_targets(target).map_err(setup(|| "Remote Copy targets"))?;
        }
        let by_name = |sim: &Simulation, name: &str| sim.array_by_name(name).expect("validated array name");
        // Setup errors name the declaration (file, line, position) the model refused: what the
        // loader cannot check (the model's own limits on names, capacity) only shows up here.
        for (i, cpg) in file.cpgs.iter().enumerate() {
            let c = cpg.get_ref();
            let array = by_name(&sim, &c.array);
            sim.array_mut(array)
                .create_cpg(CpgSpec { name: c.name.clone(), ..CpgSpec::default() })
                .map_err(setup(|| format!("{} `{}`", scenario.declaration("cpg", i, &cpg.span()), c.name)))?;
        }
        for (i, host) in file.hosts.iter().enumerate() {
            let h = host.get_ref();
            let array = by_name(&sim, &h.array);
            sim.array_mut(array)
                .create_host(simulator::HostSpec { name: h.name.clone(), ..simulator::HostSpec::default() })
                .map_err(setup(|| format!("{} `{}`", scenario.declaration("host", i, &host.span()), h.name)))?;
        }
        for (i, volume) in file.volumes.iter().enumerate() {
            let v = volume.get_ref();
            let array = by_name(&sim, &v.array);
            let spec = if v.provisioning.as_deref() == Some("full") {
                VolumeSpec::full(&v.name, &v.cpg, v.size_mib)
            } else {
                VolumeSpec::thin(&v.name, &v.cpg, v.size_mib)
            };
            sim.array_mut(array)
                .create_volume(spec)
                .map_err(setup(|| format!("{} `{}`", scenario.declaration("volume", i, &volume.span()), v.name)))?;
        }
        let primary = arrays[0];
        let mut databases = BTreeMap::new();
        let mut server_object = None;
        if let Some(exchange) = &file.exchange {
            let e = exchange.get_ref();
            let host = e.host.clone().unwrap_or_else(|| e.server.to_lowercase());
            let mut server = MailboxServer::create(&mut sim, primary, &e.server, &host, &[])
                .map_err(setup(|| format!("[exchange] server `{}`", e.server)))?;
            for (i, db) in file.databases.iter().enumerate() {
                let d = db.get_ref();
                let (db_volume, log_volume) = database_volumes(d);
                let spec = DatabaseSpec {
                    name: d.name.clone(),
                    db_volume,
                    log_volume,
                    cpg: d.cpg.clone(),
                    snap_cpg: d.snap_cpg.clone(),
                    config: database_config(d),
                };
                let declared = format!("{} `{}`", scenario.declaration("database", i, &db.span()), d.name);
                let info = DatabaseInfo {
                    db_volume: spec.db_volume.clone(),
                    log_volume: spec.log_volume.clone(),
                    group: None,
                };
                let database = server.create_database(&mut sim, spec).map_err(setup(|| declared.clone()))?;
                database.mount(&mut sim).map_err(setup(|| format!("{declared}: mount")))?;
                databases.insert(d.name.clone(), info);
            }
            server_object = Some(server);
        }
        let mut groups = BTreeMap::new();
        for (i, group) in file.rc_groups.iter().enumerate() {
            let g = group.get_ref();
            let declared = format!("{} `{}`", scenario.declaration("rc_group", i, &group.span()), g.name);
            let mode = if g.mode == "synchronous" { Mode::Synchronous } else { Mode::Periodic };
            let defaults = GroupPolicies::default();
            let policies = GroupPolicies {
                auto_recover: g.auto_recover.unwrap_or(defaults.auto_recover),
                fail_write_on_error: g.fail_write_on_error.unwrap_or(defaults.fail_write_on_error),
                over_period_alert: g.over_period_alert.unwrap_or(defaults.over_period_alert),
                ..defaults
            };
            let target = sim.array(arrays[1]).name().to_owned();
            let spec = GroupSpec {
                remote_user_cpg: Some(g.target_cpg.clone()),
                sync_period: g.period.map(|p| p.0),
                policies: Some(policies),
                ..GroupSpec::new(&g.name, &target, mode)
            };
            sim.remote_copy().create_group(primary, spec).map_err(setup(|| declared.clone()))?;
            let mut volumes: Vec<String> = Vec::new();
            for db in &g.databases {
                let info = databases.get_mut(db).expect("validated database name");
                info.group = Some(g.name.clone());
                volumes.push(info.db_volume.clone());
                volumes.push(info.log_volume.clone());
            }
            volumes.extend(g.volumes.iter().cloned());
            for volume in &volumes {
                let admit = AdmitSpec {
                    volume: volume.clone(),
                    secondary: volume.clone(),
                    auto_create: true,
                    ..AdmitSpec::default()
                };
                sim.remote_copy()
                    .admit_volume(primary, &g.name, admit)
                    .map_err(setup(|| format!("{declared}: admit {volume}")))?;
            }
            let partner = sim
                .array(primary)
                .remote_copy()
                .group(&g.name)
                .map(|x| x.partner.clone())
                .map_err(setup(|| "group"))?;
            if g.start.unwrap_or(true) {
                sim.remote_copy()
                    .start_group(primary, &g.name, &StartOptions::default())
                    .map_err(setup(|| format!("{declared}: start")))?;
                let deadline = sim.now() + TRANSFER_WAIT;
                if !sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()) {
                    return Err(SetupError {
                        what: format!("{declared}: initial sync"),
                        error: "did not finish".into(),
                    });
                }
            }
            groups.insert(g.name.clone(), GroupInfo { mode, partner });
        }
        let servers = file.backup_servers.as_ref().map(|s| s.get_ref().clone()).unwrap_or_default();
        let local_name = if servers.local.is_empty() { "BKP-LOCAL".to_owned() } else { servers.local.clone() };
        let storage = |dir: &Option<String>| match dir {
            Some(dir) => RepositoryStorage::Directory(dir.into()),
            None => RepositoryStorage::Memory,
        };
        let mut vss = recovery::vss::VssConfig::default();
        if let Some(t) = servers.freeze_timeout {
            vss.freeze_timeout = t.0;
        }
        if let Some(t) = servers.flush_and_hold_timeout {
            vss.flush_and_hold_timeout = t.0;
        }
        let remote = servers.remote.as_ref().map(|name| BackupServerConfig {
            name: name.clone(),
            array: arrays[1],
            storage: storage(&servers.remote_repository),
        });
        let local =
            BackupServerConfig { name: local_name, array: primary, storage: storage(&servers.local_repository) };
        let mut config = EngineConfig::new(local, remote);
        config.provider_version = servers.provider_version.as_deref().and_then(parse_version).unwrap_or((2, 2));
        config.vss = vss;
        config.defect = options.defect;
        let has_remote = config.remote.is_some();
        let mut engine = Engine::new(config).map_err(setup(|| "recovery engine"))?;
        let server = server_object.as_ref().map(|s| s.name().to_owned());
        if let Some(object) = server_object {
            engine.register_mailbox_server(&mut sim, object).map_err(setup(|| "register mailbox server"))?;
        }
        if let Some(server) = &server {
            for (i, policy) in file.policies.iter().enumerate() {
                let p = policy.get_ref();
                let spec = crate::scenario::policy_of(p);
                engine
                    .set_policy(server, &p.database, spec)
                    .map_err(setup(|| scenario.declaration("policy", i, &policy.span())))?;
            }
        }
        let config = file.workload.as_ref().map_or_else(WorkloadConfig::default, |w| workload_config(w.get_ref()));
        let mut workloads = BTreeMap::new();
        for name in databases.keys() {
            let seed = sim.prng().next_u64();
            workloads.insert(name.clone(), Workload::new(seed, config));
        }
        let start = sim.now();
        let mut world = World {
            sim,
            engine,
            server,
            databases,
            groups,
            reference: Reference::default(),
            stats: WorldStats::default(),
            timeline: Vec::new(),
            start,
            memo: crate::invariants::Memo::default(),
            workloads,
            scheduled_faults: Vec::new(),
            workload_config: config,
            collect_timeline: options.collect_timeline,
            trace_seen: 0,
            has_remote,
        };
        world.reference.start(&world.sim, &world.engine, world.server.as_deref(), &world.databases);
        for planned in &scenario.fault_plan {
            let origin = FaultOrigin::Plan { index: planned.index, at: planned.at };
            world.schedule(start + planned.at, planned.fault, origin);
        }
        world.settle();
        Ok(world)
    }

    /// Whether a remote backup server is configured.
    pub fn has_remote(&self) -> bool {
        self.has_remote
    }

    fn array_at(&self, index: usize) -> ArrayId {
        self.sim.array_ids().nth(index).expect("validated array index")
    }

    /// Whether virtual time may pass `duration` from now: the clock saturates at the end of its
    /// 64 bits of nanoseconds, after which instants stop ordering events (backup ids, freeze
    /// windows), so a step that would pass [`crate::scenario::VIRTUAL_TIME_MAX`] is refused.
    fn clock_allows(&self, duration: Duration) -> Result<(), String> {
        let limit = crate::scenario::VIRTUAL_TIME_MAX;
        let now = Duration::from_nanos(self.sim.now().as_nanos());
        match now.checked_add(duration) {
            Some(until) if until <= limit => Ok(()),
            _ => Err(format!(
                "virtual time would pass {}, the longest a run may reach (the clock counts nanoseconds in 64 bits); it is {} now",
                crate::scenario::human(limit),
                crate::scenario::human(now)
            )),
        }
    }

    /// The faults scheduled so far (plan and fault steps), with whether each has fired by now.
    pub fn scheduled_faults(&self) -> impl Iterator<Item = (&ScheduledFault, bool)> {
        let now = self.sim.now();
        self.scheduled_faults.iter().map(move |f| (f, f.at <= now))
    }

    /// The counters so far, with the scheduled faults whose time has come counted as faults.
    pub fn stats(&self) -> WorldStats {
        let now = self.sim.now();
        let fired = self.scheduled_faults.iter().filter(|f| f.at <= now).count() as u64;
        WorldStats { faults: self.stats.faults + fired, ..self.stats }
    }

    /// What `fault` does, naming the arrays (for reports).
    pub fn describe_fault(&self, fault: FaultAction) -> String {
        describe_fault(fault, &self.sim)
    }

    fn schedule(&mut self, at: simulator::Instant, fault: FaultAction, origin: FaultOrigin) {
        let (a, b) = (self.sim.primary(), self.array_at(1.min(self.sim.array_ids().count() - 1)));
        self.scheduled_faults.push(ScheduledFault { at, origin, fault });
        match fault {
            FaultAction::LinkDown(direction) => {
                self.sim.schedule_fault(at, Fault::LinkDown { from: a, to: b, direction })
            }
            FaultAction::LinkUp(direction) => self.sim.schedule_fault(at, Fault::LinkUp { from: a, to: b, direction }),
            FaultAction::Partition(direction, duration) => {
                self.sim.schedule_fault(at, Fault::LinkDown { from: a, to: b, direction });
                self.sim.schedule_fault(at + duration, Fault::LinkUp { from: a, to: b, direction });
            }
            FaultAction::Latency(direction, latency) => {
                self.sim.schedule_fault(at, Fault::LatencyChange { from: a, to: b, direction, latency })
            }
            FaultAction::ArrayCrash(index) => {
                let id = self.array_at(index);
                self.sim.schedule_fault(at, Fault::ArrayCrash(id));
            }
            FaultAction::ArrayRestart(index) => {
                let id = self.array_at(index);
                self.sim.schedule_fault(at, Fault::ArrayRestart(id));
            }
        }
    }

    /// One whole step: the action, the engine's tick and bookkeeping ([`World::settle`]), then
    /// every invariant. Returns the action's result, the tick's error and the violations.
    pub fn step(&mut self, action: &Action) -> (StepResult, Option<String>, Vec<simulator::invariants::Violation>) {
        self.reference.begin_step();
        let result = self.apply(action);
        let tick = self.settle();
        let violations = crate::invariants::check_all(self);
        (result, tick, violations)
    }

    /// Runs one action. Never panics on a refused operation: refusals are results.
    pub fn apply(&mut self, action: &Action) -> StepResult {
        match action {
            Action::Transactions { database, count } => self.transactions(database, *count),
            Action::WriteVolume { volume, offset, length } => {
                let mut bytes = vec![0u8; *length as usize];
                self.sim.prng().fill(&mut bytes);
                let primary = self.sim.primary();
                match self.sim.write(primary, volume, *offset, &bytes) {
                    Ok(ack) => StepResult::ok(format!(
                        "{length} bytes at {offset} of {volume}, acknowledged at {}",
                        ack.acknowledged_at
                    )),
                    Err(error) => StepResult::failed(format!("write {volume}"), error.to_string()),
                }
            }
            Action::Backup(plan) => self.backup(plan),
            Action::Sync { group, wait, full } => self.sync(group, *wait, *full),
            Action::Advance(duration) => {
                if let Err(error) = self.clock_allows(*duration) {
                    return StepResult::failed("advance".to_owned(), error);
                }
                self.sim.advance(*duration);
                StepResult::ok(format!("advanced {}", crate::scenario::DurationText(*duration)))
            }
            Action::Fault { after, fault } => {
                if let Err(error) = self.clock_allows(*after) {
                    return StepResult::failed("fault".to_owned(), error);
                }
                let at = self.sim.now() + *after;
                self.schedule(at, *fault, FaultOrigin::Step { at: self.sim.now() - self.start });
                if after.is_zero() {
                    self.sim.advance(Duration::ZERO);
                }
                StepResult::ok(format!("{} at {at}", describe_fault(*fault, &self.sim)))
            }
            Action::Failover { group, no_promote } => {
                self.stop_exchange_around_dr(group);
                let partner = self.groups[group].partner.clone();
                let backup = self.sim.backup();
                let options = DrOptions { skip_promote: *no_promote, ..DrOptions::default() };
                let result = match self.sim.remote_copy().failover(backup, &partner, options) {
                    Ok(()) => StepResult::ok(format!("failover of {partner} on {}", self.sim.array(backup).name())),
                    Err(error) => StepResult::failed(format!("failover of {partner}"), error.to_string()),
                };
                self.restart_exchange_after_dr(group);
                result
            }
            Action::Recover { group, wait } => self.dr(group, *wait, true),
            Action::RcRestore { group, wait } => self.dr(group, *wait, false),
            Action::RcStart { group, wait } => {
                let (array, name) = self.source_side(group);
                let result = self.sim.remote_copy().start_group(array, &name, &StartOptions::default());
                self.finish_transfer(result.map_err(|e| e.to_string()), format!("start {name}"), *wait)
            }
            Action::RcStop { group } => {
                let (array, name) = self.source_side(group);
                match self.sim.remote_copy().stop_group(array, &name, &StopOptions::default()) {
                    Ok(()) => StepResult::ok(format!("stopped {name}")),
                    Err(error) => StepResult::failed(format!("stop {name}"), error.to_string()),
                }
            }
            Action::Mount { copy, host } => self.with_copy(copy, "mount", |world, site, key| {
                world.engine.mount(&mut world.sim, site, key, host).map(|luns| {
                    let luns: Vec<String> = luns.iter().map(|(v, l)| format!("{v}@{l}")).collect();
                    format!("mounted on {host}: {}", luns.join(", "))
                })
            }),
            Action::Unmount(copy) => self.with_copy(copy, "unmount", |world, site, key| {
                world.engine.unmount(&mut world.sim, site, key).map(|()| "unmounted".to_owned())
            }),
            Action::Restore(copy, kind) => self.with_copy(copy, "restore", |world, site, key| {
                // The image of the copies this restore reads: a volume promote of a periodic
                // remote backup promotes the copies retained on the primary, not the remote ones
                // (whose array may well be down).
                let expected = world.engine.repository(site).and_then(|r| r.entry(key)).map(|e| {
                    let promotes_retained = matches!(kind, crate::engine::RestoreKind::VolumePromote)
                        && site == Site::Remote
                        && !e.retained_on_primary.is_empty();
                    let copies = if promotes_retained { &e.retained_on_primary } else { &e.copies };
                    crate::reference::image_of(&world.sim, copies)
                });
                let report = match world.engine.restore(&mut world.sim, site, key, kind.clone()) {
                    Ok(report) => report,
                    Err(error) => {
                        if matches!(&error, recovery::Error::Engine(EngineError::RestoreInterrupted { .. })) {
                            // The engine says the production volumes hold neither image: the
                            // reference adopts what the next mount finds.
                            world.reference.on_rewritten(&key.database);
                        }
                        return Err(error);
                    }
                };
                // A database restored from the remote copy is served from the backup array now.
                let live = |db: &recovery::exchange::Database| crate::reference::LiveDatabase {
                    array: db.array(),
                    db_volume: db.db_volume().to_owned(),
                    log_volume: db.log_volume().to_owned(),
                    mounted: report.mount.is_ok(),
                };
                let location = match &report.database {
                    Some(db) => live(db),
                    None => live(world.engine.mailbox_server(&key.server)?.database(&key.database)?),
                };
                // The relocated database is returned, not installed: the database the workload
                // and `mount_database` drive stays the original, so the reference re-bases only
                // for restores onto it.
                let rebase = report.database.is_none();
                world.reference.on_restored(&world.sim, &key.database, &location, expected, rebase);
                let mut moved = report.failed_over.map(|g| format!(", group {g} failed over")).unwrap_or_default();
                if let Some((group, error)) = &report.group_restart_failed {
                    moved.push_str(&format!(", group {group} left stopped ({error})"));
                }
                if let Err(error) = &report.mount {
                    moved.push_str(&format!(", database not mounted ({error})"));
                }
                Ok(format!("restored by {}{moved}", restore_kind_name(kind)))
            }),
            Action::Verify(copy) => self.with_copy(copy, "verify", |world, site, key| {
                world.engine.verify(&world.sim, site, key).map(|report| {
                    if report.is_recoverable() {
                        "recoverable".to_owned()
                    } else {
                        format!("NOT recoverable: {:?}", report.problems)
                    }
                })
            }),
            Action::Remove(copy) => self.with_copy(copy, "remove", |world, site, key| {
                world.engine.remove(&mut world.sim, site, key)?;
                Ok("removed".to_owned())
            }),
            Action::SetPolicy { database, policy } => {
                let server = self.server.clone().unwrap_or_default();
                match self.engine.set_policy(&server, database, *policy) {
                    Ok(()) => StepResult::ok(format!("policy of {database}: {policy:?}")),
                    Err(error) => StepResult::failed(format!("policy of {database}"), error.to_string()),
                }
            }
            Action::CrashBackupServer(site) => {
                self.engine.crash_backup_server(*site);
                self.stats.faults += 1;
                self.record_lane(Lane::BackupServer(*site), "crash", "backup server crashed");
                StepResult::ok(format!("{} backup server crashed", site_name(*site)))
            }
            Action::RestartBackupServer(site) => match self.engine.restart_backup_server(&mut self.sim, *site) {
                Ok(report) => {
                    self.record_lane(Lane::BackupServer(*site), "restart", "backup server restarted");
                    StepResult::ok(format!(
                        "{} backup server restarted: {} intents undone, {} completed, {} deferred",
                        site_name(*site),
                        report.dissolved.len(),
                        report.completed.len(),
                        report.deferred.len()
                    ))
                }
                Err(error) => {
                    StepResult::failed(format!("restart {} backup server", site_name(*site)), error.to_string())
                }
            },
            Action::MountDatabase(name) => {
                let server = self.server.clone().unwrap_or_default();
                let result = self
                    .engine
                    .mailbox_server_mut(&server)
                    .and_then(|s| s.database_mut(name).map_err(Into::into))
                    .and_then(|db| db.mount(&mut self.sim).map_err(Into::into));
                match result {
                    Ok(outcome) => {
                        let recovered = if outcome.recovery.is_some() { "soft recovery ran" } else { "clean" };
                        self.reference.on_mounted(&self.sim, &self.engine, &server, name);
                        StepResult::ok(format!("{name} mounted ({recovered}), generation {}", outcome.generation))
                    }
                    Err(error) => StepResult::failed(format!("mount {name}"), error.to_string()),
                }
            }
            Action::CpgGrowthLimit { array, cpg, limit } => self.cpg_growth_limit(array, cpg, *limit),
            Action::SnapshotPolicy { database, stale_ss } => self.snapshot_policy(database, *stale_ss),
            Action::Expect(args) => {
                let failures = self.expect(args);
                StepResult {
                    ok: failures.is_empty(),
                    detail: if failures.is_empty() { "as expected".to_owned() } else { failures.join("; ") },
                    error: None,
                    expect_failures: failures,
                }
            }
        }
    }

    /// After a step: the engine's Task Manager tick, then bookkeeping (step records into the
    /// reference model, trace into the timeline). Returns the tick's error, if any.
    pub fn settle(&mut self) -> Option<String> {
        let tick = self.engine.tick(&mut self.sim).err().map(|error| error.to_string());
        let removed = self.engine.drain_removed();
        self.reference.on_removed(&removed);
        let records = self.engine.drain_step_records();
        self.reference.on_step_records(&self.sim, &self.engine, &records);
        if self.collect_timeline {
            self.collect(&records);
        }
        tick
    }

    fn record_lane(&mut self, lane: Lane, kind: &'static str, text: &str) {
        if self.collect_timeline {
            self.timeline.push(TimelineEvent { at: self.sim.now(), lane, kind, text: text.to_owned(), end: None });
        }
    }

    fn collect(&mut self, records: &[StepRecord]) {
        let lines: Vec<simulator::TraceLine> = self.sim.trace().since(self.trace_seen).collect();
        self.trace_seen = self.sim.trace().recorded();
        let names: Vec<String> = self.sim.arrays().map(|a| a.name().to_owned()).collect();
        for line in &lines {
            if let Some(event) = crate::timeline::from_trace(line, &names) {
                self.timeline.push(event);
            }
        }
        for record in records {
            self.timeline.push(crate::timeline::from_step_record(record));
        }
    }

    /// Sets or removes the growth limit of CPG `cpg` on `array`.
    fn cpg_growth_limit(&mut self, array: &str, cpg: &str, limit: crate::scenario::GrowthLimit) -> StepResult {
        use crate::scenario::GrowthLimit;
        let what = format!("growth limit of CPG {cpg} on {array}");
        let Some(array) = self.sim.array_by_name(array) else {
            return StepResult::failed(what, "no such array".to_owned());
        };
        let mib = match limit {
            GrowthLimit::None => None,
            GrowthLimit::Mib(mib) => Some(mib),
            GrowthLimit::Headroom(room) => {
                let id = match self.sim.array(array).cpg(cpg) {
                    Ok(found) => found.id,
                    Err(error) => return StepResult::failed(what, error.to_string()),
                };
                let used_mib = self.sim.array(array).cpg_growth_mib_used(id);
                Some(used_mib.saturating_add(room))
            }
        };
        match self.sim.array_mut(array).set_cpg_growth_limit(cpg, mib) {
            Ok(()) => StepResult::ok(match mib {
                Some(mib) => {
                    self.stats.faults += 1;
                    format!("{what}: {mib} MiB")
                }
                None => format!("{what}: none"),
            }),
            Err(error) => StepResult::failed(what, error.to_string()),
        }
    }

    /// Sets the snapshot-space failure policy of both volumes of `database`, on the array that
    /// serves it now.
    fn snapshot_policy(&mut self, database: &str, stale_ss: bool) -> StepResult {
        let what = format!("snapshot policy of {database}");
        let located = self.server_name().and_then(|server| {
            let db = self.engine.mailbox_server(&server).and_then(|s| s.database(database).map_err(Into::into));
            db.map(|db| (db.array(), [db.db_volume().to_owned(), db.log_volume().to_owned()]))
                .map_err(|error| error.to_string())
        });
        let (array, volumes) = match located {
            Ok(found) => found,
            Err(error) => return StepResult::failed(what, error),
        };
        for volume in &volumes {
            let policies = match self.sim.array(array).volume(volume) {
                Ok(v) => simulator::VolumePolicies { stale_ss, ..v.policies },
                Err(error) => return StepResult::failed(what, error.to_string()),
            };
            let changes = simulator::VolumeChanges { policies: Some(policies), ..Default::default() };
            if let Err(error) = self.sim.array_mut(array).modify_volume(volume, changes) {
                return StepResult::failed(what, error.to_string());
            }
        }
        let policy = if stale_ss { "stale_ss" } else { "no_stale_ss" };
        StepResult::ok(format!("{what}: {policy} on {}", volumes.join(" and ")))
    }

    fn server_name(&self) -> Result<String, String> {
        self.server.clone().ok_or_else(|| "the scenario has no [exchange] server".to_owned())
    }

    fn transactions(&mut self, database: &str, count: u32) -> StepResult {
        let Ok(server) = self.server_name() else { return StepResult::failed("write".into(), "no server".into()) };
        let workload = self.workloads.get_mut(database).expect("validated database name");
        let mut done = 0;
        for _ in 0..count {
            let db = match self
                .engine
                .mailbox_server_mut(&server)
                .and_then(|s| s.database_mut(database).map_err(Into::into))
            {
                Ok(db) => db,
                Err(error) => {
                    return StepResult::failed(
                        format!("{done} of {count} transactions on {database}"),
                        error.to_string(),
                    );
                }
            };
            let transaction = workload.next_transaction(db.config().page_count);
            match db.commit(&mut self.sim, transaction.clone()) {
                Ok(CommitOutcome::Committed { .. }) => {
                    self.reference.on_committed(database, &transaction);
                    self.stats.transactions += 1;
                    done += 1;
                }
                Ok(CommitOutcome::Held) => {
                    self.reference.on_indeterminate(database, &transaction);
                    done += 1;
                }
                Err(error) => {
                    // The commit may or may not have reached its commit point (a crash mid-write):
                    // the reference model accepts either until the database is mounted again.
                    self.reference.on_indeterminate(database, &transaction);
                    return StepResult::failed(
                        format!("{done} of {count} transactions on {database}"),
                        error.to_string(),
                    );
                }
            }
            let flush = if self.workload_config.flush_every > 0
                && workload.generated().is_multiple_of(u64::from(self.workload_config.flush_every))
            {
                self.workload_config.pages_per_flush
            } else {
                0
            };
            if flush > 0
                && let Err(error) = db_flush(&mut self.engine, &mut self.sim, &server, database, flush)
            {
                return StepResult::failed(
                    format!("{done} of {count} transactions on {database}, then a flush"),
                    error,
                );
            }
        }
        StepResult::ok(format!("{count} transactions on {database}"))
    }

    fn backup(&mut self, plan: &crate::scenario::BackupPlan) -> StepResult {
        let Ok(server) = self.server_name() else { return StepResult::failed("backup".into(), "no server".into()) };
        if plan.fault.is_some() || plan.vss_fault.is_some() {
            self.stats.faults += 1;
        }
        let request = BackupRequest { server, ..plan.clone() };
        let started = self.sim.now();
        match self.engine.backup(&mut self.sim, &request) {
            Ok(report) => {
                self.stats.backups_ok += 1;
                self.reference.on_backup(&self.sim, &self.engine, &plan.database, &report);
                let mode = match &report.mode {
                    crate::engine::ReplicationMode::None => "no Remote Copy".to_owned(),
                    crate::engine::ReplicationMode::Synchronous { group } => format!("synchronous ({group})"),
                    crate::engine::ReplicationMode::Periodic { group } => format!("periodic ({group})"),
                };
                let mut sites = Vec::new();
                if let Some(key) = &report.local {
                    sites.push(format!("local {}", key.backup_id));
                }
                if let Some(key) = &report.remote {
                    sites.push(format!("remote {}", key.backup_id));
                }
                let mut detail = format!(
                    "{mode}: {} in {}",
                    if sites.is_empty() { "no entry".to_owned() } else { sites.join(" + ") },
                    crate::scenario::human(self.sim.now() - started)
                );
                if let Some(failure) = &report.remote_copy_failure {
                    detail.push_str(&format!(", no remote copy: {failure}"));
                }
                if report.bytes_replicated > 0 || matches!(report.mode, crate::engine::ReplicationMode::Periodic { .. })
                {
                    // A periodic backup's own sync may find nothing new (a scheduled sync sent it).
                    detail.push_str(&format!(", {} replicated", bytes(report.bytes_replicated)));
                }
                if !report.removed_by_policy.is_empty() {
                    let removed: Vec<&str> =
                        report.removed_by_policy.iter().map(|(_, k)| k.backup_id.as_str()).collect();
                    detail.push_str(&format!(", policy removed {}", removed.join(", ")));
                }
                if let Some(error) = &report.backup_complete_error {
                    // The backup stands; the writer's BackupComplete work (log truncation) did not.
                    detail.push_str(&format!(", BackupComplete failed: {error}"));
                }
                StepResult::ok(detail)
            }
            Err(error) => {
                self.stats.backups_failed += 1;
                StepResult::failed(format!("backup of {}", plan.database), error.to_string())
            }
        }
    }

    fn sync(&mut self, group: &str, wait: bool, full: bool) -> StepResult {
        let (array, name) = self.source_side(group);
        let result = self.sim.remote_copy().sync_group(array, &name, &SyncOptions { full }).map_err(|e| e.to_string());
        self.finish_transfer(result, format!("sync of {name}"), wait)
    }

    /// The operator's procedure around a Remote Copy recover or restore, which rewrites the
    /// primary volumes underneath Exchange: the group's databases are stopped first (their memory
    /// dropped, as a service stop without a clean dismount) and mounted again after (soft
    /// recovery on whatever the volumes now hold, which the reference model adopts).
    fn stop_exchange_around_dr(&mut self, group: &str) {
        let Some(server) = self.server.clone() else { return };
        let names: Vec<String> =
            self.databases.iter().filter(|(_, i)| i.group.as_deref() == Some(group)).map(|(n, _)| n.clone()).collect();
        for name in names {
            if let Ok(db) =
                self.engine.mailbox_server_mut(&server).and_then(|s| s.database_mut(&name).map_err(Into::into))
            {
                db.crash(&mut self.sim);
            }
            self.reference.on_rewritten(&name);
        }
    }

    fn restart_exchange_after_dr(&mut self, group: &str) {
        let Some(server) = self.server.clone() else { return };
        let names: Vec<String> =
            self.databases.iter().filter(|(_, i)| i.group.as_deref() == Some(group)).map(|(n, _)| n.clone()).collect();
        for name in names {
            let mounted = self
                .engine
                .mailbox_server_mut(&server)
                .and_then(|s| s.database_mut(&name).map_err(Into::into))
                .and_then(|db| db.mount(&mut self.sim).map_err(Into::into));
            if mounted.is_ok() {
                self.reference.on_mounted(&self.sim, &self.engine, &server, &name);
            }
        }
    }

    fn dr(&mut self, group: &str, wait: bool, recover: bool) -> StepResult {
        self.stop_exchange_around_dr(group);
        let result = self.dr_action(group, wait, recover);
        self.restart_exchange_after_dr(group);
        result
    }

    fn dr_action(&mut self, group: &str, wait: bool, recover: bool) -> StepResult {
        let partner = self.groups[group].partner.clone();
        let backup = self.sim.backup();
        let verb = if recover { "recover" } else { "restore" };
        let result = if recover {
            self.sim.remote_copy().recover(backup, &partner, DrOptions::default())
        } else {
            self.sim.remote_copy().restore(backup, &partner, DrOptions::default())
        };
        self.finish_transfer(result.map_err(|e| e.to_string()), format!("{verb} of {partner}"), wait)
    }

    fn finish_transfer(&mut self, result: Result<(), String>, what: String, wait: bool) -> StepResult {
        if let Err(error) = result {
            return StepResult::failed(what, error);
        }
        if !wait {
            return StepResult::ok(format!("{what} started"));
        }
        let started = self.sim.now();
        let deadline = started + TRANSFER_WAIT;
        if self.sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()) {
            StepResult::ok(format!("{what}: transfers done after {}", crate::scenario::human(self.sim.now() - started)))
        } else {
            StepResult::failed(
                what,
                format!("transfers still running after {}", crate::scenario::DurationText(TRANSFER_WAIT)),
            )
        }
    }

    /// The array and name under which `group` is currently a source (the primary's view unless
    /// only the backup array calls itself source), for start, stop and sync.
    fn source_side(&self, group: &str) -> (ArrayId, String) {
        let primary = self.sim.primary();
        let info = &self.groups[group];
        let primary_source =
            self.sim.array(primary).remote_copy().group(group).map(|g| g.role.is_source()).unwrap_or(false);
        if !primary_source
            && let Some(backup) = self.sim.array_ids().nth(1)
            && self.sim.array(backup).remote_copy().group(&info.partner).map(|g| g.role.is_source()).unwrap_or(false)
        {
            return (backup, info.partner.clone());
        }
        (primary, group.to_owned())
    }

    /// Resolves a selector to a repository entry: `(site, key)`.
    pub fn resolve(&self, copy: &CopySelector) -> Result<(Site, EntryKey), String> {
        let server = self.server_name()?;
        let mut entries: Vec<(Site, &Entry)> = self
            .engine
            .list(&server, &copy.database)
            .into_iter()
            .filter(|(site, _)| copy.site.is_none_or(|s| s == *site))
            .collect();
        // Oldest first; for one backup held at both sites, local before remote.
        entries.sort_by(|a, b| a.1.key.backup_id.cmp(&b.1.key.backup_id).then(a.0.cmp(&b.0)));
        entries.dedup_by(|later, earlier| later.1.key == earlier.1.key);
        let where_ = copy.site.map_or("either site".to_owned(), |s| format!("the {} site", site_name(s)));
        if entries.is_empty() {
            return Err(format!("no backup of {} at {where_}", copy.database));
        }
        let chosen = match &copy.backup {
            BackupSelector::Latest => entries.last(),
            BackupSelector::Oldest => entries.first(),
            BackupSelector::Newest(n) => entries.get(entries.len() - 1 - n % entries.len()),
            BackupSelector::Id(id) => entries.iter().find(|(_, e)| e.key.backup_id == *id),
        };
        chosen
            .map(|(site, entry)| (*site, entry.key.clone()))
            .ok_or_else(|| format!("no backup {:?} of {} at {where_}", copy.backup, copy.database))
    }

    fn with_copy(
        &mut self,
        copy: &CopySelector,
        verb: &str,
        run: impl FnOnce(&mut World, Site, &EntryKey) -> Result<String, recovery::Error>,
    ) -> StepResult {
        self.stats.workflows += 1;
        let (site, key) = match self.resolve(copy) {
            Ok(found) => found,
            Err(error) => return StepResult::failed(format!("{verb} {}", copy.database), error),
        };
        let what = format!("{verb} {} backup {}", site_name(site), key.backup_id);
        match run(self, site, &key) {
            Ok(detail) => StepResult::ok(format!("{what}: {detail}")),
            Err(error) => StepResult::failed(what, error.to_string()),
        }
    }

    fn expect(&self, e: &ExpectArgs) -> Vec<String> {
        let mut failures = Vec::new();
        let mut check = |what: &str, expected: String, actual: String| {
            if expected != actual {
                failures.push(format!("{what}: expected {expected}, found {actual}"));
            }
        };
        if let Some(database) = &e.database {
            let server = self.server.clone().unwrap_or_default();
            let count = |site: Site| -> String {
                match self.engine.repository(site) {
                    Some(repo) => repo.entries_of(&server, database).count().to_string(),
                    None => "backup server down".to_owned(),
                }
            };
            if let Some(n) = e.local_entries {
                check("local entries", n.to_string(), count(Site::Local));
            }
            if let Some(n) = e.remote_entries {
                check("remote entries", n.to_string(), count(Site::Remote));
            }
            if let Some(n) = e.retained_on_primary {
                let actual = self.engine.repository(Site::Remote).map_or("backup server down".to_owned(), |repo| {
                    repo.entries_of(&server, database).filter(|x| !x.retained_on_primary.is_empty()).count().to_string()
                });
                check("remote entries with copies retained on the primary", n.to_string(), actual);
            }
            if let Some(expected) = e.recoverable {
                let actual = match e.site.as_deref() {
                    Some("live") => self.live_verdict(database),
                    site => {
                        let site = match site {
                            Some("local") => Some(Site::Local),
                            Some("remote") => Some(Site::Remote),
                            _ => None,
                        };
                        let selector =
                            CopySelector { database: database.clone(), site, backup: BackupSelector::Latest };
                        self.resolve(&selector).and_then(|(site, key)| {
                            self.engine
                                .verify(&self.sim, site, &key)
                                .map(|r| r.is_recoverable())
                                .map_err(|e| e.to_string())
                        })
                    }
                };
                check(
                    "recoverable",
                    expected.to_string(),
                    actual.map_or_else(|e| format!("error ({e})"), |b| b.to_string()),
                );
            }
        }
        if let Some(group) = &e.group {
            let array = e.array.as_deref().and_then(|a| self.sim.array_by_name(a)).unwrap_or(self.sim.primary());
            let name = if array == self.sim.primary() { group.clone() } else { self.groups[group].partner.clone() };
            match self.sim.array(array).remote_copy().group(&name) {
                Ok(g) => {
                    if let Some(role) = &e.role {
                        check(&format!("role of {name}"), role.clone(), g.role.as_str().to_owned());
                    }
                    if let Some(state) = &e.group_state {
                        check(&format!("state of {name}"), state.clone(), format!("{:?}", g.state).to_lowercase());
                    }
                }
                Err(error) => check(&format!("group {name}"), "present".to_owned(), error.to_string()),
            }
        }
        if let (Some(array), Some(online)) = (&e.array, e.array_online) {
            let id = self.sim.array_by_name(array).expect("validated array");
            check(&format!("{array} online"), online.to_string(), self.sim.array(id).is_online().to_string());
        }
        failures
    }

    fn live_verdict(&self, database: &str) -> Result<bool, String> {
        let info = &self.databases[database];
        let primary = self.sim.primary();
        let db = recovery::verify::ArrayVolume::new(&self.sim, primary, &info.db_volume).map_err(|e| e.to_string())?;
        let log =
            recovery::verify::ArrayVolume::new(&self.sim, primary, &info.log_volume).map_err(|e| e.to_string())?;
        recovery::verify::verify_image(&db, &log).map(|r| r.is_recoverable()).map_err(|e| e.to_string())
    }
}

fn db_flush(
    engine: &mut Engine,
    sim: &mut Simulation,
    server: &str,
    database: &str,
    pages: usize,
) -> Result<(), String> {
    let db = engine
        .mailbox_server_mut(server)
        .and_then(|s| s.database_mut(database).map_err(Into::into))
        .map_err(|e| e.to_string())?;
    db.flush(sim, pages).map(|_| ()).map_err(|e| e.to_string())
}

fn restore_kind_name(kind: &crate::engine::RestoreKind) -> &'static str {
    match kind {
        crate::engine::RestoreKind::VolumePromote => "volume promote",
        crate::engine::RestoreKind::FileCopy { .. } => "file copy",
        crate::engine::RestoreKind::DatabaseFromRemote { .. } => "database from the remote copy",
    }
}

/// `local` / `remote`.
pub fn site_name(site: Site) -> &'static str {
    match site {
        Site::Local => "local",
        Site::Remote => "remote",
    }
}

/// Bytes for humans: `512 B`, `16.0 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1 << 20 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1 << 30 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
    }
}

fn describe_fault(fault: FaultAction, sim: &Simulation) -> String {
    let name = |i: usize| sim.arrays().nth(i).map_or("?".to_owned(), |a| a.name().to_owned());
    let dir = |d: Direction| match d {
        Direction::Both => "both ways",
        Direction::Forward => "primary to backup",
        Direction::Backward => "backup to primary",
    };
    match fault {
        FaultAction::LinkDown(d) => format!("links down ({})", dir(d)),
        FaultAction::LinkUp(d) => format!("links up ({})", dir(d)),
        FaultAction::Partition(d, t) => format!("partition ({}) for {}", dir(d), crate::scenario::DurationText(t)),
        FaultAction::Latency(d, t) => format!("latency {} ({})", crate::scenario::DurationText(t), dir(d)),
        FaultAction::ArrayCrash(i) => format!("{} crashes", name(i)),
        FaultAction::ArrayRestart(i) => format!("{} restarts", name(i)),
    }
}

/// Whether a step record says the workflow stopped there.
pub fn record_failed(record: &StepRecord) -> bool {
    !matches!(record.outcome, StepOutcome::Done)
}
