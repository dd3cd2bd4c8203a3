//! Property test: random operation sequences against a plain reference model.
//!
//! Goal: every read of every volume and copy returns, byte for byte, what a naive model (a byte
//! vector per volume) predicts, whatever sequence of writes, copies of copies, promotes,
//! refreshes, deletes, grows, set snapshots, exports and retention came before (an exported
//! volume reads the same through its LUN); and every refused operation returns the code the
//! reference predicts and changes nothing (equal digest before and after).
//!
//! Method: a `proptest-state-machine` reference model generates valid-looking steps (some of
//! which the array must refuse: read-only writes, read-only copies of read-only copies, limits,
//! deletes with children or of exported or retained volumes, promotes of exported copies or onto
//! an exported or grown base, refreshes inside retention...). The reference keeps virtual time
//! too (each accepted write takes the array's 100 µs write latency) so it knows when retention
//! ends. Two windows of each volume are
//! modelled byte for byte — the first 5 pages and the last 3 pages of the first 256 MiB — and
//! reads in the gap between them and past the original size must return zeros.
//! Limits are lowered (6 copies per base, 2 read-write copies per read-only parent) so sequences
//! reach them.
//!
//! Replay: a failure prints the minimal steps and is saved under `proptest-regressions/`, which
//! `cargo test -p simulator --test tests model::` replays first. Longer runs:
//! `PROPTEST_CASES=2000 cargo test -p simulator --test tests model::`.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use simulator::{
    ArrayConfig, ArrayId, CpgSpec, ErrorCode, HostSpec, PromoteOptions, Result, SetSnapshotSpec, SetSpec, Simulation,
    SnapshotSpec, VlunSpec, VolumeSpec,
};

use crate::support::{pattern, proptest_cases};

const PAGE: u64 = simulator::PAGE_SIZE as u64;
const BASE_SIZE_MIB: u64 = 256;
const BASE_SIZE: u64 = BASE_SIZE_MIB << 20;
/// Modelled windows: (start byte, length). The second ends exactly at the original volume end.
const WINDOWS: [(u64, u64); 2] = [(0, 5 * PAGE), (BASE_SIZE - 3 * PAGE, 3 * PAGE)];
const MODELLED: usize = (8 * PAGE) as usize;
const COPIES_PER_BASE: usize = 6;
const RW_PER_RO_PARENT: usize = 2;
const CPG: &str = "cpg";
/// The host every export goes to.
const HOST: &str = "h";
/// Virtual time an accepted local write takes (the array's default `host_write_latency`).
const WRITE_LATENCY_NS: u64 = 100_000;
const HOUR_NS: u64 = 3_600_000_000_000;

/// Where window `w`'s bytes sit in a reference volume's `data`.
fn model_offset(window: usize) -> usize {
    if window == 0 { 0 } else { (WINDOWS[0].1) as usize }
}

#[derive(Clone, Debug)]
struct RefVolume {
    /// The volume this one is a copy of (`None` for a base).
    parent: Option<String>,
    /// Root of the tree.
    base: String,
    read_only: bool,
    size_mib: u64,
    /// The modelled windows, back to back.
    data: Vec<u8>,
    /// LUN of its export to host [`HOST`], if exported.
    lun: Option<u32>,
    /// End of retention, nanoseconds of virtual time.
    retained_until: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Refused(ErrorCode),
}

#[derive(Clone, Debug)]
struct RefState {
    volumes: BTreeMap<String, RefVolume>,
    /// Counter for new names, so names are fixed when a step is generated (stable under shrinking).
    next: u32,
    /// What the last applied step must do on the array.
    expected: Outcome,
    /// Virtual time, nanoseconds: each accepted write takes [`WRITE_LATENCY_NS`].
    now: u64,
}

#[derive(Clone, Debug)]
enum ReadAt {
    /// Between the two windows (never written): zeros.
    Gap(u64),
    /// The first page past the original size: zeros after a grow, refused otherwise.
    Grown,
    /// Crossing the current end: refused.
    PastEnd,
}

