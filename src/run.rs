//! `storeserv-sim run <scenario.toml> [--seed N] [--json] [--timeline FILE.svg] [--trace FILE]`: runs a scenario
//! with every invariant checked after every step and prints the report; exits non-zero on any
//! violation or failed expectation.
//!
//! The output files are checked before the run (writable, not the scenario, not each other) and
//! written before the report is printed, so a report is never followed by an error about them.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::output::{self, Stdout};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see docs/scenarios.md).
    pub scenario: PathBuf,
    /// Seed of the simulation (default: the scenario's `seed`).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also draw the run's timeline as SVG into this file (checked writable before the run;
    /// neither the scenario file nor the `--trace` file).
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// Also write the simulation's event trace (one line per event: array, Remote Copy, VSS,
    /// Exchange, Recovery Manager) into this file, for debugging a run (checked writable before
    /// the run; neither the scenario file nor the `--timeline` file).
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
    output::check_outputs(
        Some(&args.scenario),
        &[("--timeline", args.timeline.as_deref()), ("--trace", args.trace.as_deref())],
    )?;
    #[cfg(feature = "defects")]
    let defect = args.defect.as_deref().map(defect_named).transpose()?;
    #[cfg(not(feature = "defects"))]
    let defect = None;
    let (report, world) =
        harness::runner::run_keeping_world(&scenario, harness::runner::RunOptions { seed: args.seed, defect })?;
    // The files first: a write that fails now is an error before any report, never after one
    // that says PASS.
    if let Some(path) = &args.timeline {
        std::fs::write(path, harness::report::svg(&report)).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.trace {
        std::fs::write(path, trace_text(&world)).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        writeln!(out, "{}", harness::report::json(&report))?;
    } else {
        write!(out, "{}", harness::report::text(&report))?;
        if let Some(path) = &args.timeline {
            writeln!(out, "timeline: {}", path.display())?;
        }
        if let Some(path) = &args.trace {
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

/// The simulation's event trace, one line per event, with a first line saying how many of the
/// earliest events the bounded trace dropped.
fn trace_text(world: &harness::world::World) -> String {
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
    text
}
