//! Downloads. One per key however many ask ([`MediaCache::ensure`] waits on the one under
//! way), at most [`super::MediaConfig::concurrency`] at once, each streamed to a partial
//! file that survives restarts, verified, and renamed into place in the same
//! transaction that records it in the index.
//!
//! Verification: the length the server announced, and the server's ETag, which is the
//! first 16 bytes of the file's SHA-256 (`is_protocol::media::etag_of_digest`); an ETag
//! of another shape is only used for `If-Range`. A damaged body is thrown away and
//! fetched again with backoff; an interrupted one resumes with `Range` + `If-Range`, so a
//! file that changed on the server meanwhile comes whole.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use is_protocol::media::etag_digest_prefix;
use sha2::{Digest, Sha256};
use tokio::sync::watch as channel;

use super::index::{self, Partial};
use super::key::{valid_key, MediaRef};
use super::{remove_file, Flight, MediaCache, MediaError, MediaStatus, Ready};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::transport::TransportError;

/// Chunks are gathered up to this size before a write (and hash) off the async threads.
const WRITE_BUFFER: usize = 1 << 20;
/// Buffers waiting for the writer thread (bounds the memory a download holds).
const WRITE_QUEUE: usize = 4;

type Outcome = std::result::Result<Ready, MediaError>;

