//! The on-disk layout of the Exchange model: byte formats of the database volume and the log volume.
//!
//! What it holds: the encoders and decoders of every structure the model writes, and the
//! constants that place them on a volume. Both the live database ([`super::Database`]) and the
//! verifier ([`crate::verify`]) use these functions, so a format change is made in one place.
//!
//! What it does not do: no I/O. Callers read and write the bytes through the simulator.
//!
//! Main design choice: every structure is a fixed little-endian record closed by a CRC-32 of its
//! own bytes, so a reader can tell "never written" (all zeros), "not ours" (bad magic) and "damaged"
//! (bad checksum) apart, which is what the verifier's typed reasons need. The cost: every record
//! carries 4 bytes of checksum, and a log record's checksum is computed on every commit.
//!
//! Database volume (`.edb`):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4 KiB | database header ([`DatabaseHeader`]) |
//! | 4 KiB × (n + 1) | 4 KiB | database page n ([`DbPage`]), n in `0..page_count` |
//!
//! Log volume (the log folder: `E00.chk` and `E00nnnnn.log`):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4 KiB | log superblock ([`LogSuperblock`]): signature, slot size and count |
//! | 4 KiB | 4 KiB | checkpoint ([`Checkpoint`], the `E00.chk` file) |
//! | 16 KiB + i × slot | slot | log slot i: generation header ([`GenerationHeader`], 512 bytes) then records |
//!
//! Generation `g` (1-based) lives in slot `(g - 1) % slot_count`; a deleted (truncated)
//! generation has its header zeroed.

use crc32fast::Hasher;

/// Size of a database page and of the header sectors.
pub const DB_PAGE_SIZE: usize = 4096;
/// Bytes of a database page taken by its header (page number, LSN, checksum).
pub const DB_PAGE_HEADER: usize = 20;
/// Bytes of a database page that hold data.
pub const DB_PAGE_DATA: usize = DB_PAGE_SIZE - DB_PAGE_HEADER;
/// Offset of the checkpoint record on the log volume.
pub const CHECKPOINT_OFFSET: u64 = 4096;
/// Offset of log slot 0 on the log volume.
pub const LOG_SLOTS_OFFSET: u64 = 16 * 1024;
/// Bytes of a log slot taken by the generation header.
pub const GENERATION_HEADER_SIZE: usize = 512;
/// Bytes a log record takes besides its data: page u32, offset u16, length u16, index u32, CRC u32.
pub const RECORD_OVERHEAD: usize = 16;
/// The only format version this model writes and reads.
pub const FORMAT_VERSION: u16 = 1;

const DB_MAGIC: &[u8; 4] = b"EDB1";
const SUPERBLOCK_MAGIC: &[u8; 4] = b"ELSB";
const CHECKPOINT_MAGIC: &[u8; 4] = b"ECHK";
const GENERATION_MAGIC: &[u8; 4] = b"ELOG";

/// A log sequence number: the generation and the record's index within it. Orders records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn {
    /// Log generation (1-based; 0 means "before any log").
    pub generation: u64,
    /// Record index within the generation (0-based).
    pub index: u32,
}

/// The shutdown state in the database header (`eseutil /mh` `State:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShutdownState {
    /// Detached from its logs: mountable without any log.
    Clean,
    /// Attached: the logs in the required range must be replayed first.
    Dirty,
}

/// Why a fixed record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Every byte is zero: the record was never written (or was deleted).
    #[error("never written (all zeros)")]
    Empty,
    /// The magic bytes are wrong: not a record of this kind.
    #[error("bad magic")]
    BadMagic,
    /// The magic is right but the checksum does not match: the record is damaged.
    #[error("checksum mismatch")]
    BadChecksum,
    /// The checksum matches but a field is impossible (unknown version, state, size).
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

/// The database header page (`eseutil /mh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseHeader {
    /// Identifies the database; its logs carry the same signature.
    pub signature: u64,
    /// Clean or dirty shutdown.
    pub state: ShutdownState,
    /// `Log Required: lo-hi` while dirty; `None` when clean.
    pub log_required: Option<(u64, u64)>,
    /// The last generation whose records are all in the database (meaningful when clean).
    pub last_consistent_generation: u64,
    /// Number of database pages.
    pub page_count: u32,
    /// Log base name, e.g. `E00`.
    pub base_name: [u8; 3],
}

