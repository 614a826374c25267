//! Header rewriting as proxies do it: hop-by-hop headers removed in both
//! directions, `Host` chosen, `X-Forwarded-For`/`-Proto`/`-Host` and
//! `Forwarded` (RFC 7239) set for the upstream, and the headers some
//! application stacks read as the request's path, method or origin
//! ([`OVERRIDES`], [`FORWARDING_FACTS`]) kept from reaching it.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that application stacks read *instead of* the request line: the
/// path (`X-Original-URL`, `X-Rewrite-URL`: IIS URL Rewrite and ISAPI_Rewrite,
/// taken from any client as the request URI by Symfony before 2.7.49, 2.8.44,
/// 3.3.18, 3.4.14, 4.0.14 and 4.1.3 (CVE-2018-14773) and by Zend Framework; `X-Original-URI`, `X-Forwarded-Uri`: the original
/// target as nginx `auth_request` setups and Traefik's ForwardAuth pass it;
/// `Script-Name`: gunicorn sets `SCRIPT_NAME` from it and strips it from
/// `PATH_INFO`, benoitc/gunicorn#2650; `X-Script-Name`: the same in the
/// common Flask/Django "reverse proxied" middleware)
/// or the method (`X-HTTP-Method-Override`, `X-HTTP-Method`,
/// `X-Method-Override`: Express `method-override`, OData, Google APIs,
/// ASP.NET Web API handlers). The gateway routed and
/// decided on the request line; an upstream that took one of these would
/// serve another route's resource, or let a `POST` the policy allowed act
/// as a `DELETE` it does not. No front proxy needs to pass them on, so they
/// are removed whether or not `trust_forwarded` is set.
pub(crate) static OVERRIDES: [HeaderName; 9] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("script-name"),
    HeaderName::from_static("x-script-name"),
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// Forwarding facts beyond `X-Forwarded-For`/`-Proto`/`-Host`/`Forwarded`
/// that stacks believe when told to trust their proxy: the path prefix the
/// proxy stripped (`X-Forwarded-Prefix`: Spring's `ForwardedHeaderFilter`
/// prepends it to the context path and request URI, Symfony and ASP.NET Core
/// to generated URLs; `X-Forwarded-Path`), the port and scheme
/// (`X-Forwarded-Port`, `X-Forwarded-Scheme`, `X-Forwarded-Ssl`,
/// `X-Forwarded-Protocol`, `Front-End-Https`, `X-Url-Scheme`: Rack,
/// gunicorn — which trusts them from 127.0.0.1 by default, where a gateway
/// on the same host connects from —, Django, Spring, Symfony), the
/// proxy's name (`X-Forwarded-Server`) and the client address (`X-Real-IP`:
/// nginx `real_ip`, many applications). From a client they are spoofs
/// (links, redirects and cache keys built on them, "secure" checks passed);
/// removed unless `trust_forwarded`, kept as sent when it is (the trusted
/// proxy in front is then the one answerable for them). The gateway sets
/// none of them.
pub(crate) static FORWARDING_FACTS: [HeaderName; 10] = [
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-forwarded-path"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-scheme"),
    HeaderName::from_static("x-forwarded-ssl"),
    HeaderName::from_static("x-forwarded-protocol"),
    HeaderName::from_static("front-end-https"),
    HeaderName::from_static("x-url-scheme"),
    HeaderName::from_static("x-forwarded-server"),
    HeaderName::from_static("x-real-ip"),
];

/// How a header of [`OVERRIDES`] or [`FORWARDING_FACTS`] is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// Removed from every request.
    Always,
    /// Removed unless `trust_forwarded`.
    Untrusted,
}

/// Whether `name` is `listed` with any of its `-` spelled `_`: CGI, PHP and
/// several WSGI/Rack servers turn both into `_` in `HTTP_*` variables, so
/// `X_Original_URL` reaches such an application as `X-Original-URL` would
/// (nginx and Apache drop underscore names by default for that reason; the
/// upstream behind this gateway may not).
fn same_name(name: &str, listed: &str) -> bool {
    name.len() == listed.len()
        && name
            .bytes()
            .zip(listed.bytes())
            .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
}

