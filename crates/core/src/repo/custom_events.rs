//! Custom story events (SPEC.md section 2): user-made occasions for stories.
//! Conflicts: localWins. `usage_count` is a counter, sent as increments.

use chrono::{DateTime, Utc};
use is_protocol::{EventCategory, EventTone};
use rusqlite::Connection;
use serde::Serialize;
use uuid::Uuid;

pub use is_protocol::{CustomEvent, CustomEventInput, CustomEventServer};

use crate::entity::store as entity;
use crate::entity::{
    Collection, ConflictStrategy, Favorite, Page, RowSync, SyncEntity, SyncRow, Window,
};
use crate::error::Result;
use crate::policy::CachePolicy;

pub type CustomEventRow = SyncRow<CustomEvent>;

impl SyncEntity for CustomEvent {
    const STRATEGY: ConflictStrategy = ConflictStrategy::LocalWins;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;

    type View = CustomEventView;

    fn path(id: Uuid) -> String {
        format!("/api/custom-events/{id}")
    }

    fn view(
        _conn: &Connection,
        row: &CustomEventRow,
        max_attempts: u32,
    ) -> Result<CustomEventView> {
        Ok(view(row, max_attempts))
    }

    fn counter(s: &CustomEventServer) -> i64 {
        s.usage_count
    }
}

impl Collection for CustomEvent {
    type Filter = ();
    type Summary = CustomEventView;

    /// Visible custom events: favourites first, then by title.
    fn page(
        conn: &Connection,
        _filter: &(),
        window: Window,
        max_attempts: u32,
    ) -> Result<Page<CustomEventView>> {
        const WHERE: &str = "sync_status <> 'pending_delete'";
        let total = entity::count_where::<CustomEvent>(conn, WHERE, [])?;
        let rows = entity::load_where::<CustomEvent>(
            conn,
            WHERE,
            "is_favorite DESC, title COLLATE NOCASE, id LIMIT ?1 OFFSET ?2",
            [window.limit, window.offset],
        )?;
        Ok(Page {
            total,
            offset: window.offset,
            rows: rows.iter().map(|r| view(r, max_attempts)).collect(),
        })
    }
}

impl Favorite for CustomEvent {
    fn favorite(input: &mut CustomEventInput) -> &mut bool {
        &mut input.is_favorite
    }
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

pub fn view(row: &CustomEventRow, max_attempts: u32) -> CustomEventView {
    CustomEventView {
        id: row.id,
        title: row.fields.title.clone(),
        description: row.fields.description.clone(),
        prompt_seed: row.fields.prompt_seed.clone(),
        keywords: row.fields.keywords.clone(),
        category: row.fields.category,
        tone: row.fields.tone,
        pictogram_emoji: row.fields.pictogram_emoji.clone(),
        is_favorite: row.fields.is_favorite,
        usage_count: row.counter(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    }
}
