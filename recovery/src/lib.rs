//! recovery
pub mod exchange;
pub mod verify;
