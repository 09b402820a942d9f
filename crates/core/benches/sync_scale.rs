//! Sync at scale, against the real server over loopback HTTP:
//! - 1,000 queued mutations pushed by the engine (batched), beside the seed design's one
//!   request per record, measured in the same run;
//! - an incremental sync with nothing new (how many requests it costs);
//! - an initial sync of a large account (default 1,000,000 rows; `SCALE_ROWS=n`): time,
//!   rows/s and the peak memory of the process while it runs (the feed must stream, not
//!   be held in memory).
//!
//! Run: `cargo bench -p is-core --bench sync_scale`
//! Targets: 1,000 mutations in <= 3 requests and < 1 s; an empty sync = 1 request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use is_core::clock::SystemClock;
use is_core::rng::SplitMix64;
use is_core::transport::{BoxFuture, HttpTransport, Transport, TransportResult};
use is_core::{Core, CoreConfig, Hero, HeroInput, HeroTrait};
use is_protocol::{
    ChangesResponse, Health, LoginRequest, Mutation, MutationOp, PushRequest, PushResponse,
    SessionResponse, SignupRequest,
};
use story_server::testing::{TestServer, TEST_PASSWORD};
use uuid::Uuid;

const MUTATIONS: usize = 1_000;
const RUNS: usize = 3;

/// The real HTTP transport, counting the requests that go through it.
struct Counting {
    inner: HttpTransport,
    pushes: AtomicUsize,
    pulls: AtomicUsize,
}

impl Counting {
    fn new(url: &str) -> Arc<Counting> {
        Arc::new(Counting {
            inner: HttpTransport::new(url),
            pushes: AtomicUsize::new(0),
            pulls: AtomicUsize::new(0),
        })
    }

    fn requests(&self) -> usize {
        self.pushes.load(Ordering::SeqCst) + self.pulls.load(Ordering::SeqCst)
    }

    fn reset(&self) {
        self.pushes.store(0, Ordering::SeqCst);
        self.pulls.store(0, Ordering::SeqCst);
    }
}

impl Transport for Counting {
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }
    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        self.inner.health()
    }
    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.signup(req)
    }
    fn login<'a>(
        &'a self,
        req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        self.inner.login(req)
    }
    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        self.inner.logout(token)
    }
    fn push<'a>(
        &'a self,
        token: &'a str,
        req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>> {
        self.pushes.fetch_add(1, Ordering::SeqCst);
        self.inner.push(token, req)
    }
    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        self.pulls.fetch_add(1, Ordering::SeqCst);
        self.inner.changes(token, cursor, limit)
    }
}

fn core_with(dir: &std::path::Path, transport: Arc<dyn Transport>, seed: u64) -> Core {
    let config = CoreConfig::new(dir, transport.base_url());
    let conn = is_core::db::open(&config.db_path()).unwrap();
    Core::with_parts(
        conn,
        transport,
        Arc::new(SystemClock),
        Arc::new(SplitMix64::new(seed)),
        config,
    )
}

fn hero(i: usize) -> HeroInput {
    HeroInput {
        name: format!("Hero {i}"),
        age: (i % 18 + 1) as u8,
        traits: vec![HeroTrait::Brave, HeroTrait::Kind],
        appearance: "A small fox with a green scarf and a lantern".into(),
        special_ability: "Talks to the stars".into(),
        ..Default::default()
    }
}

struct PushRun {
    took: Duration,
    requests: usize,
}

/// 1,000 heroes created offline, then one `sync_now`: the engine's batched push (and
/// the pull that follows it, which brings nothing new back but the profile).
fn engine_push(rt: &tokio::runtime::Runtime, server: &TestServer, n: usize) -> PushRun {
    let dir = tempfile::tempdir().unwrap();
    let transport = Counting::new(&server.base_url);
    let core = core_with(dir.path(), transport.clone(), n as u64);
    let email = format!("engine{n}@example.com");
    rt.block_on(core.sign_up(&email, TEST_PASSWORD, "Bench"))
        .unwrap();
    rt.block_on(core.sync_now()).unwrap();
    for i in 0..MUTATIONS {
        core.create::<Hero>(hero(i)).unwrap();
    }
    transport.reset();
    let start = Instant::now();
    let report = rt.block_on(core.sync_now()).unwrap();
    let took = start.elapsed();
    assert_eq!(report.applied as usize, MUTATIONS, "{report:?}");
    assert_eq!(core.outbox_len().unwrap(), 0);
    PushRun {
        took,
        requests: transport.pushes.load(Ordering::SeqCst),
    }
}

/// The seed design: one request per record, the next after the previous answer.
fn one_per_record(rt: &tokio::runtime::Runtime, server: &TestServer, n: usize) -> PushRun {
    let transport = HttpTransport::new(&server.base_url);
    let email = format!("seed{n}@example.com");
    let session = rt.block_on(server.signup(&email));
    let requests: Vec<PushRequest> = (0..MUTATIONS)
        .map(|i| PushRequest {
            mutations: vec![Mutation {
                mutation_id: Uuid::now_v7(),
                entity: is_protocol::EntityKind::Hero,
                id: Uuid::now_v7(),
                op: MutationOp::Create {
                    data: serde_json::to_value(hero(i)).unwrap(),
                },
            }],
        })
        .collect();
    let start = Instant::now();
    rt.block_on(async {
        for req in &requests {
            transport.push(&session.token, req).await.unwrap();
        }
    });
    PushRun {
        took: start.elapsed(),
        requests: MUTATIONS,
    }
}

