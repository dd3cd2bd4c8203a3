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
use std::ops::{ControlFlow, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::streaming::copy_streaming;

/// Bytes in one page (3PAR's snapshot copy-on-write granularity is 16 KiB).
pub const PAGE_SIZE: usize = 16 * 1024;

/// Page size as a `u64`, for offset arithmetic.
pub const PAGE_SIZE_U64: u64 = PAGE_SIZE as u64;

/// Pages in one MiB.
pub const PAGES_PER_MIB: u64 = (1 << 20) / PAGE_SIZE_U64;

/// The indexes of the pages covering `len` bytes at `offset` (empty when `len` is 0).
pub(crate) fn pages_spanned(offset: u64, len: u64) -> std::ops::Range<u64> {
    if len == 0 {
        return 0..0;
    }
    offset / PAGE_SIZE_U64..(offset + len - 1) / PAGE_SIZE_U64 + 1
}

/// `pages` in MiB, rounded up (how space is reported and limits are set).
pub fn pages_to_mib(pages: u64) -> u64 {
    pages.div_ceil(PAGES_PER_MIB)
}

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
/// Equality is identity: two `Page`s are equal when they are the same page (same allocation,
/// and the same place in it for a page of an extent).
///
/// A page is either a page of its own or one of an extent's 64 (see [`Extent`]: what a write
/// of a whole aligned leaf builds).
///
/// A page of its own is two allocations: a small shared header (the `Arc`'s counters and a
/// pointer) and the 16 KiB buffer it owns. The header is what maps share and count, so releasing
/// a page — deciding whether it is still held and pooling it — reads only the header; the
/// buffer, often untouched since it was written (a deleted copy's overwritten data), is not read
/// at all. Headers are allocated in batches, after their buffers (see [`refill`]), so the headers
/// of pages written together sit together. A page built from bytes is copied once, never zeroed
/// first: on this kind of machine zeroing 16 KiB costs more than copying it. Header and buffer
/// come from this thread's pool of released pages when it has one (see [`POOL`]).
///
/// A page also knows its provenance (see [`Page::blocks_written_since`]): the page it was
/// copied from on a copy-on-write and which 1 KiB blocks were written after the copy, so a
/// reader comparing the two (the recovery engine's incremental verifier) reads only those.
#[derive(Clone)]
pub struct Page(Handle);

/// What a [`Page`] holds: its own allocation, or a place in an extent.
#[derive(Clone)]
enum Handle {
    Own(Arc<PageBuf>),
    /// Page `slot` (0..64) of the extent.
    InExtent(Arc<Extent>, u8),
}

/// A page as a map holds it, borrowed from the map (see [`PageMap::page`]): no reference
/// count is touched to look at it. [`PageRef::to_page`] gives a [`Page`] to keep.
#[derive(Clone, Copy)]
pub struct PageRef<'a>(Place<'a>);

#[derive(Clone, Copy)]
enum Place<'a> {
    Own(&'a Arc<PageBuf>),
    InExtent(&'a Arc<Extent>, u8),
}

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

/// Bytes of an extent: one leaf's 64 pages.
const EXTENT_BYTES: usize = FANOUT * PAGE_SIZE;

/// 64 pages written together as one whole, aligned leaf (a write of 1 MiB or more covers
/// whole leaves): one 1 MiB buffer and one reference count for all of them.
///
/// Why: a map holds such a leaf as one [`Node::Extent`], so releasing it — a deleted copy's
/// overwritten megabyte — reads one counter and pools one buffer, where 64 pages of their own
/// cost 64 counters on some 32 cache lines (the larger part of a Recovery Manager backup's
/// policy removal before extents). The pages stay pages: a partial write to a shared extent's
/// leaf turns the leaf into 64 page handles into the extent ([`Handle::InExtent`]) and copies
/// only the written page, so copy-on-write keeps its 16 KiB granularity.
/// The cost: a page of an extent keeps the whole megabyte alive while any map holds it.
///
/// An extent's bytes are copied in with non-temporal stores ([`copy_streaming`]): a megabyte a
/// host wrote is read again only when the volume is read or replicated, and a cached copy would
/// push out the trie nodes, counters and code the model works on next.
///
/// The pages' ids are `first_id..first_id + 64`; their origin is always 0 (built from bytes, not
/// copied from a page).
struct Extent {
    /// `EXTENT_BYTES` long (empty only while being pooled on drop).
    bytes: Box<[u8]>,
    first_id: u64,
}

/// Released extent buffers kept per thread for reuse, at most this many (32 MiB).
const EXTENT_POOL_BUFFERS: usize = 32;

thread_local! {
    /// Buffers of extents no map holds any more, ready for the next extent built on this
    /// thread (a steady stream of whole-leaf writes then allocates nothing).
    static EXTENT_POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

impl Extent {
    /// An extent holding a copy of `bytes` (exactly `EXTENT_BYTES` long), with new ids.
    fn from_bytes(bytes: &[u8]) -> Extent {
        assert_eq!(bytes.len(), EXTENT_BYTES);
        let pooled = EXTENT_POOL.try_with(|pool| pool.borrow_mut().pop()).ok().flatten();
        // A new buffer comes zeroed from the allocator (for a megabyte, usually a fresh mapping
        // nothing has touched yet), so the streaming copy is mostly its first write.
        let mut buffer = pooled.unwrap_or_else(|| vec![0u8; EXTENT_BYTES].into_boxed_slice());
        copy_streaming(&mut buffer, bytes);
        let first_id = NEXT_PAGE_ID.fetch_add(FANOUT as u64, Ordering::Relaxed);
        Extent { bytes: buffer, first_id }
    }

    fn page(&self, slot: u8) -> &[u8] {
        let start = usize::from(slot) * PAGE_SIZE;
        &self.bytes[start..start + PAGE_SIZE]
    }
}

impl Drop for Extent {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.bytes);
        let _ = EXTENT_POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < EXTENT_POOL_BUFFERS {
                pool.push(buffer);
            }
        });
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
    /// 16 KiB deallocations, and the writes that follow take their header and buffer back.
    static POOL: RefCell<Vec<Arc<PageBuf>>> = const { RefCell::new(Vec::new()) };
}

