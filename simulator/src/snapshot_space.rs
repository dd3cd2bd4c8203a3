//! Snapshot space: what copy-on-write keeps for a volume's virtual copies, the limits on it, and
//! what a write does when it would pass them (spec §3 "Snapshot space failure policy", §7.1
//! invariant 8, `stale_ss` / `no_stale_ss`).
//!
//! Unit: the model's page (16 KiB). A tree's snapshot space is the number of distinct
//! (page index, page) pairs that a valid virtual copy of the tree holds and its base volume does
//! not hold at that index: the old versions of the base's pages that only copies keep, plus what
//! read-write copies wrote themselves. A write needs new snapshot space where it replaces a page
//! a copy shares (the old page becomes held by copies only) or writes into a copy.
//!
//! Limits, both optional: the base volume's `ssSpcAllocLimitPct` (`alerts.snapshot_limit_pct`,
//! percent of the base's size, 0 = none) bounds the tree's snapshot space; the growth limit of
//! the base's snapshot CPG (`growthLimitMiB`) bounds the CPG's user space (as
//! `grow_volume` counts it: fully provisioned sizes and written thin pages) plus the snapshot
//! space of every tree whose base draws its snapshot space from it.
//! A write that would need snapshot space beyond a limit is a snapshot-space failure:
//! - on a base with `stale_ss` (the default) the write succeeds and every virtual copy of the
//!   tree becomes stale (3PAR invalidates a volume's snapshots, which share one snapshot data
//!   area; a copy that did not share the written page may still depend on one that did): its
//!   data is discarded, reads, exports, copies and promotes of it are refused with
//!   `INV_OPERATION_VV_SNAPSHOT_STALE`, it can still be deleted or refreshed;
//! - on a base with `no_stale_ss` the write fails with `NO_SPACE` and changes nothing;
//! - a write into a read-write virtual copy fails with `NO_SPACE` whatever the policy: the
//!   policy is about base writes, and making the written copy stale would lose the write.
//!
//! User space is checked beside it: a thin base volume's write that allocates pages not yet
//! written is refused with `NO_SPACE` (changing nothing) past the volume's
//! `usrSpcAllocLimitPct` or its user CPG's growth limit, the new pages and the snapshot space
//! the same write needs counted together against a growth limit they share
//! ([`ArrayMut::check_user_space`]).
//!
//! Remote Copy's applies on a secondary (synchronous mirroring, the steps of a transfer) are not
//! checked: replication is never refused for the secondary's snapshot space. They keep the
//! secondary's count all the same ([`Array::write_unchecked`]), so an array that is primary for
//! some groups and secondary for others, both drawing snapshot space from one CPG with a growth
//! limit, does not scan the secondary trees again at each checked host write: per page applied,
//! the count gains one if a copy held the base's old page and loses one if a copy holds the new
//! one (a page shared from the other array may already be held by a copy); two look-ups in the
//! copies per page applied, the order of a checked write's cost. The undo of a failed
//! synchronous write on the source (`fail_wrt_on_err`) keeps it the same way. Remote Copy's other
//! changes of a tree (a failed periodic sync's or a failover's return of the base to its
//! pre-sync snapshot: the whole map replaced) forget the count, made again at the next checked
//! write.
//!
//! Main design choice: the count is kept per tree, on the base volume, and only for trees a
//! limit applies to. It is made by a scan of the tree (each valid copy diffed against the base:
//! O(snapshot pages × depth)) the first time a checked write needs it, then kept by each
//! checked write: per page written, a look-up of that page in the valid copies of the tree,
//! newest first, until one holds it (O(pages × copies × depth) at worst, usually one copy per
//! page). Remote Copy's applies keep it too (see above); anything else that changes a tree's
//! pages (promote, refresh, Remote Copy's other changes, physical copies, fills) forgets the
//! count. The type system holds this: a volume's page map is private to `volume`, and outside
//! it a change goes through `Array::replace_pages` or `Array::change_pages` (which forget
//! the count) or, for the changes this module accounts itself, `Volume::pages_mut_accounted`.
//! Deleting a copy keeps it (per page where the copy differs from the base, a look-up in
//! the other copies). A write into a tree no limit applies to (the default) costs what it did
//! before: a check of the base's copy count, its alert and its snapshot CPG's growth limit. A
//! write checked against a CPG growth limit also passes over the base volumes whose user or
//! snapshot CPG is that CPG (an index by CPG, `Array::cpg_base_volumes`: not the copies, nor
//! the volume table's empty slots, nor the base volumes of other CPGs; no page visited, except
//! to count a tree whose count was forgotten). The count is a cache: it is not
//! shown in `Debug` (so not in the digest), and `invariants::snapshot_space_accounting` holds
//! every kept count to a scan.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use crate::array::{Array, ArrayMut};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{CpgId, VolumeId};
use crate::page::{PAGE_SIZE_U64, PAGES_PER_MIB, PageIndex, PageMap, PageRef, pages_spanned};
use crate::volume::{Volume, VolumeKind};

/// A tree's snapshot space in pages, as last counted, kept on its base volume; `None` when not
/// counted since the tree last changed other than by a checked write.
///
/// A cache of what [`Array::snapshot_space_pages`] computes: `Debug` prints no value, so two
/// states that differ only in what was counted have the same digest.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SnapshotPagesCount(pub(crate) Option<u64>);

