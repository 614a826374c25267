//! Writes `docs/conformance.md` from a run.
use std::time::Duration;

use crate::case::Case;
use crate::run::{ChromiumRun, Disagreement};

/// The Markdown text of `docs/conformance.md`.
pub fn render(
    _cases: &[Case],
    _run: &ChromiumRun,
    _standard: &[Disagreement],
    _total: usize,
    _t: Duration,
) -> String {
    String::new()
}
