//! A seeded workload generator: transactions against one database, with periodic flushes.
//!
//! What it holds: [`WorkloadConfig`] (sizes and rates) and [`Workload`], a ChaCha8 stream
//! ([`simulator::Prng`]) that turns into [`Transaction`]s.
//!
//! What it does not do: it does not model mail traffic or think times; it never reads the clock.
//! The clock moves only by the simulator writes the transactions cause.
//!
//! Main design choice: the generator owns its own stream seeded from one `u64`, so a workload
//! replays identically whatever else draws from the simulation's PRNG. The cost: callers that
//! want one seed for everything derive this one (`sim.prng().next_u64()`).

use simulator::{Prng, Simulation};

use super::layout::DB_PAGE_DATA;
use super::{CommitOutcome, Database, ExchangeError, PageUpdate, Result, Transaction};

/// Sizes and rates of a workload. Defaults: 1–4 updates per transaction of 8–256 bytes, a flush
/// of up to 8 pages every 4 transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Fewest updates per transaction (≥ 1).
    pub updates_min: u32,
    /// Most updates per transaction.
    pub updates_max: u32,
    /// Fewest bytes per update (≥ 1).
    pub bytes_min: u16,
    /// Most bytes per update (≤ the page data size).
    pub bytes_max: u16,
    /// A flush every this many transactions (0: never).
    pub flush_every: u32,
    /// Pages written per flush.
    pub pages_per_flush: usize,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            updates_min: 1,
            updates_max: 4,
            bytes_min: 8,
            bytes_max: 256,
            flush_every: 4,
            pages_per_flush: 8,
        }
    }
}

impl WorkloadConfig {
    /// Checks the ranges: at least one update of at least one byte, minimums not above
    /// maximums, updates no longer than a page's data.
    ///
    /// Errors: [`ExchangeError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        if self.updates_min == 0 || self.updates_min > self.updates_max {
            return Err(ExchangeError::InvalidConfig("updates per transaction must be 1 <= min <= max"));
        }
        if self.bytes_min == 0 || self.bytes_min > self.bytes_max {
            return Err(ExchangeError::InvalidConfig("bytes per update must be 1 <= min <= max"));
        }
        if usize::from(self.bytes_max) > DB_PAGE_DATA {
            return Err(ExchangeError::InvalidConfig("an update cannot be longer than a page's data"));
        }
        Ok(())
    }
}

/// A seeded transaction generator.
#[derive(Debug, Clone)]
pub struct Workload {
    prng: Prng,
    config: WorkloadConfig,
    generated: u64,
}

/// One step of [`Workload::step`]: the transaction and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The transaction submitted.
    pub transaction: Transaction,
    /// Committed or held.
    pub outcome: CommitOutcome,
    /// Pages flushed after it.
    pub pages_flushed: usize,
}

impl Workload {
    /// A workload drawing from a ChaCha8 stream seeded with `seed`.
    ///
    /// Precondition: `config.validate()` holds (scenario loaders call it on user input first).
    pub fn new(seed: u64, config: WorkloadConfig) -> Workload {
        config.validate().expect("a valid workload configuration");
        Workload { prng: Prng::from_seed(seed), config, generated: 0 }
    }

    /// Transactions generated so far.
    pub fn generated(&self) -> u64 {
        self.generated
    }

    /// The next transaction for a database of `page_count` pages (≥ 1).
    pub fn next_transaction(&mut self, page_count: u32) -> Transaction {
        assert!(page_count >= 1);
        let c = self.config;
        let count = self.prng.range_inclusive(u64::from(c.updates_min), u64::from(c.updates_max));
        let updates = (0..count)
            .map(|_| {
                let page = self.prng.int_inclusive(u64::from(page_count) - 1) as u32;
                let len = self.prng.range_inclusive(u64::from(c.bytes_min), u64::from(c.bytes_max)) as usize;
                let offset = self.prng.int_inclusive((DB_PAGE_DATA - len) as u64) as u16;
                let mut bytes = vec![0u8; len];
                self.prng.fill(&mut bytes);
                PageUpdate { page, offset, bytes }
            })
            .collect();
        self.generated += 1;
        Transaction { updates }
    }

    /// Generates one transaction, submits it to `db` and flushes on schedule.
    ///
    /// Errors: as [`Database::commit`] and [`Database::flush`].
    pub fn step(&mut self, sim: &mut Simulation, db: &mut Database) -> Result<Step> {
        let transaction = self.next_transaction(db.config().page_count);
        let outcome = db.commit(sim, transaction.clone())?;
        let flush_due =
            self.config.flush_every > 0 && self.generated.is_multiple_of(u64::from(self.config.flush_every));
        let pages_flushed = if flush_due { db.flush(sim, self.config.pages_per_flush)? } else { 0 };
        Ok(Step { transaction, outcome, pages_flushed })
    }
}
