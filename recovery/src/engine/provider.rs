//! The HP 3PAR VSS provider as Recovery Manager uses it: read-only virtual copies of every LUN of
//! the set at one instant, and — for a synchronous Remote Copy backup — read-only copies of the
//! secondary volumes on the backup array at that same instant (the `createsv -rcopy` primitive).
//!
//! What it holds: [`ThreeParProvider`] (a [`vss::Provider`] for one backup), the copies it is told
//! to take ([`PlannedCopy`]), the Remote Copy condition it checks before taking the secondary
//! copies ([`SyncRequirement`]) and its timing ([`ThreeParConfig`]).
//!
//! What it does not do: it chooses no names (the engine plans them and records them in an intent
//! before the provider runs), sets no retention (a retained copy of an aborted set could not be
//! deleted; the workflow applies retention after `BackupComplete`), and never waits for Remote
//! Copy (a periodic backup's remote copies are the workflow's, after the sync).
//!
//! Main design choice: every copy of the set, on both arrays, is created inside one
//! `CommitSnapshots` call before the provider's commit time elapses: array management operations
//! do not move the virtual clock, so they share one instant, and no application write can land
//! between them (writes are held). The synchronous group is checked (started, every volume
//! synced) immediately before, so the secondary copies hold exactly the primary's image. The cost:
//! a link failure that lands during the commit time cannot affect copies already taken, which is
//! also what a real array's atomic `createsv -rcopy` guarantees.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use simulator::{ArrayId, GroupState, Instant, Simulation, SnapshotSpec, SyncStatus};

use crate::repository::VolumeRole;
use crate::vss::{Provider, ProviderError, ShadowCopy, SnapshotSetId, VolumeRef};

/// Timing of the provider. Default: `CommitSnapshots` takes 50 ms of virtual time (an array's
/// snapshot commit; the spec wants it under 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreeParConfig {
    /// Virtual time `CommitSnapshots` takes after the copies exist (writes stay held meanwhile).
    pub commit_duration: Duration,
}

impl Default for ThreeParConfig {
    fn default() -> Self {
        ThreeParConfig { commit_duration: Duration::from_millis(50) }
    }
}

/// One virtual copy the engine asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCopy {
    /// The array holding the source.
    pub array: ArrayId,
    /// What the source holds.
    pub role: VolumeRole,
    /// The volume copied.
    pub source: String,
    /// The copy's name.
    pub copy: String,
    /// The copy's comment (starts with the engine's tag).
    pub comment: String,
    /// Expiration of the copy, hours (placement decided by the engine).
    pub expiration_hours: Option<u64>,
}

impl PlannedCopy {
    /// Creates the copy on its array (read-only, with its comment and expiration).
    pub(super) fn create(&self, sim: &mut Simulation) -> Result<(), simulator::Error> {
        let spec = SnapshotSpec {
            comment: Some(self.comment.clone()),
            expiration_hours: self.expiration_hours,
            ..SnapshotSpec::read_only(&self.copy)
        };
        sim.array_mut(self.array).create_snapshot(&self.source, spec).map(|_| ())
    }
}

/// The synchronous group that must be started with every volume synced when the secondary copies
/// are taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequirement {
    /// The primary array.
    pub array: ArrayId,
    /// The group's name there.
    pub group: String,
}

/// Where an injected provider failure fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProviderFault {
    /// Before the primary copies.
    BeforePrimaryCopies,
    /// After the primary copies, before the secondary ones.
    BeforeSecondaryCopies,
}

#[derive(Debug, Clone, Default)]
struct SetState {
    prepared: Vec<VolumeRef>,
    /// The copies committed, in creation order, as places in the provider's plans (no copy of
    /// their names and comments).
    created: Vec<Made>,
    shadow: Vec<ShadowCopy>,
}

/// A committed copy: which of the provider's plans it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    Primary(usize),
    Secondary(usize),
}

/// The 3PAR VSS provider for one backup.
#[derive(Debug, Clone)]
pub struct ThreeParProvider {
    version: (u32, u32),
    config: ThreeParConfig,
    primary: Arc<[PlannedCopy]>,
    secondary: Arc<[PlannedCopy]>,
    requirement: Option<SyncRequirement>,
    fault: Option<ProviderFault>,
    skip_primary: bool,
    sets: BTreeMap<SnapshotSetId, SetState>,
}