impl MediaCache {
    /// The file of `r`: at once if it is on disk (a read extends its life), otherwise
    /// after a download (started now, or the one already under way). `background` marks
    /// prefetch, which leaves a slot free for what the user opens.
    pub async fn ensure(
        self: &Arc<Self>,
        r: MediaRef,
        token: Option<String>,
        background: bool,
    ) -> Outcome {
        let key = self
            .db
            .read(|c| index::key_of(c, r))
            .map_err(MediaError::from)?
            .ok_or(MediaError::NotAvailable)?;
        if !valid_key(&key) {
            tracing::warn!(media = %r, "refusing a media URL outside the server's media path");
            return Err(MediaError::NotAvailable);
        }
        if let Some(ready) = self.cached(&key).map_err(MediaError::from)? {
            return Ok(ready);
        }
        let token = token.ok_or(MediaError::NotSignedIn)?;
        let mut rx = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match inflight.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = channel::channel(Flight::Running {
                        received: 0,
                        total: None,
                    });
                    inflight.insert(key.clone(), rx.clone());
                    let cache = Arc::clone(self);
                    tokio::spawn(async move { cache.run(key, r, token, tx, background).await });
                    rx
                }
            }
        };
        loop {
            if let Flight::Done(out) = &*rx.borrow_and_update() {
                return out.clone();
            }
            if rx.changed().await.is_err() {
                return Err(MediaError::Local(
                    "the download stopped unexpectedly".into(),
                ));
            }
        }
    }

    /// The complete file of `key` if it is on disk as the index says (a read extends
    /// its life). A file gone or changed behind the app's back drops its row, so the
    /// caller downloads it again.
    pub(crate) fn cached(&self, key: &str) -> Result<Option<Ready>> {
        let Some(c) = self.db.read(|conn| index::complete(conn, key))? else {
            return Ok(None);
        };
        let path = self.layout.file(key);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == c.size => {
                let now = self.clock.now();
                // A list of avatars or a seeking player reads the same files again and
                // again: the write (at most once a minute per file) only when it is due.
                if index::millis(now) - c.last_used >= index::TOUCH_EVERY_MS {
                    self.db.write(|tx| index::touch(tx, key, now))?;
                }
                Ok(Some(Ready {
                    path,
                    size: c.size,
                    content_type: c.content_type,
                }))
            }
            _ => {
                tracing::info!(
                    key,
                    "a cached file is missing or changed; fetching it again"
                );
                self.db.write(|tx| index::remove(tx, key))?;
                remove_file(&path);
                Ok(None)
            }
        }
    }

    /// What the UI shows for `r`.
    pub fn status(&self, r: MediaRef) -> Result<MediaStatus> {
        let Some(key) = self.db.read(|c| index::key_of(c, r))? else {
            return Ok(MediaStatus::Unavailable);
        };
        if !valid_key(&key) {
            return Ok(MediaStatus::Unavailable);
        }
        if let Some(rx) = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            if let Flight::Running { received, total } = &*rx.borrow() {
                return Ok(MediaStatus::Downloading {
                    received: *received,
                    total: *total,
                });
            }
        }
        if let Some(c) = self.db.read(|conn| index::complete(conn, &key))? {
            if std::fs::metadata(self.layout.file(&key))
                .map(|m| m.len())
                .ok()
                == Some(c.size)
            {
                return Ok(MediaStatus::Ready { size: c.size });
            }
        }
        if let Some(error) = self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(MediaStatus::Failed {
                error: error.clone(),
            });
        }
        let partial = std::fs::metadata(self.layout.partial(&key))
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(MediaStatus::Missing { partial })
    }

    /// The download task of one key: retries, then tells everyone waiting.
    async fn run(
        self: Arc<Self>,
        key: String,
        r: MediaRef,
        token: String,
        tx: channel::Sender<Flight>,
        background: bool,
    ) {
        let out = self.download(&key, r, &token, &tx, background).await;
        {
            let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            match &out {
                Ok(_) => {
                    failures.remove(&key);
                }
                // Out of reach is not the item's failure: it stays "not downloaded".
                Err(MediaError::Transport(t)) if t.is_offline() => {}
                Err(e) => {
                    failures.insert(key.clone(), CoreError::from(e.clone()).to_payload());
                }
            }
        }
        match &out {
            Ok(_) => self.emit(CoreEvent::MediaReady { media: r }),
            Err(e) => {
                tracing::info!(media = %r, %e, "media download failed");
                self.emit(CoreEvent::MediaFailed {
                    media: r,
                    error: CoreError::from(e.clone()).to_payload(),
                });
            }
        }
        // Done first, then out of the map: a request in between sees the result.
        tx.send_replace(Flight::Done(out));
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    async fn download(
        &self,
        key: &str,
        r: MediaRef,
        token: &str,
        tx: &channel::Sender<Flight>,
        background: bool,
    ) -> Outcome {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let _background = match background {
            true => Some(self.background.acquire().await),
            false => None,
        };
        let _slot = self.slots.acquire().await;
        let policy = self.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.attempt(key, r, token, tx, epoch).await {
                Ok(ready) => return Ok(ready),
                Err(e) => e,
            };
            let retry_after = match &err {
                MediaError::Transport(t) => t.retry_after(),
                _ => None,
            };
            if !retryable(&err) || attempt >= policy.max_attempts {
                return Err(err);
            }
            tracing::info!(media = %r, %err, attempt, "media download failed; retrying");
            let delay = policy.delay(attempt, self.rng.next_f64(), retry_after);
            tokio::time::sleep(delay).await;
        }
    }

    /// One request: resume or start, stream, verify, land.
    async fn attempt(
        &self,
        key: &str,
        r: MediaRef,
        token: &str,
        tx: &channel::Sender<Flight>,
        epoch: u64,
    ) -> Outcome {
        let part = self.layout.partial(key);
        std::fs::create_dir_all(self.layout.partial_dir())?;
        let known = self.db.read(|c| index::partial(c, key))?;
        let have = match (&known, std::fs::metadata(&part)) {
            (Some(_), Ok(m)) => m.len(),
            _ => 0,
        };
        // Without an ETag to resume against, a partial file may be of another version.
        let if_range = known.as_ref().and_then(|p| p.etag.clone());
        let from = if if_range.is_some() { have } else { 0 };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut dl = self
            .transport
            .media(token, key, from, if_range.as_deref())
            .await
            .map_err(not_found_is_unavailable)?;
        // The largest file the cache takes: its whole cap.
        let cap = self.retention()?.cap_bytes;
        if let Some(size) = dl.total.filter(|t| *t > cap) {
            return Err(MediaError::TooLarge { size, cap });
        }
        let now = self.clock.now();
        let partial = Partial {
            etag: dl.etag.clone(),
            content_type: dl.content_type.clone(),
            total: dl.total,
        };
        self.db
            .write(|tx| index::set_partial(tx, key, r, &partial, now))?;
        let limit = dl.total.unwrap_or(cap);
        let start = dl.start;
        // The disk work (write and hash) runs on a blocking thread fed through a small
        // queue, so the next chunks arrive while the last ones are written; a full queue
        // makes this task wait, never an async thread block.
        let writer = blocking({
            let part = part.clone();
            move || PartWriter::open(&part, start)
        })
        .await?;
        let mut received = writer.len;
        let (feed, queue) = tokio::sync::mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let written = tokio::task::spawn_blocking(move || writer.drain(queue));
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
        let mut last_progress = Instant::now();
        self.progress(r, tx, received, dl.total);
        let streamed = loop {
            let chunk = match dl.body.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break Ok(()),
                Err(e) => break Err(MediaError::Transport(e)),
            };
            received += chunk.len() as u64;
            if received > limit {
                break Err(MediaError::Damaged(format!(
                    "more than the {limit} bytes announced"
                )));
            }
            buf.extend_from_slice(&chunk);
            if buf.len() >= WRITE_BUFFER {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(WRITE_BUFFER));
                if feed.send(full).await.is_err() {
                    break Ok(()); // the writer failed: its error follows
                }
            }
            if last_progress.elapsed() >= self.config.progress_interval {
                last_progress = Instant::now();
                self.progress(r, tx, received, dl.total);
            }
        };
        // What arrived is kept even after an error: the next attempt resumes after it.
        if !buf.is_empty() {
            let _ = feed.send(buf).await;
        }
        drop(feed);
        let written = written
            .await
            .map_err(|e| MediaError::Local(e.to_string()))?;
        match streamed {
            Err(MediaError::Damaged(why)) => return Err(self.discard(key, &part, why)),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        let (len, digest) = written?;
        if let Some(total) = dl.total {
            if len != total {
                return Err(self.discard(key, &part, format!("{len} of {total} bytes")));
            }
        }
        if let Some(expected) = dl.etag.as_deref().and_then(etag_digest_prefix) {
            if digest[..16] != expected {
                return Err(self.discard(key, &part, "the content does not match its ETag".into()));
            }
        }
        self.progress(r, tx, len, Some(len));
        let content_type = super::serve::content_type(dl.content_type.as_deref(), r.kind);
        let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let file = self.layout.file(key);
        let pinned = self.db.read(|c| index::pinned(c, r))?;
        let now = self.clock.now();
        let landed = self.db.write(|tx| {
            if self.epoch.load(Ordering::SeqCst) != epoch {
                return Err(CoreError::Cancelled);
            }
            index::set_complete(
                tx,
                key,
                r,
                len,
                &hash,
                dl.etag.as_deref(),
                content_type,
                pinned,
                now,
            )?;
            // The owner's earlier file (an avatar regenerated has a new URL) goes now.
            let replaced = index::others_of_owner(tx, key, r)?;
            for old in &replaced {
                index::remove(tx, old)?;
            }
            // Inside the transaction: the row and the file appear together, and the
            // folder watcher (which reads the index) never sees one without the other.
            std::fs::rename(&part, &file)?;
            Ok(replaced)
        });
        match landed {
            Ok(replaced) => {
                for old in replaced {
                    remove_file(&self.layout.file(&old));
                    remove_file(&self.layout.partial(&old));
                }
                self.make_durable(key, &hash);
            }
            Err(e) => {
                remove_file(&part);
                return Err(e.into());
            }
        }
        if self.db.read(index::total_bytes)? > self.retention()?.cap_bytes {
            self.evict_soon.notify_one();
        }
        Ok(Ready {
            path: file,
            size: len,
            content_type: content_type.to_owned(),
        })
    }

    /// Flushes a file that just landed to disk in the background and then marks its row
    /// durable. The download answers without waiting for the disk: until the mark, a
    /// crash leaves a row that the repair at the next launch checks against its hash.
    fn make_durable(&self, key: &str, hash: &str) {
        let db = Arc::clone(&self.db);
        let path = self.layout.file(key);
        let (key, hash) = (key.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
            let synced = std::fs::File::open(&path).and_then(|f| f.sync_all());
            if let Err(e) = synced {
                tracing::warn!(%e, key, "could not flush a cached file to disk");
                return;
            }
            let marked = db.write(|tx| {
                index::set_durable(tx, &key, &hash)?;
                Ok(())
            });
            if let Err(e) = marked {
                tracing::warn!(%e, "could not mark a cached file durable");
            }
        });
    }

    /// A damaged body: its partial file and row go, so the retry starts from zero.
    fn discard(&self, key: &str, part: &Path, why: String) -> MediaError {
        tracing::warn!(key, %why, "discarding a damaged download");
        remove_file(part);
        if let Err(e) = self.db.write(|tx| index::remove(tx, key)) {
            tracing::warn!(%e, "could not forget a damaged download");
        }
        MediaError::Damaged(why)
    }

    fn progress(
        &self,
        r: MediaRef,
        tx: &channel::Sender<Flight>,
        received: u64,
        total: Option<u64>,
    ) {
        tx.send_replace(Flight::Running { received, total });
        self.emit(CoreEvent::MediaProgress {
            media: r,
            received,
            total,
        });
    }
}

