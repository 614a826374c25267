//! The command line: `serve --config FILE`, `serve --demo`, `serve --check
//! --config FILE`, for `corsgate serve` and the `corsgate-gateway` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::GatewayConfig;
use crate::demo;

const USAGE: &str = "usage: corsgate serve --config FILE [--check]
       corsgate serve --demo [--listen ADDR] [--admin ADDR]

  --config FILE   the gateway configuration (TOML); reloaded on change and on SIGHUP
  --check         validate the file and exit
  --demo          built-in demo policy and demo upstream on loopback
  --listen ADDR   demo gateway address (default 127.0.0.1:8080)
  --admin ADDR    demo admin address (default 127.0.0.1:9901)";

#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    check: bool,
    demo: bool,
    listen: Option<SocketAddr>,
    admin: Option<SocketAddr>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "serve" => {}
            "--config" | "-c" => a.config = Some(PathBuf::from(value("--config")?)),
            "--check" => a.check = true,
            "--demo" => a.demo = true,
            "--listen" => {
                let v = value("--listen")?;
                a.listen = Some(
                    v.parse()
                        .map_err(|_| format!("--listen {v}: not an address"))?,
                );
            }
            "--admin" => {
                let v = value("--admin")?;
                a.admin = Some(
                    v.parse()
                        .map_err(|_| format!("--admin {v}: not an address"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.demo == a.config.is_some() {
        return Err("give either --config FILE or --demo".into());
    }
    Ok(a)
}

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

/// Runs `serve` with these arguments (without the program name; a leading
/// `serve` is accepted). Returns the process exit code.
pub fn run_cli<I: IntoIterator<Item = String>>(args: I) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    let a = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("corsgate serve: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
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
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
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
                    return ExitCode::FAILURE;
                }
            }
        } else {
            let listen = a.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
            let admin = a.admin.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9901)));
            let up = match demo::start_demo_upstream(SocketAddr::from(([127, 0, 0, 1], 0))).await {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("corsgate serve --demo: cannot start the demo upstream: {e}");
                    return ExitCode::FAILURE;
                }
            };
            demo_upstream = Some(up);
            match demo::demo_config(listen, admin, up) {
                Ok(c) => c,
                Err(errors) => {
                    for e in errors {
                        eprintln!("error: {e}");
                    }
                    return ExitCode::FAILURE;
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
                return ExitCode::FAILURE;
            }
        };
        if a.demo {
            if let Some(admin) = running.admin_addr() {
                let gw = running.local_addr();
                let file = demo_upstream.and_then(|up| {
                    let path =
                        std::env::temp_dir().join(format!("corsgate-demo-{}.toml", gw.port()));
                    std::fs::write(&path, demo::demo_toml(gw, admin, up))
                        .ok()
                        .map(|()| path)
                });
                println!("{}", demo::curl_lines(gw, admin, file.as_deref()));
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

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments() {
        assert!(parse(&v(&["serve", "--demo"])).unwrap().demo);
        assert!(parse(&v(&["--config", "a.toml", "--check"])).unwrap().check);
        assert!(parse(&v(&["serve"])).is_err());
        assert!(parse(&v(&["--demo", "--config", "x"])).is_err());
        assert!(parse(&v(&["--demo", "--listen", "nope"])).is_err());
    }
}
