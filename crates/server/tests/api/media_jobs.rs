//! Media jobs are queued in the database and survive the replica that accepted them: a
//! job left claimed by a replica that died is taken over once its lease passes, a job
//! whose runs never finish is given up after its attempts, and replicas sharing a
//! database never run one job twice. Usage is settled exactly once in every case.
//!
//! "Replicas" are several `AppState`s opened on one database (one SQLite file, or one
//! PostgreSQL database with `STORY_TEST_DATABASE_URL`), sharing the harness's clock.

use std::sync::Arc;

use axum::http::StatusCode;
use futures_util::future::join_all;
use is_protocol::{GenerationStatus, IllustrationRecord, MediaJob, Page};
use serde_json::json;
use story_server::media_jobs::{self, LEASE, MAX_ATTEMPTS};
use story_server::sql::TransactionBehavior;
use story_server::{illustration_store, params, AppState, Clock, Config};
use uuid::Uuid;

use crate::support::*;

/// A harness whose own worker is stopped: what it accepts stays queued.
fn harness_without_worker() -> Harness {
    let mut h = Harness::new();
    drop(h.worker.take());
    h
}

/// Another replica: a state on the harness's database, with the harness's clock.
fn replica_of(h: &Harness) -> AppState {
    let config = Config::for_tests(h._dir.path().join("server.sqlite3"));
    AppState::with_clock(config, h.clock.clone()).unwrap()
}

/// Runs `sql` (with `?1` = the job's id) on the job rows.
fn on_jobs(state: &AppState, sql: &str, job: Uuid) {
    state.with_conn(|conn| {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        assert_eq!(tx.execute(sql, params![job]).unwrap(), 1, "{sql}");
        tx.commit().unwrap();
    });
}

fn queued_jobs(state: &AppState) -> i64 {
    state.with_conn(|conn| {
        conn.query_row("SELECT COUNT(*) AS n FROM media_jobs", (), |r| r.get("n"))
            .unwrap()
    })
}

/// The user's usage rows of `kind`: one per accepted request, never settled twice.
fn usage_rows(state: &AppState, kind: &str) -> Vec<f64> {
    state.with_conn(|conn| {
        conn.query_map(
            "SELECT amount FROM usage_events WHERE kind = ?1 ORDER BY id",
            [kind],
            |r| r.get("amount"),
        )
        .unwrap()
    })
}

async fn illustrations(h: &Harness, t: &str, story: Uuid) -> Vec<IllustrationRecord> {
    h.get(&format!("/api/stories/{story}/illustrations"))
        .token(t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as::<Page<IllustrationRecord>>()
        .items
}

async fn request_illustrations(h: &Harness, t: &str, story: Uuid, count: u8) -> MediaJob {
    h.post(&format!("/api/stories/{story}/illustrations"))
        .token(t)
        .json(json!({ "count": count }))
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as()
}

fn statuses(items: &[IllustrationRecord]) -> Vec<GenerationStatus> {
    items.iter().map(|i| i.generation_status).collect()
}

#[tokio::test]
async fn a_job_left_by_a_dead_replica_is_finished_by_another() {
    let h = harness_without_worker();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let story = h.create_story(&t, Some(hero.id), "Pictures").await;
    let job = request_illustrations(&h, &t, story.id, 3).await;
    // A replica claimed it and died: its lease runs for a while yet.
    let lease_end = (h.clock.now() + chrono::Duration::seconds(30)).timestamp_micros();
    on_jobs(
        &h.state,
        &format!(
            "UPDATE media_jobs SET claimed_by = 'dead-replica', attempts = 1,
                 lease_until = {lease_end} WHERE id = ?1"
        ),
        job.generation_id,
    );

    let other = replica_of(&h);
    other.wait_for_media().await;
    assert_eq!(other.jobs().claimed(), 0, "the lease still holds");
    let items = illustrations(&h, &t, story.id).await;
    assert_eq!(statuses(&items), vec![GenerationStatus::Pending; 3]);
    assert_eq!(usage(&h, &t).await.illustrations_this_month, 3);

    h.clock.advance(chrono::Duration::seconds(31));
    other.wait_for_media().await;
    assert_eq!(other.jobs().claimed(), 1);
    let items = illustrations(&h, &t, story.id).await;
    assert_eq!(statuses(&items), vec![GenerationStatus::Ready; 3]);
    for item in &items {
        h.get(item.image_url.as_deref().unwrap())
            .token(&t)
            .send()
            .await
            .expect(StatusCode::OK);
    }
    assert_eq!(queued_jobs(&other), 0);
    // One reservation, settled once at what was delivered.
    assert_eq!(usage_rows(&other, "illustration"), vec![3.0]);
    assert_eq!(usage(&h, &t).await.illustrations_this_month, 3);
    // Nothing is left for anyone.
    h.state.wait_for_media().await;
    assert_eq!(h.state.jobs().claimed(), 0);
}

#[tokio::test]
async fn a_job_whose_runs_never_finish_is_given_up_at_what_it_delivered() {
    let h = harness_without_worker();
    let session = h.signup("ada@example.com").await;
    let t = session.token;
    let hero = h.create_hero(&t, "Luna").await;
    let story = h.create_story(&t, Some(hero.id), "Pictures").await;
    let job = request_illustrations(&h, &t, story.id, 3).await;
    // Earlier runs made the first picture, then their replicas died, the last one
    // with its lease already passed.
    let first = job.illustration_ids[0];
    let now = h.state.now();
    let user = session.user.id;
    h.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        illustration_store::set_status(&tx, user, first, GenerationStatus::Ready, None, now)
            .unwrap()
            .unwrap();
        tx.commit().unwrap();
    });
    on_jobs(
        &h.state,
        &format!(
            "UPDATE media_jobs SET claimed_by = 'dead-replica', attempts = {MAX_ATTEMPTS},
                 delivered = 1, lease_until = 0 WHERE id = ?1"
        ),
        job.generation_id,
    );

    h.state.wait_for_media().await;
    assert_eq!(h.state.jobs().claimed(), 1);
    let items = illustrations(&h, &t, story.id).await;
    assert_eq!(
        statuses(&items),
        vec![
            GenerationStatus::Ready,
            GenerationStatus::Failed,
            GenerationStatus::Failed
        ]
    );
    assert_eq!(queued_jobs(&h.state), 0);
    assert_eq!(usage_rows(&h.state, "illustration"), vec![1.0]);
    assert_eq!(usage(&h, &t).await.illustrations_this_month, 1);
}

