//! `corsgate-gateway serve --config FILE` / `corsgate-gateway serve --demo`:
//! the gateway on its own (what `corsgate serve` runs, without the
//! playground page of `--demo`), with the same arguments, parsed by the same
//! definition ([`corsgate_gateway::ServeArgs`]).
use clap::Parser;

/// The gateway alone.
#[derive(Parser)]
#[command(name = "corsgate-gateway", version)]
enum Cli {
    /// Run the CORS gateway.
    Serve(corsgate_gateway::ServeArgs),
}

fn main() -> std::process::ExitCode {
    match Cli::try_parse() {
        Ok(Cli::Serve(args)) => corsgate_gateway::run_cli(&args),
        // Help and version on standard output (0), usage errors on standard
        // error (2), as every corsgate command.
        Err(e) => {
            let _ = e.print();
            std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
    }
}
