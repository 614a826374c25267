//! The command line: `serve --config FILE`, `serve --demo`, `serve --check
//! --config FILE`, for `corsgate serve` and the `corsgate-gateway` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::GatewayConfig;
use crate::demo;

/// The arguments of `corsgate serve` (and of the `corsgate-gateway` binary's
/// `serve`): one definition, parsed by clap wherever they are given.
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     serve: corsgate_gateway::ServeArgs,
/// }
/// let cli = Cli::try_parse_from(["x", "--config", "corsgate.toml", "--check"]).unwrap();
/// assert!(cli.serve.check);
/// assert!(Cli::try_parse_from(["x", "--demo", "--config", "a.toml"]).is_err());
/// ```
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "demo"])))]
pub struct ServeArgs {
    /// The gateway configuration (TOML); reloaded on change and on SIGHUP.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Validate the configuration file and exit (0 when valid, 2 otherwise).
    #[arg(long, conflicts_with = "demo")]
    pub check: bool,
    /// The built-in demo policy and demo upstream on loopback.
    #[arg(long)]
    pub demo: bool,
    /// The demo gateway's address.
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "config",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// The demo admin address (`/healthz`, `/metrics`).
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "config",
        default_value = "127.0.0.1:9901"
    )]
    pub admin: SocketAddr,
}

/// Exit code: could not run (invalid configuration, a listener that cannot
/// bind, a runtime that cannot start), as every `corsgate` command.
const EXIT_ERROR: u8 = 2;

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `serve` with parsed arguments until SIGTERM or SIGINT. Returns the
/// process exit code: 0 after a clean shutdown (or a valid `--check`), 2
/// when it could not run.
pub fn run_cli(a: &ServeArgs) -> ExitCode {
    run_cli_with(a, |_| {})
}

/// [`run_cli`], handing the gateway `--demo` started to `on_demo` once it
/// listens (`corsgate serve --demo` serves the playground page with it: the
/// page edits this gateway's policy).
pub fn run_cli_with(a: &ServeArgs, on_demo: impl FnOnce(demo::DemoGateway)) -> ExitCode {
    // The client connections are served on the listener's worker threads
    // (one single-threaded runtime per core); this runtime only runs the
    // admin listener, reloads and signals.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corsgate serve: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    rt.block_on(async {
        // The demo's upstream, to write the demo configuration out once the
        // gateway runs (for `corsgate test --config`).
        let mut demo_upstream = None;
        let config = if let Some(path) = &a.config {
            match GatewayConfig::from_file(path) {
                Ok(c) => c,
                Err(errors) => {
                    for e in errors {
                        eprintln!("error: {e}");
                    }
                    return ExitCode::from(EXIT_ERROR);
                }
            }
        } else {
            let (listen, admin) = (a.listen, a.admin);
            let up = match demo::start_demo_upstream(SocketAddr::from(([127, 0, 0, 1], 0))).await {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("corsgate serve --demo: cannot start the demo upstream: {e}");
                    return ExitCode::from(EXIT_ERROR);
                }
            };
            demo_upstream = Some(up);
            match demo::demo_config(listen, admin, up) {
                Ok(c) => c,
                Err(errors) => {
                    for e in errors {
                        eprintln!("error: {e}");
                    }
                    return ExitCode::from(EXIT_ERROR);
                }
            }
        };
        if a.check {
            println!("configuration OK: {} route(s)", config.routes.len());
            return ExitCode::SUCCESS;
        }
        crate::logging::init(config.log_format, config.log_level);
        let running = match crate::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("corsgate serve: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        };
        if a.demo {
            if let Some(admin) = running.admin_addr() {
                let gw = running.local_addr();
                if let Some(up) = demo_upstream {
                    let path =
                        std::env::temp_dir().join(format!("corsgate-demo-{}.toml", gw.port()));
                    let file = std::fs::write(&path, demo::demo_toml(gw, admin, up))
                        .ok()
                        .map(|()| path);
                    println!("{}", demo::curl_lines(gw, admin, file.as_deref()));
                    on_demo(demo::DemoGateway::new(
                        gw,
                        admin,
                        up,
                        running.reloader.clone(),
                        file,
                    ));
                }
            }
        }
        shutdown_signal().await;
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied())).map(|c| c.serve)
    }

    #[test]
    fn arguments() {
        assert!(parse(&["--demo"]).unwrap().demo);
        assert!(parse(&["--config", "a.toml", "--check"]).unwrap().check);
        assert_eq!(
            parse(&["--demo", "--listen", "127.0.0.1:1"])
                .unwrap()
                .listen,
            SocketAddr::from(([127, 0, 0, 1], 1))
        );
        // Each of these is refused, never half-understood.
        for bad in [
            &[][..],
            &["--demo", "--config", "x"],
            &["--demo", "--listen", "nope"],
            &["--check", "--demo"],
            &["--config", "a.toml", "--listen", "127.0.0.1:1"],
            &["--config"],
            &["--config", "a.toml", "--verbose"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
