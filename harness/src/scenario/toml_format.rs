//! The scenario file as written: serde types for TOML with unknown keys denied.
//!
//! These are boundary types (STYLE: only boundary types derive serde). [`super::load`] turns
//! them into the validated [`super::Scenario`]; [`super::Scenario::to_toml`] turns a scenario
//! back into them, so a shrunk campaign failure is written as a file `run` replays exactly.
//! Every key is documented in `docs/scenarios.md`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::duration::DurationText;

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioToml {
    /// Name, description, seed.
    pub scenario: MetaToml,
    /// Arrays (default: `SIM-A` and `SIM-B`); the first is the primary, the second the Remote Copy
    /// backup array.
    #[serde(default, rename = "array", skip_serializing_if = "Vec::is_empty")]
    pub arrays: Vec<Spanned<ArrayToml>>,
    /// CPGs.
    #[serde(default, rename = "cpg", skip_serializing_if = "Vec::is_empty")]
    pub cpgs: Vec<Spanned<CpgToml>>,
    /// Plain volumes (database volumes are created by `[[database]]`).
    #[serde(default, rename = "volume", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Spanned<VolumeToml>>,
    /// Hosts (backup servers' hosts that mount copies, standby mailbox servers).
    #[serde(default, rename = "host", skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Spanned<HostToml>>,
    /// The Remote Copy links between the first two arrays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Spanned<LinksToml>>,
    /// Remote Copy groups.
    #[serde(default, rename = "rc_group", skip_serializing_if = "Vec::is_empty")]
    pub rc_groups: Vec<Spanned<RcGroupToml>>,
    /// The Exchange mailbox server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Spanned<ExchangeToml>>,
    /// Databases (storage groups) of the mailbox server.
    #[serde(default, rename = "database", skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<Spanned<DatabaseToml>>,
    /// The workload generator's sizes and rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Spanned<WorkloadToml>>,
    /// The backup servers (Recovery Manager).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_servers: Option<Spanned<BackupServersToml>>,
    /// Initial policies per database.
    #[serde(default, rename = "policy", skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Spanned<PolicyToml>>,
    /// The fault plan: faults at fixed instants of the virtual timeline.
    #[serde(default, rename = "fault", skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Spanned<FaultToml>>,
    /// The steps, in order.
    #[serde(default, rename = "step", skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Spanned<StepToml>>,
}

/// `[scenario]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaToml {
    /// Short name shown in reports.
    pub name: String,
    /// What the scenario shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seed of the simulation (the CLI's `--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
}

/// `[[array]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayToml {
    /// System name.
    pub name: String,
    /// System id (default 20001, 20002, ... by position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_id: Option<u32>,
}

/// `[[cpg]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpgToml {
    /// Array name.
    pub array: String,
    /// CPG name.
    pub name: String,
}

/// `[[volume]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeToml {
    /// Array name.
    pub array: String,
    /// Volume name.
    pub name: String,
    /// CPG name on that array.
    pub cpg: String,
    /// Size in MiB.
    pub size_mib: u64,
    /// `"thin"` (default) or `"full"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<String>,
}

/// `[[host]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostToml {
    /// Array name.
    pub array: String,
    /// Host name.
    pub name: String,
}

/// `[links]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksToml {
    /// Number of links (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// One-way base latency of each link (default `"1ms"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DurationText>,
    /// Bandwidth of each link in each direction, Mbit/s (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mbit_per_sec: Option<u64>,
    /// Chance per thousand messages of a latency tail (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_per_mille: Option<u32>,
}

/// `[[rc_group]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RcGroupToml {
    /// Group name on the primary array.
    pub name: String,
    /// `"synchronous"` or `"periodic"`.
    pub mode: String,
    /// Sync period (periodic mode); absent or `"0s"` = manual syncs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<DurationText>,
    /// Databases whose database and log volumes the group replicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// Further primary volumes the group replicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// CPG on the backup array for the automatically created secondary volumes.
    pub target_cpg: String,
    /// `auto_recover` policy (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_recover: Option<bool>,
    /// `fail_wrt_on_err` policy (default false: `no_fail_wrt_on_err`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_write_on_error: Option<bool>,
    /// `over_per_alert` policy (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_period_alert: Option<bool>,
    /// Start the group (and wait for its initial sync) during setup (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<bool>,
}

