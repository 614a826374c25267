//! The CORS-preflight cache: what a browser remembers from successful
//! preflights, and for how long.
//!
//! Entries are keyed as the Fetch standard says: the serialized origin (so
//! `null` after a tainting redirect is its own key), the URL, and whether
//! credentials were included; each holds one method or one header name. The
//! engine has no clock: the caller passes the time in milliseconds.

use serde::Serialize;

use crate::browser::profile::Profile;

/// One cached permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheEntry {
    /// The byte-serialized origin.
    pub origin: String,
    /// The URL.
    pub url: String,
    /// Whether the preflight was made for a credentialed request.
    pub credentials: bool,
    /// What is allowed.
    pub item: CacheItem,
    /// When the entry expires (milliseconds on the caller's clock).
    pub expires_at_ms: u64,
}

/// What a cache entry allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CacheItem {
    /// A method, or `*`.
    Method(String),
    /// A header name (lower case), or `*`.
    Header(String),
}

/// A preflight cache.
///
/// ```
/// use corsgate_core::{PreflightCache, Profile};
/// let mut cache = PreflightCache::new(Profile::Chromium);
/// cache.store("https://app.example", "https://api.example/x", false, &["PUT".into()], &["x-a".into()], 600, 0);
/// assert!(cache.method_match("https://app.example", "https://api.example/x", false, "PUT", 1_000));
/// assert!(!cache.method_match("https://app.example", "https://api.example/x", true, "PUT", 1_000));
/// assert!(!cache.method_match("https://app.example", "https://api.example/x", false, "PUT", 601_000));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct PreflightCache {
    profile: Profile,
    entries: Vec<CacheEntry>,
}

impl PreflightCache {
    /// An empty cache for a browser profile.
    pub fn new(profile: Profile) -> Self {
        PreflightCache {
            profile,
            entries: Vec::new(),
        }
    }

