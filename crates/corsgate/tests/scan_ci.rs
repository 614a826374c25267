//! `corsgate scan` as a CI tool, against real loopback servers: SARIF checked
//! against the official SARIF 2.1.0 schema, `--fail-on`, baselines, targets
//! files and OpenAPI documents, many targets with bounded concurrency, exit
//! code precedence, and the progress line.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{answer, corsgate, policy_server, serve, Seen, Server};
use serde_json::Value;

/// The origin the scanned endpoints are meant to trust.
const TRUSTED: &str = "https://app.example.com";

/// The official schema (oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json).
const SARIF_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sarif-schema-2.1.0.json"
);

/// A fresh directory for a test's files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corsgate-scan-ci-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(path: &std::path::Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

/// What a flawed (or correct) endpoint does with the `Origin` header.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Echoes any origin, with credentials: `reflected_origin`, high.
    Reflect,
    /// Allows the trusted origin and every subdomain of example.com, with
    /// credentials and `Vary`: `subdomain_trusted`, medium.
    Subdomains,
    /// Allows only the trusted origin, but without `Vary: Origin`: `missing_vary`, low.
    NoVary,
    /// `Access-Control-Allow-Origin: *`: `wildcard_origin`, info.
    Star,
}

fn flawed(b: Behaviour) -> Server {
    serve(move |req: &Seen| {
        let origin = req.header("origin").unwrap_or("").to_owned();
        let allowed = match b {
            Behaviour::Reflect => !origin.is_empty(),
            Behaviour::Subdomains => {
                origin == TRUSTED
                    || (origin.starts_with("https://") && origin.ends_with(".example.com"))
            }
            Behaviour::NoVary => origin == TRUSTED,
            Behaviour::Star => false,
        };
        let mut h: Vec<(&str, String)> = Vec::new();
        if matches!(b, Behaviour::Reflect | Behaviour::Subdomains) {
            h.push(("Vary", "Origin".into()));
        }
        if matches!(b, Behaviour::Star) {
            h.push(("Access-Control-Allow-Origin", "*".into()));
        }
        if allowed {
            h.push(("Access-Control-Allow-Origin", origin.clone()));
            h.push(("Access-Control-Allow-Credentials", "true".into()));
        }
        let preflight =
            req.method == "OPTIONS" && req.header("access-control-request-method").is_some();
        if preflight && (allowed || matches!(b, Behaviour::Star)) {
            h.push(("Access-Control-Allow-Methods", "GET, PUT, DELETE".into()));
            h.push(("Access-Control-Allow-Headers", "content-type".into()));
        }
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
        answer(if preflight { 204 } else { 200 }, &h)
    })
}

/// An endpoint running corsgate's own policy for the trusted origin: clean.
fn correct() -> Server {
    policy_server(
        &format!("origins = [\"{TRUSTED}\"]\nmethods = [\"PUT\", \"DELETE\"]\nrequest_headers = [\"content-type\"]\ncredentials = true\n"),
        &[],
    )
}

/// A loopback port nobody listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/gone")
}

fn scan(args: &[&str]) -> common::Run {
    let mut all = vec!["scan", "--origin", TRUSTED, "--timeout", "20"];
    all.extend_from_slice(args);
    corsgate(&all)
}

fn classes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// SARIF
// ---------------------------------------------------------------------------

