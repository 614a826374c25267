//! Shadow mode in the gateway, over real sockets: a route's `[routes.shadow]`
//! candidate is judged on every request and never changes an answer (every
//! response equal, header for header, to the same gateway's without it), its
//! disagreements are counted in `/metrics` by kind and reason, a shadow
//! without a policy is a located config error, and `promote_shadows` (what
//! `serve --promote` does) enforces the candidate, also after a reload.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use corsgate_gateway::{start, GatewayConfig};

/// The API route's policy narrowed in shadow: one origin of two, no DELETE,
/// no `authorization` header.
fn shadowed(text: &str) -> String {
    text.replacen(
        "max_age = 600\n",
        "max_age = 600\n\n[routes.shadow]\norigins = [\"https://app.example.com\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"content-type\"]\nexpose_headers = [\"x-request-id\"]\ncredentials = true\nmax_age = 600\n",
        1,
    )
    .replacen(
        "origins = [\"https://app.example.com\"]\nmethods",
        "origins = [\"https://app.example.com\", \"https://old.example.com\"]\nmethods",
        1,
    )
}

const OLD: (&str, &str) = ("origin", "https://old.example.com");

/// A request: method, path, headers, and how many disagreements it makes.
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    u64,
);

/// Requests of every kind.
fn requests() -> Vec<Case> {
    let pf = |m: &'static str| ("access-control-request-method", m);
    vec![
        ("GET", "/api/echo", vec![APP], 0),
        ("GET", "/api/echo", vec![OLD], 1),
        ("GET", "/api/echo", vec![EVIL], 0),
        (
            "OPTIONS",
            "/api/echo",
            vec![
                APP,
                pf("PUT"),
                ("access-control-request-headers", "content-type"),
            ],
            0,
        ),
        ("OPTIONS", "/api/echo", vec![APP, pf("DELETE")], 1),
        (
            "OPTIONS",
            "/api/echo",
            vec![
                APP,
                pf("PUT"),
                ("access-control-request-headers", "authorization"),
            ],
            1,
        ),
        ("OPTIONS", "/api/echo", vec![OLD, pf("PUT")], 1),
        ("OPTIONS", "/api/echo", vec![EVIL, pf("PUT")], 0),
        ("GET", "/public/x", vec![OLD], 0),
        ("GET", "/api/echo", vec![], 0),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_policy_changes_no_answer_and_counts_each_disagreement() {
    let (up, _) = start_upstream().await;
    let text = shadowed(&config_text(up));
    let config = GatewayConfig::from_toml(&text).unwrap();
    let route = config
        .routes()
        .iter()
        .find(|r| r.path() == "/api/" && r.host().is_none())
        .unwrap();
    assert!(route.shadow().is_some());
    let with = start(config).await.unwrap();
    let plain_text = text.split("[routes.shadow]").collect::<Vec<_>>();
    // The same configuration without the shadow table.
    let without_shadow = {
        let rest = plain_text[1].split_once("\n\n").map_or("", |x| x.1);
        format!("{}{}", plain_text[0], rest)
    };
    let without = start(GatewayConfig::from_toml(&without_shadow).unwrap())
        .await
        .unwrap();
    let mut expected = 0;
    for (method, path, headers, disagreements) in requests() {
        let a = send(with.local_addr(), method, path, &headers).await;
        let b = send(without.local_addr(), method, path, &headers).await;
        assert_eq!(a.status, b.status, "{method} {path} {headers:?}");
        let strip = |g: &Got| {
            let mut h = g.headers.clone();
            h.remove("date");
            h
        };
        assert_eq!(strip(&a), strip(&b), "{method} {path} {headers:?}");
        // The upstream echoes the request, whose Host names each gateway.
        assert_eq!(
            a.body.replace(&with.local_addr().to_string(), "GW"),
            b.body.replace(&without.local_addr().to_string(), "GW")
        );
        expected += disagreements;
    }
    let m = metrics(&with).await;
    let counted: u64 = m
        .lines()
        .filter(|l| l.starts_with("corsgate_shadow_disagreements_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, expected, "{m}");
    for line in [
        "corsgate_shadow_disagreements_total{kind=\"candidate_refuses\",reason=\"origin_not_allowed\"} 2",
        "corsgate_shadow_disagreements_total{kind=\"candidate_refuses\",reason=\"method_not_allowed\"} 1",
        "corsgate_shadow_disagreements_total{kind=\"candidate_refuses\",reason=\"header_not_allowed\"} 1",
    ] {
        assert!(m.contains(line), "missing {line}:\n{m}");
    }
    assert!(!metrics(&without)
        .await
        .contains("corsgate_shadow_disagreements_total{"));
    with.shutdown().await;
    without.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_enforces_the_candidate_even_after_a_reload() {
    let (up, _) = start_upstream().await;
    let text = shadowed(&config_text(up));
    let dir = std::env::temp_dir().join(format!("corsgate-shadow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("corsgate.toml");
    std::fs::write(&path, &text).unwrap();
    let mut config = GatewayConfig::from_file(&path).unwrap();
    assert_eq!(config.promote_shadows(), 1);
    let gw = start(config).await.unwrap();
    let a = gw.local_addr();
    assert_eq!(
        send(a, "GET", "/api/echo", &[OLD])
            .await
            .h("access-control-allow-origin"),
        None
    );
    assert_eq!(
        send(a, "GET", "/api/echo", &[APP])
            .await
            .h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    gw.reloader().reload_file().unwrap();
    assert_eq!(
        send(a, "GET", "/api/echo", &[OLD])
            .await
            .h("access-control-allow-origin"),
        None,
        "a reload keeps the promotion"
    );
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_shadow_needs_a_policy_and_is_validated_as_one() {
    let up: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    let off = config_text(up).replacen(
        "cors = false\n",
        "cors = false\n[routes.shadow]\norigins = [\"https://a.example\"]\n",
        1,
    );
    let e = GatewayConfig::from_toml(&off).unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.to_string().contains("needs the route's [routes.policy]")),
        "{e:?}"
    );
    let bad = shadowed(&config_text(up)).replacen(
        "[routes.shadow]\norigins = [\"https://app.example.com\"]",
        "[routes.shadow]\norigins = [\"null\"]",
        1,
    );
    let e = GatewayConfig::from_toml(&bad).unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.line.is_some() && e.policy_error().is_some()),
        "{e:?}"
    );
}
