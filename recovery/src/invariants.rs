//! The recovery engine's promises (spec §7.6–§7.8), as functions over the simulation and the
//! engine returning every violation found.
//!
//! What it holds: one function per invariant, [`ALL`] (name and function) and [`check_all`]. The
//! harness and the property tests call them after every workflow, together with
//! `simulator::invariants::check_all`.
//!
//! What it does not do: no history. Promises about what happened in between (VSS event order,
//! "the remote entry was created only after the sync" as a sequence) are checked by the tests
//! that drive the workflows; here they are checked through what they leave behind (copy creation
//! instants against the recorded VSS window, remote content against the primary copy's).
//! Repositories of backup servers that are down are not read; checks that would need them are
//! skipped for what they could reference.
//!
//! Main design choice: judge from the arrays and the repositories only (no bookkeeping of the
//! engine's own, except the deferred cleanups and the numeric bound in force), so a bug in the
//! engine's memory cannot hide a bug in what it did. The cost: content comparisons walk page maps
//! (diffs skip shared subtrees, so the cost follows how much the compared images differ), and
//! [`checked_copies_recoverable`] runs the verifier on every complete entry.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};
use simulator::invariants::Violation;
use simulator::{ArrayId, Instant, PageMap, Simulation, VlunTarget, VlunVolume, Volume};

use crate::engine::{COPY_COMMENT_TAG, Engine};
use crate::repository::{CompactString, CopyRecord, Entry, EntryKey, EntryState, RemoteCopyMode, Site, VolumeRole};
use crate::verify::{ArrayVolume, verify_image};

/// An invariant check.
pub type Check = fn(&Simulation, &Engine) -> Vec<Violation>;

/// Every check of this module, by name.
pub const ALL: &[(&str, Check)] = &[
    ("entries_reference_existing_copies", entries_reference_existing_copies),
    ("engine_copies_referenced_once", engine_copies_referenced_once),
    ("numeric_policy_bound", numeric_policy_bound),
    ("mounted_copies_exported", mounted_copies_exported),
    ("periodic_remote_after_sync", periodic_remote_after_sync),
    ("sync_copies_identical", sync_copies_identical),
    ("policy_placement", policy_placement),
    ("copies_inside_freeze", copies_inside_freeze),
    ("intents_resolved", intents_resolved),
    ("checked_copies_recoverable", checked_copies_recoverable),
];

/// Runs every check.
pub fn check_all(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    ALL.iter().flat_map(|(_, check)| check(sim, engine)).collect()
}

fn violation(invariant: &'static str, spec: &'static str, detail: String) -> Violation {
    Violation { invariant, spec, detail }
}

fn complete(engine: &Engine) -> impl Iterator<Item = (Site, &Entry)> {
    engine.all_entries().filter(|(_, e)| e.state == EntryState::Complete)
}

/// The volume a copy record names, if its array and volume exist.
fn volume<'a>(sim: &'a Simulation, copy: &CopyRecord) -> Option<&'a Volume> {
    let array = sim.array_by_name(&copy.array)?;
    sim.array(array).volume(&copy.copy_volume).ok()
}

fn expired(sim: &Simulation, entry: &Entry) -> bool {
    entry
        .policy
        .expiration_hours
        .is_some_and(|h| Instant::from_nanos(entry.created_at_nanos) + simulator::hours(h) <= sim.now())
}

fn of_role(copies: &[CopyRecord], role: VolumeRole) -> Option<&CopyRecord> {
    copies.iter().find(|c| c.role == role)
}

