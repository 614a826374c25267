//! Writing to standard output: reports as text or pretty JSON, and the
//! `{"error": {"code", "message"}}` object `--json` prints when a command
//! could not run. A closed pipe (`| head`) is not an error worth reporting.

use std::io::Write;

/// Writes `text` to standard output, ignoring a closed pipe.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes `value` as pretty JSON and a newline.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => print(&format!("{s}\n")),
        Err(e) => eprintln!("corsgate: cannot write JSON: {e}"),
    }
}

/// The JSON object for a command that could not run.
pub(crate) fn error_json(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message } })
}