/// Requests an incremental sync with nothing new costs.
fn empty_sync(rt: &tokio::runtime::Runtime, server: &TestServer) -> (usize, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let transport = Counting::new(&server.base_url);
    let core = core_with(dir.path(), transport.clone(), 99);
    rt.block_on(core.sign_up("idle@example.com", TEST_PASSWORD, "Idle"))
        .unwrap();
    core.create::<Hero>(hero(1)).unwrap();
    rt.block_on(core.sync_now()).unwrap();
    transport.reset();
    let start = Instant::now();
    let report = rt.block_on(core.sync_now()).unwrap();
    let took = start.elapsed();
    assert_eq!(report.pushed + report.pulled, 0, "{report:?}");
    (transport.requests(), took)
}

/// The process's peak resident memory since the last reset, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak-memory mark (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Initial {
    rows: usize,
    seeded: Duration,
    took: Duration,
    rss_before: Option<f64>,
    peak: Option<f64>,
    db_mib: f64,
}

/// A large account's first sync: the server seeded in one transaction through its own
/// write path (not timed), then a fresh device signs in and syncs.
fn initial_sync(rt: &tokio::runtime::Runtime, rows: usize) -> Initial {
    let dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(TestServer::start(&dir.path().join("server.sqlite3")));
    let session = rt.block_on(server.signup("big@example.com"));
    let user = session.user.id;
    let seed_start = Instant::now();
    let now = server.state.now();
    server.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        for i in 0..rows {
            story_server::table::create::<is_protocol::Hero>(
                &tx,
                user,
                Uuid::now_v7(),
                hero(i),
                now,
            )
            .unwrap();
        }
        tx.commit().unwrap();
    });
    let seeded = seed_start.elapsed();
    let client_dir = tempfile::tempdir().unwrap();
    let core = core_with(
        client_dir.path(),
        Arc::new(HttpTransport::new(&server.base_url)),
        5,
    );
    rt.block_on(core.sign_in("big@example.com", TEST_PASSWORD))
        .unwrap();
    let rss_before = rss_mib();
    let reset = reset_peak();
    let start = Instant::now();
    let report = rt.block_on(core.sync_now()).unwrap();
    let took = start.elapsed();
    let peak = if reset { peak_rss_mib() } else { None };
    assert_eq!(report.pulled as usize, rows, "{report:?}");
    let db_mib = std::fs::metadata(core.config().db_path())
        .map(|m| m.len() as f64 / (1024.0 * 1024.0))
        .unwrap_or(0.0);
    rt.block_on(server.stop());
    Initial {
        rows,
        seeded,
        took,
        rss_before,
        peak,
        db_mib,
    }
}

fn best(runs: &[PushRun]) -> &PushRun {
    runs.iter().min_by_key(|r| r.took).unwrap()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows: usize = std::env::var("SCALE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(TestServer::start(&dir.path().join("server.sqlite3")));
    // Alternate the two so that both see the same machine state.
    let (mut engine, mut seed) = (Vec::new(), Vec::new());
    for n in 0..RUNS {
        engine.push(engine_push(&rt, &server, n));
        seed.push(one_per_record(&rt, &server, n));
    }
    let (idle_requests, idle_took) = empty_sync(&rt, &server);
    rt.block_on(server.stop());
    let (engine, seed) = (best(&engine), best(&seed));

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sync against the real server on loopback HTTP (SQLite files, release build), best of {RUNS}; \
         load average: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!();
    println!("| measurement                                        | requests |     time | mutations/s | target               |");
    println!("|----------------------------------------------------|---------:|---------:|------------:|----------------------|");
    let row = |what: &str, req: String, d: Duration, rate: String, target: &str| {
        println!(
            "| {what:<50} | {req:>8} | {:>5.0} ms | {rate:>11} | {target:<20} |",
            ms(d)
        );
    };
    row(
        "1,000 queued hero creates: one request per record",
        seed.requests.to_string(),
        seed.took,
        format!("{:.0}", MUTATIONS as f64 / seed.took.as_secs_f64()),
        "(the seed's design)",
    );
    row(
        "1,000 queued hero creates: the engine (sync_now)",
        engine.requests.to_string(),
        engine.took,
        format!("{:.0}", MUTATIONS as f64 / engine.took.as_secs_f64()),
        "<= 3 requests, < 1 s",
    );
    println!(
        "| {:<50} | {:>8} | {:>8} | {:>11} | {:<20} |",
        "engine / one per record",
        "",
        format!(
            "{:.1}x",
            seed.took.as_secs_f64() / engine.took.as_secs_f64()
        ),
        "",
        "faster"
    );
    row(
        "incremental sync with nothing new",
        idle_requests.to_string(),
        idle_took,
        String::new(),
        "1 request",
    );
    println!();

    let init = initial_sync(&rt, rows);
    let mib = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0} MiB"));
    println!(
        "| initial sync of {:>9} heroes                    |     time |     rows/s | peak RSS during sync | RSS before | cache file |",
        init.rows
    );
    println!("|---------------------------------------------------|---------:|-----------:|---------------------:|-----------:|-----------:|");
    println!(
        "| {:<49} | {:>6.1} s | {:>10.0} | {:>20} | {:>10} | {:>6.0} MiB |",
        "server on loopback, same process",
        init.took.as_secs_f64(),
        init.rows as f64 / init.took.as_secs_f64(),
        mib(init.peak),
        mib(init.rss_before),
        init.db_mib
    );
    println!();
    println!(
        "(server seeded with {} heroes through its own write path in one transaction in {:.1} s, not timed; \
         the peak includes the in-process server answering the pages)",
        init.rows,
        init.seeded.as_secs_f64()
    );
}
