//! Virtual volumes: bases (TPVV, FPVV, TDVV), their data, metadata, expiration and retention.
//!
//! A volume's bytes live in a [`PageMap`]; the volume itself is the 3PAR object around it.
//! Virtual copies are volumes too (`VolumeKind::VirtualCopy`), created in `virtual_copy`.
//! Sizes are MiB and rounded up to a multiple of 256 MiB, as arrays allocate them.
//!
//! Expiration and retention are instants on the virtual clock.
//! An expired volume is removed at the first event at or after its expiration time if the delete
//! rules allow; otherwise the removal is retried an hour later (3PAR's `remove_expired_vvs` system
//! task behaves the same way), so a mounted or parent copy is never removed by expiry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::array::{Array, ArrayMut};
use crate::cpg::Cpg;
use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::ids::{CpgId, TaskId, VolumeId};
use crate::names::{COMMENT_MAX, NAME31, validate_comment, validate_key, validate_name};
use crate::page::{PAGE_SIZE_U64, PageMap};
use crate::snapshot_space::SnapshotPagesCount;
use crate::time::{Instant, hours, human_duration};
use crate::virtual_copy::SnapshotSpec;

/// Volume sizes are allocated in multiples of this many MiB.
pub const SIZE_GRANULE_MIB: u64 = 256;

/// How long an expired volume that could not be removed (in use, or its array down) waits
/// before the next attempt, like 3PAR's hourly `remove_expired_vvs` system task.
pub const EXPIRY_RETRY: Duration = Duration::from_secs(3600);

/// Highest volume id: 3PAR VV ids are 16-bit (the id is also encoded in the WWN). Larger
/// requested ids are refused with `INV_INPUT_EXCEEDS_RANGE`; allocated ids wrap back to 1.
pub const MAX_VOLUME_ID: u32 = 65_535;

/// Longest metadata value.
pub const METADATA_VALUE_MAX: usize = 255;

/// How a base volume's user space is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provisioning {
    /// Fully provisioned (FPVV): the whole size is allocated at creation.
    Full,
    /// Thin (TPVV): space is allocated as pages are written.
    Thin,
    /// Thin deduplicated (TDVV).
    Dedup,
}

/// Where a volume sits in its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VolumeKind {
    /// A base volume (always read-write).
    Base,
    /// A virtual copy (snapshot) of `parent`, whose tree is rooted at `base`.
    VirtualCopy {
        /// The volume this copy was taken of (WSAPI `copyOf` / `parentId`).
        parent: VolumeId,
        /// The root base volume of the tree (WSAPI `baseId`).
        base: VolumeId,
    },
    /// A completed offline physical copy of `parent` (WSAPI copy type 2).
    PhysicalCopy {
        /// The source volume.
        parent: VolumeId,
    },
}

/// Volume policies (WSAPI `policies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumePolicies {
    /// Snapshot-space failure makes the snapshot stale instead of failing base writes.
    pub stale_ss: bool,
    /// Only one host may see the volume.
    pub one_host: bool,
    /// Zero detection (thin volumes only).
    pub zero_detect: bool,
    /// System volume.
    pub system: bool,
    /// Caching enabled.
    pub caching: bool,
    /// File-services volume (WSAPI `fsvc`); stored and reported, no behaviour.
    pub fsvc: bool,
    /// Host DIF (T10 data integrity) mode, WSAPI `hostDIF`: 1 3PAR host DIF, 2 standard host
    /// DIF, 3 no host DIF; `None` when never set (the WSAPI then omits it). Stored and
    /// reported, no behaviour.
    pub host_dif: Option<u8>,
}

impl Default for VolumePolicies {
    fn default() -> Self {
        VolumePolicies {
            stale_ss: true,
            one_host: false,
            zero_detect: false,
            system: false,
            caching: true,
            fsvc: false,
            host_dif: None,
        }
    }
}

/// Space allocation alerts in percent; 0 means "not set".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocationAlerts {
    /// Snapshot space warning.
    pub snapshot_warning_pct: u8,
    /// Snapshot space limit.
    pub snapshot_limit_pct: u8,
    /// User space warning (thin volumes only).
    pub user_warning_pct: u8,
    /// User space limit (thin volumes only).
    pub user_limit_pct: u8,
}

/// One metadata value with the time it was first set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The value.
    pub value: String,
    /// When the key was created.
    pub created_at: Instant,
}

/// One virtual volume (base or copy).
#[derive(Debug, Clone)]
pub struct Volume {
    /// Id on its array.
    pub id: VolumeId,
    /// Name (unique on its array).
    pub name: String,
    /// Deterministic UUID.
    pub uuid: String,
    /// WWN: NAA-6, 32 upper-case hex digits, derived from the array and the id.
    pub wwn: String,
    /// User-space provisioning (inherited by copies from their base).
    pub provisioning: Provisioning,
    /// Compression enabled.
    pub compression: bool,
    /// Base, virtual copy or physical copy.
    pub kind: VolumeKind,
    /// Read-only (only virtual copies can be).
    pub read_only: bool,
    /// Size, MiB.
    pub size_mib: u64,
    /// Private: the array's index of volumes by CPG lists a volume under these (see
    /// [`Volume::user_cpg`]).
    user_cpg: Option<CpgId>,
    /// Private, like `user_cpg` (see [`Volume::snap_cpg`]).
    snap_cpg: Option<CpgId>,
    /// Domain (from the user CPG).
    pub domain: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Creation instant.
    pub created_at: Instant,
    /// Expiration instant, if set.
    pub expires_at: Option<Instant>,
    /// Retention end, if set; retention only ever grows.
    pub retained_until: Option<Instant>,
    /// Policies.
    pub policies: VolumePolicies,
    /// Allocation alerts.
    pub alerts: AllocationAlerts,
    /// Key/value metadata, by key.
    pub metadata: BTreeMap<String, KeyValue>,
    /// The active online physical copy this volume is the source or destination of.
    pub online_copy: Option<TaskId>,
    /// Private: a change must keep or forget its tree's snapshot-space count (see
    /// [`Volume::pages_mut_accounted`]).
    pages: PageMap,
    /// Direct virtual-copy children (volumes whose `parent` is this one).
    pub(crate) children: BTreeSet<VolumeId>,
    /// On a base volume: virtual copies in its whole tree (for the per-base limit).
    pub(crate) family_copies: u32,
    /// Completed offline physical copies of this volume (volumes whose kind is
    /// `PhysicalCopy { parent: this }`), so deleting it re-bases them without scanning every
    /// volume.
    pub(crate) physical_copies: BTreeSet<VolumeId>,
    /// On a virtual copy: stale, its data discarded after a snapshot-space failure under
    /// `stale_ss` (then `pages` is empty); see `snapshot_space`.
    pub(crate) stale: bool,
    /// On a base volume: its tree's snapshot space in pages, kept while a limit applies (a
    /// cache; see `snapshot_space`).
    pub(crate) snapshot_pages: SnapshotPagesCount,
}

