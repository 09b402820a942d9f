//! [`Core`]: the one handle clients (the Tauri app, tests, a CLI) hold. It owns the
//! cache, the sync engine, the runtime sync state and the event stream.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use is_protocol::{
    validate_signup, EntityKind, HeroInput, LoginRequest, SessionResponse, SignupRequest,
};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::db::{self, meta, Db};
use crate::error::{CoreError, Result};
use crate::model::{Account, CoreEvent, HeroView, NetworkState, SyncOverview, SyncReport};
use crate::repo::{heroes, Ctx};
use crate::rng::{Rng, SplitMix64};
use crate::sync::plan::RetryPolicy;
use crate::sync::{RunError, SyncEngine};
use crate::transport::{HttpTransport, Transport, TransportError};

/// One entry of a hero's conflict history: (detected at, resolution, the local version,
/// the server's version).
pub type HeroConflict = (
    DateTime<Utc>,
    String,
    is_protocol::HeroRecord,
    is_protocol::HeroRecord,
);

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
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("cache.sqlite3")
    }
}

/// Runtime state that is not worth persisting.
#[derive(Debug)]
struct Runtime {
    network: NetworkState,
    syncing: bool,
    last_error: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) engine: SyncEngine,
    pub(crate) config: CoreConfig,
    events: broadcast::Sender<CoreEvent>,
    /// At most one sync runs at a time.
    sync_lock: tokio::sync::Mutex<()>,
    runtime: Mutex<Runtime>,
    /// Wakes the background scheduler; holds at most one pending wake-up, so triggers
    /// that arrive during a run coalesce into one more run.
    pub(crate) wake: Notify,
    pub(crate) pending_trigger: Mutex<Option<crate::scheduler::Trigger>>,
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
        let (events, _) = broadcast::channel(256);
        let work_offline = meta::get(&conn, meta::WORK_OFFLINE)
            .ok()
            .flatten()
            .as_deref()
            == Some("1");
        let engine = SyncEngine {
            db: Arc::new(Db::new(conn)),
            transport,
            clock,
            rng,
            policy: config.retry,
        };
        Core {
            inner: Arc::new(Inner {
                engine,
                config,
                events,
                sync_lock: tokio::sync::Mutex::new(()),
                runtime: Mutex::new(Runtime {
                    network: if work_offline {
                        NetworkState::Offline
                    } else {
                        NetworkState::Online
                    },
                    syncing: false,
                    last_error: None,
                }),
                wake: Notify::new(),
                pending_trigger: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.events.subscribe()
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

    fn runtime(&self) -> std::sync::MutexGuard<'_, Runtime> {
        self.inner.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        // No receiver is fine: nobody is listening yet.
        let _ = self.inner.events.send(event);
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
        self.trigger(crate::scheduler::Trigger::LocalChange);
    }

    // -----------------------------------------------------------------------------------
    // Account

    pub fn account(&self) -> Result<Option<Account>> {
        self.db()
            .read(|c| Ok(load_account(c)?.map(|(account, _)| account)))
    }

    pub(crate) fn token(&self) -> Result<Option<String>> {
        self.db()
            .read(|c| Ok(load_account(c)?.and_then(|(_, token)| token)))
    }

    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Result<Account> {
        let req = SignupRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            name: name.trim().to_owned(),
        };
        validate_signup(&req).map_err(CoreError::Validation)?;
        let session = self
            .inner
            .engine
            .transport
            .signup(&req)
            .await
            .map_err(auth_error)?;
        self.store_session(session)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Account> {
        let mut fields = Vec::new();
        if email.trim().is_empty() {
            fields.push(is_protocol::FieldError::new("email", "Enter your email"));
        }
        if password.is_empty() {
            fields.push(is_protocol::FieldError::new(
                "password",
                "Enter your password",
            ));
        }
        if !fields.is_empty() {
            return Err(CoreError::Validation(fields));
        }
        let req = LoginRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
        };
        let session = self
            .inner
            .engine
            .transport
            .login(&req)
            .await
            .map_err(auth_error)?;
        self.store_session(session)
    }

    fn store_session(&self, s: SessionResponse) -> Result<Account> {
        let account = Account {
            user_id: s.user.id,
            email: s.user.email.clone(),
            name: s.user.name.clone(),
            server_url: self.inner.engine.transport.base_url().to_owned(),
        };
        self.db().write(|tx| {
            let owner = meta::get(tx, OWNER)?;
            if owner.as_deref().is_some_and(|o| o != account.user_id.to_string()) {
                // This device holds another account's data. Never push it as this user,
                // and never drop it while it has unsynced changes.
                let (pending, failed, conflicts) = crate::repo::counts(tx)?;
                if pending + failed + conflicts > 0 {
                    return Err(CoreError::Server {
                        status: 409,
                        body: is_protocol::ErrorBody::new(
                            "account_mismatch",
                            "This device has unsynced changes of another account. Sign in with that account first.",
                        ),
                    });
                }
                wipe_user_data(tx)?;
            }
            meta::set(tx, OWNER, &account.user_id.to_string())?;
            tx.execute(
                "INSERT OR REPLACE INTO account (id, user_id, email, name, server_url, token, expires_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    account.user_id.to_string(),
                    account.email,
                    account.name,
                    account.server_url,
                    s.token,
                    s.expires_at.to_rfc3339()
                ],
            )?;
            Ok(())
        })?;
        for entity in EntityKind::ALL {
            self.emit(CoreEvent::DataChanged { entity });
        }
        self.emit_overview();
        self.trigger(crate::scheduler::Trigger::Launch);
        Ok(account)
    }

    /// Signs out: the session is revoked (best effort) and forgotten. Local data stays, so
    /// that nothing unsynced is lost; it syncs when the same account signs in again.
    pub async fn sign_out(&self) -> Result<()> {
        if let Some(token) = self.token()? {
            if let Err(e) = self.inner.engine.transport.logout(&token).await {
                tracing::info!(%e, "could not revoke the session on the server");
            }
        }
        self.db().write(|tx| {
            tx.execute("DELETE FROM account", [])?;
            Ok(())
        })?;
        self.emit_overview();
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Heroes

    pub fn list_heroes(&self) -> Result<Vec<HeroView>> {
        let max = self.inner.engine.policy.max_attempts;
        self.db().read(|c| heroes::list(c, max))
    }

    pub fn get_hero(&self, id: Uuid) -> Result<HeroView> {
        let max = self.inner.engine.policy.max_attempts;
        self.db().read(|c| heroes::get(c, id, max))
    }

    pub fn create_hero(&self, input: HeroInput) -> Result<HeroView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| heroes::create(tx, &ctx, input))?;
        self.changed_locally(EntityKind::Hero);
        Ok(view)
    }

    pub fn update_hero(&self, id: Uuid, input: HeroInput) -> Result<HeroView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| heroes::update(tx, &ctx, id, input))?;
        self.changed_locally(EntityKind::Hero);
        Ok(view)
    }

    pub fn delete_hero(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| heroes::delete(tx, &ctx, id))?;
        // Its stories show unlinked.
        self.emit(CoreEvent::DataChanged {
            entity: EntityKind::Story,
        });
        self.changed_locally(EntityKind::Hero);
        Ok(())
    }

    pub fn retry_hero(&self, id: Uuid) -> Result<HeroView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| heroes::retry(tx, &ctx, id))?;
        self.changed_locally(EntityKind::Hero);
        Ok(view)
    }

    pub fn discard_hero(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| heroes::discard(tx, &ctx, id))?;
        self.changed_locally(EntityKind::Hero);
        Ok(())
    }

    /// The local versions that lost a conflict for this hero, newest first:
    /// (detected at, resolution, local version, server version).
    pub fn hero_conflict_history(&self, id: Uuid) -> Result<Vec<HeroConflict>> {
        let records = self
            .db()
            .read(|c| crate::sync::conflict_history(c, Some(EntityKind::Hero), id))?;
        records
            .into_iter()
            .map(|r| {
                Ok((
                    r.detected_at,
                    r.resolution,
                    serde_json::from_value(r.local)?,
                    serde_json::from_value(r.server)?,
                ))
            })
            .collect()
    }

    /// Outbox entries waiting (for tests and the Sync panel).
    pub fn outbox_len(&self) -> Result<usize> {
        self.db().read(crate::outbox::len)
    }

    // -----------------------------------------------------------------------------------
    // Sync

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
            self.trigger(crate::scheduler::Trigger::NetworkRestored);
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

