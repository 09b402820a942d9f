//! Media: a story's illustrations (cacheAndNetwork), stories the server writes, and
//! the media cache's files, usage and prefetch.

use is_protocol::media::{IllustrationsRequest, MediaJob};
use is_protocol::{EntityKind, GenerateStoryRequest, IllustrationRecord, Page, StoryRecord};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use uuid::Uuid;

use super::Core;
use crate::entity::SyncEntity;
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, Refreshed};
use crate::media::serve::MediaResponse;
use crate::media::{
    CacheKind, EvictionReport, MediaCache, MediaError, MediaRef, MediaStatus, MediaUsage, Ready,
};
use crate::policy::{self, Read};
use crate::repo;
use crate::repo::illustrations::{self, IllustrationView};
use crate::repo::stories::{GenerateStoryInput, Story, StoryView};
use crate::status::NetworkState;
use crate::transport::TransportError;

impl Core {
    /// The story's illustrations (cacheAndNetwork): the cached ones at once, and the
    /// server's as a [`CoreEvent::Refreshed`] when they arrive.
    pub async fn story_illustrations(&self, story_id: Uuid) -> Result<Read<Vec<IllustrationView>>> {
        let cache = || {
            self.db().read(|c| {
                if repo::is_visible(c, EntityKind::Story, story_id)? {
                    Ok(Some(illustrations::list_for_story(c, story_id)?))
                } else {
                    Ok(None)
                }
            })
        };
        let core = self.clone();
        let network = async move {
            let page: Page<IllustrationRecord> = core
                .fetch(&format!("/api/stories/{story_id}/illustrations"))
                .await?;
            core.db().write(|tx| {
                let gen = crate::sync::generation(tx)?;
                illustrations::replace_for_story(tx, story_id, &page.items, gen)?;
                illustrations::list_for_story(tx, story_id)
            })
        };
        let events = self.clone();
        let refreshed = move |r: Result<Vec<IllustrationView>>| match r {
            Ok(items) => events.emit(CoreEvent::Refreshed {
                value: Refreshed::Illustrations { story_id, items },
            }),
            Err(e) => events.emit(CoreEvent::RefreshFailed {
                what: "illustrations".into(),
                error: e.to_payload(),
            }),
        };
        policy::read(illustrations::POLICY, cache, network, refreshed).await
    }

    /// Asks the server to write a story (networkOnly) and caches it. A hero or custom
    /// event that has not reached the server yet is pushed first.
    pub async fn generate_story(&self, input: GenerateStoryInput) -> Result<StoryView> {
        let max = self.max_attempts();
        let id = self.ctx().new_id();
        let waiting = self.db().read(|c| {
            Ok(
                crate::outbox::has_pending_create(c, EntityKind::Hero, input.hero_id)?
                    || match input.custom_event_id {
                        Some(e) => {
                            crate::outbox::has_pending_create(c, EntityKind::CustomEvent, e)?
                        }
                        None => false,
                    },
            )
        })?;
        if waiting {
            self.sync_now().await?;
        }
        let token = self.token()?.ok_or(CoreError::NotSignedIn)?;
        let req = GenerateStoryRequest {
            id: Some(id),
            hero_id: input.hero_id,
            event_type: input.event_type,
            custom_event_id: input.custom_event_id,
            language: input.language,
            length: input.length,
        };
        req.validate().map_err(CoreError::Validation)?;
        let body = serde_json::to_value(&req)?;
        let core = self.clone();
        let network = async move {
            let value = core
                .inner
                .engine
                .transport
                .post_json(&token, "/api/stories/generate", &body)
                .await
                .map_err(CoreError::from_transport)?;
            let rec: StoryRecord = serde_json::from_value(value)
                .map_err(|e| CoreError::Transport(TransportError::Protocol(e.to_string())))?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<Story>(tx, &rec))?;
            core.db().read(|c| {
                let row = repo::get_visible::<Story>(c, rec.id)?;
                Story::view(c, &row, max)
            })
        };
        let read = policy::read(
            policy::CachePolicy::NetworkOnly,
            || Ok(None),
            network,
            |_| {},
        )
        .await?;
        self.emit(CoreEvent::DataChanged {
            entity: EntityKind::Story,
        });
        Ok(read.value)
    }
}

// ---------------------------------------------------------------------------------------
// Generated media (networkOnly; the results arrive through the change feed)

/// How long after a generation request the core pulls to pick up its result (the
/// server's jobs take about a second; a later sync picks up a slower one).
const MEDIA_JOB_FOLLOW_UP: std::time::Duration = std::time::Duration::from_secs(2);

impl Core {
    /// Asks the server to draw a hero's avatar.
    pub async fn generate_avatar(&self, hero_id: Uuid) -> Result<MediaJob> {
        self.media_job(
            EntityKind::Hero,
            hero_id,
            &format!("/api/heroes/{hero_id}/avatar"),
            None,
        )
        .await
    }

    /// Asks the server to narrate a story.
    pub async fn generate_audio(&self, story_id: Uuid) -> Result<MediaJob> {
        self.media_job(
            EntityKind::Story,
            story_id,
            &format!("/api/stories/{story_id}/audio"),
            None,
        )
        .await
    }

    /// Asks the server to illustrate a story (`count` pictures, or as many as its length
    /// calls for).
    pub async fn generate_illustrations(
        &self,
        story_id: Uuid,
        count: Option<u8>,
    ) -> Result<MediaJob> {
        let req = IllustrationsRequest { count };
        req.validate().map_err(CoreError::Validation)?;
        let body = serde_json::to_value(&req)?;
        self.media_job(
            EntityKind::Story,
            story_id,
            &format!("/api/stories/{story_id}/illustrations"),
            Some(body),
        )
        .await
    }

