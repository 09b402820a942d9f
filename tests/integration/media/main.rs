//! The media cache against the real server on loopback (SPEC.md section 10): resumed,
//! verified, de-duplicated downloads; eviction by age, kind and size; the folder watcher;
//! regenerated avatars; sign-out; the `media://` answers; and hostile keys and paths.

mod faults;
mod hostile;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use integration_tests::*;
use is_core::clock::{Clock, ManualClock};
use is_core::media::{CacheKind, MediaConfig, MediaError, MediaRef, MediaStatus};
use is_core::rng::SplitMix64;
use is_core::sync::plan::RetryPolicy;
use is_core::transport::{HttpTransport, Transport};
use is_core::{Core, CoreConfig, CoreError, Hero, Story};
use uuid::Uuid;

use self::faults::{Fault, MediaFaults};

/// A device with its own clock and media settings; retries without waiting.
fn device(
    world: &World,
    name: &str,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    media: MediaConfig,
) -> Core {
    let mut config = CoreConfig::new(world.device_dir(name), transport.base_url());
    config.retry = RetryPolicy {
        base: Duration::ZERO,
        max: Duration::ZERO,
        max_attempts: 3,
    };
    config.media = media;
    let conn = is_core::db::open(&config.db_path()).expect("open cache");
    Core::with_parts(conn, transport, clock, Arc::new(SplitMix64::new(7)), config)
}

fn fast_media() -> MediaConfig {
    MediaConfig {
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
            max_attempts: 4,
        },
        ..MediaConfig::default()
    }
}

/// A server, and a device talking to it through [`MediaFaults`].
async fn laptop() -> (World, TestServer, Arc<MediaFaults>, Core) {
    let world = World::new();
    let server = world.start_server().await;
    let net = MediaFaults::new(&server.base_url);
    let core = device(
        &world,
        "laptop",
        net.clone(),
        Arc::new(ManualClock::new(Utc::now())),
        fast_media(),
    );
    (world, server, net, core)
}

/// A story long enough for a narration of `minutes` (150 words a minute; about 1.9 MB a
/// minute at the server's 16 kHz).
fn long_story(title: &str, hero: Uuid, minutes: usize) -> is_core::StoryInput {
    let mut s = story(title, Some(hero));
    s.content = "Once upon a time the moon hummed softly. ".repeat(minutes * 150 / 8 + 1);
    s
}

/// A signed-up device with a hero (with its avatar) and a narrated story.
struct Library {
    hero: Uuid,
    story: Uuid,
}

async fn library(server: &TestServer, core: &Core, email: &str, minutes: usize) -> Library {
    sign_up(core, email).await;
    let hero = core.create::<Hero>(hero("Luna", 6)).unwrap().id;
    let story = core
        .create::<Story>(long_story("The humming moon", hero, minutes))
        .unwrap()
        .id;
    core.sync_now().await.expect("sync");
    core.generate_avatar(hero).await.expect("avatar");
    core.generate_audio(story).await.expect("audio");
    server.state.wait_for_media().await;
    core.sync_now().await.expect("sync");
    Library { hero, story }
}

fn avatar(lib: &Library) -> MediaRef {
    MediaRef::new(CacheKind::Avatar, lib.hero)
}

fn audio(lib: &Library) -> MediaRef {
    MediaRef::new(CacheKind::Audio, lib.story)
}