/// The log superblock: describes the log volume's slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSuperblock {
    /// The database this log belongs to.
    pub signature: u64,
    /// Log base name, e.g. `E00`.
    pub base_name: [u8; 3],
    /// Bytes per slot (one generation), a multiple of 4 KiB.
    pub slot_bytes: u32,
    /// Number of slots.
    pub slot_count: u32,
}

/// The checkpoint (`E00.chk`): records older than this generation are all in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The database this checkpoint belongs to.
    pub signature: u64,
    /// Recovery starts at this generation.
    pub generation: u64,
}

/// The header of one log generation (`E00nnnnn.log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationHeader {
    /// The database this log belongs to.
    pub signature: u64,
    /// Log base name.
    pub base_name: [u8; 3],
    /// Generation number.
    pub generation: u64,
    /// Whether the generation is full and closed (a renamed `E00nnnnn.log`), or still current.
    pub closed: bool,
    /// Committed records in the generation.
    pub record_count: u32,
    /// Bytes of committed records after the header.
    pub payload_bytes: u32,
    /// CRC-32 of those bytes.
    pub payload_crc: u32,
}

/// One log record: an after-image of bytes within one database page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Database page number.
    pub page: u32,
    /// Offset within the page's data area.
    pub offset: u16,
    /// Index of the record within its generation.
    pub index: u32,
    /// The bytes written.
    pub data: Vec<u8>,
}

/// One database page as stored: number, LSN of the last applied record and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPage {
    /// Page number.
    pub number: u32,
    /// LSN of the last record applied to this page.
    pub lsn: Lsn,
    /// The page's data area.
    pub data: Box<[u8; DB_PAGE_DATA]>,
}

/// Offset of database page `page` on the database volume.
pub fn db_page_offset(page: u32) -> u64 {
    (u64::from(page) + 1) * DB_PAGE_SIZE as u64
}

/// Offset of log slot `slot` on the log volume.
pub fn slot_offset(slot_bytes: u32, slot: u32) -> u64 {
    LOG_SLOTS_OFFSET + u64::from(slot) * u64::from(slot_bytes)
}

/// The slot generation `generation` (≥ 1) lives in.
pub fn slot_of(generation: u64, slot_count: u32) -> u32 {
    assert!(generation >= 1, "generations start at 1");
    ((generation - 1) % u64::from(slot_count)) as u32
}

