//! The generic table layer: how the server stores every synced entity (heroes, stories,
//! custom events, the profile), derived from the entity's one description in
//! `is_protocol` ([`Entity`]).
//!
//! A table has the meta columns (`id`, the owner, `version`, `seq`, `created_seq`,
//! `created_at`, `updated_at`, `deleted`) and one column per field, named after it: the
//! user-written fields ([`Entity::Input`]) then the server-written ones
//! ([`Entity::Server`]). The SQL of each entity is built once from those column lists;
//! rows are bound through [`Fields::write_cells`] and read by column name through
//! [`Fields::read_cells`] (names resolved to positions once per entity, not per row).
//!
//! The write path is one for every entity and every caller (REST, push, story and media
//! generation): [`create`], [`update`], [`delete`], [`increment`] and [`write_server`].
//! They run the checks in the order SPEC.md gives them, scoped to a user (another user's
//! row behaves exactly like a missing one, except that a create cannot reuse its id, since
//! ids are global), and every write stamps the row with the next value of the global
//! sequence ([`crate::db::next_seq`]), bumps `version` and sets `updated_at`, inside the
//! caller's transaction. Input is validated (as sent, then normalized) here, so no caller can store a
//! row that breaks the rules of SPEC.md section 2. What an entity does beyond that is a
//! hook of [`Table`], implemented next to its table (`hero_store.rs`, `story_store.rs`, …).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use is_protocol::entity::{declared_columns, Cell, SqlKind};
use is_protocol::{
    CustomEvent, Entity, ErrorBody, FieldError, Fields, Hero, Input as _, MutationOp, Patch as _,
    Profile, RecordMeta, Story,
};
use uuid::Uuid;

use crate::params;
use crate::sql::{self, Backend, Connection, OptionalExtension, Row, ToValue, Transaction, Value};

use crate::db::{conversion_error, from_micros, next_seq, parse_uuid, to_micros, UuidText};

/// How the server stores an entity, and what it does beyond its fields. Every hook has a
/// default that does nothing.
pub trait Table: Entity {
    /// The server's SQL table.
    const SQL_TABLE: &'static str = Self::TABLE;
    /// One row per user with the user's id, kept on the user's own row (the profile):
    /// scoped by `id` rather than `user_id`, never deleted (no `deleted` column), with no
    /// creation order (no `created_seq`). [`create`], [`delete`] and [`list`] do not
    /// apply to it.
    const SINGLETON: bool = false;

    /// Field errors for the rows `input` points at that the user does not have alive
    /// (another user's row looks like a missing one). On an update, `before` is the
    /// stored input: references it already had are not checked again.
    fn check_references(
        _conn: &Connection,
        _user_id: Uuid,
        _input: &Self::Input,
        _before: Option<&Self::Input>,
    ) -> sql::Result<Vec<FieldError>> {
        Ok(Vec::new())
    }

    /// What else tombstoning the user's row `id` changes, in the same transaction.
    fn on_delete(
        _tx: &Transaction<'_>,
        _user_id: Uuid,
        _id: Uuid,
        _now: DateTime<Utc>,
    ) -> sql::Result<()> {
        Ok(())
    }

    /// What else an increment changes in the server-written fields, once the counters
    /// ([`Entity::COUNTERS`]) are added.
    fn after_increment(_server: &mut Self::Server, _now: DateTime<Utc>) {}

