//! Route matching: the first route that matches wins; the configuration
//! keeps its routes most specific first (a route with a host before one
//! without, then the longest path prefix; see `config`).

use crate::config::Route;

/// The host part of a `Host` value or URI authority as routes name it:
/// lower case, without port or IPv6 brackets, a trailing dot removed
/// (`Admin.Example.com.:443` is `admin.example.com`); empty, matching no
/// host-specific route, when the value is not a valid authority (see
/// `crate::target::authority`).
pub fn host_name(authority: &str) -> String {
    crate::target::authority(authority.trim().as_bytes())
        .map(|a| a.host().to_owned())
        .unwrap_or_default()
}

/// Finds the route for a request's host name (as [`host_name`] gives it)
/// and path. The path must be normalised first ([`crate::target::normalise`]):
/// the match is a plain, case-sensitive prefix match on it.
pub(crate) fn find<'a>(routes: &'a [Route], host: &str, path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .find(|r| r.host.as_deref().is_none_or(|h| h == host) && path_matches(&r.path, path))
}

/// `find`, refusing a path whose `;` path parameters would select
/// another route once dropped (`crate::target::without_parameters`):
/// `/api;x/me` is `/api/me` to Tomcat, Jetty and Spring, so it must not go
/// through the route of `/` (or be forwarded under `/api/`'s policy to an
/// application that reads it another way). Likewise a path that a lenient
/// application reads as another route's (`crate::target::lenient_reading`:
/// `/API/me` and `/ap%C4%B1/me` to a case-insensitive one, `/api./me` to
/// Windows): a catch-all `/` must not serve `/api/`'s resources.
pub fn find_unambiguous<'a>(
    routes: &'a [Route],
    host: &str,
    path: &str,
) -> Result<Option<&'a Route>, crate::target::Refusal> {
    let found = find(routes, host, path);
    let same =
        |other: Option<&Route>| found.map(std::ptr::from_ref) == other.map(std::ptr::from_ref);
    if let Some(stripped) = crate::target::without_parameters(path) {
        if !same(find(routes, host, &stripped)) {
            return Err(crate::target::Refusal::ParameterChangesRoute);
        }
    }
    // Either side may hold what a lenient reading changes: `/docs/x` is
    // `/Docs/x` to a case-insensitive application.
    if crate::target::may_read_otherwise(path)
        || routes
            .iter()
            .any(|r| crate::target::may_read_otherwise(&r.path))
    {
        // Case, trailing dots and spaces, parameters, all at once: the
        // route a lenient application's reading would choose, the routes'
        // prefixes read the same way.
        let lenient = crate::target::lenient_reading(path);
        let other = routes.iter().find(|r| {
            r.host.as_deref().is_none_or(|h| h == host) && {
                // A prefix in lower case without `;`, `%` or a trailing dot
                // on a name (most) reads as itself: no allocation.
                let prefix = if crate::target::may_read_otherwise(&r.path) {
                    std::borrow::Cow::Owned(crate::target::lenient_reading(&r.path))
                } else {
                    std::borrow::Cow::Borrowed(r.path.as_str())
                };
                path_matches(&prefix, &lenient)
            }
        });
        if !same(other) {
            return Err(crate::target::Refusal::ReadingChangesRoute);
        }
    }
    Ok(found)
}

/// Prefix match on path segments: `/api/` matches `/api/x`; `/api` matches
/// `/api` and `/api/x` but not `/apix`.
fn path_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix) || path == prefix.trim_end_matches('/')
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_name("API.example.com:8080"), "api.example.com");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("Admin.Example.com.:443"), "admin.example.com");
        assert_eq!(host_name("admin.example.com/x"), "");
        assert_eq!(host_name("user@admin.example.com"), "");
    }

    #[test]
    fn lenient_readings_may_not_change_the_route() {
        let text = "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n\
             [[routes]]\npath = \"/\"\ncors = false\n\
             [[routes]]\npath = \"/api/\"\ncors = false\n\
             [[routes]]\npath = \"/Docs/\"\ncors = false\n";
        let config = crate::GatewayConfig::from_toml(text).unwrap();
        let r = &config.routes;
        let route = |p: &str| find_unambiguous(r, "", p).map(|f| f.map(|f| f.path.clone()));
        let refused = Err(crate::target::Refusal::ReadingChangesRoute);
        assert_eq!(route("/api/me"), Ok(Some("/api/".to_owned())));
        assert_eq!(route("/api/ME"), Ok(Some("/api/".to_owned())));
        assert_eq!(route("/API/me"), refused);
        assert_eq!(route("/api./me"), refused);
        assert_eq!(route("/ap%C4%B1/me"), refused);
        assert_eq!(route("/Docs/x"), Ok(Some("/Docs/".to_owned())));
        assert_eq!(route("/docs/x"), refused);
        assert_eq!(route("/other/X."), Ok(Some("/".to_owned())));
    }

    #[test]
    fn prefixes() {
        assert!(path_matches("/api/", "/api/x"));
        assert!(path_matches("/api/", "/api"));
        assert!(path_matches("/api", "/api/x"));
        assert!(!path_matches("/api", "/apix"));
        assert!(!path_matches("/api/", "/apix"));
        assert!(path_matches("/", "/anything"));
        // Case-sensitive, as paths are.
        assert!(!path_matches("/api/", "/API/x"));
    }
}
