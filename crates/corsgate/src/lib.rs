//! The `corsgate` command as a library; `src/main.rs` only parses the command
//! line with [`Cli`] and hands it to [`run`].
//!
//! Commands, one module each: [`check`] a URL as a browser would, [`explain`]
//! a console CORS message, judge every cross-origin request in a [`har`] file,
//! [`scan`] an endpoint for CORS misconfigurations, [`infer`] the tightest policy
//! from HAR files, contract-test a deployed
//! endpoint against a policy ([`contract`], `corsgate test`), [`export`] a
//! policy as server configuration; `serve` and `playground` are the gateway
//! and playground crates behind the same parser.
//!
//! Exit codes are documented in [`exit`].
#![forbid(unsafe_code)]

pub mod check;
pub mod cli;
mod commands;
pub mod contract;
pub mod exit;
pub mod explain;
pub mod export;
mod fix;
pub mod har;
mod hints;
mod http;
pub mod infer;
mod output;
pub mod render;
pub mod report;
#[cfg(test)]
mod safe_text;
pub mod scan;
mod snippets;

pub use commands::{run, Cli, Command};
