//! Integration tests of the simulator core: one binary, one module per concern.

mod determinism;
mod errors;
mod expiration;
mod exports;
mod model;
mod set_snapshot;
mod support;
mod tree;
