//! [`Core`]: the one handle clients (the Tauri app, tests, a CLI) hold. It owns the
//! cache, the sync engine, the runtime sync state and the event stream. Its methods are
//! grouped by topic, one file each:
//!
//! - [`accounts`]: sign-up, sign-in, sign-out, the profile and usage;
//! - [`entities`]: the same reads and writes for every entity (list, get, create, edit,
//!   delete, retry, discard, favourite, counters);
//! - [`conflicts`]: the conflicts list, the dialog's detail, resolutions, history and
//!   strategies;
//! - [`sync`]: the sync indicator, sync now, work offline and the network state;
//! - [`media`]: illustrations, generated stories, and the media cache (files for the
//!   `media://` scheme, prefetch, usage, clearing).

pub mod accounts;
pub mod conflicts;
pub mod entities;
pub mod media;
pub mod scheduler;
pub mod sync;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use is_protocol::EntityKind;
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, Notify};

use crate::clock::{Clock, SystemClock};
use crate::db::{self, meta, Db};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::media::MediaCache;
use crate::repo::Ctx;
use crate::rng::{Rng, SplitMix64};
use crate::secrets::{FileSecrets, SecretStore};
use crate::sync::plan::RetryPolicy;
use crate::sync::SyncEngine;
use crate::transport::{HttpTransport, Transport, TransportError};

use self::sync::Runtime;
use crate::status::NetworkState;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Where the cache lives; one directory per device.
    pub data_dir: PathBuf,
    pub server_url: String,
    pub retry: RetryPolicy,
    /// Periodic background sync (SPEC.md section 8: default 15 minutes).
    pub sync_interval: Duration,
    /// Delay between a local write and its push, so that a burst of edits goes in one.
    pub push_debounce: Duration,
    /// Health probe interval while the server is reachable; faster while it is not.
    pub probe_interval: Duration,
    /// A sync run taking longer than this is taken as hung: the watchdog restarts the
    /// loop (what the run applied stays applied).
    pub run_timeout: Duration,
    /// The media cache's retention, cap, concurrency and retries.
    pub media: crate::media::MediaConfig,
    /// Where the session token is kept (the shell gives the OS keyring); `None`: files
    /// readable by the user only, in the data directory ([`FileSecrets`]).
    pub secrets: Option<Arc<dyn SecretStore>>,
}

impl CoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>, server_url: impl Into<String>) -> Self {
        CoreConfig {
            data_dir: data_dir.into(),
            server_url: server_url.into(),
            retry: RetryPolicy::default(),
            sync_interval: Duration::from_secs(15 * 60),
            push_debounce: Duration::from_millis(400),
            probe_interval: Duration::from_secs(30),
            run_timeout: Duration::from_secs(10 * 60),
            media: crate::media::MediaConfig::default(),
            secrets: None,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("cache.sqlite3")
    }

    /// The media cache's folder (nothing else is ever read or written through it).
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }
}

pub(crate) struct Inner {
    pub(crate) engine: SyncEngine,
    pub(crate) secrets: Arc<dyn SecretStore>,
    /// The session token as last read from `secrets` (`None`: not read yet).
    pub(crate) session: Mutex<Option<Option<String>>>,
    pub(crate) media: Arc<MediaCache>,
    pub(crate) config: CoreConfig,
    /// At most one sync runs at a time.
    sync_lock: tokio::sync::Mutex<()>,
    runtime: Mutex<Runtime>,
    /// Wakes the background scheduler; holds at most one pending wake-up, so triggers
    /// that arrive during a run coalesce into one more run.
    pub(crate) wake: Notify,
    /// Wakes the network monitor for a probe now.
    pub(crate) probe: Notify,
    pub(crate) pending_trigger: Mutex<Option<crate::app::scheduler::Trigger>>,
}

/// The headless app: cheap to clone, safe to share across tasks.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

impl Core {
    /// Opens the cache in `config.data_dir` and talks to `config.server_url` over HTTP.
    pub fn open(config: CoreConfig) -> Result<Core> {
        let conn = db::open(&config.db_path())?;
        let transport = Arc::new(HttpTransport::new(&config.server_url));
        Ok(Core::with_parts(
            conn,
            transport,
            Arc::new(SystemClock),
            Arc::new(SplitMix64::from_entropy()),
            config,
        ))
    }

