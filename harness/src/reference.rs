//! The reference model: what the harness knows happened, against which the history invariants
//! judge the engine and the arrays.
//!
//! What it holds: per database, the content every committed transaction should leave (pages),
//! plus transactions whose outcome a fault made unknown; per repository entry the engine
//! reported, the copies it names and their content at creation; the step records of the last
//! backup; and the violations found while absorbing the last step.
//!
//! What it does not do: it never decides for the engine. An indeterminate transaction is accepted
//! either way (with or without it, never half of it), and resolved by the next image that shows
//! which; entries a backup-server crash may complete later are not required, only entries the
//! engine reported as made.
//!
//! Main design choice: history invariants are checked when the event that can break them happens
//! (a backup's copies when its records arrive, a live database when it is mounted again) and
//! reported by named functions in [`crate::invariants`]; the per-step cost is then one pointer
//! comparison per tracked copy ([`Reference::copies_unchanged`]). The cost: a violation is
//! reported at the step that revealed it, which may be later than the step that caused it.

use std::collections::BTreeMap;

use recovery::exchange::{ReferenceContents, Transaction};
use recovery::repository::{Entry, EntryKey, Site, VolumeRole};
use recovery::verify::{self, ArrayVolume, MemoryImage, ReadAt};
use simulator::invariants::Violation;
use simulator::{ArrayId, Instant, PageMap, Simulation};

use crate::engine::{BackupReport, Engine, ReplicationMode, StepOutcome, StepRecord, WorkflowStep};
use crate::world::DatabaseInfo;

/// Most indeterminate transactions per database whose combinations are tried (2^n images).
const UNCERTAIN_MAX: usize = 4;

/// Where a restore left the live database, and whether it mounted afterwards.
#[derive(Debug, Clone)]
pub struct LiveDatabase {
    /// The array serving it.
    pub array: ArrayId,
    /// Its database volume.
    pub db_volume: String,
    /// Its log volume.
    pub log_volume: String,
    /// Whether the mount after the restore succeeded.
    pub mounted: bool,
}

/// What the harness knows about one database's content.
#[derive(Debug, Clone, Default)]
struct DatabaseReference {
    /// Content of every transaction before the first indeterminate one.
    committed: ReferenceContents,
    /// From the first indeterminate transaction on, in submission order: each with whether it
    /// certainly committed (`true`) or may not have (`false`).
    pending: Vec<(Transaction, bool)>,
    /// Something outside the workload rewrote the volumes (a Remote Copy recover or restore):
    /// not judged until the next live read re-bases the reference.
    unknown: bool,
}

impl DatabaseReference {
    fn indeterminate(&self) -> usize {
        self.pending.iter().filter(|(_, certain)| !certain).count()
    }

    /// Whether `contents` is one of the images the history allows; the matching image if so.
    /// `None` when too many indeterminate transactions make the check meaningless (not judged).
    fn admits(&self, contents: &BTreeMap<u32, Vec<u8>>) -> Option<Result<ReferenceContents, Vec<u32>>> {
        let unknown = self.indeterminate();
        if self.unknown || unknown > UNCERTAIN_MAX {
            return None;
        }
        for mask in 0u32..(1 << unknown) {
            let mut candidate = self.committed.clone();
            let mut bit = 0;
            for (tx, certain) in &self.pending {
                let include = *certain || mask & (1 << bit) != 0;
                if !certain {
                    bit += 1;
                }
                if include {
                    candidate.apply(tx);
                }
            }
            if &candidate.pages == contents {
                return Some(Ok(candidate));
            }
        }
        let mut expected = self.committed.clone();
        for (tx, certain) in &self.pending {
            if *certain {
                expected.apply(tx);
            }
        }
        let differing = expected
            .pages
            .keys()
            .chain(contents.keys())
            .filter(|p| expected.pages.get(p) != contents.get(p))
            .copied()
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .take(8)
            .collect();
        Some(Err(differing))
    }

    /// Re-bases the reference on a resolved image.
    fn resolve(&mut self, image: ReferenceContents) {
        self.committed = image;
        self.pending.clear();
        self.unknown = false;
    }
}

/// A copy an entry names, with its content when the entry was reported.
#[derive(Debug, Clone)]
struct TrackedCopy {
    array: ArrayId,
    name: String,
    content: PageMap,
}

/// A repository entry the engine reported as made.
#[derive(Debug, Clone)]
struct TrackedEntry {
    copies: Vec<TrackedCopy>,
}

