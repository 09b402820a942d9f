//! The simulated network: a [`Transport`] that hands each request to the server's
//! `Router` in-process (`tower::ServiceExt::oneshot`, no sockets), under a seeded fault
//! plan, and watches every write the server makes.
//!
//! The server may be several replicas on one database (`SIM_REPLICAS`, see
//! [`Replicas`]): a seeded balancer spreads the requests over the replicas that are up,
//! as a load balancer with health checks does, and the world kills one replica and
//! starts it again mid-run.
//!
//! Requests are built and answers decoded the way `HttpTransport` does it (same paths,
//! methods, bearer token, JSON bodies, `Retry-After`, the `{error: …}` envelope), so the
//! core sees exactly what it would see over HTTP. `HttpTransport` keeps its request
//! building and answer decoding private, so [`decode`] and [`error_body`] mirror them
//! here (see FINDINGS.md: "refactors").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use is_core::rng::{Rng, SplitMix64};
use is_core::transport::{BoxFuture, Transport, TransportError, TransportResult};
use is_protocol::{
    ChangesResponse, CustomEvent, ErrorBody, ErrorEnvelope, Health, Hero, LoginRequest, MutationOp,
    Outcome, PushRequest, PushResponse, SessionResponse, SignupRequest, Story,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use story_server::table;
use story_server::AppState;
use tower::ServiceExt;
use uuid::Uuid;

/// What the network does to requests, per request (each a probability, drawn in order).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// Dropped before the server: `Unreachable`.
    pub drop: f64,
    /// The server applies it, the answer is lost: `Timeout`.
    pub lose: f64,
    /// 503 with a JSON error body, nothing applied.
    pub e503: f64,
    /// 429 with `Retry-After`, nothing applied.
    pub e429: f64,
    /// Delivered late (a few yields).
    pub delay: f64,
}

impl FaultRates {
    pub fn is_calm(&self) -> bool {
        *self == FaultRates::default()
    }
}

impl std::fmt::Display for FaultRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "drop={:.2} lose={:.2} 503={:.2} 429={:.2} delay={:.2}",
            self.drop, self.lose, self.e503, self.e429, self.delay
        )
    }
}

/// How often each fault and event was exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub dropped: u64,
    pub lost_answers: u64,
    pub e503: u64,
    pub e429: u64,
    pub delayed: u64,
    pub partitions: u64,
    pub partitioned_requests: u64,
    pub restarts: u64,
    pub replica_restarts: u64,
    pub resyncs_410: u64,
    pub prunes: u64,
    pub pruned_tombstones: u64,
    pub push_conflicts: u64,
    pub push_duplicates: u64,
    pub push_rejected: u64,
    pub conflicts_resolved: u64,
    pub retried_by_user: u64,
    pub discarded_by_user: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        let pairs: [(&mut u64, u64); 19] = [
            (&mut self.requests, o.requests),
            (&mut self.dropped, o.dropped),
            (&mut self.lost_answers, o.lost_answers),
            (&mut self.e503, o.e503),
            (&mut self.e429, o.e429),
            (&mut self.delayed, o.delayed),
            (&mut self.partitions, o.partitions),
            (&mut self.partitioned_requests, o.partitioned_requests),
            (&mut self.restarts, o.restarts),
            (&mut self.replica_restarts, o.replica_restarts),
            (&mut self.resyncs_410, o.resyncs_410),
            (&mut self.prunes, o.prunes),
            (&mut self.pruned_tombstones, o.pruned_tombstones),
            (&mut self.push_conflicts, o.push_conflicts),
            (&mut self.push_duplicates, o.push_duplicates),
            (&mut self.push_rejected, o.push_rejected),
            (&mut self.conflicts_resolved, o.conflicts_resolved),
            (&mut self.retried_by_user, o.retried_by_user),
            (&mut self.discarded_by_user, o.discarded_by_user),
        ];
        for (a, b) in pairs {
            *a += b;
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  requests through the faulty network  {}",
            self.requests
        )?;
        writeln!(f, "  dropped before the server           {}", self.dropped)?;
        writeln!(
            f,
            "  answers lost after the server       {}",
            self.lost_answers
        )?;
        writeln!(f, "  503 answers                         {}", self.e503)?;
        writeln!(f, "  429 answers (Retry-After)           {}", self.e429)?;
        writeln!(f, "  delayed (reordered by yields)       {}", self.delayed)?;
        writeln!(
            f,
            "  partitions / requests refused       {} / {}",
            self.partitions, self.partitioned_requests
        )?;
        writeln!(f, "  client restarts                     {}", self.restarts)?;
        writeln!(
            f,
            "  server replicas killed, restarted   {}",
            self.replica_restarts
        )?;
        writeln!(
            f,
            "  prunes / tombstones pruned          {} / {}",
            self.prunes, self.pruned_tombstones
        )?;
        writeln!(
            f,
            "  410 full resyncs                    {}",
            self.resyncs_410
        )?;
        writeln!(
            f,
            "  push conflicts (server answers)     {}",
            self.push_conflicts
        )?;
        writeln!(
            f,
            "  push duplicates (replays answered)  {}",
            self.push_duplicates
        )?;
        writeln!(
            f,
            "  push rejections                     {}",
            self.push_rejected
        )?;
        writeln!(
            f,
            "  conflicts resolved by the user      {}",
            self.conflicts_resolved
        )?;
        writeln!(
            f,
            "  failed rows retried by the user     {}",
            self.retried_by_user
        )?;
        write!(
            f,
            "  refused rows discarded by the user  {}",
            self.discarded_by_user
        )
    }
}

