//! The engine: the one thread that owns the [`Simulation`] and runs commands on it.
//!
//! Commands are closures sent over a bounded tokio channel; the engine thread receives them with
//! `blocking_recv` and answers through a oneshot, so async handlers await without blocking the
//! runtime, and a full channel makes senders wait (backpressure) instead of growing a queue.
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
    Run(Job),
    Stop,
}

/// The engine is gone (server shutting down) or the command panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineError {
    /// The engine thread has stopped.
    Stopped,
    /// The command panicked (a model bug).
    Panicked,
}

/// A handle to send commands to the engine thread.
#[derive(Clone)]
pub(crate) struct Engine {
    sender: mpsc::Sender<Command>,
}

impl Engine {
    /// Starts the engine thread owning `sim`.
    pub(crate) fn spawn(sim: Simulation, config: &ServerConfig) -> (Engine, std::thread::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Command>(QUEUE_CAPACITY);
        let clock = Clock::new(config.clock_mode, config.clock_scale, sim.now());
        let mut state = EngineState { sim, clock, config: config.clone() };
        let thread = std::thread::Builder::new()
            .name("wsapi-engine".to_owned())
            .spawn(move || {
                while let Some(Command::Run(job)) = receiver.blocking_recv() {
                    state.clock.catch_up(&mut state.sim);
                    job(&mut state);
                }
            })
            .expect("the engine thread can be spawned");
        (Engine { sender }, thread)
    }

    /// Runs `f` on the engine thread and returns its result.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut EngineState) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |state: &mut EngineState| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(state)));
            let _ = reply.send(result.map_err(|_| EngineError::Panicked));
        });
        self.sender.send(Command::Run(job)).await.map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Asks the engine thread to stop after the commands already queued.
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
        let _ = self.sender.try_send(Command::Run(Box::new(|_| {})));
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
