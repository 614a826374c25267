//! End to end in headless Chromium: load the page, edit the policy, build a
//! denied and an allowed request, check the verdicts shown, check that the
//! real browser's outcome agrees, and save a screenshot.

use std::time::Duration;

use base64::Engine;
use corsgate_conformance::webdriver::Driver;
use serde_json::Value;

/// Runs `body` in the page; it must call `done(value)`.
fn run(driver: &Driver, body: &str) -> Value {
    let script = format!("const done = arguments[arguments.length - 1]; (async () => {{ {body} }})().catch(e => done('JS error: ' + e));");
    driver.execute_async(&script, vec![]).expect("script runs")
}

/// Waits until `cond` (a JS expression) is truthy, then returns `value` (a JS expression).
fn wait_for(driver: &Driver, cond: &str, value: &str) -> Value {
    run(
        driver,
        &format!(
            "for (let i = 0; i < 200; i++) {{ if ({cond}) return done({value}); await new Promise(r => setTimeout(r, 50)); }} done('timeout waiting for: {}');",
            cond.replace('\'', "\\'")
        ),
    )
}

fn set_request(driver: &Driver, method: &str, path: &str, headers: &str, credentials: &str) {
    run(
        driver,
        &format!(
            "document.getElementById('origin').value = location.origin;
             document.getElementById('method').value = {method:?};
             document.getElementById('path').value = {path:?};
             document.getElementById('headers').value = {headers:?};
             document.getElementById('credentials').value = {credentials:?};
             done(true);"
        ),
    );
}

/// Clicks "Ask the engine" then "Run it in this browser"; returns (engine verdict, real verdict) elements' data.
fn ask_and_run(driver: &Driver) -> (Value, Value) {
    run(driver, "document.getElementById('verdict').replaceChildren(); document.getElementById('evaluate').click(); done(true);");
    let engine = wait_for(
        driver,
        "document.getElementById('engine-verdict')",
        "Object.assign({}, document.getElementById('engine-verdict').dataset, {text: document.getElementById('engine-verdict').textContent})",
    );
    run(driver, "document.getElementById('real').replaceChildren(); document.getElementById('run').click(); done(true);");
    let real = wait_for(
        driver,
        "document.getElementById('real-verdict')",
        "Object.assign({}, document.getElementById('real-verdict').dataset, {text: document.getElementById('real-verdict').textContent})",
    );
    (engine, real)
}

