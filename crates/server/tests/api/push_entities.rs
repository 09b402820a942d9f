//! `POST /api/sync/push` for stories, custom events, the profile and illustrations:
//! the hero semantics (idempotent, preconditions, per-mutation results) plus increments.

use axum::http::StatusCode;
use is_protocol::{EntityKind, Outcome, Record, StoryRecord, UserProfile};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

const STORY: EntityKind = EntityKind::Story;
const EVENT: EntityKind = EntityKind::CustomEvent;

#[tokio::test]
async fn story_create_update_delete_and_replays() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let id = Uuid::now_v7();
    let c = create_of(STORY, id, story_json(Some(hero.id), "One"));
    let first = h.push_one(&t, c.clone()).await;
    let s1 = applied_story(&first);
    assert_eq!((s1.id, s1.version), (id, 1));

    let u = update_of(STORY, id, 1, json!({"title": "Two", "language": "fr"}));
    let s2 = applied_story(&h.push_one(&t, u.clone()).await);
    assert_eq!((s2.version, s2.title.as_str()), (2, "Two"));

    // Replays answer the first outcome and write nothing.
    let seq = h.current_seq();
    for (m, want) in [(c, first.clone())] {
        match h.push_one(&t, m).await {
            Outcome::Duplicate { first } => assert_eq!(*first, want),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(h.push_one(&t, u).await, Outcome::Duplicate { .. }));
    assert_eq!(h.current_seq(), seq);

    // A stale update conflicts with the current row; a create of an existing id too.
    let stale = h
        .push_one(&t, update_of(STORY, id, 1, json!({"title": "Stale"})))
        .await;
    match stale {
        Outcome::Conflict {
            current: Record::Story(s),
        } => assert_eq!(s, s2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        h.push_one(&t, create_of(STORY, id, story_json(None, "Dup")))
            .await,
        Outcome::Conflict { .. }
    ));

    let gone = applied_story(&h.push_one(&t, delete_of(STORY, id, 2)).await);
    assert!(gone.deleted);
    assert_eq!(gone.version, 3);
    // Editing a tombstone conflicts (with the tombstone).
    match h
        .push_one(&t, update_of(STORY, id, 3, json!({"title": "Zombie"})))
        .await
    {
        Outcome::Conflict { current } => assert!(current.deleted()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rejections_never_block_the_rest_of_the_batch() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let (_, strangers_hero) = h.user_with_hero("b@example.com").await;
    let ok1 = Uuid::now_v7();
    let ok2 = Uuid::now_v7();
    let ev = Uuid::now_v7();
    let batch = vec![
        create_of(STORY, ok1, story_json(Some(hero.id), "Fine")),
        create_of(
            STORY,
            Uuid::now_v7(),
            story_json(Some(strangers_hero.id), "Not my hero"),
        ),
        create_of(
            STORY,
            Uuid::now_v7(),
            json!({"title": "", "content": "x", "language": "en", "event_type": "bedtime"}),
        ),
        create_of(STORY, Uuid::now_v7(), json!({"nonsense": true})),
        create_of(EVENT, ev, event_json("Party")),
        // A story naming the event created just before in the same batch.
        create_of(
            STORY,
            ok2,
            json!({"title": "T", "content": "C", "language": "es", "custom_event_id": ev}),
        ),
        update_of(STORY, Uuid::now_v7(), 1, json!({"title": "Missing"})),
        create_of(EntityKind::Illustration, Uuid::now_v7(), json!({})),
        increment_of(STORY, ok1, "play_count", 2),
    ];
    let res = h.push(&t, batch).await;
    let o: Vec<&Outcome> = res.results.iter().map(|r| &r.outcome).collect();
    applied_story(o[0]);
    let e = rejected(o[1]);
    assert_eq!(e.code, "validation");
    assert_eq!(fields(e.details.as_ref().unwrap()), ["hero_id"]);
    assert_eq!(rejected(o[2]).code, "validation");
    assert_eq!(rejected(o[3]).code, "bad_request");
    applied_event(o[4]);
    assert_eq!(applied_story(o[5]).custom_event_id, Some(ev));
    assert_eq!(rejected(o[6]).code, "not_found");
    assert_eq!(rejected(o[7]).code, "forbidden");
    let played = applied_story(o[8]);
    assert_eq!(played.play_count, 2);
}

#[tokio::test]
async fn increments_never_conflict_and_set_last_played_at() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let s = h.create_story(&t, Some(hero.id), "Counted").await;
    // Another device edits the story: the base version the client knew is stale.
    h.patch(&format!("/api/stories/{}", s.id))
        .token(&t)
        .json(json!({"title": "Edited"}))
        .send()
        .await
        .expect(StatusCode::OK);
    h.clock.advance(chrono::Duration::minutes(3));
    let inc = increment_of(STORY, s.id, "play_count", 1);
    let after = applied_story(&h.push_one(&t, inc.clone()).await);
    assert_eq!((after.play_count, after.version), (1, 3));
    assert_eq!(after.title, "Edited", "the edit is kept");
    assert_eq!(after.last_played_at, Some(h.state.now()));
    // A replayed increment is not counted twice.
    assert!(matches!(
        h.push_one(&t, inc).await,
        Outcome::Duplicate { .. }
    ));
    let again = applied_story(
        &h.push_one(&t, increment_of(STORY, s.id, "play_count", 3))
            .await,
    );
    assert_eq!(again.play_count, 4);

    // Custom event usage.
    let e = h.create_event(&t, "Party").await;
    let used = applied_event(
        &h.push_one(&t, increment_of(EVENT, e.id, "usage_count", 1))
            .await,
    );
    assert_eq!((used.usage_count, used.version), (1, 2));

    // Bad counters are rejected; heroes have none.
    for (entity, id, counter, by) in [
        (STORY, s.id, "usage_count", 1),
        (STORY, s.id, "play_count", 0),
        (STORY, s.id, "play_count", -5),
        (EVENT, e.id, "play_count", 1),
        (EntityKind::Hero, hero.id, "play_count", 1),
    ] {
        let o = h.push_one(&t, increment_of(entity, id, counter, by)).await;
        assert_eq!(rejected(&o).code, "validation", "{entity:?} {counter} {by}");
    }
    // On a tombstone: applied as a no-op carrying the tombstone.
    h.delete(&format!("/api/stories/{}", s.id))
        .token(&t)
        .send()
        .await;
    let tomb = applied_story(
        &h.push_one(&t, increment_of(STORY, s.id, "play_count", 1))
            .await,
    );
    assert!(tomb.deleted);
    assert_eq!(tomb.play_count, 4);
}

#[tokio::test]
async fn custom_event_push_lifecycle() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();
    let e = applied_event(
        &h.push_one(&t, create_of(EVENT, id, event_json("Trip")))
            .await,
    );
    assert_eq!(e.version, 1);
    let bad = h
        .push_one(
            &t,
            update_of(EVENT, id, 1, json!({"pictogram_emoji": "xx", "title": ""})),
        )
        .await;
    let err = rejected(&bad);
    assert_eq!(
        fields(err.details.as_ref().unwrap()),
        ["title", "pictogram_emoji"]
    );
    let e2 = applied_event(
        &h.push_one(
            &t,
            update_of(EVENT, id, 1, json!({"category": "adventure"})),
        )
        .await,
    );
    assert_eq!(e2.version, 2);
    assert!(matches!(
        h.push_one(&t, delete_of(EVENT, id, 1)).await,
        Outcome::Conflict { .. }
    ));
    let gone = applied_event(&h.push_one(&t, delete_of(EVENT, id, 2)).await);
    assert!(gone.deleted);
}

