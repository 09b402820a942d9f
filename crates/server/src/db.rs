//! The database: opening (SQLite or PostgreSQL, [`Location`]), pragmas and numbered
//! migrations, written once for both ([`migration_sql`]).
//!
//! The schema version lives in SQLite's `user_version` (PostgreSQL: the
//! `schema_version` table). Migration `n` (1-based) runs in
//! one transaction that also sets `user_version = n`, so a crash mid-migration leaves the
//! database at the previous version. A database written by a newer server (a
//! `user_version` past the last known migration) is refused rather than misread.
//!
//! Timestamps are stored as integer microseconds since the Unix epoch (UTC), so they sort
//! and compare exactly; UUIDs as their hyphenated text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::OpenFlags;
use uuid::Uuid;

use crate::params;
use crate::sql::{self, Backend, Connection, OptionalExtension, Params, TransactionBehavior};

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
    // 3: the durable queue of media generation jobs (`media_jobs.rs`).
    r#"
    -- One row per accepted avatar, audio or illustrations request until its job is done
    -- or given up. `id` is the generation id the request answered. `payload` (JSON) names
    -- the rows to work on, which are read again when the job runs. `usage_id` and
    -- `usage_amount` are the usage reservation (a `usage_events` row; NULL for avatars),
    -- `delivered` how much of it the job has delivered so far: whoever finishes or gives
    -- up the job settles the reservation at that. A job is claimable once `lease_until`
    -- (microseconds) has passed: 0 when queued or released, a claim's deadline otherwise
    -- (a replica that died leaves an expiring lease behind).
    CREATE TABLE media_jobs (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users(id),
        kind         TEXT NOT NULL,
        payload      TEXT NOT NULL,
        usage_id     INTEGER,
        usage_amount REAL NOT NULL DEFAULT 0,
        delivered    REAL NOT NULL DEFAULT 0,
        attempts     INTEGER NOT NULL DEFAULT 0,
        claimed_by   TEXT,
        lease_until  INTEGER NOT NULL DEFAULT 0,
        created_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX media_jobs_claimable ON media_jobs(lease_until, created_at);
    "#,
];

/// Where the database is: an SQLite file (the default) or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL.
    Postgres(String),
}

impl Location {
    /// `url` when it names a PostgreSQL database, else the SQLite file `path`.
    pub fn new(path: &Path, url: Option<&str>) -> Location {
        match url {
            Some(u) if !u.is_empty() => Location::Postgres(u.to_owned()),
            _ => Location::Sqlite(path.to_owned()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens (creating if needed) the database, sets it up and migrates it to the latest
/// schema: the writer connection.
pub fn open_at(location: &Location) -> anyhow::Result<Connection> {
    match location {
        Location::Sqlite(path) => open(path),
        Location::Postgres(url) => {
            let mut conn = Connection::connect_postgres(url)
                .with_context(|| format!("connecting to {}", redact_url(url)))?;
            migrate(&mut conn)?;
            Ok(conn)
        }
    }
}

/// `url` without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Opens (creating if needed) the SQLite database at `path`, sets the pragmas and
/// migrates it to the latest schema.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    let conn =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    configure(&conn)?;
    let mut conn = Connection::from(conn);
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a read connection to the database, which [`open_at`] has made (a read
/// connection of [`crate::storage::Storage`]).
pub fn open_reader(location: &Location) -> anyhow::Result<Connection> {
    let path = match location {
        Location::Sqlite(path) => path,
        Location::Postgres(url) => {
            return Connection::connect_postgres(url)
                .with_context(|| format!("connecting to {}", redact_url(url)))
        }
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening {} to read", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    Ok(conn.into())
}

/// Prepared statements kept per connection: every statement of the write path and of
/// the reads (a handful per entity) stays prepared instead of being parsed again.
const STATEMENT_CACHE: usize = 256;

fn configure(conn: &rusqlite::Connection) -> anyhow::Result<()> {
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

/// The schema version of `conn`: SQLite's `PRAGMA user_version`, PostgreSQL's
/// `schema_version` table (made on first use).
pub fn schema_version(conn: &Connection) -> sql::Result<usize> {
    let v: i64 = match conn.backend() {
        Backend::Sqlite => conn.query_row("PRAGMA user_version", (), |r| r.get(0))?,
        Backend::Postgres => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            )?;
            conn.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                (),
                |r| r.get(0),
            )?
        }
    };
    Ok(v.max(0) as usize)
}

fn set_schema_version(conn: &Connection, version: usize) -> sql::Result<()> {
    match conn.backend() {
        Backend::Sqlite => conn.execute_batch(&format!("PRAGMA user_version = {version}")),
        Backend::Postgres => {
            conn.execute("DELETE FROM schema_version", ())?;
            conn.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [version as i64],
            )
            .map(drop)
        }
    }
}

/// A migration's SQL as `backend` takes it. The migrations are written once, in SQLite's
/// words; for PostgreSQL, `STRICT` goes, integers are 64-bit (`BIGINT`), reals are
/// `DOUBLE PRECISION`, and an `INTEGER PRIMARY KEY` row id is an identity column.
pub fn migration_sql(sql: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sql.to_owned(),
        Backend::Postgres => {
            let sql = sql.replace(") STRICT;", ");").replace(
                "INTEGER PRIMARY KEY,",
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,",
            );
            let mut out = String::with_capacity(sql.len() + 64);
            let mut word = String::new();
            let flush = |word: &mut String, out: &mut String| {
                out.push_str(match word.as_str() {
                    "INTEGER" => "BIGINT",
                    "REAL" => "DOUBLE PRECISION",
                    w => w,
                });
                word.clear();
            };
            for c in sql.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    word.push(c);
                } else {
                    flush(&mut word, &mut out);
                    out.push(c);
                }
            }
            flush(&mut word, &mut out);
            out
        }
    }
}

