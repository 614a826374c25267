//! Route matching: the most specific route wins (a route with a host before
//! one without, then the longest path prefix).

use crate::config::Route;

/// Orders routes most specific first.
pub(crate) fn sort_routes(routes: &mut [Route]) {
    routes.sort_by(|a, b| {
        b.host
            .is_some()
            .cmp(&a.host.is_some())
            .then(b.path.len().cmp(&a.path.len()))
    });
}

/// The host part of a `Host` value or URI authority as routes name it:
/// lower case, without port or IPv6 brackets, a trailing dot removed
/// (`Admin.Example.com.:443` is `admin.example.com`); empty, matching no
/// host-specific route, when the value is not a valid authority (see
/// [`crate::target::authority`]).
pub fn host_name(authority: &str) -> String {
    crate::target::authority(authority.trim().as_bytes())
        .map(|a| a.host().to_owned())
        .unwrap_or_default()
}

/// Finds the route for a request's host name (as [`host_name`] gives it)
/// and path. The path must be normalised first ([`crate::target::normalise`]):
/// the match is a plain, case-sensitive prefix match on it.
pub fn find<'a>(routes: &'a [Route], host: &str, path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .find(|r| r.host.as_deref().is_none_or(|h| h == host) && path_matches(&r.path, path))
}

/// [`find`], refusing a path whose `;` path parameters would select
/// another route once dropped ([`crate::target::without_parameters`]):
/// `/api;x/me` is `/api/me` to Tomcat, Jetty and Spring, so it must not go
/// through the route of `/` (or be forwarded under `/api/`'s policy to an
/// application that reads it another way).
pub fn find_unambiguous<'a>(
    routes: &'a [Route],
    host: &str,
    path: &str,
) -> Result<Option<&'a Route>, crate::target::Refusal> {
    let found = find(routes, host, path);
    if let Some(stripped) = crate::target::without_parameters(path) {
        let other = find(routes, host, &stripped);
        if found.map(std::ptr::from_ref) != other.map(std::ptr::from_ref) {
            return Err(crate::target::Refusal::ParameterChangesRoute);
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