impl fmt::Debug for SnapshotPagesCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SnapshotPagesCount")
    }
}

/// The limits that apply to one tree's snapshot space, in pages.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// From the base's `ssSpcAllocLimitPct`.
    volume_pages: Option<u64>,
    /// The base's snapshot CPG and its growth limit.
    cpg: Option<(CpgId, u64)>,
}

/// User space a write allocates in a CPG with a growth limit, from
/// [`ArrayMut::check_user_space`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allocation {
    /// The volume's user CPG.
    cpg: CpgId,
    /// Pages the write allocates.
    pages: u64,
    /// What the CPG's growth limit is checked against before the write, in pages.
    cpg_in_use: u64,
}

/// The error a read, export, copy or promote of a stale copy gets.
pub(crate) fn stale_error(volume: &Volume, what: &str) -> Error {
    Error::new(
        ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE,
        format!("cannot {what} '{}': the virtual copy is stale (its snapshot space ran out)", volume.name),
    )
}

impl Volume {
    /// Whether this virtual copy is stale: a snapshot-space failure under `stale_ss` discarded
    /// its data (it then holds no pages). Always false for a base volume.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Refuses `what` on a stale copy with `INV_OPERATION_VV_SNAPSHOT_STALE`.
    pub fn check_not_stale(&self, what: &str) -> Result<()> {
        if self.stale {
            return Err(stale_error(self, what));
        }
        Ok(())
    }
}

impl Array {
    /// The snapshot space of the tree of base volume `base`, in pages (see the module doc),
    /// counted now by a scan of the tree: each valid copy diffed against the base.
    ///
    /// Panics if `base` is not a volume of this array.
    pub fn snapshot_space_pages(&self, base: VolumeId) -> u64 {
        let copies = self.valid_tree_copies(base);
        self.count_snapshot_pages(base, &copies)
    }

    /// What the growth limit of `cpg` is checked against (see the module doc), in pages,
    /// counted now: the user space of the base volumes in it plus the snapshot space of every
    /// tree whose base draws snapshot space from it (each tree scanned).
    pub fn cpg_growth_pages_used(&self, cpg: CpgId) -> u64 {
        self.cpg_pages_used(cpg, |base| self.snapshot_space_used_pages(base.id))
    }

    /// [`Array::cpg_growth_pages_used`] in MiB, rounded up: what the growth limit of `cpg`
    /// (in MiB) is compared with.
    pub fn cpg_growth_mib_used(&self, cpg: CpgId) -> u64 {
        crate::page::pages_to_mib(self.cpg_growth_pages_used(cpg))
    }

    /// The snapshot space of the tree of base volume `base`, in pages, as the WSAPI and
    /// [`Array::cpg_usage`] report it: the kept count when there is one (it equals
    /// [`Array::snapshot_space_pages`]'s scan, `invariants::snapshot_space_accounting`), else
    /// that scan; 0 for a volume without copies.
    ///
    /// Panics if `base` is not a volume of this array.
    pub fn snapshot_space_used_pages(&self, base: VolumeId) -> u64 {
        let volume = self.vol(base);
        if volume.family_copies == 0 {
            return 0;
        }
        volume.snapshot_pages.0.unwrap_or_else(|| self.snapshot_space_pages(base))
    }

    /// The snapshot space drawn from `cpg`, in pages: that of every tree whose base volume has
    /// `cpg` as its snapshot CPG (what the CPG's growth limit counts beside its user space).
    pub fn cpg_snapshot_pages(&self, cpg: CpgId) -> u64 {
        self.cpg_base_volumes(cpg)
            .filter(|v| v.snap_cpg() == Some(cpg))
            .map(|v| self.snapshot_space_used_pages(v.id))
            .sum()
    }

    /// The valid (not stale) virtual copies in the tree of `base`, in tree order.
    fn valid_tree_copies(&self, base: VolumeId) -> Vec<VolumeId> {
        let mut copies = self.tree_copies(base);
        copies.retain(|id| !self.vol(*id).stale);
        copies
    }

    /// Every virtual copy in the tree of `base`, parents before their children.
    pub(crate) fn tree_copies(&self, base: VolumeId) -> Vec<VolumeId> {
        let mut copies: Vec<VolumeId> = self.vol(base).children.iter().copied().collect();
        let mut next = 0;
        // Bounded: each copy is listed once, and a tree has at most `family_copies` of them.
        while next < copies.len() {
            let id = copies[next];
            copies.extend(self.vol(id).children.iter().copied());
            next += 1;
        }
        assert_eq!(copies.len() as u64, u64::from(self.vol(base).family_copies), "tree bookkeeping");
        copies
    }

    /// The scan behind [`Array::snapshot_space_pages`]: distinct (index, page) pairs the copies
    /// hold where the base does not hold that page.
    fn count_snapshot_pages(&self, base: VolumeId, copies: &[VolumeId]) -> u64 {
        let base_pages = self.vol(base).pages();
        // Page addresses only tell pages apart (all are alive during the scan); the set's order
        // reaches nothing but its size.
        let mut held = BTreeSet::new();
        for copy in copies {
            self.vol(*copy).pages().for_each_change_in(
                base_pages,
                PageIndex(0)..PageIndex(u64::MAX),
                |index, _, page| {
                    if let Some(page) = page {
                        held.insert((index.0, page.addr()));
                    }
                },
            );
        }
        held.len() as u64
    }

