//! The media cache (issue 8), two targets:
//! - an eviction pass over 10,000 cached files: nothing to evict, ~10% evicted by the
//!   size cap (least recently used first), and all 10,000 released (their owner rows
//!   gone); beside the time 10,000 bare unlinks take on the same filesystem;
//! - the download of a 50 MB narration from the real server over loopback HTTP through
//!   the cache (`Core::media_file`: hashed, checked against the ETag, fsynced, indexed),
//!   beside a plain copy of the same bytes (a GET streamed into a file, what `curl -o`
//!   does), measured alternately in the same run.
//!
//! Run: `cargo bench -p is-core --bench media_cache` (`MEDIA_BENCH_DISK=1` adds the
//! eviction passes on the disk's temp dir: minutes on a disk where unlinks are slow)
//! Targets: an eviction pass over 10,000 files < 100 ms; a download >= 80% of the plain
//! copy's throughput.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use is_core::clock::{ManualClock, SystemClock};
use is_core::media::key::file_name;
use is_core::media::{CacheKind, EvictionReport, MediaRef};
use is_core::rng::SplitMix64;
use is_core::transport::HttpTransport;
use is_core::{
    Core, CoreConfig, EventType, Hero, HeroInput, HeroTrait, Language, Story, StoryInput,
};
use sha2::{Digest, Sha256};
use story_server::testing::{TestServer, TEST_PASSWORD};
use uuid::Uuid;

/// Files in the cache for the eviction passes.
const FILES: usize = 10_000;
/// The size of each (a small illustration).
const FILE_SIZE: usize = 4 << 10;
/// Timed eviction passes per case (state rebuilt before each destructive one).
const EVICT_RUNS: usize = 5;
/// Words of the narrated story: 150 words a minute of 16 kHz 16-bit mono is 32,000 bytes
/// a second, so 3,907 words make a 50.0 MB WAV.
const WORDS: usize = 3_907;
/// Timed downloads of each variant, alternating.
const DOWNLOAD_RUNS: usize = 7;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Flushes dirty pages so that the timed pass does not race the writeback of the files
/// it just made (the files a real pass removes are old and on disk).
fn sync_fs() {
    let _ = std::process::Command::new("sync").status();
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------
// Eviction

/// A core whose cache holds `FILES` complete illustrations of one story, all wanted
/// (their rows exist and point at them), used one second apart.
struct Filled {
    _dir: tempfile::TempDir,
    core: Core,
    conn: rusqlite::Connection,
    story: Uuid,
}

fn filled(base: &Path, cap_bytes: u64) -> Filled {
    let dir = tempfile::tempdir_in(base).unwrap();
    // Never contacted: the passes are local.
    let url = "http://127.0.0.1:9";
    let mut config = CoreConfig::new(dir.path(), url);
    config.media.retention.cap_bytes = cap_bytes;
    let core = Core::with_parts(
        is_core::db::open(&config.db_path()).unwrap(),
        Arc::new(HttpTransport::new(url)),
        Arc::new(ManualClock::new(now())),
        Arc::new(SplitMix64::new(1)),
        config.clone(),
    );
    // A second connection on the same cache file (WAL), for the rows the server and
    // earlier downloads would have left.
    let mut conn = rusqlite::Connection::open(config.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let story = Uuid::now_v7();
    let stamp = now().to_rfc3339();
    let root = core.media().layout().root().to_path_buf();
    std::fs::create_dir_all(&root).unwrap();
    let body = vec![7u8; FILE_SIZE];
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO stories (id, title, content, language, event_type, created_at, updated_at, sync_status)
         VALUES (?1, 'Ten thousand pictures', 'Once upon a time.', 'en', 'bedtime', ?2, ?2, 'synced')",
        rusqlite::params![story.to_string(), stamp],
    )
    .unwrap();
    {
        let mut ill = tx
            .prepare(
                "INSERT INTO story_illustrations (id, story_id, version, created_at, updated_at,
                     image_url, prompt, timestamp, display_order, generation_status)
                 VALUES (?1, ?2, 1, ?3, ?3, ?4, 'a fox', 0.0, ?5, 'completed')",
            )
            .unwrap();
        let mut row = tx
            .prepare(
                "INSERT INTO media_cache (key, file, kind, owner_id, state, size, hash, etag,
                     content_type, fetched_at, last_used_at, pinned)
                 VALUES (?1, ?2, 'illustration', ?3, 'complete', ?4, 'x', NULL, 'image/png', ?5, ?5, 0)",
            )
            .unwrap();
        let base = now().timestamp_millis();
        for i in 0..FILES {
            let id = Uuid::now_v7();
            let key = format!("/api/media/{}.png", Uuid::now_v7());
            ill.execute(rusqlite::params![
                id.to_string(),
                story.to_string(),
                stamp,
                key,
                i as i64
            ])
            .unwrap();
            // The oldest first: row i was last used FILES - i seconds ago (all within
            // the 14 days illustrations are kept).
            let used = base - (FILES - i) as i64 * 1000;
            row.execute(rusqlite::params![
                key,
                file_name(&key),
                id.to_string(),
                FILE_SIZE as i64,
                used
            ])
            .unwrap();
            std::fs::write(root.join(file_name(&key)), &body).unwrap();
        }
    }
    tx.commit().unwrap();
    Filled {
        _dir: dir,
        core,
        conn,
        story,
    }
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .count()
}

