//! The one write path for stories, shared by REST, push, story generation and media
//! generation, plus the scoped reads they need. Same rules as [`crate::store`] (heroes):
//! every function is scoped to a user, every write takes the next sequence value, bumps
//! `version` and sets `updated_at` inside the caller's transaction.
//!
//! A story may only point at the user's own live hero and live custom event: anything
//! else is a field error on `hero_id` / `custom_event_id` (another user's row looks
//! exactly like a missing one).

use chrono::{DateTime, Utc};
use is_protocol::{EventType, FieldError, Language, StoryInput, StoryPatch, StoryRecord};
use rusqlite::{params, Connection, Row, Transaction};
use uuid::Uuid;

use crate::db::{from_micros, next_seq, parse_uuid, to_micros};
use crate::store::{CreateOutcome, DeleteOutcome, IncrementOutcome, UpdateOutcome};
use crate::table::{self, reread, write_row, Stories};

const COLUMNS: &str = "id, version, created_at, updated_at, deleted, hero_id, title, content, \
                       language, event_type, custom_event_id, is_favorite, play_count, \
                       last_played_at, audio_url, audio_duration, seq, created_seq";

/// A story with the sequence numbers of its last write and of its creation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqStory {
    pub seq: i64,
    pub created_seq: i64,
    pub story: StoryRecord,
}

