//! The client side of each synced entity: [`SyncEntity`] adds to the protocol's one
//! description ([`is_protocol::Entity`]) what only the client needs (default conflict
//! strategy and cache policy, the view the UI gets, local checks and cascades), and
//! [`SyncRow`] is the one generic local row with its sync metadata, stored by
//! [`store`].
//!
//! Heroes, stories, custom events and the profile are all cached, validated, pushed,
//! pulled and merged by the same code.

mod row;
pub mod store;

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use is_protocol::{Entity, EntityKind, FieldError, Input, Patch};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::Result;
use crate::policy::CachePolicy;

pub use row::{RowSync, SyncRow};

/// How a push conflict of an entity is settled (SPEC.md section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConflictStrategy {
    /// The newer edit (by its timestamp) wins the whole row.
    LastWriteWins,
    ServerWins,
    LocalWins,
    /// The row goes to `conflict` and the user decides.
    UserPrompt,
    /// Three-way merge against the base snapshot, field by field.
    Merge,
}

impl ConflictStrategy {
    pub const ALL: [ConflictStrategy; 5] = [
        ConflictStrategy::LastWriteWins,
        ConflictStrategy::ServerWins,
        ConflictStrategy::LocalWins,
        ConflictStrategy::UserPrompt,
        ConflictStrategy::Merge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::LastWriteWins => "last_write_wins",
            ConflictStrategy::ServerWins => "server_wins",
            ConflictStrategy::LocalWins => "local_wins",
            ConflictStrategy::UserPrompt => "user_prompt",
            ConflictStrategy::Merge => "merge",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictStrategy> {
        ConflictStrategy::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One synced entity as the client core handles it.
pub trait SyncEntity: Entity {
    /// Default conflict strategy (SPEC.md section 2); Settings may override it.
    const STRATEGY: ConflictStrategy;
    /// Default cache policy (SPEC.md section 2).
    const POLICY: CachePolicy;
    /// When a merge cannot settle the whole row (a delete against an edit, or a merged
    /// row that breaks a rule), ask the user (`true`) or let the newer edit win.
    const PROMPT_FALLBACK: bool = false;
    /// Under the merge strategy, a field changed on both sides takes the server's value
    /// (heroes, SPEC.md 2) instead of the newer edit's.
    const SERVER_WINS_BOTH_CHANGED: bool = false;

    /// What the UI shows of one row.
    type View: Serialize + Clone + Debug + Send + Sync + 'static;

    /// The REST path of one row, for a read the cache cannot answer.
    fn path(id: Uuid) -> String;

    /// The row as the UI shows it.
    fn view(conn: &Connection, row: &SyncRow<Self>, max_attempts: u32) -> Result<Self::View>;

    /// The server's value of the entity's counter.
    fn counter(_server: &Self::Server) -> i64 {
        0
    }
    /// A local increment's effect on the server-written fields, for display until the
    /// server confirms it (a story's `last_played_at`).
    fn on_local_increment(_server: &mut Self::Server, _now: DateTime<Utc>) {}
    /// Taking a server copy while local increments are unconfirmed: keep what they showed.
    fn keep_while_incrementing(_local: &Self::Server, _incoming: &mut Self::Server) {}
    /// Rows whose pending create must reach the server before a mutation with this
    /// payload can be sent (a story's hero and custom event).
    fn dependencies(_payload: &Value) -> Vec<(EntityKind, Uuid)> {
        Vec::new()
    }
    /// Checks against the local cache the server would make (a story's hero exists).
    /// `old` is the row's current input for an edit: only references that change are
    /// checked, so a row pulled before the row it refers to stays editable.
    fn validate_local(
        _conn: &Connection,
        _old: Option<&Self::Input>,
        _input: &Self::Input,
    ) -> Result<Vec<FieldError>> {
        Ok(Vec::new())
    }
    /// Completes an edit from a form with what the form cannot show.
    fn complete_edit(
        _conn: &Connection,
        _current: &Self::Input,
        input: Self::Input,
    ) -> Result<Self::Input> {
        Ok(input)
    }
    /// Runs after the row left the local cache for good.
    fn on_removed(_conn: &Connection, _id: Uuid) -> Result<()> {
        Ok(())
    }
}

/// An entity the user creates, lists and deletes (heroes, stories, custom events; not
/// the profile, which exists once per account).
pub trait Collection: SyncEntity {
    /// What narrows a list (stories: by hero, favourites, text).
    type Filter: Default + Debug + Send + Sync;
    /// One entry of a list (may be lighter than the view).
    type Summary: Serialize + Clone + Debug + Send + Sync + 'static;

    /// The rows of `window` among the visible rows (pending deletes hidden) that match
    /// `filter`, in the list's order, and how many match in all: filtered, sorted and
    /// cut in SQLite, so a list of 10,000 rows costs what its visible rows cost.
    fn page(
        conn: &Connection,
        filter: &Self::Filter,
        window: Window,
        max_attempts: u32,
    ) -> Result<Page<Self::Summary>>;

    /// Every visible row that matches `filter`, in the list's order.
    fn list(
        conn: &Connection,
        filter: &Self::Filter,
        max_attempts: u32,
    ) -> Result<Vec<Self::Summary>> {
        Ok(Self::page(conn, filter, Window::ALL, max_attempts)?.rows)
    }
}

/// Which rows of a list the UI asks for: `limit` rows from `offset` (the rows on screen
/// and a margin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Window {
    pub offset: u32,
    pub limit: u32,
}

impl Window {
    /// The whole list (the core's own callers and tests; the UI asks for windows).
    pub const ALL: Window = Window {
        offset: 0,
        limit: u32::MAX,
    };
    /// The most rows one IPC request returns.
    pub const MAX_LIMIT: u32 = 500;

    /// The window a UI request may ask for: at most [`Window::MAX_LIMIT`] rows.
    pub fn capped(self) -> Window {
        Window {
            offset: self.offset,
            limit: self.limit.min(Self::MAX_LIMIT),
        }
    }
}

/// Part of a list: the rows of a [`Window`] and how many rows match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    pub total: u32,
    pub offset: u32,
    pub rows: Vec<T>,
}

/// The pattern a `LIKE … ESCAPE '\'` matches `text` anywhere with: `%` and `_` typed by
/// the user are literal. `None` for an empty search.
pub fn like_pattern(text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    Some(p)
}

/// An entity the user can mark as a favourite.
pub trait Favorite: Collection {
    /// The flag inside an input.
    fn favorite(input: &mut Self::Input) -> &mut bool;
}

/// The entity's counter, if it has one.
pub fn counter_name<E: Entity>() -> Option<&'static str> {
    E::COUNTERS.first().copied()
}

/// The wire patch turning `from` into `to` (only the fields that differ) and the names
/// of those fields.
pub fn diff<E: Entity>(from: &E::Input, to: &E::Input) -> (Value, Vec<&'static str>) {
    let patch = from.diff(to);
    // A patch of plain data always serializes.
    (
        serde_json::to_value(&patch).unwrap_or_default(),
        patch.fields(),
    )
}

/// An input as a JSON object (for merges and the conflict dialog).
pub fn to_object<T: Serialize>(v: &T) -> Result<serde_json::Map<String, Value>> {
    match serde_json::to_value(v)? {
        Value::Object(m) => Ok(m),
        other => Err(crate::error::CoreError::Corrupt(format!(
            "expected an object, got {other}"
        ))),
    }
}

pub fn from_object<T: serde::de::DeserializeOwned>(m: serde_json::Map<String, Value>) -> Result<T> {
    Ok(serde_json::from_value(Value::Object(m))?)
}
