//! The operations on existing backups: mount and unmount (export a copy set to a host), restore
//! (volume promote, file-level copy, database from the remote copy), verify and remove.
//!
//! What it holds: the operations as [`Engine`] methods, [`RestoreKind`] and [`RestoreReport`].
//!
//! What it does not do: no restore to another database or a recovery database, no point-of-failure
//! replay of logs newer than the copy (the restored database is the copy's point in time, soft
//! recovered), no single-mailbox recovery, no automatic failback after a database restore from the
//! remote copy (that is Remote Copy's `recover`/`restore`, the operator's call).
//!
//! Main design choice: each operation checks everything it can before its first side effect
//! (entry complete, registration by exact name, not mounted or retained where that matters), and
//! records intent before touching an array where a crash could strand something: a mount is
//! recorded before its VLUNs exist, a removal marks its entry `Removing` before deleting copies.
//! Restores change production volumes and cannot be undone by design; they restore the exports
//! and the Remote Copy group state on failure where they can. The cost: a restore interrupted by an
//! array error leaves the database dismounted for the operator.

use simulator::{
    ArrayId, DrOptions, GroupState, PromoteOptions, Simulation, StartOptions, StopOptions, VlunSpec, VlunTarget,
    VlunVolume,
};

use super::{Engine, EngineError};
use crate::exchange::layout::{db_page_offset, slot_offset};
use crate::exchange::{Database, MountOutcome};
use crate::repository::{CopyRecord, Entry, EntryKey, MountRecord, RemoteCopyMode, Site, VolumeRole};
use crate::verify::{ArrayVolume, HostLun, ReadAt, VerifyReport, verify_image};

/// Bytes a file-level restore reads and compares at a time.
const FILE_COPY_CHUNK: u64 = 1 << 20;

/// How to restore a backup.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RestoreKind {
    /// Volume promote (`promotesv`): the copies replace the production volumes' content on the
    /// array (for a periodic remote backup: the copies retained on the primary). The database is
    /// dismounted first and mounted after (soft recovery). A replicated database's group is
    /// stopped around the promote and restarted after.
    VolumePromote,
    /// File-level restore: the copy set is mounted on `host`, its files (the database file and
    /// the log set) are read through the LUNs and written over the production volumes, then the
    /// database is mounted.
    FileCopy {
        /// The host that mounts the copies (a backup server's host on the copies' array).
        host: String,
    },
    /// Database restore after losing the primary: fail the group over on the backup array,
    /// promote the remote copies onto the secondary volumes, export them to `host` and mount the
    /// database there.
    DatabaseFromRemote {
        /// The standby mailbox server's host on the backup array.
        host: String,
    },
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    /// The restore kind.
    pub kind: RestoreKind,
    /// Production (or secondary) volume and the copy restored onto it.
    pub volumes: Vec<(String, String)>,
    /// The mount after the restore (soft recovery, if the image was dirty), or why it failed:
    /// the restore itself is done (the production volumes hold the backup); mount the database
    /// once the cause is gone.
    pub mount: std::result::Result<MountOutcome, String>,
    /// File-level restore: bytes written to production volumes (chunks that differed).
    pub bytes_written: u64,
    /// The Remote Copy group stopped and restarted around a volume promote.
    pub group_restarted: Option<String>,
    /// The Remote Copy group a volume promote stopped and could not start again (its target
    /// unreachable, ...), with the array's error. The restore itself is done: the group stays
    /// stopped, tracking changes, until it is started (or `auto_recover` starts it).
    pub group_restart_failed: Option<(String, String)>,
    /// Database from remote: the group failed over on the backup array.
    pub failed_over: Option<String>,
    /// Database from remote: the database, mounted on the backup array's volumes (the engine's
    /// mailbox server keeps the original, on the lost primary).
    pub database: Option<Database>,
}

