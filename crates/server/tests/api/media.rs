//! Generated media: avatars (PNG), audio (WAV), illustrations (PNG), delivered through
//! the change feed, and `GET /api/media/{name}` with ETag, 304, Range, 206 and 416.

use axum::http::StatusCode;
use is_protocol::{
    GenerationStatus, HeroRecord, IllustrationRecord, MediaJob, Page, StoryRecord, UsageStats,
};
use serde_json::json;
use story_server::audio;

use crate::support::*;

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    // And it really decodes.
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    (w, h)
}

#[tokio::test]
async fn avatar_is_a_png_delivered_through_the_feed() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let other = h.create_hero(&t, "Captain Pip").await;
    let cursor = h.changes_ok(&t, None, None).await.next_cursor;
    let job: MediaJob = h
        .post(&format!("/api/heroes/{}/avatar", hero.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    assert_eq!(serde_json::to_value(job.status).unwrap(), "pending");
    h.post(&format!("/api/heroes/{}/avatar", other.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;

    let page = h.changes_ok(&t, Some(&cursor), None).await;
    assert_eq!(page.changes.heroes.len(), 2);
    let luna = page
        .changes
        .heroes
        .iter()
        .find(|x| x.id == hero.id)
        .unwrap();
    assert_eq!(luna.version, 2);
    assert_eq!(
        luna.avatar_generation_id.as_deref(),
        Some(job.generation_id.to_string().as_str())
    );
    let url = luna.avatar_url.clone().unwrap();
    assert_eq!(url, format!("/api/media/{}.png", job.generation_id));

    let res = h.get(&url).token(&t).send().await.expect(StatusCode::OK);
    assert_eq!(res.headers["content-type"], "image/png");
    assert_eq!(
        res.headers["content-length"],
        res.bytes.len().to_string().as_str()
    );
    assert_eq!(png_size(&res.bytes), (256, 256));
    let pip = page
        .changes
        .heroes
        .iter()
        .find(|x| x.id == other.id)
        .unwrap();
    let pip_png = h
        .get(pip.avatar_url.as_ref().unwrap())
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_ne!(pip_png.bytes, res.bytes, "distinct per hero");

    // Deterministic: the same hero gives the same picture again.
    h.post(&format!("/api/heroes/{}/avatar", hero.id))
        .token(&t)
        .send()
        .await;
    h.state.wait_for_media().await;
    let again: HeroRecord = h.get_hero(&t, hero.id).await.json_as();
    assert_ne!(
        again.avatar_url.as_deref(),
        Some(url.as_str()),
        "a new file"
    );
    let again_png = h
        .get(again.avatar_url.as_ref().unwrap())
        .token(&t)
        .send()
        .await;
    assert_eq!(again_png.bytes, res.bytes);
    // No sign-in, no file.
    h.get(&url)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn media_serving_etag_304_range_206_416() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    h.post(&format!("/api/heroes/{}/avatar", hero.id))
        .token(&t)
        .send()
        .await;
    h.state.wait_for_media().await;
    let url = h
        .get_hero(&t, hero.id)
        .await
        .json_as::<HeroRecord>()
        .avatar_url
        .unwrap();
    let full = h.get(&url).token(&t).send().await.expect(StatusCode::OK);
    let size = full.bytes.len();
    let etag = full.headers["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(full.headers["accept-ranges"], "bytes");

    let res = h
        .get(&url)
        .token(&t)
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    assert!(res.bytes.is_empty());
    assert_eq!(res.headers["etag"], etag.as_str());
    h.get(&url)
        .token(&t)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .expect(StatusCode::OK);

    let part = h
        .get(&url)
        .token(&t)
        .header("range", "bytes=0-99")
        .send()
        .await;
    let part = part.expect(StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes, full.bytes[..100]);
    assert_eq!(part.headers["content-length"], "100");
    assert_eq!(
        part.headers["content-range"],
        format!("bytes 0-99/{size}").as_str()
    );
    let tail = h
        .get(&url)
        .token(&t)
        .header("range", "bytes=-10")
        .send()
        .await;
    assert_eq!(
        tail.expect(StatusCode::PARTIAL_CONTENT).bytes,
        full.bytes[size - 10..]
    );
    let rest = h
        .get(&url)
        .token(&t)
        .header("range", &format!("bytes={}-", size - 5))
        .send()
        .await;
    let rest = rest.expect(StatusCode::PARTIAL_CONTENT);
    assert_eq!(rest.bytes, full.bytes[size - 5..]);
    assert_eq!(
        rest.headers["content-range"],
        format!("bytes {}-{}/{size}", size - 5, size - 1).as_str()
    );
    // Resume only if unchanged (If-Range with a stale ETag → the whole file).
    let stale = h
        .get(&url)
        .token(&t)
        .header("range", "bytes=0-9")
        .header("if-range", "\"stale\"")
        .send()
        .await;
    assert_eq!(stale.expect(StatusCode::OK).bytes.len(), size);

    let res = h
        .get(&url)
        .token(&t)
        .header("range", &format!("bytes={size}-"))
        .send()
        .await;
    res.expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "bad_request");
    assert_eq!(
        res.headers["content-range"],
        format!("bytes */{size}").as_str()
    );

    for bad in [
        "/api/media/nope.png",
        "/api/media/..%2F..%2Fserver.sqlite3",
        "/api/media/00000000-0000-0000-0000-000000000000.png",
    ] {
        h.get(bad)
            .token(&t)
            .send()
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn audio_is_a_wav_as_long_as_reading_the_story() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    // 300 words: two minutes at 150 words per minute.
    let content = (0..300)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let s: StoryRecord = h
        .post("/api/stories")
        .token(&t)
        .json(json!({"hero_id": hero.id, "title": "Long", "content": content, "language": "en", "event_type": "bedtime"}))
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json_as();
    let job: MediaJob = h
        .post(&format!("/api/stories/{}/audio", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    assert_eq!(job.target_id, s.id);
    h.state.wait_for_media().await;
    let feed = h.changes_ok(&t, None, None).await;
    let story = feed.changes.stories.iter().find(|x| x.id == s.id).unwrap();
    assert_eq!(story.version, 2);
    assert_eq!(story.audio_duration, Some(120.0));
    let res = h
        .get(story.audio_url.as_ref().unwrap())
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(res.headers["content-type"], "audio/wav");
    let wav = &res.bytes;
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let channels = u16::from_le_bytes(wav[22..24].try_into().unwrap());
    let rate = u32::from_le_bytes(wav[24..28].try_into().unwrap());
    let bits = u16::from_le_bytes(wav[34..36].try_into().unwrap());
    let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap());
    assert_eq!((channels, rate, bits), (1, audio::SAMPLE_RATE, 16));
    assert_eq!(data_len as usize + 44, wav.len());
    assert_eq!(
        data_len as f64 / 2.0 / rate as f64,
        120.0,
        "header length matches the duration"
    );
    let riff = u32::from_le_bytes(wav[4..8].try_into().unwrap());
    assert_eq!(riff as usize, wav.len() - 8);

    let usage: UsageStats = h
        .get("/api/usage")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(usage.audio_minutes_this_month, 2.0);
}

#[tokio::test]
async fn illustrations_move_from_pending_to_ready_with_timestamps_over_the_audio() {
    let h = Harness::new();
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let s = h.create_story(&t, Some(hero.id), "Pictures").await;
    let before = h.changes_ok(&t, None, None).await.next_cursor;
    let job: MediaJob = h
        .post(&format!("/api/stories/{}/illustrations", s.id))
        .token(&t)
        .json(json!({"count": 3}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    assert_eq!(job.illustration_ids.len(), 3);
    h.state.wait_for_media().await;

    let (pages, _) = h.drain_all(&t, Some(&before), 100).await;
    let ills: Vec<IllustrationRecord> = pages.into_iter().flat_map(|p| p.illustrations).collect();
    assert_eq!(ills.len(), 3, "each once, at its latest (ready) version");
    let list: Page<IllustrationRecord> = h
        .get(&format!("/api/stories/{}/illustrations", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(list.items.len(), 3);
    let duration = audio::duration_secs(audio::sample_count(audio::word_count(&s.content)));
    for (i, ill) in list.items.iter().enumerate() {
        assert_eq!(ill.display_order, i as u32);
        assert_eq!(ill.story_id, s.id);
        assert_eq!(ill.generation_status, GenerationStatus::Ready);
        assert_eq!(ill.version, 2, "pending (1) then ready (2)");
        assert!(ill.prompt.contains("Pictures"), "{}", ill.prompt);
        assert!(ill.timestamp >= 0.0 && ill.timestamp < duration);
        let png = h
            .get(ill.image_url.as_ref().unwrap())
            .token(&t)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(png_size(&png.bytes), (512, 320));
    }
    assert_eq!(list.items[0].timestamp, 0.0);
    assert!(list.items[1].timestamp > 0.0 && list.items[2].timestamp > list.items[1].timestamp);
    assert_eq!(
        list.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        job.illustration_ids
    );

    // Generating again replaces them (the old ones become tombstones); no body = auto count.
    let job2: MediaJob = h
        .post(&format!("/api/stories/{}/illustrations", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .json_as();
    assert_eq!(job2.illustration_ids.len(), 1);
    h.state.wait_for_media().await;
    let list: Page<IllustrationRecord> = h
        .get(&format!("/api/stories/{}/illustrations", s.id))
        .token(&t)
        .send()
        .await
        .json_as();
    assert_eq!(list.items.len(), 1);

    // Deleting the story tombstones its illustrations in the feed.
    let cursor = h.changes_ok(&t, None, None).await.next_cursor;
    h.delete(&format!("/api/stories/{}", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let page = h.changes_ok(&t, Some(&cursor), None).await;
    assert_eq!(page.changes.illustrations.len(), 1);
    assert!(page.changes.illustrations[0].deleted);

    let usage: UsageStats = h.get("/api/usage").token(&t).send().await.json_as();
    assert_eq!(usage.illustrations_this_month, 4);

    for bad in [json!({"count": 0}), json!({"count": 6})] {
        let s2 = h.create_story(&t, None, "Other").await;
        h.post(&format!("/api/stories/{}/illustrations", s2.id))
            .token(&t)
            .json(bad)
            .send()
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    let s3 = h.create_story(&t, None, "Third").await;
    h.post(&format!("/api/stories/{}/illustrations", s3.id))
        .token(&t)
        .json(json!({"count": 2, "style": "oil"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn media_generation_respects_the_monthly_limits() {
    let h = Harness::with_config(|c| {
        c.tier_limits.free.illustrations_per_month = Some(4);
        c.tier_limits.free.audio_minutes_per_month = Some(1);
    });
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let s = h.create_story(&t, Some(hero.id), "Limited").await;
    let path = format!("/api/stories/{}/illustrations", s.id);
    h.post(&path)
        .token(&t)
        .json(json!({"count": 3}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;
    h.post(&path)
        .token(&t)
        .json(json!({"count": 2}))
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "limit_reached");
    h.post(&path)
        .token(&t)
        .json(json!({"count": 1}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;

    // Audio: a 2-second story fits in one minute; a 200-word one (80 s) does not.
    h.post(&format!("/api/stories/{}/audio", s.id))
        .token(&t)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    h.state.wait_for_media().await;
    let long = (0..200).map(|_| "word").collect::<Vec<_>>().join(" ");
    let l: StoryRecord = h
        .post("/api/stories")
        .token(&t)
        .json(json!({"title": "Long", "content": long, "language": "en", "event_type": "bedtime"}))
        .send()
        .await
        .json_as();
    h.post(&format!("/api/stories/{}/audio", l.id))
        .token(&t)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "limit_reached");
    let usage: UsageStats = h.get("/api/usage").token(&t).send().await.json_as();
    assert_eq!(usage.illustrations_this_month, 4);
    assert_eq!(usage.limits.illustrations_per_month, Some(4));
    assert_eq!(usage.tiers.len(), 3);
}
