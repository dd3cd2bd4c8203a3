//! Shared setup for Remote Copy tests: the only code that builds groups (tests are data on top).

use std::time::Duration;

use simulator::{
    AdmitSpec, ArrayId, CpgSpec, GroupPolicies, GroupSpec, Instant, Mode, Simulation, StartOptions, SyncStatus,
    VolumeSpec,
};

pub const GROUP: &str = "rcg";
pub const VOLUMES: [&str; 2] = ["db", "log"];
pub const SIZE_MIB: u64 = 256;

pub struct World {
    pub sim: Simulation,
    pub a: ArrayId,
    pub b: ArrayId,
}

impl World {
    /// Two arrays, a CPG on each, volumes `db` and `log` on A, group `rcg` in `mode` with
    /// auto-created secondaries of the same names on B, not started.
    pub fn new(seed: u64, mode: Mode, policies: GroupPolicies, period: Option<Duration>) -> World {
        let mut sim = Simulation::new(seed);
        let (a, b) = (sim.primary(), sim.backup());
        for array in [a, b] {
            sim.array_mut(array).create_cpg(CpgSpec { name: "FC".into(), ..CpgSpec::default() }).unwrap();
        }
        for name in VOLUMES {
            sim.array_mut(a).create_volume(VolumeSpec::thin(name, "FC", SIZE_MIB)).unwrap();
        }
        let target = sim.array(a).remote_copy().target_for(b).unwrap().name.clone();
        let spec = GroupSpec {
            remote_user_cpg: Some("FC".into()),
            remote_snap_cpg: Some("FC".into()),
            sync_period: period,
            policies: Some(policies),
            ..GroupSpec::new(GROUP, &target, mode)
        };
        sim.remote_copy().create_group(a, spec).unwrap();
        for name in VOLUMES {
            let admit =
                AdmitSpec { volume: name.into(), secondary: name.into(), auto_create: true, ..AdmitSpec::default() };
            sim.remote_copy().admit_volume(a, GROUP, admit).unwrap();
        }
        World { sim, a, b }
    }

    pub fn partner(&self) -> String {
        format!("{GROUP}.r{}", self.sim.array(self.a).config().system_id)
    }

    pub fn start(&mut self) {
        self.sim.remote_copy().start_group(self.a, GROUP, &StartOptions::default()).unwrap();
    }

    /// Runs events until no transfer is running (bounded by `limit` of virtual time).
    pub fn settle(&mut self, limit: Duration) {
        let deadline = self.sim.now() + limit;
        let done = self.sim.advance_until(deadline, |s| s.rc_running_transfers().next().is_none());
        assert!(done, "transfers still running after {limit:?}");
    }

    pub fn statuses(&self, array: ArrayId, group: &str) -> Vec<SyncStatus> {
        let g = self.sim.array(array).remote_copy().group(group).unwrap();
        g.volumes.iter().map(|v| v.status).collect()
    }

    pub fn read(&self, array: ArrayId, volume: &str, offset: u64, len: usize) -> Vec<u8> {
        self.sim.read(array, volume, offset, len).unwrap()
    }

    /// Whether `volume` reads the same on both arrays (whole volume).
    pub fn same_on_both(&self, volume: &str) -> bool {
        let pa = self.sim.array(self.a).volume(volume).unwrap().pages();
        let pb = self.sim.array(self.b).volume(volume).unwrap().pages();
        pa.same_content(pb)
    }

    pub fn now(&self) -> Instant {
        self.sim.now()
    }
}

/// `len` bytes of a recognisable pattern derived from `tag`.
pub fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_mul(31).wrapping_add(i as u8)).collect()
}
