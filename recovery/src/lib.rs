//! `recovery`: HP 3PAR Recovery Manager for Exchange over simulated arrays.
//!
//! What it holds: the Exchange/ESE model writing real bytes ([`exchange`]), the verifier and soft
//! recovery ([`verify`]), the VSS framework ([`vss`]), the backup servers' repositories
//! ([`repository`]), server registration ([`registration`]), the engine that runs Recovery
//! Manager's workflows over them ([`engine`]: Remote Copy mode detection, the backups without
//! Remote Copy, in synchronous and in periodic mode, policies, mount, restore, verify, remove,
//! crash reconciliation) and the engine's invariants ([`invariants`], spec §7.6–§7.8), with one
//! umbrella [`Error`]. The crate talks to arrays only through the simulator's public API.
//!
//! What it deliberately does not do: no scheduler (the caller asks for each backup and runs the
//! Task Manager), no streaming to backup media, no Exchange DAG/CCR, no restore to another
//! database; see `docs/recovery.md` for the full list.
//!
//! Main design choice: every part is a plain model driven by explicit calls that take
//! `&mut Simulation`, with no hidden scheduler, so a workflow (or a property test) can stop or
//! fail at any named step (`engine::WorkflowStep`, `vss::VssStep`, `repository::CommitPoint`) and
//! the invariants can be checked between steps. The cost: the engine sequences the calls itself,
//! one workflow at a time.
//!
//! Determinism: the model reads only the virtual clock and seeded PRNGs; the repository is the
//! one I/O edge (files in a user-chosen directory, or memory).
//!
//! The feature `defects` compiles deliberately wrong workflow variants ([`engine::Defect`]) for
//! tests that show the invariants catch them; it is off by default.

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
