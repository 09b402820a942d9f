//! The wire contract between the Infinite Stories client core and the server.
//!
//! Everything that crosses HTTP is defined here exactly once, so the client and the
//! reference server cannot drift apart. The validation rules for user-written fields
//! live here too: the client checks a draft before it is saved, and the server checks
//! the same rules again before it writes anything.
//!
//! See `SPEC.md` section 6 for the protocol this encodes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod custom_event;
pub mod emoji;
pub mod entity;
pub mod faults;
pub mod hero;
pub mod illustration;
pub mod media;
pub mod profile;
#[cfg(feature = "schema")]
pub mod schema;
pub mod story;

pub use custom_event::{
    CustomEvent, CustomEventInput, CustomEventPatch, CustomEventRecord, CustomEventServer,
    EventCategory, EventTone,
};
pub use entity::{Entity, Fields, Input, Patch, RecordMeta};
pub use faults::{FaultPatch, FaultSettings};
pub use hero::{Hero, HeroInput, HeroPatch, HeroRecord, HeroServer, HeroTrait};
pub use illustration::{GenerationStatus, IllustrationRecord, ILLUSTRATIONS_MAX};
pub use media::{GenerateStoryRequest, IllustrationsRequest, MediaJob, MediaKind, StoryLength};
pub use profile::{
    Profile, ProfileInput, ProfileServer, SubscriptionTier, Theme, TierLimits, UsageLimits,
    UsageStats, UserProfile, UserProfilePatch,
};
pub use story::{EventType, Language, Story, StoryInput, StoryPatch, StoryRecord, StoryServer};

/// Largest number of mutations the server accepts in one `POST /api/sync/push`.
pub const MAX_PUSH_BATCH: usize = 500;
/// Largest request body the server accepts by default; a client keeps each push below
/// it (by bytes as well as by count).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest page the change feed serves; larger `limit`s are clamped.
pub const MAX_CHANGES_LIMIT: u32 = 1000;
/// Largest single counter increment accepted in one mutation.
pub const MAX_INCREMENT: i64 = 1_000_000;

pub(crate) use entity::result;
use entity::{check_field, Rule};

/// For `Option<Option<T>>` patch fields: absent → `None`, `null` → `Some(None)`, a value
/// → `Some(Some(v))`. Use with
/// `#[serde(default, with = "crate::double_option", skip_serializing_if = "Option::is_none")]`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T, S>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
        S: Serializer,
    {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// The one error shape every endpoint uses: `{ "error": { "code", "message", "details" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    /// A stable, machine-readable code; see [`codes`].
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// Field errors for `validation`, the current row for `conflict`, and so on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "unknown"))]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            details: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ErrorBody {
            code: codes::VALIDATION.to_owned(),
            message,
            details: Some(serde_json::json!({ "fields": errors })),
        }
    }
}

/// Error codes used in [`ErrorBody::code`].
pub mod codes {
    pub const BAD_REQUEST: &str = "bad_request";
    pub const VALIDATION: &str = "validation";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const CONFLICT: &str = "conflict";
    pub const PRECONDITION_FAILED: &str = "precondition_failed";
    pub const CURSOR_EXPIRED: &str = "cursor_expired";
    /// 403: the subscription tier's monthly limit is used up.
    pub const LIMIT_REACHED: &str = "limit_reached";
    /// 503: fault injection (or maintenance); retry later.
    pub const UNAVAILABLE: &str = "unavailable";
    /// 503: the server's fault injection plays "offline".
    pub const OFFLINE: &str = "offline";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// 408: the request body did not arrive within the server's body-read timeout.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// A push mutation the server cannot read (not an object, unknown `entity` or `op`,
    /// a missing or mistyped field, a nil `mutation_id`): that mutation alone is answered
    /// `rejected` with this code; the others of the batch are applied as usual.
    pub const BAD_MUTATION: &str = "bad_mutation";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const EMAIL_TAKEN: &str = "email_taken";
    pub const INTERNAL: &str = "internal";

    /// Every code above.
    pub const ALL: &[&str] = &[
        BAD_REQUEST,
        VALIDATION,
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        PRECONDITION_FAILED,
        CURSOR_EXPIRED,
        LIMIT_REACHED,
        UNAVAILABLE,
        OFFLINE,
        PAYLOAD_TOO_LARGE,
        REQUEST_TIMEOUT,
        BAD_MUTATION,
        RATE_LIMITED,
        EMAIL_TAKEN,
        INTERNAL,
    ];
}

