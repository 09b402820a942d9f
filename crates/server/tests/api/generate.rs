//! `POST /api/stories/generate` and `GET /api/usage`.

use axum::http::StatusCode;
use is_protocol::{CustomEventRecord, Language, StoryRecord, UsageStats};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn generates_a_story_in_each_language() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let joiners = [
        (Language::En, "Luna and "),
        (Language::Es, "Luna y "),
        (Language::Fr, "Luna et "),
        (Language::De, "Luna und "),
        (Language::It, "Luna e "),
    ];
    let mut texts = Vec::new();
    for (language, joiner) in joiners {
        let res = h
            .post("/api/stories/generate")
            .token(&t)
            .json(json!({"hero_id": hero.id, "event_type": "birthday", "language": language}))
            .send()
            .await
            .expect(StatusCode::CREATED);
        let s: StoryRecord = res.json_as();
        assert_eq!(s.version, 1);
        assert_eq!(s.language, language);
        assert_eq!(s.hero_id, Some(hero.id));
        assert!(s.title.starts_with(joiner), "{}", s.title);
        assert!(s.content.contains("Luna"));
        assert!(s.content.split("\n\n").count() >= 4, "several paragraphs");
        texts.push(s.content);
    }
    let unique: std::collections::HashSet<_> = texts.iter().collect();
    assert_eq!(unique.len(), 5);
    // In the change feed.
    assert_eq!(h.changes_ok(&t, None, None).await.changes.stories.len(), 5);
}

#[tokio::test]
async fn length_chooses_how_much_is_written_and_is_checked() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let mut words = Vec::new();
    for (length, paragraphs) in [
        (Some("short"), 3),
        (None, 4),
        (Some("medium"), 4),
        (Some("long"), 6),
    ] {
        let mut body = json!({"hero_id": hero.id, "event_type": "bedtime", "language": "de"});
        if let Some(length) = length {
            body["length"] = json!(length);
        }
        let s: StoryRecord = h
            .post("/api/stories/generate")
            .token(&t)
            .json(body)
            .send()
            .await
            .expect(StatusCode::CREATED)
            .json_as();
        assert_eq!(s.content.split("\n\n").count(), paragraphs, "{length:?}");
        words.push(s.content.split_whitespace().count());
    }
    assert!(
        words[0] < words[1] && words[1] == words[2] && words[2] < words[3],
        "{words:?}"
    );
    let bad = h
        .post("/api/stories/generate")
        .token(&t)
        .json(json!({"hero_id": hero.id, "event_type": "bedtime", "language": "en", "length": "epic"}))
        .send()
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.text());
}

#[tokio::test]
async fn generation_is_deterministic_uses_the_hero_and_custom_events() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero: is_protocol::HeroRecord = h
        .post("/api/heroes")
        .token(&t)
        .json(json!({"name": "Milo", "age": 8, "traits": ["clever", "funny"], "special_ability": "Builds robots from spoons"}))
        .send()
        .await
        .json_as();
    let body = json!({"hero_id": hero.id, "event_type": "rainy_day", "language": "en"});
    let a: StoryRecord = h
        .post("/api/stories/generate")
        .token(&t)
        .json(body.clone())
        .send()
        .await
        .json_as();
    let b: StoryRecord = h
        .post("/api/stories/generate")
        .token(&t)
        .json(body)
        .send()
        .await
        .json_as();
    assert_ne!(a.id, b.id);
    assert_eq!(
        (a.title.as_str(), a.content.as_str()),
        (b.title.as_str(), b.content.as_str())
    );
    assert!(
        a.content.contains("builds robots from spoons"),
        "{}",
        a.content
    );
    assert!(
        a.content.contains("cleverness and sense of humour"),
        "{}",
        a.content
    );
    assert!(a.content.contains("Rain"), "{}", a.content);

    let ev = h.create_event(&t, "Grandma's visit").await;
    let c: StoryRecord = h
        .post("/api/stories/generate")
        .token(&t)
        .json(json!({"hero_id": hero.id, "custom_event_id": ev.id, "language": "it"}))
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json_as();
    assert_eq!((c.custom_event_id, c.event_type), (Some(ev.id), None));
    assert!(c.content.contains("Grandma's visit"), "{}", c.content);
    let ev_now: CustomEventRecord = h
        .get(&format!("/api/custom-events/{}", ev.id))
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(ev_now.usage_count, 1, "generating counts a use");

    // A retried request with the same id makes nothing new.
    let id = Uuid::now_v7();
    let req = json!({"id": id, "hero_id": hero.id, "event_type": "sleepover", "language": "de"});
    let first: StoryRecord = h
        .post("/api/stories/generate")
        .token(&t)
        .json(req.clone())
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json_as();
    let again: StoryRecord = h
        .post("/api/stories/generate")
        .token(&t)
        .json(req)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(first, again);
    let usage: UsageStats = h.get("/api/usage").token(&t).send().await.json_as();
    assert_eq!(usage.stories_this_month, 4);
}

