//! In-process harness: the real router (`story_server::app`) on a temp-file database with a
//! manual clock, driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use is_protocol::{
    ChangeSet, ChangesResponse, CustomEventRecord, EntityKind, HeroRecord, Mutation, MutationOp,
    Outcome, PushRequest, PushResponse, Record, SessionResponse, StoryRecord, UsageStats,
};
use serde_json::{json, Value};
use story_server::media::MediaWorker;
use story_server::{app, AppState, Config, ManualClock};
use tower::ServiceExt;
use uuid::Uuid;

pub const PASSWORD: &str = "a-good-password";

pub struct Harness {
    /// Keeps the database directory alive.
    pub _dir: tempfile::TempDir,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub app: Router,
    /// The media worker, as `serve` runs one (stopped when the harness is dropped).
    pub worker: Option<MediaWorker>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(|_| {})
    }

    pub fn with_config(change: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().join("server.sqlite3"));
        change(&mut config);
        let clock = Arc::new(ManualClock::starting_now());
        let state = AppState::with_clock(config, clock.clone()).unwrap();
        let app = app(state.clone());
        let worker = tokio::runtime::Handle::try_current()
            .is_ok()
            .then(|| state.start_media_worker());
        Harness {
            _dir: dir,
            state,
            clock,
            app,
            worker,
        }
    }

    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            harness: self,
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> Req<'_> {
        self.req(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req(Method::DELETE, path)
    }

    pub async fn signup(&self, email: &str) -> SessionResponse {
        let res = self
            .post("/api/auth/signup")
            .json(json!({ "email": email, "password": PASSWORD, "name": "Parent" }))
            .send()
            .await;
        res.expect(StatusCode::CREATED).json_as()
    }

    /// A fresh token for an existing user (after moving the clock past the token TTL).
    pub async fn login(&self, email: &str) -> String {
        self.post("/api/auth/login")
            .json(json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect(StatusCode::OK)
            .json_as::<SessionResponse>()
            .token
    }

    /// A signed-up user's token.
    pub async fn user(&self, email: &str) -> String {
        self.signup(email).await.token
    }

    pub async fn create_hero(&self, token: &str, name: &str) -> HeroRecord {
        self.post("/api/heroes")
            .token(token)
            .json(hero_json(name))
            .send()
            .await
            .expect(StatusCode::CREATED)
            .json_as()
    }

    pub async fn get_hero(&self, token: &str, id: Uuid) -> Res {
        self.get(&format!("/api/heroes/{id}"))
            .token(token)
            .send()
            .await
    }

    pub async fn push(&self, token: &str, mutations: Vec<Mutation>) -> PushResponse {
        self.post("/api/sync/push")
            .token(token)
            .json(serde_json::to_value(PushRequest { mutations }).unwrap())
            .send()
            .await
            .expect(StatusCode::OK)
            .json_as()
    }

    /// Pushes one mutation and returns its outcome.
    pub async fn push_one(&self, token: &str, m: Mutation) -> Outcome {
        let mut res = self.push(token, vec![m.clone()]).await;
        assert_eq!(res.results.len(), 1);
        let r = res.results.remove(0);
        assert_eq!(r.mutation_id, m.mutation_id);
        r.outcome
    }

    pub async fn changes(&self, token: &str, cursor: Option<&str>, limit: Option<u32>) -> Res {
        let mut q = Vec::new();
        if let Some(c) = cursor {
            q.push(format!("cursor={c}"));
        }
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        let path = if q.is_empty() {
            "/api/sync/changes".to_owned()
        } else {
            format!("/api/sync/changes?{}", q.join("&"))
        };
        self.get(&path).token(token).send().await
    }

    pub async fn changes_ok(
        &self,
        token: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ChangesResponse {
        self.changes(token, cursor, limit)
            .await
            .expect(StatusCode::OK)
            .json_as()
    }

    /// Reads the whole feed from `cursor` to the end, page by page.
    pub async fn drain(
        &self,
        token: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> (Vec<HeroRecord>, String) {
        let mut all = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        loop {
            let page = self.changes_ok(token, cursor.as_deref(), Some(limit)).await;
            all.extend(page.changes.heroes);
            cursor = Some(page.next_cursor);
            if !page.has_more {
                return (all, cursor.unwrap());
            }
        }
    }

    pub fn hero_count(&self) -> i64 {
        self.state.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM heroes", (), |r| r.get(0))
                .unwrap()
        })
    }

    pub fn current_seq(&self) -> i64 {
        self.state
            .with_conn(|c| story_server::db::current_seq(c).unwrap())
    }
}

pub struct Req<'a> {
    harness: &'a Harness,
    builder: axum::http::request::Builder,
    body: Body,
}

impl Req<'_> {
    pub fn token(mut self, token: &str) -> Self {
        self.builder = self
            .builder
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, value: Value) -> Self {
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(serde_json::to_vec(&value).unwrap());
        self
    }

    /// A raw body sent as `application/json` (for malformed JSON).
    pub fn raw_json(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(text.into());
        self
    }

    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Body::from(bytes.into());
        self
    }

    pub async fn send(self) -> Res {
        let req = self.builder.body(self.body).unwrap();
        let res = self.harness.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Res {
            status,
            headers,
            bytes,
        }
    }
}

#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Res {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text()))
    }

    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("unexpected body ({e}): {:?} {}", self.status, self.text()))
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }

    /// Asserts a JSON error with this status and code; returns the `error` object.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(ct.starts_with("application/json"), "content-type {ct:?}");
        let v = self.json();
        let envelope: is_protocol::ErrorEnvelope = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("not an error envelope ({e}): {v}"));
        assert_eq!(envelope.error.code, code, "body: {v}");
        assert!(!envelope.error.message.is_empty());
        v["error"].clone()
    }
}

