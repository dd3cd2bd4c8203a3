//! Finishing or undoing interrupted work, after a crash and as the Task Manager.
//!
//! What it holds: how an entry is dissolved (its unreferenced copies deleted, then the entry
//! removed), how intents left by a crash are resolved, the restart of a backup server
//! ([`Engine::restart_backup_server`]) and the Task Manager ([`Engine::tick`]) that drops entries
//! whose copies the arrays expired.
//!
//! What it does not do: it never guesses. An intent whose fate depends on something it cannot see
//! now (an array offline, a retained copy, the other backup server down) is deferred and retried by
//! every later engine call, and listed by [`Engine::deferred_cleanups`].
//!
//! Main design choice: resolution rules that need no memory of the interrupted workflow, only the
//! repositories and the arrays:
//! - a `Removing` entry is finished (its copies deleted, then the entry removed);
//! - a `Creating` entry is rolled back the same way, except a synchronous-mode intent whose twin
//!   in the other repository is complete: both copy sets were taken in the same freeze and the twin
//!   was only completed after the integrity check, so the intent is completed too;
//! - a complete local periodic entry whose copies a complete remote entry records as retained is
//!   removed (the hand-over the crash interrupted);
//! - a complete entry whose copies lack the retention it records gets the rest of it.
//!
//! Repairs of complete entries that an offline array prevents (retention, a mount record's
//! exports), and hand-overs of a local periodic entry that was mounted while the remote backup
//! server was down (they wait for the unmount), are kept in [`Engine::deferred_repairs`] and
//! retried by every later call.
//!
//! A copy is deleted only when no other entry (in either repository) references it. The cost: a
//! crashed backup is rolled back rather than resumed, except in the synchronous case above (its
//! BackupComplete never ran, so no log was truncated for it).

use std::sync::Arc;

use simulator::{Instant, Simulation, VolumeChanges};

use super::policy::{expires_at, retained_until};
use super::{Engine, EngineError};
use crate::repository::{CopyRecord, Entry, EntryKey, EntryState, RemoteCopyMode, Site, set};

/// What a restart (or the start of any engine call) resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Intents rolled back and removals finished: entries dissolved.
    pub dissolved: Vec<(Site, EntryKey)>,
    /// Intents completed (synchronous twins).
    pub completed: Vec<(Site, EntryKey)>,
    /// Local periodic entries removed because the remote entry took them over.
    pub handed_over: Vec<EntryKey>,
    /// Entries whose copies got their missing retention.
    pub retention_reapplied: Vec<(Site, EntryKey)>,
    /// Mount records a crash left without their exports (a mount or unmount interrupted): the
    /// leftover exports were removed and the record cleared.
    pub mounts_cleared: Vec<(Site, EntryKey)>,
    /// Intents that must wait, with the reason.
    pub deferred: Vec<(Site, EntryKey, String)>,
}

/// What the Task Manager did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Entries dropped because the arrays expired their copies.
    pub expired: Vec<(Site, EntryKey)>,
    /// Entries dropped because their copies vanished before any expiration.
    pub vanished: Vec<(Site, EntryKey)>,
    /// Mounted entries with a missing copy (left for the user to unmount and remove).
    pub damaged_mounted: Vec<(Site, EntryKey)>,
    /// Intents resolved meanwhile.
    pub reconciled: ReconcileReport,
}

/// The outcome of dissolving an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Dissolved {
    /// Its copies are gone and so is the entry.
    Removed,
    /// It stays as a `Removing` (or `Creating`) intent until the reason goes away.
    Deferred(String),
}

impl Engine {
    /// Restarts a backup server: reopens its repository and resolves what crashes left.
    ///
    /// Errors: repository errors on open (the server stays down).
    pub fn restart_backup_server(&mut self, sim: &mut Simulation, site: Site) -> crate::Result<ReconcileReport> {
        let config = match site {
            Site::Local => self.config.local.clone(),
            Site::Remote => self.config.remote.clone().ok_or(EngineError::NoRemoteBackupServer)?,
        };
        self.crash_backup_server(site);
        let disk = self.disks[super::site_index(site)].clone();
        let repository = super::open_repository(&config, site, self.config.durability, disk.as_ref())?;
        match site {
            Site::Local => self.local = Some(repository),
            Site::Remote => self.remote = Some(repository),
        }
        sim.record_fmt("rm", format_args!("{site:?} backup server restarted"));
        self.pending_check = true;
        let mut report = self.resolve_pending(sim);
        self.finish_completed(sim, &mut report);
        Ok(report)
    }