/// The copies of an entry by role (database first, then log).
fn by_role<'a>(copies: &'a [CopyRecord], key: &EntryKey) -> crate::Result<(&'a CopyRecord, &'a CopyRecord)> {
    let db = copies.iter().find(|c| c.role == VolumeRole::Database);
    let log = copies.iter().find(|c| c.role == VolumeRole::Log);
    match (db, log) {
        (Some(db), Some(log)) => Ok((db, log)),
        _ => Err(EngineError::RestoreNotPossible {
            key: key.clone(),
            reason: "the entry does not list a database and a log copy".into(),
        }
        .into()),
    }
}

/// The LUNs at which `volume` is exported to `host` on `array`.
pub(super) fn exports_to(sim: &Simulation, array: ArrayId, volume: &str, host: &str) -> Vec<u32> {
    let a = sim.array(array);
    let (Ok(v), Ok(h)) = (a.volume(volume), a.host(host)) else { return Vec::new() };
    a.vluns()
        .filter(|l| l.volume == VlunVolume::Volume(v.id))
        .filter(|l| matches!(l.target, VlunTarget::Host(id) | VlunTarget::HostOnPort(id, _) if id == h.id))
        .map(|l| l.lun)
        .collect()
}

/// The array called `name`, online.
fn array_of(sim: &Simulation, name: &str) -> crate::Result<ArrayId> {
    let offline =
        |what: String| -> crate::Error { simulator::Error::new(simulator::ErrorCode::ARRAY_OFFLINE, what).into() };
    let array = sim.array_by_name(name).ok_or_else(|| offline(format!("no array named {name}")))?;
    if !sim.array(array).is_online() {
        return Err(offline(format!("{name} is offline")));
    }
    Ok(array)
}

impl Engine {
    /// Checks that `key`'s backups may be managed at `site`: the mailbox server is registered by
    /// exactly the name the entry carries, and for remote copies a remote backup server is
    /// registered (spec §3.2).
    fn check_access(&self, site: Site, key: &EntryKey) -> crate::Result<()> {
        match site {
            Site::Local => {
                self.registrations.mailbox_server(&key.server)?;
            }
            Site::Remote => {
                if self.config.remote.is_none() {
                    return Err(EngineError::NoRemoteBackupServer.into());
                }
                self.registrations.check_remote_management(&key.server)?;
            }
        }
        Ok(())
    }

    /// Mounts a backup: exports each copy of the set to `host` on the copies' array (auto LUN)
    /// and records the mount. Returns each copy with its LUN.
    ///
    /// Errors: registration errors; [`EngineError::EntryNotFound`]; [`EngineError::NotComplete`];
    /// [`EngineError::Mounted`] (already mounted); array errors (`NON_EXISTENT_HOST`, ...), after
    /// which nothing stays exported.
    pub fn mount(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        key: &EntryKey,
        host: &str,
    ) -> crate::Result<Vec<(String, u32)>> {
        self.resolve_pending(sim);
        self.check_access(site, key)?;
        let entry = self.complete_entry(site, key)?;
        if entry.mounted.is_some() {
            return Err(EngineError::Mounted(key.clone()).into());
        }
        let array_name = entry.copies.first().map(|c| c.array.clone()).unwrap_or_default();
        let array = array_of(sim, &array_name)?;
        sim.array(array).host(host)?;
        let record = MountRecord {
            host: host.to_owned(),
            array: array_name.to_string(),
            exported_volumes: entry.copies.iter().map(|c| c.copy_volume.to_string()).collect(),
        };
        self.commit(site, |r| r.set_mounted(key, Some(record)))?;
        let mut exported: Vec<(String, u32)> = Vec::new();
        for copy in &entry.copies {
            let spec = VlunSpec {
                volume: copy.copy_volume.to_string(),
                lun: 0,
                auto_lun: true,
                host: Some(host.to_owned()),
                ..VlunSpec::default()
            };
            match sim.array_mut(array).create_vlun(spec) {
                Ok(lun) => exported.push((copy.copy_volume.to_string(), lun)),
                Err(error) => {
                    for (volume, lun) in &exported {
                        let _ = sim.array_mut(array).delete_vlun(volume, *lun, Some(host), None);
                    }
                    self.commit(site, |r| r.set_mounted(key, None))?;
                    return Err(error.into());
                }
            }
        }
        sim.record_fmt("rm", format_args!("mount {site:?} backup {key} on {host}"));
        Ok(exported)
    }

