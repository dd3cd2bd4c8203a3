//! Hosts (FC WWNs / iSCSI names) and host sets.
//!
//! A host is the initiator side of an export: VLUNs map volumes to hosts, and a host reads a
//! copy through its LUN (see `vlun`).
//! FC WWNs are stored normalised (16 upper-case hex digits, no colons); iSCSI names as given.

use std::collections::BTreeMap;

use crate::array::ArrayMut;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{HostId, SetId};
use crate::names::{NAME31, validate_name};
use crate::volume_set::{
    Set, SetChanges, SetSpec, check_set_rename, check_unique, validate_set_changes, validate_set_input,
};

/// Most paths one host may have.
pub const MAX_HOST_PATHS: usize = 1024;

/// A host set.
pub type HostSet = Set<HostId>;

/// A CHAP credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chap {
    /// CHAP name.
    pub name: String,
    /// CHAP secret.
    pub secret: String,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Id on its array.
    pub id: HostId,
    /// Name.
    pub name: String,
    /// Domain.
    pub domain: Option<String>,
    /// Host persona (WSAPI enum, 1..=11; default 2 Generic-ALUA).
    pub persona: u8,
    /// FC WWNs, normalised.
    pub fc_wwns: Vec<String>,
    /// iSCSI names.
    pub iscsi_names: Vec<String>,
    /// Descriptors (`location`, `IPAddr`, `os`, `model`, `contact`, `comment`).
    pub descriptors: BTreeMap<String, String>,
    /// Initiator CHAP.
    pub initiator_chap: Option<Chap>,
    /// Target CHAP.
    pub target_chap: Option<Chap>,
}

/// What to create: [`ArrayMut::create_host`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSpec {
    /// Name (Name31).
    pub name: String,
    /// Domain.
    pub domain: Option<String>,
    /// Persona; 2 when absent.
    pub persona: Option<u8>,
    /// FC WWNs (colons allowed).
    pub fc_wwns: Vec<String>,
    /// iSCSI names.
    pub iscsi_names: Vec<String>,
    /// Descriptors.
    pub descriptors: BTreeMap<String, String>,
}

/// A path change on [`ArrayMut::modify_host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathChange {
    /// Add FC WWNs.
    AddFc(Vec<String>),
    /// Add iSCSI names.
    AddIscsi(Vec<String>),
    /// Remove FC WWNs; `force` allows it while the host is exported.
    RemoveFc(Vec<String>, bool),
    /// Remove iSCSI names; `force` allows it while the host is exported.
    RemoveIscsi(Vec<String>, bool),
}

/// Changes to a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostChanges {
    /// New name.
    pub new_name: Option<String>,
    /// Path change.
    pub paths: Option<PathChange>,
    /// New persona.
    pub persona: Option<u8>,
    /// Descriptors to set (replacing those given).
    pub descriptors: Option<BTreeMap<String, String>>,
    /// Set the initiator CHAP.
    pub set_initiator_chap: Option<Chap>,
    /// Set the target CHAP (needs an initiator CHAP).
    pub set_target_chap: Option<Chap>,
    /// Remove CHAP: `Some(true)` the target CHAP only, `Some(false)` both.
    pub remove_chap: Option<bool>,
}

/// Normalises an FC WWN: strips colons, upper-cases, requires 16 hex digits.
pub fn normalize_wwn(wwn: &str) -> Result<String> {
    let digits: String = wwn.chars().filter(|c| *c != ':').collect::<String>().to_ascii_uppercase();
    if digits.len() != 16 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::new(ErrorCode::INV_INPUT_WRONG_TYPE, format!("'{wwn}' is not a 16-digit FC WWN")));
    }
    Ok(digits)
}

/// Longest iSCSI name (RFC 3720 §3.2.6.1: 223 bytes).
pub const ISCSI_NAME_MAX: usize = 223;