/// §7.8/36 (first half): a complete entry references only copies that exist on their array and
/// are virtual copies of the volume it names. Entries past their expiration are exempt: the array
/// may have expired their copies before the Task Manager ([`Engine::tick`]) drops them.
pub fn entries_reference_existing_copies(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut found = Vec::new();
    for (site, entry) in complete(engine) {
        if expired(sim, entry) {
            continue;
        }
        for copy in entry.copies.iter().chain(&entry.retained_on_primary) {
            let Some(array) = sim.array_by_name(&copy.array) else {
                found.push(violation(
                    "entries_reference_existing_copies",
                    "7.8/36",
                    format!("{site:?} entry {} names unknown array {}", entry.key, copy.array),
                ));
                continue;
            };
            let a = sim.array(array);
            match a.volume(&copy.copy_volume) {
                Err(_) => found.push(violation(
                    "entries_reference_existing_copies",
                    "7.8/36",
                    format!(
                        "{site:?} entry {} references {} on {}, which does not exist",
                        entry.key, copy.copy_volume, copy.array
                    ),
                )),
                Ok(v) => {
                    let parent = v.copy_of().and_then(|p| a.volume_by_id(p)).map(|p| p.name.as_str());
                    if parent != Some(copy.source_volume.as_str()) {
                        found.push(violation(
                            "entries_reference_existing_copies",
                            "7.8/36",
                            format!(
                                "{site:?} entry {}: {} on {} is not a virtual copy of {} (parent {parent:?})",
                                entry.key, copy.copy_volume, copy.array, copy.source_volume
                            ),
                        ));
                    }
                }
            }
        }
    }
    found
}

