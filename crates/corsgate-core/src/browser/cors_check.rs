//! The CORS check: may the page at this origin read this response?
//!
//! Applied to every response of a CORS request: the preflight, each redirect,
//! and the final response. It looks only at `Access-Control-Allow-Origin` and,
//! for credentialed requests, `Access-Control-Allow-Credentials`.

use crate::browser::init::Credentials;
use crate::browser::profile::{MultipleOriginDetection, Profile};
use crate::browser::refusal::{Refusal, Stage};
use crate::browser::response::Response;

/// Runs the Fetch standard's CORS check, reporting the failure the way
/// `profile` would classify it.
///
/// `origin` is the request's serialized origin (`null` after a tainting redirect).
///
/// ```
/// use corsgate_core::{cors_check, Credentials, Profile, Response, Stage, Refusal};
/// let r = Response::new(200).header("Access-Control-Allow-Origin", "https://app.example/");
/// let err = cors_check("https://app.example", Credentials::Omit, &r, Stage::Actual, Profile::Chromium)
///     .unwrap_err();
/// assert_eq!(err.code(), "allow_origin_mismatch");
/// assert!(err.to_string().contains("trailing slash"));
/// ```
pub fn cors_check(
    origin: &str,
    credentials: Credentials,
    response: &Response,
    stage: Stage,
    profile: Profile,
) -> Result<(), Refusal> {
    let include = credentials.is_include();
    let lines = response
        .headers
        .get_all("access-control-allow-origin")
        .count();
    let Some(value) = response.headers.get("access-control-allow-origin") else {
        return Err(Refusal::MissingAllowOrigin {
            stage,
            origin: origin.to_owned(),
            status: response.status,
        });
    };
    let value = String::from_utf8_lossy(&value).into_owned();
    let multiple = || Refusal::MultipleAllowOrigin {
        stage,
        value: value.clone(),
        lines,
        origin: origin.to_owned(),
    };
    if profile.multiple_origin_detection() == MultipleOriginDetection::HeaderLines && lines > 1 {
        return Err(multiple());
    }
    if value == "*" {
        if !include {
            return Ok(());
        }
        return Err(Refusal::WildcardOriginWithCredentials {
            stage,
            origin: origin.to_owned(),
        });
    }
    if value != origin {
        let looks_multiple = match profile.multiple_origin_detection() {
            MultipleOriginDetection::CommaOrSpace => value.contains([',', ' ']),
            MultipleOriginDetection::Comma | MultipleOriginDetection::CombinedMismatch => {
                value.contains(',')
            }
            MultipleOriginDetection::HeaderLines => false,
        };
        if looks_multiple {
            return Err(multiple());
        }
        let invalid = value != "null" && url::Url::parse(&value).is_err();
        return Err(if invalid && profile.reports_invalid_allow_origin() {
            Refusal::InvalidAllowOrigin {
                stage,
                value,
                origin: origin.to_owned(),
            }
        } else {
            Refusal::AllowOriginMismatch {
                stage,
                value,
                origin: origin.to_owned(),
            }
        });
    }
    if !include {
        return Ok(());
    }
    match response.headers.get("access-control-allow-credentials") {
        Some(v) if v.as_ref() == b"true" => Ok(()),
        other => Err(Refusal::InvalidAllowCredentials {
            stage,
            value: other.map(|v| String::from_utf8_lossy(&v).into_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "http://web-platform.test:8000";

    fn acao(values: &[&str]) -> Response {
        let mut r = Response::new(200);
        for v in values {
            r = r.header("Access-Control-Allow-Origin", v);
        }
        r
    }

    fn passes(values: &[&str]) -> bool {
        Profile::ALL
            .iter()
            .map(|p| cors_check(O, Credentials::Omit, &acao(values), Stage::Actual, *p).is_ok())
            .reduce(|a, b| {
                assert_eq!(a, b, "profiles disagree on {values:?}");
                a
            })
            .unwrap_or(false)
    }

    /// web-platform-tests `cors/origin.htm`: which `Access-Control-Allow-Origin`
    /// values let a non-credentialed request through. (Header values arrive
    /// with surrounding whitespace already stripped by the HTTP parser.)
    #[test]
    fn wpt_origin_values() {
        for ok in [
            "*",
            " *  ",
            "\t*",
            O,
            &format!(" {O}"),
            &format!(" {O}   \t "),
            &format!("\t{O}"),
        ] {
            assert!(passes(&[ok]), "{ok:?} should pass");
        }
        let upper = O.to_uppercase();
        let fails = [
            "http://www1.web-platform.test:8000".to_string(),
            "//web-platform.test:8000".into(),
            "://web-platform.test:8000".into(),
            "ftp://web-platform.test:8000".into(),
            "http:://web-platform.test:8000".into(),
            "http:/web-platform.test:8000".into(),
            "http:web-platform.test:8000".into(),
            "web-platform.test:8000".into(),
            format!("{O}?"),
            format!("{O}/"),
            format!("{O} /"),
            format!("{O}#"),
            format!("{O}%23"),
            format!("{O}:80"),
            format!("{O}, *"),
            format!("{O}\0"),
            upper,
            "HTTP://web-platform.test:8000".into(),
            "-".into(),
            "**".into(),
            "\0*".into(),
            "*\0".into(),
            "'*'".into(),
            "\"*\"".into(),
            "* *".into(),
            "* null".into(),
            format!("*{O}"),
            format!("* {O}"),
            format!("*, {O}"),
            format!("\0{O}"),
            format!("null {O}"),
            "http://example.net".into(),
            "null".into(),
            "null *".into(),
            "".into(),
        ];
        for bad in &fails {
            assert!(!passes(&[bad]), "{bad:?} should fail");
        }
        for two in [
            [O, O],
            ["*", "*"],
            [O, "*"],
            ["*", O],
            ["null", O],
            [O, "null"],
        ] {
            assert!(!passes(&two), "two lines {two:?} should fail");
        }
    }

    /// The Fetch standard's credentials table.
    #[test]
    fn credentials_table() {
        let o = "https://rabbit.invalid";
        let check = |cred, acao: &str, acac: Option<&str>| {
            let mut r = Response::new(200).header("Access-Control-Allow-Origin", acao);
            if let Some(c) = acac {
                r = r.header("Access-Control-Allow-Credentials", c);
            }
            cors_check(o, cred, &r, Stage::Actual, Profile::Standard)
        };
        assert!(check(Credentials::Omit, "*", None).is_ok());
        assert!(check(Credentials::Omit, "*", Some("true")).is_ok());
        assert!(check(Credentials::Omit, "https://rabbit.invalid/", None).is_err());
        assert_eq!(
            check(Credentials::Include, "*", Some("true"))
                .unwrap_err()
                .code(),
            "wildcard_origin_with_credentials"
        );
        assert!(check(Credentials::Include, o, Some("true")).is_ok());
        assert_eq!(
            check(Credentials::Include, o, Some("True"))
                .unwrap_err()
                .code(),
            "invalid_allow_credentials"
        );
        assert_eq!(
            check(Credentials::Include, o, None).unwrap_err().code(),
            "invalid_allow_credentials"
        );
        // same-origin credentials mode is not "include" for the check.
        assert!(check(Credentials::SameOrigin, "*", None).is_ok());
    }

    #[test]
    fn classification_per_profile() {
        let two = acao(&[O, O]);
        let code = |p| cors_check(O, Credentials::Omit, &two, Stage::Actual, p).unwrap_err();
        assert_eq!(
            code(Profile::Chromium).chromium_error(),
            Some("MultipleAllowOriginValues")
        );
        assert_eq!(
            code(Profile::Firefox).firefox_error(),
            Some("CORSMultipleAllowOriginNotAllowed")
        );
        let list = acao(&["https://a.example https://b.example"]);
        assert_eq!(
            cors_check(
                O,
                Credentials::Omit,
                &list,
                Stage::Actual,
                Profile::Chromium
            )
            .unwrap_err()
            .code(),
            "multiple_allow_origin"
        );
        assert_eq!(
            cors_check(O, Credentials::Omit, &list, Stage::Actual, Profile::Firefox)
                .unwrap_err()
                .code(),
            "allow_origin_mismatch"
        );
        let missing = Response::new(500);
        let e = cors_check(
            O,
            Credentials::Omit,
            &missing,
            Stage::Preflight,
            Profile::Chromium,
        )
        .unwrap_err();
        assert_eq!(
            e.chromium_error(),
            Some("PreflightMissingAllowOriginHeader")
        );
        assert_eq!(e.firefox_error(), Some("CORSMissingAllowOrigin"));
        // A tainted request's origin is `null`, and `null` then matches.
        assert!(cors_check(
            "null",
            Credentials::Omit,
            &acao(&["null"]),
            Stage::Actual,
            Profile::Chromium
        )
        .is_ok());
    }
}
