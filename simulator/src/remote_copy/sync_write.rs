//! The synchronous host-write path.
//!
//! A host write to a volume of a started synchronous group is applied on the source array when
//! submitted and sent to the destination; the destination applies it on arrival and
//! acknowledges; the host's write completes when that acknowledgement arrives (so its completion
//! time includes the round trip). The call advances the virtual clock to that moment, running
//! any events due meanwhile — a link failure scheduled inside the round trip lands inside the
//! write.
//!
//! A message lost to a broken link waits: if the pair is repaired before the heartbeat timeout
//! the message is sent again; if the links are declared down first, the write resolves per the
//! group's policy (spec §1.4):
//! `no_fail_wrt_on_err` (default) acknowledges it and the group stops with the range recorded
//! for the resync; `fail_wrt_on_err` fails it, puts the source's bytes of that range back as
//! they were (so the host's failed write left no trace on the source), records the range, and
//! keeps failing new writes until the links return.
//! Either way the destination may or may not hold the write: its outcome there is indeterminate,
//! and the recorded range is re-sent by the next resync so the two sides converge.

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::ids::{ArrayId, VolumeId};
use crate::page::{PAGE_SIZE_U64, PageIndex, PageMap, pages_spanned};
use crate::remote_copy::link::HEARTBEAT_TIMEOUT_SYNC;
use crate::remote_copy::{GroupRef, GroupState, Mode, RcEvent, SyncStatus};
use crate::simulation::Simulation;
use crate::time::Instant;

/// Longest a synchronous write may stay unresolved before the host gives up on it.
pub const SYNC_WRITE_HOST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The data a synchronous write carries to the destination.
#[derive(Debug, Clone)]
enum Payload {
    /// A page-aligned write: pages `first..first + count` of the source's map as the write left
    /// it (an O(1) clone); the destination shares those pages, whole leaves at a time (see
    /// [`PageMap::copy_range`]).
    Pages {
        source: PageMap,
        first: PageIndex,
        count: u64,
    },
    Bytes(Vec<u8>),
}

/// A synchronous write between submission and resolution.
#[derive(Debug, Clone)]
pub(crate) struct InflightWrite {
    source: GroupRef,
    volume: VolumeId,
    dest_array: ArrayId,
    dest_volume: VolumeId,
    offset: u64,
    len: u64,
    /// What travels: the source's new pages themselves (whole-page writes share the allocation
    /// with the source), or the bytes of a partial-page write.
    payload: Payload,
    /// The source volume's pages before the write (O(1) clone), to undo it on failure.
    before: Option<PageMap>,
    pair: usize,
    epoch: u64,
    delivered: bool,
    lost: bool,
    fail_write_on_error: bool,
    outcome: Option<Result<Instant>>,
}

impl InflightWrite {
    /// The pair the write travels on.
    pub(crate) fn pair(&self) -> usize {
        self.pair
    }
}

