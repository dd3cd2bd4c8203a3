//! The simulation: arrays, one virtual clock, one seeded PRNG, one event queue, one trace.
//!
//! Everything the model does happens through [`Simulation`]: management operations through
//! [`Simulation::array_mut`], host I/O through [`Simulation::write`] / [`Simulation::read`],
//! the passage of time through [`Simulation::advance`].
//!
//! Event stepping: `advance_to(t)` pops events in `(time, sequence)` order while they are due at or
//! before `t`, sets the clock to each event's time before running it, and finally sets the clock to
//! `t`. Handlers may schedule further events, including at the current instant; those run in the
//! same call, after the events already queued for that instant. A bound on events per call turns a
//! runaway schedule into a reported failure instead of a hang.

use std::fmt;
use std::time::Duration;

use crate::array::{Array, ArrayConfig, ArrayMut};
use crate::error::{Error, ErrorCode, Result};
use crate::event::{Event, EventQueue};
use crate::fault::Fault;
use crate::ids::{ArrayId, VolumeId};
use crate::prng::Prng;
use crate::task::TaskStatus;
use crate::time::Instant;
use crate::trace::Trace;

/// Most events one `advance_to` call may process before it reports a runaway schedule.
pub const MAX_EVENTS_PER_ADVANCE: u64 = 50_000_000;

/// Unix time of the simulation's start by default: 2026-01-01T00:00:00Z.
pub const DEFAULT_EPOCH_UNIX_SECS: i64 = 1_767_225_600;

/// State shared by all arrays: the clock, the PRNG, the queue, the trace.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) now: Instant,
    pub(crate) prng: Prng,
    pub(crate) queue: EventQueue,
    pub(crate) trace: Trace,
    pub(crate) epoch_unix_secs: i64,
}

impl World {
    /// Calendar time (UTC) of `at`.
    pub(crate) fn calendar(&self, at: Instant) -> jiff::civil::DateTime {
        let timestamp = jiff::Timestamp::from_second(self.epoch_unix_secs + at.as_secs() as i64)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        jiff::tz::TimeZone::UTC.to_datetime(timestamp)
    }

    pub(crate) fn record(&mut self, kind: &'static str, text: String) {
        self.trace.record(self.now, kind, text);
    }
}

/// Builds a [`Simulation`]. Defaults: seed 0; the arrays [`ArrayConfig::primary`] and
/// [`ArrayConfig::backup`] when none are added; the first two arrays paired by Remote Copy
/// targets named after each other, with two default links ([`crate::remote_copy::LinkSpec`]);
/// trace keeping 10,000 lines; epoch 2026-01-01 UTC.
#[derive(Debug, Clone)]
pub struct SimulationBuilder {
    seed: u64,
    arrays: Vec<ArrayConfig>,
    trace_capacity: usize,
    epoch_unix_secs: i64,
    pair_first_two: bool,
    link: crate::remote_copy::LinkSpec,
}

impl Default for SimulationBuilder {
    fn default() -> Self {
        SimulationBuilder {
            seed: 0,
            arrays: Vec::new(),
            trace_capacity: 10_000,
            epoch_unix_secs: DEFAULT_EPOCH_UNIX_SECS,
            pair_first_two: true,
            link: crate::remote_copy::LinkSpec::default(),
        }
    }
}

impl SimulationBuilder {
    /// Seed of the simulation's PRNG (ChaCha8).
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// Adds an array (the first added is [`Simulation::primary`], the second [`Simulation::backup`]).
    pub fn array(&mut self, config: ArrayConfig) -> &mut Self {
        self.arrays.push(config);
        self
    }

    /// Whether the first two arrays get Remote Copy targets and links (default: yes).
    pub fn pair_first_two(&mut self, pair: bool) -> &mut Self {
        self.pair_first_two = pair;
        self
    }

    /// Properties of each of the two default links.
    pub fn link(&mut self, link: crate::remote_copy::LinkSpec) -> &mut Self {
        self.link = link;
        self
    }

    /// Trace lines kept in memory (all lines are still hashed into the digest).
    pub fn trace_capacity(&mut self, lines: usize) -> &mut Self {
        self.trace_capacity = lines;
        self
    }

    /// Unix time (seconds) of virtual time zero, for creation times and name patterns.
    pub fn epoch_unix_secs(&mut self, secs: i64) -> &mut Self {
        self.epoch_unix_secs = secs;
        self
    }