fn schema_errors(doc: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(SARIF_SCHEMA).expect("the vendored SARIF schema");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_schema_validator_rejects_broken_sarif() {
    // The validation below means something: typical mistakes are refused.
    let good: Value = serde_json::json!({
        "version": "2.1.0",
        "runs": [{ "tool": { "driver": { "name": "x" } }, "results": [] }]
    });
    assert!(schema_errors(&good).is_empty());
    let mut cases = Vec::new();
    let mut v = good.clone();
    v["version"] = "2.0.0".into();
    cases.push(v);
    let mut v = good.clone();
    v["runs"][0]["results"] = serde_json::json!([{ "message": { "text": "m" }, "level": "high" }]);
    cases.push(v);
    let mut v = good.clone();
    v["runs"][0]["results"] = serde_json::json!([{ "ruleId": "r" }]);
    cases.push(v);
    let mut v = good.clone();
    v["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri".into();
    cases.push(v);
    let mut v = good.clone();
    v["runs"][0]["bogus"] = 1.into();
    cases.push(v);
    for c in cases {
        assert!(!schema_errors(&c).is_empty(), "accepted: {c}");
    }
}

#[test]
fn sarif_output_is_valid_and_complete() {
    let d = dir("sarif");
    let reflect = flawed(Behaviour::Reflect);
    let subs = flawed(Behaviour::Subdomains);
    let star = flawed(Behaviour::Star);
    let ok = correct();
    let dead = dead_url();
    let urls = [
        reflect.url("/api/me"),
        subs.url("/api/me"),
        star.url("/api/me"),
        ok.url("/api/me"),
        dead.clone(),
    ];
    let list = write(&d.join("targets.txt"), &(urls.join("\n") + "\n"));
    // Accept the subdomain finding with a reason: it must come out suppressed.
    let baseline = write(
        &d.join("baseline.toml"),
        &format!(
            "version = 1\n[[ignore]]\nrule = \"subdomain_trusted\"\nurl = \"{}\"\nreason = \"every subdomain is ours\"\n",
            urls[1]
        ),
    );
    let file = d.join("out.sarif");
    let r = scan(&[
        "--targets",
        &list,
        "--baseline",
        &baseline,
        "--sarif",
        file.to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let from_file: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let doc = r.json();
    for d in [&doc, &from_file] {
        let errors = schema_errors(d);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // Same content both ways (the label differs: the runs are one and the same).
    assert_eq!(doc, from_file);
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "corsgate");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("http"));
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "one rule per class: {ids:?}"
    );
    for r in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            assert!(
                !r[field]["text"].as_str().unwrap_or("").is_empty(),
                "{field} of {}",
                r["id"]
            );
        }
        assert!(["error", "warning", "note"]
            .contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = run["results"].as_array().unwrap();
    let mut seen_rules = BTreeSet::new();
    for res in results {
        let rule = res["ruleId"].as_str().unwrap();
        seen_rules.insert(rule.to_owned());
        let i = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[i], rule, "ruleIndex points at its rule");
        let sev = res["properties"]["severity"].as_str().unwrap();
        let level = match sev {
            "high" => "error",
            "medium" | "low" => "warning",
            _ => "note",
        };
        assert_eq!(res["level"], level, "{res:#}");
        let uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(urls.contains(&uri.to_owned()), "{uri}");
        if let Some(o) = res["properties"]["origin"].as_str() {
            assert_eq!(res["locations"][0]["logicalLocations"][0]["name"], o);
        }
        let fp = res["partialFingerprints"]["corsgateFinding/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 16);
        assert!(!res["message"]["text"].as_str().unwrap().is_empty());
    }
    // Results by finding class (the rule's `name`; the id may be another spelling).
    let of = |uri: &str, class: &str| {
        results
            .iter()
            .find(|r| {
                let i = r["ruleIndex"].as_u64().unwrap() as usize;
                rules[i]["name"] == class
                    && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri
            })
            .unwrap_or_else(|| panic!("no {class} for {uri}"))
    };
    assert_eq!(of(&urls[0], "reflected_origin")["level"], "error");
    let sup = of(&urls[1], "subdomain_trusted");
    assert_eq!(sup["suppressions"][0]["kind"], "external");
    assert_eq!(
        sup["suppressions"][0]["justification"],
        "every subdomain is ours"
    );
    assert!(of(&urls[0], "reflected_origin")
        .get("suppressions")
        .is_none());
    assert_eq!(of(&urls[2], "wildcard_origin")["level"], "note");
    // The correct endpoint has nothing above info.
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] != urls[3].as_str()
            || r["level"] == "note"
    }));
    // The dead target is an error notification, not a silent gap.
    let inv = &run["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert_eq!(inv["exitCode"], 1);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n["level"] == "error"
            && n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == dead.as_str()),
        "{notes:#?}"
    );
    // Every rule seen is described.
    for r in &seen_rules {
        assert!(ids.contains(&r.as_str()));
    }
}