#[derive(Clone, Debug)]
enum Step {
    CreateBase { name: String },
    Write { volume: String, window: usize, offset: u64, len: usize, seed: u8 },
    WritePastEnd { volume: String, len: usize, overshoot: u64 },
    Read { volume: String, at: ReadAt },
    Snapshot { source: String, name: String, read_only: bool, retention_hours: Option<u64> },
    SetSnapshot { members: Vec<String>, tag: u32, read_only: bool },
    Promote { copy: String },
    Refresh { copy: String, with_read_only_parent: bool },
    Delete { volume: String },
    Grow { volume: String, add_mib: u64 },
    Export { volume: String, lun: u32 },
    Unexport { volume: String, lun: u32 },
    Advance { minutes: u64 },
}

impl RefState {
    fn children(&self, name: &str) -> impl Iterator<Item = (&String, &RefVolume)> {
        self.volumes.iter().filter(move |(_, v)| v.parent.as_deref() == Some(name))
    }

    fn family(&self, base: &str) -> usize {
        self.volumes.values().filter(|v| v.parent.is_some() && v.base == base).count()
    }

    /// The refusal `create_snapshot` must give, with `planned` copies already promised per base.
    fn snapshot_refusal(&self, source: &str, read_only: bool, planned: &BTreeMap<String, usize>) -> Option<ErrorCode> {
        let src = &self.volumes[source];
        if src.read_only && read_only {
            return Some(ErrorCode::INV_OPERATION_VV_READONLY_TO_READONLY_SNAP);
        }
        if self.family(&src.base) + planned.get(&src.base).copied().unwrap_or(0) >= COPIES_PER_BASE {
            return Some(ErrorCode::SNAPSHOT_LIMIT_REACHED);
        }
        if src.read_only
            && !read_only
            && self.children(source).filter(|(_, c)| !c.read_only).count() >= RW_PER_RO_PARENT
        {
            return Some(ErrorCode::SNAPSHOT_LIMIT_REACHED);
        }
        None
    }

    fn copy_of(&self, source: &str, read_only: bool) -> RefVolume {
        let src = &self.volumes[source];
        RefVolume { parent: Some(source.to_owned()), read_only, lun: None, retained_until: None, ..src.clone() }
    }

