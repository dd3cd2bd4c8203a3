//! Integration tests of the `recovery` crate, as one binary (one module per concern).

mod common;
mod exchange;
mod repository;
mod vss;
mod workflows;
mod world;
