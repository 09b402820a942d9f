//! The local SQLite cache: connection setup, numbered migrations, and the columns the
//! entities declare.

use std::path::Path;

use is_protocol::entity::{declared_columns, SqlKind};
use is_protocol::{CustomEvent, Entity, Hero, Profile, Story};
use rusqlite::{Connection, OpenFlags};

use crate::error::{CoreError, Result};

/// Migrations, in order. Migration `i` (1-based) moves `PRAGMA user_version` from `i - 1`
/// to `i`. Never edit a migration that has shipped: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: heroes, the outbox, sync bookkeeping, the account and the conflict history.
    r#"
    CREATE TABLE heroes (
        id                   TEXT PRIMARY KEY NOT NULL,
        name                 TEXT NOT NULL,
        age                  INTEGER NOT NULL,
        traits               TEXT NOT NULL,            -- JSON array of trait names
        appearance           TEXT NOT NULL DEFAULT '',
        special_ability      TEXT NOT NULL DEFAULT '',
        avatar_url           TEXT,
        avatar_generation_id TEXT,
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        -- sync metadata (SPEC.md section 3)
        sync_status          TEXT NOT NULL,
        sync_op              TEXT,                     -- operation of a failed/conflict row
        base_version         INTEGER,                  -- server version the local state builds on
        base_snapshot        TEXT,                     -- server row at base_version (JSON)
        server_snapshot      TEXT,                     -- newest server row seen while unsynced (JSON)
        changed_fields       TEXT NOT NULL DEFAULT '[]',
        last_synced_at       TEXT,
        server_updated_at    TEXT,
        sync_error           TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      TEXT
    ) STRICT;
    CREATE INDEX heroes_by_name ON heroes (name COLLATE NOCASE, id);
    CREATE INDEX heroes_unsynced ON heroes (sync_status) WHERE sync_status <> 'synced';

    CREATE TABLE outbox (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        mutation_id  TEXT NOT NULL UNIQUE,
        entity       TEXT NOT NULL,
        entity_id    TEXT NOT NULL,
        op           TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
        payload      TEXT NOT NULL,                    -- create data or update patch (JSON)
        base_version INTEGER,                          -- frozen when first sent
        sent         INTEGER NOT NULL DEFAULT 0,       -- 1 once a request carried it: frozen
        created_at   TEXT NOT NULL
    ) STRICT;
    CREATE INDEX outbox_by_row ON outbox (entity, entity_id, seq);

    CREATE TABLE sync_meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE account (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        user_id    TEXT NOT NULL,
        email      TEXT NOT NULL,
        name       TEXT NOT NULL,
        server_url TEXT NOT NULL,
        token      TEXT,                               -- NULL after sign-out or expiry
        expires_at TEXT
    ) STRICT;

    CREATE TABLE conflict_history (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        entity      TEXT NOT NULL,
        entity_id   TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        resolution  TEXT NOT NULL,                     -- e.g. 'server_wins'
        local_json  TEXT NOT NULL,                     -- the losing local version
        server_json TEXT NOT NULL
    ) STRICT;
    CREATE INDEX conflict_history_by_row ON conflict_history (entity, entity_id);
    "#,
    // 2: stories, custom events, illustrations, the profile and usage; counter
    // increments in the outbox; full-resync generations (mark and sweep).
    r#"
    ALTER TABLE heroes ADD COLUMN server_version INTEGER;
    ALTER TABLE heroes ADD COLUMN seen_gen INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE heroes ADD COLUMN pending_increment INTEGER NOT NULL DEFAULT 0;
    UPDATE heroes SET server_version = json_extract(server_snapshot, '$.version') WHERE server_snapshot IS NOT NULL;
    -- A synced row is its own base snapshot.
    UPDATE heroes SET base_snapshot = NULL WHERE sync_status = 'synced';

    -- No foreign keys to heroes or custom events: a page of the change feed can bring a
    -- story before its hero, and a deleted hero's stories stay (unlinked).
    CREATE TABLE stories (
        id                   TEXT PRIMARY KEY NOT NULL,
        hero_id              TEXT,
        title                TEXT NOT NULL,
        content              TEXT NOT NULL,
        language             TEXT NOT NULL,
        event_type           TEXT,
        custom_event_id      TEXT,
        is_favorite          INTEGER NOT NULL DEFAULT 0,
        play_count           INTEGER NOT NULL DEFAULT 0, -- the server's count
        last_played_at       TEXT,
        audio_url            TEXT,
        audio_duration       REAL,
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        sync_status          TEXT NOT NULL,
        sync_op              TEXT,
        base_version         INTEGER,
        base_snapshot        TEXT,                     -- kept only while the row has local changes
        server_snapshot      TEXT,
        server_version       INTEGER,                  -- version of server_snapshot
        changed_fields       TEXT NOT NULL DEFAULT '[]',
        last_synced_at       TEXT,
        server_updated_at    TEXT,
        sync_error           TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      TEXT,
        seen_gen             INTEGER NOT NULL DEFAULT 0, -- full-resync generation that last saw it
        pending_increment    INTEGER NOT NULL DEFAULT 0  -- local counter increments not yet confirmed
    ) STRICT;
    CREATE INDEX stories_by_created ON stories (created_at, id);
    CREATE INDEX stories_by_hero ON stories (hero_id) WHERE hero_id IS NOT NULL;
    CREATE INDEX stories_unsynced ON stories (sync_status) WHERE sync_status <> 'synced';

    CREATE TABLE custom_events (
        id                   TEXT PRIMARY KEY NOT NULL,
        title                TEXT NOT NULL,
        description          TEXT NOT NULL DEFAULT '',
        prompt_seed          TEXT NOT NULL DEFAULT '',
        keywords             TEXT NOT NULL DEFAULT '[]', -- JSON array
        category             TEXT NOT NULL,
        tone                 TEXT NOT NULL,
        pictogram_emoji      TEXT NOT NULL,
        is_favorite          INTEGER NOT NULL DEFAULT 0,
        usage_count          INTEGER NOT NULL DEFAULT 0,  -- the server's count
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        sync_status          TEXT NOT NULL,
        sync_op              TEXT,
        base_version         INTEGER,
        base_snapshot        TEXT,                     -- kept only while the row has local changes
        server_snapshot      TEXT,
        server_version       INTEGER,                  -- version of server_snapshot
        changed_fields       TEXT NOT NULL DEFAULT '[]',
        last_synced_at       TEXT,
        server_updated_at    TEXT,
        sync_error           TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      TEXT,
        seen_gen             INTEGER NOT NULL DEFAULT 0, -- full-resync generation that last saw it
        pending_increment    INTEGER NOT NULL DEFAULT 0  -- local counter increments not yet confirmed
    ) STRICT;
    CREATE INDEX custom_events_by_title ON custom_events (title COLLATE NOCASE, id);
    CREATE INDEX custom_events_unsynced ON custom_events (sync_status) WHERE sync_status <> 'synced';

    -- The signed-in user's profile (one row, id = the user's id).
    CREATE TABLE user_profile (
        id                   TEXT PRIMARY KEY NOT NULL,
        name                 TEXT NOT NULL,
        preferred_language   TEXT NOT NULL,
        theme                TEXT NOT NULL,
        email                TEXT NOT NULL,
        subscription_tier    TEXT NOT NULL,
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        sync_status          TEXT NOT NULL,
        sync_op              TEXT,
        base_version         INTEGER,
        base_snapshot        TEXT,                     -- kept only while the row has local changes
        server_snapshot      TEXT,
        server_version       INTEGER,                  -- version of server_snapshot
        changed_fields       TEXT NOT NULL DEFAULT '[]',
        last_synced_at       TEXT,
        server_updated_at    TEXT,
        sync_error           TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      TEXT,
        seen_gen             INTEGER NOT NULL DEFAULT 0, -- full-resync generation that last saw it
        pending_increment    INTEGER NOT NULL DEFAULT 0  -- local counter increments not yet confirmed
    ) STRICT;

    -- Server-written only: no sync metadata, no outbox.
    CREATE TABLE story_illustrations (
        id                TEXT PRIMARY KEY NOT NULL,
        story_id          TEXT NOT NULL,
        version           INTEGER NOT NULL,
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL,
        image_url         TEXT,
        prompt            TEXT NOT NULL,
        timestamp         REAL NOT NULL,
        display_order     INTEGER NOT NULL,
        generation_status TEXT NOT NULL,
        seen_gen          INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX story_illustrations_by_story ON story_illustrations (story_id, display_order);

    CREATE TABLE usage_cache (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        json       TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    ) STRICT;

    -- The outbox learns counter increments (a CHECK cannot be altered: rebuild it).
    CREATE TABLE outbox_v2 (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        mutation_id  TEXT NOT NULL UNIQUE,
        entity       TEXT NOT NULL,
        entity_id    TEXT NOT NULL,
        op           TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'increment')),
        payload      TEXT NOT NULL,                    -- create data, update patch or counters (JSON)
        base_version INTEGER,                          -- frozen when first sent
        sent         INTEGER NOT NULL DEFAULT 0,       -- 1 once a request carried it: frozen
        created_at   TEXT NOT NULL
    ) STRICT;
    INSERT INTO outbox_v2 (seq, mutation_id, entity, entity_id, op, payload, base_version, sent, created_at)
        SELECT seq, mutation_id, entity, entity_id, op, payload, base_version, sent, created_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    CREATE INDEX outbox_by_row ON outbox (entity, entity_id, seq);
    "#,
    // 3: diagnostics and notices (SPEC.md sections 7 and 12).
    r#"
    -- One row per sync run, newest kept (see `diagnostics::LOG_KEEP`).
    CREATE TABLE sync_log (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at  TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        trigger     TEXT NOT NULL,                     -- launch, manual, retry, watchdog, ...
        pushed      INTEGER NOT NULL DEFAULT 0,
        applied     INTEGER NOT NULL DEFAULT 0,
        conflicts   INTEGER NOT NULL DEFAULT 0,
        rejected    INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        pulled      INTEGER NOT NULL DEFAULT 0,
        outcome     TEXT NOT NULL,                     -- ok, offline, throttled, error, cancelled, note
        error_code  TEXT,
        message     TEXT
    ) STRICT;

    -- "Sync replaced or dropped your edit": shown until dismissed.
    CREATE TABLE notices (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at  TEXT NOT NULL,
        entity      TEXT NOT NULL,
        entity_id   TEXT NOT NULL,
        title       TEXT NOT NULL,
        reason      TEXT NOT NULL,                     -- replaced, dropped, deleted_elsewhere
        fields      TEXT NOT NULL DEFAULT '[]',        -- the user's fields the server's replaced
        history_id  INTEGER,                           -- the conflict history entry to view or restore
        dismissed   INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX notices_open ON notices (id) WHERE dismissed = 0;
    "#,
    // 4: the media cache index (SPEC.md section 10; `media::index`).
    r#"
    CREATE TABLE media_cache (
        key          TEXT PRIMARY KEY NOT NULL,  -- the server's URL of the file
        file         TEXT NOT NULL UNIQUE,       -- media::key::file_name(key), for the watcher
        kind         TEXT NOT NULL,              -- avatar, audio, illustration
        owner_id     TEXT NOT NULL,              -- the hero, story or illustration
        state        TEXT NOT NULL CHECK (state IN ('partial', 'complete')),
        size         INTEGER NOT NULL DEFAULT 0, -- complete: the file's; partial: the expected total
        hash         TEXT,                       -- SHA-256 of the complete file, hex
        etag         TEXT,
        content_type TEXT,
        fetched_at   INTEGER,                    -- Unix ms
        last_used_at INTEGER NOT NULL,           -- Unix ms; a read extends it
        pinned       INTEGER NOT NULL DEFAULT 0, -- a favourite story's narration
        durable      INTEGER NOT NULL DEFAULT 1  -- 0 until the file's fsync (in the background) is done
    ) STRICT;
    CREATE INDEX media_cache_owner ON media_cache (owner_id);
    "#,
    // 5: the story list's filter columns beside its order (`repo::stories::page`), so
    // counting a list and cutting its window read this index alone: before, both read
    // every row with its text to reach the filter columns stored after it (10,000
    // stories of a few kB: tens of MB for each page the list asks for).
    r#"
    DROP INDEX stories_by_created;
    CREATE INDEX stories_by_created ON stories (created_at, id, sync_status, hero_id, is_favorite);
    "#,
    // 6: what the background loop asks after every local write and every run, answered
    // from small indexes instead of a scan of every row (20-60 ms a time with 10,000
    // stories, holding the one connection the UI's list waits for): the next retry time
    // (`repo::next_retry_at`) and what the media prefetch wants (`missing_for_prefetch`).
    r#"
    CREATE INDEX heroes_retry ON heroes (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX stories_retry ON stories (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX custom_events_retry ON custom_events (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX user_profile_retry ON user_profile (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX heroes_with_avatar ON heroes (id) WHERE avatar_url IS NOT NULL;
    CREATE INDEX stories_favorite ON stories (id) WHERE is_favorite = 1;
    "#,
];

/// Opens (creating if needed) the cache at `path` and migrates it to the latest schema.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    migrate(&conn)?;
    Ok(conn)
}

/// An in-memory cache, for tests.
pub fn open_in_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL is durable in WAL mode against application crashes; a power loss can lose
    // the last transactions but never corrupts the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A pulled page is one large transaction; checkpointing every 1000 pages (the
    // default) would copy and fsync the database file dozens of times during an initial
    // sync. Checkpoint every ~40 MB of WAL instead, and truncate the WAL file after.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(())
}

pub fn schema_version(conn: &Connection) -> Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(v as usize)
}

/// Applies every migration after the file's current version, each in its own
/// transaction, then adds the columns the entities declare that no migration made.
pub fn migrate(conn: &Connection) -> Result<()> {
    migrate_to(conn, MIGRATIONS.len())?;
    add_declared_columns(conn)
}

/// Adds every column an entity declares (in `is_protocol`) that its table lacks, so that
/// a new field with a value for existing rows (an optional field, a flag, a text) needs
/// no hand-written migration. A field without such a value (a required enum) must come
/// with a numbered migration; this says so instead of guessing.
pub fn add_declared_columns(conn: &Connection) -> Result<()> {
    add_columns::<Hero>(conn)?;
    add_columns::<Story>(conn)?;
    add_columns::<CustomEvent>(conn)?;
    add_columns::<Profile>(conn)
}

/// The SQLite type a column of `kind` is declared with here (times as RFC 3339 text).
pub fn sql_type(kind: SqlKind) -> &'static str {
    match kind {
        SqlKind::Text | SqlKind::Time | SqlKind::Uuid | SqlKind::Json => "TEXT",
        SqlKind::Integer => "INTEGER",
        SqlKind::Real => "REAL",
    }
}