    /// The entries (expired ones included until the next store).
    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }

    fn matching<'a>(
        &'a self,
        origin: &'a str,
        url: &'a str,
        credentials: bool,
        now_ms: u64,
    ) -> impl Iterator<Item = &'a CacheEntry> + 'a {
        self.entries.iter().filter(move |e| {
            e.origin == origin
                && e.url == url
                && (e.credentials || !credentials)
                && e.expires_at_ms > now_ms
        })
    }

    /// Whether any live entry exists for this origin, URL and credentials mode
    /// (Firefox's cache serves a request only from an existing entry).
    pub fn has_entry(&self, origin: &str, url: &str, credentials: bool, now_ms: u64) -> bool {
        self.matching(origin, url, credentials, now_ms)
            .next()
            .is_some()
    }

    /// The standard's *method cache entry match*.
    pub fn method_match(
        &self,
        origin: &str,
        url: &str,
        credentials: bool,
        method: &str,
        now_ms: u64,
    ) -> bool {
        self.matching(origin, url, credentials, now_ms)
            .any(|e| match &e.item {
                CacheItem::Method(m) => {
                    m == method
                        || (m == "*" && !credentials && self.profile.cache_honours_wildcards())
                }
                CacheItem::Header(_) => false,
            })
    }

    /// The standard's *header-name cache entry match*.
    pub fn header_match(
        &self,
        origin: &str,
        url: &str,
        credentials: bool,
        name: &str,
        now_ms: u64,
    ) -> bool {
        let wildcard_ok = self.profile.cache_honours_wildcards()
            && (!name.eq_ignore_ascii_case("authorization")
                || self.profile.cache_wildcard_covers_authorization());
        self.matching(origin, url, credentials, now_ms)
            .any(|e| match &e.item {
                CacheItem::Header(h) => {
                    h.eq_ignore_ascii_case(name) || (h == "*" && wildcard_ok && !credentials)
                }
                CacheItem::Method(_) => false,
            })
    }

    /// Stores (or refreshes) the methods and header names of a successful
    /// preflight. Where the profile says so ([`Profile::cache_replaces_entry`]),
    /// they replace everything held for this origin and URL.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        origin: &str,
        url: &str,
        credentials: bool,
        methods: &[String],
        headers: &[String],
        max_age_secs: u64,
        now_ms: u64,
    ) {
        let replace = self.profile.cache_replaces_entry();
        self.entries.retain(|e| {
            e.expires_at_ms > now_ms && !(replace && e.origin == origin && e.url == url)
        });
        let too_long = self
            .profile
            .preflight_cache_url_limit()
            .is_some_and(|limit| url.len() >= limit);
        if max_age_secs == 0 || too_long {
            return;
        }
        let expires_at_ms = now_ms.saturating_add(max_age_secs.saturating_mul(1000));
        let items = methods.iter().map(|m| CacheItem::Method(m.clone())).chain(
            headers
                .iter()
                .map(|h| CacheItem::Header(h.to_ascii_lowercase())),
        );
        for item in items {
            if let Some(e) = self.entries.iter_mut().find(|e| {
                e.origin == origin && e.url == url && e.credentials == credentials && e.item == item
            }) {
                e.expires_at_ms = expires_at_ms;
            } else {
                self.entries.push(CacheEntry {
                    origin: origin.to_owned(),
                    url: url.to_owned(),
                    credentials,
                    item,
                    expires_at_ms,
                });
            }
        }
    }

    /// The standard's *clear cache entries*: forgets everything for this origin and URL.
    pub fn clear(&mut self, origin: &str, url: &str) {
        self.entries
            .retain(|e| !(e.origin == origin && e.url == url));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentialed_entries_serve_both() {
        let mut c = PreflightCache::new(Profile::Standard);
        c.store("o", "u", true, &["PUT".into()], &["*".into()], 5, 0);
        assert!(c.method_match("o", "u", false, "PUT", 10));
        assert!(c.method_match("o", "u", true, "PUT", 10));
        // a `*` stored from a credentialed preflight is literal for credentialed requests
        assert!(!c.header_match("o", "u", true, "x-a", 10));
        assert!(c.header_match("o", "u", false, "x-a", 10));
        assert!(!c.header_match("o", "u", false, "authorization", 10));
        c.clear("o", "u");
        assert!(c.entries().is_empty());
        c.store("o", "u", false, &["PUT".into()], &[], 0, 0);
        assert!(c.entries().is_empty(), "max-age 0 is not cached");
    }

    /// Checked against Firefox 153 ESR: a request allowed only through `*`
    /// (in `Access-Control-Allow-Methods` or `-Headers`) is preflighted again
    /// on the next run; Firefox's cache matches names literally.
    #[test]
    fn firefox_cache_ignores_wildcards() {
        for profile in [Profile::Firefox, Profile::Standard] {
            let mut c = PreflightCache::new(profile);
            c.store("o", "u", false, &["*".into()], &["*".into()], 600, 0);
            let honoured = profile != Profile::Firefox;
            assert_eq!(c.method_match("o", "u", false, "PUT", 10), honoured);
            assert_eq!(c.header_match("o", "u", false, "x-a", 10), honoured);
            c.store("o", "u", false, &["PUT".into()], &["x-a".into()], 600, 0);
            assert!(c.method_match("o", "u", false, "PUT", 10));
            assert!(c.header_match("o", "u", false, "X-A", 10));
        }
    }

    #[test]
    fn chromium_replaces_what_a_url_had() {
        for (profile, kept) in [
            (Profile::Chromium, false),
            (Profile::Safari, false),
            (Profile::Firefox, true),
            (Profile::Standard, true),
        ] {
            let mut c = PreflightCache::new(profile);
            c.store("o", "u", true, &["PUT".into()], &["x-a".into()], 600, 0);
            c.store("o", "other", false, &["PATCH".into()], &[], 600, 0);
            c.store("o", "u", false, &["DELETE".into()], &[], 600, 0);
            assert!(c.method_match("o", "u", false, "DELETE", 10));
            assert_eq!(c.method_match("o", "u", true, "PUT", 10), kept, "{profile}");
            assert_eq!(c.header_match("o", "u", true, "x-a", 10), kept, "{profile}");
            // Another URL is left alone.
            assert!(
                c.method_match("o", "other", false, "PATCH", 10),
                "{profile}"
            );
        }
    }

    #[test]
    fn chromium_does_not_cache_preflights_for_urls_of_1024_bytes_or_more() {
        for (len, cached) in [(1023, true), (1024, false)] {
            let url = format!("https://api.example/{}", "a".repeat(len - 20));
            assert_eq!(url.len(), len);
            let mut c = PreflightCache::new(Profile::Chromium);
            c.store("o", &url, false, &["PUT".into()], &[], 600, 0);
            assert_eq!(c.method_match("o", &url, false, "PUT", 10), cached, "{len}");
            let mut f = PreflightCache::new(Profile::Firefox);
            f.store("o", &url, false, &["PUT".into()], &[], 600, 0);
            assert!(f.method_match("o", &url, false, "PUT", 10), "firefox {len}");
        }
    }
}
