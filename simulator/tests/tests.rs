//! Integration tests of the simulator crate (one test binary; modules by feature).

mod cpg;
mod determinism;
mod errors;
mod expiration;
mod exports;
mod model;
mod remote_copy;
mod set_snapshot;
mod snapshot_space;
mod support;
mod tree;
