//! `corsgate export`, proven against the real servers on loopback.
//!
//! For several policies, the exported nginx (and Apache httpd) configuration
//! runs in front of a loopback upstream that sets misleading CORS headers of
//! its own (`Access-Control-Allow-Origin: *` and friends) and answers 200, 404
//! or 500. A matrix of browser fetches (origins that match, near misses,
//! `null`, an http downgrade; simple requests and preflighted ones with
//! allowed and refused methods and headers) is run twice through corsgate's
//! browser role: once against the real server, once against
//! `Policy::decide`'s answer to the same request in front of the same
//! upstream answer. The two verdicts must agree: allowed or refused (and why),
//! the readable status, and the readable headers.
//!
//! Then raw requests no browser sends probe what the servers cannot express;
//! each documented difference is asserted to be exactly that difference.
//!
//! A generated table of path forms (`/%61pi/`, `//api/`, `/x/../api/`, `..;`,
//! `%2F`, case variants, escapes out of the location, the absolute form) goes
//! through each server in front of a hostile upstream that reflects any
//! Origin with credentials, under the server settings that change
//! normalization and beside a catch-all proxy: every answer is a refusal or
//! carries exactly the policy's CORS headers. Headless Chromium confirms it
//! for `/%61pi/items` on a refused origin.
//!
//! Needs nginx and Apache httpd (Debian packages nginx and apache2; scripts/test
//! installs them).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/edge.rs"]
mod edge;
#[path = "common/nginx_apache.rs"]
mod nginx_apache;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

use corsgate_core::decision::Action;
use corsgate_core::{Browser, Credentials, Outgoing, Policy, Profile, Request, Response, Verdict};
use http::{HeaderMap, Method};

use nginx_apache::Server;

use edge::{
    cors_lines, decided_lines, decode_all, exchange, export, fetch_each, free_port, probe_table,
    real, reference_with, seen, serve_page, start_hostile, start_upstream_with, temp_dir,
    try_exchange, Case, Probe, Upstream, API, BIN, EVIL, GOOD, PATHS, POLICIES, SPECS,
};

// ---------------------------------------------------------------------------
// The policies and the request matrix.

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "https://a.example.com",
    "https://b.a.example.com",
    "https://example.com",
    "https://evil-example.com",
    "https://evilexample.com",
    "https://example.com.evil.net",
    "https://app.example.com.evil.net",
    "null",
    "http://app.example.com",
    "https://app.example.com:8443",
    "https://x.preview.example.net:8443",
    "https://preview.example.net",
    "http://localhost:5173",
    "http://localhost:3000",
    "http://localhost",
    "https://a.example.org",
    "https://app.example.org",
    "https://example.org",
];

// ---------------------------------------------------------------------------
// The upstream: a loopback HTTP/1.1 server that counts what reaches it.

fn start_upstream() -> Upstream {
    start_upstream_with(false)
}

// ---------------------------------------------------------------------------
// The two ways of answering a browser's request.

/// What `Policy::decide` answers, in front of the same upstream answer.
fn reference(policy: &Policy, out: &Outgoing, status: u16) -> Response {
    reference_with(policy, out, status, false)
}

// ---------------------------------------------------------------------------
// Raw requests no browser sends: where the servers cannot follow
// `Policy::decide`, and the answer each gives instead.

/// Run against the first policy (exact origins, credentials): the first eight
/// of the shared table in tests/common/edge.rs (the later ones are Caddy's and
/// HAProxy's).
const PROBES: &[Probe] = edge::PROBES.split_at(8).0;

/// The documented differences (docs/export.md), per server: which probe, and
/// the (status, Access-Control-Allow-Origin) the server gives instead of
/// `Policy::decide`'s.
fn documented(server: Server, what: &str) -> Option<(u16, Option<&'static str>)> {
    match (server, what) {
        // nginx map keys ignore case; the answer names the policy's lower-case
        // origin, which a browser would refuse for an upper-case one.
        (Server::Nginx, "an upper-case exact origin on a preflight") => {
            Some((204, Some("https://app.example.com")))
        }
        // nginx's own request parser refuses lower-case methods.
        (Server::Nginx, "a lower-case options method") => Some((400, None)),
        // An empty header reads as absent: an ordinary request, proxied.
        (Server::Nginx | Server::Apache, "an empty Access-Control-Request-Method") => {
            Some((200, Some("https://app.example.com")))
        }
        // nginx reads the first Origin line only.
        (Server::Nginx, "two Origin lines") => Some((200, Some("https://app.example.com"))),
        // nginx reads the first line only, and allows what it lists.
        (Server::Nginx, "Access-Control-Request-Headers in two lines") => {
            Some((204, Some("https://app.example.com")))
        }
        // Neither counts empty elements.
        (Server::Nginx | Server::Apache, "17 empty elements in Access-Control-Request-Headers") => {
            Some((204, Some("https://app.example.com")))
        }
        _ => None,
    }
}

