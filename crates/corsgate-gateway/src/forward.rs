//! Header rewriting as proxies do it: hop-by-hop headers removed in both
//! directions, `Host` chosen, and `X-Forwarded-For`/`-Proto`/`-Host` and
//! `Forwarded` (RFC 7239) set for the upstream.

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes the hop-by-hop headers of RFC 9110 §7.6.1, and every header the
/// `Connection` header names.
pub fn remove_hop_by_hop(map: &mut HeaderMap) {
    if map.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = map
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for n in named {
            map.remove(n);
        }
        map.remove(header::CONNECTION);
    }
    for n in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ] {
        if map.contains_key(n) {
            map.remove(n);
        }
    }
}

/// What the gateway knows about the client side of a request.
#[derive(Debug, Clone)]
pub struct ClientSide {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the client connection is TLS.
    pub tls: bool,
    /// The `Host` (or HTTP/2 `:authority`) the client asked for.
    pub host: Option<HeaderValue>,
}

/// Sets the forwarding headers on a request going upstream.
pub fn set_forwarding_headers(map: &mut HeaderMap, client: &ClientSide, trust: bool) {
    let ip = client.peer.ip();
    let proto = if client.tls { "https" } else { "http" };
    if !trust {
        for n in [
            &X_FORWARDED_FOR,
            &X_FORWARDED_PROTO,
            &X_FORWARDED_HOST,
            &FORWARDED,
        ] {
            map.remove(n);
        }
    }
    // X-Forwarded-For: append this hop.
    let xff = match map.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
        _ => ip.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        map.insert(X_FORWARDED_FOR.clone(), v);
    }
    if !map.contains_key(&X_FORWARDED_PROTO) {
        map.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    }
    if let Some(host) = &client.host {
        if !map.contains_key(&X_FORWARDED_HOST) {
            map.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
    }
    // Forwarded: one element for this hop, appended.
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let mut element = format!("for={node};proto={proto}");
    if let Some(host) = client.host.as_ref().and_then(|h| h.to_str().ok()) {
        if host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        {
            element.push_str(";host=");
            if host.contains(':') {
                element.push('"');
                element.push_str(host);
                element.push('"');
            } else {
                element.push_str(host);
            }
        }
    }
    let value = match map.get(&FORWARDED).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {element}"),
        _ => element,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        map.insert(FORWARDED.clone(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientSide {
        ClientSide {
            peer: "192.0.2.7:5555".parse().unwrap(),
            tls: false,
            host: Some(HeaderValue::from_static("api.example.com:8080")),
        }
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut m = HeaderMap::new();
        m.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        m.insert("x-secret", HeaderValue::from_static("1"));
        m.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        m.insert("te", HeaderValue::from_static("trailers"));
        m.insert("upgrade", HeaderValue::from_static("h2c"));
        m.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut m);
        assert_eq!(m.len(), 1);
        assert!(m.contains_key("x-kept"));
    }

    #[test]
    fn untrusted_forwarding_headers_are_replaced() {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        m.insert("forwarded", HeaderValue::from_static("for=10.0.0.1"));
        set_forwarding_headers(&mut m, &client(), false);
        assert_eq!(m["x-forwarded-for"], "192.0.2.7");
        assert_eq!(m["x-forwarded-proto"], "http");
        assert_eq!(m["x-forwarded-host"], "api.example.com:8080");
        assert_eq!(
            m["forwarded"],
            "for=192.0.2.7;proto=http;host=\"api.example.com:8080\""
        );
    }

    #[test]
    fn trusted_forwarding_headers_are_appended() {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        m.insert("forwarded", HeaderValue::from_static("for=10.0.0.1"));
        let mut c = client();
        c.peer = "[2001:db8::1]:4".parse().unwrap();
        set_forwarding_headers(&mut m, &c, true);
        assert_eq!(m["x-forwarded-for"], "10.0.0.1, 2001:db8::1");
        assert!(m["forwarded"]
            .to_str()
            .unwrap()
            .starts_with("for=10.0.0.1, for=\"[2001:db8::1]\""));
    }
}
