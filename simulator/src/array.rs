//! One simulated StoreServ: its configuration, its objects and the handle that changes them.
//!
//! [`Array`] is the read side: getters returning borrowed views.
//! [`ArrayMut`] is the write side, handed out by [`crate::Simulation::array_mut`]; it carries the
//! shared world (virtual clock, event queue, trace) so every management operation is timestamped,
//! traced and can schedule follow-up events (expiry, task completion).
//! Operations live in the module of their concept (`cpg`, `volume`, `virtual_copy`, ...), each as
//! an `impl ArrayMut` block.
//!
//! Every operation validates completely before it mutates, so an `Err` leaves the array untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::cpg::Cpg;
use crate::error::{Error, ErrorCode, Result};
use crate::host::{Host, HostSet};
use crate::ids::{ArrayId, CpgId, HostId, SetId, TaskId, VolumeId};
use crate::port::{Port, default_ports};
use crate::registry::Registry;
use crate::remote_copy::ArrayRemoteCopy;
use crate::simulation::World;
use crate::task::Task;
use crate::time::Instant;
use crate::vlun::Vlun;
use crate::volume::Volume;
use crate::volume_set::VolumeSet;

/// Static description of one array. Defaults: [`ArrayConfig::primary`] / [`ArrayConfig::backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayConfig {
    /// System name (WSAPI `name`); unique within a simulation.
    pub name: String,
    /// System id (WSAPI `id`); the partner of RC group `g` is named `g.r<id of the primary>`.
    pub system_id: u32,
    /// Serial number (also encoded in WWNs).
    pub serial: String,
    /// Model string, e.g. `HPE_3PAR 8200`.
    pub model: String,
    /// OS version string, e.g. `3.3.1.648`.
    pub system_version: String,
    /// Usable physical capacity in MiB (bounds fully provisioned allocations).
    pub total_capacity_mib: u64,
    /// Domains that exist on this array.
    pub domains: Vec<String>,
    /// Licensed features by name (`Virtual Lock` gates retention, `Remote Copy` gates RC).
    pub licences: Vec<String>,
    /// Ports (fixture of WSAPI spec §9/§17).
    pub ports: Vec<Port>,
    /// Limits of the virtual-copy tree and of volumes.
    pub limits: Limits,
    /// How long an online physical copy stays ACTIVE before it completes (virtual time).
    pub online_copy_duration: Duration,
    /// Time an unreplicated host write takes from submission to acknowledgement.
    pub host_write_latency: Duration,
}

/// Limits enforced by an array. Defaults come from domain spec §2 and §1.6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Virtual copies per base volume (whole tree); 500 on InForm OS 2.3.1/3.1.1.
    pub copies_per_base: u32,
    /// Read-write copies of one read-only copy; 256.
    pub rw_copies_per_ro_parent: u32,
    /// Largest volume, MiB (16 TiB).
    pub max_volume_size_mib: u64,
    /// Volumes (bases and copies) per array.
    pub max_volumes: u32,
    /// Longest expiration or retention that can be requested, hours (43,800 h = 5 years).
    pub max_time_hours: u64,
    /// System maximum retention (`VVRetentionTimeMax`), hours; default 336 h (14 days).
    pub max_retention_hours: u64,
    /// Volumes synchronising at once per array (Remote Copy); 20.
    pub concurrent_syncs: u32,
    /// Volumes per Remote Copy group; 300.
    pub volumes_per_rc_group: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            copies_per_base: 500,
            rw_copies_per_ro_parent: 256,
            max_volume_size_mib: 16 * 1024 * 1024,
            max_volumes: 65_535,
            max_time_hours: 43_800,
            max_retention_hours: 336,
            concurrent_syncs: 20,
            volumes_per_rc_group: 300,
        }
    }
}

impl ArrayConfig {
    /// The default primary array `SIM-A`.
    pub fn primary() -> ArrayConfig {
        ArrayConfig::named("SIM-A", 20_001, "1620001")
    }

    /// The default backup (Remote Copy target) array `SIM-B`.
    pub fn backup() -> ArrayConfig {
        ArrayConfig::named("SIM-B", 20_002, "1620002")
    }