/// Runs the migrations `conn` has not seen yet, each in one transaction with its
/// version (on PostgreSQL under an advisory lock, so replicas starting together migrate
/// once).
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let backend = conn.backend();
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_lock(?1)", [sql::MIGRATION_LOCK])?;
    }
    let result = migrate_locked(conn, backend);
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_unlock(?1)", [sql::MIGRATION_LOCK])?;
    }
    result
}

fn migrate_locked(conn: &mut Connection, backend: Backend) -> anyhow::Result<()> {
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
        tx.execute_batch(&migration_sql(sql, backend))
            .with_context(|| format!("migration {version}"))?;
        set_schema_version(&tx, version)?;
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
        "INSERT INTO server_meta (key, value) VALUES ('instance_id', ?1)
         ON CONFLICT (key) DO NOTHING",
        [Uuid::new_v4().simple().to_string()],
    )?;
    Ok(())
}

pub fn instance_id(conn: &Connection) -> sql::Result<String> {
    conn.query_row(
        "SELECT value FROM server_meta WHERE key = 'instance_id'",
        (),
        |r| r.get(0),
    )
}

/// Takes the next value of the global write sequence. Call inside the write's
/// transaction: on either backend the sequence row stays locked by it until it ends, and
/// on PostgreSQL every write transaction also holds [`sql::WRITE_LOCK`], so values are
/// taken in commit order (see [`crate::sql`]).
pub fn next_seq(conn: &Connection) -> sql::Result<i64> {
    conn.query_row(
        "UPDATE sync_sequence SET value = value + 1 WHERE id = 1 RETURNING value",
        (),
        |r| r.get(0),
    )
}

/// Writes every row `select` names (it selects their `id`s, in the order to write them)
/// with `update`, whose `?1` is the row's id, `?2` the next sequence value and `?3` `now`:
/// a new version of each, in write order. Returns how many were written.
pub fn write_each(
    conn: &Connection,
    select: &str,
    params: impl Params,
    update: &str,
    now: DateTime<Utc>,
) -> sql::Result<usize> {
    let ids: Vec<String> = conn.query_map(select, params, |r| r.get(0))?;
    for id in &ids {
        conn.execute(update, params![id, next_seq(conn)?, to_micros(now)])?;
    }
    Ok(ids.len())
}

/// The last value handed out by the global write sequence.
pub fn current_seq(conn: &Connection) -> sql::Result<i64> {
    conn.query_row("SELECT value FROM sync_sequence WHERE id = 1", (), |r| {
        r.get(0)
    })
}

pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(v: i64) -> sql::Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(v)
        .ok_or_else(|| sql::Error::conversion("time", format!("timestamp out of range: {v}")))
}

pub fn parse_uuid(s: &str) -> sql::Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| sql::Error::conversion("id", e.to_string()))
}

/// A stored value of column `col` that is not what the column holds.
pub fn conversion_error(col: usize, what: String) -> sql::Error {
    sql::Error::conversion(col, what)
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

impl sql::ToValue for UuidText {
    fn to_value(&self) -> sql::Value<'_> {
        // Always ASCII.
        sql::Value::Text(std::borrow::Cow::Borrowed(
            std::str::from_utf8(&self.0).unwrap_or_default(),
        ))
    }
}

/// Whether a table exists (used by tests and diagnostics).
pub fn table_exists(conn: &Connection, name: &str) -> sql::Result<bool> {
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        Backend::Postgres => {
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = ?1"
        }
    };
    Ok(conn
        .query_row(sql, [name], |_| Ok(()))
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
            "media_jobs",
        ] {
            assert!(table_exists(&conn, table).unwrap(), "{table}");
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode", (), |r| r.get(0))
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
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", (MIGRATIONS.len() + 1) as i64)
            .unwrap();
        drop(conn);
        let err = open(&path).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err:#}");
    }

    #[test]
    fn migrations_are_rendered_for_postgres() {
        let pg = migration_sql(MIGRATIONS[1], Backend::Postgres);
        assert!(pg.contains("id      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"));
        assert!(pg.contains("audio_duration  DOUBLE PRECISION"));
        assert!(!pg.contains("version INTEGER"));
        assert!(!pg.contains("STRICT"));
    }

    #[test]
    fn micros_roundtrip() {
        let t = DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(from_micros(to_micros(t)).unwrap(), t);
    }
}
