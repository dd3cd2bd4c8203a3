//! Volume sets: named, ordered groups of volumes, and consistent snapshots of a whole set.
//!
//! A set snapshot freezes every member at one instant (one consistency group, domain spec §7.1
//! invariant 5): all copies are validated first, then created without the clock moving, so no
//! write can land between two members' copies.
//! Member order is insertion order; the WSAPI name pattern `@count@` numbers members in it.

use std::collections::{BTreeMap, BTreeSet};

use crate::array::ArrayMut;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{SetId, VolumeId};
use crate::names::{NAME27, NAME31, SET_COMMENT_MAX, validate_comment, validate_name};
use crate::virtual_copy::SnapshotSpec;

/// A named, ordered set of members (volumes or hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set<M> {
    /// Id on its array.
    pub id: SetId,
    /// Name (Name27).
    pub name: String,
    /// Deterministic UUID.
    pub uuid: String,
    /// Domain, if any.
    pub domain: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Members in insertion order.
    pub members: Vec<M>,
    /// Flash-cache policy (1 enabled, 2 disabled), volume sets only.
    pub flash_cache_policy: Option<u8>,
}

/// A volume set.
pub type VolumeSet = Set<VolumeId>;

/// What to create: [`ArrayMut::create_volume_set`] and [`ArrayMut::create_host_set`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSpec {
    /// Name (Name27).
    pub name: String,
    /// Domain.
    pub domain: Option<String>,
    /// Comment (≤ 255 characters).
    pub comment: Option<String>,
    /// Member names, in order.
    pub members: Vec<String>,
}

/// Changes to a set: [`ArrayMut::modify_volume_set`] and [`ArrayMut::modify_host_set`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetChanges {
    /// Members to add (in order).
    pub add: Vec<String>,
    /// Members to remove.
    pub remove: Vec<String>,
    /// New name.
    pub new_name: Option<String>,
    /// New comment; `Some("")` clears it.
    pub comment: Option<String>,
    /// New flash-cache policy (volume sets).
    pub flash_cache_policy: Option<u8>,
}

/// A set snapshot request: [`ArrayMut::snapshot_volume_set`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSnapshotSpec {
    /// Name pattern: `@count@` (member number from 0), `@vvname@` (member name) and the time
    /// tokens `@y@ @m@ @d@ @H@ @M@ @S@` are expanded once per member.
    pub pattern: String,
    /// Read-only copies.
    pub read_only: bool,
    /// Id of the first copy; following copies take consecutive ids.
    pub id: Option<u32>,
    /// Comment for every copy.
    pub comment: Option<String>,
    /// Expiration, hours.
    pub expiration_hours: Option<u64>,
    /// Retention, hours.
    pub retention_hours: Option<u64>,
}

/// Rejects duplicate member names in one request.
pub(crate) fn check_unique(members: &[String]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for member in members {
        if !seen.insert(member.as_str()) {
            return Err(Error::new(ErrorCode::INV_INPUT_DUP_NAME, format!("'{member}' is listed twice")));
        }
    }
    Ok(())
}

/// Checks the names of set members of kind `member` (`"volume"` or `"host"`, both Name31)
/// against the name rules: empty (45), too long (57), illegal character (69), before any
/// lookup (spec §1.7, §1.8). The WSAPI calls it too, on `setmembers`, before the rest of the
/// request.
pub(crate) fn validate_member_names(member: &str, names: &[String]) -> Result<()> {
    names.iter().try_for_each(|name| validate_name(member, name, NAME31))
}

/// Validates a set's name, domain name, comment and member names, and refuses a member listed
/// twice (the input checks common to both set kinds; `member` as for
/// [`validate_member_names`]).
pub(crate) fn validate_set_input(spec: &SetSpec, member: &str) -> Result<()> {
    validate_name("set", &spec.name, NAME27)?;
    if let Some(domain) = &spec.domain {
        validate_name("domain", domain, NAME31)?;
    }
    if let Some(comment) = &spec.comment {
        validate_comment(comment, SET_COMMENT_MAX)?;
    }
    validate_member_names(member, &spec.members)?;
    check_unique(&spec.members)
}

/// Validates the input part of a set change: new name, comment, member names (`member` as for
/// [`validate_member_names`]), duplicate member names and the flash-cache policy (checked
/// before any lookup, as the WSAPI's validation order requires).
pub(crate) fn validate_set_changes(changes: &SetChanges, member: &str) -> Result<()> {
    if let Some(new_name) = &changes.new_name {
        validate_name("set", new_name, NAME27)?;
    }
    if let Some(comment) = &changes.comment {
        validate_comment(comment, SET_COMMENT_MAX)?;
    }
    validate_member_names(member, &changes.add)?;
    validate_member_names(member, &changes.remove)?;
    check_unique(&changes.add)?;
    check_unique(&changes.remove)?;
    if let Some(policy) = changes.flash_cache_policy
        && !(1..=2).contains(&policy)
    {
        return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "flash cache policy must be 1 or 2"));
    }
    Ok(())
}