/// Most images waiting for their array to come back.
const DEFERRED_MAX: usize = 64;

/// An image that could not be read at its backup (its array was offline).
#[derive(Debug, Clone)]
struct DeferredImage {
    database: String,
    site: Site,
    entry: Entry,
    reference: DatabaseReference,
}

/// The last backup, waiting for its step records.
#[derive(Debug, Clone)]
struct PendingBackup {
    database: String,
    report: BackupReport,
    entries: Vec<(Site, Entry)>,
}

/// The harness's reference model; see the module doc.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    server: String,
    databases: BTreeMap<String, DatabaseReference>,
    infos: BTreeMap<String, DatabaseInfo>,
    entries: BTreeMap<(Site, EntryKey), TrackedEntry>,
    pending: Option<PendingBackup>,
    deferred: Vec<DeferredImage>,
    /// Violations found while absorbing the current step, by invariant name.
    found: Vec<Violation>,
    /// Backups checked against the reference (for reports).
    pub backups_checked: u64,
}

fn violation(invariant: &'static str, spec: &'static str, detail: String) -> Violation {
    Violation { invariant, spec, detail }
}

/// Whether the entry `key` at `site` is still owed the checks of a kept backup: complete in its
/// repository, and no removal of it deferred (a removal the engine had to defer, such as a
/// periodic entry's while the other backup server is down, leaves the entry complete until it
/// can go, and its copies may already be gone: the array expired them, or the removal deleted
/// what it could reach). `None` while the site's backup server is down: its repository cannot be
/// read.
fn still_owed(engine: &Engine, site: Site, key: &EntryKey) -> Option<bool> {
    let repository = engine.repository(site)?;
    let complete = repository.entry(key).is_some_and(|e| e.state == recovery::repository::EntryState::Complete);
    Some(complete && !engine.deferred_cleanups().contains(&(site, key.clone())))
}

impl Reference {
    /// Starts tracking the databases of `server`.
    pub fn start(
        &mut self,
        _sim: &Simulation,
        _engine: &Engine,
        server: Option<&str>,
        databases: &BTreeMap<String, DatabaseInfo>,
    ) {
        self.server = server.unwrap_or_default().to_owned();
        self.infos = databases.clone();
        for name in databases.keys() {
            self.databases.insert(name.clone(), DatabaseReference::default());
        }
    }

    /// Clears the violations of the previous step (called before a step is absorbed).
    pub fn begin_step(&mut self) {
        self.found.clear();
    }

    /// Violations found while absorbing the current step, for invariant `name`.
    pub fn found(&self, name: &str) -> Vec<Violation> {
        self.found.iter().filter(|v| v.invariant == name).cloned().collect()
    }

    /// Number of entries tracked (copy sets the engine reported and has not removed).
    pub fn tracked_entries(&self) -> usize {
        self.entries.len()
    }

    /// A transaction reached its commit point.
    pub fn on_committed(&mut self, database: &str, transaction: &Transaction) {
        let db = self.databases.entry(database.to_owned()).or_default();
        if db.pending.is_empty() {
            db.committed.apply(transaction);
        } else {
            // Ordered after an unknown one: applied in every candidate image, after it.
            db.pending.push((transaction.clone(), true));
        }
    }

    /// A transaction's outcome is unknown (the commit failed mid-way, or it is held).
    pub fn on_indeterminate(&mut self, database: &str, transaction: &Transaction) {
        let db = self.databases.entry(database.to_owned()).or_default();
        db.pending.push((transaction.clone(), false));
    }

    /// The database's volumes were rewritten by a Remote Copy disaster-recovery action: its
    /// content is whatever replication made it, learnt at the next mount.
    pub fn on_rewritten(&mut self, database: &str) {
        self.databases.entry(database.to_owned()).or_default().unknown = true;
    }

    /// Entries the engine removed (any path: policy, expiry, user, undo, reconciliation).
    pub fn on_removed(&mut self, removed: &[(Site, EntryKey)]) {
        for key in removed {
            self.entries.remove(key);
        }
    }

