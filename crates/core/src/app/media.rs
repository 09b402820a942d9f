//! Media: a story's illustrations (cacheAndNetwork) and stories the server writes.

use is_protocol::{EntityKind, GenerateStoryRequest, IllustrationRecord, Page, StoryRecord};
use uuid::Uuid;

use super::Core;
use crate::entity::SyncEntity;
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, Refreshed};
use crate::policy::{self, Read};
use crate::repo;
use crate::repo::illustrations::{self, IllustrationView};
use crate::repo::stories::{GenerateStoryInput, Story, StoryView};
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
