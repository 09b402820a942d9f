//! What the write paths of the synced tables (heroes, stories, custom events) share: the
//! checks before a create, an update or an increment (in the order SPEC.md gives them),
//! the stamping of a write with the next sequence value, the tombstoning of a row, and
//! the scoped reads around them. Each store keeps its own SQL for the fields of its rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use is_protocol::{
    CustomEventInput, CustomEventPatch, CustomEventRecord, FieldError, HeroInput, HeroPatch,
    HeroRecord, StoryInput, StoryPatch, StoryRecord,
};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, Transaction};
use uuid::Uuid;

use crate::db::{next_seq, to_micros};
use crate::rest::Versioned;
use crate::store::{
    validate_increment, CreateOutcome, DeleteOutcome, IncrementOutcome, UpdateOutcome,
};
use crate::{event_store, store, story_store};

/// One table of the user's synced rows.
pub trait Table {
    type Record: Versioned;
    /// The fields a client writes.
    type Input;
    /// A change of some of them.
    type Patch;
    /// The SQL table.
    const NAME: &'static str;
    /// The user's row `id`, tombstone or not.
    fn get(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<Option<Self::Record>>;
    /// `record.input()`.
    fn input(record: &Self::Record) -> Self::Input;
    /// `patch.normalized()`, then `patch.validate()`.
    fn normalized_patch(patch: Self::Patch) -> Result<Self::Patch, Vec<FieldError>>;
    /// `patch.is_empty()`.
    fn patch_is_empty(patch: &Self::Patch) -> bool;
    /// `input.apply(patch)`.
    fn apply(input: &mut Self::Input, patch: &Self::Patch);
}

macro_rules! table {
    ($name:ident, $record:ty, $input:ty, $patch:ty, $table:literal, $get:path) => {
        pub struct $name;

        impl Table for $name {
            type Record = $record;
            type Input = $input;
            type Patch = $patch;
            const NAME: &'static str = $table;
            fn get(
                conn: &Connection,
                user_id: Uuid,
                id: Uuid,
            ) -> rusqlite::Result<Option<$record>> {
                $get(conn, user_id, id)
            }
            fn input(record: &$record) -> $input {
                record.input()
            }
            fn normalized_patch(patch: $patch) -> Result<$patch, Vec<FieldError>> {
                let patch = patch.normalized();
                patch.validate().map(|()| patch)
            }
            fn patch_is_empty(patch: &$patch) -> bool {
                patch.is_empty()
            }
            fn apply(input: &mut $input, patch: &$patch) {
                input.apply(patch)
            }
        }
    };
}

table!(
    Heroes,
    HeroRecord,
    HeroInput,
    HeroPatch,
    "heroes",
    store::get_hero
);
table!(
    Stories,
    StoryRecord,
    StoryInput,
    StoryPatch,
    "stories",
    story_store::get_story
);
table!(
    CustomEvents,
    CustomEventRecord,
    CustomEventInput,
    CustomEventPatch,
    "custom_events",
    event_store::get_event
);

fn exists(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(sql, params, |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether any user has a row with this id.
pub fn id_exists<T: Table>(conn: &Connection, id: Uuid) -> rusqlite::Result<bool> {
    exists(
        conn,
        &format!("SELECT 1 FROM {} WHERE id = ?1", T::NAME),
        [id.to_string()],
    )
}

/// Whether the user has a live (not deleted) row `id`.
pub fn live_exists<T: Table>(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<bool> {
    exists(
        conn,
        &format!(
            "SELECT 1 FROM {} WHERE id = ?1 AND user_id = ?2 AND deleted = 0",
            T::NAME
        ),
        params![id.to_string(), user_id.to_string()],
    )
}

/// The row just written.
pub fn reread<T: Table>(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<T::Record> {
    T::get(conn, user_id, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// The checks of a create after validation: the user's row `id` exists already, or
/// another user's does. `None`: the id is free.
pub fn create_conflict<T: Table>(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<CreateOutcome<T::Record>>> {
    if let Some(existing) = T::get(conn, user_id, id)? {
        return Ok(Some(CreateOutcome::Exists(existing)));
    }
    if id_exists::<T>(conn, id)? {
        return Ok(Some(CreateOutcome::IdTaken));
    }
    Ok(None)
}

/// The first steps of an update of the user's row `id`, in order: missing, tombstone,
/// version, the patch's own validation, an empty patch. `Ok((current, merged))`: the
/// current row and its input with `patch` applied, to be validated and written.
#[allow(clippy::type_complexity)]
pub fn start_update<T: Table>(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: T::Patch,
) -> rusqlite::Result<Result<(T::Record, T::Input), UpdateOutcome<T::Record>>> {
    let Some(current) = T::get(conn, user_id, id)? else {
        return Ok(Err(UpdateOutcome::NotFound));
    };
    if current.is_deleted() {
        return Ok(Err(UpdateOutcome::Deleted(current)));
    }
    if expected_version.is_some_and(|v| v != current.row_version()) {
        return Ok(Err(UpdateOutcome::VersionMismatch(current)));
    }
    let patch = match T::normalized_patch(patch) {
        Ok(patch) => patch,
        Err(errors) => return Ok(Err(UpdateOutcome::Invalid(errors))),
    };
    if T::patch_is_empty(&patch) {
        return Ok(Err(UpdateOutcome::Unchanged(current)));
    }
    let mut merged = T::input(&current);
    T::apply(&mut merged, &patch);
    Ok(Ok((current, merged)))
}

/// Tombstones the user's row `id` if it is still at `expected_version` (or
/// unconditionally with `None`), then runs `cascade` (what else the delete changes). The
/// row keeps its fields, with `deleted = true`.
pub fn delete_row<T: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
    cascade: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<DeleteOutcome<T::Record>> {
    let Some(current) = T::get(tx, user_id, id)? else {
        return Ok(DeleteOutcome::NotFound);
    };
    if current.is_deleted() {
        return Ok(DeleteOutcome::AlreadyDeleted(current));
    }
    if expected_version.is_some_and(|v| v != current.row_version()) {
        return Ok(DeleteOutcome::VersionMismatch(current));
    }
    let sql = format!(
        "UPDATE {} SET deleted = 1, version = version + 1, seq = ?3, updated_at = ?4
         WHERE id = ?1 AND user_id = ?2",
        T::NAME
    );
    write_row(tx, user_id, id, now, &sql, &[])?;
    cascade(tx)?;
    reread::<T>(tx, user_id, id).map(DeleteOutcome::Deleted)
}

/// Runs `sql`, a write of the user's row `id` with `?1` = `id`, `?2` = `user_id`,
/// `?3` = the next sequence value, `?4` = `now`, and `extra` from `?5` on.
pub fn write_row(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
    sql: &str,
    extra: &[&dyn ToSql],
) -> rusqlite::Result<usize> {
    let seq = next_seq(tx)?;
    let (id, user_id, now) = (id.to_string(), user_id.to_string(), to_micros(now));
    let mut all: Vec<&dyn ToSql> = vec![&id, &user_id, &seq, &now];
    all.extend_from_slice(extra);
    tx.execute(sql, all.as_slice())
}

/// [`write_row`] on the user's row `id` if it is live: the row as written, `None` when
/// it is gone or a tombstone.
pub fn write_live_row<T: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
    sql: &str,
    extra: &[&dyn ToSql],
) -> rusqlite::Result<Option<T::Record>> {
    match T::get(tx, user_id, id)? {
        Some(row) if !row.is_deleted() => {}
        _ => return Ok(None),
    }
    write_row(tx, user_id, id, now, sql, extra)?;
    T::get(tx, user_id, id)
}

/// The checks of an increment, in order: counters, missing, tombstone. `Ok(())`: the
/// live row may be incremented.
pub fn increment_check<T: Table>(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    allowed: &[&str],
    counters: &BTreeMap<String, i64>,
) -> rusqlite::Result<Result<(), IncrementOutcome<T::Record>>> {
    if let Err(errors) = validate_increment(allowed, counters) {
        return Ok(Err(IncrementOutcome::Invalid(errors)));
    }
    let Some(current) = T::get(conn, user_id, id)? else {
        return Ok(Err(IncrementOutcome::NotFound));
    };
    if current.is_deleted() {
        return Ok(Err(IncrementOutcome::Tombstone(current)));
    }
    Ok(Ok(()))
}

/// The user's row `id` of `table` (selecting `columns`, read by `from_row`), tombstone
/// or not. `None` for a missing row and for another user's row alike.
pub fn get_row<S>(
    conn: &Connection,
    table: &str,
    columns: &str,
    user_id: Uuid,
    id: Uuid,
    from_row: impl FnOnce(&Row<'_>) -> rusqlite::Result<S>,
) -> rusqlite::Result<Option<S>> {
    conn.query_row(
        &format!("SELECT {columns} FROM {table} WHERE id = ?1 AND user_id = ?2"),
        params![id.to_string(), user_id.to_string()],
        from_row,
    )
    .optional()
}

/// The user's rows of `table` (selecting `columns`, read by `from_row`) whose last write
/// has a sequence number above `after_seq`, in sequence order, at most `limit`.
pub fn changed_since<S>(
    conn: &Connection,
    table: &str,
    columns: &str,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
    from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<S>,
) -> rusqlite::Result<Vec<S>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns} FROM {table} WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![user_id.to_string(), after_seq, limit as i64],
        from_row,
    )?;
    rows.collect()
}
