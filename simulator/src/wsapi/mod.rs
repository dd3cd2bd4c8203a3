//! The WSAPI server: the 3PAR Web Services API (REST/JSON) over the simulated arrays, so that real
//! clients such as `python-3parclient` run against the simulator instead of hardware.
//!
//! What it holds: one HTTP listener per array (hyper 1 on tokio), sessions, JSON validation in the
//! order the WSAPI spec (§1.8) prescribes, one file per WSAPI resource (`cpgs`, `volumes`, `hosts`,
//! `remote_copy_groups`, ...), and a simulator-control API under `/sim/v1` (clock, crash/restart,
//! volume bytes, reset, digest, faults, Remote Copy links and syncs; see `control` and
//! `control_links`). Each listener serves its own array's view, Remote Copy included: the partner
//! group `<name>.r<primary id>` is served by the target array's listener.
//!
//! What it deliberately does not do: HTTPS, SSH, or any model logic. Every rule about volumes,
//! sets, exports or Remote Copy lives in the model; this module only translates JSON to model
//! calls and model objects to JSON.
//!
//! Main design choice: the model stays single-owner. The [`crate::Simulation`] sits behind one
//! asynchronous lock (`engine`), which each request's connection task takes for the duration of
//! its model work; HTTP handlers parse and validate before locking and render after, so the lock
//! is held for microseconds and the model itself needs no locks. Commands that may take long run
//! under `block_in_place` so other connections keep being served. The cost: a model that serves
//! one request at a time (model calls are microseconds), and a long command makes the others wait.
//!
//! Virtual time: in [`ClockMode::Realtime`] (the default) virtual time follows wall time × scale,
//! caught up before each command and by a periodic tick, so an online copy stays ACTIVE for about
//! its configured duration of wall time; in [`ClockMode::Manual`] only the control API moves it.
//!
//! This module is an I/O edge: it reads wall time (session expiry, the realtime clock), which the
//! model crate's `clippy.toml` bans elsewhere.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod control;
mod control_links;
mod cpgs;
mod credentials;
mod engine;
mod error;
mod fixtures;
mod flashcache;
mod hosts;
mod http;
mod json;
mod metadata;
mod ports;
mod qos;
mod query;
mod remote_copy;
mod remote_copy_groups;
mod render;
pub mod self_wake;
mod sets;
mod system;
mod tasks;
mod vluns;
mod volumes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use engine::ClockMode;
pub use fixtures::apply_fixtures;

use crate::{ArrayConfig, ArrayId, Simulation};

/// What `GET /api` reports (spec §2.1). Default: `{"major":1,"minor":8,"revision":0,"build":30301460}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsapiVersion {
    /// Major version.
    pub major: u32,
    /// Minor version (keep one digit: the client compares `"major.minor.revision"` as a string).
    pub minor: u32,
    /// Revision.
    pub revision: u32,
    /// Build; 40000128 and above makes clients switch to the Primera persona.
    pub build: u32,
}

impl Default for WsapiVersion {
    fn default() -> Self {
        WsapiVersion { major: 1, minor: 8, revision: 0, build: 30_301_460 }
    }
}

impl WsapiVersion {
    /// Whether this build makes clients behave as for HPE Primera (no fully provisioned volumes).
    pub fn is_primera(&self) -> bool {
        self.build >= 40_000_128
    }
}

/// What deleting a volume involved in an ACTIVE online copy does (spec §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnlineCopyDelete {
    /// Refuse with 409 code 151, as real arrays do (default).
    #[default]
    Reject,
    /// Cancel the copy task, then delete (helps the live client suite's racy teardowns).
    Cancel,
}

/// One array served: its model configuration and where it listens.
#[derive(Debug, Clone)]
pub struct ArrayListener {
    /// The array (built into the simulation in this order: first = primary).
    pub config: ArrayConfig,
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
}

/// Server configuration. Defaults: the arrays `SIM-A` on 127.0.0.1:8008 and `SIM-B` on
/// 127.0.0.1:8009, seed 0, user `3paradm`/`3pardata`, 15-minute idle sessions, at most 10,000
/// sessions per array, realtime clock at scale 1.0, version of [`WsapiVersion::default`],
/// online-copy deletes rejected.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Seed of the simulation.
    pub seed: u64,
    /// Arrays and their listeners.
    pub arrays: Vec<ArrayListener>,
    /// Accepted `(user, password)` pairs (on every array).
    pub users: Vec<(String, String)>,
    /// Sessions idle longer than this expire.
    pub session_idle_timeout: Duration,
    /// Most sessions per array; the least recently used one is dropped beyond it.
    pub max_sessions: usize,
    /// Clock mode at start.
    pub clock_mode: ClockMode,
    /// Virtual seconds per wall second in realtime mode.
    pub clock_scale: f64,
    /// Version reported by `GET /api`.
    pub version: WsapiVersion,
    /// Behaviour of deletes during an online copy.
    pub online_copy_delete: OnlineCopyDelete,
    /// Apply the fixtures of spec §17 (CPG `UserCPG`, ...) at start and after a reset.
    pub fixtures: bool,
    /// A prepared simulation to serve instead of building one from `seed` and `arrays` (what
    /// `serve --scenario` passes); a reset returns to it. Its arrays must be `arrays`, in order.
    pub preload: Option<Simulation>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            seed: 0,
            arrays: vec![
                ArrayListener { config: ArrayConfig::primary(), listen: SocketAddr::from(([127, 0, 0, 1], 8008)) },
                ArrayListener { config: ArrayConfig::backup(), listen: SocketAddr::from(([127, 0, 0, 1], 8009)) },
            ],
            users: vec![("3paradm".to_owned(), "3pardata".to_owned())],
            session_idle_timeout: Duration::from_secs(15 * 60),
            max_sessions: 10_000,
            clock_mode: ClockMode::Realtime,
            clock_scale: 1.0,
            version: WsapiVersion::default(),
            online_copy_delete: OnlineCopyDelete::Reject,
            fixtures: true,
            preload: None,
        }
    }
}

