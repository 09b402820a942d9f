//! Group commits (`story_server::storage`): concurrent pushes share one transaction and
//! one commit, each in its own savepoint, each answered only after the commit; reads run
//! on their own connections and never wait for the writer.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::future::join_all;
use is_protocol::{HeroRecord, Mutation, Outcome, PushResponse};
use story_server::table;
use uuid::Uuid;

use crate::support::*;

/// Holds the writer connection on a blocking thread for `hold`, so that the writes
/// started meanwhile all queue up and are taken as one group when it lets go.
async fn hold_writer(h: &Harness, hold: Duration) -> tokio::task::JoinHandle<()> {
    let state = h.state.clone();
    let (held, is_held) = tokio::sync::oneshot::channel();
    let task = tokio::task::spawn_blocking(move || {
        state.with_conn(|_| {
            let _ = held.send(());
            std::thread::sleep(hold);
        })
    });
    is_held.await.unwrap();
    task
}

fn pushes_of(n: usize, per_push: usize, tag: &str) -> Vec<Vec<Mutation>> {
    (0..n)
        .map(|p| {
            (0..per_push)
                .map(|i| create(Uuid::now_v7(), hero_json(&format!("{tag} {p}-{i}"))))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_of_several_users_share_commits_and_each_gets_its_own_answers() {
    let h = Harness::new();
    let users = [
        h.user("ada@example.com").await,
        h.user("bo@example.com").await,
        h.user("cy@example.com").await,
    ];
    let per_user: Vec<Vec<Vec<Mutation>>> = users
        .iter()
        .enumerate()
        .map(|(u, _)| pushes_of(8, 10, &format!("U{u}")))
        .collect();
    let before = h.state.commit_stats();
    let seq_before = h.current_seq();

    let holder = hold_writer(&h, Duration::from_millis(300)).await;
    let h = &h;
    let answers: Vec<(usize, Vec<Mutation>, PushResponse)> =
        join_all(per_user.iter().enumerate().flat_map(|(u, pushes)| {
            let token = &users[u];
            pushes.iter().map(move |batch| async move {
                (u, batch.clone(), h.push(token, batch.clone()).await)
            })
        }))
        .await;
    holder.await.unwrap();

    // 24 pushes, 240 creates; they queued behind the held writer and shared commits.
    let stats = h.state.commit_stats();
    let (groups, units) = (stats.groups - before.groups, stats.units - before.units);
    assert_eq!(units, 24);
    assert!(groups < units, "{groups} groups for {units} pushes");
    assert_eq!(
        h.current_seq() - seq_before,
        240,
        "one sequence value per write"
    );

    // Each push answered its own mutations, in order, all applied.
    for (_, batch, answer) in &answers {
        assert_eq!(answer.results.len(), batch.len());
        for (m, r) in batch.iter().zip(&answer.results) {
            assert_eq!(r.mutation_id, m.mutation_id);
            assert_eq!(applied(&r.outcome).id, m.id);
        }
    }

    // Each user's feed has exactly that user's heroes, each once, in write order, and
    // the same page by page as in one read.
    for (u, token) in users.iter().enumerate() {
        let expected: HashSet<Uuid> = per_user[u].iter().flatten().map(|m| m.id).collect();
        let (feed, _) = h.drain(token, None, 7).await;
        let ids: Vec<Uuid> = feed.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), 80);
        assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), expected);
        let (whole, _) = h.drain(token, None, 1000).await;
        assert_eq!(whole, feed);
        // Within one push the creates are written in order.
        let position: BTreeMap<Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        for batch in &per_user[u] {
            let at: Vec<usize> = batch.iter().map(|m| position[&m.id]).collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        }
    }

    // A replay of every push, again concurrently: all duplicates of the first answers.
    let replays = join_all(
        answers
            .iter()
            .map(|(u, batch, _)| h.push(&users[*u], batch.clone())),
    )
    .await;
    for ((_, _, first), again) in answers.iter().zip(replays) {
        for (f, r) in first.results.iter().zip(&again.results) {
            match &r.outcome {
                Outcome::Duplicate { first } => assert_eq!(**first, f.outcome),
                other => panic!("expected duplicate, got {other:?}"),
            }
        }
    }
    assert_eq!(h.hero_count(), 240);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_mutation_id_twice_in_one_group_is_applied_once() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let m = create(Uuid::now_v7(), hero_json("Luna"));
    let holder = hold_writer(&h, Duration::from_millis(200)).await;
    let answers = join_all((0..4).map(|_| h.push(&t, vec![m.clone()]))).await;
    holder.await.unwrap();
    let outcomes: Vec<&Outcome> = answers.iter().map(|a| &a.results[0].outcome).collect();
    let applied_once = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Applied { .. }))
        .count();
    assert_eq!(applied_once, 1, "{outcomes:?}");
    let first = outcomes
        .iter()
        .find(|o| matches!(o, Outcome::Applied { .. }))
        .unwrap();
    for o in &outcomes {
        if let Outcome::Duplicate { first: f } = o {
            assert_eq!(**f, **first);
        }
    }
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_mutation_does_not_touch_the_rest_of_its_group() {
    let h = Harness::new();
    let a = h.user("ada@example.com").await;
    let b = h.user("bo@example.com").await;
    let good_a = pushes_of(3, 5, "A");
    let good_b = pushes_of(3, 5, "B");
    // Valid, invalid (blank name), valid: the middle one alone is rejected.
    let mixed = vec![
        create(Uuid::now_v7(), hero_json("Fine")),
        create(Uuid::now_v7(), hero_json("   ")),
        create(Uuid::now_v7(), hero_json("Also fine")),
    ];
    let holder = hold_writer(&h, Duration::from_millis(200)).await;
    let (mixed_answer, others) = tokio::join!(
        h.push(&a, mixed.clone()),
        join_all(
            good_a
                .iter()
                .map(|p| h.push(&a, p.clone()))
                .chain(good_b.iter().map(|p| h.push(&b, p.clone())))
        )
    );
    holder.await.unwrap();

    applied(&mixed_answer.results[0].outcome);
    assert_eq!(
        rejected(&mixed_answer.results[1].outcome).code,
        is_protocol::codes::VALIDATION
    );
    applied(&mixed_answer.results[2].outcome);
    for answer in &others {
        for r in &answer.results {
            applied(&r.outcome);
        }
    }
    let (feed_a, _) = h.drain(&a, None, 100).await;
    let (feed_b, _) = h.drain(&b, None, 100).await;
    assert_eq!(feed_a.len(), 15 + 2);
    assert_eq!(feed_b.len(), 15);
    // The rejection was recorded like any outcome: a replay answers it again.
    let again = h.push_one(&a, mixed[1].clone()).await;
    match again {
        Outcome::Duplicate { first } => {
            rejected(&first);
        }
        other => panic!("expected duplicate, got {other:?}"),
    }
}