    /// The limits that apply to the tree of `base`, or `None` when none does.
    fn snapshot_space_limits(&self, base: &Volume) -> Option<Limits> {
        let pct = u64::from(base.alerts.snapshot_limit_pct);
        let volume_pages = (pct != 0).then(|| base.size_bytes() * pct / 100 / PAGE_SIZE_U64);
        let cpg = self.growth_limit_pages(base.snap_cpg());
        (volume_pages.is_some() || cpg.is_some()).then_some(Limits { volume_pages, cpg })
    }

    /// CPG `cpg` and its growth limit in pages, if it has one.
    fn growth_limit_pages(&self, cpg: Option<CpgId>) -> Option<(CpgId, u64)> {
        let cpg = self.cpgs.get(cpg?)?;
        cpg.growth_limit_mib.map(|limit| (cpg.id, limit.saturating_mul(PAGES_PER_MIB)))
    }

    /// New snapshot pages a write of `len` bytes at `offset` into volume `id` needs (see the
    /// module doc): per page written, whether the old page becomes held by copies only (a base
    /// write) or whether the written copy's page is a new one (a copy write).
    fn snapshot_pages_needed(&self, id: VolumeId, base: VolumeId, offset: u64, len: u64) -> u64 {
        let base_pages = self.vol(base).pages();
        let held_by_copy = |index: PageIndex, except: VolumeId, page| self.held_by_copy(base, index, except, page);
        let mut needed = 0;
        for index in pages_spanned(offset, len).map(PageIndex) {
            if id == base {
                if base_pages.page(index).is_some_and(|old| held_by_copy(index, base, old)) {
                    needed += 1;
                }
            } else {
                // The copy's new page is snapshot space; its old one stops being so when nothing
                // else of the tree holds it (net 0 for a page the copy alone held).
                let old = self.vol(id).pages().page(index);
                let freed = old.is_some_and(|old| {
                    !base_pages.page(index).is_some_and(|b| b.same_as(old)) && !held_by_copy(index, id, old)
                });
                if !freed {
                    needed += 1;
                }
            }
        }
        needed
    }

    /// Whether a valid copy below `parent` other than `except` holds `page` at `index`.
    /// Depth first, newest child first, stopping at the first holder: the newest copies are the
    /// likeliest to still share the base's page, so a write into a tree of many copies usually
    /// looks at one (recursion bounded by the tree's depth).
    fn held_by_copy(&self, parent: VolumeId, index: PageIndex, except: VolumeId, page: PageRef<'_>) -> bool {
        self.vol(parent).children.iter().rev().any(|child| {
            let copy = self.vol(*child);
            let holds = *child != except && !copy.stale && copy.pages().page(index).is_some_and(|p| p.same_as(page));
            holds || self.held_by_copy(*child, index, except, page)
        })
    }

    /// Keeps the count of the tree of virtual copy `copy`, which is about to be removed: the
    /// pages it alone held stop being snapshot space (per page where it differs from the base,
    /// a look-up in each other valid copy), instead of forgetting the count and scanning the
    /// tree at the next checked write.
    pub(crate) fn release_snapshot_space(&mut self, copy: VolumeId) {
        let volume = self.vol(copy);
        let VolumeKind::VirtualCopy { base, .. } = volume.kind else { return };
        let Some(count) = self.vol(base).snapshot_pages.0 else { return };
        if volume.stale {
            return;
        }
        let mut freed = 0;
        let everything = PageIndex(0)..PageIndex(u64::MAX);
        volume.pages().for_each_change_in(self.vol(base).pages(), everything, |index, _, page| {
            if let Some(page) = page
                && !self.held_by_copy(base, index, copy, page)
            {
                freed += 1;
            }
        });
        assert!(freed <= count, "a copy frees at most its tree's count");
        self.vol_mut(base).snapshot_pages = SnapshotPagesCount(Some(count - freed));
    }

    /// User space in `cpg` (fully provisioned sizes and written thin pages of its base volumes)
    /// plus the snapshot space of the trees whose base draws snapshot space from it, in pages;
    /// `counts` gives each such tree's count.
    fn cpg_pages_used(&self, cpg: CpgId, mut count: impl FnMut(&Volume) -> u64) -> u64 {
        let mut used = 0;
        for volume in self.cpg_base_volumes(cpg) {
            if volume.user_cpg() == Some(cpg) {
                used += volume.user_space_pages();
            }
            if volume.snap_cpg() == Some(cpg) && volume.family_copies != 0 {
                used += count(volume);
            }
        }
        used
    }
}

