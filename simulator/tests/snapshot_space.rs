//! Snapshot-space failures and the `stale_ss` / `no_stale_ss` policy (spec §3, §7.1 invariant 8).
//!
//! The unit tests build one failure each and check its outcome byte for byte: under `stale_ss`
//! the base write succeeds and every copy of the tree is stale (reads, exports, copies and
//! promotes refused with 942; deletes and refreshes allowed); under `no_stale_ss` the base write
//! fails with `NO_SPACE` and nothing changes. The property test drives random writes, copies,
//! deletes, promotes and limit changes against a page-level reference model.

use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use simulator::{
    AllocationAlerts, ArrayId, CpgSpec, ErrorCode, PromoteOptions, Simulation, SnapshotSpec, VlunSpec, VolumeChanges,
    VolumePolicies, VolumeSpec,
};

use crate::support::{CPG, assert_refused, host, pattern, proptest_cases, world};

const PAGE: usize = simulator::PAGE_SIZE;
/// Pages of a 256 MiB volume one percent of snapshot space allows (floor of 163.84).
const PAGES_PER_PCT: u64 = 163;

/// A thin 256 MiB base `name` with `ssSpcAllocLimitPct` = `limit_pct` and the given policy.
fn limited_base(sim: &mut Simulation, a: ArrayId, name: &str, limit_pct: u8, stale_ss: bool) {
    let mut spec = VolumeSpec::thin(name, CPG, 256);
    spec.alerts = AllocationAlerts { snapshot_limit_pct: limit_pct, ..AllocationAlerts::default() };
    spec.policies = VolumePolicies { stale_ss, ..VolumePolicies::default() };
    sim.array_mut(a).create_volume(spec).unwrap();
}

/// Writes `pages` whole pages from page `first` of `volume`, filled from `seed`.
fn write_pages(sim: &mut Simulation, a: ArrayId, volume: &str, first: usize, pages: usize, seed: u8) -> Vec<u8> {
    let data = pattern(seed, pages * PAGE);
    sim.write(a, volume, (first * PAGE) as u64, &data).unwrap();
    data
}

fn read(sim: &Simulation, a: ArrayId, volume: &str, first: usize, pages: usize) -> simulator::Result<Vec<u8>> {
    sim.read(a, volume, (first * PAGE) as u64, pages * PAGE)
}

/// A base `db` holding 300 written pages (seed 1), with read-only copy `db.ro` and read-write
/// copy `db.rw` of it, under a 1 % limit (163 pages).
fn tree(stale_ss: bool) -> (Simulation, ArrayId, Vec<u8>) {
    let (mut sim, a) = world();
    limited_base(&mut sim, a, "db", 1, stale_ss);
    let original = write_pages(&mut sim, a, "db", 0, 300, 1);
    sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_only("db.ro")).unwrap();
    sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_write("db.rw")).unwrap();
    (sim, a, original)
}

fn stale(sim: &Simulation, a: ArrayId, volume: &str) -> bool {
    sim.array(a).volume(volume).unwrap().is_stale()
}

