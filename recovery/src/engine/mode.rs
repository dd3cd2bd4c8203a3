//! Remote Copy mode detection: what the arrays say about a database's two volumes.
//!
//! What it holds: [`ReplicationMode`] and [`detect`], which reads the Remote Copy membership of
//! the database volume and the log volume on the mailbox server's array, and the readiness checks
//! a backup in each mode needs before it may touch anything.
//!
//! What it does not do: no caching (the arrays are asked at every backup, as RM asks them), no
//! repair (a group in the wrong state is reported, never started or stopped).
//!
//! Main design choice: anything but "both volumes in no group" or "both in one started-or-stopped
//! group whose local side is a source" is a typed error naming the volumes and groups involved,
//! rather than a guess. The cost: a database split across groups cannot be backed up until the
//! operator fixes the configuration (RM refuses it too).

use std::fmt;

use simulator::{ArrayId, GroupState, Mode, RcGroup, Simulation, SyncStatus};

use super::EngineError;
use crate::repository::RemoteCopyMode;

/// The Remote Copy mode a database's volumes are in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplicationMode {
    /// Neither volume is in a Remote Copy group.
    None,
    /// Both volumes are in the synchronous group `group` (its name on the primary array).
    Synchronous {
        /// The group.
        group: String,
    },
    /// Both volumes are in the asynchronous periodic group `group`.
    Periodic {
        /// The group.
        group: String,
    },
}

impl ReplicationMode {
    /// The mode as the repository records it.
    pub fn kind(&self) -> RemoteCopyMode {
        match self {
            ReplicationMode::None => RemoteCopyMode::None,
            ReplicationMode::Synchronous { .. } => RemoteCopyMode::Synchronous,
            ReplicationMode::Periodic { .. } => RemoteCopyMode::Periodic,
        }
    }

    /// The group, in either Remote Copy mode.
    pub fn group(&self) -> Option<&str> {
        match self {
            ReplicationMode::None => None,
            ReplicationMode::Synchronous { group } | ReplicationMode::Periodic { group } => Some(group),
        }
    }
}

impl fmt::Display for ReplicationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationMode::None => write!(f, "no Remote Copy"),
            ReplicationMode::Synchronous { group } => write!(f, "synchronous Remote Copy (group {group})"),
            ReplicationMode::Periodic { group } => write!(f, "periodic Remote Copy (group {group})"),
        }
    }
}

/// Reads the mode of a database on `array` whose volumes are `db_volume` and `log_volume`.
///
/// Errors: array errors (a volume missing); [`EngineError::ModeMix`] for one volume in a group
/// and one not, two groups, a new group, or a destination-side role.
pub(super) fn detect(
    sim: &Simulation,
    array: ArrayId,
    db_volume: &str,
    log_volume: &str,
    server: &str,
    database: &str,
) -> crate::Result<ReplicationMode> {
    let a = sim.array(array);
    let mix = |detail: String| -> crate::Error {
        EngineError::ModeMix { server: server.to_owned(), database: database.to_owned(), detail }.into()
    };
    let db_id = a.volume(db_volume)?.id;
    let log_id = a.volume(log_volume)?.id;
    let rc = a.remote_copy();
    let db_group = rc.membership(db_id).map(|(g, _)| g);
    let log_group = rc.membership(log_id).map(|(g, _)| g);
    let group = match (db_group, log_group) {
        (None, None) => return Ok(ReplicationMode::None),
        (Some(g), None) => {
            return Err(mix(format!(
                "database volume '{db_volume}' is in remote copy group '{}' but log volume '{log_volume}' is in none",
                g.name
            )));
        }
        (None, Some(g)) => {
            return Err(mix(format!(
                "log volume '{log_volume}' is in remote copy group '{}' but database volume '{db_volume}' is in none",
                g.name
            )));
        }
        (Some(d), Some(l)) if d.id != l.id => {
            return Err(mix(format!(
                "database volume '{db_volume}' is in group '{}' ({:?}) and log volume '{log_volume}' in group '{}' \
                 ({:?}); both must be in one group",
                d.name, d.mode, l.name, l.mode
            )));
        }
        (Some(d), Some(_)) => d,
    };
    if !group.role.is_source() {
        return Err(mix(format!(
            "'{db_volume}' and '{log_volume}' are in group '{}' on the {} side; back up from the source array",
            group.name,
            group.role.as_str()
        )));
    }
    if group.state == GroupState::New {
        return Err(mix(format!("group '{}' of '{db_volume}' and '{log_volume}' was never started", group.name)));
    }
    Ok(match group.mode {
        Mode::Synchronous => ReplicationMode::Synchronous { group: group.name.clone() },
        Mode::Periodic => ReplicationMode::Periodic { group: group.name.clone() },
    })
}

/// The group `name` on `array` (it exists: detection just found it).
pub(super) fn group<'a>(sim: &'a Simulation, array: ArrayId, name: &str) -> crate::Result<&'a RcGroup> {
    Ok(sim.array(array).remote_copy().group(name)?)
}

/// Checks that a synchronous group can carry a backup now: started, every volume synced.
///
/// Errors: [`EngineError::GroupNotReady`].
pub(super) fn check_synchronous_ready(sim: &Simulation, array: ArrayId, name: &str) -> crate::Result<()> {
    let g = group(sim, array, name)?;
    if g.state != GroupState::Started {
        return Err(not_ready(name, format!("it is {:?} (a synchronous backup needs it Started)", g.state)));
    }
    let unsynced: Vec<String> = g
        .volumes
        .iter()
        .filter(|v| v.status != SyncStatus::Synced)
        .map(|v| {
            let volume = sim.array(array).volume_by_id(v.local).map_or("?", |v| v.name.as_str());
            format!("{volume} is {:?}", v.status)
        })
        .collect();
    if !unsynced.is_empty() {
        return Err(not_ready(name, format!("not every volume is Synced: {}", unsynced.join(", "))));
    }
    Ok(())
}

/// Checks that a periodic group can carry a backup now: started, its peer reachable.
///
/// Errors: [`EngineError::GroupNotReady`].
pub(super) fn check_periodic_ready(sim: &Simulation, array: ArrayId, name: &str) -> crate::Result<()> {
    let g = group(sim, array, name)?;
    if g.state != GroupState::Started {
        return Err(not_ready(name, format!("it is {:?} (a periodic backup needs it Started)", g.state)));
    }
    let reachable =
        sim.rc_pair(array, g.peer).is_some_and(|p| p.declared_up && p.usable) && sim.array(g.peer).is_online();
    if !reachable {
        return Err(not_ready(name, format!("its peer {} is not reachable", sim.array(g.peer).name())));
    }
    Ok(())
}

fn not_ready(group: &str, reason: String) -> crate::Error {
    EngineError::GroupNotReady { group: group.to_owned(), reason }.into()
}