impl Volume {
    /// The volume's data.
    pub fn pages(&self) -> &PageMap {
        &self.pages
    }

    /// User CPG. Changed only through `Array::set_volume_cpgs`, which keeps the array's index
    /// of volumes by CPG ([`Array::cpg_base_volumes`]).
    pub fn user_cpg(&self) -> Option<CpgId> {
        self.user_cpg
    }

    /// Snapshot CPG (needed to take virtual copies). Changed only through
    /// `Array::set_volume_cpgs`, like [`Volume::user_cpg`].
    pub fn snap_cpg(&self) -> Option<CpgId> {
        self.snap_cpg
    }

    /// This volume, not yet in an array, with `user_cpg` and `snap_cpg`: `insert_volume` indexes
    /// it by them. A volume already in an array changes them through
    /// [`Array::set_volume_cpgs`].
    pub(crate) fn with_cpgs(self, user_cpg: Option<CpgId>, snap_cpg: Option<CpgId>) -> Volume {
        Volume { user_cpg, snap_cpg, ..self }
    }

    /// The volume's data, for a change whose snapshot-space accounting the caller does itself
    /// (`snapshot_space`: a checked write keeps its tree's count, an unchecked apply keeps or
    /// forgets it, a stale tree's count is 0). Any other change goes through
    /// [`Array::replace_pages`] or [`Array::change_pages`], which forget the count.
    pub(crate) fn pages_mut_accounted(&mut self) -> &mut PageMap {
        &mut self.pages
    }

    /// A new base volume `id` holding `pages`, with no CPG, size, domain, comment, times,
    /// policies or alerts yet (thin, not compressed, writable): the caller sets them (the
    /// volume constructors start from it). A new volume has no copies, so no snapshot space to
    /// count.
    pub(crate) fn new_base(
        id: VolumeId,
        name: String,
        uuid: String,
        wwn: String,
        created_at: Instant,
        pages: PageMap,
    ) -> Volume {
        Volume {
            id,
            name,
            uuid,
            wwn,
            provisioning: Provisioning::Thin,
            compression: false,
            kind: VolumeKind::Base,
            read_only: false,
            size_mib: 0,
            user_cpg: None,
            snap_cpg: None,
            domain: None,
            comment: None,
            created_at,
            expires_at: None,
            retained_until: None,
            policies: VolumePolicies::default(),
            alerts: AllocationAlerts::default(),
            metadata: BTreeMap::new(),
            online_copy: None,
            pages,
            children: BTreeSet::new(),
            family_copies: 0,
            physical_copies: BTreeSet::new(),
            stale: false,
            snapshot_pages: SnapshotPagesCount::default(),
        }
    }

    /// A new virtual copy `id` of `parent`, sharing every page of it: the copy holds nothing
    /// its parent does not, so its tree's snapshot space is unchanged. No checks (see
    /// `check_snapshot`).
    pub(crate) fn virtual_copy_of(
        parent: &Volume,
        id: VolumeId,
        uuid: String,
        wwn: String,
        spec: SnapshotSpec,
        times: TimeLimits,
        now: Instant,
    ) -> Volume {
        Volume {
            provisioning: parent.provisioning,
            compression: parent.compression,
            kind: VolumeKind::VirtualCopy { parent: parent.id, base: parent.base_id() },
            read_only: spec.read_only,
            size_mib: parent.size_mib,
            user_cpg: parent.user_cpg,
            snap_cpg: parent.snap_cpg,
            domain: parent.domain.clone(),
            comment: spec.comment.filter(|c| !c.is_empty()),
            expires_at: times.expires_at,
            retained_until: times.retained_until,
            policies: parent.policies,
            ..Volume::new_base(id, spec.name, uuid, wwn, now, parent.pages.clone())
        }
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_mib << 20
    }

    /// Direct virtual-copy children, in id order.
    pub fn children(&self) -> &BTreeSet<VolumeId> {
        &self.children
    }

    /// Virtual copies in this base volume's tree (0 for copies).
    pub fn family_copies(&self) -> u32 {
        self.family_copies
    }

    /// Whether this is a virtual copy.
    pub fn is_virtual_copy(&self) -> bool {
        matches!(self.kind, VolumeKind::VirtualCopy { .. })
    }

    /// The volume this one is a copy of (virtual or physical).
    pub fn copy_of(&self) -> Option<VolumeId> {
        match self.kind {
            VolumeKind::Base => None,
            VolumeKind::VirtualCopy { parent, .. } | VolumeKind::PhysicalCopy { parent } => Some(parent),
        }
    }

    /// The root base volume of this volume's tree (itself for a base).
    pub fn base_id(&self) -> VolumeId {
        match self.kind {
            VolumeKind::VirtualCopy { base, .. } => base,
            VolumeKind::Base | VolumeKind::PhysicalCopy { .. } => self.id,
        }
    }

    /// Whether retention still protects the volume at `now`.
    pub fn is_retained(&self, now: Instant) -> bool {
        self.retained_until.is_some_and(|until| now < until)
    }

    /// User space used, MiB: the whole size when fully provisioned, written pages otherwise.
    pub fn user_space_used_mib(&self) -> u64 {
        crate::page::pages_to_mib(self.user_space_pages())
    }

