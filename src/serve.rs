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
    /// Seed of the simulation (one seed replays one run of the model).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a JSON file with both base URLs and the Remote Copy target names once both
    /// listeners accept connections.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Preload state from a scenario file. NOT YET SUPPORTED: scenario loading arrives with the
    /// harness; giving this option currently makes `serve` exit with an error.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Idle time after which a WSAPI session expires, seconds.
    #[arg(long, default_value_t = 900)]
    session_idle_secs: u64,
    /// How virtual time moves: with wall time (realtime) or only through the control API.
    #[arg(long, value_enum, default_value_t = Clock::Realtime)]
    clock: Clock,
    /// Virtual seconds per wall second in realtime mode.
    #[arg(long, default_value_t = 1.0)]
    clock_scale: f64,
    /// How long an online physical copy stays ACTIVE, milliseconds of virtual time.
    #[arg(long, default_value_t = 500)]
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
    fn config(&self) -> anyhow::Result<ServerConfig> {
        if !(self.clock_scale > 0.0 && self.clock_scale <= 1e6) {
            bail!("--clock-scale must be in (0, 1e6], got {}", self.clock_scale);
        }
        let array = |config: ArrayConfig, listen| {
            let config = ArrayConfig { online_copy_duration: Duration::from_millis(self.online_copy_ms), ..config };
            ArrayListener { config, listen }
        };
        Ok(ServerConfig {
            seed: self.seed,
            arrays: vec![
                array(ArrayConfig::primary(), self.primary_listen),
                array(ArrayConfig::backup(), self.backup_listen),
            ],
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
    if let Some(scenario) = &args.scenario {
        bail!(
            "--scenario {}: loading scenarios is not implemented yet (it arrives with the harness)",
            scenario.display()
        );
    }
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.ready_file))
}

async fn serve(config: ServerConfig, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    let names: Vec<(String, u32)> = config.arrays.iter().map(|a| (a.config.name.clone(), a.config.system_id)).collect();
    let server = Server::start(config).await.context("cannot start the WSAPI server")?;
    for (index, (name, _)) in names.iter().enumerate() {
        println!("{name}: {}", server.api_url(index));
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
    println!("shutting down");
    server.shutdown().await;
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
