//! Storage of [`SyncRow`]s: one table per entity with the entity's own columns (named
//! after its fields, declared once in the protocol) and the sync metadata columns
//! ([`META_COLUMNS`]). Rows are written through [`Fields::write_cells`] and read by
//! column name through [`Fields::read_cells`].

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use is_protocol::entity::{Cell, Column};
use is_protocol::{EntityKind, Fields};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Statement, ToSql};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{SyncEntity, SyncRow};
use crate::error::{CoreError, Result};
use crate::sync::state::SyncState;

/// Columns every synced table has after the entity's own fields (SPEC.md section 3).
pub const META_COLUMNS: &[&str] = &[
    "created_at",
    "updated_at",
    "sync_status",
    "sync_op",
    "base_version",
    "base_snapshot",
    "server_snapshot",
    "server_version",
    "changed_fields",
    "last_synced_at",
    "server_updated_at",
    "sync_error",
    "attempts",
    "next_attempt_at",
    "seen_gen",
    "pending_increment",
];

/// Binds positional parameters one after another (`?1`, `?2`, ...) without allocating a
/// parameter list: the pull path writes thousands of rows per page through it.
pub struct Binder<'a, 'conn> {
    stmt: &'a mut rusqlite::Statement<'conn>,
    next: usize,
}

impl<'a, 'conn> Binder<'a, 'conn> {
    pub fn new(stmt: &'a mut rusqlite::Statement<'conn>) -> Self {
        Binder { stmt, next: 0 }
    }

    pub fn bind<T: ToSql>(&mut self, value: T) -> rusqlite::Result<()> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, value)
    }

    pub fn uuid(&mut self, id: Uuid) -> rusqlite::Result<()> {
        self.bind(UuidText::new(id))
    }

    pub fn opt_uuid(&mut self, id: Option<Uuid>) -> rusqlite::Result<()> {
        self.bind(id.map(UuidText::new))
    }

    /// Binds a timestamp as RFC 3339 text. A pulled page stamps most rows with the same
    /// few instants, so the last few texts are kept instead of formatted again.
    pub fn time(&mut self, t: DateTime<Utc>) -> rusqlite::Result<()> {
        /// (the slot to fill next, the last instants and their texts)
        type Recent = (usize, [(DateTime<Utc>, String); 4]);
        thread_local! {
            static RECENT: std::cell::RefCell<Recent> = std::cell::RefCell::new((0, Default::default()));
        }
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            let (next, slots) = &mut *recent;
            let i = match slots
                .iter()
                .position(|(at, text)| *at == t && !text.is_empty())
            {
                Some(i) => i,
                None => {
                    let i = *next;
                    *next = (i + 1) % slots.len();
                    slots[i] = (t, t.to_rfc3339());
                    i
                }
            };
            self.bind(slots[i].1.as_str())
        })
    }

    /// Binds one field's cell: times as RFC 3339 text, ids as hyphenated text.
    pub fn cell(&mut self, cell: Cell<'_>) -> rusqlite::Result<()> {
        match cell {
            Cell::Null => self.bind(None::<&str>),
            Cell::Int(v) => self.bind(v),
            Cell::Real(v) => self.bind(v),
            Cell::Text(s) => self.bind(s),
            Cell::Owned(s) => self.bind(s),
            Cell::Uuid(id) => self.uuid(id),
            Cell::Time(t) => self.time(t),
        }
    }

    pub fn opt_time(&mut self, t: Option<DateTime<Utc>>) -> rusqlite::Result<()> {
        match t {
            Some(t) => self.time(t),
            None => self.bind(None::<&str>),
        }
    }

    pub fn execute(self) -> rusqlite::Result<usize> {
        self.stmt.raw_execute()
    }
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

impl ToSql for UuidText {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.0)))
    }
}

/// The SQL of one entity's table, built once.
pub struct EntitySql {
    pub columns: String,
    pub select_by_id: String,
    pub upsert: String,
    pub meta_by_id: String,
    pub mark_seen: String,
    pub delete_by_id: String,
}

fn kind_index(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Hero => 0,
        EntityKind::Story => 1,
        EntityKind::Illustration => 2,
        EntityKind::CustomEvent => 3,
        EntityKind::UserProfile => 4,
    }
}

