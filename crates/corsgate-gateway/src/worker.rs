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

/// Marks the calling thread as worker `i` (once, as the worker starts).
pub(crate) fn enter(i: usize) {
    WORKER.with(|c| c.set(Some(i)));
}