// Goal: within the limit, copy-on-write is counted page by page and nothing goes stale; the
// 164th page of new snapshot space under `stale_ss` lets the base write through and makes both
// copies stale, the base reading every byte written.
#[test]
fn stale_ss_base_write_succeeds_and_the_copies_go_stale() {
    let (mut sim, a, original) = tree(true);
    let db = sim.array(a).volume("db").unwrap().id;
    let first = write_pages(&mut sim, a, "db", 0, 100, 2);
    assert_eq!(sim.array(a).snapshot_space_pages(db), 100);
    assert!(!stale(&sim, a, "db.ro") && !stale(&sim, a, "db.rw"));
    assert_eq!(read(&sim, a, "db.ro", 0, 300).unwrap(), original);
    // Rewriting pages already copied needs no new space.
    let again = write_pages(&mut sim, a, "db", 0, 100, 3);
    assert_eq!(sim.array(a).snapshot_space_pages(db), 100);
    assert_ne!(first, again);
    // 63 more pages reach the limit exactly; one more passes it.
    write_pages(&mut sim, a, "db", 100, 63, 4);
    assert_eq!(sim.array(a).snapshot_space_pages(db), PAGES_PER_PCT);
    assert!(!stale(&sim, a, "db.ro"));
    let last = write_pages(&mut sim, a, "db", 163, 1, 5);
    assert!(stale(&sim, a, "db.ro") && stale(&sim, a, "db.rw"));
    assert_eq!(sim.array(a).snapshot_space_pages(db), 0);
    let mut expected = original.clone();
    expected[..100 * PAGE].copy_from_slice(&again);
    expected[100 * PAGE..163 * PAGE].copy_from_slice(&pattern(4, 63 * PAGE));
    expected[163 * PAGE..164 * PAGE].copy_from_slice(&last);
    assert_eq!(read(&sim, a, "db", 0, 300).unwrap(), expected);
    for copy in ["db.ro", "db.rw"] {
        assert_eq!(read(&sim, a, copy, 0, 1).unwrap_err().code, ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
    }
    // Later base writes go through; the tree has no valid copy left to keep.
    write_pages(&mut sim, a, "db", 200, 100, 6);
    assert!(simulator::invariants::check_all(&sim).is_empty());
    assert!(sim.trace().lines().any(|l| l.text.contains("virtual copies of db are stale")));
}

// Goal: a stale copy refuses what needs its data (read, host read, write, fill, export, copy,
// promote, physical copy) with 942 and changes nothing; it can be deleted, and a refresh takes
// its parent's content anew and makes it valid; a new copy of the base is valid.
#[test]
fn a_stale_copy_refuses_what_needs_its_data() {
    let (mut sim, a, _) = tree(true);
    write_pages(&mut sim, a, "db", 0, 200, 2);
    assert!(stale(&sim, a, "db.ro"));
    host(&mut sim, a, "h");
    let stale_code = ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE;
    assert_refused(&mut sim, "write", stale_code, |s| s.write(a, "db.rw", 0, b"x"));
    assert_refused(&mut sim, "fill", stale_code, |s| {
        s.array_mut(a).fill_volume("db.rw", simulator::PageIndex(0), 4, &pattern(9, PAGE))
    });
    assert_refused(&mut sim, "export", stale_code, |s| {
        let spec = VlunSpec { volume: "db.ro".into(), lun: 1, host: Some("h".into()), ..VlunSpec::default() };
        s.array_mut(a).create_vlun(spec)
    });
    assert_refused(&mut sim, "copy", stale_code, |s| {
        s.array_mut(a).create_snapshot("db.rw", SnapshotSpec::read_only("db.rw.ro"))
    });
    assert_refused(&mut sim, "promote", stale_code, |s| {
        s.array_mut(a).promote_snapshot("db.ro", PromoteOptions::default())
    });
    assert_refused(&mut sim, "physical copy", stale_code, |s| {
        let spec = simulator::PhysicalCopySpec {
            destination: "pc".into(),
            online: true,
            destination_cpg: Some(CPG.into()),
            provisioning: simulator::Provisioning::Thin,
            compression: false,
            snap_cpg: None,
            priority: None,
        };
        s.array_mut(a).copy_volume("db.ro", spec)
    });
    sim.array_mut(a).delete_volume("db.ro").unwrap();
    sim.array_mut(a).refresh_snapshot("db.rw", false).unwrap();
    assert!(!stale(&sim, a, "db.rw"));
    let base_now = read(&sim, a, "db", 0, 300).unwrap();
    assert_eq!(read(&sim, a, "db.rw", 0, 300).unwrap(), base_now);
    sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_only("db.ro2")).unwrap();
    assert_eq!(read(&sim, a, "db.ro2", 0, 300).unwrap(), base_now);
    assert!(simulator::invariants::check_all(&sim).is_empty());
}

