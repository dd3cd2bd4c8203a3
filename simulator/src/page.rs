//! Thin, shareable volume data: a persistent map from page index to immutable 16 KiB pages.
//!
//! A volume's data is a [`PageMap`]; pages never written are absent and read as zeros, so a
//! 1 TiB thin volume with nothing written costs a few bytes.
//! A virtual copy is a clone of its parent's map: `imbl::OrdMap` shares structure, so the clone
//! is O(1) in volume size and in the number of copies, and a later write to either side copies
//! only the path to the written page (copy-on-write, as 3PAR's snapshot space does).
//!
//! Pages compare by identity ([`Page`]'s `PartialEq` is `Arc::ptr_eq`): two maps that share a
//! page share its memory, and [`PageMap::changed_pages`] walks only the subtrees that differ.
//! That diff is what periodic Remote Copy sends.
//! The cost: a page rewritten with identical bytes counts as changed; 3PAR's resync works at the
//! same granularity (it ships regions that were written, not regions whose bytes differ).

use std::fmt;
use std::sync::Arc;

use imbl::OrdMap;

/// Bytes in one page (3PAR's snapshot copy-on-write granularity is 16 KiB).
pub const PAGE_SIZE: usize = 16 * 1024;

/// Page size as a `u64`, for offset arithmetic.
pub const PAGE_SIZE_U64: u64 = PAGE_SIZE as u64;

/// Index of a page within a volume (`byte offset / PAGE_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageIndex(pub u64);

impl PageIndex {
    /// Byte offset of the first byte of this page.
    pub fn byte_offset(self) -> u64 {
        self.0 * PAGE_SIZE_U64
    }
}

/// One immutable 16 KiB page, shared by every map that holds it.
///
/// Equality is identity: two `Page`s are equal when they are the same allocation.
///
/// Invariant: the slice is exactly [`PAGE_SIZE`] bytes long.
/// The bytes live in the `Arc`'s own allocation (one allocation per page), and a page built
/// from bytes is copied once, never zeroed first: on this kind of machine zeroing 16 KiB costs
/// more than copying it.
#[derive(Clone)]
pub struct Page(Arc<[u8]>);

/// The bytes of a page never written.
static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

impl Page {
    /// A page holding `bytes` (exactly one page long): one allocation, one copy.
    pub fn from_bytes(bytes: &[u8]) -> Page {
        assert_eq!(bytes.len(), PAGE_SIZE);
        Page(Arc::from(bytes))
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `self` and `other` are the same allocation.
    pub fn same_as(&self, other: &Page) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The allocation's address: identifies the page within one process (for counting
    /// distinct pages; never used for ordering or ids).
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const u8 as usize
    }

    /// Mutable bytes, copying the page first if another map shares it (copy-on-write).
    fn make_mut(&mut self) -> &mut [u8] {
        Arc::make_mut(&mut self.0)
    }
}

impl PartialEq for Page {
    fn eq(&self, other: &Page) -> bool {
        self.same_as(other)
    }
}

impl Eq for Page {}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Page({:p})", Arc::as_ptr(&self.0) as *const u8)
    }
}

/// A change between two page maps, as found by [`PageMap::changed_pages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageChange {
    /// The page holds data in the newer map that the older map did not have at that identity.
    Written(PageIndex, Page),
    /// The page held data in the older map and is absent (reads as zeros) in the newer one.
    Zeroed(PageIndex),
}

impl PageChange {
    /// The page this change is about.
    pub fn index(&self) -> PageIndex {
        match self {
            PageChange::Written(index, _) | PageChange::Zeroed(index) => *index,
        }
    }
}

/// The data of one volume: a sparse, persistent map of pages. Cloning is O(1).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PageMap {
    pages: OrdMap<u64, Page>,
}

impl fmt::Debug for PageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageMap({} pages)", self.pages.len())
    }
}

impl PageMap {
    /// An empty map: every byte reads as zero.
    pub fn new() -> PageMap {
        PageMap::default()
    }

    /// Number of pages holding data (written at least once and not discarded).
    pub fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    /// The page at `index`, if it holds data.
    pub fn page(&self, index: PageIndex) -> Option<&Page> {
        self.pages.get(&index.0)
    }

