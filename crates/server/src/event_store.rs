//! The one write path for custom story events, shared by REST, push and story
//! generation. Same rules as [`crate::store`] (heroes).
//!
//! Deleting a custom event leaves the stories that name it as they are (they keep the
//! id, which now points at a tombstone).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use is_protocol::{
    CustomEventInput, CustomEventPatch, CustomEventRecord, EventCategory, EventTone,
};
use rusqlite::{params, Connection, Row, Transaction};
use uuid::Uuid;

use crate::db::{from_micros, parse_uuid, to_micros};
use crate::store::{CreateOutcome, DeleteOutcome, IncrementOutcome, UpdateOutcome};
use crate::story_store::conversion_error;
use crate::table::{self, reread, write_row, CustomEvents};

const COLUMNS: &str = "id, version, created_at, updated_at, deleted, title, description, \
                       prompt_seed, keywords, category, tone, pictogram_emoji, is_favorite, \
                       usage_count, seq, created_seq";

#[derive(Debug, Clone, PartialEq)]
pub struct SeqEvent {
    pub seq: i64,
    pub created_seq: i64,
    pub event: CustomEventRecord,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<SeqEvent> {
    let keywords: String = r.get(8)?;
    let category: String = r.get(9)?;
    let tone: String = r.get(10)?;
    Ok(SeqEvent {
        event: CustomEventRecord {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            version: r.get(1)?,
            created_at: from_micros(r.get(2)?)?,
            updated_at: from_micros(r.get(3)?)?,
            deleted: r.get::<_, i64>(4)? != 0,
            title: r.get(5)?,
            description: r.get(6)?,
            prompt_seed: r.get(7)?,
            keywords: serde_json::from_str(&keywords)
                .map_err(|e| conversion_error(8, e.to_string()))?,
            category: EventCategory::parse(&category)
                .ok_or_else(|| conversion_error(9, format!("category {category:?}")))?,
            tone: EventTone::parse(&tone)
                .ok_or_else(|| conversion_error(10, format!("tone {tone:?}")))?,
            pictogram_emoji: r.get(11)?,
            is_favorite: r.get::<_, i64>(12)? != 0,
            usage_count: r.get(13)?,
        },
        seq: r.get(14)?,
        created_seq: r.get(15)?,
    })
}

fn keywords_json(k: &[String]) -> String {
    serde_json::to_string(k).expect("strings always serialize")
}

pub fn get_event(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<CustomEventRecord>> {
    table::get_row(conn, "custom_events", COLUMNS, user_id, id, from_row)
        .map(|o| o.map(|s| s.event))
}

pub fn live_event_exists(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<bool> {
    table::live_exists::<CustomEvents>(conn, user_id, id)
}

pub fn create_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    input: CustomEventInput,
    now: DateTime<Utc>,
) -> rusqlite::Result<CreateOutcome<CustomEventRecord>> {
    let input = input.normalized();
    if let Err(errors) = input.validate() {
        return Ok(CreateOutcome::Invalid(errors));
    }
    if let Some(outcome) = table::create_conflict::<CustomEvents>(tx, user_id, id)? {
        return Ok(outcome);
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "INSERT INTO custom_events (id, user_id, version, seq, created_seq, created_at,
                                    updated_at, deleted, title, description, prompt_seed,
                                    keywords, category, tone, pictogram_emoji, is_favorite,
                                    usage_count)
         VALUES (?1, ?2, 1, ?3, ?3, ?4, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0)",
        params![
            input.title,
            input.description,
            input.prompt_seed,
            keywords_json(&input.keywords),
            input.category.as_str(),
            input.tone.as_str(),
            input.pictogram_emoji,
            input.is_favorite,
        ],
    )?;
    reread::<CustomEvents>(tx, user_id, id).map(CreateOutcome::Created)
}

pub fn update_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: CustomEventPatch,
    now: DateTime<Utc>,
) -> rusqlite::Result<UpdateOutcome<CustomEventRecord>> {
    let started = table::start_update::<CustomEvents>(tx, user_id, id, expected_version, patch)?;
    let (_, merged) = match started {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    if let Err(errors) = merged.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "UPDATE custom_events SET version = version + 1, seq = ?3, updated_at = ?4, title = ?5,
                description = ?6, prompt_seed = ?7, keywords = ?8, category = ?9, tone = ?10,
                pictogram_emoji = ?11, is_favorite = ?12
         WHERE id = ?1 AND user_id = ?2",
        params![
            merged.title,
            merged.description,
            merged.prompt_seed,
            keywords_json(&merged.keywords),
            merged.category.as_str(),
            merged.tone.as_str(),
            merged.pictogram_emoji,
            merged.is_favorite,
        ],
    )?;
    reread::<CustomEvents>(tx, user_id, id).map(UpdateOutcome::Applied)
}

pub fn delete_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<DeleteOutcome<CustomEventRecord>> {
    table::delete_row::<CustomEvents>(tx, user_id, id, expected_version, now, |_| Ok(()))
}

/// Adds to the event's counters (only `usage_count`), whatever its version.
pub fn increment_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    counters: &BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<IncrementOutcome<CustomEventRecord>> {
    let allowed = is_protocol::CUSTOM_EVENT_COUNTERS;
    if let Err(outcome) =
        table::increment_check::<CustomEvents>(tx, user_id, id, allowed, counters)?
    {
        return Ok(outcome);
    }
    let uses = counters.get("usage_count").copied().unwrap_or(0);
    write_row(
        tx,
        user_id,
        id,
        now,
        "UPDATE custom_events SET version = version + 1, seq = ?3, updated_at = ?4,
                usage_count = usage_count + ?5
         WHERE id = ?1 AND user_id = ?2",
        params![uses],
    )?;
    reread::<CustomEvents>(tx, user_id, id).map(IncrementOutcome::Applied)
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub after_created_seq: Option<i64>,
    pub updated_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    pub favorite: Option<bool>,
}

pub fn list_events(
    conn: &Connection,
    user_id: Uuid,
    filter: &EventFilter,
    limit: usize,
) -> rusqlite::Result<Vec<SeqEvent>> {
    let updated_after = filter.updated_after.map(to_micros).unwrap_or(i64::MIN);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_events
         WHERE user_id = ?1
           AND created_seq > ?2
           AND updated_at > ?3
           AND (?4 OR deleted = 0)
           AND (?5 IS NULL OR is_favorite = ?5)
         ORDER BY created_seq
         LIMIT ?6"
    ))?;
    let rows = stmt.query_map(
        params![
            user_id.to_string(),
            filter.after_created_seq.unwrap_or(0),
            updated_after,
            filter.include_deleted,
            filter.favorite,
            limit as i64,
        ],
        from_row,
    )?;
    rows.collect()
}

pub fn changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<SeqEvent>> {
    table::changed_since(
        conn,
        "custom_events",
        COLUMNS,
        user_id,
        after_seq,
        limit,
        from_row,
    )
}
