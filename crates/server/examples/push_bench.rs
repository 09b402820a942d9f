//! Times the server's write path and change feed: 800 pushed mutations (creates,
//! updates, increments and deletes of heroes, stories and custom events) applied two
//! ways: through `sync::apply_batch`, one transaction each, and as a group commit does
//! it (`sync::apply_items` on pushes of 10 mutations, each push in its own savepoint,
//! one transaction per 100 mutations); and a change-feed page of every row.
//!
//! ```text
//! CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo run -p story-server --example push_bench
//! ```
//!
//! `BENCH_DIR` (default `/dev/shm` where there is one, so disk syncs do not drown the rest) holds the
//! database; `ROUNDS` (default 5) runs are made and the best is reported.
use std::time::Instant;

use serde_json::json;
use story_server::{auth, db, sync};
use uuid::Uuid;

fn m(v: serde_json::Value) -> is_protocol::Mutation {
    serde_json::from_value(v).unwrap()
}

fn main() {
    let dir = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let shm = std::path::PathBuf::from("/dev/shm");
            if shm.is_dir() {
                shm
            } else {
                std::env::temp_dir()
            }
        });
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let n = 100;
    let mut best = f64::MAX;
    let mut best_grouped = f64::MAX;
    let mut best_feed = f64::MAX;
    for round in 0..rounds {
        let path = std::path::Path::new(&dir)
            .join(format!("push-bench-{}-{round}.sqlite3", std::process::id()));
        let mut conn = db::open(&path).unwrap();
        let now = chrono::Utc::now();
        let user = auth::create_user(&conn, "a@b.io", "A", "h", now)
            .unwrap()
            .id;
        let heroes: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let stories: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let events: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let mut batches: Vec<Vec<is_protocol::Mutation>> = Vec::new();
        let id = || Uuid::now_v7();
        batches.push(heroes.iter().map(|h| m(json!({"mutation_id": id(), "entity": "hero", "id": h, "op": "create",
            "data": {"name": "Luna", "age": 6, "traits": ["brave", "kind"], "appearance": "red boots"}}))).collect());
        batches.push(events.iter().map(|e| m(json!({"mutation_id": id(), "entity": "custom_event", "id": e, "op": "create",
            "data": {"title": "Visit", "keywords": ["a", "b"], "category": "family", "tone": "gentle", "pictogram_emoji": "🎂"}}))).collect());
        batches.push(stories.iter().zip(&heroes).zip(&events).map(|((s, h), e)| m(json!({"mutation_id": id(), "entity": "story", "id": s, "op": "create",
            "data": {"hero_id": h, "title": "T", "content": "Once upon a time.", "language": "en", "custom_event_id": e}}))).collect());
        batches.push(heroes.iter().map(|h| m(json!({"mutation_id": id(), "entity": "hero", "id": h, "op": "update", "base_version": 1,
            "patch": {"age": 7, "traits": ["funny"]}}))).collect());
        batches.push(stories.iter().map(|s| m(json!({"mutation_id": id(), "entity": "story", "id": s, "op": "update", "base_version": 1,
            "patch": {"title": "New", "is_favorite": true}}))).collect());
        batches.push(
            stories
                .iter()
                .map(|s| {
                    m(
                        json!({"mutation_id": id(), "entity": "story", "id": s, "op": "increment",
            "counters": {"play_count": 1}}),
                    )
                })
                .collect(),
        );
        batches.push(events.iter().map(|e| m(json!({"mutation_id": id(), "entity": "custom_event", "id": e, "op": "increment",
            "counters": {"usage_count": 2}}))).collect());
        batches.push(heroes.iter().map(|h| m(json!({"mutation_id": id(), "entity": "hero", "id": h, "op": "delete", "base_version": 2}))).collect());
        let grouped = grouped_copy(&dir, round, &batches, now);
        let start = Instant::now();
        let mut applied = 0;
        for b in &batches {
            for r in sync::apply_batch(&mut conn, user, b, now).unwrap() {
                if matches!(r.outcome, is_protocol::Outcome::Applied { .. }) {
                    applied += 1;
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(applied, 8 * n, "every mutation applies");
        best_grouped = best_grouped.min(grouped);
        let start = Instant::now();
        let mut rows = 0;
        for _ in 0..20 {
            rows += sync::changes_page(&conn, "0123456789abcdef0123456789abcdef", user, 0, 1000)
                .unwrap()
                .changes
                .len();
        }
        let feed = start.elapsed().as_secs_f64() / 20.0;
        assert!(rows > 0);
        best = best.min(secs);
        best_feed = best_feed.min(feed);
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    println!("push: {} mutations in {:.1} ms (best of {rounds}), {:.1} µs each; change feed page of {} rows: {:.2} ms",
        8 * n, best * 1e3, best * 1e6 / (8 * n) as f64, 3 * n, best_feed * 1e3);
    println!(
        "grouped: {} mutations in {:.1} ms (best of {rounds}), {:.1} µs each",
        8 * n,
        best_grouped * 1e3,
        best_grouped * 1e6 / (8 * n) as f64
    );
}

/// Applies `batches` to a new database the way a group commit does (pushes of 10 in
/// savepoints, one transaction per batch); returns the seconds it took.
fn grouped_copy(
    dir: &std::path::Path,
    round: usize,
    batches: &[Vec<is_protocol::Mutation>],
    now: chrono::DateTime<chrono::Utc>,
) -> f64 {
    let path = dir.join(format!(
        "push-bench-{}-{round}-grouped.sqlite3",
        std::process::id()
    ));
    let mut conn = db::open(&path).unwrap();
    let user = auth::create_user(&conn, "a@b.io", "A", "h", now)
        .unwrap()
        .id;
    let start = Instant::now();
    for b in batches {
        let tx = conn.transaction().unwrap();
        for push in b.chunks(10) {
            let items: Vec<sync::PushItem> =
                push.iter().cloned().map(sync::PushItem::Mutation).collect();
            tx.execute_batch("SAVEPOINT unit").unwrap();
            let results = sync::apply_items(&tx, user, &items, now).unwrap();
            tx.execute_batch("RELEASE unit").unwrap();
            assert!(results
                .iter()
                .all(|r| matches!(r.outcome, is_protocol::Outcome::Applied { .. })));
        }
        tx.commit().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    secs
}
