//! Several server processes on one PostgreSQL database (replicas): the change feed stays
//! gap-free. Three `app(state)` routers on loopback sockets share a database; writers
//! push heroes (creates and updates) to random replicas concurrently while a reader
//! pages the feed from random replicas all along. After the writers stop and the reader
//! catches up, it has seen every row at its last committed version, no change twice,
//! and no row's version going back.
//!
//! Runs only on PostgreSQL (`STORY_TEST_DATABASE_URL`, see `scripts/pg.sh`); on SQLite
//! one process owns the file and there are no replicas to test.
//! `STORY_FEED_TEST_WRITES` (default 10,000 per seed) and `STORY_FEED_TEST_SEEDS`
//! (default 3) size it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use is_protocol::{ChangesResponse, Mutation, MutationOp, Outcome, PushRequest, PushResponse};
use serde_json::json;
use story_server::testing::{testing_postgres, TestServer};
use uuid::Uuid;

const REPLICAS: usize = 3;
const WRITERS: usize = 12;
const BATCH: usize = 10;

/// SplitMix64: a seeded generator, so a failing seed can be run again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_never_skips_a_change_across_replicas() {
    if !testing_postgres() {
        eprintln!("skipped: runs on PostgreSQL only (scripts/pg.sh run -- cargo test …)");
        return;
    }
    let writes = env_number("STORY_FEED_TEST_WRITES", 10_000);
    let seeds = env_number("STORY_FEED_TEST_SEEDS", 3);
    for seed in 1..=seeds as u64 {
        run(seed, writes).await;
    }
}

async fn run(seed: u64, writes: usize) {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // One path: every replica opens the same PostgreSQL database.
    let db = dir.path().join("shared.sqlite3");
    let mut servers = Vec::new();
    for _ in 0..REPLICAS {
        servers.push(TestServer::start(&db).await);
    }
    let urls: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.base_url.clone()).collect());
    let token = servers[0].signup("feed@example.com").await.token;
    let http = reqwest::Client::new();

    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(read_feed(
        http.clone(),
        urls.clone(),
        token.clone(),
        seed,
        done.clone(),
    ));

    let per_writer = writes / WRITERS;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (http, urls, token) = (http.clone(), urls.clone(), token.clone());
        let mut rng = Rng(seed * 1000 + w as u64);
        tasks.push(tokio::spawn(async move {
            // Each writer owns its heroes, so it knows their versions; updates of one
            // hero by two writers would only add conflicts.
            let mut mine: Vec<(Uuid, i64)> = Vec::new();
            let mut left = per_writer;
            while left > 0 {
                let n = BATCH.min(left);
                let mut mutations = Vec::with_capacity(n);
                let mut picked = HashSet::new();
                for _ in 0..n {
                    let update = !mine.is_empty() && rng.below(3) > 0;
                    if update {
                        let i = rng.below(mine.len());
                        if picked.insert(i) {
                            let (id, version) = mine[i];
                            mutations.push(Mutation {
                                mutation_id: Uuid::now_v7(),
                                entity: is_protocol::EntityKind::Hero,
                                id,
                                op: MutationOp::Update {
                                    base_version: version,
                                    patch: json!({ "age": 1 + rng.below(12) }),
                                },
                            });
                            continue;
                        }
                    }
                    let id = Uuid::now_v7();
                    mutations.push(Mutation {
                        mutation_id: Uuid::now_v7(),
                        entity: is_protocol::EntityKind::Hero,
                        id,
                        op: MutationOp::Create {
                            data: json!({ "name": format!("H{w}"), "age": 5,
                                          "traits": ["kind"], "appearance": "",
                                          "special_ability": "" }),
                        },
                    });
                }
                let url = &urls[rng.below(urls.len())];
                let res: PushResponse = http
                    .post(format!("{url}/api/sync/push"))
                    .bearer_auth(&token)
                    .json(&PushRequest { mutations })
                    .send()
                    .await
                    .expect("push sent")
                    .error_for_status()
                    .expect("push answered")
                    .json()
                    .await
                    .expect("push body");
                for r in res.results {
                    match r.outcome {
                        Outcome::Applied { record } => {
                            let (id, version) = record_version(&record);
                            match mine.iter_mut().find(|(i, _)| *i == id) {
                                Some(entry) => entry.1 = version,
                                None => mine.push((id, version)),
                            }
                        }
                        other => panic!("seed {seed}: unexpected outcome {other:?}"),
                    }
                }
                left -= n;
            }
            mine
        }));
    }
    let mut expected: HashMap<Uuid, i64> = HashMap::new();
    for t in tasks {
        expected.extend(t.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader");

    assert_eq!(
        seen.len(),
        expected.len(),
        "seed {seed}: the reader saw {} heroes, {} were written",
        seen.len(),
        expected.len()
    );
    for (id, version) in &expected {
        assert_eq!(
            seen.get(id),
            Some(version),
            "seed {seed}: hero {id} last seen at another version"
        );
    }
    eprintln!(
        "seed {seed}: {writes} writes of {} heroes over {REPLICAS} replicas, feed complete ({:.1} s)",
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    for s in servers {
        s.stop().await;
    }
}

fn record_version(record: &is_protocol::Record) -> (Uuid, i64) {
    match record {
        is_protocol::Record::Hero(h) => (h.id, h.version),
        other => panic!("not a hero: {other:?}"),
    }
}

/// Pages the feed from random replicas until the writers are done and a page comes back
/// empty; returns each hero's last seen version. Checks along the way that no change
/// comes twice and that no version goes back.
async fn read_feed(
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    token: String,
    seed: u64,
    done: Arc<AtomicBool>,
) -> HashMap<Uuid, i64> {
    let mut rng = Rng(seed ^ 0xFEED);
    let mut cursor: Option<String> = None;
    let mut seen: HashMap<Uuid, i64> = HashMap::new();
    loop {
        // Read the flag before the page: a page fetched after every writer finished
        // and found empty means the reader has it all.
        let writers_done = done.load(Ordering::SeqCst);
        let url = &urls[rng.below(urls.len())];
        let mut req = http
            .get(format!("{url}/api/sync/changes"))
            .bearer_auth(&token)
            .query(&[("limit", "200")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        let page: ChangesResponse = req
            .send()
            .await
            .expect("changes sent")
            .error_for_status()
            .expect("changes answered")
            .json()
            .await
            .expect("changes body");
        for hero in &page.changes.heroes {
            if let Some(before) = seen.insert(hero.id, hero.version) {
                assert!(
                    hero.version > before,
                    "seed {seed}: hero {} came again at version {} after {before}",
                    hero.id,
                    hero.version
                );
            }
        }
        let empty = page.changes.heroes.is_empty();
        cursor = Some(page.next_cursor);
        if writers_done && empty && !page.has_more {
            return seen;
        }
        if empty {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
