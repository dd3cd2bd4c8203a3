//! `storeserv-sim serve`: the WSAPI of the primary and the backup array on two listeners.
//!
//! Prints one line per listener, writes the ready file (if asked) once both accept, and runs
//! until Ctrl-C or SIGTERM, then shuts down cleanly (in-flight requests finish, bounded).
//! This is an I/O edge: it owns the tokio runtime and reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use simulator::ArrayConfig;
use simulator::wsapi::{ArrayListener, ClockMode, OnlineCopyDelete, Server, ServerConfig};

use crate::output::{self, Stdout};

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address of the primary array (SIM-A); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8008")]
    primary_listen: SocketAddr,
    /// Listen address of the backup array (SIM-B); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8009")]
    backup_listen: SocketAddr,
    /// WSAPI user accepted on both arrays.
    #[arg(long, env = "SIM_WSAPI_USER", default_value = "3paradm")]
    user: String,
    /// Password of that user.
    #[arg(long, env = "SIM_WSAPI_PASSWORD", default_value = "3pardata", hide_env_values = true)]
    password: String,
    /// Seed of the simulation (one seed replays one run of the model) [default: 0, or the
    /// scenario's seed with --scenario].
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Write a JSON file with both base URLs and the Remote Copy target names once both
    /// listeners accept connections.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Preload state from a scenario file (docs/scenarios.md): its setup and steps run first,
    /// every invariant checked as `run` does, and both listeners then serve the arrays as the
    /// last step left them (a control-API reset returns there). The scenario's arrays and seed
    /// replace the defaults (`--seed` still overrides the seed); it must have exactly two arrays
    /// (two `[[array]]` tables, or none for the default two).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Idle time after which a WSAPI session expires, seconds.
    #[arg(long, default_value_t = 900, allow_negative_numbers = true)]
    session_idle_secs: u64,
    /// How virtual time moves: with wall time (realtime) or only through the control API.
    #[arg(long, value_enum, default_value_t = Clock::Realtime)]
    clock: Clock,
    /// Virtual seconds per wall second in realtime mode.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    clock_scale: f64,
    /// How long an online physical copy stays ACTIVE, milliseconds of virtual time.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    online_copy_ms: u64,
    /// Deleting a volume of an ACTIVE online copy: reject (409, code 151) or cancel the copy first.
    #[arg(long, value_enum, default_value_t = CopyDelete::Reject)]
    online_copy_delete: CopyDelete,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Clock {
    Realtime,
    Manual,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CopyDelete {
    Reject,
    Cancel,
}

impl ServeArgs {
    fn config(&self, preload: Option<simulator::Simulation>) -> anyhow::Result<ServerConfig> {
        if !(self.clock_scale > 0.0 && self.clock_scale <= 1e6) {
            bail!("--clock-scale must be in (0, 1e6], got {}", self.clock_scale);
        }
        let array = |config: ArrayConfig, listen| {
            let config = ArrayConfig { online_copy_duration: Duration::from_millis(self.online_copy_ms), ..config };
            ArrayListener { config, listen }
        };
        let arrays = match &preload {
            // The listeners serve the scenario's arrays, as the scenario configured them.
            Some(sim) => sim
                .arrays()
                .zip([self.primary_listen, self.backup_listen])
                .map(|(a, listen)| ArrayListener { config: a.config().clone(), listen })
                .collect(),
            None => vec![
                array(ArrayConfig::primary(), self.primary_listen),
                array(ArrayConfig::backup(), self.backup_listen),
            ],
        };
        Ok(ServerConfig {
            seed: self.seed.unwrap_or(0),
            arrays,
            preload,
            users: vec![(self.user.clone(), self.password.clone())],
            session_idle_timeout: Duration::from_secs(self.session_idle_secs.max(1)),
            clock_mode: match self.clock {
                Clock::Realtime => ClockMode::Realtime,
                Clock::Manual => ClockMode::Manual,
            },
            clock_scale: self.clock_scale,
            online_copy_delete: match self.online_copy_delete {
                CopyDelete::Reject => OnlineCopyDelete::Reject,
                CopyDelete::Cancel => OnlineCopyDelete::Cancel,
            },
            ..ServerConfig::default()
        })
    }
}

/// Runs `serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before the scenario runs and the listeners start, so that `serve` never prints its
    // listeners' URLs and then stops for want of the file.
    output::check_outputs(args.scenario.as_deref(), &[("--ready-file", args.ready_file.as_deref())])?;
    let preload = args.scenario.as_ref().map(|path| preload(path, &args)).transpose()?;
    let config = args.config(preload)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.ready_file))
}

