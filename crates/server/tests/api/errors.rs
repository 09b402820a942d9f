//! Malformed requests get clean JSON 4xx answers, never axum's plain text and never 500.

use axum::http::{Method, StatusCode};
use is_protocol::Health;
use serde_json::json;

use crate::support::*;

/// The body limit of the test server (`Config::for_tests` keeps the default).
const LIMIT: usize = story_server::DEFAULT_BODY_LIMIT;

#[tokio::test]
async fn health() {
    let h = Harness::new();
    let health: Health = h
        .get("/api/health")
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, story_server::VERSION);
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_400() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let hero_path = format!("/api/heroes/{}", hero.id);

    let cases: Vec<(Method, &str, &str)> = vec![
        (Method::POST, "/api/heroes", "{\"name\": \"Luna\", "),
        (Method::POST, "/api/heroes", "not json at all"),
        (Method::POST, "/api/heroes", ""),
        (Method::POST, "/api/heroes", "[1, 2]"),
        (
            Method::POST,
            "/api/heroes",
            r#"{"name": "L", "age": "six", "traits": ["kind"]}"#,
        ),
        (
            Method::POST,
            "/api/heroes",
            r#"{"name": "L", "age": 6, "traits": ["sleepy"]}"#,
        ),
        (
            Method::POST,
            "/api/heroes",
            r#"{"name": "L", "age": 6, "traits": ["kind"], "version": 9}"#,
        ),
        (
            Method::POST,
            "/api/heroes",
            r#"{"name": "L", "age": 600, "traits": ["kind"]}"#,
        ),
        (
            Method::POST,
            "/api/heroes",
            r#"{"age": 6, "traits": ["kind"]}"#,
        ),
        (Method::PATCH, &hero_path, r#"{"age": "old"}"#),
        (
            Method::PATCH,
            &hero_path,
            r#"{"avatar_url": "http://evil"}"#,
        ),
        (Method::PATCH, &hero_path, r#"{"deleted": true}"#),
        (
            Method::POST,
            "/api/sync/push",
            r#"{"mutations": "all of them"}"#,
        ),
        (Method::POST, "/api/sync/push", r#"{"mutation": []}"#),
        (Method::POST, "/api/sync/push", r#"[{"op": "explode"}]"#),
        (Method::POST, "/api/auth/login", r#"{"email": "a@b.c"}"#),
        (
            Method::POST,
            "/api/auth/signup",
            r#"{"email": "a@b.c", "password": "12345678", "name": "A", "admin": true}"#,
        ),
    ];
    for (method, path, body) in cases {
        let res = h
            .req(method.clone(), path)
            .token(&t)
            .raw_json(body)
            .send()
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {}",
            res.text()
        );
        res.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let after: is_protocol::HeroRecord = h.get_hero(&t, hero.id).await.json_as();
    assert_eq!(after, hero);
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test]
async fn missing_content_type_is_a_json_error() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let res = h
        .post("/api/heroes")
        .token(&t)
        .body(serde_json::to_vec(&hero_json("Luna")).unwrap())
        .send()
        .await;
    res.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let big = json!({"name": "x".repeat(LIMIT + 10), "age": 5, "traits": ["kind"]});
    h.post("/api/heroes")
        .token(&t)
        .json(big)
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let big_push = json!({"mutations": [], "padding": "y".repeat(2 * LIMIT)});
    h.post("/api/sync/push")
        .token(&t)
        .json(big_push)
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Just under the limit is parsed (and then judged on its content).
    let near = json!({"name": "x".repeat(LIMIT - 1000), "age": 5, "traits": ["kind"]});
    h.post("/api/heroes")
        .token(&t)
        .json(near)
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    h.get("/api/nothing-here")
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.get("/")
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.req(Method::PUT, "/api/heroes")
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "bad_request");
    h.get("/api/auth/login")
        .send()
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "bad_request");
    h.get("/api/heroes/not-a-uuid")
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    h.get(&format!("/api/heroes/{}", uuid::Uuid::now_v7()))
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn new_endpoints_answer_clean_4xx_for_bad_bodies() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let story = h.create_story(&t, Some(hero.id), "S").await;
    let event = h.create_event(&t, "E").await;
    let sp = format!("/api/stories/{}", story.id);
    let ep = format!("/api/custom-events/{}", event.id);
    let ill = format!("/api/stories/{}/illustrations", story.id);
    let cases: Vec<(Method, &str, &str)> = vec![
        (Method::POST, "/api/stories", "{\"title\": "),
        (Method::POST, "/api/stories", "[]"),
        (
            Method::POST,
            "/api/stories",
            r#"{"title": "T", "content": "C", "language": "en", "event_type": "bedtime", "id": "x"}"#,
        ),
        (Method::PATCH, &sp, r#"{"title": 1}"#),
        (Method::PATCH, &sp, r#"{"play_count": 10}"#),
        (
            Method::PATCH,
            &sp,
            r#"{"last_played_at": "2020-01-01T00:00:00Z"}"#,
        ),
        (Method::POST, "/api/custom-events", "nope"),
        (Method::PATCH, &ep, r#"{"keywords": "one"}"#),
        (Method::PATCH, "/api/users/me", r#"{"theme": "neon"}"#),
        (Method::PATCH, "/api/users/me", r#"{"email": "x@y.z"}"#),
        (Method::POST, "/api/stories/generate", r#"{"hero_id": 5}"#),
        (Method::POST, &ill, "{bad"),
        (
            Method::POST,
            "/api/sync/push",
            r#"{"mutations": {"0": {}}}"#,
        ),
    ];
    for (method, path, body) in cases {
        let res = h
            .req(method.clone(), path)
            .token(&t)
            .raw_json(body)
            .send()
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {}",
            res.text()
        );
        res.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // Oversized bodies.
    let big = json!({"title": "T", "content": "x".repeat(LIMIT + 1), "language": "en", "event_type": "bedtime"});
    h.post("/api/stories")
        .token(&t)
        .json(big)
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    h.post(&ill)
        .token(&t)
        .raw_json(vec![b' '; LIMIT + 1])
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Bad ids in paths, unknown routes.
    for path in [
        "/api/stories/42",
        "/api/custom-events/x/use",
        "/api/heroes/nope/avatar",
    ] {
        h.req(
            if path.ends_with("use") || path.ends_with("avatar") {
                Method::POST
            } else {
                Method::GET
            },
            path,
        )
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let after: is_protocol::StoryRecord = h.get(&sp).token(&t).send().await.json_as();
    assert_eq!(after, story, "nothing changed");
}
