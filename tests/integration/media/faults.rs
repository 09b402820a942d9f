//! A transport that forwards to the real server and spoils media bodies on request:
//! cut (an error mid-body), stalled (no more answer), truncated (ends early), corrupted
//! (one byte flipped), slowed. It records every media request with its `Range` offset.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use is_core::transport::{
    BoxFuture, HttpTransport, MediaBody, MediaDownload, Transport, TransportError, TransportResult,
};
use is_protocol::{
    ChangesResponse, Health, LoginRequest, PushRequest, PushResponse, SessionResponse,
    SignupRequest,
};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// The connection breaks after this many body bytes (the server is still there).
    CutAfter(u64),
    /// The answer stops after this many bytes and never resumes (a timeout).
    StallAfter(u64),
    /// The body ends cleanly after this many bytes: shorter than announced.
    Truncate(u64),
    /// One byte in the middle of the first chunk is flipped.
    Corrupt,
}

pub struct MediaFaults {
    inner: HttpTransport,
    plan: Mutex<HashMap<String, VecDeque<Fault>>>,
    requests: Mutex<Vec<(String, u64)>>,
    delay: Mutex<Duration>,
    offline: AtomicBool,
}

impl MediaFaults {
    pub fn new(base_url: &str) -> Arc<MediaFaults> {
        Arc::new(MediaFaults {
            inner: HttpTransport::new(base_url),
            plan: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            offline: AtomicBool::new(false),
        })
    }

    /// The next answers for `path`, one fault each (then clean ones).
    pub fn plan(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        self.plan
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(faults);
    }

    /// Every media request so far: (path, the offset it asked from).
    pub fn requests(&self) -> Vec<(String, u64)> {
        self.requests.lock().unwrap().clone()
    }

    /// The offsets of the requests for `path`.
    pub fn requests_for(&self, path: &str) -> Vec<u64> {
        self.requests()
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, from)| from)
            .collect()
    }

    pub fn clear_requests(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// A pause before each chunk (keeps a download in flight).
    pub fn slow_chunks(&self, by: Duration) {
        *self.delay.lock().unwrap() = by;
    }

    /// Every request fails as if the network were gone.
    pub fn go_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    fn check(&self) -> TransportResult<()> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(TransportError::Unreachable(
                "the test took the network".into(),
            ));
        }
        Ok(())
    }
}

struct Spoiled {
    inner: Box<dyn MediaBody>,
    fault: Option<Fault>,
    seen: u64,
    delay: Duration,
}

impl MediaBody for Spoiled {
    fn chunk(&mut self) -> BoxFuture<'_, TransportResult<Option<bytes::Bytes>>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let limit = match self.fault {
                Some(Fault::CutAfter(n) | Fault::StallAfter(n) | Fault::Truncate(n)) => Some(n),
                _ => None,
            };
            if let Some(n) = limit {
                if self.seen >= n {
                    return match self.fault {
                        Some(Fault::CutAfter(_)) => Err(TransportError::Protocol(
                            "connection reset by the test".into(),
                        )),
                        Some(Fault::StallAfter(_)) => Err(TransportError::Timeout),
                        _ => Ok(None),
                    };
                }
            }
            let Some(mut chunk) = self.inner.chunk().await? else {
                return Ok(None);
            };
            if let Some(n) = limit {
                let room = (n - self.seen) as usize;
                if chunk.len() > room {
                    chunk = chunk.slice(..room);
                }
            }
            if matches!(self.fault, Some(Fault::Corrupt)) && !chunk.is_empty() {
                let mut bytes = chunk.to_vec();
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0xff;
                chunk = bytes.into();
                self.fault = None;
            }
            self.seen += chunk.len() as u64;
            Ok(Some(chunk))
        })
    }
}

impl Transport for MediaFaults {
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }
    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        Box::pin(async move {
            self.check()?;
            self.inner.health().await
        })
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
            self.check()?;
            self.inner.push(token, req).await
        })
    }
    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        Box::pin(async move {
            self.check()?;
            self.inner.changes(token, cursor, limit).await
        })
    }
    fn get_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(async move {
            self.check()?;
            self.inner.get_json(token, path).await
        })
    }
    fn post_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        body: &'a serde_json::Value,
    ) -> BoxFuture<'a, TransportResult<serde_json::Value>> {
        Box::pin(async move {
            self.check()?;
            self.inner.post_json(token, path, body).await
        })
    }
    fn media<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        from: u64,
        if_range: Option<&'a str>,
    ) -> BoxFuture<'a, TransportResult<MediaDownload>> {
        Box::pin(async move {
            self.check()?;
            self.requests.lock().unwrap().push((path.to_owned(), from));
            let fault = self
                .plan
                .lock()
                .unwrap()
                .get_mut(path)
                .and_then(VecDeque::pop_front);
            let mut dl = self.inner.media(token, path, from, if_range).await?;
            dl.body = Box::new(Spoiled {
                inner: dl.body,
                fault,
                seen: 0,
                delay: *self.delay.lock().unwrap(),
            });
            Ok(dl)
        })
    }
}
