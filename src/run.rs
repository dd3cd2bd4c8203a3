//! `storeserv-sim run <scenario.toml> [--seed N] [--json] [--timeline FILE.svg] [--trace FILE]`: runs a scenario
//! with every invariant checked after every step and prints the report; exits non-zero on any
//! violation or failed expectation.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::output::Stdout;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see docs/scenarios.md).
    pub scenario: PathBuf,
    /// Seed of the simulation (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also draw the run's timeline as SVG into this file.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// Also write the simulation's event trace (one line per event: array, Remote Copy, VSS,
    /// Exchange, Recovery Manager) into this file, for debugging a run.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Test-only: run a deliberately wrong engine variant (built with `--features defects`).
    #[cfg(feature = "defects")]
    #[arg(long, value_name = "NAME")]
    pub defect: Option<String>,
}

/// The defect named `name` (`remote_entry_before_sync`, ...).
#[cfg(feature = "defects")]
pub fn defect_named(name: &str) -> anyhow::Result<harness::Defect> {
    harness::Defect::ALL.iter().copied().find(|d| d.name() == name).ok_or_else(|| {
        let known: Vec<&str> = harness::Defect::ALL.iter().map(|d| d.name()).collect();
        anyhow::anyhow!("unknown defect `{name}` (known: {})", known.join(", "))
    })
}

/// Runs the verb.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut out = Stdout::new();
    let scenario = harness::scenario::load(&args.scenario)?;
    #[cfg(feature = "defects")]
    let defect = args.defect.as_deref().map(defect_named).transpose()?;
    #[cfg(not(feature = "defects"))]
    let defect = None;
    let (report, world) =
        harness::runner::run_keeping_world(&scenario, harness::runner::RunOptions { seed: args.seed, defect })?;
    if args.json {
        writeln!(out, "{}", harness::report::json(&report))?;
    } else {
        write!(out, "{}", harness::report::text(&report))?;
    }
    if let Some(path) = &args.timeline {
        std::fs::write(path, harness::report::svg(&report)).with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            writeln!(out, "timeline: {}", path.display())?;
        }
    }
    if let Some(path) = &args.trace {
        let mut text = String::new();
        let trace = world.sim.trace();
        let kept = trace.lines().count() as u64;
        if trace.recorded() > kept {
            text.push_str(&format!(
                "# the first {} of {} events were dropped\n",
                trace.recorded() - kept,
                trace.recorded()
            ));
        }
        for line in trace.lines() {
            text.push_str(&format!("{line}\n"));
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            writeln!(out, "trace: {}", path.display())?;
        }
    }
    if !report.passed() {
        bail!(
            "{}: {} violation(s), {} expectation(s) failed",
            args.scenario.display(),
            report.violations,
            report.expectations_failed
        );
    }
    Ok(())
}