    /// User space in pages: the whole size when fully provisioned, the written pages when thin.
    pub(crate) fn user_space_pages(&self) -> u64 {
        match self.provisioning {
            Provisioning::Full => self.size_mib * crate::page::PAGES_PER_MIB,
            Provisioning::Thin | Provisioning::Dedup => self.pages.page_count(),
        }
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    ///
    /// Errors: `INV_INPUT_EXCEEDS_RANGE` when the range ends beyond the volume;
    /// `INV_OPERATION_VV_SNAPSHOT_STALE` for a stale virtual copy.
    pub fn read_into(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        self.check_not_stale("read")?;
        self.pages.read(offset, buf);
        Ok(())
    }
}

/// What a CPG holds for a volume, for the domain rule's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CpgRole {
    /// The volume's user space.
    User,
    /// The volume's snapshot space.
    Snapshot,
}

/// The domain rule for one CPG of a volume (spec §5.1, §5.3, §5.5): `cpg`, in `role`, must be
/// in `domain`, the volume's (its user CPG's). The one check behind creating a volume, an
/// online copy's destination, a modify or tune ([`Array::check_cpg_domains`]), and the invariant
/// `volume_domain_is_user_cpg_domain`.
///
/// Errors: `CPG_NOT_IN_SAME_DOMAIN`.
pub(crate) fn check_cpg_domain(role: CpgRole, cpg: &Cpg, domain: Option<&str>) -> Result<()> {
    if cpg.domain.as_deref() == domain {
        return Ok(());
    }
    let describe = |domain: Option<&str>| domain.map_or_else(|| "no domain".to_owned(), |d| format!("domain '{d}'"));
    let role = match role {
        CpgRole::User => "user",
        CpgRole::Snapshot => "snapshot",
    };
    Err(Error::new(
        ErrorCode::CPG_NOT_IN_SAME_DOMAIN,
        format!(
            "{role} CPG '{}' is in {}, the volume in {}",
            cpg.name,
            describe(cpg.domain.as_deref()),
            describe(domain)
        ),
    ))
}

/// Compression needs a thin or dedup volume: a fully provisioned one is never compressed. The
/// one check behind creating a volume, an online copy's destination and a tune's conversion.
///
/// Errors: `INV_INPUT_PARAM_CONFLICT`.
pub(crate) fn check_compression(provisioning: Provisioning, compression: bool) -> Result<()> {
    if compression && provisioning == Provisioning::Full {
        return Err(Error::new(
            ErrorCode::INV_INPUT_PARAM_CONFLICT,
            "compression needs a thin or dedup volume (tpvv or tdvv), not a fully provisioned one",
        ));
    }
    Ok(())
}

pub(crate) fn check_range(volume: &Volume, offset: u64, len: u64) -> Result<()> {
    let end = offset.checked_add(len);
    if end.is_none_or(|end| end > volume.size_bytes()) {
        return Err(Error::new(
            ErrorCode::INV_INPUT_EXCEEDS_RANGE,
            format!("range {offset}+{len} ends beyond volume '{}' ({} MiB)", volume.name, volume.size_mib),
        ));
    }
    Ok(())
}

/// Rounds a requested size up to the allocation granule (saturating, so an absurd request
/// stays absurd and is refused by the size limit instead of overflowing).
pub fn round_size_mib(size_mib: u64) -> u64 {
    size_mib.div_ceil(SIZE_GRANULE_MIB).saturating_mul(SIZE_GRANULE_MIB)
}

/// What to create: [`ArrayMut::create_volume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Name (Name31).
    pub name: String,
    /// User CPG name.
    pub cpg: String,
    /// Size, MiB (rounded up to 256 MiB).
    pub size_mib: u64,
    /// Explicit id; the next free id when absent.
    pub id: Option<u32>,
    /// Provisioning.
    pub provisioning: Provisioning,
    /// Compression.
    pub compression: bool,
    /// Snapshot CPG name (needed for virtual copies).
    pub snap_cpg: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Expiration, hours from now (1..=43,800).
    pub expiration_hours: Option<u64>,
    /// Retention, hours from now (1..=system maximum; needs Virtual Lock).
    pub retention_hours: Option<u64>,
    /// Policies.
    pub policies: VolumePolicies,
    /// Allocation alerts.
    pub alerts: AllocationAlerts,
}

impl VolumeSpec {
    /// A thin volume of `size_mib` in `cpg`, with `cpg` also as snapshot CPG.
    pub fn thin(name: &str, cpg: &str, size_mib: u64) -> VolumeSpec {
        VolumeSpec {
            name: name.to_owned(),
            cpg: cpg.to_owned(),
            size_mib,
            id: None,
            provisioning: Provisioning::Thin,
            compression: false,
            snap_cpg: Some(cpg.to_owned()),
            comment: None,
            expiration_hours: None,
            retention_hours: None,
            policies: VolumePolicies::default(),
            alerts: AllocationAlerts::default(),
        }
    }

    /// A fully provisioned volume of `size_mib` in `cpg`, with `cpg` also as snapshot CPG.
    pub fn full(name: &str, cpg: &str, size_mib: u64) -> VolumeSpec {
        VolumeSpec { provisioning: Provisioning::Full, ..VolumeSpec::thin(name, cpg, size_mib) }
    }
}

/// Changes to a volume: [`ArrayMut::modify_volume`]. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeChanges {
    /// New name.
    pub new_name: Option<String>,
    /// New comment; `Some("")` clears it.
    pub comment: Option<String>,
    /// New snapshot CPG.
    pub snap_cpg: Option<String>,
    /// New user CPG (fully provisioned volumes only).
    pub user_cpg: Option<String>,
    /// New expiration, hours from now.
    pub expiration_hours: Option<u64>,
    /// New retention, hours from now (may only extend retention).
    pub retention_hours: Option<u64>,
    /// Remove the expiration time.
    pub remove_expiration: bool,
    /// New policies.
    pub policies: Option<VolumePolicies>,
    /// New allocation alerts.
    pub alerts: Option<AllocationAlerts>,
}

/// Validated expiration and retention, as instants.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeLimits {
    pub(crate) expires_at: Option<Instant>,
    pub(crate) retained_until: Option<Instant>,
}

impl Array {
    /// Replaces the pages of volume `id` with `pages` (promote, refresh, physical copies,
    /// Remote Copy's restores and failover images): not a checked write, so the tree's kept
    /// snapshot-space count is forgotten and made again at its next checked write.
    pub(crate) fn replace_pages(&mut self, id: VolumeId, pages: PageMap) {
        self.vol_mut(id).pages = pages;
        self.forget_snapshot_space(id);
    }

