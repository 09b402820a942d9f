//! What the sync indicator and the Sync panel show: the signed-in account, the network
//! state and the overview of pending, failed and conflicting rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub server_url: String,
}

/// What the network monitor knows of the way to the server (SPEC.md section 9).
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

/// How far a pull has come (a first sync of a large account can take a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncProgress {
    /// Rows received in this run so far.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received: u64,
    /// About how many remain, when the server says.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub remaining: Option<u64>,
    /// A first sync or a full resync (worth a progress bar), not a small catch-up.
    pub first_sync: bool,
    /// The feed is drained.
    pub done: bool,
}