/// Log file name of `generation` with base `base_name`: `E0000001A.log` style (8 hex digits).
pub fn log_file_name(base_name: &[u8; 3], generation: u64) -> String {
    format!("{}{generation:08X}.log", String::from_utf8_lossy(base_name))
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(magic: &[u8; 4]) -> Writer {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(magic);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        Writer { buf }
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// Appends the CRC of everything so far and pads with zeros to `size`.
    fn finish(mut self, size: usize) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        assert!(self.buf.len() <= size);
        self.buf.resize(size, 0);
        self.buf
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Checks emptiness, magic, version and the CRC over the first `fields_len` bytes.
    fn open(bytes: &'a [u8], magic: &[u8; 4], fields_len: usize) -> Result<Reader<'a>, DecodeError> {
        assert!(bytes.len() >= fields_len + 4);
        if bytes.iter().all(|b| *b == 0) {
            return Err(DecodeError::Empty);
        }
        if &bytes[..4] != magic {
            return Err(DecodeError::BadMagic);
        }
        let stored = u32::from_le_bytes(bytes[fields_len..fields_len + 4].try_into().expect("4 bytes"));
        if stored != crc32fast::hash(&bytes[..fields_len]) {
            return Err(DecodeError::BadChecksum);
        }
        let mut reader = Reader { bytes, at: 4 };
        if reader.u16() != FORMAT_VERSION {
            return Err(DecodeError::Invalid("format version"));
        }
        Ok(reader)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        slice
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().expect("2 bytes"))
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }
    fn base_name(&mut self) -> [u8; 3] {
        self.take(3).try_into().expect("3 bytes")
    }
}

// Field lengths (magic and version included, CRC excluded) of each fixed record.
const DB_HEADER_FIELDS: usize = 4 + 2 + 1 + 1 + 8 + 8 + 8 + 8 + 4 + 3;
const SUPERBLOCK_FIELDS: usize = 4 + 2 + 8 + 3 + 4 + 4;
const CHECKPOINT_FIELDS: usize = 4 + 2 + 8 + 8;
const GENERATION_FIELDS: usize = 4 + 2 + 1 + 8 + 3 + 8 + 4 + 4 + 4;

/// The first bytes of a 4 KiB header sector (database header, log superblock, checkpoint) that
/// hold everything its decoder checks, fields and checksum; the decoder reads the rest of the
/// sector only to tell an empty sector (all zeros) from a damaged one, which matters only when
/// these bytes are all zeros.
pub const HEADER_SECTOR_FIELDS: usize = 64;
const _: () = assert!(
    DB_HEADER_FIELDS + 4 <= HEADER_SECTOR_FIELDS
        && SUPERBLOCK_FIELDS + 4 <= HEADER_SECTOR_FIELDS
        && CHECKPOINT_FIELDS + 4 <= HEADER_SECTOR_FIELDS
);

impl DatabaseHeader {
    /// The header sector (4 KiB).
    pub fn encode(&self) -> Vec<u8> {
        let (state, (lo, hi)) = match (self.state, self.log_required) {
            (ShutdownState::Clean, _) => (3u8, (0, 0)),
            (ShutdownState::Dirty, range) => (2u8, range.unwrap_or((0, 0))),
        };
        let mut w = Writer::new(DB_MAGIC);
        w.u8(state).u8(0).u64(self.signature).u64(lo).u64(hi).u64(self.last_consistent_generation);
        w.u32(self.page_count).bytes(&self.base_name);
        w.finish(DB_PAGE_SIZE)
    }

    /// Decodes a header sector.
    pub fn decode(bytes: &[u8]) -> Result<DatabaseHeader, DecodeError> {
        let mut r = Reader::open(bytes, DB_MAGIC, DB_HEADER_FIELDS)?;
        let state = match r.u8() {
            3 => ShutdownState::Clean,
            2 => ShutdownState::Dirty,
            _ => return Err(DecodeError::Invalid("shutdown state")),
        };
        r.u8();
        let signature = r.u64();
        let (lo, hi) = (r.u64(), r.u64());
        let last_consistent_generation = r.u64();
        let page_count = r.u32();
        let base_name = r.base_name();
        let log_required = match state {
            ShutdownState::Clean => None,
            ShutdownState::Dirty if lo >= 1 && lo <= hi => Some((lo, hi)),
            ShutdownState::Dirty => return Err(DecodeError::Invalid("log required range")),
        };
        Ok(DatabaseHeader { signature, state, log_required, last_consistent_generation, page_count, base_name })
    }
}

impl LogSuperblock {
    /// The superblock sector (4 KiB).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(SUPERBLOCK_MAGIC);
        w.u64(self.signature).bytes(&self.base_name).u32(self.slot_bytes).u32(self.slot_count);
        w.finish(4096)
    }

    /// Decodes a superblock sector.
    pub fn decode(bytes: &[u8]) -> Result<LogSuperblock, DecodeError> {
        let mut r = Reader::open(bytes, SUPERBLOCK_MAGIC, SUPERBLOCK_FIELDS)?;
        let block =
            LogSuperblock { signature: r.u64(), base_name: r.base_name(), slot_bytes: r.u32(), slot_count: r.u32() };
        if block.slot_bytes < 8192 || !block.slot_bytes.is_multiple_of(4096) {
            return Err(DecodeError::Invalid("slot size"));
        }
        if block.slot_count == 0 {
            return Err(DecodeError::Invalid("slot count"));
        }
        Ok(block)
    }

    /// Bytes of records one generation can hold.
    pub fn payload_capacity(&self) -> u32 {
        self.slot_bytes - GENERATION_HEADER_SIZE as u32
    }
}

