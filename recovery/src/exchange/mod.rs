//! The Exchange/ESE model: a mailbox server whose databases write real bytes to a database volume
//! and a log volume on a simulated array.
//!
//! What it holds: [`MailboxServer`] (an exact registered name, a host on the array and its
//! databases), [`Database`] (one storage group: a database volume, a log volume and the in-memory
//! engine state of a mounted database), [`Transaction`]s, and the seeded [`workload`] generator.
//! The byte formats are in [`layout`]; the verifier that judges those bytes is [`crate::verify`].
//!
//! What it does not do: no B-trees, mailboxes or messages (a transaction is a set of byte ranges
//! within database pages), no circular logging, no streaming (`.stm`) file, no reserve logs, no
//! DAG replication. Writes go straight to volumes through [`Simulation::write`], not through the
//! host's LUNs; the volumes are still exported to the server's host so that array rules about
//! exported volumes (promote, delete) apply as they would for a real server.
//!
//! Main design choice: the engine is a faithful write-ahead log over the real bytes. A commit
//! writes its log records, then rewrites the current generation's header (the commit point); pages
//! reach the database volume only when [`Database::flush`] writes them, after which the checkpoint
//! advances; [`Database::mount`] rebuilds everything from the bytes (running soft recovery when
//! the database is dirty). A snapshot taken at any instant therefore holds exactly what a real
//! crash-consistent or VSS copy would, and the verifier's verdict can be checked against the
//! model. The cost: two simulator writes per transaction, and every page a transaction touches is
//! held in memory while the database is mounted (fine for the model's page counts).
//!
//! Frozen state (VSS writer, spec §5): between [`Database::freeze`] and [`Database::thaw`] no byte
//! reaches either volume. Transactions submitted meanwhile are **held** in submission order
//! (up to [`DatabaseConfig::held_transactions_max`]; beyond that they are refused with
//! [`ExchangeError::FrozenQueueFull`]) and committed at thaw. A held transaction is not durable
//! until thaw: [`CommitOutcome::Held`] says so.
//!
//! Log truncation ([`Database::truncate_logs`]) deletes generations below a checkpoint captured
//! by a completed full backup, and never a generation at or above the live checkpoint.

pub mod layout;
pub mod workload;

use std::collections::{BTreeMap, VecDeque};

use simulator::{ArrayId, HostSpec, Instant, Simulation, VlunSpec, VolumeSpec};

use crate::verify::{self, ArrayVolume, ArrayVolumeMut, RecoveryError, RecoveryOutcome, VerifyReport};
use layout::{
    CHECKPOINT_OFFSET, Checkpoint, DB_PAGE_DATA, DB_PAGE_SIZE, DatabaseHeader, DbPage, GENERATION_HEADER_SIZE,
    GenerationHeader, LogRecord, LogSuperblock, Lsn, RECORD_OVERHEAD, ShutdownState, db_page_offset, slot_of,
    slot_offset,
};

/// Errors of the Exchange model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// An array operation failed (the array's code is kept).
    #[error(transparent)]
    Array(#[from] simulator::Error),
    /// A server or database name Recovery Manager cannot handle (spec §3.1: no special characters).
    #[error("invalid {kind} name '{name}': {reason}")]
    InvalidName {
        /// What was being named.
        kind: &'static str,
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A database of this name already exists on the server.
    #[error("database '{0}' already exists")]
    DuplicateDatabase(String),
    /// No database of this name on the server.
    #[error("database '{0}' does not exist")]
    UnknownDatabase(String),
    /// The configured layout does not fit the volume.
    #[error("layout needs {needed_bytes} bytes on '{volume}', which has {size_bytes}")]
    LayoutDoesNotFit {
        /// The volume.
        volume: String,
        /// Bytes the layout needs.
        needed_bytes: u64,
        /// Bytes the volume has.
        size_bytes: u64,
    },
    /// A configuration value is out of range.
    #[error("invalid database configuration: {0}")]
    InvalidConfig(&'static str),
    /// A transaction is malformed (empty, page out of range, bytes beyond the page).
    #[error("invalid transaction: {0}")]
    InvalidTransaction(&'static str),
    /// A transaction's records do not fit in one log generation.
    #[error("transaction needs {bytes} bytes of log, a generation holds {capacity}")]
    TransactionTooLarge {
        /// Bytes of log records needed.
        bytes: usize,
        /// Bytes one generation holds.
        capacity: u32,
    },
    /// The database is not mounted.
    #[error("database '{0}' is not mounted")]
    NotMounted(String),
    /// The database is already mounted.
    #[error("database '{0}' is already mounted")]
    AlreadyMounted(String),
    /// The operation writes, and the database is frozen for a snapshot.
    #[error("database '{0}' is frozen")]
    Frozen(String),
    /// [`Database::thaw`] without a freeze.
    #[error("database '{0}' is not frozen")]
    NotFrozen(String),
    /// Too many transactions are held while frozen.
    #[error("database '{database}' is frozen and already holds {held} transactions")]
    FrozenQueueFull {
        /// The database.
        database: String,
        /// Transactions held.
        held: usize,
    },
    /// Every log slot holds a generation not yet truncated (the log disk is full).
    #[error("log disk full: generation {generation} has no free slot (oldest kept is {oldest})")]
    LogDiskFull {
        /// The generation that could not be created.
        generation: u64,
        /// The oldest generation still on the log volume.
        oldest: u64,
    },
    /// Mount found a dirty database that cannot be recovered (JET -550 / -528).
    #[error("database cannot be mounted: {}", .0.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotRecoverable(Box<VerifyReport>),
    /// A database page read from the volume fails its checksum (JET -1018); nothing was written.
    #[error("database '{database}' page {page} is corrupt ({reason}); the transaction was not committed")]
    PageCorrupt {
        /// The database.
        database: String,
        /// The page.
        page: u32,
        /// What is wrong with it.
        reason: layout::DecodeError,
    },
    /// Transactions held during a freeze could not all be committed at thaw.
    #[error("thaw committed {applied} held transactions; {unapplied} were not committed: {cause}")]
    HeldTransactionsFailed {
        /// Held transactions committed.
        applied: usize,
        /// Held transactions dropped (never acknowledged as committed).
        unapplied: usize,
        /// Why the first one failed.
        cause: Box<ExchangeError>,
    },
}

impl From<RecoveryError> for ExchangeError {
    fn from(error: RecoveryError) -> ExchangeError {
        match error {
            RecoveryError::NotRecoverable(report) => ExchangeError::NotRecoverable(report),
            RecoveryError::Io(error) => ExchangeError::Array(error),
        }
    }
}

/// Result of an Exchange operation.
pub type Result<T, E = ExchangeError> = std::result::Result<T, E>;

/// Sizes of one database's layout. Defaults: 256 pages (1 MiB of data), 1 MiB log generations
/// (Exchange 2007 and later), 200 slots, 1 GiB volumes, 10,000 held transactions, 8,192 cached
/// pages (32 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// Database pages (each holds [`layout::DB_PAGE_DATA`] bytes of data).
    pub page_count: u32,
    /// Bytes per log generation slot (a multiple of 4 KiB, at least 8 KiB).
    pub log_slot_bytes: u32,
    /// Log slots: generations that can exist at once before the log disk is full.
    pub log_slot_count: u32,
    /// Size of the database volume, MiB.
    pub db_volume_mib: u64,
    /// Size of the log volume, MiB.
    pub log_volume_mib: u64,
    /// Transactions held while frozen before new ones are refused.
    pub held_transactions_max: usize,
    /// Pages kept in memory; beyond this, clean pages are dropped after a flush (and read back
    /// from the volume when touched again). Dirty pages are never dropped.
    pub cache_pages_max: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            page_count: 256,
            log_slot_bytes: 1 << 20,
            log_slot_count: 200,
            db_volume_mib: 1024,
            log_volume_mib: 1024,
            held_transactions_max: 10_000,
            cache_pages_max: 8192,
        }
    }
}

