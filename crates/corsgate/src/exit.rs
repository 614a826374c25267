//! The exit codes of every `corsgate` command, in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | allowed / explained / exported / no finding at or above `--fail-on` / every contract case passed / the gateway stopped cleanly |
//! | 1 | refused by CORS (`check`, `har`), findings (`scan`), contract failures (`test`) |
//! | 2 | could not run: a bad argument, a missing or unreadable file, an invalid policy or config, a network error before any answer, a port already in use |
//!
//! Errors go to standard error (and, with `--json`, an `{"error": …}` object
//! to standard output); `--help` and `--version` go to standard output with 0.

/// Allowed, explained, nothing found: code 0.
pub const OK: u8 = 0;
/// Refused by CORS, findings, contract failures: code 1.
pub const REFUSED: u8 = 1;
/// Could not run: code 2.
pub const ERROR: u8 = 2;

/// The exit-code paragraph of `--help`, as a literal (for `concat!` in clap
/// attributes): the table above in one line.
#[macro_export]
macro_rules! exit_codes_help {
    () => {
        "Exit codes: 0 allowed (or explained, exported, nothing found), 1 refused by CORS (for har: some request refused; for scan: findings at or above --fail-on; for test: some case differs), 2 could not run (a bad argument, a missing or unreadable file, an invalid policy or config, a network error, a port in use)."
    };
}

/// The exit-code paragraph every `--help` ends with.
pub const HELP: &str = exit_codes_help!();