impl ArrayMut<'_> {
    /// Checks that a write of `len` bytes at `offset` into volume `id` has the snapshot space it
    /// needs, and keeps the tree's count (see the module doc). On a snapshot-space failure of a
    /// base with `stale_ss`, makes the tree's copies stale and lets the write go on.
    ///
    /// `allocating` is the user space the same write allocates in a CPG with a growth limit
    /// ([`ArrayMut::check_user_space`]): counted with the snapshot space against a limit they
    /// share, from the CPG's use that check already counted.
    ///
    /// Errors: `NO_SPACE` (a base with `no_stale_ss`, or a read-write copy, past a limit); the
    /// model is then unchanged.
    pub(crate) fn charge_snapshot_space(
        &mut self,
        id: VolumeId,
        offset: u64,
        len: u64,
        allocating: Option<Allocation>,
    ) -> Result<()> {
        let base = self.vol(id).base_id();
        let Some(limits) = self.snapshot_space_limits(self.vol(base)) else {
            // Unchecked writes do not keep the count: forget it, so a limit set later recounts.
            if self.vol(base).snapshot_pages.0.is_some() {
                self.array.vol_mut(base).snapshot_pages = SnapshotPagesCount(None);
            }
            return Ok(());
        };
        let used = self.counted_snapshot_pages(base);
        let needed = self.snapshot_pages_needed(id, base, offset, len);
        if needed == 0 {
            return Ok(());
        }
        let over_volume = limits.volume_pages.filter(|limit| used + needed > *limit);
        let over_cpg = match limits.cpg {
            Some((cpg, limit)) => {
                let in_use = match allocating {
                    Some(a) if a.cpg == cpg => a.cpg_in_use + a.pages,
                    _ => self.cpg_pages_counted(cpg),
                };
                (in_use + needed > limit).then_some((cpg, limit))
            }
            None => None,
        };
        if over_volume.is_none() && over_cpg.is_none() {
            self.array.vol_mut(base).snapshot_pages = SnapshotPagesCount(Some(used + needed));
            return Ok(());
        }
        let why = match (over_volume, over_cpg) {
            (Some(limit), _) => format!(
                "its tree's snapshot space limit ({}% = {limit} pages, {used} used)",
                self.vol(base).alerts.snapshot_limit_pct
            ),
            (None, Some((cpg, limit))) => {
                format!("the growth limit of snapshot CPG '{}' ({limit} pages)", self.cpg_name(cpg))
            }
            (None, None) => unreachable!("one limit is passed"),
        };
        let (name, base_volume) = (&self.vol(id).name, self.vol(base));
        if id != base || !base_volume.policies.stale_ss {
            let policy = if id == base { "no_stale_ss: the base write fails" } else { "a virtual copy's own write" };
            return Err(Error::new(
                ErrorCode::NO_SPACE,
                format!("write to '{name}' needs {needed} new snapshot pages beyond {why}; {policy}"),
            ));
        }
        let detail = format!("write to '{name}' needs {needed} new snapshot pages beyond {why}");
        self.make_tree_stale(base, &detail);
        Ok(())
    }

    /// Checks that a write of `len` bytes at `offset` into thin base volume `id` can allocate
    /// the user space it needs: its pages not written yet, bounded by the volume's
    /// `usrSpcAllocLimitPct` (`alerts.user_limit_pct`, percent of its size, 0 = none) and by the
    /// growth limit of its user CPG (the CPG's user space plus the snapshot space drawn from
    /// it). Changes nothing but cached counts. Returns what the write allocates when a growth
    /// limit applies (for the snapshot-space check of the same write), else `None`.
    ///
    /// Cost when no limit applies: a load of the alert and a CPG look-up. Otherwise a look-up
    /// per page written, and for a growth limit the pass over the CPG's base volumes of
    /// [`Array::cpg_pages_used`].
    ///
    /// Errors: `NO_SPACE`.
    pub(crate) fn check_user_space(&mut self, id: VolumeId, offset: u64, len: u64) -> Result<Option<Allocation>> {
        let volume = self.vol(id);
        if len == 0 || volume.provisioning == crate::volume::Provisioning::Full || volume.is_virtual_copy() {
            return Ok(None);
        }
        let pct = u64::from(volume.alerts.user_limit_pct);
        let cpg_limit = self.growth_limit_pages(volume.user_cpg());
        if pct == 0 && cpg_limit.is_none() {
            return Ok(None);
        }
        let new =
            pages_spanned(offset, len).filter(|index| volume.pages().page(PageIndex(*index)).is_none()).count() as u64;
        if new == 0 {
            return Ok(None);
        }
        let name = &volume.name;
        if pct != 0 {
            let limit = volume.size_bytes() * pct / 100 / PAGE_SIZE_U64;
            let used = volume.pages().page_count();
            if used + new > limit {
                return Err(Error::new(
                    ErrorCode::NO_SPACE,
                    format!(
                        "write to '{name}' needs {new} new pages beyond its user space limit ({pct}% = {limit} pages, {used} used)"
                    ),
                ));
            }
        }
        let Some((cpg, limit)) = cpg_limit else { return Ok(None) };
        let name = name.clone();
        let in_use = self.cpg_pages_counted(cpg);
        if in_use + new > limit {
            return Err(Error::new(
                ErrorCode::NO_SPACE,
                format!(
                    "write to '{name}' needs {new} new pages beyond the growth limit of user CPG '{}' ({limit} pages, {in_use} used)",
                    self.cpg_name(cpg)
                ),
            ));
        }
        Ok(Some(Allocation { cpg, pages: new, cpg_in_use: in_use }))
    }

    /// The kept count of the tree of `base`, counted now (and kept) if it was forgotten.
    fn counted_snapshot_pages(&mut self, base: VolumeId) -> u64 {
        if let Some(count) = self.vol(base).snapshot_pages.0 {
            return count;
        }
        let count = self.snapshot_space_pages(base);
        self.array.vol_mut(base).snapshot_pages = SnapshotPagesCount(Some(count));
        count
    }

    /// [`Array::cpg_pages_used`] with each tree's kept count, counting (and keeping) forgotten
    /// ones.
    fn cpg_pages_counted(&mut self, cpg: CpgId) -> u64 {
        let forgotten: Vec<VolumeId> = self
            .cpg_base_volumes(cpg)
            .filter(|v| v.snap_cpg() == Some(cpg) && v.family_copies != 0 && v.snapshot_pages.0.is_none())
            .map(|v| v.id)
            .collect();
        for base in forgotten {
            self.counted_snapshot_pages(base);
        }
        self.cpg_pages_used(cpg, |base| base.snapshot_pages.0.expect("counted above"))
    }

    fn cpg_name(&self, cpg: CpgId) -> String {
        self.cpgs.get(cpg).map_or_else(|| format!("#{}", cpg.0), |c| c.name.clone())
    }

    /// Makes every virtual copy of the tree of `base` stale: its data is discarded.
    fn make_tree_stale(&mut self, base: VolumeId, detail: &str) {
        for copy in self.tree_copies(base) {
            let volume = self.array.vol_mut(copy);
            volume.stale = true;
            *volume.pages_mut_accounted() = PageMap::new();
        }
        self.array.vol_mut(base).snapshot_pages = SnapshotPagesCount(Some(0));
        let base_name = self.vol(base).name.clone();
        self.trace("copy", format_args!("virtual copies of {base_name} are stale (stale_ss): {detail}"));
    }
}

