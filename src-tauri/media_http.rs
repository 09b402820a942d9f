//! Narration over loopback HTTP, for the web views that cannot play media from a custom
//! scheme.
//!
//! WebKitGTK (Linux) hands `<audio>` sources to GStreamer, which has no handler for the
//! app's `media://` scheme: a narration from there fails with `MEDIA_ERR_SRC_NOT_SUPPORTED`
//! before a byte is read (tauri-apps/tauri#3725). Pictures are unaffected (the web view
//! loads them itself). So on Linux the app also answers media on `127.0.0.1`, on a port
//! the OS picks, under a path prefix drawn at random for each launch:
//! `http://127.0.0.1:<port>/<secret>/audio/<story id>`. The answers are the core's
//! ([`is_core::Core::media_respond`]), exactly as on `media://`: `Range` for seeking, the
//! content-type allow-list, `nosniff`.
//!
//! Only this user's web view learns the secret (through the `media_stream_base`
//! command), so another local process or a web page cannot read the cache; a request
//! whose `Host` is not this address is refused (no DNS rebinding). Only `GET` and `HEAD`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, HOST, RANGE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use is_core::media::serve::MediaResponse;
use is_core::Core;

static BASE: OnceLock<String> = OnceLock::new();

/// Where the web view finds narration over HTTP (`http://127.0.0.1:<port>/<secret>`),
/// once [`start`] ran; `None` where the `media://` scheme plays audio itself.
pub fn base() -> Option<String> {
    BASE.get().cloned()
}

/// Starts answering on a loopback port the OS picks, for as long as the app runs.
pub async fn start(core: Core) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    // 244 random bits (two v4 UUIDs), in the path rather than a header: the web view's
    // media loader sends no headers we choose.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let server = Server {
        core,
        host: addr.to_string(),
        prefix: format!("/{secret}"),
    };
    let _ = BASE.set(format!("http://{addr}/{secret}"));
    tracing::info!(%addr, "narration served over loopback HTTP");
    tokio::spawn(server.run(listener));
    Ok(())
}

#[derive(Clone)]
struct Server {
    core: Core,
    /// `127.0.0.1:<port>`: the only `Host` answered.
    host: String,
    /// `/<secret>`: every path starts with it.
    prefix: String,
}

impl Server {
    async fn run(self, listener: tokio::net::TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(%e, "loopback media: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let server = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.answer(req, peer).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%e, "loopback media: connection ended");
                }
            });
        }
    }

    async fn answer(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let head = req.method() == Method::HEAD;
        let path = match check(&req, &self.host, &self.prefix) {
            Ok(path) => path,
            Err(status) => {
                tracing::debug!(%peer, %status, "loopback media: refused");
                return plain(status);
            }
        };
        let range = req
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let answer = self.core.media_respond(&path, range.as_deref()).await;
        to_http(answer, head)
    }
}

/// The core's media path of an acceptable request (`/audio/<id>`), or the status that
/// refuses it.
fn check<B>(req: &Request<B>, host: &str, prefix: &str) -> Result<String, StatusCode> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    if req.headers().get(HOST).and_then(|h| h.to_str().ok()) != Some(host) {
        return Err(StatusCode::FORBIDDEN);
    }
    match req.uri().path().strip_prefix(prefix) {
        Some(rest) if rest.starts_with('/') => Ok(rest.to_owned()),
        _ => Err(StatusCode::NOT_FOUND),
    }
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

fn to_http(answer: MediaResponse, head: bool) -> Response<Full<Bytes>> {
    let mut res = plain(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in &answer.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                res.headers_mut().insert(name, value);
            }
            _ => {
                tracing::warn!(header = name, "an unsendable media header");
                return plain(StatusCode::INTERNAL_SERVER_ERROR);
            }
        }
    }
    if !head {
        *res.body_mut() = Full::new(Bytes::from(answer.body));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, host: &str, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, host)
            .body(())
            .expect("a request")
    }

    #[test]
    fn only_get_and_head_on_this_host_under_the_secret() {
        let (host, prefix) = ("127.0.0.1:4000", "/s3cr3t");
        let ok = |m, h, p| check(&req(m, h, p), host, prefix);
        assert_eq!(
            ok(Method::GET, host, "/s3cr3t/audio/x").as_deref(),
            Ok("/audio/x")
        );
        assert_eq!(
            ok(Method::HEAD, host, "/s3cr3t/audio/x").as_deref(),
            Ok("/audio/x")
        );
        assert_eq!(
            ok(Method::POST, host, "/s3cr3t/audio/x"),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            ok(Method::GET, "evil.example:4000", "/s3cr3t/audio/x"),
            Err(StatusCode::FORBIDDEN),
            "a rebound name is refused"
        );
        assert_eq!(
            ok(Method::GET, host, "/audio/x"),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            ok(Method::GET, host, "/s3cr3tX/audio/x"),
            Err(StatusCode::NOT_FOUND),
            "the secret is a whole segment"
        );
        assert_eq!(ok(Method::GET, host, "/s3cr3t"), Err(StatusCode::NOT_FOUND));
    }

    #[test]
    fn a_head_answer_has_the_headers_and_no_body() {
        let answer = || MediaResponse {
            status: 206,
            headers: vec![
                ("Content-Type", "audio/wav".into()),
                ("Content-Range", "bytes 0-1/10".into()),
            ],
            body: vec![1, 2],
        };
        let res = to_http(answer(), true);
        assert_eq!(res.status(), 206);
        assert_eq!(res.headers()["content-range"], "bytes 0-1/10");
        let res = to_http(answer(), false);
        assert_eq!(res.headers()["content-type"], "audio/wav");
    }

    #[test]
    fn an_unsendable_header_is_a_500_not_a_panic() {
        let res = to_http(
            MediaResponse {
                status: 200,
                headers: vec![("Content-Type", "bad\nvalue".into())],
                body: Vec::new(),
            },
            false,
        );
        assert_eq!(res.status(), 500);
    }
}
