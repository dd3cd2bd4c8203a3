//! Remote Copy benches (issue 3).
//!
//! `rc_periodic_sync/{1GiB,64GiB}/64MiB`: model CPU time of one periodic resync of a fully
//! written volume after 4,096 pages (64 MiB) changed: group snapshot, diff against the previous
//! resync snapshot, chunked transfer on the timeline, finalisation. The expectation is that the
//! cost follows the delta, not the volume: the 64 GiB case within 2x of the 1 GiB case. The
//! delta is the same in both cases (every 16th page of the first GiB), so only the volume size
//! differs. Volumes are filled with one shared page (`fill_volume`) so a 64 GiB image fits in
//! memory; the diff and transfer do not read page contents, so this does not flatter them.
//! The pages written between iterations are not timed. (`docs/benchmarks.md` also reports a
//! delta spread over the whole volume, whose cost follows the trie nodes it touches.)
//!
//! `rc_sync_write/16KiB`: model CPU time of one 16 KiB host write to a started synchronous
//! group (local apply, send, remote apply, acknowledgement, all through the event queue),
//! against `rc_sync_write/unreplicated` for the same write to a volume in no group. Target:
//! within 3x.
//!
//! `bidirectional_limited_write/<n>`: model CPU time of one checked 16 KiB host write on an array
//! that is primary for one synchronous group and secondary for another, right after an apply of
//! that other group, against the snapshot space of `<n>` pages (64, 1,024 or 16,384) its copies
//! hold on the secondary tree. Array A replicates `p` to B (group `ab`), B replicates `s` to A
//! (group `ba`), both synchronous; on A, the trees of `p` and of the secondary `s` draw snapshot
//! space from one CPG, `SNAP`, whose growth limit (1 TiB) is far above use. On A, copy `s.ro`
//! of the secondary was taken after `<n>` pages of `s` were mirrored, then those pages were
//! rewritten through B, so `s.ro` holds `<n>` snapshot pages. Each iteration: a 16 KiB host
//! write on B to `s`, mirrored and applied on A (not timed), then the timed 16 KiB write on A to
//! a page of `p` that its copy `p.ro` shares, a copy-on-write checked against `SNAP`'s growth
//! limit (so it needs the snapshot space of every tree drawing from `SNAP`); `p.ro` is deleted
//! and retaken under its id every [`ROUND`] writes (not timed) so every timed write needs a
//! snapshot page (a new id each time would lengthen the volume table the timed write walks).
//! When an apply forgets the secondary tree's count (before `8a51e9f`), each timed write scans
//! that tree again, O(`<n>`); when applies keep it, the timed write is flat in `<n>`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use simulator::{
    AdmitSpec, ArrayId, CpgSpec, GroupSpec, Mode, PAGE_SIZE, PageIndex, Simulation, SnapshotSpec, StartOptions,
    SyncOptions, VolumeSpec,
};

const GIB_MIB: u64 = 1024;
const CHANGED_PAGES: u64 = 4096;
/// Timed writes of `bidirectional_limited_write` between two retakes of `p.ro`.
const ROUND: u64 = 64;
/// Pages of `p` written before `p.ro` is taken; the timed writes visit them all.
const P_PAGES: u64 = 1024;

fn periodic_world(size_mib: u64) -> Simulation {
    let mut sim = Simulation::new(1);
    let (a, b) = (sim.primary(), sim.backup());
    let pages = size_mib * 64;
    let content = vec![0x5Au8; PAGE_SIZE];
    for array in [a, b] {
        sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
        sim.array_mut(array).create_volume(VolumeSpec::thin("v", "FC", size_mib)).unwrap();
        sim.array_mut(array).fill_volume("v", PageIndex(0), pages, &content).unwrap();
    }
    let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
    let spec = GroupSpec { remote_user_cpg: Some("FC".into()), ..GroupSpec::new("g", &target, Mode::Periodic) };
    sim.remote_copy().create_group(a, spec).unwrap();
    let admit = AdmitSpec { volume: "v".into(), secondary: "v".into(), already_synced: true, ..AdmitSpec::default() };
    sim.remote_copy().admit_volume(a, "g", admit).unwrap();
    sim.remote_copy().start_group(a, "g", &StartOptions::default()).unwrap();
    settle(&mut sim);
    sim
}

fn settle(sim: &mut Simulation) {
    let deadline = sim.now() + Duration::from_secs(3600);
    assert!(sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none()));
}

fn rc_periodic_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("rc_periodic_sync");
    group.sample_size(20);
    for (label, size_mib) in [("1GiB", GIB_MIB), ("64GiB", 64 * GIB_MIB)] {
        let mut sim = periodic_world(size_mib);
        let a = sim.primary();
        let stride = (GIB_MIB * 64) / CHANGED_PAGES;
        let _ = size_mib;
        let mut round = 0u8;
        group.bench_function(BenchmarkId::new(label, "64MiB"), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    round = round.wrapping_add(1);
                    let data = vec![round; PAGE_SIZE];
                    for i in 0..CHANGED_PAGES {
                        sim.write(a, "v", (i * stride + u64::from(round) % stride) * PAGE_SIZE as u64, &data).unwrap();
                    }
                    let start = Instant::now();
                    sim.remote_copy().sync_group(a, "g", &SyncOptions::default()).unwrap();
                    settle(&mut sim);
                    total += start.elapsed();
                    let stats = &sim.array(a).remote_copy().group("g").unwrap().stats;
                    assert_eq!(stats.last_sync_pages, CHANGED_PAGES);
                }
                total
            });
        });
    }
    group.finish();
}

