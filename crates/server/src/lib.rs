//! `story-server`: the reference backend of Infinite Stories (SPEC.md section 6).
//!
//! - [`Config`] says where the database is and how expensive passwords are;
//! - [`AppState`] owns the database connections and the clock;
//! - [`app`] builds the axum [`Router`] (usable in-process with `tower::ServiceExt`);
//! - [`serve`] runs it on a listener until a shutdown future resolves;
//! - [`testing::TestServer`] runs it on a real loopback socket for tests.
//!
//! Module map, by topic:
//! - the HTTP face: [`routes`] is the table of every endpoint (the router and the
//!   [`openapi`] document are both built from it); [`rest`] the REST resources (heroes,
//!   stories, custom events, profile and usage), [`sync`] the push and the change feed
//!   (and tombstone pruning), [`auth`] accounts and sessions, [`media`] generated media,
//!   [`storygen`] story generation; [`ratelimit`] and [`faults`] the request guards,
//!   [`error`] the one error shape;
//! - storage: [`table`] is the one write path of every synced entity, derived from the
//!   entity's description in `is_protocol`, shared by REST, push and generation; each
//!   `*_store` module holds its entity's table and what it does beyond the generic path
//!   ([`hero_store`], [`story_store`], [`event_store`], [`profile_store`]), or, for
//!   illustrations ([`illustration_store`]), its own SQL; [`usage`] the monthly limits;
//!   [`db`] opening and migrations; [`storage`] the connections.
//!
//! Storage is one SQLite file in WAL mode with **one writer connection** and a **pool of
//! read connections** ([`storage`]). Serialising every write on the one writer is
//! deliberate: each write takes the next value of the global sequence *and commits* before
//! the next write starts, so the change feed can never hand out seq N+1 while seq N is
//! still uncommitted (which would make a reader skip N forever). Reads run on snapshots
//! and never wait for the writer. Pushes and REST writes join **group commits**
//! ([`AppState::write`]): concurrent requests share one transaction and one `fsync`, each
//! in its own savepoint, each answered only once the group is durable.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::sql::{Connection, Transaction};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod audio;
pub mod auth;
pub mod clock;
pub mod db;
pub mod demo;
pub mod error;
pub mod event_store;
pub mod faults;
pub mod hero_store;
pub mod http;
pub mod illustration_store;
pub mod imaging;
pub mod media;
pub mod media_jobs;
pub mod media_store;
pub mod openapi;
pub mod profile_store;
pub mod ratelimit;
pub mod rest;
pub mod routes;
pub mod sql;
pub mod storage;
pub mod story_store;
pub mod storygen;
pub mod sync;
pub mod table;
pub mod testing;
pub mod usage;

pub use ratelimit::RateLimit;
pub use usage::TierLimitsConfig;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ApiError;

/// The server's version, reported by `GET /api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest request body accepted (`MAX_BODY_BYTES`, 4 MiB); larger ones get 413 `payload_too_large`.
pub const DEFAULT_BODY_LIMIT: usize = is_protocol::MAX_BODY_BYTES;

