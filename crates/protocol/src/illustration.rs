//! Story illustrations: pictures the server generates for a story (SPEC.md section 2).
//!
//! Written by the server only; clients read them from the change feed (or
//! `GET /api/stories/{id}/illustrations`) and never mutate them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most illustrations one request generates.
pub const ILLUSTRATIONS_MAX: u8 = 5;

/// Where a piece of generated media is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GenerationStatus {
    Pending,
    Generating,
    Ready,
    Failed,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Pending => "pending",
            GenerationStatus::Generating => "generating",
            GenerationStatus::Ready => "ready",
            GenerationStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<GenerationStatus> {
        [
            GenerationStatus::Pending,
            GenerationStatus::Generating,
            GenerationStatus::Ready,
            GenerationStatus::Failed,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// An illustration as the server stores it. `deleted: true` marks a tombstone (the story
/// was deleted, or its illustrations were generated again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IllustrationRecord {
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub deleted: bool,
    pub story_id: Uuid,
    /// Set once `generation_status` is `ready`; relative to the server's base URL, e.g.
    /// `/api/media/<uuid>.png`.
    #[serde(default)]
    pub image_url: Option<String>,
    /// What the picture shows.
    pub prompt: String,
    /// When to show it, in seconds into the story's audio.
    pub timestamp: f64,
    /// Position among the story's illustrations, from 0.
    pub display_order: u32,
    pub generation_status: GenerationStatus,
}
