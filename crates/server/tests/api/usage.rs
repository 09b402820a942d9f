//! Monthly usage limits hold under concurrent requests: the amount a request will use is
//! reserved in the transaction that checks the limit, and what a failed generation did
//! not deliver is given back.

use axum::http::StatusCode;
use futures_util::future::join_all;
use is_protocol::{GenerationStatus, IllustrationRecord, MediaJob, Page, StoryRecord};
use serde_json::json;
use story_server::audio;

use crate::support::*;

/// A 112-word story: 0.75 minutes of audio.
async fn story_of_112_words(h: &Harness, t: &str) -> StoryRecord {
    let content = vec!["word"; 112].join(" ");
    h.post("/api/stories")
        .token(t)
        .json(
            json!({"title": "Long", "content": content, "language": "en", "event_type": "bedtime"}),
        )
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json_as()
}

fn minutes_of(words: usize) -> f64 {
    let minutes = audio::duration_secs(audio::sample_count(words)) / 60.0;
    (minutes * 100.0).round() / 100.0
}

/// Counts the answers: (accepted with `ok`, refused with 403 `limit_reached`); anything
/// else fails the test.
fn tally(results: &[Res], ok: StatusCode) -> (usize, usize) {
    let mut counts = (0, 0);
    for r in results {
        if r.status == ok {
            counts.0 += 1;
        } else {
            r.expect_error(StatusCode::FORBIDDEN, "limit_reached");
            counts.1 += 1;
        }
    }
    counts
}

#[tokio::test]
async fn concurrent_audio_requests_never_pass_the_monthly_minutes() {
    let h = Harness::with_config(|c| c.tier_limits.free.audio_minutes_per_month = Some(1));
    let t = h.user("ada@example.com").await;
    let s = story_of_112_words(&h, &t).await;
    let path = format!("/api/stories/{}/audio", s.id);
    let results = join_all((0..8).map(|_| h.post(&path).token(&t).send())).await;
    assert_eq!(tally(&results, StatusCode::ACCEPTED), (1, 7));
    // While the job runs, its minutes already count.
    assert_eq!(
        usage(&h, &t).await.audio_minutes_this_month,
        minutes_of(112)
    );
    h.state.wait_for_media().await;
    assert_eq!(
        usage(&h, &t).await.audio_minutes_this_month,
        minutes_of(112)
    );
    h.post(&path)
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "limit_reached");
}

#[tokio::test]
async fn concurrent_illustration_requests_never_pass_the_monthly_count() {
    let h = Harness::with_config(|c| c.tier_limits.free.illustrations_per_month = Some(3));
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let s = h.create_story(&t, Some(hero.id), "Pictures").await;
    let path = format!("/api/stories/{}/illustrations", s.id);
    let results =
        join_all((0..4).map(|_| h.post(&path).token(&t).json(json!({"count": 3})).send())).await;
    assert_eq!(tally(&results, StatusCode::ACCEPTED), (1, 3));
    h.state.wait_for_media().await;
    assert_eq!(usage(&h, &t).await.illustrations_this_month, 3);
    // A refused request changed nothing: the accepted one's illustrations are all ready.
    let list: Page<IllustrationRecord> = h.get(&path).token(&t).send().await.json_as();
    assert_eq!(list.items.len(), 3);
    assert!(list
        .items
        .iter()
        .all(|i| i.generation_status == GenerationStatus::Ready));
}

#[tokio::test]
async fn concurrent_story_generation_never_passes_the_monthly_count() {
    let h = Harness::with_config(|c| c.tier_limits.free.stories_per_month = Some(2));
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let body = json!({"hero_id": hero.id, "event_type": "bedtime", "language": "en"});
    let results = join_all((0..8).map(|_| {
        h.post("/api/stories/generate")
            .token(&t)
            .json(body.clone())
            .send()
    }))
    .await;
    assert_eq!(tally(&results, StatusCode::CREATED), (2, 6));
    assert_eq!(usage(&h, &t).await.stories_this_month, 2);
}

#[tokio::test]
async fn a_failed_generation_gives_its_reservation_back() {
    let h = Harness::with_config(|c| {
        c.tier_limits.free.audio_minutes_per_month = Some(1);
        c.tier_limits.free.illustrations_per_month = Some(3);
    });
    let t = h.user("ada@example.com").await;
    let s = story_of_112_words(&h, &t).await;
    // No file can be written while the media directory is a plain file.
    let media = h.state.media_dir();
    std::fs::remove_dir_all(&media).unwrap();
    std::fs::write(&media, b"not a directory").unwrap();

    let audio_path = format!("/api/stories/{}/audio", s.id);
    let ill_path = format!("/api/stories/{}/illustrations", s.id);
    h.post(&audio_path)
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    let job: MediaJob = h
        .post(&ill_path)
        .token(&t)
        .json(json!({"count": 3}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    h.state.wait_for_media().await;
    let after_failure = usage(&h, &t).await;
    assert_eq!(after_failure.audio_minutes_this_month, 0.0);
    assert_eq!(after_failure.illustrations_this_month, 0);
    let list: Page<IllustrationRecord> = h.get(&ill_path).token(&t).send().await.json_as();
    assert_eq!(list.items.len(), job.illustration_ids.len());
    assert!(list
        .items
        .iter()
        .all(|i| i.generation_status == GenerationStatus::Failed));

    // The whole allowance is there again.
    std::fs::remove_file(&media).unwrap();
    std::fs::create_dir(&media).unwrap();
    h.post(&audio_path)
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.post(&ill_path)
        .token(&t)
        .json(json!({"count": 3}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;
    let after = usage(&h, &t).await;
    assert_eq!(after.audio_minutes_this_month, minutes_of(112));
    assert_eq!(after.illustrations_this_month, 3);
}