/// Server settings (everything but the listen address, which belongs to the listener).
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file; created and migrated on start (unless `database_url` is set).
    pub db_path: PathBuf,
    /// A PostgreSQL database (`postgres://user@host:port/db`) to use instead of the
    /// SQLite file; migrated on start. Several servers may share one (replicas).
    pub database_url: Option<String>,
    /// How long a session token stays valid after sign-in.
    pub token_ttl: chrono::Duration,
    /// Argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id number of passes.
    pub argon2_iterations: u32,
    /// Ensure the demo account and its heroes exist on start.
    pub demo: bool,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Where generated media files go; `None`: next to the database, `<db>.media/`.
    /// Not used when `media_url` names a bucket.
    pub media_dir: Option<PathBuf>,
    /// Where generated media files go instead of `media_dir`: `s3://bucket/prefix` (an
    /// S3-compatible store, set up from the `AWS_*` variables) or `file:///dir`
    /// ([`media_store::MediaLocation::parse_url`]).
    pub media_url: Option<String>,
    /// Tombstones older than this are pruned; change-feed cursors older than the newest
    /// pruned tombstone get 410 `cursor_expired`.
    pub tombstone_horizon: chrono::Duration,
    /// How often the pruning task runs (in [`serve`]).
    pub prune_interval: Duration,
    /// Per-user rate limit of signed-in requests.
    pub rate_limit: RateLimit,
    /// Per-IP rate limit of sign-up and sign-in.
    pub auth_rate_limit: RateLimit,
    /// Fault injection at start (all off by default).
    pub faults: is_protocol::FaultSettings,
    /// Seed of the fault-injection random generator.
    pub fault_seed: u64,
    /// Register `GET`/`POST /api/_faults`.
    pub enable_fault_control: bool,
    /// Monthly limits per subscription tier.
    pub tier_limits: TierLimitsConfig,
    /// How long a client may take to send a request's headers (also how long a kept-alive
    /// connection may stay idle); then the connection is closed. Zero: no limit. Applies
    /// to [`serve`] (a real socket), not to [`app`] used in-process.
    pub header_read_timeout: Duration,
    /// How long a request body may take to arrive once the server starts waiting for
    /// it; then the request is answered 408 `request_timeout` and the connection closed.
    /// Zero: no limit.
    pub body_read_timeout: Duration,
}

impl Config {
    /// OWASP's recommended Argon2id setting: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19_456;
    pub const DEFAULT_ARGON2_ITERATIONS: u32 = 2;
    pub const DEFAULT_TOKEN_TTL_HOURS: u32 = 30 * 24;
    pub const DEFAULT_TOMBSTONE_HORIZON_DAYS: u32 = 30;
    pub const DEFAULT_PRUNE_INTERVAL_SECS: u64 = 3600;
    /// Generous: 20 requests a second per user, bursts of 200.
    pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
        per_second: 20.0,
        burst: 200,
    };
    pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
    pub const DEFAULT_BODY_READ_TIMEOUT_SECS: u64 = 30;
    /// Sign-up and sign-in per IP: 5 a second, bursts of 50.
    pub const DEFAULT_AUTH_RATE_LIMIT: RateLimit = RateLimit {
        per_second: 5.0,
        burst: 50,
    };

    /// Production defaults with the database at `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            db_path: db_path.into(),
            database_url: None,
            token_ttl: chrono::Duration::hours(Self::DEFAULT_TOKEN_TTL_HOURS as i64),
            argon2_memory_kib: Self::DEFAULT_ARGON2_MEMORY_KIB,
            argon2_iterations: Self::DEFAULT_ARGON2_ITERATIONS,
            demo: false,
            body_limit: DEFAULT_BODY_LIMIT,
            media_dir: None,
            media_url: None,
            tombstone_horizon: chrono::Duration::days(Self::DEFAULT_TOMBSTONE_HORIZON_DAYS as i64),
            prune_interval: Duration::from_secs(Self::DEFAULT_PRUNE_INTERVAL_SECS),
            rate_limit: Self::DEFAULT_RATE_LIMIT,
            auth_rate_limit: Self::DEFAULT_AUTH_RATE_LIMIT,
            faults: is_protocol::FaultSettings::default(),
            fault_seed: 0,
            enable_fault_control: false,
            tier_limits: TierLimitsConfig::default(),
            header_read_timeout: Duration::from_secs(Self::DEFAULT_HEADER_READ_TIMEOUT_SECS),
            body_read_timeout: Duration::from_secs(Self::DEFAULT_BODY_READ_TIMEOUT_SECS),
        }
    }

    /// Like [`Config::new`] with the cheapest Argon2 cost, so tests sign up in
    /// microseconds, no rate limits, and fault control enabled (`POST /api/_faults`;
    /// faults themselves stay off until a test turns them on).
    /// With `STORY_TEST_DATABASE_URL` set, the database is a PostgreSQL database made
    /// for `db_path` ([`testing::test_database_url`]).
    pub fn for_tests(db_path: impl Into<PathBuf>) -> Config {
        let db_path = db_path.into();
        Config {
            database_url: testing::test_database_url(&db_path),
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            rate_limit: RateLimit::UNLIMITED,
            auth_rate_limit: RateLimit::UNLIMITED,
            enable_fault_control: true,
            ..Config::new(db_path)
        }
    }

    /// Where the database is: `database_url` if set, else the SQLite file `db_path`.
    pub fn location(&self) -> db::Location {
        db::Location::new(&self.db_path, self.database_url.as_deref())
    }

    /// Where media files are kept: `media_url` if set, else the media directory.
    pub fn media_location(
        &self,
    ) -> Result<media_store::MediaLocation, media_store::MediaStoreError> {
        match self.media_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => media_store::MediaLocation::parse_url(url),
            None => Ok(media_store::MediaLocation::Dir(self.media_dir())),
        }
    }

    /// The media directory: `media_dir`, or `<db path>.media` next to the database.
    pub fn media_dir(&self) -> PathBuf {
        match &self.media_dir {
            Some(d) => d.clone(),
            None => {
                let mut name = self
                    .db_path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| "story-server".into());
                name.push(".media");
                self.db_path.with_file_name(name)
            }
        }
    }
}

