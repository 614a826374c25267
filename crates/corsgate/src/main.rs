//! The `corsgate` command: `check` a URL as a browser would, `explain` a
//! console CORS message, judge every cross-origin request in a `har` file.
//!
//! Exit codes: 0 allowed (or explained), 1 refused by CORS, 2 could not be
//! checked (bad arguments, network error, unreadable file).
#![forbid(unsafe_code)]

mod check;
mod cli;
mod explain;
mod fix;
mod har;
mod hints;
mod http;
mod render;
mod snippets;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::render::Style;

/// Refused by CORS.
const EXIT_REFUSED: u8 = 1;
/// Could not be checked.
const EXIT_ERROR: u8 = 2;

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => print(&format!("{s}\n")),
        Err(e) => eprintln!("corsgate: cannot write JSON: {e}"),
    }
}

fn error_json(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message } })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::new(cli.color);
    match cli.command {
        Command::Check(args) => match check::run(&args) {
            Ok(report) => {
                if args.json {
                    print_json(&report);
                } else {
                    print(&render::check(&report, &style));
                }
                match &report.reason {
                    None => ExitCode::SUCCESS,
                    Some(r) if r.is_cors => ExitCode::from(EXIT_REFUSED),
                    Some(_) => ExitCode::from(EXIT_ERROR),
                }
            }
            Err(e) => {
                if args.json {
                    print_json(&error_json(e.code(), &e.to_string()));
                }
                eprintln!("corsgate: could not check: {e}");
                ExitCode::from(EXIT_ERROR)
            }
        },
        Command::Explain(args) => match explain::run(&args) {
            Ok(explanation) => {
                if args.json {
                    print_json(&explanation);
                } else {
                    print(&explain::render(&explanation, &style));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                if args.json {
                    print_json(&error_json("not_recognized", &e));
                }
                eprintln!("corsgate: {e}");
                ExitCode::from(EXIT_ERROR)
            }
        },
        Command::Har(args) => match har::run(&args) {
            Ok(report) => {
                if args.json {
                    print_json(&report);
                } else {
                    print(&har::render(&report, &style, args.all));
                }
                if report.failed > 0 {
                    ExitCode::from(EXIT_REFUSED)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                if args.json {
                    print_json(&error_json("bad_har", &e.to_string()));
                }
                eprintln!("corsgate: {e}");
                ExitCode::from(EXIT_ERROR)
            }
        },
    }
}
