//! A by-id table with a unique name index: the storage shape of every named 3PAR object.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use rustc_hash::FxBuildHasher;

use crate::ids::VolumeId;

/// How a [`Registry`] keeps its objects by id: in id order, each boxed.
pub trait IdTable<Id, T>: Default {
    /// The object with `id`.
    fn get(&self, id: Id) -> Option<&T>;
    /// The object with `id`, mutably.
    fn get_mut(&mut self, id: Id) -> Option<&mut T>;
    /// Stores `value` under `id`; returns whether `id` was free (nothing is replaced if not).
    fn insert(&mut self, id: Id, value: T) -> bool;
    /// Takes the object with `id` out.
    fn remove(&mut self, id: Id) -> Option<T>;
    /// All objects in id order.
    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = (Id, &'a T)>
    where
        T: 'a;
    /// Number of objects.
    fn len(&self) -> usize;
}

/// Sparse ids (counters that only grow: CPGs, hosts, sets, groups): a B-tree.
impl<Id: Ord + Copy, T> IdTable<Id, T> for BTreeMap<Id, Box<T>> {
    fn get(&self, id: Id) -> Option<&T> {
        BTreeMap::get(self, &id).map(|value| &**value)
    }

    fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        BTreeMap::get_mut(self, &id).map(|value| &mut **value)
    }

    fn insert(&mut self, id: Id, value: T) -> bool {
        match self.entry(id) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(Box::new(value));
                true
            }
            std::collections::btree_map::Entry::Occupied(_) => false,
        }
    }

    fn remove(&mut self, id: Id) -> Option<T> {
        BTreeMap::remove(self, &id).map(|value| *value)
    }

    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = (Id, &'a T)>
    where
        T: 'a,
    {
        BTreeMap::iter(self).map(|(id, value)| (*id, &**value))
    }

    fn len(&self) -> usize {
        BTreeMap::len(self)
    }
}

/// Volume ids (1..=65,535, reused after deletion): a table indexed by id.
///
/// Why: volumes are the registry the hot paths hit (a snapshot creation looks up its source, the
/// base and the new copy half a dozen times), and an array can hold tens of thousands; a lookup
/// here is one index instead of a walk down a B-tree of that many entries, each node a likely
/// cache miss. The cost: the table is as long as the highest id ever used (at most 65,536 slots
/// of 8 bytes, 512 KiB), and iteration walks the slots up to the highest id in use (forwards;
/// backwards from the table's end).
///
/// The table never shrinks: ids rotate through the id space, so a copy created and deleted again
/// (a temporary snapshot, a backup's copy set) takes a higher id each time, and a table trimmed
/// back to the highest id in use had to be filled again up to the new id, a `memset` as long
/// as the gap (up to half a megabyte) in every creation.
#[derive(Debug, Clone)]
pub struct DenseVolumes<T> {
    slots: Vec<Option<Box<T>>>,
    len: usize,
}

impl<T> Default for DenseVolumes<T> {
    fn default() -> Self {
        DenseVolumes { slots: Vec::new(), len: 0 }
    }
}

impl<T> IdTable<VolumeId, T> for DenseVolumes<T> {
    fn get(&self, id: VolumeId) -> Option<&T> {
        self.slots.get(id.0 as usize)?.as_deref()
    }

    fn get_mut(&mut self, id: VolumeId) -> Option<&mut T> {
        self.slots.get_mut(id.0 as usize)?.as_deref_mut()
    }

    fn insert(&mut self, id: VolumeId, value: T) -> bool {
        let index = id.0 as usize;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        let slot = &mut self.slots[index];
        if slot.is_some() {
            return false;
        }
        *slot = Some(Box::new(value));
        self.len += 1;
        true
    }

    fn remove(&mut self, id: VolumeId) -> Option<T> {
        let value = self.slots.get_mut(id.0 as usize)?.take()?;
        self.len -= 1;
        Some(*value)
    }

    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = (VolumeId, &'a T)>
    where
        T: 'a,
    {
        DenseIter { slots: &self.slots, front: 0, back: self.slots.len(), remaining: self.len }
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// The volumes of a [`DenseVolumes`] in id order: stops once every volume has been yielded, so
/// the empty slots above the highest id in use are not walked (forwards).
struct DenseIter<'a, T> {
    slots: &'a [Option<Box<T>>],
    /// Next slot to look at from the front; slots at `back` and above are done.
    front: usize,
    back: usize,
    /// Volumes not yielded yet (from either end).
    remaining: usize,
}

impl<'a, T> Iterator for DenseIter<'a, T> {
    type Item = (VolumeId, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        while self.remaining > 0 && self.front < self.back {
            let index = self.front;
            self.front += 1;
            if let Some(value) = self.slots[index].as_deref() {
                self.remaining -= 1;
                return Some((VolumeId(index as u32), value));
            }
        }
        None
    }
}

impl<T> DoubleEndedIterator for DenseIter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        while self.remaining > 0 && self.front < self.back {
            self.back -= 1;
            if let Some(value) = self.slots[self.back].as_deref() {
                self.remaining -= 1;
                return Some((VolumeId(self.back as u32), value));
            }
        }
        None
    }
}