/// Shared state of every handler: configuration, database and clock. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    storage: Arc<storage::Storage>,
    clock: Arc<dyn Clock>,
    instance_id: String,
    /// This process's random identity among the replicas of one database: who holds a
    /// media job's claim.
    replica_id: String,
    /// A hash to verify against when a login names an unknown email, so that answer takes
    /// as long as a wrong password does.
    dummy_hash: OnceLock<String>,
    media_dir: PathBuf,
    media: media_store::MediaStore,
    user_limiter: ratelimit::RateLimiter,
    ip_limiter: ratelimit::RateLimiter,
    faults: faults::Faults,
    jobs: Arc<media_jobs::Jobs>,
    openapi: OnceLock<String>,
}

impl AppState {
    /// Opens and migrates the database, using the system clock. With `config.demo`, also
    /// ensures the demo account exists. Blocking (call it before serving, or in
    /// `spawn_blocking`).
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        AppState::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`AppState::new`] with an injected clock.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        auth::password_hasher(&config)?; // reject impossible Argon2 settings up front
        let location = config.location();
        // PostgreSQL's sync client must not run on an async thread (a test's body).
        let (conn, instance_id) = sql::off_async(|| -> anyhow::Result<_> {
            let conn = db::open_at(&location)?;
            table::add_declared_columns(&conn)?;
            let instance_id = db::instance_id(&conn)?;
            Ok((conn, instance_id))
        })?;
        let media_dir = config.media_dir();
        let media_location = config.media_location()?;
        let media = media_store::MediaStore::open(&media_location)
            .map_err(|e| anyhow::anyhow!("cannot open the media store {media_location:?}: {e}"))?;
        let state = AppState {
            inner: Arc::new(Inner {
                user_limiter: ratelimit::RateLimiter::new(config.rate_limit),
                ip_limiter: ratelimit::RateLimiter::new(config.auth_rate_limit),
                faults: faults::Faults::new(config.faults.clone(), config.fault_seed),
                storage: Arc::new(storage::Storage::new(&location, conn)),
                config,
                clock,
                instance_id,
                replica_id: uuid::Uuid::new_v4().simple().to_string(),
                dummy_hash: OnceLock::new(),
                media_dir,
                media,
                jobs: Arc::new(media_jobs::Jobs::default()),
                openapi: OnceLock::new(),
            }),
        };
        if state.inner.config.demo {
            demo::ensure_demo_data(&state)?;
        }
        Ok(state)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The current time, truncated to the microsecond precision the database keeps, so a
    /// record returned from a write equals the same record read back later.
    pub fn now(&self) -> DateTime<Utc> {
        let t = self.inner.clock.now();
        DateTime::<Utc>::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
    }

    /// This database's random identity (embedded in change-feed cursors). Shared by
    /// every replica of the database; see [`AppState::replica_id`] for this process's.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// This server process's random identity, made when the state is opened: the
    /// holder of the media jobs it claims (`media_jobs.claimed_by`).
    pub fn replica_id(&self) -> &str {
        &self.inner.replica_id
    }

    /// Runs `f` with the writer connection, blocking the calling thread. For start-up
    /// work, background jobs and tests; handlers use [`AppState::read`],
    /// [`AppState::write`] or [`AppState::run`].
    pub fn with_conn<T: Send>(&self, f: impl FnOnce(&mut Connection) -> T + Send) -> T {
        self.inner.storage.with_writer(f)
    }

    /// Runs database work on the writer connection, on the blocking pool (for writes
    /// that manage their own transaction; most writes use [`AppState::write`]).
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.inner.storage.with_writer_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs reads on a pooled read connection, in one snapshot, on the blocking pool.
    /// They never wait for the writer, and see every write answered before they began.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let storage = Arc::clone(&self.inner.storage);
        tokio::task::spawn_blocking(move || storage.read(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs a write in the next group commit ([`storage`]): `f` runs in its own savepoint
    /// of a transaction shared with the writes queued at the same time, and its result
    /// is answered only once that transaction is durable. An error from `f` rolls back
    /// only what `f` wrote.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.inner.storage.write(f).await
    }

    /// How many group commits ran and how many writes they held.
    pub fn commit_stats(&self) -> storage::CommitStats {
        self.inner.storage.commit_stats()
    }

    /// The media directory of the configuration (where media files are unless
    /// `media_url` names another store; see [`AppState::media`]).
    pub fn media_dir(&self) -> PathBuf {
        self.inner.media_dir.clone()
    }

    /// Where generated media files are written and served from.
    pub fn media(&self) -> &media_store::MediaStore {
        &self.inner.media
    }

    pub fn user_limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.user_limiter
    }

    pub fn ip_limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.ip_limiter
    }

    /// The live fault injection.
    pub fn faults(&self) -> &faults::Faults {
        &self.inner.faults
    }

    /// This process's media work (its worker's wake-up, what it is running).
    pub fn jobs(&self) -> &Arc<media_jobs::Jobs> {
        &self.inner.jobs
    }

    /// Starts this process's media worker on the current tokio runtime ([`serve`] does;
    /// in-process tests may). It runs until the returned handle is stopped or dropped.
    pub fn start_media_worker(&self) -> media::MediaWorker {
        media::MediaWorker::start(self)
    }

    /// Resolves once this process runs no media job and no queued job is claimable by it
    /// (for tests). Claimable jobs are run here if the worker has not taken them (or
    /// none runs), so it also works without [`AppState::start_media_worker`]. A job
    /// another live replica holds is not waited for.
    pub async fn wait_for_media(&self) {
        let never = tokio_util::sync::CancellationToken::new();
        loop {
            self.inner.jobs.wait_idle().await;
            if media::run_queued_jobs(self, &never).await == 0 {
                // The worker may have claimed the last one meanwhile.
                self.inner.jobs.wait_idle().await;
                return;
            }
        }
    }

    /// Prunes tombstones older than the configured horizon (what the periodic task
    /// does). Blocking.
    pub fn prune_tombstones(&self) -> Result<sync::PruneReport, ApiError> {
        let now = self.now();
        let horizon = self.inner.config.tombstone_horizon;
        let media = self.media().clone();
        self.with_conn(|conn| sync::prune_tombstones(conn, &media, now, horizon))
    }

    /// The OpenAPI document as served (and committed).
    pub fn openapi_text(&self) -> &str {
        self.inner.openapi.get_or_init(routes::openapi_text)
    }

    pub(crate) fn dummy_hash(&self) -> &str {
        self.inner.dummy_hash.get_or_init(|| {
            auth::hash_password(&self.inner.config, "not-a-real-password-just-for-timing")
                .unwrap_or_default()
        })
    }
}

