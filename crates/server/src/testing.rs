//! A real server on a loopback socket, for tests in this crate and in others (the client
//! core's tests, the workspace integration tests).
//!
//! ```no_run
//! # async fn demo() {
//! let dir = tempfile::tempdir().unwrap();
//! let db = dir.path().join("server.sqlite3");
//! let server = story_server::testing::TestServer::start(&db).await;
//! let session = server.signup("ada@example.com").await;
//! // ... talk to server.base_url with session.token ...
//! let addr = server.addr;
//! server.stop().await; // "the server is down"
//! let server = story_server::testing::TestServer::start_on(&db, addr).await; // "back up"
//! # }
//! ```
//!
//! Dropping a `TestServer` without [`TestServer::stop`] also shuts it down, but without
//! waiting for it.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use is_protocol::{LoginRequest, SessionResponse, SignupRequest};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{serve, AppState, Config, STOP_GRACE};

/// The password [`TestServer::signup`] gives every account.
pub const TEST_PASSWORD: &str = "correct-horse-battery";

/// A running server. See the module docs.
pub struct TestServer {
    /// The bound address (with the real port when started on port 0).
    pub addr: SocketAddr,
    /// `http://<addr>`, without a trailing slash.
    pub base_url: String,
    /// The server's state, for looking at its database or its clock directly.
    pub state: AppState,
    db_path: PathBuf,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:<free port>` with the database at `db_path` (created
    /// if missing) and the cheap test password hashing ([`Config::for_tests`]).
    pub async fn start(db_path: &Path) -> TestServer {
        TestServer::start_on(db_path, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Like [`TestServer::start`] on a given address: use a stopped server's `addr` to bring
    /// it "back up" where clients expect it.
    pub async fn start_on(db_path: &Path, addr: SocketAddr) -> TestServer {
        let config = Config::for_tests(db_path);
        let state = tokio::task::spawn_blocking(move || AppState::new(config))
            .await
            .expect("opening the test server's state panicked")
            .unwrap_or_else(|e| panic!("cannot open the test server database: {e:#}"));
        TestServer::start_with(state, addr).await
    }

    /// Starts a server with a prepared state (custom config or a [`crate::ManualClock`]).
    pub async fn start_with(state: AppState, addr: SocketAddr) -> TestServer {
        let listener = bind_retrying(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot bind the test server to {addr}: {e}"));
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state.clone(), async move {
            // Resolves on `stop` and also when the TestServer is dropped.
            let _ = signal.await;
        }));
        TestServer {
            addr,
            base_url: format!("http://{addr}"),
            db_path: state.config().db_path.clone(),
            state,
            shutdown,
            task,
        }
    }

    /// `base_url` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The database file this server uses.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Shuts down gracefully (in-flight requests finish) and returns once the port no
    /// longer accepts connections.
    pub async fn stop(self) {
        let TestServer {
            addr,
            shutdown,
            mut task,
            ..
        } = self;
        let _ = shutdown.send(());
        match tokio::time::timeout(STOP_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("test server on {addr} failed: {e}"),
            Ok(Err(e)) => panic!("test server task on {addr} failed: {e}"),
            Err(_) => {
                tracing::warn!(%addr, "test server did not stop gracefully in time; aborting");
                task.abort();
                let _ = task.await;
            }
        }
        // The listener is gone once `serve` returns; make sure the OS agrees.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("test server on {addr} still accepts connections after stopping");
    }

    /// Signs up `email` (name "Test User", password [`TEST_PASSWORD`]) over HTTP.
    pub async fn signup(&self, email: &str) -> SessionResponse {
        let req = SignupRequest {
            email: email.to_owned(),
            password: TEST_PASSWORD.to_owned(),
            name: "Test User".to_owned(),
        };
        self.post_session("/api/auth/signup", &req).await
    }

    /// Signs in over HTTP.
    pub async fn login(&self, email: &str, password: &str) -> SessionResponse {
        let req = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        self.post_session("/api/auth/login", &req).await
    }

    async fn post_session(&self, path: &str, body: &impl serde::Serialize) -> SessionResponse {
        let res = reqwest::Client::new()
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            panic!("POST {path} answered {status}: {text}");
        }
        res.json()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: bad session body: {e}"))
    }
}

/// Binds with `SO_REUSEADDR`, retrying for a few seconds while the port is still taken
/// (a server that was just stopped on the same port).
async fn bind_retrying(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut attempts = 0;
    loop {
        match bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
