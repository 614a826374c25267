//! Every command × {`--help`, a bad argument, a missing file, an invalid
//! policy or config}: the exit code (0 help, 2 could not run: see the
//! library's `exit` module) and the stream (help on standard output with
//! nothing on standard error; an error on standard error with nothing on
//! standard output). Nothing here reaches the network: every error is found
//! before a request would be sent (port 1 on loopback where a URL is needed),
//! and the servers (`serve`, `playground`) are given a port already in use.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_corsgate")
}

/// What a case must show.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Exit 0, this text on standard output, standard error empty.
    Help(&'static str),
    /// Exit 2, this text on standard error, standard output empty.
    Error(&'static str),
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = std::env::temp_dir().join(format!("corsgate-exit-codes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = Files { dir };
        f.write(
            "bad-policy.toml",
            "origins = [\"https://app.example.com/\"]\ncredentials = true\n",
        );
        f.write(
            "bad-config.toml",
            "listen = \"127.0.0.1:0\"\nupstream = 5\n",
        );
        f.write("bad.har", "{ this is not json");
        f.write("bad-baseline.toml", "[[accepted]]\nrule = 5\n");
        f.write("bad-targets.txt", "ftp://example.com/\n");
        f.write("bad.pem", "not a certificate\n");
        f
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const URL: &str = "http://127.0.0.1:1/api";

#[test]
fn every_command_exit_code_and_stream() {
    let f = Files::new();
    let missing = f.path("missing.toml");
    // A port in use: `serve` and `playground` say which address, exit 2.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().to_string();
    f.write(
        "busy.toml",
        &format!("listen = \"{busy}\"\nupstream = \"http://127.0.0.1:1\"\n\n[[routes]]\npath = \"/\"\ncors = false\n"),
    );
    let busy_says: &'static str = Box::leak(format!("cannot listen on {busy}").into_boxed_str());
    let busy_page: &'static str =
        Box::leak(format!("cannot start the playground on {busy}").into_boxed_str());
    let cases: Vec<(Vec<String>, Want)> = vec![
        // The top level.
        (v(&["--help"]), Want::Help("Exit codes: 0")),
        (v(&["--version"]), Want::Help("corsgate ")),
        (v(&[]), Want::Error("Usage: corsgate")),
        (v(&["frobnicate"]), Want::Error("unrecognized subcommand")),
        // check
        (v(&["check", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&[
                "check",
                URL,
                "--origin",
                "https://a.example",
                "--frobnicate",
            ]),
            Want::Error("--frobnicate"),
        ),
        (v(&["check", URL]), Want::Error("--origin")),
        (
            v(&["check", URL, "-o", "https://a.example", "--timeout", "0"]),
            Want::Error("timeout"),
        ),
        (
            v(&["check", URL, "-o", "https://a.example", "-H", "nocolon"]),
            Want::Error("has no ':'"),
        ),
        (
            v(&[
                "check",
                URL,
                "-o",
                "https://a.example",
                "--cacert",
                &missing,
            ]),
            Want::Error("--cacert"),
        ),
        (
            v(&[
                "check",
                URL,
                "-o",
                "https://a.example",
                "--cacert",
                &f.path("bad.pem"),
            ]),
            Want::Error("--cacert"),
        ),
        (
            v(&["check", "ftp://example.com/", "-o", "https://a.example"]),
            Want::Error("http and https"),
        ),
        // explain
        (v(&["explain", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["explain", "x", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (v(&["explain"]), Want::Error("<MESSAGE>")),
        (
            v(&["explain", "this is not a console message"]),
            Want::Error("corsgate: "),
        ),
        // har
        (v(&["har", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["har", "x.har", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (
            v(&["har", &f.path("missing.har")]),
            Want::Error("missing.har"),
        ),
        (v(&["har", &f.path("bad.har")]), Want::Error("corsgate: ")),
        (
            v(&["har", "x.har", "--browser", "netscape"]),
            Want::Error("netscape"),
        ),
        // infer
        (v(&["infer", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["infer", "x.har", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (v(&["infer"]), Want::Error("<FILES>")),
        (
            v(&["infer", &f.path("missing.har")]),
            Want::Error("missing.har"),
        ),
        (v(&["infer", &f.path("bad.har")]), Want::Error("corsgate: ")),
        (
            v(&["infer", &f.path("bad.har"), "--against", &missing]),
            Want::Error("corsgate: "),
        ),
        // scan
        (v(&["scan", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["scan", URL, "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (
            v(&["scan", URL, "--fail-on", "urgent"]),
            Want::Error("urgent"),
        ),
        (
            v(&["scan", "--targets", &f.path("missing.txt")]),
            Want::Error("missing.txt"),
        ),
        (
            v(&["scan", "--targets", &f.path("bad-targets.txt")]),
            Want::Error("bad-targets.txt:1"),
        ),
        (
            v(&["scan", "--openapi", &f.path("missing.yaml")]),
            Want::Error("missing.yaml"),
        ),
        (
            v(&["scan", URL, "--baseline", &f.path("missing-baseline.toml")]),
            Want::Error("missing-baseline.toml"),
        ),
        (
            v(&["scan", URL, "--baseline", &f.path("bad-baseline.toml")]),
            Want::Error("bad-baseline.toml"),
        ),
        // test
        (v(&["test", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["test", URL, "--policy", "p.toml", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (v(&["test", URL]), Want::Error("--policy")),
        (
            v(&["test", URL, "--policy", &missing]),
            Want::Error("missing.toml"),
        ),
        (
            v(&["test", URL, "--policy", &f.path("bad-policy.toml")]),
            Want::Error("line 1"),
        ),
        (
            v(&["test", URL, "--config", &f.path("bad-config.toml")]),
            Want::Error("bad-config.toml"),
        ),
        // export
        (v(&["export", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["export", "--to", "nginx", "p.toml", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (
            v(&["export", "--to", "lighttpd", "p.toml"]),
            Want::Error("lighttpd"),
        ),
        (
            v(&["export", "--to", "nginx", &missing]),
            Want::Error("missing.toml"),
        ),
        (
            v(&["export", "--to", "nginx", &f.path("bad-policy.toml")]),
            Want::Error("line 1"),
        ),
        // serve (more in serve_cli.rs)
        (v(&["serve", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["serve", "--config", "c.toml", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (
            v(&["serve", "--config", &missing]),
            Want::Error("missing.toml"),
        ),
        (
            v(&["serve", "--config", &f.path("bad-config.toml"), "--check"]),
            Want::Error("line 2"),
        ),
        (
            v(&["serve", "--config", &f.path("busy.toml")]),
            Want::Error(busy_says),
        ),
        // playground
        (v(&["playground", "--help"]), Want::Help("Exit codes: 0")),
        (
            v(&["playground", "--frobnicate"]),
            Want::Error("--frobnicate"),
        ),
        (v(&["playground", "--page", "nope"]), Want::Error("nope")),
        (
            v(&["playground", "--page", &busy, "--gateway", "127.0.0.1:0"]),
            Want::Error(busy_page),
        ),
    ];
    let mut failures = Vec::new();
    for (args, want) in &cases {
        let out = Command::new(bin())
            .args(args)
            .output()
            .expect("corsgate runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let ok = match want {
            Want::Help(text) => {
                out.status.code() == Some(0) && stdout.contains(text) && stderr.is_empty()
            }
            Want::Error(text) => {
                out.status.code() == Some(2)
                    && stderr.contains(text)
                    && stdout.is_empty()
                    // clap's errors and corsgate's own both say who speaks.
                    && (stderr.starts_with("error:") || stderr.starts_with("corsgate"))
            }
        };
        if !ok {
            failures.push(format!(
                "corsgate {args:?}: want {want:?}, got {:?}\n  stdout: {stdout:?}\n  stderr: {stderr:?}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The exit codes are documented once (the library's `exit` module) and that
/// text is what every `--help` ends with.
#[test]
fn the_exit_codes_are_documented_in_every_help() {
    for sub in [
        "check",
        "explain",
        "har",
        "infer",
        "serve",
        "playground",
        "export",
    ] {
        let out = Command::new(bin()).args([sub, "--help"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(corsgate::exit::HELP), "{sub}: {stdout}");
    }
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(corsgate::exit::HELP));
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
