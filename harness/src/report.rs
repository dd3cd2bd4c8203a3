//! Renders a [`RunReport`] as text (what `storeserv-sim run` prints), JSON (`--json`) or an SVG
//! timeline (`--timeline`).
//!
//! What it holds: [`text`], [`json`] and [`svg`].
//!
//! What it does not do: it computes nothing about the run; the report already holds it.
//!
//! Main design choice: the text fits one screen for a fixture of a dozen steps (one line per step,
//! then the end state in a few lines) and contains no wall time or path, so snapshot tests pin it
//! exactly. The cost: long details and violation texts are cut at the line's end (`--json` has
//! them whole); errors are not cut, a long one gets a continuation line of its own.

use std::fmt::Write;

use crate::runner::RunReport;
use crate::world::bytes;

const DETAIL_WIDTH: usize = 78;

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// The report as text.
pub fn text(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario  {} (seed {})", report.scenario, report.seed);
    if !report.description.is_empty() {
        for line in report.description.lines() {
            let _ = writeln!(out, "          {line}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  #  virtual time  step");
    for step in &report.steps {
        let mark = match (step.expectation_met, step.ok) {
            (false, _) => "FAIL",
            (true, true) => "ok",
            (true, false) => "err",
        };
        let _ = writeln!(
            out,
            "{:>3}  {:>11.3}s  {:<4} {}",
            step.index,
            step.started_secs,
            mark,
            step.label.as_deref().unwrap_or(&step.action)
        );
        match &step.error {
            // An error is never cut: when it does not fit after the detail, it gets a line of
            // its own, whole.
            Some(error) if step.detail.chars().count() + 2 + error.chars().count() > DETAIL_WIDTH => {
                let _ = writeln!(out, "{:>24}{}", "", cut(&step.detail, DETAIL_WIDTH));
                let _ = writeln!(out, "{:>24}error: {error}", "");
            }
            Some(error) => {
                let _ = writeln!(out, "{:>24}{}: {error}", "", step.detail);
            }
            None => {
                let _ = writeln!(out, "{:>24}{}", "", cut(&step.detail, DETAIL_WIDTH));
            }
        }
        if !step.expectation_met {
            let expected = step.expected.clone().unwrap_or_else(|| "the expect checks".to_owned());
            let _ = writeln!(out, "{:>24}expected {expected}", "");
        }
        if let Some(error) = &step.tick_error {
            let _ = writeln!(out, "{:>24}tick: {error}", "");
        }
        for v in &step.violations {
            let _ = writeln!(out, "{:>24}VIOLATION {} (spec {}): {}", "", v.invariant, v.spec, cut(&v.detail, 60));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "repositories");
    for site in &report.sites {
        if !site.up {
            let _ = writeln!(out, "  {:<7} backup server down", site.site);
            continue;
        }
        if site.entries.is_empty() {
            let _ = writeln!(out, "  {:<7} (empty)", site.site);
        }
        for entry in &site.entries {
            let mut line = format!(
                "  {:<7} {} {} {:<11} {}",
                site.site,
                entry.database,
                entry.backup_id,
                entry.mode,
                entry.copies.join(" ")
            );
            if !entry.retained_on_primary.is_empty() {
                line.push_str(&format!("  retained {}", entry.retained_on_primary.join(" ")));
            }
            if let Some(host) = &entry.mounted_on {
                line.push_str(&format!("  mounted on {host}"));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "arrays");
    for array in &report.arrays {
        let state = if array.online { "" } else { " (offline)" };
        let copies = if array.copies.is_empty() { "none".to_owned() } else { array.copies.join(" ") };
        let _ = writeln!(
            out,
            "  {}{state}: copies {copies}; Remote Copy snapshots {}",
            array.name, array.internal_snapshots
        );
        for group in &array.groups {
            let _ = writeln!(out, "    group {group}");
        }
    }
    let _ = writeln!(
        out,
        "replicated {}; {} transactions, {} backups ok, {} failed, {} faults{}; {:.3}s of virtual time",
        bytes(report.bytes_replicated),
        report.transactions,
        report.backups_ok,
        report.backups_failed,
        report.faults,
        if report.faults_never_fired.is_empty() {
            String::new()
        } else {
            format!(" ({} more scheduled, never fired)", report.faults_never_fired.len())
        },
        report.virtual_secs
    );
    let _ = writeln!(
        out,
        "invariants: {} checked after each of {} steps; {} violation(s); {} expectation(s) failed",
        report.invariants_checked,
        report.steps.len(),
        report.violations,
        report.expectations_failed
    );
    // The run did not fail on these, but a reader should know them.
    for warning in &report.faults_never_fired {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(out, "result: {}", if report.passed() { "PASS" } else { "FAIL" });
    out
}

/// The report as pretty JSON.
pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}

/// The timeline as SVG.
pub fn svg(report: &RunReport) -> String {
    crate::timeline::render_svg(&format!("{} (seed {})", report.scenario, report.seed), &report.timeline, &report.lanes)
}