#[test]
fn sarif_fingerprints_are_stable_across_runs() {
    let s = flawed(Behaviour::Reflect);
    let url = s.url("/x");
    let fps = |r: &common::Run| -> BTreeSet<String> {
        r.json()["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                format!(
                    "{} {}",
                    x["ruleId"], x["partialFingerprints"]["corsgateFinding/v1"]
                )
            })
            .collect()
    };
    let a = fps(&scan(&[&url, "--format", "sarif"]));
    let b = fps(&scan(&[&url, "--format", "sarif"]));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn sarif_for_a_clean_run_and_for_an_unreachable_target_is_valid() {
    let ok = correct();
    let r = scan(&[&ok.url("/a"), "--format", "sarif"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert!(schema_errors(&doc).is_empty());
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    let r = scan(&[&dead_url(), "--format", "sarif"]);
    assert_eq!(r.code, 2);
    let doc = r.json();
    assert!(schema_errors(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
    // -H values never reach the SARIF file (it is often uploaded).
    let r = scan(&[
        &ok.url("/a"),
        "--format",
        "sarif",
        "-H",
        "Cookie: session=SECRET1",
        "--header=Authorization: Bearer SECRET2",
    ]);
    assert!(!r.stdout.contains("SECRET"), "{}", r.stdout);
    assert!(r.stdout.contains("Cookie: (redacted)"));
}

// ---------------------------------------------------------------------------
// --fail-on
// ---------------------------------------------------------------------------

#[test]
fn fail_on_sets_the_lowest_failing_severity() {
    let high = flawed(Behaviour::Reflect);
    let medium = flawed(Behaviour::Subdomains);
    let low = flawed(Behaviour::NoVary);
    let info = flawed(Behaviour::Star);
    let ok = correct();
    // (server, its worst finding): exit 1 exactly when worst >= --fail-on.
    let table = [
        (&high, Some(3)),
        (&medium, Some(2)),
        (&low, Some(1)),
        (&info, Some(0)),
        (&ok, None),
    ];
    let levels = ["info", "low", "medium", "high"];
    for (server, worst) in table {
        let url = server.url("/api/me");
        // One scan, judged at every level from its JSON (and the real exit code at one).
        let r = scan(&[&url, "--json"]);
        let v = r.json();
        let sev = v["summary"]["worst"].as_str();
        let expected_worst = worst.map(|w| levels[w]);
        assert_eq!(sev, expected_worst, "{url}: {:?}", classes(&v));
        for (i, level) in levels.iter().enumerate() {
            let r = scan(&[&url, "--json", "--fail-on", level]);
            let fails = worst.is_some_and(|w| w >= i);
            assert_eq!(
                r.code,
                i32::from(fails),
                "{url} (worst {sev:?}) --fail-on {level}: {}",
                r.stderr
            );
            assert_eq!(r.json()["fail_on"], *level);
        }
    }
    // The default is low, as before.
    assert_eq!(scan(&[&low.url("/a")]).code, 1);
    assert_eq!(scan(&[&info.url("/a")]).code, 0);
    let r = scan(&[&high.url("/a"), "--fail-on", "critical"]);
    assert_eq!(r.code, 2, "an unknown severity is a usage error");
}

// ---------------------------------------------------------------------------
// Baselines
// ---------------------------------------------------------------------------

#[test]
fn a_written_baseline_suppresses_exactly_the_findings_of_its_run() {
    let d = dir("baseline");
    let high = flawed(Behaviour::Reflect);
    let medium = flawed(Behaviour::Subdomains);
    let list = write(
        &d.join("t.txt"),
        &format!("{}\n{}\n", high.url("/a"), medium.url("/b")),
    );
    for name in ["b.toml", "b.json"] {
        let path = d.join(name);
        let p = path.to_str().unwrap();
        // Writing a baseline accepts everything found: exit 0.
        let w = scan(&["--targets", &list, "--write-baseline", p, "--json"]);
        assert_eq!(w.code, 0, "{}", w.stderr);
        let written = w.json();
        let found: usize = written["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["report"]["findings"].as_array().unwrap().len())
            .sum();
        assert!(found >= 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let entries = if name.ends_with(".json") {
            text.matches("\"rule\":").count()
        } else {
            text.matches("[[ignore]]").count()
        };
        assert_eq!(entries, found, "one entry per finding:\n{text}");
        // Read back: nothing fails, everything is reported as suppressed.
        let r = scan(&["--targets", &list, "--baseline", p, "--json"]);
        assert_eq!(r.code, 0, "{name}: {}\n{text}", r.stderr);
        let v = r.json();
        assert_eq!(v["summary"]["suppressed"], found);
        assert_eq!(v["summary"]["high"], 0);
        for t in v["targets"].as_array().unwrap() {
            assert_eq!(t["report"]["findings"].as_array().unwrap().len(), 0);
            assert!(!t["report"]["suppressed"].as_array().unwrap().is_empty());
        }
        assert!(
            v["summary"]["stale_baseline_entries"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{v:#}"
        );
        // The human report says what was suppressed.
        let h = scan(&["--targets", &list, "--baseline", p]);
        assert_eq!(h.code, 0);
        assert!(
            h.stdout.contains("suppressed reflected_origin"),
            "{}",
            h.stdout
        );
    }
}

#[test]
fn a_baseline_entry_suppresses_only_what_it_names() {
    let d = dir("baseline-match");
    let high = flawed(Behaviour::Reflect);
    let other = flawed(Behaviour::Reflect);
    let url = high.url("/a");
    let other_url = other.url("/b");
    // The finding's stable origin and fingerprint, as a written baseline has them
    // (one entry per finding, in the order of the findings).
    let w = d.join("written.json");
    let run = scan(&[&url, "--json", "--write-baseline", w.to_str().unwrap()]);
    let at = classes(&run.json())
        .iter()
        .position(|c| c == "reflected_origin")
        .expect("the reflecting server is found");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&w).unwrap()).unwrap();
    let entry = &written["ignore"][at];
    let origin = entry["origin"].as_str().unwrap();
    let fp = entry["fingerprint"].as_str().unwrap();
    let other_fp = if fp == "0000000000000000" {
        "0000000000000001"
    } else {
        "0000000000000000"
    };
    // (baseline entry fields, whether the reflected_origin finding of `url` is suppressed)
    let cases: Vec<(String, bool)> = vec![
        (format!("rule = \"reflected_origin\"\nurl = \"{url}\""), true),
        ("rule = \"reflected_origin\"\nurl = \"*\"".into(), true),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\norigin = \"{origin}\""),
            true,
        ),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\nfingerprint = \"{}\"", fp.to_uppercase()),
            true,
        ),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\norigin = \"{origin}\"\nfingerprint = \"{fp}\""),
            true,
        ),
        (format!("rule = \"null_origin\"\nurl = \"{url}\""), false),
        (format!("rule = \"reflected_origin\"\nurl = \"{other_url}\""), false),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\norigin = \"https://not-the-probe.example\""),
            false,
        ),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\nfingerprint = \"{other_fp}\""),
            false,
        ),
        (
            format!("rule = \"reflected_origin\"\nurl = \"{url}\"\norigin = \"{origin}\"\nfingerprint = \"{other_fp}\""),
            false,
        ),
    ];
    for (i, (entry, suppressed)) in cases.iter().enumerate() {
        let b = write(
            &d.join(format!("b{i}.toml")),
            &format!("version = 1\n[[ignore]]\n{entry}\nreason = \"r{i}\"\n"),
        );
        let r = scan(&[&url, "--json", "--baseline", &b]);
        let v = r.json();
        let sup: Vec<&Value> = v["suppressed"].as_array().unwrap().iter().collect();
        let hit = sup.iter().any(|s| s["class"] == "reflected_origin");
        assert_eq!(hit, *suppressed, "{entry}: {v:#}");
        assert_eq!(r.code, if *suppressed { 0 } else { 1 }, "{entry}");
        if *suppressed {
            assert_eq!(sup[0]["reason"], format!("r{i}"));
            assert!(!r.stderr.contains("matched no finding"));
        } else {
            assert!(r.stderr.contains("matched no finding"), "{}", r.stderr);
        }
    }
}

