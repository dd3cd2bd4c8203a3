//! The backup workflow in synchronous Remote Copy mode (the seed's sequence): VSS freeze → virtual
//! copies of the primary volumes and, at the same instant, of the secondary volumes on the backup
//! array → thaw → integrity check → remote repository entry (remote backup server) → local entry →
//! BackupComplete → retention on both copies.
//!
//! What it holds: the order of the steps; the copies of both arrays are the 3PAR provider's, in
//! one `CommitSnapshots`.
//!
//! What it does not do: no Remote Copy operation at all (the group replicates every write before
//! acknowledging it, so the secondary already holds the frozen image); it refuses, before any side
//! effect, a group that is not started with every volume synced, and a provider older than 2.2.
//!
//! Main design choice: both intents (local and remote) are committed before the freeze, so a
//! crash anywhere leaves both lists of copies; the remote entry is completed before the local one
//! (the seed's order), and a restart finishes a local intent whose remote twin is complete (both
//! were taken and checked in the same freeze). The cost: four repository commits per backup.

use std::sync::Arc;

use simulator::Simulation;

use super::Engine;
use super::backup::{self, Content, Session, Stop, WorkflowStep};
use crate::repository::Site;

pub(super) fn run(engine: &mut Engine, sim: &mut Simulation, s: &mut Session<'_>) -> Result<(), Stop> {
    let (primary, secondary) = (Arc::clone(&s.primary), Arc::clone(&s.remote));
    let local = Content { copies: &primary, retained: &[], fields: s.fields };
    let remote = Content { copies: &secondary, retained: &[], fields: s.fields };
    s.reach(sim, WorkflowStep::IntentRecorded)?;
    backup::record_intent(engine, sim, s, Site::Local, &local)?;
    backup::record_intent(engine, sim, s, Site::Remote, &remote)?;
    s.done(sim, WorkflowStep::IntentRecorded);
    backup::snapshots(sim, s)?;
    backup::integrity_check(sim, s)?;
    s.reach(sim, WorkflowStep::RemoteEntry)?;
    backup::complete(engine, sim, s, Site::Remote, &remote, s.copies_at)?;
    s.report.remote = Some(s.key.clone());
    s.done(sim, WorkflowStep::RemoteEntry);
    s.reach(sim, WorkflowStep::LocalEntry)?;
    backup::complete(engine, sim, s, Site::Local, &local, s.copies_at)?;
    s.report.local = Some(s.key.clone());
    s.done(sim, WorkflowStep::LocalEntry);
    backup::backup_complete(sim, s)?;
    backup::apply_retention(sim, s, primary.iter().chain(secondary.iter()))?;
    Ok(())
}
