//! The one rule over `scan` and `corsgate test` (contract) outputs: generated
//! endpoints (an origin check of every flawed kind, with or without
//! credentials, `Vary`, preflight answers, redirects, long `Max-Age`,
//! exposed credential headers, dropped connections), served on a real
//! loopback socket, scanned and contract-tested; every finding class and every
//! contract problem kind must appear, and no text of the human, `--json`,
//! SARIF or JUnit output may advise `null`, `*` with credentials or
//! reflecting an origin.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use super::{assert_safe, assert_safe_json, style, Rng};
use crate::{Cli, Command};

/// The origin the endpoints mean to trust.
const TRUSTED: &str = "https://app.example.com";

/// How an endpoint decides which origin to name in `Access-Control-Allow-Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Reflect,
    Null,
    Exact,
    Prefix,
    Suffix,
    UnescapedDot,
    StopsAtOddCharacter,
    Subdomains,
    Http,
    IgnoresTld,
    Substring,
    IgnoresPort,
    ThirdParty,
    Localhost,
    IgnoresCase,
    TrailingDot,
    Star,
    List,
    FixedThirdParty,
}

const CHECKS: &[Check] = &[
    Check::Nothing,
    Check::Reflect,
    Check::Null,
    Check::Exact,
    Check::Prefix,
    Check::Suffix,
    Check::UnescapedDot,
    Check::StopsAtOddCharacter,
    Check::Subdomains,
    Check::Http,
    Check::IgnoresTld,
    Check::Substring,
    Check::IgnoresPort,
    Check::ThirdParty,
    Check::Localhost,
    Check::IgnoresCase,
    Check::TrailingDot,
    Check::Star,
    Check::List,
    Check::FixedThirdParty,
];

/// What the preflight answer allows.
#[derive(Debug, Clone, Copy)]
enum Methods {
    Listed,
    Asked,
    Star,
}

/// A generated endpoint.
#[derive(Debug, Clone)]
struct Endpoint {
    check: Check,
    credentials: bool,
    vary: bool,
    preflight_status: u16,
    get_status: u16,
    methods: Methods,
    max_age: Option<&'static str>,
    expose: Option<&'static str>,
    /// Answers nothing (closes the connection) to origins containing this.
    drop: Option<&'static str>,
}

fn host_of(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, h)| h)
}

impl Endpoint {
    /// The `Access-Control-Allow-Origin` value for a request's `Origin`.
    fn allow(&self, origin: &str) -> Option<String> {
        let yes = |b: bool| b.then(|| origin.to_owned());
        let exact = origin == TRUSTED;
        match self.check {
            Check::Nothing => None,
            Check::Reflect => Some(origin.to_owned()),
            Check::Null => yes(exact || origin == "null"),
            Check::Exact => yes(exact),
            Check::Prefix => yes(origin.starts_with(TRUSTED)),
            Check::Suffix => yes(origin.ends_with("example.com")),
            Check::UnescapedDot => yes(origin.len() == TRUSTED.len()
                && origin
                    .bytes()
                    .zip(TRUSTED.bytes())
                    .all(|(a, b)| b == b'.' || a == b)),
            Check::StopsAtOddCharacter => {
                let end = origin
                    .find(|c: char| !(c.is_ascii_alphanumeric() || ".:/-".contains(c)))
                    .unwrap_or(origin.len());
                yes(&origin[..end] == TRUSTED)
            }
            Check::Subdomains => {
                yes(exact || (origin.starts_with("https://") && origin.ends_with(".example.com")))
            }
            Check::Http => yes(exact || origin == "http://app.example.com"),
            Check::IgnoresTld => {
                yes(origin.rsplit_once('.').map(|(a, _)| a) == Some("https://app.example"))
            }
            Check::Substring => yes(origin.contains("app.example.com")
                || (origin.len() > 12 && TRUSTED.contains(origin))),
            Check::IgnoresPort => yes(origin
                .rsplit_once(':')
                .is_some_and(|(a, p)| a == TRUSTED && p.bytes().all(|b| b.is_ascii_digit()))
                || exact),
            Check::ThirdParty => yes(exact
                || corsgate_core::hostile::is_third_party_host(
                    host_of(origin).split(':').next().unwrap_or_default(),
                )),
            Check::Localhost => {
                yes(exact || origin.contains("localhost") || origin.contains("127.0.0.1"))
            }
            Check::IgnoresCase => yes(origin.eq_ignore_ascii_case(TRUSTED)),
            Check::TrailingDot => yes(exact || origin == "https://app.example.com."),
            Check::Star => Some("*".to_owned()),
            Check::List => Some(format!("{TRUSTED}, https://admin.example.com")),
            Check::FixedThirdParty => Some("https://someone.github.io".to_owned()),
        }
    }

