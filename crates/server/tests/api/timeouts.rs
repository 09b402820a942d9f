//! Over a raw socket: a body declared too big is refused from its header at once, and
//! clients that send their headers or their body too slowly are cut off (the timeouts are
//! `Config` fields, short here).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use story_server::testing::TestServer;
use story_server::{AppState, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(300);

async fn server(
    header_read_timeout: Duration,
    body_read_timeout: Duration,
) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path().join("s.sqlite3"));
    config.header_read_timeout = header_read_timeout;
    config.body_read_timeout = body_read_timeout;
    let state = AppState::new(config).unwrap();
    let server = TestServer::start_with(state, SocketAddr::from(([127, 0, 0, 1], 0))).await;
    (dir, server)
}

/// Reads until the server closes the connection (`true`) or `within` has passed
/// (`false`); returns what was read.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (bytes, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (bytes, true),
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` on a new connection and waits for the server to close it, which it
/// must do after the timeout `at_least` (and within 5 s); returns what it answered.
async fn closed_after(server: &TestServer, request: &[u8], at_least: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    s.write_all(request).await.unwrap();
    let (bytes, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}: {bytes:?}");
    assert!(
        took >= at_least.saturating_sub(Duration::from_millis(50)),
        "closed too early: {took:?}"
    );
    bytes
}

/// The status and JSON body of the one HTTP/1.1 answer in `bytes`.
fn answer(bytes: &[u8]) -> (u16, serde_json::Value) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {head:?}"));
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, body)
}

async fn still_serves(server: &TestServer) {
    let res = reqwest::get(server.url("/api/health")).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_at_once_and_the_connection_closed() {
    let (_dir, server) = server(Duration::from_secs(10), Duration::from_secs(30)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST /api/heroes HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
          Content-Length: 99999999999\r\n\r\n{}",
    )
    .await
    .unwrap();
    let (bytes, closed) = read_until_closed(&mut s, Duration::from_secs(1)).await;
    assert!(
        closed,
        "still open after {:?}: {bytes:?}",
        started.elapsed()
    );
    let (status, body) = answer(&bytes);
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
    // Just over the limit too, before any authentication.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH /api/users/me HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        story_server::DEFAULT_BODY_LIMIT + 1
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (bytes, closed) = read_until_closed(&mut s, Duration::from_secs(1)).await;
    assert!(closed);
    assert_eq!(answer(&bytes).0, 413);
    still_serves(&server).await;
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let (_dir, server) = server(SHORT, Duration::from_secs(30)).await;
    closed_after(&server, b"GET /api/health HTTP/1.1\r\nHost: te", SHORT).await;
    still_serves(&server).await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_at_the_header_timeout() {
    let (_dir, server) = server(SHORT, Duration::from_secs(30)).await;
    let s = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = s.into_split();
    let started = Instant::now();
    // One header byte every 50 ms, forever: each byte arrives well within any idle
    // timeout, but the headers never end.
    let trickle = tokio::spawn(async move {
        let head = b"GET /api/health HTTP/1.1\r\nHost: test\r\nX-Slow: ";
        for b in head.iter().chain(std::iter::repeat(&b'a')) {
            if write.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    still_serves(&server).await;
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_the_connection_closed() {
    let (_dir, server) = server(Duration::from_secs(10), SHORT).await;
    // Sign-in reads its body before anything else (no token needed).
    let request =
        b"POST /api/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\": ";
    let bytes = closed_after(&server, request, SHORT).await;
    let (status, body) = answer(&bytes);
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "request_timeout");
    still_serves(&server).await;
}
