//! An ordered header list that keeps every line as sent, raw bytes included.
//!
//! The Fetch standard reasons about header *lists*: several lines with the same
//! name, their order, and values that need not be valid UTF-8. `HeaderList`
//! keeps exactly that, so the engine can tell one `Access-Control-Allow-Origin`
//! line holding `a, b` from two lines holding `a` and `b`. It converts from and
//! to [`http::HeaderMap`] for servers and clients built on `http`.

use std::borrow::Cow;

/// An ordered list of `(name, value)` header lines. Names compare ASCII
/// case-insensitively; values are bytes.
///
/// ```
/// use corsgate_core::HeaderList;
/// let mut h = HeaderList::new();
/// h.append("Access-Control-Allow-Origin", "https://a.example");
/// h.append("access-control-allow-origin", "*");
/// assert_eq!(h.get_all("ACCESS-CONTROL-ALLOW-ORIGIN").count(), 2);
/// // `get` combines lines the way the Fetch standard does: joined by ", ".
/// assert_eq!(h.get("access-control-allow-origin").unwrap().as_ref(), b"https://a.example, *");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    entries: Vec<(String, Vec<u8>)>,
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a line. The value's leading and trailing spaces and tabs are
    /// removed, as an HTTP parser does.
    pub fn append(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) {
        self.entries
            .push((name.into(), trim_ows(value.as_ref()).to_vec()));
    }

    /// Builder-style [`append`](Self::append).
    pub fn with(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.append(name, value);
        self
    }

    /// Removes every line with this name.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces every line with this name by one line.
    pub fn set(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) {
        let name = name.into();
        self.remove(&name);
        self.append(name, value);
    }

    /// Whether a line with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Every value of this name, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The Fetch standard's *get*: `None` when absent, otherwise all values
    /// joined with `", "`.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<Cow<'a, [u8]>> {
        let mut values = self.get_all(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = first.to_vec();
                for v in std::iter::once(second).chain(values) {
                    joined.extend_from_slice(b", ");
                    joined.extend_from_slice(v);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// [`get`](Self::get) decoded as text (bytes above 0x7F become U+FFFD).
    pub fn get_str(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// The lines in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The unique names, lower-cased, in first-seen order.
    pub fn unique_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, _) in &self.entries {
            let lower = n.to_ascii_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
        out
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies an [`http::HeaderMap`], keeping the order of values per name.
    pub fn from_http(map: &http::HeaderMap) -> Self {
        let mut list = HeaderList::new();
        for (name, value) in map {
            list.append(name.as_str(), value.as_bytes());
        }
        list
    }

    /// Converts to an [`http::HeaderMap`], skipping lines whose name or value
    /// `http` cannot represent (control bytes); returns how many were skipped.
    pub fn to_http(&self) -> (http::HeaderMap, usize) {
        let mut map = http::HeaderMap::new();
        let mut skipped = 0;
        for (n, v) in &self.entries {
            match (
                http::HeaderName::from_bytes(n.as_bytes()),
                http::HeaderValue::from_bytes(v),
            ) {
                (Ok(n), Ok(v)) => {
                    map.append(n, v);
                }
                _ => skipped += 1,
            }
        }
        (map, skipped)
    }
}

impl<N: Into<String>, V: AsRef<[u8]>> FromIterator<(N, V)> for HeaderList {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut list = HeaderList::new();
        for (n, v) in iter {
            list.append(n, v);
        }
        list
    }
}

/// Removes leading and trailing HTTP tab-or-space bytes.
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Whether a byte is an HTTP token character (RFC 9110 `tchar`).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `tchar` as a table: one load per byte where a preflight's header names
/// are checked.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Whether a byte string is a non-empty HTTP token.
pub fn is_token(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|b| is_tchar(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tchar_table_is_rfc_9110s() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b}");
        }
    }

    #[test]
    fn trims_and_combines() {
        let h = HeaderList::new().with("A", " x \t").with("a", "y");
        assert_eq!(h.get("A").unwrap().as_ref(), b"x, y");
        assert_eq!(
            h.get_all("a").collect::<Vec<_>>(),
            vec![b"x".as_ref(), b"y"]
        );
        assert!(h.get("b").is_none());
        assert_eq!(h.unique_names(), vec!["a".to_string()]);
    }

    #[test]
    fn http_round_trip() {
        let h = HeaderList::new()
            .with("x-a", "1")
            .with("x-a", "2")
            .with("bad", [0x0b]);
        let (map, skipped) = h.to_http();
        assert_eq!(skipped, 1);
        let back = HeaderList::from_http(&map);
        assert_eq!(back.get("x-a").unwrap().as_ref(), b"1, 2");
    }

    #[test]
    fn tokens() {
        assert!(is_token(b"x-test"));
        assert!(is_token(b"*"));
        assert!(!is_token(b""));
        assert!(!is_token(b"no no"));
        assert!(!is_token(b"\"bb-8\""));
    }
}
