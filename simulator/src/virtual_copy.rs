//! Virtual copies (snapshots): create, promote, refresh.
//!
//! A copy is a volume whose page map is a clone of its parent's at the instant of creation
//! (O(1): the persistent map shares structure).
//! Later writes to either side copy only the written path, so the copy keeps reading exactly the
//! bytes its parent held at that instant (domain spec §7.1 invariant 1).
//!
//! Tree rules (spec §2): a read-only copy of a read-only volume is refused
//! (`INV_OPERATION_VV_READONLY_TO_READONLY_SNAP`); read-write copies of read-write volumes are
//! allowed, as the WSAPI allows them (3PAR keeps a hidden read-only parent for those).
//! At most [`crate::Limits::copies_per_base`] copies per tree and
//! [`crate::Limits::rw_copies_per_ro_parent`] read-write copies of one read-only copy.
//!
//! Promote and refresh are instantaneous in virtual time (the model has no background copy
//! engine); promote still reports a finished task, as the WSAPI returns a task id.

use std::collections::BTreeMap;

use crate::array::{Array, ArrayMut};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{TaskId, VolumeId};
use crate::names::{COMMENT_MAX, NAME31, validate_comment, validate_name};
use crate::task::TaskKind;
use crate::volume::{Volume, VolumeKind};

/// What to create: [`ArrayMut::create_snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotSpec {
    /// Name of the new copy (Name31).
    pub name: String,
    /// Read-only copy.
    pub read_only: bool,
    /// Explicit id; the next free id when absent.
    pub id: Option<u32>,
    /// Comment.
    pub comment: Option<String>,
    /// Expiration, hours from now.
    pub expiration_hours: Option<u64>,
    /// Retention, hours from now (Virtual Lock).
    pub retention_hours: Option<u64>,
}

impl SnapshotSpec {
    /// A read-only copy called `name`, without expiration or retention.
    pub fn read_only(name: &str) -> SnapshotSpec {
        SnapshotSpec { name: name.to_owned(), read_only: true, ..SnapshotSpec::default() }
    }

    /// A read-write copy called `name`.
    pub fn read_write(name: &str) -> SnapshotSpec {
        SnapshotSpec { name: name.to_owned(), read_only: false, ..SnapshotSpec::default() }
    }
}

/// Options of [`ArrayMut::promote_snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromoteOptions {
    /// Promote onto this read-write ancestor instead of the base volume.
    pub target: Option<String>,
    /// Allow promoting onto a volume of a stopped Remote Copy group (`-rcp`).
    pub allow_remote_copy_parent: bool,
    /// Online promote (allowed while the target is exported).
    pub online: bool,
    /// Task priority 1..=3 (not allowed with `online`).
    pub priority: Option<u8>,
}