/// Objects keyed by id (iteration in id order = creation order) with a unique name index.
///
/// Objects are boxed. A B-tree node holds eleven values inline, and volumes are a few hundred
/// bytes: unboxed, each node was a 4 KiB allocation, each split copied half of one, and nodes
/// filled by increasing ids (the usual order) stayed about half full, so every volume grew the
/// heap by about twice its size. Boxed, a node holds pointers and an object is written once.
/// The cost: one allocation per object, and a pointer to follow on each access.
///
/// The name index is a hash map (FxHash: fixed, seedless, fast for short keys): it is only ever
/// looked up, never iterated, so its order cannot reach the model; a lookup costs one hash
/// instead of a dozen string comparisons down a B-tree of tens of thousands of volumes.
/// Its keys hold names of up to 31 bytes (every 3PAR object name) inline ([`NameKey`]), so a
/// lookup compares bytes in the table itself instead of following a pointer to a string
/// elsewhere in the heap (a cache miss per lookup on a large array), and an insertion allocates
/// nothing for the key.
///
/// Objects live in an [`IdTable`]: a B-tree by default, a table indexed by id for volumes.
#[derive(Debug, Clone)]
pub struct Registry<Id: Ord + Copy, T, Table = BTreeMap<Id, Box<T>>> {
    by_id: Table,
    by_name: hashbrown::HashMap<NameKey, Id, FxBuildHasher>,
    _objects: std::marker::PhantomData<T>,
}

impl<Id: Ord + Copy, T, Table: Default> Default for Registry<Id, T, Table> {
    fn default() -> Self {
        Registry { by_id: Table::default(), by_name: hashbrown::HashMap::default(), _objects: std::marker::PhantomData }
    }
}

impl<Id: Ord + Copy, T, Table: IdTable<Id, T>> Registry<Id, T, Table> {
    /// Adds `value` under `id` and `name`. Precondition: neither is taken.
    pub(crate) fn insert(&mut self, id: Id, name: &str, value: T) {
        self.insert_key(id, NameKey::new(name), value);
    }

    /// Adds `value` under `id` and the name `name_of` reads from it (no copy of the name is
    /// made to get around the borrow). Precondition: neither is taken.
    pub(crate) fn insert_named(&mut self, id: Id, value: T, name_of: impl FnOnce(&T) -> &str) {
        let key = NameKey::new(name_of(&value));
        self.insert_key(id, key, value);
    }

    fn insert_key(&mut self, id: Id, key: NameKey, value: T) {
        assert!(self.by_id.get(id).is_none());
        let previous = self.by_name.insert(key, id);
        assert!(previous.is_none());
        self.by_id.insert(id, value);
    }

    /// Removes the object `id` known as `name`.
    pub(crate) fn remove(&mut self, id: Id, name: &str) -> T {
        let removed = self.by_name.remove(&Name(name));
        assert!(removed == Some(id));
        self.by_id.remove(id).expect("registry id and name indexes agree")
    }

    /// Moves `id` from `old` to `new` in the name index. Precondition: `new` is free.
    pub(crate) fn rename(&mut self, id: Id, old: &str, new: &str) {
        let removed = self.by_name.remove(&Name(old));
        assert!(removed == Some(id));
        let previous = self.by_name.insert(NameKey::new(new), id);
        assert!(previous.is_none());
    }

    /// The object with `id`.
    pub fn get(&self, id: Id) -> Option<&T> {
        self.by_id.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        self.by_id.get_mut(id)
    }

    /// The id of the object called `name`.
    pub fn id_of(&self, name: &str) -> Option<Id> {
        self.by_name.get(&Name(name)).copied()
    }

    /// The object called `name`.
    pub fn by_name(&self, name: &str) -> Option<&T> {
        self.id_of(name).and_then(|id| self.get(id))
    }

    /// Whether `id` is taken.
    pub fn contains_id(&self, id: Id) -> bool {
        self.by_id.get(id).is_some()
    }

    /// Whether `name` is taken.
    pub fn contains_name(&self, name: &str) -> bool {
        self.by_name.contains_key(&Name(name))
    }

    /// All objects in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Id, &T)> {
        self.by_id.iter()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.len() == 0
    }
}

/// Longest name kept inline in a [`NameKey`] (3PAR names are at most 31 characters).
const INLINE_NAME: usize = 31;