/// Who made a server write.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A pushed mutation of this client (`op` as on the wire).
    Client {
        client: usize,
        mutation: Uuid,
        op: &'static str,
    },
    /// The server on its own (a hero delete unlinking its stories).
    Server,
}

/// One version of a row as the server wrote it.
#[derive(Debug, Clone)]
pub struct ServerWrite {
    /// The record as JSON (fields by name, `version`, `deleted`).
    pub record: Value,
    pub origin: Origin,
    pub step: usize,
}

/// What the network saw the server do.
#[derive(Debug, Default)]
pub struct Observed {
    /// Every version of every row, as written.
    pub history: BTreeMap<Uuid, BTreeMap<i64, ServerWrite>>,
    /// Server writes per mutation id (more than one: a mutation took effect twice).
    pub effects: BTreeMap<Uuid, u32>,
    /// (client, row) pairs whose mutation the server definitively refused.
    pub refused: BTreeSet<(usize, Uuid)>,
    /// Per client: the step of its first change-feed page received.
    pub first_pull: BTreeMap<usize, usize>,
    /// (client, row) → the steps at which the server answered its mutation `conflict`.
    pub conflicts: BTreeMap<(usize, Uuid), Vec<usize>>,
    /// Broken protocol rules seen on the wire (version preconditions, ...).
    pub anomalies: Vec<String>,
    last_seq: i64,
}

/// A deliberately broken network, for the oracle's self-tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sabotage {
    #[default]
    None,
    /// Every push is sent a second time with fresh mutation ids (so the server's
    /// idempotency cannot recognise it).
    ReplayWithFreshIds,
    /// The first acknowledged hero edit is silently undone in the server's database.
    UndoAckedWrite,
}

struct NetState {
    rates: FaultRates,
    /// Per client: steps left in its partition.
    partitioned: Vec<u32>,
    /// Faults apply only while the history runs (not during sign-in).
    active: bool,
    step: usize,
    /// The current step's salt, and how many fates were drawn in it.
    salt: u64,
    drawn: u64,
    stats: Stats,
    observed: Observed,
    sabotage: Sabotage,
    sabotaged: bool,
}

/// One server process: its state and its routes.
struct Replica {
    state: AppState,
    router: axum::Router,
}

/// The server's replicas, each up (`Some`) or down, and how to start one: every replica
/// opens the same database, so on PostgreSQL they are several processes of one service.
pub struct Replicas {
    start: Box<dyn Fn() -> AppState + Send + Sync>,
    up: Mutex<Vec<Option<Replica>>>,
    /// Requests balanced so far (the balancer's next choice is drawn from it).
    routed: Mutex<u64>,
}