    /// Refuses a pushed mutation this entity never takes, before anything is read.
    fn refuse_push(_user_id: Uuid, _id: Uuid, _op: &MutationOp) -> Option<ErrorBody> {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Outcomes

/// What a create did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome<T> {
    /// Inserted at version 1.
    Created(T),
    /// The input breaks a rule; nothing written.
    Invalid(Vec<FieldError>),
    /// The user already has a row with this id (possibly a tombstone); nothing written.
    Exists(T),
    /// Another user has a row with this id; nothing written, nothing to show.
    IdTaken,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome<T> {
    /// Written at version + 1.
    Applied(T),
    /// The patch was empty: nothing written, here is the row.
    Unchanged(T),
    /// No such row for this user.
    NotFound,
    /// The row is a tombstone: it cannot be edited (nothing written).
    Deleted(T),
    /// The row is no longer at the expected version (nothing written).
    VersionMismatch(T),
    /// The patch, or the row it would produce, breaks a rule (nothing written).
    Invalid(Vec<FieldError>),
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome<T> {
    /// Tombstoned at version + 1.
    Deleted(T),
    /// Already a tombstone: the intent is satisfied, nothing written.
    AlreadyDeleted(T),
    /// No such row for this user.
    NotFound,
    /// The row is no longer at the expected version (nothing written).
    VersionMismatch(T),
}

/// What a counter increment did.
#[derive(Debug, Clone, PartialEq)]
pub enum IncrementOutcome<T> {
    /// Written at version + 1.
    Applied(T),
    /// The row is a tombstone: nothing written, here it is.
    Tombstone(T),
    /// No such row for this user.
    NotFound,
    /// Unknown counter or amount out of range (nothing written).
    Invalid(Vec<FieldError>),
}

/// A record with the sequence numbers of its last write and of its creation (0 for a
/// [`Table::SINGLETON`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SeqRecord<R> {
    pub seq: i64,
    pub created_seq: i64,
    pub record: R,
}

// ---------------------------------------------------------------------------------------
// SQL, built once per entity

/// The SQL of one entity's table. Every `SELECT` lists the same columns in the same
/// order (the meta columns, the fields, `seq`, `created_seq`), so one [`RowReader`]
/// serves them all.
struct TableSql {
    by_id: String,
    id_taken: String,
    live: String,
    changed_since: String,
    /// How many rows `changed_since` would read, counting at most `?3`.
    count_since: String,
    /// The REST list without its filters, ordering and limit.
    list: String,
    /// `?1` id, `?2` user, `?3` seq, `?4` now, then the input and the server fields.
    insert: String,
    /// `?1` id, `?2` user, `?3` seq, `?4` now, then the input fields.
    write_input: String,
    /// `?1` id, `?2` user, `?3` seq, `?4` now, then the server fields.
    write_server: String,
    /// `?1` id, `?2` user, `?3` seq, `?4` now.
    delete: String,
    reader: OnceLock<RowReader>,
}

fn sql<E: Table>() -> &'static TableSql {
    static CACHE: [OnceLock<TableSql>; 5] = [const { OnceLock::new() }; 5];
    CACHE[E::KIND as usize].get_or_init(TableSql::new::<E>)
}

/// The entity's field columns: the input's, then the server's.
fn field_columns<E: Table>() -> impl Iterator<Item = &'static str> {
    <E::Input as Fields>::COLUMNS
        .iter()
        .chain(<E::Server as Fields>::COLUMNS)
        .copied()
}

/// `a = ?5, b = ?6, …` for `columns`, numbered from `first`.
fn assignments(columns: &[&str], first: usize) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!(", {c} = ?{}", first + i))
        .collect()
}

impl TableSql {
    fn new<E: Table>() -> TableSql {
        let t = E::SQL_TABLE;
        let (owner, deleted, created_seq) = if E::SINGLETON {
            ("id", "0 AS deleted", "0 AS created_seq")
        } else {
            ("user_id", "deleted", "created_seq")
        };
        let fields: Vec<&str> = field_columns::<E>().collect();
        let select = format!(
            "id, version, created_at, updated_at, {deleted}, {}, seq, {created_seq}",
            fields.join(", ")
        );
        let placeholders: String = (0..fields.len()).map(|i| format!(", ?{}", i + 5)).collect();
        let stamp = "version = version + 1, seq = ?3, updated_at = ?4";
        let scope = format!("WHERE id = ?1 AND {owner} = ?2");
        let live = if E::SINGLETON { "" } else { " AND deleted = 0" };
        TableSql {
            by_id: format!("SELECT {select} FROM {t} {scope}"),
            id_taken: format!("SELECT 1 FROM {t} WHERE id = ?1"),
            live: format!("SELECT 1 FROM {t} {scope}{live}"),
            changed_since: format!(
                "SELECT {select} FROM {t} WHERE {owner} = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ),
            count_since: format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {t} WHERE {owner} = ?1 AND seq > ?2 LIMIT ?3) AS counted"
            ),
            list: format!(
                "SELECT {select} FROM {t}
                 WHERE {owner} = ?1 AND created_seq > ?2 AND updated_at > ?3 AND (?4 OR deleted = 0)"
            ),
            insert: format!(
                "INSERT INTO {t} (id, user_id, seq, created_seq, created_at, updated_at, version,
                                  deleted, {})
                 VALUES (?1, ?2, ?3, ?3, ?4, ?4, 1, 0{placeholders})",
                fields.join(", ")
            ),
            write_input: format!(
                "UPDATE {t} SET {stamp}{} {scope}",
                assignments(<E::Input as Fields>::COLUMNS, 5)
            ),
            write_server: format!(
                "UPDATE {t} SET {stamp}{} {scope}",
                assignments(<E::Server as Fields>::COLUMNS, 5)
            ),
            delete: format!("UPDATE {t} SET deleted = 1, {stamp} {scope}"),
            reader: OnceLock::new(),
        }
    }

    /// The positions of the columns in a `SELECT` of this table, looked up by name on
    /// the first row read.
    fn reader<E: Table>(&self, row: &Row<'_>) -> sql::Result<&RowReader> {
        let reader = match self.reader.get() {
            Some(reader) => reader,
            None => {
                let reader = RowReader::new::<E>(row)?;
                self.reader.get_or_init(|| reader)
            }
        };
        debug_assert_eq!(
            row.column_count(),
            7 + reader.fields.len(),
            "a SELECT of {} lists other columns",
            E::SQL_TABLE
        );
        #[cfg(test)]
        assert!(
            matches!(RowReader::new::<E>(row), Ok(r) if r == *reader),
            "a SELECT of {} lists its columns in another order",
            E::SQL_TABLE
        );
        Ok(reader)
    }
}

