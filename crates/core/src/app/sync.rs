//! The sync side of [`Core`]: the indicator's overview, sync now, work offline, and
//! what the network monitor learned.

use chrono::{DateTime, Utc};
use is_protocol::EntityKind;

use super::accounts::load_account;
use super::Core;
use crate::app::scheduler::Trigger;
use crate::db::meta;
use crate::diagnostics::{self, ActivityEntry, Notice, RunOutcome};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::status::{NetworkState, SyncOverview};
use crate::sync::plan::{classify_failure, Failure};
use crate::sync::{RunError, SyncReport};
use crate::transport::TransportError;
use std::sync::atomic::Ordering;

/// Runtime state that is not worth persisting.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) network: NetworkState,
    pub(crate) syncing: bool,
    pub(crate) last_error: Option<String>,
    /// The server asked us to wait (429) until then: background runs hold off.
    pub(crate) throttled_until: Option<DateTime<Utc>>,
}

impl Core {
    pub fn overview(&self) -> Result<SyncOverview> {
        let (account, paused, last_sync_at, work_offline, (pending, failed, conflicts)) =
            self.db().read(|c| {
                let acc = load_account(c)?;
                let paused = acc.as_ref().is_some_and(|(_, token)| token.is_none());
                let last = meta::get(c, meta::LAST_SYNC_AT)?.and_then(|t| t.parse().ok());
                let offline = meta::get(c, meta::WORK_OFFLINE)?.as_deref() == Some("1");
                Ok((
                    acc.map(|(a, _)| a),
                    paused,
                    last,
                    offline,
                    crate::repo::counts(c)?,
                ))
            })?;
        let rt = self.runtime();
        Ok(SyncOverview {
            account,
            network: if work_offline {
                NetworkState::Offline
            } else {
                rt.network
            },
            work_offline,
            syncing: rt.syncing,
            paused_reason: paused
                .then(|| "Your session has expired. Sign in again to keep syncing.".to_owned()),
            last_sync_at,
            last_error: rt.last_error.clone(),
            pending,
            failed,
            conflicts,
        })
    }

    pub fn set_work_offline(&self, enabled: bool) -> Result<SyncOverview> {
        self.db()
            .write(|tx| meta::set(tx, meta::WORK_OFFLINE, if enabled { "1" } else { "0" }))?;
        self.emit_overview();
        if !enabled {
            self.trigger(Trigger::NetworkRestored);
        }
        self.overview()
    }

    pub fn network_state(&self) -> NetworkState {
        self.runtime().network
    }

    /// Records what the network monitor or a request learned. Returns true when the
    /// server just became reachable again.
    pub(crate) fn set_network(&self, state: NetworkState) -> bool {
        let restored = {
            let mut rt = self.runtime();
            let was = rt.network;
            rt.network = state;
            if was == state {
                return false;
            }
            was != NetworkState::Online && state == NetworkState::Online
        };
        tracing::info!(?state, "network state changed");
        self.emit_overview();
        restored
    }