/// One invalid field, as reported by validation on either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Auth

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = crate::schema::signup_request))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Answer to signup, login and `GET /api/auth/session`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

impl SignupRequest {
    pub const EMAIL: Rule = Rule::Email { max: 254 };
    pub const PASSWORD: Rule = Rule::Password { min: 8, max: 256 };
    /// The same rule as a profile's name.
    pub const NAME: Rule = profile::NAME_RULE;
    /// Every checked field and its rule (also published in the OpenAPI document).
    pub const RULES: &'static [(&'static str, Rule)] = &[
        ("email", Self::EMAIL),
        ("password", Self::PASSWORD),
        ("name", Self::NAME),
    ];
}

/// Shared sign-up rules, checked by the client before it calls and by the server. They
/// apply to the values as sent: a client trims what the user typed first (the server
/// then stores the email trimmed and lower-cased and the name trimmed).
pub fn validate_signup(req: &SignupRequest) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_field("email", &req.email, &SignupRequest::EMAIL, &mut errors);
    check_field(
        "password",
        &req.password,
        &SignupRequest::PASSWORD,
        &mut errors,
    );
    check_field("name", &req.name, &SignupRequest::NAME, &mut errors);
    result(errors)
}

// ---------------------------------------------------------------------------------------
// Sync: push

/// The kinds of synced entity. The wire name is the `entity` field of a mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Hero,
    Story,
    /// Server-written only: a push mutation on it is rejected (`forbidden`).
    Illustration,
    CustomEvent,
    /// Update only; the row id is the user's id.
    UserProfile,
}

