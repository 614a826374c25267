//! The `corsgate` command: `check` a URL as a browser would, `explain` a
//! console CORS message, judge every cross-origin request in a `har` file,
//! `scan` an endpoint for CORS misconfigurations, `test` a deployed endpoint
//! against a policy file.
//!
//! Exit codes: 0 allowed (or explained, or no finding above info), 1 refused by
//! CORS (or findings), 2 could not be checked (bad arguments, network error,
//! unreadable file).
#![forbid(unsafe_code)]

mod check;
mod cli;
mod contract;
mod explain;
mod export;
mod fix;
mod har;
mod hints;
mod http;
mod infer;
mod render;
#[cfg(test)]
mod safe_text;
mod scan;
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
        Command::Scan(args) => scan::main(&args, &style),
        Command::Serve(args) => serve(&args),
        Command::Playground(args) => playground(args.page, args.gateway),
        Command::Export(args) => export::main(&args),
        Command::Test(args) => test(&args, &style),
        Command::Infer(args) => match infer::run(&args) {
            Ok((inference, traffic, current)) => {
                print(&infer::render(&inference, &traffic, current.as_ref()));
                if inference.policy().is_some() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_REFUSED)
                }
            }
            Err(e) => {
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

/// `corsgate test`: the report on standard output (and JUnit XML where asked).
fn test(args: &contract::TestArgs, style: &Style) -> ExitCode {
    match contract::run(args) {
        Ok(report) => {
            if let Some(path) = &args.junit {
                if let Err(e) = std::fs::write(path, contract::junit(&report)) {
                    eprintln!("corsgate: cannot write {}: {e}", path.display());
                    return ExitCode::from(EXIT_ERROR);
                }
            }
            if args.json {
                print_json(&report);
            } else {
                print(&contract::render(&report, style));
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            if args.json {
                print_json(&error_json(e.code(), &e.to_string()));
            }
            eprintln!("corsgate: could not test: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `corsgate serve`: the gateway. With `--demo`, the playground page is served
/// too, on its own origin, editing the policy of the gateway just started, so
/// a new user sees the flow in a browser at once.
fn serve(args: &corsgate_gateway::ServeArgs) -> ExitCode {
    let page: std::net::SocketAddr = ([127, 0, 0, 1], 8088).into();
    corsgate_gateway::run_cli_with(args, move |demo| {
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("corsgate: the playground cannot start: {e}"),
            };
            rt.block_on(async move {
                match corsgate_playground::start_page(page, demo).await {
                    Ok(r) => {
                        eprintln!(
                            "playground: open {}/ in a browser (it edits the policy of this gateway, {})",
                            r.page_origin, r.gateway_origin
                        );
                        std::future::pending::<()>().await;
                    }
                    Err(e) => eprintln!("corsgate: the playground cannot start on {page}: {e}"),
                }
            });
        });
    })
}

/// `corsgate playground`: the page and its demo gateway, until interrupted.
fn playground(page: std::net::SocketAddr, gateway: std::net::SocketAddr) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corsgate: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    rt.block_on(async move {
        match corsgate_playground::start(page, gateway).await {
            Ok(r) => {
                println!(
                    "corsgate playground: open {}/ (demo gateway on {}); Ctrl-C to stop",
                    r.page_origin, r.gateway_origin
                );
                let _ = tokio::signal::ctrl_c().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("corsgate: cannot start the playground on {page} and {gateway}: {e}");
                ExitCode::from(EXIT_ERROR)
            }
        }
    })
}