#[test]
fn bad_baselines_stop_the_run_before_any_request() {
    let d = dir("baseline-bad");
    let s = flawed(Behaviour::Reflect);
    for (text, needle) in [
        ("version = 1\n[[ignore]]\nrule = \"x\"\n", "url"),
        ("[[ignore]]\nrule = \"x\"\nurl = \"*\"\n", "version"),
        ("version = 1\nignore = 3\n", "invalid type"),
    ] {
        let b = write(&d.join("bad.toml"), text);
        let r = scan(&[&s.url("/a"), "--baseline", &b]);
        assert_eq!(r.code, 2, "{text}");
        assert!(
            r.stderr.contains("bad.toml") && r.stderr.contains(needle),
            "{}",
            r.stderr
        );
    }
    let r = scan(&[&s.url("/a"), "--baseline", "/nonexistent/b.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        s.seen().is_empty(),
        "nothing is sent before the inputs are valid"
    );
}

// ---------------------------------------------------------------------------
// Targets files and OpenAPI
// ---------------------------------------------------------------------------

#[test]
fn bad_lines_in_a_targets_file_are_named_and_nothing_is_scanned() {
    let d = dir("targets-bad");
    let s = correct();
    let text = format!(
        "# targets\n{}\nnot-a-url\n\nftp://files.example/\n{} trailing words\n",
        s.url("/a"),
        s.url("/b")
    );
    let f = write(&d.join("t.txt"), &text);
    let r = scan(&["--targets", &f, "--json"]);
    assert_eq!(r.code, 2);
    for line in [3, 5, 6] {
        assert!(
            r.stderr.contains(&format!("{f}:{line}: ")),
            "line {line} not named: {}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains(&format!("{f}:2:")));
    assert_eq!(r.json()["error"]["code"], "bad_arguments");
    assert!(s.seen().is_empty());
    // An empty file is an error too, not a clean run.
    let f = write(&d.join("empty.txt"), "# nothing\n\n");
    let r = scan(&["--targets", &f]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no target"), "{}", r.stderr);
    let r = scan(&[]);
    assert_eq!(r.code, 2);
}

/// Runs `corsgate ARGS` with `input` on standard input.
fn with_stdin(args: &[&str], input: &str) -> common::Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn targets_can_come_from_standard_input() {
    let s = flawed(Behaviour::Reflect);
    let input = format!("# from a pipe\n{}\n{}\n", s.url("/a"), s.url("/b"));
    let r = with_stdin(&["scan", "--targets", "-", "--json"], &input);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);
    assert_eq!(v["targets"][1]["source"], "stdin:3");
    let r = with_stdin(&["scan", "--targets", "-"], "http://127.0.0.1:9/\nnope\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("stdin:2: "), "{}", r.stderr);
}

#[test]
fn openapi_paths_are_scanned_with_their_examples() {
    let d = dir("openapi");
    let reflect = flawed(Behaviour::Reflect);
    let yaml = format!(
        r#"openapi: 3.0.3
info: {{title: t, version: "1"}}
servers:
  - url: http://127.0.0.1:{{port}}/v1
    variables:
      port: {{default: "{port}"}}
paths:
  /users/{{id}}:
    get:
      parameters:
        - {{name: id, in: path, required: true, schema: {{type: integer, example: 42}}}}
  /teams/{{team}}/members:
    get: {{}}
  /health:
    get: {{}}
"#,
        port = reflect.addr.port()
    );
    let f = write(&d.join("api.yaml"), &yaml);
    let r = scan(&["--openapi", &f, "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["schema"], "corsgate-scan-set/1");
    let urls: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["url"].as_str().unwrap())
        .collect();
    let base = format!("http://127.0.0.1:{}/v1", reflect.addr.port());
    assert_eq!(
        urls,
        [
            format!("{base}/health"),
            format!("{base}/teams/1/members"),
            format!("{base}/users/42"),
        ]
    );
    let paths: BTreeSet<String> = reflect.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    for t in v["targets"].as_array().unwrap() {
        assert!(t["source"].as_str().unwrap().contains("paths./"));
        assert!(classes(&t["report"]).contains(&"reflected_origin".to_owned()));
    }
    // --openapi-server points the same document elsewhere.
    let ok = correct();
    let r = scan(&["--openapi", &f, "--openapi-server", &ok.url(""), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ok.seen().iter().any(|s| s.path == "/users/42"));
}

// ---------------------------------------------------------------------------
// Many targets
// ---------------------------------------------------------------------------

#[test]
fn two_hundred_targets_are_all_reported_in_order() {
    let d = dir("many");
    let servers = [
        (flawed(Behaviour::Reflect), 1),
        (correct(), 0),
        (flawed(Behaviour::Star), 0),
        (flawed(Behaviour::Subdomains), 0),
    ];
    let dead = dead_url();
    let mut expected = Vec::new();
    for i in 0..200 {
        let (url, code) = if i % 50 == 7 {
            (format!("{dead}/{i}"), 2)
        } else {
            let (s, code) = &servers[i % servers.len()];
            (s.url(&format!("/item/{i}")), *code)
        };
        expected.push((url, code));
    }
    let text: String = expected.iter().map(|(u, _)| format!("{u}\n")).collect();
    let f = write(&d.join("t.txt"), &text);
    // Without --origin: fewer probes per target, the same plumbing.
    let r = corsgate(&[
        "scan",
        "--targets",
        &f,
        "--json",
        "--concurrency",
        "8",
        "--timeout",
        "30",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 200);
    for (i, (t, (url, code))) in targets.iter().zip(&expected).enumerate() {
        assert_eq!(t["url"], url.as_str(), "target {i} out of order");
        assert_eq!(t["source"], format!("{f}:{}", i + 1));
        assert_eq!(t["exit_code"], *code, "{t:#}");
        if *code == 2 {
            assert_eq!(t["error"]["code"], "connection_refused");
            assert!(t["report"].is_null());
        } else {
            assert!(t["error"].is_null());
            assert_eq!(t["report"]["summary"]["failed"], 0);
        }
    }
    let s = &v["summary"];
    assert_eq!(s["targets"], 200);
    assert_eq!(s["not_judged"], 4);
    assert_eq!(
        s["failing"],
        expected.iter().filter(|(_, c)| *c == 1).count()
    );
    // Every probe of every live target reached its server.
    let sent: usize = servers.iter().map(|(s, _)| s.seen().len()).sum();
    assert_eq!(s["requests"], sent);
    // The human report has one block per target, dead ones included.
    let h = corsgate(&["scan", "--targets", &f, "--concurrency", "16"]);
    assert_eq!(h.code, 1);
    for (url, _) in &expected {
        assert!(h.stdout.contains(url.as_str()), "{url} missing");
    }
    assert!(h.stdout.contains("Result: 200 targets"), "{}", h.stdout);
    assert!(
        h.stderr.is_empty() || !h.stderr.contains('\r'),
        "no progress line off a terminal"
    );
}

/// A server that counts the connections open at once and answers each after `delay_ms`.
fn counting_server(delay_ms: u64) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (a, p) = (active.clone(), peak.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                let a = a.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                    a.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.shutdown().await;
                });
            }
        });
    });
    (format!("http://{addr}"), active, peak)
}

