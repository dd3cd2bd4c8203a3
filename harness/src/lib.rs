//! `harness`: scenarios, invariants after every step, random campaigns with shrinking and
//! replay, reports and timelines, over the simulator and the recovery engine.
//!
//! What it holds: the scenario format and its validation ([`scenario`]), the world a scenario
//! builds and the execution of one step ([`world`]), the invariant registry ([`invariants`]:
//! the simulator's and the engine's state invariants plus the harness's history invariants from
//! its reference model, [`reference`]), the scenario runner and its report ([`runner`],
//! [`report`]), the SVG timeline ([`timeline`]) and random campaigns ([`campaign`]).
//!
//! What it deliberately does not do: no threads, files or wall time inside (the CLI owns worker
//! threads, progress bars and files); it never changes what the engine or the simulator decide,
//! it only drives them and judges the result.
//!
//! Main design choice: one vocabulary for everything — the scenario file's step. Fixtures are
//! written in it, campaigns generate it, shrinking removes whole steps of it, and a minimal failing
//! case is written back in it, so `run` replays any failure exactly. The cost: everything a
//! campaign can do must first exist as a scenario key.

pub(crate) use recovery::engine;

pub mod campaign;
pub mod invariants;
pub mod reference;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod timeline;
pub mod world;

/// The recovery engine's deliberately wrong variants (test-only), for [`world::BuildOptions`].
pub use engine::Defect;
