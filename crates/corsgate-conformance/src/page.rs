//! The script the page runs: a batch of cases, each through `fetch()` or
//! `XMLHttpRequest`, a few at a time, reporting for each whether it threw,
//! was blocked, or was readable and with which response headers.

use serde_json::{json, Value};

use crate::case::{Api, Case, Site};

/// The executeAsyncScript body. Argument 0 is the list of jobs, argument 1
/// the concurrency; the callback gets `{key: result}`.
pub const RUNNER: &str = r#"
const jobs = arguments[0], width = arguments[1], done = arguments[arguments.length - 1];
const out = {};
function names(list) { return [...new Set(list.map(n => n.toLowerCase()))].sort(); }
async function viaFetch(j) {
  let req;
  try {
    let h;
    if (j.form === 'pairs') {
      h = j.headers.map(([n, v]) => [n, v]);
    } else if (j.form === 'object') {
      h = {};
      for (const [n, v] of j.headers) h[n] = v;
    } else {
      h = new Headers();
      for (const [n, v] of j.headers) h.append(n, v);
    }
    req = new Request(j.url, {method: j.method, headers: h, credentials: j.credentials, mode: j.mode});
  } catch (e) { return {kind: 'threw', error: String(e)}; }
  try {
    const r = await fetch(req);
    try { await r.arrayBuffer(); } catch (e) {}
    if (r.type === 'opaque') return {kind: 'opaque'};
    return {kind: 'allowed', status: r.status, headers: names([...r.headers.keys()])};
  } catch (e) { return {kind: 'blocked', error: String(e)}; }
}
function viaXhr(j) {
  return new Promise(resolve => {
    const x = new XMLHttpRequest();
    try {
      x.open(j.method, j.url);
      x.withCredentials = j.credentials === 'include';
      for (const [n, v] of j.headers) x.setRequestHeader(n, v);
    } catch (e) { resolve({kind: 'threw', error: String(e)}); return; }
    x.onload = () => {
      const lines = x.getAllResponseHeaders().split('\r\n').filter(l => l.length);
      resolve({kind: 'allowed', status: x.status, headers: names(lines.map(l => l.slice(0, l.indexOf(':'))))});
    };
    x.onerror = () => resolve({kind: 'blocked', error: 'error event'});
    x.ontimeout = () => resolve({kind: 'blocked', error: 'timeout'});
    try { x.send(); } catch (e) { resolve({kind: 'threw', error: String(e)}); }
  });
}
let next = 0;
async function worker() {
  while (next < jobs.length) {
    const j = jobs[next++];
    const run = () => (j.api === 'x' ? viaXhr(j) : viaFetch(j));
    if (j.repeat) {
      const first = await run();
      out[j.key] = Object.assign(await run(), {first});
    } else {
      out[j.key] = await run();
    }
  }
}
Promise.all(Array.from({length: width}, worker)).then(() => done(out), e => done({error: String(e)}));
"#;

/// The job key of a case and API.
pub fn key(case: &Case, api: Api) -> String {
    format!("{}:{}", case.id, api.segment())
}

/// The JSON job for a case and API.
pub fn job(site: &Site, case: &Case, api: Api) -> Value {
    let headers: Vec<Value> = case
        .request
        .headers
        .iter()
        .map(|(n, v)| json!([n, v]))
        .collect();
    json!({
        "key": key(case, api),
        "api": api.segment(),
        "url": case.start_url(site, api),
        "method": case.request.method,
        "headers": headers,
        "credentials": case.request.credentials.name(),
        "mode": Case::mode_name(case.request.mode),
        "form": case.headers_form(api).name(),
        "repeat": case.repeat,
    })
}
