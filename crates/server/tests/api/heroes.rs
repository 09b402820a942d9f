use std::collections::HashSet;

use axum::http::{header, StatusCode};
use is_protocol::{HeroRecord, Page};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

async fn list(h: &Harness, token: &str, query: &str) -> Page<HeroRecord> {
    h.get(&format!("/api/heroes{query}"))
        .token(token)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as()
}

#[tokio::test]
async fn crud_lifecycle() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;

    // The rules hold for the value as sent: a trait chosen twice is refused (the
    // document says `uniqueItems`), surrounding white space is trimmed.
    let err = h
        .post("/api/heroes")
        .token(&t)
        .json(json!({"name": "Luna", "age": 6, "traits": ["brave", "curious", "brave"]}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["traits"]);
    let res = h
        .post("/api/heroes")
        .token(&t)
        .json(json!({"name": "  Luna ", "age": 6, "traits": ["brave", "curious"]}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let created: HeroRecord = res.json_as();
    assert_eq!(created.version, 1);
    assert_eq!(created.name, "Luna");
    assert_eq!(created.traits.len(), 2);
    assert_eq!(created.appearance, "");
    assert!(!created.deleted);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(res.headers[header::ETAG], "\"1\"");
    assert_eq!(
        res.headers[header::LOCATION],
        format!("/api/heroes/{}", created.id).as_str()
    );

    let got: HeroRecord = h
        .get_hero(&t, created.id)
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(got, created);

    h.clock.advance(chrono::Duration::seconds(5));
    let patched: HeroRecord = h
        .patch(&format!("/api/heroes/{}", created.id))
        .token(&t)
        .json(json!({"age": 7, "appearance": " Yellow raincoat "}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(patched.version, 2);
    assert_eq!(patched.age, 7);
    assert_eq!(patched.appearance, "Yellow raincoat");
    assert_eq!(patched.name, "Luna");
    assert_eq!(patched.created_at, created.created_at);
    assert!(patched.updated_at > created.updated_at);

    let page = list(&h, &t, "").await;
    assert_eq!(page.items, vec![patched.clone()]);
    assert_eq!(page.next_cursor, None);

    let res = h
        .delete(&format!("/api/heroes/{}", created.id))
        .token(&t)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    h.get_hero(&t, created.id)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.patch(&format!("/api/heroes/{}", created.id))
        .token(&t)
        .json(json!({"age": 8}))
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(list(&h, &t, "").await.items.is_empty());
    let with_deleted = list(&h, &t, "?include_deleted=true").await;
    assert_eq!(with_deleted.items.len(), 1);
    assert!(with_deleted.items[0].deleted);
    assert_eq!(with_deleted.items[0].version, 3);
    // Deleting again is a no-op.
    let res = h
        .delete(&format!("/api/heroes/{}", created.id))
        .token(&t)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(list(&h, &t, "?include_deleted=1").await.items[0].version, 3);
}

#[tokio::test]
async fn create_with_client_id_and_conflict() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();
    let mut body = hero_json("Pip");
    body["id"] = json!(id);
    let created: HeroRecord = h
        .post("/api/heroes")
        .token(&t)
        .json(body.clone())
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json_as();
    assert_eq!(created.id, id);
    let err = h
        .post("/api/heroes")
        .token(&t)
        .json(body)
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
    assert_eq!(err["details"]["current"]["id"], json!(id));
    assert_eq!(h.hero_count(), 1);

    let mut bad_id = hero_json("Pip");
    bad_id["id"] = json!("not-a-uuid");
    h.post("/api/heroes")
        .token(&t)
        .json(bad_id)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn validation_is_422_with_every_field() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let err = h
        .post("/api/heroes")
        .token(&t)
        .json(json!({"name": "   ", "age": 40, "traits": []}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["name", "age", "traits"]);
    assert_eq!(h.hero_count(), 0);

    let hero = h.create_hero(&t, "Luna").await;
    let err = h
        .patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .json(json!({"special_ability": "x".repeat(201)}))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["special_ability"]);
    let after: HeroRecord = h.get_hero(&t, hero.id).await.json_as();
    assert_eq!(after, hero, "nothing written");
}

#[tokio::test]
async fn if_match_preconditions() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let path = format!("/api/heroes/{}", hero.id);

    // Matching version, bare and quoted.
    let v2: HeroRecord = h
        .patch(&path)
        .token(&t)
        .header("if-match", "1")
        .json(json!({"age": 8}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(v2.version, 2);
    let res = h
        .patch(&path)
        .token(&t)
        .header("if-match", "\"2\"")
        .json(json!({"age": 9}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(res.headers[header::ETAG], "\"3\"");
    let v3: HeroRecord = res.json_as();

    // Stale version: 412 with the current row, nothing written.
    let err = h
        .patch(&path)
        .token(&t)
        .header("if-match", "\"1\"")
        .json(json!({"name": "Overwritten"}))
        .send()
        .await
        .expect_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let current: HeroRecord = serde_json::from_value(err["details"]["current"].clone()).unwrap();
    assert_eq!(current, v3);
    let err = h
        .delete(&path)
        .token(&t)
        .header("if-match", "2")
        .send()
        .await
        .expect_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    assert_eq!(err["details"]["current"]["version"], 3);
    let still: HeroRecord = h
        .get_hero(&t, hero.id)
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(still, v3);

    h.patch(&path)
        .token(&t)
        .header("if-match", "three")
        .json(json!({"age": 3}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

    // Matching delete.
    let res = h
        .delete(&path)
        .token(&t)
        .header("if-match", "\"3\"")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let tomb = &list(&h, &t, "?include_deleted=true").await.items[0];
    assert!(tomb.deleted);
    assert_eq!(tomb.version, 4);
}

#[tokio::test]
async fn empty_patch_changes_nothing() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let seq = h.current_seq();
    let same: HeroRecord = h
        .patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .json(json!({}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(same, hero);
    assert_eq!(h.current_seq(), seq);
}

#[tokio::test]
async fn users_cannot_touch_each_others_heroes() {
    let h = Harness::new();
    let a = h.user("a@example.com").await;
    let b = h.user("b@example.com").await;
    let hero = h.create_hero(&a, "Secret").await;
    let path = format!("/api/heroes/{}", hero.id);

    let err = h
        .get_hero(&b, hero.id)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(!err.to_string().contains("Secret"));
    h.patch(&path)
        .token(&b)
        .json(json!({"name": "Stolen"}))
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.patch(&path)
        .token(&b)
        .header("if-match", "1")
        .json(json!({"name": "Stolen"}))
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    h.delete(&path)
        .token(&b)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(list(&h, &b, "?include_deleted=true").await.items.is_empty());

    // Reusing A's id for B's create is refused without showing A's row.
    let mut body = hero_json("Copy");
    body["id"] = json!(hero.id);
    let err = h
        .post("/api/heroes")
        .token(&b)
        .json(body)
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
    assert!(err.get("details").is_none(), "{err}");

    let after: HeroRecord = h
        .get_hero(&a, hero.id)
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(after, hero);
    assert_eq!(list(&h, &a, "").await.items, vec![hero]);
}

#[tokio::test]
async fn keyset_paging_returns_each_row_once_while_rows_change() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let other = h.user("other@example.com").await;
    let mut originals = Vec::new();
    for i in 0..25 {
        if i % 4 == 0 {
            h.clock.advance(chrono::Duration::milliseconds(1));
        }
        originals.push(h.create_hero(&t, &format!("Hero {i}")).await.id);
        h.create_hero(&other, &format!("Other {i}")).await;
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = Vec::new();
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=10&cursor={c}"),
            None => "?limit=10".to_owned(),
        };
        let page = list(&h, &t, &q).await;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|x| x.id));
        pages += 1;
        if pages == 1 {
            // Between pages: edit a row already seen and one not yet seen, add a new one.
            h.clock.advance(chrono::Duration::milliseconds(1));
            for id in [originals[0], originals[20]] {
                h.patch(&format!("/api/heroes/{id}"))
                    .token(&t)
                    .json(json!({"age": 9}))
                    .send()
                    .await
                    .expect(StatusCode::OK);
            }
            // Even with the server clock set back, the newcomer sorts after every
            // existing row.
            h.clock.advance(chrono::Duration::hours(-2));
            added.push(h.create_hero(&t, "Newcomer").await.id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was returned twice");
    for id in originals.iter().chain(&added) {
        assert!(unique.contains(id), "row {id} was skipped");
    }
    assert_eq!(seen.len(), 26);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn updated_after_filter() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let old = h.create_hero(&t, "Old").await;
    h.clock.advance(chrono::Duration::seconds(10));
    let mark = old.updated_at + chrono::Duration::seconds(5);
    let new = h.create_hero(&t, "New").await;
    let q = format!(
        "?updated_after={}",
        mark.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let page = list(&h, &t, &q).await;
    assert_eq!(page.items, vec![new]);
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    for q in [
        "?cursor=nonsense",
        "?limit=ten",
        "?limit=-1",
        "?updated_after=yesterday",
        "?include_deleted=maybe",
    ] {
        h.get(&format!("/api/heroes{q}"))
            .token(&t)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // Empty values count as absent; limits are clamped.
    list(&h, &t, "?cursor=&limit=&updated_after=&include_deleted=").await;
    list(&h, &t, "?limit=100000").await;
}
