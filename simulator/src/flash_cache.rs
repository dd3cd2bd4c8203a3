//! Adaptive Flash Cache: the array-wide SSD read cache a user can create and delete.
//!
//! What it holds: whether a flash cache exists, its size and mode.
//! What it deliberately does not do: cache anything; reads cost the same with or without it.
//! Design choice: one optional value on the array, since 3PAR has at most one flash cache; the
//! cost is nothing beyond the missing behaviour.

use crate::array::{Array, ArrayMut};
use crate::error::{Error, ErrorCode, Result};

/// Largest flash cache, GiB (a generous bound; real limits depend on the node count).
pub const FLASH_CACHE_MAX_GIB: u64 = 64 * 1024;

/// The array's flash cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashCache {
    /// Size, GiB.
    pub size_gib: u64,
    /// Mode: 1 simulator (no SSDs), 2 real.
    pub mode: u8,
}

impl Array {
    /// The flash cache, if one exists.
    ///
    /// Errors: `NON_EXISTENT_FLASH_CACHE`.
    pub fn flash_cache(&self) -> Result<&FlashCache> {
        self.flash_cache
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::NON_EXISTENT_FLASH_CACHE, "the array has no flash cache"))
    }
}

impl ArrayMut<'_> {
    /// Creates the flash cache (`mode` defaults to 2, real).
    ///
    /// Errors: `INV_INPUT_BELOW_RANGE` / `INV_INPUT_EXCEEDS_RANGE` (size); `INV_INPUT_BAD_ENUM_VALUE`
    /// (mode); `EXISTENT_FLASH_CACHE`.
    pub fn create_flash_cache(&mut self, size_gib: u64, mode: Option<u8>) -> Result<()> {
        self.require_online()?;
        if size_gib < 1 {
            return Err(Error::new(ErrorCode::INV_INPUT_BELOW_RANGE, "flash cache size must be at least 1 GiB"));
        }
        if size_gib > FLASH_CACHE_MAX_GIB {
            return Err(Error::new(
                ErrorCode::INV_INPUT_EXCEEDS_RANGE,
                format!("flash cache size exceeds {FLASH_CACHE_MAX_GIB} GiB"),
            ));
        }
        let mode = mode.unwrap_or(2);
        if !(1..=2).contains(&mode) {
            return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "flash cache mode must be 1 or 2"));
        }
        if self.flash_cache.is_some() {
            return Err(Error::new(ErrorCode::EXISTENT_FLASH_CACHE, "the array already has a flash cache"));
        }
        self.array.flash_cache = Some(FlashCache { size_gib, mode });
        self.trace("flashcache", format_args!("create flash cache {size_gib} GiB"));
        Ok(())
    }

    /// Deletes the flash cache.
    ///
    /// Errors: `NON_EXISTENT_FLASH_CACHE`.
    pub fn delete_flash_cache(&mut self) -> Result<()> {
        self.require_online()?;
        self.flash_cache()?;
        self.array.flash_cache = None;
        self.trace("flashcache", format_args!("delete flash cache"));
        Ok(())
    }
}
