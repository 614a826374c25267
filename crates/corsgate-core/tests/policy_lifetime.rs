//! A policy's values live and die with it: nothing is kept process-wide, so
//! building and dropping ten thousand policies (hot reloads, each with values
//! of its own) leaves no memory behind, and the ten-thousand-and-first policy
//! decides exactly as the first did, with the same allocations (the same
//! fast path: a prebuilt answer, a remembered pattern match).
//!
//! Memory is counted with a counting global allocator (in its own test
//! binary, per thread, so the harness's threads do not disturb the figures).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use corsgate_core::origin_set::OriginMatch;
use corsgate_core::Policy;
use http::{HeaderMap, HeaderValue, Method};

struct Counting;

thread_local! {
    /// Bytes allocated and not yet freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn add(bytes: isize, allocation: bool) {
    let _ = LIVE.try_with(|c| c.set(c.get() + bytes));
    if allocation {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize, true);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize), false);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize, true);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// What tells policy `i`'s values from every other policy's.
fn tag(i: usize) -> String {
    format!("q{i}q")
}

/// Policy `i`: every value its own (origin, pattern, method, headers).
fn policy(i: usize) -> Policy {
    let t = tag(i);
    Policy::builder()
        .origin(format!("https://app{t}.example.com"))
        .origin(format!("https://*.t{t}.example.com"))
        .methods(["PUT".to_string(), format!("M{t}")])
        .request_headers(["content-type".to_string(), format!("x-h{t}")])
        .expose_headers([format!("x-e{t}")])
        .credentials(true)
        .max_age(600)
        .build()
        .unwrap()
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// What policy `i` answers, with its tag written as `#` (so that every policy's
/// answers compare equal), and the allocations of its allowed actual
/// request's decision and of putting its lines into an empty map.
fn exercise(p: &Policy, i: usize) -> (Vec<String>, usize) {
    let t = tag(i);
    let mut seen = Vec::new();
    let mut note = |what: &str, map: &HeaderMap| {
        let mut lines: Vec<String> = map
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        lines.sort();
        let text = format!("{what}: {}", lines.join(" | "));
        seen.push(text.replace(&t, "#"));
    };
    let exact = headers(&[("origin", format!("https://app{t}.example.com"))]);
    note(
        "exact",
        &p.decide(&Method::GET, &exact).headers().to_header_map(),
    );
    let pattern_origin = HeaderValue::from_str(&format!("https://a.t{t}.example.com")).unwrap();
    let first = p.origins().matches(&pattern_origin);
    assert_eq!(first, OriginMatch::Pattern, "policy {i}");
    let again = p.origins().matches(&pattern_origin);
    assert!(
        matches!(again, OriginMatch::PatternSeen(v) if v == pattern_origin),
        "policy {i}: a pattern match is remembered: {again:?}"
    );
    let pattern = headers(&[("origin", format!("https://a.t{t}.example.com"))]);
    note(
        "pattern",
        &p.decide(&Method::GET, &pattern).headers().to_header_map(),
    );
    let preflight = headers(&[
        ("origin", format!("https://app{t}.example.com")),
        ("access-control-request-method", format!("M{t}")),
        ("access-control-request-headers", format!("x-h{t}")),
    ]);
    note(
        "preflight",
        &p.decide(&Method::OPTIONS, &preflight)
            .headers()
            .to_header_map(),
    );
    let denied = headers(&[("origin", "https://evil.example.net".to_string())]);
    note(
        "denied",
        &p.decide(&Method::GET, &denied).headers().to_header_map(),
    );
    let fast = allocations_in(|| {
        for _ in 0..10 {
            let mut map = HeaderMap::new();
            p.decide(&Method::GET, &exact)
                .into_headers()
                .apply_to(&mut map);
            std::hint::black_box(map);
        }
    });
    (seen, fast)
}

#[test]
fn ten_thousand_reloads_free_their_values_and_keep_the_fast_path() {
    // Warm up whatever the first use of anything allocates for good.
    let (first, fast_first) = exercise(&policy(0), 0);
    assert!(first.iter().any(|l| l.contains("x-e#")), "{first:?}");
    let before = live();
    for i in 1..=10_000 {
        let p = policy(i);
        let (seen, fast) = exercise(&p, i);
        if i % 1000 == 0 {
            assert_eq!(seen, first, "policy {i} answers as the first did");
            assert_eq!(fast, fast_first, "policy {i}: the same allocations");
        }
        drop((p, seen));
        assert_eq!(live() - before, 0, "bytes left behind by policy {i}");
    }
    assert_eq!(
        live() - before,
        0,
        "bytes left behind by 10,000 dropped policies"
    );
    // The 10,001st, kept alive and exercised like the first.
    let p = policy(10_001);
    let (seen, fast) = exercise(&p, 10_001);
    assert_eq!(seen, first);
    assert_eq!(fast, fast_first);
    drop((p, seen));
    assert_eq!(live() - before, 0);
}