    /// Changes the pages of volume `id` by `change`, not a checked write: as
    /// [`Array::replace_pages`], the tree's kept count is forgotten.
    pub(crate) fn change_pages(&mut self, id: VolumeId, change: impl FnOnce(&mut PageMap)) {
        change(&mut self.vol_mut(id).pages);
        self.forget_snapshot_space(id);
    }

    /// Checks expiration/retention hours against the ranges, the licence and each other.
    pub(crate) fn validate_time_limits(
        &self,
        now: Instant,
        expiration_hours: Option<u64>,
        retention_hours: Option<u64>,
    ) -> Result<TimeLimits> {
        self.check_time_limits(expiration_hours, retention_hours)?;
        Ok(TimeLimits {
            expires_at: expiration_hours.map(|h| now + hours(h)),
            retained_until: retention_hours.map(|h| now + hours(h)),
        })
    }

    /// Whether this array would accept `expiration_hours` and `retention_hours` on a volume (the
    /// check `modify_volume` and copy creation make), without changing anything: each at least
    /// 1 h and at most the time limit, retention licensed (Virtual Lock) and within the system's
    /// retention maximum, and not beyond the expiration. Lets a caller refuse a request before
    /// it has taken copies it would have to undo.
    ///
    /// Errors: `INV_INPUT_BELOW_RANGE`, `INV_INPUT_EXCEEDS_RANGE`, `UNLICENSED_FEATURE`,
    /// `INV_INPUT_RETAIN_GT_EXPIRE`.
    pub fn check_time_limits(&self, expiration_hours: Option<u64>, retention_hours: Option<u64>) -> Result<()> {
        let max = self.config.limits.max_time_hours;
        for (what, value) in [("expiration", expiration_hours), ("retention", retention_hours)] {
            match value {
                Some(0) => {
                    return Err(Error::new(
                        ErrorCode::INV_INPUT_BELOW_RANGE,
                        format!("{what} must be at least 1 hour"),
                    ));
                }
                Some(h) if h > max => {
                    return Err(Error::new(
                        ErrorCode::INV_INPUT_EXCEEDS_RANGE,
                        format!("{what} of {h} h exceeds {max} h"),
                    ));
                }
                _ => {}
            }
        }
        if let Some(h) = retention_hours {
            if !self.config.licensed("Virtual Lock") {
                return Err(Error::new(ErrorCode::UNLICENSED_FEATURE, "retention needs the Virtual Lock licence"));
            }
            let system_max = self.config.limits.max_retention_hours;
            if h > system_max {
                return Err(Error::new(
                    ErrorCode::INV_INPUT_EXCEEDS_RANGE,
                    format!("retention of {h} h exceeds the system maximum of {system_max} h"),
                ));
            }
        }
        if let (Some(exp), Some(ret)) = (expiration_hours, retention_hours)
            && ret > exp
        {
            return Err(Error::new(
                ErrorCode::INV_INPUT_RETAIN_GT_EXPIRE,
                format!("retention {ret} h exceeds expiration {exp} h"),
            ));
        }
        Ok(())
    }

    fn validate_alerts(alerts: &AllocationAlerts, provisioning: Provisioning) -> Result<()> {
        let all =
            [alerts.snapshot_warning_pct, alerts.snapshot_limit_pct, alerts.user_warning_pct, alerts.user_limit_pct];
        if all.iter().any(|pct| *pct > 100) {
            return Err(Error::new(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "allocation percentages must be 0..=100"));
        }
        let warn_gt_limit = |warn: u8, limit: u8| limit != 0 && warn > limit;
        if warn_gt_limit(alerts.snapshot_warning_pct, alerts.snapshot_limit_pct)
            || warn_gt_limit(alerts.user_warning_pct, alerts.user_limit_pct)
        {
            return Err(Error::new(ErrorCode::INV_INPUT_WARN_GT_LIMIT, "allocation warning exceeds its limit"));
        }
        if provisioning == Provisioning::Full && (alerts.user_warning_pct != 0 || alerts.user_limit_pct != 0) {
            return Err(Error::new(ErrorCode::INV_INPUT_USR_ALRT_NON_TPVV, "user space alerts need a thin volume"));
        }
        Ok(())
    }

    /// Checks the domain rule for CPGs a modify or tune gives volume `id` (spec §5.3, §5.5):
    /// both CPGs are in the volume's domain, which is its user CPG's (spec §5.1). A user CPG in
    /// another domain is refused like a snapshot CPG in another domain: moving a volume between
    /// domains is its own operation on real arrays (`movetodomain`), not a CPG change, and
    /// refusing keeps `domain` equal to the user CPG's without re-checking the volume's sets,
    /// exports and copies.
    pub(crate) fn check_cpg_domains(
        &self,
        id: VolumeId,
        user_cpg: Option<CpgId>,
        snap_cpg: Option<CpgId>,
    ) -> Result<()> {
        let volume = self.vol(id);
        for (role, cpg) in [(CpgRole::User, user_cpg), (CpgRole::Snapshot, snap_cpg)] {
            if let Some(cpg) = cpg.and_then(|c| self.cpgs.get(c)) {
                check_cpg_domain(role, cpg, volume.domain.as_deref())?;
            }
        }
        Ok(())
    }

    /// Fully provisioned MiB allocated on the array.
    pub fn allocated_full_mib(&self) -> u64 {
        self.base_volumes().filter(|v| v.provisioning == Provisioning::Full).map(|v| v.size_mib).sum()
    }

    /// Checks that `extra_mib` more fully provisioned MiB fit on the array and in `cpg`'s growth
    /// limit. Both are `NO_SPACE` when creating (spec §5.3); [`ArrayMut::grow_volume`] reports the
    /// growth limit with its own code.
    pub(crate) fn check_full_allocation(&self, cpg: CpgId, extra_mib: u64) -> Result<()> {
        self.check_system_space(extra_mib)?;
        self.check_cpg_growth_limit(cpg, extra_mib, ErrorCode::NO_SPACE)
    }

    fn check_system_space(&self, extra_mib: u64) -> Result<()> {
        let system_free = self.config.total_capacity_mib.saturating_sub(self.allocated_full_mib());
        if extra_mib > system_free {
            return Err(Error::new(
                ErrorCode::NO_SPACE,
                format!("{extra_mib} MiB requested, {system_free} MiB free on the array"),
            ));
        }
        Ok(())
    }