    /// The Task Manager: resolves deferred intents, drops entries whose copies the arrays
    /// expired (or that vanished), finishes interrupted hand-overs and reapplies missing
    /// retention.
    ///
    /// Errors: none of its own today (failures are reported and retried next time); the
    /// signature leaves room for a repository that cannot be read.
    pub fn tick(&mut self, sim: &mut Simulation) -> crate::Result<TickReport> {
        let mut report = TickReport { reconciled: self.resolve_pending(sim), ..TickReport::default() };
        let now = sim.now();
        let mut broken: Vec<(Site, Entry)> = Vec::new();
        for (site, entry) in self.all_entries() {
            if entry.state == EntryState::Complete && self.missing_copy(sim, entry) {
                broken.push((site, entry.clone()));
            }
        }
        for (site, entry) in broken {
            if entry.mounted.is_some() {
                report.damaged_mounted.push((site, entry.key.clone()));
                continue;
            }
            match self.dissolve(sim, site, &entry.key) {
                Ok(Dissolved::Removed) => {
                    let expired = expires_at(&entry).is_some_and(|at| at <= now);
                    let list = if expired { &mut report.expired } else { &mut report.vanished };
                    list.push((site, entry.key.clone()));
                    sim.record_fmt("rm", format_args!("task manager dropped {site:?} entry {}", entry.key));
                }
                Ok(Dissolved::Deferred(reason)) => report.reconciled.deferred.push((site, entry.key, reason)),
                Err(error) => report.reconciled.deferred.push((site, entry.key, error.to_string())),
            }
        }
        self.finish_completed(sim, &mut report.reconciled);
        Ok(report)
    }

    /// Whether an entry lists a copy (own or retained) that is not on its array.
    pub(super) fn missing_copy(&self, sim: &Simulation, entry: &Entry) -> bool {
        entry
            .copies
            .iter()
            .chain(&entry.retained_on_primary)
            .any(|c| sim.array_by_name(&c.array).is_none_or(|a| !sim.array(a).has_volume(&c.copy_volume)))
    }

    /// Whether an entry of `key`'s database (any backup, either running repository) lists `copy`
    /// on `array_name`. Only that database's entries are read (O(log n + k)), for the reason
    /// [`Engine::other_entries`] gives.
    pub(crate) fn is_referenced(&self, key: &EntryKey, array_name: &str, copy: &str) -> bool {
        self.database_entries(&key.server, &key.database).any(|(_, e)| lists_copy(e, array_name, copy))
    }