    /// A backup succeeded: remember its entries and their copies' content; the checks run when
    /// its step records arrive.
    pub fn on_backup(&mut self, sim: &Simulation, engine: &Engine, database: &str, report: &BackupReport) {
        // RM 4.4.2 in periodic mode: once the remote entry exists, the local entry is gone (the
        // primary copies stay, recorded as retained by the remote entry).
        if matches!(report.mode, ReplicationMode::Periodic { .. })
            && report.remote.is_some()
            && engine.repository(Site::Local).is_some_and(|r| r.entry(&report.key).is_some())
        {
            self.found.push(violation(
                "periodic_local_entry_handed_over",
                "7.8/41",
                format!("{}: the periodic backup made its remote entry but kept the local one", report.key),
            ));
        }
        let mut entries = Vec::new();
        for (site, key) in [(Site::Local, &report.local), (Site::Remote, &report.remote)] {
            let Some(key) = key else { continue };
            let Some(entry) = engine.repository(site).and_then(|r| r.entry(key)) else {
                self.found.push(violation(
                    "no_committed_entry_lost",
                    "7.8/42",
                    format!("backup reported {} entry {key} but the repository does not hold it", site_label(site)),
                ));
                continue;
            };
            let mut copies = Vec::new();
            for copy in &entry.copies {
                let Some(array) = sim.array_by_name(&copy.array) else { continue };
                if let Ok(volume) = sim.array(array).volume(&copy.copy_volume) {
                    copies.push(TrackedCopy {
                        array,
                        name: copy.copy_volume.to_string(),
                        content: volume.pages().clone(),
                    });
                }
            }
            self.entries.insert((site, key.clone()), TrackedEntry { copies });
            entries.push((site, entry.clone()));
        }
        self.pending = Some(PendingBackup { database: database.to_owned(), report: report.clone(), entries });
    }

    /// The live database was mounted again: its content must hold every committed transaction
    /// (and each indeterminate one wholly or not at all).
    pub fn on_mounted(&mut self, sim: &Simulation, engine: &Engine, server: &str, database: &str) {
        match live_contents(sim, engine, server, database) {
            Ok(contents) => self.judge_content(
                "committed_transactions_survive",
                "7.7/34",
                database,
                &contents,
                "the live database after mount",
                true,
            ),
            Err(error) => self.found.push(violation(
                "committed_transactions_survive",
                "7.7/34",
                format!("{database}: cannot read the mounted database: {error}"),
            )),
        }
    }

    /// A restore succeeded: the live database must now hold exactly the restored backup's image
    /// (`expected`, computed from its copies before the restore), which becomes the reference.
    pub fn on_restored(
        &mut self,
        sim: &Simulation,
        database: &str,
        live: &LiveDatabase,
        expected: Option<Result<BTreeMap<u32, Vec<u8>>, String>>,
        rebase: bool,
    ) {
        let Some(Ok(expected)) = expected else { return };
        // Restored, then the array went down before the database could mount: nothing to read
        // now; the next mount is judged against the backup image (the re-based reference).
        let actual = sim.array(live.array).is_online().then(|| {
            if live.mounted {
                ArrayVolume::new(sim, live.array, &live.db_volume)
                    .and_then(|volume| verify::read_database_contents(&volume))
                    .map_err(|e| e.to_string())
            } else {
                // The mount after the restore failed with the array up (e.g. its soft recovery
                // ran out of snapshot space): the volumes hold the backup's database and logs,
                // maybe partly replayed. What a later mount would make of them is the image.
                recovered_image(sim, live.array, &live.db_volume, &live.log_volume)
            }
        });
        match actual {
            None => {}
            Some(Ok(actual)) if actual == expected => {}
            Some(Ok(actual)) => {
                let differing: Vec<u32> = expected
                    .keys()
                    .chain(actual.keys())
                    .filter(|p| expected.get(p) != actual.get(p))
                    .copied()
                    .collect::<std::collections::BTreeSet<u32>>()
                    .into_iter()
                    .take(8)
                    .collect();
                self.found.push(violation(
                    "restored_database_matches_backup",
                    "7.1/6",
                    format!(
                        "{database}: after the restore the live database differs from the backup; pages {differing:?}"
                    ),
                ));
            }
            Some(Err(error)) => self.found.push(violation(
                "restored_database_matches_backup",
                "7.1/6",
                format!("{database}: cannot read the restored database: {error}"),
            )),
        }
        if rebase {
            self.databases.entry(database.to_owned()).or_default().resolve(ReferenceContents { pages: expected });
        }
    }