/// Worth another attempt now: a damaged body, an interrupted one, a server error or a
/// throttle. No answer at all (offline) fails at once: the partial file waits for the
/// next open or prefetch.
fn retryable(e: &MediaError) -> bool {
    match e {
        MediaError::Damaged(_) => true,
        MediaError::Transport(t) => t.is_transient() && !t.is_offline(),
        _ => false,
    }
}

fn not_found_is_unavailable(e: TransportError) -> MediaError {
    match e.status() {
        Some(404 | 410) => MediaError::NotAvailable,
        _ => MediaError::Transport(e),
    }
}

/// Runs file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::result::Result<T, MediaError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(MediaError::from),
        Err(e) => Err(MediaError::Local(e.to_string())),
    }
}

/// The partial file being written, and the hash of everything in it.
struct PartWriter {
    file: std::fs::File,
    hash: Sha256,
    len: u64,
}

impl PartWriter {
    /// From zero, or resuming at `start` (the bytes before it are hashed again).
    fn open(path: &PathBuf, start: u64) -> std::io::Result<PartWriter> {
        let mut hash = Sha256::new();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(start == 0)
            .read(true)
            .write(true)
            .open(path)?;
        if start > 0 {
            file.set_len(start)?;
            let mut reader = std::io::BufReader::with_capacity(WRITE_BUFFER, &file);
            let mut buf = vec![0u8; WRITE_BUFFER];
            let mut left = start;
            while left > 0 {
                let n = reader.read(&mut buf[..(left.min(WRITE_BUFFER as u64) as usize)])?;
                if n == 0 {
                    return Err(std::io::Error::other(
                        "the partial file is shorter than it was",
                    ));
                }
                hash.update(&buf[..n]);
                left -= n as u64;
            }
            drop(reader);
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(PartWriter {
            file,
            hash,
            len: start,
        })
    }

    /// Writes every buffer that arrives until the sender is dropped: the length and the
    /// SHA-256 of the whole file. (The file reaches the disk later: see `make_durable`.)
    fn drain(
        mut self,
        mut queue: tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> std::io::Result<(u64, [u8; 32])> {
        while let Some(buf) = queue.blocking_recv() {
            self.file.write_all(&buf)?;
            self.hash.update(&buf);
            self.len += buf.len() as u64;
        }
        Ok((self.len, self.hash.finalize().into()))
    }
}
