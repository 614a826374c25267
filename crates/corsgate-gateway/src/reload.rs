//! Hot reload: on a change of the file's modification time or size (polled)
//! and on SIGHUP, the file is read and validated; a valid one is swapped in
//! atomically (requests in flight finish on the configuration they started
//! with, none is dropped), an invalid one is refused with its errors logged
//! and the old configuration kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::config::{ConfigError, GatewayConfig};
use crate::runtime::{Runtime, Shared};

/// Applies new configurations to a running gateway.
pub struct Reloader {
    shared: Arc<Shared>,
    path: Option<PathBuf>,
    stamp: Mutex<Option<(SystemTime, u64)>>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Reloader {
    pub(crate) fn new(shared: Arc<Shared>, path: Option<PathBuf>) -> Reloader {
        let s = path.as_deref().and_then(stamp);
        Reloader {
            shared,
            path,
            stamp: Mutex::new(s),
        }
    }

    /// Re-reads the configuration file and applies it if valid.
    pub fn reload_file(&self) -> Result<(), Vec<ConfigError>> {
        let Some(path) = &self.path else {
            return Err(vec![ConfigError::unlocated(
                None,
                "this gateway was not started from a file",
            )]);
        };
        if let Ok(mut s) = self.stamp.lock() {
            *s = stamp(path);
        }
        match GatewayConfig::from_file(path) {
            Ok(c) => {
                self.apply(c);
                Ok(())
            }
            Err(errors) => {
                self.shared.metrics.reload(false);
                for e in &errors {
                    tracing::error!(error = %e, "configuration refused; the previous one stays in force");
                }
                Err(errors)
            }
        }
    }

    /// Swaps in a validated configuration.
    pub fn apply(&self, config: GatewayConfig) {
        let old = self.shared.runtime.load();
        let restart = old.config.restart_only_changes(&config);
        if !restart.is_empty() {
            tracing::warn!(
                settings = %restart.join(", "),
                "these settings changed but only take effect after a restart"
            );
        }
        let routes = config.routes.len();
        self.shared.runtime.store(Arc::new(Runtime::new(config)));
        self.shared.metrics.reload(true);
        tracing::info!(routes, "configuration reloaded");
    }

    fn changed(&self) -> bool {
        let Some(path) = &self.path else { return false };
        let now = stamp(path);
        match self.stamp.lock() {
            Ok(s) => now.is_some() && *s != now,
            Err(_) => false,
        }
    }
}

/// Polls the file and listens for SIGHUP until `stop`.
pub(crate) async fn watch(
    reloader: Arc<Reloader>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(if poll.is_zero() {
        Duration::from_secs(3600)
    } else {
        poll
    });
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        tokio::select! {
            _ = stop.changed() => return,
            _ = hangup => {
                tracing::info!("SIGHUP: reloading the configuration");
                let _ = reloader.reload_file();
            }
            _ = tick.tick() => {
                if !poll.is_zero() && reloader.changed() {
                    tracing::info!("configuration file changed: reloading");
                    let _ = reloader.reload_file();
                }
            }
        }
    }
}