impl Array {
    /// Checks that a copy of `source` called `spec.name` may be created now. `extra_in_family`
    /// counts copies of the same trees already planned in the same operation (set snapshots).
    pub(crate) fn check_snapshot(
        &self,
        source: VolumeId,
        spec: &SnapshotSpec,
        planned: &BTreeMap<VolumeId, u32>,
    ) -> Result<()> {
        let volume = self.vol(source);
        volume.check_not_stale("take a virtual copy of")?;
        if volume.snap_cpg().is_none() {
            return Err(Error::new(ErrorCode::NO_SNAP_CPG, format!("volume '{}' has no snapshot CPG", volume.name)));
        }
        if volume.read_only && spec.read_only {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_READONLY_TO_READONLY_SNAP,
                format!("'{}' is read-only; its copies must be read-write", volume.name),
            ));
        }
        if volume.online_copy.is_some() && self.is_online_copy_destination(source) {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS,
                format!("'{}' is being copied", volume.name),
            ));
        }
        let base = self.vol(volume.base_id());
        let family = base.family_copies + planned.get(&base.id).copied().unwrap_or(0);
        if family >= self.config.limits.copies_per_base {
            return Err(Error::new(
                ErrorCode::SNAPSHOT_LIMIT_REACHED,
                format!(
                    "'{}' already has {family} virtual copies (limit {})",
                    base.name, self.config.limits.copies_per_base
                ),
            ));
        }
        if volume.read_only && !spec.read_only {
            let rw_children = volume.children.iter().filter(|c| !self.vol(**c).read_only).count() as u32;
            if rw_children >= self.config.limits.rw_copies_per_ro_parent {
                return Err(Error::new(
                    ErrorCode::SNAPSHOT_LIMIT_REACHED,
                    format!(
                        "'{}' already has {rw_children} read-write copies (limit {})",
                        volume.name, self.config.limits.rw_copies_per_ro_parent
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds the copy volume (no checks; see `check_snapshot`).
    pub(crate) fn build_snapshot(
        &mut self,
        source: VolumeId,
        id: VolumeId,
        spec: SnapshotSpec,
        times: crate::volume::TimeLimits,
        now: crate::time::Instant,
    ) -> Volume {
        let uuid = self.next_uuid();
        let wwn = self.wwn_for(id);
        Volume::virtual_copy_of(self.vol(source), id, uuid, wwn, spec, times, now)
    }
}

impl ArrayMut<'_> {
    /// Takes a virtual copy of volume `source`.
    ///
    /// Errors, in order: bad name/comment; time-limit errors; `NON_EXISTENT_VOL` (source);
    /// `EXISTENT_VOL`; `EXISTENT_ID`; `INV_OPERATION_VV_SNAPSHOT_STALE` (a stale source);
    /// `NO_SNAP_CPG`; `INV_OPERATION_VV_READONLY_TO_READONLY_SNAP`; `SNAPSHOT_LIMIT_REACHED`.
    ///
    /// Cost: O(log n) in the number of volumes, O(1) in volume size and data written.
    pub fn create_snapshot(&mut self, source: &str, spec: SnapshotSpec) -> Result<VolumeId> {
        self.require_online()?;
        validate_name("snapshot", &spec.name, NAME31)?;
        if let Some(comment) = &spec.comment {
            validate_comment(comment, COMMENT_MAX)?;
        }
        let now = self.now();
        let times = self.validate_time_limits(now, spec.expiration_hours, spec.retention_hours)?;
        let source_id = self.volume_id(source)?;
        if self.volumes.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_VOL, format!("volume '{}' exists", spec.name)));
        }
        let id = self.allocate_volume_id(spec.id)?;
        self.check_snapshot(source_id, &spec, &BTreeMap::new())?;
        self.insert_snapshot(source_id, id, spec, times);
        Ok(id)
    }

    /// Inserts a checked copy and links it into its family.
    pub(crate) fn insert_snapshot(
        &mut self,
        source: VolumeId,
        id: VolumeId,
        spec: SnapshotSpec,
        times: crate::volume::TimeLimits,
    ) {
        let now = self.now();
        let read_only = spec.read_only;
        let copy = self.array.build_snapshot(source, id, spec, times, now);
        let base = copy.base_id();
        self.insert_volume(copy);
        self.array.vol_mut(source).children.insert(id);
        self.array.vol_mut(base).family_copies += 1;
        let mode = if read_only { "ro" } else { "rw" };
        // Pieces pushed one by one, the names borrowed from the array: this line is recorded for
        // every snapshot (backup tools create them in bulk), and the formatting machinery costs
        // more than the copy itself.
        self.trace_with("copy", |array, text| {
            for piece in ["create ", mode, " virtual copy ", &array.vol(id).name, " of ", &array.vol(source).name] {
                text.push_str(piece);
            }
        });
    }

    /// Promotes a virtual copy: its base (or `options.target`) takes the copy's content.
    /// The copy itself survives unchanged. Returns the (finished) promote task.
    ///
    /// Errors: `NON_EXISTENT_VOL`; `INV_OPERATION_VV_BASE_VOLUME` (not a copy);
    /// `INV_OPERATION_PARAM_CONFLICT` (online with priority); `INV_INPUT_BAD_ENUM_VALUE` (priority
    /// not 1..=3); `INV_OPERATION_VV_SNAPSHOT_STALE` (the copy, or the target, is stale);
    /// `INV_OPERATION_VV_EXPORTED` (copy
    /// exported); `INV_OPERATION_PARENT_VV_EXPORTED` (target exported, not online);
    /// `RCOPY_GROUP_STARTED`; `INV_OPERATION_VV_IN_REMOTE_COPY` (stopped group without
    /// `allow_remote_copy_parent`); `INV_OPERATION_PARENT_SIZE_HAS_INCREASED`.
    pub fn promote_snapshot(&mut self, snapshot: &str, options: PromoteOptions) -> Result<TaskId> {
        self.require_online()?;
        let copy = self.volume(snapshot)?;
        let VolumeKind::VirtualCopy { base, .. } = copy.kind else {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_BASE_VOLUME,
                format!("'{snapshot}' is not a virtual copy"),
            ));
        };
        if options.online && options.priority.is_some() {
            return Err(Error::new(ErrorCode::INV_OPERATION_PARAM_CONFLICT, "online promote takes no priority"));
        }
        if let Some(priority) = options.priority
            && !(1..=3).contains(&priority)
        {
            return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "priority must be 1..=3"));
        }
        let copy_id = copy.id;
        copy.check_not_stale("promote")?;
        let target = match &options.target {
            None => base,
            Some(name) => {
                let target = self.volume(name)?;
                if target.read_only || !self.is_ancestor(target.id, copy_id) {
                    return Err(Error::new(
                        ErrorCode::INV_INPUT,
                        format!("'{name}' is not a read-write ancestor of '{snapshot}'"),
                    ));
                }
                target.id
            }
        };
        if self.is_exported(copy_id) {
            return Err(Error::new(ErrorCode::INV_OPERATION_VV_EXPORTED, format!("'{snapshot}' is exported")));
        }
        let target_volume = self.vol(target);
        target_volume.check_not_stale("promote onto")?;
        let target_name = target_volume.name.clone();
        if !options.online && self.is_exported(target) {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_PARENT_VV_EXPORTED,
                format!("'{target_name}' is exported"),
            ));
        }
        if self.remote_copy.volume_in_started_group(target) {
            return Err(Error::new(
                ErrorCode::RCOPY_GROUP_STARTED,
                format!("'{target_name}' is in a started remote copy group"),
            ));
        }
        if self.remote_copy.group_of_volume(target).is_some() && !options.allow_remote_copy_parent {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_IN_REMOTE_COPY,
                format!("'{target_name}' is in a remote copy group"),
            ));
        }
        if target_volume.size_mib > self.vol(copy_id).size_mib {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_PARENT_SIZE_HAS_INCREASED,
                format!("'{target_name}' grew after '{snapshot}' was taken"),
            ));
        }
        let pages = self.vol(copy_id).pages().clone();
        self.array.replace_pages(target, pages);
        self.trace("copy", format_args!("promote {snapshot} onto {target_name}"));
        let task = self.finished_task(TaskKind::PromoteVirtualCopy, copy_id, options.priority);
        Ok(task)
    }

    /// Refreshes a virtual copy (`updatevv`): same name and id, content of its parent now.
    /// With `refresh_read_only_parent`, a read-write copy's read-only parent is refreshed from
    /// its own parent first (`updatevv -ro`).
    ///
    /// Errors: `NON_EXISTENT_VOL`; `INV_OPERATION_VV_BASE_VOLUME` (not a copy); `HAS_CHILD`;
    /// `RETAINED`; `INV_OPERATION_VV_SNAPSHOT_STALE` (the volume the content comes from is stale);
    /// `INV_OPERATION_RO_PARENT_HAS_RW_CHILDREN` (with `-ro`, parent shared). A stale copy is
    /// valid again after a refresh.
    pub fn refresh_snapshot(&mut self, snapshot: &str, refresh_read_only_parent: bool) -> Result<()> {
        self.require_online()?;
        let copy = self.volume(snapshot)?;
        let VolumeKind::VirtualCopy { parent, .. } = copy.kind else {
            return Err(Error::new(
                ErrorCode::INV_OPERATION_VV_BASE_VOLUME,
                format!("'{snapshot}' is not a virtual copy"),
            ));
        };
        let copy_id = copy.id;
        if !copy.children.is_empty() {
            return Err(Error::new(ErrorCode::HAS_CHILD, format!("'{snapshot}' has virtual copies")));
        }
        let now = self.now();
        if copy.is_retained(now) {
            return Err(Error::new(ErrorCode::RETAINED, format!("'{snapshot}' is retained")));
        }
        let parent_volume = self.vol(parent);
        let also_parent = refresh_read_only_parent && !copy.read_only && parent_volume.read_only;
        // A stale copy is made valid again by a refresh (its content is taken anew), but not
        // from a stale parent, which has no content to give.
        if !also_parent {
            parent_volume.check_not_stale("refresh a virtual copy from")?;
        } else {
            if !parent_volume.is_virtual_copy() {
                return Err(Error::new(
                    ErrorCode::INV_OPERATION_VV_BASE_VOLUME,
                    format!("'{}' is not a virtual copy", parent_volume.name),
                ));
            }
            if parent_volume.children.len() > 1 {
                return Err(Error::new(
                    ErrorCode::INV_OPERATION_RO_PARENT_HAS_RW_CHILDREN,
                    format!("'{}' has several read-write copies", parent_volume.name),
                ));
            }
            if parent_volume.is_retained(now) {
                return Err(Error::new(ErrorCode::RETAINED, format!("'{}' is retained", parent_volume.name)));
            }
            let grandparent = parent_volume.copy_of().expect("virtual copies have a parent");
            self.vol(grandparent).check_not_stale("refresh a virtual copy from")?;
            // The read-only parent is recreated from its own parent: content and size of now.
            let (pages, size) = (self.vol(grandparent).pages().clone(), self.vol(grandparent).size_mib);
            self.array.replace_pages(parent, pages);
            let parent_mut = self.array.vol_mut(parent);
            parent_mut.stale = false;
            parent_mut.size_mib = size;
            parent_mut.created_at = now;
        }
        let pages = self.vol(parent).pages().clone();
        let size = self.vol(parent).size_mib;
        self.array.replace_pages(copy_id, pages);
        let copy_mut = self.array.vol_mut(copy_id);
        copy_mut.size_mib = size;
        copy_mut.created_at = now;
        copy_mut.stale = false;
        self.trace(
            "copy",
            format_args!(
                "refresh virtual copy {snapshot}{}",
                if also_parent { " and its read-only parent" } else { "" }
            ),
        );
        Ok(())
    }
}

impl Array {
    /// Whether `ancestor` is on the copy-of chain above `volume`.
    pub(crate) fn is_ancestor(&self, ancestor: VolumeId, volume: VolumeId) -> bool {
        let mut current = self.vol(volume).copy_of();
        // Bounded by the tree depth, itself bounded by the per-base copy limit.
        for _ in 0..=self.config.limits.copies_per_base {
            match current {
                Some(id) if id == ancestor => return true,
                Some(id) => current = self.vol(id).copy_of(),
                None => return false,
            }
        }
        false
    }
}
