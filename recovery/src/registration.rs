//! Server registration: the mailbox server and the backup servers (local, remote) Recovery
//! Manager knows, each by its precise name.
//!
//! What it holds: [`Registrations`], the registered servers and their roles, and the check that
//! guards managing remote copies ([`Registrations::check_remote_management`]).
//!
//! What it does not do: no persistence (the workflows keep registrations with their
//! configuration), no DNS, no authentication, no version check between backup servers.
//!
//! Main design choice: names are compared exactly, and a second "spelling" of a registered
//! server (other letter case, a fully qualified name for a short one, or the reverse) is
//! recognised only to refuse it with a clear error (spec §3.2: the mailbox server must be
//! registered with its exact name for the GUI to manage copies held by the remote backup
//! server). The cost: users must register the name Exchange reports, character for character.

use std::collections::BTreeMap;

use crate::repository::Site;

/// What a registered server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerRole {
    /// The Exchange mailbox server whose databases are backed up.
    Mailbox,
    /// A Recovery Manager backup server at `Site`.
    Backup(Site),
}

/// Errors of registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The name is not a valid host name.
    #[error("invalid server name '{name}': {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The server is registered under another spelling; managing its copies is refused.
    #[error("server '{requested}' is registered as '{registered}': register and use the exact name")]
    RegisteredUnderAnotherSpelling {
        /// The name used.
        requested: String,
        /// The name registered.
        registered: String,
    },
    /// No server of that name (in any spelling) is registered.
    #[error("server '{0}' is not registered")]
    NotRegistered(String),
    /// The name is registered with another role.
    #[error("server '{name}' is registered as {registered:?}, not {requested:?}")]
    WrongRole {
        /// The name.
        name: String,
        /// Its registered role.
        registered: ServerRole,
        /// The role asked for.
        requested: ServerRole,
    },
    /// A backup server is already registered for this site.
    #[error("a {site:?} backup server is already registered: '{registered}'")]
    SiteTaken {
        /// The site.
        site: Site,
        /// The server registered there.
        registered: String,
    },
}

/// Result of a registration operation.
pub type Result<T, E = RegistrationError> = std::result::Result<T, E>;

/// The servers Recovery Manager knows, by exact name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registrations {
    servers: BTreeMap<String, ServerRole>,
}

