//! Policies: numeric (a maximum of copy sets per database per StoreServ, optionally removing the
//! oldest), expiration-based (VV expiration on the copies), retention (Virtual Lock), and where
//! each applies in each Remote Copy mode (spec §3.2, §3.3).
//!
//! What it holds: [`Policy`] and [`PolicySpec`] with their validation, the numeric planner that
//! decides — before any side effect — which copy sets a new backup must remove or why it is
//! refused, and the helpers that place expiration and retention on an entry's copies.
//!
//! What it does not do: it removes nothing itself (the workflow executes the plan through the
//! engine's removal, which records intents), and it never lowers or removes a retention.
//!
//! Main design choice: a "copy set on a StoreServ" is an entry (local or remote) with at least one
//! copy on that array, counting a periodic remote entry's copies retained on the primary as a set
//! on the primary too; a set is removed as a whole (entry, its copies and its retained copies).
//! Counting per array gives RM's per-StoreServ rule (2010/2013: active and passive copies on two
//! arrays hold up to 2 × max) without a separate count per site. The cost: after a policy's
//! maximum is lowered, one backup may remove several sets (as many as it takes to fit), which the
//! spec does not describe; RM's "exactly the oldest" is what happens otherwise.

use simulator::{ArrayId, Instant, Simulation, hours};

use super::{Engine, EngineError};
use crate::repository::{Entry, EntryKey, EntryState, PolicyFields, Site};

/// The numeric maximum when no policy is set.
pub const DEFAULT_MAX_COPIES: u32 = 8;
/// Longest retention Recovery Manager accepts, hours (spec §3.3: 1 h .. 43,800 h).
pub const MAX_RETENTION_HOURS: u64 = 43_800;

/// How copies of a database are aged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// At most `max_copies` copy sets per StoreServ; at the limit, remove the oldest first (or
    /// refuse the new backup).
    Numeric {
        /// Most copy sets of the database on one array.
        max_copies: u32,
        /// "Remove the oldest virtual copies".
        remove_oldest: bool,
    },
    /// Copies expire `hours` after creation; the array removes them and the Task Manager
    /// ([`Engine::tick`]) drops their entries.
    Expiration {
        /// Expiration, hours.
        hours: u64,
    },
}

/// A database's policy: the kind and a default retention for new copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicySpec {
    /// Numeric or expiration-based.
    pub kind: Policy,
    /// Virtual Lock retention of new copies, hours (`None` or `Some(0)`: none).
    pub retention_hours: Option<u64>,
}

impl Default for PolicySpec {
    /// Numeric, [`DEFAULT_MAX_COPIES`], removing the oldest, no retention.
    fn default() -> Self {
        PolicySpec {
            kind: Policy::Numeric { max_copies: DEFAULT_MAX_COPIES, remove_oldest: true },
            retention_hours: None,
        }
    }
}

impl PolicySpec {
    /// A numeric policy without retention.
    pub fn numeric(max_copies: u32, remove_oldest: bool) -> PolicySpec {
        PolicySpec { kind: Policy::Numeric { max_copies, remove_oldest }, retention_hours: None }
    }

    /// An expiration-based policy without retention.
    pub fn expiration(hours: u64) -> PolicySpec {
        PolicySpec { kind: Policy::Expiration { hours }, retention_hours: None }
    }

    /// Checks the values.
    ///
    /// Errors: [`EngineError::InvalidPolicy`] (no copies allowed, zero expiration, retention
    /// beyond 43,800 h or beyond the expiration).
    pub fn validate(&self) -> Result<(), EngineError> {
        let expiration = match self.kind {
            Policy::Numeric { max_copies: 0, .. } => {
                return Err(EngineError::InvalidPolicy("a numeric policy must allow at least one copy".into()));
            }
            Policy::Numeric { .. } => None,
            Policy::Expiration { hours: 0 } => {
                return Err(EngineError::InvalidPolicy("expiration must be at least 1 hour".into()));
            }
            Policy::Expiration { hours } => Some(hours),
        };
        fields(expiration, self.retention_hours).map(|_| ())
    }
}

/// The policy fields of a new backup: the request's values override the policy's (`HpRmCli`
/// semantics); `Some(0)` retention means none.
///
/// Errors: [`EngineError::InvalidPolicy`].
pub(super) fn request_fields(
    spec: &PolicySpec,
    expiration_hours: Option<u64>,
    retention_hours: Option<u64>,
) -> Result<PolicyFields, EngineError> {
    let policy_expiration = match spec.kind {
        Policy::Expiration { hours } => Some(hours),
        Policy::Numeric { .. } => None,
    };
    fields(expiration_hours.or(policy_expiration), retention_hours.or(spec.retention_hours))
}

