//! Thin, shareable volume data: a persistent map from page index to immutable 16 KiB pages.
//!
//! A volume's data is a [`PageMap`]; pages never written are absent and read as zeros, so a
//! 1 TiB thin volume with nothing written costs a few bytes.
//! A virtual copy is a clone of its parent's map: the map is a persistent radix trie (64-way
//! nodes shared through `Arc`), so the clone is O(1) in volume size and in the number of copies,
//! and a later write to either side copies only the path to the written page (copy-on-write, as
//! 3PAR's snapshot space does).
//!
//! Pages compare by identity ([`Page`]'s `PartialEq` is `Arc::ptr_eq`): two maps that share a
//! page share its memory, and [`PageMap::changed_pages`] walks only the subtrees that differ.
//! A purpose-built trie rather than a general persistent map (`imbl::OrdMap` was the first
//! choice): its diff compares child pointers level by level, so its cost is O(changes × depth)
//! — `imbl`'s diff visits every leaf under an unshared branch, which made a 64 GiB volume's
//! resync ten times dearer than a 1 GiB volume's for the same 64 MiB delta.
//! That diff is what periodic Remote Copy sends.
//! A held clone pins what it shares: while a map (or a [`Page`]) is held, no page or node it
//! shares is modified in place (a write copies it first), so the same identity means the same
//! bytes for as long as the clone lives; a caller can memoise work per page on that (the
//! recovery crate's verifier does, with [`PageMap::changed_pages_in`]).
//! The cost: a page rewritten with identical bytes counts as changed; 3PAR's resync works at the
//! same granularity (it ships regions that were written, not regions whose bytes differ).

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// A page is two allocations: a small shared header (the `Arc`'s counters and a pointer) and
/// the 16 KiB buffer it owns. The header is what maps share and count, so releasing a page —
/// deciding whether it is still held and pooling it — reads only the header; the buffer, often
/// untouched since it was written (a deleted copy's overwritten data), is not read at all.
/// Headers are allocated in batches, after their buffers (see [`refill`]), so the headers of
/// pages written together sit together: a deleted copy's thousand pages cost a few hundred
/// cache lines read in order instead of a thousand cache and TLB misses spread over 16 MiB.
/// A page built from bytes is copied once, never zeroed first: on this kind of machine zeroing
/// 16 KiB costs more than copying it. Header and buffer come from this thread's pool of
/// released pages when it has one (see [`POOL`]).
///
/// A page also knows its provenance (see [`Page::blocks_written_since`]): the page it was
/// copied from on a copy-on-write and which 1 KiB blocks were written after the copy, so a
/// reader comparing the two (the recovery engine's incremental verifier) reads only those.
#[derive(Clone)]
pub struct Page(Arc<PageBuf>);

/// Bytes after the page's own in its buffer: its id, then its origin (see [`PageBuf`]).
const META: usize = 16;

/// Provenance blocks per page (one bit each in a page's origin).
pub const PAGE_BLOCKS: usize = 16;

/// Bytes per provenance block.
pub const PAGE_BLOCK_SIZE: usize = PAGE_SIZE / PAGE_BLOCKS;

/// The provenance blocks (bit `b`: bytes `b * PAGE_BLOCK_SIZE..`) that bytes `from..to` of a
/// page touch (`from < to <= PAGE_SIZE`), as [`Page::blocks_written_since`] counts them.
pub fn blocks_touched(from: usize, to: usize) -> u16 {
    (from / PAGE_BLOCK_SIZE..=(to - 1) / PAGE_BLOCK_SIZE).fold(0u16, |mask, block| mask | (1 << block))
}

/// The buffer a page's header owns (never shared by itself: sharing is the header's `Arc`):
/// the page's bytes, then (kept in the buffer so the header stays 32 bytes) two words —
/// - the page's id: unique in the process, never reused, assigned when the page is built;
/// - its origin: `source id << 16 | written blocks` when the page is a copy of page `source`
///   that differs from it at most in the written blocks, else 0 (no known source).
///
/// Ids serve only this comparison: they are never ordered, shown, traced or hashed, so they
/// cannot make two runs of one seed differ.
struct PageBuf(Box<[u8; PAGE_SIZE + META]>);

/// The next page id (0 is "no source").
static NEXT_PAGE_ID: AtomicU64 = AtomicU64::new(1);

impl PageBuf {
    fn id(&self) -> u64 {
        u64::from_le_bytes(self.0[PAGE_SIZE..PAGE_SIZE + 8].try_into().expect("8 bytes"))
    }

    fn origin(&self) -> u64 {
        u64::from_le_bytes(self.0[PAGE_SIZE + 8..].try_into().expect("8 bytes"))
    }

    /// A new identity with the given origin (a built or rebuilt page).
    fn set_identity(&mut self, origin: u64) {
        let id = NEXT_PAGE_ID.fetch_add(1, Ordering::Relaxed);
        self.0[PAGE_SIZE..PAGE_SIZE + 8].copy_from_slice(&id.to_le_bytes());
        self.0[PAGE_SIZE + 8..].copy_from_slice(&origin.to_le_bytes());
    }