    async fn media_job(
        &self,
        kind: EntityKind,
        id: Uuid,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<MediaJob> {
        let waiting = self
            .db()
            .read(|c| crate::outbox::has_pending_create(c, kind, id))?;
        if waiting {
            self.sync_now().await?;
        }
        let token = self.token()?.ok_or(CoreError::NotSignedIn)?;
        let body = body.unwrap_or(serde_json::Value::Null);
        let value = self
            .inner
            .engine
            .transport
            .post_json(&token, path, &body)
            .await
            .map_err(|e| {
                self.learn_from(&e);
                CoreError::from_transport(e)
            })?;
        let job: MediaJob = serde_json::from_value(value)
            .map_err(|e| CoreError::Transport(TransportError::Protocol(e.to_string())))?;
        let core = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(MEDIA_JOB_FOLLOW_UP).await;
            core.trigger(crate::app::scheduler::Trigger::LocalChange);
        });
        Ok(job)
    }
}

// ---------------------------------------------------------------------------------------
// The media cache (SPEC.md section 10)

impl Core {
    /// The media cache (for the shell's `media://` scheme, tests and benchmarks).
    pub fn media(&self) -> &Arc<MediaCache> {
        &self.inner.media
    }

    /// The file of a media item, downloaded first if it is not on disk.
    pub async fn media_file(&self, media: MediaRef) -> Result<Ready> {
        let out = self.inner.media.ensure(media, self.token()?, false).await;
        self.media_outcome(out)
    }

    /// Starts downloading a media item (the player's "Download for offline") and says
    /// where it stands; progress follows as [`CoreEvent::MediaProgress`].
    pub fn media_download(&self, media: MediaRef) -> Result<MediaStatus> {
        let status = self.inner.media.status(media)?;
        if matches!(
            status,
            MediaStatus::Missing { .. } | MediaStatus::Failed { .. }
        ) {
            let core = self.clone();
            tokio::spawn(async move {
                let _ = core.media_file(media).await;
            });
            return Ok(MediaStatus::Downloading {
                received: 0,
                total: None,
            });
        }
        Ok(status)
    }

    /// The answer to `media://localhost/<path>` (the shell's custom scheme).
    pub async fn media_respond(&self, path: &str, range: Option<&str>) -> MediaResponse {
        let token = self.token().ok().flatten();
        self.inner.media.respond(path, range, token).await
    }

    pub fn media_status(&self, media: MediaRef) -> Result<MediaStatus> {
        self.inner.media.status(media)
    }

    pub fn media_usage(&self) -> Result<MediaUsage> {
        self.inner.media.usage()
    }

    /// Settings' "Clear" for one kind, or everything: the bytes freed. (Removing many
    /// files takes a while on some disks: it runs off the async threads.)
    pub async fn media_clear(&self, kind: Option<CacheKind>) -> Result<u64> {
        let cache = Arc::clone(&self.inner.media);
        blocking(move || cache.clear(kind)).await
    }

    /// Settings' cache size; evicts down to it at once.
    pub async fn media_set_cap(&self, bytes: u64) -> Result<EvictionReport> {
        let cache = Arc::clone(&self.inner.media);
        blocking(move || cache.set_cap(bytes)).await
    }

    /// The OS says the connection is metered (or no longer): no prefetch while it is.
    pub fn set_metered(&self, metered: bool) {
        self.inner.media.set_metered(metered);
    }

    /// After a successful sync: release the files of rows deleted or changed, and
    /// prefetch in the background.
    pub(crate) fn after_sync(&self) {
        self.inner.media.evict_soon.notify_one();
        let core = self.clone();
        tokio::spawn(async move {
            if let Err(e) = core.prefetch_media().await {
                tracing::info!(%e, "media prefetch stopped");
            }
        });
    }

    /// Downloads what should be there offline without being opened first (SPEC.md
    /// section 10): every hero's avatar and the narration and illustrations of favourite
    /// stories. Only while online, not on a metered connection, and it stops at the
    /// first sign the network is failing. Returns how many files it fetched.
    pub async fn prefetch_media(&self) -> Result<u32> {
        let cache = &self.inner.media;
        if cache.metered()
            || self.runtime().network != NetworkState::Online
            || self.overview()?.work_offline
        {
            return Ok(0);
        }
        if cache.prefetching.swap(true, Ordering::SeqCst) {
            return Ok(0);
        }
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _done = Done(&cache.prefetching);
        let Some(token) = self.token()? else {
            return Ok(0);
        };
        let wanted = self.db().read(crate::media::index::missing_for_prefetch)?;
        let (mut fetched, mut failed) = (0, 0);
        for (media, _) in wanted {
            match cache.ensure(media, Some(token.clone()), true).await {
                Ok(_) => fetched += 1,
                Err(MediaError::Transport(t)) if t.is_offline() => {
                    self.learn_from(&t);
                    break;
                }
                Err(MediaError::NotSignedIn | MediaError::Cancelled) => break,
                Err(MediaError::NotAvailable) => {}
                Err(_) => {
                    // A failing network or server: leave the rest for the next sync.
                    failed += 1;
                    if failed >= 3 {
                        break;
                    }
                }
            }
        }
        if fetched > 0 {
            tracing::info!(fetched, "media prefetched");
        }
        Ok(fetched)
    }

    fn media_outcome<T>(&self, out: std::result::Result<T, MediaError>) -> Result<T> {
        out.map_err(|e| {
            if let MediaError::Transport(t) = &e {
                self.learn_from(t);
            }
            CoreError::Media(e)
        })
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Io(std::io::Error::other(e.to_string())))?
}
