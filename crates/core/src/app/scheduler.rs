//! Background sync (SPEC.md section 8): triggers coalesce into at most one running and
//! one queued sync; retries and the periodic sync run on their own timers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::app::Core;
use crate::events::CoreEvent;
use crate::status::NetworkState;
use crate::transport::Transport;

/// Why a sync was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Launch,
    /// The window came back to the foreground.
    Focus,
    /// A local write: push soon, debounced.
    LocalChange,
    NetworkRestored,
    Periodic,
    /// Pull-to-refresh, the button, the shortcut.
    Manual,
}

/// What the loop does next, decided purely from the clock and the timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Sync now.
    Now,
    /// Sleep until this instant (or an earlier trigger).
    At(DateTime<Utc>),
}

/// The earliest of: the debounced local change, the next retry, the next periodic sync.
pub fn next_wake(
    now: DateTime<Utc>,
    last_run: DateTime<Utc>,
    interval: Duration,
    debounce_until: Option<DateTime<Utc>>,
    retry_at: Option<DateTime<Utc>>,
) -> Wake {
    let periodic = last_run + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let at = [Some(periodic), debounce_until, retry_at]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(periodic);
    if at <= now {
        Wake::Now
    } else {
        Wake::At(at)
    }
}

impl Core {
    /// Asks the background loop for a sync. Never blocks; repeated triggers coalesce.
    pub fn trigger(&self, trigger: Trigger) {
        let mut pending = self
            .inner
            .pending_trigger
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // A non-debounced trigger wins over a debounced one.
        if pending.is_none() || *pending == Some(Trigger::LocalChange) {
            *pending = Some(trigger);
        }
        drop(pending);
        self.inner.wake.notify_one();
    }

    /// Starts the sync loop and the network monitor on the current tokio runtime.
    pub fn start_background(&self) -> Background {
        let sync = tokio::spawn(sync_loop(self.clone()));
        let monitor = tokio::spawn(monitor_loop(self.clone()));
        self.trigger(Trigger::Launch);
        Background {
            tasks: vec![sync, monitor],
        }
    }
}

/// The background tasks; dropping this stops them.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

async fn sync_loop(core: Core) {
    let cfg = core.config().clone();
    let mut last_run = core.now();
    let mut debounce_until: Option<DateTime<Utc>> = None;
    loop {
        let now = core.now();
        let retry_at = core.next_retry_at().unwrap_or_else(|e| {
            tracing::warn!(%e, "could not read retry times");
            None
        });
        let wake = next_wake(now, last_run, cfg.sync_interval, debounce_until, retry_at);
        if let Wake::At(at) = wake {
            tokio::select! {
                _ = core.inner.wake.notified() => {
                    let trigger = core.inner.pending_trigger.lock().unwrap_or_else(|e| e.into_inner()).take();
                    match trigger {
                        Some(Trigger::LocalChange) => {
                            // Counting what is pending is off the write path: once per
                            // wake-up here, however many writes came in meanwhile.
                            core.emit_overview();
                            debounce_until = Some(core.now() + chrono::Duration::from_std(cfg.push_debounce).unwrap_or_default());
                            continue;
                        }
                        Some(t) => tracing::debug!(?t, "sync triggered"),
                        None => continue,
                    }
                }
                _ = tokio::time::sleep(until(now, at)) => {}
            }
        }
        debounce_until = None;
        last_run = core.now();
        if !core.can_sync() {
            continue;
        }
        match core.sync_now().await {
            Ok(report) => tracing::info!(?report, "background sync finished"),
            Err(e) if e.code() == "offline" => {
                tracing::info!(%e, "background sync: server out of reach")
            }
            Err(e) => {
                tracing::warn!(%e, "background sync failed");
                core.emit(CoreEvent::SyncFailed {
                    error: e.to_payload(),
                });
            }
        }
    }
}

/// Probes the server's health endpoint; faster while it is out of reach, so that sync
/// resumes promptly when it comes back.
async fn monitor_loop(core: Core) {
    let transport = core.inner.engine.transport.clone();
    loop {
        let forced_offline = core.overview().map(|o| o.work_offline).unwrap_or(false);
        let state = if forced_offline {
            NetworkState::Offline
        } else {
            probe(&*transport).await
        };
        if core.set_network(state) {
            core.trigger(Trigger::NetworkRestored);
        }
        let interval = if state == NetworkState::Online {
            core.config().probe_interval
        } else {
            (core.config().probe_interval / 10).max(Duration::from_millis(500))
        };
        tokio::time::sleep(interval).await;
    }
}

async fn probe(transport: &dyn Transport) -> NetworkState {
    match transport.health().await {
        Ok(_) => NetworkState::Online,
        Err(e) if e.is_offline() => NetworkState::ServerUnreachable,
        // It answered, even if with an error: the network is fine.
        Err(_) => NetworkState::Online,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn wake_table() {
        let fifteen = Duration::from_secs(900);
        let cases = [
            // (now, last_run, debounce, retry, expected)
            (t(0), t(0), None, None, Wake::At(t(900))),
            (t(900), t(0), None, None, Wake::Now),
            (t(10), t(0), Some(t(11)), None, Wake::At(t(11))),
            (t(11), t(0), Some(t(11)), None, Wake::Now),
            (t(10), t(0), None, Some(t(30)), Wake::At(t(30))),
            (t(10), t(0), Some(t(40)), Some(t(30)), Wake::At(t(30))),
            (t(10), t(0), None, Some(t(5)), Wake::Now),
            (t(10), t(0), None, Some(t(5000)), Wake::At(t(900))),
        ];
        for (now, last, debounce, retry, want) in cases {
            assert_eq!(
                next_wake(now, last, fifteen, debounce, retry),
                want,
                "{now} {debounce:?} {retry:?}"
            );
        }
    }
}
