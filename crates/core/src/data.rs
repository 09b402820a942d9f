//! [`Core`]'s methods for stories, custom events, illustrations, the profile, usage and
//! conflicts. Every write is one transaction (row + outbox entry); every read goes
//! through the entity's cache policy ([`crate::policy::read`]).

use is_protocol::{
    CustomEventInput, CustomEventRecord, EntityKind, GenerateStoryRequest, IllustrationRecord,
    Page, StoryInput, StoryRecord, UsageStats, UserProfile,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::core::Core;
use crate::entity::{self, from_object, to_object, ConflictStrategy, SyncEntity};
use crate::error::{CoreError, Result};
use crate::merge;
use crate::model::{
    ConflictChoice, ConflictDetail, ConflictRecord, ConflictSummary, CoreEvent, CustomEventView,
    GenerateStoryInput, IllustrationView, ProfileInput, ProfileView, Refreshed, StoryFilter,
    StorySummary, StoryView, UsageView,
};
use crate::policy::{self, Read};
use crate::repo::custom_events::{self, CustomEvent};
use crate::repo::heroes::Hero;
use crate::repo::profile::{self, Profile};
use crate::repo::stories::{self, Story};
use crate::repo::{self, illustrations, usage, Choice};
use crate::sync::with_entity;
use crate::sync_state::SyncState;

impl Core {
    /// `GET path` for the signed-in user, decoded.
    async fn fetch<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let token = self.token()?.ok_or(CoreError::NotSignedIn)?;
        if self.overview()?.work_offline {
            return Err(CoreError::Transport(
                crate::transport::TransportError::Unreachable("Work offline is on".into()),
            ));
        }
        let value = self
            .inner
            .engine
            .transport
            .get_json(&token, path)
            .await
            .map_err(CoreError::from_transport)?;
        serde_json::from_value(value).map_err(|e| {
            CoreError::Transport(crate::transport::TransportError::Protocol(e.to_string()))
        })
    }

    fn unsupported(kind: EntityKind) -> CoreError {
        CoreError::NotFound {
            entity: "entity",
            id: kind.as_str().to_owned(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Stories (cacheFirst; conflicts: content asks, metadata merges)

    /// Visible stories, newest first, optionally of one hero or only favourites.
    pub fn list_stories(&self, filter: &StoryFilter) -> Result<Vec<StorySummary>> {
        let max = self.max_attempts();
        self.db().read(|c| stories::list(c, filter, max))
    }

    /// One story, from the cache; a story not cached yet is fetched from the server.
    pub async fn get_story(&self, id: Uuid) -> Result<StoryView> {
        let max = self.max_attempts();
        let cache = || match self.db().read(|c| stories::get(c, id, max)) {
            Ok(v) => Ok(Some(v)),
            Err(CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let core = self.clone();
        let network = async move {
            let rec: StoryRecord = core.fetch(&format!("/api/stories/{id}")).await?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<Story>(tx, &rec))?;
            core.db().read(|c| stories::get(c, id, max))
        };
        let read = policy::read(Story::POLICY, cache, network, |_| {}).await?;
        Ok(read.value)
    }

    pub fn create_story(&self, input: StoryInput) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = repo::create::<Story>(tx, &ctx, input)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

    pub fn update_story(&self, id: Uuid, input: StoryInput) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = stories::update(tx, &ctx, id, input)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

    pub fn delete_story(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| repo::delete::<Story>(tx, &ctx, id))?;
        self.changed_locally(EntityKind::Story);
        Ok(())
    }

    pub fn retry_story(&self, id: Uuid) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = repo::retry::<Story>(tx, &ctx, id)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

    pub fn discard_story(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| repo::discard::<Story>(tx, &ctx, id))?;
        self.changed_locally(EntityKind::Story);
        Ok(())
    }

    pub fn set_story_favorite(&self, id: Uuid, favorite: bool) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = stories::set_favorite(tx, &ctx, id, favorite)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

    pub fn toggle_story_favorite(&self, id: Uuid) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let current = repo::get_visible::<Story>(tx, id)?.fields.is_favorite;
            let row = stories::set_favorite(tx, &ctx, id, !current)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

    /// Counts a play: shown at once, sent as an increment (never a conflict).
    pub fn record_story_play(&self, id: Uuid) -> Result<StoryView> {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = repo::increment::<Story>(tx, &ctx, id, 1)?;
            stories::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(EntityKind::Story);
        Ok(view)
    }

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
            let rec: StoryRecord = serde_json::from_value(value).map_err(|e| {
                CoreError::Transport(crate::transport::TransportError::Protocol(e.to_string()))
            })?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<Story>(tx, &rec))?;
            core.db().read(|c| stories::get(c, rec.id, max))
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

    // -----------------------------------------------------------------------------------
    // Custom events (cacheFirst; localWins)

    pub fn list_custom_events(&self) -> Result<Vec<CustomEventView>> {
        let max = self.max_attempts();
        self.db().read(|c| custom_events::list(c, max))
    }

    pub async fn get_custom_event(&self, id: Uuid) -> Result<CustomEventView> {
        let max = self.max_attempts();
        let cache = || match self.db().read(|c| custom_events::get(c, id, max)) {
            Ok(v) => Ok(Some(v)),
            Err(CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let core = self.clone();
        let network = async move {
            let rec: CustomEventRecord = core.fetch(&format!("/api/custom-events/{id}")).await?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<CustomEvent>(tx, &rec))?;
            core.db().read(|c| custom_events::get(c, id, max))
        };
        Ok(policy::read(CustomEvent::POLICY, cache, network, |_| {})
            .await?
            .value)
    }

    pub fn create_custom_event(&self, input: CustomEventInput) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self
            .db()
            .write(|tx| repo::create::<CustomEvent>(tx, &ctx, input))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    pub fn update_custom_event(
        &self,
        id: Uuid,
        input: CustomEventInput,
    ) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self
            .db()
            .write(|tx| repo::update::<CustomEvent>(tx, &ctx, id, input))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    pub fn delete_custom_event(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db()
            .write(|tx| repo::delete::<CustomEvent>(tx, &ctx, id))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(())
    }

    pub fn retry_custom_event(&self, id: Uuid) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self
            .db()
            .write(|tx| repo::retry::<CustomEvent>(tx, &ctx, id))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    pub fn discard_custom_event(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db()
            .write(|tx| repo::discard::<CustomEvent>(tx, &ctx, id))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(())
    }

    pub fn set_custom_event_favorite(&self, id: Uuid, favorite: bool) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self
            .db()
            .write(|tx| custom_events::set_favorite(tx, &ctx, id, favorite))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    pub fn toggle_custom_event_favorite(&self, id: Uuid) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self.db().write(|tx| {
            let current = repo::get_visible::<CustomEvent>(tx, id)?.fields.is_favorite;
            custom_events::set_favorite(tx, &ctx, id, !current)
        })?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    /// Counts a use of the event (an increment, like a story's play).
    pub fn record_custom_event_use(&self, id: Uuid) -> Result<CustomEventView> {
        let ctx = self.ctx();
        let row = self
            .db()
            .write(|tx| repo::increment::<CustomEvent>(tx, &ctx, id, 1))?;
        self.changed_locally(EntityKind::CustomEvent);
        Ok(custom_events::view(&row, ctx.max_attempts))
    }

    // -----------------------------------------------------------------------------------
    // Profile and usage (networkFirst)

    /// The profile from the server, or the saved copy when it cannot be reached
    /// (`saved_copy` says why). Unsynced local edits show on top of either.
    pub async fn profile(&self) -> Result<Read<ProfileView>> {
        let max = self.max_attempts();
        let user = self.account()?.map(|a| a.user_id);
        let cache = || match user {
            Some(u) => self.db().read(|c| profile::get(c, u, max)),
            None => Ok(None),
        };
        let core = self.clone();
        let network = async move {
            let rec: UserProfile = core.fetch("/api/users/me").await?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<Profile>(tx, &rec))?;
            core.db()
                .read(|c| profile::get(c, rec.id, max))?
                .ok_or(CoreError::NotCached)
        };
        let events = self.clone();
        let refreshed = move |r: Result<ProfileView>| {
            if let Ok(profile) = r {
                events.emit(CoreEvent::Refreshed {
                    value: Refreshed::Profile { profile },
                });
            }
        };
        policy::read(Profile::POLICY, cache, network, refreshed).await
    }

    /// Edits the profile: saved at once, synced like any other change (serverWins).
    pub fn update_profile(&self, input: ProfileInput) -> Result<ProfileView> {
        let ctx = self.ctx();
        let user = self
            .account()?
            .map(|a| a.user_id)
            .ok_or(CoreError::NotSignedIn)?;
        let row = self.db().write(|tx| {
            if entity::load::<Profile>(tx, user)?.is_none() {
                return Err(CoreError::NotCached);
            }
            repo::update::<Profile>(tx, &ctx, user, input)
        })?;
        self.changed_locally(EntityKind::UserProfile);
        Ok(profile::view(&row, ctx.max_attempts))
    }

    /// This month's usage and limits from the server, or the saved copy.
    pub async fn usage(&self) -> Result<Read<UsageView>> {
        let cache = || {
            Ok(self
                .db()
                .read(usage::load)?
                .map(|(stats, fetched_at)| UsageView { stats, fetched_at }))
        };
        let core = self.clone();
        let network = async move {
            let stats: UsageStats = core.fetch("/api/usage").await?;
            let now = core.now();
            core.db().write(|tx| usage::save(tx, &stats, now))?;
            Ok(UsageView {
                stats,
                fetched_at: now,
            })
        };
        let events = self.clone();
        let refreshed = move |r: Result<UsageView>| {
            if let Ok(usage) = r {
                events.emit(CoreEvent::Refreshed {
                    value: Refreshed::Usage { usage },
                });
            }
        };
        policy::read(usage::POLICY, cache, network, refreshed).await
    }

    // -----------------------------------------------------------------------------------
    // Any entity: retry, discard, conflicts, strategies

    pub fn retry(&self, kind: EntityKind, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        with_entity!(kind, E => self.db().write(|tx| repo::retry::<E>(tx, &ctx, id).map(drop))?, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(())
    }

    pub fn discard(&self, kind: EntityKind, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        with_entity!(kind, E => self.db().write(|tx| repo::discard::<E>(tx, &ctx, id))?, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(())
    }

    /// Every row waiting for the user to settle a conflict.
    pub fn conflicts(&self) -> Result<Vec<ConflictSummary>> {
        self.db().read(|c| {
            let mut out = Vec::new();
            conflict_summaries::<Hero>(c, &mut out)?;
            conflict_summaries::<Story>(c, &mut out)?;
            conflict_summaries::<CustomEvent>(c, &mut out)?;
            conflict_summaries::<Profile>(c, &mut out)?;
            Ok(out)
        })
    }

    /// Both versions of a conflicting row, the differing fields and the automatic merge.
    pub fn conflict_detail(&self, kind: EntityKind, id: Uuid) -> Result<ConflictDetail> {
        with_entity!(kind, E => self.db().read(|c| conflict_detail::<E>(c, id)), else => Err(Self::unsupported(kind)))
    }

    /// Settles a conflict: keep mine, use the server's, or a field-by-field merge. The
    /// losing version goes to the conflict history.
    pub fn resolve_conflict(
        &self,
        kind: EntityKind,
        id: Uuid,
        choice: ConflictChoice,
    ) -> Result<()> {
        let ctx = self.ctx();
        with_entity!(kind, E => {
            let choice = match choice {
                ConflictChoice::KeepMine => Choice::KeepMine,
                ConflictChoice::UseServer => Choice::UseServer,
                ConflictChoice::Merged { fields } => {
                    let serde_json::Value::Object(m) = fields else {
                        return Err(CoreError::Validation(vec![is_protocol::FieldError::new("fields", "Send the merged fields as an object")]));
                    };
                    Choice::Merged(from_object::<<E as SyncEntity>::Input>(m).map_err(|e| {
                        CoreError::Validation(vec![is_protocol::FieldError::new("fields", e.to_string())])
                    })?)
                }
            };
            self.db().write(|tx| repo::resolve::<E>(tx, &ctx, id, choice))?
        }, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(())
    }

    /// The versions that lost a conflict for one row, newest first.
    pub fn conflict_history(&self, kind: EntityKind, id: Uuid) -> Result<Vec<ConflictRecord>> {
        self.db()
            .read(|c| crate::sync::conflict_history(c, Some(kind), id))
    }

    /// Restores the version that lost a conflict (the server's after local_wins or
    /// "keep mine", else the local one): as an edit of the row if it still exists, else
    /// as a new row (the old id is a tombstone on the server). Returns the row's id.
    pub fn restore_conflict_version(&self, history_id: i64) -> Result<Uuid> {
        let ctx = self.ctx();
        let (kind, local) = self.db().read(|c| {
            let (entity, local): (String, String) = c
                .query_row(
                    "SELECT entity, CASE WHEN resolution IN ('local_wins', 'user_chose_local')
                                     THEN server_json ELSE local_json END
                 FROM conflict_history WHERE id = ?1",
                    [history_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => CoreError::NotFound {
                        entity: "conflict",
                        id: history_id.to_string(),
                    },
                    e => e.into(),
                })?;
            let kind = EntityKind::parse(&entity)
                .ok_or_else(|| CoreError::Corrupt(format!("conflict {history_id}: bad entity")))?;
            Ok((kind, local))
        })?;
        let id = with_entity!(kind, E => self.db().write(|tx| restore::<E>(tx, &ctx, &local))?, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(id)
    }

    /// The conflict strategy in force for an entity.
    pub fn conflict_strategy(&self, kind: EntityKind) -> Result<ConflictStrategy> {
        with_entity!(kind, E => self.db().read(crate::sync::strategy::<E>), else => Err(Self::unsupported(kind)))
    }

    /// Changes an entity's conflict strategy (Settings).
    pub fn set_conflict_strategy(
        &self,
        kind: EntityKind,
        strategy: ConflictStrategy,
    ) -> Result<()> {
        if kind == EntityKind::Illustration {
            return Err(Self::unsupported(kind));
        }
        let key = format!("{}{}", crate::db::meta::STRATEGY_PREFIX, kind.as_str());
        self.db()
            .write(|tx| crate::db::meta::set(tx, &key, strategy.as_str()))
    }
}

fn conflict_summaries<E: SyncEntity>(
    c: &rusqlite::Connection,
    out: &mut Vec<ConflictSummary>,
) -> Result<()> {
    for row in entity::load_where::<E>(c, "sync_status = 'conflict'", "updated_at DESC, id", [])? {
        let detail = conflict_detail_of::<E>(&row)?;
        out.push(ConflictSummary {
            entity: E::KIND,
            id: row.id,
            title: E::title(&row.fields),
            fields: detail.differing,
        });
    }
    Ok(())
}

fn conflict_detail<E: SyncEntity>(c: &rusqlite::Connection, id: Uuid) -> Result<ConflictDetail> {
    let row = entity::load_existing::<E>(c, id)?;
    conflict_detail_of::<E>(&row)
}

fn conflict_detail_of<E: SyncEntity>(row: &entity::SyncRow<E>) -> Result<ConflictDetail> {
    let SyncState::Conflict(op) = row.state else {
        return Err(CoreError::NotFound {
            entity: "conflict",
            id: row.id.to_string(),
        });
    };
    let server = row.server_snapshot.clone().or_else(|| row.base_record());
    let server = server
        .ok_or_else(|| CoreError::Corrupt(format!("{} {}: no server copy", E::LABEL, row.id)))?;
    let base = row
        .base_snapshot
        .as_ref()
        .map(|b| to_object(&E::record_parts(b).0))
        .transpose()?;
    let local = to_object(&row.fields)?;
    let theirs = to_object(&E::record_parts(&server).0)?;
    let local_newer = row.updated_at >= E::record_meta(&server).updated_at;
    let m = merge::merge(E::MERGE_FIELDS, base.as_ref(), &local, &theirs, local_newer);
    let differing = E::MERGE_FIELDS
        .iter()
        .filter(|f| local.get(f.name) != theirs.get(f.name))
        .map(|f| f.name.to_owned())
        .collect();
    Ok(ConflictDetail {
        entity: E::KIND,
        id: row.id,
        op,
        local: serde_json::Value::Object(local),
        server: serde_json::Value::Object(theirs),
        server_deleted: E::record_meta(&server).deleted,
        differing,
        needs_choice: m.conflicts().into_iter().map(str::to_owned).collect(),
        merged: serde_json::Value::Object(m.merged),
    })
}

fn restore<E: SyncEntity>(
    tx: &rusqlite::Connection,
    ctx: &repo::Ctx<'_>,
    local_json: &str,
) -> Result<Uuid> {
    let rec: E::Record = serde_json::from_str(local_json)?;
    let id = E::record_meta(&rec).id;
    let (input, _) = E::record_parts(&rec);
    match repo::get_visible::<E>(tx, id) {
        Ok(_) => repo::update::<E>(tx, ctx, id, input).map(|r| r.id),
        Err(CoreError::NotFound { .. }) if E::KIND != EntityKind::UserProfile => {
            repo::create::<E>(tx, ctx, input).map(|r| r.id)
        }
        Err(e) => Err(e),
    }
}