// Goal: under `no_stale_ss` the write that would pass the limit fails with NO_SPACE and changes
// nothing (digest equal): base and copies read back exactly what they held; writes that need
// no new space still succeed.
#[test]
fn no_stale_ss_base_write_fails_and_changes_nothing() {
    let (mut sim, a, original) = tree(false);
    let first = write_pages(&mut sim, a, "db", 0, 160, 2);
    let data = pattern(3, 10 * PAGE);
    assert_refused(&mut sim, "past the limit", ErrorCode::NO_SPACE, |s| s.write(a, "db", 155 * PAGE as u64, &data));
    assert!(!stale(&sim, a, "db.ro") && !stale(&sim, a, "db.rw"));
    let mut expected = original.clone();
    expected[..160 * PAGE].copy_from_slice(&first);
    assert_eq!(read(&sim, a, "db", 0, 300).unwrap(), expected);
    assert_eq!(read(&sim, a, "db.ro", 0, 300).unwrap(), original);
    assert_eq!(read(&sim, a, "db.rw", 0, 300).unwrap(), original);
    // Already copied pages and never written ones need no snapshot space.
    write_pages(&mut sim, a, "db", 0, 160, 4);
    write_pages(&mut sim, a, "db", 1000, 64, 5);
    // A partial write of a shared page needs one page, as a whole one does: 160 pages are held,
    // three more reach the limit, a fourth passes it.
    for page in 160..163 {
        sim.write(a, "db", (page * PAGE + 10) as u64, b"abc").unwrap();
    }
    assert_refused(&mut sim, "partial", ErrorCode::NO_SPACE, |s| s.write(a, "db", (170 * PAGE + 10) as u64, b"abc"));
    // Raising the limit lets the same write through.
    let alerts = AllocationAlerts { snapshot_limit_pct: 2, ..AllocationAlerts::default() };
    sim.array_mut(a).modify_volume("db", VolumeChanges { alerts: Some(alerts), ..VolumeChanges::default() }).unwrap();
    sim.write(a, "db", 155 * PAGE as u64, &data).unwrap();
    assert_eq!(read(&sim, a, "db.ro", 0, 300).unwrap(), original);
    assert!(simulator::invariants::check_all(&sim).is_empty());
}

// Goal: a read-write copy's own write needs snapshot space for each page it writes; past the
// limit it fails with NO_SPACE under either policy (the policy is about base writes) and
// changes nothing.
#[test]
fn a_read_write_copy_write_past_the_limit_fails_under_both_policies() {
    for stale_ss in [true, false] {
        let (mut sim, a, original) = tree(stale_ss);
        let db = sim.array(a).volume("db").unwrap().id;
        write_pages(&mut sim, a, "db.rw", 0, 150, 2);
        assert_eq!(sim.array(a).snapshot_space_pages(db), 150);
        let data = pattern(3, 20 * PAGE);
        assert_refused(&mut sim, "copy write", ErrorCode::NO_SPACE, |s| s.write(a, "db.rw", 150 * PAGE as u64, &data));
        assert_eq!(read(&sim, a, "db.ro", 0, 300).unwrap(), original);
        assert_eq!(read(&sim, a, "db", 0, 300).unwrap(), original);
        assert!(!stale(&sim, a, "db.rw"));
    }
}

// Goal: the snapshot CPG's growth limit bounds the snapshot space of every tree drawing from it
// (plus the CPG's own user space): two bases sharing a 2 MiB (128-page) snapshot CPG, each
// within its own (absent) volume limit, fail together past 128 pages.
#[test]
fn the_snapshot_cpg_growth_limit_bounds_every_tree_in_it() {
    let (mut sim, a) = world();
    let snap_cpg = CpgSpec { name: "SNAP".into(), growth_limit_mib: Some(2), ..CpgSpec::default() };
    sim.array_mut(a).create_cpg(snap_cpg).unwrap();
    for (name, stale_ss) in [("v1", true), ("v2", false)] {
        let mut spec = VolumeSpec::thin(name, CPG, 256);
        spec.snap_cpg = Some("SNAP".into());
        spec.policies = VolumePolicies { stale_ss, ..VolumePolicies::default() };
        sim.array_mut(a).create_volume(spec).unwrap();
        write_pages(&mut sim, a, name, 0, 200, 1);
        sim.array_mut(a).create_snapshot(name, SnapshotSpec::read_only(&format!("{name}.ro"))).unwrap();
    }
    write_pages(&mut sim, a, "v2", 0, 100, 2);
    let data = pattern(3, 29 * PAGE);
    assert_refused(&mut sim, "cpg limit", ErrorCode::NO_SPACE, |s| s.write(a, "v2", 100 * PAGE as u64, &data));
    write_pages(&mut sim, a, "v1", 0, 28, 4);
    assert!(!stale(&sim, a, "v1.ro"));
    write_pages(&mut sim, a, "v1", 28, 1, 5);
    assert!(stale(&sim, a, "v1.ro"));
    assert!(!stale(&sim, a, "v2.ro"));
    assert_eq!(read(&sim, a, "v2.ro", 0, 200).unwrap(), pattern(1, 200 * PAGE));
    assert!(simulator::invariants::check_all(&sim).is_empty());
}

