//! The route table: every endpoint once, with its handler and its documentation. The
//! router ([`crate::app`]) and the OpenAPI document ([`crate::openapi`]) are both built
//! from it, so neither can list a route the other lacks.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use is_protocol::{
    ChangesResponse, CustomEvent, ErrorEnvelope, FaultPatch, FaultSettings, GenerateStoryRequest,
    Health, Hero, IllustrationRecord, IllustrationsRequest, LoginRequest, MediaJob, Page,
    PushRequest, PushResponse, SessionResponse, SignupRequest, Story, StoryRecord, UsageStats,
    UserProfile, UserProfilePatch,
};

use crate::openapi::{self, error_description, schema, Content, Endpoint, OpDoc, Resp, SchemaFn};
use crate::rest::resource::{self, Resource};
use crate::rest::{profile, stories};
use crate::{auth, faults, media, storygen, sync, AppState};

/// One endpoint.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
    pub doc: OpDoc,
    /// Rate limited per client IP (sign-up, sign-in).
    pub ip_limited: bool,
    /// Registered only with `--enable-fault-control`.
    pub fault_control_only: bool,
}

impl Route {
    /// What the OpenAPI document says of this route.
    pub fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            method: &self.method,
            path: self.path,
            doc: &self.doc,
            fault_control_only: self.fault_control_only,
        }
    }
}

/// The OpenAPI document of [`table`], as served and committed.
pub fn openapi_text() -> String {
    let routes = table();
    openapi::render(routes.iter().map(Route::endpoint))
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
    Route {
        method,
        path,
        handler: axum::routing::on(filter, handler),
        doc: OpDoc {
            operation_id: "",
            tag: "",
            summary: "",
            description: "",
            auth: false,
            query: &[],
            headers: &[],
            request: None,
            responses: Vec::new(),
        },
        ip_limited: false,
        fault_control_only: false,
    }
}

fn json<T: schemars::JsonSchema>() -> Content {
    Content::Json(schema::<T> as SchemaFn)
}

impl Route {
    fn op(mut self, operation_id: &'static str, tag: &'static str, summary: &'static str) -> Self {
        self.doc.operation_id = operation_id;
        self.doc.tag = tag;
        self.doc.summary = summary;
        self
    }

    fn desc(mut self, description: &'static str) -> Self {
        self.doc.description = description;
        self
    }

    /// Needs a bearer token: documents 401 and 429 too.
    fn auth(mut self) -> Self {
        self.doc.auth = true;
        self
    }

    fn query(mut self, names: &'static [&'static str]) -> Self {
        self.doc.query = names;
        self
    }

    fn headers(mut self, names: &'static [&'static str]) -> Self {
        self.doc.headers = names;
        self
    }

    fn body<T: schemars::JsonSchema>(mut self) -> Self {
        self.doc.request = Some((schema::<T> as SchemaFn, true));
        self
    }

    fn optional_body<T: schemars::JsonSchema>(mut self) -> Self {
        self.doc.request = Some((schema::<T> as SchemaFn, false));
        self
    }

    fn ok(mut self, status: u16, description: &'static str, content: Content) -> Self {
        let headers: &'static [&'static str] = match status {
            201 => &["Location", "ETag"],
            _ => &[],
        };
        self.doc.responses.push(Resp {
            status,
            description,
            content,
            headers,
        });
        self
    }

    fn ok_with(
        mut self,
        status: u16,
        description: &'static str,
        content: Content,
        headers: &'static [&'static str],
    ) -> Self {
        self.doc.responses.push(Resp {
            status,
            description,
            content,
            headers,
        });
        self
    }

    fn errs(mut self, statuses: &[u16]) -> Self {
        let mut all: Vec<u16> = statuses.to_vec();
        if self.doc.auth || self.ip_limited {
            all.push(429);
        }
        if self.doc.auth {
            all.push(401);
        }
        if self.doc.request.is_some() {
            // The body guard (`crate::http`): a declared or read body over the limit, a
            // body that does not arrive in time.
            all.extend([408, 413]);
        }
        all.sort_unstable();
        all.dedup();
        for status in all {
            let headers: &'static [&'static str] = match status {
                429 => &["Retry-After"],
                416 => &["Content-Range"],
                _ => &[],
            };
            self.doc.responses.push(Resp {
                status,
                description: error_description(status),
                content: json::<ErrorEnvelope>(),
                headers,
            });
        }
        self
    }

    fn ip_limited(mut self) -> Self {
        self.ip_limited = true;
        self
    }

    fn fault_control(mut self) -> Self {
        self.fault_control_only = true;
        self
    }
}

