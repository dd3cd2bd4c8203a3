//! Verification that reuses what it found in the pages an image shares with the last image it
//! verified.
//!
//! Successive backups of a database are virtual copies of the same two volumes: they share every
//! 16 KiB page written in neither interval, and the simulator's persistent page map finds the
//! pages that differ in time proportional to their number ([`PageMap::for_each_change_in`]). A
//! [`VerifyMemo`] keeps a clone of the maps it last verified together with the per-page and
//! per-slot results; verifying the next image rescans only:
//! - database pages inside changed 16 KiB pages that may differ: when the new page is a
//!   copy-on-write copy of the old one, the simulator knows which 1 KiB blocks were written
//!   since the copy ([`Page::blocks_written_since`]); a database page with a written block is
//!   checked again and the others are not read at all (the old page is not read either: a
//!   written database page has almost always changed, and the old page is cold). Otherwise a
//!   `memcmp` against the old page decides (so a flushed neighbour does not cost a checksum),
//! - log slots touching a changed page, and within a generation only the records after the
//!   longest prefix whose bytes are unchanged (the generation's running CRC is kept at that
//!   point), so the current log costs its new records rather than its whole megabyte.
//!
//! Why it is sound: a held clone pins what it shares (see `simulator::page`): a page the memo's
//! map shares is never modified in place, so an unchanged identity means unchanged bytes, and a
//! copy of a held page differs from it only in the blocks written since the copy. The
//! database header, the log superblock and the checkpoint are read every time; a different
//! superblock or page count means a full scan. The verdict must equal [`super::verify_image`]'s
//! on the same bytes, every field of the report; the property test
//! `memo_agrees_with_full_verification` (tests/verify_memo.rs) holds it to that over random
//! workloads, corruptions, truncations and switches between unrelated images.
//!
//! Cost: memory for one image's page-map clone (pages it alone still holds stay allocated until
//! the next verification), and O(changed pages) work per verification instead of O(database +
//! logs).

use std::collections::{BTreeMap, BTreeSet};

use simulator::page::{PAGE_BLOCK_SIZE, PageRef, blocks_touched};
use simulator::{ArrayId, PAGE_SIZE, PageIndex, PageMap, Simulation};

use super::{
    ArrayVolume, DecodeError, LogScan, ReadAt, Resume, Scans, SlotFinding, VerifyReport, assemble_scan,
    read_log_prologue, scan_pages, scan_slot, verify,
};
use crate::exchange::layout::{
    DB_PAGE_SIZE, DbPage, GENERATION_HEADER_SIZE, LogSuperblock, db_page_offset, slot_offset,
};

const PAGE: u64 = PAGE_SIZE as u64;

/// The bytes of a page never written.
static ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// What the verifier found in the last image it verified, for [`VerifyMemo::verify_on_array`].
/// Empty at first; any image can follow any other (an unrelated one just shares nothing).
#[derive(Debug, Clone, Default)]
pub struct VerifyMemo {
    pages: Option<PagesMemo>,
    logs: Option<LogsMemo>,
}

#[derive(Debug, Clone)]
struct PagesMemo {
    map: PageMap,
    page_count: u32,
    damaged: BTreeMap<u32, DecodeError>,
}

#[derive(Debug, Clone)]
struct LogsMemo {
    map: PageMap,
    superblock: LogSuperblock,
    /// Per slot: the finding and where its generation check stopped.
    slots: Vec<(SlotFinding, Option<Resume>)>,
    /// The slots whose finding is not [`SlotFinding::Empty`], the only ones the scan is made of:
    /// a truncated log keeps a generation or two in its hundreds of slots, and reading every
    /// slot's finding to assemble the scan read them all from memory a backup's data had long
    /// since evicted.
    occupied: BTreeSet<u32>,
}

/// The slots of `slots` whose finding is not empty.
fn occupied(slots: &[(SlotFinding, Option<Resume>)]) -> BTreeSet<u32> {
    (0u32..)
        .zip(slots)
        .filter(|(_, (finding, _))| !matches!(finding, SlotFinding::Empty))
        .map(|(slot, _)| slot)
        .collect()
}

impl VerifyMemo {
    /// An empty memo (its first verification scans everything).
    pub fn new() -> VerifyMemo {
        VerifyMemo::default()
    }