    /// The answer to one request head (`None`: close without answering).
    fn answer(&self, head: &str) -> Option<String> {
        let first = head.split("\r\n").next().unwrap_or_default();
        let method = first.split(' ').next().unwrap_or_default();
        let get = |name: &str| -> Option<String> {
            head.split("\r\n").skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let origin = get("origin");
        if let (Some(d), Some(o)) = (self.drop, &origin) {
            if o.contains(d) {
                return None;
            }
        }
        let allowed = origin.as_deref().and_then(|o| self.allow(o));
        let mut h: Vec<(String, String)> = Vec::new();
        let preflight = method == "OPTIONS" && get("access-control-request-method").is_some();
        let status = if preflight {
            self.preflight_status
        } else {
            self.get_status
        };
        if let Some(a) = &allowed {
            h.push(("Access-Control-Allow-Origin".into(), a.clone()));
            if self.credentials {
                h.push(("Access-Control-Allow-Credentials".into(), "true".into()));
            }
            if preflight {
                let asked_method = get("access-control-request-method").unwrap_or_default();
                let asked_headers = get("access-control-request-headers").unwrap_or_default();
                let (m, hd) = match self.methods {
                    Methods::Listed => ("GET, PUT".to_owned(), "content-type".to_owned()),
                    Methods::Asked => (asked_method, asked_headers),
                    Methods::Star => ("*".to_owned(), "*".to_owned()),
                };
                h.push(("Access-Control-Allow-Methods".into(), m));
                if !hd.is_empty() {
                    h.push(("Access-Control-Allow-Headers".into(), hd));
                }
                if let Some(a) = self.max_age {
                    h.push(("Access-Control-Max-Age".into(), a.into()));
                }
            } else if let Some(e) = self.expose {
                h.push(("Access-Control-Expose-Headers".into(), e.into()));
            }
        }
        if self.vary {
            h.push(("Vary".into(), "Origin".into()));
        }
        if !preflight {
            h.push(("X-Request-Id".into(), "r-1".into()));
            if (300..400).contains(&status) {
                h.push(("Location".into(), "/elsewhere".into()));
            }
        }
        let mut out = format!("HTTP/1.1 {status} X\r\n");
        for (n, v) in h {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
        Some(out)
    }
}

/// Reads a request head (no request here has a body).
fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut byte) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&byte[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Serves every endpoint on one loopback port, endpoint `i` at `/e{i}/x`.
fn serve(endpoints: Arc<Vec<Endpoint>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds a loopback port");
    let port = listener.local_addr().expect("has an address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let endpoints = Arc::clone(&endpoints);
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                let head = read_head(&mut s);
                let path = head.split(' ').nth(1).unwrap_or_default();
                let i: Option<usize> = path
                    .strip_prefix("/e")
                    .and_then(|p| p.split('/').next())
                    .and_then(|n| n.parse().ok());
                if let Some(answer) = i.and_then(|i| endpoints.get(i)?.answer(&head)) {
                    let _ = s.write_all(answer.as_bytes());
                }
            });
        }
    });
    port
}

fn endpoints() -> Vec<Endpoint> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = Vec::new();
    for (i, &check) in CHECKS.iter().enumerate() {
        for credentials in [true, false] {
            out.push(Endpoint {
                check,
                credentials,
                vary: *rng.pick(&[true, false]),
                preflight_status: *rng.pick(&[204, 204, 200, 401]),
                get_status: *rng.pick(&[200, 200, 200, 302]),
                methods: *rng.pick(&[Methods::Listed, Methods::Asked, Methods::Star]),
                max_age: *rng.pick(&[None, Some("600"), Some("86400")]),
                expose: *rng.pick(&[
                    None,
                    Some("x-request-id"),
                    Some("Authorization, X-Session-Token"),
                ]),
                drop: (i % 7 == 3 && credentials).then_some("localhost"),
            });
        }
    }
    // The plain cases, whatever the draws: a redirect, a failing preflight,
    // a long Max-Age, an exposed token header, an endpoint with no Vary.
    let base = Endpoint {
        check: Check::Exact,
        credentials: true,
        vary: true,
        preflight_status: 204,
        get_status: 200,
        methods: Methods::Listed,
        max_age: Some("600"),
        expose: Some("x-request-id"),
        drop: None,
    };
    out.push(Endpoint {
        get_status: 302,
        ..base.clone()
    });
    out.push(Endpoint {
        preflight_status: 401,
        ..base.clone()
    });
    out.push(Endpoint {
        max_age: Some("86400"),
        expose: Some("X-Auth-Token"),
        vary: false,
        ..base.clone()
    });
    out.push(Endpoint {
        expose: None,
        methods: Methods::Asked,
        ..base
    });
    out
}