    /// Pages holding data, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (PageIndex, &Page)> {
        self.pages.iter().map(|(index, page)| (PageIndex(*index), page))
    }

    /// Copies `buf.len()` bytes starting at byte `offset` into `buf`; absent pages read as zeros.
    pub fn read(&self, offset: u64, buf: &mut [u8]) {
        let mut done = 0usize;
        while done < buf.len() {
            let position = offset + done as u64;
            let index = position / PAGE_SIZE_U64;
            let within = (position % PAGE_SIZE_U64) as usize;
            let take = (PAGE_SIZE - within).min(buf.len() - done);
            let target = &mut buf[done..done + take];
            match self.pages.get(&index) {
                Some(page) => target.copy_from_slice(&page.bytes()[within..within + take]),
                None => target.fill(0),
            }
            done += take;
        }
    }

    /// Writes `data` at byte `offset`. A page no other map shares is modified in place (its
    /// identity stays: no other map can hold it, so no diff can compare against it); a shared
    /// page is replaced by a new one (whole-page write) or copied first (partial write).
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let mut done = 0usize;
        while done < data.len() {
            let position = offset + done as u64;
            let index = position / PAGE_SIZE_U64;
            let within = (position % PAGE_SIZE_U64) as usize;
            let take = (PAGE_SIZE - within).min(data.len() - done);
            let source = &data[done..done + take];
            match self.pages.get_mut(&index) {
                Some(page) => {
                    if let Some(bytes) = Arc::get_mut(&mut page.0) {
                        // No other map holds this page: overwrite it where it is (no allocation).
                        bytes[within..within + take].copy_from_slice(source);
                    } else if take == PAGE_SIZE {
                        // Shared with a copy: the copy keeps the old page, this map takes a new one.
                        *page = Page::from_bytes(source);
                    } else {
                        page.make_mut()[within..within + take].copy_from_slice(source);
                    }
                }
                None if take == PAGE_SIZE => {
                    self.pages.insert(index, Page::from_bytes(source));
                }
                None => {
                    let mut page = Page::from_bytes(&ZERO_PAGE);
                    page.make_mut()[within..within + take].copy_from_slice(source);
                    self.pages.insert(index, page);
                }
            }
            done += take;
        }
    }

    /// The pages where `self` differs from `older`, in index order.
    ///
    /// Cost follows the difference, not the map: subtrees the two maps share are skipped.
    pub fn changed_pages<'a>(&'a self, older: &'a PageMap) -> impl Iterator<Item = PageChange> + 'a {
        older.pages.diff(&self.pages).map(|item| match item {
            imbl::ordmap::DiffItem::Add(index, page) => PageChange::Written(PageIndex(*index), page.clone()),
            imbl::ordmap::DiffItem::Update { new: (index, page), .. } => {
                PageChange::Written(PageIndex(*index), page.clone())
            }
            imbl::ordmap::DiffItem::Remove(index, _) => PageChange::Zeroed(PageIndex(*index)),
        })
    }

    /// Applies `change` (taken from another map's diff) to this map, sharing the page.
    pub fn apply(&mut self, change: &PageChange) {
        match change {
            PageChange::Written(index, page) => {
                self.pages.insert(index.0, page.clone());
            }
            PageChange::Zeroed(index) => {
                self.pages.remove(&index.0);
            }
        }
    }

    /// Makes the pages covering `offset..offset + len` what they are in `from` (used to undo a
    /// failed write).
    pub fn restore_range(&mut self, from: &PageMap, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = offset / PAGE_SIZE_U64;
        let last = (offset + len - 1) / PAGE_SIZE_U64;
        for index in first..=last {
            match from.pages.get(&index) {
                Some(page) => {
                    self.pages.insert(index, page.clone());
                }
                None => {
                    self.pages.remove(&index);
                }
            }
        }
    }

    /// Whether both maps read the same bytes everywhere (content comparison, for tests and
    /// invariants; shared pages are skipped without reading them).
    pub fn same_content(&self, other: &PageMap) -> bool {
        self.changed_pages(other).all(|change| match change {
            PageChange::Written(index, page) => {
                let other_bytes = other.page(index).map(|p| p.bytes());
                match other_bytes {
                    Some(bytes) => bytes == page.bytes(),
                    None => page.bytes().iter().all(|b| *b == 0),
                }
            }
            PageChange::Zeroed(index) => other.page(index).is_none_or(|page| page.bytes().iter().all(|b| *b == 0)),
        })
    }

    /// Feeds the map's content (index and bytes of every page) into `hasher`.
    pub fn digest_into(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&self.page_count().to_le_bytes());
        for (index, page) in self.iter() {
            hasher.update(&index.0.to_le_bytes());
            hasher.update(page.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: reads return written bytes and zeros elsewhere, across page boundaries; a clone is
    // unaffected by later writes to the original (copy-on-write).
    #[test]
    fn write_read_and_copy_on_write() {
        let mut map = PageMap::new();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        map.write(10_000, &data);
        let frozen = map.clone();
        map.write(20_000, &[0xAB; 100]);

        let mut buf = vec![0u8; 60_000];
        frozen.read(0, &mut buf);
        assert!(buf[..10_000].iter().all(|b| *b == 0));
        assert_eq!(&buf[10_000..50_000], &data[..]);
        assert!(buf[50_000..].iter().all(|b| *b == 0));

        map.read(20_000, &mut buf[..100]);
        assert!(buf[..100].iter().all(|b| *b == 0xAB));
        assert_eq!(map.changed_pages(&frozen).count(), 1);
        assert!(!map.same_content(&frozen));
    }

    #[test]
    fn diff_reports_only_changed_pages() {
        let mut map = PageMap::new();
        for i in 0..1000u64 {
            map.write(i * PAGE_SIZE_U64, &[1u8; PAGE_SIZE]);
        }
        let older = map.clone();
        map.write(5 * PAGE_SIZE_U64, &[2u8; 10]);
        map.write(700 * PAGE_SIZE_U64 + 5, &[3u8; 10]);
        let changed: Vec<u64> = map.changed_pages(&older).map(|c| c.index().0).collect();
        assert_eq!(changed, vec![5, 700]);

        let mut replica = older.clone();
        for change in map.changed_pages(&older) {
            replica.apply(&change);
        }
        assert!(replica.same_content(&map));
        assert_eq!(replica.changed_pages(&map).count(), 0);
    }
}