#[tokio::test]
async fn generation_errors_and_the_monthly_limit() {
    let h = Harness::with_config(|c| c.tier_limits.free.stories_per_month = Some(2));
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    for (body, field) in [
        (json!({"hero_id": hero.id, "language": "en"}), "event_type"),
        (
            json!({"hero_id": hero.id, "event_type": "bedtime", "custom_event_id": Uuid::now_v7(), "language": "en"}),
            "event_type",
        ),
        (
            json!({"hero_id": Uuid::now_v7(), "event_type": "bedtime", "language": "en"}),
            "hero_id",
        ),
        (
            json!({"hero_id": hero.id, "custom_event_id": Uuid::now_v7(), "language": "en"}),
            "custom_event_id",
        ),
    ] {
        let err = h
            .post("/api/stories/generate")
            .token(&t)
            .json(body)
            .send()
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(fields(&err["details"]), [field]);
    }
    for body in [
        json!({"hero_id": hero.id, "event_type": "bedtime", "language": "pt"}),
        json!({"hero_id": hero.id, "event_type": "bedtime", "language": "en", "length": 9}),
        json!({"hero_id": "luna", "event_type": "bedtime", "language": "en"}),
    ] {
        h.post("/api/stories/generate")
            .token(&t)
            .json(body)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let ok = json!({"hero_id": hero.id, "event_type": "bedtime", "language": "en"});
    for _ in 0..2 {
        h.post("/api/stories/generate")
            .token(&t)
            .json(ok.clone())
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    let err = h
        .post("/api/stories/generate")
        .token(&t)
        .json(ok.clone())
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "limit_reached");
    assert!(err["message"].as_str().unwrap().contains('2'));
    let usage: UsageStats = h
        .get("/api/usage")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(usage.stories_this_month, 2);
    assert_eq!(usage.limits.stories_per_month, Some(2));
    assert!(usage.period_start <= h.state.now() && h.state.now() < usage.period_end);

    // Next month the count starts again.
    h.clock.advance(chrono::Duration::days(32));
    let t = h.login("ada@example.com").await;
    h.post("/api/stories/generate")
        .token(&t)
        .json(ok.clone())
        .send()
        .await
        .expect(StatusCode::CREATED);
    // Premium has no limit.
    let user = h.state.with_conn(|c| {
        let id: String = c
            .query_row("SELECT id FROM users", (), |r| r.get(0))
            .unwrap();
        Uuid::parse_str(&id).unwrap()
    });
    h.state.with_conn(|c| {
        let tx = c.transaction().unwrap();
        story_server::profile_store::set_tier(
            &tx,
            user,
            is_protocol::SubscriptionTier::Premium,
            h.state.now(),
        )
        .unwrap();
        tx.commit().unwrap();
    });
    for _ in 0..3 {
        h.post("/api/stories/generate")
            .token(&t)
            .json(ok.clone())
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    let usage: UsageStats = h.get("/api/usage").token(&t).send().await.json_as();
    assert_eq!(usage.limits.stories_per_month, None);
    assert_eq!(usage.stories_this_month, 4);
}
