//! A HAR recorded from real Chromium, the way DevTools-recording tools make
//! one: the session's performance log (Chrome DevTools Protocol `Network.*`
//! events, enabled by [`Driver::start_recording`](crate::webdriver::Driver::start_recording))
//! turned into HAR 1.2 entries — the wire headers from the `…ExtraInfo`
//! events (cookies included), each redirect hop its own entry, preflights as
//! entries of `_resourceType` `preflight`, a failed load with status 0 and
//! `_error` (`net::ERR_FAILED`), as DevTools writes them.
//!
//! What DevTools does not write, Chromium's own CORS verdict, is kept beside
//! the HAR ([`Recording::cors_errors`]) so that a test can hold `corsgate har`
//! to it.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A recorded session.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The HAR document (`{"log": {"version": "1.2", "entries": [...]}}`).
    pub har: Value,
    /// Chromium's CORS error for each request that failed with one, in the
    /// order they failed: `corsError` and `failedParameter` from
    /// `Network.loadingFailed`, with the failing hop's method and URL.
    pub cors_errors: Vec<CorsFailure>,
}

/// One request Chromium refused for CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsFailure {
    /// The method of the refused request (the actual request, not its preflight).
    pub method: String,
    /// Its URL.
    pub url: String,
    /// Chromium's `network::mojom::CorsError` name (`PreflightMissingAllowOriginHeader`…).
    pub error: String,
    /// The header, method or value it names, if any.
    pub parameter: String,
}

/// Header lines, as (name, value).
type Lines = Vec<(String, String)>;

/// One request being assembled from its events.
#[derive(Debug, Default)]
struct Pending {
    started: f64,
    method: String,
    url: String,
    resource_type: String,
    request_headers: Vec<(String, String)>,
    wire_request_headers: Option<Vec<(String, String)>>,
    post_data: Option<String>,
    status: i64,
    status_text: String,
    protocol: String,
    response_headers: Vec<(String, String)>,
    wire_response_headers: Option<Vec<(String, String)>>,
    wire_status: Option<i64>,
    mime: String,
    error: Option<String>,
    redirect_url: String,
}

fn pairs(headers: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = headers.as_object() {
        for (name, value) in map {
            // CDP joins repeated lines with "\n"; a HAR has one line each.
            for line in value.as_str().unwrap_or_default().split('\n') {
                out.push((name.clone(), line.to_owned()));
            }
        }
    }
    out
}

