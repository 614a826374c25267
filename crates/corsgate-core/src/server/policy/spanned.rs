//! A policy table as written, every value with its byte span, and the
//! engine's own typed errors located on those spans: the one reader for
//! `Policy::from_toml` and for any file that holds a policy table (the
//! gateway's routes). An inline `policy = { … }` table and a `[policy]`
//! table are the same to it; nothing is parsed twice. The keys are
//! [`PolicyConfig`]'s; a unit test holds the two lists equal.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{Policy, PolicyConfig, PolicyError, Setting};

/// A list of strings, with the list's span and each value's.
type List = Option<Spanned<Vec<Spanned<String>>>>;

/// The keys of [`PolicyConfig`], each value with its byte span in the
/// document it was read from (a whole file, or a table inside a larger one).
///
/// ```
/// use corsgate_core::policy::SpannedPolicy;
/// let text = "origins = [\"https://a.example\", \"null\"]\n";
/// let doc: SpannedPolicy = toml::from_str(text).unwrap();
/// let errors = doc.build(0..text.len()).unwrap_err();
/// let (error, span) = &errors[0];
/// assert_eq!(error.code(), "null_origin");
/// assert_eq!(&text[span.clone()], "\"null\"");
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpannedPolicy {
    origins: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    methods: List,
    #[serde(default)]
    request_headers: List,
    #[serde(default)]
    expose_headers: List,
    #[serde(default)]
    credentials: Option<Spanned<bool>>,
    #[serde(default)]
    max_age: Option<Spanned<i64>>,
    #[serde(default)]
    private_network: bool,
    #[serde(default)]
    debug: bool,
    #[serde(default)]
    reason_header: bool,
}

fn plain(list: &List) -> Vec<String> {
    list.as_ref()
        .map(|l| l.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_default()
}

impl SpannedPolicy {
    /// The settings without their spans.
    pub fn config(&self) -> PolicyConfig {
        PolicyConfig {
            origins: self
                .origins
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            methods: plain(&self.methods),
            request_headers: plain(&self.request_headers),
            expose_headers: plain(&self.expose_headers),
            credentials: self.credentials.as_ref().is_some_and(|c| *c.get_ref()),
            max_age: self.max_age.as_ref().map(|m| *m.get_ref()),
            private_network: self.private_network,
            debug: self.debug,
            reason_header: self.reason_header,
        }
    }

    /// Validates the policy with the engine; on failure, every error the
    /// engine found, unchanged, each with the span of what it is about
    /// (`table` when nothing narrower names it).
    pub fn build(&self, table: Range<usize>) -> Result<Policy, Vec<(PolicyError, Range<usize>)>> {
        self.config().build().map_err(|errors| {
            errors
                .iter()
                .map(|e| {
                    let span = self.span_of(e).unwrap_or_else(|| table.clone());
                    (e.clone(), span)
                })
                .collect()
        })
    }

    /// The span of the value (or setting) an error is about: the value it
    /// names (a duplicate at its second listing), else its setting's.
    pub fn span_of(&self, e: &PolicyError) -> Option<Range<usize>> {
        let origins = Some(&self.origins);
        let list = match e.setting() {
            Setting::Origins => origins,
            Setting::Methods => self.methods.as_ref(),
            Setting::RequestHeaders => self.request_headers.as_ref(),
            Setting::ExposeHeaders => self.expose_headers.as_ref(),
            // The origin that may not carry credentials, or the setting.
            Setting::Credentials => {
                return match e.value() {
                    Some(v) => find(origins, v, false),
                    None => self.credentials.as_ref().map(Spanned::span),
                }
            }
            Setting::MaxAge => return self.max_age.as_ref().map(Spanned::span),
            _ => None,
        };
        match (e, e.value()) {
            // The second listing is the duplicate.
            (PolicyError::DuplicateOrigin { .. }, Some(v)) => find(list, v, true),
            (_, Some(v)) => find(list, v, false),
            // `*` with others, or with credentials; an empty list.
            (_, None) => find(list, "*", false).or_else(|| list.map(Spanned::span)),
        }
    }
}

/// The span of `value` in `list` (its first listing, or its last), else of
/// the list.
fn find(
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    value: &str,
    last: bool,
) -> Option<Range<usize>> {
    let list = list?;
    let mut same = list.get_ref().iter().filter(|s| s.get_ref() == value);
    let hit = if last { same.next_back() } else { same.next() };
    Some(hit.map_or_else(|| list.span(), Spanned::span))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of the engine's `PolicyConfig` is read here, and no other:
    /// a key added to the engine fails this test until it is added above.
    #[test]
    fn the_keys_are_the_engines() {
        let full = PolicyConfig {
            origins: vec!["https://a.example".into()],
            max_age: Some(1),
            ..PolicyConfig::default()
        };
        let serde_json::Value::Object(keys) = serde_json::to_value(&full).unwrap() else {
            panic!("a PolicyConfig is a JSON object");
        };
        // JSON strings, arrays, booleans and integers are TOML values too.
        let text: String = keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        let spanned: SpannedPolicy = toml::from_str(&text).expect(&text);
        assert_eq!(spanned.config(), full);
    }
}
