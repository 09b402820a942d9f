//! `GET /api/sync/changes`: the server change feed.

use std::collections::HashMap;

use axum::http::StatusCode;
use is_protocol::{HeroRecord, MAX_CHANGES_LIMIT};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

fn ids(heroes: &[HeroRecord]) -> Vec<Uuid> {
    heroes.iter().map(|h| h.id).collect()
}

#[tokio::test]
async fn empty_feed_has_a_cursor_and_keeps_it() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let first = h.changes_ok(&t, None, None).await;
    assert!(first.changes.is_empty());
    assert!(!first.has_more);
    assert!(!first.next_cursor.is_empty());
    let again = h.changes_ok(&t, Some(&first.next_cursor), None).await;
    assert!(again.changes.is_empty());
    assert_eq!(again.next_cursor, first.next_cursor);
    // Empty parameters count as absent.
    h.get("/api/sync/changes?cursor=&limit=")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn rows_come_in_write_order_once_at_their_latest_version() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let a = h.create_hero(&t, "A").await;
    h.clock.advance(chrono::Duration::seconds(1));
    let b = h.create_hero(&t, "B").await;
    h.clock.advance(chrono::Duration::seconds(1));
    let c = h.create_hero(&t, "C").await;
    h.clock.advance(chrono::Duration::seconds(1));
    let start = h.changes_ok(&t, None, None).await;
    assert_eq!(ids(&start.changes.heroes), [a.id, b.id, c.id]);

    // Update A (REST), delete B (push), update A again.
    h.patch(&format!("/api/heroes/{}", a.id))
        .token(&t)
        .json(json!({"age": 3}))
        .send()
        .await
        .expect(StatusCode::OK);
    applied(&h.push_one(&t, delete(b.id, 1)).await);
    let a3 = applied(&h.push_one(&t, update(a.id, 2, json!({"age": 4}))).await);

    let all = h.changes_ok(&t, None, None).await;
    assert_eq!(ids(&all.changes.heroes), [c.id, b.id, a.id]);
    assert_eq!(all.changes.heroes[2], a3);
    assert!(all.changes.heroes[1].deleted, "tombstones are in the feed");
    assert_eq!(all.changes.heroes[1].version, 2);

    let since = h.changes_ok(&t, Some(&start.next_cursor), None).await;
    assert_eq!(ids(&since.changes.heroes), [b.id, a.id]);
    assert!(!since.has_more);
}

#[tokio::test]
async fn paging_over_many_rows() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let other = h.user("other@example.com").await;
    let mut created = Vec::new();
    for chunk in 0..3 {
        let batch: Vec<_> = (0..40)
            .map(|i| create(Uuid::now_v7(), hero_json(&format!("H{chunk}-{i}"))))
            .collect();
        for r in h.push(&t, batch).await.results {
            created.push(applied(&r.outcome).id);
        }
        h.push(&other, vec![create(Uuid::now_v7(), hero_json("Not yours"))])
            .await;
    }
    assert_eq!(created.len(), 120);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = h.changes_ok(&t, cursor.as_deref(), Some(50)).await;
        pages.push((page.changes.len(), page.has_more));
        seen.extend(ids(&page.changes.heroes));
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, [(50, true), (50, true), (20, false)]);
    assert_eq!(seen, created, "every row once, in write order");

    // An exact multiple of the limit: the last full page says has_more = false.
    let (all, _) = h.drain(&t, None, 40).await;
    assert_eq!(ids(&all), created);
    let page = h.changes_ok(&t, None, Some(120)).await;
    assert!(!page.has_more);
    assert_eq!(page.changes.len(), 120);
}

#[tokio::test]
async fn writes_during_paging_appear_later_and_nothing_is_skipped() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let mut rows = Vec::new();
    for i in 0..10 {
        rows.push(h.create_hero(&t, &format!("H{i}")).await);
    }

    // Page 1 of 4 rows, then write: edit a row already seen, a row not yet seen, delete
    // one not yet seen, create a new one.
    let p1 = h.changes_ok(&t, None, Some(4)).await;
    assert_eq!(ids(&p1.changes.heroes), ids(&rows[..4]));
    assert!(p1.has_more);
    // The server clock even jumps back an hour: the feed does not care about time.
    h.clock.advance(chrono::Duration::hours(-1));
    let seen_edit = applied(
        &h.push_one(&t, update(rows[1].id, 1, json!({"age": 2})))
            .await,
    );
    let unseen_edit = applied(
        &h.push_one(&t, update(rows[6].id, 1, json!({"age": 3})))
            .await,
    );
    let unseen_delete = applied(&h.push_one(&t, delete(rows[8].id, 1)).await);
    let newcomer = h.create_hero(&t, "New").await;

    let (rest, end) = h.drain(&t, Some(&p1.next_cursor), 4).await;
    // Final state, applying pages in order, equals the server's state.
    let mut local: HashMap<Uuid, HeroRecord> = HashMap::new();
    for hero in p1.changes.heroes.iter().chain(&rest) {
        local.insert(hero.id, hero.clone());
    }
    assert_eq!(local.len(), 11, "every row arrived");
    assert_eq!(local[&seen_edit.id], seen_edit);
    assert_eq!(local[&unseen_edit.id], unseen_edit);
    assert_eq!(local[&unseen_delete.id], unseen_delete);
    assert_eq!(local[&newcomer.id], newcomer);
    // Rows not touched after page 1 came exactly once; edited ones at the end.
    let rest_ids = ids(&rest);
    assert_eq!(
        rest_ids,
        [
            rows[4].id,
            rows[5].id,
            rows[7].id,
            rows[9].id,
            seen_edit.id,
            unseen_edit.id,
            unseen_delete.id,
            newcomer.id,
        ]
    );
    let tail = h.changes_ok(&t, Some(&end), None).await;
    assert!(tail.changes.is_empty());
    assert_eq!(tail.next_cursor, end);
}

