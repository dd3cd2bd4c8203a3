//! `storeserv-sim`: the command line. A thin dispatcher; each verb lives in its own module
//! (`serve`, `run`, `check`).
//!
//! Every verb writes its standard output through [`output::Stdout`], whose writes return errors
//! instead of panicking as `println!` does. A closed pipe (`check ... | head -1`) ends the
//! program quietly with status 141, the status a shell reports for a program killed by SIGPIPE
//! (so `set -o pipefail` scripts see what they see for `cat`); any other write error (a full
//! disk) is one error line like every other error.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod output;
mod run;
mod serve;

/// Two HPE 3PAR StoreServ arrays, simulated deterministically in one process.
#[derive(Debug, Parser)]
#[command(name = "storeserv-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file, check every invariant after every step, print a report.
    Run(run::RunArgs),
    /// Run a random campaign with faults; shrink and write a replayable scenario on a violation.
    Check(check::CheckArgs),
    /// Serve the WSAPI (REST) of both arrays so real 3PAR clients can use them.
    Serve(serve::ServeArgs),
}

/// The exit status of a command line that does not parse (clap's, the usual one for usage errors).
const EXIT_USAGE: u8 = 2;

/// A command-line error as one line, like every other error of the program: clap's message
/// (continuation lines joined, its leading `error: ` dropped) and its tips, then the usage line
/// clap shows with it, if any, and where to read more.
fn usage_error_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let joined = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut line = String::new();
    let mut usage = None;
    for paragraph in text.split("\n\n") {
        let paragraph = joined(paragraph);
        if let Some(message) = paragraph.strip_prefix("error: ") {
            line.push_str(message);
        } else if paragraph.starts_with("tip: ") {
            line.push_str("; ");
            line.push_str(&paragraph);
        } else if let Some(shown) = paragraph.strip_prefix("Usage: ") {
            usage = Some(shown.to_owned());
        }
    }
    if line.is_empty() {
        // A layout without an `error: ` paragraph: clap's whole text, joined.
        line = joined(&text);
    }
    match usage {
        Some(usage) => format!("{line} (usage: {usage}; see --help)"),
        None => format!("{line} (see --help)"),
    }
}

/// The exit status after standard output was closed by its reader: 128 + SIGPIPE.
const EXIT_STDOUT_CLOSED: u8 = 141;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version, asked for or shown for a bare `storeserv-sim`, are clap's own.
        Err(error)
            if !error.use_stderr()
                || error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            error.exit()
        }
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "storeserv-sim: error: {}", usage_error_line(&error));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<output::StdoutError>().is_some_and(output::StdoutError::is_closed) => {
            ExitCode::from(EXIT_STDOUT_CLOSED)
        }
        Err(error) => {
            // Standard error may be closed too; there is nowhere left to report that.
            let _ = writeln!(std::io::stderr(), "storeserv-sim: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