/// Checks an iSCSI name: 1..=[`ISCSI_NAME_MAX`] printable ASCII characters without spaces
/// (spec §1.7 codes: empty 45, too long 57, illegal character 69). The `iqn.`/`eui.`/`naa.`
/// forms are not enforced: the spec does not require them and clients send names as given.
pub fn validate_iscsi_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(ErrorCode::INV_INPUT_EMPTY_STR, "iSCSI name is empty"));
    }
    if name.len() > ISCSI_NAME_MAX {
        return Err(Error::new(
            ErrorCode::INV_INPUT_EXCEEDS_LENGTH,
            format!("iSCSI name is longer than {ISCSI_NAME_MAX} characters"),
        ));
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Error::new(
            ErrorCode::INV_INPUT_ILLEGAL_CHAR,
            format!("iSCSI name {name:?} contains the illegal character {bad:?}"),
        ));
    }
    Ok(())
}

/// The paths of a create or modify, checked before any lookup (spec §1.8): WWNs well formed
/// (39), iSCSI names well formed. Returns the WWNs in their standard form.
fn well_formed_paths(fc_wwns: &[String], iscsi_names: &[String]) -> Result<Vec<String>> {
    let fc: Vec<String> = fc_wwns.iter().map(|w| normalize_wwn(w)).collect::<Result<_>>()?;
    for name in iscsi_names {
        validate_iscsi_name(name)?;
    }
    Ok(fc)
}

/// No path listed twice (`INV_INPUT_DUP_PATH`, spec §15.1); `fc` in standard form.
fn unique_paths(fc: &[String], iscsi_names: &[String]) -> Result<()> {
    check_unique(fc).map_err(|e| Error::new(ErrorCode::INV_INPUT_DUP_PATH, e.message))?;
    check_unique(iscsi_names).map_err(|e| Error::new(ErrorCode::INV_INPUT_DUP_PATH, e.message))
}

fn validate_persona(persona: u8) -> Result<()> {
    if (1..=13).contains(&persona) {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, format!("persona {persona} is not 1..=13")))
    }
}

fn validate_chap(chap: &Chap) -> Result<()> {
    validate_name("CHAP", &chap.name, 255)?;
    if !(12..=16).contains(&chap.secret.chars().count()) {
        return Err(Error::new(ErrorCode::INV_INPUT_BAD_LENGTH, "CHAP secret must be 12..=16 characters"));
    }
    Ok(())
}

