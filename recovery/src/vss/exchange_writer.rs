//! The Exchange writer: reports mounted databases as components, freezes them for the snapshot
//! and truncates their logs at `BackupComplete` of a succeeded FULL backup.
//!
//! What it does not do: no `E0ntmp.log` rename at freeze (the model's freeze simply stops all
//! writes), no restore-side events (`PreRestore`/`PostRestore`), no component-level partial
//! failures.
//!
//! Main design choice: it borrows the [`MailboxServer`] for one backup (the workflow creates it,
//! hands it to the requestor's calls and drops it when the backup is over), so the freeze points
//! it captured cannot outlive the backup they belong to. The cost: between two backups the
//! writer does not exist, so a deferred truncation (`-defer`) is returned to the caller to keep.

use std::collections::BTreeMap;

use simulator::Simulation;

use super::{BackupContext, BackupType, Component, Result, VolumeRef, VssCode, VssError, Writer, WriterMetadata};
use crate::exchange::{FreezePoint, MailboxServer};

/// The writer's name, as Exchange registers it.
pub const EXCHANGE_WRITER_NAME: &str = "Microsoft Exchange Writer";

/// Options of an Exchange backup (`HpRmCli Exch create`, spec §3.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExchangeWriterOptions {
    /// `-nc`: no integrity check; the user owns checking and log truncation, so none happens.
    pub no_integrity_check: bool,
    /// `-defer`: truncation is deferred; the writer keeps the truncation point for later
    /// ([`ExchangeWriter::deferred_truncations`]) and truncates nothing at `BackupComplete`.
    pub defer_truncation: bool,
}

/// The Exchange writer for one backup.
pub struct ExchangeWriter<'a> {
    server: &'a mut MailboxServer,
    options: ExchangeWriterOptions,
    captured: BTreeMap<String, FreezePoint>,
    frozen: Vec<String>,
    truncated: BTreeMap<String, Option<(u64, u64)>>,
    deferred: BTreeMap<String, u64>,
    thaw_errors: Vec<String>,
}

impl<'a> ExchangeWriter<'a> {
    /// A writer over `server`'s databases.
    pub fn new(server: &'a mut MailboxServer, options: ExchangeWriterOptions) -> ExchangeWriter<'a> {
        ExchangeWriter {
            server,
            options,
            captured: BTreeMap::new(),
            frozen: Vec::new(),
            truncated: BTreeMap::new(),
            deferred: BTreeMap::new(),
            thaw_errors: Vec::new(),
        }
    }

    /// The freeze point captured for each database: what the snapshot holds.
    pub fn captured(&self) -> &BTreeMap<String, FreezePoint> {
        &self.captured
    }

    /// Generations deleted at `BackupComplete`, per database (`None`: nothing to delete).
    pub fn truncated(&self) -> &BTreeMap<String, Option<(u64, u64)>> {
        &self.truncated
    }

    /// With `-defer`: the checkpoint below which each database's logs may be truncated later.
    pub fn deferred_truncations(&self) -> &BTreeMap<String, u64> {
        &self.deferred
    }

    /// Held transactions that failed to commit at thaw (never acknowledged as committed).
    pub fn thaw_errors(&self) -> &[String] {
        &self.thaw_errors
    }

    /// The server.
    pub fn server(&self) -> &MailboxServer {
        self.server
    }

    /// The server, for changes (a workload running while the backup is in progress).
    pub fn server_mut(&mut self) -> &mut MailboxServer {
        self.server
    }

    fn thaw_all(&mut self, sim: &mut Simulation) {
        for name in std::mem::take(&mut self.frozen) {
            let Ok(db) = self.server.database_mut(&name) else { continue };
            if let Err(error) = db.thaw(sim) {
                self.thaw_errors.push(format!("{name}: {error}"));
            }
        }
    }

    fn require_components(&self, context: &BackupContext) -> Result<()> {
        for name in context.components {
            let mounted = self.server.database(name).is_ok_and(|db| db.is_mounted());
            if !mounted {
                return Err(VssError::new(
                    VssCode::WRITERERROR_NONRETRYABLE,
                    format!("database '{name}' is not mounted"),
                ));
            }
        }
        Ok(())
    }
}

impl Writer for ExchangeWriter<'_> {
    fn name(&self) -> &str {
        EXCHANGE_WRITER_NAME
    }

    fn on_identify(&mut self, _sim: &mut Simulation) -> Result<WriterMetadata> {
        let array = self.server.array();
        let components = self
            .server
            .databases()
            .filter(|db| db.is_mounted())
            .map(|db| Component {
                name: db.name().into(),
                volumes: vec![VolumeRef::new(array, db.db_volume()), VolumeRef::new(array, db.log_volume())],
            })
            .collect();
        Ok(WriterMetadata { writer: EXCHANGE_WRITER_NAME.to_owned(), components })
    }

    fn on_prepare_backup(&mut self, _sim: &mut Simulation, context: &BackupContext) -> Result<()> {
        self.require_components(context)
    }

    fn on_prepare_snapshot(&mut self, _sim: &mut Simulation, context: &BackupContext) -> Result<()> {
        self.require_components(context)?;
        let array = self.server.array();
        for name in context.components {
            let db = self
                .server
                .database(name)
                .map_err(|e| VssError::new(VssCode::WRITERERROR_NONRETRYABLE, e.to_string()))?;
            for volume in [db.db_volume(), db.log_volume()] {
                if !context.has_volume(array, volume) {
                    return Err(VssError::new(
                        VssCode::WRITERERROR_INCONSISTENTSNAPSHOT,
                        format!("the set lacks volume '{volume}' of database '{name}'"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn on_freeze(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()> {
        for name in context.components {
            let frozen = match self.server.database_mut(name) {
                Ok(db) => db.freeze(sim),
                Err(error) => Err(error),
            };
            match frozen {
                Ok(point) => {
                    self.captured.insert(name.clone(), point);
                    self.frozen.push(name.clone());
                }
                Err(error) => {
                    self.thaw_all(sim);
                    return Err(VssError::new(VssCode::WRITERERROR_RETRYABLE, format!("freeze {name}: {error}")));
                }
            }
        }
        Ok(())
    }

    fn on_thaw(&mut self, sim: &mut Simulation, _context: &BackupContext) -> Result<()> {
        self.thaw_all(sim);
        Ok(())
    }

    fn on_post_snapshot(&mut self, _sim: &mut Simulation, _context: &BackupContext) -> Result<()> {
        Ok(())
    }

    fn on_backup_complete(&mut self, sim: &mut Simulation, context: &BackupContext) -> Result<()> {
        if context.backup_type != BackupType::Full || self.options.no_integrity_check {
            return Ok(());
        }
        for name in context.succeeded {
            let Some(point) = self.captured.get(name).copied() else { continue };
            if self.options.defer_truncation {
                self.deferred.insert(name.clone(), point.checkpoint);
                continue;
            }
            let db = self.server.database_mut(name).map_err(|e| {
                VssError::new(VssCode::WRITERERROR_NONRETRYABLE, format!("truncate logs of {name}: {e}"))
            })?;
            let deleted = db
                .truncate_logs(sim, point.checkpoint)
                .map_err(|e| VssError::new(VssCode::WRITERERROR_RETRYABLE, format!("truncate logs of {name}: {e}")))?;
            self.truncated.insert(name.clone(), deleted);
        }
        Ok(())
    }

    fn on_abort(&mut self, sim: &mut Simulation, _context: &BackupContext) {
        self.thaw_all(sim);
        self.captured.clear();
    }
}
