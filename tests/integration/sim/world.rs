//! Runs one history: real cores on their own SQLite files, the real server's router, the
//! simulated network; then heals the network, lets every client settle, and hands the
//! final state to the oracle.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use is_core::clock::ManualClock;
use is_core::entity::store as rows;
use is_core::entity::{SyncEntity, SyncRow};
use is_core::rng::SplitMix64;
use is_core::sync::plan::RetryPolicy;
use is_core::sync::state::SyncState;
use is_core::{ConflictChoice, ConflictStrategy, Core, CoreConfig, CustomEvent, Hero, Story};
use is_protocol::Entity;
use serde_json::Value;
use story_server::AppState;
use uuid::Uuid;

use crate::history::{Change, Choice, History, Kind, NewRow, Step};
use crate::net::{Net, Replicas, Sabotage, SimTransport, Stats};
use crate::oracle::{ClientFinal, ClientRow, Final, How, Oracle, Violation};

/// Runs `$body` with `$E` the core's entity of a [`Kind`].
macro_rules! with_kind {
    ($kind:expr, $E:ident => $body:expr) => {
        match $kind {
            Kind::Hero => {
                type $E = Hero;
                $body
            }
            Kind::Story => {
                type $E = Story;
                $body
            }
            Kind::Event => {
                type $E = CustomEvent;
                $body
            }
        }
    };
}

/// Work-arounds of known engine bugs (see `known.rs`), each a user action or setting the
/// app offers: with them a seed shows whether anything else is wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Workarounds {
    /// The user presses Retry on rows given up after offline failures.
    pub retry_offline_failures: bool,
    /// Settings: heroes settle conflicts by merge.
    pub hero_merge: bool,
    /// Settings: custom events settle conflicts by merge.
    pub event_merge: bool,
}

impl Workarounds {
    pub const ALL: Workarounds = Workarounds {
        retry_offline_failures: true,
        hero_merge: true,
        event_merge: true,
    };
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub workarounds: Workarounds,
    pub sabotage: Sabotage,
}

/// What one run found.
#[derive(Debug)]
pub struct RunResult {
    pub violations: Vec<Violation>,
    pub stats: Stats,
    /// What happened, step by step (printed for a failing seed).
    pub trace: Vec<String>,
    /// A digest of everything observable, to check that a replay is exact.
    pub digest: u64,
    /// Wall time of set-up, history, settling and checking.
    pub phases: [std::time::Duration; 4],
}

/// The fixed start of every simulated world (the server's clock).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

const EMAIL: &str = "sim@example.com";

/// How many server replicas share the world's database: `SIM_REPLICAS` (default 1). With
/// more than one, requests are balanced over them and one is killed a third of the way
/// through the history and started again at two thirds (meant for PostgreSQL, where
/// replicas are separate processes on one database: `scripts/pg.sh run -- …`).
pub fn replicas() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("SIM_REPLICAS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1usize)
            .max(1)
    })
}

struct Client {
    core: Option<Core>,
    clock: Arc<ManualClock>,
    transport: Arc<SimTransport>,
    dir: PathBuf,
    /// Process starts so far: each gets its own random stream, as a real process would.
    incarnation: u64,
    /// A read-only connection to its database, for the oracle.
    reader: rusqlite::Connection,
}

struct Sim {
    seed: u64,
    opts: Opts,
    server_clock: Arc<story_server::ManualClock>,
    net: Arc<Net>,
    clients: Vec<Client>,
    /// Row ids by kind, in creation order ("hero#2").
    created: BTreeMap<Kind, Vec<Uuid>>,
    oracle: Oracle,
    trace: Vec<String>,
    step: usize,
}

/// A scratch directory on tmpfs when there is one (still real files).
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let mut b = tempfile::Builder::new();
    b.prefix("is-sim-");
    if shm.is_dir() {
        b.tempdir_in(shm)
    } else {
        b.tempdir()
    }
    .expect("a scratch directory")
}

