//! Crash safety with the real process (SPEC.md section 5: "quitting, crashing or losing
//! power between the local write and the push loses nothing, and nothing is pushed twice
//! with a different effect").
//!
//! `crash_writer` (the core in its own process, real `HttpTransport` over loopback to a
//! real server on a real SQLite file) writes and syncs; the test kills it with SIGKILL
//! at seeded random moments. After each kill: the cache passes `PRAGMA integrity_check`,
//! and every write the process acknowledged is in it. At the end a last run drains the
//! outbox and the server holds every row exactly once, with counters equal to the plays
//! made.
//!
//! `CRASH_KILLS=<n>` kills (default 100), `CRASH_SEED=<n>` the seed of the moments.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{TestServer, TEST_PASSWORD};
use is_core::entity::store as rows;
use is_core::rng::{Rng, SplitMix64};
use is_core::sync::state::SyncState;
use is_core::{Hero, Story};
use uuid::Uuid;

const EMAIL: &str = "crash@example.com";

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// What the processes said they did.
#[derive(Debug, Default)]
struct Log {
    /// Hero id → its names in order, each with whether it was acknowledged.
    names: BTreeMap<Uuid, Vec<(String, bool)>>,
    /// Every name a hero create or rename was attempted with.
    all_names: BTreeSet<String>,
    /// Heroes and stories acknowledged as created.
    heroes: BTreeSet<Uuid>,
    stories: BTreeSet<Uuid>,
    /// Story → (acknowledged plays, plays attempted but not acknowledged).
    plays: BTreeMap<Uuid, (i64, i64)>,
    acks: usize,
    /// Where the kills landed: before READY, inside a write, inside a sync, between.
    moments: [usize; 4],
}