/// A name as a key of the name index: inline up to [`INLINE_NAME`] bytes, on the heap beyond
/// (no 3PAR name is that long, but the registry does not rely on validation elsewhere).
/// Hashes and compares as its bytes, like [`Name`], the form lookups take.
#[derive(Clone)]
enum NameKey {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl NameKey {
    fn new(name: &str) -> NameKey {
        if name.len() <= INLINE_NAME {
            let mut bytes = [0u8; INLINE_NAME];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            NameKey::Inline { len: name.len() as u8, bytes }
        } else {
            NameKey::Heap(name.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            NameKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            NameKey::Heap(name) => name.as_bytes(),
        }
    }
}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &NameKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameKey {}

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// A name looked up in the index: hashes as the [`NameKey`] of the same name.
struct Name<'a>(&'a str);

impl Hash for Name<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

impl hashbrown::Equivalent<NameKey> for Name<'_> {
    fn equivalent(&self, key: &NameKey) -> bool {
        self.0.as_bytes() == key.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Names of every length around the inline limit, some sharing prefixes.
    fn name() -> impl Strategy<Value = String> {
        (0usize..40, 0u8..3).prop_map(|(len, letter)| {
            let letter = char::from(b'a' + letter);
            (0..len).map(|i| if i % 7 == 6 { '.' } else { letter }).collect()
        })
    }

    proptest! {
        // Goal: the name index (names inline up to 31 bytes, on the heap beyond) finds exactly
        // the names present, through inserts, removals and renames, like a B-tree of strings.
        #[test]
        fn name_index_behaves_as_a_map_of_strings(ops in proptest::collection::vec((0u8..3, name(), name()), 0..200)) {
            let mut registry: Registry<VolumeId, u32, DenseVolumes<u32>> = Registry::default();
            let mut model: BTreeMap<String, VolumeId> = BTreeMap::new();
            let mut next = 1u32;
            for (op, a, b) in ops {
                match op {
                    0 if !model.contains_key(&a) => {
                        registry.insert(VolumeId(next), &a, next);
                        model.insert(a.clone(), VolumeId(next));
                        next += 1;
                    }
                    1 => {
                        if let Some(id) = model.remove(&a) {
                            prop_assert_eq!(registry.remove(id, &a), id.0);
                        }
                    }
                    2 if model.contains_key(&a) && !model.contains_key(&b) => {
                        let id = model.remove(&a).unwrap();
                        registry.rename(id, &a, &b);
                        model.insert(b.clone(), id);
                    }
                    _ => {}
                }
                for probe in [&a, &b] {
                    prop_assert_eq!(registry.id_of(probe), model.get(probe).copied());
                    prop_assert_eq!(registry.contains_name(probe), model.contains_key(probe));
                }
                prop_assert_eq!(registry.len(), model.len());
            }
        }

        // Goal: the table indexed by volume id behaves as the B-tree it replaces for volumes:
        // same lookups, same refusals of a taken id, same removals, same iteration in id order
        // (in both directions, and from both ends at once) and the same count, through any
        // sequence of inserts and removals; and the table is never longer than the highest id
        // ever inserted (it does not shrink, so re-inserting below that costs no fill).
        #[test]
        fn dense_volumes_behave_as_the_btree(
            ops in proptest::collection::vec((any::<bool>(), 0u32..200), 0..300),
            ends in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            let mut highest_ever: Option<u32> = None;
            let mut dense: DenseVolumes<u32> = DenseVolumes::default();
            let mut tree: BTreeMap<VolumeId, Box<u32>> = BTreeMap::new();
            for (step, (insert, id)) in ops.into_iter().enumerate() {
                let id = VolumeId(id);
                if insert {
                    prop_assert_eq!(dense.insert(id, step as u32), IdTable::insert(&mut tree, id, step as u32));
                    highest_ever = highest_ever.max(Some(id.0));
                } else {
                    prop_assert_eq!(dense.remove(id), IdTable::remove(&mut tree, id));
                }
                prop_assert_eq!(IdTable::len(&dense), IdTable::len(&tree));
                prop_assert_eq!(dense.get(id), IdTable::get(&tree, id));
                let forward: Vec<_> = IdTable::iter(&dense).collect();
                prop_assert_eq!(&forward, &IdTable::iter(&tree).collect::<Vec<_>>());
                let backward: Vec<_> = IdTable::iter(&dense).rev().collect();
                prop_assert_eq!(backward, IdTable::iter(&tree).rev().collect::<Vec<_>>());
                // From both ends: `ends` says which end each step takes, then the rest forwards.
                let (mut from_dense, mut from_tree) = (IdTable::iter(&dense), IdTable::iter(&tree));
                for &back in &ends {
                    if back {
                        prop_assert_eq!(from_dense.next_back(), from_tree.next_back());
                    } else {
                        prop_assert_eq!(from_dense.next(), from_tree.next());
                    }
                }
                prop_assert_eq!(from_dense.collect::<Vec<_>>(), from_tree.collect::<Vec<_>>());
                prop_assert_eq!(dense.slots.len(), highest_ever.map_or(0, |id| id as usize + 1));
            }
        }
    }
}