    /// The entries of `key`'s database other than `key` of `site`, in either running repository.
    /// Only that database's entries are read (O(log n + k)): a copy is made from its database's
    /// volumes, which no other database has (creating a database creates its volumes), so no
    /// other database's entry can list one of its copies.
    fn other_entries<'a>(&'a self, site: Site, key: &'a EntryKey) -> impl Iterator<Item = &'a Entry> + 'a {
        self.database_entries(&key.server, &key.database)
            .filter(move |(s, e)| *s != site || e.key != *key)
            .map(|(_, e)| e)
    }

    /// Whether an entry other than `key` of `site` lists `copy` on `array_name` (as its own or
    /// as retained).
    fn referenced_elsewhere(&self, site: Site, key: &EntryKey, array_name: &str, copy: &str) -> bool {
        self.other_entries(site, key).any(|e| lists_copy(e, array_name, copy))
    }

    /// Whether an entry other than `key` of `site` lists `copy` on `array_name` among its own
    /// copies (not as retained).
    fn owned_elsewhere(&self, site: Site, key: &EntryKey, array_name: &str, copy: &str) -> bool {
        self.other_entries(site, key).any(|e| e.copies.iter().any(|c| is_copy(c, array_name, copy)))
    }

    /// Whether the other backup server is configured and down (its references are unknown).
    fn other_down(&self, site: Site) -> bool {
        let other = match site {
            Site::Local => Site::Remote,
            Site::Remote => Site::Local,
        };
        (other == Site::Local || self.config.remote.is_some()) && !self.is_running(other)
    }

    fn defer(&mut self, site: Site, key: &EntryKey) {
        self.deferred.insert((site, key.clone()));
        self.pending_check = true;
    }

    /// Dissolves the entry `key` of `site`: marks it `Removing` (a complete entry), deletes each
    /// of its copies (own and retained) that no other entry references, then removes it. If a copy
    /// cannot be deleted now, the entry stays as an intent and is deferred.
    ///
    /// Errors: [`EngineError::Mounted`]; [`EngineError::BackupServerDown`]; a crash during a commit.
    pub(super) fn dissolve(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> crate::Result<Dissolved> {
        let Some(entry) = self.running(site)?.entry(key) else {
            self.forget_deferral(site, key);
            return Ok(Dissolved::Removed);
        };
        if entry.mounted.is_some() {
            return Err(EngineError::Mounted(key.clone()).into());
        }
        let complete = entry.state == EntryState::Complete;
        if entry.mode == RemoteCopyMode::Periodic && self.other_down(site) {
            // The other repository may reference these copies (retained on the primary).
            self.defer(site, key);
            return Ok(Dissolved::Deferred("the other backup server is down".into()));
        }
        if complete {
            // A retained copy another entry lists as its own stays that entry's: a local periodic
            // entry whose hand-over waited for its unmount keeps its copies when the remote entry
            // retaining them is removed instead, and this removal would not delete them anyway
            // (see below). It lets go of them in the commit that marks the entry being removed,
            // so no copy is listed by both repositories while the removal waits (§7.8/36).
            let released: Vec<CopyRecord> = entry
                .retained_on_primary
                .iter()
                .filter(|c| self.owned_elsewhere(site, key, &c.array, &c.copy_volume))
                .cloned()
                .collect();
            self.commit(site, |r| {
                r.modify(key, |entry| {
                    let retained = entry.retained_on_primary.len();
                    entry.retained_on_primary.retain(|c| !released.contains(c));
                    let released_any = entry.retained_on_primary.len() != retained;
                    set(&mut entry.state, EntryState::Removing) | released_any
                })
            })?;
        }
        // Shared with the repository's catalogue (an `Arc` clone, not a copy of every string),
        // taken after the state change so that change found the entry unshared and wrote it in
        // place.
        let entry = Arc::clone(self.running(site)?.entries().get(key).expect("a state change keeps the entry"));
        for copy in entry.copies.iter().chain(&entry.retained_on_primary) {
            if self.referenced_elsewhere(site, key, &copy.array, &copy.copy_volume) {
                continue;
            }
            let Some(array) = sim.array_by_name(&copy.array) else { continue };
            if !sim.array(array).has_volume(&copy.copy_volume) {
                continue;
            }
            if let Err(error) = sim.array_mut(array).delete_volume(&copy.copy_volume) {
                sim.record_fmt("rm", format_args!("removal of {key} deferred: {}: {error}", copy.copy_volume));
                self.defer(site, key);
                return Ok(Dissolved::Deferred(format!("{}: {error}", copy.copy_volume)));
            }
        }
        self.remove_entry(site, key)?;
        self.forget_deferral(site, key);
        Ok(Dissolved::Removed)
    }

    /// Drops `key`'s deferred removal on `site`, if there is one (usually none: no key is
    /// copied for the lookup then).
    fn forget_deferral(&mut self, site: Site, key: &EntryKey) {
        if !self.deferred.is_empty() {
            self.deferred.remove(&(site, key.clone()));
        }
    }

    /// The numeric policy's removal of a set (checked: unmounted, not retained).
    ///
    /// Errors: as [`Engine::dissolve`]; an array error when a copy could not be deleted (the set
    /// stays as a deferred removal and the backup is refused).
    pub(super) fn remove_for_policy(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> crate::Result<()> {
        sim.record_fmt("rm", format_args!("numeric policy removes {site:?} backup {key}"));
        match self.dissolve(sim, site, key)? {
            Dissolved::Removed => Ok(()),
            Dissolved::Deferred(reason) => Err(EngineError::RemovalDeferred { site, key: key.clone(), reason }.into()),
        }
    }

    /// Resolves every intent of the running repositories (see the module doc).
    pub(super) fn resolve_pending(&mut self, sim: &mut Simulation) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        if !self.pending_check {
            return report;
        }
        self.pending_check = false;
        if !self.repairs.is_empty() {
            self.finish_completed(sim, &mut report);
        }
        // A deferral whose intent is gone (a crash after its removal reached the disk) or complete
        // is over.
        let stale: Vec<(Site, EntryKey)> = self
            .deferred
            .iter()
            .filter(|(site, key)| {
                self.repository(*site).is_some_and(|r| r.entry(key).is_none_or(|e| e.state == EntryState::Complete))
            })
            .cloned()
            .collect();
        for deferral in stale {
            self.deferred.remove(&deferral);
        }
        let intents: Vec<(Site, Entry)> =
            self.all_entries().filter(|(_, e)| e.state != EntryState::Complete).map(|(s, e)| (s, e.clone())).collect();
        for (site, entry) in intents {
            let key = entry.key.clone();
            if entry.state == EntryState::Creating && entry.mode == RemoteCopyMode::Synchronous {
                match self.sync_twin_outcome(sim, site, &entry) {
                    TwinOutcome::Unknown => {
                        self.defer(site, &key);
                        report.deferred.push((site, key, "the other backup server is down".into()));
                        continue;
                    }
                    TwinOutcome::Complete(twin) => {
                        let completed = Entry {
                            state: EntryState::Complete,
                            created_at_unix_secs: twin.created_at_unix_secs,
                            created_at_nanos: twin.created_at_nanos,
                            vss_window: twin.vss_window,
                            integrity_checked: twin.integrity_checked,
                            ..entry.clone()
                        };
                        match self.commit(site, |r| r.replace(completed)) {
                            Ok(_) => {
                                self.deferred.remove(&(site, key.clone()));
                                report.completed.push((site, key));
                            }
                            Err(error) => report.deferred.push((site, key, error.to_string())),
                        }
                        continue;
                    }
                    TwinOutcome::RollBack => {}
                }
            }
            match self.dissolve(sim, site, &key) {
                Ok(Dissolved::Removed) => report.dissolved.push((site, key)),
                Ok(Dissolved::Deferred(reason)) => report.deferred.push((site, key, reason)),
                Err(error) => {
                    self.defer(site, &key);
                    report.deferred.push((site, key, error.to_string()));
                }
            }
        }
        if !self.deferred.is_empty() || !self.repairs.is_empty() {
            self.pending_check = true;
        }
        report
    }

    fn sync_twin_outcome(&self, sim: &Simulation, site: Site, entry: &Entry) -> TwinOutcome {
        let other = match site {
            Site::Local => Site::Remote,
            Site::Remote => Site::Local,
        };
        if self.other_down(site) {
            return TwinOutcome::Unknown;
        }
        match self.repository(other).and_then(|r| r.entry(&entry.key)) {
            Some(twin) if twin.state == EntryState::Complete && !self.missing_copy(sim, entry) => {
                TwinOutcome::Complete(Box::new(twin.clone()))
            }
            _ => TwinOutcome::RollBack,
        }
    }

    /// Finishes what complete entries imply after a crash: the periodic hand-over, mount records
    /// without their exports, and missing retention.
    fn finish_completed(&mut self, sim: &mut Simulation, report: &mut ReconcileReport) {
        // Recomputed in full: what still cannot be repaired is added back below.
        self.repairs.clear();
        self.clear_broken_mounts(sim, report);
        if self.is_running(Site::Local) && self.is_running(Site::Remote) {
            let handed: Vec<EntryKey> = self
                .repository(Site::Local)
                .into_iter()
                .flat_map(|r| r.entries().values())
                .filter(|e| e.state == EntryState::Complete && e.mode == RemoteCopyMode::Periodic)
                .filter(|e| {
                    self.repository(Site::Remote).and_then(|r| r.entry(&e.key)).is_some_and(|remote| {
                        remote.state == EntryState::Complete && remote.retained_on_primary == e.copies
                    })
                })
                .map(|e| e.key.clone())
                .collect();
            for key in handed {
                let mounted = self
                    .repository(Site::Local)
                    .and_then(|r| r.entry(&key))
                    .and_then(|e| e.mounted.as_ref())
                    .map(|m| m.host.clone());
                if let Some(host) = mounted {
                    // Mounted while the remote server was down: the hand-over waits for the
                    // unmount (mounted copies are never taken from under a host).
                    self.repairs.insert((Site::Local, key.clone()));
                    report.deferred.push((Site::Local, key, format!("hand-over waits: mounted on {host}")));
                    continue;
                }
                match self.remove_entry(Site::Local, &key) {
                    Ok(_) => report.handed_over.push(key),
                    Err(error) => {
                        self.repairs.insert((Site::Local, key.clone()));
                        report.deferred.push((Site::Local, key, error.to_string()));
                    }
                }
            }
        }
        let now = sim.now();
        let mut missing: Vec<(Site, Entry)> = Vec::new();
        for (site, entry) in self.all_entries() {
            let Some(until) = retained_until(entry) else { continue };
            if entry.state != EntryState::Complete || until <= now {
                continue;
            }
            let lacks = entry.copies.iter().any(|c| {
                sim.array_by_name(&c.array)
                    .and_then(|a| sim.array(a).volume(&c.copy_volume).ok())
                    .is_some_and(|v| v.retained_until.is_none())
            });
            if lacks {
                missing.push((site, entry.clone()));
            }
        }
        for (site, entry) in missing {
            match reapply_retention(sim, &entry, now) {
                Ok(()) => report.retention_reapplied.push((site, entry.key)),
                Err(error) => {
                    self.repairs.insert((site, entry.key.clone()));
                    report.deferred.push((site, entry.key, error.to_string()));
                }
            }
        }
        if !self.repairs.is_empty() {
            self.pending_check = true;
        }
    }
}

