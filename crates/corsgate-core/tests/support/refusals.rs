//! Generated values of every `Refusal` variant, shared by the tests that hold
//! every text corsgate prints to the rule of `corsgate_core::advice` (the
//! engine's own, and the `corsgate` command's formats).
#![allow(dead_code)]

use corsgate_core::remedy::RemedyContext;
use corsgate_core::{Refusal, Stage};

/// Origins a refusal can name: real ones, the opaque `null` (a sandboxed page,
/// or after a cross-origin redirect), odd spellings of it, a placeholder.
pub(super) const ORIGINS: &[&str] = &[
    "https://app.example",
    "http://localhost:3000",
    "null",
    "NULL",
    "<page origin>",
    "",
];

/// Values an `Access-Control-Allow-Origin` can carry.
pub(super) const VALUES: &[&str] = &[
    "*",
    "null",
    "https://app.example/",
    "HTTPS://APP.EXAMPLE",
    "http://app.example",
    "https://app.example:8443",
    "https://app.example?",
    "https://app.example#",
    "https://app.example/w",
    "ftp://app.example",
    "https://a.example, https://b.example",
    "*, null",
    "",
];

const STAGES: [Stage; 3] = [Stage::Preflight, Stage::Actual, Stage::Redirect];

/// How many variants `Refusal` has; [`variant`] fails to compile when one is added.
pub(super) const VARIANTS: usize = 18;

/// The index of a refusal's variant.
pub(super) fn variant(r: &Refusal) -> usize {
    match r {
        Refusal::DisallowedByMode { .. } => 0,
        Refusal::UnsupportedScheme { .. } => 1,
        Refusal::MissingAllowOrigin { .. } => 2,
        Refusal::WildcardOriginWithCredentials { .. } => 3,
        Refusal::MultipleAllowOrigin { .. } => 4,
        Refusal::InvalidAllowOrigin { .. } => 5,
        Refusal::AllowOriginMismatch { .. } => 6,
        Refusal::InvalidAllowCredentials { .. } => 7,
        Refusal::PreflightStatus { .. } => 8,
        Refusal::PreflightRedirect { .. } => 9,
        Refusal::InvalidAllowMethods { .. } => 10,
        Refusal::InvalidAllowHeaders { .. } => 11,
        Refusal::MethodNotAllowed { .. } => 12,
        Refusal::HeaderNotAllowed { .. } => 13,
        Refusal::RedirectContainsCredentials { .. } => 14,
        Refusal::RedirectNotHttp { .. } => 15,
        Refusal::InvalidRedirectLocation { .. } => 16,
        Refusal::TooManyRedirects => 17,
    }
}

/// Every variant, with every origin, stage and value above.
pub(super) fn all() -> Vec<Refusal> {
    let s = |v: &str| v.to_owned();
    let mut out = vec![
        Refusal::DisallowedByMode {
            url: s("https://api.example/x"),
        },
        Refusal::UnsupportedScheme {
            url: s("file:///x"),
            scheme: s("file"),
        },
        Refusal::TooManyRedirects,
    ];
    for stage in STAGES {
        for origin in ORIGINS {
            for status in [0, 200, 302, 401, 500] {
                out.push(Refusal::MissingAllowOrigin {
                    stage,
                    origin: s(origin),
                    status,
                });
            }
            out.push(Refusal::WildcardOriginWithCredentials {
                stage,
                origin: s(origin),
            });
            for value in VALUES {
                for lines in [1, 2] {
                    out.push(Refusal::MultipleAllowOrigin {
                        stage,
                        value: s(value),
                        lines,
                        origin: s(origin),
                    });
                }
                out.push(Refusal::InvalidAllowOrigin {
                    stage,
                    value: s(value),
                    origin: s(origin),
                });
                out.push(Refusal::AllowOriginMismatch {
                    stage,
                    value: s(value),
                    origin: s(origin),
                });
            }
        }
        for value in [None, Some(s("TRUE")), Some(s("")), Some(s("*"))] {
            out.push(Refusal::InvalidAllowCredentials { stage, value });
        }
    }
    for status in [0, 101, 204, 301, 304, 400, 401, 404, 500] {
        out.push(Refusal::PreflightStatus { status });
        for location in [None, Some(s("/x/")), Some(s("https://other.example/x"))] {
            out.push(Refusal::PreflightRedirect { status, location });
        }
    }
    for (value, element) in [("", ""), ("GET; POST", "GET; POST"), ("\"PUT\"", "\"PUT\"")] {
        out.push(Refusal::InvalidAllowMethods {
            value: s(value),
            element: s(element),
        });
        out.push(Refusal::InvalidAllowHeaders {
            value: s(value),
            element: s(element),
        });
    }
    for allowed in [vec![], vec![s("*")], vec![s("GET"), s("patch")]] {
        for wildcard_ignored in [false, true] {
            for method in ["PATCH", "patch", "<method>"] {
                out.push(Refusal::MethodNotAllowed {
                    method: s(method),
                    allowed: allowed.clone(),
                    wildcard_ignored,
                });
            }
            for header in ["authorization", "x-token"] {
                for authorization_not_covered in [false, true] {
                    out.push(Refusal::HeaderNotAllowed {
                        header: s(header),
                        allowed: allowed.clone(),
                        wildcard_ignored,
                        authorization_not_covered,
                    });
                }
            }
        }
    }
    for location in ["https://u:p@api.example/x", "not a url"] {
        out.push(Refusal::RedirectContainsCredentials {
            location: s(location),
        });
    }
    out.push(Refusal::RedirectNotHttp {
        location: s("data:text/plain,x"),
    });
    out.push(Refusal::InvalidRedirectLocation {
        location: s("http://[bad"),
    });
    out
}

/// Contexts a remedy can be made in: with each origin (the request's origin
/// after redirects), with and without a method and unsafe headers.
pub(super) fn contexts() -> Vec<RemedyContext> {
    let mut out = Vec::new();
    for origin in ORIGINS {
        for (method, headers) in [
            ("", vec![]),
            ("PUT", vec!["x-token".to_owned()]),
            ("GET", vec![]),
        ] {
            out.push(RemedyContext {
                url: "https://api.example/x".into(),
                method: method.into(),
                unsafe_headers: headers,
                origin: (*origin).into(),
            });
        }
    }
    out
}
