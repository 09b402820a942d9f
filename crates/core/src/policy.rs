//! Cache policies (SPEC.md section 4), implemented once for every read.
//!
//! A read is a cache lookup and a network fetch (which also stores what it fetched);
//! [`read`] combines them by policy. [`CachePolicy::CacheAndNetwork`] answers from the
//! cache at once and hands the fetch's result to a callback (the core emits it as a
//! [`crate::CoreEvent::Refreshed`]); [`CachePolicy::NetworkFirst`] falls back to the
//! saved copy when the server is out of reach and says so in [`Read::saved_copy`].

use std::future::Future;

use serde::Serialize;

use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CachePolicy {
    /// Only the cache; a miss is "not available offline".
    CacheOnly,
    /// Only the server; nothing is served from the cache.
    NetworkOnly,
    /// The cache if it has the value, else the server.
    CacheFirst,
    /// The server, falling back to the saved copy when it cannot be reached.
    NetworkFirst,
    /// The cache at once, then the server's value as an event.
    CacheAndNetwork,
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReadSource {
    Cache,
    Network,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Read<T> {
    pub value: T,
    pub source: ReadSource,
    /// Set when a network-first read served the saved copy instead ("showing saved
    /// copy"): why the server's could not be had.
    pub saved_copy: Option<String>,
    /// A refreshed value will follow as an event (cacheAndNetwork).
    pub refreshing: bool,
}

impl<T> Read<T> {
    pub fn cache(value: T) -> Self {
        Read {
            value,
            source: ReadSource::Cache,
            saved_copy: None,
            refreshing: false,
        }
    }

    pub fn network(value: T) -> Self {
        Read {
            value,
            source: ReadSource::Network,
            saved_copy: None,
            refreshing: false,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Read<U> {
        Read {
            value: f(self.value),
            source: self.source,
            saved_copy: self.saved_copy,
            refreshing: self.refreshing,
        }
    }
}

/// Whether a failed fetch should fall back to the saved copy: the server could not be
/// reached or could not answer, or the device cannot ask it (offline, signed out). A
/// definite answer (not found, invalid) is not hidden behind an old copy.
pub fn can_fall_back(e: &CoreError) -> bool {
    match e {
        CoreError::Transport(t) => {
            t.is_transient() || t.status().is_some_and(|s| s == 401 || s == 403)
        }
        CoreError::NotSignedIn => true,
        CoreError::Server { status, .. } => *status >= 500 || *status == 401 || *status == 429,
        _ => false,
    }
}

/// One read by `policy`. `cache` looks the value up locally; `network` fetches it (and
/// stores it locally). For [`CachePolicy::CacheAndNetwork`] with a cached value, the
/// fetch runs in the background and its result goes to `refreshed`.
pub async fn read<T, C, N, F>(
    policy: CachePolicy,
    cache: C,
    network: N,
    refreshed: F,
) -> Result<Read<T>>
where
    T: Send + 'static,
    C: FnOnce() -> Result<Option<T>>,
    N: Future<Output = Result<T>> + Send + 'static,
    F: FnOnce(Result<T>) + Send + 'static,
{
    match policy {
        CachePolicy::CacheOnly => match cache()? {
            Some(v) => Ok(Read::cache(v)),
            None => Err(CoreError::NotCached),
        },
        CachePolicy::NetworkOnly => Ok(Read::network(network.await?)),
        CachePolicy::CacheFirst => match cache()? {
            Some(v) => Ok(Read::cache(v)),
            None => Ok(Read::network(network.await?)),
        },
        CachePolicy::NetworkFirst => match network.await {
            Ok(v) => Ok(Read::network(v)),
            Err(e) if can_fall_back(&e) => match cache()? {
                Some(v) => Ok(Read {
                    saved_copy: Some(e.to_string()),
                    ..Read::cache(v)
                }),
                None => Err(e),
            },
            Err(e) => Err(e),
        },
        CachePolicy::CacheAndNetwork => match cache()? {
            Some(v) => {
                tokio::spawn(async move { refreshed(network.await) });
                Ok(Read {
                    refreshing: true,
                    ..Read::cache(v)
                })
            }
            None => Ok(Read::network(network.await?)),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use is_protocol::ErrorBody;

    use super::*;
    use crate::transport::TransportError;

    /// A tiny in-process "server": a value, or a failure of a given kind, and a count of
    /// how often it was asked.
    #[derive(Clone)]
    struct FakeServer {
        answer: Arc<Mutex<std::result::Result<u32, TransportError>>>,
        calls: Arc<AtomicUsize>,
        /// What a successful fetch stores in the cache.
        store: Arc<Mutex<Option<u32>>>,
    }

    #[derive(Clone, Copy, Debug)]
    enum Net {
        Online(u32),
        Offline,
        Failing,
        NotFound,
    }

    impl FakeServer {
        fn new(net: Net, cached: Option<u32>) -> Self {
            let answer = match net {
                Net::Online(v) => Ok(v),
                Net::Offline => Err(TransportError::Unreachable("connection refused".into())),
                Net::Failing => Err(TransportError::Http {
                    status: 503,
                    body: ErrorBody::new("unavailable", "try later"),
                    retry_after: None,
                }),
                Net::NotFound => Err(TransportError::Http {
                    status: 404,
                    body: ErrorBody::new("not_found", "gone"),
                    retry_after: None,
                }),
            };
            FakeServer {
                answer: Arc::new(Mutex::new(answer)),
                calls: Arc::default(),
                store: Arc::new(Mutex::new(cached)),
            }
        }

        fn cache(&self) -> impl FnOnce() -> Result<Option<u32>> {
            let store = self.store.clone();
            move || Ok(*store.lock().unwrap())
        }

        fn fetch(&self) -> impl Future<Output = Result<u32>> + Send + 'static {
            let me = self.clone();
            async move {
                me.calls.fetch_add(1, Ordering::SeqCst);
                let v = me
                    .answer
                    .lock()
                    .unwrap()
                    .clone()
                    .map_err(CoreError::from_transport)?;
                *me.store.lock().unwrap() = Some(v);
                Ok(v)
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    /// (value, source, saved copy?, refreshing?) or the error code.
    type Got = std::result::Result<(u32, ReadSource, bool, bool), String>;
    /// (policy, network, cached value, expected, server calls, refreshed value)
    type Case = (CachePolicy, Net, Option<u32>, Got, usize, Option<Got>);

    async fn run(policy: CachePolicy, net: Net, cached: Option<u32>) -> (Got, usize, Option<Got>) {
        let server = FakeServer::new(net, cached);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let got = read(
            policy,
            server.cache(),
            server.fetch(),
            move |r: Result<u32>| {
                let _ = tx.send(
                    r.map(|v| (v, ReadSource::Network, false, false))
                        .map_err(|e| e.code().to_owned()),
                );
            },
        )
        .await
        .map(|r| (r.value, r.source, r.saved_copy.is_some(), r.refreshing))
        .map_err(|e| e.code().to_owned());
        let refreshed = match &got {
            Ok((_, _, _, true)) => Some(rx.await.expect("the refresh reports")),
            _ => None,
        };
        (got, server.calls(), refreshed)
    }

    #[tokio::test]
    async fn every_policy_online_offline_and_with_a_failing_server() {
        use CachePolicy::*;
        use Net::*;
        use ReadSource::*;
        let ok = |v, s, saved, refreshing| -> Got { Ok((v, s, saved, refreshing)) };
        let err = |c: &str| -> Got { Err(c.to_owned()) };
        // (policy, network, cached, expected, server calls, refreshed value)
        let cases: Vec<Case> = vec![
            (
                CacheOnly,
                Online(2),
                Some(1),
                ok(1, Cache, false, false),
                0,
                None,
            ),
            (CacheOnly, Online(2), None, err("not_cached"), 0, None),
            (
                CacheOnly,
                Offline,
                Some(1),
                ok(1, Cache, false, false),
                0,
                None,
            ),
            (
                NetworkOnly,
                Online(2),
                Some(1),
                ok(2, Network, false, false),
                1,
                None,
            ),
            (NetworkOnly, Offline, Some(1), err("offline"), 1, None),
            (NetworkOnly, Failing, Some(1), err("unavailable"), 1, None),
            (
                CacheFirst,
                Online(2),
                Some(1),
                ok(1, Cache, false, false),
                0,
                None,
            ),
            (
                CacheFirst,
                Online(2),
                None,
                ok(2, Network, false, false),
                1,
                None,
            ),
            (
                CacheFirst,
                Offline,
                Some(1),
                ok(1, Cache, false, false),
                0,
                None,
            ),
            (CacheFirst, Offline, None, err("offline"), 1, None),
            (CacheFirst, Failing, None, err("unavailable"), 1, None),
            (
                NetworkFirst,
                Online(2),
                Some(1),
                ok(2, Network, false, false),
                1,
                None,
            ),
            (
                NetworkFirst,
                Offline,
                Some(1),
                ok(1, Cache, true, false),
                1,
                None,
            ),
            (
                NetworkFirst,
                Failing,
                Some(1),
                ok(1, Cache, true, false),
                1,
                None,
            ),
            (NetworkFirst, Offline, None, err("offline"), 1, None),
            (NetworkFirst, NotFound, Some(1), err("not_found"), 1, None),
            (
                CacheAndNetwork,
                Online(2),
                Some(1),
                ok(1, Cache, false, true),
                1,
                Some(ok(2, Network, false, false)),
            ),
            (
                CacheAndNetwork,
                Online(2),
                None,
                ok(2, Network, false, false),
                1,
                None,
            ),
            (
                CacheAndNetwork,
                Offline,
                Some(1),
                ok(1, Cache, false, true),
                1,
                Some(err("offline")),
            ),
            (
                CacheAndNetwork,
                Failing,
                Some(1),
                ok(1, Cache, false, true),
                1,
                Some(err("unavailable")),
            ),
            (CacheAndNetwork, Offline, None, err("offline"), 1, None),
        ];
        for (policy, net, cached, want, want_calls, want_refresh) in cases {
            let (got, calls, refreshed) = run(policy, net, cached).await;
            let what = format!("{policy:?} {net:?} cached={cached:?}");
            assert_eq!(got, want, "{what}");
            assert_eq!(calls, want_calls, "{what}: server calls");
            assert_eq!(refreshed, want_refresh, "{what}: refresh");
        }
    }

    #[test]
    fn fallback_only_when_the_server_cannot_answer() {
        let http = |status| {
            CoreError::Transport(TransportError::Http {
                status,
                body: ErrorBody::new("x", "y"),
                retry_after: None,
            })
        };
        assert!(can_fall_back(&CoreError::Transport(
            TransportError::Timeout
        )));
        assert!(can_fall_back(&http(503)));
        assert!(can_fall_back(&http(401)));
        assert!(can_fall_back(&CoreError::NotSignedIn));
        assert!(!can_fall_back(&http(404)));
        assert!(!can_fall_back(&http(422)));
        assert!(!can_fall_back(&CoreError::Validation(vec![])));
    }
}