struct EvictCase {
    what: &'static str,
    times: Vec<Duration>,
    report: EvictionReport,
    /// Reading the index and planning alone (the same queries on the second connection).
    plan: Vec<Duration>,
}

impl EvictCase {
    fn removed(&self) -> u32 {
        self.report.released + self.report.expired + self.report.over_cap
    }
}

/// Times the read-and-plan half of a pass on the second connection (rolled back).
fn time_plan(f: &mut Filled, cap_bytes: u64) -> Duration {
    let rules = is_core::media::Retention {
        cap_bytes,
        ..Default::default()
    };
    let tx = f.conn.transaction().unwrap();
    let start = Instant::now();
    let entries = is_core::media::index::entries(&tx).unwrap();
    let plan = is_core::media::retention::plan(&entries, now(), &rules);
    let took = start.elapsed();
    std::hint::black_box(plan);
    tx.rollback().unwrap();
    took
}

/// One destructive case: rebuilt before every run.
fn evict_case(
    base: &Path,
    runs: usize,
    what: &'static str,
    cap_bytes: u64,
    prepare: impl Fn(&Filled),
) -> EvictCase {
    let mut case = EvictCase {
        what,
        times: Vec::new(),
        report: EvictionReport::default(),
        plan: Vec::new(),
    };
    for _ in 0..runs {
        let mut f = filled(base, cap_bytes);
        prepare(&f);
        case.plan.push(time_plan(&mut f, cap_bytes));
        sync_fs();
        let start = Instant::now();
        let report = f.core.media().evict().unwrap();
        case.times.push(start.elapsed());
        let left = files_in(f.core.media().layout().root());
        assert_eq!(
            left as u32 + report.released + report.expired + report.over_cap,
            FILES as u32,
            "{report:?}"
        );
        case.report = report;
    }
    case
}

/// 10,000 bare `remove_file`s of files like the cache's, in one folder: the floor.
fn unlink_floor(base: &Path, runs: usize) -> Vec<Duration> {
    let mut out = Vec::new();
    let body = vec![7u8; FILE_SIZE];
    for _ in 0..runs {
        let dir = tempfile::tempdir_in(base).unwrap();
        let paths: Vec<PathBuf> = (0..FILES)
            .map(|_| dir.path().join(file_name(&Uuid::now_v7().to_string())))
            .collect();
        for p in &paths {
            std::fs::write(p, &body).unwrap();
        }
        sync_fs();
        let start = Instant::now();
        for p in &paths {
            std::fs::remove_file(p).unwrap();
        }
        out.push(start.elapsed());
    }
    out
}

/// Where the cache folder lives, and how many times each case runs there.
struct Place {
    name: &'static str,
    base: PathBuf,
    /// Runs of the destructive cases that unlink 1,000 files, and 10,000.
    runs_lru: usize,
    runs_all: usize,
}

/// tmpfs by default; `MEDIA_BENCH_DISK=1` adds the temp dir on disk (slow here: minutes).
fn places() -> Vec<Place> {
    let shm_ok = tempfile::tempdir_in("/dev/shm").is_ok();
    let disk = std::env::var_os("MEDIA_BENCH_DISK").is_some() || !shm_ok;
    let mut out = Vec::new();
    if disk {
        out.push(Place {
            name: "temp dir (this VM: ext4 on virtio, mounted `discard`)",
            base: std::env::temp_dir(),
            // An unlink of a file whose blocks are on disk costs ~3 ms here: 10,000 of them
            // take half a minute, so the 10,000-file cases run once on this disk.
            runs_lru: 3,
            runs_all: 1,
        });
    }
    let shm = PathBuf::from("/dev/shm");
    if shm_ok {
        out.push(Place {
            name: "/dev/shm (tmpfs)",
            base: shm,
            runs_lru: EVICT_RUNS,
            runs_all: EVICT_RUNS,
        });
    }
    out
}