fn run_probes(server: Server, port: u16, policy: &Policy) -> Vec<String> {
    probe_table(
        server.name(),
        PROBES,
        &move |what| documented(server, what),
        port,
        policy,
    )
}

/// Legacy Private Network Access (the browser role does not model it): the
/// preflight's `Access-Control-Allow-Private-Network` is compared directly.
fn private_network(server: Server, port: u16, policy: &Policy) {
    for (origin, asked) in [
        ("https://app.example.com", Some("true")),
        ("https://app.example.com", Some("TRUE")),
        ("https://app.example.com", Some("false")),
        ("https://app.example.com", None),
        ("http://localhost:5173", Some("true")),
        ("https://evil.example", Some("true")),
    ] {
        let mut lines = vec![
            ("Origin".to_owned(), origin.as_bytes().to_vec()),
            ("Access-Control-Request-Method".to_owned(), b"PUT".to_vec()),
        ];
        if let Some(a) = asked {
            lines.push((
                "Access-Control-Request-Private-Network".to_owned(),
                a.as_bytes().to_vec(),
            ));
        }
        let got = exchange(port, "OPTIONS", "/api/items", &lines);
        let mut map = HeaderMap::new();
        for (n, v) in &lines {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v).unwrap(),
            );
        }
        let d = policy.decide(&Method::OPTIONS, &map);
        let want = d.headers().to_header_map();
        let want_pna = want
            .get("access-control-allow-private-network")
            .map(|v| v.as_bytes().to_vec());
        let got_pna = got
            .headers
            .get("access-control-allow-private-network")
            .map(|v| v.into_owned());
        let Action::Respond(status) = d.action() else {
            panic!("a preflight")
        };
        assert_eq!(
            (got.status, got_pna),
            (status.as_u16(), want_pna),
            "{}: private network preflight from {origin} asking {asked:?}",
            server.name()
        );
    }
}

// ---------------------------------------------------------------------------
// The equivalence run.

/// The one documented difference a browser can meet: `fetch()` sends methods
/// other than DELETE, GET, HEAD, OPTIONS, POST and PUT as written, so a policy
/// that allows `patch` (or any method) lets the preflight through, and the
/// actual `patch` request then never reaches nginx's configuration: nginx's
/// request parser refuses a method that is not upper case with a bare 400.
fn inexpressible(
    server: Server,
    method: &str,
    want: &Verdict,
    got: &Verdict,
    last_status: u16,
) -> Option<&'static str> {
    let lower_method = method.bytes().any(|b| b.is_ascii_lowercase());
    let refused_by_parser = last_status == 400
        && got.refusal().is_some()
        && got
            .reason
            .as_ref()
            .is_some_and(|r| r.code == "missing_allow_origin");
    (server == Server::Nginx && lower_method && want.allowed && refused_by_parser)
        .then_some("nginx refuses a request whose method is not upper case (e.g. fetch's `patch`) with 400 before any configuration applies")
}

