//! The repository of one backup server: the catalogue of virtual copy sets Recovery Manager made,
//! persisted in a directory the user chooses.
//!
//! What it holds: [`Repository`] (entries by [`EntryKey`], each an [`Entry`] describing one
//! virtual copy set: backup id, state (an intent or complete), server, database, copies per
//! array, site, Remote Copy mode, the VSS window, policy fields, mount state, copies retained on
//! the primary), its file format and the commit protocol, with named [`CommitPoint`]s where a
//! test can stop the engine; [`Durability`] (fsync or not) and [`MemoryDisk`] (the same commit
//! points without files, for campaigns).
//!
//! What it does not do: it never touches an array (the workflows keep the repository and the
//! arrays in step), applies no policy (it stores the policy fields), and is single-writer: a
//! second [`Repository::open`] of the same directory is refused while the first is alive
//! (an advisory lock on `repository.lock`). A child process forked by the same program holds
//! an inherited copy of that lock until it execs, so [`RepositoryError::Locked`] can be
//! transient in a program that spawns processes; retrying the open is safe.
//!
//! Main design choice: the whole catalogue is one JSON file replaced atomically on every change:
//! write `repository.json.tmp-<generation>` in the same directory, fsync it, rename it over
//! `repository.json`, fsync the directory. A crash at any point leaves either the previous or the
//! new file, never a torn one; stray temporary files are ignored (and removed) by the next open.
//! Operations are idempotent: adding an entry that is already there, or removing one that is
//! gone, commits nothing and reports [`Applied::AlreadyDone`]. The cost: each change rewrites the
//! whole file and pays two fsyncs (the floor is the disk's fsync latency; about 10 ms on the
//! project's VM, and a rename over an existing file costs milliseconds on ext4 even unsynced),
//! which is fine for catalogues of thousands of entries and a few changes per backup.
//!
//! This module is an I/O edge: it reads and writes files. It reads no clock (entry times come
//! from the caller's virtual clock).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Name of the committed repository file.
pub const REPOSITORY_FILE: &str = "repository.json";
/// Prefix of temporary files (followed by the generation being written).
pub const TEMP_PREFIX: &str = "repository.json.tmp-";
/// Name of the lock file.
pub const LOCK_FILE: &str = "repository.lock";
/// The `format` member of the file.
pub const FORMAT_NAME: &str = "storeserv-sim recovery repository";
/// The file format version this code writes and reads (2: entries carry their state, virtual
/// creation instant, VSS window and integrity-check flag).
pub const FORMAT_VERSION: u32 = 2;

/// Which backup server a repository belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The backup server at the primary array's site.
    Local,
    /// The backup server at the Remote Copy backup array's site.
    Remote,
}

/// The Remote Copy mode the backup was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteCopyMode {
    /// The volumes are in no Remote Copy group.
    None,
    /// Synchronous Remote Copy.
    Synchronous,
    /// Asynchronous periodic Remote Copy.
    Periodic,
}

/// VSS backup type of the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// `VSS_BT_FULL`.
    Full,
    /// `VSS_BT_COPY`.
    Copy,
}

/// What a copied volume holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeRole {
    /// The database (`.edb`) volume.
    Database,
    /// The log volume.
    Log,
}

/// One virtual copy on one array.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CopyRecord {
    /// Array (system) name.
    pub array: CompactString,
    /// What the copied volume holds.
    pub role: VolumeRole,
    /// The copied (source) volume.
    pub source_volume: CompactString,
    /// The virtual copy's name.
    pub copy_volume: CompactString,
}

/// Policy fields stored with an entry (hours; `None` = not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyFields {
    /// Expiration, hours after creation.
    pub expiration_hours: Option<u64>,
    /// Retention (Virtual Lock), hours after creation.
    pub retention_hours: Option<u64>,
}

/// Where a copy is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MountRecord {
    /// The host it is exported to.
    pub host: String,
    /// The array it is exported from.
    pub array: String,
    /// The volumes exported (read-write copies made for the mount, or the copies themselves).
    pub exported_volumes: Vec<String>,
}

