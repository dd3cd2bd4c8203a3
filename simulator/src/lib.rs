//! `simulator`: a deterministic model of HPE 3PAR StoreServ arrays joined by Remote Copy.
//!
//! What it holds: arrays with CPGs, virtual volumes and their real bytes, virtual copies,
//! volume sets, hosts, VLUNs, tasks and Remote Copy; one virtual clock, one seeded PRNG
//! (ChaCha8) and one event queue, all owned by a [`Simulation`].
//!
//! What it deliberately does not do: no wall clock, sockets, files or threads (the WSAPI server
//! lives behind the `wsapi` feature, at the edge), and nothing about VSS or Exchange — the
//! `recovery` crate drives this API the way Recovery Manager drives a real array.
//!
//! Main design choice: volume data is a persistent map of shared 16 KiB pages
//! ([`page::PageMap`]), so a virtual copy is an O(1) clone and periodic replication is a diff
//! that skips shared subtrees. The cost is pointer-chasing on reads and a page-sized allocation
//! on the first write to a shared page after a copy.
//!
//! ```
//! use simulator::{Simulation, CpgSpec, VolumeSpec, SnapshotSpec};
//! let mut sim = Simulation::new(7);
//! let a = sim.primary();
//! sim.array_mut(a).create_cpg(CpgSpec { name: "FC_r6".into(), ..CpgSpec::default() }).unwrap();
//! sim.array_mut(a).create_volume(VolumeSpec::thin("db", "FC_r6", 1024)).unwrap();
//! sim.write(a, "db", 0, b"before").unwrap();
//! sim.array_mut(a).create_snapshot("db", SnapshotSpec::read_only("db.ro0")).unwrap();
//! sim.write(a, "db", 0, b"after!").unwrap();
//! assert_eq!(sim.read(a, "db.ro0", 0, 6).unwrap(), b"before");
//! ```

// The README's Rust example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub mod array;
pub mod cpg;
pub mod error;
mod event;
pub mod fault;
pub mod flash_cache;
pub mod host;
pub mod ids;
pub mod invariants;
pub mod names;
pub mod page;
pub mod port;
pub mod prng;
pub mod qos;
mod registry;
pub mod remote_copy;
pub mod simulation;
pub mod snapshot_space;
mod streaming;
pub mod task;
pub mod time;
pub mod trace;
pub mod virtual_copy;
pub mod vlun;
pub mod volume;
pub mod volume_set;
#[cfg(feature = "wsapi")]
pub mod wsapi;

pub use array::{Array, ArrayConfig, ArrayMut, Limits};
pub use cpg::{Cpg, CpgChanges, CpgSpec, CpgUsage, LdLayout};
pub use error::{Error, ErrorCode, Result};
pub use fault::{Direction, Fault};
pub use flash_cache::FlashCache;
pub use host::{Chap, Host, HostChanges, HostSet, HostSpec, PathChange};
pub use ids::{ArrayId, CpgId, GroupId, HostId, SetId, TaskId, VolumeId};
pub use page::{PAGE_SIZE, PageIndex, PageMap, pages_to_mib};
pub use port::{Port, PortPos, PortProtocol};
pub use prng::Prng;
pub use qos::{QosLimits, QosRule, QosTarget, QosTargetName};
pub use registry::Registry;
pub use remote_copy::{
    AdmitSpec, DrOptions, GroupChanges, GroupPolicies, GroupSpec, GroupState, LinkSpec, Mode, RcGroup, RcTarget,
    RcVolume, Role, StartOptions, StopOptions, StopReason, SyncOptions, SyncStatus, TargetSpec,
};
pub use simulation::{Digest, Simulation, SimulationBuilder, WriteAck};
pub use task::{PhysicalCopySpec, Task, TaskKind, TaskStatus, TuneSpec};
pub use time::{Instant, hours};
pub use trace::{Trace, TraceLine};
pub use virtual_copy::{PromoteOptions, SnapshotSpec};
pub use vlun::{Vlun, VlunSpec, VlunTarget, VlunVolume};
pub use volume::{
    AllocationAlerts, KeyValue, Provisioning, Volume, VolumeChanges, VolumeKind, VolumePolicies, VolumeSpec,
};
pub use volume_set::{SetChanges, SetSnapshotSpec, SetSpec, VolumeSet};