impl ThreeParProvider {
    /// A provider of `version` that takes the `primary` copies of the set's volumes and, in the
    /// same commit, the `secondary` ones (checked against `requirement`). The plans may be shared
    /// with the caller (`Arc<[PlannedCopy]>`) or handed over (`Vec<PlannedCopy>`).
    pub fn new(
        version: (u32, u32),
        config: ThreeParConfig,
        primary: impl Into<Arc<[PlannedCopy]>>,
        secondary: impl Into<Arc<[PlannedCopy]>>,
        requirement: Option<SyncRequirement>,
    ) -> ThreeParProvider {
        ThreeParProvider {
            version,
            config,
            primary: primary.into(),
            secondary: secondary.into(),
            requirement,
            fault: None,
            skip_primary: false,
            sets: BTreeMap::new(),
        }
    }

    /// The provider's version.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// Makes the next commit fail at `fault`.
    pub(super) fn inject(&mut self, fault: ProviderFault) {
        self.fault = Some(fault);
    }

    /// Defect `CopyOutsideFreeze`: the commit takes no primary copy (the workflow takes them
    /// after the thaw).
    #[cfg(feature = "defects")]
    pub(super) fn skip_primary_copies(&mut self) {
        self.skip_primary = true;
    }

    /// Hands the copies of `set` over to the caller: a later `AbortSnapshots` deletes nothing
    /// (the engine's entries list them and it deletes them itself, intent first).
    pub(super) fn release(&mut self, set: SnapshotSetId) {
        if let Some(state) = self.sets.get_mut(&set) {
            state.created.clear();
        }
    }

    /// The secondary copies committed for `set`.
    pub fn secondary_copies(&self, set: SnapshotSetId) -> Vec<PlannedCopy> {
        self.sets
            .get(&set)
            .map(|s| {
                s.created.iter().filter(|m| matches!(m, Made::Secondary(_))).map(|&m| self.plan(m).clone()).collect()
            })
            .unwrap_or_default()
    }

    /// The plan a committed copy follows.
    fn plan(&self, made: Made) -> &PlannedCopy {
        match made {
            Made::Primary(i) => &self.primary[i],
            Made::Secondary(i) => &self.secondary[i],
        }
    }

    fn check_requirement(&self, sim: &Simulation) -> Result<(), ProviderError> {
        let Some(requirement) = &self.requirement else { return Ok(()) };
        let group = sim.array(requirement.array).remote_copy().group(&requirement.group)?;
        if group.state != GroupState::Started {
            return Err(ProviderError::Veto(format!(
                "remote copy group '{}' is {:?}: the secondary copies would not match",
                group.name, group.state
            )));
        }
        if let Some(v) = group.volumes.iter().find(|v| v.status != SyncStatus::Synced) {
            return Err(ProviderError::Veto(format!(
                "volume {} of remote copy group '{}' is {:?}: the secondary copies would not match",
                v.remote_name, group.name, v.status
            )));
        }
        Ok(())
    }

    /// Deletes the `made` copies that exist, newest first.
    fn delete(&self, sim: &mut Simulation, made: &[Made]) -> Result<(), ProviderError> {
        let mut first_error = None;
        for copy in made.iter().rev().map(|&m| self.plan(m)) {
            if !sim.array(copy.array).has_volume(&copy.copy) {
                continue;
            }
            if let Err(error) = sim.array_mut(copy.array).delete_volume(&copy.copy) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), |e| Err(ProviderError::Array(e)))
    }

    /// The primary copies of the `prepared` volumes of `set`, each recorded as soon as it exists
    /// (so AbortSnapshots deletes it if a later one fails), with its shadow copy. Every copy is
    /// created at `now`: management operations do not move the clock.
    fn commit_primary(
        &mut self,
        sim: &mut Simulation,
        set: SnapshotSetId,
        prepared: &[VolumeRef],
        now: Instant,
    ) -> Result<(), ProviderError> {
        for volume in prepared {
            let Some(i) = self.primary.iter().position(|p| p.array == volume.array && p.source == volume.volume) else {
                continue;
            };
            let plan = &self.primary[i];
            if !self.skip_primary {
                plan.create(sim)?;
            }
            let shadow =
                ShadowCopy { set_id: set, source: volume.clone(), copy_name: plan.copy.clone(), created_at: now };
            let state = self.sets.entry(set).or_default();
            state.shadow.push(shadow);
            if !self.skip_primary {
                state.created.push(Made::Primary(i));
            }
        }
        Ok(())
    }
}