/// A host write on `array` (see [`Simulation::write`]). Returns the acknowledgement time.
pub(crate) fn host_write(
    sim: &mut Simulation,
    array: ArrayId,
    volume: VolumeId,
    offset: u64,
    data: &[u8],
) -> Result<Instant> {
    let a = sim.array(array);
    a.require_online()?;
    let submitted = sim.now();
    let local_done = submitted + a.config().host_write_latency;
    let mut mirror = None;
    if let Some((group, entry)) = a.remote_copy.membership(volume) {
        if group.restore_pending && group.role.is_source() {
            return Err(Error::new(
                ErrorCode::RCOPY_VOLUME_IS_SECONDARY,
                format!("a restore of group '{}' is in progress; its volumes are failing back", group.name),
            ));
        }
        let replicating = group.mode == Mode::Synchronous
            && group.role.is_source()
            && group.state == GroupState::Started
            && matches!(entry.status, SyncStatus::Synced | SyncStatus::Syncing | SyncStatus::NotSynced);
        if replicating {
            let at = GroupRef { array, group: group.id };
            mirror = Some((at, entry.remote, group.peer, group.policies.fail_write_on_error));
        }
    }
    let Some((source, dest_volume, peer, fail_write_on_error)) = mirror else {
        sim.local_write(array, volume, offset, data)?;
        sim.advance_to(local_done);
        // An array that crashed before the acknowledgement never sends it: the host sees an
        // error, and the data (applied, so kept by the crash) is indeterminate to it.
        if !sim.array(array).is_online() {
            return Err(Error::new(
                ErrorCode::ARRAY_OFFLINE,
                format!("array {} went down before acknowledging the write", sim.array(array).name()),
            ));
        }
        return Ok(local_done);
    };
    let pair = sim.pair_index(array, peer).expect("a started group's arrays are paired");
    if !sim.rc.pairs[pair].declared_up && fail_write_on_error {
        let name = sim.array(array).vol(volume).name.clone();
        return Err(Error::new(
            ErrorCode::RCOPY_GROUP_WRITE_FAILED,
            format!("write to '{name}' failed: the secondary is unreachable"),
        ));
    }
    let before = fail_write_on_error.then(|| sim.array(array).vol(volume).pages().clone());
    sim.local_write(array, volume, offset, data)?;
    let aligned = offset.is_multiple_of(PAGE_SIZE_U64) && (data.len() as u64).is_multiple_of(PAGE_SIZE_U64);
    let payload = if aligned {
        Payload::Pages {
            source: sim.array(array).vol(volume).pages().clone(),
            first: PageIndex(offset / PAGE_SIZE_U64),
            count: data.len() as u64 / PAGE_SIZE_U64,
        }
    } else {
        Payload::Bytes(data.to_vec())
    };
    let id = sim.rc.next_write;
    sim.rc.next_write += 1;
    let epoch = sim.rc.pairs[pair].epoch;
    let mut write = InflightWrite {
        source,
        volume,
        dest_array: peer,
        dest_volume,
        offset,
        len: data.len() as u64,
        payload,
        before,
        pair,
        epoch,
        delivered: false,
        lost: false,
        fail_write_on_error,
        outcome: None,
    };
    if sim.path_up(array, peer) && sim.rc.pairs[pair].declared_up {
        let latency = sim.message_latency(array, peer);
        sim.schedule(submitted + latency, Event::RemoteCopy(RcEvent::SyncWriteDeliver { write: id }));
    } else {
        write.lost = true;
    }
    sim.rc.writes.insert(id, write);
    let deadline = submitted + HEARTBEAT_TIMEOUT_SYNC + SYNC_WRITE_HOST_TIMEOUT;
    sim.advance_until(deadline, |s| s.rc.writes.get(&id).is_none_or(|w| w.outcome.is_some()));
    let write = sim.rc.writes.remove(&id).expect("only this call removes its write");
    match write.outcome {
        Some(Ok(acknowledged)) => {
            let done = acknowledged.max(local_done);
            sim.advance_to(done);
            Ok(done)
        }
        Some(Err(error)) => Err(error),
        None => {
            record_pending(sim, write.source, write.volume, write.offset, write.len);
            Err(Error::new(ErrorCode::HOST_IO_ERROR, "synchronous write timed out waiting for the secondary"))
        }
    }
}

/// The write reaches the destination.
pub(crate) fn deliver(sim: &mut Simulation, id: u64) {
    let Some(write) = sim.rc.writes.get(&id) else { return };
    if write.outcome.is_some() || write.delivered {
        return;
    }
    let (source_array, dest_array) = (write.source.array, write.dest_array);
    if sim.rc.pairs[write.pair].epoch != write.epoch || !sim.path_up(source_array, dest_array) {
        let pair = write.pair;
        sim.rc.writes.get_mut(&id).expect("checked").lost = true;
        resend_if_repaired(sim, pair);
        return;
    }
    let (dest_volume, offset) = (write.dest_volume, write.offset);
    let write = sim.rc.writes.get_mut(&id).expect("checked");
    // Not a checked write (replication is never refused for the secondary's snapshot space),
    // but the secondary's kept count follows it.
    let dest = &mut sim.arrays[dest_array.0 as usize];
    match &write.payload {
        Payload::Pages { source, first, count } => {
            dest.write_unchecked(dest_volume, first.0..first.0 + count, |pages| {
                pages.copy_range(source, *first, *count);
            });
        }
        Payload::Bytes(bytes) => {
            let pages = pages_spanned(offset, bytes.len() as u64);
            dest.write_unchecked(dest_volume, pages, |pages| pages.write(offset, bytes));
        }
    }
    write.delivered = true;
    let (source, volume, len) = (write.source, write.volume, write.len);
    if let Some(entry) = sim.group_mut(source).volume_mut(volume) {
        entry.stats.mirrored_writes += 1;
        entry.stats.total_bytes_sent += len;
    }
    let latency = sim.message_latency(dest_array, source_array);
    let now = sim.now();
    sim.schedule(now + latency, Event::RemoteCopy(RcEvent::SyncWriteAck { write: id }));
}

