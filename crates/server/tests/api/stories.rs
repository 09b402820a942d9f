//! `/api/stories` and `/api/custom-events`: REST CRUD, filters, keyset pagination,
//! If-Match, validation, references, and what deleting a hero or a story does.

use std::collections::HashSet;

use axum::http::StatusCode;
use is_protocol::{CustomEventRecord, IllustrationRecord, Page, StoryRecord};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn story_crud_with_etags_and_if_match() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let id = Uuid::now_v7();
    let mut body = story_json(Some(hero.id), "  Luna and the Moon ");
    body["id"] = json!(id);
    let res = h.post("/api/stories").token(&t).json(body).send().await;
    let res = res.expect(StatusCode::CREATED);
    assert_eq!(res.headers["location"], format!("/api/stories/{id}"));
    assert_eq!(res.headers["etag"], "\"1\"");
    let s: StoryRecord = res.json_as();
    assert_eq!(
        (s.id, s.version, s.title.as_str()),
        (id, 1, "Luna and the Moon")
    );
    assert_eq!(s.hero_id, Some(hero.id));
    assert_eq!(s.play_count, 0);
    assert!(s.audio_url.is_none() && s.last_played_at.is_none());

    let path = format!("/api/stories/{id}");
    let got: StoryRecord = h
        .get(&path)
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(got, s);

    h.clock.advance(chrono::Duration::seconds(1));
    let v2: StoryRecord = h
        .patch(&path)
        .token(&t)
        .header("if-match", "\"1\"")
        .json(json!({"is_favorite": true, "custom_event_id": null}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!((v2.version, v2.is_favorite), (2, true));
    assert!(v2.updated_at > s.updated_at);

    // A stale If-Match: 412 with the current row, nothing written.
    let err = h
        .patch(&path)
        .token(&t)
        .header("if-match", "1")
        .json(json!({"title": "Stale"}))
        .send()
        .await
        .expect_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let current: StoryRecord = serde_json::from_value(err["details"]["current"].clone()).unwrap();
    assert_eq!(current, v2);
    h.delete(&path)
        .token(&t)
        .header("if-match", "1")
        .send()
        .await
        .expect_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");

    // Switching to a custom event clears the event type.
    let ev = h.create_event(&t, "Grandma's visit").await;
    let v3: StoryRecord = h
        .patch(&path)
        .token(&t)
        .json(json!({"custom_event_id": ev.id}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!((v3.event_type, v3.custom_event_id), (None, Some(ev.id)));

    h.delete(&path)
        .token(&t)
        .header("if-match", "3")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&path)
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // Again: a no-op 204.
    h.delete(&path)
        .token(&t)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    // The same id cannot be created again.
    let mut again = story_json(None, "Again");
    again["id"] = json!(id);
    h.post("/api/stories")
        .token(&t)
        .json(again)
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn story_validation_reports_every_field() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let err = h
        .post("/api/stories")
        .token(&t)
        .json(json!({
            "title": " ",
            "content": "x".repeat(50_001),
            "language": "en",
        }))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["title", "content", "event_type"]);

    let both = json!({
        "title": "T", "content": "C", "language": "it",
        "event_type": "birthday", "custom_event_id": Uuid::now_v7(),
    });
    let err = h
        .post("/api/stories")
        .token(&t)
        .json(both)
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let f = fields(&err["details"]);
    assert!(f.contains(&"event_type".to_owned()), "{f:?}");
    assert!(
        f.contains(&"custom_event_id".to_owned()),
        "unknown event too: {f:?}"
    );

    for bad in [
        json!({"title": "T", "content": "C", "language": "pt", "event_type": "bedtime"}),
        json!({"title": "T", "content": "C", "language": "en", "event_type": "wedding"}),
        json!({"title": "T", "content": "C", "language": "en", "event_type": "bedtime", "play_count": 4}),
        json!({"title": "T", "content": "C", "language": "en", "event_type": "bedtime", "audio_url": "x"}),
        json!({"title": 5, "content": "C", "language": "en", "event_type": "bedtime"}),
    ] {
        h.post("/api/stories")
            .token(&t)
            .json(bad.clone())
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let title_max = json!({"title": "é".repeat(200), "content": "C", "language": "de", "event_type": "holiday"});
    h.post("/api/stories")
        .token(&t)
        .json(title_max)
        .send()
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn story_hero_must_be_the_users_own_live_hero() {
    let h = Harness::new();
    let (a, hero_a) = h.user_with_hero("a@example.com").await;
    let (b, hero_b) = h.user_with_hero("b@example.com").await;
    for hero_id in [hero_b.id, Uuid::now_v7()] {
        let err = h
            .post("/api/stories")
            .token(&a)
            .json(story_json(Some(hero_id), "Not yours"))
            .send()
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(fields(&err["details"]), ["hero_id"]);
    }
    // Nor by a later edit.
    let s = h.create_story(&a, Some(hero_a.id), "Mine").await;
    let err = h
        .patch(&format!("/api/stories/{}", s.id))
        .token(&a)
        .json(json!({"hero_id": hero_b.id}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["hero_id"]);
    // A deleted hero cannot be used either.
    h.delete(&format!("/api/heroes/{}", hero_a.id))
        .token(&a)
        .send()
        .await;
    h.post("/api/stories")
        .token(&a)
        .json(story_json(Some(hero_a.id), "Gone"))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    // B's stories are untouched; a custom event of B is not A's either.
    let ev_b = h.create_event(&b, "B's event").await;
    let body = json!({"title": "T", "content": "C", "language": "en", "custom_event_id": ev_b.id});
    let err = h
        .post("/api/stories")
        .token(&a)
        .json(body)
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["custom_event_id"]);
}

#[tokio::test]
async fn deleting_a_hero_unlinks_its_stories_through_the_feed() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let other = h.create_hero(&t, "Pip").await;
    let s1 = h.create_story(&t, Some(hero.id), "One").await;
    let s2 = h.create_story(&t, Some(hero.id), "Two").await;
    let s3 = h.create_story(&t, Some(other.id), "Three").await;
    let cursor = h.changes_ok(&t, None, None).await.next_cursor;

    h.delete(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let page = h.changes_ok(&t, Some(&cursor), None).await;
    assert_eq!(page.changes.heroes.len(), 1);
    assert!(page.changes.heroes[0].deleted);
    let unlinked: Vec<_> = page
        .changes
        .stories
        .iter()
        .map(|s| (s.id, s.hero_id, s.version))
        .collect();
    assert_eq!(unlinked, [(s1.id, None, 2), (s2.id, None, 2)]);
    // The stories are alive and listed; the other hero's story is untouched.
    let all: Page<StoryRecord> = h.get("/api/stories").token(&t).send().await.json_as();
    assert_eq!(all.items.len(), 3);
    let three: StoryRecord = h
        .get(&format!("/api/stories/{}", s3.id))
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(three, s3);
}

#[tokio::test]
async fn story_list_filters_and_pages_every_row_once_while_rows_are_added() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let other = h.create_hero(&t, "Pip").await;
    let stranger = h.user("b@example.com").await;
    let mut created = Vec::new();
    for i in 0..12 {
        let hero_id = if i % 3 == 0 { other.id } else { hero.id };
        let mut body = story_json(Some(hero_id), &format!("S{i}"));
        body["is_favorite"] = json!(i % 2 == 0);
        let s: StoryRecord = h
            .post("/api/stories")
            .token(&t)
            .json(body)
            .send()
            .await
            .json_as();
        created.push(s);
    }
    h.create_story(&stranger, None, "Not yours").await;

    // Page with limit 5, adding a story and editing one after each page.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = Vec::new();
    loop {
        let path = match &cursor {
            None => "/api/stories?limit=5".to_owned(),
            Some(c) => format!("/api/stories?limit=5&cursor={c}"),
        };
        let page: Page<StoryRecord> = h
            .get(&path)
            .token(&t)
            .send()
            .await
            .expect(StatusCode::OK)
            .json_as();
        seen.extend(page.items.iter().map(|s| s.id));
        if added.len() < 3 && page.next_cursor.is_some() {
            added.push(h.create_story(&t, None, "Added while paging").await.id);
            h.patch(&format!("/api/stories/{}", created[0].id))
                .token(&t)
                .json(json!({"title": format!("Edit {}", added.len())}))
                .send()
                .await
                .expect(StatusCode::OK);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    let mut want: Vec<Uuid> = created.iter().map(|s| s.id).collect();
    want.extend(&added);
    assert_eq!(seen, want, "every row once, in creation order");

    // Filters.
    let by_hero: Page<StoryRecord> = h
        .get(&format!("/api/stories?hero_id={}&limit=100", other.id))
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(by_hero.items.len(), 4);
    assert!(by_hero.items.iter().all(|s| s.hero_id == Some(other.id)));
    let favs: Page<StoryRecord> = h
        .get("/api/stories?favorite=true")
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(favs.items.len(), 6);
    assert!(favs.items.iter().all(|s| s.is_favorite));
    let both: Page<StoryRecord> = h
        .get(&format!("/api/stories?favorite=true&hero_id={}", other.id))
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(both.items.len(), 2, "S0, S6");
    let since = created[11]
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let recent: Page<StoryRecord> = h
        .get(&format!(
            "/api/stories?updated_after={}",
            since.replace('+', "%2B")
        ))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert!(recent
        .items
        .iter()
        .all(|s| s.updated_at > created[11].updated_at));

    for bad in [
        "/api/stories?hero_id=nope",
        "/api/stories?favorite=maybe",
        "/api/stories?cursor=h1.3",
        "/api/stories?limit=-1",
        "/api/stories?updated_after=yesterday",
    ] {
        h.get(bad)
            .token(&t)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn play_counts_and_illustrations_endpoints() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let s = h.create_story(&t, Some(hero.id), "Played").await;
    h.clock.advance(chrono::Duration::seconds(5));
    let played: StoryRecord = h
        .post(&format!("/api/stories/{}/play", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!((played.play_count, played.version), (1, 2));
    assert_eq!(played.last_played_at, Some(h.state.now()));
    let list: Page<IllustrationRecord> = h
        .get(&format!("/api/stories/{}/illustrations", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert!(list.items.is_empty() && list.next_cursor.is_none());
    h.get(&format!("/api/stories/{}/illustrations", Uuid::now_v7()))
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn custom_event_crud_validation_and_use() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let e = h.create_event(&t, " Grandma's visit ").await;
    assert_eq!(
        (e.version, e.title.as_str(), e.usage_count),
        (1, "Grandma's visit", 0)
    );
    let path = format!("/api/custom-events/{}", e.id);
    let got: CustomEventRecord = h
        .get(&path)
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(got, e);
    let v2: CustomEventRecord = h
        .patch(&path)
        .token(&t)
        .header("if-match", "1")
        .json(json!({"tone": "funny", "keywords": [" a ", "A", "b"], "is_favorite": true}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(v2.keywords, ["a", "b"]);
    assert_eq!(v2.version, 2);
    let used: CustomEventRecord = h
        .post(&format!("{path}/use"))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!((used.usage_count, used.version), (1, 3));

    let err = h
        .post("/api/custom-events")
        .token(&t)
        .json(json!({
            "title": "", "description": "d".repeat(501), "prompt_seed": "p".repeat(1001),
            "keywords": (0..11).map(|i| format!("k{i}")).collect::<Vec<_>>(),
            "category": "family", "tone": "gentle", "pictogram_emoji": "not an emoji",
        }))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(
        fields(&err["details"]),
        [
            "title",
            "description",
            "prompt_seed",
            "keywords",
            "pictogram_emoji"
        ]
    );
    for bad in [
        json!({"title": "T", "category": "party", "tone": "gentle", "pictogram_emoji": "🎉"}),
        json!({"title": "T", "category": "family", "tone": "scary", "pictogram_emoji": "🎉"}),
        json!({"title": "T", "category": "family", "tone": "gentle", "pictogram_emoji": "🎉", "usage_count": 9}),
    ] {
        h.post("/api/custom-events")
            .token(&t)
            .json(bad)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let favs: Page<CustomEventRecord> = h
        .get("/api/custom-events?favorite=true")
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(favs.items.len(), 1);
    h.delete(&path)
        .token(&t)
        .header("if-match", "3")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let live: Page<CustomEventRecord> =
        h.get("/api/custom-events").token(&t).send().await.json_as();
    assert!(live.items.is_empty());
    let all: Page<CustomEventRecord> = h
        .get("/api/custom-events?include_deleted=true")
        .token(&t)
        .send()
        .await
        .json_as();
    assert!(all.items[0].deleted);
}

#[tokio::test]
async fn custom_event_list_pages_every_row_once_while_rows_are_added() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let mut want = Vec::new();
    for i in 0..7 {
        want.push(h.create_event(&t, &format!("E{i}")).await.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/custom-events?limit=3".to_owned(),
            Some(c) => format!("/api/custom-events?limit=3&cursor={c}"),
        };
        let page: Page<CustomEventRecord> = h.get(&path).token(&t).send().await.json_as();
        seen.extend(page.items.iter().map(|e| e.id));
        if want.len() < 9 {
            want.push(h.create_event(&t, "Late").await.id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, want);
}
