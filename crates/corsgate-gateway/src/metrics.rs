//! Counters and a latency histogram, written in the Prometheus text
//! exposition format by hand (lock-free atomics; no metrics framework).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Reason codes with their own counter; anything else counts as `other`.
pub(crate) const REASONS: &[&str] = &[
    "not_cors",
    "any_origin",
    "origin_allowed",
    "origin_not_allowed",
    "origin_malformed",
    "multiple_origins",
    "preflight_allowed",
    "method_not_allowed",
    "method_malformed",
    "header_not_allowed",
    "headers_malformed",
    "headers_too_large",
    "cors_off",
    "no_route",
    "bad_request",
    "other",
];

const KINDS: [&str; 3] = ["not_cors", "preflight", "actual"];
const UPSTREAM_ERRORS: [&str; 4] = ["connect", "timeout", "other", "read_timeout"];
/// Histogram bucket upper bounds, in seconds.
pub(crate) const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Kinds of upstream failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// Could not connect (502).
    Connect,
    /// No response head in time (504).
    Timeout,
    /// Anything else (502, or a response cut mid-body).
    Other,
    /// The upstream stalled mid-body for `timeouts.upstream_read` (the
    /// response had started: both connections are closed).
    ReadTimeout,
}

/// Client connections closed by a client-side timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientTimeout {
    /// No request head (or TLS handshake, or HTTP/2 preface or frame) in
    /// time.
    HeaderRead,
    /// The client took nothing of its response for `client_send`.
    Send,
    /// The client sent nothing of its request body for `client_body`.
    Body,
}

const CLIENT_TIMEOUTS: [&str; 3] = ["header_read", "send", "body"];

/// The per-request counters of one worker thread, on cache lines of its
/// own: two workers counting requests never write to the same line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    requests: [[AtomicU64; 2]; 3],
    reasons: [AtomicU64; 16],
    upstream_errors: [AtomicU64; 4],
    statuses: [AtomicU64; 5],
    buckets: [AtomicU64; 14],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

/// All the gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    /// One per worker thread, and a last one for every other thread.
    shards: Box<[Shard]>,
    disagreements: AtomicU64,
    /// Shadow candidates' disagreements, by kind and reason.
    shadow: corsgate_core::shadow::ShadowCounts,
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    client_timeouts: [AtomicU64; 3],
    /// Whether `[decision_log]` is on (its counters are written only then).
    decision_log: std::sync::atomic::AtomicBool,
    decision_log_written: AtomicU64,
    decision_log_dropped: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            shards: (0..=crate::worker::worker_count())
                .map(|_| Shard::default())
                .collect(),
            disagreements: AtomicU64::new(0),
            shadow: Default::default(),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            client_timeouts: Default::default(),
            decision_log: Default::default(),
            decision_log_written: AtomicU64::new(0),
            decision_log_dropped: AtomicU64::new(0),
        }
    }
}

fn kind_index(kind: &str) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

fn reason_index(reason: &str) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(REASONS.len() - 1)
}

