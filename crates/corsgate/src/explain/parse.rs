//! Reading a pasted console message: which family and row of [`super::table`]
//! it is, the value it quotes, its URLs, origin and status, and the refusal
//! it proves. A message cut short is completed when what is left fits one
//! row only, and refused otherwise, never misread.

use corsgate_core::{Refusal, Stage};

use super::table::{Row, CHROMIUM, FIREFOX, UNSAFE_HEADER, WEBKIT};

/// What was read from a message.
pub(super) struct Parsed {
    pub browser: &'static str,
    pub url: Option<String>,
    pub redirected_from: Option<String>,
    pub origin: Option<String>,
    /// The origin the browser sent, when the message proves it differs.
    pub sent_origin: Option<String>,
    pub preflight: Option<bool>,
    pub status: Option<u16>,
    pub value: Option<String>,
    pub row: Option<&'static Row>,
    pub kind: Kind,
}

pub(super) enum Kind {
    Refusal(Refusal),
    Other {
        code: &'static str,
        chromium: Option<&'static str>,
        firefox: Option<&'static str>,
        is_cors: bool,
    },
}

/// Text between `start` and the next `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let rest = &s[i..];
    Some(&rest[..rest.find(end)?])
}

fn status_in(s: &str) -> Option<u16> {
    for marker in ["Status code: ", "status code ", "net::ERR_FAILED "] {
        if let Some(i) = s.find(marker) {
            let digits: String = s[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                return Some(n);
            }
        }
    }
    None
}

/// The row of `rows` that `body` is (anchored: it starts with the head;
/// otherwise the head and tail are anywhere), and the value it quotes.
fn find_row(
    rows: &'static [Row],
    body: &str,
    anchored: bool,
) -> Option<(&'static Row, Option<String>)> {
    rows.iter().find_map(|row| match row.tail {
        Some(tail) if anchored => {
            let rest = strip_head(body, row.head)?;
            Some((row, Some(rest[..rest.find(tail)?].to_owned())))
        }
        Some(tail) => {
            // The nearest head before the tail: "Origin " also occurs inside
            // "Cross-Origin Resource Sharing".
            let t = body.find(tail)?;
            let h = body[..t].rfind(row.head)?;
            Some((row, Some(body[h + row.head.len()..t].to_owned())))
        }
        None => {
            let at = if anchored {
                strip_head(body, row.head).map(|_| 0)
            } else {
                body.find(row.head)
            }?;
            // A value after a head ending in ": " (WebKit's invalid lists).
            let value = row
                .head
                .ends_with(": ")
                .then(|| body[at + row.head.len()..].trim().to_owned());
            Some((row, value.filter(|v| !v.is_empty())))
        }
    })
}

/// `body` after `head`, which it starts with (ASCII case aside: Firefox
/// wrote "CORS request not http" and "not HTTP").
fn strip_head<'a>(body: &'a str, head: &str) -> Option<&'a str> {
    let start = body.get(..head.len())?;
    start
        .eq_ignore_ascii_case(head)
        .then(|| &body[head.len()..])
}

/// The shortest cut body that is completed.
const MIN_CUT: usize = 12;

/// Completes a cut `body` from `rows`: the one row it is a prefix of (or
/// whose head it starts with, when the cut is inside the value; the value is
/// then unknown).
fn complete_from(body: &str, rows: &[Row]) -> Option<String> {
    let body = body.trim_end_matches(['…', '.', ' ']);
    if body.len() < MIN_CUT {
        return None;
    }
    let mut found: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let tail = row.tail.unwrap_or_default();
            if row.head.starts_with(body) {
                Some(format!("{}{tail}", row.head))
            } else {
                row.tail
                    .filter(|_| body.starts_with(row.head))
                    .map(|tail| format!("{}{tail}", row.head))
            }
        })
        .collect();
    found.dedup();
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

const CHROME_MARKER: &str = "has been blocked by CORS policy: ";
const CHROME_PREFLIGHT: &str = "Response to preflight request doesn't pass access control check: ";

