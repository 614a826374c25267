//! `corsgate-gateway serve` parses the same argument definition as
//! `corsgate serve` (the cases are shared): help on standard output with 0,
//! usage errors and configurations that cannot run on standard error with 2.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/serve_cli_cases.rs"]
mod serve_cli_cases;

#[test]
fn serve_arguments_exit_codes_and_streams() {
    serve_cli_cases::check_serve_cli(std::path::Path::new(env!("CARGO_BIN_EXE_corsgate-gateway")));
}
