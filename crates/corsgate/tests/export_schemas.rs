//! `corsgate export --to envoy` and `--to gateway-api`, validated against the
//! targets' published schemas (no Envoy and no Kubernetes here to run them):
//!
//! - Envoy: the output placed in a v3 `Bootstrap` and parsed against the
//!   protos of the `xds-protos` package (unknown fields, wrong types, unknown
//!   `@type`s are errors), then checked against the protoc-gen-validate rules
//!   they carry;
//! - Gateway API: the `HTTPRoute` validated against the CRD's OpenAPI schema
//!   (kubernetes-sigs/gateway-api v1.5.1, standard channel, vendored in
//!   tests/fixtures/schemas) and the CEL rules an exported rule can meet.
//!
//! Every policy of the export test set, and a few more, is exported; each
//! output must be accepted, each policy a target cannot express must exit 2
//! with its reason, and deliberately broken outputs must be rejected (so the
//! checker is not vacuous). The checker is tests/fixtures/schemas/check_schemas.py;
//! it needs python3 with xds-protos, jsonschema and pyyaml (scripts/test
//! installs them).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/edge.rs"]
mod edge;

use std::path::{Path, PathBuf};
use std::process::Command;

use edge::{temp_dir, BIN, POLICIES};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas")
}

/// Runs the checker; `Ok(())` when valid, `Err(reasons)` when invalid.
fn check(target: &str, file: &Path) -> Result<(), String> {
    let script = fixtures().join("check_schemas.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(target);
    if target == "gateway-api" {
        cmd.arg(fixtures().join("gateway-api-v1.5.1-httproute.json"));
    }
    let out = cmd
        .arg(file)
        .output()
        .expect("python3 is needed for this test (scripts/test installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(text),
        Some(3) => panic!(
            "the schema checker lacks a Python module ({text}): pip install xds-protos jsonschema pyyaml (scripts/test installs them)"
        ),
        other => panic!("the schema checker failed ({other:?}): {text}"),
    }
}

/// Policies beyond the export test set: what each target can say in full.
const MORE: &[(&str, &str)] = &[
    (
        "patterns with exact ports",
        "origins = [\"https://*.example.com\", \"https://*.preview.example.net:8443\", \"http://localhost:3000\"]\nmethods = [\"PATCH\", \"DELETE\"]\nrequest_headers = [\"x-trace\"]\ncredentials = true\n",
    ),
    (
        "mirrored headers, any method, credentials",
        "origins = [\"https://app.example.com\"]\nmethods = [\"*\"]\nrequest_headers = [\"*\"]\nexpose_headers = [\"x-total\"]\ncredentials = true\nmax_age = 86400\n",
    ),
    (
        "one origin, nothing else",
        "origins = [\"https://app.example.com\"]\n",
    ),
];

/// Exports `toml` to `to`: the text, or the exit-2 reason.
fn export(dir: &Path, to: &str, toml: &str, upstream: &str) -> Result<String, String> {
    let file = dir.join("p.toml");
    std::fs::write(&file, toml).unwrap();
    let out = Command::new(BIN)
        .args([
            "export",
            "--to",
            to,
            "--location",
            "/api/",
            "--upstream",
            upstream,
        ])
        .arg(&file)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Ok(String::from_utf8(out.stdout).unwrap()),
        Some(2) => {
            assert!(out.stdout.is_empty(), "{to}: nothing on stdout on exit 2");
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
        other => panic!("{to}: exit {other:?}"),
    }
}

fn policies() -> Vec<(&'static str, &'static str)> {
    POLICIES
        .iter()
        .map(|c| (c.name, c.toml))
        .chain(MORE.iter().copied())
        .collect()
}

#[test]
fn envoy_output_is_accepted_by_the_envoy_v3_protos() {
    let dir = temp_dir("schema-envoy");
    let mut accepted = 0;
    for (name, toml) in policies() {
        for upstream in [
            "http://127.0.0.1:8000",
            "https://api.internal.example:8443/base",
            "http://[::1]:9000",
        ] {
            let text = export(&dir, "envoy", toml, upstream)
                .unwrap_or_else(|e| panic!("[{name}] envoy: {e}"));
            let file = dir.join("envoy.yaml");
            std::fs::write(&file, &text).unwrap();
            if let Err(e) = check("envoy", &file) {
                panic!("[{name}] {upstream}: the Envoy protos refuse the export:\n{e}\n{text}");
            }
            accepted += 1;
        }
    }
    println!(
        "envoy: {accepted} exports ({} policies × 3 upstreams) accepted by the v3 protos and their validate rules",
        policies().len()
    );
}

#[test]
fn broken_envoy_output_is_rejected() {
    let dir = temp_dir("schema-envoy-broken");
    let text = export(&dir, "envoy", POLICIES[0].toml, "http://127.0.0.1:8000").unwrap();
    let file = dir.join("envoy.yaml");
    let breaks: &[(&str, &str, &str)] = &[
        (
            "a misspelt CorsPolicy field",
            "allow_origin_string_match:",
            "allow_origin_string_matches:",
        ),
        (
            "a port out of range",
            "port_value: 8000",
            "port_value: 80000",
        ),
        (
            "an empty cluster name",
            "cluster: corsgate_upstream",
            "cluster: \"\"",
        ),
        (
            "an unknown filter type",
            "filters.http.cors.v3.CorsPolicy",
            "filters.http.cors.v3.CorsPolicyX",
        ),
        (
            "a boolean as a list",
            "allow_credentials: true",
            "allow_credentials: [true]",
        ),
        (
            "an unknown enum value",
            "path_with_escaped_slashes_action: REJECT_REQUEST",
            "path_with_escaped_slashes_action: REJECT_REQUESTS",
        ),
    ];
    for (what, from, to) in breaks {
        assert!(text.contains(from), "{what}: {from:?} not in the export");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        let e = check("envoy", &file).expect_err(what);
        println!(
            "envoy, {what}: rejected: {}",
            e.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn gateway_api_output_is_accepted_by_the_httproute_crd() {
    let dir = temp_dir("schema-gateway");
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for (name, toml) in policies() {
        for upstream in [
            "http://api-backend:8000",
            "http://api.prod.svc.cluster.local",
        ] {
            match export(&dir, "gateway-api", toml, upstream) {
                Ok(text) => {
                    let file = dir.join("route.yaml");
                    std::fs::write(&file, &text).unwrap();
                    if let Err(e) = check("gateway-api", &file) {
                        panic!("[{name}] the HTTPRoute CRD refuses the export:\n{e}\n{text}");
                    }
                    accepted.push(name);
                }
                Err(why) => refused.push((name, why)),
            }
        }
    }
    // What the CORS filter cannot say is refused with the reason, never
    // exported weaker.
    let expect_refused = [
        ("subdomain patterns and any port", "any port"),
        ("mirrored request headers", "allowMethods"),
        ("private network access", "Private Network"),
    ];
    for (name, why) in &refused {
        let expected = expect_refused
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("[{name}] refused unexpectedly: {why}"));
        assert!(why.contains(expected.1), "[{name}] {why}");
    }
    assert_eq!(refused.len(), expect_refused.len() * 2, "{refused:?}");
    accepted.dedup();
    println!(
        "gateway-api: {} exports accepted by the HTTPRoute CRD (v1.5.1): {:?}; {} refused with exit 2:",
        accepted.len() * 2,
        accepted,
        refused.len()
    );
    for (name, why) in refused.iter().step_by(2) {
        println!("  [{name}] {}", why.trim());
    }
    // Not a Service: refused, not guessed.
    let e = export(
        &dir,
        "gateway-api",
        POLICIES[0].toml,
        "http://127.0.0.1:8000",
    )
    .unwrap_err();
    assert!(e.contains("Kubernetes Service"), "{e}");
}

#[test]
fn broken_gateway_api_output_is_rejected() {
    let dir = temp_dir("schema-gateway-broken");
    let text = export(
        &dir,
        "gateway-api",
        POLICIES[0].toml,
        "http://api-backend:8000",
    )
    .unwrap();
    let file = dir.join("route.yaml");
    let breaks: &[(&str, &str, &str)] = &[
        ("a lower-case method", "        - \"PUT\"\n", "        - \"put\"\n"),
        ("maxAge 0", "maxAge: 600", "maxAge: 0"),
        (
            "an origin with a path",
            "\"https://app.example.com\"",
            "\"https://app.example.com/\"",
        ),
        ("an unknown filter type", "- type: CORS", "- type: Cors"),
        ("a misspelt field", "allowCredentials:", "allowCredential:"),
        (
            "'*' beside other origins",
            "        - \"https://admin.example.com\"\n",
            "        - \"https://admin.example.com\"\n        - \"*\"\n",
        ),
        ("a second CORS filter", "    - type: ResponseHeaderModifier\n      responseHeaderModifier:", "    - type: CORS\n      cors: {}\n    - type: ResponseHeaderModifier\n      responseHeaderModifier:"),
    ];
    for (what, from, to) in breaks {
        assert!(
            text.contains(from),
            "{what}: {from:?} not in the export\n{text}"
        );
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        let e = check("gateway-api", &file).expect_err(what);
        println!(
            "gateway-api, {what}: rejected: {}",
            e.lines().next().unwrap_or("")
        );
    }
}

/// No Caddy, HAProxy or Gateway API output holds `null`, `*` with
/// credentials, or an echo of an `Origin` that no exact entry or anchored
/// pattern matched.
#[test]
fn nothing_unsafe_is_emitted() {
    let dir = temp_dir("schema-safe");
    for (name, toml) in policies() {
        let policy = corsgate_core::Policy::from_toml(toml).unwrap();
        for (to, upstream) in [
            ("caddy", "http://127.0.0.1:8000"),
            ("haproxy", "http://127.0.0.1:8000"),
            ("gateway-api", "http://api-backend:8000"),
        ] {
            let Ok(text) = export(&dir, to, toml, upstream) else {
                continue;
            };
            let lower = text.to_ascii_lowercase();
            for null in ["\"null\"", "'null'", " null\n"] {
                assert!(!lower.contains(null), "[{name}] {to}: {null}\n{text}");
            }
            if policy.credentials() {
                let wildcard = match to {
                    "caddy" => text.contains("Access-Control-Allow-Origin *"),
                    "haproxy" => text.contains("Access-Control-Allow-Origin \"*\""),
                    _ => {
                        text.contains("- \"*\"\n        allowMethods")
                            || text.contains("allowOrigins:\n        - \"*\"")
                    }
                };
                assert!(!wildcard, "[{name}] {to}: * with credentials\n{text}");
            }
            // The request's Origin is echoed only under the matchers that
            // test it.
            match to {
                "caddy" => {
                    let mut block = "";
                    for l in text.lines() {
                        let t = l.trim();
                        if t.starts_with("header @") && t.ends_with('{') {
                            block = t;
                        } else if t == "}" {
                            block = "";
                        }
                        if t.starts_with("Access-Control-Allow-Origin {http.request.header.Origin}")
                        {
                            assert!(
                                block == "header @corsgate_preflight_ok {"
                                    || block == "header @corsgate_actual {",
                                "[{name}] caddy: an Origin echo outside the allowed matchers: {block:?}"
                            );
                        }
                    }
                }
                "haproxy" => {
                    for l in text.lines().filter(|l| l.contains("txn.corsgate_acao")) {
                        assert!(
                            l.trim_end().ends_with("if corsgate_origin_ok")
                                || l.contains("set-header Access-Control-Allow-Origin \"%[var(txn.corsgate_acao)]\""),
                            "[{name}] haproxy: {l}"
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