    /// Unmounts a backup: removes its exports, then the mount record.
    ///
    /// Errors: registration errors; [`EngineError::EntryNotFound`]; [`EngineError::NotMounted`];
    /// array errors (the mount record stays until the exports are gone).
    pub fn unmount(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> crate::Result<()> {
        self.resolve_pending(sim);
        self.check_access(site, key)?;
        let entry = self.complete_entry(site, key)?;
        let Some(mounted) = entry.mounted else {
            return Err(EngineError::NotMounted(key.clone()).into());
        };
        let array = array_of(sim, &mounted.array)?;
        for volume in &mounted.exported_volumes {
            for lun in exports_to(sim, array, volume, &mounted.host) {
                sim.array_mut(array).delete_vlun(volume, lun, Some(&mounted.host), None)?;
            }
        }
        self.commit(site, |r| r.set_mounted(key, None))?;
        sim.record_fmt("rm", format_args!("unmount {site:?} backup {key}"));
        Ok(())
    }

    /// Verifies a backup's copies with the verifier (header, pages, logs): through the host's
    /// LUNs when the backup is mounted, from the array otherwise.
    ///
    /// Errors: registration errors; [`EngineError::EntryNotFound`]; [`EngineError::NotComplete`];
    /// array errors (a copy missing, the array offline).
    pub fn verify(&self, sim: &Simulation, site: Site, key: &EntryKey) -> crate::Result<VerifyReport> {
        self.check_access(site, key)?;
        let entry = self.complete_entry(site, key)?;
        let (db, log) = by_role(&entry.copies, key)?;
        let array = array_of(sim, &db.array)?;
        let report = match &entry.mounted {
            Some(mounted) => {
                let lun_of = |copy: &CopyRecord| -> crate::Result<u32> {
                    exports_to(sim, array, &copy.copy_volume, &mounted.host)
                        .first()
                        .copied()
                        .ok_or_else(|| EngineError::NotMounted(key.clone()).into())
                };
                let (db_lun, log_lun) = (lun_of(db)?, lun_of(log)?);
                let db = HostLun::new(sim, array, &mounted.host, db_lun)?;
                let log = HostLun::new(sim, array, &mounted.host, log_lun)?;
                verify_image(&db, &log)?
            }
            None => {
                let db = ArrayVolume::new(sim, array, &db.copy_volume)?;
                let log = ArrayVolume::new(sim, array, &log.copy_volume)?;
                verify_image(&db, &log)?
            }
        };
        Ok(report)
    }

    /// Removes a backup: its copies (and, for a periodic remote backup, the copies retained on
    /// the primary), then its entry.
    ///
    /// Errors: registration errors; [`EngineError::EntryNotFound`]; [`EngineError::NotComplete`];
    /// [`EngineError::Mounted`]; [`EngineError::Retained`]; [`EngineError::RemovalDeferred`] (an
    /// array refused a deletion; later calls finish it).
    pub fn remove(&mut self, sim: &mut Simulation, site: Site, key: &EntryKey) -> crate::Result<()> {
        self.resolve_pending(sim);
        self.check_access(site, key)?;
        // Checked on a borrow, not a copy of the entry: the borrow ends before `dissolve`, whose
        // Removing commit then finds the entry unshared and changes it in place.
        let entry = self.complete_entry_ref(site, key)?;
        if entry.mounted.is_some() {
            return Err(EngineError::Mounted(key.clone()).into());
        }
        if let Some(until) = self.retained_until_on_arrays(sim, entry) {
            return Err(EngineError::Retained { key: key.clone(), until }.into());
        }
        sim.record_fmt("rm", format_args!("remove {site:?} backup {key}"));
        match self.dissolve(sim, site, key)? {
            super::reconcile::Dissolved::Removed => Ok(()),
            super::reconcile::Dissolved::Deferred(reason) => {
                Err(EngineError::RemovalDeferred { site, key: key.clone(), reason }.into())
            }
        }
    }

    /// The latest retention end among an entry's copies still in force, if any.
    fn retained_until_on_arrays(&self, sim: &Simulation, entry: &Entry) -> Option<simulator::Instant> {
        let now = sim.now();
        entry
            .copies
            .iter()
            .chain(&entry.retained_on_primary)
            .filter_map(|c| {
                let array = sim.array_by_name(&c.array)?;
                sim.array(array).volume(&c.copy_volume).ok()?.retained_until
            })
            .chain(super::policy::retained_until(entry))
            .filter(|until| *until > now)
            .max()
    }

    /// Restores a backup (see [`RestoreKind`]).
    ///
    /// Errors: registration errors; [`EngineError::EntryNotFound`]; [`EngineError::NotComplete`];
    /// [`EngineError::RestoreNotPossible`]; [`EngineError::Mounted`] (volume promote of a mounted
    /// copy); Exchange errors (the database is frozen; recovery at mount fails); array and Remote
    /// Copy errors (failover refused while the group is started, ...).
    pub fn restore(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        key: &EntryKey,
        kind: RestoreKind,
    ) -> crate::Result<RestoreReport> {
        self.resolve_pending(sim);
        self.check_access(site, key)?;
        let entry = self.complete_entry(site, key)?;
        match kind {
            RestoreKind::VolumePromote => self.restore_by_promote(sim, site, &entry),
            RestoreKind::FileCopy { host } => self.restore_by_file_copy(sim, site, &entry, &host),
            RestoreKind::DatabaseFromRemote { host } => self.restore_from_remote(sim, site, &entry, &host),
        }
    }

    /// Mounts the restored database; a failure (the array went down) is reported, not raised:
    /// the restore is done.
    fn mount_after_restore(
        &mut self,
        sim: &mut Simulation,
        key: &EntryKey,
    ) -> std::result::Result<MountOutcome, String> {
        let mounted = self
            .mailbox_server_mut(&key.server)
            .and_then(|server| server.database_mut(&key.database).map_err(Into::into))
            .and_then(|db| db.mount(sim).map_err(Into::into));
        mounted.map_err(|error: crate::Error| {
            sim.record_fmt("rm", format_args!("restore of {key} done, but the database did not mount: {error}"));
            error.to_string()
        })
    }

    /// Refuses a restore onto production volumes that take no host writes: after a failover and
    /// recover they are the Remote Copy secondaries of the other array, so the restored database
    /// could not mount there (a file copy could not even start; a promote would succeed and
    /// leave an unrecovered image that the next sync from the other array overwrites).
    ///
    /// Errors: [`EngineError::RestoreNotPossible`] naming the group and the volume's role.
    fn require_writable_production(&self, sim: &Simulation, key: &EntryKey) -> crate::Result<()> {
        let server = self.mailbox_server(&key.server)?;
        let db = server.database(&key.database)?;
        let array = sim.array(server.array());
        for volume in [db.db_volume(), db.log_volume()] {
            let Ok(id) = array.volume(volume).map(|v| v.id) else { continue };
            if let Some((group, _)) = array.remote_copy().membership(id)
                && !group.role.is_source()
            {
                let reason = format!(
                    "'{volume}' is a {} volume of Remote Copy group '{}': it takes no host writes until the group is reversed or restored",
                    group.role.as_str(),
                    group.name
                );
                return Err(EngineError::RestoreNotPossible { key: key.clone(), reason }.into());
            }
        }
        Ok(())
    }

    fn restore_by_promote(&mut self, sim: &mut Simulation, site: Site, entry: &Entry) -> crate::Result<RestoreReport> {
        let key = &entry.key;
        let not_possible = |reason: &str| -> crate::Error {
            EngineError::RestoreNotPossible { key: key.clone(), reason: reason.to_owned() }.into()
        };
        let copies = match (site, entry.mode) {
            (Site::Local, _) => {
                if entry.mounted.is_some() {
                    return Err(EngineError::Mounted(key.clone()).into());
                }
                entry.copies.clone()
            }
            (Site::Remote, RemoteCopyMode::Periodic) if !entry.retained_on_primary.is_empty() => {
                entry.retained_on_primary.clone()
            }
            (Site::Remote, _) => {
                return Err(not_possible(
                    "its copies are on the backup array: restore it with DatabaseFromRemote, or promote the local copy",
                ));
            }
        };
        let (db_copy, log_copy) = by_role(&copies, key)?;
        let server = self.mailbox_server_mut(&key.server)?;
        let array = server.array();
        let host = server.host().to_owned();
        let db = server.database_mut(&key.database)?;
        if db_copy.source_volume != db.db_volume() || log_copy.source_volume != db.log_volume() {
            return Err(not_possible("the copies are not of the database's current volumes"));
        }
        if sim.array(array).name() != db_copy.array {
            return Err(not_possible("the copies are not on the database's array"));
        }
        self.require_writable_production(sim, key)?;
        let db = self.mailbox_server_mut(&key.server)?.database_mut(&key.database)?;
        sim.record_fmt("rm", format_args!("restore {site:?} backup {key} by volume promote"));
        if db.is_mounted() {
            db.dismount(sim)?;
        }
        let pairs = [
            (db_copy.source_volume.to_string(), db_copy.copy_volume.to_string()),
            (log_copy.source_volume.to_string(), log_copy.copy_volume.to_string()),
        ];
        let group = {
            let a = sim.array(array);
            let id = a.volume(&pairs[0].0)?.id;
            a.remote_copy().membership(id).map(|(g, _)| (g.name.clone(), g.state == GroupState::Started))
        };
        if let Some((name, true)) = &group {
            sim.remote_copy().stop_group(array, name, &StopOptions::default())?;
        }
        let mut unexported: Vec<(String, u32)> = Vec::new();
        let mut promoted_any = false;
        let promoted = (|| -> crate::Result<()> {
            for (volume, _) in &pairs {
                for lun in exports_to(sim, array, volume, &host) {
                    sim.array_mut(array).delete_vlun(volume, lun, Some(&host), None)?;
                    unexported.push((volume.clone(), lun));
                }
            }
            for (_, copy) in &pairs {
                let options = PromoteOptions { allow_remote_copy_parent: group.is_some(), ..PromoteOptions::default() };
                sim.array_mut(array).promote_snapshot(copy, options)?;
                promoted_any = true;
            }
            Ok(())
        })();
        // Exports and replication come back whether or not the promote succeeded.
        for (volume, lun) in &unexported {
            let spec = VlunSpec { volume: volume.clone(), lun: *lun, host: Some(host.clone()), ..VlunSpec::default() };
            if let Err(error) = sim.array_mut(array).create_vlun(spec) {
                sim.record_fmt("rm", format_args!("restore could not re-export {volume} at LUN {lun}: {error}"));
            }
        }
        // Once the copies are promoted the volumes hold the backup: a group that cannot start
        // again must not turn the done restore into a reported failure (its caller would
        // believe the production data unchanged).
        let mut group_restarted = None;
        let mut group_restart_failed = None;
        if let Some((name, true)) = &group {
            match sim.remote_copy().start_group(array, name, &StartOptions::default()) {
                Ok(_) => group_restarted = Some(name.clone()),
                Err(error) => {
                    sim.record_fmt("rm", format_args!("restore could not start group {name} again: {error}"));
                    group_restart_failed = Some((name.clone(), error.to_string()));
                }
            }
        }
        if let Err(error) = promoted {
            // The database copy promoted and the log's not: the volumes hold neither image.
            if promoted_any {
                return Err(EngineError::RestoreInterrupted { key: key.clone(), error: error.to_string() }.into());
            }
            return Err(error);
        }
        let mount = self.mount_after_restore(sim, key);
        Ok(RestoreReport {
            kind: RestoreKind::VolumePromote,
            volumes: pairs.to_vec(),
            mount,
            bytes_written: 0,
            group_restarted,
            group_restart_failed,
            failed_over: None,
            database: None,
        })
    }

    fn restore_by_file_copy(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        entry: &Entry,
        host: &str,
    ) -> crate::Result<RestoreReport> {
        let key = &entry.key;
        let (db_copy, log_copy) = by_role(&entry.copies, key)?;
        let copies_array = array_of(sim, &db_copy.array)?;
        self.require_writable_production(sim, key)?;
        sim.record_fmt("rm", format_args!("restore {site:?} backup {key} by file copy through {host}"));
        let (mount_host, luns, mounted_here) = match &entry.mounted {
            Some(mounted) => {
                let luns: Vec<(String, u32)> = entry
                    .copies
                    .iter()
                    .filter_map(|c| {
                        exports_to(sim, copies_array, &c.copy_volume, &mounted.host)
                            .first()
                            .map(|lun| (c.copy_volume.to_string(), *lun))
                    })
                    .collect();
                (mounted.host.clone(), luns, false)
            }
            None => (host.to_owned(), self.mount(sim, site, key, host)?, true),
        };
        let lun_of = |copy: &CopyRecord| luns.iter().find(|(v, _)| *v == copy.copy_volume).map(|(_, l)| *l);
        let (Some(db_lun), Some(log_lun)) = (lun_of(db_copy), lun_of(log_copy)) else {
            return Err(EngineError::NotMounted(key.clone()).into());
        };
        let copied = (|| -> crate::Result<(u64, String, String, ArrayId)> {
            let server = self.mailbox_server_mut(&key.server)?;
            let array = server.array();
            let db = server.database_mut(&key.database)?;
            if db.is_mounted() {
                db.dismount(sim)?;
            }
            let config = *db.config();
            let (db_volume, log_volume) = (db.db_volume().to_owned(), db.log_volume().to_owned());
            let mut written = 0;
            for (lun, volume, extent) in [
                (db_lun, &db_volume, db_page_offset(config.page_count)),
                (log_lun, &log_volume, slot_offset(config.log_slot_bytes, config.log_slot_count)),
            ] {
                // Once chunks are being written, a failure leaves the volumes neither image.
                written += copy_through_lun(sim, copies_array, &mount_host, lun, array, volume, extent)
                    .map_err(|error| EngineError::RestoreInterrupted { key: key.clone(), error: error.to_string() })?;
            }
            Ok((written, db_volume, log_volume, array))
        })();
        if mounted_here {
            let unmounted = self.unmount(sim, site, key);
            match (&copied, unmounted) {
                (Ok(_), Err(error)) => return Err(error),
                // The copy's own failure is the one to report (an interrupted copy must not
                // read as a mere unmount problem); the mount stays recorded for a later unmount.
                (Err(_), Err(error)) => {
                    sim.record_fmt(
                        "rm",
                        format_args!("restore of {key} could not unmount the copies it mounted: {error}"),
                    );
                }
                _ => {}
            }
        }
        let (bytes_written, db_volume, log_volume, _) = copied?;
        let mount = self.mount_after_restore(sim, key);
        Ok(RestoreReport {
            kind: RestoreKind::FileCopy { host: host.to_owned() },
            volumes: vec![(db_volume, db_copy.copy_volume.to_string()), (log_volume, log_copy.copy_volume.to_string())],
            mount,
            bytes_written,
            group_restarted: None,
            group_restart_failed: None,
            failed_over: None,
            database: None,
        })
    }

    fn restore_from_remote(
        &mut self,
        sim: &mut Simulation,
        site: Site,
        entry: &Entry,
        host: &str,
    ) -> crate::Result<RestoreReport> {
        let key = &entry.key;
        let not_possible =
            |reason: String| -> crate::Error { EngineError::RestoreNotPossible { key: key.clone(), reason }.into() };
        if site != Site::Remote || entry.mode == RemoteCopyMode::None {
            return Err(not_possible("a database restore from the remote copy needs a remote backup".into()));
        }
        if entry.mounted.is_some() {
            return Err(EngineError::Mounted(key.clone()).into());
        }
        let (db_copy, log_copy) = by_role(&entry.copies, key)?;
        let backup = array_of(sim, &db_copy.array)?;
        let group = {
            let a = sim.array(backup);
            let id = a.volume(&db_copy.source_volume)?.id;
            let Some((g, _)) = a.remote_copy().membership(id) else {
                return Err(not_possible(format!("'{}' is in no remote copy group", db_copy.source_volume)));
            };
            (g.name.clone(), g.role)
        };
        let mut failed_over = None;
        if !group.1.is_source() {
            sim.remote_copy().failover(backup, &group.0, DrOptions::default())?;
            failed_over = Some(group.0.clone());
        }
        sim.record_fmt("rm", format_args!("restore database of {key} from the remote copy on {}", db_copy.array));
        for copy in [db_copy, log_copy] {
            let options = PromoteOptions { allow_remote_copy_parent: true, ..PromoteOptions::default() };
            sim.array_mut(backup).promote_snapshot(&copy.copy_volume, options)?;
        }
        for volume in [&db_copy.source_volume, &log_copy.source_volume] {
            if exports_to(sim, backup, volume, host).is_empty() {
                let spec = VlunSpec {
                    volume: volume.to_string(),
                    lun: 0,
                    auto_lun: true,
                    host: Some(host.to_owned()),
                    ..VlunSpec::default()
                };
                sim.array_mut(backup).create_vlun(spec)?;
            }
        }
        let server = self.mailbox_server(&key.server)?;
        let mut database =
            server.database(&key.database)?.relocated(backup, &db_copy.source_volume, &log_copy.source_volume);
        let mount = database.mount(sim)?;
        Ok(RestoreReport {
            kind: RestoreKind::DatabaseFromRemote { host: host.to_owned() },
            volumes: vec![
                (db_copy.source_volume.to_string(), db_copy.copy_volume.to_string()),
                (log_copy.source_volume.to_string(), log_copy.copy_volume.to_string()),
            ],
            mount: Ok(mount),
            bytes_written: 0,
            group_restarted: None,
            group_restart_failed: None,
            failed_over,
            database: Some(database),
        })
    }
}

/// Copies `extent` bytes from a copy exported to `host` at `lun` onto `volume`, a chunk at a
/// time, writing only chunks that differ. Returns the bytes written.
fn copy_through_lun(
    sim: &mut Simulation,
    copies_array: ArrayId,
    host: &str,
    lun: u32,
    array: ArrayId,
    volume: &str,
    extent: u64,
) -> crate::Result<u64> {
    let mut written = 0;
    let mut offset = 0;
    // Bounded by extent / chunk.
    while offset < extent {
        let len = FILE_COPY_CHUNK.min(extent - offset);
        let source = {
            let lun = HostLun::new(sim, copies_array, host, lun)?;
            let mut buf = vec![0u8; len as usize];
            lun.read_at(offset, &mut buf)?;
            buf
        };
        let current = sim.read(array, volume, offset, len as usize)?;
        if current != source {
            sim.write(array, volume, offset, &source)?;
            written += len;
        }
        offset += len;
    }
    Ok(written)
}