// ---------------------------------------------------------------------------------------
// Binding and reading

/// Collects positional parameters one after another (`?1`, `?2`, …).
#[derive(Default)]
struct Binder {
    values: Vec<Value<'static>>,
}

impl Binder {
    fn bind<T: ToValue>(&mut self, value: T) -> sql::Result<()> {
        self.values.push(value.to_value().into_owned());
        Ok(())
    }

    /// One field's cell as the server stores it: times as microseconds, ids as text,
    /// flags as 0/1.
    fn cell(&mut self, cell: Cell<'_>) -> sql::Result<()> {
        match cell {
            Cell::Null => self.bind(None::<i64>),
            Cell::Int(v) => self.bind(v),
            Cell::Real(v) => self.bind(v),
            Cell::Text(s) => self.bind(s),
            Cell::Owned(s) => self.bind(s),
            Cell::Uuid(id) => self.bind(UuidText::new(id)),
            Cell::Time(t) => self.bind(to_micros(t)),
        }
    }

    fn cells<F: Fields>(&mut self, fields: &F) -> sql::Result<()> {
        fields.write_cells(&mut |c| self.cell(c))
    }
}

/// Where each column of an entity's rows is in a statement's result (the meta columns,
/// then the field columns).
#[derive(Debug, PartialEq)]
struct RowReader {
    id: usize,
    version: usize,
    created_at: usize,
    updated_at: usize,
    deleted: usize,
    seq: usize,
    created_seq: usize,
    /// The field columns in declaration order (input, then server): the order
    /// [`Fields::read_cells`] asks for them.
    fields: Vec<(&'static str, usize)>,
}

impl RowReader {
    fn new<E: Table>(row: &Row<'_>) -> sql::Result<RowReader> {
        let at = |name: &str| row.column_index(name);
        Ok(RowReader {
            id: at("id")?,
            version: at("version")?,
            created_at: at("created_at")?,
            updated_at: at("updated_at")?,
            deleted: at("deleted")?,
            seq: at("seq")?,
            created_seq: at("created_seq")?,
            fields: field_columns::<E>()
                .map(|name| Ok((name, at(name)?)))
                .collect::<sql::Result<_>>()?,
        })
    }

    /// The position of field `name`; fields are asked for in order, so the one after
    /// the previous is tried first.
    fn field(&self, name: &'static str, hint: &mut usize) -> sql::Result<usize> {
        let at = match self.fields.get(*hint) {
            Some((n, _)) if *n == name => *hint,
            _ => self
                .fields
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(|| sql::Error::InvalidColumnName(name.to_owned()))?,
        };
        *hint = at + 1;
        Ok(self.fields[at].1)
    }

