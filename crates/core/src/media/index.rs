//! The cache index in SQLite (`media_cache`, migration 4): one row per key, complete
//! or partial (a download to resume). Times are Unix milliseconds. The file of a row is
//! always `key::file_name(key)`; the `file` column only lets the folder watcher find a
//! row from a file name.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use super::key::{file_name, CacheKind, MediaRef};
use super::retention::Entry;
use crate::entity::store::UuidText;
use crate::error::Result;

pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The URL a row has for a media reference, if it is alive and has one. Whether the
/// URL is one the cache will fetch is the caller's check (`key::valid_key`).
pub fn key_of(conn: &Connection, r: MediaRef) -> Result<Option<String>> {
    let sql = match r.kind {
        CacheKind::Avatar => {
            "SELECT avatar_url FROM heroes WHERE id = ?1 AND sync_status <> 'pending_delete'"
        }
        CacheKind::Audio => {
            "SELECT audio_url FROM stories WHERE id = ?1 AND sync_status <> 'pending_delete'"
        }
        CacheKind::Illustration => {
            "SELECT i.image_url FROM story_illustrations i JOIN stories s ON s.id = i.story_id
             WHERE i.id = ?1 AND s.sync_status <> 'pending_delete'"
        }
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([UuidText::new(r.id)], |row| row.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// A complete file, as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    pub key: String,
    pub size: u64,
    pub hash: String,
    pub etag: Option<String>,
    pub content_type: String,
    pub last_used: i64,
}

/// A download to resume: what the server said when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub total: Option<u64>,
}

pub fn complete(conn: &Connection, key: &str) -> Result<Option<Complete>> {
    Ok(conn
        .prepare_cached(
            "SELECT size, hash, etag, content_type, last_used_at FROM media_cache
             WHERE key = ?1 AND state = 'complete'",
        )?
        .query_row([key], |r| {
            Ok(Complete {
                key: key.to_owned(),
                size: r.get::<_, i64>("size")?.max(0) as u64,
                hash: r.get("hash")?,
                etag: r.get("etag")?,
                content_type: r.get("content_type")?,
                last_used: r.get("last_used_at")?,
            })
        })
        .optional()?)
}

pub fn partial(conn: &Connection, key: &str) -> Result<Option<Partial>> {
    Ok(conn
        .prepare_cached(
            "SELECT etag, content_type, size FROM media_cache WHERE key = ?1 AND state = 'partial'",
        )?
        .query_row([key], |r| {
            let total: i64 = r.get("size")?;
            Ok(Partial {
                etag: r.get("etag")?,
                content_type: r.get("content_type")?,
                total: (total > 0).then_some(total as u64),
            })
        })
        .optional()?)
}

/// Records a download in progress (unless the key has a complete file).
pub fn set_partial(
    conn: &Connection,
    key: &str,
    owner: MediaRef,
    p: &Partial,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO media_cache (key, file, kind, owner_id, state, size, etag, content_type, last_used_at)
         VALUES (?1, ?2, ?3, ?4, 'partial', ?5, ?6, ?7, ?8)
         ON CONFLICT (key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
             content_type = excluded.content_type, last_used_at = excluded.last_used_at
         WHERE media_cache.state = 'partial'",
    )?
    .execute(params![
        key,
        file_name(key),
        owner.kind.as_str(),
        UuidText::new(owner.id),
        p.total.unwrap_or(0) as i64,
        p.etag,
        p.content_type,
        millis(now),
    ])?;
    Ok(())
}

/// Records a complete, verified file (replacing its partial row or an older version).
#[allow(clippy::too_many_arguments)]
pub fn set_complete(
    conn: &Connection,
    key: &str,
    owner: MediaRef,
    size: u64,
    hash: &str,
    etag: Option<&str>,
    content_type: &str,
    pinned: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO media_cache
             (key, file, kind, owner_id, state, size, hash, etag, content_type, fetched_at, last_used_at, pinned, durable)
         VALUES (?1, ?2, ?3, ?4, 'complete', ?5, ?6, ?7, ?8, ?9, ?9, ?10, 0)
         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, owner_id = excluded.owner_id,
             state = 'complete', size = excluded.size, hash = excluded.hash,
             etag = excluded.etag, content_type = excluded.content_type,
             fetched_at = excluded.fetched_at, last_used_at = excluded.last_used_at,
             pinned = excluded.pinned, durable = 0",
    )?
    .execute(params![
        key,
        file_name(key),
        owner.kind.as_str(),
        UuidText::new(owner.id),
        size as i64,
        hash,
        etag,
        content_type,
        millis(now),
        pinned,
    ])?;
    Ok(())
}