impl DatabaseConfig {
    /// A small layout for tests: 64 pages, 16 KiB generations, 64 slots, 256 MiB volumes, a
    /// cache of 32 pages (so eviction happens).
    pub fn small() -> DatabaseConfig {
        DatabaseConfig {
            page_count: 64,
            log_slot_bytes: 16 * 1024,
            log_slot_count: 64,
            db_volume_mib: 256,
            log_volume_mib: 256,
            held_transactions_max: 1_000,
            cache_pages_max: 32,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.page_count == 0 {
            return Err(ExchangeError::InvalidConfig("page count must be at least 1"));
        }
        if self.log_slot_bytes < 8192 || !self.log_slot_bytes.is_multiple_of(4096) {
            return Err(ExchangeError::InvalidConfig("log slot size must be a multiple of 4 KiB, at least 8 KiB"));
        }
        if self.log_slot_count < 2 {
            return Err(ExchangeError::InvalidConfig("at least two log slots are needed"));
        }
        Ok(())
    }
}

/// What to create: [`MailboxServer::create_database`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// Database (storage group) name.
    pub name: String,
    /// Name of the database volume to create on the array.
    pub db_volume: String,
    /// Name of the log volume to create on the array.
    pub log_volume: String,
    /// CPG for both volumes (also their snapshot CPG unless `snap_cpg` names another).
    pub cpg: String,
    /// Snapshot CPG of both volumes (`None`: `cpg`), which must exist on the array.
    pub snap_cpg: Option<String>,
    /// Layout sizes.
    pub config: DatabaseConfig,
}

/// One page update of a transaction: `bytes` written at `offset` within page `page`'s data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUpdate {
    /// Page number (< the database's page count).
    pub page: u32,
    /// Offset within the page's data area.
    pub offset: u16,
    /// Bytes to write (1 ..= the rest of the page).
    pub bytes: Vec<u8>,
}

/// A transaction: page updates committed atomically.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transaction {
    /// The updates, applied in order.
    pub updates: Vec<PageUpdate>,
}

impl Transaction {
    /// Bytes of log records the transaction needs.
    pub fn log_bytes(&self) -> usize {
        self.updates.iter().map(|u| RECORD_OVERHEAD + u.bytes.len()).sum()
    }
}

/// What happened to a submitted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Durable: its log records and the generation header that covers them are written.
    Committed {
        /// LSN of its first record.
        first: Lsn,
        /// LSN of its last record.
        last: Lsn,
    },
    /// The database is frozen: held in memory, committed at thaw, not durable yet.
    Held,
}

/// The point a freeze captured: what a snapshot taken during the freeze holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreezePoint {
    /// When the freeze began.
    pub frozen_at: Instant,
    /// Checkpoint generation: recovery of the snapshot starts here; truncation after a full
    /// backup may delete generations strictly below it.
    pub checkpoint: u64,
    /// The current log generation when frozen.
    pub current_generation: u64,
}

/// Counters of what a database wrote, for tests and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatabaseStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Simulator writes to the log volume.
    pub log_writes: u64,
    /// Simulator writes to the database volume.
    pub db_writes: u64,
    /// Log generations created.
    pub generations_created: u64,
    /// Log generations deleted by truncation.
    pub generations_truncated: u64,
}

/// The result of [`Database::mount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountOutcome {
    /// Soft recovery run at mount, when the database was dirty.
    pub recovery: Option<RecoveryOutcome>,
    /// The generation the mounted database logs to.
    pub generation: u64,
}

/// A database page held in memory while mounted.
#[derive(Debug, Clone)]
struct CachedPage {
    page: DbPage,
    /// LSN of the first record not yet written to the database volume.
    dirty_since: Option<Lsn>,
}

/// State of a mounted database.
#[derive(Debug, Clone)]
struct Engine {
    /// The current generation's header as last written.
    current: GenerationHeader,
    /// Running CRC of the current generation's payload.
    payload_crc: crc32fast::Hasher,
    checkpoint: u64,
    /// Oldest generation still on the log volume.
    oldest: u64,
    /// High end of `Log Required` in the database header on disk.
    header_hi: u64,
    cache: BTreeMap<u32, CachedPage>,
}

#[derive(Debug, Clone)]
struct Freeze {
    point: FreezePoint,
    held: VecDeque<Transaction>,
}

/// One Exchange database (storage group) on a database volume and a log volume.
#[derive(Debug, Clone)]
pub struct Database {
    name: String,
    array: ArrayId,
    db_volume: String,
    log_volume: String,
    signature: u64,
    base_name: [u8; 3],
    config: DatabaseConfig,
    engine: Option<Engine>,
    freeze: Option<Freeze>,
    stats: DatabaseStats,
}

