//! In-process cost of one VSS shadow-copy set of one Exchange database (two volumes), without
//! the repository: the part of a backup workflow's model time this crate contributes.
//!
//! Group `vss`, id `full_backup`: Identify → … → BackupComplete with the plain provider, then
//! the two copies are deleted (so the per-volume copy limit is never reached).

use criterion::{Criterion, criterion_group, criterion_main};
use recovery::exchange::{DatabaseConfig, DatabaseSpec, MailboxServer};
use recovery::vss::{
    ArraySnapshotProvider, BackupComponents, BackupType, EXCHANGE_WRITER_NAME, ExchangeWriter, ExchangeWriterOptions,
    VolumeRef, Writer,
};
use simulator::{CpgSpec, Simulation};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("vss");
    let mut sim = Simulation::new(1);
    let a = sim.primary();
    sim.array_mut(a).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
    let mut server = MailboxServer::create(&mut sim, a, "MBX01", "mbx01", &[]).unwrap();
    let spec = DatabaseSpec {
        name: "DB1".into(),
        db_volume: "db1".into(),
        log_volume: "db1.log".into(),
        cpg: "FC_r6".into(),
        snap_cpg: None,
        config: DatabaseConfig::default(),
    };
    server.create_database(&mut sim, spec).unwrap().mount(&mut sim).unwrap();
    let mut provider = ArraySnapshotProvider::default();
    group.bench_function("full_backup", |b| {
        b.iter(|| {
            let mut writer = ExchangeWriter::new(&mut server, ExchangeWriterOptions::default());
            let mut vss = BackupComponents::default();
            vss.initialize_for_backup().unwrap();
            vss.set_backup_state(BackupType::Full).unwrap();
            vss.gather_writer_metadata(&mut sim, &mut [&mut writer as &mut dyn Writer]).unwrap();
            vss.add_component(EXCHANGE_WRITER_NAME, "DB1").unwrap();
            vss.start_snapshot_set(&mut sim).unwrap();
            vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1")).unwrap();
            vss.add_to_snapshot_set(&sim, &provider, VolumeRef::new(a, "db1.log")).unwrap();
            vss.prepare_for_backup(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
            vss.do_snapshot_set(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
            vss.set_backup_succeeded(EXCHANGE_WRITER_NAME, "DB1", true).unwrap();
            vss.backup_complete(&mut sim, &mut provider, &mut [&mut writer as &mut dyn Writer]).unwrap();
            for copy in vss.shadow_copies() {
                sim.array_mut(a).delete_volume(&copy.copy_name).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
