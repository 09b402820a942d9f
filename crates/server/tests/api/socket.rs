//! Over a real socket: `testing::TestServer` with reqwest, including a stop and a restart
//! on the same port with the same database.

use is_protocol::{ChangesResponse, HeroRecord, Outcome, PushRequest, PushResponse, Record};
use serde_json::json;
use story_server::testing::{TestServer, TEST_PASSWORD};
use uuid::Uuid;

use crate::support::{create, hero_json, update};

async fn push(
    client: &reqwest::Client,
    server: &TestServer,
    token: &str,
    m: Vec<is_protocol::Mutation>,
) -> PushResponse {
    let res = client
        .post(server.url("/api/sync/push"))
        .bearer_auth(token)
        .json(&PushRequest { mutations: m })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn stop_and_restart_on_the_same_port_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let server = TestServer::start(&db).await;
    assert!(server.base_url.starts_with("http://127.0.0.1:"));
    assert_ne!(server.addr.port(), 0);
    let client = reqwest::Client::new();

    let health: is_protocol::Health = client
        .get(server.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.status, "ok");

    let session = server.signup("ada@example.com").await;
    let id = Uuid::now_v7();
    let res = push(
        &client,
        &server,
        &session.token,
        vec![create(id, hero_json("Luna"))],
    )
    .await;
    assert!(matches!(res.results[0].outcome, Outcome::Applied { .. }));
    let feed: ChangesResponse = client
        .get(server.url("/api/sync/changes"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(feed.changes.len(), 1);

    // Down: the port refuses connections.
    let addr = server.addr;
    server.stop().await;
    let err = client
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");

    // Back up on the same address and database: token, rows, cursor and the
    // idempotency log all survive.
    let server = TestServer::start_on(&db, addr).await;
    assert_eq!(server.addr, addr);
    let again: is_protocol::SessionResponse = client
        .get(server.url("/api/auth/session"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.user, session.user);
    let hero: HeroRecord = client
        .get(server.url(&format!("/api/heroes/{id}")))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hero.name, "Luna");

    let u = update(id, 1, json!({"age": 10}));
    let first = push(&client, &server, &session.token, vec![u.clone()]).await;
    let replay = push(&client, &server, &session.token, vec![u]).await;
    assert_eq!(
        replay.results[0].outcome,
        Outcome::Duplicate {
            first: Box::new(first.results[0].outcome.clone())
        }
    );
    let Outcome::Applied {
        record: Record::Hero(v2),
    } = &first.results[0].outcome
    else {
        panic!("{first:?}")
    };
    let later: ChangesResponse = client
        .get(server.url(&format!("/api/sync/changes?cursor={}", feed.next_cursor)))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(later.changes.heroes, vec![v2.clone()]);

    let login = server.login("ada@example.com", TEST_PASSWORD).await;
    assert_eq!(login.user.id, session.user.id);

    // Errors over the wire are JSON too.
    let res = client.get(server.url("/api/heroes")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: is_protocol::ErrorEnvelope = res.json().await.unwrap();
    assert_eq!(body.error.code, "unauthorized");
    server.stop().await;
}

#[tokio::test]
async fn stop_waits_for_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("s.sqlite3")).await;
    let session = server.signup("ada@example.com").await;
    let client = reqwest::Client::new();
    let batch: Vec<_> = (0..100)
        .map(|i| create(Uuid::now_v7(), hero_json(&format!("H{i}"))))
        .collect();
    let url = server.url("/api/sync/push");
    let token = session.token.clone();
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token)
            .json(&PushRequest { mutations: batch })
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let state = server.state.clone();
    server.stop().await;
    // Either the request finished before the stop or it was never accepted; a response
    // was never cut off half way, so the database has all of the batch or none of it.
    let heroes: i64 = state.with_conn(|c| {
        c.query_row("SELECT COUNT(*) FROM heroes", (), |r| r.get(0))
            .unwrap()
    });
    match in_flight.await.unwrap() {
        Ok(res) => {
            assert_eq!(res.status(), 200);
            assert_eq!(heroes, 100);
        }
        Err(_) => assert!(heroes == 0 || heroes == 100, "{heroes}"),
    }
}