#[tokio::test]
async fn profile_updates_through_push_and_rest() {
    let h = Harness::new();
    let session = h.signup("ada@example.com").await;
    let t = session.token;
    let me: UserProfile = h
        .get("/api/users/me")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(me.id, session.user.id);
    assert_eq!((me.version, me.email.as_str()), (1, "ada@example.com"));
    assert_eq!(serde_json::to_value(me.theme).unwrap(), "system");
    assert_eq!(serde_json::to_value(me.subscription_tier).unwrap(), "free");
    // Not in the feed until it changes.
    assert!(h.changes_ok(&t, None, None).await.changes.profile.is_none());

    let m = update_of(
        EntityKind::UserProfile,
        me.id,
        1,
        json!({"theme": "dark", "preferred_language": "de"}),
    );
    let p2 = match applied_record(&h.push_one(&t, m).await) {
        Record::UserProfile(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(p2.version, 2);
    assert_eq!(serde_json::to_value(p2.preferred_language).unwrap(), "de");
    let feed = h.changes_ok(&t, None, None).await;
    assert_eq!(feed.changes.profile, Some(p2.clone()));
    // Stale: conflict. Someone else's id: not found. Create / delete: forbidden.
    let stale = h
        .push_one(
            &t,
            update_of(EntityKind::UserProfile, me.id, 1, json!({"theme": "light"})),
        )
        .await;
    assert!(matches!(
        stale,
        Outcome::Conflict {
            current: Record::UserProfile(_)
        }
    ));
    let other = h.signup("b@example.com").await;
    let o = h
        .push_one(
            &t,
            update_of(
                EntityKind::UserProfile,
                other.user.id,
                1,
                json!({"name": "Evil"}),
            ),
        )
        .await;
    assert_eq!(rejected(&o).code, "not_found");
    let o = h
        .push_one(&t, delete_of(EntityKind::UserProfile, me.id, 2))
        .await;
    assert_eq!(rejected(&o).code, "forbidden");
    let o = h
        .push_one(
            &t,
            update_of(EntityKind::UserProfile, me.id, 2, json!({"email": "x@y.z"})),
        )
        .await;
    assert_eq!(rejected(&o).code, "bad_request");

    // REST: If-Match, 412, 422, and the session reflects the new name.
    let res = h
        .patch("/api/users/me")
        .token(&t)
        .header("if-match", "\"2\"")
        .json(json!({"name": "  Ada L. "}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(res.headers["etag"], "\"3\"");
    let p3: UserProfile = res.json_as();
    assert_eq!(p3.name, "Ada L.");
    h.patch("/api/users/me")
        .token(&t)
        .header("if-match", "2")
        .json(json!({"theme": "light"}))
        .send()
        .await
        .expect_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let err = h
        .patch("/api/users/me")
        .token(&t)
        .json(json!({"name": ""}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["name"]);
    h.patch("/api/users/me")
        .token(&t)
        .json(json!({"subscription_tier": "premium"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    let session: is_protocol::SessionResponse =
        h.get("/api/auth/session").token(&t).send().await.json_as();
    assert_eq!(session.user.name, "Ada L.");
    // The other user's profile did not change.
    let theirs: UserProfile = h
        .get("/api/users/me")
        .token(&other.token)
        .send()
        .await
        .json_as();
    assert_eq!((theirs.version, theirs.name.as_str()), (1, "Parent"));
}

#[tokio::test]
async fn feed_carries_every_entity_in_write_order_with_tombstones() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let e = h.create_event(&t, "Party").await;
    let s = h.create_story(&t, Some(hero.id), "Story").await;
    h.delete(&format!("/api/custom-events/{}", e.id))
        .token(&t)
        .send()
        .await;
    h.patch("/api/users/me")
        .token(&t)
        .json(json!({"theme": "dark"}))
        .send()
        .await;
    let page = h.changes_ok(&t, None, None).await;
    assert_eq!(page.changes.heroes.len(), 1);
    assert_eq!(page.changes.stories, vec![s.clone()]);
    assert_eq!(page.changes.custom_events.len(), 1);
    assert!(page.changes.custom_events[0].deleted, "a tombstone");
    assert!(page.changes.profile.is_some());
    assert_eq!(page.changes.len(), 4);

    // Paging one row at a time visits every row once, in write order.
    let (pages, _) = h.drain_all(&t, None, 1).await;
    assert_eq!(pages.len(), 4);
    assert_eq!(pages[0].heroes.len(), 1);
    assert_eq!(
        pages[1].stories.len(),
        1,
        "the event is later: it was deleted after"
    );
    assert_eq!(pages[2].custom_events.len(), 1);
    assert!(pages[3].profile.is_some());
    let story: &StoryRecord = &pages[1].stories[0];
    assert_eq!(story.id, s.id);
}