    /// Compares `contents` with the reference of `database`, accepting each combination of the
    /// indeterminate transactions; a match resolves them. With more unknowns than can be tried,
    /// `adopt` re-bases the reference on `contents` (a live database read) instead of judging.
    fn judge_content(
        &mut self,
        invariant: &'static str,
        spec: &'static str,
        database: &str,
        contents: &BTreeMap<u32, Vec<u8>>,
        what: &str,
        adopt: bool,
    ) {
        let Some(db) = self.databases.get_mut(database) else { return };
        match db.admits(contents) {
            Some(Ok(image)) => db.resolve(image),
            Some(Err(differing)) => {
                let unknown = db.indeterminate();
                self.found.push(violation(
                    invariant,
                    spec,
                    format!(
                        "{database}: {what} differs from the committed transactions ({unknown} indeterminate tried both ways); pages {differing:?} differ"
                    ),
                ));
            }
            None if adopt => db.resolve(ReferenceContents { pages: contents.clone() }),
            None => {}
        }
    }

    /// Images whose array was offline at the backup, judged once it is back (against the
    /// reference as it was at the backup). An entry whose removal has begun by then is no longer
    /// owed its image: a removal that could not finish (an array of the set down) has deleted
    /// what it could, and the entry stays listed, being removed, until it can go.
    fn judge_deferred(&mut self, sim: &Simulation, engine: &Engine) {
        let deferred = std::mem::take(&mut self.deferred);
        for item in deferred {
            if !self.entries.contains_key(&(item.site, item.entry.key.clone())) {
                continue;
            }
            match still_owed(engine, item.site, &item.entry.key) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    self.deferred.push(item);
                    continue;
                }
            }
            let online =
                item.entry.copies.iter().all(|c| sim.array_by_name(&c.array).is_some_and(|a| sim.array(a).is_online()));
            if !online {
                self.deferred.push(item);
                continue;
            }
            if any_stale(sim, &item.entry.copies) {
                continue;
            }
            let what = format!("backup {} ({}) after soft recovery", item.entry.key.backup_id, site_label(item.site));
            match image(sim, &item.entry).map(|contents| item.reference.admits(&contents)) {
                Ok(None | Some(Ok(_))) => {}
                Ok(Some(Err(differing))) => self.found.push(violation(
                    "backup_image_matches_reference",
                    "7.7/34",
                    format!(
                        "{}: {what} differs from the transactions committed before it; pages {differing:?} differ",
                        item.database
                    ),
                )),
                Err(error) => self.found.push(violation(
                    "backup_image_matches_reference",
                    "7.7/34",
                    format!("{} ({}): {error}", item.entry.key, site_label(item.site)),
                )),
            }
        }
    }

    /// The engine's step records of the last step arrived: run the backup checks (copies inside
    /// the freeze, periodic remote copies after the sync, images equal to the reference).
    pub fn on_step_records(&mut self, sim: &Simulation, engine: &Engine, records: &[StepRecord]) {
        if !self.deferred.is_empty() {
            self.judge_deferred(sim, engine);
        }
        let Some(pending) = self.pending.take() else { return };
        self.backups_checked += 1;
        let at = |step: WorkflowStep| {
            records.iter().find(|r| r.step == step && r.outcome == StepOutcome::Done).map(|r| r.at)
        };
        let position = |step: WorkflowStep| records.iter().position(|r| r.step == step);
        let freeze = at(WorkflowStep::VssFreeze);
        let thaw = at(WorkflowStep::Thaw);
        let sync_done = at(WorkflowStep::RcSyncCompleted);
        let periodic = matches!(pending.report.mode, ReplicationMode::Periodic { .. });
        let in_freeze = |created: Instant| freeze.is_some_and(|f| created >= f) && thaw.is_some_and(|t| created <= t);
        let window = format!(
            "[{} .. {}]",
            freeze.map_or("?".to_owned(), |f| f.to_string()),
            thaw.map_or("?".to_owned(), |t| t.to_string())
        );
        for (site, entry) in &pending.entries {
            for copy in &entry.copies {
                let Some(created) = created_at(sim, &copy.array, &copy.copy_volume) else { continue };
                if periodic && *site == Site::Remote {
                    if sync_done.is_none_or(|done| created < done) {
                        self.found.push(violation(
                            "periodic_remote_copy_after_sync",
                            "7.8/39",
                            format!(
                                "{}: remote copy {} created at {created}, before the Remote Copy sync completed ({})",
                                entry.key,
                                copy.copy_volume,
                                sync_done.map_or("never".to_owned(), |d| d.to_string())
                            ),
                        ));
                    }
                } else if !in_freeze(created) {
                    self.found.push(violation(
                        "backup_copies_inside_freeze",
                        "7.6/29",
                        format!(
                            "{}: copy {} created at {created}, outside the VSS freeze {window}",
                            entry.key, copy.copy_volume
                        ),
                    ));
                }
            }
            for copy in &entry.retained_on_primary {
                let Some(created) = created_at(sim, &copy.array, &copy.copy_volume) else { continue };
                if !in_freeze(created) {
                    self.found.push(violation(
                        "backup_copies_inside_freeze",
                        "7.6/29",
                        format!(
                            "{}: retained primary copy {} created at {created}, outside the VSS freeze {window}",
                            entry.key, copy.copy_volume
                        ),
                    ));
                }
            }
        }
        if periodic && let Some(remote) = position(WorkflowStep::RemoteEntry) {
            let completed = position(WorkflowStep::RcSyncCompleted);
            if completed.is_none_or(|c| c > remote) {
                self.found.push(violation(
                    "periodic_remote_copy_after_sync",
                    "7.8/39",
                    format!("{}: remote entry recorded before the Remote Copy sync completed", pending.database),
                ));
            }
        }
        for (site, entry) in &pending.entries {
            self.judge_image(sim, &pending.database, *site, entry);
        }
    }

    /// Soft-recovers an entry's copies in memory; the result must be recoverable and hold exactly
    /// the committed transactions.
    fn judge_image(&mut self, sim: &Simulation, database: &str, site: Site, entry: &Entry) {
        let find = |role: VolumeRole| entry.copies.iter().find(|c| c.role == role);
        let (Some(db), Some(log)) = (find(VolumeRole::Database), find(VolumeRole::Log)) else {
            self.found.push(violation(
                "backup_image_matches_reference",
                "7.7/34",
                format!("{} ({}): the entry lacks a database or a log copy", entry.key, site_label(site)),
            ));
            return;
        };
        let online = [db, log].iter().all(|c| sim.array_by_name(&c.array).is_some_and(|a| sim.array(a).is_online()));
        if !online {
            // Judged when the array is back, against the reference as it is now.
            if self.deferred.len() >= DEFERRED_MAX {
                self.deferred.remove(0);
            }
            let reference = self.databases.get(database).cloned().unwrap_or_default();
            self.deferred.push(DeferredImage { database: database.to_owned(), site, entry: entry.clone(), reference });
            return;
        }
        if any_stale(sim, &entry.copies) {
            // A write after the copies were taken ran out of snapshot space (§7.1/8) before this
            // check: no image is left to judge.
            return;
        }
        match image(sim, entry) {
            Ok(contents) => self.judge_content(
                "backup_image_matches_reference",
                "7.7/34",
                database,
                &contents,
                &format!("backup {} ({}) after soft recovery", entry.key.backup_id, site_label(site)),
                false,
            ),
            Err(error) => self.found.push(violation(
                "backup_image_matches_reference",
                "7.7/34",
                format!("{} ({}): {error}", entry.key, site_label(site)),
            )),
        }
    }

    /// 7.1/1: every copy a tracked entry names still holds the bytes it held when the backup was
    /// reported (one pointer comparison per copy while nothing wrote to it).
    /// Entries the engine has begun to remove (state `Removing`) or whose removal it deferred
    /// (`Engine::deferred_cleanups`), and entries of a backup server that is down, are not
    /// judged: their copies may legitimately be going.
    pub fn copies_unchanged(&self, sim: &Simulation, engine: &Engine) -> Vec<Violation> {
        let mut found = Vec::new();
        for ((site, key), entry) in &self.entries {
            if still_owed(engine, *site, key) != Some(true) {
                continue;
            }
            for copy in &entry.copies {
                match sim.array(copy.array).volume(&copy.name) {
                    Ok(volume) if volume.pages().same_content(&copy.content) => {}
                    // The one way a copy may lose its bytes: a snapshot-space failure (§7.1/8)
                    // discards them and refuses every read of it from then on.
                    Ok(volume) if volume.is_stale() => {}
                    Ok(_) => found.push(violation(
                        "copies_unchanged",
                        "7.1/1",
                        format!("{key} ({}): copy {} changed since the backup", site_label(*site), copy.name),
                    )),
                    Err(_) => found.push(violation(
                        "copies_unchanged",
                        "7.1/1",
                        format!(
                            "{key} ({}): copy {} is gone but the entry was never removed",
                            site_label(*site),
                            copy.name
                        ),
                    )),
                }
            }
        }
        found
    }

    /// 7.8/42: every entry the engine reported is still in its repository unless a call named
    /// its removal (policy, expiry, remove, restore, reconcile). A crashed backup server is
    /// skipped: its repository is not loaded.
    pub fn entries_present(&self, engine: &Engine) -> Vec<Violation> {
        let mut found = self.found("no_committed_entry_lost");
        for (site, key) in self.entries.keys() {
            let Some(repository) = engine.repository(*site) else { continue };
            if repository.entry(key).is_none() {
                found.push(violation(
                    "no_committed_entry_lost",
                    "7.8/42",
                    format!("{} entry {key} disappeared without a removal", site_label(*site)),
                ));
            }
        }
        found
    }
}

