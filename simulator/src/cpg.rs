//! Common Provisioning Groups: the pools volumes draw user and snapshot space from.
//!
//! A CPG here is configuration plus accounting; there are no logical disks or chunklets.
//! Space used is derived from the volumes on demand (a thin volume uses what was written, a
//! fully provisioned one its whole size, snapshots the pages they hold that their parents no
//! longer share), so it can never drift from the data.
//!
//! Everything that refers to a CPG on its own array holds its id (volumes' user and snapshot
//! CPGs, Remote Copy groups' local CPGs), so a rename ([`ArrayMut::modify_cpg`]) needs no other
//! change. The one reference by name is a Remote Copy group's remote CPG, on the peer array:
//! renaming a CPG that a group on this array uses as local CPG (whose partner on the peer
//! names it as remote CPG) is refused with `IN_USE`.

use crate::array::{Array, ArrayMut};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::CpgId;
use crate::names::{NAME31, validate_name};
use crate::volume::Provisioning;

/// Logical-disk layout of a CPG, as WSAPI enum numbers (1 R0, 2 R1, 3 R5, 4 R6 for RAID;
/// 1 port, 2 cage, 3 magazine for HA; 1 first, 2 last for chunklet position).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdLayout {
    /// RAID type.
    pub raid_type: Option<u8>,
    /// Set size (disks per RAID set).
    pub set_size: Option<u32>,
    /// High-availability level.
    pub ha: Option<u8>,
    /// Chunklet position preference.
    pub chunklet_pos_pref: Option<u8>,
    /// Disk type of each disk pattern (1 FC, 2 NL, 3 SSD), absent when a pattern names none.
    pub disk_types: Vec<Option<u8>>,
}

/// What to create: [`ArrayMut::create_cpg`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpgSpec {
    /// Name (Name31).
    pub name: String,
    /// Domain, which must exist.
    pub domain: Option<String>,
    /// Growth increment, MiB.
    pub growth_increment_mib: Option<u64>,
    /// Growth limit, MiB: fully provisioned allocations beyond it fail with `NO_SPACE`, and so
    /// does snapshot space beyond it for the trees whose base draws snapshot space from this CPG
    /// (see `snapshot_space`).
    pub growth_limit_mib: Option<u64>,
    /// Used-LD warning alert, MiB: the threshold of used space past which the array warns
    /// (`createcpg -sdgw`; WSAPI `usedLDWarningAlertMiB`, shown as `SDGrowth.warningMiB`).
    /// Stored and reported; the model raises no alert.
    pub used_ld_warning_alert_mib: Option<u64>,
    /// Layout.
    pub ld_layout: LdLayout,
}

/// Changes to a CPG: [`ArrayMut::modify_cpg`] (WSAPI `PUT /cpgs/<name>`, CLI `setcpg`).
/// `None` and `false` leave a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpgChanges {
    /// New name (Name31).
    pub new_name: Option<String>,
    /// New growth increment, MiB; 0 disables auto-grow (as `setcpg -sdgs 0` does).
    pub growth_increment_mib: Option<u64>,
    /// Disable auto-grow: the growth increment becomes 0 (WSAPI `disableAutoGrow`). Excludes
    /// `growth_increment_mib`.
    pub disable_auto_grow: bool,
    /// New growth limit, MiB; one below what the CPG already uses is accepted (see
    /// [`ArrayMut::set_cpg_growth_limit`]).
    pub growth_limit_mib: Option<u64>,
    /// Remove the growth limit (WSAPI `rmGrowthLimit`). Excludes `growth_limit_mib`.
    pub remove_growth_limit: bool,
    /// New used-LD warning alert, MiB.
    pub used_ld_warning_alert_mib: Option<u64>,
    /// Remove the used-LD warning alert (WSAPI `rmWarningAlert`). Excludes
    /// `used_ld_warning_alert_mib`.
    pub remove_warning_alert: bool,
    /// New layout, whole (the WSAPI merges a request's layout members over the current layout).
    pub ld_layout: Option<LdLayout>,
}

/// One CPG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpg {
    /// Id on its array.
    pub id: CpgId,
    /// Name.
    pub name: String,
    /// Deterministic UUID.
    pub uuid: String,
    /// Domain, if any.
    pub domain: Option<String>,
    /// Growth increment, MiB (default 8 GiB per node pair, as 3PAR reports 32 GiB for 4 nodes).
    pub growth_increment_mib: u64,
    /// Growth limit, MiB.
    pub growth_limit_mib: Option<u64>,
    /// Used-LD warning alert, MiB: the threshold of used space past which the array warns
    /// (`createcpg -sdgw`; WSAPI `usedLDWarningAlertMiB`, shown as `SDGrowth.warningMiB`).
    /// Stored and reported; the model raises no alert.
    pub used_ld_warning_alert_mib: Option<u64>,
    /// Layout.
    pub ld_layout: LdLayout,
}