    fn read<E: Table>(&self, r: &Row<'_>) -> sql::Result<SeqRecord<E::Record>> {
        let meta = RecordMeta {
            id: parse_uuid(r.get_ref(self.id)?.as_str()?)?,
            version: r.get(self.version)?,
            deleted: r.get::<_, i64>(self.deleted)? != 0,
            created_at: from_micros(r.get(self.created_at)?)?,
            updated_at: from_micros(r.get(self.updated_at)?)?,
        };
        let mut hint = 0;
        let mut get = |name: &'static str| -> sql::Result<Cell<'_>> {
            let i = self.field(name, &mut hint)?;
            Ok(match r.get_ref(i)? {
                Value::Null => Cell::Null,
                Value::Int(v) => Cell::Int(v),
                Value::Real(v) => Cell::Real(v),
                Value::Text(std::borrow::Cow::Borrowed(t)) => Cell::Text(t),
                Value::Text(std::borrow::Cow::Owned(t)) => Cell::Owned(t),
            })
        };
        let invalid = |column: &str| conversion_error(0, format!("{}.{column}", E::SQL_TABLE));
        let input = <E::Input as Fields>::read_cells(&mut get)?.map_err(invalid)?;
        let server = <E::Server as Fields>::read_cells(&mut get)?.map_err(invalid)?;
        Ok(SeqRecord {
            seq: r.get(self.seq)?,
            created_seq: r.get(self.created_seq)?,
            record: E::into_record(meta, input, server),
        })
    }
}

/// Runs `sql` of `E`'s table with `params` and reads its rows.
fn read_all<E: Table>(
    conn: &Connection,
    sql: &str,
    params: Binder,
) -> sql::Result<Vec<SeqRecord<E::Record>>> {
    let table = self::sql::<E>();
    conn.query_map(sql, params.values, |r| table.reader::<E>(r)?.read::<E>(r))
}

/// `t` at the microsecond precision the database keeps, so a record returned from a
/// write equals the same record read back.
fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Runs one of `E`'s writes of the user's row `id`: binds `?1` id, `?2` user, `?3` the
/// next sequence value, `?4` now, then `fields` from `?5`.
fn write(
    tx: &Transaction<'_>,
    sql: &str,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
    fields: impl FnOnce(&mut Binder) -> sql::Result<()>,
) -> sql::Result<()> {
    let seq = next_seq(tx)?;
    let mut b = Binder::default();
    b.bind(UuidText::new(id))?;
    b.bind(UuidText::new(user_id))?;
    b.bind(seq)?;
    b.bind(to_micros(now))?;
    fields(&mut b)?;
    match tx.execute(sql, b.values)? {
        1 => Ok(()),
        _ => Err(sql::Error::QueryReturnedNoRows),
    }
}

/// `current` as written at its next version, at `now`.
fn next_version(current: RecordMeta, now: DateTime<Utc>, deleted: bool) -> RecordMeta {
    RecordMeta {
        version: current.version + 1,
        updated_at: now,
        deleted,
        ..current
    }
}

// ---------------------------------------------------------------------------------------
// Reads

/// The user's row `id`, tombstone or not. `None` for a missing row and for another
/// user's row alike.
pub fn get<E: Table>(conn: &Connection, user_id: Uuid, id: Uuid) -> sql::Result<Option<E::Record>> {
    Ok(get_with_seq::<E>(conn, user_id, id)?.map(|r| r.record))
}

/// [`get`] with the row's sequence numbers.
pub fn get_with_seq<E: Table>(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> sql::Result<Option<SeqRecord<E::Record>>> {
    let sql = sql::<E>();
    conn.query_row(
        &sql.by_id,
        params![UuidText::new(id), UuidText::new(user_id)],
        |r| sql.reader::<E>(r)?.read::<E>(r),
    )
    .optional()
}

/// Whether any user has a row with this id.
pub fn id_taken<E: Table>(conn: &Connection, id: Uuid) -> sql::Result<bool> {
    let found = conn.query_row(&sql::<E>().id_taken, [UuidText::new(id)], |_| Ok(()));
    Ok(found.optional()?.is_some())
}

/// Whether the user has a live (not deleted) row `id`.
pub fn live_exists<E: Table>(conn: &Connection, user_id: Uuid, id: Uuid) -> sql::Result<bool> {
    let found = conn.query_row(
        &sql::<E>().live,
        params![UuidText::new(id), UuidText::new(user_id)],
        |_| Ok(()),
    );
    Ok(found.optional()?.is_some())
}

/// The user's rows whose last write has a sequence number above `after_seq`, in
/// sequence order, at most `limit`.
pub fn changed_since<E: Table>(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
) -> sql::Result<Vec<SeqRecord<E::Record>>> {
    let mut b = Binder::default();
    b.bind(UuidText::new(user_id))?;
    b.bind(after_seq)?;
    b.bind(limit as i64)?;
    read_all::<E>(conn, &sql::<E>().changed_since, b)
}

/// How many of the user's rows have their last write above `after_seq`, counting at
/// most `cap` (an index range scan on `(user, seq)`, so bounded by `cap`).
pub fn count_changed_since<E: Table>(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    cap: u64,
) -> sql::Result<u64> {
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    conn.query_row(
        &sql::<E>().count_since,
        params![UuidText::new(user_id), after_seq, cap],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
}

/// Filters of a REST list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Keyset position: the `created_seq` of the last row of the previous page.
    pub after_created_seq: Option<i64>,
    pub updated_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    /// Only rows whose field column equals the value.
    pub equals: Vec<(&'static str, Cell<'static>)>,
}

/// The user's rows in creation order after `filter.after_created_seq`, at most `limit`.
///
/// The key is the sequence number of the row's creation, which never changes and grows
/// in commit order: a row edited during paging stays in place, so every row that exists
/// when paging starts is returned exactly once, and rows created meanwhile sort after
/// every existing one and show up on a later page, whatever the server clock does.
pub fn list<E: Table>(
    conn: &Connection,
    user_id: Uuid,
    filter: &ListFilter,
    limit: usize,
) -> sql::Result<Vec<SeqRecord<E::Record>>> {
    debug_assert!(!E::SINGLETON, "{} has no list", E::SQL_TABLE);
    let sql = sql::<E>();
    let mut text = sql.list.clone();
    for (i, (column, _)) in filter.equals.iter().enumerate() {
        // Column names come from the code, never from a request.
        assert!(
            field_columns::<E>().any(|c| c == *column),
            "{column} is not a column of {}",
            E::SQL_TABLE
        );
        let _ = write!(text, " AND {column} = ?{}", i + 5);
    }
    let _ = write!(
        text,
        " ORDER BY created_seq LIMIT ?{}",
        filter.equals.len() + 5
    );
    let mut b = Binder::default();
    b.bind(UuidText::new(user_id))?;
    b.bind(filter.after_created_seq.unwrap_or(0))?;
    b.bind(filter.updated_after.map(to_micros).unwrap_or(i64::MIN))?;
    b.bind(filter.include_deleted)?;
    for (_, value) in &filter.equals {
        b.cell(value.clone())?;
    }
    b.bind(limit as i64)?;
    read_all::<E>(conn, &text, b)
}

// ---------------------------------------------------------------------------------------
// Writes

/// Creates the user's row `id` from `input` (normalized, validated and its references
/// checked here), with the server-written fields at their defaults.
pub fn create<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    input: E::Input,
    now: DateTime<Utc>,
) -> sql::Result<CreateOutcome<E::Record>> {
    debug_assert!(!E::SINGLETON, "{} rows are not created here", E::SQL_TABLE);
    let now = stored_time(now);
    // The rules hold for the value as sent (what the OpenAPI document publishes), and
    // normalising a valid value (trimming) keeps it valid; checked again to be sure.
    let mut errors = input.validate().err().unwrap_or_default();
    let input = input.normalized();
    if errors.is_empty() {
        errors = input.validate().err().unwrap_or_default();
    }
    errors.extend(E::check_references(tx, user_id, &input, None)?);
    if !errors.is_empty() {
        return Ok(CreateOutcome::Invalid(errors));
    }
    // A new id (the usual case) costs one index probe; only a taken one is read.
    if id_taken::<E>(tx, id)? {
        return Ok(match get::<E>(tx, user_id, id)? {
            Some(existing) => CreateOutcome::Exists(existing),
            None => CreateOutcome::IdTaken,
        });
    }
    let server = E::Server::default();
    write(tx, &sql::<E>().insert, user_id, id, now, |b| {
        b.cells(&input)?;
        b.cells(&server)
    })?;
    let meta = RecordMeta {
        id,
        version: 1,
        deleted: false,
        created_at: now,
        updated_at: now,
    };
    Ok(CreateOutcome::Created(E::make_record(
        meta, &input, &server,
    )))
}

/// Applies `patch` to the user's row `id` if it is still at `expected_version` (or
/// unconditionally with `None`). Order of checks: missing, tombstone, version, the
/// patch's own validation, an empty patch (nothing written), then the merged row's
/// validation and its references that changed.
pub fn update<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: E::Patch,
    now: DateTime<Utc>,
) -> sql::Result<UpdateOutcome<E::Record>> {
    let now = stored_time(now);
    let Some(current) = get::<E>(tx, user_id, id)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    let meta = E::record_meta(&current);
    if meta.deleted {
        return Ok(UpdateOutcome::Deleted(current));
    }
    if expected_version.is_some_and(|v| v != meta.version) {
        return Ok(UpdateOutcome::VersionMismatch(current));
    }
    // As for a create: the rules hold for the patch as sent, then for its normal form.
    if let Err(errors) = patch.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    let patch = patch.normalized();
    if let Err(errors) = patch.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    if patch.is_empty() {
        return Ok(UpdateOutcome::Unchanged(current));
    }
    let before = E::record_input(&current);
    let mut merged = before.clone();
    merged.apply(&patch);
    let mut errors = merged.validate().err().unwrap_or_default();
    errors.extend(E::check_references(tx, user_id, &merged, Some(&before))?);
    if !errors.is_empty() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    write(tx, &sql::<E>().write_input, user_id, id, now, |b| {
        b.cells(&merged)
    })?;
    let server = E::record_server(&current);
    Ok(UpdateOutcome::Applied(E::make_record(
        next_version(meta, now, false),
        &merged,
        &server,
    )))
}