    /// Refuses with `code` if `extra_mib` more MiB in `cpg` would pass its growth limit, which
    /// bounds the CPG's user space and the snapshot space drawn from it together.
    fn check_cpg_growth_limit(&self, cpg: CpgId, extra_mib: u64, code: ErrorCode) -> Result<()> {
        let cpg = self.cpgs.get(cpg).expect("validated CPG");
        if let Some(limit) = cpg.growth_limit_mib {
            let used = self.cpg_growth_mib_used(cpg.id);
            if used + extra_mib > limit {
                return Err(Error::new(code, format!("CPG '{}' growth limit {limit} MiB would be exceeded", cpg.name)));
            }
        }
        Ok(())
    }

    /// The next free volume id (or `requested` if free).
    pub(crate) fn allocate_volume_id(&self, requested: Option<u32>) -> Result<VolumeId> {
        if self.volumes.len() as u64 >= u64::from(self.config.limits.max_volumes) {
            return Err(Error::new(ErrorCode::VV_LIMIT_REACHED, format!("{} volumes exist", self.volumes.len())));
        }
        if let Some(id) = requested {
            if id > MAX_VOLUME_ID {
                return Err(Error::new(
                    ErrorCode::INV_INPUT_EXCEEDS_RANGE,
                    format!("volume id {id} exceeds {MAX_VOLUME_ID}"),
                ));
            }
            if self.volumes.contains_id(VolumeId(id)) {
                return Err(Error::new(ErrorCode::EXISTENT_ID, format!("volume id {id} is in use")));
            }
            return Ok(VolumeId(id));
        }
        self.free_volume_id_from(self.counters.next_volume, &[])
    }

    /// The first id at or after `start` (wrapping within 1..=[`MAX_VOLUME_ID`]) that is neither
    /// used nor in `planned`.
    pub(crate) fn free_volume_id_from(&self, start: u32, planned: &[VolumeId]) -> Result<VolumeId> {
        let mut id = start;
        // Bounded: one pass over the id space.
        for _ in 0..=MAX_VOLUME_ID {
            if id == 0 || id > MAX_VOLUME_ID {
                id = 1;
            }
            if !self.volumes.contains_id(VolumeId(id)) && !planned.contains(&VolumeId(id)) {
                return Ok(VolumeId(id));
            }
            id += 1;
        }
        Err(Error::new(ErrorCode::VV_ID_LIMIT_REACHED, "no free volume id"))
    }

    /// Why `id` cannot be deleted now, if it cannot.
    pub(crate) fn delete_blocker(&self, id: VolumeId, now: Instant) -> Option<Error> {
        let volume = self.vol(id);
        let name = &volume.name;
        if let Some(group) = self.remote_copy.group_of_volume(id) {
            return Some(Error::new(
                ErrorCode::INV_OPERATION_VV_IN_REMOTE_COPY,
                format!("volume '{name}' is in remote copy group '{group}'"),
            ));
        }
        if !volume.children.is_empty() {
            return Some(Error::new(
                ErrorCode::HAS_CHILD,
                format!("volume '{name}' has {} virtual copies", volume.children.len()),
            ));
        }
        if self.is_set_member(id) {
            return Some(Error::new(ErrorCode::IN_USE, format!("volume '{name}' is a member of a volume set")));
        }
        if self.is_exported(id) {
            return Some(Error::new(ErrorCode::IN_USE, format!("volume '{name}' is exported")));
        }
        if volume.is_retained(now) {
            return Some(Error::new(
                ErrorCode::RETAINED,
                format!(
                    "volume '{name}' is retained for another {}",
                    human_duration(volume.retained_until.unwrap_or_default() - now)
                ),
            ));
        }
        if volume.online_copy.is_some() {
            return Some(Error::new(
                ErrorCode::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
                format!("volume '{name}' is part of an active online copy"),
            ));
        }
        None
    }

    /// Removes `id` (preconditions checked by `delete_blocker`) and unlinks it from its family.
    pub(crate) fn remove_volume(&mut self, id: VolumeId) -> Volume {
        self.release_snapshot_space(id);
        let name = self.vol(id).name.clone();
        let volume = self.volumes.remove(id, &name);
        if !volume.is_virtual_copy() {
            self.base_ids.0.remove(&id);
            self.cpg_volume_ids.remove(id, [volume.user_cpg, volume.snap_cpg]);
        }
        if let VolumeKind::VirtualCopy { parent, base } = volume.kind {
            self.vol_mut(parent).children.remove(&id);
            let base = self.vol_mut(base);
            base.family_copies -= 1;
        }
        if let VolumeKind::PhysicalCopy { parent } = volume.kind {
            self.vol_mut(parent).physical_copies.remove(&id);
        }
        // A completed physical copy outlives its source and becomes a base volume.
        for copy in &volume.physical_copies {
            let copy = self.vol_mut(*copy);
            assert_eq!(copy.kind, VolumeKind::PhysicalCopy { parent: id });
            copy.kind = VolumeKind::Base;
        }
        volume
    }

    /// Sets the user and snapshot CPG of volume `id` (no checks: the caller validated them),
    /// keeping the index of volumes by CPG that growth limits and CPG usage go over.
    pub(crate) fn set_volume_cpgs(&mut self, id: VolumeId, user_cpg: Option<CpgId>, snap_cpg: Option<CpgId>) {
        let volume = self.vol(id);
        if !volume.is_virtual_copy() {
            let old = [volume.user_cpg, volume.snap_cpg];
            self.cpg_volume_ids.remove(id, old);
            self.cpg_volume_ids.insert(id, [user_cpg, snap_cpg]);
        }
        let volume = self.vol_mut(id);
        volume.user_cpg = user_cpg;
        volume.snap_cpg = snap_cpg;
    }
}