/// Space a CPG's volumes use, derived from their data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpgUsage {
    /// User space: fully provisioned sizes plus written thin pages, MiB (rounded up).
    pub user_used_mib: u64,
    /// Snapshot data space, MiB (rounded up): the snapshot space of every tree whose base volume
    /// draws snapshot space from this CPG (see `snapshot_space`), as its growth limit counts it.
    pub snapshot_used_mib: u64,
    /// Base volumes using this CPG as user CPG, by provisioning.
    pub fully_provisioned: u32,
    /// Thin base volumes.
    pub thin: u32,
    /// Thin deduplicated base volumes.
    pub dedup: u32,
}

impl Array {
    /// Space used in `cpg`, computed from the data now held.
    ///
    /// Cost: one pass over the base volumes whose user or snapshot CPG is `cpg`
    /// ([`Array::cpg_base_volumes`]) plus, per tree whose base draws snapshot space from `cpg`
    /// and whose count is not kept, a scan of the tree (each copy diffed against the base,
    /// skipping shared subtrees).
    pub fn cpg_usage(&self, cpg: CpgId) -> CpgUsage {
        let mut usage = CpgUsage::default();
        for volume in self.cpg_base_volumes(cpg) {
            if volume.user_cpg() == Some(cpg) {
                usage.user_used_mib += volume.user_space_used_mib();
                match volume.provisioning {
                    Provisioning::Full => usage.fully_provisioned += 1,
                    Provisioning::Thin => usage.thin += 1,
                    Provisioning::Dedup => usage.dedup += 1,
                }
            }
        }
        usage.snapshot_used_mib = crate::page::pages_to_mib(self.cpg_snapshot_pages(cpg));
        usage
    }

    pub(crate) fn cpg_in_use(&self, cpg: CpgId) -> bool {
        self.volumes().any(|v| v.user_cpg() == Some(cpg) || v.snap_cpg() == Some(cpg)) || self.remote_copy.uses_cpg(cpg)
    }
}