fn eviction(place: &Place) {
    let total = (FILES * FILE_SIZE) as u64;
    let default_cap = is_core::media::retention::DEFAULT_CAP_BYTES;
    // (a) Everything wanted, under the default 1 GiB cap: one state, timed repeatedly.
    let mut idle = EvictCase {
        what: "nothing to evict (all wanted, under the cap)",
        times: Vec::new(),
        report: EvictionReport::default(),
        plan: Vec::new(),
    };
    {
        let mut f = filled(&place.base, default_cap);
        sync_fs();
        // One pass first: the index and files as a running app finds them.
        f.core.media().evict().unwrap();
        for _ in 0..EVICT_RUNS {
            idle.plan.push(time_plan(&mut f, default_cap));
            let start = Instant::now();
            idle.report = f.core.media().evict().unwrap();
            idle.times.push(start.elapsed());
        }
        assert_eq!(idle.removed(), 0, "{:?}", idle.report);
    }
    // (b) The cap 10% below the total: the 1,000 least recently used go.
    let cap = total - total / 10;
    let lru = evict_case(
        &place.base,
        place.runs_lru,
        "10% over the cap: LRU evicts 1,000",
        cap,
        |_| {},
    );
    assert_eq!(lru.report.over_cap as usize, FILES / 10, "{:?}", lru.report);
    // (c) The story deleted: every file released.
    let released = evict_case(
        &place.base,
        place.runs_all,
        "owners gone: all 10,000 released",
        default_cap,
        |f| {
            f.conn
                .execute(
                    "UPDATE stories SET sync_status = 'pending_delete' WHERE id = ?1",
                    [f.story.to_string()],
                )
                .unwrap();
        },
    );
    assert_eq!(
        released.report.released as usize, FILES,
        "{:?}",
        released.report
    );
    let floor = unlink_floor(&place.base, place.runs_all);

    println!(
        "eviction pass over {FILES} cached files of {} KiB ({:.0} MiB), `MediaCache::evict`; \
         cache folder and SQLite file in {}",
        FILE_SIZE >> 10,
        total as f64 / (1 << 20) as f64,
        place.name
    );
    println!();
    println!("| case                                          | runs | removed | pass (median) |  min..max (ms)  |  files/s | read index + plan | target     |");
    println!("|-----------------------------------------------|-----:|--------:|--------------:|-----------------|---------:|------------------:|------------|");
    for c in [&idle, &lru, &released] {
        let m = median(c.times.clone());
        let min = *c.times.iter().min().unwrap();
        let max = *c.times.iter().max().unwrap();
        println!(
            "| {:<45} | {:>4} | {:>7} | {:>10.1} ms | {:>7.1}..{:<7.1} | {:>8.0} | {:>14.1} ms | < 100 ms   |",
            c.what,
            c.times.len(),
            c.removed(),
            ms(m),
            ms(min),
            ms(max),
            FILES as f64 / m.as_secs_f64(),
            ms(median(c.plan.clone())),
        );
    }
    let m = median(floor.clone());
    println!(
        "| {:<45} | {:>4} | {:>7} | {:>10.1} ms | {:>7.1}..{:<7.1} | {:>8.0} | {:>17} | (baseline) |",
        "floor: 10,000 bare remove_file, no index",
        floor.len(),
        FILES,
        ms(m),
        ms(*floor.iter().min().unwrap()),
        ms(*floor.iter().max().unwrap()),
        FILES as f64 / m.as_secs_f64(),
        "",
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// Download

const VOCABULARY: [&str; 12] = [
    "the", "little", "fox", "walked", "under", "silver", "stars", "and", "hummed", "a", "quiet",
    "song",
];

fn long_story(hero: Uuid) -> StoryInput {
    let content = (0..WORDS)
        .map(|i| VOCABULARY[i % VOCABULARY.len()])
        .collect::<Vec<_>>()
        .join(" ");
    assert!(content.len() <= 50_000);
    StoryInput {
        hero_id: Some(hero),
        title: "The long walk under the stars".into(),
        content,
        language: Language::En,
        event_type: Some(EventType::Bedtime),
        custom_event_id: None,
        is_favorite: false,
        ..Default::default()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Plain {
    /// Streamed into a file: what `curl -o` does.
    Copy,
    /// And fsynced at the end.
    Fsync,
    /// And hashed (SHA-256) as it arrives, and fsynced: the least the cache must do.
    HashFsync,
}

/// A plain GET of `url` streamed chunk by chunk into `path`. Returns the bytes.
async fn plain_copy(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    path: &Path,
    how: Plain,
) -> u64 {
    let mut resp = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let mut file = std::fs::File::create(path).unwrap();
    let mut hash = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        file.write_all(&chunk).unwrap();
        if how == Plain::HashFsync {
            hash.update(&chunk);
        }
        len += chunk.len() as u64;
    }
    if how != Plain::Copy {
        file.sync_all().unwrap();
    }
    std::hint::black_box(hash.finalize());
    len
}

fn download(rt: &tokio::runtime::Runtime) {
    let server_dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(TestServer::start(&server_dir.path().join("server.sqlite3")));
    let dir = tempfile::tempdir().unwrap();
    let config = CoreConfig::new(dir.path(), server.base_url.clone());
    let core = Core::with_parts(
        is_core::db::open(&config.db_path()).unwrap(),
        Arc::new(HttpTransport::new(&server.base_url)),
        Arc::new(SystemClock),
        Arc::new(SplitMix64::new(1)),
        config,
    );
    let email = "narration@example.com";
    let story = rt.block_on(async {
        core.sign_up(email, TEST_PASSWORD, "Bench").await.unwrap();
        let hero = core
            .create::<Hero>(HeroInput {
                name: "Pip".into(),
                age: 6,
                traits: vec![HeroTrait::Brave, HeroTrait::Kind],
                appearance: "A small fox with a green scarf and a lantern".into(),
                special_ability: "Talks to the stars".into(),
                ..Default::default()
            })
            .unwrap();
        let story = core.create::<Story>(long_story(hero.id)).unwrap();
        core.sync_now().await.unwrap();
        core.generate_audio(story.id).await.unwrap();
        server.state.wait_for_media().await;
        core.sync_now().await.unwrap();
        story.id
    });
    let audio_url = core
        .cached::<Story>(story)
        .unwrap()
        .audio_url
        .expect("the story has its narration after the sync");
    let token = rt.block_on(server.login(email, TEST_PASSWORD)).token;
    let url = server.url(&audio_url);
    let client = reqwest::Client::new();
    let media = MediaRef::new(CacheKind::Audio, story);
    let copy_path = dir.path().join("plain-copy.wav");

    let mut size = 0u64;
    let mut runs: [Vec<Duration>; 4] = Default::default();
    // One untimed round first: the server's file in the page cache, connections open.
    for round in 0..=DOWNLOAD_RUNS {
        for (i, how) in [Plain::Copy, Plain::Fsync, Plain::HashFsync]
            .into_iter()
            .enumerate()
        {
            let _ = std::fs::remove_file(&copy_path);
            let start = Instant::now();
            let len = rt.block_on(plain_copy(&client, &url, &token, &copy_path, how));
            let took = start.elapsed();
            size = len;
            if round > 0 {
                runs[i].push(took);
            }
        }
        let _ = std::fs::remove_file(&copy_path);
        rt.block_on(core.media_clear(None)).unwrap();
        let start = Instant::now();
        let ready = rt.block_on(core.media_file(media)).unwrap();
        let took = start.elapsed();
        assert_eq!(ready.size, size);
        if round > 0 {
            runs[3].push(took);
        }
    }
    assert_eq!(core.media().requests(), DOWNLOAD_RUNS as u64 + 1);
    rt.block_on(server.stop());

    let mb = size as f64 / 1e6;
    let rate = |d: Duration| mb / d.as_secs_f64();
    let plain = median(runs[0].clone());
    println!(
        "download of a {mb:.1} MB narration (WAV) from the real server on loopback HTTP, same process, \
         {DOWNLOAD_RUNS} alternating runs each after one untimed round; MB = 10^6 bytes"
    );
    println!();
    println!("| variant                                                    | median time |  MB/s (median) | MB/s min..max | of plain copy | target  |");
    println!("|------------------------------------------------------------|------------:|---------------:|---------------|--------------:|---------|");
    let names = [
        "plain copy: GET streamed into a file (curl -o)",
        "plain copy + fsync",
        "plain copy + SHA-256 + fsync (diagnostic)",
        "the cache: Core::media_file (hash, ETag, fsync, index)",
    ];
    for (i, name) in names.iter().enumerate() {
        let m = median(runs[i].clone());
        let fast = *runs[i].iter().min().unwrap();
        let slow = *runs[i].iter().max().unwrap();
        println!(
            "| {:<58} | {:>8.0} ms | {:>14.0} | {:>5.0}..{:<5.0}   | {:>12.0}% | {:<7} |",
            name,
            ms(m),
            rate(m),
            rate(slow),
            rate(fast),
            100.0 * plain.as_secs_f64() / m.as_secs_f64(),
            if i == 3 { ">= 80%" } else { "" },
        );
    }
    println!();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "media cache (release build, SQLite files and cache folder in a temporary directory); load average: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!();
    // The download first: the eviction's unlinks leave the disk busy for a while.
    download(&rt);
    for place in places() {
        eviction(&place);
    }
}