/// The other keys recorded for the same owner and kind (an older version of its file).
pub fn others_of_owner(conn: &Connection, key: &str, owner: MediaRef) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key FROM media_cache WHERE owner_id = ?1 AND kind = ?2 AND key <> ?3",
    )?;
    let rows = stmt.query_map(
        params![UuidText::new(owner.id), owner.kind.as_str(), key],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes many rows in one statement.
pub fn remove_all(conn: &Connection, keys: &[&str]) -> Result<usize> {
    let json = serde_json::to_string(keys)?;
    Ok(conn
        .prepare_cached("DELETE FROM media_cache WHERE key IN (SELECT value FROM json_each(?1))")?
        .execute([json])?)
}

/// The partial downloads, with the row they are for (`None`: a kind or id this version
/// cannot read).
pub fn partials(conn: &Connection) -> Result<Vec<(String, Option<MediaRef>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, kind, owner_id FROM media_cache WHERE state = 'partial'")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>("key")?,
            r.get::<_, String>("kind")?,
            r.get::<_, String>("owner_id")?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, kind, id) = row?;
        let owner = match (CacheKind::parse(&kind), Uuid::parse_str(&id)) {
            (Some(kind), Ok(id)) => Some(MediaRef::new(kind, id)),
            _ => None,
        };
        out.push((key, owner));
    }
    Ok(out)
}

/// The file of this version of `key` is on disk (its fsync returned).
pub fn set_durable(conn: &Connection, key: &str, hash: &str) -> Result<()> {
    conn.prepare_cached("UPDATE media_cache SET durable = 1 WHERE key = ?1 AND hash = ?2")?
        .execute([key, hash])?;
    Ok(())
}

/// Complete rows whose file may not have reached the disk before the app stopped:
/// (key, hash).
pub fn not_durable(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, hash FROM media_cache WHERE state = 'complete' AND durable = 0",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get("key")?,
            r.get::<_, Option<String>>("hash")?.unwrap_or_default(),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn remove(conn: &Connection, key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM media_cache WHERE key = ?1")?
        .execute([key])?
        > 0)
}

/// How often a file's last use is written at most.
pub const TOUCH_EVERY_MS: i64 = 60_000;

/// A read extends a file's life (SPEC.md section 10: "since last use"). Written at most
/// once a minute per file, so that an audio player's range requests cost no writes.
pub fn touch(conn: &Connection, key: &str, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE media_cache SET last_used_at = ?2 WHERE key = ?1 AND last_used_at <= ?2 - ?3",
    )?
    .execute(params![key, millis(now), TOUCH_EVERY_MS])?;
    Ok(())
}

/// The row of a file name (for the folder watcher).
pub fn by_file(conn: &Connection, file: &str) -> Result<Option<(String, String, u64, String)>> {
    Ok(conn
        .prepare_cached("SELECT key, state, size, hash FROM media_cache WHERE file = ?1")?
        .query_row([file], |r| {
            Ok((
                r.get("key")?,
                r.get("state")?,
                r.get::<_, i64>("size")?.max(0) as u64,
                r.get::<_, Option<String>>("hash")?.unwrap_or_default(),
            ))
        })
        .optional()?)
}

/// Every row: (key, state, size).
pub fn all(conn: &Connection) -> Result<Vec<(String, String, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT key, state, size FROM media_cache")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get("key")?,
            r.get("state")?,
            r.get::<_, i64>("size")?.max(0) as u64,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Refreshes the pinned flags (the narration of favourite stories), then reads every
/// complete file with whether a living row still points at it: the eviction's input.
pub fn entries(conn: &Connection) -> Result<Vec<Entry>> {
    conn.prepare_cached(
        "UPDATE media_cache SET pinned = (kind = 'audio' AND EXISTS (
             SELECT 1 FROM stories s WHERE s.id = media_cache.owner_id
             AND s.audio_url = media_cache.key AND s.is_favorite = 1
             AND s.sync_status <> 'pending_delete'))
         WHERE pinned <> (kind = 'audio' AND EXISTS (
             SELECT 1 FROM stories s WHERE s.id = media_cache.owner_id
             AND s.audio_url = media_cache.key AND s.is_favorite = 1
             AND s.sync_status <> 'pending_delete'))",
    )?
    .execute([])?;
    let mut stmt = conn.prepare_cached(
        "SELECT m.key, m.kind, m.size, m.last_used_at, m.pinned,
             CASE m.kind
               WHEN 'avatar' THEN EXISTS (SELECT 1 FROM heroes h WHERE h.id = m.owner_id
                   AND h.avatar_url = m.key AND h.sync_status <> 'pending_delete')
               WHEN 'audio' THEN EXISTS (SELECT 1 FROM stories s WHERE s.id = m.owner_id
                   AND s.audio_url = m.key AND s.sync_status <> 'pending_delete')
               WHEN 'illustration' THEN EXISTS (SELECT 1 FROM story_illustrations i
                   JOIN stories s ON s.id = i.story_id WHERE i.id = m.owner_id
                   AND i.image_url = m.key AND s.sync_status <> 'pending_delete')
               ELSE 0
             END AS wanted
         FROM media_cache m WHERE m.state = 'complete'",
    )?;
    let rows = stmt.query_map([], |r| {
        let kind: String = r.get("kind")?;
        Ok((
            r.get::<_, String>("key")?,
            kind,
            r.get::<_, i64>("size")?,
            r.get::<_, i64>("last_used_at")?,
            r.get::<_, bool>("pinned")?,
            r.get::<_, bool>("wanted")?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, kind, size, used, pinned, wanted) = row?;
        // A kind this version does not know (a newer app wrote it) is nobody's: release.
        let (kind, wanted) = match CacheKind::parse(&kind) {
            Some(k) => (k, wanted),
            None => (CacheKind::Illustration, false),
        };
        out.push(Entry {
            key,
            kind,
            size: size.max(0) as u64,
            last_used: from_millis(used),
            wanted,
            pinned,
        });
    }
    Ok(out)
}

/// Bytes and files by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KindUsage {
    pub kind: Option<CacheKind>,
    pub files: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// Of which pinned (favourites' narration) or kept with their hero (avatars).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub protected_bytes: u64,
}