/// Identifies an entry: the mailbox server, the database and the backup id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryKey {
    /// Mailbox server name, as registered.
    pub server: CompactString,
    /// Database (storage group) name.
    pub database: CompactString,
    /// Backup id: the timestamp name.
    pub backup_id: CompactString,
}

/// Sets `field` to `value`; returns whether that changed it (for [`Repository::modify`]).
pub(crate) fn set<T: PartialEq>(field: &mut T, value: T) -> bool {
    if *field == value {
        return false;
    }
    *field = value;
    true
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.server, self.database, self.backup_id)
    }
}

/// Where an entry is in its life. The engine commits an intent before it touches an array, so a
/// crash leaves something a restart can finish or undo (spec §7.8 invariant 42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Intent: the copies listed are about to be (or are being) created; none is trusted yet.
    Creating,
    /// The copy set is complete and usable.
    Complete,
    /// Intent: the copies listed are being deleted; the entry goes once they are gone.
    Removing,
}

/// When the writers were frozen and thawed for the set's VSS snapshot (virtual nanoseconds since
/// the simulation began): the window the copies must have been taken in (spec §7.6 invariant 29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VssWindow {
    /// Writers got Freeze.
    pub frozen_at_nanos: u64,
    /// Writers got Thaw.
    pub thawed_at_nanos: u64,
}

/// One virtual copy set known to a backup server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Server, database and backup id.
    pub key: EntryKey,
    /// Intent or complete.
    pub state: EntryState,
    /// The VSS snapshot set id (a GUID string).
    pub snapshot_set_id: String,
    /// Creation time, Unix seconds (from the simulation's virtual clock).
    pub created_at_unix_secs: i64,
    /// Creation time on the virtual clock (nanoseconds since the simulation began), the instant
    /// the copies of `copies` were taken (for an intent: when it was recorded).
    pub created_at_nanos: u64,
    /// The VSS freeze window of the set (none for an intent).
    pub vss_window: Option<VssWindow>,
    /// Whether the verifier checked the copies before the entry was completed (false with `-nc`).
    pub integrity_checked: bool,
    /// FULL or COPY.
    pub backup_kind: BackupKind,
    /// Remote Copy mode at backup time.
    pub mode: RemoteCopyMode,
    /// The site whose array holds `copies`.
    pub site: Site,
    /// The virtual copies of this set (on this site's array).
    pub copies: Vec<CopyRecord>,
    /// Periodic mode: primary-array copies kept after the remote copy was made (RM 4.4.2).
    pub retained_on_primary: Vec<CopyRecord>,
    /// Expiration and retention.
    pub policy: PolicyFields,
    /// Mount state.
    pub mounted: Option<MountRecord>,
}

/// The backup id (timestamp name) of a backup made at virtual instant `at`: `YYYYMMDDhhmmss`.
pub fn backup_id_at(sim: &simulator::Simulation, at: simulator::Instant) -> CompactString {
    backup_id_of(&sim.calendar(at))
}

/// The backup id of calendar time `t`: `YYYYMMDDhhmmss`, as `format!("{:04}{:02}{:02}{:02}{:02}{:02}")`
/// of its fields would write it.
///
/// Written digit by digit into 14 bytes: every backup names itself, and six padded integers
/// through the formatting machinery cost more instructions than the rest of its key, and more
/// code to fetch (the padding paths of `core::fmt`), cold after the host's writes.
fn backup_id_of(t: &jiff::civil::DateTime) -> CompactString {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // A year before 0 (an epoch set that far back) keeps its sign as `format!` writes it.
        let id = format!("{year:04}{:02}{:02}{:02}{:02}{:02}", t.month(), t.day(), t.hour(), t.minute(), t.second());
        return CompactString::from(id);
    }
    let fields = [
        (year, 4),
        (t.month().into(), 2),
        (t.day().into(), 2),
        (t.hour().into(), 2),
        (t.minute().into(), 2),
        (t.second().into(), 2),
    ];
    let mut id = [0u8; 14];
    let mut end = 0;
    for (value, width) in fields {
        end += width;
        let mut rest = value;
        for digit in id[end - width..end].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    CompactString::from_utf8(id).expect("ASCII digits")
}

