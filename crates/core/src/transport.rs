//! The injected HTTP transport. The sync engine talks to the server only through
//! [`Transport`]; [`HttpTransport`] is the real one (reqwest), and tests may use any other.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use is_protocol::{
    ChangesResponse, ErrorBody, ErrorEnvelope, Health, LoginRequest, PushRequest, PushResponse,
    SessionResponse, SignupRequest,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type TransportResult<T> = Result<T, TransportError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (no network, server down, DNS failure).
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    /// The request went out but no answer came in time. It may have been applied.
    #[error("the server did not answer in time")]
    Timeout,
    /// The server answered with an error status.
    #[error("the server answered {status}: {}", .body.message)]
    Http {
        status: u16,
        body: ErrorBody,
        retry_after: Option<Duration>,
    },
    /// The server answered something that is not the protocol.
    #[error("the server sent an unreadable answer: {0}")]
    Protocol(String),
}

impl TransportError {
    /// True when the failure says nothing about the request and it may simply be retried.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Unreachable(_) | TransportError::Timeout => true,
            TransportError::Http { status, .. } => {
                *status == 429 || *status == 408 || *status >= 500
            }
            // A garbled answer is most likely a proxy or a half-deployed server: retry later.
            TransportError::Protocol(_) => true,
        }
    }

    /// True when the server is out of reach (as opposed to answering with an error).
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            TransportError::Unreachable(_) | TransportError::Timeout
        )
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            TransportError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransportError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The answer to a media download ([`Transport::media`]): its headers, and its body to
/// read chunk by chunk.
pub struct MediaDownload {
    /// Where the body starts in the file: 0 when the server sent the whole file (200),
    /// the requested offset when it resumed (206).
    pub start: u64,
    /// The whole file's size, when the server said (`Content-Length` or the total of
    /// `Content-Range`).
    pub total: Option<u64>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub body: Box<dyn MediaBody>,
}

/// A download's body, read chunk by chunk: `None` at its end.
pub trait MediaBody: Send {
    fn chunk(&mut self) -> BoxFuture<'_, TransportResult<Option<bytes::Bytes>>>;
}

/// Everything the core asks of the server.
pub trait Transport: Send + Sync + 'static {
    fn base_url(&self) -> &str;
    fn health(&self) -> BoxFuture<'_, TransportResult<Health>>;
    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>>;
    fn login<'a>(
        &'a self,
        req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>>;
    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>>;
    fn push<'a>(
        &'a self,
        token: &'a str,
        req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>>;
    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>>;
    /// `GET path` (a REST resource, e.g. `/api/users/me`) as JSON.
    fn get_json<'a>(
        &'a self,
        _token: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(async move {
            Err(TransportError::Protocol(format!(
                "this transport cannot GET {path}"
            )))
        })
    }
    /// `POST path` with a JSON body (e.g. `/api/stories/generate`), answered with JSON.
    fn post_json<'a>(
        &'a self,
        _token: &'a str,
        path: &'a str,
        _body: &'a serde_json::Value,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(async move {
            Err(TransportError::Protocol(format!(
                "this transport cannot POST {path}"
            )))
        })
    }
    /// `GET path` of a media file, from byte `from` on (`Range`), but only if the file
    /// still has the ETag `if_range` (`If-Range`; otherwise the server sends it whole).
    fn media<'a>(
        &'a self,
        _token: &'a str,
        path: &'a str,
        _from: u64,
        _if_range: Option<&'a str>,
    ) -> BoxFuture<'a, TransportResult<MediaDownload>> {
        Box::pin(async move {
            Err(TransportError::Protocol(format!(
                "this transport cannot download {path}"
            )))
        })
    }
}

/// The real transport: JSON over HTTP(S) with reqwest.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    client: reqwest::Client,
    /// For media: no overall deadline (a large file on a slow line takes its time), but
    /// a stalled read fails.
    media: reqwest::Client,
}

impl HttpTransport {
    pub fn new(base_url: &str) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!(
                    "infinite-stories-desktop/",
                    env!("CARGO_PKG_VERSION")
                ))
        };
        let built = "a reqwest client with static settings always builds";
        let client = builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect(built);
        let media = builder()
            .read_timeout(Duration::from_secs(30))
            .build()
            .expect(built);
        HttpTransport {
            base: base_url.trim_end_matches('/').to_owned(),
            client,
            media,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> TransportResult<T> {
        let resp = req.send().await.map_err(map_reqwest_error)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(map_reqwest_error)?;
        if status.is_success() {
            let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(body)
                .map_err(|e| TransportError::Protocol(e.to_string()));
        }
        Err(TransportError::Http {
            status: status.as_u16(),
            body: error_body(status, &bytes),
            retry_after,
        })
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> TransportResult<T> {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        self.send(req).await
    }
}

/// `Retry-After` in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

struct HttpBody(reqwest::Response);

impl MediaBody for HttpBody {
    fn chunk(&mut self) -> BoxFuture<'_, TransportResult<Option<bytes::Bytes>>> {
        Box::pin(async move { self.0.chunk().await.map_err(map_reqwest_error) })
    }
}

