//! `storeserv-sim check [--steps N] [--seed S] [--faults LIST] [--jobs J] [--shard K/N]`: a random
//! campaign with faults mid-workflow and every invariant after every step; on a violation, shrinks
//! it, prints one replay banner and writes the minimal case as a scenario file `run` replays.
//!
//! This is an I/O edge: it owns the worker threads, the progress bar, wall time (steps/s) and the
//! failure file. The model stays single-threaded per simulation: each case runs on one thread from
//! its own seed, and cases share nothing.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, bail};
use clap::Args;
use harness::campaign::{self, CampaignConfig, Failure, FaultKind};

use crate::output::{self, Stdout};

/// Most worker threads `--jobs` accepts: far more than any machine's cores, far fewer than
/// the threads a typo could ask for (each costs a stack and a share of the cases).
pub const MAX_JOBS: usize = 1024;

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Total steps of the campaign (before sharding), at least 1, rounded up to whole cases of
    /// --steps-per-case (--steps 1 runs one case of 200 steps); the first line printed gives the
    /// steps and cases that run.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    pub steps: u64,
    /// Campaign seed (default: drawn from the wall clock and printed, so the run can be repeated).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Fault kinds: `all`, `none`, or a comma-separated list of link, array, workflow, vss, server,
    /// dr, space (snapshot space running out) (an empty list or name is refused: `none` asks for
    /// no faults).
    #[arg(long, default_value = "all")]
    pub faults: String,
    /// Worker threads, 1 to 1024; no more start than the shard has cases.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub jobs: usize,
    /// Run only shard K of N (1-based): cases whose index ≡ K-1 (mod N).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Steps per case (one simulation each), 1 to 100000.
    #[arg(long, default_value_t = campaign::DEFAULT_STEPS_PER_CASE, allow_negative_numbers = true)]
    pub steps_per_case: usize,
    /// Directory for the minimal failing scenario (created if missing when a scenario is
    /// written; checked writable before the campaign runs, without creating anything).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// No progress bar (CI logs).
    #[arg(long)]
    pub quiet: bool,
    /// Test-only: run a deliberately wrong engine variant (built with `--features defects`).
    #[cfg(feature = "defects")]
    #[arg(long, value_name = "NAME")]
    pub defect: Option<String>,
}

fn parse_shard(text: Option<&str>) -> anyhow::Result<(u64, u64)> {
    let Some(text) = text else { return Ok((1, 1)) };
    let (k, n) = text.split_once('/').context("--shard takes K/N, e.g. 2/4")?;
    let (k, n): (u64, u64) = (k.trim().parse().context("--shard K")?, n.trim().parse().context("--shard N")?);
    if n == 0 || k == 0 || k > n {
        bail!("--shard {text}: need 1 <= K <= N");
    }
    Ok((k, n))
}

#[derive(Default)]
struct Totals {
    steps: AtomicU64,
    cases: AtomicU64,
    workflows: AtomicU64,
    faults: AtomicU64,
    transactions: AtomicU64,
}