/// Tombstones the user's row `id` if it is still at `expected_version` (or
/// unconditionally with `None`), then runs [`Table::on_delete`]. The row keeps its
/// fields, with `deleted = true`.
pub fn delete<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> sql::Result<DeleteOutcome<E::Record>> {
    debug_assert!(!E::SINGLETON, "{} rows are never deleted", E::SQL_TABLE);
    let now = stored_time(now);
    let Some(current) = get::<E>(tx, user_id, id)? else {
        return Ok(DeleteOutcome::NotFound);
    };
    let meta = E::record_meta(&current);
    if meta.deleted {
        return Ok(DeleteOutcome::AlreadyDeleted(current));
    }
    if expected_version.is_some_and(|v| v != meta.version) {
        return Ok(DeleteOutcome::VersionMismatch(current));
    }
    write(tx, &sql::<E>().delete, user_id, id, now, |_| Ok(()))?;
    E::on_delete(tx, user_id, id, now)?;
    let (input, server) = (E::record_input(&current), E::record_server(&current));
    Ok(DeleteOutcome::Deleted(E::make_record(
        next_version(meta, now, true),
        &input,
        &server,
    )))
}

/// Checks the counters of an increment against the entity's counter names.
pub fn validate_increment<E: Entity>(
    counters: &BTreeMap<String, i64>,
) -> Result<(), Vec<FieldError>> {
    let allowed = E::COUNTERS;
    if allowed.is_empty() {
        return Err(vec![FieldError::new(
            "counters",
            format!("A {} has no counters", E::KIND.as_str()),
        )]);
    }
    let mut errors = Vec::new();
    if counters.is_empty() {
        errors.push(FieldError::new("counters", "Name at least one counter"));
    }
    for (name, amount) in counters {
        if !allowed.contains(&name.as_str()) {
            errors.push(FieldError::new(
                &format!("counters.{name}"),
                format!("Not a counter; counters are: {}", allowed.join(", ")),
            ));
        } else if !(1..=is_protocol::MAX_INCREMENT).contains(amount) {
            errors.push(FieldError::new(
                &format!("counters.{name}"),
                format!("Increment by 1 to {}", is_protocol::MAX_INCREMENT),
            ));
        }
    }
    is_protocol::entity::result(errors)
}

