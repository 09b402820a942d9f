//! Pull-apply throughput: change-feed pages decoded from JSON, planned and applied (one
//! transaction per page) into a real SQLite file, against the raw rusqlite
//! prepared-insert rate into the same table in the same run; and an initial sync of
//! 100,000 rows from a real local server.
//!
//! Run: `cargo bench -p is-core --bench pull_apply`
//! Targets: >= 100,000 rows/s applied, >= 40% of the raw insert rate, 100,000-row
//! initial sync < 3 s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use is_core::clock::SystemClock;
use is_core::rng::SplitMix64;
use is_core::transport::{BoxFuture, Transport, TransportError, TransportResult};
use is_core::{Core, CoreConfig, EventType, Language, Story, StoryInput};
use is_protocol::{
    ChangeSet, ChangesResponse, Health, HeroRecord, HeroTrait, LoginRequest, PushRequest,
    PushResponse, SessionResponse, SignupRequest, StoryRecord, UserSummary,
};
use uuid::Uuid;

const ROWS: usize = 100_000;
const PAGE: usize = is_protocol::MAX_CHANGES_LIMIT as usize;
const RUNS: usize = 3;
/// A bedtime-story-sized text would be ~3 KB; the feed rows here carry a 400-character
/// text, so that the numbers measure the sync machinery rather than memcpy.
const CONTENT_CHARS: usize = 400;

fn content(i: usize) -> String {
    let base = format!(
        "Story {i}: once upon a time a small owl could not sleep, so it counted the stars. "
    );
    base.repeat(CONTENT_CHARS / base.len() + 1)[..CONTENT_CHARS].to_owned()
}

fn record(i: usize, now: DateTime<Utc>) -> StoryRecord {
    StoryRecord {
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + i as u128),
        version: 1 + (i % 3) as i64,
        created_at: now,
        updated_at: now,
        deleted: false,
        hero_id: Some(Uuid::from_u128(0xfeed_0000 + (i % 50) as u128)),
        title: format!("The owl who counted stars, part {i}"),
        content: content(i),
        language: Language::En,
        event_type: Some(EventType::Bedtime),
        custom_event_id: None,
        is_favorite: (i as i64) % 7 == 0,
        play_count: (i % 11) as i64,
        last_played_at: None,
        audio_url: None,
        audio_duration: None,
        ..Default::default()
    }
}

/// The change feed served from memory: pages are JSON bytes, decoded on every request
/// exactly as the HTTP transport decodes a response body.
struct MemoryFeed {
    pages: Vec<Vec<u8>>,
    served: AtomicUsize,
}

fn unsupported<T>() -> TransportResult<T> {
    Err(TransportError::Unreachable("not in this benchmark".into()))
}

impl Transport for MemoryFeed {
    fn base_url(&self) -> &str {
        "memory://feed"
    }
    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        Box::pin(async { unsupported() })
    }
    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(async move {
            Ok(SessionResponse {
                token: "bench".into(),
                expires_at: Utc::now() + chrono::Duration::days(1),
                user: UserSummary {
                    id: Uuid::from_u128(1),
                    email: req.email.clone(),
                    name: req.name.clone(),
                },
            })
        })
    }
    fn login<'a>(
        &'a self,
        _req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(async { unsupported() })
    }
    fn logout<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        Box::pin(async { Ok(()) })
    }
    fn push<'a>(
        &'a self,
        _token: &'a str,
        _req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>> {
        Box::pin(async { Ok(PushResponse { results: vec![] }) })
    }
    fn changes<'a>(
        &'a self,
        _token: &'a str,
        cursor: Option<&'a str>,
        _limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        Box::pin(async move {
            let i: usize = cursor.map_or(0, |c| c.parse().unwrap());
            self.served.fetch_add(1, Ordering::Relaxed);
            serde_json::from_slice(&self.pages[i])
                .map_err(|e| TransportError::Protocol(e.to_string()))
        })
    }
}

fn hero_record(i: usize, now: DateTime<Utc>) -> HeroRecord {
    HeroRecord {
        id: Uuid::from_u128(0x0190_0000_0000_7000_9000_0000_0000_0000 + i as u128),
        version: 1,
        created_at: now,
        updated_at: now,
        deleted: false,
        name: format!("Hero number {i}"),
        age: (i % 18 + 1) as u8,
        traits: vec![HeroTrait::Brave, HeroTrait::Kind, HeroTrait::Curious],
        appearance: "A red scarf, freckles and very muddy boots".into(),
        special_ability: "Can talk to owls after sunset".into(),
        avatar_url: None,
        avatar_generation_id: None,
        ..Default::default()
    }
}

/// The feed as JSON pages of `PAGE` rows, and their total size.
fn pages(page_of: impl Fn(std::ops::Range<usize>) -> ChangeSet) -> (Vec<Vec<u8>>, usize) {
    let mut pages = Vec::new();
    let mut bytes = 0;
    for n in 0..ROWS.div_ceil(PAGE) {
        let resp = ChangesResponse {
            changes: page_of(n * PAGE..((n + 1) * PAGE).min(ROWS)),
            next_cursor: (n + 1).to_string(),
            has_more: (n + 1) * PAGE < ROWS,
            remaining: None,
        };
        let json = serde_json::to_vec(&resp).unwrap();
        bytes += json.len();
        pages.push(json);
    }
    (pages, bytes)
}