    /// An array with default settings and the given identity.
    pub fn named(name: &str, system_id: u32, serial: &str) -> ArrayConfig {
        ArrayConfig {
            name: name.to_owned(),
            system_id,
            serial: serial.to_owned(),
            model: "HPE_3PAR 8200".to_owned(),
            system_version: "3.3.1.648".to_owned(),
            total_capacity_mib: 256 * 1024 * 1024,
            domains: vec!["UNIT_TEST_DOMAIN".to_owned()],
            licences: [
                "Thin Provisioning",
                "Virtual Copy",
                "Remote Copy",
                "Priority Optimization",
                "System Reporter",
                "Compression",
                "Virtual Lock",
                "Dynamic Optimization",
                "Virtual Domains",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            ports: default_ports(system_id),
            limits: Limits::default(),
            online_copy_duration: Duration::from_millis(500),
            host_write_latency: Duration::from_micros(100),
        }
    }

    /// Whether the licence `name` is installed.
    pub fn licensed(&self, name: &str) -> bool {
        self.licences.iter().any(|l| l == name)
    }
}

/// The ids of an array's volumes that are not virtual copies, kept by `insert_volume` and
/// `remove_volume` (a volume's kind never changes between a virtual copy and the others).
/// The array's fully provisioned total (`allocated_full_mib`) goes over these instead of the
/// whole volume table, whose walk grows with the highest id in use and with every virtual copy;
/// one CPG's usage and growth-limit count go over [`CpgVolumeIds`] instead. An index of the
/// volumes: `Debug` prints nothing, so it is not in the digest.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct BaseVolumeIds(pub(crate) std::collections::BTreeSet<VolumeId>);

impl std::fmt::Debug for BaseVolumeIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaseVolumeIds")
    }
}

/// The volumes that are not virtual copies, by CPG: for each CPG that such a volume has as its
/// user or snapshot CPG, the ids of those volumes (a volume with one CPG in both roles is listed
/// once). Kept by `insert_volume`, `remove_volume` and `Array::set_volume_cpgs`, the only ways
/// a volume's CPGs change (its `user_cpg` and `snap_cpg` are private to `volume`); a CPG no
/// such volume uses has no entry. A CPG's growth-limit count and its usage go over its own entry
/// instead of every base volume of the array: O(volumes in that CPG). Virtual copies are not
/// listed: they draw their space through their base. An index of the volumes: `Debug` prints
/// nothing, so it is not in the digest.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct CpgVolumeIds(pub(crate) BTreeMap<CpgId, BTreeSet<VolumeId>>);

impl CpgVolumeIds {
    /// Lists volume `id` under each of `cpgs` (its user and snapshot CPG).
    pub(crate) fn insert(&mut self, id: VolumeId, cpgs: [Option<CpgId>; 2]) {
        for cpg in cpgs.into_iter().flatten() {
            self.0.entry(cpg).or_default().insert(id);
        }
    }

    /// Removes volume `id` from each of `cpgs` (its user and snapshot CPG), dropping an entry
    /// left empty.
    pub(crate) fn remove(&mut self, id: VolumeId, cpgs: [Option<CpgId>; 2]) {
        for cpg in cpgs.into_iter().flatten() {
            if let Some(ids) = self.0.get_mut(&cpg) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.0.remove(&cpg);
                }
            }
        }
    }

    /// The ids listed under `cpg`, in id order.
    pub(crate) fn of(&self, cpg: CpgId) -> impl Iterator<Item = VolumeId> {
        self.0.get(&cpg).into_iter().flatten().copied()
    }
}

impl std::fmt::Debug for CpgVolumeIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpgVolumeIds")
    }
}

