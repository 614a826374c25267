//! The engine's side of the playground: validate a policy, then run a request
//! through the browser model against what the live gateway answers (its
//! layer and upstream called in-process, [`gateway_answer`]).
//!
//! The model always tells the policy's reason on a refusal
//! (`corsgate-reason`, `corsgate-policy-edit`: the playground turns
//! `reason_header` on whatever the edited TOML says, [`telling`]), so the
//! page shows the policy's reason beside the browser's and proposes the TOML
//! change.

use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::{
    Browser, Credentials, HeaderList, Policy, Profile, Request, Response, Stage, Verdict,
};
use serde::{Deserialize, Serialize};

use crate::gateway::gateway_answer;
pub use crate::policy::{problems, telling, PolicyProblem};

/// What the page asks the engine.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalRequest {
    /// The policy, as TOML.
    pub policy: String,
    /// The page's origin.
    pub origin: String,
    /// The method.
    pub method: String,
    /// The path on the gateway.
    pub path: String,
    /// Request headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// `omit`, `same-origin` or `include`.
    pub credentials: String,
    /// The browser profile (default `chromium`).
    #[serde(default)]
    pub browser: Option<String>,
}

/// One request on the wire and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// `preflight` or `actual`.
    pub stage: Stage,
    /// The method on the wire.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers the browser sends.
    pub headers: Vec<(String, String)>,
    /// The gateway's answer.
    pub response: WireResponse,
}

/// A response on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct WireResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
}

/// The engine's answer to the page.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EvalResponse {
    /// Policy problems (empty when the policy is valid).
    pub errors: Vec<PolicyProblem>,
    /// A problem with the request itself.
    pub error: Option<String>,
    /// The verdict, when the policy and the request are valid; in JSON its
    /// `reason.fix` has the one `fix` shape of corsgate's reports
    /// (`corsgate::report::Fix`; see `verdict_json`).
    #[serde(serialize_with = "verdict_json")]
    pub verdict: Option<Verdict>,
    /// What went over the wire in the model.
    pub wire: Vec<Exchange>,
    /// When the policy refused: its own reason and the TOML edit that allows
    /// the request (what the gateway's `corsgate-reason` and
    /// `corsgate-policy-edit` say).
    pub policy_reason: Option<PolicyReason>,
}

/// The verdict as the page reads it: the engine's `Verdict`, whose
/// `reason.fix` (a sentence) and `reason.remedy` (the structured change)
/// become one `fix` object with the keys of every corsgate report's `fix`
/// (`corsgate::report::Fix`: side, stage, url, set_headers, vary,
/// remove_headers, status, sentence, assumed, snippet; a test in the
/// corsgate crate holds the two to the same keys).
fn verdict_json<S: serde::Serializer>(v: &Option<Verdict>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error as _;
    let mut value = serde_json::to_value(v).map_err(S::Error::custom)?;
    if let Some(reason) = value.get_mut("reason").and_then(|r| r.as_object_mut()) {
        if let Some(mut fix) = reason.remove("remedy") {
            if let Some(f) = fix.as_object_mut() {
                f.insert("assumed".into(), serde_json::Value::Bool(false));
                f.insert("snippet".into(), serde_json::Value::Null);
            }
            reason.insert("fix".into(), fix);
        }
    }
    value.serialize(s)
}

