//! The options script passes with a request (`fetch`'s `RequestInit`): its
//! credentials mode, its mode, and which API made it.
//!
//! Plain enums below the request model, the profiles and the checks, so that
//! each of them can name these without naming the others.

use serde::{Deserialize, Serialize};

/// The request's credentials mode (`fetch`'s `credentials` option;
/// `XMLHttpRequest.withCredentials = true` is `include`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// Never send cookies or HTTP authentication.
    Omit,
    /// Send them only to the page's own origin (the default of `fetch`).
    #[default]
    SameOrigin,
    /// Send them cross-origin too; the server must then opt in with
    /// `Access-Control-Allow-Credentials: true` and name the origin.
    Include,
}

impl Credentials {
    /// Whether this is `include`, the only mode the CORS checks care about.
    pub fn is_include(self) -> bool {
        matches!(self, Credentials::Include)
    }
    /// The name used by `fetch`.
    pub fn name(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

impl std::str::FromStr for Credentials {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "omit" => Ok(Credentials::Omit),
            "same-origin" => Ok(Credentials::SameOrigin),
            "include" => Ok(Credentials::Include),
            other => Err(format!(
                "unknown credentials mode '{other}': use omit, same-origin or include"
            )),
        }
    }
}

/// The request's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `cors`: the default for `fetch()` and `XMLHttpRequest`.
    #[default]
    Cors,
    /// `same-origin`: cross-origin requests fail outright.
    SameOrigin,
    /// `no-cors`: only safelisted requests, and script gets an opaque response.
    NoCors,
}

/// Which script API makes the request (changes only the wording of messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// `fetch()`.
    #[default]
    Fetch,
    /// `XMLHttpRequest`.
    Xhr,
}

/// How script handed the request its headers: the forms of `fetch()`'s
/// `HeadersInit`, and `XMLHttpRequest.setRequestHeader`. The form decides
/// what becomes of a name given twice: a [`HeadersForm::Headers`] object
/// reaches the request as one combined line per name (the `Headers`
/// iterator sorts and combines), [`HeadersForm::Pairs`] as one line per
/// pair, a [`HeadersForm::Record`] cannot hold a key twice, and
/// `setRequestHeader` combines into the first line as it goes. Browsers
/// part ways on what they then judge and send: see
/// `Profile::judges_header_lines`, `Profile::total_limit_covers` and
/// `Profile::sends_last_content_type_line`. A forbidden value
/// (`X-HTTP-Method-Override: TRACE`) drops what the form joined it with:
/// the whole name in a `Headers` object, only that pair or call otherwise.
///
/// The builder's `RequestBuilder::header` lines are what script wrote, in
/// order (`append` calls, pairs, object keys or `setRequestHeader` calls).
///
/// ```
/// use corsgate_core::{HeadersForm, Request};
/// let req = Request::builder("https://app.example", "https://api.example/x")
///     .header("X-A", "1")
///     .header("x-a", "2")
///     .headers_form(HeadersForm::Pairs)
///     .build()
///     .unwrap();
/// assert_eq!(req.headers_form(), HeadersForm::Pairs);
/// assert_eq!(req.headers().len(), 2);
/// assert_eq!("object".parse::<HeadersForm>().unwrap(), HeadersForm::Record);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadersForm {
    /// A `Headers` object (`new Headers()`, then `append`): the default.
    #[default]
    Headers,
    /// A sequence of pairs, `[[name, value], …]`: each appended on its own.
    Pairs,
    /// A record (a plain object): a key given twice keeps its first place
    /// and its last value; `X-A` and `x-a` stay two keys.
    Record,
    /// `XMLHttpRequest.setRequestHeader`, call by call: a repeated name is
    /// combined into the first line (`a, b`); a forbidden call is ignored.
    SetRequestHeader,
}

impl HeadersForm {
    /// All forms.
    pub const ALL: [HeadersForm; 4] = [
        HeadersForm::Headers,
        HeadersForm::Pairs,
        HeadersForm::Record,
        HeadersForm::SetRequestHeader,
    ];
    /// The name used on the command line (`--headers-form`).
    pub fn name(self) -> &'static str {
        match self {
            HeadersForm::Headers => "headers",
            HeadersForm::Pairs => "pairs",
            HeadersForm::Record => "object",
            HeadersForm::SetRequestHeader => "set-request-header",
        }
    }
}

impl std::str::FromStr for HeadersForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "headers" => Ok(HeadersForm::Headers),
            "pairs" => Ok(HeadersForm::Pairs),
            "object" | "record" => Ok(HeadersForm::Record),
            "set-request-header" | "xhr" => Ok(HeadersForm::SetRequestHeader),
            other => Err(format!(
                "unknown headers form '{other}': use headers, pairs, object or set-request-header"
            )),
        }
    }
}