    /// Writes `source` at `within`, recording the written blocks in the origin.
    fn write(&mut self, within: usize, source: &[u8]) {
        self.0[within..within + source.len()].copy_from_slice(source);
        let origin = self.origin();
        if origin != 0 && !source.is_empty() {
            let blocks = blocks_touched(within, within + source.len());
            self.0[PAGE_SIZE + 8..].copy_from_slice(&(origin | u64::from(blocks)).to_le_bytes());
        }
    }
}

/// The bytes of a page never written.
static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// Released pages kept per thread for reuse, at most this many (32 MiB).
const POOL_PAGES: usize = 2048;

thread_local! {
    /// Pages no map holds any more (their `Arc` unshared), ready to carry the next page built
    /// on this thread. Deleting a virtual copy that alone held a thousand overwritten pages then
    /// costs a thousand header reads and pushes instead of a thousand atomic decrements and
    /// 16 KiB deallocations (before this, the larger part of a Recovery Manager backup's policy
    /// removal), and the writes that follow take their header and buffer back.
    static POOL: RefCell<Vec<Arc<PageBuf>>> = const { RefCell::new(Vec::new()) };
}

/// Pages allocated at once when the pool is empty.
const BATCH_PAGES: usize = 64;

/// Fills the empty pool with a batch of new, unshared pages: every buffer first, then every
/// header.
///
/// Why: the allocator serves a 16 KiB buffer and a 32-byte header from the same heap, so pages
/// allocated one at a time interleave them and their headers land 16 KiB apart, one per 4 KiB
/// memory page: releasing a deleted copy's thousand pages then costs a cache and a TLB miss per
/// header. Headers allocated one after another sit together (two per cache line), so the
/// release reads them as a stream. Pooled pages keep their header and buffer together, so the
/// density carries over to the pages that reuse them.
fn refill(pool: &mut Vec<Arc<PageBuf>>) {
    let buffers: Vec<Box<[u8; PAGE_SIZE + META]>> = (0..BATCH_PAGES)
        .map(|_| vec![0u8; PAGE_SIZE + META].into_boxed_slice().try_into().expect("a page buffer's size"))
        .collect();
    let headers: Vec<Arc<PageBuf>> = buffers.into_iter().map(|buffer| Arc::new(PageBuf(buffer))).collect();
    // Popping then hands the headers out in address order.
    pool.extend(headers.into_iter().rev());
}

/// An unshared page allocation holding a copy of `bytes` (exactly one page long), with a new
/// id and `origin`.
fn allocation_with(bytes: &[u8], origin: u64) -> Arc<PageBuf> {
    let bytes: &[u8; PAGE_SIZE] = bytes.try_into().expect("a page is PAGE_SIZE bytes");
    let pooled = POOL
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.is_empty() {
                refill(&mut pool);
            }
            pool.pop()
        })
        .ok()
        .flatten();
    match pooled {
        Some(mut pooled) => {
            let buffer = Arc::get_mut(&mut pooled).expect("pooled pages are unshared");
            buffer.0[..PAGE_SIZE].copy_from_slice(bytes);
            buffer.set_identity(origin);
            pooled
        }
        // The thread is exiting (no pool): copied without zeroing first.
        None => {
            let mut buffer = Vec::with_capacity(PAGE_SIZE + META);
            buffer.extend_from_slice(bytes);
            buffer.resize(PAGE_SIZE + META, 0);
            let mut page = PageBuf(buffer.into_boxed_slice().try_into().expect("a page buffer's size"));
            page.set_identity(origin);
            Arc::new(page)
        }
    }
}

impl Page {
    /// A page holding `bytes` (exactly one page long): one copy.
    pub fn from_bytes(bytes: &[u8]) -> Page {
        assert_eq!(bytes.len(), PAGE_SIZE);
        Page(allocation_with(bytes, 0))
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0.0[..PAGE_SIZE]
    }

    /// The 1 KiB blocks (bit `b`: bytes `b * PAGE_BLOCK_SIZE..`) where this page may differ
    /// from `older`, when this page is a copy-on-write copy of `older` itself: its other bytes
    /// are `older`'s. `None` when no such relation is known (any byte may differ).
    ///
    /// Why it holds: a page is copied only when shared, a shared page is never modified in
    /// place, and every write to the copy afterwards sets its blocks; ids are never reused, so a
    /// page built later at `older`'s address is not `older`. The caller must hold `older` (as
    /// a page of a map it keeps) for the answer to stay true: a page nobody else holds may be
    /// written in place.
    pub fn blocks_written_since(&self, older: &Page) -> Option<u16> {
        if self.same_as(older) {
            return Some(0);
        }
        let origin = self.0.origin();
        (origin != 0 && origin >> PAGE_BLOCKS == older.0.id()).then_some(origin as u16)
    }

