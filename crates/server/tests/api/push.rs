//! `POST /api/sync/push`: idempotent, precondition-checked, per-mutation outcomes.

use axum::http::StatusCode;
use is_protocol::{HeroRecord, Outcome, PushRequest, PushResponse, MAX_PUSH_BATCH};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn create_update_delete_are_applied() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();

    let created = applied(&h.push_one(&t, create(id, hero_json("  Luna "))).await);
    assert_eq!(created.id, id);
    assert_eq!(created.version, 1);
    assert_eq!(created.name, "Luna");

    h.clock.advance(chrono::Duration::seconds(1));
    let updated = applied(
        &h.push_one(&t, update(id, 1, json!({"name": "Luna the Brave"})))
            .await,
    );
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name, "Luna the Brave");
    assert_eq!(updated.age, created.age);
    assert!(updated.updated_at > created.updated_at);

    let deleted = applied(&h.push_one(&t, delete(id, 2)).await);
    assert!(deleted.deleted);
    assert_eq!(deleted.version, 3);

    // What push answered is what the REST side stores.
    let page: is_protocol::Page<HeroRecord> = h
        .get("/api/heroes?include_deleted=true")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(page.items, vec![deleted]);
}

#[tokio::test]
async fn a_replayed_mutation_is_a_duplicate_and_writes_nothing() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();
    let c = create(id, hero_json("Luna"));
    let first = h.push_one(&t, c.clone()).await;
    let created = applied(&first);
    let u = update(id, 1, json!({"age": 9}));
    let first_update = h.push_one(&t, u.clone()).await;
    assert_eq!(applied(&first_update).version, 2);
    let seq = h.current_seq();

    // Replays, even after the row moved on.
    h.clock.advance(chrono::Duration::seconds(3));
    for (m, first) in [
        (c.clone(), first.clone()),
        (u.clone(), first_update.clone()),
    ] {
        match h.push_one(&t, m).await {
            Outcome::Duplicate { first: got } => assert_eq!(*got, first),
            other => panic!("expected duplicate, got {other:?}"),
        }
    }
    assert_eq!(h.current_seq(), seq, "nothing written");
    assert_eq!(h.hero_count(), 1);
    let now: HeroRecord = h.get_hero(&t, id).await.expect(StatusCode::OK).json_as();
    assert_eq!(now.version, 2, "the update was not applied twice");
    assert_eq!(now.created_at, created.created_at);

    // A replay inside one batch, too.
    let d = delete(id, 2);
    let res = h.push(&t, vec![d.clone(), d.clone()]).await;
    let tomb = applied(&res.results[0].outcome);
    assert_eq!(tomb.version, 3);
    assert_eq!(
        res.results[1].outcome,
        Outcome::Duplicate {
            first: Box::new(res.results[0].outcome.clone())
        }
    );
    assert_eq!(res.results[1].outcome.resolved(), &res.results[0].outcome);
}