/// One simulated array: the read side.
#[derive(Debug, Clone)]
pub struct Array {
    pub(crate) id: ArrayId,
    pub(crate) config: ArrayConfig,
    pub(crate) online: bool,
    pub(crate) cpgs: Registry<CpgId, Cpg>,
    pub(crate) volumes: Registry<VolumeId, Volume, crate::registry::DenseVolumes<Volume>>,
    /// The ids of the volumes that are not virtual copies (base volumes and physical copies),
    /// indexed (see [`BaseVolumeIds`]).
    pub(crate) base_ids: BaseVolumeIds,
    /// The same volumes by user and snapshot CPG: what one CPG's usage and growth limit go
    /// over (see [`CpgVolumeIds`]).
    pub(crate) cpg_volume_ids: CpgVolumeIds,
    pub(crate) volume_sets: Registry<SetId, VolumeSet>,
    pub(crate) hosts: Registry<HostId, Host>,
    pub(crate) host_sets: Registry<SetId, HostSet>,
    /// VLUN templates by creation sequence.
    pub(crate) vluns: std::collections::BTreeMap<u64, Vlun>,
    /// What `vluns` and `volume_sets` say about each volume, indexed.
    pub(crate) exports: crate::vlun::ExportIndex,
    /// Tasks by id, in the list order, and the finished ones in pruning order.
    pub(crate) tasks: crate::task::TaskList,
    pub(crate) remote_copy: ArrayRemoteCopy,
    pub(crate) counters: Counters,
    /// QoS rules (configuration only).
    pub(crate) qos: crate::qos::QosRules,
    /// The flash cache, if one was created.
    pub(crate) flash_cache: Option<crate::flash_cache::FlashCache>,
}

/// Id counters; ids are never derived from hashes or addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) next_volume: u32,
    pub(crate) next_cpg: u32,
    pub(crate) next_host: u32,
    pub(crate) next_set: u32,
    pub(crate) next_vlun: u64,
    pub(crate) next_task: u32,
    pub(crate) next_uuid: u64,
}

impl Array {
    pub(crate) fn new(id: ArrayId, config: ArrayConfig) -> Array {
        let mut array = Array {
            id,
            config,
            online: true,
            cpgs: Registry::default(),
            volumes: Registry::default(),
            base_ids: BaseVolumeIds::default(),
            cpg_volume_ids: CpgVolumeIds::default(),
            volume_sets: Registry::default(),
            hosts: Registry::default(),
            host_sets: Registry::default(),
            vluns: Default::default(),
            exports: Default::default(),
            tasks: Default::default(),
            remote_copy: ArrayRemoteCopy::default(),
            counters: Counters {
                next_volume: 1,
                next_cpg: 1,
                next_host: 1,
                next_set: 1,
                next_task: 1,
                ..Counters::default()
            },
            qos: Default::default(),
            flash_cache: None,
        };
        // Real arrays always list recent system tasks; the WSAPI suite asserts at least one exists.
        array.seed_system_tasks();
        array
    }

    /// This array's index in the simulation.
    pub fn id(&self) -> ArrayId {
        self.id
    }

    /// Static configuration.
    pub fn config(&self) -> &ArrayConfig {
        &self.config
    }

    /// System name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether the array is up (not crashed).
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// CPGs in id order.
    pub fn cpgs(&self) -> impl DoubleEndedIterator<Item = &Cpg> {
        self.cpgs.iter().map(|(_, cpg)| cpg)
    }

    /// The CPG called `name`.
    pub fn cpg(&self, name: &str) -> Result<&Cpg> {
        self.cpgs.by_name(name).ok_or_else(|| {
            Error::new(ErrorCode::NON_EXISTENT_CPG, format!("CPG '{name}' does not exist on {}", self.name()))
        })
    }

    /// The CPG with `id`.
    pub fn cpg_by_id(&self, id: CpgId) -> Option<&Cpg> {
        self.cpgs.get(id)
    }

    /// Volumes (bases and copies) in id order.
    pub fn volumes(&self) -> impl DoubleEndedIterator<Item = &Volume> {
        self.volumes.iter().map(|(_, volume)| volume)
    }

    /// The volumes that are not virtual copies (base volumes and physical copies), in id
    /// order: O(such volumes), however many copies the array holds and however high its ids.
    pub fn base_volumes(&self) -> impl Iterator<Item = &Volume> {
        self.base_ids.0.iter().map(|id| self.vol(*id))
    }

    /// The volumes that are not virtual copies (base volumes and physical copies) whose user or
    /// snapshot CPG is `cpg`, in id order: O(such volumes), however many volumes other CPGs hold.
    pub fn cpg_base_volumes(&self, cpg: CpgId) -> impl Iterator<Item = &Volume> {
        self.cpg_volume_ids.of(cpg).map(|id| self.vol(id))
    }

    /// Number of volumes (bases and copies).
    pub fn volume_count(&self) -> usize {
        self.volumes.len()
    }