fn header_list(h: &[(String, String)]) -> Value {
    Value::Array(
        h.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

/// ISO 8601 from a CDP `wallTime` (seconds since the epoch), to the millisecond.
fn iso(wall: f64) -> String {
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis((wall.max(0.0) * 1000.0).round() as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

impl Pending {
    fn entry(&self) -> Value {
        let request_headers = self
            .wire_request_headers
            .as_ref()
            .unwrap_or(&self.request_headers);
        let response_headers = self
            .wire_response_headers
            .as_ref()
            .unwrap_or(&self.response_headers);
        let failed = self.error.is_some() && self.status == 0;
        let mut response = json!({
            "status": if failed { 0 } else { self.wire_status.unwrap_or(self.status) },
            "statusText": if failed { "" } else { self.status_text.as_str() },
            "httpVersion": if self.protocol.is_empty() { "http/1.1" } else { self.protocol.as_str() },
            // A load that failed after its answer arrived keeps the answer's
            // wire headers (DevTools shows them beside "CORS error").
            "headers": header_list(response_headers),
            "cookies": [],
            "content": {"size": 0, "mimeType": self.mime},
            "redirectURL": self.redirect_url,
            "headersSize": -1,
            "bodySize": -1,
        });
        if let (Some(e), Some(obj)) = (&self.error, response.as_object_mut()) {
            obj.insert("_error".into(), Value::String(e.clone()));
        }
        let mut request = json!({
            "method": self.method,
            "url": self.url,
            "httpVersion": if self.protocol.is_empty() { "http/1.1" } else { self.protocol.as_str() },
            "headers": header_list(request_headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": self.post_data.as_ref().map_or(0, String::len),
        });
        if let (Some(body), Some(obj)) = (&self.post_data, request.as_object_mut()) {
            obj.insert("postData".into(), json!({"mimeType": "", "text": body}));
        }
        json!({
            "startedDateTime": iso(self.started),
            "time": 0,
            "request": request,
            "response": response,
            "cache": {},
            "timings": {"send": 0, "wait": 0, "receive": 0},
            "_resourceType": self.resource_type.to_ascii_lowercase(),
        })
    }
}

/// Turns the performance log's entries (each a WebDriver log entry whose
/// `message` is the JSON of `{"message": {"method", "params"}}`, or the inner
/// event itself) into a HAR. Only `http:` and `https:` requests are kept.
pub fn record(log: &[Value]) -> Recording {
    // Every hop of every request, in the order they started; the hops of one
    // request id (its redirects) by index. `…ExtraInfo` events may arrive
    // after the next hop has started: each goes to the first hop of its id
    // that has none yet.
    let mut all: Vec<Pending> = Vec::new();
    let mut hops: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    // `…ExtraInfo` events that came before their request's first event.
    let mut early_request: BTreeMap<String, Vec<Lines>> = BTreeMap::new();
    let mut early_response: BTreeMap<String, Vec<(Lines, Option<i64>)>> = BTreeMap::new();
    let mut cors_errors = Vec::new();
    for entry in log {
        let event = match entry.get("message").and_then(Value::as_str) {
            Some(text) => serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("message").cloned())
                .unwrap_or(Value::Null),
            None => entry.clone(),
        };
        let method = event["method"].as_str().unwrap_or_default();
        let p = &event["params"];
        let Some(id) = p["requestId"].as_str() else {
            continue;
        };
        let current = hops.get(id).and_then(|h| h.last().copied());
        match method {
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or_default();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    continue;
                }
                // A redirect: the same id again, with the previous hop's response.
                if let Some(prev) = current.and_then(|i| all.get_mut(i)) {
                    let r = &p["redirectResponse"];
                    prev.status = r["status"].as_i64().unwrap_or(0);
                    prev.status_text = r["statusText"].as_str().unwrap_or_default().into();
                    prev.protocol = r["protocol"].as_str().unwrap_or_default().into();
                    prev.response_headers = pairs(&r["headers"]);
                    prev.redirect_url = url.to_owned();
                }
                let is_preflight = p["initiator"]["type"].as_str() == Some("preflight");
                all.push(Pending {
                    started: p["wallTime"].as_f64().unwrap_or(0.0),
                    method: p["request"]["method"].as_str().unwrap_or_default().into(),
                    url: url.to_owned(),
                    resource_type: if is_preflight {
                        "preflight".into()
                    } else {
                        p["type"].as_str().unwrap_or("other").into()
                    },
                    request_headers: pairs(&p["request"]["headers"]),
                    post_data: p["request"]["postData"].as_str().map(str::to_owned),
                    ..Pending::default()
                });
                hops.entry(id.to_owned()).or_default().push(all.len() - 1);
                let hop = all.len() - 1;
                if let Some(h) = early_request.get_mut(id).filter(|v| !v.is_empty()) {
                    all[hop].wire_request_headers = Some(h.remove(0));
                }
                if let Some(r) = early_response.get_mut(id).filter(|v| !v.is_empty()) {
                    let (headers, status) = r.remove(0);
                    all[hop].wire_response_headers = Some(headers);
                    all[hop].wire_status = status;
                }
            }
            "Network.requestWillBeSentExtraInfo" => {
                let first = hops.get(id).and_then(|h| {
                    h.iter()
                        .copied()
                        .find(|&i| all[i].wire_request_headers.is_none())
                });
                match first {
                    Some(i) => all[i].wire_request_headers = Some(pairs(&p["headers"])),
                    None => early_request
                        .entry(id.to_owned())
                        .or_default()
                        .push(pairs(&p["headers"])),
                }
            }
            "Network.responseReceivedExtraInfo" => {
                let first = hops.get(id).and_then(|h| {
                    h.iter()
                        .copied()
                        .find(|&i| all[i].wire_response_headers.is_none())
                });
                match first {
                    Some(i) => {
                        all[i].wire_response_headers = Some(pairs(&p["headers"]));
                        all[i].wire_status = p["statusCode"].as_i64();
                    }
                    None => early_response
                        .entry(id.to_owned())
                        .or_default()
                        .push((pairs(&p["headers"]), p["statusCode"].as_i64())),
                }
            }
            "Network.responseReceived" => {
                if let Some(r) = current.and_then(|i| all.get_mut(i)) {
                    let resp = &p["response"];
                    r.status = resp["status"].as_i64().unwrap_or(0);
                    r.status_text = resp["statusText"].as_str().unwrap_or_default().into();
                    r.protocol = resp["protocol"].as_str().unwrap_or_default().into();
                    r.response_headers = pairs(&resp["headers"]);
                    r.mime = resp["mimeType"].as_str().unwrap_or_default().into();
                    if p["type"].as_str() == Some("Preflight") {
                        r.resource_type = "preflight".into();
                    }
                }
            }
            "Network.loadingFailed" => {
                if let Some(r) = current.and_then(|i| all.get_mut(i)) {
                    r.error = Some(p["errorText"].as_str().unwrap_or("net::ERR_FAILED").into());
                    if let Some(status) = p["corsErrorStatus"].as_object() {
                        cors_errors.push(CorsFailure {
                            method: r.method.clone(),
                            url: r.url.clone(),
                            error: status
                                .get("corsError")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                            parameter: status
                                .get("failedParameter")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                        });
                        // DevTools shows a CORS failure with status 0.
                        r.status = 0;
                    }
                }
            }
            _ => {}
        }
    }
    let mut done = all;
    done.sort_by(|a, b| a.started.total_cmp(&b.started));
    let entries: Vec<Value> = done.iter().map(Pending::entry).collect();
    let mut log = Map::new();
    log.insert("version".into(), json!("1.2"));
    log.insert(
        "creator".into(),
        json!({"name": "corsgate-conformance har_record", "version": env!("CARGO_PKG_VERSION")}),
    );
    log.insert("pages".into(), json!([]));
    log.insert("entries".into(), Value::Array(entries));
    Recording {
        har: json!({ "log": log }),
        cors_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_8601() {
        assert_eq!(iso(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_796_334_927.635_902), "2026-12-03T21:55:27.636Z");
        assert_eq!(iso(951_782_400.5), "2000-02-29T00:00:00.500Z");
    }

    #[test]
    fn events_become_entries_redirect_hops_and_failures() {
        let ev = |method: &str, params: Value| json!({"method": method, "params": params});
        let log = vec![
            ev(
                "Network.requestWillBeSent",
                json!({"requestId": "1", "wallTime": 10.0, "type": "Fetch",
                "request": {"method": "GET", "url": "http://a.test/x", "headers": {"X-A": "1"}}}),
            ),
            ev(
                "Network.requestWillBeSentExtraInfo",
                json!({"requestId": "1",
                "headers": {"Origin": "http://p.test", "Cookie": "a=b\nc=d"}}),
            ),
            ev(
                "Network.responseReceivedExtraInfo",
                json!({"requestId": "1", "statusCode": 302,
                "headers": {"Location": "http://b.test/y"}}),
            ),
            ev(
                "Network.requestWillBeSent",
                json!({"requestId": "1", "wallTime": 10.1, "type": "Fetch",
                "redirectResponse": {"status": 302, "statusText": "Found", "headers": {"Location": "http://b.test/y"}},
                "request": {"method": "GET", "url": "http://b.test/y", "headers": {}}}),
            ),
            ev(
                "Network.loadingFailed",
                json!({"requestId": "1", "errorText": "net::ERR_FAILED",
                "corsErrorStatus": {"corsError": "MissingAllowOriginHeader", "failedParameter": ""}}),
            ),
            ev(
                "Network.requestWillBeSent",
                json!({"requestId": "2", "wallTime": 9.0, "type": "Other",
                "request": {"method": "GET", "url": "chrome://x", "headers": {}}}),
            ),
        ];
        let r = record(&log);
        let entries = r.har["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["response"]["status"], 302);
        assert_eq!(entries[0]["response"]["redirectURL"], "http://b.test/y");
        let cookies: Vec<&Value> = entries[0]["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["name"] == "Cookie")
            .collect();
        assert_eq!(cookies.len(), 2);
        assert_eq!(entries[1]["response"]["status"], 0);
        assert_eq!(entries[1]["response"]["_error"], "net::ERR_FAILED");
        assert_eq!(entries[1]["_resourceType"], "fetch");
        assert_eq!(r.cors_errors.len(), 1);
        assert_eq!(r.cors_errors[0].url, "http://b.test/y");
        assert_eq!(r.cors_errors[0].error, "MissingAllowOriginHeader");
    }
}