/// The points of one commit where a test can stop the engine ([`Repository::crash_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommitPoint {
    /// The temporary file is written, not yet synced.
    TempWritten,
    /// The temporary file is synced, not yet renamed.
    TempSynced,
    /// The rename is done, the directory not yet synced.
    Renamed,
    /// The directory is synced: the commit is durable; memory not yet updated.
    DirectorySynced,
}

impl CommitPoint {
    /// Every point, in commit order.
    pub const ALL: [CommitPoint; 4] =
        [CommitPoint::TempWritten, CommitPoint::TempSynced, CommitPoint::Renamed, CommitPoint::DirectorySynced];

    /// Whether a crash at this point leaves the new state on disk (the rename happened).
    pub fn new_state_visible(self) -> bool {
        matches!(self, CommitPoint::Renamed | CommitPoint::DirectorySynced)
    }
}

/// Whether an operation changed the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was committed.
    Committed,
    /// Nothing to do: the repository already was in the requested state (a retry).
    AlreadyDone,
}

/// Errors of repository operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError {
    /// A file operation failed.
    #[error("repository {operation} of {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The committed file cannot be read as a repository.
    #[error("repository file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The directory holds another backup server's repository.
    #[error("repository in {dir} belongs to {found_server} ({found_site:?}), not {server} ({site:?})")]
    WrongServer {
        /// The directory.
        dir: PathBuf,
        /// Who asked.
        server: String,
        /// The site asked for.
        site: Site,
        /// Who owns it.
        found_server: String,
        /// Its site.
        found_site: Site,
    },
    /// Another `Repository` has the directory open.
    #[error("repository in {0} is in use by another process or handle")]
    Locked(PathBuf),
    /// A test stopped the commit at this point.
    #[error("commit stopped at {0:?} (injected crash)")]
    InjectedCrash(CommitPoint),
    /// A previous commit failed; the repository must be reopened to learn what is on disk.
    #[error("a previous commit failed; reopen the repository")]
    Poisoned,
    /// An entry with this key but other content exists.
    #[error("entry {0} exists with different content")]
    Conflict(EntryKey),
    /// No entry with this key.
    #[error("entry {0} does not exist")]
    NotFound(EntryKey),
    /// The entry is mounted and cannot be removed (spec §7.8 invariant 38).
    #[error("entry {0} is mounted; unmount it first")]
    Mounted(EntryKey),
}

/// Result of a repository operation.
pub type Result<T, E = RepositoryError> = std::result::Result<T, E>;

/// The file's shape.
#[derive(Debug, Serialize, Deserialize)]
struct RepositoryFile {
    format: String,
    version: u32,
    server: String,
    site: Site,
    generation: u64,
    entries_crc32: u32,
    entries: Vec<Entry>,
}

fn io_error<'a>(path: &'a Path, operation: &'static str) -> impl FnOnce(std::io::Error) -> RepositoryError + 'a {
    move |source| RepositoryError::Io { path: path.to_owned(), operation, source }
}

/// How hard a commit works to survive a machine crash.
///
/// Both settings replace the file atomically (temporary file, rename), so a *process* crash
/// never leaves a torn or half-applied repository. Only [`Durability::Synced`] also survives a
/// power loss or kernel crash: it pays two fsyncs per commit (the floor measured in
/// `docs/benchmarks.md`, about 10 ms on the project's VM). [`Durability::Unsynced`] exists so
/// benches can measure the model's own time without the disk's fsync latency; a backup server
/// should never run with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Durability {
    /// fsync the temporary file and the directory (the default).
    #[default]
    Synced,
    /// Write and rename without fsync: atomic against process crashes, not power loss.
    Unsynced,
}

/// Counters of commits, for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepositoryStats {
    /// Commits completed by this handle.
    pub commits: u64,
    /// Operations that found nothing to do.
    pub already_done: u64,
    /// Stray temporary files removed at open.
    pub stray_temp_files_removed: u64,
}

