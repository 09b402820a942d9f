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
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use uuid::Uuid;

use crate::db::{from_micros, next_seq, parse_uuid, to_micros};
use crate::store::{
    validate_increment, CreateOutcome, DeleteOutcome, IncrementOutcome, UpdateOutcome,
};
use crate::story_store::conversion_error;

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
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM custom_events WHERE id = ?1 AND user_id = ?2"),
        params![id.to_string(), user_id.to_string()],
        from_row,
    )
    .optional()
    .map(|o| o.map(|s| s.event))
}

pub fn live_event_exists(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM custom_events WHERE id = ?1 AND user_id = ?2 AND deleted = 0",
            params![id.to_string(), user_id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn reread(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<CustomEventRecord> {
    get_event(conn, user_id, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

fn id_exists(conn: &Connection, id: Uuid) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM custom_events WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
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
    if let Some(existing) = get_event(tx, user_id, id)? {
        return Ok(CreateOutcome::Exists(existing));
    }
    if id_exists(tx, id)? {
        return Ok(CreateOutcome::IdTaken);
    }
    let seq = next_seq(tx)?;
    tx.execute(
        "INSERT INTO custom_events (id, user_id, version, seq, created_seq, created_at,
                                    updated_at, deleted, title, description, prompt_seed,
                                    keywords, category, tone, pictogram_emoji, is_favorite,
                                    usage_count)
         VALUES (?1, ?2, 1, ?3, ?3, ?4, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0)",
        params![
            id.to_string(),
            user_id.to_string(),
            seq,
            to_micros(now),
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
    reread(tx, user_id, id).map(CreateOutcome::Created)
}

pub fn update_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: CustomEventPatch,
    now: DateTime<Utc>,
) -> rusqlite::Result<UpdateOutcome<CustomEventRecord>> {
    let Some(current) = get_event(tx, user_id, id)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    if current.deleted {
        return Ok(UpdateOutcome::Deleted(current));
    }
    if expected_version.is_some_and(|v| v != current.version) {
        return Ok(UpdateOutcome::VersionMismatch(current));
    }
    let patch = patch.normalized();
    if let Err(errors) = patch.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    if patch.is_empty() {
        return Ok(UpdateOutcome::Unchanged(current));
    }
    let mut merged = current.input();
    merged.apply(&patch);
    if let Err(errors) = merged.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE custom_events SET version = version + 1, seq = ?3, updated_at = ?4, title = ?5,
                description = ?6, prompt_seed = ?7, keywords = ?8, category = ?9, tone = ?10,
                pictogram_emoji = ?11, is_favorite = ?12
         WHERE id = ?1 AND user_id = ?2",
        params![
            id.to_string(),
            user_id.to_string(),
            seq,
            to_micros(now),
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
    reread(tx, user_id, id).map(UpdateOutcome::Applied)
}

pub fn delete_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<DeleteOutcome<CustomEventRecord>> {
    let Some(current) = get_event(tx, user_id, id)? else {
        return Ok(DeleteOutcome::NotFound);
    };
    if current.deleted {
        return Ok(DeleteOutcome::AlreadyDeleted(current));
    }
    if expected_version.is_some_and(|v| v != current.version) {
        return Ok(DeleteOutcome::VersionMismatch(current));
    }
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE custom_events SET deleted = 1, version = version + 1, seq = ?3, updated_at = ?4
         WHERE id = ?1 AND user_id = ?2",
        params![id.to_string(), user_id.to_string(), seq, to_micros(now)],
    )?;
    reread(tx, user_id, id).map(DeleteOutcome::Deleted)
}

/// Adds to the event's counters (only `usage_count`), whatever its version.
pub fn increment_event(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    counters: &BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<IncrementOutcome<CustomEventRecord>> {
    if let Err(errors) = validate_increment(is_protocol::CUSTOM_EVENT_COUNTERS, counters) {
        return Ok(IncrementOutcome::Invalid(errors));
    }
    let Some(current) = get_event(tx, user_id, id)? else {
        return Ok(IncrementOutcome::NotFound);
    };
    if current.deleted {
        return Ok(IncrementOutcome::Tombstone(current));
    }
    let uses = counters.get("usage_count").copied().unwrap_or(0);
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE custom_events SET version = version + 1, seq = ?3, updated_at = ?4,
                usage_count = usage_count + ?5
         WHERE id = ?1 AND user_id = ?2",
        params![
            id.to_string(),
            user_id.to_string(),
            seq,
            to_micros(now),
            uses
        ],
    )?;
    reread(tx, user_id, id).map(IncrementOutcome::Applied)
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
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_events WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![user_id.to_string(), after_seq, limit as i64],
        from_row,
    )?;
    rows.collect()
}