impl Engine {
    /// A mount is recorded before its exports are made and cleared after they are removed, so a
    /// crash in between leaves a record whose copies are not (all) exported: the leftover exports
    /// are removed and the record cleared (the interrupted mount did not happen, the interrupted
    /// unmount did).
    fn clear_broken_mounts(&mut self, sim: &mut Simulation, report: &mut ReconcileReport) {
        let broken: Vec<(Site, Entry)> = self
            .all_entries()
            .filter(|(_, e)| e.state == EntryState::Complete)
            .filter(|(_, e)| {
                e.mounted.as_ref().is_some_and(|m| {
                    let Some(array) = sim.array_by_name(&m.array) else { return true };
                    m.exported_volumes.iter().any(|v| super::operations::exports_to(sim, array, v, &m.host).is_empty())
                })
            })
            .map(|(site, e)| (site, e.clone()))
            .collect();
        for (site, entry) in broken {
            let mounted = entry.mounted.as_ref().expect("filtered on mounted");
            let mut stuck = false;
            if let Some(array) = sim.array_by_name(&mounted.array) {
                for volume in &mounted.exported_volumes {
                    for lun in super::operations::exports_to(sim, array, volume, &mounted.host) {
                        if let Err(error) = sim.array_mut(array).delete_vlun(volume, lun, Some(&mounted.host), None) {
                            report.deferred.push((site, entry.key.clone(), error.to_string()));
                            stuck = true;
                        }
                    }
                }
            }
            if stuck {
                // The record stays until its exports can go: a later call finishes it.
                self.repairs.insert((site, entry.key));
                continue;
            }
            match self.commit(site, |r| r.set_mounted(&entry.key, None)) {
                Ok(_) => report.mounts_cleared.push((site, entry.key)),
                Err(error) => report.deferred.push((site, entry.key, error.to_string())),
            }
        }
    }
}

