//! The verifier: `eseutil /mh` plus a log check over the bytes of a database and a log volume, and
//! soft recovery (log replay) onto an image.
//!
//! What it holds: the [`ReadAt`] / [`WriteAt`] traits through which it sees an image (a volume or
//! virtual copy on an array via [`simulator::Simulation::read`], a copy mounted on a host via
//! [`simulator::Simulation::host_read`] ([`HostLun`]), or an in-memory [`MemoryImage`]),
//! [`verify_image`] / [`verify_database_only`] which decide whether an image is recoverable and
//! list every reason why not ([`Unrecoverable`]), and [`plan_soft_recovery`] /
//! [`soft_recover`] / [`soft_recover_on_array`] which replay the required logs and write a clean
//! header, so a restore can be checked end to end.
//!
//! What it does not do: it trusts nothing but the bytes (no in-memory state of the live
//! database), and it never repairs damage (no `eseutil /p`); hard recovery onto another database
//! and log-file copying belong to the restore workflows.
//!
//! Main design choice: the verdict is computed from a full scan of the log volume's slot headers
//! (one 512-byte read per slot) rather than by following generations from the checkpoint, so
//! gaps, generations beyond a gap and damaged headers are all seen and named. The cost is
//! O(slot count) reads per verification even when few generations are in use.
//!
//! Rules (spec §5, §7.7): a clean database is recoverable without logs; a dirty one is
//! recoverable iff every generation from the checkpoint's generation up to the current log (and
//! up to the header's `Log Required` high end) is present, belongs to this database and is
//! checksum-valid. Damage in generations below the checkpoint does not matter.

use std::collections::BTreeMap;

use simulator::{ArrayId, Simulation, Volume};

mod memo;

pub use memo::VerifyMemo;

use crate::exchange::layout::{
    CHECKPOINT_OFFSET, Checkpoint, DB_PAGE_DATA, DB_PAGE_SIZE, DatabaseHeader, DbPage, DecodeError,
    GENERATION_HEADER_SIZE, GenerationHeader, HEADER_SECTOR_FIELDS, LogRecord, LogSuperblock, Lsn, ShutdownState,
    db_page_offset, slot_of, slot_offset,
};

/// Read access to the bytes of one volume image.
pub trait ReadAt {
    /// Size of the image in bytes.
    fn size_bytes(&self) -> u64;
    /// Fills `buf` with the bytes at `offset`.
    ///
    /// Errors: as [`simulator::Simulation::read`] (`INV_INPUT_EXCEEDS_RANGE`, `ARRAY_OFFLINE`, ...).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), simulator::Error>;
}

/// Write access to the bytes of one volume image.
pub trait WriteAt: ReadAt {
    /// Writes `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), simulator::Error>;
}

/// A volume or virtual copy on a simulated array, read through [`Simulation::read_into`].
#[derive(Clone, Copy)]
pub struct ArrayVolume<'a> {
    sim: &'a Simulation,
    array: ArrayId,
    volume: &'a str,
    size_bytes: u64,
}

impl<'a> ArrayVolume<'a> {
    /// The volume `volume` on `array`.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_VOL`; `INV_OPERATION_VV_SNAPSHOT_STALE` (a stale
    /// copy has no image to read: refused here, before any scan, so a memoised verification
    /// never judges it from what it held before).
    pub fn new(sim: &'a Simulation, array: ArrayId, volume: &'a str) -> Result<ArrayVolume<'a>, simulator::Error> {
        let found = sim.array(array).volume(volume)?;
        found.check_not_stale("read")?;
        Ok(ArrayVolume::of(sim, array, found))
    }

    /// `volume`, already looked up on `array`.
    pub fn of(sim: &'a Simulation, array: ArrayId, volume: &'a Volume) -> ArrayVolume<'a> {
        ArrayVolume { sim, array, volume: &volume.name, size_bytes: volume.size_bytes() }
    }
}

impl ReadAt for ArrayVolume<'_> {
    fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), simulator::Error> {
        self.sim.read_into(self.array, self.volume, offset, buf)
    }
}

/// A writable volume (or read-write virtual copy) on a simulated array, written through
/// [`Simulation::write`] (each write advances the virtual clock to its acknowledgement).
pub struct ArrayVolumeMut<'a> {
    sim: &'a mut Simulation,
    array: ArrayId,
    volume: &'a str,
    size_bytes: u64,
}

impl<'a> ArrayVolumeMut<'a> {
    /// The volume `volume` on `array`.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_VOL`.
    pub fn new(
        sim: &'a mut Simulation,
        array: ArrayId,
        volume: &'a str,
    ) -> Result<ArrayVolumeMut<'a>, simulator::Error> {
        let size_bytes = sim.array(array).volume(volume)?.size_bytes();
        Ok(ArrayVolumeMut { sim, array, volume, size_bytes })
    }
}

impl ReadAt for ArrayVolumeMut<'_> {
    fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), simulator::Error> {
        self.sim.read_into(self.array, self.volume, offset, buf)
    }
}