    /// Verifies `db_volume` with `log_volume` on `array`: the same report as
    /// [`super::verify_image`] over [`ArrayVolume`]s of the two, computed from the pages that
    /// changed since the last verification through this memo.
    ///
    /// Errors: as [`super::verify_image`] (`ARRAY_OFFLINE`, `NON_EXISTENT_VOL`). After an error
    /// the memo forgets what it held (the next verification scans everything).
    pub fn verify_on_array(
        &mut self,
        sim: &Simulation,
        array: ArrayId,
        db_volume: &str,
        log_volume: &str,
    ) -> Result<VerifyReport, simulator::Error> {
        let db = ArrayVolume::new(sim, array, db_volume)?;
        let log = ArrayVolume::new(sim, array, log_volume)?;
        let a = sim.array(array);
        let mut scans =
            MemoScans { memo: self, db_map: a.volume(db_volume)?.pages(), log_map: a.volume(log_volume)?.pages() };
        let report = verify(&db, Some(&log), &mut scans);
        if report.is_err() {
            *self = VerifyMemo::default();
        }
        report
    }
}

/// The memoised scans over one image's maps.
struct MemoScans<'a> {
    memo: &'a mut VerifyMemo,
    db_map: &'a PageMap,
    log_map: &'a PageMap,
}

impl Scans for MemoScans<'_> {
    fn pages(&mut self, db: &dyn ReadAt, page_count: u32) -> Result<Vec<(u32, DecodeError)>, simulator::Error> {
        let damaged = match self.memo.pages.take() {
            Some(old) if old.page_count == page_count => rescan_pages(&old, self.db_map),
            _ => scan_pages(db, page_count)?.into_iter().collect(),
        };
        let found = damaged.iter().map(|(page, reason)| (*page, *reason)).collect();
        self.memo.pages = Some(PagesMemo { map: self.db_map.clone(), page_count, damaged });
        Ok(found)
    }

    fn logs(&mut self, log: &dyn ReadAt) -> Result<Result<LogScan, DecodeError>, simulator::Error> {
        let (superblock, checkpoint) = match read_log_prologue(log)? {
            Ok(prologue) => prologue,
            Err(reason) => return Ok(Err(reason)),
        };
        let (slots, occupied) = match self.memo.logs.take() {
            Some(mut old) if old.superblock == superblock => {
                rescan_slots(log, &mut old, self.log_map)?;
                (old.slots, old.occupied)
            }
            _ => {
                let mut slots = Vec::with_capacity(superblock.slot_count as usize);
                for slot in 0..superblock.slot_count {
                    slots.push(scan_slot(log, &superblock, slot, None)?);
                }
                let occupied = occupied(&slots);
                (slots, occupied)
            }
        };
        let scan = assemble_scan(superblock, checkpoint, occupied.iter().map(|&slot| (slot, slots[slot as usize].0)));
        self.memo.logs = Some(LogsMemo { map: self.log_map.clone(), superblock, slots, occupied });
        Ok(Ok(scan))
    }
}

/// Page `index` of an old and a new map, and the blocks where they may differ when the new
/// page is known to be a copy of the old one (see [`Page::blocks_written_since`]; the memo
/// holds the old map, as that requires).
struct PagePair<'a> {
    old: &'a [u8],
    new: &'a [u8],
    written: Option<u16>,
}

impl<'a> PagePair<'a> {
    /// The pair of an old and a new page as a diff hands them over (`None`: absent).
    fn from_pages(old_page: Option<PageRef<'a>>, new_page: Option<PageRef<'a>>) -> PagePair<'a> {
        let written = match (old_page, new_page) {
            (Some(old_page), Some(new_page)) => new_page.blocks_written_since(old_page),
            _ => None,
        };
        PagePair {
            old: old_page.map_or(&ZEROS[..], PageRef::bytes),
            new: new_page.map_or(&ZEROS[..], PageRef::bytes),
            written,
        }
    }

    /// Whether bytes `from..to` (within the page, non-empty) may differ, for a database page (a
    /// checksum decides what it holds, so a false "may differ" costs a checksum, never a wrong
    /// verdict). When the new page is a known copy of the old one, any block of the range written
    /// since the copy answers yes without reading the old page: the Exchange model writes a
    /// database page whole when it flushes it, after changing it, so a byte comparison would find
    /// the difference in its header anyway, but only after loading the old page's first cache
    /// line, cold since the last backup read it. Otherwise the bytes are compared (so a flushed
    /// neighbour, when provenance is unknown, does not cost a checksum).
    fn may_differ(&self, from: usize, to: usize) -> bool {
        match self.written {
            Some(written) => written & blocks_touched(from, to) != 0,
            None => self.old[from..to] != self.new[from..to],
        }
    }

    /// Whether bytes `from..to` (within the page, non-empty) are the same in both. When the new
    /// page is a known copy of the old one, only the parts of `from..to` in blocks written since
    /// the copy are compared (the rest are equal by provenance); otherwise all of it is. A log
    /// generation's unchanged prefix ends in the block its next records went to, so this reads
    /// a block or two of the old page (cold: last read one backup earlier) instead of up to the
    /// whole 16 KiB.
    fn same(&self, from: usize, to: usize) -> bool {
        let Some(written) = self.written else {
            return self.old[from..to] == self.new[from..to];
        };
        let mut dirty = written & blocks_touched(from, to);
        while dirty != 0 {
            let block = dirty.trailing_zeros() as usize;
            dirty &= dirty - 1;
            let start = from.max(block * PAGE_BLOCK_SIZE);
            let end = to.min((block + 1) * PAGE_BLOCK_SIZE);
            if self.old[start..end] != self.new[start..end] {
                return false;
            }
        }
        true
    }
}

