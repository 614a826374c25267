//! `tracing` output: human-readable lines or one JSON object per line.

use std::io::IsTerminal;

use crate::config::LogFormat;

/// Installs the global subscriber (a no-op if one is already installed).
pub fn init(format: LogFormat, level: tracing::Level) {
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => b.try_init(),
        LogFormat::Json => b.json().flatten_event(true).try_init(),
    };
}