/// A mailbox server: its exact name, its host on the array and its databases.
#[derive(Debug, Clone)]
pub struct MailboxServer {
    name: String,
    array: ArrayId,
    host: String,
    databases: BTreeMap<String, Database>,
}

/// Checks a server or database name: 1..=64 characters of letters, digits, `-`, `_`, `.` and
/// spaces (databases only), not starting or ending with a space.
pub fn validate_name(kind: &'static str, name: &str, allow_spaces: bool) -> Result<()> {
    let invalid = |reason| Err(ExchangeError::InvalidName { kind, name: name.to_owned(), reason });
    if name.is_empty() || name.len() > 64 {
        return invalid("must be 1 to 64 characters");
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return invalid("must not start or end with a space");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || (allow_spaces && c == ' ');
    if !name.chars().all(allowed) {
        return invalid("special characters are not supported");
    }
    Ok(())
}

impl MailboxServer {
    /// A mailbox server called `name` whose host on `array` is `host` (created with `fc_wwns` if
    /// it does not exist yet).
    ///
    /// Errors: [`ExchangeError::InvalidName`]; host creation errors from the array.
    pub fn create(
        sim: &mut Simulation,
        array: ArrayId,
        name: &str,
        host: &str,
        fc_wwns: &[String],
    ) -> Result<MailboxServer> {
        validate_name("server", name, false)?;
        if sim.array(array).host(host).is_err() {
            sim.array_mut(array).create_host(HostSpec {
                name: host.to_owned(),
                fc_wwns: fc_wwns.to_vec(),
                ..HostSpec::default()
            })?;
        }
        sim.record_fmt("exchange", format_args!("mailbox server {name} on host {host}"));
        Ok(MailboxServer { name: name.to_owned(), array, host: host.to_owned(), databases: BTreeMap::new() })
    }

    /// The server's name, exactly as registered.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The array holding its volumes.
    pub fn array(&self) -> ArrayId {
        self.array
    }

    /// The server's host on the array.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Databases by name.
    pub fn databases(&self) -> impl Iterator<Item = &Database> {
        self.databases.values()
    }

    /// The database `name`.
    pub fn database(&self, name: &str) -> Result<&Database> {
        self.databases.get(name).ok_or_else(|| ExchangeError::UnknownDatabase(name.to_owned()))
    }

    /// The database `name`, for changes.
    pub fn database_mut(&mut self, name: &str) -> Result<&mut Database> {
        self.databases.get_mut(name).ok_or_else(|| ExchangeError::UnknownDatabase(name.to_owned()))
    }

    /// Creates a database: its two thin volumes, exported to the server's host, formatted with a
    /// clean header and an empty log. The database is left dismounted.
    ///
    /// Errors: name, configuration and layout errors; array errors (`EXISTENT_VOL`,
    /// `NON_EXISTENT_CPG`, ...). A failure after the volumes exist leaves them (the caller may
    /// delete them); nothing is registered on the server.
    pub fn create_database(&mut self, sim: &mut Simulation, spec: DatabaseSpec) -> Result<&mut Database> {
        validate_name("database", &spec.name, true)?;
        spec.config.validate()?;
        if self.databases.contains_key(&spec.name) {
            return Err(ExchangeError::DuplicateDatabase(spec.name));
        }
        let config = spec.config;
        let db_needed = db_page_offset(config.page_count);
        let log_needed = slot_offset(config.log_slot_bytes, config.log_slot_count);
        for (volume, needed, size_mib) in
            [(&spec.db_volume, db_needed, config.db_volume_mib), (&spec.log_volume, log_needed, config.log_volume_mib)]
        {
            let size_bytes = simulator::volume::round_size_mib(size_mib) << 20;
            if needed > size_bytes {
                return Err(ExchangeError::LayoutDoesNotFit {
                    volume: volume.clone(),
                    needed_bytes: needed,
                    size_bytes,
                });
            }
        }
        let array = self.array;
        for (volume, size_mib) in [(&spec.db_volume, config.db_volume_mib), (&spec.log_volume, config.log_volume_mib)] {
            let mut volume_spec = VolumeSpec::thin(volume, &spec.cpg, size_mib);
            if let Some(snap_cpg) = &spec.snap_cpg {
                volume_spec.snap_cpg = Some(snap_cpg.clone());
            }
            sim.array_mut(array).create_volume(volume_spec)?;
            sim.array_mut(array).create_vlun(VlunSpec {
                volume: volume.clone(),
                lun: 0,
                auto_lun: true,
                host: Some(self.host.clone()),
                ..VlunSpec::default()
            })?;
        }
        let signature = sim.prng().next_u64();
        let database = Database {
            name: spec.name.clone(),
            array,
            db_volume: spec.db_volume,
            log_volume: spec.log_volume,
            signature,
            base_name: *b"E00",
            config,
            engine: None,
            freeze: None,
            stats: DatabaseStats::default(),
        };
        database.format(sim)?;
        sim.record_fmt("exchange", format_args!("create database {} on {}", spec.name, self.name));
        Ok(self.databases.entry(spec.name).or_insert(database))
    }
}

impl Database {
    /// Database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same database served from other volumes: a replica on another array after a Remote
    /// Copy failover (or a restore onto other volumes). Same name, signature and layout;
    /// dismounted, so [`Database::mount`] runs soft recovery on those volumes' bytes.
    pub fn relocated(&self, array: ArrayId, db_volume: &str, log_volume: &str) -> Database {
        Database {
            name: self.name.clone(),
            array,
            db_volume: db_volume.to_owned(),
            log_volume: log_volume.to_owned(),
            signature: self.signature,
            base_name: self.base_name,
            config: self.config,
            engine: None,
            freeze: None,
            stats: DatabaseStats::default(),
        }
    }

    /// The array holding both volumes.
    pub fn array(&self) -> ArrayId {
        self.array
    }

    /// The database volume's name.
    pub fn db_volume(&self) -> &str {
        &self.db_volume
    }

    /// The log volume's name.
    pub fn log_volume(&self) -> &str {
        &self.log_volume
    }

    /// The signature shared by the database header and its logs.
    pub fn signature(&self) -> u64 {
        self.signature
    }

    /// Layout sizes.
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// Write counters.
    pub fn stats(&self) -> DatabaseStats {
        self.stats
    }

    /// Whether the database is mounted.
    pub fn is_mounted(&self) -> bool {
        self.engine.is_some()
    }

    /// The freeze in force, if any.
    pub fn freeze_point(&self) -> Option<FreezePoint> {
        self.freeze.as_ref().map(|f| f.point)
    }

    /// Transactions held by the freeze in force.
    pub fn held_transactions(&self) -> usize {
        self.freeze.as_ref().map_or(0, |f| f.held.len())
    }

    /// The checkpoint generation (mounted only).
    pub fn checkpoint_generation(&self) -> Option<u64> {
        self.engine.as_ref().map(|e| e.checkpoint)
    }

    /// The current log generation (mounted only).
    pub fn current_generation(&self) -> Option<u64> {
        self.engine.as_ref().map(|e| e.current.generation)
    }

    /// The oldest generation still on the log volume (mounted only).
    pub fn oldest_generation(&self) -> Option<u64> {
        self.engine.as_ref().map(|e| e.oldest)
    }

    /// Pages changed in memory and not yet written to the database volume.
    pub fn dirty_pages(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.cache.values().filter(|p| p.dirty_since.is_some()).count())
    }

    fn payload_capacity(&self) -> u32 {
        self.config.log_slot_bytes - GENERATION_HEADER_SIZE as u32
    }

    /// Writes the clean header and the log superblock of a new database.
    fn format(&self, sim: &mut Simulation) -> Result<()> {
        let header = DatabaseHeader {
            signature: self.signature,
            state: ShutdownState::Clean,
            log_required: None,
            last_consistent_generation: 0,
            page_count: self.config.page_count,
            base_name: self.base_name,
        };
        let superblock = LogSuperblock {
            signature: self.signature,
            base_name: self.base_name,
            slot_bytes: self.config.log_slot_bytes,
            slot_count: self.config.log_slot_count,
        };
        sim.write(self.array, &self.log_volume, 0, &superblock.encode())?;
        sim.write(self.array, &self.db_volume, 0, &header.encode())?;
        Ok(())
    }

    fn write_log(&mut self, sim: &mut Simulation, offset: u64, bytes: &[u8]) -> Result<()> {
        assert!(self.freeze.is_none(), "no byte reaches the log volume while frozen");
        sim.write(self.array, &self.log_volume, offset, bytes)?;
        self.stats.log_writes += 1;
        Ok(())
    }

    fn write_db(&mut self, sim: &mut Simulation, offset: u64, bytes: &[u8]) -> Result<()> {
        assert!(self.freeze.is_none(), "no byte reaches the database volume while frozen");
        sim.write(self.array, &self.db_volume, offset, bytes)?;
        self.stats.db_writes += 1;
        Ok(())
    }

    fn dirty_header(&self, lo: u64, hi: u64) -> DatabaseHeader {
        DatabaseHeader {
            signature: self.signature,
            state: ShutdownState::Dirty,
            log_required: Some((lo, hi)),
            last_consistent_generation: 0,
            page_count: self.config.page_count,
            base_name: self.base_name,
        }
    }

    /// Mounts the database from its bytes: soft recovery first if it is dirty (after a crash or a
    /// restore), then a new log generation, the checkpoint and a dirty header.
    ///
    /// Errors: [`ExchangeError::AlreadyMounted`]; [`ExchangeError::NotRecoverable`] (dirty and
    /// logs missing or damaged); [`ExchangeError::LogDiskFull`]; array errors.
    pub fn mount(&mut self, sim: &mut Simulation) -> Result<MountOutcome> {
        if self.engine.is_some() {
            return Err(ExchangeError::AlreadyMounted(self.name.clone()));
        }
        let recovery = self.recover_if_dirty(sim)?;
        let (header, scan) = {
            let db = ArrayVolume::new(sim, self.array, &self.db_volume)?;
            let log = ArrayVolume::new(sim, self.array, &self.log_volume)?;
            let header = verify::read_database_header(&db)?.expect("a recoverable database has a readable header");
            (header, verify::scan_logs(&log)?)
        };
        assert_eq!(header.state, ShutdownState::Clean, "recovery leaves a clean header");
        let present: Vec<u64> = match &scan {
            Ok(scan) => scan.generations.keys().copied().collect(),
            Err(_) => Vec::new(),
        };
        let last = present.last().copied().unwrap_or(0).max(header.last_consistent_generation);
        let generation = last + 1;
        let oldest = present.first().copied().unwrap_or(generation);
        if generation - oldest >= u64::from(self.config.log_slot_count) {
            return Err(ExchangeError::LogDiskFull { generation, oldest });
        }
        if scan.is_err() {
            // The superblock is unreadable but the database is clean: rewrite the log volume's
            // superblock, as ESE recreates a missing log set for a clean database.
            let superblock = LogSuperblock {
                signature: self.signature,
                base_name: self.base_name,
                slot_bytes: self.config.log_slot_bytes,
                slot_count: self.config.log_slot_count,
            };
            self.write_log(sim, 0, &superblock.encode())?;
        }
        let current = self.start_generation(sim, generation)?;
        self.engine = Some(Engine {
            current,
            payload_crc: crc32fast::Hasher::new(),
            checkpoint: generation,
            oldest,
            header_hi: generation,
            cache: BTreeMap::new(),
        });
        sim.record_fmt("exchange", format_args!("mount {} at generation {generation}", self.name));
        Ok(MountOutcome { recovery, generation })
    }

    /// Soft recovery of the volumes when the header is dirty (reads first, then writes).
    fn recover_if_dirty(&mut self, sim: &mut Simulation) -> Result<Option<RecoveryOutcome>> {
        let plan = {
            let db = ArrayVolume::new(sim, self.array, &self.db_volume)?;
            let log = ArrayVolume::new(sim, self.array, &self.log_volume)?;
            verify::plan_soft_recovery(&db, &log)?
        };
        if plan.replayed.is_none() {
            return Ok(None);
        }
        let mut db = ArrayVolumeMut::new(sim, self.array, &self.db_volume)?;
        let outcome = plan.apply(&mut db)?;
        self.stats.db_writes += outcome.pages_written as u64 + 1;
        Ok(Some(outcome))
    }

    /// Writes the empty header of `generation`, the checkpoint at it and a dirty header
    /// requiring it: the on-disk state of a freshly mounted database.
    fn start_generation(&mut self, sim: &mut Simulation, generation: u64) -> Result<GenerationHeader> {
        let current = GenerationHeader {
            signature: self.signature,
            base_name: self.base_name,
            generation,
            closed: false,
            record_count: 0,
            payload_bytes: 0,
            payload_crc: crc32fast::hash(&[]),
        };
        let slot = slot_of(generation, self.config.log_slot_count);
        self.write_log(sim, slot_offset(self.config.log_slot_bytes, slot), &current.encode())?;
        let checkpoint = Checkpoint { signature: self.signature, generation };
        self.write_log(sim, CHECKPOINT_OFFSET, &checkpoint.encode())?;
        self.write_db(sim, 0, &self.dirty_header(generation, generation).encode())?;
        self.stats.generations_created += 1;
        Ok(current)
    }

    /// Dismounts cleanly: flushes every page, closes the current generation and writes a clean
    /// header.
    ///
    /// Errors: [`ExchangeError::NotMounted`]; [`ExchangeError::Frozen`]; array errors (the
    /// database is then left crashed: dirty on disk, dismounted in memory).
    pub fn dismount(&mut self, sim: &mut Simulation) -> Result<()> {
        self.require_writable()?;
        self.guard_io(sim, |db, sim| {
            db.flush_pages(sim, usize::MAX)?;
            let engine = db.engine.as_ref().expect("mounted");
            let closed = GenerationHeader { closed: true, ..engine.current };
            let generation = closed.generation;
            let slot = slot_of(generation, db.config.log_slot_count);
            db.write_log(sim, slot_offset(db.config.log_slot_bytes, slot), &closed.encode())?;
            let clean = DatabaseHeader {
                signature: db.signature,
                state: ShutdownState::Clean,
                log_required: None,
                last_consistent_generation: generation,
                page_count: db.config.page_count,
                base_name: db.base_name,
            };
            db.write_db(sim, 0, &clean.encode())?;
            Ok(())
        })?;
        self.engine = None;
        sim.record_fmt("exchange", format_args!("dismount {}", self.name));
        Ok(())
    }

    /// The server crashes: everything in memory is lost (dirty pages, held transactions), the
    /// volumes keep what was written. The next [`Database::mount`] runs soft recovery.
    pub fn crash(&mut self, sim: &mut Simulation) {
        self.engine = None;
        self.freeze = None;
        sim.record_fmt("exchange", format_args!("crash {}", self.name));
    }

    fn require_mounted(&self) -> Result<()> {
        if self.engine.is_none() {
            return Err(ExchangeError::NotMounted(self.name.clone()));
        }
        Ok(())
    }

    fn require_writable(&self) -> Result<()> {
        self.require_mounted()?;
        if self.freeze.is_some() {
            return Err(ExchangeError::Frozen(self.name.clone()));
        }
        Ok(())
    }

    /// Runs `work`; if it fails on an array error the engine is dropped (the database goes
    /// offline as ESE does on an I/O error) so no in-memory state disagrees with the bytes.
    fn guard_io<T>(
        &mut self,
        sim: &mut Simulation,
        work: impl FnOnce(&mut Self, &mut Simulation) -> Result<T>,
    ) -> Result<T> {
        let result = work(self, sim);
        if let Err(ExchangeError::Array(error)) = &result {
            sim.record_fmt("exchange", format_args!("{} taken offline after an I/O error: {error}", self.name));
            self.engine = None;
        }
        result
    }

    fn validate(&self, transaction: &Transaction) -> Result<()> {
        if transaction.updates.is_empty() {
            return Err(ExchangeError::InvalidTransaction("a transaction needs at least one update"));
        }
        for update in &transaction.updates {
            if update.page >= self.config.page_count {
                return Err(ExchangeError::InvalidTransaction("page beyond the database"));
            }
            if update.bytes.is_empty() {
                return Err(ExchangeError::InvalidTransaction("an update writes at least one byte"));
            }
            if usize::from(update.offset) + update.bytes.len() > DB_PAGE_DATA {
                return Err(ExchangeError::InvalidTransaction("update ends beyond the page"));
            }
        }
        let bytes = transaction.log_bytes();
        if bytes > self.payload_capacity() as usize {
            return Err(ExchangeError::TransactionTooLarge { bytes, capacity: self.payload_capacity() });
        }
        Ok(())
    }

    /// Submits a transaction: committed now (log records, then the generation header), or held
    /// while the database is frozen.
    ///
    /// Errors: [`ExchangeError::InvalidTransaction`]; [`ExchangeError::TransactionTooLarge`];
    /// [`ExchangeError::NotMounted`]; [`ExchangeError::FrozenQueueFull`];
    /// [`ExchangeError::LogDiskFull`] (nothing written); array errors (database taken offline).
    pub fn commit(&mut self, sim: &mut Simulation, transaction: Transaction) -> Result<CommitOutcome> {
        self.validate(&transaction)?;
        self.require_mounted()?;
        if let Some(freeze) = &mut self.freeze {
            if freeze.held.len() >= self.config.held_transactions_max {
                return Err(ExchangeError::FrozenQueueFull { database: self.name.clone(), held: freeze.held.len() });
            }
            freeze.held.push_back(transaction);
            return Ok(CommitOutcome::Held);
        }
        self.guard_io(sim, |db, sim| db.commit_now(sim, &transaction))
    }

    fn commit_now(&mut self, sim: &mut Simulation, transaction: &Transaction) -> Result<CommitOutcome> {
        // Reads first: pages not in memory are loaded before anything is written.
        for update in &transaction.updates {
            self.load_page(sim, update.page)?;
        }
        let needed = transaction.log_bytes();
        let engine = self.engine.as_ref().expect("mounted");
        if engine.current.payload_bytes as usize + needed > self.payload_capacity() as usize {
            self.roll_generation(sim)?;
        }
        let engine = self.engine.as_ref().expect("mounted");
        let mut header = engine.current;
        let mut payload = Vec::with_capacity(needed);
        for (i, update) in transaction.updates.iter().enumerate() {
            let record = LogRecord {
                page: update.page,
                offset: update.offset,
                index: header.record_count + i as u32,
                data: update.bytes.clone(),
            };
            record.encode_into(&mut payload);
        }
        let mut crc = engine.payload_crc.clone();
        crc.update(&payload);
        let slot_start =
            slot_offset(self.config.log_slot_bytes, slot_of(header.generation, self.config.log_slot_count));
        let records_at = slot_start + GENERATION_HEADER_SIZE as u64 + u64::from(header.payload_bytes);
        header.record_count += transaction.updates.len() as u32;
        header.payload_bytes += payload.len() as u32;
        header.payload_crc = crc.clone().finalize();
        // Write-ahead: records, then the header that makes them part of the log (commit point).
        self.write_log(sim, records_at, &payload)?;
        self.write_log(sim, slot_start, &header.encode())?;
        let engine = self.engine.as_mut().expect("mounted");
        let first_index = engine.current.record_count;
        engine.current = header;
        engine.payload_crc = crc;
        for (i, update) in transaction.updates.iter().enumerate() {
            let lsn = Lsn { generation: header.generation, index: first_index + i as u32 };
            let cached = engine.cache.get_mut(&update.page).expect("loaded above");
            let start = usize::from(update.offset);
            cached.page.data[start..start + update.bytes.len()].copy_from_slice(&update.bytes);
            cached.page.lsn = lsn;
            cached.dirty_since.get_or_insert(lsn);
        }
        self.stats.transactions += 1;
        let first = Lsn { generation: header.generation, index: first_index };
        let last = Lsn { generation: header.generation, index: header.record_count - 1 };
        Ok(CommitOutcome::Committed { first, last })
    }

    fn load_page(&mut self, sim: &mut Simulation, number: u32) -> Result<()> {
        if self.engine.as_ref().expect("mounted").cache.contains_key(&number) {
            return Ok(());
        }
        let mut bytes = vec![0u8; DB_PAGE_SIZE];
        sim.read_into(self.array, &self.db_volume, db_page_offset(number), &mut bytes)?;
        // A damaged page is refused (ESE's -1018, JET_errReadVerifyFailure) rather than
        // rebuilt from zeros, which would silently lose its other bytes.
        let page = DbPage::decode(number, &bytes).map_err(|reason| ExchangeError::PageCorrupt {
            database: self.name.clone(),
            page: number,
            reason,
        })?;
        let engine = self.engine.as_mut().expect("mounted");
        engine.cache.insert(number, CachedPage { page, dirty_since: None });
        Ok(())
    }

    /// Closes the current generation and starts the next one.
    fn roll_generation(&mut self, sim: &mut Simulation) -> Result<()> {
        let engine = self.engine.as_ref().expect("mounted");
        let next = engine.current.generation + 1;
        if next - engine.oldest >= u64::from(self.config.log_slot_count) {
            return Err(ExchangeError::LogDiskFull { generation: next, oldest: engine.oldest });
        }
        let closed = GenerationHeader { closed: true, ..engine.current };
        let checkpoint = engine.checkpoint;
        let slot_bytes = self.config.log_slot_bytes;
        let slot_count = self.config.log_slot_count;
        self.write_log(sim, slot_offset(slot_bytes, slot_of(closed.generation, slot_count)), &closed.encode())?;
        let fresh = GenerationHeader {
            generation: next,
            closed: false,
            record_count: 0,
            payload_bytes: 0,
            payload_crc: crc32fast::hash(&[]),
            ..closed
        };
        self.write_log(sim, slot_offset(slot_bytes, slot_of(next, slot_count)), &fresh.encode())?;
        // The header's high end moves before any page of the new generation can be flushed.
        self.write_db(sim, 0, &self.dirty_header(checkpoint, next).encode())?;
        let engine = self.engine.as_mut().expect("mounted");
        engine.current = fresh;
        engine.payload_crc = crc32fast::Hasher::new();
        engine.header_hi = next;
        self.stats.generations_created += 1;
        Ok(())
    }

    /// Writes up to `max_pages` dirty pages (oldest change first) to the database volume, then
    /// advances the checkpoint past every generation whose records are all on the volume.
    /// Returns the pages written. Writes nothing while frozen.
    ///
    /// Errors: [`ExchangeError::NotMounted`]; array errors (database taken offline).
    pub fn flush(&mut self, sim: &mut Simulation, max_pages: usize) -> Result<usize> {
        self.require_mounted()?;
        if self.freeze.is_some() {
            return Ok(0);
        }
        self.guard_io(sim, |db, sim| db.flush_pages(sim, max_pages))
    }

    fn flush_pages(&mut self, sim: &mut Simulation, max_pages: usize) -> Result<usize> {
        let engine = self.engine.as_ref().expect("mounted");
        let mut dirty: Vec<(Lsn, u32)> =
            engine.cache.iter().filter_map(|(n, p)| p.dirty_since.map(|since| (since, *n))).collect();
        dirty.sort();
        dirty.truncate(max_pages);
        for (_, number) in &dirty {
            let engine = self.engine.as_ref().expect("mounted");
            let page = &engine.cache[number].page;
            // Write-ahead rule: the page's newest record is in a generation the header covers.
            assert!(page.lsn.generation <= engine.header_hi);
            let bytes = page.encode();
            self.write_db(sim, db_page_offset(*number), &bytes)?;
            let engine = self.engine.as_mut().expect("mounted");
            engine.cache.get_mut(number).expect("cached").dirty_since = None;
        }
        self.evict_clean_pages();
        let engine = self.engine.as_ref().expect("mounted");
        let oldest_dirty = engine.cache.values().filter_map(|p| p.dirty_since).min();
        let checkpoint = oldest_dirty.map_or(engine.current.generation, |lsn| lsn.generation);
        if checkpoint > engine.checkpoint {
            let header_hi = engine.header_hi;
            // Pages first, then the checkpoint, then the header's low end.
            self.write_log(
                sim,
                CHECKPOINT_OFFSET,
                &Checkpoint { signature: self.signature, generation: checkpoint }.encode(),
            )?;
            self.write_db(sim, 0, &self.dirty_header(checkpoint, header_hi).encode())?;
            self.engine.as_mut().expect("mounted").checkpoint = checkpoint;
        }
        Ok(dirty.len())
    }

    /// Drops clean pages (lowest page numbers first) while the cache is over its bound.
    fn evict_clean_pages(&mut self) {
        let max = self.config.cache_pages_max;
        let engine = self.engine.as_mut().expect("mounted");
        if engine.cache.len() <= max {
            return;
        }
        let excess = engine.cache.len() - max;
        let clean: Vec<u32> =
            engine.cache.iter().filter(|(_, p)| p.dirty_since.is_none()).map(|(n, _)| *n).take(excess).collect();
        for number in clean {
            engine.cache.remove(&number);
        }
    }

    /// Pages held in memory (mounted only).
    pub fn cached_pages(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.cache.len())
    }

    /// Freezes the database for a snapshot (VSS `OnFreeze`): from now until [`Database::thaw`] no
    /// byte reaches either volume.
    ///
    /// Errors: [`ExchangeError::NotMounted`]; [`ExchangeError::Frozen`] when already frozen.
    pub fn freeze(&mut self, sim: &mut Simulation) -> Result<FreezePoint> {
        self.require_writable()?;
        let engine = self.engine.as_ref().expect("mounted");
        let point = FreezePoint {
            frozen_at: sim.now(),
            checkpoint: engine.checkpoint,
            current_generation: engine.current.generation,
        };
        self.freeze = Some(Freeze { point, held: VecDeque::new() });
        sim.record_fmt("exchange", format_args!("freeze {} at checkpoint {}", self.name, point.checkpoint));
        Ok(point)
    }

    /// Thaws the database and commits the held transactions in submission order. Returns how
    /// many were committed.
    ///
    /// Errors: [`ExchangeError::NotFrozen`]; [`ExchangeError::HeldTransactionsFailed`] when a
    /// held transaction cannot be committed (the database is thawed; the rest are dropped,
    /// never having been acknowledged as committed).
    pub fn thaw(&mut self, sim: &mut Simulation) -> Result<usize> {
        let Some(freeze) = self.freeze.take() else {
            return Err(ExchangeError::NotFrozen(self.name.clone()));
        };
        sim.record_fmt("exchange", format_args!("thaw {}: {} held transactions", self.name, freeze.held.len()));
        let total = freeze.held.len();
        for (applied, transaction) in freeze.held.into_iter().enumerate() {
            if let Err(cause) = self.commit(sim, transaction) {
                return Err(ExchangeError::HeldTransactionsFailed {
                    applied,
                    unapplied: total - applied,
                    cause: Box::new(cause),
                });
            }
        }
        Ok(total)
    }

    /// Deletes log generations strictly below `below` (the checkpoint captured by a completed
    /// full backup), and never one at or above the live checkpoint. Returns the deleted range.
    ///
    /// Errors: [`ExchangeError::NotMounted`]; [`ExchangeError::Frozen`]; array errors.
    pub fn truncate_logs(&mut self, sim: &mut Simulation, below: u64) -> Result<Option<(u64, u64)>> {
        self.require_writable()?;
        let engine = self.engine.as_ref().expect("mounted");
        let limit = below.min(engine.checkpoint);
        let oldest = engine.oldest;
        if limit <= oldest {
            return Ok(None);
        }
        let zeros = vec![0u8; GENERATION_HEADER_SIZE];
        self.guard_io(sim, |db, sim| {
            for generation in oldest..limit {
                let slot = slot_of(generation, db.config.log_slot_count);
                db.write_log(sim, slot_offset(db.config.log_slot_bytes, slot), &zeros)?;
                let engine = db.engine.as_mut().expect("mounted");
                engine.oldest = generation + 1;
                db.stats.generations_truncated += 1;
            }
            Ok(())
        })?;
        sim.record_fmt("exchange", format_args!("truncate {} logs {oldest}..{}", self.name, limit - 1));
        Ok(Some((oldest, limit - 1)))
    }
}

