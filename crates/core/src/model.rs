//! The types the core hands to its clients (the app's UI, the CLI, tests).

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, HeroTrait};
use serde::Serialize;
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
}
