//! The core in a process of its own, for the crash test (`tests/integration/crash`).
//!
//! `crash_writer <data dir> <server url> <email> <password> <seed> [--drain]`
//!
//! Opens a `Core` on the data directory against the server (real `HttpTransport`), signs
//! in, then writes forever: creates and renames heroes, creates stories, plays them. For
//! each write it prints `DO <what>` before the call and `ACK <what>` once the local write
//! returned (flushed), and it syncs every few writes. The test kills it with SIGKILL at
//! random moments. With `--drain` it only syncs until the outbox is empty, then prints
//! `DRAINED` and exits.
//!
//! Lines: `ACK create hero <id> name=<name>`, `ACK edit hero <id> name=<name>`,
//! `ACK create story <id> title=<title>`, `ACK play story <id>`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use is_core::clock::SystemClock;
use is_core::rng::{Rng, SplitMix64};
use is_core::sync::plan::RetryPolicy;
use is_core::transport::HttpTransport;
use is_core::{
    Core, CoreConfig, EventType, Hero, HeroInput, HeroTrait, Language, Story, StoryInput,
};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, url, email, password, seed, rest @ ..] = args.as_slice() else {
        anyhow::bail!(
            "usage: crash_writer <data dir> <server url> <email> <password> <seed> [--drain]"
        );
    };
    let drain = rest.iter().any(|a| a == "--drain");
    let seed: u64 = seed.parse()?;
    let mut config = CoreConfig::new(dir, url.as_str());
    // No waiting between attempts: a killed process retries at once when restarted.
    config.retry = RetryPolicy {
        base: Duration::ZERO,
        max: Duration::ZERO,
        max_attempts: 1_000_000,
    };
    let conn = is_core::db::open(&config.db_path())?;
    let core = Core::with_parts(
        conn,
        Arc::new(HttpTransport::new(url)),
        Arc::new(SystemClock),
        Arc::new(SplitMix64::from_entropy()),
        config,
    );
    if core.account()?.is_none() {
        core.sign_in(email, password).await?;
    }
    say("READY");
    if drain {
        for _ in 0..100 {
            let _ = core.sync_now().await;
            if core.outbox_len()? == 0 {
                say("DRAINED");
                return Ok(());
            }
        }
        anyhow::bail!(
            "the outbox did not drain: {} entries left",
            core.outbox_len()?
        );
    }
    let pick = SplitMix64::new(seed);
    let below = |n: usize| (pick.next_u64() % n.max(1) as u64) as usize;
    let mut i = 0u64;
    loop {
        i += 1;
        let heroes = core.list::<Hero>(&Default::default())?;
        let stories = core.list::<Story>(&Default::default())?;
        match below(10) {
            0..=2 => {
                let name = format!("hero-{seed}-{i}");
                say(&format!("DO create hero name={name}"));
                let h = core.create::<Hero>(HeroInput {
                    name: name.clone(),
                    age: 1 + below(18) as u8,
                    traits: vec![HeroTrait::ALL[below(HeroTrait::ALL.len())]],
                    ..Default::default()
                })?;
                say(&format!("ACK create hero {} name={name}", h.id));
            }
            3..=4 if !heroes.is_empty() => {
                let h = &heroes[below(heroes.len())];
                let name = format!("renamed-{seed}-{i}");
                say(&format!("DO edit hero {} name={name}", h.id));
                core.update::<Hero>(
                    h.id,
                    HeroInput {
                        name: name.clone(),
                        age: h.age,
                        traits: h.traits.clone(),
                        appearance: h.appearance.clone(),
                        special_ability: h.special_ability.clone(),
                        ..Default::default()
                    },
                )?;
                say(&format!("ACK edit hero {} name={name}", h.id));
            }
            5..=6 => {
                let title = format!("story-{seed}-{i}");
                let hero_id = (!heroes.is_empty()).then(|| heroes[below(heroes.len())].id);
                say(&format!("DO create story title={title}"));
                let s = core.create::<Story>(StoryInput {
                    hero_id,
                    title: title.clone(),
                    content: format!("Once upon a time, {title}."),
                    language: Language::En,
                    event_type: Some(EventType::Bedtime),
                    ..Default::default()
                })?;
                say(&format!("ACK create story {} title={title}", s.id));
            }
            _ if !stories.is_empty() => {
                let s = &stories[below(stories.len())];
                say(&format!("DO play story {}", s.id));
                core.increment::<Story>(s.id)?;
                say(&format!("ACK play story {}", s.id));
            }
            _ => {}
        }
        if below(4) == 0 {
            say("SYNCING");
            let r = core.sync_now().await;
            say(&format!("SYNC {}", if r.is_ok() { "ok" } else { "failed" }));
        }
    }
}