    fn retained(&self, name: &str) -> bool {
        self.volumes[name].retained_until.is_some_and(|until| self.now < until)
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = RefState;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<RefState> {
        Just(RefState { volumes: BTreeMap::new(), next: 0, expected: Outcome::Ok, now: 0 }).boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Step> {
        let next = state.next;
        let create = Just(Step::CreateBase { name: format!("b{next}") }).boxed();
        if state.volumes.is_empty() {
            return create;
        }
        let names: Vec<String> = state.volumes.keys().cloned().collect();
        let copies: Vec<String> =
            state.volumes.iter().filter(|(_, v)| v.parent.is_some()).map(|(n, _)| n.clone()).collect();
        let volume = || proptest::sample::select(names.clone());
        let aligned =
            (volume(), 0..2usize, 0..5u64, 1..=2u64, any::<u8>()).prop_map(|(volume, window, page, pages, seed)| {
                let pages_in_window = WINDOWS[window].1 / PAGE;
                let page = page % pages_in_window;
                let len = (pages.min(pages_in_window - page) * PAGE) as usize;
                Step::Write { volume, window, offset: page * PAGE, len, seed }
            });
        let unaligned = (volume(), 0..2usize, 0..5 * PAGE, 1..=40_000usize, any::<u8>()).prop_map(
            |(volume, window, offset, len, seed)| {
                let offset = offset % WINDOWS[window].1;
                let len = len.min((WINDOWS[window].1 - offset) as usize);
                Step::Write { volume, window, offset, len, seed }
            },
        );
        let past_end = (volume(), 1..=20_000usize, 1..=20_000u64).prop_map(|(volume, len, overshoot)| {
            Step::WritePastEnd { volume, len, overshoot: overshoot.min(len as u64) }
        });
        let gap = WINDOWS[1].0 - WINDOWS[0].1 - PAGE;
        let read = (volume(), prop_oneof![(0..gap).prop_map(ReadAt::Gap), Just(ReadAt::Grown), Just(ReadAt::PastEnd)])
            .prop_map(|(volume, at)| Step::Read { volume, at });
        let retention = prop_oneof![4 => Just(None), 1 => (1..=2u64).prop_map(Some)];
        let snapshot = (volume(), any::<bool>(), retention).prop_map(move |(source, read_only, retention_hours)| {
            Step::Snapshot { source, name: format!("c{next}"), read_only, retention_hours }
        });
        let unexported: Vec<String> =
            state.volumes.iter().filter(|(_, v)| v.lun.is_none()).map(|(n, _)| n.clone()).collect();
        let exported: Vec<(String, u32)> =
            state.volumes.iter().filter_map(|(n, v)| v.lun.map(|lun| (n.clone(), lun))).collect();
        let advance = prop_oneof![Just(1u64), Just(30), Just(61)].prop_map(|minutes| Step::Advance { minutes });
        let set_snapshot = (proptest::sample::subsequence(names.clone(), 1..=names.len().min(3)), any::<bool>())
            .prop_map(move |(members, read_only)| Step::SetSnapshot { members, tag: next, read_only });
        let delete = volume().prop_map(|volume| Step::Delete { volume });
        let grow = (volume(), prop_oneof![Just(1u64), Just(256), Just(300)])
            .prop_map(|(volume, add_mib)| Step::Grow { volume, add_mib });
        let mut options: Vec<(u32, BoxedStrategy<Step>)> = vec![
            (1, create),
            (4, aligned.boxed()),
            (5, unaligned.boxed()),
            (1, past_end.boxed()),
            (1, read.boxed()),
            (5, snapshot.boxed()),
            (1, set_snapshot.boxed()),
            (2, delete.boxed()),
            (1, grow.boxed()),
            (1, advance.boxed()),
        ];
        if !unexported.is_empty() {
            let export =
                proptest::sample::select(unexported).prop_map(move |volume| Step::Export { volume, lun: next });
            options.push((1, export.boxed()));
        }
        if !exported.is_empty() {
            let unexport = proptest::sample::select(exported).prop_map(|(volume, lun)| Step::Unexport { volume, lun });
            options.push((1, unexport.boxed()));
        }
        if !copies.is_empty() {
            let copy = || proptest::sample::select(copies.clone());
            options.push((2, copy().prop_map(|copy| Step::Promote { copy }).boxed()));
            options.push((
                3,
                (copy(), any::<bool>())
                    .prop_map(|(copy, with_read_only_parent)| Step::Refresh { copy, with_read_only_parent })
                    .boxed(),
            ));
        }
        proptest::strategy::Union::new_weighted(options).boxed()
    }

    fn preconditions(state: &RefState, step: &Step) -> bool {
        let exists = |name: &String| state.volumes.contains_key(name);
        match step {
            Step::CreateBase { name } => !exists(name),
            Step::Write { volume, .. }
            | Step::WritePastEnd { volume, .. }
            | Step::Read { volume, .. }
            | Step::Delete { volume }
            | Step::Grow { volume, .. } => exists(volume),
            Step::Snapshot { source, name, .. } => exists(source) && !exists(name),
            Step::SetSnapshot { members, tag, .. } => {
                !members.is_empty()
                    && members.iter().all(exists)
                    && members.iter().all(|m| !exists(&set_copy_name(m, *tag)))
                    && members.iter().enumerate().all(|(i, m)| !members[..i].contains(m))
            }
            Step::Promote { copy } | Step::Refresh { copy, .. } => exists(copy),
            Step::Export { volume, lun } => {
                exists(volume)
                    && state.volumes[volume].lun.is_none()
                    && state.volumes.values().all(|v| v.lun != Some(*lun))
            }
            Step::Unexport { volume, lun } => exists(volume) && state.volumes[volume].lun == Some(*lun),
            Step::Advance { .. } => true,
        }
    }

    fn apply(mut state: RefState, step: &Step) -> RefState {
        state.expected = match apply_reference(&mut state, step) {
            Ok(()) => Outcome::Ok,
            Err(code) => Outcome::Refused(code),
        };
        state
    }
}

fn set_copy_name(member: &str, tag: u32) -> String {
    format!("{member}.s{tag}")
}

/// Applies `step` to the reference; `Err` is the code the array must refuse it with (and then
/// the reference is unchanged).
fn apply_reference(state: &mut RefState, step: &Step) -> Result<(), ErrorCode> {
    match step {
        Step::CreateBase { name } => {
            state.next += 1;
            let volume = RefVolume {
                parent: None,
                base: name.clone(),
                read_only: false,
                size_mib: BASE_SIZE_MIB,
                data: vec![0; MODELLED],
                lun: None,
                retained_until: None,
            };
            state.volumes.insert(name.clone(), volume);
        }
        Step::Write { volume, window, offset, len, seed } => {
            let v = state.volumes.get_mut(volume).unwrap();
            if v.read_only {
                return Err(ErrorCode::INV_OPERATION_VV_READ_ONLY);
            }
            let start = model_offset(*window) + *offset as usize;
            v.data[start..start + len].copy_from_slice(&pattern(*seed, *len));
            state.now += WRITE_LATENCY_NS;
        }
        Step::WritePastEnd { volume, .. } => {
            return Err(if state.volumes[volume].read_only {
                ErrorCode::INV_OPERATION_VV_READ_ONLY
            } else {
                ErrorCode::INV_INPUT_EXCEEDS_RANGE
            });
        }
        Step::Read { volume, at } => match at {
            ReadAt::Gap(_) => {}
            ReadAt::Grown if state.volumes[volume].size_mib > BASE_SIZE_MIB => {}
            ReadAt::Grown | ReadAt::PastEnd => return Err(ErrorCode::INV_INPUT_EXCEEDS_RANGE),
        },
        Step::Snapshot { source, name, read_only, retention_hours } => {
            state.next += 1;
            if let Some(code) = state.snapshot_refusal(source, *read_only, &BTreeMap::new()) {
                return Err(code);
            }
            let mut copy = state.copy_of(source, *read_only);
            copy.retained_until = retention_hours.map(|h| state.now + h * HOUR_NS);
            state.volumes.insert(name.clone(), copy);
        }
        Step::SetSnapshot { members, tag, read_only } => {
            state.next = state.next.max(tag + 1);
            let mut planned = BTreeMap::new();
            for (i, member) in members.iter().enumerate() {
                let base = &state.volumes[member].base;
                if members[..i].iter().any(|m| &state.volumes[m].base == base) {
                    return Err(ErrorCode::INV_OPERATION_VV_SNAP_PARENT_SAME_BASE);
                }
            }
            for member in members {
                if let Some(code) = state.snapshot_refusal(member, *read_only, &planned) {
                    return Err(code);
                }
                *planned.entry(state.volumes[member].base.clone()).or_insert(0) += 1;
            }
            for member in members {
                let copy = state.copy_of(member, *read_only);
                state.volumes.insert(set_copy_name(member, *tag), copy);
            }
        }
        Step::Promote { copy } => {
            let v = &state.volumes[copy];
            if v.parent.is_none() {
                return Err(ErrorCode::INV_OPERATION_VV_BASE_VOLUME);
            }
            let (base, data, size) = (v.base.clone(), v.data.clone(), v.size_mib);
            if v.lun.is_some() {
                return Err(ErrorCode::INV_OPERATION_VV_EXPORTED);
            }
            let target = state.volumes.get_mut(&base).unwrap();
            if target.lun.is_some() {
                return Err(ErrorCode::INV_OPERATION_PARENT_VV_EXPORTED);
            }
            if target.size_mib > size {
                return Err(ErrorCode::INV_OPERATION_PARENT_SIZE_HAS_INCREASED);
            }
            target.data = data;
        }
        Step::Refresh { copy, with_read_only_parent } => {
            let v = &state.volumes[copy];
            let Some(parent) = v.parent.clone() else {
                return Err(ErrorCode::INV_OPERATION_VV_BASE_VOLUME);
            };
            if state.children(copy).next().is_some() {
                return Err(ErrorCode::HAS_CHILD);
            }
            if state.retained(copy) {
                return Err(ErrorCode::RETAINED);
            }
            let p = &state.volumes[&parent];
            if *with_read_only_parent && !v.read_only && p.read_only {
                if state.children(&parent).count() > 1 {
                    return Err(ErrorCode::INV_OPERATION_RO_PARENT_HAS_RW_CHILDREN);
                }
                if state.retained(&parent) {
                    return Err(ErrorCode::RETAINED);
                }
                let grandparent = state.volumes[p.parent.as_ref().unwrap()].clone();
                let p = state.volumes.get_mut(&parent).unwrap();
                p.data = grandparent.data;
                p.size_mib = grandparent.size_mib;
            }
            let p = state.volumes[&parent].clone();
            let v = state.volumes.get_mut(copy).unwrap();
            v.data = p.data;
            v.size_mib = p.size_mib;
        }
        Step::Delete { volume } => {
            if state.children(volume).next().is_some() {
                return Err(ErrorCode::HAS_CHILD);
            }
            if state.volumes[volume].lun.is_some() {
                return Err(ErrorCode::IN_USE);
            }
            if state.retained(volume) {
                return Err(ErrorCode::RETAINED);
            }
            state.volumes.remove(volume);
        }
        Step::Grow { volume, add_mib } => {
            let v = state.volumes.get_mut(volume).unwrap();
            if v.parent.is_some() {
                return Err(ErrorCode::INV_OPERATION_UNSUPPORTED_VV_TYPE);
            }
            v.size_mib = (v.size_mib + add_mib).div_ceil(256) * 256;
        }
        Step::Export { volume, lun } => {
            state.next += 1;
            state.volumes.get_mut(volume).unwrap().lun = Some(*lun);
        }
        Step::Unexport { volume, .. } => state.volumes.get_mut(volume).unwrap().lun = None,
        Step::Advance { minutes } => state.now += minutes * 60_000_000_000,
    }
    Ok(())
}

struct ArrayUnderTest {
    sim: Simulation,
    a: ArrayId,
}

impl ArrayUnderTest {
    /// Runs `step` on the array. Reads check their bytes here (zeros outside the windows).
    fn run(&mut self, step: &Step) -> Result<()> {
        let a = self.a;
        let sim = &mut self.sim;
        match step {
            Step::CreateBase { name } => {
                sim.array_mut(a).create_volume(VolumeSpec::thin(name, CPG, BASE_SIZE_MIB)).map(drop)
            }
            Step::Write { volume, window, offset, len, seed } => {
                sim.write(a, volume, WINDOWS[*window].0 + offset, &pattern(*seed, *len)).map(drop)
            }
            Step::WritePastEnd { volume, len, overshoot } => {
                let end = sim.array(a).volume(volume)?.size_bytes();
                sim.write(a, volume, end - *len as u64 + overshoot, &vec![0xEE; *len]).map(drop)
            }
            Step::Read { volume, at } => {
                let end = sim.array(a).volume(volume)?.size_bytes();
                let (offset, len) = match at {
                    ReadAt::Gap(offset) => (WINDOWS[0].1 + offset, PAGE as usize),
                    ReadAt::Grown => (BASE_SIZE, PAGE as usize),
                    ReadAt::PastEnd => (end - 100, 101),
                };
                let bytes = sim.read(a, volume, offset, len)?;
                assert!(bytes.iter().all(|b| *b == 0), "{volume}: non-zero bytes at {offset} (never written)");
                Ok(())
            }
            Step::Snapshot { source, name, read_only, retention_hours } => {
                let spec = SnapshotSpec {
                    name: name.clone(),
                    read_only: *read_only,
                    retention_hours: *retention_hours,
                    ..SnapshotSpec::default()
                };
                sim.array_mut(a).create_snapshot(source, spec).map(drop)
            }
            Step::SetSnapshot { tag, read_only, .. } => {
                let spec = SetSnapshotSpec {
                    pattern: format!("@vvname@.s{tag}"),
                    read_only: *read_only,
                    ..SetSnapshotSpec::default()
                };
                sim.array_mut(a).snapshot_volume_set(&format!("set{tag}"), spec).map(drop)
            }
            Step::Promote { copy } => sim.array_mut(a).promote_snapshot(copy, PromoteOptions::default()).map(drop),
            Step::Refresh { copy, with_read_only_parent } => {
                sim.array_mut(a).refresh_snapshot(copy, *with_read_only_parent)
            }
            Step::Delete { volume } => sim.array_mut(a).delete_volume(volume),
            Step::Grow { volume, add_mib } => sim.array_mut(a).grow_volume(volume, *add_mib).map(drop),
            Step::Export { volume, lun } => {
                let spec =
                    VlunSpec { volume: volume.clone(), lun: *lun, host: Some(HOST.into()), ..VlunSpec::default() };
                sim.array_mut(a).create_vlun(spec).map(drop)
            }
            Step::Unexport { volume, lun } => sim.array_mut(a).delete_vlun(volume, *lun, Some(HOST), None),
            Step::Advance { minutes } => {
                sim.advance(Duration::from_secs(60 * minutes));
                Ok(())
            }
        }
    }
}

struct CoreModel;

impl StateMachineTest for CoreModel {
    type SystemUnderTest = ArrayUnderTest;
    type Reference = Reference;

    fn init_test(_: &RefState) -> ArrayUnderTest {
        let mut config = ArrayConfig::primary();
        config.limits.copies_per_base = COPIES_PER_BASE as u32;
        config.limits.rw_copies_per_ro_parent = RW_PER_RO_PARENT as u32;
        let mut sim = Simulation::builder().seed(7).array(config).build().unwrap();
        let a = sim.primary();
        sim.array_mut(a).create_cpg(CpgSpec { name: CPG.into(), ..CpgSpec::default() }).unwrap();
        let host = HostSpec { name: HOST.into(), iscsi_names: vec!["iqn.2026-01.sim:h".into()], ..HostSpec::default() };
        sim.array_mut(a).create_host(host).unwrap();
        ArrayUnderTest { sim, a }
    }

    fn apply(mut sut: ArrayUnderTest, state: &RefState, step: Step) -> ArrayUnderTest {
        // A set snapshot needs a set; it is created before and deleted after the measured call.
        if let Step::SetSnapshot { members, tag, .. } = &step {
            let spec = SetSpec { name: format!("set{tag}"), members: members.clone(), ..SetSpec::default() };
            sut.sim.array_mut(sut.a).create_volume_set(spec).unwrap();
        }
        let before = sut.sim.digest();
        let result = sut.run(&step);
        match (&state.expected, result) {
            (Outcome::Ok, Ok(())) => {}
            (Outcome::Refused(code), Err(error)) => {
                assert_eq!(error.code, *code, "{step:?}: {error}");
                assert_eq!(sut.sim.digest(), before, "{step:?}: refused but the state changed");
            }
            (expected, got) => panic!("{step:?}: expected {expected:?}, got {got:?}"),
        }
        if let Step::SetSnapshot { tag, .. } = &step {
            sut.sim.array_mut(sut.a).delete_volume_set(&format!("set{tag}")).unwrap();
        }
        sut
    }

    fn check_invariants(sut: &ArrayUnderTest, state: &RefState) {
        assert_eq!(sut.sim.now().as_nanos(), state.now, "virtual time");
        let array = sut.sim.array(sut.a);
        assert_eq!(array.volume_count(), state.volumes.len(), "volume count");
        for (name, expected) in &state.volumes {
            let volume = array.volume(name).unwrap();
            assert_eq!(volume.size_mib, expected.size_mib, "{name}: size");
            assert_eq!(volume.read_only, expected.read_only, "{name}: read-only");
            let parent = volume.copy_of().map(|id| array.volume_by_id(id).unwrap().name.clone());
            assert_eq!(parent, expected.parent, "{name}: parent");
            for (window, (start, len)) in WINDOWS.iter().enumerate() {
                let bytes = sut.sim.read(sut.a, name, *start, *len as usize).unwrap();
                let at = model_offset(window);
                assert!(
                    bytes == expected.data[at..at + *len as usize],
                    "{name}: window {window} differs from the reference"
                );
                if let Some(lun) = expected.lun {
                    let seen = sut.sim.host_read(sut.a, HOST, lun, *start, *len as usize).unwrap();
                    assert!(seen == bytes, "{name}: LUN {lun} shows other bytes than the volume");
                }
            }
        }
    }
}

prop_state_machine! {
    #![proptest_config(Config { cases: proptest_cases(256), max_shrink_iters: 4096, ..Config::default() })]

    #[test]
    fn reads_match_a_reference_model(sequential 1..60 => CoreModel);
}
