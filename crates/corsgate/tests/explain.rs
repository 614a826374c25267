//! `corsgate explain` on console messages as Chrome and Firefox print them
//! (formats from Chromium's cors_error_string.cc and Gecko's security.properties).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{corsgate, set_value};

fn explain(msg: &str) -> serde_json::Value {
    let r = corsgate(&["explain", msg, "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    r.json()
}

const NO_CORS_INFO: &str = " Have the server send the header with a valid value, or, if an opaque response serves your needs, set the request's mode to 'no-cors' to fetch the resource with CORS disabled.";

#[test]
fn chrome_missing_allow_origin_with_console_noise() {
    let msg = "localhost/:1 Access to fetch at 'https://api.example.com/data' from origin 'http://localhost:3000' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource. If an opaque response serves your needs, set the request's mode to 'no-cors' to fetch the resource with CORS disabled.\nmain.js:12  GET https://api.example.com/data net::ERR_FAILED 200 (OK)";
    let v = explain(msg);
    assert_eq!(v["browser"], "chrome");
    assert_eq!(v["code"], "missing_allow_origin");
    assert_eq!(v["chromium"], "MissingAllowOriginHeader");
    assert_eq!(v["preflight"], false);
    assert_eq!(v["url"], "https://api.example.com/data");
    assert_eq!(v["origin"], "http://localhost:3000");
    assert_eq!(v["status"], 200);
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Origin").as_deref(),
        Some("http://localhost:3000")
    );
    assert!(v["causes"].as_array().unwrap().len() >= 2);
}

#[test]
fn chrome_preflight_variants() {
    let head = "Access to fetch at 'https://api.example.com/items' from origin 'https://app.example.com' has been blocked by CORS policy: ";
    let pre = "Response to preflight request doesn't pass access control check: ";
    let cases: &[(&str, &str, &str)] = &[
        (&format!("{head}{pre}No 'Access-Control-Allow-Origin' header is present on the requested resource."), "missing_allow_origin", "PreflightMissingAllowOriginHeader"),
        (&format!("{head}{pre}It does not have HTTP ok status."), "preflight_status", "PreflightInvalidStatus"),
        (&format!("{head}{pre}Redirect is not allowed for a preflight request."), "preflight_redirect", "PreflightDisallowedRedirect"),
        (&format!("{head}Method PATCH is not allowed by Access-Control-Allow-Methods in preflight response."), "method_not_allowed", "MethodDisallowedByPreflightResponse"),
        (&format!("{head}Request header field x-api-key is not allowed by Access-Control-Allow-Headers in preflight response."), "header_not_allowed", "HeaderDisallowedByPreflightResponse"),
        (&format!("{head}Cannot parse Access-Control-Allow-Headers response header field in preflight response."), "invalid_allow_headers", "InvalidAllowHeadersPreflightResponse"),
        (&format!("{head}{pre}The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'."), "invalid_allow_credentials", "PreflightInvalidAllowCredentials"),
    ];
    for (msg, code, chromium) in cases {
        let v = explain(msg);
        assert_eq!(v["code"], *code, "{msg}");
        assert_eq!(v["chromium"], *chromium, "{msg}");
        assert_eq!(v["preflight"], true, "{msg}");
        assert_eq!(v["is_cors"], true);
    }
    let v = explain(&format!(
        "{head}Method PATCH is not allowed by Access-Control-Allow-Methods in preflight response."
    ));
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Methods").as_deref(),
        Some("PATCH")
    );
    let v = explain(&format!("{head}Request header field x-api-key is not allowed by Access-Control-Allow-Headers in preflight response."));
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Headers").as_deref(),
        Some("x-api-key")
    );
}

