//! User A can neither read nor change user B's rows by id, for every resource, over REST
//! and over push: another user's row behaves exactly like a missing one.

use axum::http::{Method, StatusCode};
use is_protocol::{EntityKind, HeroRecord, MediaJob, Outcome, Page, StoryRecord};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn rest_by_id_is_scoped_to_the_owner() {
    let h = Harness::new();
    let (a, _) = h.user_with_hero("a@example.com").await;
    let (b, b_hero) = h.user_with_hero("b@example.com").await;
    let b_story = h.create_story(&b, Some(b_hero.id), "B's story").await;
    let b_event = h.create_event(&b, "B's event").await;
    // B's media: an avatar.
    let job: MediaJob = h
        .post(&format!("/api/heroes/{}/avatar", b_hero.id))
        .token(&b)
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    assert_eq!(job.target_id, b_hero.id);
    h.state.wait_for_media().await;
    let b_hero_now: HeroRecord = h.get_hero(&b, b_hero.id).await.json_as();
    let avatar = b_hero_now.avatar_url.clone().expect("avatar made");
    let seq = h.current_seq();

    let hero = format!("/api/heroes/{}", b_hero.id);
    let story = format!("/api/stories/{}", b_story.id);
    let event = format!("/api/custom-events/{}", b_event.id);
    let cases: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, hero.clone(), None),
        (Method::PATCH, hero.clone(), Some(json!({"name": "Stolen"}))),
        (Method::DELETE, hero.clone(), None),
        (Method::POST, format!("{hero}/avatar"), None),
        (Method::GET, story.clone(), None),
        (
            Method::PATCH,
            story.clone(),
            Some(json!({"title": "Stolen"})),
        ),
        (Method::DELETE, story.clone(), None),
        (Method::POST, format!("{story}/play"), None),
        (Method::POST, format!("{story}/audio"), None),
        (Method::GET, format!("{story}/illustrations"), None),
        (Method::POST, format!("{story}/illustrations"), None),
        (Method::GET, event.clone(), None),
        (
            Method::PATCH,
            event.clone(),
            Some(json!({"title": "Stolen"})),
        ),
        (Method::DELETE, event.clone(), None),
        (Method::POST, format!("{event}/use"), None),
        (Method::GET, avatar.clone(), None),
    ];
    for (method, path, body) in cases {
        let mut req = h.req(method.clone(), &path).token(&a);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send()
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        let _ = method;
    }
    // Generating a story about B's hero is a validation error, like a missing hero.
    let err = h
        .post("/api/stories/generate")
        .token(&a)
        .json(json!({"hero_id": b_hero.id, "event_type": "bedtime", "language": "en"}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["hero_id"]);
    // A's lists and feed do not show B's rows.
    let stories: Page<StoryRecord> = h.get("/api/stories").token(&a).send().await.json_as();
    assert!(stories.items.is_empty());
    let by_hero: Page<StoryRecord> = h
        .get(&format!("/api/stories?hero_id={}", b_hero.id))
        .token(&a)
        .send()
        .await
        .json_as();
    assert!(by_hero.items.is_empty());
    let feed = h.changes_ok(&a, None, None).await;
    assert!(feed.changes.stories.is_empty() && feed.changes.custom_events.is_empty());
    assert_eq!(feed.changes.heroes.len(), 1, "only A's own hero");

    assert_eq!(h.current_seq(), seq, "nothing of B's was written");
    let still: StoryRecord = h
        .get(&story)
        .token(&b)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(still, b_story);
    h.get(&avatar).token(&b).send().await.expect(StatusCode::OK);
}

#[tokio::test]
async fn push_by_id_is_scoped_to_the_owner() {
    let h = Harness::new();
    let (a, _) = h.user_with_hero("a@example.com").await;
    let (b, b_hero) = h.user_with_hero("b@example.com").await;
    let b_story = h.create_story(&b, Some(b_hero.id), "B's story").await;
    let b_event = h.create_event(&b, "B's event").await;
    let seq = h.current_seq();
    let batch = vec![
        update_of(EntityKind::Hero, b_hero.id, 1, json!({"name": "Stolen"})),
        delete_of(EntityKind::Hero, b_hero.id, 1),
        update_of(EntityKind::Story, b_story.id, 1, json!({"title": "Stolen"})),
        delete_of(EntityKind::Story, b_story.id, 1),
        increment_of(EntityKind::Story, b_story.id, "play_count", 1),
        update_of(
            EntityKind::CustomEvent,
            b_event.id,
            1,
            json!({"title": "Stolen"}),
        ),
        delete_of(EntityKind::CustomEvent, b_event.id, 1),
        increment_of(EntityKind::CustomEvent, b_event.id, "usage_count", 1),
    ];
    for r in h.push(&a, batch).await.results {
        assert_eq!(rejected(&r.outcome).code, "not_found", "{:?}", r.outcome);
    }
    // Creating with B's ids: refused without showing B's row.
    for (entity, id, data) in [
        (EntityKind::Hero, b_hero.id, hero_json("Clone")),
        (EntityKind::Story, b_story.id, story_json(None, "Clone")),
        (EntityKind::CustomEvent, b_event.id, event_json("Clone")),
    ] {
        match h.push_one(&a, create_of(entity, id, data)).await {
            Outcome::Rejected { error } => {
                assert_eq!(error.code, "conflict");
                assert!(error.details.is_none(), "B's row is not shown");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(h.current_seq(), seq, "nothing written");
    // The same mutation id used by two users is two different mutations.
    let shared = Uuid::new_v4();
    let mut ma = create_of(EntityKind::Story, Uuid::now_v7(), story_json(None, "A"));
    ma.mutation_id = shared;
    let mut mb = create_of(EntityKind::Story, Uuid::now_v7(), story_json(None, "B"));
    mb.mutation_id = shared;
    applied_story(&h.push_one(&a, ma).await);
    applied_story(&h.push_one(&b, mb).await);
}
