//! Which disallowed request header Chromium names: the engine's `chromium`
//! profile against the data of `examples/blink_header_order.rs` (3,400
//! requests to `http://localhost:P` from a page on `http://localhost`, 1,200
//! to `http://corsgate.test:P` — not potentially trustworthy — and 800 to
//! `http://localhost:P` from a page on `http://page.test` (the request's URL
//! decides, not the page's), run in Chromium 156, kept in
//! `tests/fixtures/blink_header_order*.tsv`: the API — `headers`, `object`
//! and `pairs` are `fetch()` with a `Headers` object, a plain object and an
//! array of pairs —, the headers in the order script gave them (`name` for
//! the value `v`, else `name:value`), the names the preflight answer
//! allowed, and the header Chromium's console named). No browser needed.

use corsgate_core::preflight::check_preflight_response;
use corsgate_core::{Initiator, Profile, Refusal, Request, Response};

#[test]
fn the_chromium_profile_names_the_header_chromium_named() {
    judge(
        include_str!("fixtures/blink_header_order.tsv"),
        "http://localhost:2/x",
        3400,
    );
}

#[test]
fn the_chromium_profile_names_the_header_chromium_named_on_an_insecure_url() {
    judge(
        include_str!("fixtures/blink_header_order_insecure.tsv"),
        "http://corsgate.test:2/x",
        1200,
    );
}

#[test]
fn the_chromium_profile_names_the_header_chromium_named_from_an_insecure_page() {
    judge_from(
        include_str!("fixtures/blink_header_order_insecure_page.tsv"),
        "http://page.test:1",
        "http://localhost:2/x",
        800,
    );
}

fn judge(data: &str, url: &str, count: usize) {
    judge_from(data, "http://localhost:1", url, count);
}

fn judge_from(data: &str, origin: &str, url: &str, count: usize) {
    let mut compared = 0;
    let mut wrong = Vec::new();
    let mut sorted_would = 0;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [kind, headers, allow, named] = fields[..] else {
            panic!("bad fixture line: {line}");
        };
        let initiator = if kind == "xhr" {
            Initiator::Xhr
        } else {
            Initiator::Fetch
        };
        let mut b = Request::builder(origin, url).initiator(initiator);
        for h in headers.split(' ') {
            let (n, v) = h.split_once(':').unwrap_or((h, "v"));
            b = b.header(n, v);
        }
        let request = b.build().expect("the request builds");
        let answer = Response::new(204)
            .header("Access-Control-Allow-Origin", origin)
            .header("Access-Control-Allow-Headers", allow);
        let refusal = check_preflight_response(&request, origin, &answer, Profile::Chromium);
        let standard = check_preflight_response(&request, origin, &answer, Profile::Standard);
        compared += 1;
        match refusal {
            Err(Refusal::HeaderNotAllowed { header, .. }) if header == named => {}
            other => wrong.push(format!("{line} -> {other:?}")),
        }
        if matches!(standard, Err(Refusal::HeaderNotAllowed { header, .. }) if header == named) {
            sorted_would += 1;
        }
    }
    eprintln!(
        "{compared} requests: the chromium profile names Chromium's header in {}; the first sorted is it in {sorted_would}",
        compared - wrong.len()
    );
    assert_eq!(compared, count);
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
