//! The local SQLite cache: connection setup and numbered migrations.

use std::path::Path;

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
];

/// Opens (creating if needed) the cache at `path` and migrates it to the latest schema.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
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
    Ok(())
}

pub fn schema_version(conn: &Connection) -> Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(v as usize)
}

/// Applies every migration after the file's current version, each in its own transaction.
pub fn migrate(conn: &Connection) -> Result<()> {
    migrate_to(conn, MIGRATIONS.len())
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
            assert_eq!(mode, "wal");
        }
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

/// The cache connection, shared by the repositories and the sync engine. Every write is
/// one `BEGIN IMMEDIATE` transaction; the lock is never held across network I/O.
pub struct Db {
    conn: std::sync::Mutex<Connection>,
}

impl Db {
    pub fn new(conn: Connection) -> Self {
        Db { conn: std::sync::Mutex::new(conn) }
    }

    /// Runs `f` with the connection (reads, or writes that manage their own transaction).
    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// Runs `f` in one immediate transaction: all of it commits, or none of it.
    pub fn write<R>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Small key/value bookkeeping (the change-feed cursor, the last sync time, settings).
pub mod meta {
    use rusqlite::{params, Connection, OptionalExtension};

    use crate::error::Result;

    pub const CURSOR: &str = "changes_cursor";
    pub const LAST_SYNC_AT: &str = "last_sync_at";
    pub const WORK_OFFLINE: &str = "work_offline";

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
        conn.prepare_cached("DELETE FROM sync_meta WHERE key = ?1")?.execute(params![key])?;
        Ok(())
    }
}
