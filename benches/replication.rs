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

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use simulator::{
    AdmitSpec, CpgSpec, GroupSpec, Mode, PAGE_SIZE, PageIndex, Simulation, StartOptions, SyncOptions, VolumeSpec,
};

const GIB_MIB: u64 = 1024;
const CHANGED_PAGES: u64 = 4096;

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

criterion_group!(benches, rc_periodic_sync, rc_sync_write);
criterion_main!(benches);