fn fields(expiration_hours: Option<u64>, retention_hours: Option<u64>) -> Result<PolicyFields, EngineError> {
    if expiration_hours == Some(0) {
        return Err(EngineError::InvalidPolicy("expiration must be at least 1 hour".into()));
    }
    let retention_hours = retention_hours.filter(|h| *h > 0);
    if let Some(retention) = retention_hours {
        if retention > MAX_RETENTION_HOURS {
            return Err(EngineError::InvalidPolicy(format!(
                "retention of {retention} h is beyond {MAX_RETENTION_HOURS} h"
            )));
        }
        if let Some(expiration) = expiration_hours
            && retention > expiration
        {
            return Err(EngineError::InvalidPolicy(format!(
                "retention ({retention} h) must not exceed expiration ({expiration} h)"
            )));
        }
    }
    Ok(PolicyFields { expiration_hours, retention_hours })
}

/// When an entry's retention ends, if it has one.
pub(super) fn retained_until(entry: &Entry) -> Option<Instant> {
    entry.policy.retention_hours.map(|h| Instant::from_nanos(entry.created_at_nanos) + hours(h))
}

/// When an entry expires, if it has an expiration.
pub(super) fn expires_at(entry: &Entry) -> Option<Instant> {
    entry.policy.expiration_hours.map(|h| Instant::from_nanos(entry.created_at_nanos) + hours(h))
}

/// Whether an entry has a copy (of its own or retained) on the array called `array_name`.
pub(super) fn has_copy_on(entry: &Entry, array_name: &str) -> bool {
    entry.copies.iter().chain(&entry.retained_on_primary).any(|c| c.array == array_name)
}

impl Engine {
    /// The complete copy sets of a database on an array, oldest first.
    pub(crate) fn sets_on(&self, server: &str, database: &str, array_name: &str) -> Vec<(Site, &Entry)> {
        let mut sets: Vec<(Site, &Entry)> = self
            .database_entries(server, database)
            .filter(|(_, e)| e.state == EntryState::Complete && has_copy_on(e, array_name))
            .collect();
        // One backup is one set per array: a local periodic entry whose hand-over waits for its
        // unmount and the remote entry retaining its copies are the same set (the remote entry,
        // its owner from now on, stands for it).
        sets.sort_by(|(sa, a), (sb, b)| {
            (a.created_at_nanos, &a.key).cmp(&(b.created_at_nanos, &b.key)).then(sb.cmp(sa))
        });
        sets.dedup_by(|later, earlier| later.1.key == earlier.1.key);
        sets
    }

    /// Plans the numeric policy for a new backup of `server`/`database` that will leave copies on
    /// `targets`: the sets to remove first, or why the backup is refused. Changes nothing.
    ///
    /// Errors: [`EngineError::PolicyLimitReached`], [`EngineError::OldestCopyMounted`],
    /// [`EngineError::NoRemovableCopy`].
    pub(super) fn plan_numeric(
        &self,
        sim: &Simulation,
        server: &str,
        database: &str,
        targets: &[ArrayId],
    ) -> crate::Result<Vec<(Site, EntryKey)>> {
        let Policy::Numeric { max_copies, remove_oldest } = self.policy(server, database).kind else {
            return Ok(Vec::new());
        };
        let now = sim.now();
        let mut planned: Vec<(Site, EntryKey)> = Vec::new();
        for array in targets {
            let array_name = sim.array(*array).name();
            // Sets planned for an earlier target are not counted again (a scan: at most a few
            // keys, compared by reference rather than cloned for a set lookup).
            let sets: Vec<(Site, &Entry)> = self
                .sets_on(server, database, array_name)
                .into_iter()
                .filter(|(site, e)| !planned.iter().any(|(s, key)| s == site && *key == e.key))
                .collect();
            let count = sets.len() as u32;
            if count < max_copies {
                continue;
            }
            if !remove_oldest {
                return Err(EngineError::PolicyLimitReached {
                    database: database.to_owned(),
                    array: array_name.to_owned(),
                    count,
                    max: max_copies,
                }
                .into());
            }
            let needed = (count + 1 - max_copies) as usize;
            let eligible: Vec<&(Site, &Entry)> =
                sets.iter().filter(|(_, e)| retained_until(e).is_none_or(|until| until <= now)).collect();
            if eligible.len() < needed {
                return Err(EngineError::NoRemovableCopy {
                    database: database.to_owned(),
                    array: array_name.to_owned(),
                }
                .into());
            }
            for (site, entry) in eligible.into_iter().take(needed) {
                if entry.mounted.is_some() {
                    return Err(EngineError::OldestCopyMounted {
                        key: entry.key.clone(),
                        array: array_name.to_owned(),
                    }
                    .into());
                }
                planned.push((*site, entry.key.clone()));
            }
        }
        Ok(planned)
    }
}