/// Checks a server name: 1..=255 characters, DNS labels of letters, digits and `-`.
pub fn validate_server_name(name: &str) -> Result<()> {
    let invalid = |reason| Err(RegistrationError::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() || name.len() > 255 {
        return invalid("must be 1 to 255 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return invalid("each dot-separated label must be 1 to 63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return invalid("only letters, digits, '-' and '.' are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid("a label must not start or end with '-'");
        }
    }
    Ok(())
}

/// The form two spellings of one server share: the first DNS label, lower case.
fn canonical(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_ascii_lowercase()
}

impl Registrations {
    /// No server registered.
    pub fn new() -> Registrations {
        Registrations::default()
    }

    /// Every registered server and its role, by name.
    pub fn servers(&self) -> &BTreeMap<String, ServerRole> {
        &self.servers
    }

    /// The registered name that is another spelling of `name`, if any (not `name` itself).
    fn other_spelling(&self, name: &str) -> Option<&str> {
        let wanted = canonical(name);
        self.servers
            .keys()
            .find(|registered| *registered != name && canonical(registered) == wanted)
            .map(String::as_str)
    }

    fn register(&mut self, name: &str, role: ServerRole) -> Result<()> {
        validate_server_name(name)?;
        if let Some(registered) = self.servers.get(name) {
            return if *registered == role {
                Ok(())
            } else {
                Err(RegistrationError::WrongRole { name: name.to_owned(), registered: *registered, requested: role })
            };
        }
        if let Some(registered) = self.other_spelling(name) {
            return Err(RegistrationError::RegisteredUnderAnotherSpelling {
                requested: name.to_owned(),
                registered: registered.to_owned(),
            });
        }
        if let ServerRole::Backup(site) = role
            && let Some(registered) = self.backup_server(site)
        {
            return Err(RegistrationError::SiteTaken { site, registered: registered.to_owned() });
        }
        self.servers.insert(name.to_owned(), role);
        Ok(())
    }

    /// Registers the mailbox server `name` (exactly as Exchange reports it). Registering the same
    /// name again does nothing.
    ///
    /// Errors: [`RegistrationError::InvalidName`]; [`RegistrationError::WrongRole`];
    /// [`RegistrationError::RegisteredUnderAnotherSpelling`].
    pub fn register_mailbox_server(&mut self, name: &str) -> Result<()> {
        self.register(name, ServerRole::Mailbox)
    }

    /// Registers the backup server of `site`. Registering the same name again does nothing.
    ///
    /// Errors: as [`Registrations::register_mailbox_server`], plus [`RegistrationError::SiteTaken`].
    pub fn register_backup_server(&mut self, name: &str, site: Site) -> Result<()> {
        self.register(name, ServerRole::Backup(site))
    }

    /// Removes a registration (exact name). Returns whether it existed.
    pub fn unregister(&mut self, name: &str) -> bool {
        self.servers.remove(name).is_some()
    }

    /// The backup server registered for `site`.
    pub fn backup_server(&self, site: Site) -> Option<&str> {
        self.servers.iter().find(|(_, role)| **role == ServerRole::Backup(site)).map(|(name, _)| name.as_str())
    }

    /// Resolves a mailbox server by its exact registered name.
    ///
    /// Errors: [`RegistrationError::RegisteredUnderAnotherSpelling`];
    /// [`RegistrationError::NotRegistered`]; [`RegistrationError::WrongRole`].
    pub fn mailbox_server(&self, name: &str) -> Result<&str> {
        match self.servers.get_key_value(name) {
            Some((registered, ServerRole::Mailbox)) => Ok(registered.as_str()),
            Some((_, role)) => Err(RegistrationError::WrongRole {
                name: name.to_owned(),
                registered: *role,
                requested: ServerRole::Mailbox,
            }),
            None => match self.other_spelling(name) {
                Some(registered) => Err(RegistrationError::RegisteredUnderAnotherSpelling {
                    requested: name.to_owned(),
                    registered: registered.to_owned(),
                }),
                None => Err(RegistrationError::NotRegistered(name.to_owned())),
            },
        }
    }

    /// Whether the remote copies recorded for mailbox server `server_in_remote_repository` may be
    /// managed from here: a remote backup server must be registered, and the mailbox server's
    /// name in the remote repository must be exactly a registered mailbox server.
    ///
    /// Errors: [`RegistrationError::NotRegistered`] (no remote backup server, or no such mailbox
    /// server); [`RegistrationError::RegisteredUnderAnotherSpelling`].
    pub fn check_remote_management(&self, server_in_remote_repository: &str) -> Result<()> {
        if self.backup_server(Site::Remote).is_none() {
            return Err(RegistrationError::NotRegistered("(remote backup server)".to_owned()));
        }
        self.mailbox_server(server_in_remote_repository).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_only() {
        // Goal: a mailbox server registered under one spelling is refused under another, with
        // the registered name in the error. Method: register, look up variants.
        let mut registrations = Registrations::new();
        registrations.register_mailbox_server("MBX01").unwrap();
        registrations.register_mailbox_server("MBX01").unwrap();
        registrations.register_backup_server("BKP-A", Site::Local).unwrap();
        registrations.register_backup_server("BKP-B", Site::Remote).unwrap();
        assert_eq!(registrations.mailbox_server("MBX01"), Ok("MBX01"));
        let refused = RegistrationError::RegisteredUnderAnotherSpelling {
            requested: "mbx01.corp.example".into(),
            registered: "MBX01".into(),
        };
        assert_eq!(registrations.check_remote_management("mbx01.corp.example"), Err(refused.clone()));
        assert_eq!(registrations.register_mailbox_server("mbx01.corp.example"), Err(refused));
        assert_eq!(registrations.check_remote_management("MBX01"), Ok(()));
        assert_eq!(registrations.mailbox_server("MBX02"), Err(RegistrationError::NotRegistered("MBX02".into())));
        assert!(matches!(registrations.mailbox_server("BKP-A"), Err(RegistrationError::WrongRole { .. })));
        assert!(matches!(
            registrations.register_backup_server("BKP-C", Site::Remote),
            Err(RegistrationError::SiteTaken { .. })
        ));
        assert!(matches!(validate_server_name("bad name"), Err(RegistrationError::InvalidName { .. })));
        assert!(matches!(validate_server_name("-x"), Err(RegistrationError::InvalidName { .. })));
    }

    #[test]
    fn remote_management_needs_a_remote_backup_server() {
        // Goal: without a registered remote backup server, remote copies cannot be managed.
        let mut registrations = Registrations::new();
        registrations.register_mailbox_server("MBX01").unwrap();
        assert!(matches!(registrations.check_remote_management("MBX01"), Err(RegistrationError::NotRegistered(_))));
    }
}