impl<M: Copy + PartialEq> Set<M> {
    /// The members this set would have after adding and removing the named members:
    /// `resolve` turns a name into a member, `check_domains` vets the additions.
    ///
    /// Errors: those of `resolve`; `MEMBER_IN_SET`; those of `check_domains`; `MEMBER_NOT_IN_SET`.
    pub(crate) fn planned_members(
        &self,
        changes: &SetChanges,
        resolve: impl Fn(&str) -> Result<M>,
        check_domains: impl Fn(Option<&str>, &[M]) -> Result<()>,
    ) -> Result<Vec<M>> {
        let mut members = self.members.clone();
        let added: Vec<M> = changes.add.iter().map(|n| resolve(n)).collect::<Result<_>>()?;
        for (id, member_name) in added.iter().zip(&changes.add) {
            if members.contains(id) {
                return Err(Error::new(
                    ErrorCode::MEMBER_IN_SET,
                    format!("'{member_name}' is already in '{}'", self.name),
                ));
            }
        }
        check_domains(self.domain.as_deref(), &added)?;
        members.extend(added);
        for member_name in &changes.remove {
            let id = resolve(member_name)?;
            let Some(position) = members.iter().position(|m| *m == id) else {
                return Err(Error::new(
                    ErrorCode::MEMBER_NOT_IN_SET,
                    format!("'{member_name}' is not in '{}'", self.name),
                ));
            };
            members.remove(position);
        }
        Ok(members)
    }

    /// Applies checked changes: members, name, comment, flash-cache policy.
    pub(crate) fn apply_changes(&mut self, members: Vec<M>, changes: SetChanges) {
        self.members = members;
        if let Some(new_name) = changes.new_name {
            self.name = new_name;
        }
        if let Some(comment) = changes.comment {
            self.comment = Some(comment).filter(|c| !c.is_empty());
        }
        if let Some(policy) = changes.flash_cache_policy {
            self.flash_cache_policy = Some(policy);
        }
    }
}

/// Renames set `id` in `registry` if `new_name` differs; refuses a taken name first.
///
/// Errors: `EXISTENT_SET`.
pub(crate) fn check_set_rename<M>(
    registry: &crate::registry::Registry<SetId, Set<M>>,
    old: &str,
    new_name: Option<&String>,
    what: &str,
) -> Result<()> {
    match new_name {
        Some(new) if new != old && registry.contains_name(new) => {
            Err(Error::new(ErrorCode::EXISTENT_SET, format!("{what} '{new}' exists")))
        }
        _ => Ok(()),
    }
}