    /// The volume called `name`.
    pub fn volume(&self, name: &str) -> Result<&Volume> {
        self.volumes.by_name(name).ok_or_else(|| self.no_such_volume(name))
    }

    fn no_such_volume(&self, name: &str) -> Error {
        Error::new(ErrorCode::NON_EXISTENT_VOL, format!("volume '{name}' does not exist on {}", self.name()))
    }

    /// The volume with `id`.
    pub fn volume_by_id(&self, id: VolumeId) -> Option<&Volume> {
        self.volumes.get(id)
    }

    /// Whether a volume called `name` exists.
    pub fn has_volume(&self, name: &str) -> bool {
        self.volumes.contains_name(name)
    }

    /// Volume sets in id order.
    pub fn volume_sets(&self) -> impl DoubleEndedIterator<Item = &VolumeSet> {
        self.volume_sets.iter().map(|(_, set)| set)
    }

    /// The volume set called `name`.
    pub fn volume_set(&self, name: &str) -> Result<&VolumeSet> {
        self.volume_sets
            .by_name(name)
            .ok_or_else(|| Error::new(ErrorCode::NON_EXISTENT_SET, format!("volume set '{name}' does not exist")))
    }

    /// Hosts in id order.
    pub fn hosts(&self) -> impl DoubleEndedIterator<Item = &Host> {
        self.hosts.iter().map(|(_, host)| host)
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .by_name(name)
            .ok_or_else(|| Error::new(ErrorCode::NON_EXISTENT_HOST, format!("host '{name}' does not exist")))
    }

    /// The host with `id`.
    pub fn host_by_id(&self, id: HostId) -> Option<&Host> {
        self.hosts.get(id)
    }

    /// Host sets in id order.
    pub fn host_sets(&self) -> impl DoubleEndedIterator<Item = &HostSet> {
        self.host_sets.iter().map(|(_, set)| set)
    }

    /// The host set called `name`.
    pub fn host_set(&self, name: &str) -> Result<&HostSet> {
        self.host_sets
            .by_name(name)
            .ok_or_else(|| Error::new(ErrorCode::NON_EXISTENT_SET, format!("host set '{name}' does not exist")))
    }

    /// VLUN templates in creation order.
    pub fn vluns(&self) -> impl DoubleEndedIterator<Item = &Vlun> {
        self.vluns.values()
    }

    /// Ports.
    pub fn ports(&self) -> &[Port] {
        &self.config.ports
    }