pub fn sql<E: SyncEntity>() -> &'static EntitySql {
    static CACHE: [OnceLock<EntitySql>; 5] = [const { OnceLock::new() }; 5];
    CACHE[kind_index(E::KIND)].get_or_init(|| {
        let cols: Vec<&str> = std::iter::once("id")
            .chain(<E::Input as Fields>::COLUMNS.iter().copied())
            .chain(<E::Server as Fields>::COLUMNS.iter().copied())
            .chain(META_COLUMNS.iter().copied())
            .collect();
        let columns = cols.join(", ");
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let t = E::TABLE;
        EntitySql {
            select_by_id: format!("SELECT {columns} FROM {t} WHERE id = ?1"),
            upsert: format!("INSERT OR REPLACE INTO {t} ({columns}) VALUES ({})", placeholders.join(", ")),
            meta_by_id: format!(
                "SELECT sync_status, sync_op, base_version, server_version, pending_increment FROM {t} WHERE id = ?1"
            ),
            mark_seen: format!("UPDATE {t} SET seen_gen = ?2 WHERE id = ?1"),
            delete_by_id: format!("DELETE FROM {t} WHERE id = ?1"),
            columns,
        }
    })
}

fn corrupt<E: SyncEntity>(id: &str, what: &str) -> CoreError {
    CoreError::Corrupt(format!("{} {id}: bad {what}", E::LABEL))
}

fn parse_time<E: SyncEntity>(
    id: &str,
    what: &str,
    s: Option<String>,
) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| s.parse().map_err(|_| corrupt::<E>(id, what)))
        .transpose()
}

fn parse_json<E: SyncEntity, T: DeserializeOwned>(
    id: &str,
    what: &str,
    s: Option<String>,
) -> Result<Option<T>> {
    s.map(|s| serde_json::from_str(&s).map_err(|_| corrupt::<E>(id, what)))
        .transpose()
}

/// A query's columns by name, for rows that are not one entity's (a list's joins):
/// values are read by column name and parsed as the protocol's [`Column`] types.
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub fn of(stmt: &Statement<'_>) -> Columns {
        Columns {
            names: stmt.column_names().into_iter().map(str::to_owned).collect(),
        }
    }

    /// The column `name` of `r`; a value that is not a `T` is corrupt data.
    pub fn get<T: Column>(&self, r: &Row<'_>, name: &str) -> Result<T> {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        let cell = match r.get_ref(i)? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Int(v),
            ValueRef::Real(v) => Cell::Real(v),
            ValueRef::Text(t) => {
                Cell::Text(std::str::from_utf8(t).map_err(|_| self.corrupt(r, name))?)
            }
            ValueRef::Blob(_) => return Err(self.corrupt(r, name)),
        };
        T::from_cell(cell).ok_or_else(|| self.corrupt(r, name))
    }

    pub fn corrupt(&self, r: &Row<'_>, what: &str) -> CoreError {
        let id = r.get::<_, String>("id").unwrap_or_default();
        CoreError::Corrupt(format!("row {id}: bad {what}"))
    }
}