/// `server` with `counters` added to its counter fields (found by column name).
fn add_counters<S: Fields>(server: &S, counters: &BTreeMap<String, i64>) -> sql::Result<S> {
    let mut cells: Vec<Cell<'static>> = Vec::with_capacity(S::COLUMNS.len());
    server.write_cells(&mut |c| {
        cells.push(match c {
            Cell::Text(s) => Cell::Owned(s.to_owned()),
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Real(v) => Cell::Real(v),
            Cell::Owned(s) => Cell::Owned(s),
            Cell::Uuid(id) => Cell::Uuid(id),
            Cell::Time(t) => Cell::Time(t),
        });
        Ok::<_, sql::Error>(())
    })?;
    for (cell, name) in cells.iter_mut().zip(S::COLUMNS) {
        if let (Some(amount), Cell::Int(v)) = (counters.get(*name), &*cell) {
            *cell = Cell::Int(v.saturating_add(*amount));
        }
    }
    let mut at = 0;
    S::read_cells(&mut |name| {
        if S::COLUMNS.get(at) != Some(&name) {
            at = S::COLUMNS.iter().position(|c| *c == name).unwrap_or(at);
        }
        let cell = cells.get(at).cloned().unwrap_or(Cell::Null);
        at += 1;
        Ok::<_, sql::Error>(cell)
    })?
    .map_err(|column| conversion_error(0, format!("counter {column}")))
}

/// Adds to the counters of the user's row `id`, whatever its version, then runs
/// [`Table::after_increment`]. Order of checks: counters, missing, tombstone (a no-op
/// that answers the tombstone).
pub fn increment<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    counters: &BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> sql::Result<IncrementOutcome<E::Record>> {
    if let Err(errors) = validate_increment::<E>(counters) {
        return Ok(IncrementOutcome::Invalid(errors));
    }
    let Some(current) = get::<E>(tx, user_id, id)? else {
        return Ok(IncrementOutcome::NotFound);
    };
    if E::record_meta(&current).deleted {
        return Ok(IncrementOutcome::Tombstone(current));
    }
    let mut server = add_counters(&E::record_server(&current), counters)?;
    let now = stored_time(now);
    E::after_increment(&mut server, now);
    rewrite_server::<E>(tx, user_id, &current, server, now).map(IncrementOutcome::Applied)
}

/// Changes the server-written fields of the user's live row `id` (a new version).
/// `None` when the row is gone or a tombstone by now.
pub fn write_server<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut E::Server),
) -> sql::Result<Option<E::Record>> {
    let Some(current) = get::<E>(tx, user_id, id)? else {
        return Ok(None);
    };
    if E::record_meta(&current).deleted {
        return Ok(None);
    }
    let mut server = E::record_server(&current);
    change(&mut server);
    rewrite_server::<E>(tx, user_id, &current, server, stored_time(now)).map(Some)
}

fn rewrite_server<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    current: &E::Record,
    server: E::Server,
    now: DateTime<Utc>,
) -> sql::Result<E::Record> {
    let meta = E::record_meta(current);
    write(tx, &sql::<E>().write_server, user_id, meta.id, now, |b| {
        b.cells(&server)
    })?;
    let input = E::record_input(current);
    Ok(E::make_record(
        next_version(meta, now, false),
        &input,
        &server,
    ))
}

// ---------------------------------------------------------------------------------------
// Declared columns

/// The SQL type a column of `kind` is declared with on `backend` (times as
/// microseconds).
pub fn sql_type(kind: SqlKind, backend: Backend) -> &'static str {
    match (kind, backend) {
        (SqlKind::Text | SqlKind::Uuid | SqlKind::Json, _) => "TEXT",
        (SqlKind::Integer | SqlKind::Time, Backend::Sqlite) => "INTEGER",
        (SqlKind::Integer | SqlKind::Time, Backend::Postgres) => "BIGINT",
        (SqlKind::Real, Backend::Sqlite) => "REAL",
        (SqlKind::Real, Backend::Postgres) => "DOUBLE PRECISION",
    }
}

/// The columns of `table`: name, declared type (upper case), NOT NULL.
fn table_columns(conn: &Connection, table: &str) -> sql::Result<Vec<(String, String, bool)>> {
    let read = |r: &Row<'_>| {
        Ok((
            r.get("name")?,
            r.get::<_, String>("type")?.to_uppercase(),
            r.get("notnull")?,
        ))
    };
    match conn.backend() {
        Backend::Sqlite => conn.query_map(&format!("PRAGMA table_info({table})"), (), read),
        Backend::Postgres => conn.query_map(
            "SELECT CAST(column_name AS TEXT) AS name, CAST(data_type AS TEXT) AS type,
                    is_nullable = 'NO' AS notnull
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1
             ORDER BY ordinal_position",
            [table],
            read,
        ),
    }
}