fn core_with(dir: &std::path::Path, transport: Arc<dyn Transport>) -> Core {
    let config = CoreConfig::new(dir, transport.base_url());
    let conn = is_core::db::open(&config.db_path()).unwrap();
    Core::with_parts(
        conn,
        transport,
        Arc::new(SystemClock),
        Arc::new(SplitMix64::new(7)),
        config,
    )
}

/// Decode + plan + apply of every page through `Core::sync_now` (as the app does it).
fn pull_apply(rt: &tokio::runtime::Runtime, pages: &[Vec<u8>]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let feed = Arc::new(MemoryFeed {
        pages: pages.to_vec(),
        served: AtomicUsize::new(0),
    });
    let core = core_with(dir.path(), feed.clone());
    rt.block_on(core.sign_up("bench@example.com", "correct-horse-battery", "Bench"))
        .unwrap();
    let start = Instant::now();
    let report = rt.block_on(core.sync_now()).unwrap();
    let took = start.elapsed();
    assert_eq!(report.pulled as usize, ROWS);
    assert_eq!(feed.served.load(Ordering::Relaxed), pages.len());
    took
}

/// Raw prepared inserts of the same heroes into the same table.
fn raw_insert_heroes(now: DateTime<Utc>) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = is_core::db::open(&dir.path().join("raw.sqlite3")).unwrap();
    let rows: Vec<(String, HeroRecord, String)> = (0..ROWS)
        .map(|i| {
            let r = hero_record(i, now);
            (
                r.id.to_string(),
                r.clone(),
                serde_json::to_string(&r.traits).unwrap(),
            )
        })
        .collect();
    let ts = now.to_rfc3339();
    let start = Instant::now();
    for chunk in rows.chunks(PAGE) {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO heroes (id, name, age, traits, appearance, special_ability, avatar_url,
                        avatar_generation_id, created_at, updated_at, sync_status, sync_op, base_version,
                        base_snapshot, server_snapshot, server_version, changed_fields, last_synced_at,
                        server_updated_at, sync_error, attempts, next_attempt_at, seen_gen, pending_increment)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7, ?7, 'synced', NULL, ?8, NULL, NULL, NULL,
                        '[]', ?7, ?7, NULL, 0, NULL, 0, 0)",
                )
                .unwrap();
            for (id, r, traits) in chunk {
                stmt.execute(rusqlite::params![
                    id,
                    r.name,
                    r.age,
                    traits,
                    r.appearance,
                    r.special_ability,
                    ts,
                    r.version
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    start.elapsed()
}

/// Raw prepared inserts of the same rows into the same table (same file settings, same
/// indexes), one transaction per page, values prepared beforehand.
fn raw_insert(now: DateTime<Utc>) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = is_core::db::open(&dir.path().join("raw.sqlite3")).unwrap();
    struct Row {
        id: String,
        hero: String,
        title: String,
        content: String,
        fav: bool,
        plays: i64,
        version: i64,
    }
    let rows: Vec<Row> = (0..ROWS)
        .map(|i| {
            let r = record(i, now);
            Row {
                id: r.id.to_string(),
                hero: r.hero_id.unwrap().to_string(),
                title: r.title,
                content: r.content,
                fav: r.is_favorite,
                plays: r.play_count,
                version: r.version,
            }
        })
        .collect();
    let ts = now.to_rfc3339();
    let start = Instant::now();
    for chunk in rows.chunks(PAGE) {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO stories (id, hero_id, title, content, language, event_type, custom_event_id,
                        is_favorite, play_count, last_played_at, audio_url, audio_duration,
                        created_at, updated_at, sync_status, sync_op, base_version, base_snapshot,
                        server_snapshot, server_version, changed_fields, last_synced_at, server_updated_at,
                        sync_error, attempts, next_attempt_at, seen_gen, pending_increment)
                     VALUES (?1, ?2, ?3, ?4, 'en', 'bedtime', NULL, ?5, ?6, NULL, NULL, NULL, ?7, ?7, 'synced',
                        NULL, ?8, NULL, NULL, NULL, '[]', ?7, ?7, NULL, 0, NULL, 0, 0)",
                )
                .unwrap();
            for r in chunk {
                stmt.execute(rusqlite::params![
                    r.id, r.hero, r.title, r.content, r.fav, r.plays, ts, r.version
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    start.elapsed()
}

/// Seeds a real server database with `ROWS` stories of one user (through the server's
/// own write path, in one transaction), then times `Core::sync_now` from an empty cache.
fn initial_sync(rt: &tokio::runtime::Runtime) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let server = rt.block_on(story_server::testing::TestServer::start(&db));
    let session = rt.block_on(server.signup("bench@example.com"));
    let user = session.user.id;
    let seed_start = Instant::now();
    let now = server.state.now();
    server.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        let hero = Uuid::now_v7();
        let hero_input = is_protocol::HeroInput {
            name: "Luna".into(),
            age: 6,
            traits: vec![is_protocol::HeroTrait::Brave],
            ..Default::default()
        };
        story_server::table::create::<is_protocol::Hero>(&tx, user, hero, hero_input, now).unwrap();
        for i in 0..ROWS - 1 {
            let input = StoryInput {
                hero_id: Some(hero),
                title: format!("The owl who counted stars, part {i}"),
                content: content(i),
                language: Language::En,
                event_type: Some(EventType::Bedtime),
                custom_event_id: None,
                is_favorite: (i as i64) % 7 == 0,
                ..Default::default()
            };
            let out = story_server::table::create::<is_protocol::Story>(
                &tx,
                user,
                Uuid::now_v7(),
                input,
                now,
            )
            .unwrap();
            assert!(matches!(
                out,
                story_server::table::CreateOutcome::Created(_)
            ));
        }
        tx.commit().unwrap();
    });
    let seeded = seed_start.elapsed();

    let client_dir = tempfile::tempdir().unwrap();
    let core = core_with(
        client_dir.path(),
        Arc::new(is_core::transport::HttpTransport::new(&server.base_url)),
    );
    rt.block_on(core.sign_in("bench@example.com", story_server::testing::TEST_PASSWORD))
        .unwrap();
    let start = Instant::now();
    let report = rt.block_on(core.sync_now()).unwrap();
    let took = start.elapsed();
    assert_eq!(report.pulled as usize, ROWS, "{report:?}");
    assert_eq!(
        core.list::<Story>(&Default::default()).unwrap().len(),
        ROWS - 1
    );
    rt.block_on(server.stop());
    (took, seeded)
}

fn best(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[0]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let now = Utc::now();
    let (story_pages, story_bytes) = pages(|r| ChangeSet {
        stories: r.map(|i| record(i, now)).collect(),
        ..Default::default()
    });
    let (hero_pages, hero_bytes) = pages(|r| ChangeSet {
        heroes: r.map(|i| hero_record(i, now)).collect(),
        ..Default::default()
    });
    // `pull_apply apply`: only the apply loop, for a profiler.
    if std::env::args().any(|a| a == "apply") {
        for _ in 0..RUNS {
            let d = pull_apply(&rt, &story_pages);
            println!("apply: {:.0} rows/s", ROWS as f64 / d.as_secs_f64());
        }
        return;
    }

    // Interleave each pair so that both see the same machine state.
    let (mut applied, mut raw, mut hero_applied, mut hero_raw) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        applied.push(pull_apply(&rt, &story_pages));
        raw.push(raw_insert(now));
        hero_applied.push(pull_apply(&rt, &hero_pages));
        hero_raw.push(raw_insert_heroes(now));
    }
    let (applied, raw, hero_applied, hero_raw) =
        (best(applied), best(raw), best(hero_applied), best(hero_raw));
    let (sync, seeded) = initial_sync(&rt);

    let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "pull apply on a real SQLite file (WAL, synchronous=NORMAL), {ROWS} rows per run in {} pages of {PAGE}, \
         best of {RUNS}; load average at the end: {}",
        story_pages.len(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "stories: {:.1} MB of JSON ({CONTENT_CHARS}-character texts); heroes: {:.1} MB",
        story_bytes as f64 / 1e6,
        hero_bytes as f64 / 1e6
    );
    println!();
    println!("| measurement                                               |     time |     rows/s | target            |");
    println!("|-----------------------------------------------------------|---------:|-----------:|-------------------|");
    let row = |what: &str, d: Option<Duration>, r: String, target: &str| {
        let t = d.map(|d| format!("{:.0} ms", ms(d))).unwrap_or_default();
        println!("| {what:<57} | {t:>8} | {r:>10} | {target:<17} |");
    };
    row(
        "stories: raw rusqlite prepared INSERT, same table",
        Some(raw),
        format!("{:.0}", rate(raw)),
        "",
    );
    row(
        "stories: pull apply (JSON decode + plan + apply + cursor)",
        Some(applied),
        format!("{:.0}", rate(applied)),
        ">= 100,000 rows/s",
    );
    row(
        "stories: pull apply / raw insert",
        None,
        format!("{:.0}%", 100.0 * rate(applied) / rate(raw)),
        ">= 40%",
    );
    row(
        "heroes: raw rusqlite prepared INSERT, same table",
        Some(hero_raw),
        format!("{:.0}", rate(hero_raw)),
        "",
    );
    row(
        "heroes: pull apply (JSON decode + plan + apply + cursor)",
        Some(hero_applied),
        format!("{:.0}", rate(hero_applied)),
        ">= 100,000 rows/s",
    );
    row(
        "heroes: pull apply / raw insert",
        None,
        format!("{:.0}%", 100.0 * rate(hero_applied) / rate(hero_raw)),
        ">= 40%",
    );
    row(
        "initial sync of 100,000 rows from a local server (HTTP)",
        Some(sync),
        format!("{:.0}", rate(sync)),
        "< 3 s",
    );
    println!();
    println!(
        "(server seeded with {ROWS} stories through its own write path in {:.1} s, not timed)",
        seeded.as_secs_f64()
    );
}