#[test]
fn chrome_xhr_wildcard_with_credentials() {
    let v = explain("Access to XMLHttpRequest at 'https://api.example.com/me' from origin 'https://app.example.com' has been blocked by CORS policy: The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'. The credentials mode of requests initiated by the XMLHttpRequest is controlled by the withCredentials attribute.");
    assert_eq!(v["code"], "wildcard_origin_with_credentials");
    assert_eq!(v["chromium"], "WildcardOriginNotAllowed");
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Origin").as_deref(),
        Some("https://app.example.com")
    );
}

#[test]
fn chrome_multiple_values_and_mismatch_after_redirect() {
    let v = explain(&format!("Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header contains multiple values 'https://app.example.com, https://app.example.com', but only one is allowed.{NO_CORS_INFO}"));
    assert_eq!(v["code"], "multiple_allow_origin");
    assert_eq!(
        v["value"],
        "https://app.example.com, https://app.example.com"
    );
    assert!(v["fix"]["sentence"].as_str().unwrap().contains("twice"));

    let v = explain(&format!("Access to fetch at 'https://b.example.com/final' (redirected from 'https://a.example.com/start') from origin 'https://app.example.com' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header has a value 'https://app.example.com/' that is not equal to the supplied origin.{NO_CORS_INFO}"));
    assert_eq!(v["code"], "allow_origin_mismatch");
    assert_eq!(v["url"], "https://b.example.com/final");
    assert_eq!(v["redirected_from"], "https://a.example.com/start");
    assert_eq!(v["value"], "https://app.example.com/");
    // a.example redirected to b.example: the browser sent `Origin: null`, so
    // the slash is not why it failed; the message proves it.
    assert!(
        v["proves"].as_str().unwrap().contains("`Origin: null`"),
        "{v:#}"
    );
    assert_eq!(v["sent_origin"], "null");
    assert_eq!(v["fix"]["side"], "client");
}

#[test]
fn firefox_messages() {
    let head = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example.com/data. (Reason: ";
    let cases: &[(&str, &str, &str)] = &[
        ("CORS header \u{2018}Access-Control-Allow-Origin\u{2019} missing). Status code: 200.", "missing_allow_origin", "CORSMissingAllowOrigin"),
        ("CORS header \u{2018}Access-Control-Allow-Origin\u{2019} does not match \u{2018}https://app.example.com/\u{2019}).", "allow_origin_mismatch", "CORSAllowOriginNotMatchingOrigin"),
        ("Multiple CORS header \u{2018}Access-Control-Allow-Origin\u{2019} not allowed).", "multiple_allow_origin", "CORSMultipleAllowOriginNotAllowed"),
        ("expected \u{2018}true\u{2019} in CORS header \u{2018}Access-Control-Allow-Credentials\u{2019}).", "invalid_allow_credentials", "CORSMissingAllowCredentials"),
        ("CORS preflight response did not succeed). Status code: 405.", "preflight_status", "CORSPreflightDidNotSucceed"),
        ("Did not find method in CORS header \u{2018}Access-Control-Allow-Methods\u{2019}).", "method_not_allowed", "CORSMethodNotFound"),
        ("header \u{2018}x-api-key\u{2019} is not allowed according to header \u{2018}Access-Control-Allow-Headers\u{2019} from CORS preflight response).", "header_not_allowed", "CORSMissingAllowHeaderFromPreflight"),
        ("invalid token \u{2018}x y\u{2019} in CORS header \u{2018}Access-Control-Allow-Headers\u{2019}).", "invalid_allow_headers", "CORSInvalidAllowHeader"),
        ("CORS request external redirect not allowed).", "preflight_redirect", "CORSExternalRedirectNotAllowed"),
        ("CORS request not http).", "unsupported_scheme", "CORSRequestNotHttp"),
    ];
    for (reason, code, key) in cases {
        let msg = format!("{head}{reason}");
        let v = explain(&msg);
        assert_eq!(v["browser"], "firefox", "{msg}");
        assert_eq!(v["code"], *code, "{msg}");
        assert_eq!(v["firefox"], *key, "{msg}");
        assert_eq!(v["url"], "https://api.example.com/data", "{msg}");
    }
    let v = explain(&format!(
        "{head}CORS preflight response did not succeed). Status code: 405."
    ));
    assert_eq!(v["status"], 405);
    assert_eq!(v["fix"]["status"], 204);
    let v = explain(&format!("{head}header \u{2018}x-api-key\u{2019} is not allowed according to header \u{2018}Access-Control-Allow-Headers\u{2019} from CORS preflight response)."));
    assert_eq!(v["value"], "x-api-key");
}

#[test]
fn firefox_credentials_message_quotes_the_url_and_origin_can_be_given() {
    let msg = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at \u{2018}https://api.example.com/me\u{2019}. (Reason: Credential is not supported if the CORS header \u{2018}Access-Control-Allow-Origin\u{2019} is \u{2018}*\u{2019}).";
    let r = corsgate(&[
        "explain",
        msg,
        "--origin",
        "https://app.example.com",
        "--json",
    ]);
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["code"], "wildcard_origin_with_credentials");
    assert_eq!(v["url"], "https://api.example.com/me");
    assert_eq!(v["origin"], "https://app.example.com");
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Origin").as_deref(),
        Some("https://app.example.com")
    );
}