impl ArrayMut<'_> {
    /// Creates a CPG.
    ///
    /// Errors: bad name (45/57/69); `NON_EXISTENT_DOMAIN`; `EXISTENT_CPG`.
    pub fn create_cpg(&mut self, spec: CpgSpec) -> Result<CpgId> {
        self.require_online()?;
        validate_name("CPG", &spec.name, NAME31)?;
        if let Some(domain) = &spec.domain {
            validate_name("domain", domain, NAME31)?;
        }
        self.require_domain(spec.domain.as_deref())?;
        if self.cpgs.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_CPG, format!("CPG '{}' exists", spec.name)));
        }
        let id = CpgId(self.array.counters.next_cpg);
        self.array.counters.next_cpg += 1;
        let uuid = self.array.next_uuid();
        let cpg = Cpg {
            id,
            name: spec.name.clone(),
            uuid,
            domain: spec.domain,
            growth_increment_mib: spec.growth_increment_mib.unwrap_or(32 * 1024),
            growth_limit_mib: spec.growth_limit_mib,
            used_ld_warning_alert_mib: spec.used_ld_warning_alert_mib,
            ld_layout: spec.ld_layout,
        };
        self.array.cpgs.insert(id, &spec.name, cpg);
        self.trace("cpg", format_args!("create cpg {}", spec.name));
        Ok(id)
    }

    /// Sets or removes (`None`) the growth limit of CPG `name`, MiB (`setcpg -sdgl`). A limit
    /// below what the CPG already uses is accepted, as on the array: it refuses further growth
    /// (see [`CpgSpec::growth_limit_mib`]) and takes nothing away. A [`ArrayMut::modify_cpg`]
    /// of the growth limit alone.
    ///
    /// Errors: `ARRAY_OFFLINE`; `NON_EXISTENT_CPG`.
    pub fn set_cpg_growth_limit(&mut self, name: &str, limit_mib: Option<u64>) -> Result<()> {
        let changes = CpgChanges {
            growth_limit_mib: limit_mib,
            remove_growth_limit: limit_mib.is_none(),
            ..CpgChanges::default()
        };
        self.modify_cpg(name, changes)
    }

    /// Changes CPG `name`: every one of `changes`, or nothing when it returns an error. A
    /// rename keeps the CPG's id, so its volumes and this array's Remote Copy groups follow it;
    /// it is refused while a Remote Copy group on this array uses the CPG (see the module doc).
    /// No change at all is accepted (and traced), as a volume modify with no change is.
    ///
    /// Errors, in order: `ARRAY_OFFLINE`; `INV_INPUT_PARAM_CONFLICT` (a setting both given and
    /// removed); bad new name (45/57/69); `NON_EXISTENT_CPG`; `EXISTENT_CPG` (the new name is
    /// another CPG's); `IN_USE` (a rename of a CPG a Remote Copy group uses).
    pub fn modify_cpg(&mut self, name: &str, changes: CpgChanges) -> Result<()> {
        self.require_online()?;
        let CpgChanges {
            new_name,
            growth_increment_mib,
            disable_auto_grow,
            growth_limit_mib,
            remove_growth_limit,
            used_ld_warning_alert_mib,
            remove_warning_alert,
            ld_layout,
        } = changes;
        let conflicts = [
            (growth_increment_mib.is_some() && disable_auto_grow, "a growth increment", "auto-grow disabled"),
            (growth_limit_mib.is_some() && remove_growth_limit, "a growth limit", "the growth limit removed"),
            (
                used_ld_warning_alert_mib.is_some() && remove_warning_alert,
                "a used-LD warning alert",
                "the warning alert removed",
            ),
        ];
        if let Some((_, set, removed)) = conflicts.iter().find(|(conflict, _, _)| *conflict) {
            return Err(Error::new(
                ErrorCode::INV_INPUT_PARAM_CONFLICT,
                format!("CPG '{name}' cannot get {set} and have {removed} at once"),
            ));
        }
        if let Some(new_name) = &new_name {
            validate_name("CPG", new_name, NAME31)?;
        }
        let id = self.cpg(name)?.id;
        let rename = new_name.filter(|new_name| new_name != name);
        if let Some(new_name) = &rename {
            if self.cpgs.contains_name(new_name) {
                return Err(Error::new(ErrorCode::EXISTENT_CPG, format!("CPG '{new_name}' exists")));
            }
            if let Some(group) = self.remote_copy.group_using_cpg(id) {
                return Err(Error::new(
                    ErrorCode::IN_USE,
                    format!(
                        "CPG '{name}' cannot be renamed: remote copy group '{}' uses it, and its partner on the \
                         peer array names it",
                        group.name
                    ),
                ));
            }
        }

        let mut done = Vec::new();
        if let Some(new_name) = &rename {
            self.array.cpgs.rename(id, name, new_name);
        }
        let cpg = self.array.cpgs.get_mut(id).expect("found above");
        if let Some(new_name) = rename {
            cpg.name = new_name;
        }
        if let Some(increment) = growth_increment_mib {
            cpg.growth_increment_mib = increment;
            done.push(format!("growth increment {increment} MiB"));
        }
        if disable_auto_grow {
            cpg.growth_increment_mib = 0;
            done.push("no auto-grow".to_owned());
        }
        if let Some(limit) = growth_limit_mib {
            cpg.growth_limit_mib = Some(limit);
            done.push(format!("growth limit {limit} MiB"));
        }
        if remove_growth_limit {
            cpg.growth_limit_mib = None;
            done.push("no growth limit".to_owned());
        }
        if let Some(warning) = used_ld_warning_alert_mib {
            cpg.used_ld_warning_alert_mib = Some(warning);
            done.push(format!("used-LD warning {warning} MiB"));
        }
        if remove_warning_alert {
            cpg.used_ld_warning_alert_mib = None;
            done.push("no used-LD warning".to_owned());
        }
        if let Some(layout) = ld_layout {
            done.push(format!("layout {layout:?}"));
            cpg.ld_layout = layout;
        }
        let now_called = cpg.name.clone();
        if done.is_empty() {
            done.push("no setting changed".to_owned());
        }
        self.trace("cpg", format_args!("modify cpg {name} -> {now_called}: {}", done.join(", ")));
        Ok(())
    }

    /// Deletes a CPG.
    ///
    /// Errors: `NON_EXISTENT_CPG`; `IN_USE` while any volume or RC group uses it.
    pub fn delete_cpg(&mut self, name: &str) -> Result<()> {
        self.require_online()?;
        let id = self.cpg(name)?.id;
        if self.cpg_in_use(id) {
            return Err(Error::new(
                ErrorCode::IN_USE,
                format!("CPG '{name}' is used by volumes or remote copy groups"),
            ));
        }
        self.array.cpgs.remove(id, name);
        self.trace("cpg", format_args!("delete cpg {name}"));
        Ok(())
    }
}