/// Expands a VV name pattern for member `index` called `member` at calendar time `when`.
pub fn expand_pattern(pattern: &str, index: usize, member: &str, when: &jiff::civil::DateTime) -> Result<String> {
    let mut out = String::new();
    let mut rest = pattern;
    // Bounded by the pattern length: each step consumes at least one character.
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('@') else {
            return Err(Error::new(ErrorCode::INVALID_INPUT_VV_PATTERN, format!("unterminated token in '{pattern}'")));
        };
        let token = &after[..end];
        let text = match token {
            "count" => index.to_string(),
            "vvname" => member.to_owned(),
            "y" => format!("{:02}", when.year() % 100),
            "m" => format!("{:02}", when.month()),
            "d" => format!("{:02}", when.day()),
            "H" => format!("{:02}", when.hour()),
            "M" => format!("{:02}", when.minute()),
            "S" => format!("{:02}", when.second()),
            _ => {
                return Err(Error::new(
                    ErrorCode::INVALID_INPUT_VV_PATTERN,
                    format!("unknown token '@{token}@' in '{pattern}'"),
                ));
            }
        };
        out.push_str(&text);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl ArrayMut<'_> {
    fn resolve_volume_members(&self, names: &[String]) -> Result<Vec<VolumeId>> {
        names.iter().map(|name| self.volume_id(name)).collect()
    }

    fn check_volume_domains(&self, domain: Option<&str>, members: &[VolumeId]) -> Result<()> {
        for id in members {
            let volume = self.vol(*id);
            if let (Some(set_domain), Some(member_domain)) = (domain, volume.domain.as_deref())
                && set_domain != member_domain
            {
                return Err(Error::new(
                    ErrorCode::MEMBER_NOT_IN_SAME_DOMAIN,
                    format!("'{}' is in domain {member_domain}", volume.name),
                ));
            }
        }
        Ok(())
    }

    /// Creates a volume set.
    ///
    /// Errors: bad name (57/69/45), comment or member name (45/57/69); `INV_INPUT_DUP_NAME`;
    /// `NON_EXISTENT_DOMAIN`; `EXISTENT_SET`; `NON_EXISTENT_VOL` (member);
    /// `MEMBER_NOT_IN_SAME_DOMAIN`.
    pub fn create_volume_set(&mut self, spec: SetSpec) -> Result<SetId> {
        self.require_online()?;
        validate_set_input(&spec, "volume")?;
        self.require_domain(spec.domain.as_deref())?;
        if self.volume_sets.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_SET, format!("volume set '{}' exists", spec.name)));
        }
        let members = self.resolve_volume_members(&spec.members)?;
        self.check_volume_domains(spec.domain.as_deref(), &members)?;
        let id = SetId(self.array.counters.next_set);
        self.array.counters.next_set += 1;
        let uuid = self.array.next_uuid();
        self.array.exports.volume_sets.change(id, &[], &members);
        let set = Set {
            id,
            name: spec.name.clone(),
            uuid,
            domain: spec.domain,
            comment: spec.comment.filter(|c| !c.is_empty()),
            members,
            flash_cache_policy: None,
        };
        self.array.volume_sets.insert(id, &spec.name, set);
        self.trace("set", format_args!("create volume set {}", spec.name));
        Ok(id)
    }

    /// Adds or removes members, renames, or changes the comment or flash-cache policy.
    ///
    /// Errors: bad names; `NON_EXISTENT_SET`; `NON_EXISTENT_VOL`; `MEMBER_IN_SET`;
    /// `MEMBER_NOT_IN_SAME_DOMAIN`; `MEMBER_NOT_IN_SET`; `EXISTENT_LUN` / `TOO_LARGE` (the set is
    /// exported and a new member's LUN is taken or beyond the last LUN); `EXISTENT_SET` (new name).
    pub fn modify_volume_set(&mut self, name: &str, changes: SetChanges) -> Result<()> {
        self.require_online()?;
        validate_set_changes(&changes, "volume")?;
        let set = self.volume_set(name)?;
        let set_id = set.id;
        let members = set.planned_members(&changes, |n| self.volume_id(n), |d, m| self.check_volume_domains(d, m))?;
        self.check_exported_set_growth(set_id, members.len())?;
        check_set_rename(&self.volume_sets, name, changes.new_name.as_ref(), "volume set")?;
        if let Some(new_name) = changes.new_name.as_ref().filter(|n| *n != name) {
            self.array.volume_sets.rename(set_id, name, new_name);
        }
        let set = self.array.volume_sets.get_mut(set_id).expect("set exists");
        self.array.exports.volume_sets.change(set_id, &set.members, &members);
        set.apply_changes(members, changes);
        self.trace("set", format_args!("modify volume set {name}"));
        Ok(())
    }

    /// Deletes a volume set (members are kept).
    ///
    /// Errors: `NON_EXISTENT_SET`; `EXPORTED_VLUN` while exported.
    pub fn delete_volume_set(&mut self, name: &str) -> Result<()> {
        self.require_online()?;
        let id = self.volume_set(name)?.id;
        if self.is_set_exported(id) {
            return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("volume set '{name}' is exported")));
        }
        let set = self.array.volume_sets.remove(id, name);
        self.array.exports.volume_sets.change(id, &set.members, &[]);
        // Real arrays drop the set's QoS rule with it (WSAPI spec §6.2); Cinder relies on that.
        self.array.qos.rules.remove(&crate::qos::QosTarget::VolumeSet(id));
        self.trace("set", format_args!("delete volume set {name}"));
        Ok(())
    }

    /// Takes one virtual copy of every member at one instant; returns the copies in member order.
    ///
    /// Errors, in order: bad comment / time limits; `NON_EXISTENT_SET`; `EMPTY_SET`;
    /// `INVALID_INPUT_VV_PATTERN` (bad token, or names not unique / not valid); `EXISTENT_VOL`;
    /// `EXISTENT_ID`; `INV_OPERATION_VV_SNAP_PARENT_SAME_BASE`; then each member's copy checks
    /// (`NO_SNAP_CPG`, `INV_OPERATION_VV_READONLY_TO_READONLY_SNAP`, `SNAPSHOT_LIMIT_REACHED`).
    pub fn snapshot_volume_set(&mut self, set: &str, spec: SetSnapshotSpec) -> Result<Vec<VolumeId>> {
        self.require_online()?;
        if let Some(comment) = &spec.comment {
            validate_comment(comment, crate::names::COMMENT_MAX)?;
        }
        let now = self.now();
        let times = self.validate_time_limits(now, spec.expiration_hours, spec.retention_hours)?;
        let members = self.volume_set(set)?.members.clone();
        if members.is_empty() {
            return Err(Error::new(ErrorCode::EMPTY_SET, format!("volume set '{set}' is empty")));
        }
        let when = self.world.calendar(now);
        let mut names = Vec::with_capacity(members.len());
        for (index, member) in members.iter().enumerate() {
            let expanded = expand_pattern(&spec.pattern, index, &self.vol(*member).name, &when)?;
            validate_name("snapshot", &expanded, NAME31).map_err(|e| {
                Error::new(
                    ErrorCode::INVALID_INPUT_VV_PATTERN,
                    format!("pattern '{}' gives a bad name: {}", spec.pattern, e.message),
                )
            })?;
            names.push(expanded);
        }
        check_unique(&names).map_err(|_| {
            Error::new(
                ErrorCode::INVALID_INPUT_VV_PATTERN,
                format!("pattern '{}' gives the same name to several members", spec.pattern),
            )
        })?;
        if let Some(taken) = names.iter().find(|n| self.volumes.contains_name(n)) {
            return Err(Error::new(ErrorCode::EXISTENT_VOL, format!("volume '{taken}' exists")));
        }
        let ids = self.allocate_consecutive_ids(spec.id, members.len())?;
        let mut bases = BTreeSet::new();
        for member in &members {
            if !bases.insert(self.vol(*member).base_id()) {
                return Err(Error::new(
                    ErrorCode::INV_OPERATION_VV_SNAP_PARENT_SAME_BASE,
                    format!("members of '{set}' share a base volume"),
                ));
            }
        }
        let mut planned = BTreeMap::new();
        for (member, name) in members.iter().zip(&names) {
            let copy_spec = SnapshotSpec { name: name.clone(), read_only: spec.read_only, ..SnapshotSpec::default() };
            self.check_snapshot(*member, &copy_spec, &planned)?;
            *planned.entry(self.vol(*member).base_id()).or_insert(0) += 1;
        }
        // All checks passed: create every copy at this one instant.
        for ((member, name), id) in members.iter().zip(names).zip(&ids) {
            let copy_spec = SnapshotSpec {
                name,
                read_only: spec.read_only,
                id: Some(id.0),
                comment: spec.comment.clone(),
                ..SnapshotSpec::default()
            };
            self.insert_snapshot(*member, *id, copy_spec, times);
        }
        self.trace("copy", format_args!("snapshot of volume set {set}: {} members", members.len()));
        Ok(ids)
    }

    /// Ids for `count` new volumes: consecutive from `first` if given, else the next free ones.
    ///
    /// Errors: `VV_LIMIT_REACHED` when `count` more volumes would exceed the array's limit;
    /// `INV_INPUT_EXCEEDS_RANGE` / `EXISTENT_ID` for explicit ids; `VV_ID_LIMIT_REACHED`.
    pub(crate) fn allocate_consecutive_ids(&self, first: Option<u32>, count: usize) -> Result<Vec<VolumeId>> {
        if self.volumes.len() + count > self.config.limits.max_volumes as usize {
            return Err(Error::new(
                ErrorCode::VV_LIMIT_REACHED,
                format!("{count} more volumes would exceed the limit of {}", self.config.limits.max_volumes),
            ));
        }
        let mut ids = Vec::with_capacity(count);
        for offset in 0..count as u32 {
            let id = match first {
                Some(first) => self.allocate_volume_id(Some(first.saturating_add(offset)))?,
                None => {
                    let start = ids.last().map_or(self.counters.next_volume, |last: &VolumeId| last.0 + 1);
                    self.free_volume_id_from(start, &ids)?
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_per_member() {
        let when = jiff::civil::date(2026, 3, 4).at(5, 6, 7, 0);
        assert_eq!(expand_pattern("SNAP-@count@", 0, "v", &when).unwrap(), "SNAP-0");
        assert_eq!(expand_pattern("@vvname@.ro", 2, "db1", &when).unwrap(), "db1.ro");
        assert_eq!(expand_pattern("s@y@@m@@d@@H@@M@@S@", 0, "v", &when).unwrap(), "s260304050607");
        assert_eq!(expand_pattern("bad@x@", 0, "v", &when).unwrap_err().code, ErrorCode::INVALID_INPUT_VV_PATTERN);
        assert_eq!(expand_pattern("bad@", 0, "v", &when).unwrap_err().code, ErrorCode::INVALID_INPUT_VV_PATTERN);
    }
}
