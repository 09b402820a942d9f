//! The tombstone horizon: old tombstones are pruned, a cursor older than the newest
//! pruned one gets 410, a cursor-less full pull still returns every live row once.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::Duration;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn pruning_expires_old_cursors_but_not_full_pulls() {
    let h = Harness::with_config(|c| c.tombstone_horizon = Duration::days(30));
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let bystander = h.user("b@example.com").await;
    let b_hero = h.create_hero(&bystander, "B").await;
    let b_cursor = h.changes_ok(&bystander, None, None).await.next_cursor;
    let s1 = h.create_story(&t, Some(hero.id), "Kept").await;
    let s2 = h.create_story(&t, Some(hero.id), "Deleted").await;
    let old_cursor = h.changes_ok(&t, None, None).await.next_cursor;
    let ill_story = h.create_story(&t, None, "With pictures").await;
    h.post(&format!("/api/stories/{}/illustrations", ill_story.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;
    let media_files = std::fs::read_dir(h.state.media_dir()).unwrap().count();
    assert_eq!(media_files, 1);
    h.delete(&format!("/api/stories/{}", s2.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    h.delete(&format!("/api/stories/{}", ill_story.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let mid_cursor = h.changes_ok(&t, None, None).await.next_cursor;

    // Young tombstones are kept.
    assert_eq!(h.state.prune_tombstones().unwrap().rows, 0);
    h.changes(&t, Some(&old_cursor), None)
        .await
        .expect(StatusCode::OK);

    h.clock.advance(Duration::days(31));
    let t = h.login("ada@example.com").await;
    let bystander = h.login("b@example.com").await;
    let report = h.state.prune_tombstones().unwrap();
    assert_eq!(report.rows, 3, "two stories and an illustration");
    assert_eq!(report.files, 1, "the illustration's file is gone too");
    assert_eq!(std::fs::read_dir(h.state.media_dir()).unwrap().count(), 0);

    // A cursor from before the pruned tombstones: 410, resync.
    h.changes(&t, Some(&old_cursor), None)
        .await
        .expect_error(StatusCode::GONE, "cursor_expired");
    // A cursor that had already seen them is fine.
    let page = h.changes_ok(&t, Some(&mid_cursor), None).await;
    assert!(page.changes.is_empty());
    // Another user, who had nothing pruned, keeps their cursor.
    h.changes(&bystander, Some(&b_cursor), None)
        .await
        .expect(StatusCode::OK);
    let _ = b_hero;

    // A full pull from scratch returns every live row exactly once.
    let (pages, end) = h.drain_all(&t, None, 1).await;
    let mut ids = Vec::new();
    for p in &pages {
        ids.extend(p.heroes.iter().map(|x| x.id));
        ids.extend(p.stories.iter().map(|x| x.id));
        ids.extend(p.illustrations.iter().map(|x| x.id));
    }
    assert_eq!(ids, [hero.id, s1.id]);
    // And its cursor is current, so it keeps working.
    h.changes(&t, Some(&end), None).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn full_pull_returns_every_row_once_while_rows_are_added() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let mut want: Vec<Uuid> = Vec::new();
    for i in 0..6 {
        want.push(h.create_hero(&t, &format!("H{i}")).await.id);
        want.push(h.create_story(&t, None, &format!("S{i}")).await.id);
        want.push(h.create_event(&t, &format!("E{i}")).await.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let page = h.changes_ok(&t, cursor.as_deref(), Some(4)).await;
        seen.extend(page.changes.heroes.iter().map(|x| x.id));
        seen.extend(page.changes.stories.iter().map(|x| x.id));
        seen.extend(page.changes.custom_events.iter().map(|x| x.id));
        cursor = Some(page.next_cursor);
        if added < 4 {
            // Rows written during the pull come later in it.
            want.push(h.create_story(&t, None, "Late").await.id);
            added += 1;
        }
        if !page.has_more {
            break;
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    let want_set: HashSet<_> = want.iter().collect();
    assert_eq!(unique, want_set, "every row");
}

#[tokio::test]
async fn a_prune_during_a_pull_of_a_row_it_delivered_expires_the_pull() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let first = h.create_story(&t, None, "Delivered").await;
    h.create_story(&t, None, "Second").await;
    let p1 = h.changes_ok(&t, None, Some(1)).await;
    assert_eq!(p1.changes.stories[0].id, first.id);
    // The delivered row is deleted, and its tombstone pruned before the client reads on.
    h.delete(&format!("/api/stories/{}", first.id))
        .token(&t)
        .send()
        .await;
    h.clock.advance(Duration::days(31));
    let t = h.login("ada@example.com").await;
    assert_eq!(h.state.prune_tombstones().unwrap().rows, 1);
    h.changes(&t, Some(&p1.next_cursor), Some(1))
        .await
        .expect_error(StatusCode::GONE, "cursor_expired");
    // The resync from scratch completes, page by page, even though pruning happened.
    let (pages, _) = h.drain_all(&t, None, 1).await;
    let stories: Vec<_> = pages
        .iter()
        .flat_map(|p| p.stories.iter().map(|s| s.title.clone()))
        .collect();
    assert_eq!(stories, ["Second"]);
}