/// Pages allocated at once when the pool is empty.
const BATCH_PAGES: usize = 64;

/// Released trie nodes kept per thread for reuse, at most this many (about 1 MiB).
const POOL_NODES: usize = 1024;

thread_local! {
    /// Trie nodes no map holds any more, emptied, ready to hold the next node built on this
    /// thread. A node is about 1 KiB, above the allocator's per-thread cache, so freeing one
    /// costs a trip through the allocator's bins (and the cold chunk headers around it); a
    /// deleted virtual copy releases a few dozen (its path nodes and the leaves the writes since
    /// replaced), and the writes that follow copy as many.
    static NODE_POOL: RefCell<Vec<Arc<Node>>> = const { RefCell::new(Vec::new()) };
}

/// `node` in an allocation of its own: a pooled one when there is one.
fn new_node(node: Node) -> Arc<Node> {
    match NODE_POOL.try_with(|pool| pool.borrow_mut().pop()) {
        Ok(Some(mut pooled)) => {
            *Arc::get_mut(&mut pooled).expect("pooled nodes are unshared") = node;
            pooled
        }
        _ => Arc::new(node),
    }
}

/// The node in `slot` to modify: copied first (into a pooled allocation when there is one)
/// when another map shares it, as [`Arc::make_mut`] does.
fn node_mut(slot: &mut Arc<Node>) -> &mut Node {
    if Arc::get_mut(slot).is_none() {
        *slot = new_node(Node::clone(slot));
    }
    Arc::get_mut(slot).expect("unshared now")
}

/// Releases `node`, a reference being dropped: when it is the last one, the node is emptied
/// (releasing what it alone held, see [`Node::release_contents`]) and its allocation pooled.
fn release_node(mut node: Arc<Node>) {
    // A plain load first: most released children are shared, and `get_mut` would cost an atomic
    // compare-and-swap on each.
    if Arc::strong_count(&node) != 1 {
        return;
    }
    let Some(inner) = Arc::get_mut(&mut node) else { return };
    if let Node::Extent(_) = inner {
        // Only the tag and the extent's handle are read and the tag written: an emptied leaf
        // would write all 1 KiB of a node untouched since it was built.
        *inner = Node::Vacant;
    } else {
        inner.release_contents();
        // Every slot is `None` now, so the emptied node holds nothing to drop; marking it vacant
        // spares the next user of the allocation a pass over its 64 empty slots.
        std::mem::forget(std::mem::replace(inner, Node::Vacant));
    }
    let _ = NODE_POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_NODES {
            pool.push(node);
        }
    });
}

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

impl<'a> PageRef<'a> {
    /// The page's bytes.
    pub fn bytes(self) -> &'a [u8] {
        match self.0 {
            Place::Own(buffer) => &buffer.0[..PAGE_SIZE],
            Place::InExtent(extent, slot) => extent.page(slot),
        }
    }

    /// The page's id and origin (see [`PageBuf`]).
    fn identity(self) -> (u64, u64) {
        match self.0 {
            Place::Own(buffer) => (buffer.id(), buffer.origin()),
            Place::InExtent(extent, slot) => (extent.first_id + u64::from(slot), 0),
        }
    }

    /// See [`Page::blocks_written_since`].
    pub fn blocks_written_since(self, older: PageRef<'_>) -> Option<u16> {
        if self.same_as(older) {
            return Some(0);
        }
        let (_, origin) = self.identity();
        (origin != 0 && origin >> PAGE_BLOCKS == older.identity().0).then_some(origin as u16)
    }

    /// Whether `self` and `other` are the same page.
    pub fn same_as(self, other: PageRef<'_>) -> bool {
        match (self.0, other.0) {
            (Place::Own(a), Place::Own(b)) => Arc::ptr_eq(a, b),
            (Place::InExtent(a, x), Place::InExtent(b, y)) => Arc::ptr_eq(a, b) && x == y,
            _ => false,
        }
    }

    /// Identifies the page within one process (for counting distinct pages; never used for
    /// ordering or ids): its header's address, or for a page of an extent the address of its
    /// bytes.
    pub fn addr(self) -> usize {
        match self.0 {
            Place::Own(buffer) => Arc::as_ptr(buffer) as usize,
            Place::InExtent(extent, slot) => extent.page(slot).as_ptr() as usize,
        }
    }

    /// The address of the page's bytes (tests: which buffer a page reuses).
    #[cfg(test)]
    fn buffer_addr(self) -> usize {
        self.bytes().as_ptr() as usize
    }

    /// A [`Page`] to keep (shares the page: one reference count more).
    pub fn to_page(self) -> Page {
        Page(match self.0 {
            Place::Own(buffer) => Handle::Own(Arc::clone(buffer)),
            Place::InExtent(extent, slot) => Handle::InExtent(Arc::clone(extent), slot),
        })
    }
}

impl Page {
    /// A page holding `bytes` (exactly one page long): one copy.
    pub fn from_bytes(bytes: &[u8]) -> Page {
        assert_eq!(bytes.len(), PAGE_SIZE);
        Page(Handle::Own(allocation_with(bytes, 0)))
    }