impl Array {
    /// Forgets the kept snapshot-space count of the tree `volume` belongs to (its pages changed
    /// other than by a checked write). Nothing to do for a volume not in the array any more.
    pub(crate) fn forget_snapshot_space(&mut self, volume: VolumeId) {
        let Some(base) = self.volume_by_id(volume).map(Volume::base_id) else { return };
        if let Some(base) = self.volumes.get_mut(base) {
            base.snapshot_pages = SnapshotPagesCount(None);
        }
    }

    /// Changes the pages of volume `id` by `write`, which changes none outside `pages` (page
    /// indexes): a write not checked against any limit (Remote Copy's applies on a secondary:
    /// replication is never refused for snapshot space; its undo of a failed synchronous write
    /// on the source), keeping the tree's count when one is kept. Nothing to do for a volume not
    /// in the array any more.
    ///
    /// At each index, the tree's snapshot space holds the distinct pages valid copies keep there
    /// other than the base's page; so whatever the write does there (a new page, a page shared
    /// from the other array that a copy may already hold, the same page again, a page removed),
    /// the count changes by whether a copy held the base's page before, less whether one holds
    /// it after. Cost: per page in `pages`, two look-ups in the valid copies of the tree
    /// ([`Array::held_by_copy`], stopping at the first holder: usually one copy for an old page
    /// a copy shares, every copy for a new page none holds), O(pages × copies × depth) at worst:
    /// the order of a checked write of those pages, for applies that handle every page anyway
    /// (a synchronous write carried its bytes from the host; a transfer step applies at most 64
    /// pages one by one). So bulk applies keep the count too: a scan instead would cost the
    /// tree's whole snapshot space at the next checked write after each apply. Without a kept
    /// count, or on a tree without copies, just the write.
    pub(crate) fn write_unchecked(&mut self, id: VolumeId, pages: Range<u64>, write: impl FnOnce(&mut PageMap)) {
        let Some(volume) = self.volumes.get(id) else { return };
        let base = volume.base_id();
        let kept = self.vol(base).snapshot_pages.0.filter(|_| self.vol(base).family_copies != 0);
        if kept.is_some() && id != base {
            // A copy's write (Remote Copy writes only base volumes): count the tree again.
            self.forget_snapshot_space(id);
        }
        let kept = kept.filter(|_| id == base);
        let shared_before = kept.map(|_| self.base_pages_held_by_copies(base, pages.clone()));
        write(self.vol_mut(id).pages_mut_accounted());
        if let (Some(count), Some(before)) = (kept, shared_before) {
            let after = self.base_pages_held_by_copies(base, pages);
            let count = (count + before).checked_sub(after).expect("a count covers the base pages copies hold");
            self.vol_mut(base).snapshot_pages = SnapshotPagesCount(Some(count));
        }
    }

    /// How many indexes of `pages` hold a page of base volume `base` that a valid copy of its
    /// tree holds too.
    fn base_pages_held_by_copies(&self, base: VolumeId, pages: Range<u64>) -> u64 {
        let base_pages = self.vol(base).pages();
        let held = pages
            .map(PageIndex)
            .filter(|index| base_pages.page(*index).is_some_and(|page| self.held_by_copy(base, *index, base, page)));
        held.count() as u64
    }