#[tokio::test]
async fn rejected_and_conflict_outcomes_are_remembered_too() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;

    let bad = create(
        Uuid::now_v7(),
        json!({"name": "", "age": 3, "traits": ["kind"]}),
    );
    let first_bad = h.push_one(&t, bad.clone()).await;
    assert_eq!(rejected(&first_bad).code, "validation");

    let stale = update(hero.id, 0, json!({"age": 3}));
    let first_stale = h.push_one(&t, stale.clone()).await;
    assert_eq!(conflict(&first_stale), hero);

    // Even if the mutation would now succeed, its first answer stands.
    h.patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .json(json!({"age": 4}))
        .send()
        .await
        .expect(StatusCode::OK);
    for (m, first) in [(bad, first_bad), (stale, first_stale)] {
        assert_eq!(
            h.push_one(&t, m).await,
            Outcome::Duplicate {
                first: Box::new(first)
            }
        );
    }
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test]
async fn stale_base_version_is_a_conflict_and_writes_nothing() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();
    applied(&h.push_one(&t, create(id, hero_json("Luna"))).await);
    let v2 = applied(&h.push_one(&t, update(id, 1, json!({"age": 8}))).await);
    let seq = h.current_seq();

    let current = conflict(&h.push_one(&t, update(id, 1, json!({"name": "Mine"}))).await);
    assert_eq!(current, v2);
    let current = conflict(&h.push_one(&t, update(id, 5, json!({"name": "Mine"}))).await);
    assert_eq!(current, v2);
    let current = conflict(&h.push_one(&t, delete(id, 1)).await);
    assert_eq!(current, v2);
    assert_eq!(h.current_seq(), seq);
    let stored: HeroRecord = h.get_hero(&t, id).await.expect(StatusCode::OK).json_as();
    assert_eq!(stored, v2);

    // Creating an id that exists is a conflict with the row, not a second row.
    assert_eq!(
        conflict(&h.push_one(&t, create(id, hero_json("Again"))).await),
        v2
    );
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test]
async fn tombstones_conflict_with_updates_and_satisfy_deletes() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let id = Uuid::now_v7();
    applied(&h.push_one(&t, create(id, hero_json("Luna"))).await);
    let tomb = applied(&h.push_one(&t, delete(id, 1)).await);
    assert_eq!(tomb.version, 2);
    let seq = h.current_seq();

    // An edit of a deleted row, even at the tombstone's version, does not resurrect it.
    assert_eq!(
        conflict(&h.push_one(&t, update(id, 1, json!({"age": 3}))).await),
        tomb
    );
    assert_eq!(
        conflict(&h.push_one(&t, update(id, 2, json!({"age": 3}))).await),
        tomb
    );
    // A second delete (from another device, at any base) is already satisfied.
    assert_eq!(applied(&h.push_one(&t, delete(id, 1)).await), tomb);
    assert_eq!(h.current_seq(), seq, "nothing written");
    // Re-creating a deleted id is a conflict with the tombstone.
    assert_eq!(
        conflict(&h.push_one(&t, create(id, hero_json("Luna"))).await),
        tomb
    );
}

#[tokio::test]
async fn invalid_mutations_are_rejected_with_codes() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;

    let e = rejected(
        &h.push_one(
            &t,
            create(
                Uuid::now_v7(),
                json!({"name": "X", "age": 50, "traits": []}),
            ),
        )
        .await,
    );
    assert_eq!(e.code, "validation");
    assert_eq!(fields(e.details.as_ref().unwrap()), ["age", "traits"]);

    let mut unknown = hero_json("X");
    unknown["avatar_url"] = json!("http://x");
    let e = rejected(&h.push_one(&t, create(Uuid::now_v7(), unknown)).await);
    assert_eq!(e.code, "bad_request");
    let e = rejected(
        &h.push_one(&t, create(Uuid::now_v7(), json!("just a string")))
            .await,
    );
    assert_eq!(e.code, "bad_request");

    let e = rejected(
        &h.push_one(&t, update(hero.id, 1, json!({"age": "old"})))
            .await,
    );
    assert_eq!(e.code, "bad_request");
    let e = rejected(
        &h.push_one(
            &t,
            update(
                hero.id,
                1,
                json!({"traits": ["brave", "kind", "funny", "clever", "loyal", "gentle"]}),
            ),
        )
        .await,
    );
    assert_eq!(e.code, "validation");

    let missing = Uuid::now_v7();
    assert_eq!(
        rejected(&h.push_one(&t, update(missing, 1, json!({"age": 3}))).await).code,
        "not_found"
    );
    assert_eq!(
        rejected(&h.push_one(&t, delete(missing, 1)).await).code,
        "not_found"
    );

    let stored: HeroRecord = h
        .get_hero(&t, hero.id)
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(stored, hero);
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test]
async fn empty_patch_is_applied_without_a_write() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let seq = h.current_seq();
    assert_eq!(
        applied(&h.push_one(&t, update(hero.id, 1, json!({}))).await),
        hero
    );
    assert_eq!(h.current_seq(), seq);
}

