//! A by-id table with a unique name index: the storage shape of every named 3PAR object.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

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
#[derive(Debug, Clone)]
pub struct Registry<Id: Ord + Copy, T> {
    by_id: BTreeMap<Id, Box<T>>,
    by_name: FxHashMap<String, Id>,
}

impl<Id: Ord + Copy, T> Default for Registry<Id, T> {
    fn default() -> Self {
        Registry { by_id: BTreeMap::new(), by_name: FxHashMap::default() }
    }
}

impl<Id: Ord + Copy, T> Registry<Id, T> {
    /// Adds `value` under `id` and `name`. Precondition: neither is taken.
    pub(crate) fn insert(&mut self, id: Id, name: &str, value: T) {
        assert!(!self.by_id.contains_key(&id));
        let previous = self.by_name.insert(name.to_owned(), id);
        assert!(previous.is_none());
        self.by_id.insert(id, Box::new(value));
    }

    /// Removes the object `id` known as `name`.
    pub(crate) fn remove(&mut self, id: Id, name: &str) -> T {
        let removed = self.by_name.remove(name);
        assert!(removed == Some(id));
        *self.by_id.remove(&id).expect("registry id and name indexes agree")
    }

    /// Moves `id` from `old` to `new` in the name index. Precondition: `new` is free.
    pub(crate) fn rename(&mut self, id: Id, old: &str, new: &str) {
        let removed = self.by_name.remove(old);
        assert!(removed == Some(id));
        let previous = self.by_name.insert(new.to_owned(), id);
        assert!(previous.is_none());
    }

    /// The object with `id`.
    pub fn get(&self, id: Id) -> Option<&T> {
        self.by_id.get(&id).map(|value| &**value)
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        self.by_id.get_mut(&id).map(|value| &mut **value)
    }

    /// The id of the object called `name`.
    pub fn id_of(&self, name: &str) -> Option<Id> {
        self.by_name.get(name).copied()
    }

    /// The object called `name`.
    pub fn by_name(&self, name: &str) -> Option<&T> {
        self.id_of(name).and_then(|id| self.get(id))
    }

    /// Whether `id` is taken.
    pub fn contains_id(&self, id: Id) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Whether `name` is taken.
    pub fn contains_name(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// All objects in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Id, &T)> {
        self.by_id.iter().map(|(id, value)| (*id, &**value))
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