    /// The kept count of the tree of `base`, if any (for the accounting invariant).
    pub(crate) fn kept_snapshot_pages(&self, base: VolumeId) -> Option<u64> {
        self.vol(base).snapshot_pages.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::page::{PAGE_SIZE, PAGE_SIZE_U64};
    use crate::remote_copy::{AdmitSpec, GroupPolicies, GroupSpec, Mode, StartOptions, SyncOptions};
    use crate::{
        ArrayId, CpgSpec, Direction, ErrorCode, Fault, Simulation, SnapshotSpec, VolumeId, VolumeSpec, invariants,
    };

    /// Array A replicates `db` (64 written pages) to B in `mode` with `policies`, started and
    /// synced; on both arrays CPG `SNAP` (a growth limit far away) is the snapshot CPG of `db`.
    fn replicated_db(mode: Mode, policies: GroupPolicies) -> (Simulation, ArrayId, ArrayId) {
        let mut sim = Simulation::new(11);
        let (a, b) = (sim.primary(), sim.backup());
        for array in [a, b] {
            sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
            let snap = CpgSpec { name: "SNAP".into(), growth_limit_mib: Some(1024), ..CpgSpec::default() };
            sim.array_mut(array).create_cpg(snap).unwrap();
        }
        let mut db = VolumeSpec::thin("db", "FC", 256);
        db.snap_cpg = Some("SNAP".into());
        sim.array_mut(a).create_volume(db).unwrap();
        sim.write(a, "db", 0, &vec![0xd0; 64 * PAGE_SIZE]).unwrap();
        let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
        let spec = GroupSpec {
            remote_user_cpg: Some("FC".into()),
            remote_snap_cpg: Some("SNAP".into()),
            policies: Some(policies),
            ..GroupSpec::new("rcg", &target, mode)
        };
        sim.remote_copy().create_group(a, spec).unwrap();
        let admit =
            AdmitSpec { volume: "db".into(), secondary: "db".into(), auto_create: true, ..AdmitSpec::default() };
        sim.remote_copy().admit_volume(a, "rcg", admit).unwrap();
        sim.remote_copy().start_group(a, "rcg", &StartOptions::default()).unwrap();
        settle(&mut sim);
        (sim, a, b)
    }

    /// [`replicated_db`], and on B a copy of the secondary `db` and a local volume `local`
    /// drawing snapshot space from `SNAP` too, with a copy: a checked write to `local` has
    /// counted both trees. Returns the simulation, A, B and the id of `db` on B, whose count is
    /// kept.
    fn secondary_with_a_kept_count(mode: Mode) -> (Simulation, ArrayId, ArrayId, VolumeId) {
        let (mut sim, a, b) = replicated_db(mode, GroupPolicies::default());
        sim.array_mut(b).create_snapshot("db", SnapshotSpec::read_only("db.ro")).unwrap();
        let mut local = VolumeSpec::thin("local", "FC", 256);
        local.snap_cpg = Some("SNAP".into());
        sim.array_mut(b).create_volume(local).unwrap();
        sim.write(b, "local", 0, &[0x10; PAGE_SIZE]).unwrap();
        sim.array_mut(b).create_snapshot("local", SnapshotSpec::read_only("local.ro")).unwrap();
        // Needs a snapshot page under the CPG's growth limit: counts every tree drawing from it.
        sim.write(b, "local", 0, &[0x11; PAGE_SIZE]).unwrap();
        let db = sim.array(b).volume("db").unwrap().id;
        assert_eq!(sim.array(b).kept_snapshot_pages(db), Some(0), "the checked write counted the secondary");
        (sim, a, b, db)
    }

    fn settle(sim: &mut Simulation) {
        let deadline = sim.now() + Duration::from_secs(600);
        assert!(sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()));
    }

    /// The count of the tree of `db` on `array` is kept, equals a scan, and is `pages`.
    fn assert_kept(sim: &Simulation, array: ArrayId, db: VolumeId, pages: u64) {
        let array = sim.array(array);
        assert_eq!(array.kept_snapshot_pages(db), Some(array.snapshot_space_pages(db)), "kept, and as a scan counts");
        assert_eq!(array.snapshot_space_pages(db), pages);
        let violations = invariants::check_all(sim);
        assert!(violations.is_empty(), "{violations:?}");
    }

    /// An array with CPG `FC` (no growth limit) and CPG `LIM` (a growth limit of 1 MiB, 64
    /// pages), and thin volume `v` in `FC` whose copy `v.ro` holds 8 snapshot pages.
    fn world_with_a_limited_cpg() -> (Simulation, ArrayId) {
        let mut sim = Simulation::new(5);
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        array.create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
        array.create_cpg(CpgSpec { name: "LIM".into(), growth_limit_mib: Some(1), ..CpgSpec::default() }).unwrap();
        array.create_volume(VolumeSpec::thin("v", "FC", 256)).unwrap();
        sim.write(a, "v", 0, &vec![0x01; 8 * PAGE_SIZE]).unwrap();
        sim.array_mut(a).create_snapshot("v", SnapshotSpec::read_only("v.ro")).unwrap();
        sim.write(a, "v", 0, &vec![0x02; 8 * PAGE_SIZE]).unwrap();
        (sim, a)
    }