/// Runs the verb.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let mut out = Stdout::new();
    let faults = FaultKind::parse_list(&args.faults).with_context(|| format!("--faults {:?}", args.faults))?;
    let (shard, shards) = parse_shard(args.shard.as_deref())?;
    if args.steps == 0 {
        bail!("--steps 0: a campaign needs at least 1 step");
    }
    if !(1..=campaign::MAX_STEPS_PER_CASE).contains(&args.steps_per_case) {
        bail!("--steps-per-case {}: must be 1 to {}", args.steps_per_case, campaign::MAX_STEPS_PER_CASE);
    }
    if !(1..=MAX_JOBS).contains(&args.jobs) {
        bail!("--jobs {}: must be 1 to {MAX_JOBS}", args.jobs);
    }
    // Wall time only picks a default seed; the campaign itself never reads it.
    #[allow(clippy::disallowed_methods)]
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    let mut config = CampaignConfig::new(faults.clone());
    config.steps_per_case = args.steps_per_case;
    #[cfg(feature = "defects")]
    {
        config.defect = args.defect.as_deref().map(crate::run::defect_named).transpose()?;
    }
    // Before the campaign, so that a bad --out costs a second, not the campaign's violation.
    output::check_writable_dir("--out", &args.out)?;
    let cases = campaign::shard_cases(args.steps, args.steps_per_case, shard, shards);
    // More threads than cases would only start and stop.
    let jobs = args.jobs.min(usize::try_from(cases.len()).unwrap_or(usize::MAX));
    // At most 2^64 cases of at most 100,000 steps: u128 holds the product.
    let shard_steps = u128::from(cases.len()) * args.steps_per_case as u128;
    let kinds: Vec<&str> = faults.iter().map(|k| k.name()).collect();
    writeln!(
        out,
        "check: seed {seed}, {shard_steps} steps in {} cases of {} (shard {shard}/{shards}), faults: {}, {jobs} job(s){}",
        cases.len(),
        args.steps_per_case,
        if kinds.is_empty() { "none".to_owned() } else { kinds.join(",") },
        if jobs < args.jobs { " (one per case)" } else { "" },
    )?;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(u64::try_from(shard_steps).unwrap_or(u64::MAX))
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let totals = Totals::default();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found: Mutex<Option<Found>> = Mutex::new(None);
    // The first case whose world could not be set up (shown by the bar, and in the final error,
    // which `--quiet` does not hide).
    let setup_failure: Mutex<Option<String>> = Mutex::new(None);
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let case_seed = campaign::case_seed(seed, case);
                    let outcome = campaign::run_generated_case(&config, case_seed);
                    totals.steps.fetch_add(outcome.steps as u64, Ordering::Relaxed);
                    totals.cases.fetch_add(1, Ordering::Relaxed);
                    let s = outcome.stats;
                    totals.workflows.fetch_add(s.backups_ok + s.backups_failed + s.workflows, Ordering::Relaxed);
                    totals.faults.fetch_add(s.faults, Ordering::Relaxed);
                    totals.transactions.fetch_add(s.transactions, Ordering::Relaxed);
                    bar.inc(outcome.steps as u64);
                    if let Some(error) = outcome.setup_error {
                        let line = format!("case {case}: setup failed: {error}");
                        bar.println(&line);
                        setup_failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(line);
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    if let Some(violation) = outcome.violation {
                        stop.store(true, Ordering::Relaxed);
                        let mut first = found.lock().unwrap_or_else(|e| e.into_inner());
                        if first.as_ref().is_none_or(|(c, ..)| case < *c) {
                            *first = Some((case, case_seed, violation));
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let steps = totals.steps.load(Ordering::Relaxed);
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    let summary = writeln!(
        out,
        "summary: {steps} steps, {} cases, {} workflows, {} transactions, {} faults injected, {:.0} steps/s ({:.1} s), {} violation(s)",
        totals.cases.load(Ordering::Relaxed),
        totals.workflows.load(Ordering::Relaxed),
        totals.transactions.load(Ordering::Relaxed),
        totals.faults.load(Ordering::Relaxed),
        steps as f64 / elapsed,
        elapsed,
        usize::from(found.is_some())
    );
    let Some((case, case_seed, violation)) = found else {
        summary?;
        if let Some(line) = setup_failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            bail!("campaign stopped early: {line}");
        }
        return Ok(());
    };
    // From here on a failed write to standard output (the summary's included: a reader gone, a
    // full disk) does not stop the verb: the violation is shrunk and written to its file all the
    // same, and the verb ends with the violation's error, which names the file.
    //
    // The case's steps up to the violation, generated again (the same steps: a step depends only
    // on the case seed and its index); the case ran without keeping them.
    let steps = campaign::generate_case(case_seed, violation.step + 1, &config.faults);
    let invariant = violation.violations[0].invariant.to_owned();
    let _ = writeln!(out, "shrinking {} steps (invariant {invariant}) ...", steps.len());
    let minimal = campaign::shrink(&config, case_seed, &steps, &invariant, 2_000);
    let last = campaign::run_case(&config, case_seed, &minimal).violation.map(|v| v.violations).unwrap_or_default();
    let failure = Failure {
        campaign_seed: seed,
        case,
        case_seed,
        invariant: invariant.clone(),
        violations: last.into_iter().filter(|v| v.invariant == invariant).collect(),
        original_steps: steps.len(),
        steps: minimal,
        defect: config.defect,
    };
    let text = failure.scenario_toml(&config);
    let path = args.out.join(format!("check-{seed}-case{case}.toml"));
    // The banner before the file: if the write fails after all (--out was checked before the
    // campaign, but the file system may have changed since), the violation is still shown.
    let _ = write!(out, "{}", failure.banner(&path.display().to_string()));
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    // Replaying the written text (what `run` will read) catches a scenario file that does not
    // reproduce the case; it runs after the banner, which it does not change.
    match campaign::replays(&config, &text, &invariant) {
        Ok(true) => {}
        Ok(false) => {
            let _ = writeln!(
                out,
                "warning: the written scenario did not reproduce the violation (a harness bug; please report)"
            );
        }
        Err(error) => {
            let _ = writeln!(out, "warning: the written scenario does not load: {error}");
        }
    }
    bail!("invariant {invariant} broken (seed {seed}, case {case}); minimal case written to {}", path.display())
}

/// The first violating case: its index, its seed, its violation.
type Found = (u64, u64, campaign::CaseViolation);