/// The body of `POST {COLLECTION}`: the entity's input and an optional client-chosen
/// `"id"` (what `rest::split_create_body` reads), documented as `<Entity>Create`.
pub struct CreateBody<I>(std::marker::PhantomData<I>);

impl<I: schemars::JsonSchema> schemars::JsonSchema for CreateBody<I> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        let input = I::schema_name();
        format!("{}Create", input.trim_end_matches("Input")).into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = I::json_schema(g);
        let id = serde_json::json!({
            "description": "The new row's id, chosen by the client (a new one when absent or `null`).",
            "type": ["string", "null"],
            "format": "uuid",
        });
        if let Some(properties) = schema
            .ensure_object()
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            properties.insert("id".into(), id);
        }
        schema
    }
}

/// `POST {COLLECTION}` of a [`Resource`].
fn create_route<R: Resource>() -> Route {
    route(Method::POST, R::COLLECTION, resource::create::<R>)
        .auth()
        .body::<CreateBody<R::Input>>()
        .ok(201, "Created at version 1", json::<R::Record>())
        .errs(&[400, 409, 413, 415, 422])
}

/// `GET {ITEM}` of a [`Resource`].
fn get_route<R: Resource>(ok: &'static str) -> Route {
    route(Method::GET, R::ITEM, resource::get::<R>)
        .auth()
        .ok_with(200, ok, json::<R::Record>(), ETAG)
        .errs(&[400, 404])
}

/// `PATCH {ITEM}` of a [`Resource`].
fn update_route<R: Resource>(ok: &'static str) -> Route {
    route(Method::PATCH, R::ITEM, resource::update::<R>)
        .auth()
        .headers(&["If-Match"])
        .body::<R::Patch>()
        .ok_with(200, ok, json::<R::Record>(), ETAG)
        .errs(&[400, 404, 412, 413, 415, 422])
}

/// `DELETE {ITEM}` of a [`Resource`].
fn delete_route<R: Resource>(ok: &'static str) -> Route {
    route(Method::DELETE, R::ITEM, resource::delete::<R>)
        .auth()
        .headers(&["If-Match"])
        .ok(204, ok, Content::None)
        .errs(&[400, 404, 412])
}

/// The list of a [`Resource`] (`GET {COLLECTION}`).
fn list_route<R: Resource>(ok: &'static str) -> Route {
    route(Method::GET, R::COLLECTION, resource::list::<R>)
        .auth()
        .query(R::LIST_QUERY)
        .ok(200, ok, json::<Page<R::Record>>())
        .errs(&[400])
}

/// A counter of a [`Resource`] row (`POST {ITEM}/...`): one more of each of its counters.
fn counter_route<R: Resource>(path: &'static str, ok: &'static str) -> Route {
    route(Method::POST, path, resource::count::<R>)
        .auth()
        .ok_with(200, ok, json::<R::Record>(), ETAG)
        .errs(&[400, 404])
}

const ETAG: &[&str] = &["ETag"];

