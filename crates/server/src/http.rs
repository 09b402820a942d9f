//! The HTTP/1 connection: how long a client may take to send a request, and how big a
//! body may say it is.
//!
//! - [`serve_connections`] is the accept loop (instead of `axum::serve`, which has no
//!   timeouts): each connection gets hyper's header-read timeout
//!   ([`crate::Config::header_read_timeout`]), so a client that sends its headers slowly
//!   (slowloris) or not at all is disconnected; between two requests of a kept-alive
//!   connection the same timeout closes it when idle. Shutdown is graceful: in-flight
//!   requests finish, idle connections close.
//! - [`body_guard`] (a middleware of [`crate::app`]) answers 413 `payload_too_large` from
//!   a `Content-Length` over the limit before reading any of the body, and gives the
//!   body a deadline ([`crate::Config::body_read_timeout`], counted from the first time
//!   the server waits for body data): a body that has not arrived by then is answered
//!   408 `request_timeout`. Both answers close the connection, so the rest of a body that
//!   will never be read does not hold it open.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::error::ApiError;

// ---------------------------------------------------------------------------------------
// Accepting connections

/// Serves `router` on `listener` (HTTP/1.1) until `shutdown` resolves; then stops
/// accepting, lets in-flight requests finish and returns once every connection is
/// closed. Each request carries the peer address as `ConnectInfo<SocketAddr>`.
/// `header_read_timeout` of zero turns the header timeout off.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout((!header_read_timeout.is_zero()).then_some(header_read_timeout));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small; do not let Nagle's algorithm hold them back.
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed `accept`: a connection that went away before it was accepted is nothing; for
/// anything else (out of file descriptors, ...) wait a moment instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

// ---------------------------------------------------------------------------------------
// Request bodies

/// What [`body_guard`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct BodyGuard {
    /// Largest body accepted, in bytes.
    pub limit: usize,
    /// How long the whole body may take to arrive once the server waits for it (zero:
    /// no limit).
    pub read_timeout: Duration,
}

/// The middleware: 413 at once for a declared `Content-Length` over the limit, and the
/// body deadline (408). See the module documentation.
pub async fn body_guard(State(guard): State<BodyGuard>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > guard.limit as u64) {
        return closing(ApiError::PayloadTooLarge.into_response());
    }
    let expired = Arc::new(AtomicBool::new(false));
    let req = if guard.read_timeout.is_zero() {
        req
    } else {
        req.map(|inner| {
            Body::new(DeadlineBody {
                inner,
                timeout: guard.read_timeout,
                deadline: None,
                expired: expired.clone(),
            })
        })
    };
    let res = next.run(req).await;
    if expired.load(Ordering::SeqCst) {
        // Whatever the handler made of the failed read, the answer is the timeout.
        return closing(ApiError::RequestTimeout.into_response());
    }
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return closing(res);
    }
    res
}

/// `res` with `Connection: close`: the rest of its request's body is never read.
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// A request body that fails once it has taken longer than `timeout` to arrive, counted
/// from the first time it had no data ready; `expired` tells the middleware.
struct DeadlineBody {
    inner: Body,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