    /// Builds the simulation.
    ///
    /// Errors: `INV_INPUT_DUP_NAME` when two arrays share a name or a system id.
    pub fn build(&self) -> Result<Simulation> {
        let configs = if self.arrays.is_empty() {
            vec![ArrayConfig::primary(), ArrayConfig::backup()]
        } else {
            self.arrays.clone()
        };
        for (i, a) in configs.iter().enumerate() {
            crate::names::validate_name("array", &a.name, crate::names::NAME31)?;
            if configs[..i].iter().any(|b| b.name == a.name || b.system_id == a.system_id) {
                return Err(Error::new(
                    ErrorCode::INV_INPUT_DUP_NAME,
                    format!("two arrays are called '{}' or share id {}", a.name, a.system_id),
                ));
            }
        }
        let arrays = configs.into_iter().enumerate().map(|(i, config)| Array::new(ArrayId(i as u32), config)).collect();
        let world = World {
            now: Instant::ZERO,
            prng: Prng::from_seed(self.seed),
            queue: EventQueue::default(),
            trace: Trace::new(self.trace_capacity),
            epoch_unix_secs: self.epoch_unix_secs,
        };
        let mut simulation = Simulation { arrays, world, rc: Default::default() };
        simulation.world.record("sim", format!("start seed={} arrays={}", self.seed, simulation.arrays.len()));
        if self.pair_first_two && simulation.arrays.len() >= 2 {
            let (a, b) = (ArrayId(0), ArrayId(1));
            let spec = crate::remote_copy::TargetSpec {
                a,
                b,
                name_on_a: simulation.array(b).name().to_owned(),
                name_on_b: simulation.array(a).name().to_owned(),
                links: vec![self.link.clone(); 2],
            };
            simulation.remote_copy().create_targets(spec)?;
        }
        Ok(simulation)
    }
}

/// When a host write was submitted and acknowledged (virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAck {
    /// When the host issued the write.
    pub submitted_at: Instant,
    /// When the array acknowledged it (includes the Remote Copy round trip in synchronous mode).
    pub acknowledged_at: Instant,
}

/// A state digest: BLAKE3 of the whole model (clock, PRNG position, queue, every array with its
/// data, and every trace line ever recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// Two or more simulated arrays under one virtual clock.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub(crate) arrays: Vec<Array>,
    pub(crate) world: World,
    pub(crate) rc: crate::remote_copy::RcWorld,
}

impl Simulation {
    /// A builder (see [`SimulationBuilder`] for defaults).
    pub fn builder() -> SimulationBuilder {
        SimulationBuilder::default()
    }

    /// The default two-array simulation with `seed`.
    pub fn new(seed: u64) -> Simulation {
        Simulation::builder().seed(seed).build().expect("the default configuration is valid")
    }

    /// The seed the PRNG started from.
    pub fn seed(&self) -> u64 {
        self.world.prng.seed()
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.world.now
    }

    /// Unix time (seconds) of virtual instant `at`.
    pub fn unix_secs(&self, at: Instant) -> i64 {
        self.world.epoch_unix_secs + at.as_secs() as i64
    }

    /// Calendar time (UTC) of virtual instant `at`.
    pub fn calendar(&self, at: Instant) -> jiff::civil::DateTime {
        self.world.calendar(at)
    }

    /// The first array (the primary by default).
    pub fn primary(&self) -> ArrayId {
        ArrayId(0)
    }

    /// The second array (the Remote Copy backup by default). Precondition: two arrays exist.
    pub fn backup(&self) -> ArrayId {
        assert!(self.arrays.len() >= 2, "the simulation has a single array");
        ArrayId(1)
    }

    /// Every array id, in build order.
    pub fn array_ids(&self) -> impl Iterator<Item = ArrayId> + use<> {
        (0..self.arrays.len() as u32).map(ArrayId)
    }

    /// The array called `name`.
    pub fn array_by_name(&self, name: &str) -> Option<ArrayId> {
        self.arrays.iter().find(|a| a.name() == name).map(|a| a.id)
    }

    /// The array `id`. Precondition: `id` came from this simulation.
    pub fn array(&self, id: ArrayId) -> &Array {
        &self.arrays[id.0 as usize]
    }

    /// Every array.
    pub fn arrays(&self) -> impl Iterator<Item = &Array> {
        self.arrays.iter()
    }

