//! The open-file limit: raised from the soft to the hard limit at start, and
//! the descriptor budget that `max_connections` is clamped to, so that the
//! gateway stops accepting (clients wait in the kernel's queue) before the
//! process runs out of descriptors (EMFILE), with room left for the admin
//! listener and the upstream connections.
#![allow(unsafe_code)]
// `rlim_t` is `u64` on some targets only.
#![allow(clippy::unnecessary_cast)]

/// Descriptors kept out of the client budget: standard streams, listeners,
/// the runtime's epoll and event descriptors, configuration and TLS files
/// read at reload, and [`ADMIN_CONNECTIONS`] admin connections.
pub(crate) const RESERVE: u64 = 64;

/// Most admin connections served at once (more wait in the kernel's queue);
/// part of [`RESERVE`].
pub(crate) const ADMIN_CONNECTIONS: usize = 16;

/// The soft and hard `RLIMIT_NOFILE` (`None` where they cannot be read).
pub(crate) fn nofile() -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct passed and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
    ok.then_some((r.rlim_cur as u64, r.rlim_max as u64))
}

/// Raises the soft open-file limit to the hard one (capped at what the
/// kernel accepts, `nr_open`) and returns the soft limit in force after.
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = nofile()?;
    if soft >= hard {
        return Some(soft);
    }
    // An unlimited hard limit cannot be the soft one: the kernel's ceiling.
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let target = hard.min(ceiling).max(soft);
    let r = libc::rlimit {
        rlim_cur: target as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct passed and nothing else.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0;
    if ok {
        Some(target)
    } else {
        Some(soft)
    }
}

/// The most client connections a process with `limit` descriptors can hold:
/// each client connection may use one upstream connection as well, after
/// [`RESERVE`]; at least 1.
pub(crate) fn client_budget(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(RESERVE) / 2)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Raises the limit and clamps `max_connections` to the budget, with a
/// warning when it had to.
pub(crate) fn clamp_max_connections(max_connections: usize) -> usize {
    let Some(limit) = raise_nofile() else {
        return max_connections;
    };
    let budget = client_budget(limit);
    if max_connections > budget {
        tracing::warn!(
            max_connections,
            open_file_limit = limit,
            clamped_to = budget,
            "limits.max_connections exceeds what the open-file limit allows \
             (two descriptors per client connection, one for its upstream, plus a reserve \
             for the admin listener and files): clamped; raise the hard limit \
             (LimitNOFILE=, ulimit -Hn) to serve more"
        );
        budget
    } else {
        max_connections
    }
}

/// One descriptor (`/dev/null`) held for the admin listener: when the
/// process is out of descriptors, the admin listener closes it to accept a
/// connection, and takes it back when that connection closes. The public
/// accept loop takes the reserve back before it accepts and accepts nothing
/// while it cannot: a descriptor freed goes to the reserve first.
static RESERVE_FD: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Whether the reserve descriptor is held (taken now if it was not).
pub(crate) fn reserve_held() -> bool {
    match RESERVE_FD.lock() {
        Ok(mut r) => {
            if r.is_none() {
                *r = std::fs::File::open("/dev/null").ok();
            }
            r.is_some()
        }
        Err(_) => true,
    }
}

/// Closes the reserve descriptor, for the admin listener; whether it was
/// held.
pub(crate) fn release_reserve() -> bool {
    RESERVE_FD.lock().ok().and_then(|mut r| r.take()).is_some()
}

/// The pause after a failed `accept` (EMFILE, ENFILE, ENOBUFS, ENOMEM, or a
/// connection reset before it was accepted): 10 ms doubling to 1 s, reset
/// by the next success; the pending connection stays in the kernel's queue
/// and retrying at once would only spin.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// Records a failure; returns how long to wait before the next accept.
    pub(crate) fn failed(&mut self, e: &std::io::Error) -> std::time::Duration {
        self.failures = self.failures.saturating_add(1);
        let ms = 10u64
            .saturating_mul(1 << (self.failures - 1).min(7))
            .min(1000);
        if self.failures == 1 || self.failures.is_power_of_two() {
            tracing::warn!(error = %e, failures = self.failures, pause_ms = ms, "accept failed; pausing");
        }
        std::time::Duration::from_millis(ms)
    }

    /// Records a success.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_the_reserve_and_an_upstream_per_client() {
        assert_eq!(client_budget(0), 1);
        assert_eq!(client_budget(64), 1);
        assert_eq!(client_budget(256), 96);
        assert_eq!(client_budget(1024), 480);
        assert_eq!(
            client_budget(u64::MAX),
            usize::try_from((u64::MAX - 64) / 2).unwrap_or(usize::MAX)
        );
    }

    #[test]
    fn the_limit_is_raised_to_the_hard_one() {
        let after = raise_nofile().unwrap();
        let (soft, hard) = nofile().unwrap();
        assert_eq!(after, soft);
        assert!(soft == hard || hard == libc::RLIM_INFINITY as u64 || soft >= 1 << 20);
    }

    #[test]
    fn backoff_grows_to_a_second_and_resets() {
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        let mut b = AcceptBackoff::default();
        let waits: Vec<u64> = (0..10).map(|_| b.failed(&e).as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(&e).as_millis(), 10);
    }
}
