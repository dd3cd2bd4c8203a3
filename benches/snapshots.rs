//! Virtual-copy creation and host-write benchmarks of the simulator core (issue 2).
//!
//! - `vc_create/<size>/<copies>`: one read-only virtual copy of a thin volume of `<size>` with
//!   64 MiB written and `<copies>` copies already present. Only the creation is timed; the copy is
//!   deleted outside the timed region. Expected O(1) in volume size and in copies present.
//! - `write_16k/<copies>`: one 16 KiB page-aligned host write to a thin 1 GiB volume with 64 MiB
//!   written and `<copies>` copies present (each taken after a few writes). With copies present,
//!   every timed write lands on a page the newest copy still shares, so it is a copy-on-write that
//!   keeps the old page alive: between rounds of [`ROUND`] writes the newest copy is deleted and
//!   retaken (untimed), which keeps the copy count constant and memory bounded.
//! - `write_16k_limited/<copies>`: the writes of `write_16k/<copies>` (1, 100 or 1000 copies)
//!   into a base whose `ssSpcAllocLimitPct` is 100 (never reached), so every write is checked
//!   against its tree's snapshot space: per page, a look-up in the copies, newest first; the
//!   untimed delete of the newest copy between rounds keeps the count (see
//!   `simulator::snapshot_space`). Compare with `write_16k/<copies>`, which no limit applies to.
//! - `write_16k_cpg_limited/<copies>`: the writes of `write_16k/<copies>` (1, 100 or 1000
//!   copies) into a base whose snapshot CPG has a growth limit (1 TiB, never reached), so every
//!   write is checked against the CPG's use: its base volumes' user space and their trees'
//!   snapshot space. That pass goes over the base volumes of that CPG
//!   (`Array::cpg_base_volumes`, not the copies): expected flat in the copies present (a pass
//!   over the whole volume table made it O(copies)).
//! - `write_16k_cpg_limited_other_bases/<bases>`: the writes of `write_16k_cpg_limited/1` on an
//!   array that also holds `<bases>` other thin base volumes (0, 1000 or 10,000, created untimed,
//!   nothing written) whose user and snapshot CPG is another CPG. The growth-limit count goes over
//!   the base volumes whose user or snapshot CPG is the limited one (`Array::cpg_base_volumes`):
//!   expected flat in the other bases (a pass over every base volume of the array made it
//!   O(bases)).
//! - `write_16k/floor`: allocating and filling a fresh 16 KiB buffer, the least a write can cost.
//!   The buffer replaces the oldest of 4,096 live ones (the writes' 64 MiB working set), so it is
//!   filled in memory as cold as a real write's; a hot loop that frees and reallocates one
//!   cache-resident buffer measures the cache, not a page (about 0.25 µs here).
//! - `vc_delete/<exports>`: deleting one unexported read-only copy of a thin volume on an array
//!   whose `<exports>` other volumes are each exported to a host and in a volume set of ten.
//!   Only the deletion is timed; the copy is retaken outside the timed region. Whether the copy
//!   is exported or in a set is looked up in the array's export index: expected O(log n) in the
//!   exports and sets present (a scan of every template and set member made it O(n)).
//! - `host_delete/<exports>`: deleting a host with no export and in no host set on the array of
//!   `vc_delete` (whose `<exports>` volumes are exported to another host). Only the deletion is
//!   timed; the host is created again outside the timed region. Whether the host is exported or
//!   in a host set is looked up in the export index: expected O(log n) in the exports.
//! - `vlun_create/<exports>`: exporting volume `base` to host `h` with an automatic LUN (the
//!   lowest free one from 0) on the same array, whose `<exports>` volumes already hold LUNs
//!   `0..<exports>` of that host. Only the creation is timed; the export is deleted outside the
//!   timed region. The free LUN is found in one pass over the host's sorted LUN ranges: expected
//!   O(n log n) in the host's exports (trying every LUN against a list of every LUN in use made
//!   it O(n²), so exporting n volumes one by one was cubic).
//! - `lun_read/<exports>`: a 4 KiB read by host `h` through LUN `<exports>`, where volume `base`
//!   is exported after the `<exports>` others (LUNs `0..<exports>` of that host). Only the read
//!   is timed. The volume behind the LUN is found in the array's export index, among the host's
//!   own templates at or below that LUN: expected O(log n) in the exports (a scan of every
//!   template made each host I/O O(n)).
//!
//! The per-base copy limit is raised to 1,100 so 1,000 copies fit (the default is 500).
//! Figures and ratios are recorded in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use simulator::{
    AllocationAlerts, ArrayConfig, ArrayId, CpgSpec, HostSpec, PAGE_SIZE, SetSpec, Simulation, SnapshotSpec, VlunSpec,
    VolumeChanges, VolumeSpec,
};

