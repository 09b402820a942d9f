//! The local write path: one optimistic hero create or edit = the row and its outbox
//! entry in one SQLite transaction (WAL, a real file). Prints latency percentiles, beside
//! a baseline measured in the same run after the core's: the same two rows written with
//! two prepared `INSERT`s in one transaction (and all rows read with one prepared
//! `SELECT`) on another file of the same schema, so that the ratio to it is what is
//! compared across runs of a noisy machine. (Interleaving the two sample by sample
//! disturbed the core's reads: each side's allocations and WAL pages got in the other's
//! way.)
//!
//! Run: `cargo bench -p is-core --bench write_path` (target: p99 < 2 ms).

use std::sync::Arc;
use std::time::{Duration, Instant};

use is_core::clock::SystemClock;
use is_core::rng::SplitMix64;
use is_core::transport::HttpTransport;
use is_core::{Core, CoreConfig, Hero, HeroInput, HeroTrait, Window};
use rusqlite::{params, Connection};

const WARMUP: usize = 200;
const SAMPLES: usize = 5_000;

fn input(i: usize) -> HeroInput {
    HeroInput {
        name: format!("Hero number {i}"),
        age: (i % 18 + 1) as u8,
        traits: vec![HeroTrait::Brave, HeroTrait::Kind, HeroTrait::Curious],
        appearance: "A red scarf, freckles and very muddy boots".into(),
        special_ability: "Can talk to owls after sunset".into(),
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// One hero row and its outbox entry, values prepared, with two prepared statements.
fn raw_create(conn: &mut Connection, i: usize, payload: &str) -> Duration {
    let id = uuid::Uuid::from_u128(i as u128 + 1).to_string();
    let mutation = uuid::Uuid::from_u128(u128::MAX - i as u128).to_string();
    let now = "2026-11-29T10:00:00+00:00";
    let start = Instant::now();
    let tx = conn.transaction().unwrap();
    tx.prepare_cached(
        "INSERT INTO heroes (id, name, age, traits, appearance, special_ability, created_at,
                             updated_at, sync_status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 'pending_create')",
    )
    .unwrap()
    .execute(params![
        id,
        "Hero number",
        7,
        r#"["brave","kind","curious"]"#,
        "A red scarf, freckles and very muddy boots",
        "Can talk to owls after sunset",
        now
    ])
    .unwrap();
    tx.prepare_cached(
        "INSERT INTO outbox (mutation_id, entity, entity_id, op, payload, created_at)
         VALUES (?1, 'hero', ?2, 'create', ?3, ?4)",
    )
    .unwrap()
    .execute(params![mutation, id, payload, now])
    .unwrap();
    tx.commit().unwrap();
    start.elapsed()
}

/// Every hero row, every column, with one prepared statement.
fn raw_list(conn: &Connection) -> (Duration, usize) {
    let start = Instant::now();
    let mut stmt = conn
        .prepare_cached("SELECT * FROM heroes ORDER BY name COLLATE NOCASE, id")
        .unwrap();
    let n = stmt.column_count();
    let rows: Vec<Vec<rusqlite::types::Value>> = stmt
        .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (start.elapsed(), rows.len())
}

fn p99(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    percentile(&s, 0.99)
}

fn p50(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    percentile(&s, 0.50)
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name:<24} | {:>7} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} |",
        samples.len(),
        us(percentile(&samples, 0.50)),
        us(percentile(&samples, 0.90)),
        us(percentile(&samples, 0.99)),
        us(*samples.last().unwrap()),
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = CoreConfig::new(dir.path(), "http://127.0.0.1:9");
    let conn = is_core::db::open(&config.db_path()).expect("open cache");
    let core = Core::with_parts(
        conn,
        Arc::new(HttpTransport::new("http://127.0.0.1:9")),
        Arc::new(SystemClock),
        Arc::new(SplitMix64::new(42)),
        config,
    );

    let mut raw = is_core::db::open(&dir.path().join("raw.sqlite3")).expect("open raw file");
    let payload = serde_json::to_string(&input(0)).unwrap();

    for i in 0..WARMUP {
        core.create::<Hero>(input(i)).unwrap();
    }
    let mut ids = Vec::with_capacity(SAMPLES);
    let mut creates = Vec::with_capacity(SAMPLES);
    let mut raw_creates = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let start = Instant::now();
        let hero = core.create::<Hero>(input(WARMUP + i)).unwrap();
        creates.push(start.elapsed());
        ids.push(hero.id);
    }
    let mut edits = Vec::with_capacity(SAMPLES);
    for (i, id) in ids.iter().enumerate() {
        let mut changed = input(i);
        changed.name = format!("Renamed hero {i}");
        let start = Instant::now();
        core.update::<Hero>(*id, changed).unwrap();
        edits.push(start.elapsed());
    }
    let mut lists = Vec::with_capacity(20);
    let mut raw_lists = Vec::with_capacity(20);
    for _ in 0..20 {
        let start = Instant::now();
        let all = core.list::<Hero>(&Default::default()).unwrap();
        lists.push(start.elapsed());
        assert_eq!(all.len(), WARMUP + SAMPLES);
    }
    // What the UI asks for: the window of rows around the screen and the count.
    let total = WARMUP + SAMPLES;
    let mut windows = Vec::with_capacity(200);
    for i in 0..200 {
        let offset = ((i * 7_919) % (total - 120)) as u32;
        let start = Instant::now();
        let page = core
            .page::<Hero>(&Default::default(), Window { offset, limit: 120 })
            .unwrap();
        windows.push(start.elapsed());
        assert_eq!((page.total as usize, page.rows.len()), (total, 120));
    }
    for i in 0..WARMUP {
        raw_create(&mut raw, i, &payload);
    }
    for i in 0..SAMPLES {
        raw_creates.push(raw_create(&mut raw, WARMUP + i, &payload));
    }
    for _ in 0..20 {
        let (t, n) = raw_list(&raw);
        raw_lists.push(t);
        assert_eq!(n, WARMUP + SAMPLES);
    }
    let ratios = [
        ("create p50", p50(&creates), p50(&raw_creates)),
        ("create p99", p99(&creates), p99(&raw_creates)),
        ("list p50", p50(&lists), p50(&raw_lists)),
    ];

    println!("write path on a real SQLite file (WAL, synchronous=NORMAL); times in microseconds");
    println!("| operation                | samples |      p50 |      p90 |      p99 |      max |");
    println!("|--------------------------|---------|----------|----------|----------|----------|");
    report("create hero (+outbox)", creates);
    report("raw 2 INSERTs (baseline)", raw_creates);
    report("edit hero (+outbox)", edits);
    report(&format!("list {} heroes", WARMUP + SAMPLES), lists);
    report("page: 120 rows + count", windows);
    report(&format!("raw SELECT {} rows", WARMUP + SAMPLES), raw_lists);
    println!();
    println!("| ratio to the baseline   |   core |    raw |  ratio |");
    println!("|-------------------------|--------|--------|--------|");
    for (what, core, raw) in ratios {
        println!(
            "| {what:<23} | {:>6.1} | {:>6.1} | {:>5.2}x |",
            core.as_secs_f64() * 1e6,
            raw.as_secs_f64() * 1e6,
            core.as_secs_f64() / raw.as_secs_f64()
        );
    }
}