/// The whole message for one cut short, when it can be told which it was.
fn complete(text: &str) -> Option<String> {
    if let Some(i) = text.find(CHROME_MARKER) {
        let (head, body) = text.split_at(i + CHROME_MARKER.len());
        let (head, body) = match body.strip_prefix(CHROME_PREFLIGHT) {
            Some(rest) => (format!("{head}{CHROME_PREFLIGHT}"), rest),
            None => (head.to_owned(), body),
        };
        return complete_from(body, CHROMIUM).map(|b| format!("{head}{b}"));
    }
    let marker = "(Reason: ";
    let i = text.find(marker)?;
    let reason = &text[i + marker.len()..];
    if reason.contains(')') {
        return None;
    }
    complete_from(reason, FIREFOX).map(|r| format!("{}{r}).", &text[..i + marker.len()]))
}

/// Any family, then a message cut short.
pub(super) fn any(text: &str, page: &str) -> Option<Parsed> {
    chrome(text)
        .or_else(|| unsafe_header(text))
        .or_else(|| firefox(text, page))
        .or_else(|| safari(text, page))
        .or_else(|| {
            let full = complete(text)?;
            chrome(&full).or_else(|| firefox(&full, page))
        })
}

/// "Refused to set unsafe header "X"" (Chromium and Safari alike).
fn unsafe_header(t: &str) -> Option<Parsed> {
    let name = between(t, UNSAFE_HEADER.head, "\"")?;
    if t.contains(CHROME_MARKER) || t.contains("(Reason: ") {
        return None;
    }
    Some(Parsed {
        browser: "chrome_or_safari",
        url: None,
        redirected_from: None,
        origin: None,
        sent_origin: None,
        preflight: None,
        status: None,
        value: Some(name.to_owned()),
        row: Some(&UNSAFE_HEADER),
        kind: Kind::Other {
            code: "forbidden_request_header",
            chromium: None,
            firefox: None,
            is_cors: false,
        },
    })
}

fn origin_of(u: &str) -> Option<url::Origin> {
    url::Url::parse(u).ok().map(|u| u.origin())
}