// Goal: a growth limit set on an existing CPG (`setcpg -sdgl`) applies from the next write, is
// measured against what `cpg_growth_pages_used` counts (user space plus every tree's snapshot
// space), and once removed stops refusing; a missing CPG and an offline array are refused.
#[test]
fn a_growth_limit_set_later_applies_from_the_next_write() {
    let (mut sim, a) = world();
    sim.array_mut(a).create_cpg(CpgSpec { name: "SNAP".into(), ..CpgSpec::default() }).unwrap();
    let mut spec = VolumeSpec::thin("v", CPG, 256);
    spec.snap_cpg = Some("SNAP".into());
    spec.policies = VolumePolicies { stale_ss: false, ..VolumePolicies::default() };
    sim.array_mut(a).create_volume(spec).unwrap();
    write_pages(&mut sim, a, "v", 0, 100, 1);
    sim.array_mut(a).create_snapshot("v", SnapshotSpec::read_only("v.ro")).unwrap();
    write_pages(&mut sim, a, "v", 0, 10, 2);
    let snap = sim.array(a).cpg("SNAP").unwrap().id;
    assert_eq!(sim.array(a).cpg_growth_pages_used(snap), 10, "ten pages only the copy holds");
    // 1 MiB = 64 pages: 54 more pages of snapshot space fit, the 55th does not.
    sim.array_mut(a).set_cpg_growth_limit("SNAP", Some(1)).unwrap();
    assert_eq!(sim.array(a).cpg("SNAP").unwrap().growth_limit_mib, Some(1));
    write_pages(&mut sim, a, "v", 10, 54, 3);
    assert_eq!(sim.array(a).cpg_growth_pages_used(snap), 64);
    let data = pattern(4, PAGE);
    assert_refused(&mut sim, "past the new limit", ErrorCode::NO_SPACE, |s| s.write(a, "v", 64 * PAGE as u64, &data));
    sim.array_mut(a).set_cpg_growth_limit("SNAP", None).unwrap();
    write_pages(&mut sim, a, "v", 64, 36, 4);
    assert_eq!(sim.array(a).cpg_growth_pages_used(snap), 100);
    assert_eq!(read(&sim, a, "v.ro", 0, 100).unwrap(), pattern(1, 100 * PAGE));
    // The user CPG counts its thin volume's written pages.
    let user = sim.array(a).cpg(CPG).unwrap().id;
    assert_eq!(sim.array(a).cpg_growth_pages_used(user), 100);
    assert_refused(&mut sim, "missing CPG", ErrorCode::NON_EXISTENT_CPG, |s| {
        s.array_mut(a).set_cpg_growth_limit("NOPE", Some(1))
    });
    sim.crash_array(a);
    assert_refused(&mut sim, "offline", ErrorCode::ARRAY_OFFLINE, |s| {
        s.array_mut(a).set_cpg_growth_limit("SNAP", Some(1))
    });
    assert!(simulator::invariants::check_all(&sim).is_empty());
}