/// The bytes the server has for a media URL.
async fn server_bytes(server: &TestServer, email: &str, url: &str) -> Vec<u8> {
    let token = server.login(email, TEST_PASSWORD).await.token;
    let res = reqwest::Client::new()
        .get(server.url(url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

fn audio_url(core: &Core, story: Uuid) -> String {
    core.cached::<Story>(story)
        .unwrap()
        .audio_url
        .expect("narrated")
}

fn avatar_url(core: &Core, hero: Uuid) -> String {
    core.cached::<Hero>(hero)
        .unwrap()
        .avatar_url
        .expect("drawn")
}

#[tokio::test]
async fn an_interrupted_download_resumes_and_ends_byte_identical() {
    let world = World::new();
    let server = world.start_server().await;
    let net = MediaFaults::new(&server.base_url);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let core = device(&world, "laptop", net.clone(), clock.clone(), fast_media());
    let lib = library(&server, &core, "resume@example.com", 2).await;
    let url = audio_url(&core, lib.story);
    let expected = server_bytes(&server, "resume@example.com", &url).await;
    assert!(expected.len() > 2_000_000, "{} bytes", expected.len());

    // Cut mid-body: the retry asks for the rest only.
    net.plan(&url, [Fault::CutAfter(1_000_000)]);
    let ready = core.media_file(audio(&lib)).await.expect("downloaded");
    assert_eq!(std::fs::read(&ready.path).unwrap(), expected);
    assert_eq!(net.requests_for(&url), [0, 1_000_000]);

    // Cut by a lost connection (no answer): this open fails, the part stays, and the
    // next launch of the app resumes it.
    core.media_clear(None).await.unwrap();
    net.clear_requests();
    net.plan(&url, [Fault::StallAfter(1_500_000)]);
    let err = core.media_file(audio(&lib)).await.unwrap_err();
    assert_eq!(err.code(), "offline", "{err}");
    assert!(matches!(
        core.media_status(audio(&lib)).unwrap(),
        MediaStatus::Missing { partial: 1_500_000 }
    ));
    drop(core);
    let core = device(&world, "laptop", net.clone(), clock, fast_media());
    core.media().repair().unwrap();
    let ready = core.media_file(audio(&lib)).await.expect("resumed");
    assert_eq!(std::fs::read(&ready.path).unwrap(), expected);
    assert_eq!(net.requests_for(&url), [0, 1_500_000]);
    let partial_dir = core.media().layout().partial_dir();
    assert_eq!(std::fs::read_dir(partial_dir).unwrap().count(), 0);
}

#[tokio::test]
async fn a_corrupt_or_truncated_body_is_rejected_and_retried() {
    let (_world, server, net, core) = laptop().await;
    let lib = library(&server, &core, "corrupt@example.com", 1).await;
    let url = audio_url(&core, lib.story);
    let expected = server_bytes(&server, "corrupt@example.com", &url).await;

    net.plan(&url, [Fault::Corrupt, Fault::Truncate(10_000)]);
    let ready = core.media_file(audio(&lib)).await.expect("third time");
    assert_eq!(std::fs::read(&ready.path).unwrap(), expected);
    // Each damaged body was thrown away: every attempt started from zero.
    assert_eq!(net.requests_for(&url), [0, 0, 0]);

    // Damaged every time: a clear error, nothing kept, and the next open tries again.
    core.media_clear(None).await.unwrap();
    net.plan(&url, [Fault::Corrupt; 4]);
    let err = core.media_file(audio(&lib)).await.unwrap_err();
    assert!(
        matches!(err, CoreError::Media(MediaError::Damaged(_))),
        "{err:?}"
    );
    assert!(matches!(
        core.media_status(audio(&lib)).unwrap(),
        MediaStatus::Failed { .. }
    ));
    assert!(!core.media().layout().file(&url).exists());
    assert!(!core.media().layout().partial(&url).exists());
    assert!(core.media_file(audio(&lib)).await.is_ok());
}

#[tokio::test]
async fn a_file_larger_than_the_whole_cache_is_refused_before_its_body() {
    let world = World::new();
    let server = world.start_server().await;
    let mut media = fast_media();
    media.retention.cap_bytes = 100_000;
    let net = MediaFaults::new(&server.base_url);
    let core = device(
        &world,
        "laptop",
        net.clone(),
        Arc::new(ManualClock::new(Utc::now())),
        media,
    );
    let lib = library(&server, &core, "large@example.com", 1).await;
    let err = core.media_file(audio(&lib)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Media(MediaError::TooLarge { cap: 100_000, .. })
        ),
        "{err:?}"
    );
    let url = audio_url(&core, lib.story);
    assert_eq!(net.requests_for(&url).len(), 1, "not retried");
    assert!(!core.media().layout().partial(&url).exists());
    assert!(matches!(
        core.media_status(audio(&lib)).unwrap(),
        MediaStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn ten_concurrent_requests_make_one_download() {
    let (_world, server, net, core) = laptop().await;
    let lib = library(&server, &core, "ten@example.com", 1).await;
    net.slow_chunks(Duration::from_millis(2));
    let mut progress = core.subscribe();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let core = core.clone();
        let r = audio(&lib);
        set.spawn(async move { core.media_file(r).await.map(|r| r.path) });
    }
    let mut paths = Vec::new();
    while let Some(done) = set.join_next().await {
        paths.push(done.unwrap().expect("downloaded"));
    }
    paths.dedup();
    assert_eq!(paths.len(), 1);
    let url = audio_url(&core, lib.story);
    assert_eq!(
        net.requests_for(&url).len(),
        1,
        "one download for ten requests"
    );
    let mut progressed = 0;
    while let Ok(ev) = progress.try_recv() {
        if let is_core::CoreEvent::MediaProgress {
            received, total, ..
        } = ev
        {
            assert!(total.is_none_or(|t| received <= t));
            progressed += 1;
        }
    }
    assert!(progressed >= 2, "progress events: {progressed}");
}

#[tokio::test]
async fn eviction_by_age_per_kind_by_the_cap_and_never_of_protected_files() {
    let world = World::new();
    let server = world.start_server().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let net: Arc<dyn Transport> = Arc::new(HttpTransport::new(&server.base_url));
    let core = device(&world, "laptop", net, clock.clone(), fast_media());
    let lib = library(&server, &core, "evict@example.com", 1).await;
    let hero = lib.hero;
    // A favourite narrated story, and one with illustrations.
    let fav = core
        .create::<Story>(long_story("Favourite", hero, 1))
        .unwrap()
        .id;
    core.set_favorite::<Story>(fav, true).unwrap();
    core.sync_now().await.unwrap();
    core.generate_audio(fav).await.unwrap();
    core.generate_illustrations(lib.story, Some(2))
        .await
        .unwrap();
    server.state.wait_for_media().await;
    core.sync_now().await.unwrap();
    let fav_audio = MediaRef::new(CacheKind::Audio, fav);
    let pictures: Vec<MediaRef> = core
        .story_illustrations(lib.story)
        .await
        .unwrap()
        .value
        .iter()
        .map(|i| MediaRef::new(CacheKind::Illustration, i.id))
        .collect();
    assert_eq!(pictures.len(), 2);
    for r in [avatar(&lib), audio(&lib), fav_audio]
        .into_iter()
        .chain(pictures.clone())
    {
        core.media_file(r).await.expect("downloaded");
    }
    let ready = |r| matches!(core.media_status(r).unwrap(), MediaStatus::Ready { .. });

    // 13 days: nothing goes. 15 days: the illustrations (14 days) go.
    clock.advance(chrono::Duration::days(13));
    assert_eq!(core.media().evict().unwrap().expired, 0);
    // Opening a picture extends its life.
    core.media_file(pictures[0]).await.unwrap();
    clock.advance(chrono::Duration::days(2));
    let report = core.media().evict().unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert!(ready(pictures[0]) && !ready(pictures[1]));

    // 31 days: the narration (30 days) goes, unless it is a favourite's; the avatar
    // stays as long as its hero.
    clock.advance(chrono::Duration::days(16));
    core.media().evict().unwrap();
    assert!(!ready(audio(&lib)), "unused narration expired");
    assert!(!ready(pictures[0]));
    assert!(ready(fav_audio), "a favourite's narration is pinned");
    assert!(ready(avatar(&lib)), "a living hero's avatar stays");

    // The cap: least recently used first, never the protected files.
    core.media_file(audio(&lib)).await.unwrap();
    clock.advance(chrono::Duration::minutes(5));
    core.media_file(pictures[1]).await.unwrap();
    let usage = core.media_usage().unwrap();
    let protected: u64 = usage.by_kind.iter().map(|k| k.protected_bytes).sum();
    let picture = usage
        .by_kind
        .iter()
        .find(|k| k.kind == Some(CacheKind::Illustration))
        .unwrap()
        .bytes;
    let cap = protected + picture;
    let core_capped = {
        let mut media = fast_media();
        media.retention.cap_bytes = cap;
        drop(core);
        device(
            &world,
            "laptop",
            Arc::new(HttpTransport::new(&server.base_url)),
            clock.clone(),
            media,
        )
    };
    let report = core_capped.media().evict().unwrap();
    assert_eq!(report.over_cap, 1, "{report:?}");
    assert!(!report.still_over_cap);
    let ready = |r| {
        matches!(
            core_capped.media_status(r).unwrap(),
            MediaStatus::Ready { .. }
        )
    };
    assert!(!ready(audio(&lib)), "the least recently used went");
    assert!(ready(pictures[1]) && ready(fav_audio) && ready(avatar(&lib)));

    // Unfavourite: the narration is no longer pinned, and old enough to go.
    clock.advance(chrono::Duration::days(31));
    core_capped.set_favorite::<Story>(fav, false).unwrap();
    core_capped.media().evict().unwrap();
    assert!(!ready(fav_audio));
    assert!(ready(avatar(&lib)));

    // A deleted hero releases its avatar.
    let avatar_file = core_capped
        .media()
        .layout()
        .file(&avatar_url(&core_capped, hero));
    core_capped.delete::<Hero>(hero).unwrap();
    let report = core_capped.media().evict().unwrap();
    assert_eq!(report.released, 1, "{report:?}");
    assert!(!avatar_file.exists());
}

#[tokio::test]
async fn a_file_removed_or_changed_behind_the_apps_back_is_noticed_and_fetched_again() {
    let (world, server, net, core) = laptop().await;
    let lib = library(&server, &core, "watch@example.com", 1).await;
    let maintenance = tokio::spawn(is_core::media::watch::maintain(core.media().clone()));
    // Let the watcher start.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let ready = core.media_file(avatar(&lib)).await.unwrap();
    std::fs::remove_file(&ready.path).unwrap();
    wait_until("the removal is noticed", || {
        matches!(
            core.media_status(avatar(&lib)).unwrap(),
            MediaStatus::Missing { .. }
        )
    })
    .await;
    let again = core.media_file(avatar(&lib)).await.unwrap();
    assert!(again.path.exists());
    assert_eq!(net.requests_for(&avatar_url(&core, lib.hero)).len(), 2);

    // Overwritten with other bytes of the same length: the hash tells.
    let size = std::fs::metadata(&again.path).unwrap().len();
    std::fs::write(&again.path, vec![0u8; size as usize]).unwrap();
    wait_until("the change is noticed", || {
        !matches!(
            core.media_status(avatar(&lib)).unwrap(),
            MediaStatus::Ready { .. }
        )
    })
    .await;
    let third = core.media_file(avatar(&lib)).await.unwrap();
    let url = avatar_url(&core, lib.hero);
    assert_eq!(
        std::fs::read(&third.path).unwrap(),
        server_bytes(&server, "watch@example.com", &url).await
    );
    maintenance.abort();

    // While the app is closed: a file removed, and a stray one added. The repair at
    // launch sets both right.
    std::fs::remove_file(&third.path).unwrap();
    let stray = core.media().layout().file("not in the index");
    std::fs::write(&stray, b"stray").unwrap();
    let repair = core.media().repair().unwrap();
    assert_eq!((repair.rows_dropped, repair.files_removed), (1, 1));
    assert!(!stray.exists());
    assert!(matches!(
        core.media_status(avatar(&lib)).unwrap(),
        MediaStatus::Missing { .. }
    ));

    // A download answers before its file is flushed to disk; the flush then marks the row
    // durable. A crash before that mark (here: the mark undone and the content lost, as
    // after a power cut) is caught by the repair's hash check at the next launch.
    let fourth = core.media_file(avatar(&lib)).await.unwrap();
    let db = rusqlite::Connection::open(world.device_dir("laptop").join("cache.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let durable = || -> i64 {
        db.query_row("SELECT MIN(durable) FROM media_cache", [], |r| r.get(0))
            .unwrap()
    };
    wait_until("the file is flushed", || durable() == 1).await;
    core.media().repair().unwrap();
    assert!(fourth.path.exists(), "a durable file is not re-hashed away");
    db.execute("UPDATE media_cache SET durable = 0", [])
        .unwrap();
    let size = std::fs::metadata(&fourth.path).unwrap().len() as usize;
    std::fs::write(&fourth.path, vec![0u8; size]).unwrap();
    assert_eq!(core.media().repair().unwrap().rows_dropped, 1);
    assert!(!fourth.path.exists());
}

#[tokio::test]
async fn a_regenerated_avatar_replaces_the_old_file() {
    let (_world, server, _net, core) = laptop().await;
    let lib = library(&server, &core, "regen@example.com", 1).await;
    let first = core.media_file(avatar(&lib)).await.unwrap();
    let old_url = avatar_url(&core, lib.hero);

    core.generate_avatar(lib.hero).await.unwrap();
    server.state.wait_for_media().await;
    core.sync_now().await.unwrap();
    let new_url = avatar_url(&core, lib.hero);
    assert_ne!(old_url, new_url);
    let second = core.media_file(avatar(&lib)).await.unwrap();
    assert_ne!(first.path, second.path);
    assert!(!first.path.exists(), "the old avatar's file is released");
    assert_eq!(
        std::fs::read(&second.path).unwrap(),
        server_bytes(&server, "regen@example.com", &new_url).await
    );
    let usage = core.media_usage().unwrap();
    let avatars = usage
        .by_kind
        .iter()
        .find(|k| k.kind == Some(CacheKind::Avatar))
        .unwrap();
    assert_eq!(avatars.files, 1);
}

#[tokio::test]
async fn prefetch_fetches_avatars_and_favourites_and_sign_out_removes_the_media() {
    let (_world, server, net, core) = laptop().await;
    // Metered from the start: the prefetch after each sync fetches nothing.
    core.set_metered(true);
    let lib = library(&server, &core, "prefetch@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(core.media_usage().unwrap().total_bytes, 0);

    // Then everything a parent would open offline.
    assert_eq!(core.prefetch_media().await.unwrap(), 0);
    core.set_metered(false);
    assert_eq!(core.prefetch_media().await.unwrap(), 1, "the avatar only");
    core.set_favorite::<Story>(lib.story, true).unwrap();
    assert_eq!(
        core.prefetch_media().await.unwrap(),
        1,
        "the favourite's narration"
    );
    assert_eq!(core.prefetch_media().await.unwrap(), 0, "nothing left");

    // Offline, the files are served from disk.
    net.go_offline(true);
    let resp = core
        .media_respond(&format!("/audio/{}", lib.story), Some("bytes=44-1043"))
        .await;
    assert_eq!(resp.status, 206);
    assert_eq!(resp.body.len(), 1000);
    assert_eq!(resp.header("Content-Type"), Some("audio/wav"));
    net.go_offline(false);

    let files = core.media().layout().root().to_path_buf();
    let count = || {
        std::fs::read_dir(&files)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count()
    };
    assert_eq!(count(), 2);
    core.sign_out(true).await.unwrap();
    assert_eq!(count(), 0, "sign-out removes the account's media");
    assert_eq!(core.media_usage().unwrap().total_bytes, 0);
}

#[tokio::test]
async fn the_media_scheme_serves_ranges_with_the_right_type() {
    let (_world, server, net, core) = laptop().await;
    let lib = library(&server, &core, "scheme@example.com", 1).await;
    let bytes = server_bytes(&server, "scheme@example.com", &audio_url(&core, lib.story)).await;
    let size = bytes.len();
    let path = format!("/audio/{}", lib.story);

    // A miss downloads, then answers.
    let whole = core.media_respond(&path, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(whole.header("X-Content-Type-Options"), Some("nosniff"));

    let tail = core.media_respond(&path, Some("bytes=-100")).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, bytes[size - 100..]);
    assert_eq!(
        tail.header("Content-Range"),
        Some(format!("bytes {}-{}/{size}", size - 100, size - 1).as_str())
    );
    let past = core
        .media_respond(&path, Some(&format!("bytes={size}-")))
        .await;
    assert_eq!(past.status, 416);

    let png = core
        .media_respond(&format!("avatar/{}", lib.hero), None)
        .await;
    assert_eq!(png.status, 200);
    assert_eq!(png.header("Content-Type"), Some("image/png"));
    assert_eq!(&png.body[..4], b"\x89PNG");

    assert_eq!(
        core.media_respond(&format!("/avatar/{}", Uuid::now_v7()), None)
            .await
            .status,
        404
    );
    assert_eq!(core.media_respond("/avatar/nope", None).await.status, 400);
    // One download for all of it.
    assert_eq!(net.requests_for(&audio_url(&core, lib.story)).len(), 1);
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}