const OWNER: &str = "owner_user_id";

fn load_account(conn: &Connection) -> Result<Option<(Account, Option<String>)>> {
    let row = conn
        .query_row(
            "SELECT user_id, email, name, server_url, token FROM account WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()?;
    row.map(|(user_id, email, name, server_url, token)| {
        let user_id = user_id
            .parse()
            .map_err(|_| CoreError::Corrupt("account: bad user id".into()))?;
        Ok((
            Account {
                user_id,
                email,
                name,
                server_url,
            },
            token,
        ))
    })
    .transpose()
}

fn wipe_user_data(tx: &Connection) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM heroes; DELETE FROM stories; DELETE FROM custom_events; DELETE FROM user_profile;
         DELETE FROM story_illustrations; DELETE FROM usage_cache;
         DELETE FROM outbox; DELETE FROM conflict_history;
         DELETE FROM sync_meta WHERE key IN ('changes_cursor', 'last_sync_at', 'resync_active');",
    )?;
    Ok(())
}

/// Sign-in and sign-up errors: field errors stay field errors, and a wrong password is
/// not "the server is broken".
fn auth_error(e: TransportError) -> CoreError {
    match e {
        TransportError::Http { status, body, .. } => {
            if body.code == is_protocol::codes::VALIDATION {
                let fields = body
                    .details
                    .as_ref()
                    .and_then(|d| d.get("fields"))
                    .and_then(|f| serde_json::from_value(f.clone()).ok())
                    .unwrap_or_default();
                if Vec::is_empty(&fields) {
                    CoreError::Server { status, body }
                } else {
                    CoreError::Validation(fields)
                }
            } else {
                CoreError::Server { status, body }
            }
        }
        other => CoreError::Transport(other),
    }
}
