//! A response as the browser receives it: a status and a header list.

use crate::headers::HeaderList;

/// A response: status and headers (the body does not matter to CORS).
///
/// ```
/// use corsgate_core::Response;
/// let r = Response::new(204).header("Access-Control-Allow-Origin", "*");
/// assert!(r.is_ok_status());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header lines.
    pub headers: HeaderList,
}

impl Response {
    /// A response with this status and no headers.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: HeaderList::new(),
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// A response with these headers.
    pub fn with_headers(status: u16, headers: HeaderList) -> Self {
        Response { status, headers }
    }

    /// 200–299.
    pub fn is_ok_status(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A redirect status (301, 302, 303, 307, 308).
    pub fn is_redirect_status(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// The `Location` header, when the status is a redirect status.
    pub fn location(&self) -> Option<String> {
        if self.is_redirect_status() {
            self.headers.get_str("location")
        } else {
            None
        }
    }
}