/// Whether a snapshot-space failure made one of `copies` stale (§7.1/8): its data is gone.
fn any_stale(sim: &Simulation, copies: &[recovery::repository::CopyRecord]) -> bool {
    copies.iter().any(|c| {
        sim.array_by_name(&c.array)
            .and_then(|a| sim.array(a).volume(&c.copy_volume).ok())
            .is_some_and(simulator::Volume::is_stale)
    })
}

/// The image an entry's copies hold: verified recoverable, soft-recovered in memory, read page by
/// page.
///
/// Errors: the copies are missing or unreadable, or the image is not recoverable (the reasons).
pub fn image(sim: &Simulation, entry: &Entry) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    image_of(sim, &entry.copies)
}

/// The database image held by `copies` (a database and a log copy of one backup): the entry's
/// own copies, or the primary copies a periodic remote entry retains (what a volume-promote
/// restore of it promotes).
pub fn image_of(
    sim: &Simulation,
    copies: &[recovery::repository::CopyRecord],
) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    let find = |role: VolumeRole| copies.iter().find(|c| c.role == role);
    let (Some(db), Some(log)) = (find(VolumeRole::Database), find(VolumeRole::Log)) else {
        return Err("the entry lacks a database or a log copy".to_owned());
    };
    let array = sim.array_by_name(&db.array).ok_or_else(|| format!("no array {}", db.array))?;
    recovered_image(sim, array, &db.copy_volume, &log.copy_volume)
}

