//! The media cache (SPEC.md section 10): avatars, narration and illustrations on disk,
//! there offline, within a size budget.
//!
//! - [`key`]: what an item is called (the server's URL, the UI's `avatar/<id>`) and the
//!   file it is kept in (a hash of the key: nothing can name a path outside the folder).
//! - [`index`]: the SQLite index (`media_cache`).
//! - [`fetch`]: downloads: streamed to a partial file, verified (length, and the
//!   server's ETag, which is a SHA-256 prefix), renamed into place, resumed with
//!   `Range`, one download per key, a concurrency limit, retries with backoff, progress.
//! - [`retention`]: which files go (a pure plan); [`MediaCache::evict`] applies it.
//! - [`watch`]: the startup repair and the `notify` watcher on the folder.
//! - [`serve`]: the `media://` answers (content type, `Range`) the shell hands the UI.

pub mod error;
pub mod fetch;
pub mod index;
pub mod key;
pub mod retention;
pub mod serve;
pub mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch as channel, Notify, Semaphore};

use crate::clock::Clock;
use crate::db::{meta, Db};
use crate::error::{CoreError, ErrorPayload, Result};
use crate::events::CoreEvent;
use crate::rng::Rng;
use crate::sync::plan::RetryPolicy;
use crate::transport::Transport;

pub use self::error::MediaError;
pub use self::index::KindUsage;
pub use self::key::{CacheKind, Layout, MediaRef};
pub use self::retention::{EvictionReport, Retention};

/// The settings of the media cache; every duration injectable for tests.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Ages by kind and the default size cap (the user's setting overrides the cap).
    pub retention: Retention,
    /// Downloads at once.
    pub concurrency: usize,
    /// Eviction runs this often (and at launch, and when a download crosses the cap).
    pub evict_interval: Duration,
    /// Retries of a failed download (a damaged body, a server error, a throttle).
    pub retry: RetryPolicy,
    /// Progress events at most this often per download.
    pub progress_interval: Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            retention: Retention::default(),
            concurrency: 3,
            evict_interval: Duration::from_secs(60 * 60),
            retry: RetryPolicy {
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
                max_attempts: 5,
            },
            progress_interval: Duration::from_millis(150),
        }
    }
}

/// A complete file, ready to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub path: PathBuf,
    pub size: u64,
    pub content_type: String,
}

/// An item's state, for the UI (a placeholder, a progress bar, "not downloaded").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MediaStatus {
    /// The row has no file yet (generation pending) or is gone.
    Unavailable,
    /// Not on disk; opening it downloads it.
    Missing {
        /// Bytes of an interrupted download that the next one resumes from.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        partial: u64,
    },
    Downloading {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        received: u64,
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        total: Option<u64>,
    },
    Ready {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        size: u64,
    },
    /// The last download failed; opening it tries again.
    Failed { error: ErrorPayload },
}

/// What the cache holds, for Settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MediaUsage {
    pub by_kind: Vec<KindUsage>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub cap_bytes: u64,
}

/// The state of one download, watched by everyone waiting for it.
#[derive(Debug, Clone)]
pub(crate) enum Flight {
    Running { received: u64, total: Option<u64> },
    Done(std::result::Result<Ready, MediaError>),
}

/// The media cache: one per [`crate::app::Core`], cheap to share.
pub struct MediaCache {
    pub(crate) layout: Layout,
    pub(crate) db: Arc<Db>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Rng>,
    pub(crate) events: broadcast::Sender<CoreEvent>,
    pub(crate) config: MediaConfig,
    /// Downloads in progress, by key: a second request for the same key waits on the
    /// first one's channel instead of starting another.
    pub(crate) inflight: Mutex<HashMap<String, channel::Receiver<Flight>>>,
    /// The last failure by key, until a download succeeds.
    pub(crate) failures: Mutex<HashMap<String, ErrorPayload>>,
    pub(crate) slots: Semaphore,
    /// Prefetch takes one of these as well, so that it never holds every slot and a
    /// file the user opens starts at once.
    pub(crate) background: Semaphore,
    /// Bumped by sign-out and clear: a download that started before does not land.
    pub(crate) epoch: AtomicU64,
    /// Wakes the maintenance task for an eviction pass (a download crossed the cap).
    pub(crate) evict_soon: Notify,
    pub(crate) prefetching: AtomicBool,
    /// Set by the shell when the OS says the connection is metered: no prefetch.
    pub(crate) metered: AtomicBool,
    /// Requests made (for tests and the benchmark).
    pub(crate) requests: AtomicU64,
}

/// A metadata key: the user's cap in bytes.
const CAP_SETTING: &str = "media_cap_bytes";

