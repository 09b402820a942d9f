//! Shared set-up for the integration tests: real servers on loopback and real clients,
//! each with its own SQLite file, as separate devices would have.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;

use is_core::clock::{Clock, SystemClock};
use is_core::rng::SplitMix64;
use is_core::sync::plan::RetryPolicy;
use is_core::transport::{BoxFuture, HttpTransport, Transport, TransportError, TransportResult};
use is_core::{
    Core, CoreConfig, CustomEventInput, EventCategory, EventTone, EventType, HeroInput, HeroTrait,
    Language, StoryInput,
};
use is_protocol::{
    ChangesResponse, EntityKind, Health, LoginRequest, PushRequest, PushResponse, SessionResponse,
    SignupRequest,
};
pub use story_server::testing::{TestServer, TEST_PASSWORD};
use uuid::Uuid;

/// A scratch directory holding a server database and any number of device directories.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn server_db(&self) -> PathBuf {
        self.dir.path().join("server.sqlite3")
    }

    pub async fn start_server(&self) -> TestServer {
        TestServer::start(&self.server_db()).await
    }

    /// A device: its own cache file, talking to `base_url` through `transport`.
    pub fn device_with(&self, name: &str, transport: Arc<dyn Transport>) -> Core {
        let data_dir = self.dir.path().join(name);
        let mut config = CoreConfig::new(&data_dir, transport.base_url());
        // No waiting between attempts in tests; give up after three.
        config.retry = RetryPolicy {
            base: Duration::ZERO,
            max: Duration::ZERO,
            max_attempts: 3,
        };
        let conn = is_core::db::open(&config.db_path()).expect("open cache");
        Core::with_parts(
            conn,
            transport,
            Arc::new(SystemClock),
            Arc::new(SplitMix64::new(seed(name))),
            config,
        )
    }

    pub fn device(&self, name: &str, base_url: &str) -> Core {
        self.device_with(name, Arc::new(HttpTransport::new(base_url)))
    }

    /// A device with its own clock and retry policy (to hold rows in backoff).
    pub fn device_custom(
        &self,
        name: &str,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Core {
        let data_dir = self.dir.path().join(name);
        let mut config = CoreConfig::new(&data_dir, transport.base_url());
        config.retry = retry;
        let conn = is_core::db::open(&config.db_path()).expect("open cache");
        Core::with_parts(
            conn,
            transport,
            clock,
            Arc::new(SplitMix64::new(seed(name))),
            config,
        )
    }

    /// A server whose tombstones are pruned as soon as `prune_tombstones` runs (so that
    /// older cursors get 410).
    pub async fn start_server_pruning_at_once(&self) -> TestServer {
        let mut config = story_server::Config::for_tests(self.server_db());
        config.tombstone_horizon = chrono::Duration::zero();
        let state = tokio::task::spawn_blocking(move || story_server::AppState::new(config))
            .await
            .expect("state")
            .expect("open the server database");
        TestServer::start_with(state, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub fn device_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn hero(name: &str, age: u8) -> HeroInput {
    HeroInput {
        name: name.to_owned(),
        age,
        traits: vec![HeroTrait::Brave, HeroTrait::Curious],
        appearance: "Yellow raincoat".to_owned(),
        special_ability: "Finds lost things".to_owned(),
        ..Default::default()
    }
}

/// Signs the device up (first device of an account) or in (the others).
pub async fn sign_up(core: &Core, email: &str) {
    core.sign_up(email, TEST_PASSWORD, "Test Parent")
        .await
        .expect("sign up");
}

pub async fn sign_in(core: &Core, email: &str) {
    core.sign_in(email, TEST_PASSWORD).await.expect("sign in");
}

/// A transport that forwards to the real server but can lose answers: the server applies
/// the push, the client never hears back ("apply then fail"), as with a dropped connection.
/// It also records what each push carried.
pub struct LossyTransport {
    inner: HttpTransport,
    lose_push_answers: AtomicUsize,
    refuse_pushes: std::sync::atomic::AtomicBool,
    pub pushes: AtomicUsize,
    /// Per push request: (entity, op, row id) of each mutation.
    pub pushed: Mutex<Vec<Vec<(EntityKind, String, Uuid)>>>,
}

impl LossyTransport {
    pub fn new(base_url: &str) -> Arc<LossyTransport> {
        Arc::new(LossyTransport {
            inner: HttpTransport::new(base_url),
            lose_push_answers: AtomicUsize::new(0),
            refuse_pushes: Default::default(),
            pushes: AtomicUsize::new(0),
            pushed: Mutex::new(Vec::new()),
        })
    }

    /// What each push carried so far.
    pub fn pushed(&self) -> Vec<Vec<(EntityKind, String, Uuid)>> {
        self.pushed.lock().unwrap().clone()
    }

    /// While set, every push is answered 500 without reaching the server (the change
    /// feed still answers).
    pub fn refuse_pushes(&self, refuse: bool) {
        self.refuse_pushes.store(refuse, Ordering::SeqCst);
    }

    /// The next `n` push answers are lost after the server applied them.
    pub fn lose_next_push_answers(&self, n: usize) {
        self.lose_push_answers.store(n, Ordering::SeqCst);
    }
}

impl Transport for LossyTransport {
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }
    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        self.inner.health()
    }
    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.signup(req)
    }
    fn login<'a>(
        &'a self,
        req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.login(req)
    }
    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        self.inner.logout(token)
    }
    fn push<'a>(
        &'a self,
        token: &'a str,
        req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>> {
        Box::pin(async move {
            if self.refuse_pushes.load(Ordering::SeqCst) {
                return Err(TransportError::Http {
                    status: 500,
                    body: is_protocol::ErrorBody::new("internal", "push refused by the test"),
                    retry_after: None,
                });
            }
            self.pushes.fetch_add(1, Ordering::SeqCst);
            let carried = req
                .mutations
                .iter()
                .map(|m| (m.entity, m.op.name().to_owned(), m.id))
                .collect();
            self.pushed.lock().unwrap().push(carried);
            let answer = self.inner.push(token, req).await;
            let lose = self
                .lose_push_answers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if lose && answer.is_ok() {
                return Err(TransportError::Timeout);
            }
            answer
        })
    }
    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        self.inner.changes(token, cursor, limit)
    }
    fn get_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        self.inner.get_json(token, path)
    }
    fn post_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        body: &'a serde_json::Value,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        self.inner.post_json(token, path, body)
    }
}