/// `[exchange]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeToml {
    /// Mailbox server name, exactly as registered with Recovery Manager.
    pub server: String,
    /// The server's host on the primary array (default: the server name in lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `[[database]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseToml {
    /// Database (storage group) name.
    pub name: String,
    /// CPG on the primary array for its two volumes.
    pub cpg: String,
    /// Snapshot CPG of its two volumes (default: `cpg`), on the primary array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_cpg: Option<String>,
    /// Database volume name (default `<name>.edb`, lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_volume: Option<String>,
    /// Log volume name (default `<name>.log`, lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_volume: Option<String>,
    /// `"small"` (default: 64 pages, 16 KiB log generations) or `"standard"` (Exchange 2007+ sizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Pages of the database (overrides the layout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
}

/// `[workload]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadToml {
    /// Fewest page updates per transaction (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates_min: Option<u32>,
    /// Most page updates per transaction (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates_max: Option<u32>,
    /// Fewest bytes per update (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_min: Option<u16>,
    /// Most bytes per update (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_max: Option<u16>,
    /// A flush of dirty pages every this many transactions (default 4; 0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_every: Option<u32>,
    /// Pages written per flush (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_per_flush: Option<usize>,
}

/// `[backup_servers]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupServersToml {
    /// Local backup server name (sees the primary array).
    pub local: String,
    /// Remote backup server name (sees the backup array); absent = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// 3PAR VSS provider version, `"major.minor"` (default `"2.2"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_version: Option<String>,
    /// VSS freeze window (default `"60s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_timeout: Option<DurationText>,
    /// VSS flush-and-hold window (default `"10s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_and_hold_timeout: Option<DurationText>,
    /// Repository directory of the local server (default: in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_repository: Option<String>,
    /// Repository directory of the remote server (default: in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_repository: Option<String>,
}

/// `[[policy]]` and the `set_policy` step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyToml {
    /// Database the policy applies to.
    pub database: String,
    /// Numeric policy: most copies kept per array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_copies: Option<u32>,
    /// Numeric policy: remove the oldest unmounted copy to make room (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_oldest: Option<bool>,
    /// Expiration policy: hours a copy lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_hours: Option<u64>,
    /// Retention (Virtual Lock), hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_hours: Option<u64>,
}

/// A fault: `[[fault]]` in the plan (with `at`) or a `fault` step (with `after`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultToml {
    /// `link_down`, `link_up`, `partition`, `latency`, `array_crash`, `array_restart`.
    pub kind: String,
    /// Plan only: when, counted from the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DurationText>,
    /// Step only: how long after the step starts (default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<DurationText>,
    /// `array_crash`, `array_restart`: the array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Link faults: `"both"` (default), `"forward"` (primary to backup) or `"backward"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `partition`: how long the links stay down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationText>,
    /// `latency`: the new one-way base latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DurationText>,
}

/// `[[step]]`: exactly one action key, plus optional expectations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepToml {
    /// Free text shown in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Database transactions or raw volume bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteArgs>,
    /// A Recovery Manager backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupArgs>,
    /// A Remote Copy sync of a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncArgs>,
    /// Let virtual time pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<DurationText>,
    /// Inject or schedule a fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultToml>,
    /// Remote Copy failover (issued on the backup array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<GroupArgs>,
    /// Remote Copy recover (issued on the failed-over array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover: Option<GroupArgs>,
    /// Remote Copy restore (fail back to natural roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rc_restore: Option<GroupArgs>,
    /// Start a Remote Copy group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rc_start: Option<GroupArgs>,
    /// Stop a Remote Copy group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rc_stop: Option<GroupArgs>,
    /// Mount a backup's copies on a host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<MountArgs>,
    /// Unmount a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmount: Option<CopyArgs>,
    /// Restore from a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreArgs>,
    /// Verify a backup's recoverability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<CopyArgs>,
    /// Remove a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<CopyArgs>,
    /// Change a database's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_policy: Option<PolicyToml>,
    /// Crash a backup server (`"local"` or `"remote"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_backup_server: Option<String>,
    /// Restart a crashed backup server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_backup_server: Option<String>,
    /// Mount the live database (soft recovery if dirty), e.g. after an array restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_database: Option<String>,
    /// Set or remove a CPG's growth limit, which bounds the snapshot space of the volumes
    /// drawing snapshot space from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpg_growth_limit: Option<CpgGrowthLimitArgs>,
    /// Set a database's snapshot-space failure policy (both its volumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_policy: Option<SnapshotPolicyArgs>,
    /// Check the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectArgs>,
    /// Expected outcome of the action: `"ok"` or `"error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The action must fail with an error whose text contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_contains: Option<String>,
}