#[tokio::test]
async fn one_bad_mutation_does_not_block_the_batch() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let existing = h.create_hero(&t, "Existing").await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = vec![
        create(a, hero_json("A")),
        create(Uuid::now_v7(), json!({"name": "", "age": 0, "traits": []})),
        update(existing.id, 7, json!({"age": 2})),
        create(b, hero_json("B")),
        update(a, 1, json!({"age": 11})),
        delete(Uuid::now_v7(), 1),
        delete(existing.id, 1),
    ];
    let ids: Vec<Uuid> = batch.iter().map(|m| m.mutation_id).collect();
    let res = h.push(&t, batch).await;
    assert_eq!(
        res.results
            .iter()
            .map(|r| r.mutation_id)
            .collect::<Vec<_>>(),
        ids,
        "in order"
    );
    let o: Vec<&Outcome> = res.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(applied(o[0]).id, a);
    assert_eq!(rejected(o[1]).code, "validation");
    assert_eq!(conflict(o[2]).version, 1);
    assert_eq!(applied(o[3]).id, b);
    assert_eq!(applied(o[4]).age, 11);
    assert_eq!(rejected(o[5]).code, "not_found");
    assert!(applied(o[6]).deleted);
    assert_eq!(h.hero_count(), 3);
}

#[tokio::test]
async fn batch_limits() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let too_many: Vec<_> = (0..=MAX_PUSH_BATCH)
        .map(|i| create(Uuid::now_v7(), hero_json(&format!("H{i}"))))
        .collect();
    let err = h
        .post("/api/sync/push")
        .token(&t)
        .json(
            serde_json::to_value(PushRequest {
                mutations: too_many,
            })
            .unwrap(),
        )
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(fields(&err["details"]), ["mutations"]);
    assert_eq!(h.hero_count(), 0, "nothing applied from a refused batch");

    let full: Vec<_> = (0..MAX_PUSH_BATCH)
        .map(|i| create(Uuid::now_v7(), hero_json(&format!("H{i}"))))
        .collect();
    let res = h.push(&t, full).await;
    assert_eq!(res.results.len(), MAX_PUSH_BATCH);
    assert!(res
        .results
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Applied { .. })));
    assert_eq!(h.push(&t, vec![]).await.results, vec![]);
}

#[tokio::test]
async fn users_cannot_push_onto_each_others_rows() {
    let h = Harness::new();
    let a = h.user("a@example.com").await;
    let b = h.user("b@example.com").await;
    let hero = h.create_hero(&a, "Secret").await;

    let e = rejected(&h.push_one(&b, create(hero.id, hero_json("Mine now"))).await);
    assert_eq!(e.code, "conflict");
    assert!(e.details.is_none());
    assert!(!e.message.contains("Secret"));
    assert_eq!(
        rejected(
            &h.push_one(&b, update(hero.id, 1, json!({"name": "Stolen"})))
                .await
        )
        .code,
        "not_found"
    );
    assert_eq!(
        rejected(&h.push_one(&b, delete(hero.id, 1)).await).code,
        "not_found"
    );

    let stored: HeroRecord = h
        .get_hero(&a, hero.id)
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(stored, hero);
    assert_eq!(h.hero_count(), 1);
    assert!(h.changes_ok(&b, None, None).await.changes.is_empty());
}

#[tokio::test]
async fn mutation_ids_are_per_user() {
    let h = Harness::new();
    let a = h.user("a@example.com").await;
    let b = h.user("b@example.com").await;
    let m = create(Uuid::now_v7(), hero_json("A's"));
    applied(&h.push_one(&a, m.clone()).await);
    // B sending the same mutation id is B's own mutation, not a replay of A's answer.
    let mut for_b = m.clone();
    for_b.id = Uuid::now_v7();
    let got = applied(&h.push_one(&b, for_b.clone()).await);
    assert_eq!(got.id, for_b.id);
}