impl WriteAt for ArrayVolumeMut<'_> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), simulator::Error> {
        self.sim.write(self.array, self.volume, offset, data).map(|_| ())
    }
}

/// A volume as a host sees it through an export: `host` reads `lun` of `array` with
/// [`Simulation::host_read`] (a copy mounted on a backup server).
#[derive(Clone, Copy)]
pub struct HostLun<'a> {
    sim: &'a Simulation,
    array: ArrayId,
    host: &'a str,
    lun: u32,
    size_bytes: u64,
}

impl<'a> HostLun<'a> {
    /// LUN `lun` of `host` on `array`.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_HOST`; `NON_EXISTENT_VLUN`.
    pub fn new(sim: &'a Simulation, array: ArrayId, host: &'a str, lun: u32) -> Result<HostLun<'a>, simulator::Error> {
        let a = sim.array(array);
        let id = a.resolve_lun(host, lun)?;
        let size_bytes = a.volume_by_id(id).map_or(0, |v| v.size_bytes());
        Ok(HostLun { sim, array, host, lun, size_bytes })
    }
}

impl ReadAt for HostLun<'_> {
    fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), simulator::Error> {
        let bytes = self.sim.host_read(self.array, self.host, self.lun, offset, buf.len())?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

/// A sparse in-memory image (4 KiB blocks; blocks never written read as zeros).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryImage {
    size_bytes: u64,
    blocks: BTreeMap<u64, Box<[u8; MEMORY_BLOCK]>>,
}

const MEMORY_BLOCK: usize = 4096;

impl MemoryImage {
    /// An all-zero image of `size_bytes`.
    pub fn new(size_bytes: u64) -> MemoryImage {
        MemoryImage { size_bytes, blocks: BTreeMap::new() }
    }

    /// A copy of the first `len` bytes of `source` (zero blocks are not stored).
    pub fn copy_of(source: &dyn ReadAt, len: u64) -> Result<MemoryImage, simulator::Error> {
        let mut image = MemoryImage::new(source.size_bytes());
        let mut block = [0u8; MEMORY_BLOCK];
        let mut offset = 0;
        while offset < len.min(source.size_bytes()) {
            let n = (len - offset).min(MEMORY_BLOCK as u64) as usize;
            source.read_at(offset, &mut block[..n])?;
            if block[..n].iter().any(|b| *b != 0) {
                image.write_at(offset, &block[..n])?;
            }
            offset += n as u64;
        }
        Ok(image)
    }

    fn check_range(&self, offset: u64, len: usize) -> Result<(), simulator::Error> {
        if offset.checked_add(len as u64).is_none_or(|end| end > self.size_bytes) {
            return Err(simulator::Error::new(
                simulator::ErrorCode::INV_INPUT_EXCEEDS_RANGE,
                format!("range {offset}+{len} ends beyond the image ({} bytes)", self.size_bytes),
            ));
        }
        Ok(())
    }
}