/// A hero created inside a unit of a group commit (for the tests of failing units).
fn create_in(
    tx: &story_server::sql::Transaction<'_>,
    user: Uuid,
    name: &str,
) -> Result<HeroRecord, story_server::ApiError> {
    let input = serde_json::from_value(hero_json(name)).unwrap();
    match table::create::<is_protocol::Hero>(tx, user, Uuid::now_v7(), input, chrono::Utc::now())? {
        table::CreateOutcome::Created(h) => Ok(h),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_unit_that_fails_or_panics_is_rolled_back_alone() {
    let h = Harness::new();
    let session = h.signup("ada@example.com").await;
    let user = session.user.id;
    let before = h.state.commit_stats();

    let holder = hold_writer(&h, Duration::from_millis(200)).await;
    let (first, failing, panicking, last) = tokio::join!(
        h.state.write(move |tx| create_in(tx, user, "First")),
        h.state
            .write(move |tx| -> Result<(), story_server::ApiError> {
                create_in(tx, user, "Failing")?;
                Err(story_server::ApiError::BadRequest("no".to_owned()))
            }),
        h.state
            .write(move |tx| -> Result<(), story_server::ApiError> {
                create_in(tx, user, "Panicking")?;
                panic!("a bug in one write");
            }),
        h.state.write(move |tx| create_in(tx, user, "Last")),
    );
    holder.await.unwrap();

    let stats = h.state.commit_stats();
    assert_eq!(stats.groups - before.groups, 1, "all four in one group");
    assert_eq!(stats.units - before.units, 4);
    let (first, last) = (first.unwrap(), last.unwrap());
    assert!(matches!(
        failing,
        Err(story_server::ApiError::BadRequest(_))
    ));
    assert!(matches!(
        panicking,
        Err(story_server::ApiError::Internal(_))
    ));
    // Only the two good units' heroes exist, and the feed has no gap where the failed
    // ones took sequence values (their savepoints gave them back).
    let (feed, _) = h.drain(&session.token, None, 100).await;
    assert_eq!(feed, vec![first, last]);
    let seqs: Vec<i64> = h.state.with_conn(|c| {
        let mut stmt = c.prepare("SELECT seq FROM heroes ORDER BY seq").unwrap();
        let rows = stmt.query_map((), |r| r.get(0)).unwrap();
        rows.collect::<story_server::sql::Result<_>>().unwrap()
    });
    assert_eq!(seqs[1], seqs[0] + 1, "{seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_whose_transaction_is_lost_answers_every_unit_with_an_error() {
    let h = Harness::new();
    let session = h.signup("ada@example.com").await;
    let user = session.user.id;
    let holder = hold_writer(&h, Duration::from_millis(200)).await;
    let (first, lost, last) = tokio::join!(
        h.state.write(move |tx| create_in(tx, user, "First")),
        // What SQLite does to a transaction after an I/O error: it is gone, with what
        // the units before wrote.
        h.state.write(|tx| Ok(tx.execute_batch("ROLLBACK")?)),
        h.state.write(move |tx| create_in(tx, user, "Last")),
    );
    holder.await.unwrap();
    // Nothing of the group was kept, so no unit may say it was applied.
    assert!(first.is_err() && lost.is_err() && last.is_err());
    assert_eq!(h.hero_count(), 0);
    // The writer goes on with the next group.
    h.create_hero(&session.token, "After").await;
    assert_eq!(h.hero_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_do_not_wait_for_the_writer() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    let hero = h.create_hero(&t, "Luna").await;
    // The writer is busy (as during a long commit) for five seconds…
    let holder = hold_writer(&h, Duration::from_secs(5)).await;
    let started = std::time::Instant::now();
    // …and signed-in reads are answered meanwhile.
    let list = h
        .get("/api/heroes")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(list.json()["items"][0]["id"], hero.id.to_string());
    h.get_hero(&t, hero.id).await.expect(StatusCode::OK);
    let page = h.changes_ok(&t, None, None).await;
    assert_eq!(page.changes.heroes, vec![hero]);
    h.get("/api/users/me")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    holder.await.unwrap();
}
