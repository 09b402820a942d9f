//! Pull: the change feed page by page (the next page is fetched while the current one
//! is applied), each page and its cursor in one transaction; a 410 starts a full
//! resync ([`super::resync`]). Pulled rows never overwrite local changes.

use is_protocol::{ChangeSet, ChangesResponse, EntityKind};
use rusqlite::Connection;
use uuid::Uuid;

use crate::db::meta;
use crate::entity::store::{self as entity};
use crate::entity::{SyncEntity, SyncRow};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::outbox::{self};
use crate::status::SyncProgress;

use crate::repo::custom_events::CustomEvent;
use crate::repo::heroes::Hero;
use crate::repo::illustrations;
use crate::repo::profile::Profile;
use crate::repo::stories::Story;
use crate::sync::state::{next_state, OutboxEffect, RowEffect, SyncEvent};
use crate::transport::{TransportError, TransportResult};

use super::plan::{plan_pull, LocalMeta, PullAction};
use super::{generation, resync, RunError, SyncEngine, SyncReport};

/// Rows per change-feed page: the largest the server serves, so that an initial sync
/// takes as few round trips (and transactions) as possible.
pub const PULL_PAGE: u32 = is_protocol::MAX_CHANGES_LIMIT;

impl SyncEngine {
    pub async fn pull(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        let (mut cursor, mut resync) = self.db.read(|c| {
            Ok((
                meta::get(c, meta::CURSOR)?,
                meta::get(c, meta::RESYNC)?.is_some(),
            ))
        })?;
        let mut restarted = false;
        // A first sync (or a resync) shows its progress: rows received and about how
        // many remain.
        if cursor.is_none() {
            self.db.write(|tx| meta::set(tx, meta::INITIAL_SYNC, "1"))?;
            // A pull from the start lists every live row; if the cache already holds
            // rows the server confirmed (learned from our own pushes), it is a full
            // listing: rows it does not show were deleted meanwhile, and are swept.
            if !resync && self.db.read(crate::repo::has_server_rows)? {
                self.db.write(resync::begin)?;
                resync = true;
            }
        }
        let first = resync
            || self
                .db
                .read(|c| meta::get(c, meta::INITIAL_SYNC))?
                .is_some();
        let mut received: u64 = 0;
        let mut prefetched: Option<tokio::task::JoinHandle<TransportResult<ChangesResponse>>> =
            None;
        loop {
            let page = match prefetched.take() {
                Some(next) => next
                    .await
                    .map_err(|e| TransportError::Protocol(format!("the page fetch failed: {e}")))?,
                None => {
                    self.transport
                        .changes(token, cursor.as_deref(), PULL_PAGE)
                        .await
                }
            };
            let page = match page {
                Ok(page) => page,
                Err(e) if e.status() == Some(410) && !restarted => {
                    // The cursor is older than the server's tombstone horizon.
                    tracing::info!("the change feed expired our cursor: full resync");
                    self.db.write(resync::begin)?;
                    (cursor, resync, restarted) = (None, true, true);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if page.has_more && cursor.as_deref() == Some(page.next_cursor.as_str()) {
                // A feed that says "more" without moving would loop forever.
                return Err(RunError::Transport(TransportError::Protocol(
                    "the change feed did not advance".into(),
                )));
            }
            if page.has_more {
                // Fetch the next page while this one is applied.
                let (transport, token, next) = (
                    self.transport.clone(),
                    token.to_owned(),
                    page.next_cursor.clone(),
                );
                prefetched = Some(tokio::spawn(async move {
                    transport.changes(&token, Some(&next), PULL_PAGE).await
                }));
            }
            report.pulled += page.changes.len() as u32;
            page.changes.kinds().for_each(|kind| report.touched(kind));
            if resync && !page.has_more {
                // The sweep may delete rows of every kind.
                EntityKind::ALL
                    .into_iter()
                    .for_each(|kind| report.touched(kind));
            }
            self.db.write(|tx| {
                let gen = generation(tx)?;
                self.apply_page(tx, &page.changes, gen, resync)?;
                // The cursor moves only with the page it covers.
                meta::set(tx, meta::CURSOR, &page.next_cursor)?;
                if resync && !page.has_more {
                    resync::sweep(tx, gen)?;
                    meta::delete(tx, meta::RESYNC)?;
                }
                if !page.has_more {
                    meta::delete(tx, meta::INITIAL_SYNC)?;
                }
                Ok(())
            })?;
            received += page.changes.len() as u64;
            let _ = self.events.send(CoreEvent::SyncProgress {
                progress: SyncProgress {
                    received,
                    remaining: if page.has_more {
                        page.remaining
                    } else {
                        Some(0)
                    },
                    first_sync: first || restarted,
                    done: !page.has_more,
                },
            });
            if !page.has_more {
                return Ok(());
            }
            // Cancelled: what was applied stays, and the next run goes on from here.
            if let Err(e) = self.check_cancel() {
                if let Some(next) = prefetched.take() {
                    next.abort();
                }
                return Err(e);
            }
            cursor = Some(page.next_cursor);
        }
    }

    /// Applies one page of the change feed (inside the page's transaction).
    pub fn apply_page(
        &self,
        tx: &Connection,
        changes: &ChangeSet,
        gen: i64,
        resync: bool,
    ) -> Result<()> {
        self.pull_records::<Hero>(tx, &changes.heroes, gen, resync)?;
        self.pull_records::<CustomEvent>(tx, &changes.custom_events, gen, resync)?;
        self.pull_records::<Story>(tx, &changes.stories, gen, resync)?;
        for rec in &changes.illustrations {
            illustrations::apply(tx, rec, gen, resync)?;
        }
        if let Some(profile) = &changes.profile {
            self.pull_records::<Profile>(tx, std::slice::from_ref(profile), gen, resync)?;
        }
        Ok(())
    }

    fn pull_records<E: SyncEntity>(
        &self,
        tx: &Connection,
        recs: &[E::Record],
        gen: i64,
        resync: bool,
    ) -> Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        // One lookup for the whole page: on an initial sync it finds nothing.
        let ids: Vec<Uuid> = recs.iter().map(|r| E::record_meta(r).id).collect();
        let existing = entity::load_metas::<E>(tx, &ids)?;
        for rec in recs {
            let m = E::record_meta(rec);
            // A page holds each row once; rows it inserted are not in `existing`.
            let stored = existing.get(&m.id).copied();
            let local = stored.map(|s| LocalMeta {
                state: s.state,
                base_version: s.base_version,
                remembered_version: s.remembered_version,
            });
            match plan_pull(local, m.version, m.deleted, resync) {
                PullAction::Insert => entity::save(tx, &SyncRow::<E>::from_server(rec, now, gen))?,
                PullAction::Skip => {
                    if resync && stored.is_some() {
                        entity::mark_seen::<E>(tx, m.id, gen)?;
                    }
                }
                PullAction::Overwrite | PullAction::Remove { .. } | PullAction::Remember => {
                    if let Some(mut row) = entity::load::<E>(tx, m.id)? {
                        self.apply_remote(tx, &mut row, rec, gen)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A newer server version arrived for an existing row.
    pub fn apply_remote<E: SyncEntity>(
        &self,
        tx: &Connection,
        row: &mut SyncRow<E>,
        rec: &E::Record,
        gen: i64,
    ) -> Result<()> {
        let deleted = E::record_meta(rec).deleted;
        let event = if deleted {
            SyncEvent::RemoteDeleted
        } else {
            SyncEvent::RemoteChanged
        };
        let t = next_state(row.state, event).map_err(CoreError::from)?;
        row.seen_gen = gen;
        match t.row {
            RowEffect::Remove | RowEffect::TakeServer if deleted => {
                entity::remove::<E>(tx, row.id)?;
                outbox::drop_all(tx, E::KIND, row.id)
            }
            RowEffect::Remove => {
                entity::remove::<E>(tx, row.id)?;
                outbox::drop_all(tx, E::KIND, row.id)
            }
            RowEffect::TakeServer => {
                row.take_server(rec, self.clock.now());
                entity::save(tx, row)
            }
            _ => {
                // Local changes stay; the server's copy is remembered for the push, and
                // its server-written fields (media, counters) show at once.
                if t.outbox == OutboxEffect::DropAll {
                    outbox::drop_edits(tx, E::KIND, row.id)?;
                }
                row.server_snapshot = Some(rec.clone());
                if !deleted {
                    row.server = E::record_server(rec);
                }
                entity::save(tx, row)
            }
        }
    }

    /// Stores a row fetched directly from the server (a REST read, a generated story)
    /// as a pull would.
    pub fn store_fetched<E: SyncEntity>(&self, tx: &Connection, rec: &E::Record) -> Result<()> {
        let gen = generation(tx)?;
        self.pull_records::<E>(tx, std::slice::from_ref(rec), gen, false)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use chrono::TimeZone;
    use is_protocol::{
        ChangeSet, ErrorBody, GenerationStatus, Health, HeroInput, HeroRecord, HeroTrait,
        IllustrationRecord, Language, LoginRequest, PushResponse, SessionResponse, SignupRequest,
        StoryRecord,
    };

    use super::*;
    use crate::clock::ManualClock;
    use crate::db;
    use crate::db::Db;
    use crate::entity::store as entity;
    use crate::rng::SplitMix64;
    use crate::sync::plan::RetryPolicy;
    use crate::sync::state::{PendingOp, SyncState};
    use crate::transport::{BoxFuture, Transport};
    use chrono::{DateTime, Utc};
    use is_protocol::{codes, ChangesResponse, PushRequest};
    use std::sync::Arc;

    use crate::repo::{self, Ctx};

    /// A change feed that answers from a script, checking the cursor it is asked for.
    struct Script(Mutex<VecDeque<(Option<&'static str>, TransportResult<ChangesResponse>)>>);

    impl Transport for Script {
        fn base_url(&self) -> &str {
            "script://"
        }
        fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
            unreachable!()
        }
        fn signup<'a>(
            &'a self,
            _: &'a SignupRequest,
        ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
            unreachable!()
        }
        fn login<'a>(
            &'a self,
            _: &'a LoginRequest,
        ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
            unreachable!()
        }
        fn logout<'a>(&'a self, _: &'a str) -> BoxFuture<'a, TransportResult<()>> {
            unreachable!()
        }
        fn push<'a>(
            &'a self,
            _: &'a str,
            _: &'a PushRequest,
        ) -> BoxFuture<'a, TransportResult<PushResponse>> {
            Box::pin(async { Ok(PushResponse { results: vec![] }) })
        }
        fn changes<'a>(
            &'a self,
            _: &'a str,
            cursor: Option<&'a str>,
            _: u32,
        ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
            let (want, answer) = self
                .0
                .lock()
                .unwrap()
                .pop_front()
                .expect("an unscripted request");
            assert_eq!(cursor, want, "the feed was asked from the wrong cursor");
            Box::pin(async move { answer })
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
    }

    fn hero(n: u128, version: i64, name: &str) -> HeroRecord {
        HeroRecord {
            id: Uuid::from_u128(n),
            version,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            name: name.into(),
            age: 5,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            avatar_url: None,
            avatar_generation_id: None,
            ..Default::default()
        }
    }

    fn story(n: u128, version: i64) -> StoryRecord {
        StoryRecord {
            id: Uuid::from_u128(n),
            version,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            hero_id: None,
            title: format!("Story {n}"),
            content: "Text".into(),
            language: Language::En,
            event_type: Some(is_protocol::EventType::Bedtime),
            custom_event_id: None,
            is_favorite: false,
            play_count: 0,
            last_played_at: None,
            audio_url: None,
            audio_duration: None,
            ..Default::default()
        }
    }

    fn illustration(n: u128, story: u128) -> IllustrationRecord {
        IllustrationRecord {
            id: Uuid::from_u128(n),
            version: 1,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            story_id: Uuid::from_u128(story),
            image_url: Some("/api/media/x.png".into()),
            prompt: "An owl".into(),
            timestamp: 1.5,
            display_order: 0,
            generation_status: GenerationStatus::Ready,
        }
    }

    fn page(changes: ChangeSet, next: &str, has_more: bool) -> TransportResult<ChangesResponse> {
        Ok(ChangesResponse {
            changes,
            next_cursor: next.into(),
            has_more,
            remaining: None,
        })
    }

    fn engine(script: Vec<(Option<&'static str>, TransportResult<ChangesResponse>)>) -> SyncEngine {
        SyncEngine::new(
            Arc::new(Db::new(db::open_in_memory().unwrap())),
            Arc::new(Script(Mutex::new(script.into()))),
            Arc::new(ManualClock::new(t0())),
            Arc::new(SplitMix64::new(5)),
            RetryPolicy::default(),
        )
    }

    fn ids<E: SyncEntity>(e: &SyncEngine) -> Vec<u128> {
        let rows =
            e.db.read(|c| entity::load_where::<E>(c, "1", "id", []))
                .unwrap();
        rows.iter().map(|r| r.id.as_u128()).collect()
    }

    #[tokio::test]
    async fn a_410_resync_sweeps_what_the_server_no_longer_has_and_survives_a_crash() {
        let gone = TransportError::Http {
            status: 410,
            body: ErrorBody::new(codes::CURSOR_EXPIRED, "expired"),
            retry_after: None,
        };
        let e = engine(vec![
            (Some("c5"), Err(gone)),
            (
                None,
                page(
                    ChangeSet {
                        heroes: vec![hero(1, 2, "A2")],
                        ..Default::default()
                    },
                    "p1",
                    true,
                ),
            ),
            // The connection drops half-way (the app could as well have crashed here).
            (Some("p1"), Err(TransportError::Unreachable("gone".into()))),
            (
                Some("p1"),
                page(
                    ChangeSet {
                        heroes: vec![hero(3, 1, "C")],
                        stories: vec![story(10, 1)],
                        illustrations: vec![illustration(20, 10)],
                        ..Default::default()
                    },
                    "p2",
                    false,
                ),
            ),
        ]);
        let ctx_clock = ManualClock::new(t0());
        let rng = SplitMix64::new(9);
        let ctx = Ctx {
            clock: &ctx_clock,
            rng: &rng,
            max_attempts: 3,
        };
        e.db.write(|tx| {
            let now = t0();
            for rec in [hero(1, 1, "A"), hero(2, 1, "B"), hero(3, 1, "C")] {
                entity::save(tx, &SyncRow::<Hero>::from_server(&rec, now, 0))?;
            }
            for rec in [story(10, 1), story(11, 1)] {
                entity::save(tx, &SyncRow::<Story>::from_server(&rec, now, 0))?;
            }
            illustrations::apply(tx, &illustration(20, 10), 0, false)?;
            illustrations::apply(tx, &illustration(21, 11), 0, false)?;
            // Local work the resync must not touch: an edit and a new row.
            let edit = HeroInput {
                name: "C edited".into(),
                ..hero(3, 1, "C").input()
            };
            repo::update::<Hero>(tx, &ctx, Uuid::from_u128(3), edit)?;
            repo::create::<Hero>(
                tx,
                &ctx,
                HeroInput {
                    name: "New".into(),
                    ..hero(9, 1, "x").input()
                },
            )?;
            meta::set(tx, meta::CURSOR, "c5")
        })
        .unwrap();
        let new_id = ids::<Hero>(&e).into_iter().find(|id| *id > 1000).unwrap();

        let mut report = SyncReport::default();
        let err = e.pull("token", &mut report).await.unwrap_err();
        assert!(
            matches!(err, RunError::Transport(TransportError::Unreachable(_))),
            "{err:?}"
        );
        // Half-way: the first page is in, nothing is swept yet, and the resync is on record.
        assert_eq!(
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(1)))
                .unwrap()
                .unwrap()
                .fields
                .name,
            "A2"
        );
        assert_eq!(ids::<Hero>(&e).len(), 4);
        assert_eq!(
            e.db.read(|c| meta::get(c, meta::CURSOR))
                .unwrap()
                .as_deref(),
            Some("p1")
        );
        assert!(e.db.read(|c| meta::get(c, meta::RESYNC)).unwrap().is_some());
        assert_eq!(e.db.read(generation).unwrap(), 1);

        // Resumed from the saved cursor (not from the start), then swept.
        e.pull("token", &mut report).await.unwrap();
        let mut heroes = ids::<Hero>(&e);
        heroes.sort();
        assert_eq!(
            heroes,
            [1, 3, new_id],
            "B was deleted on the server; the new row and the edit stay"
        );
        let c =
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(3)))
                .unwrap()
                .unwrap();
        assert_eq!(
            (c.fields.name.as_str(), c.state),
            ("C edited", SyncState::Pending(PendingOp::Update))
        );
        assert_eq!(ids::<Story>(&e), [10]);
        let pics =
            e.db.read(|c| illustrations::list_for_story(c, Uuid::from_u128(10)))
                .unwrap();
        assert_eq!(pics.len(), 1);
        assert!(e
            .db
            .read(|c| illustrations::list_for_story(c, Uuid::from_u128(11)))
            .unwrap()
            .is_empty());
        assert!(e.db.read(|c| meta::get(c, meta::RESYNC)).unwrap().is_none());
        assert_eq!(
            e.db.read(|c| meta::get(c, meta::CURSOR))
                .unwrap()
                .as_deref(),
            Some("p2")
        );
        assert_eq!(
            e.db.read(crate::outbox::len).unwrap(),
            2,
            "the pending changes still wait to be pushed"
        );
    }

    #[tokio::test]
    async fn a_page_never_overwrites_local_changes_and_remembers_the_server_copy() {
        let e = engine(vec![(
            None,
            page(
                ChangeSet {
                    heroes: vec![hero(1, 5, "Server")],
                    ..Default::default()
                },
                "p1",
                false,
            ),
        )]);
        let (clock, rng) = (ManualClock::new(t0()), SplitMix64::new(1));
        let ctx = Ctx {
            clock: &clock,
            rng: &rng,
            max_attempts: 3,
        };
        e.db.write(|tx| {
            entity::save(tx, &SyncRow::<Hero>::from_server(&hero(1, 4, "A"), t0(), 0))?;
            repo::update::<Hero>(
                tx,
                &ctx,
                Uuid::from_u128(1),
                HeroInput {
                    name: "Mine".into(),
                    ..hero(1, 4, "A").input()
                },
            )
            .map(drop)
        })
        .unwrap();
        e.pull("token", &mut SyncReport::default()).await.unwrap();
        let row =
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(1)))
                .unwrap()
                .unwrap();
        assert_eq!(row.fields.name, "Mine");
        assert_eq!((row.base_version, row.known_version()), (Some(4), Some(5)));
        assert_eq!(
            row.base_snapshot.unwrap().name,
            "A",
            "the merge base is kept"
        );
    }
}