/// The whole HTTP API, built from [`routes::table`].
pub fn app(state: AppState) -> Router {
    let body_guard = http::BodyGuard {
        limit: state.config().body_limit,
        read_timeout: state.config().body_read_timeout,
    };
    let body_limit = body_guard.limit;
    let fault_control = state.config().enable_fault_control;
    let mut router: Router<AppState> = Router::new();
    for route in routes::table() {
        if route.fault_control_only && !fault_control {
            continue;
        }
        let handler = if route.ip_limited {
            route
                .handler
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    auth::ip_rate_limit,
                ))
        } else {
            route.handler
        };
        router = router.route(route.path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            body_guard,
            http::body_guard,
        ))
        .layer(axum::middleware::map_response(ensure_json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(|req: &Request<_>, _span: &tracing::Span| {
                    tracing::debug!(method = %req.method(), uri = %req.uri(), "request");
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish and returns. Connections get the header-read timeout of the configuration
/// ([`http::serve_connections`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    let pruner = tokio::spawn(prune_periodically(state.clone()));
    let worker = state.start_media_worker();
    let header_read_timeout = state.config().header_read_timeout;
    let result =
        http::serve_connections(listener, app(state.clone()), header_read_timeout, shutdown).await;
    pruner.abort();
    // Let the running media job finish (bounded); queued ones stay in the database for
    // the next start or another replica.
    if !worker.stop(STOP_GRACE).await {
        tracing::warn!("a media job was still running at shutdown");
    }
    result?;
    tracing::info!("server on {addr} stopped");
    Ok(())
}

/// Prunes old tombstones every `prune_interval` (first run right at start).
async fn prune_periodically(state: AppState) {
    let mut tick = tokio::time::interval(state.config().prune_interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.prune_tombstones()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "pruning tombstones failed"),
            Err(e) => tracing::error!(error = %e, "pruning task panicked"),
        }
    }
}

/// `GET /api/openapi.json`.
async fn openapi_json(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi_text().to_owned(),
    )
        .into_response()
}

