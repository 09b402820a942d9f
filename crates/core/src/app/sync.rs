//! The sync side of [`Core`]: the indicator's overview, sync now, work offline, and
//! what the network monitor learned.

use chrono::{DateTime, Utc};
use is_protocol::EntityKind;

use super::accounts::load_account;
use super::Core;
use crate::app::scheduler::Trigger;
use crate::db::meta;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::status::{NetworkState, SyncOverview};
use crate::sync::{RunError, SyncReport};
use crate::transport::TransportError;

/// Runtime state that is not worth persisting.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) network: NetworkState,
    pub(crate) syncing: bool,
    pub(crate) last_error: Option<String>,
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

    /// Runs one sync now (waiting for a running one to finish first) and reports it.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        let _running = self.inner.sync_lock.lock().await;
        if self.overview()?.work_offline {
            return Err(CoreError::Transport(TransportError::Unreachable(
                "Work offline is on".into(),
            )));
        }
        let Some(token) = self.token()? else {
            return Err(CoreError::NotSignedIn);
        };
        self.runtime().syncing = true;
        self.emit_overview();
        let result = self.inner.engine.run(&token).await;
        let outcome = match result {
            Ok(report) => {
                self.runtime().last_error = None;
                self.set_network(NetworkState::Online);
                Ok(report)
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
                    self.set_network(NetworkState::ServerUnreachable);
                } else {
                    self.set_network(NetworkState::Online);
                }
                Err(CoreError::Transport(e))
            }
            Err(RunError::Core(e)) => Err(e),
        };
        {
            let mut rt = self.runtime();
            rt.syncing = false;
            if let Err(e) = &outcome {
                rt.last_error = Some(e.to_string());
            }
        }
        // Sync may have changed rows whatever the outcome (a partial push, a page).
        for entity in EntityKind::ALL {
            self.emit(CoreEvent::DataChanged { entity });
        }
        self.emit_overview();
        outcome
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
