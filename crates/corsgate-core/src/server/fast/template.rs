//! The answers whose lines are known when a policy is built, prebuilt once.
//!
//! Putting the CORS headers into an empty header map costs one hash-and-probe
//! append per line plus the map's first allocation. Cloning a ready map of
//! the same lines costs the allocation and a copy: a third less for an
//! allowed actual request (four lines), more for a preflight's answer (up to
//! six). Two kinds of answer have templates:
//!
//! * the headers of an allowed actual request: `Access-Control-Allow-Origin`
//!   (a placeholder, replaced by the request's allowed origin), then
//!   `Access-Control-Allow-Credentials`, `Access-Control-Expose-Headers` and
//!   `Vary: origin` where the policy has them;
//! * the answer to an allowed preflight, for a policy that lists its request
//!   headers: `Access-Control-Allow-Origin` and `Access-Control-Allow-Methods`
//!   as placeholders, then credentials, the listed headers, `Max-Age` and
//!   `Vary` as the policy has them.
//!
//! Each policy builds its own templates, once, and they are dropped with it:
//! nothing is shared process-wide, so every policy (the first, or the
//! thousandth reload) has them.

use http::{header, HeaderMap, HeaderName, HeaderValue};

/// The value put where a line's per-request value goes.
const PLACEHOLDER: HeaderValue = HeaderValue::from_static("null");