    /// Runs one sync now (waiting for a running one to finish first) and reports it:
    /// the manual trigger (Sync now, pull-to-refresh).
    /// Sync now also sends the changes given up after repeated server errors (the
    /// user asked for everything to go); only changes the server refused wait for
    /// their Retry or Discard.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        self.run_sync(Trigger::Manual).await
    }

    /// One sync as if started by `trigger` (the background loop's runs; for tests and
    /// command-line clients).
    pub async fn sync_for(&self, trigger: Trigger) -> Result<SyncReport> {
        self.run_sync(trigger).await
    }

    /// Puts the rows given up after repeated server errors back in the queue.
    fn retry_given_up(&self) -> Result<u32> {
        let mut n = 0;
        for kind in EntityKind::ALL {
            let ids = self
                .db()
                .read(|c| crate::repo::given_up(c, kind, self.max_attempts()))?;
            for id in ids {
                self.retry_any(kind, id)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Stops a running sync at its next page or batch. What was applied stays, and the
    /// next sync goes on from there (a first sync of a large account resumes).
    pub fn cancel_sync(&self) {
        if self.runtime().syncing {
            self.inner.engine.cancel.store(true, Ordering::SeqCst);
        }
    }

    /// One run, started by `trigger`; logged in the activity log whatever its outcome.
    async fn run_sync(&self, trigger: Trigger) -> Result<SyncReport> {
        let _running = self.inner.sync_lock.lock().await;
        if self.overview()?.work_offline {
            return Err(CoreError::Transport(TransportError::Unreachable(
                "Work offline is on".into(),
            )));
        }
        let Some(token) = self.token()? else {
            return Err(CoreError::NotSignedIn);
        };
        if trigger == Trigger::Manual {
            self.retry_given_up()?;
        }
        self.inner.engine.cancel.store(false, Ordering::SeqCst);
        self.runtime().syncing = true;
        self.emit_overview();
        let started = std::time::Instant::now();
        let mut report = SyncReport::default();
        let result = self.inner.engine.run(&token, &mut report).await;
        let outcome = match result {
            Ok(()) => {
                self.runtime().last_error = None;
                self.set_network(NetworkState::Online);
                self.after_sync();
                Ok(report.clone())
            }
            Err(RunError::Unauthorized) => {
                self.db().write(|tx| {
                    tx.execute("UPDATE account SET token = NULL", [])?;
                    Ok(())
                })?;
                self.emit(CoreEvent::SessionExpired);
                Err(CoreError::Server {
                    status: 401,
                    body: is_protocol::ErrorBody::new(
                        "unauthorized",
                        "Your session has expired. Sign in again to keep syncing.",
                    ),
                })
            }
            Err(RunError::Transport(e)) => {
                if e.is_offline() {
                    self.learn_from(&e);
                } else {
                    self.set_network(NetworkState::Online);
                }
                if let Failure::Throttled { retry_after } = classify_failure(&e) {
                    self.runtime().throttled_until = Some(
                        self.now() + chrono::Duration::from_std(retry_after).unwrap_or_default(),
                    );
                }
                Err(CoreError::Transport(e))
            }
            Err(RunError::Core(e)) => Err(e),
            Err(RunError::Cancelled) => Err(CoreError::Cancelled),
        };
        {
            let mut rt = self.runtime();
            rt.syncing = false;
            match &outcome {
                Err(CoreError::Cancelled) => {}
                Err(e) => rt.last_error = Some(e.to_string()),
                Ok(_) => {}
            }
        }
        self.log_run(trigger, &report, started.elapsed(), &outcome);
        let notices = std::mem::take(
            &mut *self
                .inner
                .engine
                .notices
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for notice in notices {
            self.emit(CoreEvent::Notice { notice });
        }
        // Sync may have changed rows whatever the outcome (a partial push, a page).
        if report.pushed + report.pulled > 0 || outcome.is_err() {
            for entity in EntityKind::ALL {
                self.emit(CoreEvent::DataChanged { entity });
            }
        }
        self.emit_overview();
        outcome
    }

    fn log_run(
        &self,
        trigger: Trigger,
        report: &SyncReport,
        took: std::time::Duration,
        outcome: &Result<SyncReport>,
    ) {
        let (outcome, error_code, message) = match outcome {
            Ok(_) => (RunOutcome::Ok, None, None),
            Err(CoreError::Cancelled) => (RunOutcome::Cancelled, None, None),
            Err(CoreError::Transport(e)) if e.is_offline() => (
                RunOutcome::Offline,
                Some("offline".to_owned()),
                Some(e.to_string()),
            ),
            Err(e @ CoreError::Transport(t)) if t.status() == Some(429) => (
                RunOutcome::Throttled,
                Some(e.code().to_owned()),
                Some(e.to_string()),
            ),
            Err(e) => (
                RunOutcome::Error,
                Some(e.code().to_owned()),
                Some(e.to_string()),
            ),
        };
        let entry = ActivityEntry {
            id: 0,
            started_at: report.started_at,
            duration_ms: took.as_millis() as i64,
            trigger: trigger.as_str().to_owned(),
            pushed: report.pushed,
            applied: report.applied,
            conflicts: report.conflicts,
            rejected: report.rejected,
            failed: report.failed,
            pulled: report.pulled,
            outcome,
            error_code,
            message,
        };
        self.log_activity(&entry);
    }

    /// Appends to the activity log (best effort: diagnostics never fail a sync).
    pub(crate) fn log_activity(&self, entry: &ActivityEntry) {
        if let Err(e) = self.db().write(|tx| diagnostics::log_run(tx, entry)) {
            tracing::warn!(%e, "could not write the activity log");
        }
    }

    /// The newest lines of the activity log, newest first.
    pub fn activity_log(&self, limit: u32) -> Result<Vec<ActivityEntry>> {
        self.db().read(|c| diagnostics::activity(c, limit))
    }

    /// Notices not dismissed yet (sync replaced, dropped or lost one of the user's edits).
    pub fn notices(&self) -> Result<Vec<Notice>> {
        self.db().read(diagnostics::open_notices)
    }

    pub fn dismiss_notice(&self, id: i64) -> Result<()> {
        self.db().write(|tx| diagnostics::dismiss_notice(tx, id))
    }

    /// A support report (JSON): the activity log, the outbox summary, row states and
    /// versions, with tokens and personal text left out. `app_version` is the shell's.
    pub fn sync_report(&self, app_version: &str) -> Result<String> {
        let overview = self.overview()?;
        let state = serde_json::json!({
            "network": overview.network,
            "work_offline": overview.work_offline,
            "signed_in": overview.account.is_some(),
            "paused": overview.paused_reason.is_some(),
            "syncing": overview.syncing,
            "pending": overview.pending,
            "failed": overview.failed,
            "conflicts": overview.conflicts,
        });
        let report = self.db().read(|c| {
            let versions = diagnostics::Versions {
                app: app_version.to_owned(),
                core: env!("CARGO_PKG_VERSION"),
                schema: diagnostics::schema_version(c)?,
                os: std::env::consts::OS,
            };
            diagnostics::sync_report(c, &versions, &self.config().server_url, state, self.now())
        })?;
        Ok(serde_json::to_string_pretty(&report)?)
    }

    /// When the next push retry is due, if any row waits for one.
    pub(crate) fn next_retry_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.db().read(crate::repo::next_retry_at)
    }

    /// Whether background sync may run now (signed in, session valid, not offline).
    pub(crate) fn can_sync(&self) -> bool {
        self.overview()
            .is_ok_and(|o| !o.work_offline && o.account.is_some() && o.paused_reason.is_none())
    }
}