/// Where each column of an entity's row is in a statement's result, looked up by name
/// once per statement. Per row, a field is found by its name among the entity's own
/// columns; fields are asked for in declaration order, so the next one is tried first.
pub struct RowReader {
    fields: Vec<(&'static str, usize)>,
    /// The positions of [`META_COLUMNS`], in that order.
    meta: Vec<usize>,
    next: std::cell::Cell<usize>,
}

/// The index of each meta column in [`RowReader::meta`].
mod meta {
    pub const CREATED_AT: usize = 0;
    pub const UPDATED_AT: usize = 1;
    pub const SYNC_STATUS: usize = 2;
    pub const SYNC_OP: usize = 3;
    pub const BASE_VERSION: usize = 4;
    pub const BASE_SNAPSHOT: usize = 5;
    pub const SERVER_SNAPSHOT: usize = 6;
    // 7: server_version, derived from server_snapshot.
    pub const CHANGED_FIELDS: usize = 8;
    pub const LAST_SYNCED_AT: usize = 9;
    pub const SERVER_UPDATED_AT: usize = 10;
    pub const SYNC_ERROR: usize = 11;
    pub const ATTEMPTS: usize = 12;
    pub const NEXT_ATTEMPT_AT: usize = 13;
    pub const SEEN_GEN: usize = 14;
    pub const PENDING_INCREMENT: usize = 15;
}

impl RowReader {
    /// The positions of every column a [`SyncRow`] of `E` needs in `stmt`'s result.
    pub fn new<E: SyncEntity>(stmt: &Statement<'_>) -> Result<RowReader> {
        let fields = std::iter::once("id")
            .chain(<E::Input as Fields>::COLUMNS.iter().copied())
            .chain(<E::Server as Fields>::COLUMNS.iter().copied())
            .map(|name| Ok((name, stmt.column_index(name)?)))
            .collect::<rusqlite::Result<_>>()?;
        let meta = META_COLUMNS
            .iter()
            .map(|name| stmt.column_index(name))
            .collect::<rusqlite::Result<_>>()?;
        Ok(RowReader {
            fields,
            meta,
            next: std::cell::Cell::new(0),
        })
    }

    /// The position of the entity column `name`.
    fn index(&self, name: &'static str) -> rusqlite::Result<usize> {
        let same = |n: &str| std::ptr::eq(n, name) || n == name;
        let hint = self.next.get();
        let at = match self.fields.get(hint) {
            Some((n, _)) if same(n) => hint,
            _ => self
                .fields
                .iter()
                .position(|(n, _)| same(n))
                .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?,
        };
        self.next.set(at + 1);
        Ok(self.fields[at].1)
    }

    fn meta<T: rusqlite::types::FromSql>(&self, r: &Row<'_>, which: usize) -> rusqlite::Result<T> {
        r.get(self.meta[which])
    }

    /// The column `name` of `r` as a cell for [`Fields::read_cells`].
    fn cell<'r>(&self, r: &'r Row<'_>, name: &'static str) -> rusqlite::Result<Cell<'r>> {
        let i = self.index(name)?;
        Ok(match r.get_ref(i)? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Int(v),
            ValueRef::Real(v) => Cell::Real(v),
            ValueRef::Text(t) => Cell::Text(std::str::from_utf8(t).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?),
            ValueRef::Blob(_) => {
                return Err(rusqlite::Error::InvalidColumnType(
                    i,
                    name.to_owned(),
                    rusqlite::types::Type::Blob,
                ))
            }
        })
    }

    /// Reads a full row of `E` by column name.
    pub fn read<E: SyncEntity>(&self, r: &Row<'_>) -> rusqlite::Result<Result<SyncRow<E>>> {
        self.next.set(0);
        let id: String = r.get(self.index("id")?)?;
        let fields = <E::Input as Fields>::read_cells(&mut |name| self.cell(r, name))?;
        let server = <E::Server as Fields>::read_cells(&mut |name| self.cell(r, name))?;
        let created_at: String = self.meta(r, meta::CREATED_AT)?;
        let updated_at: String = self.meta(r, meta::UPDATED_AT)?;
        let status: String = self.meta(r, meta::SYNC_STATUS)?;
        let op: Option<String> = self.meta(r, meta::SYNC_OP)?;
        let base_version: Option<i64> = self.meta(r, meta::BASE_VERSION)?;
        let base_snapshot: Option<String> = self.meta(r, meta::BASE_SNAPSHOT)?;
        let server_snapshot: Option<String> = self.meta(r, meta::SERVER_SNAPSHOT)?;
        let changed_fields: String = self.meta(r, meta::CHANGED_FIELDS)?;
        let last_synced_at: Option<String> = self.meta(r, meta::LAST_SYNCED_AT)?;
        let server_updated_at: Option<String> = self.meta(r, meta::SERVER_UPDATED_AT)?;
        let sync_error: Option<String> = self.meta(r, meta::SYNC_ERROR)?;
        let attempts: i64 = self.meta(r, meta::ATTEMPTS)?;
        let next_attempt_at: Option<String> = self.meta(r, meta::NEXT_ATTEMPT_AT)?;
        let seen_gen: i64 = self.meta(r, meta::SEEN_GEN)?;
        let pending_increment: i64 = self.meta(r, meta::PENDING_INCREMENT)?;
        Ok((|| {
            let i = id.as_str();
            let fields = fields.map_err(|what| corrupt::<E>(i, what))?;
            let server = server.map_err(|what| corrupt::<E>(i, what))?;
            Ok(SyncRow {
                id: id.parse().map_err(|_| corrupt::<E>(i, "id"))?,
                fields,
                server,
                created_at: parse_time::<E>(i, "created_at", Some(created_at))?.unwrap_or_default(),
                updated_at: parse_time::<E>(i, "updated_at", Some(updated_at))?.unwrap_or_default(),
                state: SyncState::from_columns(&status, op.as_deref())
                    .ok_or_else(|| corrupt::<E>(i, "sync status"))?,
                base_version,
                base_snapshot: parse_json::<E, _>(i, "base_snapshot", base_snapshot)?,
                server_snapshot: parse_json::<E, _>(i, "server_snapshot", server_snapshot)?,
                changed_fields: parse_json::<E, _>(i, "changed_fields", Some(changed_fields))?
                    .unwrap_or_default(),
                last_synced_at: parse_time::<E>(i, "last_synced_at", last_synced_at)?,
                server_updated_at: parse_time::<E>(i, "server_updated_at", server_updated_at)?,
                sync_error,
                attempts: u32::try_from(attempts).unwrap_or(0),
                next_attempt_at: parse_time::<E>(i, "next_attempt_at", next_attempt_at)?,
                seen_gen,
                pending_increment,
            })
        })())
    }
}