/// `cpg_growth_limit = { ... }`: at most one of `mib` and `headroom_mib`; neither removes the
/// limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpgGrowthLimitArgs {
    /// Array of the CPG.
    pub array: String,
    /// CPG.
    pub cpg: String,
    /// The limit, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mib: Option<u64>,
    /// Or: the limit as room left, MiB: what the CPG uses when the step runs (its volumes' user
    /// space plus the snapshot space of the volumes drawing from it, rounded up to whole MiB)
    /// plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom_mib: Option<u64>,
}

/// `snapshot_policy = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPolicyArgs {
    /// Database whose two volumes (where the database is served now) get the policy.
    pub database: String,
    /// `true`: `stale_ss` (a write past the snapshot space makes the copies stale); `false`:
    /// `no_stale_ss` (the write fails with `NO_SPACE`).
    pub stale_ss: bool,
}

/// `write = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// Database to run transactions against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Number of transactions (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<u32>,
    /// Or: a plain volume on the primary array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Byte offset in the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Bytes to write (seeded pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// `backup = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupArgs {
    /// Database to back up.
    pub database: String,
    /// `"full"` (default) or `"copy"`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<String>,
    /// Skip the integrity check (`-nc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_integrity_check: Option<bool>,
    /// Expiration of this backup's copies, hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_hours: Option<u64>,
    /// Retention of this backup's copies, hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_hours: Option<u64>,
    /// A fault at a named workflow point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<WorkflowFaultArgs>,
    /// A fault at a named VSS step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vss_fault: Option<VssFaultArgs>,
}

/// `fault = { at = "...", kind = "..." }` inside a backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFaultArgs {
    /// The workflow point (`policy_check`, `vss_freeze`, ..., `backup_complete`).
    pub at: String,
    /// `"fail"`, `"crash"` (the backup server crashes there) or `"delay"`.
    pub kind: String,
    /// `delay`: virtual time the step takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DurationText>,
}

/// `vss_fault = { at = "...", delay = "..." }` or `{ at = "...", error = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VssFaultArgs {
    /// The VSS step (`identify`, ..., `commit_snapshots`, ..., `backup_complete`).
    pub at: String,
    /// The step takes this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DurationText>,
    /// Or: the step fails with this VSS error symbol (e.g. `VSS_E_PROVIDER_VETO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `sync = { group = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    /// Group name (as created on the primary array).
    pub group: String,
    /// Wait until the sync ends (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// Force a full sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<bool>,
}

/// `failover`/`recover`/`rc_restore`/`rc_start`/`rc_stop = { group = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupArgs {
    /// Group name (as created on the primary array).
    pub group: String,
    /// Failover: do not promote pre-sync snapshots (`-nopromote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_promote: Option<bool>,
    /// Wait until the resulting transfer ends (recover, restore, start; default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
}

/// `unmount`/`verify`/`remove = { database = "...", site = "...", backup = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    /// Database.
    pub database: String,
    /// `"local"` or `"remote"` (default: the site holding the chosen backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// `"latest"` (default), `"oldest"`, `"#n"` (n-th newest, `#0` = latest) or a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// `mount = { ..., host = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountArgs {
    /// Database.
    pub database: String,
    /// Site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Backup selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Host to export the copies to (default `backup-host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `restore = { ..., kind = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    /// Database.
    pub database: String,
    /// Site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Backup selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// `"volume_promote"` (default), `"file_copy"` or `"database_from_remote"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `file_copy`: the host that mounts the copies (default `backup-host`);
    /// `database_from_remote`: the standby server's host on the backup array (default `standby-host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `expect = { ... }`: every key given must hold after the step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectArgs {
    /// Database the entry counts are about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Entries of that database in the local repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_entries: Option<usize>,
    /// Entries in the remote repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_entries: Option<usize>,
    /// Remote entries that record copies retained on the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_on_primary: Option<usize>,
    /// The latest backup at `site` (or the live database with `site = "live"`) verifies as recoverable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable: Option<bool>,
    /// Site for `recoverable`: `"local"`, `"remote"` or `"live"` (default: the latest entry's site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Group for `role` and `group_state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Array for `role`/`group_state` (default: the primary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Role of the group on that array: `Primary`, `Secondary`, `Primary-Rev`, `Secondary-Rev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// State of the group on that array: `new`, `started`, `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_state: Option<String>,
    /// Whether the array is online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_online: Option<bool>,
}
