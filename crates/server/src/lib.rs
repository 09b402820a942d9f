//! `story-server`: the reference backend of Infinite Stories (SPEC.md section 6).
//!
//! - [`Config`] says where the database is and how expensive passwords are;
//! - [`AppState`] owns the database connection and the clock;
//! - [`app`] builds the axum [`Router`] (usable in-process with `tower::ServiceExt`);
//! - [`serve`] runs it on a listener until a shutdown future resolves;
//! - [`testing::TestServer`] runs it on a real loopback socket for tests.
//!
//! Storage is one SQLite connection behind a mutex. Serialising every database access is
//! deliberate: each write takes the next value of the global sequence *and commits* before
//! the next write starts, so the change feed can never hand out seq N+1 while seq N is
//! still uncommitted (which would make a reader skip N forever).

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod auth;
pub mod clock;
pub mod db;
pub mod demo;
pub mod error;
pub mod heroes;
pub mod store;
pub mod sync;
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ApiError;

/// The server's version, reported by `GET /api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest request body accepted (1 MiB); larger ones get 413 `payload_too_large`.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Server settings (everything but the listen address, which belongs to the listener).
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file; created and migrated on start.
    pub db_path: PathBuf,
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
}

impl Config {
    /// OWASP's recommended Argon2id setting: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19_456;
    pub const DEFAULT_ARGON2_ITERATIONS: u32 = 2;
    pub const DEFAULT_TOKEN_TTL_HOURS: u32 = 30 * 24;

    /// Production defaults with the database at `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            db_path: db_path.into(),
            token_ttl: chrono::Duration::hours(Self::DEFAULT_TOKEN_TTL_HOURS as i64),
            argon2_memory_kib: Self::DEFAULT_ARGON2_MEMORY_KIB,
            argon2_iterations: Self::DEFAULT_ARGON2_ITERATIONS,
            demo: false,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Like [`Config::new`] with the cheapest Argon2 cost, so tests sign up in microseconds.
    pub fn for_tests(db_path: impl Into<PathBuf>) -> Config {
        Config {
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            ..Config::new(db_path)
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
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    instance_id: String,
    /// A hash to verify against when a login names an unknown email, so that answer takes
    /// as long as a wrong password does.
    dummy_hash: OnceLock<String>,
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
        let conn = db::open(&config.db_path)?;
        let instance_id = db::instance_id(&conn)?;
        let state = AppState {
            inner: Arc::new(Inner {
                config,
                conn: Arc::new(Mutex::new(conn)),
                clock,
                instance_id,
                dummy_hash: OnceLock::new(),
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

    /// This database's random identity (embedded in change-feed cursors).
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// Runs `f` with the connection, blocking the calling thread. For start-up work and
    /// tests; handlers use [`AppState::run`].
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let mut conn = self
            .inner
            .conn
            .lock()
            // A panic mid-transaction rolled the transaction back when it unwound, so the
            // connection is still consistent.
            .unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }

    /// Runs database work on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.with_conn(f))
            .await
            .map_err(ApiError::internal)?
    }

    pub(crate) fn dummy_hash(&self) -> &str {
        self.inner.dummy_hash.get_or_init(|| {
            auth::hash_password(&self.inner.config, "not-a-real-password-just-for-timing")
                .unwrap_or_default()
        })
    }
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config().body_limit;
    Router::new()
        .route("/api/health", get(health))
        .route("/api/auth/signup", post(auth::signup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/session", get(auth::session))
        .route("/api/heroes", get(heroes::list).post(heroes::create))
        .route(
            "/api/heroes/{id}",
            get(heroes::get)
                .patch(heroes::update)
                .delete(heroes::delete),
        )
        .route("/api/sync/push", post(sync::push))
        .route("/api/sync/changes", get(sync::changes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
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
/// finish and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("server on {addr} stopped");
    Ok(())
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
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic)");
    tracing::error!(panic = what, "handler panicked");
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