/// `bytes a-b/total` → (a, total); `total` may be `*`.
fn content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

fn map_reqwest_error(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() || e.is_request() {
        TransportError::Unreachable(root_cause(&e))
    } else if e.is_decode() || e.is_body() {
        TransportError::Protocol(root_cause(&e))
    } else {
        TransportError::Unreachable(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The server's `{error: {...}}` body, or a generic one if it sent something else.
fn error_body(status: StatusCode, bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice::<ErrorEnvelope>(bytes)
        .map(|e| e.error)
        .unwrap_or_else(|_| {
            ErrorBody::new(
                "http",
                status
                    .canonical_reason()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            )
        })
}

impl Transport for HttpTransport {
    fn base_url(&self) -> &str {
        &self.base
    }

    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        Box::pin(async move {
            let req = self
                .client
                .get(self.url("/api/health"))
                .timeout(Duration::from_secs(5));
            self.send(req).await
        })
    }

    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(self.post("/api/auth/signup", None, req))
    }

    fn login<'a>(
        &'a self,
        req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(self.post("/api/auth/login", None, req))
    }

    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        Box::pin(async move {
            let req = self
                .client
                .post(self.url("/api/auth/logout"))
                .bearer_auth(token);
            let _: serde_json::Value = self.send(req).await?;
            Ok(())
        })
    }

    fn push<'a>(
        &'a self,
        token: &'a str,
        req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>> {
        Box::pin(self.post("/api/sync/push", Some(token), req))
    }

    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        Box::pin(async move {
            let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            if let Some(cursor) = cursor {
                query.push(("cursor", cursor.to_owned()));
            }
            let req = self
                .client
                .get(self.url("/api/sync/changes"))
                .query(&query)
                .bearer_auth(token);
            self.send(req).await
        })
    }

    fn get_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(async move {
            self.send(self.client.get(self.url(path)).bearer_auth(token))
                .await
        })
    }

    fn post_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        body: &'a serde_json::Value,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(self.post(path, Some(token), body))
    }

    fn media<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        from: u64,
        if_range: Option<&'a str>,
    ) -> BoxFuture<'a, TransportResult<MediaDownload>> {
        Box::pin(async move {
            use reqwest::header;
            let mut req = self.media.get(self.url(path)).bearer_auth(token);
            if from > 0 {
                req = req.header(header::RANGE, format!("bytes={from}-"));
                if let Some(etag) = if_range {
                    req = req.header(header::IF_RANGE, etag);
                }
            }
            let resp = req.send().await.map_err(map_reqwest_error)?;
            let status = resp.status();
            let text = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let etag = text(header::ETAG);
            let content_type = text(header::CONTENT_TYPE);
            let (start, total) = match status {
                StatusCode::OK => (0, resp.content_length()),
                StatusCode::PARTIAL_CONTENT => {
                    let range = text(header::CONTENT_RANGE).unwrap_or_default();
                    match content_range(&range) {
                        Some((start, total)) if start == from => (start, total),
                        _ => {
                            return Err(TransportError::Protocol(format!(
                                "asked for bytes from {from}, got the range {range:?}"
                            )))
                        }
                    }
                }
                _ => {
                    let retry_after = retry_after(resp.headers());
                    let bytes = resp.bytes().await.map_err(map_reqwest_error)?;
                    return Err(TransportError::Http {
                        status: status.as_u16(),
                        body: error_body(status, &bytes),
                        retry_after,
                    });
                }
            };
            Ok(MediaDownload {
                start,
                total,
                etag,
                content_type,
                body: Box::new(HttpBody(resp)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let http = |status| TransportError::Http {
            status,
            body: ErrorBody::new("x", "y"),
            retry_after: None,
        };
        assert!(TransportError::Timeout.is_transient());
        assert!(TransportError::Unreachable("refused".into()).is_offline());
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(401).is_transient());
        assert!(!http(422).is_transient());
        assert!(!http(500).is_offline());
    }

    #[test]
    fn non_json_error_bodies_become_generic_errors() {
        let body = error_body(StatusCode::BAD_GATEWAY, b"<html>nginx</html>");
        assert_eq!(body.code, "http");
        assert_eq!(body.message, "Bad Gateway");
        let body = error_body(
            StatusCode::CONFLICT,
            br#"{"error":{"code":"conflict","message":"m"}}"#,
        );
        assert_eq!(body.code, "conflict");
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 10-99/100"), Some((10, Some(100))));
        assert_eq!(content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(content_range("bytes */100"), None);
        assert_eq!(content_range("items 0-1/2"), None);
        assert_eq!(content_range("bytes x-1/2"), None);
    }

    #[tokio::test]
    async fn unreachable_server_is_offline_not_a_panic() {
        // Port 9 (discard) on loopback is closed on this machine; any closed port will do.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = HttpTransport::new(&format!("http://{addr}"));
        let err = t.health().await.unwrap_err();
        assert!(err.is_offline(), "{err:?}");
    }
}
