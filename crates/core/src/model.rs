//! The types the core hands to its clients (the app's UI, the CLI, tests).

use chrono::{DateTime, Utc};
use is_protocol::{
    EntityKind, EventCategory, EventTone, EventType, GenerationStatus, HeroTrait, Language,
    SubscriptionTier, Theme, UsageStats,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ErrorPayload;
use crate::sync_state::{PendingOp, SyncStatus};

/// A row's sync badge and the metadata behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowSync {
    pub status: SyncStatus,
    /// The operation a pending, failed or conflicting row is about.
    pub op: Option<PendingOp>,
    pub error: Option<String>,
    pub attempts: u32,
    /// Failed after the maximum attempts: waits for Retry or Discard.
    pub given_up: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The server version the local row builds on (`None`: never reached the server).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub version: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HeroView {
    pub id: Uuid,
    pub name: String,
    pub age: u8,
    pub traits: Vec<HeroTrait>,
    pub appearance: String,
    pub special_ability: String,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub server_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NetworkState {
    Online,
    Offline,
    ServerUnreachable,
}

/// Everything the sync indicator and the Sync panel show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncOverview {
    pub account: Option<Account>,
    pub network: NetworkState,
    pub work_offline: bool,
    pub syncing: bool,
    /// Why background sync is paused (e.g. the session expired), if it is.
    pub paused_reason: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub pending: u32,
    pub failed: u32,
    pub conflicts: u32,
}

/// What one sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    /// Mutations sent.
    pub pushed: u32,
    pub applied: u32,
    pub conflicts: u32,
    pub rejected: u32,
    /// Mutations that failed transiently and wait for a retry.
    pub failed: u32,
    /// Server rows received.
    pub pulled: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A story as the reader shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoryView {
    pub id: Uuid,
    /// The story's hero while that hero exists (a deleted hero's stories are unlinked).
    pub hero_id: Option<Uuid>,
    pub hero_name: Option<String>,
    pub title: String,
    /// Plain text; never to be rendered as HTML.
    pub content: String,
    pub language: Language,
    pub event_type: Option<EventType>,
    pub custom_event_id: Option<Uuid>,
    pub is_favorite: bool,
    /// The server's count plus plays not yet confirmed by it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub play_count: i64,
    pub last_played_at: Option<DateTime<Utc>>,
    pub audio_url: Option<String>,
    pub audio_duration: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// A story as a list row shows it: no full text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StorySummary {
    pub id: Uuid,
    pub hero_id: Option<Uuid>,
    pub hero_name: Option<String>,
    pub title: String,
    /// The first characters of the text.
    pub excerpt: String,
    pub language: Language,
    pub event_type: Option<EventType>,
    pub custom_event_id: Option<Uuid>,
    pub is_favorite: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub play_count: i64,
    pub last_played_at: Option<DateTime<Utc>>,
    pub has_audio: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// Which stories a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoryFilter {
    #[serde(default)]
    pub hero_id: Option<Uuid>,
    #[serde(default)]
    pub favorites_only: bool,
}

/// What "generate a story" asks the server for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GenerateStoryInput {
    pub hero_id: Uuid,
    #[serde(default)]
    pub event_type: Option<EventType>,
    #[serde(default)]
    pub custom_event_id: Option<Uuid>,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IllustrationView {
    pub id: Uuid,
    pub story_id: Uuid,
    pub image_url: Option<String>,
    pub prompt: String,
    /// Seconds into the story's audio.
    pub timestamp: f64,
    pub display_order: u32,
    pub generation_status: GenerationStatus,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomEventView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub prompt_seed: String,
    pub keywords: Vec<String>,
    pub category: EventCategory,
    pub tone: EventTone,
    pub pictogram_emoji: String,
    pub is_favorite: bool,
    /// The server's count plus uses not yet confirmed by it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub usage_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// The editable part of the profile, as a form edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProfileInput {
    pub name: String,
    pub preferred_language: Language,
    pub theme: Theme,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProfileView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub preferred_language: Language,
    pub theme: Theme,
    pub subscription_tier: SubscriptionTier,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// Usage this month, and when the server sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageView {
    pub stats: UsageStats,
    pub fetched_at: DateTime<Utc>,
}

/// A row waiting for the user to settle a conflict (the conflicts list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictSummary {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The row's name or title, as shown locally.
    pub title: String,
    /// Fields that differ between the two versions.
    pub fields: Vec<String>,
}

/// The conflict dialog: both versions side by side, and the automatic merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictDetail {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The operation the local change is about (a delete against an edit, ...).
    pub op: PendingOp,
    /// "Your version": the user-writable fields, as a JSON object.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub local: serde_json::Value,
    /// "Server version".
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub server: serde_json::Value,
    /// Whether the server's copy is a deletion.
    pub server_deleted: bool,
    /// Fields that differ (to highlight).
    pub differing: Vec<String>,
    /// The automatic merge, to pre-fill "Merge"; for fields changed on both sides it
    /// holds the local value.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub merged: serde_json::Value,
    /// Fields changed on both sides, for the user to choose.
    pub needs_choice: Vec<String>,
}

/// How the user settles a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum ConflictChoice {
    KeepMine,
    UseServer,
    /// The merged fields, as a JSON object of the entity's input.
    Merged {
        #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
        fields: serde_json::Value,
    },
}

/// A version that lost a conflict, kept so that the user can restore it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictRecord {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub detected_at: DateTime<Utc>,
    /// How it was settled: `server_wins`, `local_wins`, `merge`, `last_write_wins`,
    /// `server_deleted`, `user_chose_server`, `user_chose_local`, `user_merged`.
    pub resolution: String,
    /// The local version (a full record of the entity).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub local: serde_json::Value,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub server: serde_json::Value,
}

/// A fresh value a cacheAndNetwork (or background) read got from the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refreshed {
    Illustrations {
        story_id: Uuid,
        items: Vec<IllustrationView>,
    },
    Profile {
        profile: ProfileView,
    },
    Usage {
        usage: UsageView,
    },
}

/// Pushed to the UI as the `core-event` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreEvent {
    /// Rows of this entity changed (locally or by a sync): re-read lists.
    DataChanged { entity: EntityKind },
    /// The sync indicator changed.
    Overview { overview: SyncOverview },
    /// A sync run failed; worth a toast.
    SyncFailed { error: ErrorPayload },
    /// The server no longer accepts our session: sync is paused until sign-in.
    SessionExpired,
    /// A cacheAndNetwork read has its refreshed value.
    Refreshed { value: Refreshed },
    /// A cacheAndNetwork read could not refresh; the cached value stays.
    RefreshFailed { what: String, error: ErrorPayload },
}
