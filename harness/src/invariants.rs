//! Every invariant of spec §7 the model covers, in one registry, checked after every step.
//!
//! What it holds: [`registry`] — the simulator's state invariants (`simulator::invariants::ALL`,
//! re-exported as [`simulator_invariants`]), the recovery engine's (`recovery::invariants::ALL`,
//! re-exported as [`recovery_invariants`]) and the harness's own history invariants, which judge
//! the engine against the reference model ([`crate::reference`]); and [`check_all`], which runs
//! them all over a [`World`] and returns every violation.
//! The table mapping each invariant to its spec item, function and tests is `docs/invariants.md`.
//!
//! What it does not do: it does not duplicate the simulator's or the engine's checks; it wraps
//! them. History invariants that need what was acknowledged (RPO 0 of synchronous writes) stay
//! in the simulator's own property test, which has that reference.
//!
//! Main design choice: every check is a plain function returning `Vec<Violation>` (never an
//! assertion), so a run reports all of them with context and a campaign can shrink on the name
//! of the first. The cost: checks that compare content walk page maps; they compare pointers
//! first, so an unchanged copy costs O(1) and the whole pass is linear in the number of volumes
//! and entries (measured in `docs/benchmarks.md`).

pub use recovery::invariants as recovery_invariants;
pub use simulator::invariants as simulator_invariants;
use std::hash::Hash;

use recovery::repository::{EntryKey, Site, VolumeRole};
use rustc_hash::FxHashMap;
use simulator::PageMap;
use simulator::invariants::Violation;

use crate::world::World;

/// Which layer an invariant belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// `simulator::invariants`: arrays and Remote Copy, from state alone.
    Simulator,
    /// `recovery::invariants`: repositories versus arrays, policies, placement.
    Recovery,
    /// `harness::invariants`: history invariants against the reference model.
    Harness,
}

#[derive(Clone, Copy)]
enum Check {
    Simulator(simulator::invariants::Check),
    Recovery(recovery_invariants::Check),
    Harness(HarnessCheck),
}

/// One registered invariant.
#[derive(Clone, Copy)]
pub struct Invariant {
    /// Name: the checking function's name.
    pub name: &'static str,
    /// Layer.
    pub layer: Layer,
    check: Check,
}

impl Invariant {
    /// Runs the check.
    pub fn check(&self, world: &World) -> Vec<Violation> {
        match self.check {
            Check::Simulator(check) => check(&world.sim),
            Check::Recovery(check) => check(&world.sim, &world.engine),
            Check::Harness(check) => check(world),
        }
    }
}

impl std::fmt::Debug for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}::{}", self.layer, self.name)
    }
}

/// A harness invariant: a history check over the world and its reference model.
pub type HarnessCheck = fn(&World) -> Vec<Violation>;

/// The harness's own invariants, by name.
pub const HARNESS: &[(&str, HarnessCheck)] = &[
    ("backup_copies_inside_freeze", backup_copies_inside_freeze),
    ("periodic_remote_copy_after_sync", periodic_remote_copy_after_sync),
    ("periodic_local_entry_handed_over", periodic_local_entry_handed_over),
    ("backup_image_matches_reference", backup_image_matches_reference),
    ("committed_transactions_survive", committed_transactions_survive),
    ("restored_database_matches_backup", restored_database_matches_backup),
    ("copies_unchanged", copies_unchanged),
    ("no_committed_entry_lost", no_committed_entry_lost),
];

/// Every invariant, simulator first, then recovery, then the harness's.
pub fn registry() -> Vec<Invariant> {
    let simulator = simulator_invariants::ALL.iter().map(|(name, check)| Invariant {
        name,
        layer: Layer::Simulator,
        check: Check::Simulator(*check),
    });
    let recovery = recovery_invariants::ALL.iter().map(|(name, check)| Invariant {
        name,
        layer: Layer::Recovery,
        check: Check::Recovery(*check),
    });
    let harness =
        HARNESS.iter().map(|(name, check)| Invariant { name, layer: Layer::Harness, check: Check::Harness(*check) });
    simulator.chain(recovery).chain(harness).collect()
}

/// Runs every invariant over `world`; every violation, in registry order.
///
/// Two checks are memoised per entry, because each reads the bytes of every entry's copies and
/// entries pile up in a long case (a case without faults removes none unless a policy does):
/// - `recovery::invariants::checked_copies_recoverable` verifies the full image of every checked
///   backup (80 % of a campaign step before it was memoised). An entry's verdict depends only on
///   the bytes of its database and log copies, so an entry whose two page maps are the ones last
///   judged (the same allocations: `==` on page maps is identity) keeps its last verdict; its
///   array being offline or a copy missing is decided before, on every call.
/// - `recovery::invariants::sync_copies_identical` compares the bytes of every synchronous
///   entry's local and remote copies; a pair whose two page maps are the ones last compared
///   keeps its last answer.
///
/// Every other check runs in full.
pub fn check_all(world: &World) -> Vec<Violation> {
    let mut found = simulator_invariants::check_all(&world.sim);
    for (name, check) in recovery_invariants::ALL {
        if *name == "checked_copies_recoverable" {
            found.extend(world.memo.checked_copies_recoverable(&world.sim, &world.engine));
        } else if *name == "sync_copies_identical" {
            found.extend(world.memo.sync_copies_identical(&world.sim, &world.engine));
        } else {
            found.extend(check(&world.sim, &world.engine));
        }
    }
    for (_, check) in HARNESS {
        found.extend(check(world));
    }
    found
}

