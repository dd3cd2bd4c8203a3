//! A simple hardware provider over the simulator: one read-only virtual copy per volume, all
//! created at one virtual instant in `CommitSnapshots`, all deleted by `AbortSnapshots`.
//!
//! What it does not do: nothing of Remote Copy (the 3PAR provider of the workflows wraps or
//! replaces it), no retention (see [`ProviderConfig`]), no version check.
//!
//! Main design choice: one `create_snapshot` per volume rather than a temporary volume set and
//! `snapshot_volume_set`: management operations do not move the virtual clock, so the copies
//! share one instant either way, and no set has to be created and cleaned up. The cost: the
//! copies of a set are not one 3PAR consistency group object on the array; a copy that fails
//! midway leaves earlier ones for `AbortSnapshots` to delete.

use std::collections::BTreeMap;
use std::time::Duration;

use simulator::{Simulation, SnapshotSpec};

use super::{Provider, ProviderError, ShadowCopy, SnapshotSetId, VolumeRef};

/// Settings of [`ArraySnapshotProvider`]. Defaults: commit takes no virtual time, copies have
/// no expiration.
///
/// There is deliberately no retention setting: a retained copy cannot be deleted, so a set
/// aborted after its commit would leave it behind. The workflows set retention once the backup
/// is complete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Virtual time `CommitSnapshots` takes after creating the copies (to model a slow array).
    pub commit_duration: Duration,
    /// Expiration of each copy, hours.
    pub expiration_hours: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct SetState {
    volumes: Vec<VolumeRef>,
    copies: Vec<ShadowCopy>,
}

/// Virtual copies through `create_snapshot`; names are `<volume, ≤ 22 chars>.<8 hex digits of
/// the set id>` (31 characters at most, unique per set).
///
/// The provider holds a set's state from `BeginPrepareSnapshot` until the set is aborted or
/// detached at `BackupComplete`, so its memory does not grow with the number of backups.
#[derive(Debug, Clone, Default)]
pub struct ArraySnapshotProvider {
    config: ProviderConfig,
    sets: BTreeMap<SnapshotSetId, SetState>,
}

impl ArraySnapshotProvider {
    /// A provider with `config`.
    pub fn new(config: ProviderConfig) -> ArraySnapshotProvider {
        ArraySnapshotProvider { config, sets: BTreeMap::new() }
    }

    /// Sets the provider still holds (in progress, or taken and not yet detached or aborted).
    pub fn sets_held(&self) -> usize {
        self.sets.len()
    }

    /// The copy name for `volume` in `set`.
    pub fn copy_name(volume: &str, set: SnapshotSetId) -> String {
        let stem: String = volume.chars().take(22).collect();
        format!("{stem}.{:08x}", (set.0 >> 96) as u32)
    }

    fn delete_copies(sim: &mut Simulation, copies: &[ShadowCopy]) -> Result<(), ProviderError> {
        let mut first_error = None;
        for copy in copies {
            let array = copy.source.array;
            if !sim.array(array).has_volume(&copy.copy_name) {
                continue;
            }
            if let Err(error) = sim.array_mut(array).delete_volume(&copy.copy_name) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), |e| Err(ProviderError::Array(e)))
    }
}

impl Provider for ArraySnapshotProvider {
    fn name(&self) -> &str {
        "simulator virtual-copy provider"
    }

    fn is_supported(&self, sim: &Simulation, volume: &VolumeRef) -> bool {
        sim.array(volume.array).volume(&volume.volume).is_ok_and(|v| !v.read_only && v.snap_cpg().is_some())
    }

    fn begin_prepare_snapshot(
        &mut self,
        _sim: &mut Simulation,
        set: SnapshotSetId,
        volume: &VolumeRef,
    ) -> Result<(), ProviderError> {
        self.sets.entry(set).or_default().volumes.push(volume.clone());
        Ok(())
    }

    fn end_prepare_snapshots(&mut self, _sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        if self.sets.get(&set).is_none_or(|s| s.volumes.is_empty()) {
            return Err(ProviderError::Unexpected(format!("set {set} has no prepared volume")));
        }
        Ok(())
    }

    fn pre_commit_snapshots(&mut self, _sim: &mut Simulation, _set: SnapshotSetId) -> Result<(), ProviderError> {
        Ok(())
    }

    fn commit_snapshots(&mut self, sim: &mut Simulation, set: SnapshotSetId) -> Result<(), ProviderError> {
        let volumes = self.sets.get(&set).map(|s| s.volumes.clone()).unwrap_or_default();
        let now = sim.now();
        // Every copy at this one instant: management operations do not move the clock. Each copy
        // is recorded as soon as it exists, so AbortSnapshots deletes it if a later one fails.
        for volume in volumes {
            let copy_name = ArraySnapshotProvider::copy_name(&volume.volume, set);
            let spec = SnapshotSpec {
                expiration_hours: self.config.expiration_hours,
                comment: Some(format!("VSS set {set}")),
                ..SnapshotSpec::read_only(&copy_name)
            };
            sim.array_mut(volume.array).create_snapshot(&volume.volume, spec)?;
            let copy = ShadowCopy { set_id: set, source: volume, copy_name, created_at: now };
            self.sets.entry(set).or_default().copies.push(copy);
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
        let result = ArraySnapshotProvider::delete_copies(sim, &state.copies);
        if result.is_err() {
            // Keep what could not be deleted so a later abort can retry.
            let left: Vec<ShadowCopy> =
                state.copies.into_iter().filter(|c| sim.array(c.source.array).has_volume(&c.copy_name)).collect();
            self.sets.insert(set, SetState { volumes: state.volumes, copies: left });
        }
        result
    }

    fn shadow_copies(&self, set: SnapshotSetId) -> Vec<ShadowCopy> {
        self.sets.get(&set).map(|s| s.copies.clone()).unwrap_or_default()
    }

    fn detach_set(&mut self, _sim: &mut Simulation, set: SnapshotSetId) {
        self.sets.remove(&set);
    }
}