fn rc_sync_write(c: &mut Criterion) {
    let mut sim = Simulation::new(2);
    let (a, b) = (sim.primary(), sim.backup());
    for array in [a, b] {
        sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
    }
    sim.array_mut(a).create_volume(VolumeSpec::thin("replicated", "FC", GIB_MIB)).unwrap();
    sim.array_mut(a).create_volume(VolumeSpec::thin("plain", "FC", GIB_MIB)).unwrap();
    let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
    let spec = GroupSpec { remote_user_cpg: Some("FC".into()), ..GroupSpec::new("g", &target, Mode::Synchronous) };
    sim.remote_copy().create_group(a, spec).unwrap();
    let admit = AdmitSpec {
        volume: "replicated".into(),
        secondary: "replicated".into(),
        auto_create: true,
        ..AdmitSpec::default()
    };
    sim.remote_copy().admit_volume(a, "g", admit).unwrap();
    sim.remote_copy().start_group(a, "g", &StartOptions::default()).unwrap();
    settle(&mut sim);
    let data = vec![7u8; 16 * 1024];
    let mut group = c.benchmark_group("rc_sync_write");
    for (id, volume) in [("16KiB", "replicated"), ("unreplicated", "plain")] {
        let mut page = 0u64;
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                page = (page + 1) % 1024;
                sim.write(a, volume, page * PAGE_SIZE as u64, &data).unwrap()
            });
        });
    }
    group.finish();
}

/// The world of `bidirectional_limited_write/<snapshot_pages>` (see the module doc): returns the
/// simulation, A and B.
fn bidirectional_world(snapshot_pages: u64) -> (Simulation, ArrayId, ArrayId) {
    let mut sim = Simulation::new(3);
    let (a, b) = (sim.primary(), sim.backup());
    for array in [a, b] {
        sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
        let snap = CpgSpec { name: "SNAP".into(), growth_limit_mib: Some(1024 * GIB_MIB), ..CpgSpec::default() };
        sim.array_mut(array).create_cpg(snap).unwrap();
    }
    for (from, to, group, volume) in [(a, b, "ab", "p"), (b, a, "ba", "s")] {
        let mut spec = VolumeSpec::thin(volume, "FC", GIB_MIB);
        spec.snap_cpg = Some("SNAP".into());
        sim.array_mut(from).create_volume(spec).unwrap();
        let target = sim.array(from).remote_copy().target_for(to).unwrap().name.clone();
        let spec = GroupSpec {
            remote_user_cpg: Some("FC".into()),
            remote_snap_cpg: Some("SNAP".into()),
            ..GroupSpec::new(group, &target, Mode::Synchronous)
        };
        sim.remote_copy().create_group(from, spec).unwrap();
        let admit =
            AdmitSpec { volume: volume.into(), secondary: volume.into(), auto_create: true, ..AdmitSpec::default() };
        sim.remote_copy().admit_volume(from, group, admit).unwrap();
        sim.remote_copy().start_group(from, group, &StartOptions::default()).unwrap();
    }
    settle(&mut sim);
    write_pages(&mut sim, a, "p", P_PAGES, 0x50);
    sim.array_mut(a).create_snapshot("p", SnapshotSpec::read_only("p.ro")).unwrap();
    write_pages(&mut sim, b, "s", snapshot_pages, 0x51);
    sim.array_mut(a).create_snapshot("s", SnapshotSpec::read_only("s.ro")).unwrap();
    write_pages(&mut sim, b, "s", snapshot_pages, 0x52);
    let s = sim.array(a).volume("s").unwrap().id;
    assert_eq!(sim.array(a).snapshot_space_pages(s), snapshot_pages);
    (sim, a, b)
}

/// Writes pages `0..pages` of `volume` on `array` with `byte`, 1 MiB at a time.
fn write_pages(sim: &mut Simulation, array: ArrayId, volume: &str, pages: u64, byte: u8) {
    let chunk = vec![byte; 64 * PAGE_SIZE];
    for first in (0..pages).step_by(64) {
        let len = (pages - first).min(64) as usize * PAGE_SIZE;
        sim.write(array, volume, first * PAGE_SIZE as u64, &chunk[..len]).unwrap();
    }
}

fn bidirectional_limited_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("bidirectional_limited_write");
    for snapshot_pages in [64u64, 1024, 16_384] {
        let (mut sim, a, b) = bidirectional_world(snapshot_pages);
        let (applied, data) = (vec![0x53u8; PAGE_SIZE], vec![0x54u8; PAGE_SIZE]);
        let mut cursor = 0u64;
        group.bench_function(BenchmarkId::from_parameter(snapshot_pages), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    if cursor.is_multiple_of(ROUND) {
                        // Retake p.ro so it shares every page the next round writes, under its
                        // id: a new id each time would lengthen A's volume table, which the
                        // timed write's pass over the volumes walks up to the highest id.
                        let id = sim.array(a).volume("p.ro").unwrap().id;
                        sim.array_mut(a).delete_volume("p.ro").unwrap();
                        let spec = SnapshotSpec { id: Some(id.0), ..SnapshotSpec::read_only("p.ro") };
                        sim.array_mut(a).create_snapshot("p", spec).unwrap();
                    }
                    // An apply on A of group `ba` (not timed).
                    sim.write(b, "s", 0, &applied).unwrap();
                    // A stride coprime with the page count visits every written page.
                    let page = (cursor * 61) % P_PAGES;
                    cursor += 1;
                    let start = Instant::now();
                    sim.write(a, "p", page * PAGE_SIZE as u64, &data).unwrap();
                    total += start.elapsed();
                }
                let array = sim.array(a);
                assert!(!array.volume("p.ro").unwrap().is_stale() && !array.volume("s.ro").unwrap().is_stale());
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, rc_periodic_sync, rc_sync_write, bidirectional_limited_write);
criterion_main!(benches);
