//! `storeserv-sim`: the command line. A thin dispatcher; each verb lives in its own module
//! (`serve` now; `run` and `check` join later).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Serve the WSAPI (REST) of both arrays so real 3PAR clients can use them.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
