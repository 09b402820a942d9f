//! How story illustrations are stored. They are no [`is_protocol::Entity`] (clients never
//! write them: media generation does, REST and the change feed read them), so this table
//! keeps its own SQL. Every write takes the next sequence value and bumps `version`.

use crate::params;
use crate::sql::{Connection, OptionalExtension, Row, Transaction};
use chrono::{DateTime, Utc};
use is_protocol::{GenerationStatus, IllustrationRecord};
use uuid::Uuid;

use crate::db::{
    conversion_error, from_micros, next_seq, parse_uuid, to_micros, write_each, UuidText,
};

const COLUMNS: &str = "id, version, created_at, updated_at, deleted, story_id, image_url, \
                       prompt, timestamp, display_order, generation_status, seq";

#[derive(Debug, Clone, PartialEq)]
pub struct SeqIllustration {
    pub seq: i64,
    pub illustration: IllustrationRecord,
}

fn from_row(r: &Row<'_>) -> crate::sql::Result<SeqIllustration> {
    let status: String = r.get(10)?;
    let order: i64 = r.get(9)?;
    Ok(SeqIllustration {
        illustration: IllustrationRecord {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            version: r.get(1)?,
            created_at: from_micros(r.get(2)?)?,
            updated_at: from_micros(r.get(3)?)?,
            deleted: r.get::<_, i64>(4)? != 0,
            story_id: parse_uuid(&r.get::<_, String>(5)?)?,
            image_url: r.get(6)?,
            prompt: r.get(7)?,
            timestamp: r.get(8)?,
            display_order: u32::try_from(order).map_err(|e| conversion_error(9, e.to_string()))?,
            generation_status: GenerationStatus::parse(&status)
                .ok_or_else(|| conversion_error(10, format!("status {status:?}")))?,
        },
        seq: r.get(11)?,
    })
}

pub fn get_illustration(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> crate::sql::Result<Option<IllustrationRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM illustrations WHERE id = ?1 AND user_id = ?2"
    ))?;
    stmt.query_row(params![id.to_string(), user_id.to_string()], from_row)
        .optional()
        .map(|o| o.map(|s| s.illustration))
}

/// The story's live illustrations, in display order.
pub fn list_for_story(
    conn: &Connection,
    user_id: Uuid,
    story_id: Uuid,
) -> crate::sql::Result<Vec<IllustrationRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM illustrations
         WHERE user_id = ?1 AND story_id = ?2 AND deleted = 0
         ORDER BY display_order, created_seq"
    ))?;
    let rows = stmt.query_map(params![user_id.to_string(), story_id.to_string()], from_row)?;
    rows.map(|r| r.map(|s| s.illustration)).collect()
}

/// One illustration to be generated.
#[derive(Debug, Clone)]
pub struct PendingIllustration {
    pub id: Uuid,
    pub prompt: String,
    pub timestamp: f64,
    pub display_order: u32,
}

/// Replaces the story's illustrations: tombstones the live ones and inserts `items` as
/// `pending`.
pub fn replace_with_pending(
    tx: &Transaction<'_>,
    user_id: Uuid,
    story_id: Uuid,
    items: &[PendingIllustration],
    now: DateTime<Utc>,
) -> crate::sql::Result<Vec<IllustrationRecord>> {
    delete_for_story(tx, user_id, story_id, now)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let seq = next_seq(tx)?;
        tx.execute(
            "INSERT INTO illustrations (id, user_id, story_id, version, seq, created_seq,
                                        created_at, updated_at, deleted, image_url, prompt,
                                        timestamp, display_order, generation_status)
             VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5, ?5, 0, NULL, ?6, ?7, ?8, 'pending')",
            params![
                item.id.to_string(),
                user_id.to_string(),
                story_id.to_string(),
                seq,
                to_micros(now),
                item.prompt,
                item.timestamp,
                item.display_order as i64,
            ],
        )?;
        out.push(
            get_illustration(tx, user_id, item.id)?
                .ok_or(crate::sql::Error::QueryReturnedNoRows)?,
        );
    }
    Ok(out)
}

/// Moves a live illustration to `status` (with its image for `ready`). `None` when it
/// is gone or a tombstone by now.
pub fn set_status(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    status: GenerationStatus,
    image_url: Option<&str>,
    now: DateTime<Utc>,
) -> crate::sql::Result<Option<IllustrationRecord>> {
    match get_illustration(tx, user_id, id)? {
        Some(i) if !i.deleted => {}
        _ => return Ok(None),
    }
    tx.prepare_cached(
        "UPDATE illustrations SET version = version + 1, seq = ?3, updated_at = ?4,
                generation_status = ?5, image_url = COALESCE(?6, image_url)
         WHERE id = ?1 AND user_id = ?2",
    )?
    .execute(params![
        id.to_string(),
        user_id.to_string(),
        next_seq(tx)?,
        to_micros(now),
        status.as_str(),
        image_url
    ])?;
    get_illustration(tx, user_id, id)
}

/// Tombstones the story's live illustrations (a new version each).
pub fn delete_for_story(
    tx: &Transaction<'_>,
    user_id: Uuid,
    story_id: Uuid,
    now: DateTime<Utc>,
) -> crate::sql::Result<usize> {
    write_each(
        tx,
        "SELECT id FROM illustrations WHERE user_id = ?1 AND story_id = ?2 AND deleted = 0
         ORDER BY display_order, created_seq",
        params![UuidText::new(user_id), UuidText::new(story_id)],
        "UPDATE illustrations SET deleted = 1, version = version + 1, seq = ?2, updated_at = ?3
         WHERE id = ?1",
        now,
    )
}

/// How many of the user's illustrations have their last write above `after_seq`,
/// counting at most `cap`.
pub fn count_changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    cap: u64,
) -> crate::sql::Result<u64> {
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT 1 FROM illustrations WHERE user_id = ?1 AND seq > ?2 LIMIT ?3) AS counted",
    )?;
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    stmt.query_row(params![user_id.to_string(), after_seq, cap], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
}

pub fn changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
) -> crate::sql::Result<Vec<SeqIllustration>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM illustrations WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![user_id.to_string(), after_seq, limit as i64],
        from_row,
    )?;
    rows.collect()
}