// Goal: a thin volume's `usrSpcAllocLimitPct` bounds the pages it may allocate: up to the
// limit writes succeed, a write needing a page past it fails with `NO_SPACE` and changes
// nothing, and rewriting allocated pages never needs new space.
#[test]
fn a_thin_volume_allocates_no_more_than_its_user_space_limit() {
    let (mut sim, a) = world();
    let mut spec = VolumeSpec::thin("v", CPG, 256);
    spec.alerts = AllocationAlerts { user_limit_pct: 1, ..AllocationAlerts::default() };
    sim.array_mut(a).create_volume(spec).unwrap();
    let data = write_pages(&mut sim, a, "v", 0, PAGES_PER_PCT as usize, 1);
    let one = pattern(2, PAGE);
    let past = PAGES_PER_PCT * PAGE as u64;
    assert_refused(&mut sim, "past the user limit", ErrorCode::NO_SPACE, |s| s.write(a, "v", past, &one));
    let again = write_pages(&mut sim, a, "v", 0, PAGES_PER_PCT as usize, 3);
    assert_ne!(again, data);
    assert_eq!(read(&sim, a, "v", 0, PAGES_PER_PCT as usize).unwrap(), again);
    // A write straddling the limit is refused whole.
    let straddling = pattern(4, 2 * PAGE);
    let at = (PAGES_PER_PCT - 1) * PAGE as u64;
    assert_refused(&mut sim, "straddling", ErrorCode::NO_SPACE, |s| s.write(a, "v", at, &straddling));
    // Raising the limit lets the volume grow.
    let alerts = AllocationAlerts { user_limit_pct: 2, ..AllocationAlerts::default() };
    sim.array_mut(a).modify_volume("v", VolumeChanges { alerts: Some(alerts), ..VolumeChanges::default() }).unwrap();
    sim.write(a, "v", past, &one).unwrap();
    assert_eq!(read(&sim, a, "v", PAGES_PER_PCT as usize, 1).unwrap(), one);
}

// Goal: a CPG's growth limit bounds the pages its thin volumes allocate, counted with the
// snapshot space drawn from it; one write that both allocates pages and needs snapshot space is
// charged for both at once (each alone would fit).
#[test]
fn the_user_cpg_growth_limit_bounds_thin_allocation_with_the_snapshot_space() {
    let (mut sim, a) = world();
    let limited = CpgSpec { name: "LIM".into(), growth_limit_mib: Some(1), ..CpgSpec::default() };
    sim.array_mut(a).create_cpg(limited).unwrap();
    for name in ["v1", "v2"] {
        let mut spec = VolumeSpec::thin(name, "LIM", 256);
        spec.snap_cpg = Some("LIM".into());
        spec.policies = VolumePolicies { stale_ss: false, ..VolumePolicies::default() };
        sim.array_mut(a).create_volume(spec).unwrap();
    }
    // 1 MiB = 64 pages: 40 + 24 fit, a 65th page does not.
    write_pages(&mut sim, a, "v1", 0, 40, 1);
    write_pages(&mut sim, a, "v2", 0, 24, 2);
    let one = pattern(3, PAGE);
    assert_refused(&mut sim, "65th page", ErrorCode::NO_SPACE, |s| s.write(a, "v2", 24 * PAGE as u64, &one));
    write_pages(&mut sim, a, "v2", 0, 24, 4);
    // Make room: the limit at 2 MiB (128 pages), then a copy of v1.
    sim.array_mut(a).set_cpg_growth_limit("LIM", Some(2)).unwrap();
    sim.array_mut(a).create_snapshot("v1", SnapshotSpec::read_only("v1.ro")).unwrap();
    // One write over pages 0..70 of v1 rewrites the 40 the copy shares (40 snapshot pages) and
    // allocates 30 (30 user pages). In use: 64. Each alone fits (104, 94 ≤ 128); both do not.
    let lim = sim.array(a).cpg("LIM").unwrap().id;
    assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 64);
    let both = pattern(5, 70 * PAGE);
    assert_refused(&mut sim, "both at once", ErrorCode::NO_SPACE, |s| s.write(a, "v1", 0, &both));
    assert!(!stale(&sim, a, "v1.ro"));
    write_pages(&mut sim, a, "v1", 0, 40, 6);
    write_pages(&mut sim, a, "v1", 40, 24, 7);
    assert_eq!(sim.array(a).cpg_growth_pages_used(lim), 128);
    assert_eq!(read(&sim, a, "v1.ro", 0, 40).unwrap(), pattern(1, 40 * PAGE));
    sim.array_mut(a).set_cpg_growth_limit("LIM", None).unwrap();
    sim.write(a, "v1", 0, &both).unwrap();
    assert_eq!(read(&sim, a, "v1", 0, 70).unwrap(), both);
    assert!(simulator::invariants::check_all(&sim).is_empty());
}