/// Runs the scenario at `path` (invariants after every step, as `run` does) and returns the
/// simulation its last step left. Refuses a scenario that fails or does not have two arrays.
fn preload(path: &std::path::Path, args: &ServeArgs) -> anyhow::Result<simulator::Simulation> {
    let scenario = harness::scenario::load(path)?;
    let options = harness::runner::RunOptions { seed: args.seed, defect: None };
    let (report, world) = harness::runner::run_keeping_world(&scenario, options)?;
    if !report.passed() {
        bail!(
            "--scenario {}: {} violation(s), {} expectation(s) failed; `storeserv-sim run {}` shows the report",
            path.display(),
            report.violations,
            report.expectations_failed,
            path.display()
        );
    }
    let arrays = world.sim.arrays().count();
    if arrays != 2 {
        bail!("--scenario {}: serve needs exactly two arrays, the scenario has {arrays}", path.display());
    }
    writeln!(
        Stdout::new(),
        "scenario {}: {} step(s) ran, seed {}, {:.3}s of virtual time; invariants hold",
        report.scenario,
        report.steps.len(),
        report.seed,
        report.virtual_secs
    )?;
    Ok(world.sim)
}

async fn serve(config: ServerConfig, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    let names: Vec<(String, u32)> = config.arrays.iter().map(|a| (a.config.name.clone(), a.config.system_id)).collect();
    let server = Server::start(config).await.context("cannot start the WSAPI server")?;
    let mut out = Stdout::new();
    for (index, (name, _)) in names.iter().enumerate() {
        writeln!(out, "{name}: {}", server.api_url(index))?;
    }
    if let Some(path) = ready_file {
        let targets = server
            .with_simulation(|sim| {
                let (a, b) = (sim.primary(), sim.backup());
                let name = |from, to| sim.array(from).remote_copy().target_for(to).map(|t| t.name.clone());
                (name(a, b), name(b, a))
            })
            .await
            .context("the model is not running")?;
        write_ready_file(&path, &server, &names, targets)?;
    }
    wait_for_signal().await?;
    let said = writeln!(out, "shutting down");
    server.shutdown().await;
    said?;
    Ok(())
}

/// Writes the ready file atomically (temporary file, then rename) so readers never see half of it.
fn write_ready_file(
    path: &PathBuf,
    server: &Server,
    names: &[(String, u32)],
    targets: (Option<String>, Option<String>),
) -> anyhow::Result<()> {
    let array = |index: usize| {
        let (name, system_id) = &names[index];
        let addr = server.local_addr(index);
        serde_json::json!({
            "name": name,
            "systemId": system_id,
            "address": addr.to_string(),
            "apiUrl": server.api_url(index),
            "controlUrl": format!("http://{addr}/sim/v1"),
        })
    };
    let ready = serde_json::json!({
        "primary": array(0),
        "backup": array(1),
        // The Remote Copy target defined on each array, pointing at the other one (spec §17).
        "remoteCopyTargets": {"onPrimary": targets.0, "onBackup": targets.1},
        "pid": std::process::id(),
    });
    let mut temporary = path.clone().into_os_string();
    temporary.push(".tmp");
    let text = serde_json::to_string_pretty(&ready).expect("the ready file serialises");
    std::fs::write(&temporary, text).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
    Ok(())
}
