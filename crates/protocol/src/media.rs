//! Generated media and story generation (SPEC.md section 6).
//!
//! `POST /api/heroes/{id}/avatar`, `POST /api/stories/{id}/audio` and
//! `POST /api/stories/{id}/illustrations` answer 202 with a [`MediaJob`] at once; the
//! result (the hero's `avatar_url`, the story's `audio_url`/`audio_duration`, the
//! illustrations) arrives later through the change feed. Media URLs are relative to the
//! server's base URL (`/api/media/<uuid>.<ext>`) and are served only to their owner
//! (bearer token required).
//!
//! `POST /api/stories/generate` writes a new story from templates at once (201).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::{check_field, ExactlyOne, Rule};
use crate::story::EVENT_RULE;
use crate::{EventType, FieldError, GenerationStatus, Language, ILLUSTRATIONS_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Avatar,
    Audio,
    Illustrations,
}

/// The 202 answer of a media generation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MediaJob {
    /// Also the hero's `avatar_generation_id` for avatars.
    pub generation_id: Uuid,
    pub kind: MediaKind,
    /// The hero or story the media is for.
    pub target_id: Uuid,
    pub status: GenerationStatus,
    /// For illustrations: the ids of the illustration rows made (pending at first).
    #[serde(default)]
    pub illustration_ids: Vec<Uuid>,
}

/// Optional body of `POST /api/stories/{id}/illustrations`. Without `count`, the server
/// picks 1 to 5 from the story's length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = illustrations_request_schema))]
#[serde(deny_unknown_fields)]
pub struct IllustrationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub count: Option<u8>,
}

impl IllustrationsRequest {
    /// `count`: 1 to [`ILLUSTRATIONS_MAX`].
    pub const COUNT: Rule = Rule::Int {
        min: 1,
        max: ILLUSTRATIONS_MAX as i64,
        label: "The number of illustrations",
    };
    /// Every checked field and its rule (also published in the OpenAPI document).
    pub const RULES: &'static [(&'static str, Rule)] = &[("count", Self::COUNT)];

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_field("count", &self.count, &Self::COUNT, &mut errors);
        crate::result(errors)
    }
}

/// Body of `POST /api/stories/generate`. Exactly one of `event_type` and
/// `custom_event_id`. With `id`, a retried request answers the story it made the first
/// time instead of making another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = generate_story_request_schema))]
#[serde(deny_unknown_fields)]
pub struct GenerateStoryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id: Option<Uuid>,
    pub hero_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub event_type: Option<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub custom_event_id: Option<Uuid>,
    pub language: Language,
}

impl GenerateStoryRequest {
    /// Exactly one of `event_type` and `custom_event_id`, as for a story.
    pub const EXACTLY_ONE: ExactlyOne = EVENT_RULE;

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        Self::EXACTLY_ONE.check(
            [self.event_type.is_some(), self.custom_event_id.is_some()],
            &mut errors,
        );
        crate::result(errors)
    }
}

/// The request's field rules, in its JSON Schema.
#[cfg(feature = "schema")]
fn illustrations_request_schema(schema: &mut schemars::Schema) {
    crate::schema::apply_rules(schema, IllustrationsRequest::RULES.iter().copied());
}

/// Exactly one of `event_type` and `custom_event_id`, in the JSON Schema.
#[cfg(feature = "schema")]
fn generate_story_request_schema(schema: &mut schemars::Schema) {
    crate::schema::exactly_one(schema, &GenerateStoryRequest::EXACTLY_ONE);
}