fn equivalence(server: Server) {
    let upstream = start_upstream();
    let mut total = 0usize;
    let mut disagreements = Vec::new();
    let mut allowed = 0usize;
    let mut documented_seen = Vec::new();
    let mut known = std::collections::BTreeMap::new();
    // Answers of an origin-dependent policy without `Vary: Origin`.
    let mut vary_missing = 0usize;
    let mut contract_cases = 0;
    let mut contract_failures = Vec::new();
    for (i, case) in POLICIES.iter().enumerate() {
        let policy = Policy::from_toml(case.toml).unwrap();
        let any = policy.config().origins == ["*"];
        let dir = temp_dir(server.name());
        let file = dir.join("policy.toml");
        std::fs::write(&file, case.toml).unwrap();
        let exported = export(server.name(), &file, upstream.port);
        let port = free_port();
        let running = server.start(&exported, &dir, port);
        let before = upstream.preflights.load(Ordering::SeqCst);
        for origin in ORIGINS {
            for spec in SPECS {
                for (path, status) in PATHS {
                    for profile in Profile::ALL {
                        let build = || {
                            let mut b = Request::builder(*origin, format!("{API}{path}"))
                                .method(spec.method);
                            for (n, v) in spec.headers {
                                b = b.header(*n, *v);
                            }
                            if spec.include {
                                b = b.credentials(Credentials::Include);
                            }
                            b.build().unwrap()
                        };
                        let want = Browser::new(profile)
                            .run(build(), |out| Ok::<_, ()>(reference(&policy, out, *status)))
                            .unwrap();
                        let mut last_status = 0;
                        let got = Browser::new(profile)
                            .run(build(), |out| {
                                let r = real(port, out);
                                last_status = r.status;
                                let vary_origin = r
                                    .headers
                                    .get_all("vary")
                                    .flat_map(|v| v.split(|b| *b == b','))
                                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"origin"));
                                if !any && !vary_origin && r.status != 400 {
                                    vary_missing += 1;
                                }
                                Ok::<_, ()>(r)
                            })
                            .unwrap();
                        total += 1;
                        allowed += usize::from(want.allowed);
                        if seen(&want) == seen(&got) {
                            continue;
                        }
                        if let Some(why) =
                            inexpressible(server, spec.method, &want, &got, last_status)
                        {
                            *known.entry(why).or_insert(0usize) += 1;
                        } else {
                            disagreements.push(format!(
                                "[{}] {origin} {} {:?} include={} {path} {profile:?}\n  Policy::decide: {:?}\n  {}: {:?}\n{got}",
                                case.name,
                                spec.method,
                                spec.headers,
                                spec.include,
                                seen(&want),
                                server.name(),
                                seen(&got),
                            ));
                        }
                    }
                }
            }
        }
        assert_eq!(
            upstream.preflights.load(Ordering::SeqCst),
            before,
            "{}: a preflight reached the upstream ({})",
            server.name(),
            case.name
        );
        if i == 0 {
            documented_seen = run_probes(server, port, &policy);
        }
        if policy.config().private_network {
            private_network(server, port, &policy);
        }
        // The other tool on the same server: `corsgate test` finds every
        // case of its contract kept.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
            .args([
                "test",
                &format!("http://127.0.0.1:{port}/api/items"),
                "--json",
                "--policy",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        contract_cases += report["summary"]["cases"].as_u64().unwrap_or(0);
        // Documented: nginx's parser answers 400 to a lower-case method
        // (`patch`), before any configuration runs.
        let undocumented = report["cases"].as_array().is_none_or(|cases| {
            cases.iter().any(|c| {
                let method = c["method"].as_str().unwrap_or_default();
                c["pass"] != true
                    && !(server == Server::Nginx && method != method.to_ascii_uppercase())
            })
        });
        if out.status.code() == Some(2) || undocumented {
            contract_failures.push(format!(
                "[{}] corsgate test exit {:?}: {}{}",
                case.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        drop(running);
    }
    println!(
        "{}: {total} browser fetches ({} policies × {} origins × {} requests × {} statuses × {} browser profiles), {allowed} allowed, {} disagreements; {} upstream requests",
        server.name(),
        POLICIES.len(),
        ORIGINS.len(),
        SPECS.len(),
        PATHS.len(),
        Profile::ALL.len(),
        disagreements.len(),
        upstream.requests.load(Ordering::SeqCst),
    );
    for (why, n) in &known {
        println!("{}: {n} fetches differ as documented: {why}", server.name());
    }
    println!(
        "{}: {} raw probes, {} documented differences:",
        server.name(),
        PROBES.len(),
        documented_seen.len()
    );
    for d in &documented_seen {
        println!("  {d}");
    }
    assert_eq!(
        vary_missing,
        0,
        "{}: answers without Vary: Origin",
        server.name()
    );
    println!(
        "{}: corsgate test ran {contract_cases} contract cases, {} policies failed",
        server.name(),
        contract_failures.len()
    );
    assert!(
        contract_failures.is_empty(),
        "{}",
        contract_failures.join("\n")
    );
    assert!(
        disagreements.is_empty(),
        "{} of {total} fetches disagree; the first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn nginx_answers_as_policy_decide() {
    equivalence(Server::Nginx);
}

#[test]
fn apache_answers_as_policy_decide() {
    equivalence(Server::Apache);
}

// ---------------------------------------------------------------------------
// The command itself.

#[test]
fn a_malformed_policy_is_refused_with_its_location() {
    let dir = temp_dir("bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "origins = [\n  \"https://app.example.com\",\n  \"https://*.com\",\n]\ncredentials = true\n",
    )
    .unwrap();
    for to in ["nginx", "apache", "envoy"] {
        let out = Command::new(BIN)
            .args(["export", "--to", to])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{to}");
        assert!(out.stdout.is_empty(), "{to}: nothing is printed on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("line 3, column 3"), "{to}: {err}");
        assert!(err.contains("public suffix"), "{to}: {err}");
        assert!(err.contains("bad.toml"), "{to}: {err}");
    }
    // A TOML syntax error, and `*` with credentials.
    std::fs::write(&file, "origins = [\"*\"]\ncredentials = tru\n").unwrap();
    let out = Command::new(BIN)
        .args(["export", "--to", "nginx"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&file, "origins = [\"*\"]\ncredentials = true\n").unwrap();
    let out = Command::new(BIN)
        .args(["export", "--to", "apache"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2, column 15") || err.contains("line 1"),
        "{err}"
    );
    // A missing file, and an upstream that would inject configuration.
    let out = Command::new(BIN)
        .args(["export", "--to", "nginx", "/nonexistent/p.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(&file, "origins = [\"https://app.example.com\"]\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "export",
            "--to",
            "nginx",
            "--upstream",
            "http://a; return 200",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nothing_unsafe_is_emitted() {
    let dir = temp_dir("safe");
    for case in POLICIES {
        let file = dir.join("p.toml");
        std::fs::write(&file, case.toml).unwrap();
        let policy = Policy::from_toml(case.toml).unwrap();
        for to in ["nginx", "apache", "envoy"] {
            let text = export(to, &file, 8000);
            let lower = text.to_ascii_lowercase();
            assert!(!lower.contains("\"null\""), "{to} {}", case.name);
            if policy.credentials() {
                let wildcard = match to {
                    "envoy" => text.contains(": \"*\"") || text.contains("regex: \".*\""),
                    _ => text.contains("\"*\""),
                };
                assert!(!wildcard, "{to} {}: * with credentials\n{text}", case.name);
            }
            // The origin is echoed only where a map entry or condition matched it.
            if to == "nginx" {
                assert!(!text.contains("default $http_origin"), "{}", case.name);
            }
        }
    }
}

/// Envoy with `--name`: the virtual host and the cluster carry the name (no
/// Envoy here to run it; the text is checked).
#[test]
fn a_named_envoy_export_renames_its_virtual_host_and_cluster() {
    let dir = temp_dir("named-envoy");
    let p = dir.join("p.toml");
    std::fs::write(&p, "origins = [\"https://a.example.com\"]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(["export", "--to", "envoy", "--name", "api"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("  - name: corsgate_api\n"), "{text}");
    assert!(text.contains("cluster: corsgate_api_upstream"), "{text}");
    assert!(text.contains("- name: corsgate_api_upstream"), "{text}");
    assert!(
        !text.contains("corsgate_upstream") && !text.contains("  - name: corsgate\n"),
        "{text}"
    );
}

/// Two policies, each exported with its own `--name`, in one nginx and in one
/// Apache: the servers start, and `corsgate test` finds each location keeping
/// its own policy's contract (and not the other's).
#[test]
fn named_exports_share_one_server() {
    let upstream = start_upstream();
    let a = "origins = [\"https://a.example.com\"]\nmethods = [\"PUT\"]\ncredentials = true\n";
    let b = "origins = [\"https://*.b.example.org\"]\nrequest_headers = [\"x-b\"]\n";
    for server in [Server::Nginx, Server::Apache] {
        let dir = temp_dir(&format!("named-{}", server.name()));
        let (pa, pb) = (dir.join("a.toml"), dir.join("b.toml"));
        std::fs::write(&pa, a).unwrap();
        std::fs::write(&pb, b).unwrap();
        let named = |policy: &Path, name: &str, location: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_corsgate"))
                .args([
                    "export",
                    "--to",
                    server.name(),
                    "--name",
                    name,
                    "--location",
                    location,
                ])
                .args(["--upstream", &format!("http://127.0.0.1:{}", upstream.port)])
                .arg(policy)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let (ea, eb) = (named(&pa, "a", "/a/"), named(&pb, "b", "/b/"));
        let bad = Command::new(env!("CARGO_BIN_EXE_corsgate"))
            .args(["export", "--to", server.name(), "--name", "a-b"])
            .arg(&pa)
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("letters, digits and '_'"));
        // Every variable was renamed (the renaming is a pass over the output).
        let bare = match server {
            Server::Nginx => "$corsgate_allow_origin",
            Server::Apache => "env=CORSGATE_ALLOW",
        };
        assert!(
            !ea.contains(bare) && !eb.contains(bare),
            "{}",
            server.name()
        );
        let combined = match server {
            Server::Nginx => {
                let marker = "# ---- server {} context";
                let (ha, sa) = ea.split_once(marker).unwrap();
                let (hb, sb) = eb.split_once(marker).unwrap();
                // The rest of b's marker line goes with the marker.
                let sb = sb.split_once('\n').map_or("", |(_, rest)| rest);
                format!("{ha}\n{hb}\n{marker}{sa}\n{sb}")
            }
            Server::Apache => format!("{ea}\n{eb}"),
        };
        let port = free_port();
        let running = server.start(&combined, &dir, port);
        for (path, policy, other) in [("/a/items", &pa, &pb), ("/b/items", &pb, &pa)] {
            let url = format!("http://127.0.0.1:{port}{path}");
            let run = |p: &Path| {
                Command::new(env!("CARGO_BIN_EXE_corsgate"))
                    .args(["test", &url, "--json", "--policy"])
                    .arg(p)
                    .output()
                    .unwrap()
            };
            let own = run(policy);
            assert_eq!(
                own.status.code(),
                Some(0),
                "{} {path}: {}",
                server.name(),
                String::from_utf8_lossy(&own.stdout)
            );
            // The other policy's contract is not what this location keeps.
            assert_eq!(
                run(other).status.code(),
                Some(1),
                "{} {path}",
                server.name()
            );
        }
        drop(running);
    }
}

// ---------------------------------------------------------------------------
// Path forms: no request reaches the upstream without the policy's headers.
//
// In front of a hostile upstream (it reflects any Origin with credentials,
// answers every method, and says which path it received), a generated table
// of path forms is sent to each server: percent-encoded letters of the
// location, encoded slashes and backslashes, encoded dot segments, `/./`,
// `/x/../`, `..;`, doubled slashes, case variants, escapes out of the location
// and the absolute form. Each answer must be either a refusal without CORS
// headers, or carry exactly `Policy::decide`'s CORS headers; an answer that
// came from the upstream must carry exactly the policy's, and the path the
// upstream received must be inside the location once decoded.

/// The request targets to try, each with the class it belongs to. The
/// location is `/api/`; the upstream's `/secret` is outside it.
fn path_forms(port: u16) -> Vec<(&'static str, String)> {
    // The location's segment, written every way a server might read as `api`.
    let mut segments: Vec<(&'static str, String)> = vec![("plain", "api".into())];
    let word = "api";
    for (i, c) in word.char_indices() {
        for hex in [format!("%{:02X}", c as u32), format!("%{:02x}", c as u32)] {
            segments.push((
                "percent-encoded letter",
                format!("{}{hex}{}", &word[..i], &word[i + 1..]),
            ));
        }
    }
    segments.push(("percent-encoded letter", "%61%70%69".into()));
    segments.push(("percent-encoded letter", "%41%50%49".into()));
    for case in ["API", "Api", "aPi", "apI"] {
        segments.push(("case variant", case.into()));
    }
    for (class, s) in [
        ("double encoding", "%2561pi"),
        ("overlong UTF-8", "%C1%A1pi"),
        ("full-width letter", "%EF%BD%81pi"),
        ("path parameter", "api;x"),
        ("path parameter", "api;"),
        ("path parameter", "api%3B"),
        ("trailing junk", "api."),
        ("trailing junk", "api%20"),
        ("trailing junk", "api%00"),
        ("trailing junk", "api%09"),
    ] {
        segments.push((class, s.into()));
    }
    // What comes before it: slashes, dot segments (plain and encoded), `..;`,
    // encoded slashes and backslashes.
    let prefixes: &[(&str, &str)] = &[
        ("plain", "/"),
        ("double slash", "//"),
        ("double slash", "///"),
        ("dot segment", "/./"),
        ("dot segment", "/x/../"),
        ("dot segment", "/x/y/../../"),
        ("encoded dot segment", "/%2e/"),
        ("encoded dot segment", "/x/%2e%2e/"),
        ("encoded dot segment", "/x/.%2E/"),
        ("encoded dot segment", "/x/%2E./"),
        ("..;", "/x/..;/"),
        ("..;", "/x/%2e%2e;/"),
        ("encoded slash", "/x%2F..%2F"),
        ("encoded slash", "/x/..%2f"),
        ("encoded slash", "%2F"),
        ("backslash", "/x/..%5C"),
        ("backslash", "/x/..\\"),
        ("fragment", "/x#/../"),
        ("query", "/x?/../"),
    ];
    // What comes after it: the item, and escapes out of the location.
    let suffixes: &[(&str, &str)] = &[
        ("plain", "/items"),
        ("double slash", "//items"),
        ("dot segment", "/./items"),
        ("dot segment", "/x/../items"),
        ("encoded slash", "%2Fitems"),
        ("escape", "/../secret"),
        ("escape", "/%2e%2e/secret"),
        ("escape", "/.%2e/secret"),
        ("escape", "/..%2Fsecret"),
        ("escape", "/..;/secret"),
        ("escape", "/%2e%2e;/secret"),
        ("escape", "/..%3Bsecret"),
        ("escape", "/..%5Csecret"),
        ("escape", "/..\\secret"),
        ("escape", "/items/..%2F..%2Fsecret"),
        ("escape", "/items%2F..%2F..%2Fsecret"),
        ("escape", "/%C0%AE%C0%AE/secret"),
        ("fragment", "/items#/../../secret"),
    ];
    let mut out = Vec::new();
    // Every way of writing the segment, after every prefix.
    for (sc, seg) in &segments {
        for (pc, prefix) in prefixes {
            let class = if *pc == "plain" { sc } else { pc };
            out.push((*class, format!("{prefix}{seg}/items")));
        }
    }
    // Every suffix, after every prefix, with the plain and an encoded segment.
    for seg in ["api", "%61pi"] {
        for (pc, prefix) in prefixes {
            for (xc, suffix) in suffixes {
                let class = if *xc != "plain" { xc } else { pc };
                out.push((*class, format!("{prefix}{seg}{suffix}")));
            }
        }
    }
    // The absolute form, and a query that looks like a path.
    for p in [
        "/api/items",
        "/%61pi/items",
        "/x/../api/items",
        "//api/items",
    ] {
        out.push(("absolute form", format!("http://127.0.0.1:{port}{p}")));
        out.push(("absolute form", format!("http://other.example{p}")));
        out.push(("absolute form", format!("HTTP://127.0.0.1:{port}{p}")));
    }
    out.push(("query", "/api/items?/../secret".into()));
    out.push(("query", "/%61pi/items?x=/api/".into()));
    out.sort();
    out.dedup();
    out
}

/// Whether the most lenient upstream reads a path it received as inside
/// `/api/`: decoded up to three times (for upstreams that decode again), `\`
/// as `/`, a segment's `;` parameters dropped (so `..;` is `..` and `api;x`
/// is `api`, as Tomcat reads them), trailing dots and spaces dropped (as
/// Windows does), case ignored, dot segments resolved.
fn lenient_inside(received: &str) -> bool {
    let path = received.split(['?', '#']).next().unwrap_or("");
    let decoded = decode_all(&decode_all(&decode_all(path))).replace('\\', "/");
    let mut stack: Vec<String> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        // Windows (IIS) also drops a segment's trailing dots and spaces.
        let name = seg.split(';').next().unwrap_or("").to_ascii_lowercase();
        let name = match name.as_str() {
            "." | ".." => name,
            _ => name.trim_end_matches(['.', ' ']).to_owned(),
        };
        match name.as_str() {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            _ => stack.push(name),
        }
    }
    // `/api` alone is not under `/api/`; a trailing empty segment makes it so.
    stack.first().map(String::as_str) == Some("api")
        && (stack.len() > 1 || decoded.trim_end_matches('/').len() < decoded.len())
}

/// Whether a path the exported block forwarded stays inside `/api/` as
/// written and however the upstream reads it.
fn inside_location(received: &str) -> bool {
    received.starts_with("/api/") && lenient_inside(received)
}

/// One server against the table; returns (forms, answered by the upstream,
/// refused) and the problems found.
///
/// `extra` may hold `{UPSTREAM}`, the hostile upstream's port: a catch-all
/// proxy to the same upstream, as many servers have beside the exported
/// block. Then an answer from the upstream to a path outside the location is
/// the catch-all's business; but any path the upstream may read as inside
/// `/api/` must still carry exactly the policy's headers.
fn path_table(server: Server, extra: &str, case: &Case) -> (usize, usize, usize, Vec<String>) {
    let hostile = start_hostile("export");
    let catch_all = extra.contains("{UPSTREAM}");
    let extra = &extra.replace("{UPSTREAM}", &hostile.port.to_string());
    let policy = Policy::from_toml(case.toml).unwrap();
    let dir = temp_dir(&format!("paths-{}", server.name()));
    let file = dir.join("policy.toml");
    std::fs::write(&file, case.toml).unwrap();
    let exported = export(server.name(), &file, hostile.port);
    let port = free_port();
    let running = server.start_with(&exported, &dir, port, extra);
    let setting = if extra.is_empty() {
        "defaults".to_owned()
    } else {
        extra.replace('\n', "; ")
    };
    let requests: [(&str, &[(&str, &str)]); 4] = [
        ("GET", &[("Origin", EVIL), ("Cookie", "session=1")]),
        (
            "OPTIONS",
            &[
                ("Origin", EVIL),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        ),
        ("GET", &[("Origin", GOOD), ("Cookie", "session=1")]),
        (
            "OPTIONS",
            &[
                ("Origin", GOOD),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        ),
    ];
    let forms = path_forms(port);
    let (mut upstream_answers, mut refused, mut outside) = (0, 0, 0);
    let mut problems = Vec::new();
    let mut covered_plain = false;
    let mut covered_encoded = false;
    for (class, target) in &forms {
        for (method, lines) in &requests {
            let what = format!(
                "{} ({setting}) [{class}] {method} {target} from {}",
                server.name(),
                lines[0].1
            );
            let Some(r) = try_exchange(port, method, target, lines) else {
                refused += 1;
                continue;
            };
            let got = cors_lines(&r.headers);
            let want = decided_lines(&policy, method, lines);
            let acao: Vec<_> = got
                .iter()
                .filter(|(n, _)| n == "access-control-allow-origin")
                .collect();
            if acao.len() > 1 {
                problems.push(format!(
                    "{what}: {} Access-Control-Allow-Origin lines: {got:?}",
                    acao.len()
                ));
            }
            let upstream_path = r
                .headers
                .get_all("x-upstream-path")
                .next()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            // Through the catch-all, outside the location: not the policy's business.
            if catch_all && upstream_path.as_deref().is_some_and(|p| !lenient_inside(p)) {
                outside += 1;
                continue;
            }
            if lines[0].1 == EVIL && got.iter().any(|(_, v)| v == EVIL) {
                problems.push(format!("{what}: the refused origin is echoed: {got:?}"));
            }
            match upstream_path {
                Some(p) => {
                    upstream_answers += 1;
                    if *method == "OPTIONS" {
                        problems.push(format!("{what}: a preflight reached the upstream as {p}"));
                    }
                    if got != want {
                        problems.push(format!(
                            "{what}: {} from the upstream with {got:?}, not the policy's {want:?}",
                            r.status
                        ));
                    }
                    if !inside_location(&p) {
                        problems.push(format!(
                            "{what}: the upstream received {p:?}, outside /api/"
                        ));
                    }
                    if lines[0].1 == GOOD && *method == "GET" {
                        covered_plain |= target == "/api/items";
                        covered_encoded |= target == "/%61pi/items";
                    }
                }
                None => {
                    if !got.is_empty() && got != want {
                        problems.push(format!(
                            "{what}: {} with {got:?}, neither no CORS headers nor the policy's {want:?}",
                            r.status
                        ));
                    }
                    refused += 1;
                }
            }
        }
    }
    if !covered_plain || !covered_encoded {
        problems.push(format!(
            "{} ({setting}): /api/items reached the upstream: {covered_plain}; /%61pi/items: {covered_encoded} (both must, or the table proves nothing)",
            server.name()
        ));
    }
    // Without a catch-all, nothing reached the upstream outside the location
    // (the upstream's own log).
    for p in hostile.paths.lock().map(|p| p.clone()).unwrap_or_default() {
        if !catch_all && !inside_location(&p) {
            problems.push(format!(
                "{} ({setting}): the upstream's log holds {p:?}, outside /api/",
                server.name()
            ));
        }
    }
    drop(running);
    if catch_all {
        println!(
            "{} ({setting}): {outside} answers from the catch-all, outside the location",
            server.name()
        );
    }
    (
        forms.len() * requests.len(),
        upstream_answers,
        refused,
        problems,
    )
}

/// Runs the table with the first policy (exact origins, credentials) once
/// per server setting that changes what the server normalizes before
/// matching (and what it forwards), and with the any-origin policy once.
fn path_forms_are_covered_or_refused(server: Server, settings: &[&str]) {
    let mut all = Vec::new();
    let runs = settings
        .iter()
        .map(|s| (*s, &POLICIES[0]))
        .chain([("", &POLICIES[2])]);
    for (extra, case) in runs {
        let (sent, upstream, refused, problems) = path_table(server, extra, case);
        println!(
            "{} ({}, {}): {sent} requests over the path forms: {upstream} answered by the upstream (with the policy's headers), {refused} refused, {} problems",
            server.name(),
            case.name,
            if extra.is_empty() { "defaults".to_owned() } else { extra.replace('\n', "; ") },
            problems.len()
        );
        all.extend(problems);
    }
    assert!(
        all.is_empty(),
        "{} problems; the first ones:\n{}",
        all.len(),
        all.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn nginx_path_forms_are_covered_or_refused() {
    path_forms_are_covered_or_refused(
        Server::Nginx,
        &[
            "",
            "merge_slashes off;",
            "location / { proxy_pass http://127.0.0.1:{UPSTREAM}; }",
        ],
    );
}

#[test]
fn apache_path_forms_are_covered_or_refused() {
    path_forms_are_covered_or_refused(
        Server::Apache,
        &[
            "",
            "MergeSlashes Off\nAllowEncodedSlashes NoDecode",
            "AllowEncodedSlashes On",
            "ProxyPass / http://127.0.0.1:{UPSTREAM}/",
            "AllowEncodedSlashes NoDecode\nProxyPass / http://127.0.0.1:{UPSTREAM}/ nocanon",
        ],
    );
}

// ---------------------------------------------------------------------------
// The same in a real browser: headless Chromium on a page whose origin the
// policy refuses.

/// Serves one page (for any path) on loopback; its origin is the refused one.
fn start_page() -> u16 {
    serve_page("<!doctype html><title>not an allowed origin</title><p>page")
}

/// A page on a refused origin fetches `/%61pi/items` with credentials through
/// the exported Apache and nginx: the request reaches the hostile upstream
/// (as `/api/items`), and the page cannot read the answer. The same fetch
/// straight to the upstream is readable, so the page would see a bypass.
#[test]
fn chromium_cannot_read_the_encoded_path_through_either_server() {
    use corsgate_conformance::webdriver::Driver;
    let hostile = start_hostile("export");
    let dir = temp_dir("chromium");
    let file = dir.join("policy.toml");
    std::fs::write(&file, POLICIES[0].toml).unwrap();
    let mut ports = Vec::new();
    let mut running = Vec::new();
    for server in [Server::Apache, Server::Nginx] {
        let sub = dir.join(server.name());
        std::fs::create_dir_all(&sub).unwrap();
        let exported = export(server.name(), &file, hostile.port);
        let port = free_port();
        running.push(server.start(&exported, &sub, port));
        ports.push((server.name(), port));
    }
    let page = start_page();
    let driver = Driver::start("/usr/bin/chromedriver", "/usr/bin/chromium")
        .expect("chromium and chromedriver are installed (scripts/test installs them)");
    driver
        .navigate(&format!("http://127.0.0.1:{page}/"))
        .expect("the page loads");
    let mut urls = vec![(
        "upstream",
        format!("http://127.0.0.1:{}/%61pi/items", hostile.port),
    )];
    for (name, port) in &ports {
        urls.push((name, format!("http://127.0.0.1:{port}/%61pi/items")));
    }
    let list: Vec<String> = urls.iter().map(|(_, u)| u.clone()).collect();
    let seen = fetch_each(&driver, &list);
    for ((name, url), got) in urls.iter().zip(&seen) {
        println!("chromium {}: {name} {url}: {got}", driver.browser_version);
    }
    assert!(
        seen[0].starts_with("read 200") && seen[0].contains("from the upstream"),
        "the control (the hostile upstream itself) must be readable, or the test proves nothing: {seen:?}"
    );
    for ((name, _), got) in urls.iter().zip(&seen).skip(1) {
        assert!(
            got.starts_with("blocked: TypeError"),
            "{name}: the page read the answer: {got}"
        );
    }
    // Both fetches reached the upstream, normalized: the browser refused the
    // policy's answer, not a server error.
    let reached = hostile
        .paths
        .lock()
        .map(|p| p.iter().filter(|t| *t == "/api/items").count())
        .unwrap_or(0);
    assert_eq!(reached, 2, "{:?}", hostile.paths.lock().map(|p| p.clone()));
    drop(driver);
    drop(running);
}

/// An `--upstream` with a path: the location's prefix is replaced by it, so
/// `/api/items` (however written) reaches the upstream as `/base/items`.
#[test]
fn an_upstream_path_replaces_the_location_prefix() {
    let hostile = start_hostile("export");
    for server in [Server::Nginx, Server::Apache] {
        let dir = temp_dir(&format!("base-{}", server.name()));
        let file = dir.join("policy.toml");
        std::fs::write(&file, POLICIES[0].toml).unwrap();
        let out = Command::new(BIN)
            .args(["export", "--to", server.name(), "--location", "/api/"])
            .args([
                "--upstream",
                &format!("http://127.0.0.1:{}/base", hostile.port),
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let running = server.start(&String::from_utf8(out.stdout).unwrap(), &dir, port);
        for target in ["/api/items", "/%61pi/items", "/api/x/../items"] {
            let r = try_exchange(port, "GET", target, &[("Origin", GOOD)])
                .unwrap_or_else(|| panic!("{} {target}: no answer", server.name()));
            let received = r
                .headers
                .get_all("x-upstream-path")
                .next()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            assert_eq!(
                received.as_deref(),
                Some("/base/items"),
                "{} {target}",
                server.name()
            );
            assert_eq!(
                cors_lines(&r.headers),
                decided_lines(
                    &Policy::from_toml(POLICIES[0].toml).unwrap(),
                    "GET",
                    &[("Origin", GOOD)]
                ),
                "{} {target}",
                server.name()
            );
        }
        drop(running);
    }
}