async fn health() -> axum::Json<is_protocol::Health> {
    axum::Json(is_protocol::Health {
        status: "ok".to_owned(),
        version: VERSION.to_owned(),
    })
}

async fn not_found() -> ApiError {
    ApiError::NotFound("No such endpoint".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Safety net: any error response some layer produced without the JSON error shape
/// (axum's own rejections, a body-limit 413, ...) gets one chosen by its status.
async fn ensure_json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let fresh = error::error_response(status, error::body_for_status(status));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(panic = error::panic_text(&*err), "handler panicked");
    error::error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        error::body_for_status(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .into_response()
}

/// Waits for Ctrl-C or (on Unix) SIGTERM. For `serve`'s shutdown argument.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// How long [`testing::TestServer::stop`] waits for a graceful stop before aborting.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;

    async fn body_json(res: Response) -> serde_json::Value {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn plain_error_responses_get_the_json_shape() {
        let plain = Response::builder()
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::CONTENT_LENGTH, "6")
            .body(Body::from("nope!!"))
            .unwrap();
        let fixed = ensure_json_errors(plain).await;
        assert_eq!(fixed.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(fixed.headers()[header::CONTENT_TYPE], "application/json");
        assert!(fixed.headers().get(header::CONTENT_LENGTH).is_none());
        let v = body_json(fixed).await;
        assert_eq!(v["error"]["code"], "payload_too_large");

        let ok = Response::new(Body::from("fine"));
        let same = ensure_json_errors(ok).await;
        assert_eq!(same.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn panics_answer_a_bare_internal_error() {
        let res = panic_response(Box::new("secret detail".to_owned()));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let v = body_json(res).await;
        assert_eq!(v["error"]["code"], "internal");
        assert!(!v.to_string().contains("secret"));
    }
}