/// §7.6/29, §7.8/40: every copy of a successful backup (primary copies, and the secondary copies
/// of a synchronous backup) was created inside that backup's VSS freeze, between the
/// `vss_freeze` and `thaw` step records.
pub fn backup_copies_inside_freeze(world: &World) -> Vec<Violation> {
    world.reference.found("backup_copies_inside_freeze")
}

/// §7.8/39: a periodic backup's remote copies were created, and its remote entry recorded, only
/// after the Remote Copy sync carrying the data completed.
pub fn periodic_remote_copy_after_sync(world: &World) -> Vec<Violation> {
    world.reference.found("periodic_remote_copy_after_sync")
}

/// §7.8/41 with §3.2 (RM 4.4.2): a periodic backup that made its remote entry leaves no local
/// entry behind (the primary copies stay, recorded as retained by the remote entry).
pub fn periodic_local_entry_handed_over(world: &World) -> Vec<Violation> {
    world.reference.found("periodic_local_entry_handed_over")
}

/// §7.7/34 with §7.8/39–40: every entry of a successful backup verifies as recoverable and, after
/// soft recovery in memory, holds exactly the transactions committed before the freeze (an
/// indeterminate one wholly or not at all) — at both sites.
pub fn backup_image_matches_reference(world: &World) -> Vec<Violation> {
    world.reference.found("backup_image_matches_reference")
}

/// §7.7/34: a database mounted again (after a crash, soft recovery) holds every committed
/// transaction.
pub fn committed_transactions_survive(world: &World) -> Vec<Violation> {
    world.reference.found("committed_transactions_survive")
}

/// §7.1/6 with §3.5: after a successful restore the live database (wherever the engine now serves
/// it) holds exactly the image of the backup restored.
pub fn restored_database_matches_backup(world: &World) -> Vec<Violation> {
    world.reference.found("restored_database_matches_backup")
}

/// §7.1/1: the copies of every entry still hold the bytes they held when the backup was made.
pub fn copies_unchanged(world: &World) -> Vec<Violation> {
    world.reference.copies_unchanged(&world.sim, &world.engine)
}

/// §7.8/42: no entry the engine reported disappears from its repository without a removal named
/// by the call that made it (policy, expiry, remove, restore, reconcile after a restart).
pub fn no_committed_entry_lost(world: &World) -> Vec<Violation> {
    world.reference.entries_present(&world.engine)
}

/// What a memoised check last saw and said.
#[derive(Debug, Default)]
pub struct Memo {
    /// `checked_copies_recoverable`: per entry, the database and log copies' page maps last
    /// judged (held, so their allocations cannot be reused) and the verdict.
    checked: std::sync::Mutex<Checked>,
    /// `sync_copies_identical`: per synchronous entry and role, the local and remote copies'
    /// page maps last compared (held, so their allocations cannot be reused) and whether their
    /// bytes were the same.
    sync_pairs: std::sync::Mutex<SyncPairs>,
}

type SyncPairs = FxHashMap<(EntryKey, VolumeRole), ([PageMap; 2], bool)>;

type Checked = FxHashMap<(Site, EntryKey), ([PageMap; 2], Option<Violation>)>;

impl Memo {
    fn sync_copies_identical(&self, sim: &simulator::Simulation, engine: &recovery::engine::Engine) -> Vec<Violation> {
        let mut pairs = self.sync_pairs.lock().unwrap_or_else(|e| e.into_inner());
        let mut compared = SyncPairs::default();
        let verdict = recovery_invariants::sync_copies_identical_with(sim, engine, &mut |key, role, local, remote| {
            recall(&mut pairs, &mut compared, (key.clone(), role), [local, remote], || local.same_content(remote))
        });
        *pairs = compared;
        verdict
    }

    fn checked_copies_recoverable(
        &self,
        sim: &simulator::Simulation,
        engine: &recovery::engine::Engine,
    ) -> Vec<Violation> {
        let mut entries = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let mut judged = Checked::default();
        let verdict =
            recovery_invariants::checked_copies_recoverable_with(sim, engine, &mut |site, key, maps, judge| {
                recall(&mut entries, &mut judged, (site, key.clone()), maps, judge)
            });
        *entries = judged;
        verdict
    }
}

/// One memoised answer about two page maps: the answer `last` holds for `id` when it was given
/// for these same two maps (`==` on page maps is identity — the same pages at the same places,
/// O(1) when they share their root, as an unchanged copy's map does — so the same bytes), else
/// `compute`'s. The answer goes to `now` with the maps (held, so their allocations cannot be
/// reused); a caller replaces `last` with `now` after its pass, which lets go of the ids not
/// asked about (an entry or a copy gone).
fn recall<K: Hash + Eq, V: Clone>(
    last: &mut FxHashMap<K, ([PageMap; 2], V)>,
    now: &mut FxHashMap<K, ([PageMap; 2], V)>,
    id: K,
    [a, b]: [&PageMap; 2],
    compute: impl FnOnce() -> V,
) -> V {
    let answer = match last.remove(&id) {
        Some(([x, y], answer)) if x == *a && y == *b => answer,
        _ => compute(),
    };
    now.insert(id, ([a.clone(), b.clone()], answer.clone()));
    answer
}
