//! Repository commit cost: the fsync floor of this machine and the cost of one atomic replace
//! of the repository file as the catalogue grows.
//!
//! Group `repository`:
//! - `fsync_floor`: write 4 KiB to a temp file, fsync, rename, fsync the directory (the
//!   protocol's I/O alone, nothing serialised);
//! - `commit/N`: one `Repository::add` or `remove` (alternating) with N entries present;
//! - `commit_unsynced/10`: the same without the fsyncs (`Durability::Unsynced`: write, rename);
//! - `commit_memory/10`: the same in memory (`MemoryDisk`: the commit points without files).
//!
//! Expected: `commit/N` ≈ `fsync_floor` + O(N) serialisation; the ratio to the floor shows
//! what the JSON costs.

use std::fs::File;
use std::io::Write;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use recovery::repository::{
    BackupKind, CopyRecord, Durability, Entry, EntryKey, EntryState, MemoryDisk, PolicyFields, RemoteCopyMode,
    Repository, Site, VolumeRole,
};

fn entry(n: u64) -> Entry {
    Entry {
        key: EntryKey { server: "MBX01".into(), database: "DB1".into(), backup_id: format!("{n:014}").into() },
        state: EntryState::Complete,
        snapshot_set_id: format!("00000000-0000-0000-0000-{n:012x}"),
        created_at_unix_secs: 1_767_225_600 + n as i64,
        created_at_nanos: n * 1_000_000_000,
        vss_window: None,
        integrity_checked: true,
        backup_kind: BackupKind::Full,
        mode: RemoteCopyMode::Synchronous,
        site: Site::Local,
        copies: ["db1", "db1.log"]
            .iter()
            .enumerate()
            .map(|(i, v)| CopyRecord {
                array: "SIM-A".into(),
                role: if i == 0 { VolumeRole::Database } else { VolumeRole::Log },
                source_volume: (*v).into(),
                copy_volume: format!("{v}.{n:08x}").into(),
            })
            .collect(),
        retained_on_primary: Vec::new(),
        policy: PolicyFields { expiration_hours: Some(168), retention_hours: Some(24) },
        mounted: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("repository");
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    group.bench_function("fsync_floor", |b| {
        let block = vec![7u8; 4096];
        let (temp, target) = (dir.path().join("floor.tmp"), dir.path().join("floor"));
        b.iter(|| {
            let mut file = File::create(&temp).unwrap();
            file.write_all(&block).unwrap();
            file.sync_all().unwrap();
            std::fs::rename(&temp, &target).unwrap();
            File::open(dir.path()).unwrap().sync_all().unwrap();
        })
    });
    for (name, size, durability) in [
        ("commit", 10u64, Durability::Synced),
        ("commit", 100, Durability::Synced),
        ("commit", 1000, Durability::Synced),
        ("commit_unsynced", 10, Durability::Unsynced),
        ("commit_memory", 10, Durability::Unsynced),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let disk = MemoryDisk::new();
        let mut repository = if name == "commit_memory" {
            Repository::open_memory(&disk, "BKP-A", Site::Local).unwrap()
        } else {
            Repository::open_with(dir.path(), "BKP-A", Site::Local, durability).unwrap()
        };
        for n in 0..size {
            repository.add(entry(n)).unwrap();
        }
        let extra = entry(size);
        let mut present = false;
        group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
            b.iter(|| {
                if present {
                    repository.remove(&extra.key).unwrap();
                } else {
                    repository.add(extra.clone()).unwrap();
                }
                present = !present;
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