/// What the cache holds, by kind (complete files only).
pub fn usage(conn: &Connection) -> Result<Vec<KindUsage>> {
    let mut out: Vec<KindUsage> = CacheKind::ALL
        .into_iter()
        .map(|k| KindUsage {
            kind: Some(k),
            ..KindUsage::default()
        })
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT kind, COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes,
             COALESCE(SUM(CASE WHEN pinned OR kind = 'avatar' THEN size ELSE 0 END), 0) AS protected
         FROM media_cache WHERE state = 'complete' GROUP BY kind",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>("kind")?,
            r.get::<_, i64>("files")?,
            r.get::<_, i64>("bytes")?,
            r.get::<_, i64>("protected")?,
        ))
    })?;
    for row in rows {
        let (kind, files, bytes, protected) = row?;
        if let Some(u) = out
            .iter_mut()
            .find(|u| u.kind.map(CacheKind::as_str) == Some(kind.as_str()))
        {
            u.files = files as u32;
            u.bytes = bytes as u64;
            u.protected_bytes = protected as u64;
        }
    }
    Ok(out)
}

/// The total size of complete files.
pub fn total_bytes(conn: &Connection) -> Result<u64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM media_cache WHERE state = 'complete'")?
        .query_row([], |r| r.get::<_, i64>(0))?
        .max(0) as u64)
}

/// Keys of the complete files of a kind (or all), for clearing.
pub fn keys_of_kind(conn: &Connection, kind: Option<CacheKind>) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key FROM media_cache WHERE ?1 IS NULL OR kind = ?1")?;
    let rows = stmt.query_map([kind.map(CacheKind::as_str)], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What prefetch keeps on disk: avatars, and a favourite story's narration and pictures.
/// Each part reads a partial index (`heroes_with_avatar`, `stories_favorite`), not every row.
pub(crate) const PREFETCH_SQL: &str =
    "SELECT 'avatar' AS kind, h.id AS id, h.avatar_url AS key FROM heroes h
         WHERE h.avatar_url IS NOT NULL AND h.sync_status <> 'pending_delete'
     UNION ALL
     SELECT 'audio', s.id, s.audio_url FROM stories s
         WHERE s.audio_url IS NOT NULL AND s.is_favorite = 1 AND s.sync_status <> 'pending_delete'
     UNION ALL
     SELECT 'illustration', i.id, i.image_url FROM stories s
         JOIN story_illustrations i ON i.story_id = s.id
         WHERE i.image_url IS NOT NULL AND s.is_favorite = 1 AND s.sync_status <> 'pending_delete'";

/// What prefetch fetches (SPEC.md section 10): every living hero's avatar and the
/// narration and illustrations of favourite stories, that are not complete yet.
pub fn missing_for_prefetch(conn: &Connection) -> Result<Vec<(MediaRef, String)>> {
    let mut stmt = conn.prepare_cached(PREFETCH_SQL)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>("kind")?,
            r.get::<_, String>("id")?,
            r.get::<_, String>("key")?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, id, key) = row?;
        let (Some(kind), Ok(id)) = (CacheKind::parse(&kind), Uuid::parse_str(&id)) else {
            continue;
        };
        if complete(conn, &key)?.is_none() {
            out.push((MediaRef::new(kind, id), key));
        }
    }
    Ok(out)
}

/// Whether the owner of `r` pins its file (a favourite story's narration).
pub fn pinned(conn: &Connection, r: MediaRef) -> Result<bool> {
    if r.kind != CacheKind::Audio {
        return Ok(false);
    }
    Ok(conn
        .prepare_cached("SELECT is_favorite FROM stories WHERE id = ?1")?
        .query_row([UuidText::new(r.id)], |row| row.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

pub fn clear_all(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM media_cache", [])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PREFETCH_SQL;
    use crate::db;

    /// What prefetch wants is asked after every sync run: it reads partial indexes
    /// (`heroes_with_avatar`, `stories_favorite`), not every hero and story (migration 6).
    #[test]
    fn what_prefetch_wants_reads_indexes() {
        let conn = db::open_in_memory().unwrap();
        assert_eq!(
            db::tables_read_without_index(&conn, PREFETCH_SQL),
            [] as [String; 0]
        );
    }
}