    /// The write side of array `id`.
    pub fn array_mut(&mut self, id: ArrayId) -> ArrayMut<'_> {
        ArrayMut { array: &mut self.arrays[id.0 as usize], world: &mut self.world }
    }

    /// The simulation's PRNG, for layers above the model (workloads) that want one stream.
    pub fn prng(&mut self) -> &mut Prng {
        &mut self.world.prng
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.world.trace
    }

    /// Appends a line to the trace (layers above the model record their events here too).
    pub fn record(&mut self, kind: &'static str, text: String) {
        self.world.record(kind, text);
    }

    /// Appends a line formatted from `args` to the trace, straight into a recycled buffer (no
    /// allocation once the trace's ring is full): `sim.record_fmt("rm", format_args!(...))` is
    /// `sim.record("rm", format!(...))` without the intermediate `String`.
    pub fn record_fmt(&mut self, kind: &'static str, args: std::fmt::Arguments<'_>) {
        self.world.trace.record_fmt(self.world.now, kind, "", args);
    }

    /// Appends a line whose text `write` appends to an empty, recycled buffer: for lines built
    /// from string pieces, without the formatting machinery [`Simulation::record_fmt`] runs.
    pub fn record_with(&mut self, kind: &'static str, write: impl FnOnce(&mut String)) {
        self.world.trace.record_with(self.world.now, kind, write);
    }

    /// Time of the next scheduled event, if any.
    pub fn next_event_time(&self) -> Option<Instant> {
        self.world.queue.next_time()
    }

    /// Number of scheduled events.
    pub fn pending_events(&self) -> usize {
        self.world.queue.len()
    }

    /// Advances the clock by `duration`, running every event due meanwhile.
    pub fn advance(&mut self, duration: Duration) {
        let until = self.world.now + duration;
        self.advance_to(until);
    }

    /// Advances the clock to `until` (no-op if it is in the past), running every event due.
    ///
    /// Panics after [`MAX_EVENTS_PER_ADVANCE`] events in one call: a schedule that never drains
    /// is a model bug, reported rather than hung on.
    pub fn advance_to(&mut self, until: Instant) {
        let mut processed = 0u64;
        while let Some((at, event)) = self.world.queue.pop_due(until) {
            processed += 1;
            assert!(processed <= MAX_EVENTS_PER_ADVANCE, "runaway event schedule before {until}");
            self.world.now = self.world.now.max(at);
            self.handle(event);
        }
        self.world.now = self.world.now.max(until);
    }

    /// Advances event by event until `done(self)` holds or `deadline` passes; returns whether
    /// `done` held. The clock stops at the event that satisfied `done` (or at `deadline`).
    pub fn advance_until(&mut self, deadline: Instant, mut done: impl FnMut(&Simulation) -> bool) -> bool {
        if done(self) {
            return true;
        }
        // Bounded: each step consumes at least one event or ends at the deadline.
        loop {
            match self.world.queue.next_time() {
                Some(at) if at <= deadline => {
                    self.advance_to(at);
                    if done(self) {
                        return true;
                    }
                }
                _ => {
                    self.advance_to(deadline);
                    return done(self);
                }
            }
        }
    }

    /// Puts `fault` on the timeline at `at` (or now, if `at` is in the past).
    pub fn schedule_fault(&mut self, at: Instant, fault: Fault) {
        let at = at.max(self.world.now);
        self.world.record("fault", format!("scheduled at {at}: {fault:?}"));
        self.world.queue.schedule(at, Event::Fault(fault));
    }

    /// Applies `fault` now.
    pub fn inject_fault(&mut self, fault: Fault) {
        self.apply_fault(fault);
    }

    pub(crate) fn schedule(&mut self, at: Instant, event: Event) {
        self.world.queue.schedule(at, event);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Expire { array, volume, at } => self.array_mut(array).expire(volume, at),
            Event::TaskFinished { array, task } => self.array_mut(array).end_task(task, TaskStatus::Done),
            Event::RemoteCopy(event) => crate::remote_copy::handle_event(self, event),
            Event::Fault(fault) => self.apply_fault(fault),
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        self.world.record("fault", format!("{fault:?}"));
        match fault {
            Fault::ArrayCrash(id) => self.crash_array(id),
            Fault::ArrayRestart(id) => self.restart_array(id),
            Fault::LinkDown { .. }
            | Fault::LinkUp { .. }
            | Fault::LatencyChange { .. }
            | Fault::BandwidthChange { .. } => crate::remote_copy::apply_link_fault(self, fault),
        }
    }

    /// Crashes array `id`: it refuses every operation until [`Simulation::restart_array`].
    /// Its persistent state (volumes, copies, configuration) survives.
    pub fn crash_array(&mut self, id: ArrayId) {
        if !self.arrays[id.0 as usize].online {
            return;
        }
        self.arrays[id.0 as usize].online = false;
        let name = self.array(id).name().to_owned();
        self.world.record("array", format!("{name} crashed"));
        crate::remote_copy::on_array_crash(self, id);
    }

    /// Restarts a crashed array.
    pub fn restart_array(&mut self, id: ArrayId) {
        if self.arrays[id.0 as usize].online {
            return;
        }
        self.arrays[id.0 as usize].online = true;
        let name = self.array(id).name().to_owned();
        self.world.record("array", format!("{name} restarted"));
        crate::remote_copy::on_array_restart(self, id);
    }

    /// A host write of `data` at byte `offset` of volume `volume` on `array`.
    ///
    /// The data is applied when submitted; the call returns at the acknowledgement, having
    /// advanced the clock to it (running any events due meanwhile, such as a fault).
    /// In a started synchronous Remote Copy group the acknowledgement waits for the secondary.
    ///
    /// Errors: `ARRAY_OFFLINE` (also when the array crashes between the write's submission and
    /// its acknowledgement: the data was applied and survives the crash, but the caller must treat
    /// its outcome as indeterminate); `NON_EXISTENT_VOL`; `INV_OPERATION_VV_READ_ONLY`;
    /// `INV_INPUT_EXCEEDS_RANGE`; `RCOPY_VOLUME_IS_SECONDARY`; `RCOPY_GROUP_WRITE_FAILED`
    /// (synchronous group with `fail_wrt_on_err` and the secondary unreachable);
    /// `INV_OPERATION_VV_SNAPSHOT_STALE` (a stale copy); `NO_SPACE` (past the tree's snapshot
    /// space: a base with `no_stale_ss`, or a read-write copy; see `snapshot_space`, which also
    /// says how a base with `stale_ss` makes its copies stale instead).
    pub fn write(&mut self, array: ArrayId, volume: &str, offset: u64, data: &[u8]) -> Result<WriteAck> {
        let id = {
            let a = self.array(array);
            a.require_online()?;
            a.volume_id(volume)?
        };
        self.write_by_id(array, id, offset, data)
    }

    /// [`Simulation::write`] addressed by volume id.
    pub fn write_by_id(&mut self, array: ArrayId, volume: VolumeId, offset: u64, data: &[u8]) -> Result<WriteAck> {
        let submitted_at = self.world.now;
        crate::remote_copy::host_write(self, array, volume, offset, data)
            .map(|acknowledged_at| WriteAck { submitted_at, acknowledged_at })
    }

    /// Writes on the array itself, without Remote Copy (used by the replication model).
    pub(crate) fn local_write(&mut self, array: ArrayId, volume: VolumeId, offset: u64, data: &[u8]) -> Result<()> {
        self.array_mut(array).write_volume(volume, offset, data)
    }

    /// Reads `len` bytes at `offset` of volume `volume` on `array`.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_VOL`; `INV_INPUT_EXCEEDS_RANGE`;
    /// `INV_OPERATION_VV_SNAPSHOT_STALE` (a stale copy).
    pub fn read(&self, array: ArrayId, volume: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_into(array, volume, offset, &mut buf)?;
        Ok(buf)
    }

    /// Reads into `buf` at `offset` of volume `volume` on `array`.
    pub fn read_into(&self, array: ArrayId, volume: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        let a = self.array(array);
        a.require_online()?;
        a.volume(volume)?.read_into(offset, buf)
    }

    /// A host write through an export: `host` writes at `lun`.
    ///
    /// Errors: as [`Simulation::write`], plus `NON_EXISTENT_HOST` and `NON_EXISTENT_VLUN`.
    pub fn host_write(&mut self, array: ArrayId, host: &str, lun: u32, offset: u64, data: &[u8]) -> Result<WriteAck> {
        let a = self.array(array);
        a.require_online()?;
        let volume = a.resolve_lun(host, lun)?;
        self.write_by_id(array, volume, offset, data)
    }

    /// A host read through an export: `host` reads `len` bytes at `lun`.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_HOST`; `NON_EXISTENT_VLUN`; `INV_INPUT_EXCEEDS_RANGE`.
    pub fn host_read(&self, array: ArrayId, host: &str, lun: u32, offset: u64, len: usize) -> Result<Vec<u8>> {
        let a = self.array(array);
        a.require_online()?;
        let volume = a.resolve_lun(host, lun)?;
        let mut buf = vec![0u8; len];
        a.vol(volume).read_into(offset, &mut buf)?;
        Ok(buf)
    }

    /// Digest of the whole state: equal digests mean equal runs.
    pub fn digest(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.world.now.as_nanos().to_le_bytes());
        hasher.update(&self.world.prng.seed().to_le_bytes());
        hasher.update(&self.world.prng.position().to_le_bytes());
        hasher.update(format!("{:?}", self.world.queue.sorted()).as_bytes());
        hasher.update(&self.world.trace.recorded().to_le_bytes());
        hasher.update(self.world.trace.hash().as_bytes());
        hasher.update(format!("{:?}", self.rc).as_bytes());
        for array in &self.arrays {
            // Debug output of the model is deterministic: ordered maps only, and page maps print
            // their size, not their addresses. Page contents are hashed separately.
            hasher.update(format!("{array:?}").as_bytes());
            for volume in array.volumes() {
                volume.pages().digest_into(&mut hasher);
            }
        }
        Digest(*hasher.finalize().as_bytes())
    }
}
