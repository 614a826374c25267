//! The gateway against the shared catalogue of hostile origins
//! (`corsgate_core::hostile`), on loopback: for the credentialed `/api/`
//! route, every origin of the catalogue of its policy is refused, on simple
//! requests and on preflights, while the trusted origin is allowed.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use corsgate_core::hostile::Catalogue;
use corsgate_core::Policy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_origin_is_refused() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    // The /api/ route's policy, as in common::config_text.
    let policy = Policy::from_toml(
        r#"origins = ["https://app.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600"#,
    )
    .unwrap();
    let catalogue = Catalogue::for_policy(&policy);
    assert!(catalogue.len() > 100, "{}", catalogue.len());
    let ok = send(
        a,
        "GET",
        "/api/echo",
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(
        ok.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    for h in &catalogue {
        // A header value the client can send (every catalogue origin is visible ASCII).
        let get = send(a, "GET", "/api/echo", &[("origin", h.origin.as_str())]).await;
        assert_eq!(
            get.h("access-control-allow-origin"),
            None,
            "{} ({}) allowed on GET",
            h.origin,
            h.class
        );
        assert_eq!(
            get.h("access-control-allow-credentials"),
            None,
            "{}",
            h.origin
        );
        let pre = send(
            a,
            "OPTIONS",
            "/api/echo",
            &[
                ("origin", h.origin.as_str()),
                ("access-control-request-method", "PUT"),
            ],
        )
        .await;
        assert_eq!(
            pre.h("access-control-allow-origin"),
            None,
            "{} ({}) allowed on a preflight",
            h.origin,
            h.class
        );
    }
    gw.shutdown().await;
}