#[test]
fn concurrency_bounds_the_connections_open_at_once() {
    let d = dir("concurrency");
    // Few targets: the catalogue of probes per target is long enough to overlap.
    for n in [1usize, 3, 8] {
        let (base, _active, peak) = counting_server(10);
        let text: String = (0..4).map(|i| format!("{base}/p{i}\n")).collect();
        let f = write(&d.join(format!("t{n}.txt")), &text);
        let r = corsgate(&[
            "scan",
            "--targets",
            &f,
            "--json",
            "--concurrency",
            &n.to_string(),
            "--timeout",
            "30",
        ]);
        assert_eq!(
            r.json()["targets"].as_array().unwrap().len(),
            4,
            "{}",
            r.stderr
        );
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= n, "--concurrency {n}: {peak} connections at once");
        if n == 8 {
            assert!(peak >= 2, "--concurrency 8 never overlapped requests");
        }
    }
    let r = corsgate(&["scan", "http://127.0.0.1:9/", "--concurrency", "0"]);
    assert_eq!(r.code, 2);
}

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn exit_codes_follow_the_documented_precedence() {
    let high = flawed(Behaviour::Reflect);
    let ok = correct();
    let dead = dead_url();
    // (targets, exit code): findings (1) win over not judged (2), which wins over clean (0).
    let cases: [(Vec<String>, i32); 5] = [
        (vec![ok.url("/a")], 0),
        (vec![ok.url("/a"), ok.url("/b")], 0),
        (vec![high.url("/a"), ok.url("/b")], 1),
        (vec![ok.url("/a"), dead.clone()], 2),
        (vec![dead.clone(), high.url("/a")], 1),
    ];
    for (urls, code) in cases {
        let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
        args.push("--json");
        let r = scan(&args);
        assert_eq!(r.code, code, "{urls:?}: {}", r.stderr);
        if urls.len() > 1 {
            assert_eq!(r.json()["summary"]["exit_code"], code);
        }
    }
    // With --write-baseline, findings are accepted; an unjudged target still gives 2.
    let d = dir("exit");
    let b = d.join("b.toml");
    let b = b.to_str().unwrap();
    assert_eq!(scan(&[&high.url("/a"), "--write-baseline", b]).code, 0);
    assert_eq!(
        scan(&[&high.url("/a"), &dead, "--write-baseline", b]).code,
        2
    );
}

