//! SQLite storage: opening, pragmas and numbered migrations.
//!
//! The schema version lives in SQLite's `user_version`. Migration `n` (1-based) runs in
//! one transaction that also sets `user_version = n`, so a crash mid-migration leaves the
//! database at the previous version. A database written by a newer server (a
//! `user_version` past the last known migration) is refused rather than misread.
//!
//! Timestamps are stored as integer microseconds since the Unix epoch (UTC), so they sort
//! and compare exactly; UUIDs as their hyphenated text.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

/// Every migration, in order. Never edit a released one: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, heroes, the global write sequence and the idempotency log.
    r#"
    CREATE TABLE server_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;

    -- Bearer sessions. Only a SHA-256 digest of the token is stored.
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE INDEX sessions_user ON sessions(user_id);

    -- One global, monotonically increasing write sequence shared by every entity: each
    -- write of a synced row stamps the row with the next value. The change feed pages by it.
    CREATE TABLE sync_sequence (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        value INTEGER NOT NULL
    ) STRICT;
    INSERT INTO sync_sequence (id, value) VALUES (1, 0);

    CREATE TABLE heroes (
        id                   TEXT PRIMARY KEY,
        user_id              TEXT NOT NULL REFERENCES users(id),
        version              INTEGER NOT NULL,
        seq                  INTEGER NOT NULL UNIQUE,
        -- The sequence value of the row's creation; never changes. REST lists page by it.
        created_seq          INTEGER NOT NULL UNIQUE,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        deleted              INTEGER NOT NULL DEFAULT 0,
        name                 TEXT NOT NULL,
        age                  INTEGER NOT NULL,
        traits               TEXT NOT NULL,
        appearance           TEXT NOT NULL,
        special_ability      TEXT NOT NULL,
        avatar_url           TEXT,
        avatar_generation_id TEXT
    ) STRICT;
    CREATE INDEX heroes_user_seq ON heroes(user_id, seq);
    CREATE INDEX heroes_user_created ON heroes(user_id, created_seq);

    -- Idempotency log: the first outcome of every mutation id, per user.
    CREATE TABLE applied_mutations (
        user_id     TEXT NOT NULL REFERENCES users(id),
        mutation_id TEXT NOT NULL,
        entity      TEXT NOT NULL,
        row_id      TEXT NOT NULL,
        op          TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (user_id, mutation_id)
    ) STRICT;
    "#,
    // 2: the full data model: profiles, stories, custom events, illustrations, media
    // files, usage events and the tombstone horizon.
    r#"
    -- The profile lives on the user row. `seq` 0 means "never changed since sign-up":
    -- the change feed carries the profile only once it changed (GET /api/users/me
    -- serves it always).
    ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE users ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN preferred_language TEXT NOT NULL DEFAULT 'en';
    ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'system';
    ALTER TABLE users ADD COLUMN subscription_tier TEXT NOT NULL DEFAULT 'free';
    UPDATE users SET updated_at = created_at;
    CREATE INDEX users_seq ON users(seq);

    CREATE TABLE custom_events (
        id              TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL REFERENCES users(id),
        version         INTEGER NOT NULL,
        seq             INTEGER NOT NULL UNIQUE,
        created_seq     INTEGER NOT NULL UNIQUE,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        deleted         INTEGER NOT NULL DEFAULT 0,
        title           TEXT NOT NULL,
        description     TEXT NOT NULL,
        prompt_seed     TEXT NOT NULL,
        keywords        TEXT NOT NULL,
        category        TEXT NOT NULL,
        tone            TEXT NOT NULL,
        pictogram_emoji TEXT NOT NULL,
        is_favorite     INTEGER NOT NULL DEFAULT 0,
        usage_count     INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX custom_events_user_seq ON custom_events(user_id, seq);
    CREATE INDEX custom_events_user_created ON custom_events(user_id, created_seq);

    -- hero_id and custom_event_id are plain columns, not foreign keys: a deleted hero's
    -- stories are unlinked, and tombstones are pruned independently.
    CREATE TABLE stories (
        id              TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL REFERENCES users(id),
        version         INTEGER NOT NULL,
        seq             INTEGER NOT NULL UNIQUE,
        created_seq     INTEGER NOT NULL UNIQUE,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        deleted         INTEGER NOT NULL DEFAULT 0,
        hero_id         TEXT,
        title           TEXT NOT NULL,
        content         TEXT NOT NULL,
        language        TEXT NOT NULL,
        event_type      TEXT,
        custom_event_id TEXT,
        is_favorite     INTEGER NOT NULL DEFAULT 0,
        play_count      INTEGER NOT NULL DEFAULT 0,
        last_played_at  INTEGER,
        audio_url       TEXT,
        audio_duration  REAL
    ) STRICT;
    CREATE INDEX stories_user_seq ON stories(user_id, seq);
    CREATE INDEX stories_user_created ON stories(user_id, created_seq);
    CREATE INDEX stories_user_hero ON stories(user_id, hero_id);

    CREATE TABLE illustrations (
        id                TEXT PRIMARY KEY,
        user_id           TEXT NOT NULL REFERENCES users(id),
        story_id          TEXT NOT NULL,
        version           INTEGER NOT NULL,
        seq               INTEGER NOT NULL UNIQUE,
        created_seq       INTEGER NOT NULL UNIQUE,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        deleted           INTEGER NOT NULL DEFAULT 0,
        image_url         TEXT,
        prompt            TEXT NOT NULL,
        timestamp         REAL NOT NULL,
        display_order     INTEGER NOT NULL,
        generation_status TEXT NOT NULL
    ) STRICT;
    CREATE INDEX illustrations_user_seq ON illustrations(user_id, seq);
    CREATE INDEX illustrations_story ON illustrations(story_id, display_order);

    -- Generated files under the media directory. `name` is made from a server id, never
    -- from user input; `owner_id` is the row the file belongs to.
    CREATE TABLE media_files (
        name         TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users(id),
        owner_id     TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size         INTEGER NOT NULL,
        etag         TEXT NOT NULL,
        created_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX media_files_owner ON media_files(owner_id);

    -- What a user generated, for the monthly usage limits.
    CREATE TABLE usage_events (
        id      INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        kind    TEXT NOT NULL,
        amount  REAL NOT NULL,
        at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX usage_events_user_at ON usage_events(user_id, at);

    -- Per pruning pass (epoch) and user, the highest sequence value of a pruned
    -- tombstone. A change-feed cursor from a pull that began before that epoch and is
    -- below that value gets 410 cursor_expired.
    CREATE TABLE prune_log (
        user_id TEXT NOT NULL REFERENCES users(id),
        epoch   INTEGER NOT NULL,
        max_seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, epoch)
    ) STRICT;
    "#,
];

/// Opens (creating if needed) the database at `path`, sets the pragmas and migrates it to
/// the latest schema.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    let mut conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a read-only connection to the database at `path`, which [`open`] has made (a
/// read connection of [`crate::storage::Storage`]).
pub fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening {} to read", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    Ok(conn)
}