impl MediaCache {
    pub fn new(
        root: impl Into<PathBuf>,
        db: Arc<Db>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        events: broadcast::Sender<CoreEvent>,
        config: MediaConfig,
    ) -> Self {
        let slots = config.concurrency.max(1);
        MediaCache {
            layout: Layout::new(root),
            db,
            transport,
            clock,
            rng,
            events,
            config,
            inflight: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            slots: Semaphore::new(slots),
            background: Semaphore::new(1),
            epoch: AtomicU64::new(0),
            evict_soon: Notify::new(),
            prefetching: AtomicBool::new(false),
            metered: AtomicBool::new(false),
            requests: AtomicU64::new(0),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// HTTP requests made for media so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn set_metered(&self, metered: bool) {
        self.metered.store(metered, Ordering::Relaxed);
    }

    pub fn metered(&self) -> bool {
        self.metered.load(Ordering::Relaxed)
    }

    /// The retention in force: the configured ages and the user's cap.
    pub fn retention(&self) -> Result<Retention> {
        let cap = self
            .db
            .read(|c| meta::get(c, CAP_SETTING))?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(self.config.retention.cap_bytes);
        Ok(Retention {
            cap_bytes: cap,
            ..self.config.retention
        })
    }

    /// Sets the size cap (Settings), and evicts down to it.
    pub fn set_cap(&self, bytes: u64) -> Result<EvictionReport> {
        if bytes < retention::MIN_CAP_BYTES {
            return Err(CoreError::Validation(vec![is_protocol::FieldError::new(
                "cap_bytes",
                format!(
                    "The media cache needs at least {} MB",
                    retention::MIN_CAP_BYTES >> 20
                ),
            )]));
        }
        self.db
            .write(|tx| meta::set(tx, CAP_SETTING, &bytes.to_string()))?;
        self.evict()
    }

    pub fn usage(&self) -> Result<MediaUsage> {
        let by_kind = self.db.read(index::usage)?;
        Ok(MediaUsage {
            total_bytes: by_kind.iter().map(|k| k.bytes).sum(),
            by_kind,
            cap_bytes: self.retention()?.cap_bytes,
        })
    }

    /// One eviction pass: reads the index, plans (see [`retention`]), removes the rows in
    /// one transaction and then their files. Stale partial downloads of released items go
    /// too.
    pub fn evict(&self) -> Result<EvictionReport> {
        let rules = self.retention()?;
        let now = self.clock.now();
        let plan = self.db.write(|tx| {
            let entries = index::entries(tx)?;
            let plan = retention::plan(&entries, now, &rules);
            if !plan.evict.is_empty() {
                let keys: Vec<&str> = plan.evict.iter().map(|e| e.key.as_str()).collect();
                index::remove_all(tx, &keys)?;
            }
            Ok(plan)
        })?;
        // The rows went first: a file without a row is an orphan the next repair removes,
        // never a row without its file.
        let mut report = EvictionReport {
            kept_bytes: plan.kept_bytes,
            still_over_cap: plan.over_cap,
            ..EvictionReport::default()
        };
        for e in &plan.evict {
            remove_file(&self.layout.file(&e.key));
            report.freed_bytes += e.size;
            match e.why {
                retention::Why::Released => report.released += 1,
                retention::Why::Expired => report.expired += 1,
                retention::Why::OverCap => report.over_cap += 1,
            }
        }
        self.drop_stale_partials()?;
        if !plan.evict.is_empty() {
            tracing::info!(?report, "media cache eviction");
            self.emit(CoreEvent::MediaEvicted {
                report: report.clone(),
            });
        }
        Ok(report)
    }

    /// Partial downloads that nobody is fetching and no living row wants.
    fn drop_stale_partials(&self) -> Result<()> {
        let stale: Vec<String> = self.db.read(|c| {
            let mut stale = Vec::new();
            for (key, owner) in index::partials(c)? {
                let wanted = match owner {
                    Some(owner) => index::key_of(c, owner)?.as_deref() == Some(key.as_str()),
                    None => false,
                };
                if !wanted && !self.is_inflight(&key) {
                    stale.push(key);
                }
            }
            Ok(stale)
        })?;
        if stale.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = stale.iter().map(String::as_str).collect();
        self.db.write(|tx| index::remove_all(tx, &keys))?;
        for key in &stale {
            remove_file(&self.layout.partial(key));
        }
        Ok(())
    }

    /// Removes the files of a kind (or all) and their rows: Settings' "Clear".
    pub fn clear(&self, kind: Option<CacheKind>) -> Result<u64> {
        let keys = self.db.read(|c| index::keys_of_kind(c, kind))?;
        let freed = self.db.write(|tx| {
            let mut freed = 0;
            for key in &keys {
                if let Some(c) = index::complete(tx, key)? {
                    freed += c.size;
                }
                index::remove(tx, key)?;
            }
            Ok(freed)
        })?;
        for key in &keys {
            remove_file(&self.layout.file(key));
            remove_file(&self.layout.partial(key));
        }
        self.emit(CoreEvent::MediaEvicted {
            report: EvictionReport {
                freed_bytes: freed,
                ..EvictionReport::default()
            },
        });
        Ok(freed)
    }

    /// Sign-out: every file and row goes, and downloads under way do not land.
    pub fn wipe(&self) -> Result<()> {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.db.write(|tx| index::clear_all(tx))?;
        for dir in [self.layout.root().to_path_buf(), self.layout.partial_dir()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let stem = name.strip_suffix(".part").unwrap_or(&name);
                if key::is_cache_file_name(stem) {
                    remove_file(&entry.path());
                }
            }
        }
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }

    pub(crate) fn is_inflight(&self, key: &str) -> bool {
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        let _ = self.events.send(event);
    }
}

/// Removes a file the cache owns; one already gone is fine.
pub(crate) fn remove_file(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %e, "could not remove a cached file");
        }
    }
}