    /// The page, borrowed.
    pub fn as_ref(&self) -> PageRef<'_> {
        PageRef(match &self.0 {
            Handle::Own(buffer) => Place::Own(buffer),
            Handle::InExtent(extent, slot) => Place::InExtent(extent, *slot),
        })
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.as_ref().bytes()
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
        self.as_ref().blocks_written_since(older.as_ref())
    }

    /// Whether `self` and `other` are the same page.
    pub fn same_as(&self, other: &Page) -> bool {
        self.as_ref().same_as(other.as_ref())
    }

    /// See [`PageRef::addr`] (tests: which allocation a page reuses).
    #[cfg(test)]
    fn addr(&self) -> usize {
        self.as_ref().addr()
    }

    /// The buffer's address (tests: which buffer a page reuses).
    #[cfg(test)]
    fn buffer_addr(&self) -> usize {
        self.as_ref().buffer_addr()
    }

    /// The page's own buffer, when no other map (or handle) holds it: it may be written in place.
    fn unshared_mut(&mut self) -> Option<&mut PageBuf> {
        match &mut self.0 {
            Handle::Own(buffer) => Arc::get_mut(buffer),
            Handle::InExtent(..) => None,
        }
    }

    /// The page's buffer to write, copying the page first if another map shares it or it is a
    /// page of an extent (copy-on-write: the copy's origin is this page, no block written yet).
    fn make_mut(&mut self) -> &mut PageBuf {
        if self.unshared_mut().is_none() {
            let origin = self.as_ref().identity().0 << PAGE_BLOCKS;
            let copy = allocation_with(self.bytes(), origin);
            self.0 = Handle::Own(copy);
        }
        self.unshared_mut().expect("unshared just above")
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
        self.as_ref().fmt(f)
    }
}

impl PartialEq for PageRef<'_> {
    fn eq(&self, other: &PageRef<'_>) -> bool {
        self.same_as(*other)
    }
}

impl Eq for PageRef<'_> {}

impl fmt::Debug for PageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Place::Own(buffer) => write!(f, "Page({:p})", Arc::as_ptr(buffer)),
            Place::InExtent(extent, slot) => write!(f, "Page({:p}[{slot}])", Arc::as_ptr(extent)),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.release_contents();
    }
}

impl Node {
    /// Empties a branch or leaf in place (an extent leaf is left as it is: its one reference
    /// goes with the node).
    ///
    /// A dropped leaf releases up to 64 pages, often untouched since they were written (a
    /// deleted copy's overwritten data). Plain loads of their counters first let those cache
    /// misses overlap; then every page of its own this leaf alone held goes to the pool (no
    /// atomic decrement, no deallocation) while there is room, and the rest are released as
    /// usual. A dropped branch (a deleted copy's path to the pages it alone held) releases its
    /// children, most of them shared with newer maps and cold: their counters are loaded first
    /// for the same reason, and the children it alone held go to the node pool emptied.
    fn release_contents(&mut self) {
        let pages = match self {
            Node::Leaf(pages) => pages,
            Node::Extent(_) | Node::Vacant => return,
            Node::Branch(children) => {
                let held =
                    children.iter().flatten().fold(0usize, |sum, child| sum.wrapping_add(Arc::strong_count(child)));
                std::hint::black_box(held);
                for child in children.iter_mut().filter_map(Option::take) {
                    release_node(child);
                }
                return;
            }
        };
        let own = |page: &Page| match &page.0 {
            Handle::Own(buffer) => Some(Arc::strong_count(buffer)),
            Handle::InExtent(..) => None,
        };
        let held = pages.iter().flatten().filter_map(own).fold(0usize, usize::wrapping_add);
        std::hint::black_box(held);
        // One pass takes every page out: an unshared one of its own goes to the pool while there
        // is room, the rest are released as usual.
        let pooled = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            for page in pages.iter_mut().filter_map(Option::take) {
                if let Page(Handle::Own(buffer)) = page
                    && pool.len() < POOL_PAGES
                    && Arc::strong_count(&buffer) == 1
                {
                    pool.push(buffer);
                }
            }
        });
        if pooled.is_err() {
            // The thread is exiting (no pool): released as usual.
            pages.iter_mut().for_each(|slot| *slot = None);
        }
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
/// The variants live inline in the node's `Arc` allocation (a boxed array would add a pointer
/// chase per level); a branch therefore occupies a leaf's 1 KiB, which costs memory only per
/// 64 × 64 pages.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum Node {
    Branch([Option<Arc<Node>>; FANOUT]),
    Leaf([Option<Page>; FANOUT]),
    /// A leaf whose 64 pages are an extent's, in order (what a write of the whole leaf builds).
    Extent(Arc<Extent>),
    /// A released node waiting in [`NODE_POOL`]: it holds nothing, and no map refers to it.
    Vacant,
}

/// Why a vacant node cannot be reached from a map.
const VACANT: &str = "a vacant node is only in the node pool";

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
            Node::Extent(_) => false,
            Node::Vacant => unreachable!("{VACANT}"),
        }
    }

    /// Page `slot` of a leaf (either kind).
    fn page(&self, slot: usize) -> Option<PageRef<'_>> {
        match self {
            Node::Leaf(pages) => pages[slot].as_ref().map(Page::as_ref),
            Node::Extent(extent) => Some(PageRef(Place::InExtent(extent, slot as u8))),
            Node::Branch(_) => unreachable!("only leaves hold pages"),
            Node::Vacant => unreachable!("{VACANT}"),
        }
    }

    /// The page slots of a leaf to modify; an extent leaf becomes 64 handles into its extent
    /// first (the extent itself is not copied).
    fn pages_mut(&mut self) -> &mut [Option<Page>; FANOUT] {
        if let Node::Extent(extent) = self {
            let slots = std::array::from_fn(|slot| Some(Page(Handle::InExtent(Arc::clone(extent), slot as u8))));
            *self = Node::Leaf(slots);
        }
        match self {
            Node::Leaf(pages) => pages,
            Node::Extent(_) | Node::Branch(_) => unreachable!("only leaves hold pages"),
            Node::Vacant => unreachable!("{VACANT}"),
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

impl Drop for PageMap {
    /// The root goes to the node pool when this map alone held it (see [`release_node`]).
    fn drop(&mut self) {
        if let Some(root) = self.root.take() {
            release_node(root);
        }
    }
}

impl fmt::Debug for PageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageMap({} pages)", self.len)
    }
}