/// Prepared statements kept per connection: every statement of the write path and of
/// the reads (a handful per entity) stays prepared instead of being parsed again.
const STATEMENT_CACHE: usize = 256;

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite did not switch to WAL mode");
    }
    // FULL: a write the server has acknowledged survives a power loss, which the
    // idempotency log relies on (a lost "applied" would be re-applied differently).
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // Each unit of a group commit runs in a savepoint, whose undo copies of the pages it
    // changes go to a sub-journal: in memory, not to a temporary file (they are never
    // needed after a crash; the WAL is what survives).
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    Ok(())
}

/// The schema version of `conn` (`PRAGMA user_version`).
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(v.max(0) as usize)
}

/// Runs the migrations `conn` has not seen yet.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current = schema_version(conn)?;
    if current > MIGRATIONS.len() {
        anyhow::bail!(
            "the database is at schema version {current}, newer than this server knows ({}); \
             use a newer story-server",
            MIGRATIONS.len()
        );
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = index + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)
            .with_context(|| format!("migration {version}"))?;
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    ensure_instance_id(conn)?;
    Ok(())
}

/// A random id made once per database. Change-feed cursors carry it, so a cursor from
/// another database (a reset or replaced server) is recognised instead of silently
/// skipping rows.
fn ensure_instance_id(conn: &Connection) -> anyhow::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO server_meta (key, value) VALUES ('instance_id', ?1)",
        [Uuid::new_v4().simple().to_string()],
    )?;
    Ok(())
}