impl ArrayMut<'_> {
    /// Writes host data to `id`, after the checks a host write must pass, including its
    /// snapshot space (see `snapshot_space`: on a snapshot-space failure of a base with
    /// `stale_ss` the write succeeds and the tree's copies become stale).
    ///
    /// Errors: `ARRAY_OFFLINE`; `INV_OPERATION_VV_READ_ONLY`; `INV_INPUT_EXCEEDS_RANGE`;
    /// `INV_OPERATION_VV_SNAPSHOT_STALE` (a stale read-write copy); Remote Copy's refusals;
    /// `NO_SPACE` (a thin volume's new pages past its user space limit or its user CPG's growth
    /// limit; snapshot space, a base with `no_stale_ss` or a read-write copy).
    pub(crate) fn write_volume(&mut self, id: VolumeId, offset: u64, data: &[u8]) -> Result<()> {
        self.require_online()?;
        let volume = self.vol(id);
        if volume.read_only {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_READ_ONLY,
                format!("volume '{}' is read-only", volume.name),
            ));
        }
        check_range(volume, offset, data.len() as u64)?;
        self.remote_copy.check_host_writable(id, &volume.name)?;
        volume.check_not_stale("write")?;
        let allocating = self.check_user_space(id, offset, data.len() as u64)?;
        // Copy-on-write needs a copy in the tree: a base without any costs one load here.
        let volume = self.vol(id);
        if volume.is_virtual_copy() || volume.family_copies != 0 {
            self.charge_snapshot_space(id, offset, data.len() as u64, allocating)?;
        }
        self.array.vol_mut(id).pages.write(offset, data);
        Ok(())
    }

    /// Creates a base volume.
    ///
    /// Errors, in validation order: bad name (45/57/69) or comment; `INV_INPUT_BELOW_RANGE` /
    /// `TOO_LARGE` size; time-limit errors (see [`VolumeSpec`]); alert errors;
    /// `NON_EXISTENT_CPG`; `EXISTENT_VOL`; `EXISTENT_ID`; `CPG_NOT_IN_SAME_DOMAIN`; `NO_SPACE`.
    pub fn create_volume(&mut self, spec: VolumeSpec) -> Result<VolumeId> {
        self.require_online()?;
        validate_name("volume", &spec.name, NAME31)?;
        if let Some(comment) = &spec.comment {
            validate_comment(comment, COMMENT_MAX)?;
        }
        if spec.size_mib < 1 {
            return Err(Error::new(ErrorCode::INV_INPUT_BELOW_RANGE, "size must be at least 1 MiB"));
        }
        let size_mib = round_size_mib(spec.size_mib);
        if size_mib > self.config.limits.max_volume_size_mib {
            return Err(Error::new(
                ErrorCode::TOO_LARGE,
                format!("size {} MiB exceeds {} MiB", spec.size_mib, self.config.limits.max_volume_size_mib),
            ));
        }
        let now = self.now();
        let times = self.validate_time_limits(now, spec.expiration_hours, spec.retention_hours)?;
        Array::validate_alerts(&spec.alerts, spec.provisioning)?;
        if spec.policies.zero_detect && spec.provisioning == Provisioning::Full {
            return Err(Error::new(ErrorCode::INV_OPERATION_VV_ZERO_DETECT_TPVV, "zero detect needs a thin volume"));
        }
        check_compression(spec.provisioning, spec.compression)?;
        let user_cpg = self.cpg(&spec.cpg)?;
        let (user_cpg_id, domain) = (user_cpg.id, user_cpg.domain.clone());
        let snap_cpg = match &spec.snap_cpg {
            Some(name) => Some(self.cpg(name)?),
            None => None,
        };
        if self.volumes.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_VOL, format!("volume '{}' exists", spec.name)));
        }
        let id = self.allocate_volume_id(spec.id)?;
        if let Some(snap) = snap_cpg {
            check_cpg_domain(CpgRole::Snapshot, snap, domain.as_deref())?;
        }
        let snap_cpg_id = snap_cpg.map(|c| c.id);
        if spec.provisioning == Provisioning::Full {
            self.check_full_allocation(user_cpg_id, size_mib)?;
        }

        let uuid = self.array.next_uuid();
        let wwn = self.array.wwn_for(id);
        let volume = Volume {
            provisioning: spec.provisioning,
            compression: spec.compression,
            size_mib,
            user_cpg: Some(user_cpg_id),
            snap_cpg: snap_cpg_id,
            domain,
            comment: spec.comment.filter(|c| !c.is_empty()),
            expires_at: times.expires_at,
            retained_until: times.retained_until,
            policies: spec.policies,
            alerts: spec.alerts,
            ..Volume::new_base(id, spec.name.clone(), uuid, wwn, now, PageMap::new())
        };
        self.insert_volume(volume);
        self.trace(
            "volume",
            format_args!("create volume {} id={id} size={size_mib}MiB {:?}", spec.name, spec.provisioning),
        );
        Ok(id)
    }

    /// Inserts a fully built volume, advances the id counter and schedules its expiry.
    pub(crate) fn insert_volume(&mut self, volume: Volume) {
        let (id, expires_at) = (volume.id, volume.expires_at);
        // The counter moves forward past every new id, and restarts after the allocator wrapped
        // past MAX_VOLUME_ID, so each allocation starts next to the previous one (O(1)) instead
        // of rescanning the ids in use.
        let next = &mut self.array.counters.next_volume;
        if id.0 >= *next || *next > MAX_VOLUME_ID {
            *next = id.0 + 1;
        }
        if !volume.is_virtual_copy() {
            self.array.base_ids.0.insert(id);
            self.array.cpg_volume_ids.insert(id, [volume.user_cpg, volume.snap_cpg]);
        }
        self.array.volumes.insert_named(id, volume, |volume| &volume.name);
        if let Some(at) = expires_at {
            self.schedule_expiry(id, at);
        }
    }

    pub(crate) fn schedule_expiry(&mut self, volume: VolumeId, at: Instant) {
        let array = self.array.id;
        self.world.queue.schedule(at, Event::Expire { array, volume, at });
    }

    /// Deletes a volume or virtual copy.
    ///
    /// Errors: `NON_EXISTENT_VOL`; `INV_OPERATION_VV_IN_REMOTE_COPY`; `HAS_CHILD`; `IN_USE`
    /// (volume-set member or exported); `RETAINED`; `INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS`.
    pub fn delete_volume(&mut self, name: &str) -> Result<()> {
        self.require_online()?;
        let id = self.volume_id(name)?;
        if let Some(error) = self.delete_blocker(id, self.now()) {
            return Err(error);
        }
        self.array.remove_volume(id);
        self.trace("volume", format_args!("delete volume {name}"));
        Ok(())
    }

    /// Grows a base volume by `add_mib` (result rounded up to 256 MiB).
    ///
    /// Errors: `NON_EXISTENT_VOL`; `INV_INPUT_VV_GROW_SIZE` for 0; `INV_OPERATION_UNSUPPORTED_VV_TYPE`
    /// for a virtual copy; `VV_NEW_SIZE_EXCEEDS_LIMITS`; `RCOPY_GROUP_STARTED` in a started group;
    /// `INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS`; `NO_SPACE` (array full);
    /// `VV_NEW_SIZE_EXCEEDS_CPG_LIMIT` (a fully provisioned volume past its CPG's growth limit).
    pub fn grow_volume(&mut self, name: &str, add_mib: u64) -> Result<u64> {
        self.require_online()?;
        let volume = self.volume(name)?;
        if add_mib == 0 {
            return Err(Error::new(ErrorCode::INV_INPUT_VV_GROW_SIZE, "grow size must be positive"));
        }
        if volume.is_virtual_copy() {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_UNSUPPORTED_VV_TYPE,
                format!("'{name}' is a virtual copy"),
            ));
        }
        let new_size = round_size_mib(volume.size_mib.saturating_add(add_mib));
        if new_size > self.config.limits.max_volume_size_mib {
            return Err(Error::new(
                ErrorCode::VV_NEW_SIZE_EXCEEDS_LIMITS,
                format!("{new_size} MiB exceeds the volume size limit"),
            ));
        }
        if self.remote_copy.volume_in_started_group(volume.id) {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_STARTED,
                format!("'{name}' is in a started remote copy group"),
            ));
        }
        if volume.online_copy.is_some() {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
                format!("'{name}' is in an online copy"),
            ));
        }
        let (id, old_size) = (volume.id, volume.size_mib);
        if volume.provisioning == Provisioning::Full {
            // Spec §5.6 Grow: above a CPG growth limit → 403 (153), not the 400 NO_SPACE of create.
            let cpg = volume.user_cpg.expect("base volumes have a user CPG");
            self.check_system_space(new_size - old_size)?;
            self.check_cpg_growth_limit(cpg, new_size - old_size, ErrorCode::VV_NEW_SIZE_EXCEEDS_CPG_LIMIT)?;
        }
        self.array.vol_mut(id).size_mib = new_size;
        self.trace("volume", format_args!("grow volume {name} {old_size}MiB -> {new_size}MiB"));
        Ok(new_size)
    }

    /// Changes a volume's name, comment, CPGs, times, policies or alerts.
    ///
    /// Errors: `NON_EXISTENT_VOL`; bad name/comment; `EXISTENT_VOL` (new name taken);
    /// time-limit errors; `INV_INPUT_TIME` when retention would shrink;
    /// `INV_INPUT_RETAIN_GT_EXPIRE`; `NON_EXISTENT_CPG`; `INV_OPERATION_VV_MODIFY_USR_CPG_TPVV`;
    /// `CPG_NOT_IN_SAME_DOMAIN` (a new user or snapshot CPG outside the volume's domain).
    pub fn modify_volume(&mut self, name: &str, changes: VolumeChanges) -> Result<()> {
        self.require_online()?;
        let volume = self.volume(name)?;
        let id = volume.id;
        if let Some(new_name) = &changes.new_name {
            validate_name("volume", new_name, NAME31)?;
        }
        if let Some(comment) = &changes.comment {
            validate_comment(comment, COMMENT_MAX)?;
        }
        let now = self.now();
        let times = self.validate_time_limits(now, changes.expiration_hours, changes.retention_hours)?;
        let expires_at = if changes.remove_expiration { None } else { times.expires_at.or(volume.expires_at) };
        let retained_until = match (times.retained_until, volume.retained_until) {
            (Some(new), Some(old)) if new < old => {
                return Err(Error::new(
                    ErrorCode::INV_INPUT_TIME,
                    format!("retention of '{name}' can only be extended (it has {} left)", human_duration(old - now)),
                ));
            }
            (Some(new), _) => Some(new),
            (None, old) => old,
        };
        if let (Some(exp), Some(ret)) = (expires_at, retained_until)
            && ret > exp
        {
            return Err(Error::new(
                ErrorCode::INV_INPUT_RETAIN_GT_EXPIRE,
                format!("retention of '{name}' would outlast its expiration"),
            ));
        }
        let alerts = changes.alerts.unwrap_or(volume.alerts);
        Array::validate_alerts(&alerts, volume.provisioning)?;
        let policies = changes.policies.unwrap_or(volume.policies);
        if policies.zero_detect && volume.provisioning == Provisioning::Full {
            return Err(Error::new(ErrorCode::INV_OPERATION_VV_ZERO_DETECT_TPVV, "zero detect needs a thin volume"));
        }
        let snap_cpg = match &changes.snap_cpg {
            Some(cpg) => Some(self.cpg(cpg)?.id),
            None => volume.snap_cpg,
        };
        let user_cpg = match &changes.user_cpg {
            Some(cpg) => {
                let cpg = self.cpg(cpg)?.id;
                if volume.provisioning != Provisioning::Full {
                    return Err(Error::new(
                        ErrorCode::INV_OPERATION_VV_MODIFY_USR_CPG_TPVV,
                        format!("'{name}' is thin"),
                    ));
                }
                Some(cpg)
            }
            None => volume.user_cpg,
        };
        if let Some(new_name) = &changes.new_name
            && new_name != name
            && self.volumes.contains_name(new_name)
        {
            return Err(Error::new(ErrorCode::EXISTENT_VOL, format!("volume '{new_name}' exists")));
        }
        let changed = |new: Option<CpgId>, old: Option<CpgId>| new.filter(|_| new != old);
        self.check_cpg_domains(id, changed(user_cpg, volume.user_cpg), changed(snap_cpg, volume.snap_cpg))?;

        let expiry_changed = expires_at != volume.expires_at;
        if let Some(new_name) = &changes.new_name
            && new_name != name
        {
            self.array.volumes.rename(id, name, new_name);
            self.array.rename_volume_tasks(id, name, new_name);
        }
        let volume = self.array.vol_mut(id);
        if let Some(new_name) = changes.new_name {
            volume.name = new_name;
        }
        if let Some(comment) = changes.comment {
            volume.comment = Some(comment).filter(|c| !c.is_empty());
        }
        volume.expires_at = expires_at;
        volume.retained_until = retained_until;
        volume.alerts = alerts;
        volume.policies = policies;
        let new_name = volume.name.clone();
        self.array.set_volume_cpgs(id, user_cpg, snap_cpg);
        if expiry_changed && let Some(at) = expires_at {
            self.schedule_expiry(id, at);
        }
        self.trace("volume", format_args!("modify volume {name} -> {new_name}"));
        Ok(())
    }

    /// Removes `volume` if its expiration is `at` and the delete rules allow it now; otherwise
    /// retries an hour later. Called by the event loop.
    ///
    /// The retry event carries the original expiration instant, so the volume's reported
    /// expiration time stays the one that was set, and a later change of it still cancels the
    /// pending retries (they no longer match).
    pub(crate) fn expire(&mut self, volume: VolumeId, at: Instant) {
        let Some(current) = self.volume_by_id(volume) else {
            return;
        };
        if current.expires_at != Some(at) {
            return;
        }
        let name = current.name.clone();
        let blocker = if self.online {
            self.delete_blocker(volume, self.now()).map(|e| e.message)
        } else {
            Some(format!("array {} is down", self.name()))
        };
        match blocker {
            None => {
                self.array.remove_volume(volume);
                self.trace("expire", format_args!("removed expired volume {name}"));
            }
            Some(reason) => {
                let retry = self.now() + EXPIRY_RETRY;
                self.trace("expire", format_args!("expired volume {name} kept: {reason}"));
                let array = self.array.id;
                self.world.queue.schedule(retry, Event::Expire { array, volume, at });
            }
        }
    }

    /// Fills `count` pages of a writable volume, from page `first`, with the same 16 KiB of
    /// `content`, all sharing one allocation (the way a deduplicating array stores them).
    /// Meant for building large images cheaply (benchmarks, soak tests): a 64 GiB volume filled
    /// this way costs the map's nodes, not 64 GiB. Not replicated: fill before admitting the
    /// volume to a Remote Copy group (or fill both sides and admit as already synced). Not a host
    /// write: no space limit is checked (user space, snapshot space); the tree's kept
    /// snapshot-space count is forgotten and counted again at its next checked write.
    ///
    /// Errors: `NON_EXISTENT_VOL`; `INV_INPUT_BAD_LENGTH` (content is not one page);
    /// `INV_OPERATION_VV_READ_ONLY`; `INV_INPUT_EXCEEDS_RANGE`; `INV_OPERATION_VV_SNAPSHOT_STALE`
    /// (a stale read-write copy); `INV_OPERATION_VV_IN_REMOTE_COPY`.
    pub fn fill_volume(&mut self, name: &str, first: crate::page::PageIndex, count: u64, content: &[u8]) -> Result<()> {
        self.require_online()?;
        let volume = self.volume(name)?;
        if content.len() != crate::page::PAGE_SIZE {
            return Err(Error::new(
                ErrorCode::INV_INPUT_BAD_LENGTH,
                format!("fill content must be {} bytes", crate::page::PAGE_SIZE),
            ));
        }
        if volume.read_only {
            return Err(Error::new(ErrorCode::INV_OPERATION_VV_READ_ONLY, format!("volume '{name}' is read-only")));
        }
        check_range(volume, first.byte_offset(), count.saturating_mul(PAGE_SIZE_U64))?;
        volume.check_not_stale("fill")?;
        if self.remote_copy.group_of_volume(volume.id).is_some() {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_IN_REMOTE_COPY,
                format!("'{name}' is replicated; fill it before admitting it"),
            ));
        }
        let id = volume.id;
        let page = crate::page::Page::from_bytes(content);
        self.array.change_pages(id, |pages| pages.fill_shared(first, count, &page));
        self.trace("volume", format_args!("fill volume {name}: {count} pages from page {}", first.0));
        Ok(())
    }

    /// Adds metadata `key` = `value` to a volume.
    ///
    /// Errors: `NON_EXISTENT_VOL`; bad key (45/57/69); value too long (57);
    /// `EXISTENT_OBJECT_KEY`.
    pub fn create_metadata(&mut self, volume: &str, key: &str, value: &str) -> Result<()> {
        self.require_online()?;
        let id = self.volume_id(volume)?;
        validate_key(key)?;
        validate_metadata_value(value)?;
        if self.vol(id).metadata.contains_key(key) {
            return Err(Error::new(ErrorCode::EXISTENT_OBJECT_KEY, format!("key '{key}' exists on '{volume}'")));
        }
        let created_at = self.now();
        self.array.vol_mut(id).metadata.insert(key.to_owned(), KeyValue { value: value.to_owned(), created_at });
        Ok(())
    }

    /// Replaces the value of an existing metadata key.
    ///
    /// Errors: `NON_EXISTENT_VOL`; bad key; value too long; `NON_EXISTENT_OBJECT_KEY`.
    pub fn update_metadata(&mut self, volume: &str, key: &str, value: &str) -> Result<()> {
        self.require_online()?;
        let id = self.volume_id(volume)?;
        validate_key(key)?;
        validate_metadata_value(value)?;
        match self.array.vol_mut(id).metadata.get_mut(key) {
            Some(entry) => {
                entry.value = value.to_owned();
                Ok(())
            }
            None => {
                Err(Error::new(ErrorCode::NON_EXISTENT_OBJECT_KEY, format!("key '{key}' does not exist on '{volume}'")))
            }
        }
    }

    /// Removes a metadata key.
    ///
    /// Errors: `NON_EXISTENT_VOL`; bad key; `NON_EXISTENT_OBJECT_KEY`.
    pub fn delete_metadata(&mut self, volume: &str, key: &str) -> Result<()> {
        self.require_online()?;
        let id = self.volume_id(volume)?;
        validate_key(key)?;
        match self.array.vol_mut(id).metadata.remove(key) {
            Some(_) => Ok(()),
            None => {
                Err(Error::new(ErrorCode::NON_EXISTENT_OBJECT_KEY, format!("key '{key}' does not exist on '{volume}'")))
            }
        }
    }
}

fn validate_metadata_value(value: &str) -> Result<()> {
    if value.chars().count() > METADATA_VALUE_MAX {
        return Err(Error::new(
            ErrorCode::INV_INPUT_EXCEEDS_LENGTH,
            format!("value is longer than {METADATA_VALUE_MAX} characters"),
        ));
    }
    Ok(())
}