fn chrome(t: &str) -> Option<Parsed> {
    // `fetch()` in mode "same-origin": Blink's own message, or the frame's
    // after a redirect to another origin.
    // WebKit says "… from origin X. Domains, protocols and ports must match."
    let webkit_mode = between(t, "Unsafe attempt to load URL ", " from origin ")
        .filter(|_| t.contains("Domains, protocols and ports must match"));
    if let Some(u) = between(
        t,
        "Fetch API cannot load ",
        ". Request mode is \"same-origin\"",
    )
    .or_else(|| {
        between(t, "Unsafe attempt to load URL ", " from frame with URL")
            .filter(|_| t.contains("Domains, protocols and ports must match"))
    })
    .or(webkit_mode)
    {
        let row = CHROMIUM.iter().find(|r| r.key == "DisallowedByMode");
        let origin = between(t, "request origin ", ".")
            .or_else(|| between(t, " from origin ", ". Domains"))
            .map(str::to_owned);
        return Some(Parsed {
            browser: if webkit_mode.is_some() {
                "safari"
            } else {
                "chrome"
            },
            url: Some(u.to_owned()),
            redirected_from: None,
            origin,
            sent_origin: None,
            preflight: Some(false),
            status: None,
            value: None,
            row,
            kind: Kind::Refusal(Refusal::DisallowedByMode { url: u.to_owned() }),
        });
    }
    let i = t.find(CHROME_MARKER)?;
    let head = &t[..i];
    let mut body = &t[i + CHROME_MARKER.len()..];
    let url = between(head, " at '", "'").map(str::to_owned);
    let redirected_from = between(head, "(redirected from '", "'").map(str::to_owned);
    let origin = between(head, "from origin '", "'").map(str::to_owned);
    let mut preflight = false;
    if let Some(rest) = body.strip_prefix(CHROME_PREFLIGHT) {
        preflight = true;
        body = rest;
    }
    let status = status_in(body);
    // After a redirect across origins from a cross-origin URL, Chromium sent
    // `Origin: null` (the message still quotes the page's origin).
    let tainted = match (&redirected_from, &url, &origin) {
        (Some(first), Some(last), Some(page)) => {
            let first = origin_of(first);
            first.is_some() && first != origin_of(last) && origin_of(page) != first
        }
        _ => false,
    };
    let o = if tainted {
        "null".to_owned()
    } else {
        origin
            .clone()
            .unwrap_or_else(|| super::UNKNOWN_ORIGIN.into())
    };
    let stage = if preflight {
        Stage::Preflight
    } else {
        Stage::Actual
    };
    if body.contains("address space") || body.contains("local network") {
        return Some(Parsed {
            browser: "chrome",
            url,
            redirected_from,
            origin,
            sent_origin: None,
            preflight: None,
            status,
            value: None,
            row: None,
            kind: Kind::Other {
                code: "local_network_access",
                chromium: Some(if body.contains("Permission was denied") {
                    "LocalNetworkAccessPermissionDenied"
                } else if body.contains("not a secure context") {
                    "InsecureLocalNetwork"
                } else {
                    "InvalidLocalNetworkAccess"
                }),
                firefox: None,
                is_cors: true,
            },
        });
    }
    let (row, value) = find_row(CHROMIUM, body, true)?;
    let v = value.clone().unwrap_or_default();
    let r = match row.key {
        "MissingAllowOriginHeader" => Refusal::MissingAllowOrigin {
            stage,
            origin: o,
            status: status.unwrap_or(0),
        },
        "DisallowedByMode" => Refusal::DisallowedByMode {
            url: url.clone().unwrap_or_default(),
        },
        "CorsDisabledScheme" => {
            let u = url.clone().unwrap_or_default();
            Refusal::UnsupportedScheme {
                scheme: u.split(':').next().unwrap_or_default().to_owned(),
                url: u,
            }
        }
        "PreflightInvalidStatus" => {
            preflight = true;
            Refusal::PreflightStatus {
                status: status.unwrap_or(0),
            }
        }
        "PreflightDisallowedRedirect" => {
            preflight = true;
            Refusal::PreflightRedirect {
                status: status.unwrap_or(0),
                location: None,
            }
        }
        "InvalidAllowMethodsPreflightResponse" => {
            preflight = true;
            Refusal::InvalidAllowMethods {
                value: String::new(),
                element: String::new(),
            }
        }
        "InvalidAllowHeadersPreflightResponse" => {
            preflight = true;
            Refusal::InvalidAllowHeaders {
                value: String::new(),
                element: String::new(),
            }
        }
        "WildcardOriginNotAllowed" => Refusal::WildcardOriginWithCredentials { stage, origin: o },
        "AllowOriginMismatch" => Refusal::AllowOriginMismatch {
            stage,
            value: v,
            origin: o,
        },
        "MultipleAllowOriginValues" => {
            let parts: Vec<&str> = v.split(',').map(str::trim).collect();
            let same = parts.len() > 1 && parts.iter().all(|p| *p == parts[0]);
            Refusal::MultipleAllowOrigin {
                stage,
                lines: if same { parts.len() } else { 1 },
                value: v,
                origin: o,
            }
        }
        "InvalidAllowOriginValue" => Refusal::InvalidAllowOrigin {
            stage,
            value: v,
            origin: o,
        },
        "InvalidAllowCredentials" => Refusal::InvalidAllowCredentials {
            stage,
            value: (!v.is_empty()).then_some(v),
        },
        "MethodDisallowedByPreflightResponse" => {
            preflight = true;
            Refusal::MethodNotAllowed {
                method: v,
                allowed: Vec::new(),
                wildcard_ignored: false,
            }
        }
        "HeaderDisallowedByPreflightResponse" => {
            preflight = true;
            Refusal::HeaderNotAllowed {
                header: v.to_ascii_lowercase(),
                allowed: Vec::new(),
                wildcard_ignored: false,
                authorization_not_covered: false,
            }
        }
        "RedirectContainsCredentials" => Refusal::RedirectContainsCredentials { location: v },
        _ => return None,
    };
    Some(Parsed {
        browser: "chrome",
        url,
        redirected_from,
        origin,
        sent_origin: tainted.then(|| "null".to_owned()),
        preflight: Some(preflight),
        status,
        value,
        row: Some(row),
        kind: Kind::Refusal(r),
    })
}