impl Provider for ThreeParProvider {
    fn name(&self) -> &str {
        "HP 3PAR VSS Provider"
    }

    fn is_supported(&self, sim: &Simulation, volume: &VolumeRef) -> bool {
        self.primary.iter().any(|p| p.array == volume.array && p.source == volume.volume)
            && sim.array(volume.array).volume(&volume.volume).is_ok_and(|v| !v.read_only && v.snap_cpg().is_some())
    }

    fn begin_prepare_snapshot(
        &mut self,
        sim: &mut Simulation,
        set: SnapshotSetId,
        volume: &VolumeRef,
    ) -> Result<(), ProviderError> {
        if !self.is_supported(sim, volume) {
            return Err(ProviderError::Veto(format!("no virtual copy planned for '{}'", volume.volume)));
        }
        self.sets.entry(set).or_default().prepared.push(volume.clone());
        Ok(())
    }

    fn end_prepare_snapshots(&mut self, _sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        if self.sets.get(&set).is_none_or(|s| s.prepared.is_empty()) {
            return Err(ProviderError::Unexpected(format!("set {set} has no prepared volume")));
        }
        Ok(())
    }

    fn pre_commit_snapshots(&mut self, sim: &mut Simulation, _set: SnapshotSetId) -> Result<(), ProviderError> {
        self.check_requirement(sim)
    }

    fn commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        if self.fault == Some(ProviderFault::BeforePrimaryCopies) {
            self.fault = None;
            return Err(ProviderError::Unexpected("injected failure before the primary copies".into()));
        }
        self.check_requirement(sim)?;
        let now = sim.now();
        // Taken out for the loop (no copy) and put back after it, whatever the outcome.
        let prepared = self.sets.get_mut(&set).map(|s| std::mem::take(&mut s.prepared)).unwrap_or_default();
        let primary = self.commit_primary(sim, set, &prepared, now);
        if let Some(state) = self.sets.get_mut(&set) {
            state.prepared = prepared;
        }
        primary?;
        if self.fault == Some(ProviderFault::BeforeSecondaryCopies) {
            self.fault = None;
            return Err(ProviderError::Unexpected("injected failure before the secondary copies".into()));
        }
        for (i, plan) in self.secondary.iter().enumerate() {
            plan.create(sim)?;
            self.sets.entry(set).or_default().created.push(Made::Secondary(i));
        }
        if !self.config.commit_duration.is_zero() {
            sim.advance(self.config.commit_duration);
        }
        Ok(())
    }

    fn post_commit_snapshots(&mut self, _sim: &mut Simulation, _set: SnapshotSetId) -> Result<(), ProviderError> {
        Ok(())
    }

    fn abort_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        let Some(state) = self.sets.remove(&set) else { return Ok(()) };
        let result = self.delete(sim, &state.created);
        if result.is_err() {
            // Keep what could not be deleted so a later abort can retry.
            let left: Vec<Made> = state
                .created
                .into_iter()
                .filter(|&m| {
                    let copy = self.plan(m);
                    sim.array(copy.array).has_volume(&copy.copy)
                })
                .collect();
            self.sets.insert(set, SetState { prepared: state.prepared, created: left, shadow: Vec::new() });
        }
        result
    }

    fn shadow_copies(&self, set: SnapshotSetId) -> Vec<ShadowCopy> {
        self.sets.get(&set).map(|s| s.shadow.clone()).unwrap_or_default()
    }

    fn detach_set(&mut self, _sim: &mut Simulation, set: SnapshotSetId) {
        self.sets.remove(&set);
    }
}
