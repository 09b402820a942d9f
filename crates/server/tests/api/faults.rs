//! Fault injection: apply-then-fail (then the replay is a duplicate), offline, error
//! rate, latency, and the control endpoint that only exists when enabled.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use is_protocol::{EntityKind, FaultSettings, Outcome, PushRequest};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

async fn set(h: &Harness, patch: serde_json::Value) -> FaultSettings {
    h.post("/api/_faults")
        .json(patch)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as()
}

#[tokio::test]
async fn apply_then_fail_commits_and_the_replay_is_a_duplicate() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let settings = set(&h, json!({"apply_then_fail_rate": 1.0})).await;
    assert_eq!(settings.apply_then_fail_rate, 1.0);
    let id = Uuid::now_v7();
    let m = create_of(EntityKind::Story, id, story_json(None, "Lost answer"));
    let body = serde_json::to_value(PushRequest {
        mutations: vec![m.clone()],
    })
    .unwrap();
    let res = h
        .post("/api/sync/push")
        .token(&t)
        .json(body.clone())
        .send()
        .await;
    res.expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(res.headers.contains_key("retry-after"));
    // Reads still work (only writes are dropped after applying).
    let feed = h.changes_ok(&t, None, None).await;
    assert_eq!(feed.changes.stories.len(), 1, "the write was committed");

    set(&h, json!({"apply_then_fail_rate": 0.0})).await;
    match h.push_one(&t, m).await {
        Outcome::Duplicate { first } => assert_eq!(applied_story(&first).id, id),
        other => panic!("expected duplicate, got {other:?}"),
    }
    assert_eq!(
        h.changes_ok(&t, None, None).await.changes.stories.len(),
        1,
        "one row"
    );
}

#[tokio::test]
async fn offline_error_rate_and_latency() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    set(&h, json!({"offline": true})).await;
    for path in ["/api/health", "/api/heroes", "/api/nothing"] {
        h.get(path)
            .token(&t)
            .send()
            .await
            .expect_error(StatusCode::SERVICE_UNAVAILABLE, "offline");
    }
    // The control endpoint itself still answers.
    let now: FaultSettings = h
        .get("/api/_faults")
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert!(now.offline);
    set(&h, json!({"offline": false})).await;
    h.get("/api/heroes")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);

    // A seeded error rate: the same seed fails the same requests.
    let mut runs = Vec::new();
    for _ in 0..2 {
        set(&h, json!({"error_rate": 0.5, "seed": 42})).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(h.get("/api/health").send().await.status.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let failures = runs[0].iter().filter(|s| **s == 503).count();
    assert!((3..=17).contains(&failures), "{failures} of 20");
    set(&h, json!({"error_rate": 0.0})).await;

    set(&h, json!({"latency_ms": 60})).await;
    let start = Instant::now();
    h.get("/api/health").send().await.expect(StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(60));
    set(&h, json!({"latency_ms": 0})).await;

    for bad in [json!({"error_rate": 2.0}), json!({"latency_ms": 999_999})] {
        h.post("/api/_faults")
            .json(bad)
            .send()
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    h.post("/api/_faults")
        .json(json!({"chaos": true}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn control_endpoint_exists_only_when_enabled_and_flags_apply_at_start() {
    let h = Harness::with_config(|c| {
        c.enable_fault_control = false;
        c.faults.offline = true;
    });
    h.post("/api/_faults")
        .json(json!({"offline": false}))
        .send()
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE, "offline");
    let h = Harness::with_config(|c| c.enable_fault_control = false);
    h.post("/api/_faults")
        .json(json!({"offline": true}))
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.get("/api/health").send().await.expect(StatusCode::OK);
}
