//! The backup workflow without Remote Copy: VSS freeze → virtual copies of the database and log
//! volumes → thaw → integrity check → local repository entry → BackupComplete → retention.
//!
//! What it holds: the order of the steps; the steps themselves are in `backup`.
//!
//! What it does not do: nothing on the backup array (the database's volumes are in no Remote
//! Copy group, so the remote backup server is not involved).
//!
//! Main design choice: the local entry is completed before BackupComplete, so the logs a FULL
//! backup truncates are always covered by a recorded backup (a crash in between leaves a complete
//! entry and untruncated logs, never truncated logs and no entry). The cost: BackupComplete is
//! delivered after a repository commit, which lengthens the writer's "waiting for completion"
//! state by one commit.

use std::sync::Arc;

use simulator::Simulation;

use super::Engine;
use super::backup::{self, Content, Session, Stop, WorkflowStep};
use crate::repository::Site;

pub(super) fn run(engine: &mut Engine, sim: &mut Simulation, s: &mut Session<'_>) -> Result<(), Stop> {
    let primary = Arc::clone(&s.primary);
    let content = Content { copies: &primary, retained: &[], fields: s.fields };
    s.reach(sim, WorkflowStep::IntentRecorded)?;
    backup::record_intent(engine, sim, s, Site::Local, &content)?;
    s.done(sim, WorkflowStep::IntentRecorded);
    backup::snapshots(sim, s)?;
    backup::integrity_check(sim, s)?;
    s.reach(sim, WorkflowStep::LocalEntry)?;
    backup::complete(engine, sim, s, Site::Local, &content, s.copies_at)?;
    s.report.local = Some(s.key.clone());
    s.done(sim, WorkflowStep::LocalEntry);
    backup::backup_complete(sim, s)?;
    backup::apply_retention(sim, s, primary.iter())?;
    Ok(())
}
