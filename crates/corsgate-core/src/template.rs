//! The headers of an allowed actual request, prebuilt once per policy shape.
//!
//! Adding the CORS headers to a response whose header map is empty (the
//! common case: a handler that set nothing, or a middleware placed outermost)
//! costs four hash-and-probe appends and the map's first allocation. Cloning
//! a ready map of the same lines costs the allocation and a copy, about a
//! third less. Only `Access-Control-Allow-Origin` differs from one request to
//! the next, so the template holds a placeholder there, replaced after the
//! clone.
//!
//! Templates are shared process-wide and never freed, keyed by their content
//! (credentials, exposed headers, `Vary`), so rebuilding a policy reuses the
//! one already made. The table holds at most [`LIMIT`] bytes; past it a
//! policy has no template and the headers are appended one by one (correct,
//! slower).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use http::{header, HeaderMap, HeaderValue};

/// The most bytes the process-wide table holds, bookkeeping included.
pub const LIMIT: usize = 1 << 20;

/// Bookkeeping counted per template besides its values: the map's index and
/// entries, the table's key and slot, roughly.
const ENTRY_OVERHEAD: usize = 1024;

/// The value put where the request's allowed origin goes.
const PLACEHOLDER: HeaderValue = HeaderValue::from_static("null");

#[derive(Default)]
struct Table {
    maps: HashMap<Vec<u8>, &'static HeaderMap>,
    bytes: usize,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// The lines an allowed actual request gets, in the order
/// `ResponseHeaders::apply_to` appends them: `Access-Control-Allow-Origin`
/// (a placeholder), then `Access-Control-Allow-Credentials`,
/// `Access-Control-Expose-Headers` and `Vary: origin` where they apply.
/// `None` when the process-wide table is full.
pub(crate) fn allowed_actual(
    credentials: bool,
    expose: Option<&HeaderValue>,
    vary_origin: bool,
) -> Option<&'static HeaderMap> {
    let mut key = vec![u8::from(credentials), u8::from(vary_origin)];
    if let Some(v) = expose {
        key.extend_from_slice(v.as_bytes());
    }
    let mut guard = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    let table = guard.get_or_insert_with(Table::default);
    if let Some(map) = table.maps.get(&key) {
        return Some(map);
    }
    let cost = key.len() * 2 + ENTRY_OVERHEAD;
    if table.bytes + cost > LIMIT {
        return None;
    }
    let mut map = HeaderMap::with_capacity(4);
    map.append(header::ACCESS_CONTROL_ALLOW_ORIGIN, PLACEHOLDER);
    if credentials {
        map.append(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Some(v) = expose {
        map.append(header::ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
    }
    if vary_origin {
        map.append(header::VARY, HeaderValue::from_static("origin"));
    }
    let map: &'static HeaderMap = Box::leak(Box::new(map));
    table.maps.insert(key, map);
    table.bytes += cost;
    Some(map)
}

/// `template`'s lines in `map`, with `allow_origin` in place of the
/// placeholder. For a map that has not allocated yet (`capacity() == 0`): one
/// with room is cheaper to append to, and appending allocates nothing.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_template_per_shape() {
        let x = HeaderValue::from_static("x-request-id");
        let a = allowed_actual(true, Some(&x), true).expect("room");
        let b = allowed_actual(true, Some(&HeaderValue::from_static("x-request-id")), true)
            .expect("room");
        assert!(std::ptr::eq(a, b), "reused, not made twice");
        let c = allowed_actual(false, Some(&x), true).expect("room");
        assert!(!std::ptr::eq(a, c));
        assert_eq!(a.len(), 4);
        assert_eq!(c.len(), 3);
        assert!(c.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        let d = allowed_actual(false, None, false).expect("room");
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn fill_replaces_the_placeholder_only() {
        let t = allowed_actual(true, None, true).expect("room");
        let mut map = HeaderMap::new();
        fill(
            &mut map,
            t,
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
    }
}
