//! `corsgate export --to haproxy`, proven against a real HAProxy on loopback:
//! every generated browser fetch judged by corsgate's browser role against
//! `Policy::decide` (0 disagreements), the hostile origin classes never
//! allowed, the path-confusion forms never skipping the policy, the server's
//! own errors carrying the policy's headers, and one credentialed case in
//! headless Chromium. Needs HAProxy 2.6+ (Debian package `haproxy`; scripts/test
//! installs it).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/edge.rs"]
mod edge;

use edge::Server;

#[test]
fn haproxy_answers_as_policy_decide() {
    let f = edge::equivalence(Server::Haproxy);
    edge::assert_figures(Server::Haproxy, &f);
}

#[test]
fn haproxy_path_forms_never_skip_the_policy() {
    let f = edge::path_table(Server::Haproxy);
    edge::assert_paths(Server::Haproxy, &f);
}

#[test]
fn haproxy_own_errors_carry_the_policy() {
    edge::own_errors(Server::Haproxy);
}

#[test]
fn haproxy_in_headless_chromium() {
    edge::chromium(Server::Haproxy);
}

#[test]
fn haproxy_authentication_never_sees_a_preflight() {
    edge::auth_at_the_marked_line(Server::Haproxy);
}

#[test]
fn haproxy_named_exports_share_one_server() {
    edge::named_exports_share_one_server(Server::Haproxy);
}
