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
#[serde(deny_unknown_fields)]
pub struct IllustrationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub count: Option<u8>,
}

impl IllustrationsRequest {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        match self.count {
            Some(n) if !(1..=ILLUSTRATIONS_MAX).contains(&n) => Err(vec![FieldError::new(
                "count",
                format!("Ask for 1 to {ILLUSTRATIONS_MAX} illustrations"),
            )]),
            _ => Ok(()),
        }
    }
}

/// Body of `POST /api/stories/generate`. Exactly one of `event_type` and
/// `custom_event_id`. With `id`, a retried request answers the story it made the first
/// time instead of making another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        match (self.event_type, self.custom_event_id) {
            (Some(_), Some(_)) => Err(vec![FieldError::new(
                "event_type",
                "Choose an event or a custom event, not both",
            )]),
            (None, None) => Err(vec![FieldError::new(
                "event_type",
                "Choose an event or a custom event",
            )]),
            _ => Ok(()),
        }
    }
}