/// Adds every column an entity declares (in `is_protocol`) that its table lacks, so that
/// a new field with a value for existing rows needs no hand-written migration. A field
/// without one (a required enum) needs a numbered migration, and this says so.
pub fn add_declared_columns(conn: &Connection) -> anyhow::Result<()> {
    fn add<E: Table>(conn: &Connection) -> anyhow::Result<()> {
        let existing = table_columns(conn, E::SQL_TABLE)?;
        for (name, ty) in declared_columns::<E>() {
            if existing.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            let sql_type = sql_type(ty.kind, conn.backend());
            let Some(sql) = ty.add_column_sql(E::SQL_TABLE, name, sql_type) else {
                anyhow::bail!(
                    "{}.{name} has no value for existing rows: add a migration for it",
                    E::SQL_TABLE
                );
            };
            conn.execute_batch(&sql)?;
            tracing::info!(
                table = E::SQL_TABLE,
                column = name,
                "added a declared column"
            );
        }
        Ok(())
    }
    add::<Hero>(conn)?;
    add::<Story>(conn)?;
    add::<CustomEvent>(conn)?;
    add::<Profile>(conn)
}

#[cfg(test)]
mod tests {
    /// The hand-written migrations and the entities' declarations agree: every declared
    /// column a migration made has the declared type and nullability, and every other
    /// one can be added automatically.
    #[test]
    fn migrations_match_the_declared_columns() {
        fn check<E: super::Table>(conn: &super::Connection) {
            let columns = super::table_columns(conn, E::SQL_TABLE).unwrap();
            for (name, ty) in is_protocol::entity::declared_columns::<E>() {
                match columns.iter().find(|(n, _, _)| n == name) {
                    Some((_, decl, not_null)) => {
                        assert_eq!(
                            decl,
                            super::sql_type(ty.kind, conn.backend()),
                            "{}.{name}",
                            E::SQL_TABLE
                        );
                        assert_eq!(
                            *not_null,
                            !ty.nullable,
                            "{}.{name} nullability",
                            E::SQL_TABLE
                        );
                    }
                    // No migration made it: it must be one that can be added.
                    None => assert!(
                        ty.default.is_some(),
                        "{}.{name} needs a migration",
                        E::SQL_TABLE
                    ),
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("db.sqlite3")).unwrap();
        check::<is_protocol::Hero>(&conn);
        check::<is_protocol::Story>(&conn);
        check::<is_protocol::CustomEvent>(&conn);
        check::<is_protocol::Profile>(&conn);
    }

    #[test]
    fn a_declared_column_missing_from_the_table_is_added() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("db.sqlite3")).unwrap();
        conn.execute_batch("ALTER TABLE stories DROP COLUMN audio_url")
            .unwrap();
        super::add_declared_columns(&conn).unwrap();
        assert!(super::table_columns(&conn, "stories")
            .unwrap()
            .iter()
            .any(|(n, t, not_null)| n == "audio_url" && t == "TEXT" && !not_null));
    }

    use super::*;
    use is_protocol::{Hero, HeroInput, HeroPatch, HeroTrait, Story, StoryServer};

    use crate::db;