fn firefox(t: &str, page: &str) -> Option<Parsed> {
    let warning = t.contains("Cross-Origin Request Warning:");
    if !t.contains("Cross-Origin Request Blocked:") && !warning {
        return None;
    }
    let reason = between(t, "(Reason: ", ").")
        .or_else(|| between(t, "(Reason: ", ")"))
        .unwrap_or_default();
    let url = between(t, "remote resource at '", "'")
        .or_else(|| between(t, "remote resource at ", ". (Reason"))
        .or_else(|| between(t, "remote resource at ", " soon."))
        .map(str::to_owned);
    let status = status_in(t);
    let o = page.to_owned();
    let base = |row, value, preflight, kind| Parsed {
        browser: "firefox",
        url: url.clone(),
        redirected_from: None,
        origin: None,
        sent_origin: None,
        preflight,
        status,
        value,
        row,
        kind,
    };
    if warning && reason.contains("the `Authorization` header is not covered") {
        let row = FIREFOX
            .iter()
            .find(|r| r.key == "CORSMissingAllowHeaderFromPreflight");
        return Some(base(
            row,
            Some("authorization".into()),
            Some(true),
            Kind::Refusal(Refusal::HeaderNotAllowed {
                header: "authorization".into(),
                allowed: vec!["*".into()],
                wildcard_ignored: false,
                authorization_not_covered: true,
            }),
        ));
    }
    let reason = reason.replace(
        "CORS preflight channel did not succeed",
        "CORS preflight response did not succeed",
    );
    let (row, value) = find_row(FIREFOX, &reason, true)?;
    let v = value.clone().unwrap_or_default();
    let other = |code, firefox, is_cors| Kind::Other {
        code,
        chromium: None,
        firefox: Some(firefox),
        is_cors,
    };
    let (kind, preflight) = match row.key {
        "CORSDisabled" => (other("cors_disabled", "CORSDisabled", true), None),
        "CORSDidNotSucceed" => (other("network_error", "CORSDidNotSucceed", false), None),
        "CORSOriginHeaderNotAdded" => (
            other("origin_header_not_added", "CORSOriginHeaderNotAdded", true),
            None,
        ),
        key => {
            let (r, pre) = match key {
                "CORSExternalRedirectNotAllowed" => (
                    Refusal::PreflightRedirect {
                        status: status.unwrap_or(0),
                        location: None,
                    },
                    Some(true),
                ),
                "CORSRequestNotHttp" => {
                    let u = url.clone().unwrap_or_default();
                    (
                        Refusal::UnsupportedScheme {
                            scheme: u.split(':').next().unwrap_or_default().to_owned(),
                            url: u,
                        },
                        None,
                    )
                }
                "CORSMissingAllowOrigin" => (
                    Refusal::MissingAllowOrigin {
                        stage: Stage::Actual,
                        origin: o,
                        status: status.unwrap_or(0),
                    },
                    None,
                ),
                "CORSMultipleAllowOriginNotAllowed" => (
                    Refusal::MultipleAllowOrigin {
                        stage: Stage::Actual,
                        value: String::new(),
                        lines: 2,
                        origin: o,
                    },
                    None,
                ),
                "CORSAllowOriginNotMatchingOrigin" => (
                    Refusal::AllowOriginMismatch {
                        stage: Stage::Actual,
                        value: v,
                        origin: o,
                    },
                    None,
                ),
                "CORSNotSupportingCredentials" => (
                    Refusal::WildcardOriginWithCredentials {
                        stage: Stage::Actual,
                        origin: o,
                    },
                    None,
                ),
                "CORSMethodNotFound" => (
                    Refusal::MethodNotAllowed {
                        method: "<method>".into(),
                        allowed: Vec::new(),
                        wildcard_ignored: false,
                    },
                    Some(true),
                ),
                "CORSMissingAllowCredentials" => (
                    Refusal::InvalidAllowCredentials {
                        stage: Stage::Actual,
                        value: None,
                    },
                    None,
                ),
                "CORSPreflightDidNotSucceed" => (
                    Refusal::PreflightStatus {
                        status: status.unwrap_or(0),
                    },
                    Some(true),
                ),
                "CORSInvalidAllowMethod" => (
                    Refusal::InvalidAllowMethods {
                        value: String::new(),
                        element: v,
                    },
                    Some(true),
                ),
                "CORSInvalidAllowHeader" => (
                    Refusal::InvalidAllowHeaders {
                        value: String::new(),
                        element: v,
                    },
                    Some(true),
                ),
                "CORSMissingAllowHeaderFromPreflight" => (
                    Refusal::HeaderNotAllowed {
                        header: v.to_ascii_lowercase(),
                        allowed: Vec::new(),
                        wildcard_ignored: false,
                        authorization_not_covered: false,
                    },
                    Some(true),
                ),
                _ => return None,
            };
            (Kind::Refusal(r), pre)
        }
    };
    Some(base(Some(row), value, preflight, kind))
}

