//! Shared set-up for the integration tests: real servers on loopback and real clients,
//! each with its own SQLite file, as separate devices would have.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use is_core::clock::SystemClock;
use is_core::rng::SplitMix64;
use is_core::sync::plan::RetryPolicy;
use is_core::transport::{BoxFuture, HttpTransport, Transport, TransportError, TransportResult};
use is_core::{Core, CoreConfig, HeroInput, HeroTrait};
use is_protocol::{ChangesResponse, Health, LoginRequest, PushRequest, PushResponse, SessionResponse, SignupRequest};
pub use story_server::testing::{TestServer, TEST_PASSWORD};

/// A scratch directory holding a server database and any number of device directories.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World { dir: tempfile::tempdir().expect("temp dir") }
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
        config.retry = RetryPolicy { base: Duration::ZERO, max: Duration::ZERO, max_attempts: 3 };
        let conn = is_core::db::open(&config.db_path()).expect("open cache");
        Core::with_parts(conn, transport, Arc::new(SystemClock), Arc::new(SplitMix64::new(seed(name))), config)
    }

    pub fn device(&self, name: &str, base_url: &str) -> Core {
        self.device_with(name, Arc::new(HttpTransport::new(base_url)))
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
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

pub fn hero(name: &str, age: u8) -> HeroInput {
    HeroInput {
        name: name.to_owned(),
        age,
        traits: vec![HeroTrait::Brave, HeroTrait::Curious],
        appearance: "Yellow raincoat".to_owned(),
        special_ability: "Finds lost things".to_owned(),
    }
}

/// Signs the device up (first device of an account) or in (the others).
pub async fn sign_up(core: &Core, email: &str) {
    core.sign_up(email, TEST_PASSWORD, "Test Parent").await.expect("sign up");
}

pub async fn sign_in(core: &Core, email: &str) {
    core.sign_in(email, TEST_PASSWORD).await.expect("sign in");
}

/// A transport that forwards to the real server but can lose answers: the server applies
/// the push, the client never hears back ("apply then fail"), as with a dropped connection.
pub struct LossyTransport {
    inner: HttpTransport,
    lose_push_answers: AtomicUsize,
    pub pushes: AtomicUsize,
}

impl LossyTransport {
    pub fn new(base_url: &str) -> Arc<LossyTransport> {
        Arc::new(LossyTransport { inner: HttpTransport::new(base_url), lose_push_answers: AtomicUsize::new(0), pushes: AtomicUsize::new(0) })
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
    fn signup<'a>(&'a self, req: &'a SignupRequest) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.signup(req)
    }
    fn login<'a>(&'a self, req: &'a LoginRequest) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.login(req)
    }
    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        self.inner.logout(token)
    }
    fn push<'a>(&'a self, token: &'a str, req: &'a PushRequest) -> BoxFuture<'a, TransportResult<PushResponse>> {
        Box::pin(async move {
            self.pushes.fetch_add(1, Ordering::SeqCst);
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
}

/// Raw REST access to the server, as a third party would have it.
pub async fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new().get(url).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}