    /// Tasks, newest first (the order the WSAPI lists them in): by creation, which is descending
    /// id until the ids wrap around after 65535.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.newest_first()
    }

    /// The task with `id`.
    pub fn task(&self, id: TaskId) -> Result<&Task> {
        self.tasks.get(id).ok_or_else(|| Error::new(ErrorCode::NON_EXISTENT_TASK, format!("task {id} does not exist")))
    }

    /// This array's Remote Copy targets and its view of its groups.
    pub fn remote_copy(&self) -> &ArrayRemoteCopy {
        &self.remote_copy
    }

    /// Whether the domain `name` exists.
    pub fn has_domain(&self, name: &str) -> bool {
        self.config.domains.iter().any(|d| d == name)
    }

    pub(crate) fn require_online(&self) -> Result<()> {
        if self.online {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::ARRAY_OFFLINE, format!("array {} is down", self.name())))
        }
    }

    pub(crate) fn require_domain(&self, domain: Option<&str>) -> Result<()> {
        match domain {
            Some(name) if !self.has_domain(name) => {
                Err(Error::new(ErrorCode::NON_EXISTENT_DOMAIN, format!("domain '{name}' does not exist")))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn volume_id(&self, name: &str) -> Result<VolumeId> {
        self.volumes.id_of(name).ok_or_else(|| self.no_such_volume(name))
    }

    pub(crate) fn vol(&self, id: VolumeId) -> &Volume {
        self.volumes.get(id).expect("volume ids held by the model refer to existing volumes")
    }

    pub(crate) fn vol_mut(&mut self, id: VolumeId) -> &mut Volume {
        self.volumes.get_mut(id).expect("volume ids held by the model refer to existing volumes")
    }

    /// A fresh deterministic UUID for an object of this array:
    /// `<system id>-<n bits 48..64>-4<bits 36..48>-8<bits 24..36>-<bits 0..48>` in lower-case hex.
    ///
    /// Built digit by digit rather than with padded `format!` arguments: every volume and copy
    /// creation pays for it, and padded formatting was a seventh of `vc_create`.
    pub(crate) fn next_uuid(&mut self) -> String {
        self.counters.next_uuid += 1;
        let n = self.counters.next_uuid;
        let mut uuid = String::with_capacity(36);
        push_hex(&mut uuid, u64::from(self.config.system_id), 8, false);
        uuid.push('-');
        push_hex(&mut uuid, (n >> 48) & 0xffff, 4, false);
        uuid.push_str("-4");
        push_hex(&mut uuid, (n >> 36) & 0xfff, 3, false);
        uuid.push_str("-8");
        push_hex(&mut uuid, (n >> 24) & 0xfff, 3, false);
        uuid.push('-');
        push_hex(&mut uuid, n & 0xffff_ffff_ffff, 12, false);
        uuid
    }

    /// The WWN of volume `id` on this array (NAA-6 style, 32 upper-case hex digits):
    /// `60002AC`, nine zeros, the volume id (8 digits), the system id (8 digits).
    pub(crate) fn wwn_for(&self, id: VolumeId) -> String {
        let mut wwn = String::with_capacity(32);
        wwn.push_str("60002AC000000000");
        push_hex(&mut wwn, u64::from(id.0), 8, true);
        push_hex(&mut wwn, u64::from(self.config.system_id), 8, true);
        wwn
    }
}

/// Appends the low `digits` hex digits of `value`, zero-padded (like `{:0digits$x}` for values
/// that fit in `digits` digits).
fn push_hex(out: &mut String, value: u64, digits: usize, upper: bool) {
    let alphabet: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    for position in (0..digits).rev() {
        let nibble = (value >> (4 * position)) & 0xf;
        out.push(char::from(alphabet[nibble as usize]));
    }
}

/// The write side of one array: management operations, timestamped and traced.
pub struct ArrayMut<'a> {
    pub(crate) array: &'a mut Array,
    pub(crate) world: &'a mut World,
}

impl std::ops::Deref for ArrayMut<'_> {
    type Target = Array;
    fn deref(&self) -> &Array {
        self.array
    }
}

impl ArrayMut<'_> {
    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.world.now
    }

    /// Records `"<array name>: <args>"` in the trace. Takes format arguments rather than a
    /// `String`: every management operation pays for this, and the trace formats the line
    /// straight into a recycled buffer (see [`crate::Trace`]).
    pub(crate) fn trace(&mut self, kind: &'static str, args: std::fmt::Arguments<'_>) {
        self.trace_with(kind, |_, text| {
            std::fmt::Write::write_fmt(text, args).expect("formatting into a String does not fail");
        });
    }

    /// Records `"<array name>: "` followed by what `write` appends, given the array (so a line
    /// can borrow names from it while the trace, in the world, is written).
    pub(crate) fn trace_with(&mut self, kind: &'static str, write: impl FnOnce(&Array, &mut String)) {
        let array = &*self.array;
        self.world.trace.record_with(self.world.now, kind, |text| {
            text.push_str(&array.config.name);
            text.push_str(": ");
            write(array, text);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the hand-built UUIDs and WWNs are exactly what the padded `format!` calls they
    // replace produced (clients and fixtures may have recorded them).
    #[test]
    fn uuids_and_wwns_match_their_format_definition() {
        let mut array = Array::new(ArrayId(0), ArrayConfig::primary());
        for _ in 0..3 {
            let expected_n = array.counters.next_uuid + 1;
            let expected = format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                array.config.system_id,
                (expected_n >> 48) & 0xffff,
                (expected_n >> 36) & 0xfff,
                (expected_n >> 24) & 0xfff,
                expected_n & 0xffff_ffff_ffff
            );
            assert_eq!(array.next_uuid(), expected);
        }
        array.counters.next_uuid = 0x1234_5678_9abc_def0 - 1;
        assert_eq!(array.next_uuid(), "00004e21-1234-4567-889a-56789abcdef0");
        for id in [0, 1, 0xABCD, u32::MAX] {
            let expected = format!("60002AC{:09X}{:08X}{:08X}", 0, id, array.config.system_id);
            assert_eq!(array.wwn_for(VolumeId(id)), expected);
        }
    }
}