/// Freshly migrated server and client databases, made once per process: a world
/// starts from copies of them (opening a migrated file is five times faster than
/// migrating an empty one). The code under test still opens, checks and uses real files.
fn templates() -> &'static (Vec<u8>, Vec<u8>) {
    static TEMPLATES: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let dir = scratch();
        let server = dir.path().join("server.sqlite3");
        let client = dir.path().join("client.sqlite3");
        let state = AppState::new(story_server::Config::for_tests(&server))
            .expect("a template server database");
        // On PostgreSQL (STORY_TEST_DATABASE_URL) each world's server gets a fresh
        // database of its own instead, and this file stays unused.
        state
            .with_conn(|c| match c.backend() {
                story_server::sql::Backend::Sqlite => {
                    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                }
                story_server::sql::Backend::Postgres => Ok(()),
            })
            .expect("checkpoint");
        drop(state);
        let conn = is_core::db::open(&client).expect("a template client database");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
        drop(conn);
        (
            // Empty on PostgreSQL: no file.
            std::fs::read(&server).unwrap_or_default(),
            std::fs::read(&client).expect("the template client database"),
        )
    })
}

fn mix(a: u64, b: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (a, b).hash(&mut h);
    h.finish()
}

/// Runs `history` (generated from `seed`) and checks the invariants.
pub async fn run(seed: u64, history: &History, opts: Opts) -> RunResult {
    let dir = scratch();
    let t = std::time::Instant::now();
    let mut sim = Sim::start(seed, history, opts, dir.path().to_owned()).await;
    let setup = t.elapsed();
    let replicas = sim.net.replicas().count();
    let victim = (mix(seed, 2) % replicas as u64) as usize;
    let (kill_at, restart_at) = (history.steps.len() / 3, 2 * history.steps.len() / 3);
    for (i, timed) in history.steps.iter().enumerate() {
        sim.step = i;
        if replicas > 1 && i == kill_at {
            sim.net.replicas().kill(victim);
            sim.trace
                .push(format!("    server replica {victim} killed"));
        }
        if replicas > 1 && i == restart_at {
            sim.net.replicas().restart(victim);
            sim.net.count(|s| s.replica_restarts += 1);
            sim.trace
                .push(format!("    server replica {victim} started again"));
        }
        sim.net.set_step(i, timed.salt);
        sim.advance(timed.dt as i64);
        let what = sim.exec(&timed.step).await;
        sim.trace.push(format!("{i:>3} {}  ->  {what}", timed.step));
        sim.net.tick();
    }
    let steps = t.elapsed() - setup;
    sim.settle().await;
    let settle = t.elapsed() - setup - steps;
    let fin = sim.final_state();
    let violations = sim.net.with_observed(|obs| sim.oracle.check(obs, &fin));
    let check = t.elapsed() - setup - steps - settle;
    let digest = sim.digest(&fin, &violations);
    let stats = sim.net.stats();
    let trace = std::mem::take(&mut sim.trace);
    drop(sim);
    drop(dir);
    RunResult {
        violations,
        stats,
        trace,
        digest,
        phases: [setup, steps, settle, check],
    }
}