// Goal: with no limit (the default) copy-on-write is never refused and nothing goes stale, however much
// snapshot space the copies hold.
#[test]
fn without_a_limit_nothing_fails() {
    let (mut sim, a) = world();
    sim.array_mut(a).create_volume(VolumeSpec::thin("db", CPG, 256)).unwrap();
    let original = write_pages(&mut sim, a, "db", 0, 1024, 1);
    sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_only("db.ro")).unwrap();
    write_pages(&mut sim, a, "db", 0, 1024, 2);
    assert!(!stale(&sim, a, "db.ro"));
    assert_eq!(read(&sim, a, "db.ro", 0, 1024).unwrap(), original);
}

/// The property test's limited snapshot CPG (2 MiB, 128 pages).
const SNAP_CPG: &str = "SNAP";

/// One step of the property test. Writes cover up to 64 pages of a 296-page window, so the 1 %
/// volume limit (163 pages) or the snapshot CPG's 2 MiB (128 pages) is reached within a few
/// copies.
#[derive(Debug, Clone)]
enum Step {
    /// Write `pages` pages from `first` of the base (`target` None) or of a copy; `partial`
    /// writes a few bytes into the first page instead.
    Write { target: Option<usize>, first: usize, pages: usize, partial: bool },
    /// Take a copy of the base (`of` None) or of a copy.
    Copy { of: Option<usize>, read_only: bool },
    /// Delete a copy (refused while it has children).
    Delete { which: usize },
    /// Promote a copy onto the base.
    Promote { which: usize },
    /// Set the base's limit (0: none) and its snapshot CPG: the 2 MiB-limited one or the
    /// unlimited one.
    Limit { pct: u8, limited_cpg: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (proptest::option::of(0..6usize), 0..232usize, 1..=64usize, proptest::bool::weighted(0.2))
            .prop_map(|(target, first, pages, partial)| Step::Write { target, first, pages, partial }),
        2 => (proptest::option::of(0..6usize), any::<bool>()).prop_map(|(of, read_only)| Step::Copy { of, read_only }),
        1 => (0..6usize).prop_map(|which| Step::Delete { which }),
        1 => (0..6usize).prop_map(|which| Step::Promote { which }),
        1 => (0..=1u8, any::<bool>()).prop_map(|(pct, limited_cpg)| Step::Limit { pct, limited_cpg }),
    ]
}

/// A volume of the reference model: page → bytes (absent pages read as zeros).
type Pages = BTreeMap<usize, Rc<Vec<u8>>>;

#[derive(Debug, Clone)]
struct RefCopy {
    name: String,
    read_only: bool,
    pages: Pages,
    stale: bool,
    /// Index (in the test's list) of the copy this one was taken of; `None`: the base.
    parent: Option<usize>,
}

