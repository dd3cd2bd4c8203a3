//! The engine: the [`Simulation`] and its clock behind one asynchronous lock, taken by each
//! request's own connection task for the duration of its model work.
//!
//! One owner at a time: a command locks the state (a `tokio::sync::Mutex`), catches the realtime
//! clock up, runs, and unlocks; commands therefore run one after the other in the order they
//! obtained the lock (the lock is fair: first come, first served), and the model needs no locks
//! of its own. Waiting for the lock is asynchronous, so a connection whose command waits parks
//! its task, never a runtime worker; at most one command per connection waits (HTTP/1), so the
//! queue is bounded by the listeners' connection limit.
//!
//! Why a lock and not an engine task fed through a channel (the previous design): a request then
//! costs no hand-off at all when the lock is free, the common case, instead of two task wake-ups
//! (channel, then the answer's oneshot), each of which also woke an idle runtime worker through
//! a system call; on loopback those wake-ups cost as much as the model work itself. The cost:
//! model work runs on the worker that serves the connection, so commands that may take long
//! (collections, the control API: bulk data, advancing the clock, digests, reset) are marked
//! heavy and run under `block_in_place`, which hands the worker's other tasks to another thread
//! meanwhile; light commands (one object) run inline. A heavy command holds the lock while it
//! runs, so other commands wait for it (asynchronously), as they waited in the channel before.
//!
//! The realtime clock is caught up at the start of each command; a tokio task runs an empty
//! command every [`TICK`] so virtual time also moves while no request arrives (this is what moves
//! physical copies along, expires volumes and delivers Remote Copy transfers in realtime mode).
//! A panicking command (a model bug) is caught and reported as an internal error instead of
//! taking the server down; the lock is not poisoned and later commands see the state as the
//! panic left it, as they did with the engine task.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, watch};

use super::ServerConfig;
use crate::Simulation;

/// Interval of the realtime clock tick.
pub const TICK: Duration = Duration::from_millis(10);

/// How virtual time moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Virtual time follows wall time × scale.
    Realtime,
    /// Virtual time moves only when the control API advances it.
    Manual,
}

impl ClockMode {
    /// `realtime` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockMode::Realtime => "realtime",
            ClockMode::Manual => "manual",
        }
    }
}

/// The wall-to-virtual clock mapping.
#[derive(Debug)]
pub(crate) struct Clock {
    pub(crate) mode: ClockMode,
    pub(crate) scale: f64,
    anchor_wall: std::time::Instant,
    anchor_virtual: crate::Instant,
}

impl Clock {
    fn new(mode: ClockMode, scale: f64, now: crate::Instant) -> Clock {
        Clock { mode, scale, anchor_wall: std::time::Instant::now(), anchor_virtual: now }
    }

    /// Advances `sim` to the virtual time the wall clock maps to (realtime mode only).
    pub(crate) fn catch_up(&mut self, sim: &mut Simulation) {
        if self.mode != ClockMode::Realtime {
            return;
        }
        let elapsed = self.anchor_wall.elapsed().as_secs_f64() * self.scale;
        let target = self.anchor_virtual + Duration::from_secs_f64(elapsed.clamp(0.0, 1e12));
        sim.advance_to(target);
    }

    /// Switches mode and scale from now on.
    pub(crate) fn set(&mut self, sim: &mut Simulation, mode: ClockMode, scale: f64) {
        self.catch_up(sim);
        *self = Clock::new(mode, scale, sim.now());
    }

    /// Re-anchors after something else moved virtual time (reset, manual advance).
    pub(crate) fn reanchor(&mut self, sim: &Simulation) {
        *self = Clock::new(self.mode, self.scale, sim.now());
    }
}

/// Everything the engine lock guards.
pub(crate) struct EngineState {
    /// The model.
    pub(crate) sim: Simulation,
    /// The clock mapping.
    pub(crate) clock: Clock,
    /// The configuration the model was built from (for reset).
    pub(crate) config: ServerConfig,
}

/// The engine has stopped (server shutting down) or the command panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineError {
    /// The engine has stopped.
    Stopped,
    /// The command panicked (a model bug).
    Panicked,
}

/// A handle to the engine state; clones share it.
#[derive(Clone)]
pub(crate) struct Engine {
    /// `None` once [`Engine::close`] has run.
    state: Arc<Mutex<Option<EngineState>>>,
}

impl Engine {
    /// An engine owning `sim`.
    pub(crate) fn new(sim: Simulation, config: &ServerConfig) -> Engine {
        let clock = Clock::new(config.clock_mode, config.clock_scale, sim.now());
        let state = EngineState { sim, clock, config: config.clone() };
        Engine { state: Arc::new(Mutex::new(Some(state))) }
    }

    /// Runs `f` on the engine state, once every command that obtained the lock before has
    /// finished, and returns its result; `heavy` for work that may take long (see the module
    /// doc).
    pub(crate) async fn call<R>(&self, heavy: bool, f: impl FnOnce(&mut EngineState) -> R) -> Result<R, EngineError> {
        let mut guard = self.state.lock().await;
        let state = guard.as_mut().ok_or(EngineError::Stopped)?;
        let run = || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                state.clock.catch_up(&mut state.sim);
                f(state)
            }))
        };
        let result = if heavy { run_long(run) } else { run() };
        result.map_err(|_| EngineError::Panicked)
    }

    /// Stops the engine after the commands that already hold or wait for the lock; later
    /// commands fail with [`EngineError::Stopped`]. Drops the model.
    pub(crate) async fn close(&self) {
        self.state.lock().await.take();
    }
}

/// Runs `f`, which may take long, without stalling the worker's other tasks: under
/// `block_in_place` on a multi-threaded runtime; inline on a current-thread runtime (which has
/// no other worker to hand tasks to).
fn run_long<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => f(),
        _ => tokio::task::block_in_place(f),
    }
}

/// Runs an empty command every [`TICK`] until shutdown, so the realtime clock moves while idle.
pub(crate) async fn tick(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                // A stopped engine means the server is shutting down; the shutdown signal follows.
                let _ = engine.call(false, |_| {}).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}
