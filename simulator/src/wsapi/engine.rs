//! The engine: the one task that owns the [`Simulation`] and runs commands on it.
//!
//! Commands are closures sent over a bounded tokio channel to one tokio task, which runs them in
//! arrival order and answers through a oneshot; a full channel makes senders wait (backpressure)
//! instead of growing a queue. The state is moved into that task and never shared: the model
//! stays single-owner, without locks.
//!
//! Why a task and not a thread: a request's hand-off to the engine and back then stays on the
//! tokio worker that serves the connection (the woken task runs next, from the worker's LIFO
//! slot), instead of two cross-thread wake-ups (futex, context switch) per request, which cost
//! more than the model work itself (a few microseconds). The cost: model work runs on a runtime
//! worker, so commands that may take long (collections, the control API: bulk data, advancing
//! the clock, digests, reset) are marked heavy and run under `block_in_place`, which hands the
//! worker's other tasks to another thread meanwhile; light commands (one object) run inline.
//!
//! Before each command the realtime clock is caught up; a tokio task sends an empty command every
//! [`TICK`] so virtual time also moves while no request arrives.
//! A panicking command (a model bug) is caught and reported as an internal error instead of
//! taking the server down.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::ServerConfig;
use crate::Simulation;

/// Interval of the realtime clock tick.
pub const TICK: Duration = Duration::from_millis(10);

/// Commands that may wait in the channel before senders are made to wait.
const QUEUE_CAPACITY: usize = 4096;

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

/// Everything the engine thread owns.
pub(crate) struct EngineState {
    /// The model.
    pub(crate) sim: Simulation,
    /// The clock mapping.
    pub(crate) clock: Clock,
    /// The configuration the model was built from (for reset).
    pub(crate) config: ServerConfig,
}

type Job = Box<dyn FnOnce(&mut EngineState) + Send>;

enum Command {
    /// Run `job`; `heavy` jobs may take long and run under `block_in_place`.
    Run {
        job: Job,
        heavy: bool,
    },
    Stop,
}

/// The engine is gone (server shutting down) or the command panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineError {
    /// The engine task has stopped.
    Stopped,
    /// The command panicked (a model bug).
    Panicked,
}

/// A handle to send commands to the engine task.
#[derive(Clone)]
pub(crate) struct Engine {
    sender: mpsc::Sender<Command>,
}

impl Engine {
    /// Starts the engine task owning `sim`. Must be called inside a tokio runtime.
    pub(crate) fn spawn(sim: Simulation, config: &ServerConfig) -> (Engine, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Command>(QUEUE_CAPACITY);
        let clock = Clock::new(config.clock_mode, config.clock_scale, sim.now());
        let mut state = EngineState { sim, clock, config: config.clone() };
        let task = tokio::spawn(async move {
            while let Some(Command::Run { job, heavy }) = receiver.recv().await {
                let run = || {
                    state.clock.catch_up(&mut state.sim);
                    job(&mut state);
                };
                if heavy { run_long(run) } else { run() }
            }
        });
        (Engine { sender }, task)
    }

    /// Runs `f` on the engine and returns its result; `heavy` for work that may take long
    /// (see the module doc).
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        heavy: bool,
        f: impl FnOnce(&mut EngineState) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |state: &mut EngineState| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(state)));
            let _ = reply.send(result.map_err(|_| EngineError::Panicked));
        });
        self.sender.send(Command::Run { job, heavy }).await.map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Asks the engine task to stop after the commands already queued.
    pub(crate) fn close(&self) {
        let sender = self.sender.clone();
        // try_send first; when the queue is full, a blocking send from a helper task would be
        // needed, but a full queue at shutdown only delays the stop until it drains.
        if sender.try_send(Command::Stop).is_err() {
            tokio::spawn(async move {
                let _ = sender.send(Command::Stop).await;
            });
        }
    }

    fn tick(&self) {
        let _ = self.sender.try_send(Command::Run { job: Box::new(|_| {}), heavy: false });
    }
}

/// Runs `f`, which may take long, without stalling the worker's other tasks: under
/// `block_in_place` on a multi-threaded runtime; inline on a current-thread runtime (which has
/// no other worker to hand tasks to).
fn run_long(f: impl FnOnce()) {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => f(),
        _ => tokio::task::block_in_place(f),
    }
}

/// Sends an empty command every [`TICK`] until shutdown, so the realtime clock moves while idle.
pub(crate) async fn tick(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => engine.tick(),
            _ = shutdown.changed() => return,
        }
    }
}