/// Every endpoint of the server.
pub fn table() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, "/api/health", crate::health)
            .op("health", "meta", "Liveness probe")
            .ok(200, "The server is up", json::<Health>()),
        route(M::GET, "/api/openapi.json", crate::openapi_json)
            .op("openapi", "meta", "This OpenAPI document")
            .ok(200, "The OpenAPI 3.1 document", Content::Json(|_| schemars::json_schema!({"type": "object"}))),
        // Auth
        route(M::POST, "/api/auth/signup", auth::signup)
            .ip_limited()
            .op("signup", "auth", "Create an account and sign in")
            .body::<SignupRequest>()
            .ok(201, "Signed up; the session token is in the body", json::<SessionResponse>())
            .errs(&[400, 409, 413, 415, 422]),
        route(M::POST, "/api/auth/login", auth::login)
            .ip_limited()
            .op("login", "auth", "Sign in with email and password")
            .body::<LoginRequest>()
            .ok(200, "Signed in", json::<SessionResponse>())
            .errs(&[400, 401, 413, 415]),
        route(M::POST, "/api/auth/logout", auth::logout)
            .op("logout", "auth", "Revoke the current session token")
            .auth()
            .ok(204, "Signed out", Content::None)
            .errs(&[]),
        route(M::GET, "/api/auth/session", auth::session)
            .op("session", "auth", "The current session")
            .auth()
            .ok(200, "The session", json::<SessionResponse>())
            .errs(&[]),
        // Profile and usage
        route(M::GET, "/api/users/me", profile::get_me)
            .op("getProfile", "profile", "The signed-in user's profile")
            .auth()
            .ok_with(200, "The profile", json::<UserProfile>(), ETAG)
            .errs(&[]),
        route(M::PATCH, "/api/users/me", profile::patch_me)
            .op("updateProfile", "profile", "Change name, preferred language or theme")
            .desc("The same change can be pushed as entity `user_profile` (update only, `id` = the user's id).")
            .auth()
            .headers(&["If-Match"])
            .body::<UserProfilePatch>()
            .ok_with(200, "The updated profile", json::<UserProfile>(), ETAG)
            .errs(&[400, 412, 413, 415, 422]),
        route(M::GET, "/api/usage", profile::get_usage)
            .op("getUsage", "profile", "This month's usage and the limits per tier")
            .auth()
            .ok(200, "Usage", json::<UsageStats>())
            .errs(&[]),
        // Heroes
        list_route::<Hero>("A page of heroes")
            .op("listHeroes", "heroes", "List heroes, oldest first (keyset pagination)"),
        create_route::<Hero>()
            .op("createHero", "heroes", "Create a hero"),
        get_route::<Hero>("The hero").op("getHero", "heroes", "One hero"),
        update_route::<Hero>("The updated hero").op("updateHero", "heroes", "Change a hero"),
        delete_route::<Hero>("Deleted (a tombstone the change feed carries)")
            .op("deleteHero", "heroes", "Delete a hero (its stories stay, unlinked)"),
        route(M::POST, "/api/heroes/{id}/avatar", media::generate_avatar)
            .op("generateAvatar", "media", "Generate the hero's avatar (asynchronous)")
            .desc("Answers at once; the PNG then sets the hero's `avatar_url` and `avatar_generation_id` (a new version in the change feed).")
            .auth()
            .ok(202, "Accepted", json::<MediaJob>())
            .errs(&[400, 404]),
        // Stories
        list_route::<Story>("A page of stories")
            .op("listStories", "stories", "List stories, oldest first (keyset pagination)"),
        create_route::<Story>()
            .op("createStory", "stories", "Create a story")
            .desc("`hero_id` and `custom_event_id` must name the user's own live rows (422 otherwise)."),
        route(M::POST, "/api/stories/generate", storygen::generate)
            .op("generateStory", "stories", "Write a new story from templates")
            .desc("Deterministic from the input, in en, es, fr, de or it. Counts one story toward the monthly limit (403 `limit_reached` over it). With an `id` the user already has, answers 200 with that story.")
            .auth()
            .body::<GenerateStoryRequest>()
            .ok(201, "The new story (version 1)", json::<StoryRecord>())
            .ok_with(200, "The story a previous request with this `id` made", json::<StoryRecord>(), ETAG)
            .errs(&[400, 403, 409, 413, 415, 422]),
        get_route::<Story>("The story").op("getStory", "stories", "One story"),
        update_route::<Story>("The updated story")
            .op("updateStory", "stories", "Change a story")
            .desc("Setting `event_type` clears `custom_event_id` and the other way round."),
        delete_route::<Story>("Deleted (tombstones the change feed carries)")
            .op("deleteStory", "stories", "Delete a story and its illustrations"),
        counter_route::<Story>("/api/stories/{id}/play", "The story")
            .op("playStory", "stories", "Count one play")
            .desc("`play_count + 1` and `last_played_at` = now; never conflicts."),
        route(M::POST, "/api/stories/{id}/audio", media::generate_audio)
            .op("generateAudio", "media", "Generate the story's narration (asynchronous)")
            .desc("A WAV (16-bit PCM mono, 16 kHz) as long as reading the text at ~150 words per minute; sets `audio_url` and `audio_duration`. Counts toward the monthly audio minutes.")
            .auth()
            .ok(202, "Accepted", json::<MediaJob>())
            .errs(&[400, 403, 404]),
        route(M::GET, "/api/stories/{id}/illustrations", stories::list_illustrations)
            .op("listIllustrations", "stories", "The story's illustrations in display order")
            .auth()
            .ok(200, "All of them (no next page)", json::<Page<IllustrationRecord>>())
            .errs(&[400, 404]),
        route(M::POST, "/api/stories/{id}/illustrations", media::generate_illustrations)
            .op("generateIllustrations", "media", "Generate 1 to 5 illustrations (asynchronous)")
            .desc("Replaces the story's illustrations: the new ones appear at once as `pending` and become `ready` with their `image_url`. Counts toward the monthly illustrations.")
            .auth()
            .optional_body::<IllustrationsRequest>()
            .ok(202, "Accepted", json::<MediaJob>())
            .errs(&[400, 403, 404, 413, 422]),
        // Custom events
        list_route::<CustomEvent>("A page of custom events")
            .op("listCustomEvents", "custom-events", "List custom events, oldest first"),
        create_route::<CustomEvent>()
            .op("createCustomEvent", "custom-events", "Create a custom event"),
        get_route::<CustomEvent>("The custom event")
            .op("getCustomEvent", "custom-events", "One custom event"),
        update_route::<CustomEvent>("The updated custom event")
            .op("updateCustomEvent", "custom-events", "Change a custom event"),
        delete_route::<CustomEvent>("Deleted")
            .op("deleteCustomEvent", "custom-events", "Delete a custom event"),
        counter_route::<CustomEvent>("/api/custom-events/{id}/use", "The custom event")
            .op("useCustomEvent", "custom-events", "Count one use"),
        // Sync
        route(M::POST, "/api/sync/push", sync::push)
            .op("push", "sync", "Apply a batch of mutations")
            .desc("A batch of mutations across entities (at most `maxItems`; more is 422), each applied at most once per `mutation_id`; one result per element, in order. Entities: hero, story, custom_event (create, update, delete, increment where they have counters), user_profile (update only), illustration (always rejected: server-written).\n\nEach element is read on its own. One the server cannot read (not an object, unknown `entity` or `op`, a missing or mistyped field, a nil `mutation_id`) is answered `rejected` with code `bad_mutation` and `details.index`, under its `mutation_id` when that is a readable UUID and under the nil UUID otherwise; the other elements are applied as usual. It is not recorded: a replay is rejected again (or answers `duplicate` when its `mutation_id` was applied before). A whole-request 400 means the envelope itself is unreadable (not JSON, no `mutations` array).")
            .auth()
            .body::<PushRequest>()
            .ok(200, "One result per mutation", json::<PushResponse>())
            .errs(&[400, 413, 415, 422]),
        route(M::GET, "/api/sync/changes", sync::changes)
            .op("changes", "sync", "The change feed")
            .desc("The user's rows (and tombstones) written after `cursor`, in server-sequence order, each at its latest version. Without `cursor`: from the start. The profile comes along once it changed. `remaining` is how many changes the feed still holds after `next_cursor` (a progress total for an initial sync).")
            .auth()
            .query(&["cursor", "limit"])
            .ok(200, "A page of changes", json::<ChangesResponse>())
            .errs(&[400, 410]),
        // Media
        route(M::GET, "/api/media/{name}", media::serve_media)
            .op("getMedia", "media", "A generated file (owner only)")
            .auth()
            .headers(&["If-None-Match", "Range", "If-Range"])
            .ok_with(200, "The file", Content::Binary(&["image/png", "audio/wav"]), &["ETag", "Content-Length", "Accept-Ranges"])
            .ok_with(206, "Part of the file", Content::Binary(&["image/png", "audio/wav"]), &["ETag", "Content-Length", "Content-Range", "Accept-Ranges"])
            .ok_with(304, "Not modified", Content::None, &["ETag"])
            .errs(&[404, 416]),
        // Fault injection
        route(M::GET, faults::CONTROL_PATH, faults::get_faults)
            .fault_control()
            .op("getFaults", "faults", "The current fault injection")
            .desc("Only with `--enable-fault-control`.")
            .ok(200, "The settings", json::<FaultSettings>()),
        route(M::POST, faults::CONTROL_PATH, faults::set_faults)
            .fault_control()
            .op("setFaults", "faults", "Change the fault injection")
            .desc("Only with `--enable-fault-control`. Fields absent are unchanged; `seed` restarts the random generator.")
            .body::<FaultPatch>()
            .ok(200, "The resulting settings", json::<FaultSettings>())
            .errs(&[400, 415, 422]),
    ]
}