impl Log {
    /// Reads one process's output. A `DO` line without its `ACK` is a write that may or
    /// may not have committed before the kill.
    fn absorb(&mut self, lines: &[String]) {
        let mut pending: Option<Vec<&str>> = None;
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words.first().copied() {
                Some("DO") => pending = Some(words[1..].to_vec()),
                Some("ACK") => {
                    pending = None;
                    self.acks += 1;
                    self.ack(&words[1..]);
                }
                _ => {}
            }
        }
        let last = lines
            .iter()
            .rev()
            .find(|l| !l.is_empty())
            .map(String::as_str);
        let moment = match last {
            None => 0,
            Some(l) if l.starts_with("DO ") => 1,
            Some("SYNCING") => 2,
            _ => 3,
        };
        self.moments[moment] += 1;
        if let Some(w) = pending {
            self.unacked(&w);
        }
    }

    fn ack(&mut self, w: &[&str]) {
        let id = |s: &str| s.parse::<Uuid>().expect("an id");
        match w {
            ["create", "hero", i, name] | ["edit", "hero", i, name] => {
                let name = name.trim_start_matches("name=").to_owned();
                self.heroes.insert(id(i));
                self.all_names.insert(name.clone());
                self.names.entry(id(i)).or_default().push((name, true));
            }
            ["create", "story", i, _] => {
                self.stories.insert(id(i));
            }
            ["play", "story", i] => self.plays.entry(id(i)).or_default().0 += 1,
            other => panic!("unexpected ACK {other:?}"),
        }
    }

    fn unacked(&mut self, w: &[&str]) {
        match w {
            ["create", "hero", name] => {
                self.all_names
                    .insert(name.trim_start_matches("name=").to_owned());
            }
            ["edit", "hero", i, name] => {
                let name = name.trim_start_matches("name=").to_owned();
                self.all_names.insert(name.clone());
                let i = i.parse().expect("an id");
                self.names.entry(i).or_default().push((name, false));
            }
            ["play", "story", i] => {
                self.plays.entry(i.parse().expect("an id")).or_default().1 += 1;
            }
            _ => {}
        }
    }

    /// Names the hero may have now: its last acknowledged one, or any attempted after it.
    fn possible_names(&self, id: Uuid) -> Vec<&str> {
        let names = &self.names[&id];
        let last_ack = names.iter().rposition(|(_, acked)| *acked).unwrap_or(0);
        names[last_ack..].iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The cache file passes SQLite's own check.
fn integrity(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open the cache");
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(result, "ok", "integrity_check of {}", db.display());
}

/// Every acknowledged write is in the local cache (nothing is ever deleted here).
fn acknowledged_writes_are_local(db: &Path, log: &Log, after: usize) {
    let conn = is_core::db::open(db).expect("open the cache");
    for id in &log.heroes {
        let row = rows::load::<Hero>(&conn, *id)
            .expect("read")
            .unwrap_or_else(|| panic!("kill {after}: acknowledged hero {id} is not in the cache"));
        let ok = log.possible_names(*id);
        assert!(
            ok.contains(&row.fields.name.as_str()),
            "kill {after}: hero {id} is named {:?} locally, the acknowledged name is {:?}",
            row.fields.name,
            ok[0]
        );
    }
    for id in &log.stories {
        assert!(
            rows::load::<Story>(&conn, *id).expect("read").is_some(),
            "kill {after}: acknowledged story {id} is not in the cache"
        );
    }
    for (id, (acked, maybe)) in &log.plays {
        let row = rows::load::<Story>(&conn, *id)
            .expect("read")
            .unwrap_or_else(|| panic!("kill {after}: played story {id} is not in the cache"));
        let n = row.counter();
        assert!(
            (*acked..=acked + maybe).contains(&n),
            "kill {after}: story {id} shows {n} plays locally, {acked} acknowledged (+{maybe} unacknowledged)"
        );
    }
}

struct Writer {
    exe: &'static str,
    dir: PathBuf,
    url: String,
}

impl Writer {
    fn command(&self, seed: u64) -> Command {
        let mut cmd = Command::new(self.exe);
        cmd.arg(&self.dir)
            .arg(&self.url)
            .arg(EMAIL)
            .arg(TEST_PASSWORD)
            .arg(seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    }

    /// Runs the writer and SIGKILLs it after `after`; its output up to then.
    fn run_and_kill(&self, seed: u64, after: Duration) -> Vec<String> {
        let mut child = self.command(seed).spawn().expect("start crash_writer");
        let out = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(after);
        // std's kill is SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
        reader.join().expect("the reader thread")
    }

    fn drain(&self) -> Vec<String> {
        let out = self
            .command(0)
            .arg("--drain")
            .output()
            .expect("run crash_writer --drain");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "drain failed: {text}");
        text.lines().map(str::to_owned).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_duplicates_nothing() {
    let kills = env_u64("CRASH_KILLS").unwrap_or(100);
    let seed = env_u64("CRASH_SEED").unwrap_or(20_260_105);
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(&tmp.path().join("server.sqlite3")).await;
    let user = server.signup(EMAIL).await.user.id;
    let writer = Writer {
        exe: env!("CARGO_BIN_EXE_crash_writer"),
        dir: tmp.path().join("device"),
        url: server.base_url.clone(),
    };
    let db = writer.dir.join("cache.sqlite3");
    let moments = SplitMix64::new(seed);
    let mut log = Log::default();
    let started = Instant::now();
    tokio::task::block_in_place(|| {
        for k in 0..kills {
            // One kill in ten during start-up (opening, migrations, sign-in), the others
            // anywhere in the first 400 ms of writes and syncs.
            let r = moments.next_u64();
            let after = Duration::from_micros(if r.is_multiple_of(10) {
                r % 10_000
            } else {
                r % 400_000
            });
            let lines = writer.run_and_kill(seed.wrapping_add(k * 7919), after);
            log.absorb(&lines);
            if db.exists() {
                integrity(&db);
                acknowledged_writes_are_local(&db, &log, k as usize);
            }
        }
    });
    let killed_in = started.elapsed();
    let drained = tokio::task::block_in_place(|| writer.drain());
    assert!(drained.iter().any(|l| l == "DRAINED"), "{drained:?}");
    integrity(&db);
    acknowledged_writes_are_local(&db, &log, kills as usize);

    // The server has every row exactly once, as the device has it.
    let conn = is_core::db::open(&db).expect("open the cache");
    assert_eq!(
        is_core::outbox::len(&conn).unwrap(),
        0,
        "outbox after the drain"
    );
    let local_heroes = rows::load_where::<Hero>(&conn, "1 = 1", "id", []).unwrap();
    let local_stories = rows::load_where::<Story>(&conn, "1 = 1", "id", []).unwrap();
    let states = local_heroes.iter().map(|h| h.state);
    let mut states = states.chain(local_stories.iter().map(|s| s.state));
    assert!(
        states.all(|s| s == SyncState::Synced),
        "every row synced after the drain"
    );
    let (server_heroes, server_stories) = server.state.with_conn(|c| {
        (
            story_server::table::changed_since::<is_protocol::Hero>(c, user, 0, 1 << 30).unwrap(),
            story_server::table::changed_since::<is_protocol::Story>(c, user, 0, 1 << 30).unwrap(),
        )
    });
    assert_eq!(
        server_heroes.len(),
        local_heroes.len(),
        "heroes on the server"
    );
    assert_eq!(
        server_stories.len(),
        local_stories.len(),
        "stories on the server"
    );
    let mut names = BTreeSet::new();
    for h in &server_heroes {
        let local = local_heroes
            .iter()
            .find(|l| l.id == h.record.id)
            .expect("every server hero is on the device");
        assert_eq!(local.fields.name, h.record.name);
        assert!(
            log.all_names.contains(&h.record.name),
            "hero {} is named {:?}, which no process wrote",
            h.record.id,
            h.record.name
        );
        assert!(
            names.insert(h.record.name.clone()),
            "a hero created twice: {}",
            h.record.name
        );
    }
    for id in &log.heroes {
        assert!(
            server_heroes.iter().any(|h| h.record.id == *id),
            "acknowledged hero {id} is not on the server"
        );
    }
    let mut titles = BTreeSet::new();
    for s in &server_stories {
        assert!(
            titles.insert(s.record.title.clone()),
            "a story created twice: {}",
            s.record.title
        );
        let (acked, maybe) = log.plays.get(&s.record.id).copied().unwrap_or_default();
        assert!(
            (acked..=acked + maybe).contains(&s.record.play_count),
            "story {} has {} plays on the server, {acked} acknowledged (+{maybe} unacknowledged)",
            s.record.id,
            s.record.play_count
        );
        let local = local_stories
            .iter()
            .find(|l| l.id == s.record.id)
            .expect("on the device");
        assert_eq!(
            local.counter(),
            s.record.play_count,
            "plays on the device and the server"
        );
    }
    for id in &log.stories {
        assert!(
            server_stories.iter().any(|s| s.record.id == *id),
            "acknowledged story {id} is not on the server"
        );
    }
    let plays: i64 = log.plays.values().map(|p| p.0).sum();
    let [start, write, sync, between] = log.moments;
    // Straight to stderr, so that the summary shows even when the harness captures.
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {kills} SIGKILLs in {:.1}s (during start-up {start}, inside a local write {write}, inside a sync {sync}, between {between}; {} acknowledged writes, {} heroes, {} stories, {plays} acknowledged plays on the server)",
        killed_in.as_secs_f64(),
        log.acks,
        server_heroes.len(),
        server_stories.len()
    );
}