    fn setup() -> (tempfile::TempDir, Connection, Uuid, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("db.sqlite3")).unwrap();
        let now = Utc::now();
        let a = crate::auth::create_user(&conn, "a@x.io", "A", "h", now)
            .unwrap()
            .id;
        let b = crate::auth::create_user(&conn, "b@x.io", "B", "h", now)
            .unwrap()
            .id;
        (dir, conn, a, b)
    }

    fn input(name: &str) -> HeroInput {
        HeroInput {
            name: name.into(),
            age: 5,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn sql_is_built_from_the_entity_description() {
        let s = sql::<Hero>();
        assert!(s.by_id.contains(
            "deleted, name, age, traits, appearance, special_ability, avatar_url, \
             avatar_generation_id, seq, created_seq FROM heroes WHERE id = ?1 AND user_id = ?2"
        ));
        assert!(s.write_input.contains("name = ?5, age = ?6, traits = ?7"));
        assert!(s
            .write_server
            .contains("avatar_url = ?5, avatar_generation_id = ?6"));
        assert!(sql::<Story>().write_server.contains("play_count = ?5"));
    }

    #[test]
    fn counters_are_added_by_name() {
        let s = StoryServer {
            play_count: 2,
            audio_url: Some("/x".into()),
            ..Default::default()
        };
        let counters = [("play_count".to_owned(), 3)].into_iter().collect();
        let added = add_counters(&s, &counters).unwrap();
        assert_eq!(added.play_count, 5);
        assert_eq!(added.audio_url.as_deref(), Some("/x"));
    }

    #[test]
    fn write_path_assigns_versions_and_sequence() {
        let (_dir, mut conn, a, b) = setup();
        let id = Uuid::now_v7();
        let tx = conn.transaction().unwrap();
        let created = match create::<Hero>(&tx, a, id, input("  Luna "), now()).unwrap() {
            CreateOutcome::Created(h) => h,
            other => panic!("{other:?}"),
        };
        assert_eq!(created.version, 1);
        assert_eq!(created.name, "Luna", "normalized");
        assert_eq!(get::<Hero>(&tx, a, id).unwrap(), Some(created.clone()));
        assert_eq!(
            create::<Hero>(&tx, a, id, input("Again"), now()).unwrap(),
            CreateOutcome::Exists(created.clone())
        );
        assert_eq!(
            create::<Hero>(&tx, b, id, input("Theft"), now()).unwrap(),
            CreateOutcome::IdTaken
        );
        assert!(matches!(
            create::<Hero>(&tx, a, Uuid::now_v7(), input(""), now()).unwrap(),
            CreateOutcome::Invalid(_)
        ));
        let patch = HeroPatch {
            age: Some(6),
            ..Default::default()
        };
        let updated = match update::<Hero>(&tx, a, id, Some(1), patch.clone(), now()).unwrap() {
            UpdateOutcome::Applied(h) => h,
            other => panic!("{other:?}"),
        };
        assert_eq!((updated.version, updated.age), (2, 6));
        assert_eq!(get::<Hero>(&tx, a, id).unwrap(), Some(updated.clone()));
        assert_eq!(
            update::<Hero>(&tx, a, id, Some(1), patch.clone(), now()).unwrap(),
            UpdateOutcome::VersionMismatch(updated.clone())
        );
        assert_eq!(
            update::<Hero>(&tx, b, id, None, patch.clone(), now()).unwrap(),
            UpdateOutcome::NotFound
        );
        assert_eq!(
            delete::<Hero>(&tx, b, id, None, now()).unwrap(),
            DeleteOutcome::NotFound
        );
        let gone = match delete::<Hero>(&tx, a, id, Some(2), now()).unwrap() {
            DeleteOutcome::Deleted(h) => h,
            other => panic!("{other:?}"),
        };
        assert!(gone.deleted);
        assert_eq!(gone.version, 3);
        assert_eq!(
            delete::<Hero>(&tx, a, id, Some(1), now()).unwrap(),
            DeleteOutcome::AlreadyDeleted(gone.clone())
        );
        assert_eq!(
            update::<Hero>(&tx, a, id, Some(3), patch, now()).unwrap(),
            UpdateOutcome::Deleted(gone.clone())
        );
        tx.commit().unwrap();
        // Three writes: seq 1, 2, 3; the row keeps only the latest.
        let changes = changed_since::<Hero>(&conn, a, 0, 10).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].seq, changes[0].created_seq), (3, 1));
        assert_eq!(changes[0].record, gone);
        assert!(changed_since::<Hero>(&conn, b, 0, 10).unwrap().is_empty());
    }

    #[test]
    fn merged_result_is_validated() {
        let (_dir, mut conn, a, _) = setup();
        let id = Uuid::now_v7();
        let tx = conn.transaction().unwrap();
        create::<Hero>(&tx, a, id, input("Luna"), now()).unwrap();
        // Each field alone is fine; patch validation catches the bad trait count.
        let bad = HeroPatch {
            traits: Some(vec![]),
            ..Default::default()
        };
        match update::<Hero>(&tx, a, id, Some(1), bad, now()).unwrap() {
            UpdateOutcome::Invalid(errors) => assert_eq!(errors[0].field, "traits"),
            other => panic!("{other:?}"),
        }
        let empty = HeroPatch::default();
        match update::<Hero>(&tx, a, id, Some(1), empty, now()).unwrap() {
            UpdateOutcome::Unchanged(h) => assert_eq!(h.version, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_fields_and_lists() {
        let (_dir, mut conn, a, _) = setup();
        let tx = conn.transaction().unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for (i, id) in ids.iter().enumerate() {
            create::<Hero>(&tx, a, *id, input(&format!("H{i}")), now()).unwrap();
        }
        let with_avatar = write_server::<Hero>(&tx, a, ids[1], now(), |s| {
            s.avatar_url = Some("/api/media/x.png".into())
        })
        .unwrap()
        .unwrap();
        assert_eq!(with_avatar.version, 2);
        assert_eq!(get::<Hero>(&tx, a, ids[1]).unwrap(), Some(with_avatar));
        delete::<Hero>(&tx, a, ids[0], None, now()).unwrap();
        assert!(write_server::<Hero>(&tx, a, ids[0], now(), |_| {})
            .unwrap()
            .is_none());
        assert!(!live_exists::<Hero>(&tx, a, ids[0]).unwrap());
        assert!(live_exists::<Hero>(&tx, a, ids[2]).unwrap());
        let live = list::<Hero>(&tx, a, &ListFilter::default(), 10).unwrap();
        assert_eq!(
            live.iter().map(|r| r.record.id).collect::<Vec<_>>(),
            &ids[1..]
        );
        let filter = ListFilter {
            include_deleted: true,
            equals: vec![("name", Cell::Owned("H0".into()))],
            ..Default::default()
        };
        let named = list::<Hero>(&tx, a, &filter, 10).unwrap();
        assert_eq!(named.len(), 1);
        assert!(named[0].record.deleted);
    }
}