// ---------------------------------------------------------------------------
// The progress line
// ---------------------------------------------------------------------------

/// Runs corsgate under `script`, which gives it a terminal.
fn on_a_terminal(args: &[&str]) -> String {
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_corsgate"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("/usr/bin/script")
        .args(["-q", "-e", "-c", &format!("{cmd} >/dev/null"), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_progress_line_is_drawn_on_a_terminal_only() {
    // Slow enough answers that the line is drawn (it ticks every 200 ms).
    let (base, _, _) = counting_server(30);
    let d = dir("progress");
    let text: String = (0..3).map(|i| format!("{base}/p{i}\n")).collect();
    let f = write(&d.join("t.txt"), &text);
    // stdout goes to /dev/null: what is left is standard error, on the terminal.
    let tty = on_a_terminal(&["scan", "--targets", &f, "--concurrency", "4"]);
    assert!(tty.contains("/3 targets"), "no progress line: {tty:?}");
    let quiet = on_a_terminal(&["scan", "--targets", &f, "--concurrency", "4", "--quiet"]);
    assert!(!quiet.contains("targets"), "{quiet:?}");
    let single = on_a_terminal(&["scan", &format!("{base}/one")]);
    assert!(single.contains("requests"), "{single:?}");
    // Not a terminal: nothing but the report.
    let r = corsgate(&["scan", "--targets", &f, "--concurrency", "4"]);
    assert!(!r.stderr.contains("targets"), "{:?}", r.stderr);
}