/// The committed content of a database, kept by tests and the harness as the reference the
/// bytes are compared with: page number → data area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceContents {
    /// Data of every page written at least once.
    pub pages: BTreeMap<u32, Vec<u8>>,
}

impl ReferenceContents {
    /// Applies a committed transaction.
    pub fn apply(&mut self, transaction: &Transaction) {
        for update in &transaction.updates {
            let page = self.pages.entry(update.page).or_insert_with(|| vec![0u8; DB_PAGE_DATA]);
            let start = usize::from(update.offset);
            page[start..start + update.bytes.len()].copy_from_slice(&update.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use simulator::{CpgSpec, SnapshotSpec};

    use super::workload::{Workload, WorkloadConfig};
    use super::*;
    use crate::verify::{read_database_contents, soft_recover_on_array, verify_database_only, verify_image};

    fn setup() -> (Simulation, MailboxServer) {
        let mut sim = Simulation::new(11);
        let a = sim.primary();
        sim.array_mut(a).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
        let mut server = MailboxServer::create(&mut sim, a, "MBX01", "mbx01", &[]).unwrap();
        server
            .create_database(
                &mut sim,
                DatabaseSpec {
                    name: "DB1".into(),
                    db_volume: "db1".into(),
                    log_volume: "db1.log".into(),
                    cpg: "FC_r6".into(),
                    snap_cpg: None,
                    config: DatabaseConfig::small(),
                },
            )
            .unwrap();
        (sim, server)
    }

    #[test]
    fn snapshot_of_running_database_recovers_to_committed_content() {
        // Goal: a crash-consistent snapshot of a mounted database is dirty, recoverable, and soft
        // recovery yields exactly the committed content. Method: run a workload, snapshot both
        // volumes at one instant, promote-free check on read-write copies of the snapshots.
        let (mut sim, mut server) = setup();
        let a = sim.primary();
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        // Flushing fewer pages than the workload dirties leaves pages that only the logs hold.
        let config = WorkloadConfig { flush_every: 10, pages_per_flush: 4, ..WorkloadConfig::default() };
        let mut workload = Workload::new(5, config);
        let mut reference = ReferenceContents::default();
        for _ in 0..300 {
            let step = workload.step(&mut sim, db).unwrap();
            assert!(matches!(step.outcome, CommitOutcome::Committed { .. }));
            reference.apply(&step.transaction);
        }
        assert!(db.current_generation().unwrap() > 3, "the workload rolls generations");
        for (volume, copy) in [("db1", "db1.ro"), ("db1.log", "db1.log.ro")] {
            sim.array_mut(a).create_snapshot(volume, SnapshotSpec::read_only(copy)).unwrap();
            sim.array_mut(a).create_snapshot(copy, SnapshotSpec::read_write(&format!("{copy}w"))).unwrap();
        }
        let report = verify_image(
            &ArrayVolume::new(&sim, a, "db1.ro").unwrap(),
            &ArrayVolume::new(&sim, a, "db1.log.ro").unwrap(),
        )
        .unwrap();
        assert!(report.is_recoverable(), "{report:?}");
        assert!(report.needs_replay());
        let alone = verify_database_only(&ArrayVolume::new(&sim, a, "db1.ro").unwrap()).unwrap();
        assert!(matches!(alone.problems[..], [verify::Unrecoverable::DirtyShutdownWithoutLogs { .. }]));
        let outcome = soft_recover_on_array(&mut sim, a, "db1.row", "db1.log.row").unwrap();
        assert!(outcome.records_applied > 0);
        let after = verify_database_only(&ArrayVolume::new(&sim, a, "db1.row").unwrap()).unwrap();
        assert!(after.is_recoverable() && !after.needs_replay(), "{after:?}");
        let contents = read_database_contents(&ArrayVolume::new(&sim, a, "db1.row").unwrap()).unwrap();
        assert_eq!(contents, reference.pages);
    }

    #[test]
    fn crash_and_remount_recovers_and_clean_dismount_needs_no_logs() {
        // Goal: mount after a crash replays the logs; a clean dismount leaves a header that
        // needs no logs. Method: workload, crash, mount, compare content; dismount, verify alone.
        let (mut sim, mut server) = setup();
        let a = sim.primary();
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let mut workload = Workload::new(9, WorkloadConfig::default());
        let mut reference = ReferenceContents::default();
        for _ in 0..120 {
            reference.apply(&workload.step(&mut sim, db).unwrap().transaction);
        }
        db.crash(&mut sim);
        let outcome = db.mount(&mut sim).unwrap();
        assert!(outcome.recovery.is_some());
        db.dismount(&mut sim).unwrap();
        let image = ArrayVolume::new(&sim, a, "db1").unwrap();
        let report = verify_database_only(&image).unwrap();
        assert!(report.is_recoverable() && !report.needs_replay(), "{report:?}");
        assert_eq!(read_database_contents(&image).unwrap(), reference.pages);
    }

    #[test]
    fn frozen_database_writes_nothing_and_commits_held_transactions_at_thaw() {
        // Goal: while frozen no byte reaches either volume; held transactions commit at thaw in
        // order. Method: compare volume digests across the freeze; check content after thaw.
        let (mut sim, mut server) = setup();
        let a = sim.primary();
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let mut workload = Workload::new(3, WorkloadConfig::default());
        let mut reference = ReferenceContents::default();
        for _ in 0..20 {
            reference.apply(&workload.step(&mut sim, db).unwrap().transaction);
        }
        let before: Vec<Vec<u8>> = ["db1", "db1.log"].iter().map(|v| sim.read(a, v, 0, 1 << 20).unwrap()).collect();
        db.freeze(&mut sim).unwrap();
        let writes = db.stats();
        for _ in 0..10 {
            let step = workload.step(&mut sim, db).unwrap();
            assert_eq!(step.outcome, CommitOutcome::Held);
            reference.apply(&step.transaction);
        }
        assert_eq!(db.flush(&mut sim, 100).unwrap(), 0);
        assert_eq!(db.truncate_logs(&mut sim, 1).unwrap_err(), ExchangeError::Frozen("DB1".into()));
        assert_eq!(db.stats(), writes);
        let during: Vec<Vec<u8>> = ["db1", "db1.log"].iter().map(|v| sim.read(a, v, 0, 1 << 20).unwrap()).collect();
        assert_eq!(before, during);
        assert_eq!(db.thaw(&mut sim).unwrap(), 10);
        db.dismount(&mut sim).unwrap();
        let image = ArrayVolume::new(&sim, a, "db1").unwrap();
        assert_eq!(read_database_contents(&image).unwrap(), reference.pages);
    }

    #[test]
    fn truncation_never_reaches_the_checkpoint() {
        // Goal: truncation deletes only generations below both the captured and the live
        // checkpoint. Method: roll several generations, flush, truncate beyond the checkpoint.
        let (mut sim, mut server) = setup();
        let db = server.database_mut("DB1").unwrap();
        db.mount(&mut sim).unwrap();
        let mut workload = Workload::new(1, WorkloadConfig { flush_every: 0, ..WorkloadConfig::default() });
        for _ in 0..200 {
            workload.step(&mut sim, db).unwrap();
        }
        let checkpoint = db.checkpoint_generation().unwrap();
        assert_eq!(checkpoint, 1, "nothing flushed yet");
        assert_eq!(db.truncate_logs(&mut sim, 100).unwrap(), None);
        db.flush(&mut sim, usize::MAX).unwrap();
        let checkpoint = db.checkpoint_generation().unwrap();
        assert_eq!(checkpoint, db.current_generation().unwrap());
        assert_eq!(db.truncate_logs(&mut sim, u64::MAX).unwrap(), Some((1, checkpoint - 1)));
        assert_eq!(db.oldest_generation(), Some(checkpoint));
    }

    #[test]
    fn bad_names_and_transactions_are_refused() {
        // Goal: typed refusals for names with special characters and malformed transactions.
        let (mut sim, mut server) = setup();
        assert!(matches!(validate_name("database", "DB$1", true), Err(ExchangeError::InvalidName { .. })));
        assert!(validate_name("database", "Mailbox Database 1", true).is_ok());
        let db = server.database_mut("DB1").unwrap();
        let empty = Transaction::default();
        assert!(matches!(db.commit(&mut sim, empty), Err(ExchangeError::InvalidTransaction(_))));
        let update = PageUpdate { page: 0, offset: 0, bytes: vec![1] };
        let tx = Transaction { updates: vec![update] };
        assert_eq!(db.commit(&mut sim, tx).unwrap_err(), ExchangeError::NotMounted("DB1".into()));
        db.mount(&mut sim).unwrap();
        let beyond = PageUpdate { page: 64, offset: 0, bytes: vec![1] };
        let tx = Transaction { updates: vec![beyond] };
        assert!(matches!(db.commit(&mut sim, tx), Err(ExchangeError::InvalidTransaction(_))));
        let huge = (0..10).map(|p| PageUpdate { page: p, offset: 0, bytes: vec![7; 4000] }).collect();
        let tx = Transaction { updates: huge };
        assert!(matches!(db.commit(&mut sim, tx), Err(ExchangeError::TransactionTooLarge { .. })));
    }
}