impl ServerConfig {
    /// The default configuration with every listener on 127.0.0.1 port 0 (for tests).
    pub fn ephemeral() -> ServerConfig {
        let mut config = ServerConfig::default();
        for array in &mut config.arrays {
            array.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        }
        config
    }

    /// Builds the simulation this configuration describes (fixtures included when enabled): a
    /// clone of [`ServerConfig::preload`] when there is one.
    ///
    /// Errors: the simulation builder's (duplicate array names or ids).
    pub fn build_simulation(&self) -> crate::Result<Simulation> {
        if let Some(preload) = &self.preload {
            let mut sim = preload.clone();
            if self.fixtures {
                apply_fixtures(&mut sim);
            }
            return Ok(sim);
        }
        let mut builder = Simulation::builder();
        builder.seed(self.seed);
        for array in &self.arrays {
            builder.array(array.config.clone());
        }
        let mut sim = builder.build()?;
        if self.fixtures {
            apply_fixtures(&mut sim);
        }
        Ok(sim)
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration does not describe a valid simulation (the model's error is the
    /// source, not repeated in this message, so that an error chain names it once).
    #[error("invalid simulation configuration")]
    Model(#[from] crate::Error),
    /// A listener could not bind (the I/O error is the source, not repeated in this message).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration lists no array.
    #[error("no array to serve")]
    NoArray,
    /// The preloaded simulation's arrays are not the configured listeners' arrays.
    #[error("the preloaded simulation has arrays {found:?}, the listeners are for {expected:?}")]
    PreloadMismatch {
        /// Array names of the listeners, in order.
        expected: Vec<String>,
        /// Array names of the preloaded simulation, in order.
        found: Vec<String>,
    },
}

/// A running WSAPI server: the engine, its clock tick and one listener per array.
///
/// Dropping it without [`Server::shutdown`] stops accepting and drops the model when the last
/// connection goes; call `shutdown` to wait for that.
pub struct Server {
    shared: Arc<http::Shared>,
    listeners: Vec<(String, SocketAddr)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Builds the simulation from `config`, starts the clock tick and binds every listener.
    /// Must be called inside a tokio runtime (multi-threaded for long commands not to stall
    /// other connections). Every listener accepts once this returns.
    pub async fn start(config: ServerConfig) -> Result<Server, StartError> {
        if config.arrays.is_empty() {
            return Err(StartError::NoArray);
        }
        if let Some(preload) = &config.preload {
            let expected: Vec<String> = config.arrays.iter().map(|a| a.config.name.clone()).collect();
            let found: Vec<String> = preload.arrays().map(|a| a.name().to_owned()).collect();
            if expected != found {
                return Err(StartError::PreloadMismatch { expected, found });
            }
        }
        let sim = config.build_simulation()?;
        let mut bound = Vec::new();
        for (index, array) in config.arrays.iter().enumerate() {
            let listener = tokio::net::TcpListener::bind(array.listen)
                .await
                .map_err(|source| StartError::Bind { addr: array.listen, source })?;
            let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: array.listen, source })?;
            bound.push((ArrayId(index as u32), array.config.name.clone(), addr, listener));
        }
        let engine = engine::Engine::new(sim, &config);
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let addrs = bound.iter().map(|(_, _, addr, _)| *addr).collect();
        let shared = Arc::new(http::Shared::new(config, engine, addrs));
        let mut tasks = vec![tokio::spawn(engine::tick(shared.engine.clone(), shutdown_rx.clone()))];
        let mut listeners = Vec::new();
        for (array, name, addr, listener) in bound {
            listeners.push((name, addr));
            tasks.push(tokio::spawn(http::serve(listener, array, shared.clone(), shutdown_rx.clone())));
        }
        Ok(Server { shared, listeners, tasks, shutdown })
    }

    /// Local address of the listener of array `index` (0 = primary).
    pub fn local_addr(&self, index: usize) -> SocketAddr {
        self.listeners[index].1
    }

    /// `http://<addr>/api/v1` of array `index`: the URL clients are built with.
    pub fn api_url(&self, index: usize) -> String {
        format!("http://{}/api/v1", self.local_addr(index))
    }

    /// Array names and listener addresses, in array order.
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// Runs `f` on the model (under the engine lock, as a heavy command) and returns its result; for
    /// tests and tools that inspect or prepare state directly.
    pub async fn with_simulation<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Simulation) -> R + Send + 'static,
    ) -> Option<R> {
        self.shared.engine.call(true, move |state| f(&mut state.sim)).await.ok()
    }

    /// Stops accepting, lets in-flight requests finish (bounded), and stops the engine.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.shared.engine.close().await;
    }
}
