//! recovery
pub mod exchange;
pub mod verify;
pub mod vss;