impl ReadAt for MemoryImage {
    fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), simulator::Error> {
        self.check_range(offset, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let (index, within) = (at / MEMORY_BLOCK as u64, (at % MEMORY_BLOCK as u64) as usize);
            let n = (MEMORY_BLOCK - within).min(buf.len() - done);
            match self.blocks.get(&index) {
                Some(block) => buf[done..done + n].copy_from_slice(&block[within..within + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
        Ok(())
    }
}

impl WriteAt for MemoryImage {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), simulator::Error> {
        self.check_range(offset, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / MEMORY_BLOCK as u64, (at % MEMORY_BLOCK as u64) as usize);
            let n = (MEMORY_BLOCK - within).min(data.len() - done);
            let block = self.blocks.entry(index).or_insert_with(|| Box::new([0u8; MEMORY_BLOCK]));
            block[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}

/// Why an image is not recoverable. Several may hold at once; the report lists them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unrecoverable {
    /// The database volume has no header (never formatted, or wiped).
    #[error("database header missing")]
    DatabaseHeaderMissing,
    /// The database header is damaged or not a database header.
    #[error("database header corrupt: {0}")]
    DatabaseHeaderCorrupt(DecodeError),
    /// A database page fails its checksum (`eseutil /k`).
    #[error("database page {page} corrupt: {reason}")]
    DatabasePageCorrupt {
        /// The page number.
        page: u32,
        /// What is wrong with it.
        reason: DecodeError,
    },
    /// A dirty database and no log volume (a snapshot of the database volume alone; JET -550).
    #[error("dirty shutdown and no logs: generations {}-{} are required", required.0, required.1)]
    DirtyShutdownWithoutLogs {
        /// `Log Required: lo-hi` from the header.
        required: (u64, u64),
    },
    /// The log volume has no readable superblock, so no generation can be found.
    #[error("log superblock unreadable: {0}")]
    LogSuperblockCorrupt(DecodeError),
    /// The log volume belongs to another database.
    #[error("logs belong to another database (signature {log:#x}, database {database:#x})")]
    LogsOfAnotherDatabase {
        /// The database's signature.
        database: u64,
        /// The log volume's signature.
        log: u64,
    },
    /// A required generation is absent and no later one exists (JET -528).
    #[error("required log generation {generation} is missing")]
    MissingGeneration {
        /// The first missing generation.
        generation: u64,
    },
    /// A required generation is absent while later ones exist: everything after the gap is unusable.
    #[error("log generation gap: {missing} is missing, {next_present} is present")]
    GenerationGap {
        /// The first missing generation of the gap.
        missing: u64,
        /// The first present generation after the gap.
        next_present: u64,
    },
    /// A required generation's records do not match their checksums.
    #[error("log generation {generation} fails its checksum")]
    LogChecksumMismatch {
        /// The generation.
        generation: u64,
    },
    /// A required generation ends early: the first records are valid, the rest never landed.
    #[error("log generation {generation} is torn: {valid_records} of {claimed_records} records readable")]
    TornLog {
        /// The generation.
        generation: u64,
        /// Records readable before the tear.
        valid_records: u32,
        /// Records the generation header claims.
        claimed_records: u32,
    },
}

/// What the log check found in one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationStatus {
    /// Every record is readable and the generation checksum matches.
    Valid {
        /// Records in the generation.
        records: u32,
        /// Whether the generation is closed (not the current log).
        closed: bool,
    },
    /// The records do not match their checksums.
    ChecksumMismatch,
    /// The first `valid_records` records are readable and the payload ends in zeros: its tail
    /// never landed.
    Torn {
        /// Readable records.
        valid_records: u32,
        /// Records the header claims.
        claimed_records: u32,
    },
    /// Two slots claim this generation.
    Duplicate,
}

/// The result of scanning a log volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScan {
    /// The superblock.
    pub superblock: LogSuperblock,
    /// The checkpoint, or why it could not be read.
    pub checkpoint: Result<Checkpoint, DecodeError>,
    /// Every generation of this database found, by number.
    pub generations: BTreeMap<u64, GenerationStatus>,
    /// Slots whose header could not be decoded (not empty, not valid), with the reason.
    pub damaged_slots: Vec<(u32, DecodeError)>,
    /// Generations found in slots that carry another database's signature.
    pub foreign_generations: Vec<u64>,
}

/// The verifier's report on one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The database header, if readable.
    pub header: Option<DatabaseHeader>,
    /// The log scan, when a log volume was given and its superblock is readable.
    pub logs: Option<LogScan>,
    /// The generations soft recovery must replay (`None` for a clean database).
    pub required: Option<(u64, u64)>,
    /// Every reason the image is not recoverable (empty when it is).
    pub problems: Vec<Unrecoverable>,
}

