//! Integration tests of the `recovery` crate, as one binary (one module per concern).

mod common;
mod crashes;
mod defects;
mod engine_model;
mod exchange;
mod operations;
mod policies;
mod repository;
mod verify_memo;
mod vss;
mod workflows;
mod world;