#[tokio::test]
async fn limit_defaults_and_clamps() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let batch: Vec<_> = (0..3)
        .map(|_| create(Uuid::now_v7(), hero_json("x")))
        .collect();
    h.push(&t, batch).await;
    let page = h.changes_ok(&t, None, Some(0)).await;
    assert_eq!(page.changes.len(), 1, "limit 0 is clamped up to 1");
    assert!(page.has_more);
    let page = h.changes_ok(&t, None, Some(MAX_CHANGES_LIMIT * 10)).await;
    assert_eq!(page.changes.len(), 3);
    assert!(!page.has_more);
}

#[tokio::test]
async fn bad_cursors() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    h.create_hero(&t, "A").await;
    for cursor in [
        "garbage",
        "12",
        "c1.zz.3",
        &format!("c1.{}.-4", h.state.instance_id()),
        &format!("c1.{}.999999", h.state.instance_id()),
    ] {
        h.changes(&t, Some(cursor), None)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    h.get("/api/sync/changes?limit=lots")
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

    // A well-formed cursor from another database (the server was reset): 410, resync.
    let other = Harness::new();
    let ot = other.user("x@example.com").await;
    let foreign = other.changes_ok(&ot, None, None).await.next_cursor;
    h.changes(&t, Some(&foreign), None)
        .await
        .expect_error(StatusCode::GONE, "cursor_expired");
}

#[tokio::test]
async fn each_user_sees_only_their_rows() {
    let h = Harness::new();
    let a = h.user("a@example.com").await;
    let b = h.user("b@example.com").await;
    let ha = h.create_hero(&a, "A").await;
    let hb = h.create_hero(&b, "B").await;
    assert_eq!(
        ids(&h.changes_ok(&a, None, None).await.changes.heroes),
        [ha.id]
    );
    assert_eq!(
        ids(&h.changes_ok(&b, None, None).await.changes.heroes),
        [hb.id]
    );
}

/// `remaining`: how many changes the feed still holds after a page, for an initial
/// sync's progress total.
#[tokio::test]
async fn each_page_says_how_many_changes_remain() {
    let h = Harness::new();
    let session = h.signup("ada@example.com").await;
    let (t, user) = (session.token, session.user.id);
    let now = h.state.now();
    h.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        for i in 0..2500 {
            let input: is_protocol::HeroInput =
                serde_json::from_value(hero_json(&format!("H{i}"))).unwrap();
            story_server::table::create::<is_protocol::Hero>(&tx, user, Uuid::now_v7(), input, now)
                .unwrap();
        }
        tx.commit().unwrap();
    });
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    for (rows, has_more, remaining) in [(1000, true, 1500), (1000, true, 500), (500, false, 0)] {
        let res = h
            .changes(&t, cursor.as_deref(), Some(1000))
            .await
            .expect(StatusCode::OK);
        assert_eq!(res.json()["remaining"], remaining, "on the wire");
        let page: is_protocol::ChangesResponse = res.json_as();
        assert_eq!(
            (page.changes.heroes.len(), page.has_more, page.remaining),
            (rows, has_more, Some(remaining))
        );
        seen.extend(page.changes.heroes);
        cursor = Some(page.next_cursor);
    }
    assert_eq!(seen.len(), 2500);
    let end = h.changes_ok(&t, cursor.as_deref(), Some(1000)).await;
    assert_eq!((end.changes.len(), end.remaining), (0, Some(0)));
}

#[tokio::test]
async fn remaining_counts_every_entity_once_at_its_latest_write() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    h.create_hero(&t, "Sol").await;
    h.create_story(&t, Some(hero.id), "S").await;
    h.create_event(&t, "E").await;
    h.patch("/api/users/me")
        .token(&t)
        .json(json!({"theme": "dark"}))
        .send()
        .await
        .expect(StatusCode::OK);
    // Luna is written again: still one change, now at the end of the feed.
    h.patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .json(json!({"age": 8}))
        .send()
        .await
        .expect(StatusCode::OK);
    // Feed: Sol, S, E, profile, Luna.
    let p1 = h.changes_ok(&t, None, Some(2)).await;
    assert_eq!((p1.changes.len(), p1.remaining), (2, Some(3)));
    let p2 = h.changes_ok(&t, Some(&p1.next_cursor), Some(2)).await;
    assert_eq!((p2.changes.len(), p2.remaining), (2, Some(1)));
    let p3 = h.changes_ok(&t, Some(&p2.next_cursor), Some(2)).await;
    assert_eq!(
        (p3.changes.len(), p3.has_more, p3.remaining),
        (1, false, Some(0))
    );
}