#[tokio::test]
async fn a_replica_that_lost_its_lease_writes_nothing() {
    let h = harness_without_worker();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    h.post(&format!("/api/heroes/{}/avatar", hero.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    // This replica claims the job and stalls past its lease; another takes it over.
    let now = h.state.now();
    let slow = h
        .state
        .with_conn(|conn| media_jobs::claim(conn, "stalled-replica", now))
        .unwrap()
        .expect("a claimable job");
    h.clock
        .advance(chrono::Duration::from_std(LEASE).unwrap() + chrono::Duration::seconds(1));
    let other = replica_of(&h);
    other.wait_for_media().await;
    assert_eq!(other.jobs().claimed(), 1);
    let after_takeover = h
        .get_hero(&t, hero.id)
        .await
        .json_as::<is_protocol::HeroRecord>();
    assert_eq!(after_takeover.version, 2);

    // The stalled replica wakes up: its claim is gone, so its step is refused.
    h.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        let err = slow.finish(&tx, 0.0).unwrap_err();
        assert!(matches!(err, media_jobs::JobError::Lost(_)), "{err}");
    });
    assert_eq!(queued_jobs(&h.state), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_never_run_a_job_twice() {
    const STORIES: usize = 6;
    let h = harness_without_worker();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let mut jobs = 0;
    for i in 0..STORIES {
        let story = h
            .create_story(&t, Some(hero.id), &format!("Story {i}"))
            .await;
        request_illustrations(&h, &t, story.id, 2).await;
        h.post(&format!("/api/stories/{}/audio", story.id))
            .token(&t)
            .send()
            .await
            .expect(StatusCode::ACCEPTED);
        h.post(&format!("/api/heroes/{}/avatar", hero.id))
            .token(&t)
            .send()
            .await
            .expect(StatusCode::ACCEPTED);
        jobs += 3;
    }
    assert_eq!(queued_jobs(&h.state), jobs);

    // Three replicas with their workers, and each also draining the queue itself.
    let replicas: Vec<AppState> = vec![h.state.clone(), replica_of(&h), replica_of(&h)];
    let workers: Vec<_> = replicas.iter().map(|r| r.start_media_worker()).collect();
    let replicas = Arc::new(replicas);
    join_all(replicas.iter().map(|r| r.wait_for_media())).await;
    drop(workers);

    let claimed: u64 = replicas.iter().map(|r| r.jobs().claimed()).sum();
    assert_eq!(claimed, jobs as u64, "every job claimed exactly once");
    assert_eq!(queued_jobs(&h.state), 0);
    let hero_now = h
        .get_hero(&t, hero.id)
        .await
        .json_as::<is_protocol::HeroRecord>();
    assert_eq!(
        hero_now.version,
        1 + STORIES as i64,
        "one avatar write per job"
    );
    let audio = usage_rows(&h.state, "audio_minutes");
    assert_eq!(audio.len(), STORIES);
    let pictures = usage_rows(&h.state, "illustration");
    assert_eq!(pictures, vec![2.0; STORIES]);
}