/// Runs `steps` under `stale_ss` and checks 7.1/8 after each.
fn check_policy(stale_ss: bool, steps: &[Step]) -> Result<(), TestCaseError> {
    let (mut sim, a) = world();
    let snap_cpg = CpgSpec { name: SNAP_CPG.into(), growth_limit_mib: Some(2), ..CpgSpec::default() };
    sim.array_mut(a).create_cpg(snap_cpg).unwrap();
    limited_base(&mut sim, a, "b", 1, stale_ss);
    let mut base: Pages = BTreeMap::new();
    let mut copies: Vec<Option<RefCopy>> = Vec::new();
    let mut seed = 0u8;
    let mut named = 0usize;
    let b = sim.array(a).volume("b").unwrap().id;
    // The smallest limit in force, in pages: the base's 1 % and, with the limited snapshot CPG,
    // its 128 pages (the tree is the only one drawing from it, and it holds no user space).
    let (mut pct, mut limited_cpg) = (1u8, false);
    for step in steps {
        seed = seed.wrapping_add(1);
        let mut base_write = false;
        let live = |copies: &Vec<Option<RefCopy>>, i: usize| copies.get(i).and_then(|c| c.as_ref()).is_some();
        match step.clone() {
            Step::Write { target, first, pages, partial } => {
                let target = target.filter(|i| live(&copies, *i));
                base_write = target.is_none();
                let (name, read_only, was_stale) = match target {
                    None => ("b".to_owned(), false, false),
                    Some(i) => {
                        let c = copies[i].as_ref().unwrap();
                        (c.name.clone(), c.read_only, c.stale)
                    }
                };
                let (offset, data) = if partial {
                    ((first * PAGE + 100) as u64, pattern(seed, 300))
                } else {
                    ((first * PAGE) as u64, pattern(seed, pages * PAGE))
                };
                let before = sim.digest();
                let limit =
                    [(pct != 0).then_some(PAGES_PER_PCT), limited_cpg.then_some(128)].into_iter().flatten().min();
                let within_before = limit.is_none_or(|l| sim.array(a).snapshot_space_pages(b) <= l);
                // The same write with no limit: what it would have needed.
                let unlimited = {
                    let mut other = sim.clone();
                    let alerts = Some(AllocationAlerts::default());
                    let changes = VolumeChanges { alerts, snap_cpg: Some(CPG.into()), ..VolumeChanges::default() };
                    other.array_mut(a).modify_volume("b", changes).unwrap();
                    other.write(a, &name, offset, &data).ok().map(|_| other.array(a).snapshot_space_pages(b))
                };
                let result = sim.write(a, &name, offset, &data);
                let went_stale = copies.iter().flatten().any(|c| !c.stale && stale(&sim, a, &c.name));
                if let (Some(limit), Some(needed)) = (limit, unlimited) {
                    let failed = result.is_err() || went_stale;
                    if failed {
                        prop_assert!(needed > limit, "failed with {} pages needed, limit {}", needed, limit);
                    } else if within_before {
                        prop_assert!(needed <= limit, "let {} pages through a limit of {}", needed, limit);
                    }
                }
                if read_only {
                    prop_assert_eq!(result.unwrap_err().code, ErrorCode::INV_OPERATION_VV_READ_ONLY);
                    continue;
                }
                if was_stale {
                    prop_assert_eq!(result.unwrap_err().code, ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
                    prop_assert_eq!(sim.digest(), before);
                    continue;
                }
                match result {
                    Ok(_) => {
                        let pages_map = match target {
                            None => &mut base,
                            Some(i) => &mut copies[i].as_mut().unwrap().pages,
                        };
                        apply_write(pages_map, offset as usize, &data);
                    }
                    Err(error) => {
                        // stale_ss never fails a base write; any refusal is NO_SPACE and changes nothing.
                        prop_assert!(!(stale_ss && target.is_none()), "stale_ss base write failed: {}", error);
                        prop_assert_eq!(error.code, ErrorCode::NO_SPACE);
                        prop_assert_eq!(sim.digest(), before);
                    }
                }
            }
            Step::Copy { of, read_only } => {
                let of = of.filter(|i| live(&copies, *i));
                let (source, source_ro, source_stale, pages) = match of {
                    None => ("b".to_owned(), false, false, base.clone()),
                    Some(i) => {
                        let c = copies[i].as_ref().unwrap();
                        (c.name.clone(), c.read_only, c.stale, c.pages.clone())
                    }
                };
                named += 1;
                let name = format!("c{named}");
                let spec = if read_only { SnapshotSpec::read_only(&name) } else { SnapshotSpec::read_write(&name) };
                let result = sim.array_mut(a).create_snapshot(&source, spec);
                if source_stale {
                    prop_assert_eq!(result.unwrap_err().code, ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
                } else if source_ro && read_only {
                    prop_assert!(result.is_err());
                } else {
                    result.unwrap();
                    copies.push(Some(RefCopy { name, read_only, pages, stale: false, parent: of }));
                }
            }
            Step::Delete { which } => {
                if !live(&copies, which) {
                    continue;
                }
                let has_children = copies.iter().flatten().any(|c| c.parent == Some(which));
                let name = copies[which].as_ref().unwrap().name.clone();
                let result = sim.array_mut(a).delete_volume(&name);
                prop_assert_eq!(result.is_ok(), !has_children);
                if result.is_ok() {
                    copies[which] = None;
                }
            }
            Step::Promote { which } => {
                if !live(&copies, which) {
                    continue;
                }
                let c = copies[which].as_ref().unwrap();
                let result = sim.array_mut(a).promote_snapshot(&c.name.clone(), PromoteOptions::default());
                if c.stale {
                    prop_assert_eq!(result.unwrap_err().code, ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
                } else {
                    result.unwrap();
                    base = c.pages.clone();
                }
            }
            Step::Limit { pct: new_pct, limited_cpg: new_limited_cpg } => {
                let alerts = AllocationAlerts { snapshot_limit_pct: new_pct, ..AllocationAlerts::default() };
                let snap_cpg = Some(if new_limited_cpg { SNAP_CPG } else { CPG }.to_owned());
                let changes = VolumeChanges { alerts: Some(alerts), snap_cpg, ..VolumeChanges::default() };
                sim.array_mut(a).modify_volume("b", changes).unwrap();
                (pct, limited_cpg) = (new_pct, new_limited_cpg);
            }
        }
        // Staleness comes from the array (the reference cannot know when the space ran out),
        // then is judged: only under stale_ss, only all of the tree at once, never undone.
        let observed: Vec<(usize, bool)> =
            copies.iter().enumerate().filter_map(|(i, c)| c.as_ref().map(|c| (i, stale(&sim, a, &c.name)))).collect();
        let mut failure = false;
        for (i, now_stale) in &observed {
            let copy = copies[*i].as_mut().unwrap();
            prop_assert!(!copy.stale || *now_stale, "{} became valid again", copy.name);
            prop_assert!(!*now_stale || stale_ss, "{} went stale under no_stale_ss", copy.name);
            failure |= *now_stale && !copy.stale;
            copy.stale = *now_stale;
        }
        if failure {
            prop_assert!(base_write, "only a base write makes copies stale");
            prop_assert!(observed.iter().all(|(_, s)| *s), "a failure left some copies of the tree valid");
        }
        check_reads(&sim, a, "b", &base)?;
        for copy in copies.iter().flatten() {
            if copy.stale {
                let error = read(&sim, a, &copy.name, 0, 1).unwrap_err();
                prop_assert_eq!(error.code, ErrorCode::INV_OPERATION_VV_SNAPSHOT_STALE);
            } else {
                check_reads(&sim, a, &copy.name, &copy.pages)?;
            }
        }
        let violations = simulator::invariants::check_all(&sim);
        prop_assert!(violations.is_empty(), "{:?}", violations);
    }
    Ok(())
}

fn apply_write(pages: &mut Pages, offset: usize, data: &[u8]) {
    let mut done = 0;
    while done < data.len() {
        let position = offset + done;
        let (index, within) = (position / PAGE, position % PAGE);
        let take = (PAGE - within).min(data.len() - done);
        let mut page = pages.get(&index).map_or_else(|| vec![0; PAGE], |p| p.as_ref().clone());
        page[within..within + take].copy_from_slice(&data[done..done + take]);
        pages.insert(index, Rc::new(page));
        done += take;
    }
}

/// Every page of the 296-page window (writes reach page 295) reads what `pages` holds.
fn check_reads(sim: &Simulation, a: ArrayId, volume: &str, pages: &Pages) -> Result<(), TestCaseError> {
    let bytes = read(sim, a, volume, 0, 296).map_err(|e| TestCaseError::fail(format!("{volume}: {e}")))?;
    for (index, chunk) in bytes.chunks(PAGE).enumerate() {
        let ok = match pages.get(&index) {
            Some(page) => chunk == page.as_slice(),
            None => chunk.iter().all(|b| *b == 0),
        };
        prop_assert!(ok, "{} page {} differs from the reference", volume, index);
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: proptest_cases(48), ..proptest::test_runner::Config::default()
    })]

    // Goal: 7.1/8 after random writes (base and read-write copies, whole and partial pages),
    // copies of the base and of copies, deletes, promotes and limit changes: under stale_ss
    // every base write succeeds and the base equals the reference; every valid copy reads its
    // bytes, stale ones refuse reads, and a failure makes the whole tree stale; under
    // no_stale_ss a refused write changed nothing (equal digest) and no copy is ever stale.
    // Every simulator invariant (the kept snapshot counts against a scan included) holds after
    // each step.
    // Method: a page-level reference model per volume; staleness read from the array, then
    // judged. Replay: the failing steps are printed and saved under `proptest-regressions/`.
    #[test]
    fn snapshot_space_failures_follow_the_policy(
        stale_ss in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        check_policy(stale_ss, &steps)?;
    }
}