impl Sim {
    async fn start(seed: u64, history: &History, opts: Opts, dir: PathBuf) -> Sim {
        let (server_db, client_db) = templates();
        if !server_db.is_empty() {
            std::fs::write(dir.join("server.sqlite3"), server_db).expect("a server database");
        }
        let mut config = story_server::Config::for_tests(dir.join("server.sqlite3"));
        // Every tombstone is prunable at once, so that older cursors get 410.
        config.tombstone_horizon = chrono::Duration::zero();
        let server_clock = Arc::new(story_server::ManualClock::new(t0()));
        let clock = server_clock.clone();
        let servers = Replicas::new(replicas(), move || {
            AppState::with_clock(config.clone(), clock.clone()).expect("the server's state opens")
        });
        let net = Net::new(servers, history.clients, mix(seed, 1), opts.sabotage);
        let mut clients = Vec::new();
        for (i, skew) in history.skews.iter().enumerate() {
            let dir = dir.join(format!("c{i}"));
            std::fs::create_dir_all(&dir).expect("a client directory");
            std::fs::write(dir.join("cache.sqlite3"), client_db).expect("a client database");
            let clock = Arc::new(ManualClock::new(t0() + chrono::Duration::seconds(*skew)));
            let transport = net.transport(i);
            let core = open_core(seed, i, 0, &dir, &clock, &transport);
            let reader = rusqlite::Connection::open_with_flags(
                core.config().db_path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .expect("a reader of the client's database");
            clients.push(Client {
                core: Some(core),
                clock,
                transport,
                dir,
                incarnation: 0,
                reader,
            });
        }
        let sim = Sim {
            seed,
            opts,
            server_clock,
            net,
            clients,
            created: Kind::ALL.into_iter().map(|k| (k, Vec::new())).collect(),
            oracle: Oracle::default(),
            trace: Vec::new(),
            step: 0,
        };
        let first = sim.core(0).clone();
        let account = first
            .sign_up(EMAIL, story_server::testing::TEST_PASSWORD, "Sim Parent")
            .await
            .expect("sign up");
        sim.net.set_user(account.user_id);
        for c in 1..sim.clients.len() {
            sim.core(c)
                .sign_in(EMAIL, story_server::testing::TEST_PASSWORD)
                .await
                .expect("sign in");
        }
        for c in 0..sim.clients.len() {
            let core = sim.core(c);
            let w = opts.workarounds;
            if w.hero_merge {
                core.set_conflict_strategy(is_protocol::EntityKind::Hero, ConflictStrategy::Merge)
                    .expect("a setting");
            }
            if w.event_merge {
                core.set_conflict_strategy(
                    is_protocol::EntityKind::CustomEvent,
                    ConflictStrategy::Merge,
                )
                .expect("a setting");
            }
        }
        sim.net.activate();
        sim
    }

    fn core(&self, c: usize) -> &Core {
        self.clients[c].core.as_ref().expect("a running client")
    }

    fn advance(&self, secs: i64) {
        let d = chrono::Duration::seconds(secs);
        self.server_clock.advance(d);
        for c in &self.clients {
            c.clock.advance(d);
        }
    }

    fn target(&self, kind: Kind, k: usize) -> Option<Uuid> {
        self.created[&kind].get(k).copied()
    }

    fn load<E: SyncEntity>(&self, c: usize, id: Uuid) -> Option<SyncRow<E>> {
        rows::load::<E>(&self.clients[c].reader, id).expect("reading a client's row")
    }

    /// The row's fields as the user sees them (hidden while its delete is pending).
    fn visible<E: SyncEntity>(&self, c: usize, id: Uuid) -> Option<SyncRow<E>> {
        self.load::<E>(c, id)
            .filter(|r| r.state != SyncState::Pending(is_core::sync::state::PendingOp::Delete))
    }

    /// Records what a user write changed (every field of a new row).
    fn record<E: SyncEntity>(&mut self, c: usize, id: Uuid, before: Option<&SyncRow<E>>, how: How) {
        let Some(after) = self.load::<E>(c, id) else {
            return;
        };
        let new = fields_json(&after.fields);
        let old = before.map(|b| fields_json(&b.fields));
        for (f, v) in new.as_object().into_iter().flatten() {
            if old.as_ref().is_some_and(|o| o.get(f) == Some(v)) {
                continue;
            }
            self.oracle
                .write(c, id, f, v.clone(), self.step, after.base_version, how);
        }
    }

    async fn exec(&mut self, step: &Step) -> String {
        match step {
            Step::Create { c, row } => self.create(*c, row),
            Step::Edit {
                c,
                kind,
                target,
                changes,
            } => {
                let Some(id) = self.target(*kind, *target) else {
                    return "no such row yet".into();
                };
                with_kind!(*kind, E => self.edit::<E>(*c, id, changes))
            }
            Step::Delete { c, kind, target } => {
                let Some(id) = self.target(*kind, *target) else {
                    return "no such row yet".into();
                };
                let r = with_kind!(*kind, E => self.core(*c).delete::<E>(id));
                match r {
                    Ok(()) => {
                        self.oracle.deleted(*c, id, self.step);
                        "deleted".into()
                    }
                    Err(e) => format!("refused locally: {e}"),
                }
            }
            Step::Increment {
                c,
                kind,
                target,
                times,
            } => {
                let Some(id) = self.target(*kind, *target) else {
                    return "no such row yet".into();
                };
                let mut done = 0;
                for _ in 0..*times {
                    let r = match kind {
                        Kind::Story => self.core(*c).increment::<Story>(id).map(drop),
                        Kind::Event => self.core(*c).increment::<CustomEvent>(id).map(drop),
                        Kind::Hero => return "heroes have no counter".into(),
                    };
                    if r.is_ok() {
                        done += 1;
                        self.oracle.incremented(id);
                    }
                }
                format!("{done} increments")
            }
            Step::Favorite {
                c,
                kind,
                target,
                on,
            } => {
                let Some(id) = self.target(*kind, *target) else {
                    return "no such row yet".into();
                };
                match kind {
                    Kind::Story => self.favorite::<Story>(*c, id, *on),
                    Kind::Event => self.favorite::<CustomEvent>(*c, id, *on),
                    Kind::Hero => "heroes have no favourite".into(),
                }
            }
            Step::Sync { c, times } => {
                let mut what = Vec::new();
                for k in 0..*times {
                    if k > 0 {
                        self.advance(600);
                    }
                    what.push(match self.core(*c).sync_now().await {
                        Ok(r) => format!(
                            "pushed {} applied {} conflicts {} rejected {} failed {} pulled {}",
                            r.pushed, r.applied, r.conflicts, r.rejected, r.failed, r.pulled
                        ),
                        Err(e) => format!("sync failed: {e}"),
                    });
                }
                what.join(" | ")
            }
            Step::Resolve { c, pick, choice } => self.resolve(*c, *pick, *choice),
            Step::Restart { c } => {
                self.restart(*c);
                "restarted".into()
            }
            Step::Prune => match self.net.replicas().any().prune_tombstones() {
                Ok(r) => {
                    self.net.count(|s| {
                        s.prunes += 1;
                        s.pruned_tombstones += r.rows as u64;
                    });
                    format!("{} tombstones pruned", r.rows)
                }
                Err(e) => format!("prune failed: {e:?}"),
            },
            Step::Faults(r) => {
                self.net.set_rates(*r);
                "ok".into()
            }
            Step::Partition { c, steps } => {
                self.net.partition(*c, *steps as u32);
                "ok".into()
            }
            Step::Heal => {
                self.net.heal();
                "ok".into()
            }
            Step::Strategy { c, kind, strategy } => {
                match self
                    .core(*c)
                    .set_conflict_strategy(kind.entity(), *strategy)
                {
                    Ok(()) => {
                        self.oracle.custom_strategy.insert((*c, *kind));
                        "ok".into()
                    }
                    Err(e) => format!("refused: {e}"),
                }
            }
        }
    }

    fn create(&mut self, c: usize, row: &NewRow) -> String {
        let core = self.core(c).clone();
        let result = match row {
            NewRow::Hero(input) => core.create::<Hero>(input.clone()).map(|v| v.id),
            NewRow::Story { input, hero, event } => {
                let mut input = input.clone();
                if let Some(h) = hero {
                    input.hero_id = self.target(Kind::Hero, *h);
                }
                if let Some(id) = event.and_then(|e| self.target(Kind::Event, e)) {
                    input.custom_event_id = Some(id);
                    input.event_type = None;
                }
                core.create::<Story>(input).map(|v| v.id)
            }
            NewRow::Event(input) => core.create::<CustomEvent>(input.clone()).map(|v| v.id),
        };
        match result {
            Ok(id) => {
                let kind = row.kind();
                let n = self.created[&kind].len();
                self.created.get_mut(&kind).expect("every kind").push(id);
                self.oracle.created(c, kind, id, self.step);
                with_kind!(kind, E => self.record::<E>(c, id, None, How::Create));
                format!("{}#{n} = {id}", kind.name())
            }
            Err(e) => format!("refused locally: {e}"),
        }
    }

    fn edit<E: SyncEntity>(&mut self, c: usize, id: Uuid, changes: &[Change]) -> String {
        let Some(before) = self.visible::<E>(c, id) else {
            return "not visible here".into();
        };
        let mut fields = fields_json(&before.fields);
        for ch in changes {
            self.apply(&mut fields, ch);
        }
        let input: E::Input = match serde_json::from_value(fields) {
            Ok(i) => i,
            Err(e) => return format!("not an input: {e}"),
        };
        match self.core(c).update::<E>(id, input) {
            Ok(_) => {
                self.record::<E>(c, id, Some(&before), How::Edit);
                "saved".into()
            }
            Err(e) => format!("refused locally: {e}"),
        }
    }

    fn favorite<E: is_core::Favorite>(&mut self, c: usize, id: Uuid, on: bool) -> String {
        let Some(before) = self.visible::<E>(c, id) else {
            return "not visible here".into();
        };
        match self.core(c).set_favorite::<E>(id, on) {
            Ok(_) => {
                self.record::<E>(c, id, Some(&before), How::Edit);
                "saved".into()
            }
            Err(e) => format!("refused locally: {e}"),
        }
    }

    /// One change of a form, on the input as JSON.
    fn apply(&self, f: &mut Value, ch: &Change) {
        let id = |kind, k| self.target(kind, k).map(|id| Value::String(id.to_string()));
        match ch {
            Change::Name(v) => f["name"] = json(v),
            Change::Age(v) => f["age"] = json(v),
            Change::Traits(v) => f["traits"] = json(v),
            Change::Appearance(v) => f["appearance"] = json(v),
            Change::Ability(v) => f["special_ability"] = json(v),
            Change::Title(v) | Change::EventTitle(v) => f["title"] = json(v),
            Change::Content(v) => f["content"] = json(v),
            Change::Language(v) => f["language"] = json(v),
            Change::StoryHero(None) => f["hero_id"] = Value::Null,
            Change::StoryHero(Some(h)) => {
                if let Some(h) = id(Kind::Hero, *h) {
                    f["hero_id"] = h;
                }
            }
            Change::StoryEvent(e) => {
                f["event_type"] = json(e);
                f["custom_event_id"] = Value::Null;
            }
            Change::StoryCustomEvent(e) => {
                if let Some(e) = id(Kind::Event, *e) {
                    f["custom_event_id"] = e;
                    f["event_type"] = Value::Null;
                }
            }
            Change::Description(v) => f["description"] = json(v),
            Change::PromptSeed(v) => f["prompt_seed"] = json(v),
            Change::Keywords(v) => f["keywords"] = json(v),
            Change::Category(v) => f["category"] = json(v),
            Change::Tone(v) => f["tone"] = json(v),
            Change::Emoji(v) => f["pictogram_emoji"] = json(v),
        }
    }

    fn resolve(&mut self, c: usize, pick: u8, choice: Choice) -> String {
        let core = self.core(c).clone();
        let conflicts: Vec<_> = match core.conflicts() {
            Ok(list) => list
                .into_iter()
                .filter(|s| Kind::from_entity(s.entity).is_some())
                .collect(),
            Err(e) => return format!("no conflicts list: {e}"),
        };
        if conflicts.is_empty() {
            return "no conflict".into();
        }
        let s = &conflicts[pick as usize % conflicts.len()];
        let kind = Kind::from_entity(s.entity).expect("filtered");
        with_kind!(kind, E => self.resolve_one::<E>(c, s.id, pick, choice).0)
    }

    fn resolve_one<E: SyncEntity>(
        &mut self,
        c: usize,
        id: Uuid,
        pick: u8,
        choice: Choice,
    ) -> (String, bool) {
        let core = self.core(c).clone();
        let before = self.load::<E>(c, id);
        let wire = match choice {
            Choice::KeepMine => ConflictChoice::KeepMine,
            Choice::UseServer => ConflictChoice::UseServer,
            Choice::Merge => match core.conflict_detail(E::KIND, id) {
                Ok(d) => {
                    let mut fields = d.merged.clone();
                    for (j, f) in d.needs_choice.iter().enumerate() {
                        if (pick >> (j % 8)) & 1 == 1 {
                            fields[f.as_str()] = d.server[f.as_str()].clone();
                        }
                    }
                    ConflictChoice::Merged { fields }
                }
                Err(e) => return (format!("no conflict detail: {e}"), false),
            },
        };
        let known: Vec<Uuid> = self.all_ids::<E>(c);
        match core.resolve_conflict(E::KIND, id, wire) {
            Ok(()) => {
                self.net.count(|s| s.conflicts_resolved += 1);
                if choice == Choice::Merge {
                    self.record::<E>(c, id, before.as_ref(), How::Merge);
                }
                // A resolution that restores a row deleted elsewhere as a new one: the
                // user made that row, with the values the dialog showed.
                for new in self.all_ids::<E>(c) {
                    if !known.contains(&new) && !self.created[&kind_of::<E>()].contains(&new) {
                        self.created
                            .get_mut(&kind_of::<E>())
                            .expect("a kind")
                            .push(new);
                        self.oracle.created(c, kind_of::<E>(), new, self.step);
                        self.record::<E>(c, new, None, How::Merge);
                    }
                }
                (format!("{} {id}: {choice:?}", E::LABEL), true)
            }
            Err(e) => (format!("{} {id}: refused: {e}", E::LABEL), false),
        }
    }

    fn all_ids<E: SyncEntity>(&self, c: usize) -> Vec<Uuid> {
        rows::load_where::<E>(&self.clients[c].reader, "1 = 1", "id", [])
            .expect("a client's rows")
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    fn restart(&mut self, c: usize) {
        let cl = &mut self.clients[c];
        drop(cl.core.take());
        cl.incarnation += 1;
        cl.core = Some(open_core(
            self.seed,
            c,
            cl.incarnation,
            &cl.dir,
            &cl.clock,
            &cl.transport,
        ));
        self.net.count(|s| s.restarts += 1);
    }

    /// The network heals; every client syncs, and the users settle what waits for them
    /// (conflicts; rows the server refused are discarded; rows given up after answered
    /// failures are retried), until a whole round pushes nothing.
    async fn settle(&mut self) {
        self.net.heal();
        self.step = usize::MAX / 2;
        for round in 0..30 {
            self.step += 1;
            self.net.set_step(self.step, 0);
            self.advance(3600);
            // Quiet when a round pushes nothing and the users have nothing to do: then
            // every client pulled after the last push.
            let mut moved = false;
            for c in 0..self.clients.len() {
                let what = match self.core(c).sync_now().await {
                    Ok(r) => {
                        moved |= r.pushed > 0;
                        format!("pushed {} pulled {}", r.pushed, r.pulled)
                    }
                    Err(e) => {
                        moved = true;
                        format!("sync failed: {e}")
                    }
                };
                self.trace
                    .push(format!("settle {round} c{c} sync -> {what}"));
            }
            for c in 0..self.clients.len() {
                moved |= self.settle_user(c, round);
            }
            if !moved {
                return;
            }
        }
        self.trace
            .push("settle: still moving after 30 rounds".into());
    }

    /// What the user of `c` does about rows that wait for them. True if anything.
    fn settle_user(&mut self, c: usize, round: usize) -> bool {
        let mut acted = false;
        let conflicts = self.core(c).conflicts().unwrap_or_default();
        for (i, s) in conflicts.iter().enumerate() {
            let Some(kind) = Kind::from_entity(s.entity) else {
                continue;
            };
            let h = mix(self.seed, (round * 1000 + c * 10 + i) as u64);
            let choice = [Choice::KeepMine, Choice::UseServer, Choice::Merge][(h % 3) as usize];
            let (what, done) =
                with_kind!(kind, E => self.resolve_one::<E>(c, s.id, (h >> 8) as u8, choice));
            self.trace
                .push(format!("settle {round} c{c} resolve -> {what}"));
            acted |= done;
        }
        for kind in Kind::ALL {
            acted |= with_kind!(kind, E => self.settle_failed::<E>(c, round));
        }
        acted
    }

    fn settle_failed<E: SyncEntity>(&mut self, c: usize, round: usize) -> bool {
        let failed =
            rows::load_where::<E>(&self.clients[c].reader, "sync_status = 'failed'", "id", [])
                .expect("reading failed rows");
        let mut acted = false;
        for row in failed {
            let refused = self.net.with_observed(|o| o.refused.contains(&(c, row.id)));
            let answered = row
                .sync_error
                .as_deref()
                .is_some_and(|e| e.starts_with("the server answered"));
            let core = self.core(c).clone();
            let (what, r) = if refused {
                let r = core.discard::<E>(row.id);
                if r.is_ok() {
                    self.oracle.discarded(c, row.id, self.step);
                    self.net.count(|s| s.discarded_by_user += 1);
                }
                ("discard", r)
            } else if answered || self.opts.workarounds.retry_offline_failures {
                let r = core.retry::<E>(row.id).map(drop);
                if r.is_ok() {
                    self.net.count(|s| s.retried_by_user += 1);
                }
                ("retry", r)
            } else {
                continue;
            };
            self.trace.push(format!(
                "settle {round} c{c} {what} {} {}: {r:?}",
                E::LABEL,
                row.id
            ));
            acted |= r.is_ok();
        }
        acted
    }

    /// Everything the oracle compares: the server's rows and each client's.
    fn final_state(&self) -> Final {
        let server = self.server_rows();
        let mut clients = Vec::new();
        for (c, cl) in self.clients.iter().enumerate() {
            let mut fin = ClientFinal {
                outbox: is_core::outbox::len(&cl.reader).expect("the outbox"),
                increment_heads: is_core::outbox::heads(&cl.reader, usize::MAX >> 2)
                    .expect("the outbox")
                    .into_iter()
                    .flatten()
                    .filter(|e| e.op == is_core::outbox::EntryOp::Increment)
                    .map(|e| e.entity_id)
                    .collect(),
                ..Default::default()
            };
            for kind in Kind::ALL {
                with_kind!(kind, E => client_rows::<E>(&cl.reader, kind, &mut fin.rows));
            }
            let core = self.core(c);
            for (kind, ids) in &self.created {
                for id in ids {
                    let h = core
                        .conflict_history(kind.entity(), *id)
                        .expect("the conflict history");
                    if !h.is_empty() {
                        fin.history.insert(*id, h);
                    }
                }
            }
            clients.push(fin);
        }
        Final { server, clients }
    }

    /// Every row of the account on the server (tombstones included), as JSON records.
    fn server_rows(&self) -> BTreeMap<Uuid, Value> {
        let user = self
            .core(0)
            .account()
            .ok()
            .flatten()
            .expect("signed in")
            .user_id;
        self.net.replicas().any().with_conn(|conn| {
            let mut out = BTreeMap::new();
            macro_rules! all {
                ($E:ty) => {
                    for r in
                        story_server::table::changed_since::<$E>(conn, user, 0, usize::MAX >> 2)
                            .expect("the server's rows")
                    {
                        let id = <$E as Entity>::record_meta(&r.record).id;
                        out.insert(id, serde_json::to_value(&r.record).expect("serializes"));
                    }
                };
            }
            all!(is_protocol::Hero);
            all!(is_protocol::Story);
            all!(is_protocol::CustomEvent);
            out
        })
    }

    fn digest(&self, fin: &Final, violations: &[Violation]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (id, rec) in &fin.server {
            (id, rec.to_string()).hash(&mut h);
        }
        for c in &fin.clients {
            c.outbox.hash(&mut h);
            for (id, r) in &c.rows {
                (
                    id,
                    r.fields.to_string(),
                    r.counter,
                    format!("{:?}", r.state),
                )
                    .hash(&mut h);
            }
        }
        self.net.with_observed(|o| {
            for (id, versions) in &o.history {
                for (v, w) in versions {
                    (id, v, format!("{:?}", w.origin), w.step).hash(&mut h);
                }
            }
        });
        for v in violations {
            v.to_string().hash(&mut h);
        }
        h.finish()
    }
}

fn kind_of<E: SyncEntity>() -> Kind {
    Kind::from_entity(E::KIND).expect("a simulated entity")
}

fn client_rows<E: SyncEntity>(
    conn: &rusqlite::Connection,
    kind: Kind,
    out: &mut BTreeMap<Uuid, ClientRow>,
) {
    for row in rows::load_where::<E>(conn, "1 = 1", "id", []).expect("a client's rows") {
        out.insert(
            row.id,
            ClientRow {
                kind,
                fields: fields_json(&row.fields),
                counter: row.counter(),
                state: row.state,
                sync_error: row.sync_error.clone(),
            },
        );
    }
}

fn fields_json<T: serde::Serialize>(fields: &T) -> Value {
    serde_json::to_value(fields).expect("an input serializes")
}

fn open_core(
    seed: u64,
    c: usize,
    incarnation: u64,
    dir: &std::path::Path,
    clock: &Arc<ManualClock>,
    transport: &Arc<SimTransport>,
) -> Core {
    let mut config = CoreConfig::new(dir, "http://sim.invalid");
    config.retry = RetryPolicy::default();
    let conn = is_core::db::open(&config.db_path()).expect("the client's database opens");
    Core::with_parts(
        conn,
        transport.clone(),
        clock.clone(),
        Arc::new(SplitMix64::new(mix(
            seed,
            1000 + c as u64 * 100 + incarnation,
        ))),
        config,
    )
}

/// A value of a [`Change`] as JSON.
fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("a value serializes")
}