impl Replicas {
    /// `count` replicas, each started by `start`.
    pub fn new(count: usize, start: impl Fn() -> AppState + Send + Sync + 'static) -> Replicas {
        let up = (0..count.max(1))
            .map(|_| {
                let state = start();
                Some(Replica {
                    router: story_server::app(state.clone()),
                    state,
                })
            })
            .collect();
        Replicas {
            start: Box::new(start),
            up: Mutex::new(up),
            routed: Mutex::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Option<Replica>>> {
        self.up.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// A replica that is up (the first one), for work that any replica may do: the
    /// oracle's reads, tombstone pruning. One is always up.
    pub fn any(&self) -> AppState {
        self.lock()
            .iter()
            .flatten()
            .next()
            .map(|r| r.state.clone())
            .expect("a replica is up")
    }

    /// The balancer's choice for the next request among the replicas that are up, drawn
    /// from `salt`.
    fn route(&self, salt: u64) -> axum::Router {
        let n = {
            let mut routed = self.routed.lock().unwrap_or_else(|e| e.into_inner());
            *routed += 1;
            *routed
        };
        let up = self.lock();
        let live: Vec<&Replica> = up.iter().flatten().collect();
        let pick = SplitMix64::new(salt ^ n.wrapping_mul(0xA24B_AED4_963E_E407)).next_u64();
        live[(pick % live.len() as u64) as usize].router.clone()
    }

    /// Kills replica `i` (its state is dropped with everything in memory: rate limits,
    /// caches, batched writes not yet committed). Requests go to the others meanwhile.
    pub fn kill(&self, i: usize) {
        let mut up = self.lock();
        if up.iter().flatten().count() > 1 {
            up[i] = None;
        }
    }

    /// Starts replica `i` again on the same database.
    pub fn restart(&self, i: usize) {
        if self.lock()[i].is_some() {
            return;
        }
        let state = (self.start)();
        self.lock()[i] = Some(Replica {
            router: story_server::app(state.clone()),
            state,
        });
    }
}

/// The network between the clients and the server.
pub struct Net {
    replicas: Replicas,
    rng: SplitMix64,
    user: Mutex<Option<Uuid>>,
    inner: Mutex<NetState>,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Pass,
    Partitioned,
    Drop,
    Lose,
    E503,
    E429(u64),
    Delay(u32),
}

/// An answer as the transport sees it: status, `Retry-After`, body.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Net {
    pub fn new(replicas: Replicas, clients: usize, seed: u64, sabotage: Sabotage) -> Arc<Net> {
        Arc::new(Net {
            replicas,
            rng: SplitMix64::new(seed),
            user: Mutex::new(None),
            inner: Mutex::new(NetState {
                rates: FaultRates::default(),
                partitioned: vec![0; clients],
                active: false,
                step: 0,
                salt: 0,
                drawn: 0,
                stats: Stats::default(),
                observed: Observed::default(),
                sabotage,
                sabotaged: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, NetState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn transport(self: &Arc<Net>, client: usize) -> Arc<SimTransport> {
        Arc::new(SimTransport {
            client,
            net: self.clone(),
        })
    }

    /// The account whose rows are watched.
    pub fn set_user(&self, user: Uuid) {
        *self.user.lock().unwrap_or_else(|e| e.into_inner()) = Some(user);
    }

    pub fn activate(&self) {
        self.lock().active = true;
    }

    /// A new step: its requests' fates come from `salt` and their order in the step.
    pub fn set_step(&self, step: usize, salt: u64) {
        let mut g = self.lock();
        g.step = step;
        g.salt = salt;
        g.drawn = 0;
    }

    pub fn set_rates(&self, rates: FaultRates) {
        self.lock().rates = rates;
    }

    pub fn partition(&self, client: usize, steps: u32) {
        let mut g = self.lock();
        g.partitioned[client] = g.partitioned[client].max(steps);
        g.stats.partitions += 1;
    }

    /// One step passed: partitions shrink.
    pub fn tick(&self) {
        for p in self.lock().partitioned.iter_mut() {
            *p = p.saturating_sub(1);
        }
    }

    /// No more faults: rates to zero, partitions over.
    pub fn heal(&self) {
        let mut g = self.lock();
        g.rates = FaultRates::default();
        g.partitioned.iter_mut().for_each(|p| *p = 0);
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.lock().stats)
    }

    pub fn with_observed<T>(&self, f: impl FnOnce(&Observed) -> T) -> T {
        f(&self.lock().observed)
    }

    pub fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    fn fate(&self, client: usize) -> Fate {
        let mut g = self.lock();
        if !g.active {
            return Fate::Pass;
        }
        g.stats.requests += 1;
        if g.partitioned[client] > 0 {
            g.stats.partitioned_requests += 1;
            return Fate::Partitioned;
        }
        let r = g.rates;
        g.drawn += 1;
        let draw = SplitMix64::new(
            g.salt ^ g.drawn.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((client as u64) << 56),
        );
        let x = draw.next_f64();
        let extra = draw.next_u64();
        let mut edge = 0.0;
        let mut hit = |p: f64| {
            edge += p;
            x < edge
        };
        if hit(r.drop) {
            g.stats.dropped += 1;
            Fate::Drop
        } else if hit(r.lose) {
            g.stats.lost_answers += 1;
            Fate::Lose
        } else if hit(r.e503) {
            g.stats.e503 += 1;
            Fate::E503
        } else if hit(r.e429) {
            g.stats.e429 += 1;
            Fate::E429(1 + extra % 120)
        } else if hit(r.delay) {
            g.stats.delayed += 1;
            Fate::Delay(1 + (extra % 8) as u32)
        } else {
            Fate::Pass
        }
    }

    /// Sends one request through the fault plan; `watch` is called with the server's
    /// answer when the server saw the request.
    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        client: usize,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&B>,
        watch: impl FnOnce(&Net, &Answer),
    ) -> TransportResult<T> {
        let fate = self.fate(client);
        match fate {
            Fate::Partitioned => {
                return Err(TransportError::Unreachable("sim: partitioned".into()));
            }
            Fate::Drop => return Err(TransportError::Unreachable("sim: dropped".into())),
            Fate::E503 => return decode(&synthetic(503, "unavailable", None)),
            Fate::E429(secs) => return decode(&synthetic(429, "rate_limited", Some(secs))),
            Fate::Delay(n) => {
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
            }
            Fate::Pass | Fate::Lose => {}
        }
        let body = body.map(|b| serde_json::to_vec(b).expect("a request body serializes"));
        let answer = self.call(method, uri, token, body).await;
        watch(self, &answer);
        if fate == Fate::Lose {
            return Err(TransportError::Timeout);
        }
        decode(&answer)
    }

    /// The server's answer to one request, in-process.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("a well-formed request");
        let salt = self.lock().salt;
        let resp = self
            .replicas
            .route(salt)
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("an in-memory body")
            .to_vec();
        Answer {
            status,
            retry_after,
            body,
        }
    }

    /// After a push reached the server: what it answered per mutation, and every row
    /// version it wrote (read from its database), attributed to a mutation or to itself.
    fn watch_push(&self, client: usize, req: &PushRequest, answer: &Answer) {
        let resp: Option<PushResponse> = answer
            .status
            .is_success()
            .then(|| serde_json::from_slice(&answer.body).ok())
            .flatten();
        let user = *self.user.lock().unwrap_or_else(|e| e.into_inner());
        let mut g = self.lock();
        let step = g.step;
        let g = &mut *g;
        // (row, version) → (origin, record) for every mutation the server applied.
        let mut applied: BTreeMap<(Uuid, i64), (Origin, Value)> = BTreeMap::new();
        for result in resp.iter().flat_map(|r| &r.results) {
            let Some(m) = req
                .mutations
                .iter()
                .find(|m| m.mutation_id == result.mutation_id)
            else {
                g.observed
                    .anomalies
                    .push(format!("step {step}: an answer for a mutation nobody sent"));
                continue;
            };
            match &result.outcome {
                Outcome::Applied { record } => {
                    let mut rec = serde_json::to_value(record).expect("a record serializes");
                    // As the server's table gives it: without the wire's entity tag.
                    if let Some(m) = rec.as_object_mut() {
                        m.remove("entity");
                    }
                    let version = rec["version"].as_i64().unwrap_or(-1);
                    let fresh = !g
                        .observed
                        .history
                        .get(&m.id)
                        .is_some_and(|h| h.contains_key(&version));
                    let expected = match &m.op {
                        MutationOp::Create { .. } => Some(1),
                        MutationOp::Update { base_version, .. }
                        | MutationOp::Delete { base_version } => Some(base_version + 1),
                        MutationOp::Increment { .. } => None,
                    };
                    if let Some(want) = expected.filter(|want| fresh && version != *want) {
                        g.observed.anomalies.push(format!(
                            "step {step}: c{client} {} of {} applied as version {version}, \
                             its precondition says {want}",
                            m.op.name(),
                            m.id
                        ));
                    }
                    let origin = Origin::Client {
                        client,
                        mutation: m.mutation_id,
                        op: m.op.name(),
                    };
                    applied.insert((m.id, version), (origin, rec));
                }
                Outcome::Duplicate { .. } => {
                    g.stats.push_duplicates += 1;
                }
                Outcome::Conflict { .. } => {
                    g.stats.push_conflicts += 1;
                    g.observed
                        .conflicts
                        .entry((client, m.id))
                        .or_default()
                        .push(step);
                }
                Outcome::Rejected { .. } => {
                    g.stats.push_rejected += 1;
                    g.observed.refused.insert((client, m.id));
                }
            }
        }
        let Some(user) = user else { return };
        let after = g.observed.last_seq;
        let written = self.replicas.any().with_conn(|conn| {
            let mut rows: Vec<(i64, Uuid, i64, Value)> = Vec::new();
            macro_rules! rows_of {
                ($E:ty) => {
                    for r in table::changed_since::<$E>(conn, user, after, usize::MAX >> 2)
                        .expect("reading the server's rows")
                    {
                        let rec = serde_json::to_value(&r.record).expect("a record serializes");
                        let id = rec["id"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .expect("an id");
                        let version = rec["version"].as_i64().expect("a version");
                        rows.push((r.seq, id, version, rec));
                    }
                };
            }
            rows_of!(Hero);
            rows_of!(Story);
            rows_of!(CustomEvent);
            rows.sort_by_key(|r| r.0);
            rows
        });
        // What this request wrote: each row's latest version from the database, plus
        // versions it wrote and overwrote within the request (a story created, then
        // unlinked by its hero's delete in the same batch), as the answers give them.
        let mut new: BTreeMap<(Uuid, i64), (Origin, Value)> = BTreeMap::new();
        for (seq, id, version, rec) in written {
            g.observed.last_seq = g.observed.last_seq.max(seq);
            let origin = match applied.remove(&(id, version)) {
                Some((origin, _)) => origin,
                None => Origin::Server,
            };
            new.insert((id, version), (origin, rec));
        }
        for ((id, version), (origin, rec)) in applied {
            let known = g
                .observed
                .history
                .get(&id)
                .is_some_and(|h| h.contains_key(&version));
            if !known {
                new.insert((id, version), (origin, rec));
            }
        }
        for ((id, version), (origin, rec)) in new {
            g.observed.record(id, version, rec, origin, step);
        }
    }

    /// The self-tests' broken network, after a push the server answered.
    async fn sabotage(&self, client: usize, token: &str, req: &PushRequest) {
        let mode = self.lock().sabotage;
        match mode {
            Sabotage::None => {}
            Sabotage::ReplayWithFreshIds => {
                let mut again = req.clone();
                for m in &mut again.mutations {
                    m.mutation_id = is_core::rng::new_id(&FixedClock, &self.rng);
                }
                let answer = self
                    .call(
                        Method::POST,
                        "/api/sync/push",
                        Some(token),
                        Some(serde_json::to_vec(&again).expect("serializes")),
                    )
                    .await;
                self.watch_push(client, &again, &answer);
            }
            Sabotage::UndoAckedWrite => self.undo_first_acked_hero_edit(),
        }
    }

    fn undo_first_acked_hero_edit(&self) {
        let mut g = self.lock();
        if g.sabotaged {
            return;
        }
        // The newest hero version written by an update, and the name before it.
        let mut target = None;
        for (id, versions) in &g.observed.history {
            let mut prev: Option<&ServerWrite> = None;
            for w in versions.values() {
                if let (Some(p), Origin::Client { op: "update", .. }) = (prev, &w.origin) {
                    let hero = w.record.get("age").is_some();
                    if hero && p.record["name"] != w.record["name"] {
                        target = Some((*id, p.record["name"].clone()));
                    }
                }
                prev = Some(w);
            }
        }
        let Some((id, name)) = target else { return };
        g.sabotaged = true;
        drop(g);
        self.replicas.any().with_conn(|conn| {
            conn.execute(
                "UPDATE heroes SET name = ?1 WHERE id = ?2",
                story_server::params![name.as_str().unwrap_or_default(), id.to_string()],
            )
            .expect("undoing a write");
        });
    }
}

impl Observed {
    fn record(&mut self, id: Uuid, version: i64, rec: Value, origin: Origin, step: usize) {
        if let Origin::Client { mutation, .. } = &origin {
            *self.effects.entry(*mutation).or_default() += 1;
        }
        let versions = self.history.entry(id).or_default();
        if let Some((&last, _)) = versions.last_key_value() {
            if version <= last {
                self.anomalies.push(format!(
                    "step {step}: {id} written at version {version} after version {last}"
                ));
            }
        }
        versions.insert(
            version,
            ServerWrite {
                record: rec,
                origin,
                step,
            },
        );
    }
}

/// A clock for ids the sabotage makes up (their time does not matter).
struct FixedClock;

impl is_core::clock::Clock for FixedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::UNIX_EPOCH
    }
}

/// An error answer as the server would send it.
fn synthetic(status: u16, code: &str, retry_after: Option<u64>) -> Answer {
    let body = serde_json::json!({"error": {"code": code, "message": format!("sim: {code}")}});
    Answer {
        status: StatusCode::from_u16(status).expect("a valid status"),
        retry_after: retry_after.map(|s| s.to_string()),
        body: serde_json::to_vec(&body).expect("serializes"),
    }
}

/// An answer decoded as `HttpTransport::send` decodes it.
fn decode<T: DeserializeOwned>(a: &Answer) -> TransportResult<T> {
    if a.status.is_success() {
        let body: &[u8] = if a.body.is_empty() { b"null" } else { &a.body };
        return serde_json::from_slice(body).map_err(|e| TransportError::Protocol(e.to_string()));
    }
    Err(TransportError::Http {
        status: a.status.as_u16(),
        body: error_body(a.status, &a.body),
        retry_after: a
            .retry_after
            .as_deref()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs),
    })
}

/// The server's `{error: {...}}` body, or a generic one (as `HttpTransport` does it).
fn error_body(status: StatusCode, bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice::<ErrorEnvelope>(bytes)
        .map(|e| e.error)
        .unwrap_or_else(|_| {
            ErrorBody::new(
                "http",
                status
                    .canonical_reason()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            )
        })
}

/// One client's end of the network.
pub struct SimTransport {
    client: usize,
    net: Arc<Net>,
}

const NO_BODY: Option<&()> = None;

fn ignore(_: &Net, _: &Answer) {}

impl Transport for SimTransport {
    fn base_url(&self) -> &str {
        "http://sim.invalid"
    }

    fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
        Box::pin(self.net.send(
            self.client,
            Method::GET,
            "/api/health",
            None,
            NO_BODY,
            ignore,
        ))
    }

    fn signup<'a>(
        &'a self,
        req: &'a SignupRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(self.net.send(
            self.client,
            Method::POST,
            "/api/auth/signup",
            None,
            Some(req),
            ignore,
        ))
    }

    fn login<'a>(
        &'a self,
        req: &'a LoginRequest,
    ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
        Box::pin(self.net.send(
            self.client,
            Method::POST,
            "/api/auth/login",
            None,
            Some(req),
            ignore,
        ))
    }

    fn logout<'a>(&'a self, token: &'a str) -> BoxFuture<'a, TransportResult<()>> {
        Box::pin(async move {
            let _: Value = self
                .net
                .send(
                    self.client,
                    Method::POST,
                    "/api/auth/logout",
                    Some(token),
                    NO_BODY,
                    ignore,
                )
                .await?;
            Ok(())
        })
    }

    fn push<'a>(
        &'a self,
        token: &'a str,
        req: &'a PushRequest,
    ) -> BoxFuture<'a, TransportResult<PushResponse>> {
        let client = self.client;
        Box::pin(async move {
            let mut reached = false;
            let answer = self
                .net
                .send(
                    client,
                    Method::POST,
                    "/api/sync/push",
                    Some(token),
                    Some(req),
                    |net, a| {
                        reached = a.status.is_success();
                        net.watch_push(client, req, a);
                    },
                )
                .await;
            if reached {
                self.net.sabotage(client, token, req).await;
            }
            answer
        })
    }

    fn changes<'a>(
        &'a self,
        token: &'a str,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
        Box::pin(async move {
            let mut uri = format!("/api/sync/changes?limit={limit}");
            if let Some(cursor) = cursor {
                uri.push_str("&cursor=");
                uri.push_str(&percent_encode(cursor));
            }
            let page = self
                .net
                .send(
                    self.client,
                    Method::GET,
                    &uri,
                    Some(token),
                    NO_BODY,
                    |net, a| {
                        if a.status == StatusCode::GONE {
                            net.count(|s| s.resyncs_410 += 1);
                        }
                    },
                )
                .await;
            if page.is_ok() {
                let mut g = self.net.lock();
                let step = g.step;
                g.observed.first_pull.entry(self.client).or_insert(step);
            }
            page
        })
    }

    fn get_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, TransportResult<Value>> {
        Box::pin(
            self.net
                .send(self.client, Method::GET, path, Some(token), NO_BODY, ignore),
        )
    }

    fn post_json<'a>(
        &'a self,
        token: &'a str,
        path: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, TransportResult<Value>> {
        Box::pin(self.net.send(
            self.client,
            Method::POST,
            path,
            Some(token),
            Some(body),
            ignore,
        ))
    }
}

/// Query-string encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
