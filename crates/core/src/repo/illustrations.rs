//! Story illustrations (SPEC.md section 2): written by the server only, so they have no
//! sync metadata and no outbox: the cache mirrors what the change feed (or a refresh of
//! `GET /api/stories/{id}/illustrations`) says. Read cacheAndNetwork; serverWins.

use chrono::{DateTime, Utc};
use is_protocol::{GenerationStatus, IllustrationRecord};
use rusqlite::{params, Connection, Row};
use serde::Serialize;
use uuid::Uuid;

use crate::entity::store::UuidText;
use crate::error::{CoreError, Result};
use crate::policy::CachePolicy;

/// Default cache policy (SPEC.md section 2).
pub const POLICY: CachePolicy = CachePolicy::CacheAndNetwork;

/// Applies one server row: a tombstone removes it; a row at least as new as the cached
/// one replaces it (`always`: whatever its version, as in a full resync). Marks the row
/// seen in generation `gen`.
pub fn apply(conn: &Connection, rec: &IllustrationRecord, gen: i64, always: bool) -> Result<()> {
    let id = UuidText::new(rec.id);
    if rec.deleted {
        conn.prepare_cached(
            "DELETE FROM story_illustrations WHERE id = ?1 AND (?2 OR version <= ?3)",
        )?
        .execute(params![id, always, rec.version])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO story_illustrations
             (id, story_id, version, created_at, updated_at, image_url, prompt, timestamp, display_order,
              generation_status, seen_gen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET
             story_id = excluded.story_id, version = excluded.version, created_at = excluded.created_at,
             updated_at = excluded.updated_at, image_url = excluded.image_url, prompt = excluded.prompt,
             timestamp = excluded.timestamp, display_order = excluded.display_order,
             generation_status = excluded.generation_status, seen_gen = excluded.seen_gen
         WHERE ?12 OR excluded.version >= story_illustrations.version",
    )?
    .execute(params![
        id,
        UuidText::new(rec.story_id),
        rec.version,
        rec.created_at.to_rfc3339(),
        rec.updated_at.to_rfc3339(),
        rec.image_url,
        rec.prompt,
        rec.timestamp,
        rec.display_order,
        rec.generation_status.as_str(),
        gen,
        always,
    ])?;
    conn.prepare_cached("UPDATE story_illustrations SET seen_gen = ?2 WHERE id = ?1")?
        .execute(params![id, gen])?;
    Ok(())
}

/// Replaces a story's cached illustrations with the server's live list.
pub fn replace_for_story(
    conn: &Connection,
    story: Uuid,
    recs: &[IllustrationRecord],
    gen: i64,
) -> Result<()> {
    let keep: Vec<String> = recs.iter().map(|r| r.id.to_string()).collect();
    let cached: Vec<String> = conn
        .prepare_cached("SELECT id FROM story_illustrations WHERE story_id = ?1")?
        .query_map([UuidText::new(story)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in cached.iter().filter(|id| !keep.contains(id)) {
        conn.prepare_cached("DELETE FROM story_illustrations WHERE id = ?1")?
            .execute([id])?;
    }
    for rec in recs {
        apply(conn, rec, gen, false)?;
    }
    Ok(())
}

pub fn delete_for_story(conn: &Connection, story: Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM story_illustrations WHERE story_id = ?1")?
        .execute([UuidText::new(story)])?;
    Ok(())
}

/// A story's illustrations in display order.
pub fn list_for_story(conn: &Connection, story: Uuid) -> Result<Vec<IllustrationView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, story_id, image_url, prompt, timestamp, display_order, generation_status, updated_at
         FROM story_illustrations WHERE story_id = ?1 ORDER BY display_order, id",
    )?;
    let rows = stmt.query_map([UuidText::new(story)], from_row)?;
    rows.map(|r| r?).collect()
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Result<IllustrationView>> {
    let id: String = r.get(0)?;
    let story_id: String = r.get(1)?;
    let image_url: Option<String> = r.get(2)?;
    let prompt: String = r.get(3)?;
    let timestamp: f64 = r.get(4)?;
    let display_order: u32 = r.get(5)?;
    let status: String = r.get(6)?;
    let updated_at: String = r.get(7)?;
    Ok((|| {
        let bad = |what: &str| CoreError::Corrupt(format!("illustration {id}: bad {what}"));
        Ok(IllustrationView {
            id: id.parse().map_err(|_| bad("id"))?,
            story_id: story_id.parse().map_err(|_| bad("story_id"))?,
            image_url,
            prompt,
            timestamp,
            display_order,
            generation_status: GenerationStatus::parse(&status)
                .ok_or_else(|| bad("generation_status"))?,
            updated_at: updated_at.parse().map_err(|_| bad("updated_at"))?,
        })
    })())
}

/// Whether any illustration of the story is cached (a cache hit for the policy).
pub fn any_for_story(conn: &Connection, story: Uuid) -> Result<bool> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM story_illustrations WHERE story_id = ?1")?
        .query_row([UuidText::new(story)], |r| r.get(0))?;
    Ok(n > 0)
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