/// The "disk" of an in-memory repository: the last committed state, which outlives any handle
/// (a crash drops the handle; [`Repository::open_memory`] reads this again). Clones share it.
///
/// It keeps the commit protocol's crash points (a crash before [`CommitPoint::Renamed`] leaves
/// the previous state, from it on the new one) without files or serialisation, for campaigns that
/// commit far more often than a disk's fsync allows.
#[derive(Debug, Clone, Default)]
pub struct MemoryDisk(Arc<Mutex<MemoryState>>);

#[derive(Debug, Default)]
struct MemoryState {
    owner: Option<(String, Site)>,
    generation: u64,
    /// Shared with the handle that committed it (a commit costs at most one map clone, not two).
    entries: Arc<Catalogue>,
    open: bool,
}

impl MemoryDisk {
    /// An empty disk.
    pub fn new() -> MemoryDisk {
        MemoryDisk::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave a half-written state (every write is one
        // assignment), so a poisoned lock is still consistent.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

const MEMORY_PATH: &str = "(memory)";

/// Where a handle's committed state lives.
#[derive(Debug)]
enum Backend {
    /// `repository.json` in a directory; the file is held open for the advisory lock.
    Directory { dir: PathBuf, _lock: File },
    /// A [`MemoryDisk`].
    Memory(MemoryDisk),
}

/// The entries of a repository by key; an entry is shared by every generation that holds it
/// unchanged, so a commit copies pointers, not entries.
pub type Catalogue = BTreeMap<EntryKey, Arc<Entry>>;

/// One backup server's repository.
#[derive(Debug)]
pub struct Repository {
    backend: Backend,
    server: String,
    site: Site,
    generation: u64,
    /// Shared with an in-memory disk after a commit. A commit to a directory, or with a crash
    /// point armed, clones the map once (keys and entry pointers: entries themselves are shared
    /// between generations); an in-memory commit with no crash point changes it in place.
    entries: Arc<Catalogue>,
    crash_at: Option<CommitPoint>,
    durability: Durability,
    poisoned: bool,
    stats: RepositoryStats,
}

impl Drop for Repository {
    fn drop(&mut self) {
        if let Backend::Memory(disk) = &self.backend {
            disk.state().open = false;
        }
    }
}

impl Repository {
    /// Opens (or creates) the repository of backup server `server` at `site` in `dir`.
    /// Loads the last committed state; ignores and removes stray temporary files.
    ///
    /// Errors: [`RepositoryError::Io`]; [`RepositoryError::Locked`]; [`RepositoryError::Corrupt`];
    /// [`RepositoryError::WrongServer`].
    pub fn open(dir: &Path, server: &str, site: Site) -> Result<Repository> {
        Repository::open_with(dir, server, site, Durability::Synced)
    }

    /// [`Repository::open`] with an explicit [`Durability`].
    ///
    /// Errors: as [`Repository::open`].
    pub fn open_with(dir: &Path, server: &str, site: Site, durability: Durability) -> Result<Repository> {
        fs::create_dir_all(dir).map_err(io_error(dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path, "open lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(RepositoryError::Locked(dir.to_owned())),
            Err(fs::TryLockError::Error(source)) => {
                return Err(RepositoryError::Io { path: lock_path, operation: "lock", source });
            }
        }
        let mut stats = RepositoryStats::default();
        for entry in fs::read_dir(dir).map_err(io_error(dir, "list"))? {
            let entry = entry.map_err(io_error(dir, "list"))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_error(&path, "remove stray temporary file"))?;
                stats.stray_temp_files_removed += 1;
            }
        }
        let path = dir.join(REPOSITORY_FILE);
        let (generation, entries) = match fs::read(&path) {
            Ok(bytes) => load(&path, &bytes, dir, server, site)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => (0, BTreeMap::new()),
            Err(source) => return Err(RepositoryError::Io { path, operation: "read", source }),
        };
        Ok(Repository {
            backend: Backend::Directory { dir: dir.to_owned(), _lock: lock },
            server: server.to_owned(),
            site,
            generation,
            entries: Arc::new(entries),
            crash_at: None,
            durability,
            poisoned: false,
            stats,
        })
    }

    /// Opens the repository of backup server `server` at `site` kept on `disk` (created empty on
    /// first open). Same semantics as a directory, without files.
    ///
    /// Errors: [`RepositoryError::Locked`] (another handle is open on the disk);
    /// [`RepositoryError::WrongServer`].
    pub fn open_memory(disk: &MemoryDisk, server: &str, site: Site) -> Result<Repository> {
        let mut state = disk.state();
        if state.open {
            return Err(RepositoryError::Locked(PathBuf::from(MEMORY_PATH)));
        }
        match &state.owner {
            Some((found_server, found_site)) if (found_server.as_str(), *found_site) != (server, site) => {
                return Err(RepositoryError::WrongServer {
                    dir: PathBuf::from(MEMORY_PATH),
                    server: server.to_owned(),
                    site,
                    found_server: found_server.clone(),
                    found_site: *found_site,
                });
            }
            Some(_) => {}
            None => state.owner = Some((server.to_owned(), site)),
        }
        state.open = true;
        let (generation, entries) = (state.generation, Arc::clone(&state.entries));
        drop(state);
        Ok(Repository {
            backend: Backend::Memory(disk.clone()),
            server: server.to_owned(),
            site,
            generation,
            entries,
            crash_at: None,
            durability: Durability::Synced,
            poisoned: false,
            stats: RepositoryStats::default(),
        })
    }

    /// The directory, for a repository kept in one.
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Directory { dir, .. } => Some(dir),
            Backend::Memory(_) => None,
        }
    }