const MIB: u64 = 1 << 20;
const WRITTEN_BYTES: u64 = 64 * MIB;
const WRITTEN_PAGES: u64 = WRITTEN_BYTES / PAGE_SIZE as u64;
/// Timed writes between two retakes of the newest copy.
const ROUND: u64 = 64;

/// A simulation with a thin volume `base` of `size_mib`, 64 MiB written, and `copies` read-only
/// copies `c0..`, each taken after writing two pages.
fn volume_with_copies(size_mib: u64, copies: u32) -> (Simulation, ArrayId) {
    let mut config = ArrayConfig::primary();
    config.limits.copies_per_base = 1_100;
    let mut sim = Simulation::builder().array(config).trace_capacity(1_000).build().unwrap();
    let a = sim.primary();
    sim.array_mut(a).create_cpg(CpgSpec { name: "cpg".into(), ..CpgSpec::default() }).unwrap();
    sim.array_mut(a).create_volume(VolumeSpec::thin("base", "cpg", size_mib)).unwrap();
    let mut chunk = vec![0u8; MIB as usize];
    for offset in (0..WRITTEN_BYTES).step_by(MIB as usize) {
        sim.prng().fill(&mut chunk);
        sim.write(a, "base", offset, &chunk).unwrap();
    }
    let mut page = vec![0u8; PAGE_SIZE];
    for copy in 0..copies {
        for _ in 0..2 {
            let index = sim.prng().int_inclusive(WRITTEN_PAGES - 1);
            sim.prng().fill(&mut page);
            sim.write(a, "base", index * PAGE_SIZE as u64, &page).unwrap();
        }
        sim.array_mut(a).create_snapshot("base", SnapshotSpec::read_only(&format!("c{copy}"))).unwrap();
    }
    (sim, a)
}

fn vc_create(c: &mut Criterion) {
    let mut group = c.benchmark_group("vc_create");
    for (size_label, size_mib) in [("1GiB", 1024), ("1TiB", 1024 * 1024)] {
        for copies in [0u32, 1000] {
            let (mut sim, a) = volume_with_copies(size_mib, copies);
            group.bench_function(BenchmarkId::new(size_label, copies), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let spec = SnapshotSpec::read_only("bench");
                        let start = Instant::now();
                        let id = sim.array_mut(a).create_snapshot("base", spec).unwrap();
                        timed += start.elapsed();
                        black_box(id);
                        sim.array_mut(a).delete_volume("bench").unwrap();
                    }
                    timed
                });
            });
        }
    }
    group.finish();
}

