//! The `corsgate` binary: parses the command line and runs it (see the
//! `corsgate` library for everything else).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    corsgate::run(corsgate::Cli::parse())
}