pub fn load<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<Option<SyncRow<E>>> {
    let mut stmt = conn.prepare_cached(&sql::<E>().select_by_id)?;
    let reader = RowReader::new::<E>(&stmt)?;
    stmt.query_row([UuidText::new(id)], |r| reader.read::<E>(r))
        .optional()?
        .transpose()
}

pub fn load_existing<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<SyncRow<E>> {
    load::<E>(conn, id)?.ok_or_else(|| CoreError::NotFound {
        entity: E::LABEL,
        id: id.to_string(),
    })
}

/// Rows matching a `WHERE` clause (written against the table's columns), in `order`.
pub fn load_where<E: SyncEntity>(
    conn: &Connection,
    where_sql: &str,
    order_sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<SyncRow<E>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM {} WHERE {where_sql} ORDER BY {order_sql}",
        sql::<E>().columns,
        E::TABLE
    ))?;
    let reader = RowReader::new::<E>(&stmt)?;
    let rows = stmt.query_map(params, |r| reader.read::<E>(r))?;
    rows.map(|r| r?).collect()
}

/// How many rows match a `WHERE` clause.
pub fn count_where<E: SyncEntity>(
    conn: &Connection,
    where_sql: &str,
    params: impl rusqlite::Params,
) -> Result<u32> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM {} WHERE {where_sql}",
            E::TABLE
        ))?
        .query_row(params, |r| r.get(0))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Writes the whole row (insert or replace).
pub fn save<E: SyncEntity>(conn: &Connection, row: &SyncRow<E>) -> Result<()> {
    let mut stmt = conn.prepare_cached(&sql::<E>().upsert)?;
    let mut b = Binder::new(&mut stmt);
    b.uuid(row.id)?;
    row.fields.write_cells(&mut |c| b.cell(c))?;
    row.server.write_cells(&mut |c| b.cell(c))?;
    let (status, op) = row.state.to_columns();
    let json = |v: &Option<E::Record>| v.as_ref().map(serde_json::to_string).transpose();
    b.time(row.created_at)?;
    b.time(row.updated_at)?;
    b.bind(status)?;
    b.bind(op)?;
    b.bind(row.base_version)?;
    // A synced row is its own base: no second copy.
    let base = if row.state == SyncState::Synced {
        None
    } else {
        json(&row.base_snapshot)?
    };
    b.bind(base)?;
    b.bind(json(&row.server_snapshot)?)?;
    b.bind(
        row.server_snapshot
            .as_ref()
            .map(|s| E::record_meta(s).version),
    )?;
    b.bind(if row.changed_fields.is_empty() {
        "[]".to_owned()
    } else {
        serde_json::to_string(&row.changed_fields)?
    })?;
    b.opt_time(row.last_synced_at)?;
    b.opt_time(row.server_updated_at)?;
    b.bind(&row.sync_error)?;
    b.bind(row.attempts)?;
    b.opt_time(row.next_attempt_at)?;
    b.bind(row.seen_gen)?;
    b.bind(row.pending_increment)?;
    b.execute()?;
    Ok(())
}

