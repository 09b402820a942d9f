//! The local write path: one optimistic hero create or edit = the row and its outbox
//! entry in one SQLite transaction (WAL, a real file). Prints latency percentiles.
//!
//! Run: `cargo bench -p is-core --bench write_path` (target: p99 < 2 ms).

use std::sync::Arc;
use std::time::{Duration, Instant};

use is_core::clock::SystemClock;
use is_core::rng::SplitMix64;
use is_core::transport::HttpTransport;
use is_core::{Core, CoreConfig, Hero, HeroInput, HeroTrait};

const WARMUP: usize = 200;
const SAMPLES: usize = 5_000;

fn input(i: usize) -> HeroInput {
    HeroInput {
        name: format!("Hero number {i}"),
        age: (i % 18 + 1) as u8,
        traits: vec![HeroTrait::Brave, HeroTrait::Kind, HeroTrait::Curious],
        appearance: "A red scarf, freckles and very muddy boots".into(),
        special_ability: "Can talk to owls after sunset".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name:<22} | {:>7} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} |",
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

    for i in 0..WARMUP {
        core.create::<Hero>(input(i)).unwrap();
    }
    let mut ids = Vec::with_capacity(SAMPLES);
    let mut creates = Vec::with_capacity(SAMPLES);
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
    for _ in 0..20 {
        let start = Instant::now();
        let all = core.list::<Hero>(&()).unwrap();
        lists.push(start.elapsed());
        assert_eq!(all.len(), WARMUP + SAMPLES);
    }

    println!("write path on a real SQLite file (WAL, synchronous=NORMAL); times in microseconds");
    println!("| operation              | samples |      p50 |      p90 |      p99 |      max |");
    println!("|------------------------|---------|----------|----------|----------|----------|");
    report("create hero (+outbox)", creates);
    report("edit hero (+outbox)", edits);
    report(&format!("list {} heroes", WARMUP + SAMPLES), lists);
}
