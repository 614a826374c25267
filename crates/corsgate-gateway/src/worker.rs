//! Worker identity: how many worker threads serve client connections (one
//! per core, each with its own single-threaded runtime) and which one runs
//! the code at hand. The metrics keep a shard and the upstream pools an idle
//! list per worker, found through this.

/// How many worker threads serve client connections: one per core.
pub(crate) fn worker_count() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

thread_local! {
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The index of the worker thread running this code (0 elsewhere); the
/// upstream pools keep one idle list per worker, so that a request and its
/// upstream connection run on the same thread.
pub(crate) fn worker_index() -> usize {
    worker_slot().unwrap_or(0)
}

/// The index of the worker thread running this code, if it is one.
pub(crate) fn worker_slot() -> Option<usize> {
    WORKER.with(|w| w.get())
}

/// Marks the calling thread as worker `i` (once, as the worker starts) and
/// applies the configured scheduling policy to it.
pub(crate) fn enter(i: usize, scheduling: crate::config::WorkerScheduling) {
    WORKER.with(|c| c.set(Some(i)));
    if scheduling == crate::config::WorkerScheduling::Batch {
        set_batch();
    }
}

/// Puts the calling thread under `SCHED_BATCH` (priority 0, as
/// `SCHED_OTHER`); a failure is logged and the thread keeps its policy.
#[cfg(target_os = "linux")]
fn set_batch() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads the struct passed (pid 0: the calling
    // thread) and nothing else.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if rc != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot put a worker thread under SCHED_BATCH; it keeps the default policy"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn set_batch() {}