/// §7.8/36 (second half): every engine-made virtual copy (comment tagged
/// [`COPY_COMMENT_TAG`]) is referenced by exactly one entry: as a copy of its own (any state), or
/// as a copy a periodic remote entry (complete or being removed) retains on the primary. The "unreferenced" half is
/// skipped while a backup server is down (its repository cannot be read). Two recorded, deferred
/// states are not violations: a copy only the retained list of an intent awaiting its deferred
/// dissolution names (that dissolution deletes it), and the copies of a local periodic entry
/// whose hand-over waits for its unmount (the remote entry already retains them).
pub fn engine_copies_referenced_once(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    // Who references each copy; described only when a violation names them (formatting every
    // reference on every call was most of this check's cost once entries piled up).
    // Hashed, not ordered: these are only looked up, and a B-tree search compared copy names
    // sharing long prefixes a dozen times per copy, every step.
    let mut references: FxHashMap<(&str, &str), Vec<(Site, &Entry)>> = FxHashMap::default();
    // Copies named in the retained list of an intent whose dissolution is deferred: that
    // dissolution deletes each one no other entry references, so such a copy is recorded.
    let mut retained_by_deferred_intent: FxHashSet<(&str, &str)> = FxHashSet::default();
    // A local periodic entry whose hand-over waits for its unmount: the remote entry already
    // retains its copies (two references, by design, until the unmount).
    let mut waiting_hand_over: FxHashSet<(&str, &str)> = FxHashSet::default();
    for (site, entry) in engine.all_entries() {
        // An intent's retained list names copies another entry owns; a complete entry (or one
        // being removed) owns its retained copies.
        let retained: &[CopyRecord] =
            if entry.state == EntryState::Creating { &[] } else { &entry.retained_on_primary };
        if entry.state == EntryState::Creating && engine.deferred_cleanups().contains(&(site, entry.key.clone())) {
            retained_by_deferred_intent
                .extend(entry.retained_on_primary.iter().map(|c| (c.array.as_str(), c.copy_volume.as_str())));
        }
        if site == Site::Local && engine.deferred_repairs().contains(&(site, entry.key.clone())) {
            waiting_hand_over.extend(entry.copies.iter().map(|c| (c.array.as_str(), c.copy_volume.as_str())));
        }
        for copy in entry.copies.iter().chain(retained) {
            references.entry((copy.array.as_str(), copy.copy_volume.as_str())).or_default().push((site, entry));
        }
    }
    let all_running =
        engine.is_running(Site::Local) && (engine.config().remote.is_none() || engine.is_running(Site::Remote));
    let mut found = Vec::new();
    for array in sim.arrays() {
        for v in array.volumes().filter(|v| v.comment.as_deref().is_some_and(|c| c.starts_with(COPY_COMMENT_TAG))) {
            let at = (array.name(), v.name.as_str());
            let refs = references.get(&at).map_or(&[][..], Vec::as_slice);
            match refs.len() {
                0 if retained_by_deferred_intent.contains(&at) => {}
                2 if waiting_hand_over.contains(&at) => {}
                0 if all_running => found.push(violation(
                    "engine_copies_referenced_once",
                    "7.8/36",
                    format!("{}: engine-made copy {} is referenced by no repository", array.name(), v.name),
                )),
                0 | 1 => {}
                _ => found.push(violation(
                    "engine_copies_referenced_once",
                    "7.8/36",
                    format!(
                        "{}: engine-made copy {} is referenced {} times: {}",
                        array.name(),
                        v.name,
                        refs.len(),
                        refs.iter()
                            .map(|(site, entry)| format!("{site:?} {} ({:?})", entry.key, entry.state))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
    }
    found
}

/// §7.8/37: after a successful backup under a numeric policy, the database has at most that
/// many complete copy sets on each StoreServ (a periodic remote set counts on the primary too,
/// through its retained copies).
pub fn numeric_policy_bound(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut databases: Vec<(CompactString, CompactString)> =
        complete(engine).map(|(_, e)| (e.key.server.clone(), e.key.database.clone())).collect();
    databases.sort();
    databases.dedup();
    let mut found = Vec::new();
    for (server, database) in databases {
        let Some(max) = engine.numeric_bound(&server, &database) else { continue };
        for array in sim.arrays() {
            let sets = engine.sets_on(&server, &database, array.name());
            if sets.len() as u32 > max {
                found.push(violation(
                    "numeric_policy_bound",
                    "7.8/37",
                    format!("{server}/{database} has {} copy sets on {} (max {max})", sets.len(), array.name()),
                ));
            }
        }
    }
    found
}

/// §7.8/38: a mounted backup's copies all exist and are exported to the recorded host; and every
/// exported engine-made copy belongs to a mounted backup that records it.
pub fn mounted_copies_exported(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut recorded: BTreeMap<(String, String), ()> = BTreeMap::new();
    for (site, entry) in complete(engine) {
        let Some(mounted) = &entry.mounted else { continue };
        // A record with a deferred repair may lack some of its exports (a crash left it so and
        // the array cannot drop the rest yet); the exports it still has are recorded all the same.
        let repair_deferred = engine.deferred_repairs().contains(&(site, entry.key.clone()));
        let Some(array) = sim.array_by_name(&mounted.array) else { continue };
        for name in &mounted.exported_volumes {
            recorded.insert((mounted.array.clone(), name.clone()), ());
            let exported = exported_to(sim, array, name, &mounted.host);
            if !exported && !repair_deferred {
                found.push(violation(
                    "mounted_copies_exported",
                    "7.8/38",
                    format!("{site:?} backup {} is mounted but {name} is not exported to {}", entry.key, mounted.host),
                ));
            }
        }
        for copy in entry.copies.iter().filter(|_| !repair_deferred) {
            if volume(sim, copy).is_none() {
                found.push(violation(
                    "mounted_copies_exported",
                    "7.8/38",
                    format!("{site:?} backup {} is mounted but its copy {} was removed", entry.key, copy.copy_volume),
                ));
            }
        }
    }
    let all_running =
        engine.is_running(Site::Local) && (engine.config().remote.is_none() || engine.is_running(Site::Remote));
    if all_running {
        for array in sim.arrays() {
            for v in array.volumes().filter(|v| v.comment.as_deref().is_some_and(|c| c.starts_with(COPY_COMMENT_TAG))) {
                if array.is_exported(v.id) && !recorded.contains_key(&(array.name().to_owned(), v.name.clone())) {
                    found.push(violation(
                        "mounted_copies_exported",
                        "7.8/38",
                        format!(
                            "{}: engine-made copy {} is exported but no backup records a mount",
                            array.name(),
                            v.name
                        ),
                    ));
                }
            }
        }
    }
    found
}

fn exported_to(sim: &Simulation, array: ArrayId, volume: &str, host: &str) -> bool {
    let a = sim.array(array);
    let (Ok(v), Ok(h)) = (a.volume(volume), a.host(host)) else { return false };
    a.vluns().any(|l| {
        l.volume == VlunVolume::Volume(v.id)
            && matches!(l.target, VlunTarget::Host(id) | VlunTarget::HostOnPort(id, _) if id == h.id)
    })
}

/// §7.8/39: a complete periodic remote entry records the primary copies it retains, its remote
/// copies were taken no earlier than them, and each remote copy's content equals the retained
/// primary copy's (the sync carried the backup's data before the remote copy was taken) while
/// neither is stale (§7.1/8).
pub fn periodic_remote_after_sync(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut found = Vec::new();
    for (site, entry) in complete(engine) {
        if site != Site::Remote || entry.mode != RemoteCopyMode::Periodic || expired(sim, entry) {
            continue;
        }
        for role in [VolumeRole::Database, VolumeRole::Log] {
            let (Some(remote), Some(primary)) =
                (of_role(&entry.copies, role), of_role(&entry.retained_on_primary, role))
            else {
                found.push(violation(
                    "periodic_remote_after_sync",
                    "7.8/39",
                    format!("periodic remote entry {} lacks a {role:?} remote or retained copy", entry.key),
                ));
                continue;
            };
            let (Some(r), Some(p)) = (volume(sim, remote), volume(sim, primary)) else { continue };
            if r.created_at < p.created_at {
                found.push(violation(
                    "periodic_remote_after_sync",
                    "7.8/39",
                    format!(
                        "remote copy {} of {} predates the primary copy {}",
                        remote.copy_volume, entry.key, primary.copy_volume
                    ),
                ));
            }
            // A stale copy's data was discarded by a snapshot-space failure (§7.1/8): nothing
            // left to compare.
            if !r.is_stale() && !p.is_stale() && !r.pages().same_content(p.pages()) {
                found.push(violation(
                    "periodic_remote_after_sync",
                    "7.8/39",
                    format!(
                        "remote copy {} of {} differs from the primary copy {}: the entry was made before the sync carried the data",
                        remote.copy_volume, entry.key, primary.copy_volume
                    ),
                ));
            }
        }
    }
    found
}

/// §7.8/40: the local and remote copies of one synchronous-mode backup were taken at the same
/// instant and have identical contents (while both still have contents: not stale, §7.1/8).
pub fn sync_copies_identical(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    sync_copies_identical_with(sim, engine, &mut |_, _, local, remote| local.same_content(remote))
}

/// [`sync_copies_identical`] with the content comparison of each pair of copies left to `same`
/// (entry, role, local copy's pages, remote copy's pages): the harness memoises it per pair, as
/// a pair of copies that kept its page maps keeps its verdict.
pub fn sync_copies_identical_with(
    sim: &Simulation,
    engine: &Engine,
    same: &mut dyn FnMut(&EntryKey, VolumeRole, &PageMap, &PageMap) -> bool,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let Some(remote_repository) = engine.repository(Site::Remote) else { return found };
    for (site, local) in complete(engine) {
        if site != Site::Local || local.mode != RemoteCopyMode::Synchronous {
            continue;
        }
        let Some(remote) = remote_repository.entry(&local.key).filter(|e| e.state == EntryState::Complete) else {
            continue;
        };
        for role in [VolumeRole::Database, VolumeRole::Log] {
            let (Some(l), Some(r)) = (of_role(&local.copies, role), of_role(&remote.copies, role)) else { continue };
            let (Some(lv), Some(rv)) = (volume(sim, l), volume(sim, r)) else { continue };
            if lv.created_at != rv.created_at {
                found.push(violation(
                    "sync_copies_identical",
                    "7.8/40",
                    format!(
                        "{}: {role:?} copies {} and {} were taken at different instants",
                        local.key, l.copy_volume, r.copy_volume
                    ),
                ));
            }
            // A stale copy's data was discarded by a snapshot-space failure (§7.1/8).
            if !lv.is_stale() && !rv.is_stale() && !same(&local.key, role, lv.pages(), rv.pages()) {
                found.push(violation(
                    "sync_copies_identical",
                    "7.8/40",
                    format!("{}: {role:?} copies {} and {} differ", local.key, l.copy_volume, r.copy_volume),
                ));
            }
        }
    }
    found
}

/// §7.8/41 (§3.2): expiration and retention are on the copies their mode places them on — an
/// entry's own copies carry exactly the expiration and (while in force, unless its repair is
/// deferred by an offline array) the retention the entry records; copies retained on the primary in periodic mode carry neither, and a local periodic
/// entry records neither; a synchronous backup's local and remote entries record the same.
pub fn policy_placement(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut found = Vec::new();
    let now = sim.now();
    let mut push = |detail: String| found.push(violation("policy_placement", "7.8/41", detail));
    for (site, entry) in complete(engine) {
        let repair_deferred = engine.deferred_repairs().contains(&(site, entry.key.clone()));
        let retention_in_force = !repair_deferred
            && entry
                .policy
                .retention_hours
                .is_some_and(|h| Instant::from_nanos(entry.created_at_nanos) + simulator::hours(h) > now);
        for copy in &entry.copies {
            let Some(v) = volume(sim, copy) else { continue };
            if entry.policy.expiration_hours.is_some() != v.expires_at.is_some() {
                push(format!(
                    "{site:?} entry {} records expiration {:?} but copy {} has {:?}",
                    entry.key, entry.policy.expiration_hours, copy.copy_volume, v.expires_at
                ));
            }
            if retention_in_force && v.retained_until.is_none() {
                push(format!("{site:?} entry {} records retention but copy {} has none", entry.key, copy.copy_volume));
            }
            if entry.policy.retention_hours.is_none() && v.retained_until.is_some() {
                push(format!(
                    "{site:?} entry {} records no retention but copy {} is retained",
                    entry.key, copy.copy_volume
                ));
            }
        }
        for copy in &entry.retained_on_primary {
            let Some(v) = volume(sim, copy) else { continue };
            if v.expires_at.is_some() || v.retained_until.is_some() {
                push(format!(
                    "copy {} retained on the primary for {} carries expiration or retention (periodic: remote copy only)",
                    copy.copy_volume, entry.key
                ));
            }
        }
        if site == Site::Local && entry.mode == RemoteCopyMode::Periodic && entry.policy != Default::default() {
            push(format!("local periodic entry {} records policy fields (periodic: remote copy only)", entry.key));
        }
        if site == Site::Local
            && entry.mode == RemoteCopyMode::Synchronous
            && let Some(remote) = engine.repository(Site::Remote).and_then(|r| r.entry(&entry.key))
            && remote.state == EntryState::Complete
            && remote.policy != entry.policy
        {
            push(format!("synchronous backup {}: local and remote entries record different policies", entry.key));
        }
    }
    found
}

/// §7.6/29, §7.8/40: the copies a VSS set took (own copies; for a periodic remote entry the
/// copies retained on the primary) were created inside the writers' freeze window the entry
/// records: at or after Freeze, before Thaw.
pub fn copies_inside_freeze(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let mut found = Vec::new();
    for (site, entry) in complete(engine) {
        let Some(window) = entry.vss_window else {
            found.push(violation(
                "copies_inside_freeze",
                "7.6/29",
                format!("{site:?} entry {} records no VSS window", entry.key),
            ));
            continue;
        };
        let (frozen, thawed) =
            (Instant::from_nanos(window.frozen_at_nanos), Instant::from_nanos(window.thawed_at_nanos));
        let vss_copies = if site == Site::Remote && entry.mode == RemoteCopyMode::Periodic {
            &entry.retained_on_primary
        } else {
            &entry.copies
        };
        for copy in vss_copies {
            let Some(v) = volume(sim, copy) else { continue };
            if v.created_at < frozen || v.created_at >= thawed {
                found.push(violation(
                    "copies_inside_freeze",
                    "7.6/29",
                    format!(
                        "{site:?} entry {}: copy {} was taken at {} outside the freeze [{frozen}, {thawed})",
                        entry.key, copy.copy_volume, v.created_at
                    ),
                ));
            }
        }
    }
    found
}

/// §7.8/42: no intent outlives the engine call that left it, unless its resolution is deferred
/// (an array offline, a retained copy, the other backup server down) and listed as such.
pub fn intents_resolved(_sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    let other_down = |site: Site| match site {
        Site::Local => engine.config().remote.is_some() && !engine.is_running(Site::Remote),
        Site::Remote => !engine.is_running(Site::Local),
    };
    engine
        .all_entries()
        .filter(|(_, e)| e.state != EntryState::Complete)
        .filter(|(site, e)| !engine.deferred_cleanups().contains(&(*site, e.key.clone())) && !other_down(*site))
        .map(|(site, e)| {
            violation(
                "intents_resolved",
                "7.8/42",
                format!("{site:?} entry {} is still {:?} and nothing defers it", e.key, e.state),
            )
        })
        .collect()
}

/// §7.7/34: a backup that passed the integrity check is still a recoverable image (the copies
/// are read-only; nothing may have changed them), unless a snapshot-space failure made a copy
/// stale (§7.1/8): its data is then gone, and every read of it is refused.
pub fn checked_copies_recoverable(sim: &Simulation, engine: &Engine) -> Vec<Violation> {
    checked_copies_recoverable_with(sim, engine, &mut |_, _, _, judge| judge())
}

/// What decides an entry's verdict in [`checked_copies_recoverable_with`]: given its site, key,
/// database and log copies' pages and the judgement (which verifies the image), the violation
/// if any.
pub type Judged<'a> =
    dyn FnMut(Site, &EntryKey, [&PageMap; 2], &mut dyn FnMut() -> Option<Violation>) -> Option<Violation> + 'a;

/// [`checked_copies_recoverable`] with the verdict on each checked entry whose copies are
/// readable left to `judged` (site, entry, the database and log copies' pages, and the judgement
/// itself, which verifies the image): the harness memoises it per entry, as copies that kept
/// their page maps keep their verdict.
pub fn checked_copies_recoverable_with(sim: &Simulation, engine: &Engine, judged: &mut Judged<'_>) -> Vec<Violation> {
    let mut found = Vec::new();
    for (site, entry) in complete(engine) {
        if !entry.integrity_checked {
            continue;
        }
        let (Some(db), Some(log)) =
            (of_role(&entry.copies, VolumeRole::Database), of_role(&entry.copies, VolumeRole::Log))
        else {
            continue;
        };
        let Some(array) = sim.array_by_name(&db.array) else { continue };
        if !sim.array(array).is_online() {
            continue;
        }
        let (Ok(db_volume), Ok(log_volume)) =
            (sim.array(array).volume(&db.copy_volume), sim.array(array).volume(&log.copy_volume))
        else {
            continue;
        };
        // A copy made stale by a snapshot-space failure (§7.1/8) holds no image any more; the
        // engine refuses to verify, mount or restore it (942).
        if db_volume.is_stale() || log_volume.is_stale() {
            continue;
        }
        let pages = [db_volume.pages(), log_volume.pages()];
        let mut judge = || {
            let images = (ArrayVolume::of(sim, array, db_volume), ArrayVolume::of(sim, array, log_volume));
            judge_recoverable(site, entry, &images.0, &images.1)
        };
        found.extend(judged(site, &entry.key, pages, &mut judge));
    }
    found
}

/// Whether the image of `entry`'s copies is recoverable; the violation if not.
fn judge_recoverable(site: Site, entry: &Entry, db_image: &ArrayVolume, log_image: &ArrayVolume) -> Option<Violation> {
    match verify_image(db_image, log_image) {
        Ok(report) if report.is_recoverable() => None,
        Ok(report) => Some(violation(
            "checked_copies_recoverable",
            "7.7/34",
            format!(
                "{site:?} backup {} passed its integrity check but is not recoverable: {}",
                entry.key,
                report.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ),
        )),
        Err(error) => Some(violation(
            "checked_copies_recoverable",
            "7.7/34",
            format!("{site:?} backup {}: reading its copies failed: {error}", entry.key),
        )),
    }
}