fn safari(t: &str, page: &str) -> Option<Parsed> {
    let status = status_in(t);
    // "Cross-origin redirection to URL denied by Cross-Origin Resource
    // Sharing policy: <why>": the redirect's answer failed.
    let redirect_to =
        between(t, "Cross-origin redirection to ", " denied by Cross-Origin").map(str::to_owned);
    let url = between(t, "cannot load ", " due to access control checks")
        .or_else(|| {
            let rest = &t[t.find("Fetch API cannot load ")? + "Fetch API cannot load ".len()..];
            Some(rest.trim_end().trim_end_matches('.'))
        })
        .map(str::to_owned)
        .or_else(|| redirect_to.clone());
    let (row, value) = find_row(WEBKIT, t, false)?;
    let v = value.clone().unwrap_or_default();
    let stage = if redirect_to.is_some() {
        Stage::Redirect
    } else {
        Stage::Actual
    };
    let mut origin = None;
    let (r, pre) = match row.key {
        "OriginNotAllowed" => {
            origin = Some(v.clone());
            (
                Refusal::AllowOriginMismatch {
                    stage,
                    value: String::new(),
                    origin: v,
                },
                None,
            )
        }
        "WildcardWithCredentials" => (
            Refusal::WildcardOriginWithCredentials {
                stage,
                origin: page.to_owned(),
            },
            None,
        ),
        "MultipleOrigins" => (
            Refusal::MultipleAllowOrigin {
                stage,
                value: String::new(),
                lines: 1,
                origin: page.to_owned(),
            },
            None,
        ),
        "CredentialsNotTrue" => (
            Refusal::InvalidAllowCredentials { stage, value: None },
            None,
        ),
        "PreflightNotSuccessful" => (
            Refusal::PreflightStatus {
                status: status.unwrap_or(0),
            },
            Some(true),
        ),
        "InvalidAllowMethods" => (
            Refusal::InvalidAllowMethods {
                value: v.clone(),
                element: String::new(),
            },
            Some(true),
        ),
        "InvalidAllowHeaders" => (
            Refusal::InvalidAllowHeaders {
                value: v.clone(),
                element: String::new(),
            },
            Some(true),
        ),
        "MethodNotAllowed" => (
            Refusal::MethodNotAllowed {
                method: v,
                allowed: Vec::new(),
                wildcard_ignored: false,
            },
            Some(true),
        ),
        "HeaderNotAllowed" => (
            Refusal::HeaderNotAllowed {
                header: v.to_ascii_lowercase(),
                allowed: Vec::new(),
                wildcard_ignored: false,
                authorization_not_covered: false,
            },
            Some(true),
        ),
        "RedirectCredentials" => (
            Refusal::RedirectContainsCredentials {
                location: between(t, "redirection URL ", " has credentials")
                    .or(redirect_to.as_deref())
                    .unwrap_or_default()
                    .to_owned(),
            },
            None,
        ),
        "AccessControlChecks" | "FetchCannotLoad" => {
            let is_cors = row.key == "AccessControlChecks";
            return Some(Parsed {
                browser: "safari",
                url,
                redirected_from: None,
                origin: None,
                sent_origin: None,
                preflight: None,
                status,
                value: None,
                row: Some(row),
                kind: Kind::Other {
                    code: if is_cors {
                        "access_control_checks"
                    } else {
                        "load_failed"
                    },
                    chromium: None,
                    firefox: None,
                    is_cors,
                },
            });
        }
        _ => return None,
    };
    let sent_origin = origin
        .as_deref()
        .filter(|o| *o == "null")
        .map(str::to_owned);
    Some(Parsed {
        browser: "safari",
        url,
        redirected_from: None,
        origin: origin.filter(|o| o != "null"),
        sent_origin,
        preflight: pre,
        status,
        value,
        row: Some(row),
        kind: Kind::Refusal(r),
    })
}