impl Metrics {
    /// This thread's shard.
    fn shard(&self) -> &Shard {
        let last = self.shards.len() - 1;
        &self.shards[crate::worker::worker_slot().unwrap_or(last).min(last)]
    }
    /// A counter summed over the shards.
    fn sum(&self, f: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|s| f(s).load(Relaxed)).sum()
    }
    /// Counts one request's CORS decision.
    pub(crate) fn decision(&self, kind: &str, allowed: bool, reason: &str) {
        let s = self.shard();
        s.requests[kind_index(kind)][usize::from(!allowed)].fetch_add(1, Relaxed);
        s.reasons[reason_index(reason)].fetch_add(1, Relaxed);
    }
    /// Counts a request that got no CORS decision (no route, malformed).
    pub(crate) fn undecided(&self, reason: &str) {
        self.shard().reasons[reason_index(reason)].fetch_add(1, Relaxed);
    }
    /// Counts an upstream failure.
    pub(crate) fn upstream_error(&self, e: UpstreamError) {
        let i = match e {
            UpstreamError::Connect => 0,
            UpstreamError::Timeout => 1,
            UpstreamError::Other => 2,
            UpstreamError::ReadTimeout => 3,
        };
        self.shard().upstream_errors[i].fetch_add(1, Relaxed);
    }
    /// Counts a shadow candidate's disagreement with the enforced policy.
    pub(crate) fn shadow(&self, d: &corsgate_core::shadow::Disagreement) {
        self.shadow.record(d);
    }
    /// The shadow candidates' disagreements so far, by kind and reason.
    pub fn shadow_counts(&self) -> &corsgate_core::shadow::ShadowCounts {
        &self.shadow
    }
    /// Counts an upstream response whose CORS headers disagreed with the policy.
    pub fn disagreement(&self) -> u64 {
        self.disagreements.fetch_add(1, Relaxed) + 1
    }
    /// Records a response's status and latency (time to response head).
    pub(crate) fn response(&self, status: u16, elapsed: Duration) {
        let s = self.shard();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        s.statuses[class].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[i].fetch_add(1, Relaxed);
        }
        s.latency_count.fetch_add(1, Relaxed);
        s.latency_sum_us.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }
    /// A client connection opened.
    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }
    /// A client connection closed.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }
    /// A client connection was closed (or a request answered 408) by a
    /// client-side timeout.
    pub(crate) fn client_timeout(&self, t: ClientTimeout) {
        let i = match t {
            ClientTimeout::HeaderRead => 0,
            ClientTimeout::Send => 1,
            ClientTimeout::Body => 2,
        };
        self.client_timeouts[i].fetch_add(1, Relaxed);
    }
    /// The decision log was opened.
    pub(crate) fn decision_log_on(&self) {
        self.decision_log.store(true, Relaxed);
    }
    /// Decision log lines written.
    pub(crate) fn decision_log_written(&self, n: u64) {
        self.decision_log_written.fetch_add(n, Relaxed);
    }
    /// Decision log lines dropped (queue full, or the write failed).
    pub(crate) fn decision_log_dropped(&self, n: u64) {
        self.decision_log_dropped.fetch_add(n, Relaxed);
    }
    /// Decision log lines dropped so far.
    pub fn decision_log_dropped_total(&self) -> u64 {
        self.decision_log_dropped.load(Relaxed)
    }
    /// Decision log lines written so far.
    pub fn decision_log_written_total(&self) -> u64 {
        self.decision_log_written.load(Relaxed)
    }
    /// A configuration reload was applied or refused.
    pub(crate) fn reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Relaxed);
        } else {
            self.reloads_failed.fetch_add(1, Relaxed);
        }
    }
    /// Refused reloads so far.
    pub fn reloads_failed(&self) -> u64 {
        self.reloads_failed.load(Relaxed)
    }
    /// Applied reloads so far.
    pub fn reloads_ok(&self) -> u64 {
        self.reloads_ok.load(Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        let _ = self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) -> std::fmt::Result {
        writeln!(
            s,
            "# HELP corsgate_requests_total Requests by CORS request kind and decision."
        )?;
        writeln!(s, "# TYPE corsgate_requests_total counter")?;
        for (k, kind) in KINDS.iter().enumerate() {
            for (d, decision) in ["allowed", "denied"].iter().enumerate() {
                writeln!(
                    s,
                    "corsgate_requests_total{{kind=\"{kind}\",decision=\"{decision}\"}} {}",
                    self.sum(|s| &s.requests[k][d])
                )?;
            }
        }
        writeln!(
            s,
            "# HELP corsgate_requests_by_reason_total Requests by decision reason."
        )?;
        writeln!(s, "# TYPE corsgate_requests_by_reason_total counter")?;
        for (i, r) in REASONS.iter().enumerate() {
            writeln!(
                s,
                "corsgate_requests_by_reason_total{{reason=\"{r}\"}} {}",
                self.sum(|s| &s.reasons[i])
            )?;
        }
        writeln!(
            s,
            "# HELP corsgate_preflights_total Preflights answered at the gateway."
        )?;
        writeln!(s, "# TYPE corsgate_preflights_total counter")?;
        for (d, result) in ["allowed", "denied"].iter().enumerate() {
            writeln!(
                s,
                "corsgate_preflights_total{{result=\"{result}\"}} {}",
                self.sum(|s| &s.requests[1][d])
            )?;
        }
        writeln!(
            s,
            "# HELP corsgate_upstream_errors_total Upstream failures by kind."
        )?;
        writeln!(s, "# TYPE corsgate_upstream_errors_total counter")?;
        for (i, k) in UPSTREAM_ERRORS.iter().enumerate() {
            writeln!(
                s,
                "corsgate_upstream_errors_total{{kind=\"{k}\"}} {}",
                self.sum(|s| &s.upstream_errors[i])
            )?;
        }
        writeln!(
            s,
            "# HELP corsgate_responses_total Responses by status class."
        )?;
        writeln!(s, "# TYPE corsgate_responses_total counter")?;
        for (i, c) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
            writeln!(
                s,
                "corsgate_responses_total{{class=\"{c}\"}} {}",
                self.sum(|s| &s.statuses[i])
            )?;
        }
        writeln!(s, "# HELP corsgate_shadow_disagreements_total Requests on which a route's shadow candidate policy would have decided otherwise, by kind (candidate_refuses, candidate_allows, headers_differ) and reason.")?;
        writeln!(s, "# TYPE corsgate_shadow_disagreements_total counter")?;
        for (kind, reason, n) in self.shadow.nonzero() {
            writeln!(
                s,
                "corsgate_shadow_disagreements_total{{kind=\"{kind}\",reason=\"{reason}\"}} {n}"
            )?;
        }
        if self.decision_log.load(Relaxed) {
            writeln!(s, "# HELP corsgate_decision_log_lines_total Decision log lines written ([decision_log]).")?;
            writeln!(s, "# TYPE corsgate_decision_log_lines_total counter")?;
            writeln!(
                s,
                "corsgate_decision_log_lines_total {}",
                self.decision_log_written.load(Relaxed)
            )?;
            writeln!(s, "# HELP corsgate_decision_log_dropped_total Decision log lines dropped because the writer was behind by the whole buffer, or the write failed (never written, always counted).")?;
            writeln!(s, "# TYPE corsgate_decision_log_dropped_total counter")?;
            writeln!(
                s,
                "corsgate_decision_log_dropped_total {}",
                self.decision_log_dropped.load(Relaxed)
            )?;
        }
        writeln!(s, "# HELP corsgate_upstream_cors_disagreements_total Upstream responses whose CORS headers differed from the policy's (replaced).")?;
        writeln!(
            s,
            "# TYPE corsgate_upstream_cors_disagreements_total counter"
        )?;
        writeln!(
            s,
            "corsgate_upstream_cors_disagreements_total {}",
            self.disagreements.load(Relaxed)
        )?;
        writeln!(
            s,
            "# HELP corsgate_request_duration_seconds Time from request head to response head."
        )?;
        writeln!(s, "# TYPE corsgate_request_duration_seconds histogram")?;
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.sum(|s| &s.buckets[i]);
            writeln!(
                s,
                "corsgate_request_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            )?;
        }
        let count = self.sum(|s| &s.latency_count);
        writeln!(
            s,
            "corsgate_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        )?;
        writeln!(
            s,
            "corsgate_request_duration_seconds_sum {}",
            self.sum(|s| &s.latency_sum_us) as f64 / 1e6
        )?;
        writeln!(s, "corsgate_request_duration_seconds_count {count}")?;
        writeln!(
            s,
            "# HELP corsgate_connections_open Client connections open."
        )?;
        writeln!(s, "# TYPE corsgate_connections_open gauge")?;
        writeln!(
            s,
            "corsgate_connections_open {}",
            self.connections_open.load(Relaxed)
        )?;
        writeln!(
            s,
            "# HELP corsgate_connections_total Client connections accepted."
        )?;
        writeln!(s, "# TYPE corsgate_connections_total counter")?;
        writeln!(
            s,
            "corsgate_connections_total {}",
            self.connections_total.load(Relaxed)
        )?;
        writeln!(
            s,
            "# HELP corsgate_config_reloads_total Configuration reloads by result."
        )?;
        writeln!(s, "# TYPE corsgate_config_reloads_total counter")?;
        writeln!(
            s,
            "corsgate_config_reloads_total{{result=\"applied\"}} {}",
            self.reloads_ok.load(Relaxed)
        )?;
        writeln!(
            s,
            "corsgate_config_reloads_total{{result=\"refused\"}} {}",
            self.reloads_failed.load(Relaxed)
        )?;
        writeln!(
            s,
            "# HELP corsgate_client_timeouts_total Client connections closed (or requests answered 408) by a client-side timeout."
        )?;
        writeln!(s, "# TYPE corsgate_client_timeouts_total counter")?;
        for (i, k) in CLIENT_TIMEOUTS.iter().enumerate() {
            writeln!(
                s,
                "corsgate_client_timeouts_total{{kind=\"{k}\"}} {}",
                self.client_timeouts[i].load(Relaxed)
            )?;
        }
        writeln!(
            s,
            "# HELP corsgate_log_lines_suppressed_total Denial log lines held back by the log rate limit (the denials are counted above)."
        )?;
        writeln!(s, "# TYPE corsgate_log_lines_suppressed_total counter")?;
        writeln!(
            s,
            "corsgate_log_lines_suppressed_total {}",
            crate::logging::denied_budget().suppressed_total()
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.decision("preflight", false, "method_not_allowed");
        m.decision("actual", true, "origin_allowed");
        m.response(200, Duration::from_millis(3));
        m.response(502, Duration::from_secs(20));
        m.upstream_error(UpstreamError::Connect);
        let s = m.render();
        assert!(s.contains("corsgate_preflights_total{result=\"denied\"} 1"));
        assert!(s.contains("corsgate_requests_by_reason_total{reason=\"method_not_allowed\"} 1"));
        assert!(s.contains("corsgate_requests_total{kind=\"actual\",decision=\"allowed\"} 1"));
        assert!(s.contains("corsgate_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(s.contains("corsgate_request_duration_seconds_bucket{le=\"10\"} 1"));
        assert!(s.contains("corsgate_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(s.contains("corsgate_upstream_errors_total{kind=\"connect\"} 1"));
        assert!(s.contains("corsgate_responses_total{class=\"5xx\"} 1"));
    }
}