/// SPEC.md section 6: a rejected mutation does not block the others, even one the server
/// cannot read at all.
#[tokio::test]
async fn an_unreadable_mutation_is_rejected_alone() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    let carried: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let valid = create(Uuid::now_v7(), hero_json("Sol"));
    let unreadable = vec![
        // (element, the mutation_id its result carries)
        (
            json!({"mutation_id": carried[0], "entity": "dragon", "id": Uuid::now_v7(), "op": "create", "data": {}}),
            carried[0],
        ),
        (
            json!({"mutation_id": carried[1], "entity": "hero", "id": Uuid::now_v7(), "op": "explode"}),
            carried[1],
        ),
        (
            json!({"mutation_id": carried[2], "entity": "hero", "id": hero.id, "op": "update", "patch": {"age": 3}}),
            carried[2],
        ),
        (
            json!({"mutation_id": carried[3], "entity": "story", "id": Uuid::now_v7(), "op": "increment", "counters": {"play_count": "one"}}),
            carried[3],
        ),
        (
            json!({"mutation_id": carried[4].simple().to_string(), "entity": "hero", "id": "nope", "op": "delete", "base_version": 1}),
            carried[4],
        ),
        (json!({"op": "explode"}), Uuid::nil()),
        (
            json!({"mutation_id": "not-a-uuid", "entity": "hero", "id": hero.id, "op": "delete", "base_version": 1}),
            Uuid::nil(),
        ),
        (
            json!({"mutation_id": Uuid::nil(), "entity": "hero", "id": hero.id, "op": "delete", "base_version": 1}),
            Uuid::nil(),
        ),
        (json!(42), Uuid::nil()),
        (json!(null), Uuid::nil()),
    ];
    let mut elements: Vec<Value> = unreadable.iter().map(|(e, _)| e.clone()).collect();
    elements.insert(3, serde_json::to_value(&valid).unwrap());
    let body = json!({ "mutations": elements });
    let send = || async {
        h.post("/api/sync/push")
            .token(&t)
            .json(body.clone())
            .send()
            .await
            .expect(StatusCode::OK)
            .json_as::<PushResponse>()
    };
    let first = send().await;
    assert_eq!(first.results.len(), elements.len());
    let mut expected_ids: Vec<Uuid> = unreadable.iter().map(|(_, id)| *id).collect();
    expected_ids.insert(3, valid.mutation_id);
    let got_ids: Vec<Uuid> = first.results.iter().map(|r| r.mutation_id).collect();
    assert_eq!(
        got_ids, expected_ids,
        "results in request order, ids as carried"
    );
    for (i, r) in first.results.iter().enumerate() {
        if i == 3 {
            assert_eq!(applied(&r.outcome).name, "Sol");
            continue;
        }
        let e = rejected(&r.outcome);
        assert_eq!(e.code, "bad_mutation", "element {i}: {e:?}");
        assert!(e.message.starts_with(&format!("mutations[{i}]: ")), "{e:?}");
        assert_eq!(e.details.as_ref().unwrap()["index"], i);
    }
    // Nothing else was written: the hero the unreadable update and deletes named is as it was.
    let unchanged: HeroRecord = h.get_hero(&t, hero.id).await.json_as();
    assert_eq!(unchanged, hero);
    assert_eq!(h.hero_count(), 2);

    // A replay: the valid mutation answers its first result; the unreadable ones were
    // not recorded and are rejected the same way again.
    let replay = send().await;
    assert_eq!(
        replay.results[3].outcome,
        Outcome::Duplicate {
            first: Box::new(first.results[3].outcome.clone())
        }
    );
    for (i, (r, f)) in replay.results.iter().zip(&first.results).enumerate() {
        if i != 3 {
            assert_eq!(r, f, "element {i}");
        }
    }
    // An unreadable element under an id that was applied before answers that first result.
    let res: PushResponse = h
        .post("/api/sync/push")
        .token(&t)
        .json(json!({"mutations": [{"mutation_id": valid.mutation_id, "entity": "dragon"}]}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(res.results[0].mutation_id, valid.mutation_id);
    assert_eq!(res.results[0].outcome.resolved(), &first.results[3].outcome);
    assert_eq!(h.hero_count(), 2);
}

#[tokio::test]
async fn an_unreadable_envelope_is_a_400() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"mutations": null}"#,
        r#"{"mutations": "all of them"}"#,
        r#"{"mutations": {"0": {}}}"#,
    ] {
        h.post("/api/sync/push")
            .token(&t)
            .raw_json(body)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let too_many: Vec<Value> = (0..=MAX_PUSH_BATCH).map(|_| json!(1)).collect();
    h.post("/api/sync/push")
        .token(&t)
        .json(json!({ "mutations": too_many }))
        .send()
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}