/// The columns of `table` with their declared types and NOT NULL flags.
pub fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, String, bool)>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get("name")?, r.get("type")?, r.get("notnull")?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn add_columns<E: Entity>(conn: &Connection) -> Result<()> {
    let existing = table_columns(conn, E::TABLE)?;
    for (name, ty) in declared_columns::<E>() {
        if existing.iter().any(|(n, _, _)| n == name) {
            continue;
        }
        let sql = ty
            .add_column_sql(E::TABLE, name, sql_type(ty.kind))
            .ok_or_else(|| {
                CoreError::Corrupt(format!(
                    "{}.{name} has no value for existing rows: add a migration for it",
                    E::TABLE
                ))
            })?;
        conn.execute_batch(&sql)?;
    }
    Ok(())
}

pub fn migrate_to(conn: &Connection, target: usize) -> Result<()> {
    let current = schema_version(conn)?;
    if current > MIGRATIONS.len() {
        return Err(CoreError::Corrupt(format!(
            "the cache was written by a newer version of the app (schema {current}, this app knows {})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Every table `EXPLAIN QUERY PLAN` says `sql` reads without an index (`SCAN t`, or
/// `SEARCH t` with no `USING`), for tests that a query stays on its indexes.
#[cfg(test)]
pub(crate) fn tables_read_without_index(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let details = stmt
        .query_map([], |r| r.get::<_, String>("detail"))
        .unwrap();
    details
        .map(Result::unwrap)
        .filter(|d| (d.starts_with("SCAN ") || d.starts_with("SEARCH ")) && !d.contains("USING"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written migrations and the entities' declarations agree: every declared
    /// column a migration made has the declared type and nullability, and every other
    /// one can be added automatically.
    #[test]
    fn migrations_match_the_declared_columns() {
        fn check<E: Entity>(conn: &Connection) {
            let columns = table_columns(conn, E::TABLE).unwrap();
            for (name, ty) in declared_columns::<E>() {
                match columns.iter().find(|(n, _, _)| n == name) {
                    Some((_, decl, not_null)) => {
                        assert_eq!(decl, sql_type(ty.kind), "{}.{name}", E::TABLE);
                        assert_eq!(*not_null, !ty.nullable, "{}.{name} nullability", E::TABLE);
                    }
                    // No migration made it: it must be one that can be added.
                    None => assert!(
                        ty.default.is_some(),
                        "{}.{name} needs a migration",
                        E::TABLE
                    ),
                }
            }
        }
        let conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        migrate_to(&conn, MIGRATIONS.len()).unwrap();
        check::<Hero>(&conn);
        check::<Story>(&conn);
        check::<CustomEvent>(&conn);
        check::<Profile>(&conn);
    }

    #[test]
    fn a_declared_column_missing_from_the_table_is_added() {
        let conn = open_in_memory().unwrap();
        conn.execute_batch("ALTER TABLE heroes DROP COLUMN avatar_generation_id")
            .unwrap();
        add_declared_columns(&conn).unwrap();
        assert!(table_columns(&conn, "heroes")
            .unwrap()
            .iter()
            .any(|(n, t, not_null)| n == "avatar_generation_id" && t == "TEXT" && !not_null));
    }

    #[test]
    fn migrates_from_empty_and_from_every_earlier_version() {
        for start in 0..=MIGRATIONS.len() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cache.sqlite3");
            {
                let conn = Connection::open(&path).unwrap();
                migrate_to(&conn, start).unwrap();
                assert_eq!(schema_version(&conn).unwrap(), start);
            }
            let conn = open(&path).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
            // Opening again is a no-op.
            drop(conn);
            let conn = open(&path).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }

    #[test]
    fn a_read_does_not_wait_for_a_write_under_way_and_sees_it_once_committed() {
        use std::sync::mpsc::channel;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let db = std::sync::Arc::new(Db::new(open(&dir.path().join("cache.sqlite3")).unwrap()));
        let count = |db: &Db| {
            db.read(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM sync_meta", [], |r| r.get::<_, i64>(0))?)
            })
            .unwrap()
        };
        let before = count(&db);
        let (inside_tx, inside) = channel();
        let (go_tx, go) = channel::<()>();
        let writer = std::thread::spawn({
            let db = db.clone();
            move || {
                db.write(|tx| {
                    meta::set(tx, "probe", "1")?;
                    inside_tx.send(()).unwrap();
                    go.recv().unwrap();
                    Ok(())
                })
                .unwrap()
            }
        });
        inside.recv().unwrap();
        let (read_tx, read) = channel();
        std::thread::spawn({
            let db = db.clone();
            move || read_tx.send(count(&db)).unwrap()
        });
        let during = read
            .recv_timeout(Duration::from_secs(10))
            .expect("the read waited for the write transaction");
        assert_eq!(during, before, "a read sees only committed rows");
        go_tx.send(()).unwrap();
        writer.join().unwrap();
        assert_eq!(count(&db), before + 1);

        let refused = db.read(|c| meta::set(c, "probe", "2"));
        assert!(refused.is_err(), "the read connection refuses writes");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = open(&path).unwrap_err();
        assert!(matches!(err, CoreError::Corrupt(_)), "{err}");
    }
}

/// The cache's connections, shared by the repositories and the sync engine.
///
/// Every write is one `BEGIN IMMEDIATE` transaction on the one writer connection; the
/// lock is never held across network I/O. Reads go to a second, read-only connection on
/// the same file: in WAL mode a read sees the last commit and never waits for a write
/// that is under way, so a list the user scrolls does not stall behind a sync run
/// applying a page. (An in-memory cache, in tests, has one connection for both.)
pub struct Db {
    writer: std::sync::Mutex<Connection>,
    reader: Option<std::sync::Mutex<Connection>>,
}

impl Db {
    pub fn new(conn: Connection) -> Self {
        let reader = match conn.path().filter(|p| !p.is_empty()) {
            Some(path) => match open_reader(Path::new(path)) {
                Ok(reader) => Some(std::sync::Mutex::new(reader)),
                Err(e) => {
                    tracing::warn!(%e, "no separate read connection: reads share the writer's");
                    None
                }
            },
            None => None,
        };
        Db {
            writer: std::sync::Mutex::new(conn),
            reader,
        }
    }

    /// Runs `f` on one snapshot of the cache: what its queries read is consistent (a
    /// count and the window it counts agree), even while a write commits meanwhile.
    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let Some(reader) = &self.reader else {
            return self.with_writer(f);
        };
        let mut conn = reader.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        f(&tx)
    }

    /// Runs `f` with the writer connection (reads of an in-memory cache).
    fn with_writer<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// Runs `f` in one immediate transaction: all of it commits, or none of it.
    pub fn write<R>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The read connection: the same file, refusing writes (`query_only`).
fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

/// Small key/value bookkeeping (the change-feed cursor, the last sync time, settings).
pub mod meta {
    use rusqlite::{params, Connection, OptionalExtension};

    use crate::error::Result;

    pub const CURSOR: &str = "changes_cursor";
    /// The full-resync generation rows are marked with when the server shows them.
    pub const GENERATION: &str = "resync_generation";
    /// Set while a full resync runs (cleared by the sweep that ends it).
    pub const RESYNC: &str = "resync_active";
    /// Per-entity conflict strategy chosen in Settings: `strategy.<entity>`.
    pub const STRATEGY_PREFIX: &str = "strategy.";
    pub const LAST_SYNC_AT: &str = "last_sync_at";
    /// Set while a first sync (from no cursor) has not drained the feed yet, so that a
    /// cancelled one still shows as a first sync when it resumes.
    pub const INITIAL_SYNC: &str = "initial_sync_active";
    pub const WORK_OFFLINE: &str = "work_offline";
    /// Background sync interval in seconds, chosen in Settings.
    pub const SYNC_INTERVAL: &str = "sync_interval_secs";
    /// The desktop app's settings of this device (JSON).
    pub const DESKTOP_PREFS: &str = "desktop_prefs";

    pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
        Ok(conn
            .prepare_cached("SELECT value FROM sync_meta WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?)
    }

    pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
        conn.prepare_cached("INSERT INTO sync_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")?
            .execute(params![key, value])?;
        Ok(())
    }

    pub fn delete(conn: &Connection, key: &str) -> Result<()> {
        conn.prepare_cached("DELETE FROM sync_meta WHERE key = ?1")?
            .execute(params![key])?;
        Ok(())
    }
}