pub fn instance_id(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT value FROM server_meta WHERE key = 'instance_id'",
        [],
        |r| r.get(0),
    )
}

/// Takes the next value of the global write sequence. Call inside the write's transaction.
pub fn next_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("UPDATE sync_sequence SET value = value + 1 WHERE id = 1")?
        .execute([])?;
    conn.prepare_cached("SELECT value FROM sync_sequence WHERE id = 1")?
        .query_row([], |r| r.get(0))
}

/// Writes every row `select` names (it selects their `id`s, in the order to write them)
/// with `update`, whose `?1` is the row's id, `?2` the next sequence value and `?3` `now`:
/// a new version of each, in write order. Returns how many were written.
pub fn write_each(
    conn: &Connection,
    select: &str,
    params: impl rusqlite::Params,
    update: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare_cached(select)?;
        let rows = stmt.query_map(params, |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut stmt = conn.prepare_cached(update)?;
    for id in &ids {
        stmt.execute(rusqlite::params![id, next_seq(conn)?, to_micros(now)])?;
    }
    Ok(ids.len())
}

/// The last value handed out by the global write sequence.
pub fn current_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT value FROM sync_sequence WHERE id = 1", [], |r| {
        r.get(0)
    })
}

pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(v: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(v).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!("timestamp out of range: {v}").into(),
        )
    })
}

pub fn parse_uuid(s: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A stored value of column `col` that is not what the column holds.
pub fn conversion_error(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

/// A UUID bound as its hyphenated text without a heap allocation.
#[derive(Clone, Copy)]
pub struct UuidText([u8; 36]);

impl UuidText {
    pub fn new(id: Uuid) -> Self {
        let mut buf = [0u8; 36];
        id.hyphenated().encode_lower(&mut buf);
        UuidText(buf)
    }
}

impl rusqlite::ToSql for UuidText {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(&self.0),
        ))
    }
}

/// Whether a table exists (used by tests and diagnostics).
pub fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_file_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("db.sqlite3");
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        for table in [
            "server_meta",
            "users",
            "sessions",
            "sync_sequence",
            "heroes",
            "applied_mutations",
            "stories",
            "custom_events",
            "illustrations",
            "media_files",
            "usage_events",
            "prune_log",
        ] {
            assert!(table_exists(&conn, table).unwrap(), "{table}");
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let instance = instance_id(&conn).unwrap();
        assert_eq!(current_seq(&conn).unwrap(), 0);
        assert_eq!(next_seq(&conn).unwrap(), 1);
        assert_eq!(next_seq(&conn).unwrap(), 2);
        drop(conn);

        // Reopening runs nothing again and keeps data and identity.
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        assert_eq!(instance_id(&conn).unwrap(), instance);
        assert_eq!(current_seq(&conn).unwrap(), 2);
    }

    #[test]
    fn an_existing_empty_file_is_migrated() {
        let file = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(std::fs::metadata(file.path()).unwrap().len(), 0);
        let conn = open(file.path()).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        assert!(table_exists(&conn, "heroes").unwrap());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", (MIGRATIONS.len() + 1) as i64)
            .unwrap();
        drop(conn);
        let err = open(&path).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err:#}");
    }

    #[test]
    fn micros_roundtrip() {
        let t = DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(from_micros(to_micros(t)).unwrap(), t);
    }
}
