//! `storeserv-sim`: the command line. A thin dispatcher; each verb lives in its own module
//! (`serve`, `run`, `check`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("storeserv-sim: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