    /// Whether `self` and `other` are the same allocation.
    pub fn same_as(&self, other: &Page) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The allocation's address: identifies the page within one process (for counting
    /// distinct pages; never used for ordering or ids).
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The buffer's address (tests: which buffer a page reuses).
    #[cfg(test)]
    fn buffer_addr(&self) -> usize {
        self.0.0.as_ptr() as usize
    }

    /// The page's buffer to write, copying the page first if another map shares it
    /// (copy-on-write: the copy's origin is this page, no block written yet).
    fn make_mut(&mut self) -> &mut PageBuf {
        if Arc::get_mut(&mut self.0).is_none() {
            let origin = self.0.id() << PAGE_BLOCKS;
            self.0 = allocation_with(&self.0.0[..PAGE_SIZE], origin);
        }
        Arc::get_mut(&mut self.0).expect("unshared just above")
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
        write!(f, "Page({:p})", Arc::as_ptr(&self.0))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A dropped leaf releases up to 64 pages, often untouched since they were written (a
        // deleted copy's overwritten data). Plain loads of their counters first let those cache
        // misses overlap; then every page this leaf alone held goes to the pool (no atomic
        // decrement, no deallocation) while there is room, and the rest are released as usual.
        let pages = match self {
            Node::Leaf(pages) => pages,
            Node::Branch(children) => {
                // A dropped branch (a deleted copy's path to the pages it alone held) releases
                // its children, most of them shared with newer maps and cold: loading their
                // counters first lets those misses overlap instead of paying one per atomic
                // decrement when the array is dropped.
                let held =
                    children.iter().flatten().fold(0usize, |sum, child| sum.wrapping_add(Arc::strong_count(child)));
                std::hint::black_box(held);
                return;
            }
        };
        let held = pages.iter().flatten().fold(0usize, |sum, page| sum.wrapping_add(Arc::strong_count(&page.0)));
        std::hint::black_box(held);
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            for slot in pages.iter_mut() {
                if pool.len() >= POOL_PAGES {
                    break;
                }
                if let Some(page) = slot.take_if(|page| Arc::strong_count(&page.0) == 1) {
                    pool.push(page.0);
                }
            }
        });
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

/// Bits of page index consumed per trie level.
const BITS: u32 = 6;
/// Children (or pages) per trie node.
const FANOUT: usize = 1 << BITS;
const MASK: u64 = (FANOUT as u64) - 1;

/// A node of the page trie: branches point at nodes, leaves hold pages.
///
/// Both variants live inline in the node's `Arc` allocation (a boxed array would add a pointer
/// chase per level); a branch therefore occupies a leaf's 1 KiB, which costs memory only per
/// 64 × 64 pages.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum Node {
    Branch([Option<Arc<Node>>; FANOUT]),
    Leaf([Option<Page>; FANOUT]),
}

impl Node {
    fn empty(height: u32) -> Node {
        if height == 0 {
            Node::Leaf(std::array::from_fn(|_| None))
        } else {
            Node::Branch(std::array::from_fn(|_| None))
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Node::Branch(children) => children.iter().all(Option::is_none),
            Node::Leaf(pages) => pages.iter().all(Option::is_none),
        }
    }
}

/// The data of one volume: a sparse, persistent radix trie of pages. Cloning is O(1).
///
/// Shape: 64-way nodes keyed by successive 6-bit slices of the page index, like a page table;
/// the root grows a level when an index beyond its reach is written (a 1 TiB volume, 2^26
/// pages, needs five levels). Absent subtrees are `None`, so unwritten ranges cost nothing.
/// Nodes are shared between clones through `Arc` and copied on the write path only, and the
/// diff compares child pointers level by level, descending only where they differ: its cost is
/// O(changed pages × depth), whatever the volume size.
#[derive(Clone, Default)]
pub struct PageMap {
    root: Option<Arc<Node>>,
    /// Branch levels above the leaves (0: the root is a leaf).
    height: u32,
    /// Pages present.
    len: u64,
}

impl fmt::Debug for PageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageMap({} pages)", self.len)
    }
}

impl PartialEq for PageMap {
    /// Equal when they hold the same page allocations at the same indexes.
    fn eq(&self, other: &PageMap) -> bool {
        self.len == other.len && self.changed_pages(other).next().is_none()
    }
}

impl Eq for PageMap {}

/// Pages a trie of `height` branch levels can address.
fn capacity(height: u32) -> u64 {
    1u64.checked_shl(BITS * (height + 1)).unwrap_or(u64::MAX)
}

fn slot_of(index: u64, level: u32) -> usize {
    ((index >> (BITS * level)) & MASK) as usize
}

impl PageMap {
    /// An empty map: every byte reads as zero.
    pub fn new() -> PageMap {
        PageMap::default()
    }

    /// Number of pages holding data (written at least once and not discarded).
    pub fn page_count(&self) -> u64 {
        self.len
    }