    /// The backup server this repository belongs to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Its site.
    pub fn site(&self) -> Site {
        self.site
    }

    /// Commits made over the repository's life (0 for a new one).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The durability of this handle's commits.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Counters of this handle.
    pub fn stats(&self) -> RepositoryStats {
        self.stats
    }

    /// Every entry, by key.
    pub fn entries(&self) -> &Catalogue {
        &self.entries
    }

    /// The entry `key`.
    pub fn entry(&self, key: &EntryKey) -> Option<&Entry> {
        self.entries.get(key).map(|entry| &**entry)
    }

    /// Entries of one database, oldest backup id first: a range of the catalogue (keys sort by
    /// server, then database), so O(log n + k) for k of them among n entries.
    pub fn entries_of<'a, 'q>(&'a self, server: &'q str, database: &'q str) -> impl Iterator<Item = &'a Entry> + 'q
    where
        'a: 'q,
    {
        let first = EntryKey { server: server.into(), database: database.into(), backup_id: CompactString::default() };
        self.entries
            .range(first..)
            .map(|(_, e)| &**e)
            .take_while(move |e| e.key.server == server && e.key.database == database)
    }

    /// Test hook: the next commit stops at `point` (and the handle is poisoned).
    pub fn crash_at(&mut self, point: Option<CommitPoint>) {
        self.crash_at = point;
    }

    /// Adds `entry`. Adding the same entry again does nothing.
    ///
    /// Errors: [`RepositoryError::Conflict`] (same key, other content); commit errors.
    pub fn add(&mut self, entry: Entry) -> Result<Applied> {
        self.update(|entries| match entries.get(&entry.key) {
            Some(existing) if **existing == entry => Ok(false),
            Some(_) => Err(RepositoryError::Conflict(entry.key.clone())),
            None => {
                entries.insert(entry.key.clone(), Arc::new(entry));
                Ok(true)
            }
        })
    }

    /// Removes the entry `key`. Removing an absent entry does nothing.
    ///
    /// Errors: [`RepositoryError::Mounted`]; commit errors.
    pub fn remove(&mut self, key: &EntryKey) -> Result<Applied> {
        self.update(|entries| match entries.get(key) {
            None => Ok(false),
            Some(entry) if entry.mounted.is_some() => Err(RepositoryError::Mounted(key.clone())),
            Some(_) => {
                entries.remove(key);
                Ok(true)
            }
        })
    }

    /// Sets (or clears) the mount state of `key`.
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub fn set_mounted(&mut self, key: &EntryKey, mounted: Option<MountRecord>) -> Result<Applied> {
        self.modify(key, |entry| set(&mut entry.mounted, mounted))
    }

    /// Sets the copies retained on the primary (periodic mode).
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub fn set_retained_on_primary(&mut self, key: &EntryKey, copies: Vec<CopyRecord>) -> Result<Applied> {
        self.modify(key, |entry| set(&mut entry.retained_on_primary, copies))
    }

    /// Sets the state of `key` (intent or complete).
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub fn set_state(&mut self, key: &EntryKey, state: EntryState) -> Result<Applied> {
        self.modify(key, |entry| set(&mut entry.state, state))
    }

    /// Replaces the entry with `entry.key` by `entry` (an intent completed with what the backup
    /// learnt). Replacing an entry by an identical one does nothing.
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub fn replace(&mut self, entry: Entry) -> Result<Applied> {
        self.update(|entries| {
            let existing = entries.get_mut(&entry.key).ok_or_else(|| RepositoryError::NotFound(entry.key.clone()))?;
            if **existing == entry {
                return Ok(false);
            }
            *existing = Arc::new(entry);
            Ok(true)
        })
    }

    /// Sets the policy fields of `key`.
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub fn set_policy(&mut self, key: &EntryKey, policy: PolicyFields) -> Result<Applied> {
        self.modify(key, |entry| set(&mut entry.policy, policy))
    }

    /// Changes the entry `key` in place; `change` returns whether it changed anything (when not,
    /// nothing is committed — build it from [`set`]). The entry is copied only if something else
    /// still shares it (`Arc::make_mut`): in memory the catalogue is unshared while it changes,
    /// so a state change or a completion writes a few fields instead of copying and dropping
    /// every string of the entry. (A shared entry that `change` leaves as it was is copied for
    /// nothing: only a retried, already applied change does that.)
    ///
    /// Errors: [`RepositoryError::NotFound`]; commit errors.
    pub(crate) fn modify(&mut self, key: &EntryKey, change: impl FnOnce(&mut Entry) -> bool) -> Result<Applied> {
        self.update(|entries| {
            let entry = entries.get_mut(key).ok_or_else(|| RepositoryError::NotFound(key.clone()))?;
            Ok(change(Arc::make_mut(entry)))
        })
    }

    /// Applies `change` and commits the result as the next generation. `change` returns whether
    /// it changed the catalogue, and must leave it untouched when it returns `Ok(false)` or an
    /// error (every caller decides before it writes).
    fn update(&mut self, change: impl FnOnce(&mut Catalogue) -> Result<bool>) -> Result<Applied> {
        if self.poisoned {
            return Err(RepositoryError::Poisoned);
        }
        if self.crash_at.is_none()
            && let Backend::Memory(disk) = &self.backend
        {
            // In memory with no crash point armed the commit cannot fail, so the catalogue is
            // changed in place: the disk lets go of the generation it shares with this handle,
            // which leaves this handle's map unshared (`make_mut` copies only if something else
            // still holds it), and takes the result back. Copying and then dropping a generation
            // — every key's three strings — was about a tenth of a backup's own steps.
            let mut state = disk.state();
            if Arc::ptr_eq(&state.entries, &self.entries) {
                state.entries = Arc::new(Catalogue::new());
                let outcome = change(Arc::make_mut(&mut self.entries));
                state.entries = Arc::clone(&self.entries);
                if !outcome? {
                    self.stats.already_done += 1;
                    return Ok(Applied::AlreadyDone);
                }
                self.generation += 1;
                state.generation = self.generation;
                self.stats.commits += 1;
                return Ok(Applied::Committed);
            }
        }
        let mut entries = BTreeMap::clone(&self.entries);
        if !change(&mut entries)? {
            self.stats.already_done += 1;
            return Ok(Applied::AlreadyDone);
        }
        let generation = self.generation + 1;
        let entries = Arc::new(entries);
        if let Err(error) = self.commit(generation, &entries) {
            self.poisoned = true;
            return Err(error);
        }
        self.generation = generation;
        self.entries = entries;
        self.stats.commits += 1;
        Ok(Applied::Committed)
    }

    fn stop_if(&self, point: CommitPoint) -> Result<()> {
        if self.crash_at == Some(point) {
            return Err(RepositoryError::InjectedCrash(point));
        }
        Ok(())
    }

    /// The commit protocol: temp file, fsync, rename, fsync directory (in memory: the same crash
    /// points around one assignment).
    fn commit(&self, generation: u64, entries: &Arc<Catalogue>) -> Result<()> {
        let dir = match &self.backend {
            Backend::Directory { dir, .. } => dir,
            Backend::Memory(disk) => {
                self.stop_if(CommitPoint::TempWritten)?;
                self.stop_if(CommitPoint::TempSynced)?;
                let committed = Arc::clone(entries);
                let mut state = disk.state();
                state.generation = generation;
                state.entries = committed;
                drop(state);
                self.stop_if(CommitPoint::Renamed)?;
                self.stop_if(CommitPoint::DirectorySynced)?;
                return Ok(());
            }
        };
        let bytes = encode(&self.server, self.site, generation, entries);
        let temp = dir.join(format!("{TEMP_PREFIX}{generation}"));
        let mut file = File::create(&temp).map_err(io_error(&temp, "create"))?;
        file.write_all(&bytes).map_err(io_error(&temp, "write"))?;
        self.stop_if(CommitPoint::TempWritten)?;
        if self.durability == Durability::Synced {
            file.sync_all().map_err(io_error(&temp, "fsync"))?;
        }
        drop(file);
        self.stop_if(CommitPoint::TempSynced)?;
        let target = dir.join(REPOSITORY_FILE);
        fs::rename(&temp, &target).map_err(io_error(&target, "rename"))?;
        self.stop_if(CommitPoint::Renamed)?;
        if self.durability == Durability::Synced {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir, "fsync directory"))?;
        }
        self.stop_if(CommitPoint::DirectorySynced)?;
        Ok(())
    }
}

