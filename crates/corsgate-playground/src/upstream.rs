//! The demo upstream: a small JSON API that knows nothing of CORS.
//!
//! Both the demo gateway and the engine's evaluation call [`answer`], so the
//! prediction and the real run see the same upstream responses.

use http::{HeaderMap, HeaderValue, StatusCode};

/// The demo API's answer to `method path`: status, headers and a JSON body.
pub fn answer(method: &str, path: &str) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-internal-trace", HeaderValue::from_static("7f3a"));
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/api/items") => {
            headers.insert("x-total-count", HeaderValue::from_static("2"));
            (
                StatusCode::OK,
                r#"[{"id":1,"name":"apple"},{"id":2,"name":"pear"}]"#.to_string(),
            )
        }
        ("POST", "/api/items") => (StatusCode::CREATED, r#"{"id":3}"#.to_string()),
        ("GET" | "HEAD", "/api/items/1") => {
            (StatusCode::OK, r#"{"id":1,"name":"apple"}"#.to_string())
        }
        (_, "/api/items/1") => (
            StatusCode::OK,
            format!(r#"{{"id":1,"method":"{}"}}"#, method.escape_default()),
        ),
        ("GET" | "HEAD", "/public/info") => (
            StatusCode::OK,
            r#"{"service":"demo","version":1}"#.to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            r#"{"error":"not found"}"#.to_string(),
        ),
    };
    (status, headers, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_and_unknown_paths() {
        assert_eq!(super::answer("GET", "/api/items").0, 200);
        assert_eq!(super::answer("patch", "/api/items/1").0, 200);
        assert_eq!(super::answer("GET", "/nope").0, 404);
    }
}
