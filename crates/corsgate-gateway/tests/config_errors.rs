//! Configuration errors: a route's policy problems are the engine's own
//! typed errors ([`corsgate_core::PolicyError`]), reachable from the
//! gateway's [`ConfigError`] (and its `source()`), each at the line and
//! column of the value it is about — in inline `policy = { … }` tables,
//! `[routes.policy]` tables and any route of many.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use corsgate_core::PolicyError;
use corsgate_gateway::{ConfigError, ConfigErrorKind, GatewayConfig};

const HEAD: &str = "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n";

/// (route, the engine's error code, line, column) of every error, in order.
fn located(errors: &[ConfigError]) -> Vec<(String, &'static str, usize, usize)> {
    errors
        .iter()
        .map(|e| match &e.kind {
            ConfigErrorKind::Policy { route, error } => (
                route.clone(),
                error.code(),
                e.line.expect("located"),
                e.column.expect("located"),
            ),
            other => panic!("not a policy error: {other:?}"),
        })
        .collect()
}

/// (route, code, line, column) expected, in order.
type Expected<'a> = &'a [(&'a str, &'a str, usize, usize)];

#[test]
fn each_policy_error_is_at_its_value() {
    let inline = format!(
        "{HEAD}[[routes]]\npath = \"/api/\"\npolicy = {{ origins = [\"https://a.example/\", \"null\", \"file:///x\", \"ftp://a.example\"], credentials = true, max_age = 100000 }}\n"
    );
    let nested = format!(
        "{HEAD}[[routes]]\npath = \"/\"\n[routes.policy]\norigins = [\"*\", \"https://b.example\"]\nmethods = [\"GET\", \"TRACE\", \"bad method\"]\nrequest_headers = [\"cookie\", \"access-control-allow-origin\", \"x ok\"]\nexpose_headers = [\"set-cookie\"]\n"
    );
    let multi = [HEAD, "[[routes]]\npath = \"/ok/\"\npolicy = { origins = [\"https://a.example\"] }\n\n[[routes]]\npath = \"/any/\"\npolicy = { origins = [\"*\"], credentials = true }\n\n[[routes]]\npath = \"/http/\"\n[routes.policy]\norigins = [\"http://app.example\"]\ncredentials = true\n\n[[routes]]\npath = \"/patterns/\"\npolicy = { origins = [\"https://*.com\", \"https://a*.example\"] }\n\n[[routes]]\npath = \"/twice/\"\n[routes.policy]\norigins = [\n  \"https://a.example\",\n  \"https://a.example\",\n]\n\n[[routes]]\npath = \"/none/\"\npolicy = { origins = [] }\n\n[[routes]]\npath = \"/expose/\"\n[routes.policy]\norigins = [\"https://a.example\"]\ncredentials = true\nexpose_headers = [\"x-a\", \"*\"]\n"].concat();
    let cases: [(&str, &str, Expected); 3] = [
        (
            "inline table",
            &inline,
            &[
                ("/api/", "invalid_origin", 5, 23),
                ("/api/", "null_origin", 5, 45),
                ("/api/", "file_origin", 5, 53),
                ("/api/", "unsupported_scheme", 5, 66),
                ("/api/", "max_age_out_of_range", 5, 116),
            ],
        ),
        (
            "[routes.policy] table",
            &nested,
            &[
                ("/", "any_origin_with_others", 6, 12),
                ("/", "forbidden_method", 7, 19),
                ("/", "invalid_method", 7, 28),
                ("/", "forbidden_request_header", 8, 20),
                ("/", "misplaced_cors_header", 8, 30),
                ("/", "invalid_header_name", 8, 61),
                ("/", "forbidden_response_header", 9, 19),
            ],
        ),
        (
            "many routes, both table forms",
            &multi,
            &[
                ("/any/", "any_origin_with_credentials", 9, 43),
                ("/http/", "insecure_origin_with_credentials", 14, 12),
                ("/patterns/", "public_suffix_wildcard", 19, 23),
                ("/patterns/", "invalid_pattern", 19, 40),
                ("/twice/", "duplicate_origin", 26, 3),
                ("/none/", "no_origins", 31, 22),
                ("/expose/", "expose_wildcard_with_credentials", 38, 26),
            ],
        ),
    ];
    for (name, text, expected) in cases {
        let errors = GatewayConfig::from_toml(text).expect_err(name);
        let expected: Vec<_> = expected
            .iter()
            .map(|(r, c, l, col)| (r.to_string(), *c, *l, *col))
            .collect();
        assert_eq!(located(&errors), expected, "{name}");
        for e in &errors {
            // The text names the place and keeps the engine's sentence.
            let (l, c) = (e.line.unwrap(), e.column.unwrap());
            let core = e.policy_error().unwrap();
            assert_eq!(
                e.to_string(),
                format!("line {l}, column {c}: {}", e.kind),
                "{name}"
            );
            assert!(e.to_string().ends_with(&core.to_string()), "{name}: {e}");
            // The engine's value, unchanged, is the error's source.
            let source = std::error::Error::source(e).expect("source");
            assert_eq!(source.downcast_ref::<PolicyError>(), Some(core), "{name}");
        }
    }
}

/// The engine's error is matchable through the gateway's: variant and fields.
#[test]
fn the_engines_error_is_matchable() {
    let text = format!(
        "{HEAD}[[routes]]\npath = \"/api/\"\npolicy = {{ origins = [\"https://app.example/\"], methods = [\"TRACK\"] }}\n"
    );
    let errors = GatewayConfig::from_toml(&text).unwrap_err();
    match errors[0].policy_error() {
        Some(PolicyError::InvalidOrigin { value, problem }) => {
            assert_eq!(value, "https://app.example/");
            assert!(problem.to_string().contains("trailing slash"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        errors[1].policy_error(),
        Some(PolicyError::ForbiddenMethod { value }) if value == "TRACK"
    ));
    // Through the file reader too, with the file named.
    let dir = std::env::temp_dir().join(format!("corsgate-config-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, &text).unwrap();
    let from_file = GatewayConfig::from_file(&file).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(from_file[1].file.as_deref(), Some(file.as_path()));
    assert_eq!(from_file[1].policy_error(), errors[1].policy_error());
    assert_eq!(
        (from_file[1].line, from_file[1].column),
        (Some(5), Some(59))
    );
}

/// A value of the wrong type inside a policy table is TOML's error, at the
/// value, not a policy error.
#[test]
fn a_wrong_type_in_a_policy_table_is_located_by_toml() {
    for (text, at) in [
        (
            format!("{HEAD}[[routes]]\npath = \"/\"\npolicy = {{ origins = [\"https://a.example\"], max_age = \"ten\" }}\n"),
            (5, 55),
        ),
        (
            format!("{HEAD}[[routes]]\npath = \"/\"\n[routes.policy]\norigins = [\"https://a.example\"]\ncredentials = \"yes\"\n"),
            (7, 15),
        ),
    ] {
        let errors = GatewayConfig::from_toml(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].column), (Some(at.0), Some(at.1)), "{errors:?}");
        assert!(errors[0].policy_error().is_none());
    }
}
