//! Helpers shared by the integration tests: a simulation with one mailbox server and database.

use recovery::exchange::{DatabaseConfig, DatabaseSpec, MailboxServer};
use simulator::{CpgSpec, Simulation};

/// Proptest cases: `PROPTEST_CASES` when set, else `default` (kept small for CI).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A proptest configuration with `cases(default)` cases whose failures are saved (and replayed
/// first on the next run) in `tests/proptest-regressions/<file>.txt`.
pub fn proptest_config(default: u32, file: &'static str) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(file))),
        ..proptest::test_runner::Config::default()
    }
}

/// A simulation seeded with `seed`, a CPG on the primary, server `MBX01` (host `mbx01`) with
/// database `DB1` on volumes `db1` and `db1.log` (small layout), dismounted.
pub fn setup(seed: u64) -> (Simulation, MailboxServer) {
    setup_with(seed, DatabaseConfig::small())
}

/// As [`setup`] with a chosen layout.
pub fn setup_with(seed: u64, config: DatabaseConfig) -> (Simulation, MailboxServer) {
    let mut sim = Simulation::new(seed);
    let a = sim.primary();
    sim.array_mut(a).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
    let mut server = MailboxServer::create(&mut sim, a, "MBX01", "mbx01", &[]).unwrap();
    server
        .create_database(
            &mut sim,
            DatabaseSpec {
                name: "DB1".into(),
                db_volume: "db1".into(),
                log_volume: "db1.log".into(),
                cpg: "FC_r6".into(),
                snap_cpg: None,
                config,
            },
        )
        .unwrap();
    (sim, server)
}

/// Names of the virtual copies on `array` (volumes that are virtual copies).
pub fn virtual_copies(sim: &Simulation, array: simulator::ArrayId) -> Vec<String> {
    sim.array(array).volumes().filter(|v| v.is_virtual_copy()).map(|v| v.name.clone()).collect()
}
