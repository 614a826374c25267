//! Each subcommand from parsed arguments to an exit code: runs it, prints its
//! report (text or `--json`) on standard output and its errors on standard
//! error, and maps the outcome to the codes of [`crate::exit`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::{error_json, print, print_json};
use crate::render::{self, Style};
use crate::{check, contract, exit, explain, export, har, infer, scan};

/// corsgate: CORS made correct, safe and debuggable.
#[derive(Debug, Parser)]
#[command(
    name = "corsgate",
    version,
    about = "corsgate: CORS made correct, safe and debuggable",
    after_help = concat!(
        "Examples:\n  corsgate check https://api.example.com/items --origin http://localhost:3000 -X PUT -H 'Content-Type: application/json'\n  corsgate explain \"Access to fetch at '…' from origin '…' has been blocked by CORS policy: …\"\n  corsgate har session.har\n  corsgate scan https://api.example.com/me --origin https://app.example.com\n  corsgate export --to nginx cors.toml --upstream http://127.0.0.1:8000 --location /api/\n\n",
        crate::exit_codes_help!()
    )
)]
pub struct Cli {
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t = crate::cli::ColorChoice::Auto, global = true)]
    pub color: crate::cli::ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a cross-origin request as a browser would, and say whether script could read the answer.
    #[command(after_help = crate::exit_codes_help!())]
    Check(crate::cli::CheckArgs),
    /// Explain a Chrome, Firefox or Safari console CORS message.
    #[command(after_help = crate::exit_codes_help!())]
    Explain(crate::cli::ExplainArgs),
    /// Find and judge every cross-origin request in a HAR file from Chrome or Firefox DevTools.
    #[command(after_help = crate::exit_codes_help!())]
    Har(crate::cli::HarArgs),
    /// Propose the tightest policy that allows every cross-origin request in HAR files
    /// (exact origins, the methods and headers sent, credentials only where carried).
    #[command(after_help = crate::exit_codes_help!())]
    Infer(crate::infer::InferArgs),
    /// Run the CORS gateway: `serve --config FILE [--check]`, or `serve --demo` (a demo
    /// policy and upstream, plus the playground page on its own origin).
    #[command(after_help = crate::exit_codes_help!())]
    Serve(corsgate_gateway::ServeArgs),
    /// Serve the playground page (and its demo gateway) on loopback.
    #[command(after_help = crate::exit_codes_help!())]
    Playground(crate::cli::PlaygroundArgs),
    /// Probe a deployed endpoint for CORS misconfigurations (reflected origins, `null`,
    /// prefix/suffix/regex flaws, trusted subdomains and http origins, missing `Vary`...).
    Scan(crate::cli::ScanArgs),
    /// Contract-test a deployed endpoint against a policy file: the requests the policy allows
    /// and those it must refuse, each judged as a browser would.
    Test(contract::TestArgs),
    /// Print nginx, Apache httpd, Caddy, HAProxy or Envoy configuration, or a Gateway API HTTPRoute, that implements a policy file.
    #[command(after_help = crate::exit_codes_help!())]
    Export(export::ExportArgs),
}

/// Runs the parsed command line: the report on standard output, errors on
/// standard error, the exit code of [`crate::exit`].
pub fn run(cli: Cli) -> ExitCode {
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
                    Some(r) if r.is_cors => ExitCode::from(exit::REFUSED),
                    Some(_) => ExitCode::from(exit::ERROR),
                }
            }
            Err(e) => {
                if args.json {
                    print_json(&error_json(e.code(), &e.to_string()));
                }
                eprintln!("corsgate: could not check: {e}");
                ExitCode::from(exit::ERROR)
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
                ExitCode::from(exit::ERROR)
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
                    ExitCode::from(exit::REFUSED)
                }
            }
            Err(e) => {
                eprintln!("corsgate: {e}");
                ExitCode::from(exit::ERROR)
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
                    ExitCode::from(exit::REFUSED)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                if args.json {
                    print_json(&error_json("bad_har", &e.to_string()));
                }
                eprintln!("corsgate: {e}");
                ExitCode::from(exit::ERROR)
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
                    return ExitCode::from(exit::ERROR);
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
            ExitCode::from(exit::ERROR)
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
            return ExitCode::from(exit::ERROR);
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
                ExitCode::from(exit::ERROR)
            }
        }
    })
}