#[test]
fn playground_in_chromium() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let running = rt
        .block_on(corsgate_playground::start(
            "127.0.0.1:0".parse().expect("addr"),
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .expect("playground starts");
    let driver = Driver::start("/usr/bin/chromedriver", "/usr/bin/chromium")
        .expect("chromium and chromedriver are installed (scripts/test installs them)");
    driver.set_window_size(1280, 1500).expect("window size");
    driver
        .navigate(&format!("{}/", running.page_origin))
        .expect("page loads");
    assert_eq!(
        wait_for(&driver, "document.body.dataset.ready === 'true'", "true"),
        Value::Bool(true)
    );

    // Edit the policy: a typo first (a trailing slash), shown inline with its line.
    run(
        &driver,
        "const p = document.getElementById('policy');
         p.value = p.value.replace('\"' + location.origin + '\"', '\"' + location.origin + '/\"');
         p.dispatchEvent(new Event('input')); done(true);",
    );
    let error = wait_for(
        &driver,
        "document.querySelector('#policy-errors li')",
        "document.querySelector('#policy-errors li').textContent",
    );
    let error = error.as_str().expect("error text").to_owned();
    assert!(
        error.contains("line 2") && error.contains("trailing slash"),
        "{error}"
    );
    // Then a valid edit: allow the lower-case `patch` too.
    run(
        &driver,
        "const p = document.getElementById('policy');
         p.value = p.value.replace(location.origin + '/\"', location.origin + '\"').replace('methods = [\"PUT\", \"DELETE\"]', 'methods = [\"PUT\", \"DELETE\", \"patch\"]');
         p.dispatchEvent(new Event('input')); done(true);",
    );
    assert_eq!(
        wait_for(
            &driver,
            "document.querySelectorAll('#policy-errors li').length === 0",
            "true"
        ),
        Value::Bool(true)
    );

    // A denied request: a header the policy does not allow.
    set_request(&driver, "GET", "/api/items", "X-Secret: 1", "include");
    let (engine, real) = ask_and_run(&driver);
    assert_eq!(engine["allowed"], "false", "{engine}");
    // The gateway refuses the preflight with a bare 403, so the browser (and the
    // engine) see no Access-Control-Allow-Origin at all.
    assert_eq!(engine["code"], "missing_allow_origin", "{engine}");
    assert_eq!(real["allowed"], "false", "{real}");
    assert_eq!(
        real["agree"], "true",
        "the browser agrees with the engine: {real}"
    );

    // The policy's own reason beside the browser's, with the TOML change.
    let reason = wait_for(
        &driver,
        "document.getElementById('policy-reason')",
        "({code: document.getElementById('policy-reason').dataset.code, text: document.getElementById('policy-reason').textContent, edit: (document.getElementById('policy-edit') || {}).textContent})",
    );
    assert_eq!(reason["code"], "header_not_allowed", "{reason}");
    assert!(
        reason["text"]
            .as_str()
            .is_some_and(|t| t.contains("`x-secret` is not listed")),
        "{reason}"
    );
    assert_eq!(
        reason["edit"],
        r#"request_headers = ["content-type", "authorization", "x-request-id", "x-secret"]"#,
        "{reason}"
    );

    // The proposed change, put in the policy with one click: the same
    // request is then allowed, by the engine and by this browser.
    run(
        &driver,
        "document.getElementById('use-edit').click(); done(true);",
    );
    assert_eq!(
        wait_for(
            &driver,
            "document.getElementById('policy').value.includes('\"x-secret\"]')",
            "true"
        ),
        Value::Bool(true)
    );
    let (engine, real) = ask_and_run(&driver);
    assert_eq!(engine["allowed"], "true", "{engine}");
    assert_eq!(real["allowed"], "true", "{real}");
    assert_eq!(real["agree"], "true", "{real}");

    // "Run it in this browser" from an origin the page cannot send: it says
    // which origin it really ran from and leaves the request as built.
    set_request(&driver, "GET", "/api/items", "", "include");
    run(
        &driver,
        "document.getElementById('origin').value = 'https://evil.example'; done(true);",
    );
    let (engine, real) = ask_and_run(&driver);
    assert_eq!(engine["allowed"], "false", "{engine}");
    assert_eq!(real["asked"], "https://evil.example", "{real}");
    assert_eq!(
        real["ranFrom"].as_str(),
        Some(running.page_origin.as_str()),
        "{real}"
    );
    assert!(
        real["text"]
            .as_str()
            .is_some_and(|t| t.contains("a page cannot choose its Origin")),
        "{real}"
    );
    assert_eq!(real["agree"], "true", "{real}");
    assert_eq!(
        run(&driver, "done(document.getElementById('origin').value)"),
        "https://evil.example"
    );

    // An allowed request: PUT with JSON and cookies.
    set_request(
        &driver,
        "PUT",
        "/api/items/1",
        "Content-Type: application/json\nX-Request-Id: 42",
        "include",
    );
    let (engine, real) = ask_and_run(&driver);
    assert_eq!(engine["allowed"], "true", "{engine}");
    assert_eq!(real["allowed"], "true", "{real}");
    assert_eq!(
        real["agree"], "true",
        "the browser agrees with the engine: {real}"
    );

    // The edited policy reached the gateway: lower-case patch passes for real.
    set_request(
        &driver,
        "patch",
        "/api/items/1",
        "Content-Type: application/json",
        "include",
    );
    let (engine, real) = ask_and_run(&driver);
    assert_eq!(engine["allowed"], "true", "{engine}");
    assert_eq!(real["agree"], "true", "{real}");

    // The live view shows the gateway's decisions, denied ones included.
    let rows = wait_for(
        &driver,
        "document.querySelectorAll('#live tbody tr.denied').length > 0 && document.querySelectorAll('#live tbody tr.allowed').length > 0",
        "document.querySelectorAll('#live tbody tr').length",
    );
    assert!(rows.as_u64().is_some_and(|n| n >= 3), "{rows}");

    // The screenshot.
    std::thread::sleep(Duration::from_millis(200));
    let png = base64::engine::general_purpose::STANDARD
        .decode(driver.screenshot_base64().expect("screenshot"))
        .expect("base64 PNG");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground.png");
    std::fs::write(&out, &png).expect("write screenshot");
    if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() {
        let docs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/playground.png");
        std::fs::write(docs, &png).expect("write docs screenshot");
    }
    eprintln!("screenshot: {}", out.display());
}
