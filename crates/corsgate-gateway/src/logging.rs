//! `tracing` output: human-readable lines or one JSON object per line; the
//! bounds on what a client can make the gateway log (values cut to
//! [`MAX_LOGGED`] bytes, a rate limit on per-request warnings).

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LogFormat;

/// Installs the global subscriber (a no-op if one is already installed).
pub(crate) fn init(format: LogFormat, level: tracing::Level) {
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

/// The most bytes of one client-supplied value (origin, path, user agent)
/// a log line carries.
pub(crate) const MAX_LOGGED: usize = 256;

/// A client-supplied value for a log line: lossy UTF-8, cut at
/// [`MAX_LOGGED`] bytes (on a character boundary) with a `…(N bytes)`
/// marker giving the full length.
pub(crate) fn clip(value: &[u8]) -> Cow<'_, str> {
    if value.len() <= MAX_LOGGED {
        return String::from_utf8_lossy(value);
    }
    let head = String::from_utf8_lossy(&value[..MAX_LOGGED]);
    // A cut inside a UTF-8 sequence shows as one replacement character.
    let head = head.trim_end_matches('\u{FFFD}');
    Cow::Owned(format!("{head}…({} bytes)", value.len()))
}

/// A token bucket for a class of log lines that clients can trigger: at
/// most `burst` lines at once and `per_second` on average; the lines it
/// holds back are counted and reported by the next line let through.
#[derive(Debug)]
pub(crate) struct LogBudget {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
    suppressed: AtomicU64,
    suppressed_total: AtomicU64,
}

impl LogBudget {
    /// A bucket that starts full.
    pub(crate) fn new(per_second: u32, burst: u32) -> LogBudget {
        LogBudget {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            state: Mutex::new((f64::from(burst.max(1)), Instant::now())),
            suppressed: AtomicU64::new(0),
            suppressed_total: AtomicU64::new(0),
        }
    }

    /// Whether a line may be written now: `Some(n)` with the number of lines
    /// held back since the last one written, `None` when this one is held
    /// back too.
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let ok = match self.state.lock() {
            Ok(mut s) => {
                let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
                s.1 = now;
                s.0 = (s.0 + elapsed * self.per_second).min(self.burst);
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if ok {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            self.suppressed_total.fetch_add(1, Relaxed);
            None
        }
    }

    #[cfg(test)]
    /// Lines held back and not yet reported.
    pub(crate) fn pending(&self) -> u64 {
        self.suppressed.load(Relaxed)
    }

    /// Lines held back and not yet reported, which count as reported now.
    pub(crate) fn take_pending(&self) -> u64 {
        self.suppressed.swap(0, Relaxed)
    }

    /// Lines held back since the start.
    pub(crate) fn suppressed_total(&self) -> u64 {
        self.suppressed_total.load(Relaxed)
    }
}

/// Every [`SUPPRESSED_REPORT`], writes one line with the number of denial
/// warnings held back since the last line written, if any (a flood that
/// stops leaves no count unreported).
pub(crate) async fn report_suppressed(mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SUPPRESSED_REPORT);
    tick.reset();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let n = denied_budget().take_pending();
        if n > 0 {
            tracing::warn!(
                target: "corsgate::denied",
                suppressed = n,
                "CORS denial log lines suppressed by the rate limit (every denial is counted in the metrics)"
            );
        }
    }
}

/// The budget of the `corsgate::denied` warnings: 20 a second, bursts of
/// 100, whatever the request rate (every denial is still counted in the
/// metrics).
pub(crate) fn denied_budget() -> &'static LogBudget {
    static B: std::sync::OnceLock<LogBudget> = std::sync::OnceLock::new();
    B.get_or_init(|| LogBudget::new(20, 100))
}

/// The budget of the `corsgate::shadow` lines (a candidate policy's
/// disagreements): 20 a second, bursts of 100; every one is counted in the
/// metrics.
pub(crate) fn shadow_budget() -> &'static LogBudget {
    static B: std::sync::OnceLock<LogBudget> = std::sync::OnceLock::new();
    B.get_or_init(|| LogBudget::new(20, 100))
}

/// How often a task reports lines held back when no line gets through.
pub(crate) const SUPPRESSED_REPORT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_every_value() {
        assert_eq!(clip(b"https://a.example"), "https://a.example");
        let exact = vec![b'a'; MAX_LOGGED];
        assert_eq!(clip(&exact).len(), MAX_LOGGED);
        for len in [MAX_LOGGED + 1, 1000, 15 * 1024, 1 << 20] {
            for fill in ["a", "é", "€", "😀", "\u{7f}"] {
                let v = fill.repeat(len / fill.len() + 1).into_bytes();
                let c = clip(&v);
                assert!(c.len() <= MAX_LOGGED + 32, "{len} {fill}: {}", c.len());
                assert!(c.ends_with(&format!("…({} bytes)", v.len())), "{c}");
                assert!(!c.contains('\u{FFFD}'), "{c}");
            }
        }
        // Invalid UTF-8 is shown, not refused.
        assert_eq!(clip(&[0xff, b'a']), "\u{FFFD}a");
    }

    #[test]
    fn the_budget_lets_a_burst_through_then_a_rate() {
        let b = LogBudget::new(10, 5);
        let t0 = Instant::now();
        let first: Vec<_> = (0..8).map(|_| b.admit_at(t0)).collect();
        assert_eq!(first.iter().filter(|x| x.is_some()).count(), 5);
        assert_eq!(b.pending(), 3);
        // 100 ms later: one token, and the three held back are reported.
        assert_eq!(b.admit_at(t0 + Duration::from_millis(100)), Some(3));
        assert_eq!(b.admit_at(t0 + Duration::from_millis(100)), None);
        // Over 10 s of a flood, about 10 a second get through.
        let mut through = 0;
        for ms in 0..10_000u64 {
            if b.admit_at(t0 + Duration::from_millis(200 + ms)).is_some() {
                through += 1;
            }
        }
        assert!((95..=106).contains(&through), "{through}");
    }
}
