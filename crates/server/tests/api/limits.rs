//! Rate limits: per user (token bucket), per IP for sign-up and sign-in; 429 with
//! Retry-After.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;
use story_server::RateLimit;

use crate::support::*;

#[tokio::test]
async fn per_user_bucket_answers_429_with_retry_after() {
    let h = Harness::with_config(|c| {
        c.rate_limit = RateLimit {
            per_second: 0.5,
            burst: 3,
        }
    });
    let a = h.user("a@example.com").await;
    let b = h.user("b@example.com").await;
    for _ in 0..3 {
        h.get("/api/heroes")
            .token(&a)
            .send()
            .await
            .expect(StatusCode::OK);
    }
    let res = h.get("/api/heroes").token(&a).send().await;
    let err = res.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(res.headers["retry-after"], "2");
    assert_eq!(err["details"]["retry_after_secs"], 2);
    // Every endpoint shares the user's bucket; other users have their own.
    h.post("/api/sync/push")
        .token(&a)
        .json(json!({"mutations": []}))
        .send()
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    h.get("/api/heroes")
        .token(&b)
        .send()
        .await
        .expect(StatusCode::OK);
    // The health probe is never limited.
    h.get("/api/health").send().await.expect(StatusCode::OK);
    // After Retry-After, a token is back.
    h.clock.advance(Duration::seconds(2));
    h.get("/api/heroes")
        .token(&a)
        .send()
        .await
        .expect(StatusCode::OK);
    h.get("/api/heroes")
        .token(&a)
        .send()
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_in_is_limited_per_ip() {
    let h = Harness::with_config(|c| {
        c.auth_rate_limit = RateLimit {
            per_second: 0.1,
            burst: 2,
        }
    });
    let t = h.user("a@example.com").await; // takes one token
    let login = json!({"email": "a@example.com", "password": PASSWORD});
    h.post("/api/auth/login")
        .json(login.clone())
        .send()
        .await
        .expect(StatusCode::OK);
    let res = h.post("/api/auth/login").json(login.clone()).send().await;
    res.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(res.headers["retry-after"], "10");
    h.post("/api/auth/signup")
        .json(json!({"email": "new@example.com", "password": PASSWORD, "name": "N"}))
        .send()
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Signed-in endpoints are not affected by the IP bucket.
    h.get("/api/heroes")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
    h.clock.advance(Duration::seconds(10));
    h.post("/api/auth/login")
        .json(login)
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn over_a_real_socket_the_ip_is_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = story_server::Config::for_tests(dir.path().join("s.sqlite3"));
    config.auth_rate_limit = RateLimit {
        per_second: 0.01,
        burst: 1,
    };
    let state = story_server::AppState::new(config).unwrap();
    let server = story_server::testing::TestServer::start_with(
        state,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await;
    server.signup("a@example.com").await;
    let res = reqwest::Client::new()
        .post(server.url("/api/auth/login"))
        .json(&json!({"email": "a@example.com", "password": story_server::testing::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    server.stop().await;
}