/// The database image volumes `db` and `log` of `array` hold: verified recoverable,
/// soft-recovered in memory, read page by page.
fn recovered_image(sim: &Simulation, array: ArrayId, db: &str, log: &str) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    let db_volume = ArrayVolume::new(sim, array, db).map_err(|e| e.to_string())?;
    let log_volume = ArrayVolume::new(sim, array, log).map_err(|e| e.to_string())?;
    let report = verify::verify_image(&db_volume, &log_volume).map_err(|e| e.to_string())?;
    if !report.is_recoverable() {
        return Err(format!("not recoverable: {:?}", report.problems));
    }
    // Only the header and the pages matter: copy that much, not the whole volume.
    let pages = match verify::read_database_header(&db_volume).map_err(|e| e.to_string())? {
        Ok(header) => header.page_count,
        Err(error) => return Err(format!("database header: {error:?}")),
    };
    let extent = recovery::exchange::layout::db_page_offset(pages).min(db_volume.size_bytes());
    let mut memory = MemoryImage::copy_of(&db_volume, extent).map_err(|e| e.to_string())?;
    verify::soft_recover(&mut memory, &log_volume).map_err(|e| e.to_string())?;
    verify::read_database_contents(&memory).map_err(|e| e.to_string())
}

/// The pages of the live database, wherever the engine serves it from now (it may have been
/// relocated to the backup array by a restore).
fn live_contents(
    sim: &Simulation,
    engine: &Engine,
    server: &str,
    database: &str,
) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    let db = engine
        .mailbox_server(server)
        .and_then(|s| s.database(database).map_err(Into::into))
        .map_err(|e| e.to_string())?;
    let volume = ArrayVolume::new(sim, db.array(), db.db_volume()).map_err(|e| e.to_string())?;
    verify::read_database_contents(&volume).map_err(|e| e.to_string())
}

fn created_at(sim: &Simulation, array: &str, copy: &str) -> Option<Instant> {
    let array = sim.array_by_name(array)?;
    sim.array(array).volume(copy).ok().map(|v| v.created_at)
}

fn site_label(site: Site) -> &'static str {
    match site {
        Site::Local => "local",
        Site::Remote => "remote",
    }
}
