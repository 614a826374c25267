//! Gateway API (todo)
use super::{Model, Site};
pub(crate) fn render(
    _m: &Model,
    _site: &Site,
    _source: &str,
    _name: Option<&str>,
) -> Result<String, String> {
    Err("todo".into())
}
