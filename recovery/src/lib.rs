//! `recovery`: HP 3PAR Recovery Manager for Exchange over simulated arrays.
//!
//! What it holds: the Exchange/ESE model writing real bytes ([`exchange`]), the verifier and soft
//! recovery ([`verify`]), the VSS framework ([`vss`]), the backup servers' repositories
//! ([`repository`]) and server registration ([`registration`]), with one umbrella [`Error`].
//!
//! What it deliberately does not do (yet): Remote Copy mode detection, the backup workflows
//! (none / synchronous / periodic), policies, mount, restore and remove operations. They come on
//! top of these parts and drive them: a workflow creates a [`vss::BackupComponents`], an
//! [`vss::ExchangeWriter`] over the [`exchange::MailboxServer`] and a [`vss::Provider`], checks the
//! copies with [`verify::verify_image`] and records them with [`repository::Repository::add`].
//! The crate talks to arrays only through the simulator's public API.
//!
//! Main design choice: every part is a plain model driven by explicit calls that take
//! `&mut Simulation`, with no hidden scheduler, so a workflow (or a property test) can stop or
//! fail at any named step (`vss::VssStep`, `repository::CommitPoint`) and the invariants can be
//! checked between steps. The cost: the caller sequences the calls (the workflows do).
//!
//! Determinism: the model reads only the virtual clock and seeded PRNGs; the repository is the
//! one I/O edge (files in a user-chosen directory).

pub mod engine;
pub mod exchange;
pub mod invariants;
pub mod registration;
pub mod repository;
pub mod verify;
pub mod vss;

/// Any failure of the recovery engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An array operation failed (3PAR code kept).
    #[error(transparent)]
    Array(#[from] simulator::Error),
    /// The Exchange model refused or failed.
    #[error(transparent)]
    Exchange(#[from] exchange::ExchangeError),
    /// A VSS call failed (HRESULT kept).
    #[error(transparent)]
    Vss(#[from] vss::VssError),
    /// An image is not recoverable, or recovery could not run.
    #[error(transparent)]
    Recovery(#[from] verify::RecoveryError),
    /// A repository operation failed.
    #[error(transparent)]
    Repository(#[from] repository::RepositoryError),
    /// A registration check failed.
    #[error(transparent)]
    Registration(#[from] registration::RegistrationError),
    /// A rule of the engine refused or stopped the operation (policy, mode, crash, ...).
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
}

/// Result of a recovery-engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