/// The destination's acknowledgement reaches the source.
pub(crate) fn acknowledge(sim: &mut Simulation, id: u64) {
    let Some(write) = sim.rc.writes.get(&id) else { return };
    if write.outcome.is_some() {
        return;
    }
    let ok = sim.rc.pairs[write.pair].epoch == write.epoch && sim.path_up(write.dest_array, write.source.array);
    let now = sim.now();
    let pair = write.pair;
    let write = sim.rc.writes.get_mut(&id).expect("checked");
    if ok {
        write.outcome = Some(Ok(now));
    } else {
        write.lost = true;
        resend_if_repaired(sim, pair);
    }
}

/// A message of an earlier epoch arrived after its links broke and were repaired again, all
/// before anyone declared them down: the repair's resend (`resume_pair`) ran before this message
/// was known lost, so send it again now, as the repair would have.
fn resend_if_repaired(sim: &mut Simulation, pair: usize) {
    let (a, b) = (sim.rc.pairs[pair].a, sim.rc.pairs[pair].b);
    if sim.rc.pairs[pair].declared_up && sim.path_up(a, b) && sim.path_up(b, a) {
        resume_pair(sim, pair);
    }
}

/// The pair was repaired before its links were declared down: send lost messages again.
pub(crate) fn resume_pair(sim: &mut Simulation, pair: usize) {
    let epoch = sim.rc.pairs[pair].epoch;
    let lost: Vec<u64> = sim
        .rc
        .writes
        .iter()
        .filter(|(_, w)| w.pair == pair && w.lost && w.outcome.is_none())
        .map(|(id, _)| *id)
        .collect();
    for id in lost {
        let write = sim.rc.writes.get_mut(&id).expect("listed");
        write.lost = false;
        write.epoch = epoch;
        let (from, to, delivered) = (write.source.array, write.dest_array, write.delivered);
        let now = sim.now();
        if delivered {
            let latency = sim.message_latency(to, from);
            sim.schedule(now + latency, Event::RemoteCopy(RcEvent::SyncWriteAck { write: id }));
        } else {
            let latency = sim.message_latency(from, to);
            sim.schedule(now + latency, Event::RemoteCopy(RcEvent::SyncWriteDeliver { write: id }));
        }
    }
}

/// The pair's links were declared down: every unresolved write on it resolves per policy.
pub(crate) fn resolve_pair_down(sim: &mut Simulation, pair: usize) {
    let pending: Vec<u64> =
        sim.rc.writes.iter().filter(|(_, w)| w.pair == pair && w.outcome.is_none()).map(|(id, _)| *id).collect();
    let now = sim.now();
    for id in pending {
        let write = sim.rc.writes.get(&id).expect("listed").clone();
        record_pending(sim, write.source, write.volume, write.offset, write.len);
        let outcome = if write.fail_write_on_error {
            if let Some(before) = &write.before {
                let pages = pages_spanned(write.offset, write.len);
                sim.arrays[write.source.array.0 as usize].write_unchecked(write.volume, pages, |pages| {
                    pages.restore_range(before, write.offset, write.len);
                });
            }
            Err(Error::new(
                ErrorCode::RCOPY_GROUP_WRITE_FAILED,
                "write failed: the secondary became unreachable (fail_wrt_on_err)",
            ))
        } else {
            Ok(now)
        };
        sim.rc.writes.get_mut(&id).expect("listed").outcome = Some(outcome);
    }
}

/// The source array of some writes crashed: those writes fail (their outcome on either array is
/// indeterminate; the range is in NVRAM for the resync).
pub(crate) fn fail_writes_of_array(sim: &mut Simulation, array: ArrayId) {
    let pending: Vec<u64> = sim
        .rc
        .writes
        .iter()
        .filter(|(_, w)| w.source.array == array && w.outcome.is_none())
        .map(|(id, _)| *id)
        .collect();
    for id in pending {
        let write = sim.rc.writes.get(&id).expect("listed").clone();
        record_pending(sim, write.source, write.volume, write.offset, write.len);
        let name = sim.array(array).name().to_owned();
        sim.rc.writes.get_mut(&id).expect("listed").outcome =
            Some(Err(Error::new(ErrorCode::ARRAY_OFFLINE, format!("array {name} is down"))));
    }
}

fn record_pending(sim: &mut Simulation, group: GroupRef, volume: VolumeId, offset: u64, len: u64) {
    if let Some(entry) = sim.group_mut(group).volume_mut(volume) {
        entry.pending_ranges.push((offset, len));
    }
}
