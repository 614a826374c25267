//! The table of `serve` arguments, exit codes and streams, shared by
//! `corsgate`'s and `corsgate-gateway`'s tests (each runs its own binary).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("the binary runs")
}

struct Case {
    args: Vec<String>,
    code: i32,
    /// Text that must be in standard output (when `code` is 0) or standard
    /// error (otherwise); the other stream must be empty.
    says: &'static str,
}

/// Runs every case through `bin serve …`.
pub(crate) fn check_serve_cli(bin: &Path) {
    let dir = tempdir();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n\n[[routes]]\npath = \"/\"\ncors = false\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:0\"\nupstream = 5\n").unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let busy_file = dir.join("busy.toml");
    std::fs::write(
        &busy_file,
        format!("listen = \"{busy_addr}\"\nupstream = \"http://127.0.0.1:1\"\n\n[[routes]]\npath = \"/\"\ncors = false\n"),
    )
    .unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let p = |f: &std::path::Path| f.to_string_lossy().into_owned();
    let cases = [
        Case {
            args: s(&["--help"]),
            code: 0,
            says: "--config <FILE>",
        },
        Case {
            args: s(&["-h"]),
            code: 0,
            says: "--demo",
        },
        Case {
            args: s(&[]),
            code: 2,
            says: "--config <FILE>|--demo",
        },
        Case {
            args: s(&["--demo", "--config", "x.toml"]),
            code: 2,
            says: "cannot be used with",
        },
        Case {
            args: s(&["--demo", "--listen", "nope"]),
            code: 2,
            says: "invalid value 'nope'",
        },
        Case {
            args: s(&["--check", "--demo"]),
            code: 2,
            says: "--config",
        },
        Case {
            args: s(&["--config", "x.toml", "--frobnicate"]),
            code: 2,
            says: "--frobnicate",
        },
        Case {
            args: vec!["--config".into(), p(&good), "--check".into()],
            code: 0,
            says: "configuration OK",
        },
        Case {
            args: vec!["--config".into(), p(&bad), "--check".into()],
            code: 2,
            says: "line 2, column 12",
        },
        Case {
            args: vec!["--config".into(), p(&bad)],
            code: 2,
            says: "line 2, column 12",
        },
        Case {
            args: vec!["--config".into(), p(&dir.join("missing.toml"))],
            code: 2,
            says: "cannot read",
        },
        Case {
            args: vec!["--config".into(), p(&busy_file)],
            code: 2,
            says: "cannot listen on",
        },
    ];
    for case in &cases {
        let mut args = vec!["serve".to_string()];
        args.extend(case.args.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(bin, &refs);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let what = format!(
            "{} {:?}: stdout {stdout:?} stderr {stderr:?}",
            bin.display(),
            case.args
        );
        assert_eq!(out.status.code(), Some(case.code), "{what}");
        if case.code == 0 {
            assert!(stdout.contains(case.says), "{what}");
            assert!(stderr.is_empty(), "{what}");
        } else {
            assert!(stderr.contains(case.says), "{what}");
            assert!(stdout.is_empty(), "{what}");
        }
    }
    // The busy port's own address is named.
    let out = run(bin, &["serve", "--config", &p(&busy_file)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&busy_addr));
    drop(busy);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "corsgate-serve-cli-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