    /// The page at `index`, if it holds data.
    pub fn page(&self, index: PageIndex) -> Option<&Page> {
        match &**self.leaf(index.0)? {
            Node::Leaf(pages) => pages[slot_of(index.0, 0)].as_ref(),
            Node::Branch(_) => unreachable!("only leaves hold pages"),
        }
    }

    /// Pages holding data, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (PageIndex, &Page)> {
        let mut out = Vec::with_capacity(self.len as usize);
        if let Some(root) = self.root.as_deref() {
            collect(root, self.height, 0, &mut out);
        }
        out.into_iter()
    }

    /// Grows the root until `index` is addressable.
    fn reach(&mut self, index: u64) {
        while index >= capacity(self.height) {
            let old = self.root.take();
            self.height += 1;
            if let Some(old) = old {
                let mut branch = Node::empty(self.height);
                if let Node::Branch(children) = &mut branch {
                    children[0] = Some(old);
                }
                self.root = Some(Arc::new(branch));
            }
        }
    }

    /// The slot holding the leaf of page `index` (the root when the trie is a single leaf),
    /// creating (or copying, when shared) the branches above it.
    fn leaf_slot_mut(&mut self, index: u64) -> &mut Option<Arc<Node>> {
        self.reach(index);
        let height = self.height;
        let mut slot = &mut self.root;
        for level in (1..=height).rev() {
            let Node::Branch(children) = Arc::make_mut(slot.get_or_insert_with(|| Arc::new(Node::empty(level)))) else {
                unreachable!("nodes above level 0 are branches")
            };
            slot = &mut children[slot_of(index, level)];
        }
        slot
    }

    /// The slot of page `index`, creating (or copying, when shared) the nodes on its path.
    fn slot_mut(&mut self, index: u64) -> &mut Option<Page> {
        match Arc::make_mut(self.leaf_slot_mut(index).get_or_insert_with(|| Arc::new(Node::empty(0)))) {
            Node::Leaf(pages) => &mut pages[slot_of(index, 0)],
            Node::Branch(_) => unreachable!("only leaves hold pages"),
        }
    }

    fn insert(&mut self, index: u64, page: Page) {
        if self.slot_mut(index).replace(page).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, index: u64) {
        if self.page(PageIndex(index)).is_none() {
            return;
        }
        let height = self.height;
        if let Some(root) = self.root.as_mut()
            && remove_in(root, height, index)
        {
            self.root = None;
        }
        self.len -= 1;
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
            match self.page(PageIndex(index)) {
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
            let slot = self.slot_mut(index);
            match slot {
                Some(page) => {
                    if let Some(buffer) = Arc::get_mut(&mut page.0) {
                        // No other map holds this page: overwrite it where it is (no allocation).
                        buffer.write(within, source);
                    } else if take == PAGE_SIZE {
                        // Shared with a copy: the copy keeps the old page, this map takes a new one.
                        *page = Page::from_bytes(source);
                    } else {
                        page.make_mut().write(within, source);
                    }
                }
                None => {
                    *slot = Some(if take == PAGE_SIZE {
                        Page::from_bytes(source)
                    } else {
                        let mut page = Page::from_bytes(&ZERO_PAGE);
                        page.make_mut().write(within, source);
                        page
                    });
                    self.len += 1;
                }
            }
            done += take;
        }
    }

    /// Makes pages `first..first + count` all hold `page` (one shared allocation).
    pub fn fill_shared(&mut self, first: PageIndex, count: u64, page: &Page) {
        for index in first.0..first.0 + count {
            self.insert(index, page.clone());
        }
    }

    /// The pages where `self` differs from `older`, in index order.
    ///
    /// Cost follows the difference, not the map: subtrees the two maps share are skipped.
    pub fn changed_pages(&self, older: &PageMap) -> impl Iterator<Item = PageChange> + use<> {
        self.changed_pages_in(older, PageIndex(0)..PageIndex(u64::MAX))
    }

    /// [`PageMap::changed_pages`] limited to the pages in `range`: subtrees outside it are not
    /// visited, so the cost follows the changes inside the range.
    pub fn changed_pages_in(
        &self,
        older: &PageMap,
        range: Range<PageIndex>,
    ) -> impl Iterator<Item = PageChange> + use<> {
        let height = self.height.max(older.height);
        let newer_root = lift(self.root.as_ref(), self.height, height);
        let older_root = lift(older.root.as_ref(), older.height, height);
        let mut out = Vec::new();
        if range.start < range.end {
            let span = (range.start.0, range.end.0);
            diff(older_root.as_ref(), newer_root.as_ref(), height, 0, span, &mut out);
        }
        out.into_iter()
    }

    /// Applies `change` (taken from another map's diff) to this map, sharing the page.
    pub fn apply(&mut self, change: &PageChange) {
        match change {
            PageChange::Written(index, page) => self.insert(index.0, page.clone()),
            PageChange::Zeroed(index) => self.remove(index.0),
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
        self.copy_range(from, PageIndex(first), last - first + 1);
    }

    /// Makes pages `first..first + count` what they are in `from`, sharing them: afterwards the
    /// two maps hold the same allocations there.
    ///
    /// Where the range covers a whole leaf (64 pages, aligned), this map takes `from`'s leaf
    /// node itself rather than its 64 pages one by one: O(1) per leaf, and the maps then share
    /// the node, so releasing a copy of either side later drops one reference to the node
    /// instead of 64 to its pages (a synchronous mirror's secondary and its snapshots take the
    /// primary's leaves this way).
    pub fn copy_range(&mut self, from: &PageMap, first: PageIndex, count: u64) {
        let end = first.0.saturating_add(count);
        let mut index = first.0;
        while index < end {
            let leaf_end = (index | MASK).saturating_add(1);
            if index & MASK == 0
                && leaf_end <= end
                && let Some(leaf) = from.leaf(index)
            {
                self.set_leaf(index, leaf.clone());
                index = leaf_end;
                continue;
            }
            match from.page(PageIndex(index)) {
                Some(page) => self.insert(index, page.clone()),
                None => self.remove(index),
            }
            index += 1;
        }
    }

    /// The leaf node holding page `index`, if any page near it is present.
    fn leaf(&self, index: u64) -> Option<&Arc<Node>> {
        if index >= capacity(self.height) {
            return None;
        }
        let mut node = self.root.as_ref()?;
        for level in (1..=self.height).rev() {
            match &**node {
                Node::Branch(children) => node = children[slot_of(index, level)].as_ref()?,
                Node::Leaf(_) => unreachable!("nodes above level 0 are branches"),
            }
        }
        Some(node)
    }

    /// Puts `leaf` (a non-empty leaf node) where the leaf holding page `index` goes, replacing
    /// the one there.
    fn set_leaf(&mut self, index: u64, leaf: Arc<Node>) {
        let added = leaf_len(&leaf);
        let removed = self.leaf_slot_mut(index).replace(leaf).map_or(0, |old| leaf_len(&old));
        self.len = self.len - removed + added;
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

/// Appends every page under `node` (at `level`, covering indexes from `base`) in index order.
fn collect<'a>(node: &'a Node, level: u32, base: u64, out: &mut Vec<(PageIndex, &'a Page)>) {
    match node {
        Node::Branch(children) => {
            for (slot, child) in children.iter().enumerate() {
                if let Some(child) = child {
                    collect(child, level - 1, base | ((slot as u64) << (BITS * level)), out);
                }
            }
        }
        Node::Leaf(pages) => {
            for (slot, page) in pages.iter().enumerate() {
                if let Some(page) = page {
                    out.push((PageIndex(base | slot as u64), page));
                }
            }
        }
    }
}

/// Pages present in a leaf node.
fn leaf_len(node: &Node) -> u64 {
    match node {
        Node::Leaf(pages) => pages.iter().flatten().count() as u64,
        Node::Branch(_) => unreachable!("only leaves hold pages"),
    }
}

/// Clears `index` under `node`; returns whether `node` became empty (its parent drops it).
fn remove_in(node: &mut Arc<Node>, level: u32, index: u64) -> bool {
    match Arc::make_mut(node) {
        Node::Branch(children) => {
            let slot = slot_of(index, level);
            if let Some(child) = children[slot].as_mut()
                && remove_in(child, level - 1, index)
            {
                children[slot] = None;
            }
        }
        Node::Leaf(pages) => pages[slot_of(index, 0)] = None,
    }
    node.is_empty()
}

/// `root` (of a trie with `height`) seen as a trie of `target` height: wrapped in branches whose
/// first child is the original root, so the original subtree keeps its identity for the diff.
fn lift(root: Option<&Arc<Node>>, height: u32, target: u32) -> Option<Arc<Node>> {
    let mut node = root?.clone();
    for level in height + 1..=target {
        let mut branch = Node::empty(level);
        if let Node::Branch(children) = &mut branch {
            children[0] = Some(node);
        }
        node = Arc::new(branch);
    }
    Some(node)
}

/// Appends the changes from `older` to `newer` (both at `level`, covering indexes from `base`)
/// at page indexes in `lo..hi`, skipping every subtree the two share and every subtree outside
/// the range.
fn diff(
    older: Option<&Arc<Node>>,
    newer: Option<&Arc<Node>>,
    level: u32,
    base: u64,
    (lo, hi): (u64, u64),
    out: &mut Vec<PageChange>,
) {
    // Pages a node at `level` covers: 64^(level + 1) (saturating at the top of the index space).
    let covers = 1u64.checked_shl(BITS * (level + 1)).unwrap_or(u64::MAX);
    if base >= hi || base.saturating_add(covers) <= lo {
        return;
    }
    match (older, newer) {
        (None, None) => {}
        (Some(a), Some(b)) if Arc::ptr_eq(a, b) => {}
        (old, new) => match (old.map(|n| &**n), new.map(|n| &**n)) {
            (Some(Node::Branch(a)), Some(Node::Branch(b))) => {
                for slot in 0..FANOUT {
                    let child_base = base | ((slot as u64) << (BITS * level));
                    diff(a[slot].as_ref(), b[slot].as_ref(), level - 1, child_base, (lo, hi), out);
                }
            }
            (None, Some(Node::Branch(b))) => {
                for (slot, child) in b.iter().enumerate() {
                    diff(None, child.as_ref(), level - 1, base | ((slot as u64) << (BITS * level)), (lo, hi), out);
                }
            }
            (Some(Node::Branch(a)), None) => {
                for (slot, child) in a.iter().enumerate() {
                    diff(child.as_ref(), None, level - 1, base | ((slot as u64) << (BITS * level)), (lo, hi), out);
                }
            }
            (a, b) => {
                let empty: [Option<Page>; FANOUT] = std::array::from_fn(|_| None);
                let a_pages = match a {
                    Some(Node::Leaf(pages)) => pages,
                    _ => &empty,
                };
                let b_pages = match b {
                    Some(Node::Leaf(pages)) => pages,
                    _ => &empty,
                };
                for slot in 0..FANOUT {
                    let index = PageIndex(base | slot as u64);
                    if index.0 < lo || index.0 >= hi {
                        continue;
                    }
                    match (&a_pages[slot], &b_pages[slot]) {
                        (Some(x), Some(y)) if x.same_as(y) => {}
                        (_, Some(y)) => out.push(PageChange::Written(index, y.clone())),
                        (Some(_), None) => out.push(PageChange::Zeroed(index)),
                        (None, None) => {}
                    }
                }
            }
        },
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
    fn released_pages_are_reused_only_when_no_map_holds_them() {
        // Goal: a deleted map's pages go back to the pool only when no other map holds them,
        // and come back holding the new page's bytes. Method: two maps share page A, a third
        // holds page B alone; drop the second and third; new pages reuse B's allocation, never A's.
        let a = Page::from_bytes(&[1u8; PAGE_SIZE]);
        let mut first = PageMap::new();
        first.fill_shared(PageIndex(0), 1, &a);
        let second = first.clone();
        drop(a);
        let mut third = PageMap::new();
        third.write(0, &[2u8; PAGE_SIZE]);
        let (a_addr, b_addr) = (first.page(PageIndex(0)).unwrap().addr(), third.page(PageIndex(0)).unwrap().addr());
        drop(second);
        drop(third);
        let reused = Page::from_bytes(&[3u8; PAGE_SIZE]);
        assert_eq!(reused.addr(), b_addr);
        assert!(reused.bytes().iter().all(|b| *b == 3));
        let fresh = Page::from_bytes(&[4u8; PAGE_SIZE]);
        assert_ne!(fresh.addr(), a_addr);
        assert!(first.page(PageIndex(0)).unwrap().bytes().iter().all(|b| *b == 1));
    }

    #[test]
    fn a_released_page_returns_with_its_own_buffer_and_copies_never_share_one() {
        // Goal: the header and the buffer travel together — a pooled page comes back with the
        // buffer it had, a copy-on-write copy gets a buffer of its own, and the shared original
        // keeps its bytes. Method: write a page, share it with a clone, write partially (copy),
        // compare buffer addresses and bytes; then drop the only holder and build a new page.
        let mut map = PageMap::new();
        map.write(0, &[7u8; PAGE_SIZE]);
        let frozen = map.clone();
        map.write(100, &[8u8; 10]);
        let (old, new) = (frozen.page(PageIndex(0)).unwrap(), map.page(PageIndex(0)).unwrap());
        assert!(!old.same_as(new));
        assert_ne!(old.buffer_addr(), new.buffer_addr());
        assert!(old.bytes().iter().all(|b| *b == 7));
        assert_eq!(&new.bytes()[98..112], &[7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7, 7]);
        let (new_addr, new_buffer) = (new.addr(), new.buffer_addr());
        drop(map);
        let reused = Page::from_bytes(&[9u8; PAGE_SIZE]);
        assert_eq!((reused.addr(), reused.buffer_addr()), (new_addr, new_buffer));
        assert!(reused.bytes().iter().all(|b| *b == 9));
        // An unshared page written in place keeps its identity and its buffer.
        let mut alone = PageMap::new();
        alone.write(0, &[1u8; PAGE_SIZE]);
        let (addr, buffer) =
            (alone.page(PageIndex(0)).unwrap().addr(), alone.page(PageIndex(0)).unwrap().buffer_addr());
        alone.write(5, &[2u8; 3]);
        let page = alone.page(PageIndex(0)).unwrap();
        assert_eq!((page.addr(), page.buffer_addr()), (addr, buffer));
        assert_eq!(&page.bytes()[4..9], &[1, 2, 2, 2, 1]);
        assert!(frozen.page(PageIndex(0)).unwrap().bytes().iter().all(|b| *b == 7));
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a fresh thread starts with an empty page pool")]
    fn headers_of_pages_allocated_together_sit_together() {
        // Goal: the headers of pages written together are dense (what makes releasing a
        // deleted copy's pages cheap); one page at a time, the allocator put each header after
        // its 16 KiB buffer. Method: on a fresh thread (empty pool), write 64 whole pages and
        // count neighbours whose headers are at most a cache line apart: one page at a time
        // none were (16 KiB and more); the allocator may still hand a few headers out of its
        // free lists, so most, not all, must be.
        std::thread::spawn(|| {
            let mut map = PageMap::new();
            map.write(0, &vec![5u8; BATCH_PAGES * PAGE_SIZE]);
            let addrs: Vec<usize> = map.iter().map(|(_, page)| page.addr()).collect();
            assert_eq!(addrs.len(), BATCH_PAGES);
            let close = addrs.windows(2).filter(|pair| pair[0].abs_diff(pair[1]) <= 64).count();
            assert!(close >= BATCH_PAGES * 3 / 4, "only {close} of 63 neighbouring headers are close");
            assert!(map.iter().all(|(_, page)| page.bytes().iter().all(|b| *b == 5)));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_copy_knows_the_blocks_written_since_its_source() {
        // Goal: provenance is exact for a copy-on-write copy and absent otherwise, also when a
        // page is built again in a pooled allocation. Method: share a page, write parts of it
        // through one map (copy, then in-place writes), compare with the shared original.
        let mut map = PageMap::new();
        map.write(0, &[1u8; PAGE_SIZE]);
        let frozen = map.clone();
        let old = frozen.page(PageIndex(0)).unwrap();
        assert_eq!(old.blocks_written_since(old), Some(0));
        map.write(10, &[2u8; 5]); // copy, block 0
        assert_eq!(map.page(PageIndex(0)).unwrap().blocks_written_since(old), Some(0b1));
        map.write(3 * PAGE_BLOCK_SIZE as u64 - 1, &[3u8; 2]); // in place, blocks 2 and 3
        assert_eq!(map.page(PageIndex(0)).unwrap().blocks_written_since(old), Some(0b1101));
        // Unrelated pages, and the source asked about its copy.
        let new = map.page(PageIndex(0)).unwrap().clone();
        assert_eq!(old.blocks_written_since(&new), None);
        assert_eq!(Page::from_bytes(&[1u8; PAGE_SIZE]).blocks_written_since(old), None);
        // A whole-page write on a shared page is a new page, not a copy.
        let again = map.clone();
        map.write(0, &[4u8; PAGE_SIZE]);
        assert_eq!(map.page(PageIndex(0)).unwrap().blocks_written_since(again.page(PageIndex(0)).unwrap()), None);
        // The copy's source released and its allocation reused: the reuse is another page.
        let copy = again.page(PageIndex(0)).unwrap().clone();
        let source_addr = old.addr();
        drop(frozen);
        let reused = std::iter::repeat_with(|| Page::from_bytes(&[5u8; PAGE_SIZE]))
            .take(2 * POOL_PAGES)
            .find(|page| page.addr() == source_addr)
            .expect("the released source's allocation is reused");
        assert_eq!(copy.blocks_written_since(&reused), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Goal: whatever the writes, a page's provenance never hides a difference: where
        /// `blocks_written_since` answers, every block outside the answer reads the same in the
        /// held older map. Method: random writes (partial, whole-page, spanning pages) to a map,
        /// with snapshots taken (and held) between them; compare every held snapshot with the
        /// final map.
        #[test]
        fn provenance_never_hides_a_difference(
            ops in proptest::collection::vec((0u64..4 * PAGE_SIZE_U64, 1usize..2 * PAGE_SIZE, proptest::prelude::any::<u8>(), proptest::bool::ANY), 1..40)
        ) {
            let mut map = PageMap::new();
            let mut held = Vec::new();
            for (offset, len, byte, snapshot) in ops {
                if snapshot {
                    held.push(map.clone());
                }
                map.write(offset, &vec![byte; len]);
            }
            for older in &held {
                for index in 0..6 {
                    let (Some(new), Some(old)) = (map.page(PageIndex(index)), older.page(PageIndex(index))) else {
                        continue;
                    };
                    let Some(written) = new.blocks_written_since(old) else { continue };
                    for block in 0..PAGE_BLOCKS {
                        if written & (1 << block) == 0 {
                            let range = block * PAGE_BLOCK_SIZE..(block + 1) * PAGE_BLOCK_SIZE;
                            proptest::prop_assert_eq!(&new.bytes()[range.clone()], &old.bytes()[range]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn diff_in_a_range_is_the_full_diff_filtered() {
        // Goal: the range-limited diff prunes subtrees without losing or inventing a change.
        // Method: pages over three trie levels (indexes up to 300,000), writes, zeroings and new
        // pages, then compare with the full diff filtered for ranges that cut leaves and branches.
        let mut map = PageMap::new();
        for i in (0..5000u64).step_by(7).chain([4096 * 64, 300_000]) {
            map.write(i * PAGE_SIZE_U64, &[1u8; 16]);
        }
        let older = map.clone();
        for i in [0u64, 63, 64, 700, 4095, 4096, 262_144, 299_999, 300_000] {
            map.write(i * PAGE_SIZE_U64 + 3, &[2u8; 8]);
        }
        map.remove(14);
        map.remove(4096 * 64);
        let full: Vec<PageChange> = map.changed_pages(&older).collect();
        assert_eq!(full.len(), 10);
        for (lo, hi) in [(0, 1), (0, 64), (1, 65), (63, 4097), (700, 700), (4096, 300_000), (262_144, u64::MAX), (5, 3)]
        {
            let ranged: Vec<PageChange> = map.changed_pages_in(&older, PageIndex(lo)..PageIndex(hi)).collect();
            let filtered: Vec<PageChange> = full.iter().filter(|c| (lo..hi).contains(&c.index().0)).cloned().collect();
            assert_eq!(ranged, filtered, "range {lo}..{hi}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        // Goal: `copy_range` makes exactly the range read (and share) what the source holds
        // there, leaves the rest alone, keeps the page count right, and a later write to either
        // map (whole leaves are then shared nodes) does not reach the other.
        // Method: random sparse maps over three leaves and a far page (two trie heights), a
        // random range; every page is then the source's inside the range and the target's own
        // outside it.
        #[test]
        fn copy_range_shares_exactly_the_range(
            source_pages in proptest::collection::btree_set(0u64..200, 0..120),
            target_pages in proptest::collection::btree_set(0u64..200, 0..120),
            far in proptest::bool::ANY,
            first in 0u64..200,
            count in 0u64..200,
        ) {
            let build = |pages: &std::collections::BTreeSet<u64>, byte: u8, far: bool| {
                let mut map = PageMap::new();
                for &i in pages {
                    map.write(i * PAGE_SIZE_U64, &[byte; PAGE_SIZE]);
                }
                if far {
                    map.write(70_000 * PAGE_SIZE_U64, &[byte; 8]);
                }
                map
            };
            let mut source = build(&source_pages, 1, far);
            let mut target = build(&target_pages, 2, !far);
            let before = target.clone();
            target.copy_range(&source, PageIndex(first), count);
            let end = first + count;
            for i in (0..200).chain([70_000]) {
                let expected = if (first..end).contains(&i) { source.page(PageIndex(i)) } else { before.page(PageIndex(i)) };
                proptest::prop_assert_eq!(target.page(PageIndex(i)), expected, "page {}", i);
            }
            proptest::prop_assert_eq!(target.page_count(), target.iter().count() as u64);
            // Writes after the copy stay on their side: the source still reads what a map built
            // the same way reads (separate allocations, so compared byte by byte), and a write
            // to the source does not reach the target.
            for i in first..end.min(200) {
                target.write(i * PAGE_SIZE_U64 + 5, &[3u8; 4]);
            }
            proptest::prop_assert!(source.same_content(&build(&source_pages, 1, far)));
            source.write(first * PAGE_SIZE_U64, &[4u8; PAGE_SIZE]);
            if count > 0 {
                proptest::prop_assert_eq!(&target.page(PageIndex(first)).unwrap().bytes()[5..9], &[3u8; 4]);
            }
        }
    }

    #[test]
    fn copy_range_takes_whole_leaves_as_nodes() {
        // Goal: a range covering aligned leaves shares the leaf nodes (one reference each from
        // both maps), so the two maps diff as equal there without visiting pages, and dropping
        // one map leaves the other the nodes' only holder.
        let mut source = PageMap::new();
        source.write(0, &vec![7u8; 256 * PAGE_SIZE]);
        let mut target = PageMap::new();
        target.write(10 * PAGE_SIZE_U64, &[1u8; 8]);
        target.copy_range(&source, PageIndex(64), 128);
        for index in [64u64, 127, 128, 191] {
            let (leaf, other) = (target.leaf(index).unwrap(), source.leaf(index).unwrap());
            assert!(Arc::ptr_eq(leaf, other), "leaf of page {index} shared");
        }
        assert!(!Arc::ptr_eq(target.leaf(0).unwrap(), source.leaf(0).unwrap()));
        assert_eq!(target.page_count(), 129);
        assert_eq!(target.changed_pages_in(&source, PageIndex(64)..PageIndex(192)).count(), 0);
        assert_eq!(Arc::strong_count(target.leaf(64).unwrap()), 2);
        drop(source);
        assert_eq!(Arc::strong_count(target.leaf(64).unwrap()), 1);
        assert_eq!(target.page(PageIndex(100)).unwrap().bytes(), &[7u8; PAGE_SIZE][..]);
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