fn pairs(h: &HeaderList) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Validates the policy and judges the request.
pub fn evaluate(req: &EvalRequest, gateway_origin: &str) -> EvalResponse {
    let policy = match Policy::from_toml(&req.policy) {
        Ok(p) => telling(p),
        Err(errors) => {
            return EvalResponse {
                errors: problems(&errors),
                ..Default::default()
            }
        }
    };
    let profile = match req.browser.as_deref().map(str::parse::<Profile>) {
        None => Profile::Chromium,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return EvalResponse {
                error: Some(e),
                ..Default::default()
            }
        }
    };
    let credentials = match req.credentials.parse::<Credentials>() {
        Ok(c) => c,
        Err(e) => {
            return EvalResponse {
                error: Some(e),
                ..Default::default()
            }
        }
    };
    let path = if req.path.starts_with('/') {
        req.path.clone()
    } else {
        format!("/{}", req.path)
    };
    let mut builder = Request::builder(req.origin.clone(), format!("{gateway_origin}{path}"))
        .method(req.method.clone())
        .credentials(credentials);
    for (n, v) in &req.headers {
        builder = builder.header(n.clone(), v.as_bytes());
    }
    let request = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            return EvalResponse {
                error: Some(e.to_string()),
                ..Default::default()
            }
        }
    };
    let mut wire = Vec::new();
    let mut refused_because = None;
    let result = Browser::new(profile).run(request, |out| {
        let method = http::Method::from_bytes(out.method.as_bytes()).map_err(|e| e.to_string())?;
        let (headers, _) = out.headers.to_http();
        let path = url_path(&out.url);
        let (status, map, _body) = gateway_answer(&policy, &method, &path, &headers);
        let response = Response::with_headers(status.as_u16(), HeaderList::from_http(&map));
        if let Some(r) = PolicyReason::from_headers(&response.headers) {
            refused_because = Some(r);
        }
        wire.push(Exchange {
            stage: out.stage,
            method: out.method.clone(),
            url: out.url.clone(),
            headers: pairs(&out.headers),
            response: WireResponse {
                status: response.status,
                headers: pairs(&response.headers),
            },
        });
        Ok::<_, String>(response)
    });
    match result {
        Ok(verdict) => EvalResponse {
            policy_reason: if verdict.allowed {
                None
            } else {
                refused_because
            },
            verdict: Some(verdict),
            wire,
            ..Default::default()
        },
        Err(e) => EvalResponse {
            error: Some(e),
            wire,
            ..Default::default()
        },
    }
}

fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
origins = ["http://127.0.0.1:8080"]
methods = ["PUT"]
request_headers = ["content-type"]
expose_headers = ["x-total-count"]
credentials = true
"#;

    fn req(origin: &str, method: &str, headers: &[(&str, &str)]) -> EvalRequest {
        EvalRequest {
            policy: POLICY.into(),
            origin: origin.into(),
            method: method.into(),
            path: "/api/items".into(),
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            credentials: "include".into(),
            browser: None,
        }
    }

    #[test]
    fn allowed_and_denied() {
        let ok = evaluate(
            &req("http://127.0.0.1:8080", "GET", &[]),
            "http://127.0.0.1:9090",
        );
        let v = ok.verdict.expect("verdict");
        assert!(v.allowed);
        assert_eq!(
            v.exposed_headers,
            ["content-length", "content-type", "x-total-count"]
        );
        let denied = evaluate(
            &req("https://evil.example", "GET", &[]),
            "http://127.0.0.1:9090",
        );
        let v = denied.verdict.expect("verdict");
        assert!(!v.allowed);
        assert_eq!(v.reason.expect("reason").code, "missing_allow_origin");
        let put = evaluate(
            &req(
                "http://127.0.0.1:8080",
                "PUT",
                &[("Content-Type", "application/json")],
            ),
            "http://127.0.0.1:9090",
        );
        assert!(put.verdict.expect("verdict").allowed);
        assert_eq!(put.wire.len(), 2);
        assert_eq!(put.wire[0].response.status, 204);
    }

    #[test]
    fn policy_errors_are_located() {
        let mut r = req("http://127.0.0.1:8080", "GET", &[]);
        r.policy = "origins = [\"https://app.example/\"]\ncredentials = true\n".into();
        let out = evaluate(&r, "http://127.0.0.1:9090");
        assert!(out.verdict.is_none());
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].line, Some(1));
        assert!(out.errors[0].message.contains("trailing slash"));
    }
}