#[test]
fn generated_endpoints_in_scan_and_contract_outputs() {
    let endpoints = Arc::new(endpoints());
    let port = serve(Arc::clone(&endpoints));
    let dir = std::env::temp_dir().join(format!("corsgate-safe-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("origins = [\"{TRUSTED}\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"content-type\"]\ncredentials = true\nexpose_headers = [\"x-request-id\"]\nmax_age = 600\n"),
    )
    .expect("writes the policy");
    let clients = crate::scan::clients(4, Duration::from_secs(30), &[]).expect("clients");
    struct Quiet;
    impl crate::scan::Observer for Quiet {}

    let mut classes = BTreeSet::new();
    let mut problems = BTreeSet::new();
    let mut texts = 0usize;
    let mut sarif = crate::scan::SarifWriter::new(Vec::new()).expect("a SARIF writer");
    for (i, e) in endpoints.iter().enumerate() {
        let url = format!("http://127.0.0.1:{port}/e{i}/x");
        let case = format!("{e:?}");

        // `corsgate scan`, with the trusted origin and without.
        for trusted in [true, false] {
            let mut argv = vec!["corsgate", "scan", url.as_str()];
            if trusted {
                argv.extend(["--origin", TRUSTED]);
            }
            let Ok(Cli {
                command: Command::Scan(args),
                ..
            }) = Cli::try_parse_from(&argv)
            else {
                panic!("scan arguments: {argv:?}");
            };
            let settings = crate::scan::Settings::from_args(&args).expect("settings");
            let report = crate::scan::scan_target(&settings, &url, &clients, &Quiet)
                .unwrap_or_else(|err| panic!("scan of {case}: {err}"));
            for f in &report.findings {
                classes.insert(f.class.name());
                for t in [&f.title, &f.why, &f.fix.sentence] {
                    assert_safe("scan finding", &case, t);
                }
            }
            let toml = &report.policy.toml;
            assert_safe("scan policy", &case, toml);
            assert!(
                !toml.contains("\"null\"") && !toml.contains("\"*\""),
                "scan policy for {case}: {toml}"
            );
            assert_safe(
                "scan (human)",
                &case,
                &crate::scan::render(&report, &style()),
            );
            let json = serde_json::to_value(&report).expect("a report serializes");
            assert_safe_json("scan --json", &case, &json);
            sarif.report(&report).expect("SARIF in memory");
            texts += 3 + 3 * report.findings.len();
        }

        // `corsgate test` against the policy.
        let argv = [
            "corsgate",
            "test",
            url.as_str(),
            "--policy",
            policy.to_str().expect("a UTF-8 temp path"),
        ];
        let Ok(Cli {
            command: Command::Test(args),
            ..
        }) = Cli::try_parse_from(argv)
        else {
            panic!("test arguments: {argv:?}");
        };
        let report =
            crate::contract::run(&args).unwrap_or_else(|err| panic!("test of {case}: {err}"));
        for c in &report.cases {
            for p in &c.problems {
                problems.insert(p.code);
                assert_safe("test problem", &case, &p.message);
                assert_safe("test fix", &case, &p.fix.sentence);
            }
        }
        assert_safe(
            "test (human)",
            &case,
            &crate::contract::render(&report, &style()),
        );
        assert_safe("test (junit)", &case, &crate::contract::junit(&report));
        let json = serde_json::to_value(&report).expect("a report serializes");
        assert_safe_json("test --json", &case, &json);
        texts += 3;
    }
    let sarif = sarif.finish(1, "corsgate scan").expect("SARIF ends");
    let sarif: serde_json::Value = serde_json::from_slice(&sarif).expect("SARIF is JSON");
    assert_safe_json("scan --sarif", "every endpoint", &sarif);
    // Every rule text too, read whole (help with its description).
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
    {
        let all = ["shortDescription", "fullDescription", "help"]
            .map(|k| rule[k]["text"].as_str().unwrap_or_default())
            .join(" ");
        assert_safe("SARIF rule", &rule["id"].to_string(), &all);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let all: BTreeSet<&str> = crate::scan::FindingClass::ALL
        .iter()
        .map(|c| c.name())
        .collect();
    let missing: Vec<&&str> = all.difference(&classes).collect();
    assert!(
        missing.is_empty(),
        "finding classes never generated: {missing:?}"
    );
    let kinds = [
        "readable_but_refused",
        "refused_but_allowed",
        "looser_than_policy",
        "not_exposed",
        "no_vary_origin",
        "not_sent",
    ];
    let missing: Vec<&&str> = kinds.iter().filter(|k| !problems.contains(**k)).collect();
    assert!(
        missing.is_empty(),
        "contract problems never generated: {missing:?}"
    );
    eprintln!(
        "scan and test: {} endpoints, {} finding classes, {} problem kinds, {texts} texts checked",
        endpoints.len(),
        classes.len(),
        problems.len()
    );
}
