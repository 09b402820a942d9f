use axum::http::{header, StatusCode};
use is_protocol::SessionResponse;
use serde_json::json;
use story_server::Clock;

use crate::support::*;

#[tokio::test]
async fn signup_then_session() {
    let h = Harness::new();
    let res = h
        .post("/api/auth/signup")
        .json(json!({"email": "Ada@Example.com", "password": PASSWORD, "name": " Ada "}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let s: SessionResponse = res.json_as();
    assert_eq!(s.user.email, "ada@example.com", "stored lowercased");
    assert_eq!(s.user.name, "Ada");
    assert!(s.token.len() >= 64);
    let ttl = s.expires_at - h.clock.now();
    assert!(
        (ttl - chrono::Duration::days(30)).num_seconds().abs() <= 1,
        "{ttl}"
    );

    let again: SessionResponse = h
        .get("/api/auth/session")
        .token(&s.token)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(again, s);
}

#[tokio::test]
async fn signup_validation_reports_fields() {
    let h = Harness::new();
    let res = h
        .post("/api/auth/signup")
        .json(json!({"email": "not-an-email", "password": "short", "name": ""}))
        .send()
        .await;
    let err = res.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["email", "password", "name"]);
    // The rules hold for the values as sent (a client trims what the user typed).
    let res = h
        .post("/api/auth/signup")
        .json(json!({"email": " ada@example.com ", "password": PASSWORD, "name": "Ada"}))
        .send()
        .await;
    let err = res.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["email"]);
}

#[tokio::test]
async fn duplicate_email_is_409_case_insensitively() {
    let h = Harness::new();
    h.signup("ada@example.com").await;
    let res = h
        .post("/api/auth/signup")
        .json(json!({"email": "ADA@example.COM", "password": PASSWORD, "name": "Other"}))
        .send()
        .await;
    res.expect_error(StatusCode::CONFLICT, "email_taken");
    let n: i64 = h.state.with_conn(|c| {
        c.query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))
            .unwrap()
    });
    assert_eq!(n, 1);
}

#[tokio::test]
async fn login_and_wrong_credentials() {
    let h = Harness::new();
    let first = h.signup("ada@example.com").await;
    let ok: SessionResponse = h
        .post("/api/auth/login")
        .json(json!({"email": "ADA@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(ok.user, first.user);
    assert_ne!(ok.token, first.token, "a new session per login");

    let wrong_pw = h
        .post("/api/auth/login")
        .json(json!({"email": "ada@example.com", "password": "not-the-password"}))
        .send()
        .await;
    let e1 = wrong_pw.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = h
        .post("/api/auth/login")
        .json(json!({"email": "nobody@example.com", "password": PASSWORD}))
        .send()
        .await;
    let e2 = unknown.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(e1["message"], e2["message"], "no hint which part was wrong");
}

#[tokio::test]
async fn logout_revokes_only_that_token() {
    let h = Harness::new();
    let a = h.signup("ada@example.com").await;
    let b: SessionResponse = h
        .post("/api/auth/login")
        .json(json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    let res = h.post("/api/auth/logout").token(&a.token).send().await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.bytes.is_empty());
    h.get("/api/auth/session")
        .token(&a.token)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    h.get("/api/heroes")
        .token(&a.token)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    h.post("/api/auth/logout")
        .token(&a.token)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // The other session lives on.
    h.get("/api/auth/session")
        .token(&b.token)
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn tokens_expire_on_the_server_clock() {
    let h = Harness::with_config(|c| c.token_ttl = chrono::Duration::hours(2));
    let s = h.signup("ada@example.com").await;
    h.clock.advance(chrono::Duration::minutes(119));
    h.get("/api/auth/session")
        .token(&s.token)
        .send()
        .await
        .expect(StatusCode::OK);
    h.clock.advance(chrono::Duration::minutes(1));
    h.get("/api/auth/session")
        .token(&s.token)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    h.get("/api/sync/changes")
        .token(&s.token)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Signing in again works and gives a fresh expiry.
    let fresh: SessionResponse = h
        .post("/api/auth/login")
        .json(json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert!(fresh.expires_at > s.expires_at);
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401() {
    let h = Harness::new();
    let s = h.signup("ada@example.com").await;
    let none = h.get("/api/heroes").send().await;
    none.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
    for value in [
        format!("Basic {}", s.token),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {}x", s.token),
        "Bearer not-a-token".to_owned(),
    ] {
        h.get("/api/heroes")
            .header("authorization", &value)
            .send()
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // The scheme is case-insensitive.
    h.get("/api/heroes")
        .header("authorization", &format!("bearer {}", s.token))
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn secrets_are_not_stored_in_clear() {
    let h = Harness::new();
    let s = h.signup("ada@example.com").await;
    let (pw_hash, token_rows): (String, Vec<String>) = h.state.with_conn(|c| {
        let pw = c
            .query_row("SELECT password_hash FROM users", (), |r| r.get(0))
            .unwrap();
        let mut stmt = c.prepare("SELECT token_hash FROM sessions").unwrap();
        let tokens = stmt
            .query_map((), |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        (pw, tokens)
    });
    assert!(pw_hash.starts_with("$argon2id$"), "{pw_hash}");
    assert!(!pw_hash.contains(PASSWORD));
    assert_eq!(token_rows.len(), 1);
    assert_ne!(token_rows[0], s.token);
    assert_eq!(token_rows[0], story_server::auth::token_digest(&s.token));
}