impl VerifyReport {
    /// Whether the image can be brought to a clean shutdown state.
    pub fn is_recoverable(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether recovery has logs to replay (the database is dirty).
    pub fn needs_replay(&self) -> bool {
        self.required.is_some()
    }
}

/// Verifies a database volume together with its log volume.
///
/// Errors: only a failed read (array offline, volume gone); damage is reported in the report.
pub fn verify_image(db: &dyn ReadAt, log: &dyn ReadAt) -> Result<VerifyReport, simulator::Error> {
    verify(db, Some(log), &mut FullScans)
}

/// Verifies a database volume with no logs at all (a snapshot of the database volume alone).
pub fn verify_database_only(db: &dyn ReadAt) -> Result<VerifyReport, simulator::Error> {
    verify(db, None, &mut FullScans)
}

/// The two scans a verification runs, from scratch ([`FullScans`]) or reusing what an earlier
/// verification found in pages the image still shares ([`memo::MemoScans`]). Both must give
/// exactly the results of the full scans; the property test `memo_agrees_with_full_verification`
/// holds the memoised one to that.
trait Scans {
    /// Database pages `0..page_count` that fail to decode, in page order.
    fn pages(&mut self, db: &dyn ReadAt, page_count: u32) -> Result<Vec<(u32, DecodeError)>, simulator::Error>;
    /// The log scan ([`scan_logs`]).
    fn logs(&mut self, log: &dyn ReadAt) -> Result<Result<LogScan, DecodeError>, simulator::Error>;
}

/// Every byte read and checked.
struct FullScans;

impl Scans for FullScans {
    fn pages(&mut self, db: &dyn ReadAt, page_count: u32) -> Result<Vec<(u32, DecodeError)>, simulator::Error> {
        scan_pages(db, page_count)
    }
    fn logs(&mut self, log: &dyn ReadAt) -> Result<Result<LogScan, DecodeError>, simulator::Error> {
        scan_logs(log)
    }
}

fn verify(db: &dyn ReadAt, log: Option<&dyn ReadAt>, scans: &mut dyn Scans) -> Result<VerifyReport, simulator::Error> {
    let mut report = VerifyReport { header: None, logs: None, required: None, problems: Vec::new() };
    let header = match read_database_header(db)? {
        Ok(header) => header,
        Err(DecodeError::Empty) => {
            report.problems.push(Unrecoverable::DatabaseHeaderMissing);
            return Ok(report);
        }
        Err(reason) => {
            report.problems.push(Unrecoverable::DatabaseHeaderCorrupt(reason));
            return Ok(report);
        }
    };
    if db_page_offset(header.page_count) > db.size_bytes() {
        report
            .problems
            .push(Unrecoverable::DatabaseHeaderCorrupt(DecodeError::Invalid("page count beyond the volume")));
        return Ok(report);
    }
    report.header = Some(header);
    for (page, reason) in scans.pages(db, header.page_count)? {
        report.problems.push(Unrecoverable::DatabasePageCorrupt { page, reason });
    }
    let Some(required_by_header) = header.log_required else {
        return Ok(report);
    };
    let Some(log) = log else {
        report.required = Some(required_by_header);
        report.problems.push(Unrecoverable::DirtyShutdownWithoutLogs { required: required_by_header });
        return Ok(report);
    };
    let scan = match scans.logs(log)? {
        Ok(scan) => scan,
        Err(reason) => {
            report.required = Some(required_by_header);
            report.problems.push(Unrecoverable::LogSuperblockCorrupt(reason));
            return Ok(report);
        }
    };
    if scan.superblock.signature != header.signature {
        report.required = Some(required_by_header);
        report
            .problems
            .push(Unrecoverable::LogsOfAnotherDatabase { database: header.signature, log: scan.superblock.signature });
        report.logs = Some(scan);
        return Ok(report);
    }
    let required = required_range(&header, &scan);
    report.required = Some(required);
    report.problems.extend(check_required(&scan, required));
    report.logs = Some(scan);
    Ok(report)
}

/// The generations recovery needs: from the checkpoint (or the header's low end when the
/// checkpoint is unreadable) to the later of the current log and the header's high end.
fn required_range(header: &DatabaseHeader, scan: &LogScan) -> (u64, u64) {
    let (header_lo, header_hi) = header.log_required.expect("only dirty databases need logs");
    let lo = match scan.checkpoint {
        Ok(checkpoint) if checkpoint.signature == header.signature => checkpoint.generation,
        _ => header_lo,
    };
    let current = scan.generations.keys().next_back().copied().unwrap_or(0);
    (lo, header_hi.max(current).max(lo))
}

fn check_required(scan: &LogScan, (lo, hi): (u64, u64)) -> Vec<Unrecoverable> {
    let mut problems = Vec::new();
    let mut expected = lo;
    for (&generation, status) in scan.generations.range(lo..=hi) {
        if generation > expected {
            problems.push(Unrecoverable::GenerationGap { missing: expected, next_present: generation });
        }
        match *status {
            GenerationStatus::Valid { .. } => {}
            GenerationStatus::ChecksumMismatch | GenerationStatus::Duplicate => {
                problems.push(Unrecoverable::LogChecksumMismatch { generation });
            }
            GenerationStatus::Torn { valid_records, claimed_records } => {
                problems.push(Unrecoverable::TornLog { generation, valid_records, claimed_records });
            }
        }
        expected = generation + 1;
    }
    if expected <= hi {
        problems.push(Unrecoverable::MissingGeneration { generation: expected });
    }
    problems
}

/// Reads and decodes the database header (`eseutil /mh`).
pub fn read_database_header(db: &dyn ReadAt) -> Result<Result<DatabaseHeader, DecodeError>, simulator::Error> {
    decode_header_sector(db, 0, DatabaseHeader::decode)
}

/// `decode` applied to the 4 KiB header sector at `offset`, as much of it as the decoder looks
/// at: the first [`HEADER_SECTOR_FIELDS`] bytes (its fields and checksum) when they are not all
/// zeros, else the whole sector (the decoder then tells an empty sector from a damaged one by
/// every byte). A verification reads three such sectors: one cache line each, not 64 cold ones.
fn decode_header_sector<T>(
    image: &dyn ReadAt,
    offset: u64,
    decode: impl FnOnce(&[u8]) -> T,
) -> Result<T, simulator::Error> {
    if offset + DB_PAGE_SIZE as u64 <= image.size_bytes() {
        let mut head = [0u8; HEADER_SECTOR_FIELDS];
        image.read_at(offset, &mut head)?;
        if head.iter().any(|b| *b != 0) {
            return Ok(decode(&head));
        }
    }
    // Empty or damaged (or past the end, where the read fails as it would for any reader).
    let mut sector = vec![0u8; DB_PAGE_SIZE];
    image.read_at(offset, &mut sector)?;
    Ok(decode(&sector))
}

/// Pages `0..page_count` that fail to decode, with the reason. Reads in 64 KiB chunks.
fn scan_pages(db: &dyn ReadAt, page_count: u32) -> Result<Vec<(u32, DecodeError)>, simulator::Error> {
    let mut damaged = Vec::new();
    for_each_page(db, page_count, |number, bytes| {
        if let Err(reason) = DbPage::check(number, bytes) {
            damaged.push((number, reason));
        }
    })?;
    Ok(damaged)
}

fn for_each_page(db: &dyn ReadAt, page_count: u32, mut visit: impl FnMut(u32, &[u8])) -> Result<(), simulator::Error> {
    // 64 KiB: small enough for the allocator to reuse the buffer (a fresh 1 MiB buffer per call
    // is a mapping the kernel zero-fills on every verification).
    const PAGES_PER_READ: u32 = 16;
    let mut chunk = vec![0u8; PAGES_PER_READ as usize * DB_PAGE_SIZE];
    let mut first = 0u32;
    while first < page_count {
        let count = (page_count - first).min(PAGES_PER_READ);
        let bytes = &mut chunk[..count as usize * DB_PAGE_SIZE];
        db.read_at(db_page_offset(first), bytes)?;
        for (i, page) in bytes.chunks_exact(DB_PAGE_SIZE).enumerate() {
            visit(first + i as u32, page);
        }
        first += count;
    }
    Ok(())
}

/// The data of every non-empty page, by page number: what the database holds, for comparing a
/// recovered image with a reference.
///
/// Errors: a failed read. Damage is not an error here: an unreadable header gives an empty
/// map and a damaged page is skipped; use [`verify_image`] to detect damage.
pub fn read_database_contents(db: &dyn ReadAt) -> Result<BTreeMap<u32, Vec<u8>>, simulator::Error> {
    let mut contents = BTreeMap::new();
    let header = match read_database_header(db)? {
        Ok(header) if db_page_offset(header.page_count) <= db.size_bytes() => header,
        _ => return Ok(contents),
    };
    for_each_page(db, header.page_count, |number, bytes| {
        if let Ok(page) = DbPage::decode(number, bytes)
            && page.lsn != Lsn::default()
        {
            contents.insert(number, page.data.to_vec());
        }
    })?;
    Ok(contents)
}

/// Scans a log volume: superblock, checkpoint and every slot.
///
/// Returns `Ok(Err(reason))` when the superblock cannot be read (no slot can then be located).
pub fn scan_logs(log: &dyn ReadAt) -> Result<Result<LogScan, DecodeError>, simulator::Error> {
    let (superblock, checkpoint) = match read_log_prologue(log)? {
        Ok(prologue) => prologue,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut findings = Vec::with_capacity(superblock.slot_count as usize);
    for slot in 0..superblock.slot_count {
        findings.push(scan_slot(log, &superblock, slot, None)?.0);
    }
    Ok(Ok(assemble_scan(superblock, checkpoint, (0u32..).zip(findings))))
}

/// A log volume's superblock and checkpoint (or why the checkpoint is unreadable).
type LogPrologue = (LogSuperblock, Result<Checkpoint, DecodeError>);

/// The superblock (checked against the volume's size) and the checkpoint.
fn read_log_prologue(log: &dyn ReadAt) -> Result<Result<LogPrologue, DecodeError>, simulator::Error> {
    let superblock = match decode_header_sector(log, 0, LogSuperblock::decode)? {
        Ok(superblock) => superblock,
        Err(reason) => return Ok(Err(reason)),
    };
    let slots_end = slot_offset(superblock.slot_bytes, superblock.slot_count);
    if slots_end > log.size_bytes() {
        return Ok(Err(DecodeError::Invalid("slots extend beyond the volume")));
    }
    Ok(Ok((superblock, decode_header_sector(log, CHECKPOINT_OFFSET, Checkpoint::decode)?)))
}

/// What one log slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotFinding {
    /// Never written (or deleted).
    Empty,
    /// A header that does not decode, or a valid one in the wrong slot.
    Damaged(DecodeError),
    /// A generation of another database.
    Foreign(u64),
    /// A generation of this database, with what the log check found in it.
    Generation(u64, GenerationStatus),
}

/// Reads and checks slot `slot`. `resume`: where an earlier check of this slot's generation
/// stopped, valid only if the payload bytes before it are unchanged (the caller's promise).
/// Returns the finding and where this check stopped.
fn scan_slot(
    log: &dyn ReadAt,
    superblock: &LogSuperblock,
    slot: u32,
    resume: Option<&Resume>,
) -> Result<(SlotFinding, Option<Resume>), simulator::Error> {
    let mut header_bytes = [0u8; GENERATION_HEADER_SIZE];
    log.read_at(slot_offset(superblock.slot_bytes, slot), &mut header_bytes)?;
    let header = match GenerationHeader::decode(&header_bytes) {
        Ok(header) => header,
        Err(DecodeError::Empty) => return Ok((SlotFinding::Empty, None)),
        Err(reason) => return Ok((SlotFinding::Damaged(reason), None)),
    };
    if header.signature != superblock.signature {
        return Ok((SlotFinding::Foreign(header.generation), None));
    }
    if slot_of(header.generation, superblock.slot_count) != slot {
        // A valid header in the wrong slot was not written there by the database.
        return Ok((SlotFinding::Damaged(DecodeError::Invalid("generation in the wrong slot")), None));
    }
    let (status, stopped) = check_generation(log, superblock, slot, &header, None, resume)?;
    Ok((SlotFinding::Generation(header.generation, status), stopped))
}

/// The scan made of the slots' findings, `(slot, finding)` in slot order (empty slots add
/// nothing and may be left out).
fn assemble_scan(
    superblock: LogSuperblock,
    checkpoint: Result<Checkpoint, DecodeError>,
    findings: impl IntoIterator<Item = (u32, SlotFinding)>,
) -> LogScan {
    let mut scan = LogScan {
        superblock,
        checkpoint,
        generations: BTreeMap::new(),
        damaged_slots: Vec::new(),
        foreign_generations: Vec::new(),
    };
    for (slot, finding) in findings {
        match finding {
            SlotFinding::Empty => {}
            SlotFinding::Damaged(reason) => scan.damaged_slots.push((slot, reason)),
            SlotFinding::Foreign(generation) => scan.foreign_generations.push(generation),
            SlotFinding::Generation(generation, status) => {
                let status =
                    if scan.generations.contains_key(&generation) { GenerationStatus::Duplicate } else { status };
                scan.generations.insert(generation, status);
            }
        }
    }
    scan
}

/// Where a generation check stopped: after `records` valid records ending at payload byte `at`,
/// with the payload checksum of those bytes so far. A later check of the same slot can start
/// there when the bytes before `at` have not changed.
#[derive(Debug, Clone)]
struct Resume {
    at: u32,
    records: u32,
    crc: crc32fast::Hasher,
}

/// Checks one generation's records and returns its status and where the check stopped; when
/// `keep` is given and the generation is valid, its records are left there (verification alone
/// copies nothing). `resume`: see [`scan_slot`] (ignored when it does not fit the header).
fn check_generation(
    log: &dyn ReadAt,
    superblock: &LogSuperblock,
    slot: u32,
    header: &GenerationHeader,
    keep: Option<&mut Vec<LogRecord>>,
    resume: Option<&Resume>,
) -> Result<(GenerationStatus, Option<Resume>), simulator::Error> {
    if header.payload_bytes > superblock.payload_capacity() {
        return Ok((GenerationStatus::ChecksumMismatch, None));
    }
    let mut tail = TAIL.with_borrow_mut(std::mem::take);
    let checked = check_records(log, superblock, slot, header, keep, resume, &mut tail);
    if tail.capacity() <= TAIL_KEPT_BYTES {
        TAIL.with_borrow_mut(|kept| *kept = tail);
    }
    checked
}

/// Most bytes of the buffer [`check_generation`] keeps for the next check on the thread.
const TAIL_KEPT_BYTES: usize = 64 * 1024;

thread_local! {
    /// The buffer a generation's records are read into, kept between checks: a backup's
    /// integrity check reads a few KiB of new records, and a fresh zeroed buffer each time cost
    /// about as much in the allocator as the check of the records.
    static TAIL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`check_generation`] reading the records into `tail`.
fn check_records(
    log: &dyn ReadAt,
    superblock: &LogSuperblock,
    slot: u32,
    header: &GenerationHeader,
    mut keep: Option<&mut Vec<LogRecord>>,
    resume: Option<&Resume>,
    tail: &mut Vec<u8>,
) -> Result<(GenerationStatus, Option<Resume>), simulator::Error> {
    let start = resume
        .filter(|r| r.records <= header.record_count && r.at <= header.payload_bytes)
        .cloned()
        .unwrap_or(Resume { at: 0, records: 0, crc: crc32fast::Hasher::new() });
    let payload_at = slot_offset(superblock.slot_bytes, slot) + GENERATION_HEADER_SIZE as u64;
    // The read overwrites every byte it is given: the kept buffer is only grown (zeroed) when
    // too short, not zeroed again before each read.
    let len = (header.payload_bytes - start.at) as usize;
    if tail.len() < len {
        tail.resize(len, 0);
    }
    let tail = &mut tail[..len];
    log.read_at(payload_at + u64::from(start.at), tail)?;
    let tail = &tail[..];
    let mut crc = start.crc;
    let mut at = 0usize;
    for index in start.records..header.record_count {
        match LogRecord::check(&tail[at..]) {
            Some((record_index, len)) if record_index == index => {
                if let Some(records) = keep.as_deref_mut() {
                    records.push(LogRecord::decode(&tail[at..]).expect("checked just above").0);
                }
                crc.update(&tail[at..at + len]);
                at += len;
            }
            _ => {
                // Torn: the tail of the payload never landed (it ends in zeros, at least a
                // checksum's worth, which a written record's checksum is with odds of 2^-32).
                let status = if payload_ends_in_zeros(log, payload_at, header.payload_bytes, tail)? {
                    GenerationStatus::Torn { valid_records: index, claimed_records: header.record_count }
                } else {
                    GenerationStatus::ChecksumMismatch
                };
                if let Some(records) = keep {
                    records.clear();
                }
                let stopped = Resume { at: start.at + at as u32, records: index, crc };
                return Ok((status, Some(stopped)));
            }
        }
    }
    let stopped = Resume { at: start.at + at as u32, records: header.record_count, crc: crc.clone() };
    if at != tail.len() || crc.finalize() != header.payload_crc {
        if let Some(records) = keep {
            records.clear();
        }
        return Ok((GenerationStatus::ChecksumMismatch, Some(stopped)));
    }
    Ok((GenerationStatus::Valid { records: header.record_count, closed: header.closed }, Some(stopped)))
}

/// Whether the last four bytes of a payload of `payload_bytes` at `payload_at` are zeros;
/// `tail` is its end, read already.
fn payload_ends_in_zeros(
    log: &dyn ReadAt,
    payload_at: u64,
    payload_bytes: u32,
    tail: &[u8],
) -> Result<bool, simulator::Error> {
    if payload_bytes < 4 {
        return Ok(false);
    }
    if tail.len() >= 4 {
        return Ok(tail[tail.len() - 4..] == [0; 4]);
    }
    let mut last = [0u8; 4];
    log.read_at(payload_at + u64::from(payload_bytes) - 4, &mut last)?;
    Ok(last == [0; 4])
}

/// Why soft recovery could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The image is not recoverable; the report says why.
    #[error("image not recoverable: {}", describe(&.0.problems))]
    NotRecoverable(Box<VerifyReport>),
    /// A read or write failed.
    #[error(transparent)]
    Io(#[from] simulator::Error),
}

fn describe(problems: &[Unrecoverable]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What soft recovery will write (see [`plan_soft_recovery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPlan {
    /// The header before recovery.
    pub header_before: DatabaseHeader,
    /// The clean header recovery writes last.
    pub header_after: DatabaseHeader,
    /// Generations replayed (`None` when the database was already clean).
    pub replayed: Option<(u64, u64)>,
    /// Records applied to pages (their LSN was newer than the page's).
    pub records_applied: u64,
    /// Records skipped because the page already held them.
    pub records_skipped: u64,
    /// Pages to write, by number.
    pub pages: BTreeMap<u32, DbPage>,
}

/// What soft recovery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Generations replayed (`None` when the database was already clean).
    pub replayed: Option<(u64, u64)>,
    /// Records applied.
    pub records_applied: u64,
    /// Records skipped (already in the page).
    pub records_skipped: u64,
    /// Pages written.
    pub pages_written: usize,
    /// The last generation now contained in the database.
    pub last_consistent_generation: u64,
}

/// Verifies the image and computes the replay: reads only, writes nothing.
///
/// Replay is by LSN: a record is applied to a page only if it is newer than the page's LSN, so
/// replaying a generation twice, or one whose records already reached the page, changes nothing.
pub fn plan_soft_recovery(db: &dyn ReadAt, log: &dyn ReadAt) -> Result<RecoveryPlan, RecoveryError> {
    let report = verify_image(db, log)?;
    if !report.is_recoverable() {
        return Err(RecoveryError::NotRecoverable(Box::new(report)));
    }
    let header_before = report.header.expect("a recoverable image has a header");
    let Some((lo, hi)) = report.required else {
        return Ok(RecoveryPlan {
            header_before,
            header_after: header_before,
            replayed: None,
            records_applied: 0,
            records_skipped: 0,
            pages: BTreeMap::new(),
        });
    };
    let scan = report.logs.expect("a dirty recoverable image has logs");
    let superblock = scan.superblock;
    let mut plan = RecoveryPlan {
        header_before,
        header_after: DatabaseHeader {
            state: ShutdownState::Clean,
            log_required: None,
            last_consistent_generation: hi,
            ..header_before
        },
        replayed: Some((lo, hi)),
        records_applied: 0,
        records_skipped: 0,
        pages: BTreeMap::new(),
    };
    let mut header_bytes = vec![0u8; GENERATION_HEADER_SIZE];
    for generation in lo..=hi {
        let slot = slot_of(generation, superblock.slot_count);
        log.read_at(slot_offset(superblock.slot_bytes, slot), &mut header_bytes)?;
        let header = GenerationHeader::decode(&header_bytes).expect("verified generation headers decode");
        assert_eq!(header.generation, generation);
        let mut records = Vec::new();
        let (status, _) = check_generation(log, &superblock, slot, &header, Some(&mut records), None)?;
        assert!(matches!(status, GenerationStatus::Valid { .. }), "verified generations are valid");
        for record in records {
            apply_record(db, &mut plan, generation, &record)?;
        }
    }
    Ok(plan)
}

fn apply_record(
    db: &dyn ReadAt,
    plan: &mut RecoveryPlan,
    generation: u64,
    record: &LogRecord,
) -> Result<(), simulator::Error> {
    let lsn = Lsn { generation, index: record.index };
    if record.page >= plan.header_before.page_count {
        // A record for a page beyond the database cannot come from this database's writer.
        plan.records_skipped += 1;
        return Ok(());
    }
    let page = match plan.pages.entry(record.page) {
        std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::btree_map::Entry::Vacant(entry) => {
            let mut bytes = vec![0u8; DB_PAGE_SIZE];
            db.read_at(db_page_offset(record.page), &mut bytes)?;
            entry.insert(DbPage::decode(record.page, &bytes).expect("verified pages decode"))
        }
    };
    if page.lsn >= lsn {
        plan.records_skipped += 1;
        return Ok(());
    }
    let start = usize::from(record.offset);
    assert!(start + record.data.len() <= DB_PAGE_DATA);
    page.data[start..start + record.data.len()].copy_from_slice(&record.data);
    page.lsn = lsn;
    plan.records_applied += 1;
    Ok(())
}

impl RecoveryPlan {
    /// Writes the replayed pages, then the clean header (the header last, so a failure midway
    /// leaves a dirty database that recovery can run on again).
    pub fn apply(&self, db: &mut dyn WriteAt) -> Result<RecoveryOutcome, simulator::Error> {
        for page in self.pages.values() {
            db.write_at(db_page_offset(page.number), &page.encode())?;
        }
        if self.replayed.is_some() {
            db.write_at(0, &self.header_after.encode())?;
        }
        Ok(RecoveryOutcome {
            replayed: self.replayed,
            records_applied: self.records_applied,
            records_skipped: self.records_skipped,
            pages_written: self.pages.len(),
            last_consistent_generation: self.header_after.last_consistent_generation,
        })
    }
}

/// Soft recovery of an image whose database and logs are separately accessible.
pub fn soft_recover(db: &mut dyn WriteAt, log: &dyn ReadAt) -> Result<RecoveryOutcome, RecoveryError> {
    let plan = plan_soft_recovery(db, log)?;
    Ok(plan.apply(db)?)
}

/// Soft recovery of a database volume on an array (a base volume or a read-write copy) with its
/// log volume (or a copy of it) on the same array.
pub fn soft_recover_on_array(
    sim: &mut Simulation,
    array: ArrayId,
    db_volume: &str,
    log_volume: &str,
) -> Result<RecoveryOutcome, RecoveryError> {
    let plan = {
        let db = ArrayVolume::new(sim, array, db_volume)?;
        let log = ArrayVolume::new(sim, array, log_volume)?;
        plan_soft_recovery(&db, &log)?
    };
    let mut db = ArrayVolumeMut::new(sim, array, db_volume)?;
    Ok(plan.apply(&mut db)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_sector_is_empty_only_when_every_byte_is_zero() {
        // Goal: reading a header sector's fields first does not change what the decoder finds.
        // Method: a valid header, an all-zero sector, and one whose fields are zeros but whose
        // last byte is not (damaged, not missing), each read back through the verifier.
        let header = DatabaseHeader {
            signature: 7,
            state: ShutdownState::Clean,
            log_required: None,
            last_consistent_generation: 3,
            page_count: 4,
            base_name: *b"E00",
        };
        let mut image = MemoryImage::new(16384);
        image.write_at(0, &header.encode()).unwrap();
        assert_eq!(read_database_header(&image).unwrap(), Ok(header));
        image.write_at(0, &[0u8; DB_PAGE_SIZE]).unwrap();
        assert_eq!(read_database_header(&image).unwrap(), Err(DecodeError::Empty));
        image.write_at(DB_PAGE_SIZE as u64 - 1, &[1]).unwrap();
        assert_eq!(read_database_header(&image).unwrap(), Err(DecodeError::BadMagic));
        // Past the end of the image: the read fails, as a whole-sector read does.
        assert!(decode_header_sector(&image, 16384 - 64, DatabaseHeader::decode).is_err());
    }

    #[test]
    fn memory_image_reads_back_across_blocks() {
        // Goal: the in-memory image behaves like a volume. Method: write across a block edge,
        // read back, read past the end.
        let mut image = MemoryImage::new(16384);
        image.write_at(4000, &[7u8; 200]).unwrap();
        let mut buf = [0u8; 300];
        image.read_at(3950, &mut buf).unwrap();
        assert_eq!(&buf[..50], &[0u8; 50]);
        assert_eq!(&buf[50..250], &[7u8; 200]);
        assert_eq!(&buf[250..], &[0u8; 50]);
        let error = image.read_at(16300, &mut buf).unwrap_err();
        assert_eq!(error.code, simulator::ErrorCode::INV_INPUT_EXCEEDS_RANGE);
    }

    #[test]
    fn empty_volume_has_no_header() {
        // Goal: an unformatted volume is reported as missing its header, not as corrupt.
        let image = MemoryImage::new(1 << 20);
        let report = verify_database_only(&image).unwrap();
        assert_eq!(report.problems, vec![Unrecoverable::DatabaseHeaderMissing]);
        assert!(!report.is_recoverable());
    }
}