/// Raw REST access to the server, as a third party would have it.
pub async fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn post_json(
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn delete(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .delete(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("DELETE")
        .status()
        .as_u16()
}

/// Sets the server's fault injection (`POST /api/_faults`).
pub async fn set_faults(server: &TestServer, patch: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/api/_faults"))
        .json(&patch)
        .send()
        .await
        .expect("POST faults");
    assert!(resp.status().is_success(), "faults: {}", resp.status());
}

/// `GET path` on the server as `email`, the JSON answer (asserting 200).
pub async fn server_get(server: &TestServer, email: &str, path: &str) -> serde_json::Value {
    let token = server.login(email, TEST_PASSWORD).await.token;
    let (status, body) = get_json(&server.url(path), &token).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The items of a `Page` the server lists at `path` (with a large limit).
pub async fn server_items<T: serde::de::DeserializeOwned>(
    server: &TestServer,
    email: &str,
    path: &str,
) -> Vec<T> {
    let body = server_get(server, email, &format!("{path}?limit=1000")).await;
    serde_json::from_value(body["items"].clone()).expect("a page")
}

pub fn story(title: &str, hero_id: Option<Uuid>) -> StoryInput {
    StoryInput {
        hero_id,
        title: title.to_owned(),
        content: format!("Once upon a time, {title} began. The end."),
        language: Language::En,
        event_type: Some(EventType::Bedtime),
        custom_event_id: None,
        is_favorite: false,
        ..Default::default()
    }
}

pub fn custom_event(title: &str) -> CustomEventInput {
    CustomEventInput {
        title: title.to_owned(),
        description: "A day to remember".to_owned(),
        prompt_seed: "balloons".to_owned(),
        keywords: vec!["party".to_owned()],
        category: EventCategory::Celebration,
        tone: EventTone::Playful,
        pictogram_emoji: "🎈".to_owned(),
        is_favorite: false,
        ..Default::default()
    }
}