/// The damaged-page map of `old` brought to `map`: database pages in changed 16 KiB pages are
/// checked again when their bytes differ.
fn rescan_pages(old: &PagesMemo, map: &PageMap) -> BTreeMap<u32, DecodeError> {
    let mut damaged = old.damaged.clone();
    let db_end = db_page_offset(old.page_count);
    let range = PageIndex(0)..PageIndex(db_end.div_ceil(PAGE));
    map.for_each_change_in(&old.map, range, |index, old_page, new_page| {
        let index = index.0;
        let pair = PagePair::from_pages(old_page, new_page);
        // Database page n lives at (n + 1) * 4 KiB: four per 16 KiB page, the header first.
        let first_byte = (index * PAGE).max(db_page_offset(0));
        let end_byte = ((index + 1) * PAGE).min(db_end);
        let mut at = first_byte;
        while at < end_byte {
            let number = (at / DB_PAGE_SIZE as u64 - 1) as u32;
            let within = (at - index * PAGE) as usize;
            if pair.may_differ(within, within + DB_PAGE_SIZE) {
                let bytes = &pair.new[within..within + DB_PAGE_SIZE];
                damaged.remove(&number);
                if let Err(reason) = DbPage::check(number, bytes) {
                    damaged.insert(number, reason);
                }
            }
            at += DB_PAGE_SIZE as u64;
        }
    });
    damaged
}

/// The slot findings of `old` brought to `map`: slots touching a changed page are scanned
/// again, resuming a generation check after its longest unchanged prefix; `old.occupied`
/// follows each rescanned slot's finding.
fn rescan_slots(log: &dyn ReadAt, old: &mut LogsMemo, map: &PageMap) -> Result<(), simulator::Error> {
    let superblock = old.superblock;
    let slot_bytes = u64::from(superblock.slot_bytes);
    let slots_start = slot_offset(superblock.slot_bytes, 0);
    let slots_end = slot_offset(superblock.slot_bytes, superblock.slot_count);
    let range = PageIndex(slots_start / PAGE)..PageIndex(slots_end.div_ceil(PAGE));
    // Per slot touching a changed page: whether the prefix its last check resumed after still
    // reads the same. Decided as the diff hands each changed page over with both sides, so no
    // page is looked up again in either map.
    let mut affected: BTreeMap<u32, bool> = BTreeMap::new();
    map.for_each_change_in(&old.map, range, |index, old_page, new_page| {
        let index = index.0;
        let pair = PagePair::from_pages(old_page, new_page);
        let (page_start, page_end) = ((index * PAGE).max(slots_start), ((index + 1) * PAGE).min(slots_end));
        let (first, last) = ((page_start - slots_start) / slot_bytes, (page_end - 1 - slots_start) / slot_bytes);
        for slot in first as u32..=last as u32 {
            let intact = affected.entry(slot).or_insert(true);
            let Some(resume) = &old.slots[slot as usize].1 else { continue };
            let payload_at = slot_offset(superblock.slot_bytes, slot) + GENERATION_HEADER_SIZE as u64;
            let (start, end) = (payload_at.max(page_start), (payload_at + u64::from(resume.at)).min(page_end));
            if *intact && start < end {
                *intact = pair.same((start - index * PAGE) as usize, (end - index * PAGE) as usize);
            }
        }
    });
    for (slot, intact) in affected {
        let resume = old.slots[slot as usize].1.as_ref().filter(|_| intact);
        let rescanned = scan_slot(log, &superblock, slot, resume)?;
        if matches!(rescanned.0, SlotFinding::Empty) {
            old.occupied.remove(&slot);
        } else {
            old.occupied.insert(slot);
        }
        old.slots[slot as usize] = rescanned;
    }
    Ok(())
}
