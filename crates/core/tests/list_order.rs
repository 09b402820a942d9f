//! The UI shows a row it has just saved in its place before it asks the core for the list
//! again (`heroPlacement` in `ui/src/lib/heroes/hero.ts`, `storyPlacement` in
//! `ui/src/lib/stories/story.ts`). Those restate the core's list filter and order in
//! TypeScript, so this test keeps them honest: it saves rows chosen to tell orders apart
//! (names that differ only in case, in non-ASCII letters, in characters that UTF-16 and
//! UTF-8 order differently, in `LIKE`'s wildcards; times equal to the nanosecond or
//! differing only in it) through the real core into a real SQLite file, asks the core's
//! lists under many filters, and writes rows and answers to
//! `ui/src/lib/app/list-order.fixture.json`. The UI's unit test `list-order.test.ts`
//! checks every placement against it. This test fails when the file drifts; regenerate
//! it with `UPDATE_BINDINGS=1 cargo test-all --test list_order`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use is_core::clock::ManualClock;
use is_core::rng::{Rng, SplitMix64};
use is_core::transport::HttpTransport;
use is_core::{
    Core, CoreConfig, EventType, Hero, HeroFilter, HeroInput, HeroTrait, Story, StoryFilter,
    StoryInput, Window,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// Characters that tell the candidate orders apart: ASCII letters in both cases and the
/// punctuation between `Z` and `a` (so folding case matters), `LIKE`'s wildcards and its
/// escape, letters SQLite does not fold (`é`/`É`, `ß`, dotted and dotless i), and
/// characters whose UTF-16 order differs from their UTF-8 (byte) order (U+FFFD and a
/// private-use letter against an emoji outside the BMP).
const ALPHABET: &[&str] = &[
    "a", "A", "b", "B", "z", "Z", "[", "_", "`", "%", "\\", " ", "0", "~", "é", "É", "ß", "ı", "İ",
    "中", "\u{FFFD}", "\u{E000}", "😀", "🦄",
];

/// Filter texts: empty and blank ones, each case of a letter, wildcards taken literally,
/// non-ASCII letters (matched in their own case only), and whitespace that one language's
/// `trim` removes and the other's does not.
const TEXTS: &[&str] = &[
    "",
    "   ",
    "a",
    "A",
    " b ",
    "Ab",
    "é",
    "É",
    "%",
    "_",
    "\\",
    "ß",
    "😀",
    "\u{FFFD}",
    "\u{A0}a\u{A0}",
    "\u{85}a",
    "\u{FEFF}a",
    "\u{3000}b",
];

const HEROES: usize = 100;
const STORIES: usize = 120;

fn pick<'a>(rng: &SplitMix64, from: &'a [&'a str]) -> &'a str {
    from[(rng.next_u64() % from.len() as u64) as usize]
}

fn name(rng: &SplitMix64) -> String {
    let len = 1 + rng.next_u64() % 4;
    let mut name: String = (0..len).map(|_| pick(rng, ALPHABET)).collect();
    if name.trim().is_empty() {
        name.push('a');
    }
    name
}

/// The next story's creation time: mostly a step forward by whole seconds, milliseconds,
/// microseconds or a single nanosecond, sometimes the same instant again (so the id
/// decides), sometimes far in the past or future.
fn next_time(rng: &SplitMix64, last: DateTime<Utc>) -> DateTime<Utc> {
    match rng.next_u64() % 8 {
        0 => last,
        1 => last + Duration::nanoseconds(1),
        2 => last + Duration::microseconds(1 + (rng.next_u64() % 999) as i64),
        3 => last + Duration::milliseconds(1 + (rng.next_u64() % 999) as i64),
        4 => last - Duration::milliseconds((rng.next_u64() % 5_000) as i64),
        5 => Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
        6 => Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
        _ => last + Duration::seconds(1 + (rng.next_u64() % 90) as i64),
    }
}

fn ids<T: serde::Serialize>(rows: &[T]) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::to_value(r).unwrap()["id"].clone())
        .collect()
}