impl EntityKind {
    pub const ALL: [EntityKind; 5] = [
        EntityKind::Hero,
        EntityKind::Story,
        EntityKind::Illustration,
        EntityKind::CustomEvent,
        EntityKind::UserProfile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Hero => "hero",
            EntityKind::Story => "story",
            EntityKind::Illustration => "illustration",
            EntityKind::CustomEvent => "custom_event",
            EntityKind::UserProfile => "user_profile",
        }
    }

    /// The counters an [`MutationOp::Increment`] may name for this entity.
    pub fn counters(self) -> &'static [&'static str] {
        match self {
            EntityKind::Hero => Hero::COUNTERS,
            EntityKind::Story => Story::COUNTERS,
            EntityKind::CustomEvent => CustomEvent::COUNTERS,
            EntityKind::UserProfile => Profile::COUNTERS,
            EntityKind::Illustration => &[],
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One client write, identified by a client-generated `mutation_id`. The server applies a
/// given `mutation_id` at most once per user; a replay answers [`Outcome::Duplicate`] with
/// the first result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Mutation {
    pub mutation_id: Uuid,
    pub entity: EntityKind,
    /// The row's id, chosen by the client when it created the row.
    pub id: Uuid,
    #[serde(flatten)]
    pub op: MutationOp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MutationOp {
    /// `data` is the entity's full input (for heroes a [`HeroInput`]).
    Create { data: serde_json::Value },
    /// `patch` holds only the changed user-writable fields (for heroes a [`HeroPatch`]).
    /// Written only if the server row is still at `base_version`.
    Update {
        base_version: i64,
        patch: serde_json::Value,
    },
    /// Deletes (tombstones) the row if it is still at `base_version`.
    Delete { base_version: i64 },
    /// Adds to counters (`{"play_count": 1}` for stories, `{"usage_count": 1}` for
    /// custom events), whatever the row's version: never conflicts, bumps the version.
    /// Each amount is from 1 to [`MAX_INCREMENT`]. Incrementing a story's `play_count`
    /// also sets its `last_played_at` to the server's time. On a tombstone it is applied
    /// as a no-op (the answer carries the tombstone).
    Increment { counters: BTreeMap<String, i64> },
}

impl MutationOp {
    pub fn name(&self) -> &'static str {
        match self {
            MutationOp::Create { .. } => "create",
            MutationOp::Update { .. } => "update",
            MutationOp::Delete { .. } => "delete",
            MutationOp::Increment { .. } => "increment",
        }
    }
}

/// `POST /api/sync/push`: at most `MAX_PUSH_BATCH` mutations. The server reads each
/// mutation on its own: one it cannot read is answered `rejected` with code
/// `bad_mutation` and does not stop the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = crate::schema::push_request))]
pub struct PushRequest {
    pub mutations: Vec<Mutation>,
}

/// One result per mutation, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushResponse {
    pub results: Vec<MutationResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MutationResult {
    /// The mutation's `mutation_id`. For a mutation the server could not read
    /// (`rejected` with `bad_mutation`), the id it could still make out of it, or the nil
    /// UUID when it could not: clients never use the nil UUID as a mutation id (the
    /// server refuses it), so the nil UUID matches none of theirs. Results are also in
    /// request order.
    pub mutation_id: Uuid,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Written; `record` is the row as stored, with its new version.
    Applied { record: Record },
    /// This `mutation_id` was seen before; `first` is what it answered then.
    Duplicate { first: Box<Outcome> },
    /// The row is no longer at `base_version` (or a create found the id taken): nothing
    /// was written and `current` is the server's row, possibly a tombstone.
    Conflict { current: Record },
    /// Invalid (validation, unknown row, ...): nothing was written. Not worth retrying.
    Rejected { error: ErrorBody },
}

impl Outcome {
    /// A duplicate answers what the first attempt answered.
    pub fn resolved(&self) -> &Outcome {
        match self {
            Outcome::Duplicate { first } => first.resolved(),
            other => other,
        }
    }
}

/// A server row of any entity, tagged by `entity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "entity", rename_all = "snake_case")]
pub enum Record {
    Hero(HeroRecord),
    Story(StoryRecord),
    Illustration(IllustrationRecord),
    CustomEvent(CustomEventRecord),
    UserProfile(UserProfile),
}

impl Record {
    pub fn kind(&self) -> EntityKind {
        match self {
            Record::Hero(_) => EntityKind::Hero,
            Record::Story(_) => EntityKind::Story,
            Record::Illustration(_) => EntityKind::Illustration,
            Record::CustomEvent(_) => EntityKind::CustomEvent,
            Record::UserProfile(_) => EntityKind::UserProfile,
        }
    }
    pub fn id(&self) -> Uuid {
        match self {
            Record::Hero(r) => r.id,
            Record::Story(r) => r.id,
            Record::Illustration(r) => r.id,
            Record::CustomEvent(r) => r.id,
            Record::UserProfile(r) => r.id,
        }
    }
    pub fn version(&self) -> i64 {
        match self {
            Record::Hero(r) => r.version,
            Record::Story(r) => r.version,
            Record::Illustration(r) => r.version,
            Record::CustomEvent(r) => r.version,
            Record::UserProfile(r) => r.version,
        }
    }
    /// Profiles are never deleted.
    pub fn deleted(&self) -> bool {
        match self {
            Record::Hero(r) => r.deleted,
            Record::Story(r) => r.deleted,
            Record::Illustration(r) => r.deleted,
            Record::CustomEvent(r) => r.deleted,
            Record::UserProfile(_) => false,
        }
    }
    pub fn updated_at(&self) -> DateTime<Utc> {
        match self {
            Record::Hero(r) => r.updated_at,
            Record::Story(r) => r.updated_at,
            Record::Illustration(r) => r.updated_at,
            Record::CustomEvent(r) => r.updated_at,
            Record::UserProfile(r) => r.updated_at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sync: change feed

/// `GET /api/sync/changes?cursor=<opaque>&limit=<n>`: rows written after `cursor`, in
/// server-sequence order, each at its latest version. Deleted rows come as tombstones
/// (`deleted: true`). Omit `cursor` to start from the beginning. A cursor older than the
/// tombstone horizon is answered with 410 `cursor_expired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChangesResponse {
    pub changes: ChangeSet,
    /// Pass this back to continue; store it only once the page is applied.
    pub next_cursor: String,
    pub has_more: bool,
    /// How many changes the feed still holds after `next_cursor` (0 when `has_more` is
    /// false), for a progress total during an initial sync: the user's rows written
    /// after this page, each counted once, as of this page (writes made later add to
    /// it). The server counts at most 1,000,000 per entity, so past that it is a lower
    /// bound. Absent from servers that do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChangeSet {
    #[serde(default)]
    pub heroes: Vec<HeroRecord>,
    #[serde(default)]
    pub stories: Vec<StoryRecord>,
    #[serde(default)]
    pub illustrations: Vec<IllustrationRecord>,
    #[serde(default)]
    pub custom_events: Vec<CustomEventRecord>,
    /// The user's profile, when it changed within this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<UserProfile>,
}

impl ChangeSet {
    /// The kinds of row the page holds.
    pub fn kinds(&self) -> impl Iterator<Item = EntityKind> + '_ {
        [
            (EntityKind::Hero, !self.heroes.is_empty()),
            (EntityKind::Story, !self.stories.is_empty()),
            (EntityKind::Illustration, !self.illustrations.is_empty()),
            (EntityKind::CustomEvent, !self.custom_events.is_empty()),
            (EntityKind::UserProfile, self.profile.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, present)| present.then_some(kind))
    }

    /// Number of rows in the page (the profile counts as one).
    pub fn len(&self) -> usize {
        self.heroes.len()
            + self.stories.len()
            + self.illustrations.len()
            + self.custom_events.len()
            + usize::from(self.profile.is_some())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------
// REST

/// A keyset-paginated list: pass `next_cursor` as `cursor` to get the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Page_{T}"))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mutation_wire_shape() {
        let m = Mutation {
            mutation_id: Uuid::nil(),
            entity: EntityKind::Hero,
            id: Uuid::nil(),
            op: MutationOp::Update {
                base_version: 3,
                patch: json!({"name": "Ada"}),
            },
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["op"], "update");
        assert_eq!(v["entity"], "hero");
        assert_eq!(v["base_version"], 3);
        assert_eq!(serde_json::from_value::<Mutation>(v).unwrap(), m);
    }

    #[test]
    fn increment_wire_shape() {
        let m: Mutation = serde_json::from_value(json!({
            "mutation_id": Uuid::nil(),
            "entity": "story",
            "id": Uuid::nil(),
            "op": "increment",
            "counters": {"play_count": 1},
        }))
        .unwrap();
        let MutationOp::Increment { counters } = &m.op else {
            panic!("{m:?}")
        };
        assert_eq!(counters["play_count"], 1);
        assert_eq!(m.op.name(), "increment");
        assert_eq!(m.entity, EntityKind::Story);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["counters"], json!({"play_count": 1}));
        assert!(v.get("base_version").is_none());
        assert_eq!(EntityKind::Story.counters(), ["play_count"]);
        assert_eq!(EntityKind::CustomEvent.counters(), ["usage_count"]);
        assert!(EntityKind::Hero.counters().is_empty());
    }

    #[test]
    fn entity_names_roundtrip() {
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn old_change_sets_still_parse_and_new_fields_default() {
        let page: ChangesResponse = serde_json::from_value(json!({
            "changes": {"heroes": []},
            "next_cursor": "c1.x.0",
            "has_more": false,
        }))
        .unwrap();
        assert!(page.changes.is_empty());
        assert!(page.changes.profile.is_none());
        assert_eq!(page.remaining, None);
        let v = serde_json::to_value(&page).unwrap();
        assert_eq!(v["changes"]["stories"], json!([]));
        assert!(v["changes"].get("profile").is_none());
        assert!(v.get("remaining").is_none(), "omitted when absent");
        let counted = ChangesResponse {
            remaining: Some(1500),
            ..page
        };
        let v = serde_json::to_value(&counted).unwrap();
        assert_eq!(v["remaining"], 1500);
        assert_eq!(
            serde_json::from_value::<ChangesResponse>(v).unwrap(),
            counted
        );
    }

    #[test]
    fn duplicate_resolves_to_first_outcome() {
        let rejected = Outcome::Rejected {
            error: ErrorBody::new(codes::VALIDATION, "bad"),
        };
        let dup = Outcome::Duplicate {
            first: Box::new(rejected.clone()),
        };
        assert_eq!(dup.resolved(), &rejected);
        let r = MutationResult {
            mutation_id: Uuid::nil(),
            outcome: dup,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<MutationResult>(&text).unwrap(), r);
    }

    #[test]
    fn signup_rules() {
        let ok = SignupRequest {
            email: "a@b.c".into(),
            password: "12345678".into(),
            name: "A".into(),
        };
        assert!(validate_signup(&ok).is_ok());
        for (email, password, name, field) in [
            ("ab.c", "12345678", "A", "email"),
            ("@b.c", "12345678", "A", "email"),
            ("a@", "12345678", "A", "email"),
            ("a@b@c", "12345678", "A", "email"),
            ("a@b.c", "1234567", "A", "password"),
            ("a@b.c", "12345678", "  ", "name"),
            (" a@b.c", "12345678", "A", "email"),
            (
                "a@b.c",
                "12345678",
                &format!(" {} ", "x".repeat(99)),
                "name",
            ),
        ] {
            let req = SignupRequest {
                email: email.into(),
                password: password.into(),
                name: name.into(),
            };
            let errors = validate_signup(&req).unwrap_err();
            assert_eq!(errors[0].field, field, "{email} {password} {name}");
        }
    }
}