impl Checkpoint {
    /// The checkpoint sector (4 KiB).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(CHECKPOINT_MAGIC);
        w.u64(self.signature).u64(self.generation);
        w.finish(4096)
    }

    /// Decodes a checkpoint sector.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, DecodeError> {
        let mut r = Reader::open(bytes, CHECKPOINT_MAGIC, CHECKPOINT_FIELDS)?;
        let checkpoint = Checkpoint { signature: r.u64(), generation: r.u64() };
        if checkpoint.generation == 0 {
            return Err(DecodeError::Invalid("checkpoint generation"));
        }
        Ok(checkpoint)
    }
}

impl GenerationHeader {
    /// The generation header (512 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(GENERATION_MAGIC);
        w.u8(u8::from(self.closed)).u64(self.signature).bytes(&self.base_name).u64(self.generation);
        w.u32(self.record_count).u32(self.payload_bytes).u32(self.payload_crc);
        w.finish(GENERATION_HEADER_SIZE)
    }

    /// Decodes a generation header.
    pub fn decode(bytes: &[u8]) -> Result<GenerationHeader, DecodeError> {
        let mut r = Reader::open(bytes, GENERATION_MAGIC, GENERATION_FIELDS)?;
        let closed = match r.u8() {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("closed flag")),
        };
        let header = GenerationHeader {
            closed,
            signature: r.u64(),
            base_name: r.base_name(),
            generation: r.u64(),
            record_count: r.u32(),
            payload_bytes: r.u32(),
            payload_crc: r.u32(),
        };
        if header.generation == 0 {
            return Err(DecodeError::Invalid("generation"));
        }
        Ok(header)
    }
}

impl LogRecord {
    /// Encoded length of a record carrying `data_len` bytes.
    pub fn encoded_len(data_len: usize) -> usize {
        RECORD_OVERHEAD + data_len
    }

    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let len = u16::try_from(self.data.len()).expect("record data fits a page");
        out.extend_from_slice(&self.page.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Decodes the record at the start of `bytes`; returns it and its encoded length.
    /// `None` when the bytes do not hold a whole record with a valid checksum.
    pub fn decode(bytes: &[u8]) -> Option<(LogRecord, usize)> {
        let (index, total) = LogRecord::check(bytes)?;
        let page = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
        let offset = u16::from_le_bytes(bytes[4..6].try_into().expect("2 bytes"));
        Some((LogRecord { page, offset, index, data: bytes[12..total - 4].to_vec() }, total))
    }

    /// Checks the record at the start of `bytes` without copying it: its index and encoded
    /// length, or `None` exactly when [`LogRecord::decode`] would return `None`.
    pub fn check(bytes: &[u8]) -> Option<(u32, usize)> {
        if bytes.len() < RECORD_OVERHEAD {
            return None;
        }
        let offset = u16::from_le_bytes(bytes[4..6].try_into().expect("2 bytes"));
        let len = usize::from(u16::from_le_bytes(bytes[6..8].try_into().expect("2 bytes")));
        let index = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let total = RECORD_OVERHEAD + len;
        if bytes.len() < total || usize::from(offset) + len > DB_PAGE_DATA || len == 0 {
            return None;
        }
        let stored = u32::from_le_bytes(bytes[total - 4..total].try_into().expect("4 bytes"));
        if stored != crc32fast::hash(&bytes[..total - 4]) {
            return None;
        }
        Some((index, total))
    }
}

impl DbPage {
    /// An empty page `number` (zeros, LSN zero).
    pub fn empty(number: u32) -> DbPage {
        DbPage { number, lsn: Lsn::default(), data: Box::new([0u8; DB_PAGE_DATA]) }
    }

    /// The stored page (4 KiB).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DB_PAGE_SIZE);
        out.extend_from_slice(&self.number.to_le_bytes());
        out.extend_from_slice(&self.lsn.generation.to_le_bytes());
        out.extend_from_slice(&self.lsn.index.to_le_bytes());
        let mut hasher = Hasher::new();
        hasher.update(&out);
        hasher.update(&self.data[..]);
        out.extend_from_slice(&hasher.finalize().to_le_bytes());
        out.extend_from_slice(&self.data[..]);
        assert_eq!(out.len(), DB_PAGE_SIZE);
        out
    }

