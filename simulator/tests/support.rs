//! Shared fixtures and the one helper that asserts a refusal.
//!
//! Every test module builds its world from these fixtures, so a change to the model's setup API
//! touches this file only.

use std::fmt::Debug;

use simulator::{
    ArrayConfig, ArrayId, CpgSpec, ErrorCode, HostSpec, Result, SetSpec, Simulation, SnapshotSpec, VlunSpec, VolumeSpec,
};

/// The CPG every fixture volume uses for user and snapshot space.
pub const CPG: &str = "FC_r6";

/// A second domain, so domain mismatches can be provoked.
pub const OTHER_DOMAIN: &str = "OTHER_DOMAIN";

/// Default proptest case count, overridden by `PROPTEST_CASES` for long runs.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The default primary configuration plus a second domain.
pub fn primary_config() -> ArrayConfig {
    let mut config = ArrayConfig::primary();
    config.domains.push(OTHER_DOMAIN.to_owned());
    config
}

/// A one-array simulation (built from `config`) with the CPG [`CPG`].
pub fn world_with(config: ArrayConfig) -> (Simulation, ArrayId) {
    let mut sim = Simulation::builder().seed(1).array(config).build().unwrap();
    let a = sim.primary();
    sim.array_mut(a).create_cpg(CpgSpec { name: CPG.into(), ..CpgSpec::default() }).unwrap();
    (sim, a)
}

/// A one-array simulation with default limits and the CPG [`CPG`].
pub fn world() -> (Simulation, ArrayId) {
    world_with(primary_config())
}

/// Creates a thin 256 MiB volume `name` in [`CPG`].
pub fn thin(sim: &mut Simulation, a: ArrayId, name: &str) {
    sim.array_mut(a).create_volume(VolumeSpec::thin(name, CPG, 256)).unwrap();
}

/// Takes a read-only copy `name` of `source`.
pub fn ro_copy(sim: &mut Simulation, a: ArrayId, source: &str, name: &str) {
    sim.array_mut(a).create_snapshot(source, SnapshotSpec::read_only(name)).unwrap();
}

/// Takes a read-write copy `name` of `source`.
pub fn rw_copy(sim: &mut Simulation, a: ArrayId, source: &str, name: &str) {
    sim.array_mut(a).create_snapshot(source, SnapshotSpec::read_write(name)).unwrap();
}

/// Creates an iSCSI host `name`.
pub fn host(sim: &mut Simulation, a: ArrayId, name: &str) {
    let spec =
        HostSpec { name: name.into(), iscsi_names: vec![format!("iqn.2026-01.sim:{name}")], ..HostSpec::default() };
    sim.array_mut(a).create_host(spec).unwrap();
}

/// Exports `volume` (or `set:<name>`) to `host` (or `set:<name>`) at `lun`.
pub fn export(sim: &mut Simulation, a: ArrayId, volume: &str, host: &str, lun: u32) {
    let spec = VlunSpec { volume: volume.into(), lun, host: Some(host.into()), ..VlunSpec::default() };
    sim.array_mut(a).create_vlun(spec).unwrap();
}

/// Creates a volume set `name` with `members`.
pub fn volume_set(sim: &mut Simulation, a: ArrayId, name: &str, members: &[&str]) {
    let spec =
        SetSpec { name: name.into(), members: members.iter().map(|m| (*m).to_owned()).collect(), ..SetSpec::default() };
    sim.array_mut(a).create_volume_set(spec).unwrap();
}

/// Deterministic, position-dependent bytes (so misplaced or stale data never reads back equal).
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8))
        .collect()
}

/// Runs `op` on `sim` and asserts it fails with `expected` and leaves the whole state (digest)
/// unchanged. `case` names the table row in failure messages.
pub fn assert_refused<T: Debug>(
    sim: &mut Simulation,
    case: &str,
    expected: ErrorCode,
    op: impl FnOnce(&mut Simulation) -> Result<T>,
) {
    let before = sim.digest();
    match op(sim) {
        Ok(value) => panic!("{case}: expected {expected}, got Ok({value:?})"),
        Err(error) => assert_eq!(error.code, expected, "{case}: wrong code ({error})"),
    }
    assert_eq!(sim.digest(), before, "{case}: a refused operation changed the state");
}
