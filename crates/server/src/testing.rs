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

/// The environment variable that runs every test server on PostgreSQL: the URL of a
/// database its user may create databases from (`postgres://postgres@127.0.0.1:5433/postgres`).
/// `scripts/pg.sh` starts such a server and sets it.
pub const TEST_DATABASE_URL_ENV: &str = "STORY_TEST_DATABASE_URL";

/// Whether the tests run against PostgreSQL ([`TEST_DATABASE_URL_ENV`] is set).
pub fn testing_postgres() -> bool {
    std::env::var(TEST_DATABASE_URL_ENV).is_ok_and(|u| !u.is_empty())
}

/// With [`TEST_DATABASE_URL_ENV`] set, the PostgreSQL database standing for the SQLite
/// file `db_path`: one per path (created on first use), so a test that restarts its
/// server on the same path finds its data again, and tests never share a database.
pub fn test_database_url(db_path: &Path) -> Option<String> {
    let admin = std::env::var(TEST_DATABASE_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())?;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(db_path.as_os_str().as_encoded_bytes());
    let name: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("test_{name}");
    let url = database_in(&admin, &name);
    let create = move || -> anyhow::Result<()> {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
            .is_some();
        if !exists {
            match client.batch_execute(&format!("CREATE DATABASE {name}")) {
                Ok(()) => {}
                // Made meanwhile by another server of the same test.
                Err(e)
                    if e.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE)
                        || e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    };
    // The sync client runs its own runtime: never inside the caller's.
    std::thread::spawn(create)
        .join()
        .expect("creating a test database panicked")
        .unwrap_or_else(|e| {
            panic!("cannot create a test database on {TEST_DATABASE_URL_ENV}: {e:#}")
        });
    Some(url)
}

/// `url` naming the database `name` instead of its own.
fn database_in(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_names_another_database() {
        assert_eq!(
            super::database_in("postgres://u@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(
            super::database_in("postgres://u@h:5", "t1"),
            "postgres://u@h:5/t1"
        );
    }
}