fn fixture() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let config = CoreConfig::new(dir.path(), "http://127.0.0.1:9");
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let core = Core::with_parts(
        is_core::db::open(&config.db_path()).unwrap(),
        Arc::new(HttpTransport::new(&config.server_url)),
        clock.clone(),
        Arc::new(SplitMix64::new(0x5EED)),
        config,
    );
    let rng = SplitMix64::new(42);

    let mut heroes = Vec::new();
    for i in 0..HEROES {
        let hero = core
            .create::<Hero>(HeroInput {
                name: name(&rng),
                age: (i % 12 + 1) as u8,
                traits: vec![HeroTrait::Brave],
                ..Default::default()
            })
            .unwrap();
        heroes.push(hero.id);
    }
    let mut at = start;
    for _ in 0..STORIES {
        at = next_time(&rng, at);
        clock.set(at);
        let hero_id = match rng.next_u64() % 4 {
            0 => None,
            n => Some(heroes[n as usize % 3]),
        };
        core.create::<Story>(StoryInput {
            title: name(&rng),
            content: name(&rng),
            hero_id,
            event_type: Some(EventType::Bedtime),
            is_favorite: rng.next_u64().is_multiple_of(3),
            ..Default::default()
        })
        .unwrap();
    }

    let all_heroes = core
        .page::<Hero>(&HeroFilter::default(), Window::ALL)
        .unwrap()
        .rows;
    let hero_cases: Vec<Value> = TEXTS
        .iter()
        .map(|text| {
            let filter = HeroFilter {
                text: (!text.is_empty()).then(|| text.to_string()),
            };
            let rows = core.page::<Hero>(&filter, Window::ALL).unwrap().rows;
            json!({ "filter": filter, "ids": ids(&rows) })
        })
        .collect();

    let all_stories = core
        .page::<Story>(&StoryFilter::default(), Window::ALL)
        .unwrap()
        .rows;
    let mut story_cases = Vec::new();
    let hero_ids = [None, Some(heroes[0]), Some(heroes[1]), Some(Uuid::nil())];
    for hero_id in hero_ids {
        for favorites_only in [false, true] {
            for text in ["", "  ", "a", "é", "%"] {
                let filter = StoryFilter {
                    hero_id,
                    favorites_only,
                    text: (!text.is_empty()).then(|| text.to_string()),
                };
                let rows = core.page::<Story>(&filter, Window::ALL).unwrap().rows;
                story_cases.push(json!({ "filter": filter, "ids": ids(&rows) }));
            }
        }
    }
    json!({
        "heroes": { "rows": all_heroes, "cases": hero_cases },
        "stories": { "rows": all_stories, "cases": story_cases },
    })
}

/// The fixture as JSON with each row and each case on a line of its own, so that a diff
/// of the file names the rows that moved.
fn one_item_a_line(fixture: &Value) -> String {
    let mut out = String::from("{\n");
    let lists = fixture.as_object().unwrap();
    for (i, (list, parts)) in lists.iter().enumerate() {
        out += &format!("  {}: {{\n", json!(list));
        let parts = parts.as_object().unwrap();
        for (j, (part, items)) in parts.iter().enumerate() {
            out += &format!("    {}: [\n", json!(part));
            let items = items.as_array().unwrap();
            for (k, item) in items.iter().enumerate() {
                let comma = if k + 1 < items.len() { "," } else { "" };
                out += &format!("      {item}{comma}\n");
            }
            out += if j + 1 < parts.len() {
                "    ],\n"
            } else {
                "    ]\n"
            };
        }
        out += if i + 1 < lists.len() {
            "  },\n"
        } else {
            "  }\n"
        };
    }
    out + "}\n"
}

#[test]
fn the_ui_placements_are_checked_against_the_core_lists() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ui/src/lib/app/list-order.fixture.json");
    let text = one_item_a_line(&fixture());
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: regenerate it with `UPDATE_BINDINGS=1 cargo test-all --test list_order`",
        path.display()
    );
}
