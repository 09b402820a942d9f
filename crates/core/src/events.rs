//! What the core tells its clients without being asked: pushed to the UI as the
//! `core-event` event.

use serde::Serialize;
use uuid::Uuid;

use is_protocol::EntityKind;

use crate::diagnostics::Notice;
use crate::error::ErrorPayload;
use crate::media::key::MediaRef;
use crate::media::retention::EvictionReport;
use crate::repo::illustrations::IllustrationView;
use crate::repo::profile::ProfileView;
use crate::repo::usage::UsageView;
use crate::status::{SyncOverview, SyncProgress};

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
    /// A pull received another page.
    SyncProgress { progress: SyncProgress },
    /// Sync replaced or dropped one of the user's edits, or the row was deleted on
    /// another device: tell them, with View or Restore.
    Notice { notice: Notice },
    /// A media download moved on (at most every `MediaConfig::progress_interval`).
    MediaProgress {
        media: MediaRef,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        received: u64,
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        total: Option<u64>,
    },
    /// A media file is on disk: `media://` addresses of it load now.
    MediaReady { media: MediaRef },
    /// A media download failed (after its retries).
    MediaFailed {
        media: MediaRef,
        error: ErrorPayload,
    },
    /// Files left the cache (eviction, clear, or removed outside the app): usage changed.
    MediaEvicted { report: EvictionReport },
}