/// A simulation with a thin volume `base` (one page written) and `exports` other thin volumes
/// `x0..`, each exported to host `h` at its own LUN and a member of a volume set of ten.
fn array_with_exports(exports: u32) -> (Simulation, ArrayId) {
    let mut sim = Simulation::builder().trace_capacity(1_000).build().unwrap();
    let a = sim.primary();
    let mut array = sim.array_mut(a);
    array.create_cpg(CpgSpec { name: "cpg".into(), ..CpgSpec::default() }).unwrap();
    array.create_volume(VolumeSpec::thin("base", "cpg", 1024)).unwrap();
    let host = HostSpec { name: "h".into(), iscsi_names: vec!["iqn.2026-01.sim:h".into()], ..HostSpec::default() };
    array.create_host(host).unwrap();
    let names: Vec<String> = (0..exports).map(|i| format!("x{i}")).collect();
    for (lun, name) in names.iter().enumerate() {
        array.create_volume(VolumeSpec::thin(name, "cpg", 16)).unwrap();
        let vlun = VlunSpec { volume: name.clone(), lun: lun as u32, host: Some("h".into()), ..VlunSpec::default() };
        array.create_vlun(vlun).unwrap();
    }
    for (i, members) in names.chunks(10).enumerate() {
        array
            .create_volume_set(SetSpec { name: format!("s{i}"), members: members.to_vec(), ..SetSpec::default() })
            .unwrap();
    }
    sim.write(a, "base", 0, &[0x5A; PAGE_SIZE]).unwrap();
    (sim, a)
}

/// Group `name`, ids `0`, `1000`, `10000`: `once` on the array of [`array_with_exports`] with
/// that many exports, per iteration; it returns the time of its timed part (the rest of it, the
/// setup and the undoing, is not timed).
fn over_exports(c: &mut Criterion, name: &str, mut once: impl FnMut(&mut Simulation, ArrayId, u32) -> Duration) {
    let mut group = c.benchmark_group(name);
    for exports in [0u32, 1_000, 10_000] {
        let (mut sim, a) = array_with_exports(exports);
        group.bench_function(BenchmarkId::from_parameter(exports), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| once(&mut sim, a, exports)).sum())
        });
    }
    group.finish();
}

fn vc_delete(c: &mut Criterion) {
    over_exports(c, "vc_delete", |sim, a, _| {
        sim.array_mut(a).create_snapshot("base", SnapshotSpec::read_only("bench")).unwrap();
        let start = Instant::now();
        sim.array_mut(a).delete_volume("bench").unwrap();
        start.elapsed()
    });
}

fn host_delete(c: &mut Criterion) {
    let spare =
        HostSpec { name: "spare".into(), iscsi_names: vec!["iqn.2026-01.sim:spare".into()], ..HostSpec::default() };
    over_exports(c, "host_delete", |sim, a, _| {
        sim.array_mut(a).create_host(spare.clone()).unwrap();
        let start = Instant::now();
        sim.array_mut(a).delete_host("spare").unwrap();
        start.elapsed()
    });
}

fn vlun_create(c: &mut Criterion) {
    let auto = VlunSpec { volume: "base".into(), auto_lun: true, host: Some("h".into()), ..VlunSpec::default() };
    over_exports(c, "vlun_create", |sim, a, exports| {
        let start = Instant::now();
        let lun = sim.array_mut(a).create_vlun(auto.clone()).unwrap();
        let timed = start.elapsed();
        assert_eq!(lun, exports);
        sim.array_mut(a).delete_vlun("base", lun, Some("h"), None).unwrap();
        timed
    });
}

fn lun_read(c: &mut Criterion) {
    let last = VlunSpec { volume: "base".into(), auto_lun: true, host: Some("h".into()), ..VlunSpec::default() };
    over_exports(c, "lun_read", |sim, a, exports| {
        if sim.array(a).resolve_lun("h", exports).is_err() {
            assert_eq!(sim.array_mut(a).create_vlun(last.clone()).unwrap(), exports);
        }
        let start = Instant::now();
        let read = sim.host_read(a, "h", exports, 0, 4096).unwrap();
        let timed = start.elapsed();
        assert_eq!(read[0], 0x5A);
        timed
    });
}

fn write_16k(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_16k");
    for copies in [0u32, 100, 1000] {
        let (sim, a) = volume_with_copies(1024, copies);
        bench_writes(&mut group, sim, a, copies, copies);
    }
    // The floor works in the same 64 MiB of live pages as the writes above: each fresh page
    // replaces the oldest of 4,096, so it lands in memory as cold as a real write's.
    let data = vec![0x5Au8; PAGE_SIZE];
    let mut live: Vec<Box<[u8]>> = (0..WRITTEN_PAGES).map(|_| Box::from(data.as_slice())).collect();
    let mut oldest = 0usize;
    group.bench_function("floor", |b| {
        b.iter(|| {
            let page: Box<[u8]> = Box::from(black_box(data.as_slice()));
            let old = std::mem::replace(&mut live[oldest], page);
            oldest = (oldest + 1) % live.len();
            old
        });
    });
    group.finish();
}

