//! The page's files, embedded in the binary: a user needs no build step.

/// `index.html`.
pub const INDEX_HTML: &str = include_str!("../web/index.html");
/// `app.js`.
pub const APP_JS: &str = include_str!("../web/app.js");
/// `style.css`.
pub const STYLE_CSS: &str = include_str!("../web/style.css");