impl PartialEq for PageMap {
    /// Equal when they hold the same page allocations at the same indexes.
    fn eq(&self, other: &PageMap) -> bool {
        self.len == other.len && self.try_each_change(other, |_, _, _| ControlFlow::Break(())).is_continue()
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
    pub fn page(&self, index: PageIndex) -> Option<PageRef<'_>> {
        self.leaf(index.0)?.page(slot_of(index.0, 0))
    }

    /// Pages holding data, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (PageIndex, PageRef<'_>)> {
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
                self.root = Some(new_node(branch));
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
            let Node::Branch(children) = node_mut(slot.get_or_insert_with(|| new_node(Node::empty(level)))) else {
                unreachable!("nodes above level 0 are branches")
            };
            slot = &mut children[slot_of(index, level)];
        }
        slot
    }

    /// The leaf holding page `index`, creating (or copying, when shared) the nodes on its path.
    fn leaf_mut(&mut self, index: u64) -> &mut Node {
        node_mut(self.leaf_slot_mut(index).get_or_insert_with(|| new_node(Node::empty(0))))
    }

    /// The slot of page `index`, creating (or copying, when shared) the nodes on its path.
    fn slot_mut(&mut self, index: u64) -> &mut Option<Page> {
        &mut self.leaf_mut(index).pages_mut()[slot_of(index, 0)]
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
    /// page is replaced by a new one (whole-page write) or copied first (partial write). Each
    /// whole aligned leaf the write covers (64 pages, 1 MiB) becomes one extent (see [`Extent`]).
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let mut done = 0usize;
        let mut added = 0u64;
        while done < data.len() {
            let position = offset + done as u64;
            let index = position / PAGE_SIZE_U64;
            let within = (position % PAGE_SIZE_U64) as usize;
            if within == 0 && index & MASK == 0 && data.len() - done >= EXTENT_BYTES {
                self.write_extent(index, &data[done..done + EXTENT_BYTES]);
                done += EXTENT_BYTES;
                continue;
            }
            let take = (PAGE_SIZE - within).min(data.len() - done);
            let source = &data[done..done + take];
            let leaf = self.leaf_mut(index);
            if let Node::Extent(extent) = leaf
                && let Some(extent) = Arc::get_mut(extent)
            {
                // No other map or handle holds this extent: overwrite it where it is.
                let start = slot_of(index, 0) * PAGE_SIZE + within;
                extent.bytes[start..start + take].copy_from_slice(source);
                done += take;
                continue;
            }
            let slot = &mut leaf.pages_mut()[slot_of(index, 0)];
            match slot {
                Some(page) => {
                    if let Some(buffer) = page.unshared_mut() {
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
                    added += 1;
                }
            }
            done += take;
        }
        self.len += added;
    }

    /// Makes the leaf of page `index` (a multiple of 64) hold `bytes` (one leaf's worth) as one
    /// extent: in place when this map alone holds an extent there, else a new one.
    fn write_extent(&mut self, index: u64, bytes: &[u8]) {
        if let Some(node) = self.leaf_slot_mut(index)
            && let Some(Node::Extent(extent)) = Arc::get_mut(node)
            && let Some(extent) = Arc::get_mut(extent)
        {
            copy_streaming(&mut extent.bytes, bytes);
            return;
        }
        self.set_leaf(index, new_node(Node::Extent(Arc::new(Extent::from_bytes(bytes)))));
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
        let mut out = Vec::new();
        self.for_each_change_in(older, range, |index, _, newer| {
            out.push(match newer {
                Some(page) => PageChange::Written(index, page.to_page()),
                None => PageChange::Zeroed(index),
            });
        });
        out.into_iter()
    }

    /// The changes of [`PageMap::changed_pages_in`], in index order, as `visit(index, older,
    /// newer)` with both maps' pages borrowed (`None`: absent, reads as zeros): no page handle
    /// is cloned and no page is looked up again, for a caller that reads the pages where they
    /// differ. Cost as [`PageMap::changed_pages_in`].
    pub fn for_each_change_in(
        &self,
        older: &PageMap,
        range: Range<PageIndex>,
        mut visit: impl FnMut(PageIndex, Option<PageRef<'_>>, Option<PageRef<'_>>),
    ) {
        let _ = self.try_each_change_in(older, range, |index, older, newer| {
            visit(index, older, newer);
            ControlFlow::Continue(())
        });
    }

    /// [`PageMap::for_each_change_in`] over every index, stopping at the first change for which
    /// `visit` breaks (for comparisons that have their answer there).
    fn try_each_change(
        &self,
        older: &PageMap,
        visit: impl FnMut(PageIndex, Option<PageRef<'_>>, Option<PageRef<'_>>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        self.try_each_change_in(older, PageIndex(0)..PageIndex(u64::MAX), visit)
    }

    fn try_each_change_in(
        &self,
        older: &PageMap,
        range: Range<PageIndex>,
        mut visit: impl FnMut(PageIndex, Option<PageRef<'_>>, Option<PageRef<'_>>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let height = self.height.max(older.height);
        let newer_root = lift(self.root.as_ref(), self.height, height);
        let older_root = lift(older.root.as_ref(), older.height, height);
        if range.start >= range.end {
            return ControlFlow::Continue(());
        }
        let span = (range.start.0, range.end.0);
        diff(older_root.as_ref(), newer_root.as_ref(), height, 0, span, &mut visit)
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
        let pages = pages_spanned(offset, len);
        self.copy_range(from, PageIndex(pages.start), pages.end - pages.start);
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
                Some(page) => self.insert(index, page.to_page()),
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
                Node::Leaf(_) | Node::Extent(_) => unreachable!("nodes above level 0 are branches"),
                Node::Vacant => unreachable!("{VACANT}"),
            }
        }
        Some(node)
    }

    /// Puts `leaf` (a non-empty leaf node) where the leaf holding page `index` goes, replacing
    /// the one there.
    fn set_leaf(&mut self, index: u64, leaf: Arc<Node>) {
        let added = leaf_len(&leaf);
        let removed = self.leaf_slot_mut(index).replace(leaf).map_or(0, |old| {
            let len = leaf_len(&old);
            release_node(old);
            len
        });
        self.len = self.len - removed + added;
    }

    /// Whether both maps read the same bytes everywhere (content comparison, for tests and
    /// invariants; shared pages are skipped without reading them).
    pub fn same_content(&self, other: &PageMap) -> bool {
        self.try_each_change(other, |_, theirs, ours| {
            let same = match (theirs, ours) {
                (Some(theirs), Some(ours)) => theirs.bytes() == ours.bytes(),
                (None, Some(page)) | (Some(page), None) => page.bytes().iter().all(|b| *b == 0),
                (None, None) => true,
            };
            if same { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })
        .is_continue()
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
fn collect<'a>(node: &'a Node, level: u32, base: u64, out: &mut Vec<(PageIndex, PageRef<'a>)>) {
    match node {
        Node::Branch(children) => {
            for (slot, child) in children.iter().enumerate() {
                if let Some(child) = child {
                    collect(child, level - 1, base | ((slot as u64) << (BITS * level)), out);
                }
            }
        }
        leaf => {
            for slot in 0..FANOUT {
                if let Some(page) = leaf.page(slot) {
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
        Node::Extent(_) => FANOUT as u64,
        Node::Branch(_) => unreachable!("only leaves hold pages"),
        Node::Vacant => unreachable!("{VACANT}"),
    }
}

/// Clears `index` under `node`; returns whether `node` became empty (its parent drops it).
fn remove_in(node: &mut Arc<Node>, level: u32, index: u64) -> bool {
    match node_mut(node) {
        Node::Branch(children) => {
            let slot = slot_of(index, level);
            if let Some(child) = children[slot].as_mut()
                && remove_in(child, level - 1, index)
            {
                children[slot] = None;
            }
        }
        leaf => leaf.pages_mut()[slot_of(index, 0)] = None,
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

/// Visits the changes from `older` to `newer` (both at `level`, covering indexes from `base`)
/// at page indexes in `lo..hi` in index order, as `visit(index, older page, newer page)`,
/// skipping every subtree the two share and every subtree outside the range; stops when `visit`
/// breaks.
fn diff<'a, F: FnMut(PageIndex, Option<PageRef<'a>>, Option<PageRef<'a>>) -> ControlFlow<()>>(
    older: Option<&'a Arc<Node>>,
    newer: Option<&'a Arc<Node>>,
    level: u32,
    base: u64,
    (lo, hi): (u64, u64),
    visit: &mut F,
) -> ControlFlow<()> {
    // Pages a node at `level` covers: 64^(level + 1) (saturating at the top of the index space).
    let covers = 1u64.checked_shl(BITS * (level + 1)).unwrap_or(u64::MAX);
    if base >= hi || base.saturating_add(covers) <= lo {
        return ControlFlow::Continue(());
    }
    match (older, newer) {
        (None, None) => {}
        (Some(a), Some(b)) if Arc::ptr_eq(a, b) => {}
        (old, new) => match (old.map(|n| &**n), new.map(|n| &**n)) {
            (Some(Node::Branch(a)), Some(Node::Branch(b))) => {
                for slot in 0..FANOUT {
                    let child_base = base | ((slot as u64) << (BITS * level));
                    diff(a[slot].as_ref(), b[slot].as_ref(), level - 1, child_base, (lo, hi), visit)?;
                }
            }
            (None, Some(Node::Branch(b))) => {
                for (slot, child) in b.iter().enumerate() {
                    diff(None, child.as_ref(), level - 1, base | ((slot as u64) << (BITS * level)), (lo, hi), visit)?;
                }
            }
            (Some(Node::Branch(a)), None) => {
                for (slot, child) in a.iter().enumerate() {
                    diff(child.as_ref(), None, level - 1, base | ((slot as u64) << (BITS * level)), (lo, hi), visit)?;
                }
            }
            (a, b) => {
                for slot in 0..FANOUT {
                    let index = PageIndex(base | slot as u64);
                    if index.0 < lo || index.0 >= hi {
                        continue;
                    }
                    match (a.and_then(|leaf| leaf.page(slot)), b.and_then(|leaf| leaf.page(slot))) {
                        (Some(x), Some(y)) if x.same_as(y) => {}
                        (None, None) => {}
                        (x, y) => visit(index, x, y)?,
                    }
                }
            }
        },
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the visitor hands over each changed page's two sides as the maps hold them, in index
    // order, and only the changed ones. Method: a map with pages in three leaves, a clone, then
    // an overwrite, a new page, a removal (across leaves and a grown root) and a rewrite of the
    // same bytes; each visited pair is compared with both maps' lookups.
    #[test]
    fn changes_are_visited_with_both_sides() {
        let mut older = PageMap::new();
        for index in [3u64, 70, 200] {
            older.write(index * PAGE_SIZE_U64, &[index as u8; PAGE_SIZE]);
        }
        let mut newer = older.clone();
        newer.write(3 * PAGE_SIZE_U64 + 100, &[9; 10]);
        newer.write(5_000 * PAGE_SIZE_U64, &[5; PAGE_SIZE]);
        newer.remove(70);
        newer.write(200 * PAGE_SIZE_U64, &[200; PAGE_SIZE]);
        let mut visited = Vec::new();
        newer.for_each_change_in(&older, PageIndex(0)..PageIndex(u64::MAX), |index, old, new| {
            let same = |a: Option<PageRef<'_>>, b: Option<PageRef<'_>>| match (a, b) {
                (Some(a), Some(b)) => a.same_as(b),
                (None, None) => true,
                _ => false,
            };
            assert!(same(old, older.page(index)) && same(new, newer.page(index)), "page {index:?}");
            visited.push(index.0);
        });
        // Page 200 was written again with new identity: a change, although the bytes match.
        assert_eq!(visited, [3, 70, 200, 5_000]);
        let mut in_range = Vec::new();
        newer.for_each_change_in(&older, PageIndex(4)..PageIndex(201), |index, _, _| in_range.push(index.0));
        assert_eq!(in_range, [70, 200]);
        let listed: Vec<u64> = newer.changed_pages(&older).map(|c| c.index().0).collect();
        assert_eq!(listed, visited);
        // A visit that breaks stops the walk there.
        let mut until_break = Vec::new();
        let flow = newer.try_each_change(&older, |index, _, _| {
            until_break.push(index.0);
            if index.0 == 70 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
        assert!(flow.is_break());
        assert_eq!(until_break, [3, 70]);
    }

    // Goal: maps are equal when they hold the same page allocations at the same indexes, and
    // have the same content when they read the same bytes. Method: a clone; a rewrite of the
    // same bytes (new allocation); a page of zeros against an absent page; a different byte.
    #[test]
    fn equality_is_by_allocation_and_content_by_bytes() {
        let mut map = PageMap::new();
        map.write(0, &[1; PAGE_SIZE]);
        map.write(100 * PAGE_SIZE_U64, &[2; PAGE_SIZE]);
        let clone = map.clone();
        assert!(map == clone && map.same_content(&clone));
        let mut rewritten = map.clone();
        rewritten.write(0, &[1; PAGE_SIZE]);
        assert!(rewritten != map && rewritten.same_content(&map) && map.same_content(&rewritten));
        let mut zeros = map.clone();
        zeros.write(7 * PAGE_SIZE_U64, &[0; PAGE_SIZE]);
        assert!(zeros != map && zeros.same_content(&map) && map.same_content(&zeros));
        let mut changed = map.clone();
        changed.write(100 * PAGE_SIZE_U64 + 5, &[3]);
        assert!(changed != map && !changed.same_content(&map) && !map.same_content(&changed));
    }

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
        // its 16 KiB buffer. Method: on a fresh thread (empty pool), write 64 whole pages (one
        // page off a leaf's start, so they are pages of their own, not an extent) and count
        // neighbours whose headers are at most a cache line apart: one page at a time none were
        // (16 KiB and more); the allocator may still hand a few headers out of its free lists,
        // so most, not all, must be.
        std::thread::spawn(|| {
            let mut map = PageMap::new();
            map.write(PAGE_SIZE_U64, &vec![5u8; BATCH_PAGES * PAGE_SIZE]);
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
        let new = map.page(PageIndex(0)).unwrap().to_page();
        assert_eq!(old.blocks_written_since(new.as_ref()), None);
        assert_eq!(Page::from_bytes(&[1u8; PAGE_SIZE]).as_ref().blocks_written_since(old), None);
        // A whole-page write on a shared page is a new page, not a copy.
        let again = map.clone();
        map.write(0, &[4u8; PAGE_SIZE]);
        assert_eq!(map.page(PageIndex(0)).unwrap().blocks_written_since(again.page(PageIndex(0)).unwrap()), None);
        // The copy's source released and its allocation reused: the reuse is another page.
        let copy = again.page(PageIndex(0)).unwrap().to_page();
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

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a fresh thread starts with empty pools")]
    fn a_whole_leaf_write_is_one_extent_and_stays_pages() {
        use std::collections::BTreeSet;

        // Goal: a write covering whole aligned leaves builds one extent per leaf (one node, one
        // count), yet its pages behave as pages: a partial write to a shared extent copies only
        // the written page (the other 63 stay the very pages the copy holds), with exact
        // provenance; a partial write to an unshared extent lands in place; a released extent's
        // buffer carries the next extent built. Method: on a fresh thread (empty pools), write
        // 2 MiB plus one page at a leaf boundary, inspect the nodes, share, write, compare.
        std::thread::spawn(|| {
            let mut map = PageMap::new();
            let data: Vec<u8> = (0..2 * EXTENT_BYTES + PAGE_SIZE).map(|i| (i % 253) as u8).collect();
            map.write(64 * PAGE_SIZE_U64, &data);
            assert_eq!(map.page_count(), 129);
            for index in [64u64, 128] {
                assert!(matches!(**map.leaf(index).unwrap(), Node::Extent(_)), "leaf of page {index}");
            }
            assert!(matches!(**map.leaf(192).unwrap(), Node::Leaf(_)));
            let mut back = vec![0u8; data.len()];
            map.read(64 * PAGE_SIZE_U64, &mut back);
            assert_eq!(back, data);

            let frozen = map.clone();
            map.write(70 * PAGE_SIZE_U64 + 5, &[0xEE; 3]);
            assert!(matches!(**map.leaf(64).unwrap(), Node::Leaf(_)));
            assert!(matches!(**frozen.leaf(64).unwrap(), Node::Extent(_)));
            let changed: Vec<u64> = map.changed_pages(&frozen).map(|change| change.index().0).collect();
            assert_eq!(changed, vec![70]);
            for index in (64..128).filter(|index| *index != 70) {
                let (new, old) = (map.page(PageIndex(index)).unwrap(), frozen.page(PageIndex(index)).unwrap());
                assert!(new.same_as(old) && new.blocks_written_since(old) == Some(0), "page {index}");
            }
            let (new, old) = (map.page(PageIndex(70)).unwrap(), frozen.page(PageIndex(70)).unwrap());
            assert_eq!(new.blocks_written_since(old), Some(0b1));
            assert_eq!(&new.bytes()[..5], &old.bytes()[..5]);
            assert_eq!(&new.bytes()[5..8], &[0xEE; 3]);
            assert_eq!(&new.bytes()[8..], &old.bytes()[8..]);
            assert_eq!(old.bytes(), &data[6 * PAGE_SIZE..7 * PAGE_SIZE]);

            // The second extent is this map's alone: written in place, same page, same buffer.
            let before = map.page(PageIndex(130)).unwrap().buffer_addr();
            drop(frozen);
            map.write(130 * PAGE_SIZE_U64 + 1, &[0xDD; 2]);
            assert!(matches!(**map.leaf(128).unwrap(), Node::Extent(_)));
            let page = map.page(PageIndex(130)).unwrap();
            assert_eq!(page.buffer_addr(), before);
            assert_eq!(
                &page.bytes()[..4],
                &[data[2 * PAGE_SIZE + EXTENT_BYTES], 0xDD, 0xDD, data[2 * PAGE_SIZE + EXTENT_BYTES + 3]]
            );

            // A whole-leaf write over this map's own extent reuses it in place.
            map.write(128 * PAGE_SIZE_U64, &vec![3u8; EXTENT_BYTES]);
            assert_eq!(map.page(PageIndex(130)).unwrap().buffer_addr(), before);

            // Released (no map, no page handle holds them): their buffers carry the next extents.
            let released: BTreeSet<usize> =
                [64, 128].iter().map(|index| map.page(PageIndex(*index)).unwrap().buffer_addr()).collect();
            drop(map);
            let mut other = PageMap::new();
            other.write(0, &vec![9u8; 2 * EXTENT_BYTES]);
            let reused: BTreeSet<usize> =
                [0, 64].iter().map(|index| other.page(PageIndex(*index)).unwrap().buffer_addr()).collect();
            assert_eq!(reused, released);
            assert!(other.iter().all(|(_, page)| page.bytes().iter().all(|b| *b == 9)));
        })
        .join()
        .unwrap();
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a fresh thread starts with an empty node pool")]
    fn released_nodes_are_reused_only_when_no_map_holds_them() {
        // Goal: the nodes a dropped map alone held go to the node pool and carry the next copies
        // made on this thread; nodes another map still shares never do.
        // Method: on a fresh thread (an empty pool), count the pool across drops and writes.
        std::thread::spawn(|| {
            let pooled = || NODE_POOL.with(|pool| pool.borrow().len());
            let mut map = PageMap::new();
            map.write(0, &[1; 100]);
            map.write(5000 * PAGE_SIZE_U64, &[2; 100]);
            let shared = map.clone();
            drop(shared);
            assert_eq!(pooled(), 0, "a clone shares every node: nothing is released");
            let snapshot = map.clone();
            map.write(10, &[3; 10]);
            // The write copied the root, one branch and one leaf; the snapshot alone holds the
            // originals now.
            drop(snapshot);
            assert_eq!(pooled(), 3);
            let again = map.clone();
            map.write(20, &[4; 10]);
            assert_eq!(pooled(), 0, "the copies took the pooled nodes");
            let mut expected = vec![0u8; 100];
            expected[..100].fill(1);
            expected[10..20].fill(3);
            expected[20..30].fill(4);
            let mut read = vec![0u8; 100];
            map.read(0, &mut read);
            assert_eq!(read, expected);
            again.read(0, &mut read);
            expected[20..30].fill(1);
            assert_eq!(read, expected);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a fresh thread starts with empty pools")]
    fn a_released_extent_leaf_gives_back_its_buffer_and_node() {
        // Goal: the extent leaf a dropped map alone held gives its buffer to the extent pool and
        // its node to the node pool (vacant), and both carry later writes of either kind.
        // Method: on a fresh thread (empty pools), count both pools across a drop, then write a
        // whole leaf and a single page, and read every byte back.
        std::thread::spawn(|| {
            let nodes = || NODE_POOL.with(|pool| pool.borrow().len());
            let buffers = || EXTENT_POOL.with(|pool| pool.borrow().len());
            let mut map = PageMap::new();
            map.write(0, &vec![1u8; EXTENT_BYTES]);
            let snapshot = map.clone();
            map.write(0, &vec![2u8; EXTENT_BYTES]);
            assert_eq!((nodes(), buffers()), (0, 0), "the snapshot still holds the first extent");
            drop(snapshot);
            assert_eq!((nodes(), buffers()), (1, 1));
            assert!(NODE_POOL.with(|pool| matches!(*pool.borrow()[0], Node::Vacant)));
            let mut other = PageMap::new();
            other.write(0, &vec![3u8; EXTENT_BYTES]);
            assert_eq!((nodes(), buffers()), (0, 0), "the new extent leaf took both");
            let snapshot = other.clone();
            other.write(0, &vec![4u8; EXTENT_BYTES]);
            drop(snapshot);
            let mut paged = PageMap::new();
            paged.write(100, &[5; 10]);
            assert_eq!(nodes(), 0, "the new leaf took the vacant node");
            let mut read = vec![0u8; EXTENT_BYTES];
            map.read(0, &mut read);
            assert!(read.iter().all(|&b| b == 2));
            other.read(0, &mut read);
            assert!(read.iter().all(|&b| b == 4));
            let mut page = vec![0xEEu8; PAGE_SIZE];
            paged.read(0, &mut page);
            assert!(page[..100].iter().all(|&b| b == 0) && page[100..110].iter().all(|&b| b == 5));
            assert!(page[110..].iter().all(|&b| b == 0));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_page_of_an_extent_keeps_it_alive_and_removal_keeps_the_rest() {
        // Goal: a page handle taken from an extent outlives every map (the extent stays until
        // its last page goes), and removing one page of an extent leaf keeps the other 63.
        let mut map = PageMap::new();
        map.write(0, &vec![4u8; EXTENT_BYTES]);
        let kept = map.page(PageIndex(10)).unwrap().to_page();
        let mut copy = map.clone();
        copy.remove(10);
        assert_eq!((copy.page_count(), map.page_count()), (63, 64));
        assert!(copy.page(PageIndex(10)).is_none());
        assert!(copy.page(PageIndex(11)).unwrap().same_as(map.page(PageIndex(11)).unwrap()));
        drop(map);
        drop(copy);
        assert!(kept.bytes().iter().all(|b| *b == 4));
    }

    /// One step of [`a_map_reads_what_was_written`].
    #[derive(Debug, Clone)]
    enum Step {
        /// `pages` pages of `byte` from page `first` (whole pages: leaf-aligned runs make extents).
        Pages { first: u64, pages: u64, byte: u8 },
        /// A partial write inside page `index`.
        Bytes { index: u64, within: usize, len: usize, byte: u8 },
        /// Keep a copy (a snapshot) of the map.
        Snapshot,
        /// Pages `first..first + count` become what snapshot `which` holds (`copy_range`).
        CopyFrom { which: usize, first: u64, count: u64 },
        /// Drop snapshot `which` (the nodes only it held go to the node pool, and later steps
        /// build nodes from the pool while the other maps still share theirs).
        Release { which: usize },
    }

    /// Pages the reference model covers (four leaves).
    const MODEL_PAGES: u64 = 4 * FANOUT as u64;

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            (0u64..4, 1u64..3, any::<u8>()).prop_map(|(leaf, leaves, byte)| Step::Pages {
                first: leaf * 64,
                pages: (leaves * 64).min(MODEL_PAGES - leaf * 64),
                byte
            }),
            (0u64..MODEL_PAGES, 1u64..80, any::<u8>()).prop_map(|(first, pages, byte)| Step::Pages {
                first,
                pages: pages.min(MODEL_PAGES - first),
                byte
            }),
            (0u64..MODEL_PAGES, 0usize..PAGE_SIZE, 1usize..3000, any::<u8>()).prop_map(|(index, within, len, byte)| {
                Step::Bytes { index, within, len: len.min(PAGE_SIZE - within), byte }
            }),
            Just(Step::Snapshot),
            (0usize..8, 0u64..MODEL_PAGES, 0u64..150).prop_map(|(which, first, count)| Step::CopyFrom {
                which,
                first,
                count: count.min(MODEL_PAGES - first)
            }),
            (0usize..8).prop_map(|which| Step::Release { which }),
        ]
    }

    /// The reference: page index → bytes, for pages present.
    type Model = std::collections::BTreeMap<u64, Vec<u8>>;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        // Goal: whatever mix of whole-leaf writes (extents), partial writes, snapshots and
        // range copies, every map — the live one and every held snapshot — reads exactly what
        // a plain page → bytes model says, counts its pages right, and its diff against every
        // other map names exactly the pages whose presence or bytes differ or that are not the
        // same page (never hiding a difference).
        // Method: the same steps applied to a `PageMap` and to a `BTreeMap` model; compare all.
        #[test]
        fn a_map_reads_what_was_written(steps in proptest::collection::vec(step(), 1..24)) {
            let mut map = PageMap::new();
            let mut model = Model::new();
            let mut held: Vec<(PageMap, Model)> = Vec::new();
            for step in steps {
                match step {
                    Step::Pages { first, pages, byte } => {
                        map.write(first * PAGE_SIZE_U64, &vec![byte; (pages as usize) * PAGE_SIZE]);
                        for index in first..first + pages {
                            model.insert(index, vec![byte; PAGE_SIZE]);
                        }
                    }
                    Step::Bytes { index, within, len, byte } => {
                        map.write(index * PAGE_SIZE_U64 + within as u64, &vec![byte; len]);
                        let page = model.entry(index).or_insert_with(|| vec![0; PAGE_SIZE]);
                        page[within..within + len].fill(byte);
                    }
                    Step::Snapshot => held.push((map.clone(), model.clone())),
                    Step::Release { which } => {
                        if which < held.len() {
                            held.remove(which);
                        }
                    }
                    Step::CopyFrom { which, first, count } => {
                        let Some((source, source_model)) = held.get(which) else { continue };
                        map.copy_range(source, PageIndex(first), count);
                        for index in first..first + count {
                            match source_model.get(&index) {
                                Some(bytes) => model.insert(index, bytes.clone()),
                                None => model.remove(&index),
                            };
                        }
                    }
                }
            }
            held.push((map, model));
            let mut buf = vec![0u8; PAGE_SIZE];
            for (map, model) in &held {
                proptest::prop_assert_eq!(map.page_count(), model.len() as u64);
                proptest::prop_assert_eq!(map.iter().count() as u64, map.page_count());
                for index in 0..MODEL_PAGES {
                    proptest::prop_assert_eq!(map.page(PageIndex(index)).is_some(), model.contains_key(&index));
                    map.read(index * PAGE_SIZE_U64, &mut buf);
                    let expected = model.get(&index).map_or(&ZERO_PAGE[..], Vec::as_slice);
                    proptest::prop_assert!(buf == expected, "page {} reads wrong", index);
                }
            }
            for (newer, newer_model) in &held {
                for (older, older_model) in &held {
                    let changed: std::collections::BTreeSet<u64> =
                        newer.changed_pages(older).map(|change| change.index().0).collect();
                    for index in 0..MODEL_PAGES {
                        let differs = newer_model.get(&index) != older_model.get(&index);
                        let same_page = match (newer.page(PageIndex(index)), older.page(PageIndex(index))) {
                            (Some(a), Some(b)) => a.same_as(b),
                            (None, None) => true,
                            _ => false,
                        };
                        proptest::prop_assert!(!differs || changed.contains(&index), "diff hides page {}", index);
                        proptest::prop_assert_eq!(changed.contains(&index), !same_page, "page {}", index);
                    }
                }
            }
        }
    }
}