/// `write_16k_limited/<copies>`: the writes of `write_16k` into a tree with a snapshot-space
/// limit (100 %, never reached), so each copy-on-write is counted.
fn write_16k_limited(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_16k_limited");
    for copies in [1u32, 100, 1000] {
        let (mut sim, a) = volume_with_copies(1024, copies);
        let alerts = AllocationAlerts { snapshot_limit_pct: 100, ..AllocationAlerts::default() };
        let changes = VolumeChanges { alerts: Some(alerts), ..VolumeChanges::default() };
        sim.array_mut(a).modify_volume("base", changes).unwrap();
        bench_writes(&mut group, sim, a, copies, copies);
    }
    group.finish();
}

/// `write_16k_cpg_limited/<copies>`: the writes of `write_16k` under a growth limit of the base's
/// snapshot CPG (1 TiB, never reached), so each copy-on-write counts the CPG's use.
fn write_16k_cpg_limited(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_16k_cpg_limited");
    for copies in [1u32, 100, 1000] {
        let (mut sim, a) = volume_with_copies(1024, copies);
        sim.array_mut(a).set_cpg_growth_limit("cpg", Some(1 << 20)).unwrap();
        bench_writes(&mut group, sim, a, copies, copies);
    }
    group.finish();
}

/// `write_16k_cpg_limited_other_bases/<bases>`: the writes of `write_16k_cpg_limited/1` beside
/// `<bases>` thin base volumes in another CPG, which the growth limit's count must not visit.
fn write_16k_cpg_limited_other_bases(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_16k_cpg_limited_other_bases");
    for bases in [0u32, 1000, 10_000] {
        let (mut sim, a) = volume_with_copies(1024, 1);
        let mut array = sim.array_mut(a);
        array.set_cpg_growth_limit("cpg", Some(1 << 20)).unwrap();
        array.create_cpg(CpgSpec { name: "other".into(), ..CpgSpec::default() }).unwrap();
        for base in 0..bases {
            array.create_volume(VolumeSpec::thin(&format!("other{base}"), "other", 1024)).unwrap();
        }
        bench_writes(&mut group, sim, a, 1, bases);
    }
    group.finish();
}

/// Times page writes of `base` with `copies` copies present, the newest retaken every [`ROUND`]
/// writes (see the module doc, `write_16k`), under the id `parameter`.
fn bench_writes(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    mut sim: Simulation,
    a: ArrayId,
    copies: u32,
    parameter: u32,
) {
    let page = vec![0x5Au8; PAGE_SIZE];
    let mut cursor = 0u64;
    group.bench_function(BenchmarkId::from_parameter(parameter), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                if copies > 0 {
                    // Retake the newest copy so it shares every page the next round writes.
                    let newest = format!("c{}", copies - 1);
                    sim.array_mut(a).delete_volume(&newest).unwrap();
                    sim.array_mut(a).create_snapshot("base", SnapshotSpec::read_only(&newest)).unwrap();
                }
                let round = ROUND.min(iters - done);
                let start = Instant::now();
                for _ in 0..round {
                    // A stride coprime with the page count visits every written page.
                    let index = (cursor * 61) % WRITTEN_PAGES;
                    cursor += 1;
                    black_box(sim.write(a, "base", index * PAGE_SIZE as u64, &page).unwrap());
                }
                timed += start.elapsed();
                done += round;
            }
            timed
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(2));
    targets = vc_create, vc_delete, host_delete, vlun_create, lun_read, write_16k, write_16k_limited, write_16k_cpg_limited,
        write_16k_cpg_limited_other_bases
}
criterion_main!(benches);