impl ArrayMut<'_> {
    fn path_owner(&self, fc: &[String], iscsi: &[String], except: Option<HostId>) -> Option<(String, String)> {
        self.hosts().filter(|h| Some(h.id) != except).find_map(|host| {
            fc.iter()
                .find(|w| host.fc_wwns.contains(w))
                .or_else(|| iscsi.iter().find(|n| host.iscsi_names.contains(n)))
                .map(|path| (path.clone(), host.name.clone()))
        })
    }

    /// Creates a host.
    ///
    /// Errors, in order: bad name/domain (45/57/69); `INV_INPUT_PARAM_CONFLICT` (FC and iSCSI);
    /// `INV_INPUT_WRONG_TYPE` (bad WWN); bad iSCSI name (45/57/69); too many paths;
    /// `INV_INPUT_DUP_PATH`;
    /// `INV_INPUT_BAD_ENUM_VALUE` (persona); `NON_EXISTENT_DOMAIN`; `EXISTENT_PATH`;
    /// `EXISTENT_HOST`.
    pub fn create_host(&mut self, spec: HostSpec) -> Result<HostId> {
        self.require_online()?;
        validate_name("host", &spec.name, NAME31)?;
        if let Some(domain) = &spec.domain {
            validate_name("domain", domain, NAME31)?;
        }
        if !spec.fc_wwns.is_empty() && !spec.iscsi_names.is_empty() {
            return Err(Error::new(
                ErrorCode::INV_INPUT_PARAM_CONFLICT,
                "a host takes FC WWNs or iSCSI names, not both",
            ));
        }
        let fc = well_formed_paths(&spec.fc_wwns, &spec.iscsi_names)?;
        if fc.len() + spec.iscsi_names.len() > MAX_HOST_PATHS {
            return Err(Error::new(ErrorCode::INV_INPUT_EXCEEDS_RANGE, format!("more than {MAX_HOST_PATHS} paths")));
        }
        unique_paths(&fc, &spec.iscsi_names)?;
        let persona = spec.persona.unwrap_or(2);
        validate_persona(persona)?;
        self.require_domain(spec.domain.as_deref())?;
        if let Some((path, owner)) = self.path_owner(&fc, &spec.iscsi_names, None) {
            return Err(Error::new(ErrorCode::EXISTENT_PATH, format!("path {path} is already used by host {owner}")));
        }
        if self.hosts.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_HOST, format!("host '{}' exists", spec.name)));
        }
        let id = HostId(self.array.counters.next_host);
        self.array.counters.next_host += 1;
        let host = Host {
            id,
            name: spec.name.clone(),
            domain: spec.domain,
            persona,
            fc_wwns: fc,
            iscsi_names: spec.iscsi_names,
            descriptors: spec.descriptors,
            initiator_chap: None,
            target_chap: None,
        };
        self.array.hosts.insert(id, &spec.name, host);
        self.trace("host", format_args!("create host {}", spec.name));
        Ok(id)
    }

    /// Renames a host, changes its paths, persona, descriptors or CHAP.
    ///
    /// Errors: bad new name; `INV_INPUT_BAD_ENUM_VALUE`; `INV_INPUT_BAD_LENGTH` (CHAP secret);
    /// bad WWN or iSCSI name; `INV_INPUT_DUP_PATH` (a path listed twice); `NON_EXISTENT_HOST`; `EXISTENT_HOST`; `EXISTENT_PATH`; `NON_EXISTENT_PATH`;
    /// `EXPORTED_VLUN` (path removal or persona change while exported, without force);
    /// `NO_INITIATOR_CHAP`; `NON_EXISTENT_CHAP`.
    pub fn modify_host(&mut self, name: &str, changes: HostChanges) -> Result<()> {
        self.require_online()?;
        if let Some(new_name) = &changes.new_name {
            validate_name("host", new_name, NAME31)?;
        }
        if let Some(persona) = changes.persona {
            validate_persona(persona)?;
        }
        for chap in [&changes.set_initiator_chap, &changes.set_target_chap].into_iter().flatten() {
            validate_chap(chap)?;
        }
        // The WWNs of an FC change in standard form (empty for other changes).
        let wwns = match &changes.paths {
            Some(PathChange::AddFc(wwns) | PathChange::RemoveFc(wwns, _)) => {
                let wwns = well_formed_paths(wwns, &[])?;
                unique_paths(&wwns, &[])?;
                wwns
            }
            Some(PathChange::AddIscsi(names) | PathChange::RemoveIscsi(names, _)) => {
                well_formed_paths(&[], names)?;
                unique_paths(&[], names)?;
                Vec::new()
            }
            None => Vec::new(),
        };
        let host = self.host(name)?.clone();
        let exported = self.is_host_exported(host.id);
        let mut updated = host.clone();
        match &changes.paths {
            Some(PathChange::AddFc(_)) => {
                if let Some((path, owner)) = self.path_owner(&wwns, &[], Some(host.id)) {
                    return Err(Error::new(
                        ErrorCode::EXISTENT_PATH,
                        format!("path {path} is already used by host {owner}"),
                    ));
                }
                for wwn in wwns {
                    if !updated.fc_wwns.contains(&wwn) {
                        updated.fc_wwns.push(wwn);
                    }
                }
            }
            Some(PathChange::AddIscsi(names)) => {
                if let Some((path, owner)) = self.path_owner(&[], names, Some(host.id)) {
                    return Err(Error::new(
                        ErrorCode::EXISTENT_PATH,
                        format!("path {path} is already used by host {owner}"),
                    ));
                }
                for iqn in names {
                    if !updated.iscsi_names.contains(iqn) {
                        updated.iscsi_names.push(iqn.clone());
                    }
                }
            }
            Some(PathChange::RemoveFc(_, force)) => {
                remove_paths(&mut updated.fc_wwns, &wwns, name)?;
                if exported && !force {
                    return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("host '{name}' has exported VLUNs")));
                }
            }
            Some(PathChange::RemoveIscsi(names, force)) => {
                remove_paths(&mut updated.iscsi_names, names, name)?;
                if exported && !force {
                    return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("host '{name}' has exported VLUNs")));
                }
            }
            None => {}
        }
        if let Some(persona) = changes.persona {
            if exported && persona != host.persona {
                return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("host '{name}' has exported VLUNs")));
            }
            updated.persona = persona;
        }
        if let Some(descriptors) = changes.descriptors {
            updated.descriptors.extend(descriptors);
        }
        if let Some(chap) = changes.set_initiator_chap {
            updated.initiator_chap = Some(chap);
        }
        if let Some(chap) = changes.set_target_chap {
            if updated.initiator_chap.is_none() {
                return Err(Error::new(ErrorCode::NO_INITIATOR_CHAP, format!("host '{name}' has no initiator CHAP")));
            }
            updated.target_chap = Some(chap);
        }
        match changes.remove_chap {
            Some(true) if updated.target_chap.is_none() => {
                return Err(Error::new(ErrorCode::NON_EXISTENT_CHAP, format!("host '{name}' has no target CHAP")));
            }
            Some(true) => updated.target_chap = None,
            Some(false) if updated.initiator_chap.is_none() => {
                return Err(Error::new(ErrorCode::NON_EXISTENT_CHAP, format!("host '{name}' has no CHAP")));
            }
            Some(false) => {
                updated.initiator_chap = None;
                updated.target_chap = None;
            }
            None => {}
        }
        if let Some(new_name) = &changes.new_name
            && new_name != name
        {
            if self.hosts.contains_name(new_name) {
                return Err(Error::new(ErrorCode::EXISTENT_HOST, format!("host '{new_name}' exists")));
            }
            self.array.hosts.rename(host.id, name, new_name);
            updated.name = new_name.clone();
        }
        *self.array.hosts.get_mut(host.id).expect("host exists") = updated;
        self.trace("host", format_args!("modify host {name}"));
        Ok(())
    }

    /// Deletes a host.
    ///
    /// Errors: `NON_EXISTENT_HOST`; `EXPORTED_VLUN` (checked first); `HOST_IN_SET`.
    pub fn delete_host(&mut self, name: &str) -> Result<()> {
        self.require_online()?;
        let id = self.host(name)?.id;
        if self.is_host_exported(id) {
            return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("host '{name}' has exported VLUNs")));
        }
        if self.is_host_set_member(id) {
            return Err(Error::new(ErrorCode::HOST_IN_SET, format!("host '{name}' is a member of a set")));
        }
        self.array.hosts.remove(id, name);
        self.trace("host", format_args!("delete host {name}"));
        Ok(())
    }

    fn resolve_host_members(&self, names: &[String]) -> Result<Vec<HostId>> {
        names.iter().map(|name| self.host(name).map(|h| h.id)).collect()
    }

    /// Creates a host set.
    ///
    /// Errors: bad name, comment or member name; `INV_INPUT_DUP_NAME`; `NON_EXISTENT_DOMAIN`; `EXISTENT_SET`;
    /// `NON_EXISTENT_HOST`; `MEMBER_NOT_IN_SAME_DOMAIN`.
    pub fn create_host_set(&mut self, spec: SetSpec) -> Result<SetId> {
        self.require_online()?;
        validate_set_input(&spec, "host")?;
        self.require_domain(spec.domain.as_deref())?;
        if self.host_sets.contains_name(&spec.name) {
            return Err(Error::new(ErrorCode::EXISTENT_SET, format!("host set '{}' exists", spec.name)));
        }
        let members = self.resolve_host_members(&spec.members)?;
        self.check_host_domains(spec.domain.as_deref(), &members)?;
        let id = SetId(self.array.counters.next_set);
        self.array.counters.next_set += 1;
        let uuid = self.array.next_uuid();
        self.array.exports.host_sets.change(id, &[], &members);
        let set = Set {
            id,
            name: spec.name.clone(),
            uuid,
            domain: spec.domain,
            comment: spec.comment.filter(|c| !c.is_empty()),
            members,
            flash_cache_policy: None,
        };
        self.array.host_sets.insert(id, &spec.name, set);
        self.trace("set", format_args!("create host set {}", spec.name));
        Ok(id)
    }

    fn check_host_domains(&self, domain: Option<&str>, members: &[HostId]) -> Result<()> {
        for id in members {
            let host = self.host_by_id(*id).expect("resolved host");
            if let (Some(set_domain), Some(member_domain)) = (domain, host.domain.as_deref())
                && set_domain != member_domain
            {
                return Err(Error::new(
                    ErrorCode::MEMBER_NOT_IN_SAME_DOMAIN,
                    format!("'{}' is in domain {member_domain}", host.name),
                ));
            }
        }
        Ok(())
    }

    /// Adds/removes hosts, renames or re-comments a host set.
    ///
    /// Errors: as [`ArrayMut::modify_volume_set`], with `NON_EXISTENT_HOST` for unknown members;
    /// `EXISTENT_LUN` when the set is exported at a LUN a joining host already uses (the host
    /// would see two volumes there).
    pub fn modify_host_set(&mut self, name: &str, changes: SetChanges) -> Result<()> {
        self.require_online()?;
        validate_set_changes(&changes, "host")?;
        let set = self.host_set(name)?;
        let set_id = set.id;
        let members =
            set.planned_members(&changes, |n| self.host(n).map(|h| h.id), |d, m| self.check_host_domains(d, m))?;
        let joining: Vec<HostId> = members.iter().filter(|h| !set.members.contains(h)).copied().collect();
        self.check_host_set_growth(set_id, name, &joining)?;
        check_set_rename(&self.host_sets, name, changes.new_name.as_ref(), "host set")?;
        if let Some(new_name) = changes.new_name.as_ref().filter(|n| *n != name) {
            self.array.host_sets.rename(set_id, name, new_name);
        }
        let set = self.array.host_sets.get_mut(set_id).expect("set exists");
        self.array.exports.host_sets.change(set_id, &set.members, &members);
        set.apply_changes(members, changes);
        self.trace("set", format_args!("modify host set {name}"));
        Ok(())
    }

    /// Deletes a host set (hosts are kept).
    ///
    /// Errors: `NON_EXISTENT_SET`; `EXPORTED_VLUN` while exported.
    pub fn delete_host_set(&mut self, name: &str) -> Result<()> {
        self.require_online()?;
        let id = self.host_set(name)?.id;
        if self.is_host_set_exported(id) {
            return Err(Error::new(ErrorCode::EXPORTED_VLUN, format!("host set '{name}' is exported")));
        }
        let set = self.array.host_sets.remove(id, name);
        self.array.exports.host_sets.change(id, &set.members, &[]);
        self.trace("set", format_args!("delete host set {name}"));
        Ok(())
    }
}

fn remove_paths(paths: &mut Vec<String>, remove: &[String], host: &str) -> Result<()> {
    for path in remove {
        let Some(position) = paths.iter().position(|p| p == path) else {
            return Err(Error::new(ErrorCode::NON_EXISTENT_PATH, format!("host '{host}' has no path {path}")));
        };
        paths.remove(position);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wwns_are_normalised() {
        assert_eq!(normalize_wwn("10:00:00:00:c9:6f:7a:01").unwrap(), "10000000C96F7A01");
        assert_eq!(normalize_wwn("1000000").unwrap_err().code, ErrorCode::INV_INPUT_WRONG_TYPE);
    }
}