    /// Everything injected: for tests and benchmarks.
    pub fn with_parts(
        conn: Connection,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        config: CoreConfig,
    ) -> Core {
        let work_offline = meta::get(&conn, meta::WORK_OFFLINE)
            .ok()
            .flatten()
            .as_deref()
            == Some("1");
        let secrets = config
            .secrets
            .clone()
            .unwrap_or_else(|| Arc::new(FileSecrets::in_data_dir(&config.data_dir)));
        if let Err(e) = accounts::move_token_out_of_the_cache(&conn, secrets.as_ref()) {
            tracing::warn!(%e, "could not move the session token to the {}", secrets.kind());
        }
        let engine = SyncEngine::new(Arc::new(Db::new(conn)), transport, clock, rng, config.retry);
        let media = Arc::new(MediaCache::new(
            config.media_dir(),
            Arc::clone(&engine.db),
            Arc::clone(&engine.transport),
            Arc::clone(&engine.clock),
            Arc::clone(&engine.rng),
            engine.events.clone(),
            config.media.clone(),
        ));
        Core {
            inner: Arc::new(Inner {
                engine,
                secrets,
                session: Mutex::new(None),
                media,
                config,
                sync_lock: tokio::sync::Mutex::new(()),
                runtime: Mutex::new(Runtime {
                    network: if work_offline {
                        NetworkState::Offline
                    } else {
                        NetworkState::Online
                    },
                    syncing: false,
                    last_error: None,
                    throttled_until: None,
                }),
                wake: Notify::new(),
                probe: Notify::new(),
                pending_trigger: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.engine.events.subscribe()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.engine.db
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.inner.engine.policy.max_attempts
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        let e = &self.inner.engine;
        Ctx {
            clock: &*e.clock,
            rng: &*e.rng,
            max_attempts: e.policy.max_attempts,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.engine.clock.now()
    }

    pub(crate) fn runtime(&self) -> std::sync::MutexGuard<'_, Runtime> {
        self.inner.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        // No receiver is fine: nobody is listening yet.
        let _ = self.inner.engine.events.send(event);
    }

    pub(crate) fn emit_overview(&self) {
        match self.overview() {
            Ok(overview) => self.emit(CoreEvent::Overview { overview }),
            Err(e) => tracing::warn!(%e, "could not compute the sync overview"),
        }
    }

    /// After a local write: tell the UI and schedule a push. The new pending count
    /// follows from the background loop (see `scheduler::sync_loop`), so that a write
    /// costs one transaction and not a count of every unsynced row.
    pub(crate) fn changed_locally(&self, entity: EntityKind) {
        self.emit(CoreEvent::DataChanged { entity });
        if matches!(entity, EntityKind::Hero | EntityKind::Story) {
            // A deleted hero or story releases its media, offline too.
            self.inner.media.evict_soon.notify_one();
        }
        self.trigger(crate::app::scheduler::Trigger::LocalChange);
    }

    /// `GET path` for the signed-in user, decoded.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let token = self.token()?.ok_or(CoreError::NotSignedIn)?;
        if self.overview()?.work_offline {
            return Err(CoreError::Transport(TransportError::Unreachable(
                "Work offline is on".into(),
            )));
        }
        let value = match self.inner.engine.transport.get_json(&token, path).await {
            Ok(v) => v,
            Err(e) => {
                self.learn_from(&e);
                return Err(CoreError::from_transport(e));
            }
        };
        serde_json::from_value(value)
            .map_err(|e| CoreError::Transport(TransportError::Protocol(e.to_string())))
    }

    /// A request failed: if it got no answer, the server is out of reach from now on
    /// (the monitor probes to find when it is back).
    pub(crate) fn learn_from(&self, e: &TransportError) {
        if e.is_offline() {
            self.set_network(NetworkState::ServerUnreachable);
            self.probe_soon();
        }
    }

    pub(crate) fn unsupported(kind: EntityKind) -> CoreError {
        CoreError::NotFound {
            entity: "entity",
            id: kind.as_str().to_owned(),
        }
    }
}