enum TwinOutcome {
    Unknown,
    Complete(Box<Entry>),
    RollBack,
}

/// Gives an entry's copies the rest of the retention it records (whole hours, rounded up), with
/// the expiration moved as far as it must be for retention ≤ expiration.
fn reapply_retention(sim: &mut Simulation, entry: &Entry, now: Instant) -> crate::Result<()> {
    let Some(until) = retained_until(entry) else { return Ok(()) };
    let remaining = until - now;
    let hours = remaining.as_secs().div_ceil(3600).max(1);
    for copy in &entry.copies {
        let Some(array) = sim.array_by_name(&copy.array) else { continue };
        let Ok(volume) = sim.array(array).volume(&copy.copy_volume) else { continue };
        if volume.retained_until.is_some() {
            continue;
        }
        let expiration_hours = volume.expires_at.map(|at| (at - now).as_secs().div_ceil(3600).max(hours));
        let changes = VolumeChanges { retention_hours: Some(hours), expiration_hours, ..VolumeChanges::default() };
        sim.array_mut(array).modify_volume(&copy.copy_volume, changes)?;
    }
    Ok(())
}

/// Whether `entry` lists `copy` on `array_name`, as its own or as retained on the primary.
fn lists_copy(entry: &Entry, array_name: &str, copy: &str) -> bool {
    entry.copies.iter().chain(&entry.retained_on_primary).any(|c| is_copy(c, array_name, copy))
}

/// Whether `record` names `copy` on `array_name`.
fn is_copy(record: &CopyRecord, array_name: &str, copy: &str) -> bool {
    record.copy_volume == copy && record.array == array_name
}