/// The map of exactly `lines`, in order.
fn build(lines: &[(HeaderName, HeaderValue)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(lines.len());
    for (n, v) in lines {
        map.append(n.clone(), v.clone());
    }
    map
}

/// The first lines of both templates: the origin's placeholder, and
/// `Access-Control-Allow-Credentials` if the policy allows credentials.
fn origin_and_credentials(credentials: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut lines = vec![(header::ACCESS_CONTROL_ALLOW_ORIGIN, PLACEHOLDER)];
    if credentials {
        lines.push((
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ));
    }
    lines
}

/// An allowed actual request's prebuilt lines, with the three settings they
/// are made of: two templates hold the same lines exactly when their
/// settings are equal, which a shadow comparison checks without walking the
/// lines.
#[derive(Debug)]
pub(crate) struct PassTemplate {
    map: HeaderMap,
    credentials: bool,
    expose: Option<HeaderValue>,
    vary_origin: bool,
}

impl std::ops::Deref for PassTemplate {
    type Target = HeaderMap;
    fn deref(&self) -> &HeaderMap {
        &self.map
    }
}

impl PassTemplate {
    /// Whether the two hold the same lines.
    #[inline]
    pub(crate) fn same_lines(&self, other: &PassTemplate) -> bool {
        self.credentials == other.credentials
            && self.vary_origin == other.vary_origin
            && self.expose == other.expose
    }

    /// `Access-Control-Allow-Credentials: true`, the exposed headers and
    /// `Vary: origin`, as the lines hold them.
    pub(crate) fn settings(&self) -> (bool, Option<&HeaderValue>, bool) {
        (self.credentials, self.expose.as_ref(), self.vary_origin)
    }
}

/// The template of an allowed actual request's headers.
pub(crate) fn allowed_actual(
    credentials: bool,
    expose: Option<&HeaderValue>,
    vary_origin: bool,
) -> PassTemplate {
    let mut lines = origin_and_credentials(credentials);
    if let Some(v) = expose {
        lines.push((header::ACCESS_CONTROL_EXPOSE_HEADERS, v.clone()));
    }
    if vary_origin {
        lines.push((header::VARY, HeaderValue::from_static("origin")));
    }
    PassTemplate {
        map: build(&lines),
        credentials,
        expose: expose.cloned(),
        vary_origin,
    }
}

/// The template of an allowed preflight's answer, in the order
/// `Draft::into_map` appends the same lines (no Private Network Access line:
/// that one depends on the request).
pub(crate) fn allowed_preflight(
    credentials: bool,
    allow_headers: Option<&HeaderValue>,
    max_age: Option<&HeaderValue>,
    vary: &HeaderValue,
) -> HeaderMap {
    let mut lines = origin_and_credentials(credentials);
    lines.push((header::ACCESS_CONTROL_ALLOW_METHODS, PLACEHOLDER));
    if let Some(v) = allow_headers {
        lines.push((header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone()));
    }
    if let Some(v) = max_age {
        lines.push((header::ACCESS_CONTROL_MAX_AGE, v.clone()));
    }
    lines.push((header::VARY, vary.clone()));
    build(&lines)
}

/// An allowed actual request's template in `map`, with `allow_origin` in
/// place of the placeholder. For a map that has not allocated yet
/// (`capacity() == 0`): one with room is cheaper to append to, and appending
/// to it allocates nothing.
#[inline]
pub(crate) fn fill(map: &mut HeaderMap, template: &HeaderMap, allow_origin: HeaderValue) {
    debug_assert!(map.is_empty());
    *map = template.clone();
    // The placeholder is the first line: reached without hashing its name
    // (checked, in case `http` ever changes its iteration order).
    match map.iter_mut().next() {
        Some((name, slot)) if name == header::ACCESS_CONTROL_ALLOW_ORIGIN => *slot = allow_origin,
        _ => {
            map.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        }
    }
}

/// An allowed preflight's answer from its template, with the allowed origin
/// and method in place of the placeholders.
pub(crate) fn preflight_answer(
    template: &HeaderMap,
    allow_origin: HeaderValue,
    allow_method: HeaderValue,
) -> HeaderMap {
    let mut map = template.clone();
    let (mut origin, mut method) = (Some(allow_origin), Some(allow_method));
    for (name, slot) in map.iter_mut() {
        if name == header::ACCESS_CONTROL_ALLOW_ORIGIN {
            if let Some(v) = origin.take() {
                *slot = v;
            }
        } else if name == header::ACCESS_CONTROL_ALLOW_METHODS {
            if let Some(v) = method.take() {
                *slot = v;
            }
            break;
        }
    }
    // Only if `http` ever changed its iteration order.
    if let Some(v) = origin {
        map.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Some(v) = method {
        map.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_template_per_shape() {
        let x = HeaderValue::from_static("x-request-id");
        let a = allowed_actual(true, Some(&x), true);
        let c = allowed_actual(false, Some(&x), true);
        assert_eq!(a.len(), 4);
        assert_eq!(c.len(), 3);
        assert!(c.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        // Same settings, same lines; other settings, other lines.
        assert!(a.same_lines(&allowed_actual(true, Some(&x.clone()), true)));
        for other in [
            &c,
            &allowed_actual(true, None, true),
            &allowed_actual(true, Some(&x), false),
        ] {
            assert!(!a.same_lines(other));
            assert_ne!(*a, **other);
        }
        let d = allowed_actual(false, None, false);
        assert_eq!(d.len(), 1);
        let vary = HeaderValue::from_static("origin, access-control-request-method");
        let p = allowed_preflight(true, Some(&x), None, &vary);
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn fill_replaces_the_placeholders_only() {
        let t = allowed_actual(true, None, true);
        let mut map = HeaderMap::new();
        fill(
            &mut map,
            &t,
            HeaderValue::from_static("https://app.example.com"),
        );
        assert_eq!(map.len(), 3);
        assert_eq!(
            map["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(map["access-control-allow-credentials"], "true");
        assert_eq!(map["vary"], "origin");
        assert_eq!(
            t["access-control-allow-origin"], "null",
            "the template is untouched"
        );

        let vary = HeaderValue::from_static("origin");
        let t = allowed_preflight(false, None, Some(&HeaderValue::from_static("600")), &vary);
        let map = preflight_answer(
            &t,
            HeaderValue::from_static("https://a.example"),
            HeaderValue::from_static("PUT"),
        );
        assert_eq!(map.len(), 4);
        assert_eq!(map["access-control-allow-origin"], "https://a.example");
        assert_eq!(map["access-control-allow-methods"], "PUT");
        assert_eq!(map["access-control-max-age"], "600");
        assert_eq!(t["access-control-allow-methods"], "null");
    }
}