/// Deletes the row (and whatever hangs off it locally).
pub fn remove<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<()> {
    conn.prepare_cached(&sql::<E>().delete_by_id)?
        .execute([UuidText::new(id)])?;
    E::on_removed(conn, id)
}

/// The sync facts of a row, without reading its fields: what [`crate::sync::plan`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMeta {
    pub state: SyncState,
    pub base_version: Option<i64>,
    pub remembered_version: Option<i64>,
    pub pending_increment: i64,
}

pub fn load_meta<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<Option<StoredMeta>> {
    let mut stmt = conn.prepare_cached(&sql::<E>().meta_by_id)?;
    let row = stmt
        .query_row([UuidText::new(id)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    row.map(
        |(status, op, base_version, remembered_version, pending_increment)| {
            let state = SyncState::from_columns(&status, op.as_deref())
                .ok_or_else(|| corrupt::<E>(&id.to_string(), "sync status"))?;
            Ok(StoredMeta {
                state,
                base_version,
                remembered_version,
                pending_increment,
            })
        },
    )
    .transpose()
}

/// [`load_meta`] for many rows at once (one query per pulled page): the rows that exist.
pub fn load_metas<E: SyncEntity>(
    conn: &Connection,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, StoredMeta>> {
    let mut list = String::with_capacity(ids.len() * 39 + 2);
    list.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push('"');
        list.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        list.push('"');
    }
    list.push(']');
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, sync_status, sync_op, base_version, server_version, pending_increment FROM {}
         WHERE id IN (SELECT value FROM json_each(?1))",
        E::TABLE
    ))?;
    let rows = stmt.query_map([list], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (id, status, op, base_version, remembered_version, pending_increment) = row?;
        let state = SyncState::from_columns(&status, op.as_deref())
            .ok_or_else(|| corrupt::<E>(&id, "sync status"))?;
        let id: Uuid = id.parse().map_err(|_| corrupt::<E>(&id, "id"))?;
        out.insert(
            id,
            StoredMeta {
                state,
                base_version,
                remembered_version,
                pending_increment,
            },
        );
    }
    Ok(out)
}

pub fn mark_seen<E: SyncEntity>(conn: &Connection, id: Uuid, gen: i64) -> Result<()> {
    conn.prepare_cached(&sql::<E>().mark_seen)?
        .execute(rusqlite::params![UuidText::new(id), gen])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{meta, META_COLUMNS};

    #[test]
    fn meta_positions_name_their_columns() {
        for (at, name) in [
            (meta::CREATED_AT, "created_at"),
            (meta::UPDATED_AT, "updated_at"),
            (meta::SYNC_STATUS, "sync_status"),
            (meta::SYNC_OP, "sync_op"),
            (meta::BASE_VERSION, "base_version"),
            (meta::BASE_SNAPSHOT, "base_snapshot"),
            (meta::SERVER_SNAPSHOT, "server_snapshot"),
            (meta::CHANGED_FIELDS, "changed_fields"),
            (meta::LAST_SYNCED_AT, "last_synced_at"),
            (meta::SERVER_UPDATED_AT, "server_updated_at"),
            (meta::SYNC_ERROR, "sync_error"),
            (meta::ATTEMPTS, "attempts"),
            (meta::NEXT_ATTEMPT_AT, "next_attempt_at"),
            (meta::SEEN_GEN, "seen_gen"),
            (meta::PENDING_INCREMENT, "pending_increment"),
        ] {
            assert_eq!(META_COLUMNS[at], name);
        }
    }
}