pub(crate) fn conversion_error(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

pub(crate) fn opt_uuid(v: Option<String>, col: usize) -> rusqlite::Result<Option<Uuid>> {
    v.map(|s| Uuid::parse_str(&s).map_err(|e| conversion_error(col, e.to_string())))
        .transpose()
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<SeqStory> {
    let language: String = r.get(8)?;
    let event_type: Option<String> = r.get(9)?;
    Ok(SeqStory {
        story: StoryRecord {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            version: r.get(1)?,
            created_at: from_micros(r.get(2)?)?,
            updated_at: from_micros(r.get(3)?)?,
            deleted: r.get::<_, i64>(4)? != 0,
            hero_id: opt_uuid(r.get(5)?, 5)?,
            title: r.get(6)?,
            content: r.get(7)?,
            language: Language::parse(&language)
                .ok_or_else(|| conversion_error(8, format!("language {language:?}")))?,
            event_type: event_type
                .map(|e| {
                    EventType::parse(&e).ok_or_else(|| conversion_error(9, format!("event {e:?}")))
                })
                .transpose()?,
            custom_event_id: opt_uuid(r.get(10)?, 10)?,
            is_favorite: r.get::<_, i64>(11)? != 0,
            play_count: r.get(12)?,
            last_played_at: r.get::<_, Option<i64>>(13)?.map(from_micros).transpose()?,
            audio_url: r.get(14)?,
            audio_duration: r.get(15)?,
        },
        seq: r.get(16)?,
        created_seq: r.get(17)?,
    })
}

/// The user's story `id`, tombstone or not. `None` for a missing row and for another
/// user's row alike.
pub fn get_story(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<StoryRecord>> {
    Ok(get_with_seq(conn, user_id, id)?.map(|s| s.story))
}

pub fn get_with_seq(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<SeqStory>> {
    table::get_row(conn, "stories", COLUMNS, user_id, id, from_row)
}

/// Field errors for references to rows the user does not have (alive).
fn check_refs(
    conn: &Connection,
    user_id: Uuid,
    hero_id: Option<Uuid>,
    custom_event_id: Option<Uuid>,
) -> rusqlite::Result<Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(h) = hero_id {
        if !crate::store::live_hero_exists(conn, user_id, h)? {
            errors.push(FieldError::new("hero_id", "No such hero"));
        }
    }
    if let Some(e) = custom_event_id {
        if !crate::event_store::live_event_exists(conn, user_id, e)? {
            errors.push(FieldError::new("custom_event_id", "No such custom event"));
        }
    }
    Ok(errors)
}

/// Creates the user's story `id` from `input` (normalized, validated and its references
/// checked here).
pub fn create_story(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    input: StoryInput,
    now: DateTime<Utc>,
) -> rusqlite::Result<CreateOutcome<StoryRecord>> {
    let input = input.normalized();
    let mut errors = input.validate().err().unwrap_or_default();
    errors.extend(check_refs(
        tx,
        user_id,
        input.hero_id,
        input.custom_event_id,
    )?);
    if !errors.is_empty() {
        return Ok(CreateOutcome::Invalid(errors));
    }
    if let Some(outcome) = table::create_conflict::<Stories>(tx, user_id, id)? {
        return Ok(outcome);
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "INSERT INTO stories (id, user_id, version, seq, created_seq, created_at, updated_at,
                              deleted, hero_id, title, content, language, event_type,
                              custom_event_id, is_favorite, play_count)
         VALUES (?1, ?2, 1, ?3, ?3, ?4, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0)",
        params![
            input.hero_id.map(|h| h.to_string()),
            input.title,
            input.content,
            input.language.as_str(),
            input.event_type.map(|e| e.as_str()),
            input.custom_event_id.map(|e| e.to_string()),
            input.is_favorite,
        ],
    )?;
    reread::<Stories>(tx, user_id, id).map(CreateOutcome::Created)
}

/// Applies `patch` to the user's story `id` if it is still at `expected_version` (or
/// unconditionally with `None`). Order of checks: missing, tombstone, version,
/// validation (patch, merged story, references that changed).
pub fn update_story(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: StoryPatch,
    now: DateTime<Utc>,
) -> rusqlite::Result<UpdateOutcome<StoryRecord>> {
    let started = table::start_update::<Stories>(tx, user_id, id, expected_version, patch)?;
    let (current, merged) = match started {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let mut errors = merged.validate().err().unwrap_or_default();
    let new_hero = merged.hero_id.filter(|h| Some(*h) != current.hero_id);
    let new_event = merged
        .custom_event_id
        .filter(|e| Some(*e) != current.custom_event_id);
    errors.extend(check_refs(tx, user_id, new_hero, new_event)?);
    if !errors.is_empty() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "UPDATE stories SET version = version + 1, seq = ?3, updated_at = ?4, hero_id = ?5,
                title = ?6, content = ?7, language = ?8, event_type = ?9,
                custom_event_id = ?10, is_favorite = ?11
         WHERE id = ?1 AND user_id = ?2",
        params![
            merged.hero_id.map(|h| h.to_string()),
            merged.title,
            merged.content,
            merged.language.as_str(),
            merged.event_type.map(|e| e.as_str()),
            merged.custom_event_id.map(|e| e.to_string()),
            merged.is_favorite,
        ],
    )?;
    reread::<Stories>(tx, user_id, id).map(UpdateOutcome::Applied)
}

/// Tombstones the user's story `id` (and its illustrations) if it is still at
/// `expected_version` (or unconditionally with `None`).
pub fn delete_story(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<DeleteOutcome<StoryRecord>> {
    table::delete_row::<Stories>(tx, user_id, id, expected_version, now, |tx| {
        crate::illustration_store::delete_for_story(tx, user_id, id, now).map(drop)
    })
}

/// Adds to the story's counters (only `play_count`), whatever its version. Sets
/// `last_played_at` to `now`.
pub fn increment_story(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    counters: &std::collections::BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<IncrementOutcome<StoryRecord>> {
    let allowed = is_protocol::STORY_COUNTERS;
    if let Err(outcome) = table::increment_check::<Stories>(tx, user_id, id, allowed, counters)? {
        return Ok(outcome);
    }
    let plays = counters.get("play_count").copied().unwrap_or(0);
    write_row(
        tx,
        user_id,
        id,
        now,
        "UPDATE stories SET version = version + 1, seq = ?3, updated_at = ?4,
                play_count = play_count + ?5,
                last_played_at = CASE WHEN ?5 > 0 THEN ?4 ELSE last_played_at END
         WHERE id = ?1 AND user_id = ?2",
        params![plays],
    )?;
    reread::<Stories>(tx, user_id, id).map(IncrementOutcome::Applied)
}

/// Unlinks the user's live stories of `hero_id` (a new version each).
pub fn unlink_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    hero_id: Uuid,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    let ids: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id FROM stories WHERE user_id = ?1 AND hero_id = ?2 AND deleted = 0
             ORDER BY created_seq",
        )?;
        let rows = stmt.query_map(params![user_id.to_string(), hero_id.to_string()], |r| {
            r.get(0)
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        let seq = next_seq(tx)?;
        tx.execute(
            "UPDATE stories SET hero_id = NULL, version = version + 1, seq = ?2, updated_at = ?3
             WHERE id = ?1",
            params![id, seq, to_micros(now)],
        )?;
    }
    Ok(ids.len())
}

/// Sets the server-written audio fields of a live story (a new version). `None` when
/// the story is gone or a tombstone by now.
pub fn set_audio(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    audio_url: &str,
    duration_secs: f64,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<StoryRecord>> {
    table::write_live_row::<Stories>(
        tx,
        user_id,
        id,
        now,
        "UPDATE stories SET version = version + 1, seq = ?3, updated_at = ?4, audio_url = ?5,
                audio_duration = ?6
         WHERE id = ?1 AND user_id = ?2",
        params![audio_url, duration_secs],
    )
}

/// Filters of `GET /api/stories`.
#[derive(Debug, Clone, Default)]
pub struct StoryFilter {
    /// Keyset position: the `created_seq` of the last row of the previous page.
    pub after_created_seq: Option<i64>,
    pub updated_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    pub hero_id: Option<Uuid>,
    pub favorite: Option<bool>,
}

/// The user's stories in creation order (see [`crate::store::list_heroes`] for why the
/// creation sequence is a stable key).
pub fn list_stories(
    conn: &Connection,
    user_id: Uuid,
    filter: &StoryFilter,
    limit: usize,
) -> rusqlite::Result<Vec<SeqStory>> {
    let updated_after = filter.updated_after.map(to_micros).unwrap_or(i64::MIN);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM stories
         WHERE user_id = ?1
           AND created_seq > ?2
           AND updated_at > ?3
           AND (?4 OR deleted = 0)
           AND (?5 IS NULL OR hero_id = ?5)
           AND (?6 IS NULL OR is_favorite = ?6)
         ORDER BY created_seq
         LIMIT ?7"
    ))?;
    let rows = stmt.query_map(
        params![
            user_id.to_string(),
            filter.after_created_seq.unwrap_or(0),
            updated_after,
            filter.include_deleted,
            filter.hero_id.map(|h| h.to_string()),
            filter.favorite,
            limit as i64,
        ],
        from_row,
    )?;
    rows.collect()
}

/// The user's stories written after sequence `after_seq`, in sequence order.
pub fn changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<SeqStory>> {
    table::changed_since(
        conn, "stories", COLUMNS, user_id, after_seq, limit, from_row,
    )
}