/// Which removal, if any, applies to `n`. Underscore spellings of any of
/// them, and of `X-Forwarded-For`/`-Proto`/`-Host`, are removed always: no
/// proxy sends them, and they would stand beside the gateway's own values.
fn removal(n: &HeaderName) -> Option<Removal> {
    let s = n.as_str();
    // Every listed name starts with `x`, `f` or `s`: one byte test keeps
    // most common headers (`accept`, `cookie`, `host`…) cheap.
    if !matches!(s.as_bytes().first(), Some(b'x' | b'f' | b's')) {
        return None;
    }
    if OVERRIDES.iter().any(|o| same_name(s, o.as_str())) {
        return Some(Removal::Always);
    }
    let underscore = s.contains('_');
    if FORWARDING_FACTS.iter().any(|o| same_name(s, o.as_str())) {
        return Some(if underscore {
            Removal::Always
        } else {
            Removal::Untrusted
        });
    }
    let own = [
        &X_FORWARDED_FOR,
        &X_FORWARDED_PROTO,
        &X_FORWARDED_HOST,
        &FORWARDED,
    ];
    (underscore && own.iter().any(|o| same_name(s, o.as_str()))).then_some(Removal::Always)
}

/// Removes [`OVERRIDES`], and [`FORWARDING_FACTS`] unless `trust`.
fn remove_overrides(map: &mut HeaderMap, trust: bool) {
    if !map.keys().any(|n| removal(n).is_some()) {
        return;
    }
    let names: Vec<HeaderName> = map
        .keys()
        .filter(|n| match removal(n) {
            Some(Removal::Always) => true,
            Some(Removal::Untrusted) => !trust,
            None => false,
        })
        .cloned()
        .collect();
    for n in names {
        map.remove(n);
    }
}

/// Removes the hop-by-hop headers of RFC 9110 §7.6.1, and every header the
/// `Connection` header names.
pub(crate) fn remove_hop_by_hop(map: &mut HeaderMap) {
    // One pass over the names first: most messages have none of them.
    if !map.keys().any(is_hop_by_hop) {
        return;
    }
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

/// Whether a request carries no hop-by-hop header, no forwarding header of
/// its own and none of [`OVERRIDES`] and [`FORWARDING_FACTS`]: then removing
/// the first and setting the second comes down to adding
/// [`ForwardingCache::fresh`]'s headers, which can be written straight into
/// the request head without touching the map. A request carrying any of
/// them takes the path that removes them ([`ForwardingCache::apply`]).
pub(crate) fn is_plain(map: &HeaderMap) -> bool {
    !map.keys().any(|n| {
        is_hop_by_hop(n)
            || *n == X_FORWARDED_FOR
            || *n == X_FORWARDED_PROTO
            || *n == X_FORWARDED_HOST
            || *n == FORWARDED
            || removal(n).is_some()
    })
}

fn is_hop_by_hop(n: &HeaderName) -> bool {
    *n == header::CONNECTION
        || *n == header::PROXY_AUTHENTICATE
        || *n == header::PROXY_AUTHORIZATION
        || *n == header::TE
        || *n == header::TRAILER
        || *n == header::TRANSFER_ENCODING
        || *n == header::UPGRADE
        || *n == KEEP_ALIVE
        || *n == PROXY_CONNECTION
}

/// What the gateway knows about the client side of a request.
#[derive(Debug, Clone)]
pub(crate) struct ClientSide {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the client connection is TLS.
    pub tls: bool,
    /// The `Host` (or HTTP/2 `:authority`) the client asked for.
    pub host: Option<HeaderValue>,
}

/// Sets the forwarding headers on a request going upstream, and removes
/// [`OVERRIDES`] (and [`FORWARDING_FACTS`] unless `trust`).
pub(crate) fn set_forwarding_headers(map: &mut HeaderMap, client: &ClientSide, trust: bool) {
    let ip = client.peer.ip();
    let proto = if client.tls { "https" } else { "http" };
    remove_overrides(map, trust);
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
    let element = forwarded_element(ip, proto, client.host.as_ref());
    let value = match map.get(&FORWARDED).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {element}"),
        _ => element,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        map.insert(FORWARDED.clone(), v);
    }
}

