//! Keeping the index true to the folder: a repair at launch, and a `notify` watcher for
//! files removed or changed behind the app's back while it runs.
//!
//! The repair compares sizes (hashing a gigabyte at every launch would be slow): a file
//! missing or of the wrong size drops its row, a file with no row is removed, and so are
//! partial files without a row. Only files whose background fsync had not finished when
//! the app stopped (`durable = 0`: a crash or power loss right after a download) are
//! hashed. The watcher looks at each event's file: gone drops the
//! row; a content change (a write by another program) is checked against the stored
//! SHA-256, and a mismatch drops both. The cache's own writes land by a rename inside
//! the transaction that records them, so the watcher never sees a half-recorded file.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::index;
use super::key::is_cache_file_name;
use super::{remove_file, MediaCache};
use crate::error::Result;
use crate::events::CoreEvent;

/// What the repair found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repair {
    /// Rows whose file was missing or of the wrong size.
    pub rows_dropped: u32,
    /// Files (complete or partial) no row knew.
    pub files_removed: u32,
}

/// A file the watcher saw change, and whether its content may have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seen {
    pub name: String,
    pub content: bool,
}

impl MediaCache {
    /// Makes the index and the folder agree (at launch, before anything is served).
    pub fn repair(&self) -> Result<Repair> {
        std::fs::create_dir_all(self.layout.root())?;
        std::fs::create_dir_all(self.layout.partial_dir())?;
        let mut out = Repair::default();
        // Files that landed just before the app stopped may not have reached the disk:
        // their content is checked against the hash before anything serves them.
        for (key, hash) in self.db.read(index::not_durable)? {
            let path = self.layout.file(&key);
            let whole = hash_of(&path).map(|h| h == hash).unwrap_or(false);
            if whole {
                std::fs::File::open(&path)?.sync_all()?;
                self.db.write(|tx| index::set_durable(tx, &key, &hash))?;
            } else {
                self.db.write(|tx| index::remove(tx, &key))?;
                remove_file(&path);
                out.rows_dropped += 1;
            }
        }
        let rows = self.db.read(index::all)?;
        let mut complete = HashSet::new();
        let mut partial = HashSet::new();
        for (key, state, size) in rows {
            let name = super::key::file_name(&key);
            if state == "complete" {
                let ok = std::fs::metadata(self.layout.file(&key))
                    .map(|m| m.is_file() && m.len() == size)
                    .unwrap_or(false);
                if ok {
                    complete.insert(name);
                } else {
                    self.db.write(|tx| index::remove(tx, &key))?;
                    remove_file(&self.layout.file(&key));
                    out.rows_dropped += 1;
                }
            } else {
                partial.insert(name);
            }
        }
        for (dir, known, suffix) in [
            (self.layout.root().to_path_buf(), &complete, ""),
            (self.layout.partial_dir(), &partial, ".part"),
        ] {
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let Some(stem) = name.strip_suffix(suffix) else {
                    continue;
                };
                if is_cache_file_name(stem) && !known.contains(stem) {
                    remove_file(&entry.path());
                    out.files_removed += 1;
                }
            }
        }
        if out != Repair::default() {
            tracing::info!(?out, "media cache repaired");
        }
        Ok(out)
    }

    /// Checks one file the watcher saw: drops its row if it is gone, or if its content
    /// changed. Returns whether anything was dropped.
    pub fn check_file(&self, seen: &Seen) -> Result<bool> {
        let Some((key, state, size, hash)) = self.db.read(|c| index::by_file(c, &seen.name))?
        else {
            return Ok(false);
        };
        if state != "complete" {
            return Ok(false);
        }
        let path = self.layout.file(&key);
        let intact = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == size => !seen.content || hash_of(&path)? == hash,
            _ => false,
        };
        if intact {
            return Ok(false);
        }
        tracing::info!(key, "a cached file was removed or changed outside the app");
        self.db.write(|tx| {
            // Only the row as it was: a download may have landed a new file meanwhile.
            tx.execute(
                "DELETE FROM media_cache WHERE key = ?1 AND hash = ?2",
                rusqlite::params![key, hash],
            )?;
            Ok(())
        })?;
        if std::fs::metadata(&path).is_ok() && self.db.read(|c| index::complete(c, &key))?.is_none()
        {
            remove_file(&path);
        }
        self.emit(CoreEvent::MediaEvicted {
            report: Default::default(),
        });
        Ok(true)
    }

    /// Starts watching the folder; events arrive on the returned channel (file names,
    /// coalesced by the caller). The watcher stops when the returned handle drops.
    pub fn watch(
        &self,
    ) -> notify::Result<(notify::RecommendedWatcher, mpsc::UnboundedReceiver<Seen>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let root: PathBuf = self.layout.root().to_path_buf();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let Ok(ev) = ev else { return };
            let content = match ev.kind {
                EventKind::Modify(notify::event::ModifyKind::Data(_))
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write,
                )) => true,
                EventKind::Remove(_) | EventKind::Modify(_) => false,
                _ => return,
            };
            for path in ev.paths {
                if path.parent() != Some(root.as_path()) {
                    continue;
                }
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if is_cache_file_name(name) {
                    let _ = tx.send(Seen {
                        name: name.to_owned(),
                        content,
                    });
                }
            }
        })?;
        watcher.watch(self.layout.root(), RecursiveMode::NonRecursive)?;
        Ok((watcher, rx))
    }
}

/// Runs the cache's upkeep until the task is dropped: the repair, an eviction at launch,
/// the watcher, an eviction on every interval and whenever a download crosses the cap.
pub async fn maintain(cache: Arc<MediaCache>) {
    // File work (stat, unlink, hash) runs off the async threads.
    let work = |f: fn(&MediaCache)| {
        let cache = Arc::clone(&cache);
        async move {
            if let Err(e) = tokio::task::spawn_blocking(move || f(&cache)).await {
                tracing::warn!(%e, "media cache upkeep stopped");
            }
        }
    };
    work(|c| {
        if let Err(e) = c.repair() {
            tracing::warn!(%e, "media cache repair failed");
        }
    })
    .await;
    work(evict).await;
    let (_watcher, mut seen) = match cache.watch() {
        Ok((w, rx)) => (Some(w), rx),
        Err(e) => {
            tracing::warn!(%e, "cannot watch the media cache folder; checking at launch and on use only");
            (None, mpsc::unbounded_channel().1)
        }
    };
    let mut tick = tokio::time::interval(cache.config.evict_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => work(evict).await,
            _ = cache.evict_soon.notified() => work(evict).await,
            Some(first) = seen.recv() => {
                // Events come in bursts (a folder emptied): settle, then check each file once.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut batch: HashSet<Seen> = HashSet::from([first]);
                while let Ok(more) = seen.try_recv() {
                    batch.insert(more);
                }
                let checker = Arc::clone(&cache);
                let checked = tokio::task::spawn_blocking(move || {
                    for s in batch {
                        if let Err(e) = checker.check_file(&s) {
                            tracing::warn!(%e, "media cache watcher");
                        }
                    }
                });
                let _ = checked.await;
            }
        }
    }
}

fn evict(cache: &MediaCache) {
    if let Err(e) = cache.evict() {
        tracing::warn!(%e, "media cache eviction failed");
    }
}

fn hash_of(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut hash)?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