pub fn hero_json(name: &str) -> Value {
    json!({
        "name": name,
        "age": 7,
        "traits": ["brave", "kind"],
        "appearance": "Red boots",
        "special_ability": "Talks to owls",
    })
}

pub fn create(id: Uuid, data: Value) -> Mutation {
    Mutation {
        mutation_id: Uuid::new_v4(),
        entity: is_protocol::EntityKind::Hero,
        id,
        op: MutationOp::Create { data },
    }
}

pub fn update(id: Uuid, base_version: i64, patch: Value) -> Mutation {
    Mutation {
        mutation_id: Uuid::new_v4(),
        entity: is_protocol::EntityKind::Hero,
        id,
        op: MutationOp::Update {
            base_version,
            patch,
        },
    }
}

pub fn delete(id: Uuid, base_version: i64) -> Mutation {
    Mutation {
        mutation_id: Uuid::new_v4(),
        entity: is_protocol::EntityKind::Hero,
        id,
        op: MutationOp::Delete { base_version },
    }
}

#[track_caller]
pub fn applied(o: &Outcome) -> HeroRecord {
    match o {
        Outcome::Applied {
            record: Record::Hero(h),
        } => h.clone(),
        other => panic!("expected applied, got {other:?}"),
    }
}

#[track_caller]
pub fn conflict(o: &Outcome) -> HeroRecord {
    match o {
        Outcome::Conflict {
            current: Record::Hero(h),
        } => h.clone(),
        other => panic!("expected conflict, got {other:?}"),
    }
}

#[track_caller]
pub fn rejected(o: &Outcome) -> is_protocol::ErrorBody {
    match o {
        Outcome::Rejected { error } => error.clone(),
        other => panic!("expected rejected, got {other:?}"),
    }
}

/// The field names of a `validation` error body.
pub fn fields(details: &Value) -> Vec<String> {
    details["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {details}"))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Stories, custom events, profile (the full data model)

pub fn story_json(hero_id: Option<Uuid>, title: &str) -> Value {
    json!({
        "hero_id": hero_id,
        "title": title,
        "content": "Once upon a time there was a brave hero.\n\nThe end.",
        "language": "en",
        "event_type": "bedtime",
    })
}

pub fn event_json(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Grandma comes to stay",
        "prompt_seed": "cookies and knitting",
        "keywords": ["grandma", "cookies"],
        "category": "family",
        "tone": "heartwarming",
        "pictogram_emoji": "👵",
    })
}

/// A mutation of any entity.
pub fn mutation(entity: EntityKind, id: Uuid, op: MutationOp) -> Mutation {
    Mutation {
        mutation_id: Uuid::new_v4(),
        entity,
        id,
        op,
    }
}

pub fn create_of(entity: EntityKind, id: Uuid, data: Value) -> Mutation {
    mutation(entity, id, MutationOp::Create { data })
}

pub fn update_of(entity: EntityKind, id: Uuid, base_version: i64, patch: Value) -> Mutation {
    mutation(
        entity,
        id,
        MutationOp::Update {
            base_version,
            patch,
        },
    )
}

pub fn delete_of(entity: EntityKind, id: Uuid, base_version: i64) -> Mutation {
    mutation(entity, id, MutationOp::Delete { base_version })
}

pub fn increment_of(entity: EntityKind, id: Uuid, counter: &str, by: i64) -> Mutation {
    mutation(
        entity,
        id,
        MutationOp::Increment {
            counters: [(counter.to_owned(), by)].into_iter().collect(),
        },
    )
}

#[track_caller]
pub fn applied_record(o: &Outcome) -> Record {
    match o {
        Outcome::Applied { record } => record.clone(),
        other => panic!("expected applied, got {other:?}"),
    }
}

#[track_caller]
pub fn applied_story(o: &Outcome) -> StoryRecord {
    match applied_record(o) {
        Record::Story(s) => s,
        other => panic!("expected a story, got {other:?}"),
    }
}

#[track_caller]
pub fn applied_event(o: &Outcome) -> CustomEventRecord {
    match applied_record(o) {
        Record::CustomEvent(e) => e,
        other => panic!("expected a custom event, got {other:?}"),
    }
}

impl Harness {
    pub async fn create_story(
        &self,
        token: &str,
        hero_id: Option<Uuid>,
        title: &str,
    ) -> StoryRecord {
        self.post("/api/stories")
            .token(token)
            .json(story_json(hero_id, title))
            .send()
            .await
            .expect(StatusCode::CREATED)
            .json_as()
    }

    pub async fn create_event(&self, token: &str, title: &str) -> CustomEventRecord {
        self.post("/api/custom-events")
            .token(token)
            .json(event_json(title))
            .send()
            .await
            .expect(StatusCode::CREATED)
            .json_as()
    }

    /// Reads the whole feed from `cursor` to the end, page by page, every entity.
    pub async fn drain_all(
        &self,
        token: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> (Vec<ChangeSet>, String) {
        let mut pages = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        loop {
            let page = self.changes_ok(token, cursor.as_deref(), Some(limit)).await;
            pages.push(page.changes);
            cursor = Some(page.next_cursor);
            if !page.has_more {
                return (pages, cursor.unwrap());
            }
        }
    }

    /// Signs up and makes a hero: (token, hero).
    pub async fn user_with_hero(&self, email: &str) -> (String, HeroRecord) {
        let t = self.user(email).await;
        let hero = self.create_hero(&t, "Luna").await;
        (t, hero)
    }
}

/// The user's usage this month (`GET /api/usage`).
pub async fn usage(h: &Harness, t: &str) -> UsageStats {
    h.get("/api/usage")
        .token(t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as()
}