#[test]
fn firefox_did_not_succeed_is_a_network_error() {
    let v = explain("Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://localhost:8080/api. (Reason: CORS request did not succeed). Status code: (null).");
    assert_eq!(v["code"], "network_error");
    assert_eq!(v["is_cors"], false);
    assert!(v["causes"][0]
        .as_str()
        .unwrap()
        .contains("connection refused"));
}

#[test]
fn firefox_authorization_wildcard_warning() {
    let v = explain("Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at https://api.example.com/me soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`).");
    assert_eq!(v["code"], "header_not_allowed");
    assert_eq!(v["details"]["authorization_not_covered"], true);
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Headers").as_deref(),
        Some("authorization")
    );
}

#[test]
fn human_output_and_unrecognized_messages() {
    let r = corsgate(&["explain", "Access to fetch at 'https://api.example.com/items' from origin 'http://localhost:3000' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: It does not have HTTP ok status."]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("What the message proves:"));
    assert!(r.stdout.contains("What it suggests (guesses"));
    assert!(r.stdout.contains("authentication"));
    assert!(r.stdout.contains(
        "corsgate check 'https://api.example.com/items' --origin 'http://localhost:3000'"
    ));
    let r = corsgate(&["explain", "TypeError: Failed to fetch"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not look like"));
}

#[test]
fn message_from_standard_input() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(["explain", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "preflight_redirect");
    assert_eq!(v["fix"]["status"], 204);
    assert_eq!(v["fix"]["remove_headers"][0], "Location");
}

#[test]
fn chrome_scheme_and_mode_messages() {
    let v = explain("Access to fetch at 'file:///C:/data.json' from origin 'null' has been blocked by CORS policy: Cross origin requests are only supported for protocol schemes: http, data, isolated-app, chrome-extension, chrome, https, chrome-untrusted.");
    assert_eq!(v["code"], "unsupported_scheme");
    assert_eq!(v["chromium"], "CorsDisabledScheme");
    assert_eq!(v["origin"], "null");
    assert_eq!(v["fix"]["side"], "client");
    let v = explain("Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has been blocked by CORS policy: Cross origin requests are not allowed by request mode.");
    assert_eq!(v["code"], "disallowed_by_mode");
    assert_eq!(v["fix"]["side"], "client");
}

#[test]
fn after_a_cross_origin_redirect_the_origin_was_null_and_only_the_client_can_fix_it() {
    // Chromium quotes the page's origin, but after api.example redirected to
    // other.example the request carried `Origin: null`.
    let redirected = "Access to fetch at 'https://other.example/y' (redirected from 'https://api.example/x') from origin 'https://app.example' has been blocked by CORS policy: ";
    for body in [
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        "The 'Access-Control-Allow-Origin' header has a value 'https://app.example' that is not equal to the supplied origin.",
    ] {
        let v = explain(&format!("{redirected}{body}"));
        assert_eq!(v["fix"]["side"], "client", "{body}: {v:#}");
        assert!(v["fix"]["set_headers"].as_array().unwrap().is_empty());
        let meaning = v["meaning"].as_str().unwrap();
        assert!(meaning.contains("`Origin: null`"), "{meaning}");
        assert!(!meaning.contains("differ"), "{meaning}");
    }
    // A redirect within the page's own origin first: nothing is known to be tainted.
    let v = explain("Access to fetch at 'https://api.example/y' (redirected from 'https://app.example/x') from origin 'https://app.example' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource.");
    assert_eq!(
        set_value(&v["fix"], "Access-Control-Allow-Origin").as_deref(),
        Some("https://app.example")
    );
}

#[test]
fn unparsable_allow_lists_are_never_fixed_with_an_empty_value() {
    let head = "Access to fetch at 'https://api.example.com/items' from origin 'https://app.example.com' has been blocked by CORS policy: ";
    for (body, header) in [
        (
            "Cannot parse Access-Control-Allow-Headers response header field in preflight response.",
            "Access-Control-Allow-Headers",
        ),
        (
            "Cannot parse Access-Control-Allow-Methods response header field in preflight response.",
            "Access-Control-Allow-Methods",
        ),
    ] {
        let v = explain(&format!("{head}{body}"));
        let value = set_value(&v["fix"], header).unwrap_or_default();
        assert!(!value.trim().is_empty(), "{v:#}");
        assert!(
            v["fix"]["remove_headers"].as_array().unwrap().is_empty(),
            "{v:#}"
        );
        let meaning = v["meaning"].as_str().unwrap();
        assert!(!meaning.contains(": `"), "{meaning}");
        assert!(!meaning.contains("''"), "{meaning}");
    }
}

#[test]
fn what_a_message_does_not_say_is_not_stated() {
    let head = "Access to fetch at 'https://api.example.com/items' from origin 'https://app.example.com' has been blocked by CORS policy: ";
    // No status in the message: never "status 0" or "(0)".
    for body in [
        "Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.",
        "Response to preflight request doesn't pass access control check: It does not have HTTP ok status.",
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    ] {
        let v = explain(&format!("{head}{body}"));
        let text = format!("{} {}", v["meaning"], v["fix"]["sentence"]);
        assert!(!text.contains("status 0") && !text.contains("(0") && !text.contains(" 0:"), "{text}");
    }
    // The list the server sent is not in the message: no "absent or empty".
    for body in [
        "Method PATCH is not allowed by Access-Control-Allow-Methods in preflight response.",
        "Request header field x-api-key is not allowed by Access-Control-Allow-Headers in preflight response.",
    ] {
        let v = explain(&format!("{head}{body}"));
        let meaning = v["meaning"].as_str().unwrap();
        assert!(!meaning.contains("absent or empty"), "{meaning}");
        assert!(meaning.contains("does not list it"), "{meaning}");
    }
    // Safari does not say what the response allowed.
    let v = explain("Origin https://app.example.com is not allowed by Access-Control-Allow-Origin. Status code: 200");
    let meaning = v["meaning"].as_str().unwrap();
    assert!(
        !meaning.contains("``") && !meaning.contains("allows `"),
        "{meaning}"
    );
}

#[test]
fn messages_cut_anywhere_are_read_or_refused_never_misread() {
    let chrome = "Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has been blocked by CORS policy: ";
    let pre = "Response to preflight request doesn't pass access control check: ";
    let ff = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example.com/x. (Reason: ";
    let bodies: Vec<(String, String)> = [
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.",
        "The 'Access-Control-Allow-Origin' header has a value 'https://app.example.com/' that is not equal to the supplied origin.",
        "The 'Access-Control-Allow-Origin' header contains multiple values 'https://a.example, https://b.example', but only one is allowed.",
        "The 'Access-Control-Allow-Origin' header contains the invalid value 'app.example.com'.",
        "The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'.",
        "Cannot parse Access-Control-Allow-Headers response header field in preflight response.",
    ]
    .iter()
    .flat_map(|b| {
        [
            (chrome.to_string(), b.to_string()),
            (format!("{chrome}{pre}"), b.to_string()),
        ]
    })
    .chain(
        [
            "CORS header 'Access-Control-Allow-Origin' missing).",
            "CORS header 'Access-Control-Allow-Origin' does not match 'https://app.example.com/').",
            "Credential is not supported if the CORS header 'Access-Control-Allow-Origin' is '*').",
            "expected 'true' in CORS header 'Access-Control-Allow-Credentials').",
            "CORS preflight response did not succeed). Status code: 401.",
        ]
        .iter()
        .map(|r| (ff.to_owned(), r.to_string())),
    )
    .collect();
    let mut read = 0;
    for (head, body) in &bodies {
        let full = explain(&format!("{head}{body}"));
        let code = full["code"].as_str().unwrap().to_owned();
        // Every cut from 12 characters into the body to the end, one run per
        // cut (the binary is slow to start: a stride of 3 characters).
        let cuts: Vec<usize> = (12..body.len())
            .step_by(3)
            .filter(|c| body.is_char_boundary(*c))
            .collect();
        let texts: Vec<String> = cuts
            .iter()
            .map(|c| format!("{head}{}", &body[..*c]))
            .collect();
        for t in texts {
            let r = common::corsgate(&["explain", &t, "--json"]);
            if r.code != 0 {
                continue; // not told: refused, never misread
            }
            let v = r.json();
            assert_eq!(v["code"], code, "cut: {t}\n{v:#}");
            read += 1;
        }
        // Cut past the point where families part, it is always read.
        let late = format!("{head}{}", &body[..body.len().min(70)]);
        let r = common::corsgate(&["explain", &late, "--json"]);
        assert_eq!(r.code, 0, "not read: {late}");
        assert_eq!(r.json()["code"], code, "{late}");
    }
    assert!(read > 200, "{read}");
}

/// What a message proves is stated; what it suggests is worded as a guess,
/// each with the check that settles it; a status in the message picks the
/// guess it points to and drops the others about statuses.
#[test]
fn proves_and_suggests() {
    let ff = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example.com/x. (Reason: CORS preflight response did not succeed). Status code: 404.";
    let v = explain(ff);
    let suggests = v["suggests"].as_array().unwrap();
    assert!(
        suggests[0]["guess"].as_str().unwrap().contains("404/405"),
        "{v:#}"
    );
    assert!(
        !suggests
            .iter()
            .any(|g| g["guess"].as_str().unwrap().contains("401")),
        "{v:#}"
    );
    assert!(v["proves"].as_str().unwrap().contains("404"));
    let chrome = "Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has been blocked by CORS policy: Request header field x-api-key is not allowed by Access-Control-Allow-Headers in preflight response.";
    for msg in [ff, chrome] {
        let v = explain(msg);
        for g in v["suggests"].as_array().unwrap() {
            let guess = g["guess"].as_str().unwrap();
            assert!(
                guess.starts_with("perhaps") || guess.starts_with("the status"),
                "a guess not worded as one: {guess}"
            );
            assert!(!g["settle"].as_str().unwrap().is_empty());
        }
    }
    let v = explain(chrome);
    assert_eq!(
        v["check"],
        "corsgate check 'https://api.example.com/x' --origin 'https://app.example.com' --header 'x-api-key: <value>'"
    );
    assert!(v["suggests"][0]["settle"]
        .as_str()
        .unwrap()
        .contains("--header 'x-api-key: <value>'"));
}