/// This hop's `Forwarded` element: `for=…;proto=…[;host=…]`.
fn forwarded_element(ip: IpAddr, proto: &str, host: Option<&HeaderValue>) -> String {
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let mut element = format!("for={node};proto={proto}");
    if let Some(host) = host.and_then(|h| h.to_str().ok()) {
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
    element
}

/// The forwarding headers of one client connection, computed once: every
/// request on the connection gets the same `X-Forwarded-For` and, for the
/// same `Host`, the same `Forwarded` value. Gives exactly what
/// [`set_forwarding_headers`] gives.
#[derive(Debug)]
pub(crate) struct ForwardingCache {
    ip: IpAddr,
    proto: &'static str,
    xff: Option<HeaderValue>,
    /// The last `Host` seen and its `Forwarded` value.
    last: std::sync::Mutex<Option<(Option<HeaderValue>, HeaderValue)>>,
    /// The last `Host` seen (a copy: no hold on the request's buffer) and
    /// [`Self::fresh_lines`] for it.
    lines: std::sync::Mutex<Option<(Option<HeaderValue>, Bytes)>>,
}

impl ForwardingCache {
    /// For a client at `peer`, over TLS or not.
    pub(crate) fn new(peer: SocketAddr, tls: bool) -> ForwardingCache {
        let ip = peer.ip();
        ForwardingCache {
            ip,
            proto: if tls { "https" } else { "http" },
            xff: HeaderValue::from_str(&ip.to_string()).ok(),
            last: std::sync::Mutex::new(None),
            lines: std::sync::Mutex::new(None),
        }
    }

    /// [`Self::fresh`]'s headers as HTTP/1.1 header lines (`name: value`
    /// and CRLF each, in that order), cached for the last `Host` seen: no
    /// header value to clone, write and drop per request.
    pub(crate) fn fresh_lines(&self, client: &ClientSide) -> Bytes {
        if let Ok(lines) = self.lines.lock() {
            if let Some((host, rendered)) = &*lines {
                if *host == client.host {
                    return rendered.clone();
                }
            }
        }
        let mut out = Vec::with_capacity(192);
        for (name, value) in self.fresh(client).into_iter().flatten() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let rendered = Bytes::from(out);
        let host = client
            .host
            .as_ref()
            .and_then(|h| HeaderValue::from_bytes(h.as_bytes()).ok());
        if let Ok(mut lines) = self.lines.lock() {
            *lines = Some((host, rendered.clone()));
        }
        rendered
    }

    /// The forwarding headers for a request that [`is_plain`], in the order
    /// [`Self::apply`] adds them: what `apply` would set on such a request.
    pub(crate) fn fresh(
        &self,
        client: &ClientSide,
    ) -> [Option<(&'static HeaderName, HeaderValue)>; 4] {
        [
            self.xff.clone().map(|v| (&X_FORWARDED_FOR, v)),
            Some((&X_FORWARDED_PROTO, HeaderValue::from_static(self.proto))),
            client.host.clone().map(|h| (&X_FORWARDED_HOST, h)),
            self.forwarded(client).map(|v| (&FORWARDED, v)),
        ]
    }

    /// This hop's `Forwarded` value for that client's `Host`, cached.
    fn forwarded(&self, client: &ClientSide) -> Option<HeaderValue> {
        let cached = self.last.lock().ok().and_then(|last| match &*last {
            Some((h, v)) if *h == client.host => Some(v.clone()),
            _ => None,
        });
        if cached.is_some() {
            return cached;
        }
        let element = forwarded_element(self.ip, self.proto, client.host.as_ref());
        let v = HeaderValue::from_str(&element).ok()?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((client.host.clone(), v.clone()));
        }
        Some(v)
    }

    /// Sets the forwarding headers on a request going upstream, as
    /// [`set_forwarding_headers`] does (`client` is the same connection's),
    /// overrides removed as it removes them.
    pub(crate) fn apply(&self, map: &mut HeaderMap, client: &ClientSide, trust: bool) {
        remove_overrides(map, trust);
        if trust && (map.contains_key(&X_FORWARDED_FOR) || map.contains_key(&FORWARDED)) {
            // Values to append to: nothing to reuse.
            set_forwarding_headers(map, client, trust);
            return;
        }
        if !trust {
            for n in [&X_FORWARDED_PROTO, &X_FORWARDED_HOST] {
                if map.contains_key(n) {
                    map.remove(n);
                }
            }
        }
        if let Some(v) = &self.xff {
            map.insert(X_FORWARDED_FOR.clone(), v.clone());
        }
        if !map.contains_key(&X_FORWARDED_PROTO) {
            map.insert(
                X_FORWARDED_PROTO.clone(),
                HeaderValue::from_static(self.proto),
            );
        }
        if let Some(host) = &client.host {
            if !map.contains_key(&X_FORWARDED_HOST) {
                map.insert(X_FORWARDED_HOST.clone(), host.clone());
            }
        }
        match self.forwarded(client) {
            Some(v) => {
                map.insert(FORWARDED.clone(), v);
            }
            None if !trust => {
                map.remove(&FORWARDED);
            }
            None => {}
        }
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
    fn overrides_go_always_and_forwarding_facts_unless_trusted() {
        for trust in [false, true] {
            let mut m = HeaderMap::new();
            for n in OVERRIDES.iter().chain(&FORWARDING_FACTS) {
                m.append(n.clone(), HeaderValue::from_static("/admin"));
                m.append(n.clone(), HeaderValue::from_static("DELETE"));
            }
            m.insert("x-kept", HeaderValue::from_static("1"));
            assert!(!is_plain(&m));
            let mut a = m.clone();
            set_forwarding_headers(&mut a, &client(), trust);
            let cache = ForwardingCache::new(client().peer, false);
            let mut b = m.clone();
            cache.apply(&mut b, &client(), trust);
            assert_eq!(a, b);
            for n in &OVERRIDES {
                assert!(!a.contains_key(n), "{n} trust={trust}");
            }
            for n in &FORWARDING_FACTS {
                let kept: Vec<_> = a.get_all(n).iter().collect();
                if trust {
                    assert_eq!(kept, ["/admin", "DELETE"], "{n}");
                } else {
                    assert!(kept.is_empty(), "{n}");
                }
            }
            assert!(a.contains_key("x-kept"));
        }
        for n in OVERRIDES.iter().chain(&FORWARDING_FACTS) {
            let mut m = HeaderMap::new();
            m.insert(n.clone(), HeaderValue::from_static("x"));
            assert!(!is_plain(&m), "{n}");
        }
        for (n, trusted_keeps) in [
            ("x_original_url", false),
            ("X_HTTP_Method-Override", false),
            ("x_forwarded_prefix", false),
            ("x_forwarded_for", false),
            ("x-forwarded-port", true),
        ] {
            for trust in [false, true] {
                let mut m = HeaderMap::new();
                m.insert(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_static("x"),
                );
                assert!(!is_plain(&m), "{n}");
                set_forwarding_headers(&mut m, &client(), trust);
                let name = n.to_ascii_lowercase();
                assert_eq!(m.contains_key(&name), trust && trusted_keeps, "{n}");
            }
        }
        for n in [
            "x-original",
            "x-forwarded",
            "x-http-method-overrid",
            "from",
            "x_real_ipx",
        ] {
            let mut m = HeaderMap::new();
            m.insert(n, HeaderValue::from_static("x"));
            assert!(is_plain(&m), "{n}");
        }
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

    #[test]
    fn the_per_connection_cache_gives_the_same_headers() {
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![
                ("x-forwarded-for", "10.0.0.1"),
                ("forwarded", "for=10.0.0.1"),
            ],
            vec![
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "other"),
            ],
            vec![("x-forwarded-for", " ")],
            vec![("x-original-url", "/admin")],
            vec![
                ("x-http-method-override", "DELETE"),
                ("x-forwarded-prefix", "/evil"),
            ],
            vec![("x-real-ip", "10.0.0.9"), ("x-forwarded-for", "10.0.0.1")],
        ];
        for peer in ["192.0.2.7:5555", "[2001:db8::1]:4"] {
            for tls in [false, true] {
                for host in [None, Some("api.example.com:8080"), Some("a b")] {
                    let side = ClientSide {
                        peer: peer.parse().unwrap(),
                        tls,
                        host: host.map(|h| HeaderValue::from_str(h).unwrap()),
                    };
                    let cache = ForwardingCache::new(side.peer, tls);
                    for trust in [false, true] {
                        for headers in &cases {
                            for _twice in 0..2 {
                                let mut a = HeaderMap::new();
                                for (n, v) in headers {
                                    a.insert(*n, HeaderValue::from_static(v));
                                }
                                let mut b = a.clone();
                                set_forwarding_headers(&mut a, &side, trust);
                                if is_plain(&b) {
                                    let mut c = b.clone();
                                    let mut lines = String::new();
                                    for (n, v) in cache.fresh(&side).into_iter().flatten() {
                                        lines
                                            .push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
                                        c.append(n, v);
                                    }
                                    assert_eq!(
                                        String::from_utf8(cache.fresh_lines(&side).to_vec())
                                            .unwrap(),
                                        lines
                                    );
                                    cache.apply(&mut b, &side, trust);
                                    assert_eq!(b, c, "fresh: {peer} {host:?} trust={trust}");
                                } else {
                                    cache.apply(&mut b, &side, trust);
                                }
                                assert_eq!(
                                    a, b,
                                    "{peer} tls={tls} {host:?} trust={trust} {headers:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
