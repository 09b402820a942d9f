//! The sync side of [`Core`]: the indicator's overview, sync now, work offline, and
//! what the network monitor learned.

use std::time::Duration;

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, FieldError};
use serde::Serialize;
use uuid::Uuid;

use super::accounts::load_account;
use super::Core;
use crate::app::scheduler::Trigger;
use crate::db::meta;
use crate::diagnostics::{self, ActivityEntry, Notice, RunOutcome};
use crate::entity::store as entity;
use crate::entity::{RowSync, SyncEntity};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::repo::custom_events::CustomEvent;
use crate::repo::heroes::Hero;
use crate::repo::profile::Profile;
use crate::repo::stories::Story;
use crate::status::{NetworkState, SyncOverview};
use crate::sync::plan::{classify_failure, Failure};
use crate::sync::{RunError, SyncReport};
use crate::transport::TransportError;
use std::sync::atomic::Ordering;

/// The shortest and longest background sync interval Settings offers.
pub const SYNC_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(24 * 3600));

fn clamp_interval(d: Duration) -> Duration {
    d.clamp(SYNC_INTERVAL_RANGE.0, SYNC_INTERVAL_RANGE.1)
}

/// How the desktop app behaves on this device (Settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct DesktopPrefs {
    /// Closing the window hides it to the tray, and sync goes on in the background.
    pub keep_in_tray: bool,
    /// Native notifications for a new conflict or a change that failed, while the window
    /// is hidden.
    pub notifications: bool,
}

impl Default for DesktopPrefs {
    fn default() -> Self {
        DesktopPrefs {
            keep_in_tray: true,
            notifications: true,
        }
    }
}

/// A row with a change the server does not have yet (the Sync panel's list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnsyncedRow {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The row's name or title, as shown locally.
    pub title: String,
    pub updated_at: DateTime<Utc>,
    /// Its state, the operation and, for a failed row, the server's reason.
    pub sync: RowSync,
}

fn unsynced_of<E: SyncEntity>(
    c: &rusqlite::Connection,
    max_attempts: u32,
    out: &mut Vec<UnsyncedRow>,
) -> Result<()> {
    for row in entity::load_where::<E>(c, "sync_status <> 'synced'", "updated_at DESC, id", [])? {
        out.push(UnsyncedRow {
            entity: E::KIND,
            id: row.id,
            title: E::title(&row.fields).to_owned(),
            updated_at: row.updated_at,
            sync: row.sync_view(max_attempts),
        });
    }
    Ok(())
}

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
        let (account, last_sync_at, work_offline, (pending, failed, conflicts)) =
            self.db().read(|c| {
                let acc = load_account(c)?;
                let last = meta::get(c, meta::LAST_SYNC_AT)?.and_then(|t| t.parse().ok());
                let offline = meta::get(c, meta::WORK_OFFLINE)?.as_deref() == Some("1");
                Ok((acc, last, offline, crate::repo::counts(c)?))
            })?;
        let paused = account.is_some() && self.token()?.is_none();
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
                self.forget_session()?;
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
        // Whatever the outcome (a partial push, some pages): only the lists of rows the
        // run changed refetch, so a pushed story does not reload heroes or the profile.
        for &entity in &report.changed {
            self.emit(CoreEvent::DataChanged { entity });
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

    /// Every row with a change not on the server yet (waiting, failed or in conflict),
    /// newest change first: the Sync panel's list, with Retry and Discard.
    pub fn unsynced(&self) -> Result<Vec<UnsyncedRow>> {
        let max = self.max_attempts();
        self.db().read(|c| {
            let mut out = Vec::new();
            unsynced_of::<Hero>(c, max, &mut out)?;
            unsynced_of::<Story>(c, max, &mut out)?;
            unsynced_of::<CustomEvent>(c, max, &mut out)?;
            unsynced_of::<Profile>(c, max, &mut out)?;
            out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    /// How often background sync runs when nothing else starts it (Settings).
    pub fn sync_interval(&self) -> Result<Duration> {
        let stored = self.db().read(|c| meta::get(c, meta::SYNC_INTERVAL))?;
        Ok(stored
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .map_or(self.config().sync_interval, clamp_interval))
    }

    /// Changes the background sync interval (one minute to one day); the loop takes it
    /// at its next wake-up, which this causes.
    pub fn set_sync_interval(&self, seconds: u32) -> Result<Duration> {
        let interval = Duration::from_secs(u64::from(seconds));
        if clamp_interval(interval) != interval {
            return Err(CoreError::Validation(vec![FieldError::new(
                "sync_interval",
                "Choose between one minute and one day",
            )]));
        }
        self.db()
            .write(|tx| meta::set(tx, meta::SYNC_INTERVAL, &seconds.to_string()))?;
        self.inner.wake.notify_one();
        Ok(interval)
    }

    /// The desktop settings of this device (not synced, kept across sign-outs).
    pub fn desktop_prefs(&self) -> Result<DesktopPrefs> {
        let stored = self.db().read(|c| meta::get(c, meta::DESKTOP_PREFS))?;
        // A value this version cannot read (a newer app's) falls back to the defaults.
        Ok(stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    pub fn set_desktop_prefs(&self, prefs: DesktopPrefs) -> Result<DesktopPrefs> {
        let json = serde_json::to_string(&prefs)?;
        self.db()
            .write(|tx| meta::set(tx, meta::DESKTOP_PREFS, &json))?;
        Ok(prefs)
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
