//! Remote Copy (placeholder until the replication model lands).

use crate::error::Result;
use crate::ids::{CpgId, VolumeId};

/// Remote Copy state held by one array.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArrayRemoteCopy {}

impl ArrayRemoteCopy {
    pub(crate) fn group_of_volume(&self, _volume: VolumeId) -> Option<&str> {
        None
    }

    pub(crate) fn volume_in_started_group(&self, _volume: VolumeId) -> bool {
        false
    }

    pub(crate) fn check_host_writable(&self, _volume: VolumeId, _name: &str) -> Result<()> {
        Ok(())
    }

    pub(crate) fn uses_cpg(&self, _cpg: CpgId) -> bool {
        false
    }
}

/// Remote Copy events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RcEvent {}

pub(crate) fn handle_event(_sim: &mut crate::Simulation, event: RcEvent) {
    match event {}
}

pub(crate) fn apply_link_fault(_sim: &mut crate::Simulation, _fault: crate::Fault) {}

pub(crate) fn on_array_crash(_sim: &mut crate::Simulation, _array: crate::ArrayId) {}

pub(crate) fn on_array_restart(_sim: &mut crate::Simulation, _array: crate::ArrayId) {}

pub(crate) fn host_write(
    sim: &mut crate::Simulation,
    array: crate::ArrayId,
    volume: VolumeId,
    offset: u64,
    data: &[u8],
) -> Result<crate::Instant> {
    sim.local_write(array, volume, offset, data)?;
    let ack = sim.now() + sim.array(array).config().host_write_latency;
    sim.advance_to(ack);
    Ok(ack)
}