fn encode(server: &str, site: Site, generation: u64, entries: &Catalogue) -> Vec<u8> {
    let entries: Vec<Entry> = entries.values().map(|entry| Entry::clone(entry)).collect();
    let entries_json = serde_json::to_vec(&entries).expect("entries serialize");
    let file = RepositoryFile {
        format: FORMAT_NAME.to_owned(),
        version: FORMAT_VERSION,
        server: server.to_owned(),
        site,
        generation,
        entries_crc32: crc32fast::hash(&entries_json),
        entries,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("repository serializes");
    bytes.push(b'\n');
    bytes
}

fn load(path: &Path, bytes: &[u8], dir: &Path, server: &str, site: Site) -> Result<(u64, Catalogue)> {
    let corrupt = |reason: String| RepositoryError::Corrupt { path: path.to_owned(), reason };
    let file: RepositoryFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.format != FORMAT_NAME {
        return Err(corrupt(format!("format '{}' is not a repository", file.format)));
    }
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!("version {} is not supported (this build reads {FORMAT_VERSION})", file.version)));
    }
    if file.server != server || file.site != site {
        return Err(RepositoryError::WrongServer {
            dir: dir.to_owned(),
            server: server.to_owned(),
            site,
            found_server: file.server,
            found_site: file.site,
        });
    }
    let entries_json = serde_json::to_vec(&file.entries).expect("entries serialize");
    if crc32fast::hash(&entries_json) != file.entries_crc32 {
        return Err(corrupt("entries checksum mismatch".to_owned()));
    }
    let mut entries = BTreeMap::new();
    for entry in file.entries {
        if entries.insert(entry.key.clone(), Arc::new(entry)).is_some() {
            return Err(corrupt("duplicate entry key".to_owned()));
        }
    }
    Ok((file.generation, entries))
}