    /// Decodes a stored page expected to be page `number`. An all-zero page is an empty page.
    pub fn decode(number: u32, bytes: &[u8]) -> Result<DbPage, DecodeError> {
        if !DbPage::check(number, bytes)? {
            return Ok(DbPage::empty(number));
        }
        let lsn = Lsn {
            generation: u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")),
            index: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        };
        let mut data = Box::new([0u8; DB_PAGE_DATA]);
        data.copy_from_slice(&bytes[DB_PAGE_HEADER..]);
        Ok(DbPage { number, lsn, data })
    }

    /// Checks a stored page expected to be page `number` without copying it: `Ok(false)` for an
    /// empty (all-zero) page, `Ok(true)` for a valid one, the error [`DbPage::decode`] would give
    /// otherwise.
    pub fn check(number: u32, bytes: &[u8]) -> Result<bool, DecodeError> {
        assert_eq!(bytes.len(), DB_PAGE_SIZE);
        if bytes.iter().all(|b| *b == 0) {
            return Ok(false);
        }
        let stored = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        let mut hasher = Hasher::new();
        hasher.update(&bytes[..16]);
        hasher.update(&bytes[DB_PAGE_HEADER..]);
        if stored != hasher.finalize() {
            return Err(DecodeError::BadChecksum);
        }
        let stored_number = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
        if stored_number != number {
            return Err(DecodeError::Invalid("page number"));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_records_round_trip_and_detect_damage() {
        // Goal: each record decodes to what was encoded, and a flipped byte is reported as a bad
        // checksum, zeros as empty. Method: encode, decode, flip a field byte, decode again.
        let header = DatabaseHeader {
            signature: 0xfeed,
            state: ShutdownState::Dirty,
            log_required: Some((3, 7)),
            last_consistent_generation: 2,
            page_count: 64,
            base_name: *b"E00",
        };
        let mut bytes = header.encode();
        assert_eq!(DatabaseHeader::decode(&bytes), Ok(header));
        bytes[10] ^= 1;
        assert_eq!(DatabaseHeader::decode(&bytes), Err(DecodeError::BadChecksum));
        assert_eq!(DatabaseHeader::decode(&[0u8; DB_PAGE_SIZE]), Err(DecodeError::Empty));

        let generation = GenerationHeader {
            signature: 1,
            base_name: *b"E00",
            generation: 9,
            closed: true,
            record_count: 3,
            payload_bytes: 100,
            payload_crc: 77,
        };
        assert_eq!(GenerationHeader::decode(&generation.encode()), Ok(generation));
        let checkpoint = Checkpoint { signature: 1, generation: 4 };
        assert_eq!(Checkpoint::decode(&checkpoint.encode()), Ok(checkpoint));
        let superblock = LogSuperblock { signature: 1, base_name: *b"E00", slot_bytes: 16384, slot_count: 8 };
        assert_eq!(LogSuperblock::decode(&superblock.encode()), Ok(superblock));
        assert_eq!(Checkpoint::decode(&superblock.encode()), Err(DecodeError::BadMagic));
    }

    #[test]
    fn records_and_pages_round_trip() {
        // Goal: log records and pages decode to what was encoded; a damaged record is refused.
        let record = LogRecord { page: 5, offset: 10, index: 2, data: vec![1, 2, 3] };
        let mut out = Vec::new();
        record.encode_into(&mut out);
        assert_eq!(out.len(), LogRecord::encoded_len(3));
        assert_eq!(LogRecord::decode(&out), Some((record, out.len())));
        out[13] ^= 0xff;
        assert_eq!(LogRecord::decode(&out), None);

        let mut page = DbPage::empty(3);
        page.data[0] = 42;
        page.lsn = Lsn { generation: 2, index: 7 };
        let mut bytes = page.encode();
        assert_eq!(DbPage::decode(3, &bytes), Ok(page));
        assert_eq!(DbPage::decode(4, &bytes), Err(DecodeError::Invalid("page number")));
        bytes[100] ^= 1;
        assert_eq!(DbPage::decode(3, &bytes), Err(DecodeError::BadChecksum));
        assert_eq!(log_file_name(b"E00", 26), "E000000001A.log");
    }
}
