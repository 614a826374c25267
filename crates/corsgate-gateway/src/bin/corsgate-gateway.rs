//! `corsgate-gateway serve --config FILE` / `corsgate-gateway serve --demo`:
//! the gateway on its own, until `corsgate serve` is wired to it.
fn main() -> std::process::ExitCode {
    corsgate_gateway::run_cli(std::env::args().skip(1))
}