    /// The names of the volumes `cpg_base_volumes` lists under CPG `cpg`.
    fn listed_under(sim: &Simulation, a: ArrayId, cpg: &str) -> Vec<String> {
        let array = sim.array(a);
        let cpg = array.cpg(cpg).unwrap().id;
        array.cpg_base_volumes(cpg).map(|v| v.name.clone()).collect()
    }

    // Goal: a base whose snapshot CPG a modify changes draws its tree's snapshot space from the
    // new CPG at once: the new CPG's growth limit counts it (a write past the limit with it is
    // refused, one within it passes) and the old CPG no longer does. Method: 8 snapshot pages
    // moved from FC to LIM (64 pages), then writes of 57 and 56 new pages to a volume in LIM.
    #[test]
    fn a_modified_snapshot_cpg_counts_under_the_new_cpgs_growth_limit() {
        let (mut sim, a) = world_with_a_limited_cpg();
        sim.array_mut(a).create_volume(VolumeSpec::thin("w", "LIM", 256)).unwrap();
        let (fc, lim) = (sim.array(a).cpg("FC").unwrap().id, sim.array(a).cpg("LIM").unwrap().id);
        assert_eq!((sim.array(a).cpg_snapshot_pages(fc), sim.array(a).cpg_growth_pages_used(lim)), (8, 0));
        let changes = crate::VolumeChanges { snap_cpg: Some("LIM".into()), ..crate::VolumeChanges::default() };
        sim.array_mut(a).modify_volume("v", changes).unwrap();
        assert_eq!(sim.array(a).cpg_snapshot_pages(fc), 0);
        assert_eq!(sim.array(a).cpg_snapshot_pages(lim), 8);
        assert_eq!(sim.array(a).cpg_usage(lim).snapshot_used_mib, 1);
        let error = sim.write(a, "w", 0, &vec![0x03; 57 * PAGE_SIZE]).unwrap_err();
        assert_eq!(error.code, ErrorCode::NO_SPACE);
        assert!(error.message.contains("(64 pages, 8 used)"), "{}", error.message);
        sim.write(a, "w", 0, &vec![0x03; 56 * PAGE_SIZE]).unwrap();
        assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 64);
        assert_eq!(listed_under(&sim, a, "LIM"), ["v", "w"]);
        assert_eq!(listed_under(&sim, a, "FC"), ["v"], "still its user CPG");
        assert!(invariants::check_all(&sim).is_empty(), "{:?}", invariants::check_all(&sim));
    }

    // Goal: tuning a volume's user CPG (keeping the original under another name) counts its
    // written pages in the new CPG and the kept volume's in the old one. Method: `t` (20 pages)
    // tuned from FC to LIM; then a write of 45 new pages in LIM is refused, 44 pass.
    #[test]
    fn a_tuned_user_cpg_counts_under_the_new_cpgs_growth_limit() {
        let (mut sim, a) = world_with_a_limited_cpg();
        sim.array_mut(a).create_volume(VolumeSpec::thin("t", "FC", 256)).unwrap();
        sim.write(a, "t", 0, &vec![0x04; 20 * PAGE_SIZE]).unwrap();
        sim.array_mut(a).create_volume(VolumeSpec::thin("w", "LIM", 256)).unwrap();
        let tune = crate::TuneSpec {
            user_cpg: Some("LIM".into()),
            keep_volume: Some("t.old".into()),
            ..crate::TuneSpec::default()
        };
        sim.array_mut(a).tune_volume("t", tune).unwrap();
        let (fc, lim) = (sim.array(a).cpg("FC").unwrap().id, sim.array(a).cpg("LIM").unwrap().id);
        assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 20);
        assert_eq!(sim.array(a).cpg_growth_pages_used(fc), 8 + 8 + 20, "v, its copy's pages and t.old");
        let error = sim.write(a, "w", 0, &vec![0x05; 45 * PAGE_SIZE]).unwrap_err();
        assert_eq!(error.code, ErrorCode::NO_SPACE);
        sim.write(a, "w", 0, &vec![0x05; 44 * PAGE_SIZE]).unwrap();
        assert_eq!(listed_under(&sim, a, "LIM"), ["t", "w"]);
        assert_eq!(listed_under(&sim, a, "FC"), ["v", "t", "t.old"], "t keeps FC as its snapshot CPG");
        assert!(invariants::check_all(&sim).is_empty(), "{:?}", invariants::check_all(&sim));
    }

    // Goal: a deleted volume leaves the index of its CPGs, also when a volume of another CPG
    // takes its id: its pages stop counting against its user CPG's growth limit, and the new
    // volume is not listed there. Method: `u` (40 pages in LIM) deleted, `x` created in FC at
    // its id and written; then 64 new pages fit in LIM, and not one more.
    #[test]
    fn a_deleted_volume_no_longer_counts_in_its_cpg() {
        let (mut sim, a) = world_with_a_limited_cpg();
        sim.array_mut(a).create_volume(VolumeSpec::thin("u", "LIM", 256)).unwrap();
        sim.write(a, "u", 0, &vec![0x06; 40 * PAGE_SIZE]).unwrap();
        sim.array_mut(a).create_volume(VolumeSpec::thin("w", "LIM", 256)).unwrap();
        let lim = sim.array(a).cpg("LIM").unwrap().id;
        assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 40);
        let u = sim.array(a).volume("u").unwrap().id;
        sim.array_mut(a).delete_volume("u").unwrap();
        assert_eq!(listed_under(&sim, a, "LIM"), ["w"]);
        assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 0);
        let x = VolumeSpec { id: Some(u.0), ..VolumeSpec::thin("x", "FC", 256) };
        sim.array_mut(a).create_volume(x).unwrap();
        sim.write(a, "x", 0, &vec![0x07; 40 * PAGE_SIZE]).unwrap();
        assert_eq!(listed_under(&sim, a, "LIM"), ["w"]);
        assert_eq!(listed_under(&sim, a, "FC"), ["v", "x"]);
        assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 0);
        assert_eq!(sim.array(a).cpg_usage(lim).thin, 1, "w");
        sim.write(a, "w", 0, &vec![0x08; 64 * PAGE_SIZE]).unwrap();
        assert_eq!(sim.write(a, "w", 64 * PAGE_SIZE_U64, &[0x09; 1]).unwrap_err().code, ErrorCode::NO_SPACE);
        assert!(invariants::check_all(&sim).is_empty(), "{:?}", invariants::check_all(&sim));
    }

    // Goal: a synchronous write applied on a secondary keeps the count of its tree (not
    // forgotten, so a checked write on another volume of the same CPG does not scan it again),
    // for both payloads: whole pages shared from the primary and a partial page's bytes; and
    // sending a page the secondary already holds changes nothing.
    #[test]
    fn a_synchronous_apply_keeps_the_secondarys_count() {
        let (mut sim, a, b, db) = secondary_with_a_kept_count(Mode::Synchronous);
        // Three whole pages replace pages the copy shares: three snapshot pages.
        sim.write(a, "db", 0, &vec![0xd1; 3 * PAGE_SIZE]).unwrap();
        assert_kept(&sim, b, db, 3);
        // Rewriting one of them needs nothing; a partial write into page 5 copies it.
        sim.write(a, "db", 0, &vec![0xd2; PAGE_SIZE]).unwrap();
        sim.write(a, "db", 5 * PAGE_SIZE_U64 + 100, &[0xd3; 200]).unwrap();
        assert_kept(&sim, b, db, 4);
        // A partial write into a page the copy no longer shares changes it in place.
        sim.write(a, "db", 5 * PAGE_SIZE_U64 + 400, &[0xd4; 10]).unwrap();
        assert_kept(&sim, b, db, 4);
    }

    // Goal: a periodic sync's transfer steps keep the destination's count while its pre-sync
    // snapshot shares the pages they replace, and the snapshot's removal at the end releases them.
    #[test]
    fn periodic_transfer_steps_keep_the_destinations_count() {
        let (mut sim, a, b, db) = secondary_with_a_kept_count(Mode::Periodic);
        sim.write(a, "db", 0, &vec![0xd1; 70 * PAGE_SIZE]).unwrap();
        sim.remote_copy().sync_group(a, "rcg", &SyncOptions::default()).unwrap();
        // Mid-transfer: pages arrived so far are held by the pre-sync snapshot and db.ro.
        sim.advance_until(sim.now() + Duration::from_secs(600), |s| {
            s.array(b).volume("db").unwrap().pages().page(crate::PageIndex(1)).is_some_and(|p| p.bytes()[0] == 0xd1)
        });
        assert!(sim.rc_running_transfers().next().is_some(), "the sync is still transferring");
        let mid = sim.array(b).snapshot_space_pages(db);
        assert!(mid > 0);
        assert_kept(&sim, b, db, mid);
        settle(&mut sim);
        // db.ro keeps the 64 pages it shared with the old base; the 6 pages past them were empty.
        assert_kept(&sim, b, db, 64);
    }

    // Goal: under fail_wrt_on_err, the undo of a write the links cut puts back pages a copy
    // holds: the source's kept count returns to what it was before the write (a checked write
    // had added them), as a scan counts.
    #[test]
    fn the_undo_of_a_failed_synchronous_write_keeps_the_sources_count() {
        let policies = GroupPolicies { fail_write_on_error: true, ..GroupPolicies::default() };
        let (mut sim, a, b) = replicated_db(Mode::Synchronous, policies);
        sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_only("db.ro")).unwrap();
        sim.write(a, "db", 0, &[0xd1; PAGE_SIZE]).unwrap();
        let db = sim.array(a).volume("db").unwrap().id;
        assert_kept(&sim, a, db, 1);
        let cut = sim.now() + Duration::from_micros(100);
        sim.schedule_fault(cut, Fault::LinkDown { from: a, to: b, direction: Direction::Forward });
        let error = sim.write(a, "db", PAGE_SIZE_U64, &vec![0xd2; 3 * PAGE_SIZE]).unwrap_err();
        assert_eq!(error.code, ErrorCode::RCOPY_GROUP_WRITE_FAILED);
        assert_eq!(sim.read(a, "db", PAGE_SIZE_U64, PAGE_SIZE).unwrap(), vec![0xd0; PAGE_SIZE], "undone");
        assert_kept(&sim, a, db, 1);
    }
}
