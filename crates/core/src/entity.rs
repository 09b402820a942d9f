//! The per-entity description every synced table implements once ([`SyncEntity`]), and
//! the one generic local row ([`SyncRow`]) with its storage.
//!
//! Heroes, stories, custom events and the profile are all cached, validated, pushed,
//! pulled and merged by the same code; an entity says only what differs: its table and
//! columns, its input/record types, its validation, its merge fields and its default
//! conflict strategy and cache policy.

use std::fmt::Debug;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, FieldError, Record};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::merge::FieldSpec;
use crate::model::RowSync;
use crate::policy::CachePolicy;
use crate::sync_state::{PendingOp, SyncState};

/// How a push conflict of an entity is settled (SPEC.md section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConflictStrategy {
    /// The newer edit (by its timestamp) wins the whole row.
    LastWriteWins,
    ServerWins,
    LocalWins,
    /// The row goes to `conflict` and the user decides.
    UserPrompt,
    /// Three-way merge against the base snapshot, field by field.
    Merge,
}

impl ConflictStrategy {
    pub const ALL: [ConflictStrategy; 5] = [
        ConflictStrategy::LastWriteWins,
        ConflictStrategy::ServerWins,
        ConflictStrategy::LocalWins,
        ConflictStrategy::UserPrompt,
        ConflictStrategy::Merge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::LastWriteWins => "last_write_wins",
            ConflictStrategy::ServerWins => "server_wins",
            ConflictStrategy::LocalWins => "local_wins",
            ConflictStrategy::UserPrompt => "user_prompt",
            ConflictStrategy::Merge => "merge",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictStrategy> {
        ConflictStrategy::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The version facts every server record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub id: Uuid,
    pub version: i64,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One synced entity: everything the generic repository, the outbox and the sync engine
/// need to know about it.
pub trait SyncEntity: Sized + Debug + Clone + PartialEq + Send + Sync + 'static {
    const KIND: EntityKind;
    /// The local table.
    const TABLE: &'static str;
    /// A word for messages ("hero", "story").
    const LABEL: &'static str;
    /// Default conflict strategy (SPEC.md section 2); Settings may override it.
    const STRATEGY: ConflictStrategy;
    /// Default cache policy (SPEC.md section 2).
    const POLICY: CachePolicy;
    /// Columns of the entity's own fields (user-written, then server-written), in the
    /// order [`SyncEntity::bind_fields`] binds and [`SyncEntity::read_fields`] reads them.
    const FIELD_COLUMNS: &'static [&'static str];
    /// The user-writable fields and how each merges (SPEC.md section 7).
    const MERGE_FIELDS: &'static [FieldSpec];
    /// When a merge cannot settle the whole row (a delete against an edit, or a merged
    /// row that breaks a rule), ask the user (`true`) or let the newer edit win.
    const PROMPT_FALLBACK: bool = false;
    /// The counter of this entity, sent as increments and never conflicting.
    const COUNTER: Option<&'static str> = None;

    /// The user-writable fields: what a form edits and a create sends.
    type Input: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync;
    /// The row as the server stores it.
    type Record: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync;
    /// The fields only the server writes (media URLs, counters).
    type Server: Clone + PartialEq + Debug + Default + Send + Sync;

    fn record_meta(rec: &Self::Record) -> RecordMeta;
    fn record_parts(rec: &Self::Record) -> (Self::Input, Self::Server);
    /// The server-written part of a record alone.
    fn record_server(rec: &Self::Record) -> Self::Server;
    fn make_record(meta: RecordMeta, input: &Self::Input, server: &Self::Server) -> Self::Record;
    /// This entity's record inside a wire [`Record`], if it is one.
    fn from_wire(rec: &Record) -> Option<&Self::Record>;

    /// A short name of the row for lists (a hero's name, a story's title).
    fn title(input: &Self::Input) -> String;
    fn normalized(input: Self::Input) -> Self::Input;
    fn validate(input: &Self::Input) -> Result<(), Vec<FieldError>>;
    /// The wire patch turning `from` into `to` (only the fields that differ) and the
    /// names of those fields.
    fn diff(from: &Self::Input, to: &Self::Input) -> (Value, Vec<&'static str>);

    fn bind_fields(
        b: &mut Binder<'_, '_>,
        input: &Self::Input,
        server: &Self::Server,
    ) -> rusqlite::Result<()>;
    /// Reads the field columns starting at column `at`; `Err(what)` names a bad value.
    fn read_fields(r: &Row<'_>, at: usize) -> FieldsRead<Self::Input, Self::Server>;

    /// The server's value of [`SyncEntity::COUNTER`].
    fn counter(_server: &Self::Server) -> i64 {
        0
    }
    /// A local increment's effect on the server-written fields, for display until the
    /// server confirms it (a story's `last_played_at`).
    fn on_local_increment(_server: &mut Self::Server, _now: DateTime<Utc>) {}
    /// Taking a server copy while local increments are unconfirmed: keep what they showed.
    fn keep_while_incrementing(_local: &Self::Server, _incoming: &mut Self::Server) {}
    /// Rows whose pending create must reach the server before a mutation with this
    /// payload can be sent (a story's hero and custom event).
    fn dependencies(_payload: &Value) -> Vec<(EntityKind, Uuid)> {
        Vec::new()
    }
    /// Checks against the local cache the server would make (a story's hero exists).
    /// `old` is the row's current input for an edit: only references that change are
    /// checked, so a row pulled before the row it refers to stays editable.
    fn validate_local(
        _conn: &Connection,
        _old: Option<&Self::Input>,
        _input: &Self::Input,
    ) -> Result<Vec<FieldError>> {
        Ok(Vec::new())
    }
    /// Runs after the row left the local cache for good.
    fn on_removed(_conn: &Connection, _id: Uuid) -> Result<()> {
        Ok(())
    }
}

/// What [`SyncEntity::read_fields`] returns: a database error, or the fields, or the name
/// of a column whose value is not valid.
pub type FieldsRead<I, S> = rusqlite::Result<Result<(I, S), String>>;

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

/// A row of any synced entity as stored locally: its fields and its sync metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRow<E: SyncEntity> {
    pub id: Uuid,
    pub fields: E::Input,
    pub server: E::Server,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub state: SyncState,
    /// The server version the local state builds on (`None`: never reached the server).
    pub base_version: Option<i64>,
    /// The server copy at `base_version`, kept while the row has local changes (for the
    /// three-way merge); a synced row *is* that copy, so it is not stored twice.
    pub base_snapshot: Option<E::Record>,
    /// The newest server copy seen while the row has local changes.
    pub server_snapshot: Option<E::Record>,
    pub changed_fields: Vec<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub server_updated_at: Option<DateTime<Utc>>,
    pub sync_error: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The full-resync generation in which the server last showed this row.
    pub seen_gen: i64,
    /// Local counter increments the server has not confirmed yet.
    pub pending_increment: i64,
}

impl<E: SyncEntity> SyncRow<E> {
    /// A new local row, pending create.
    pub fn new_local(id: Uuid, fields: E::Input, now: DateTime<Utc>) -> Self {
        SyncRow {
            id,
            fields,
            server: E::Server::default(),
            created_at: now,
            updated_at: now,
            state: SyncState::Pending(PendingOp::Create),
            base_version: None,
            base_snapshot: None,
            server_snapshot: None,
            changed_fields: Vec::new(),
            last_synced_at: None,
            server_updated_at: None,
            sync_error: None,
            attempts: 0,
            next_attempt_at: None,
            seen_gen: 0,
            pending_increment: 0,
        }
    }

    /// A row that mirrors a server record.
    pub fn from_server(rec: &E::Record, now: DateTime<Utc>, gen: i64) -> Self {
        let meta = E::record_meta(rec);
        let (fields, server) = E::record_parts(rec);
        SyncRow {
            id: meta.id,
            fields,
            server,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            state: SyncState::Synced,
            base_version: Some(meta.version),
            base_snapshot: None,
            server_snapshot: None,
            changed_fields: Vec::new(),
            last_synced_at: Some(now),
            server_updated_at: Some(meta.updated_at),
            sync_error: None,
            attempts: 0,
            next_attempt_at: None,
            seen_gen: gen,
            pending_increment: 0,
        }
    }

    /// Overwrites the row with the server's copy: synced, nothing pending (but local
    /// counter increments, which never conflict).
    pub fn take_server(&mut self, rec: &E::Record, now: DateTime<Utc>) {
        let meta = E::record_meta(rec);
        let (fields, server) = E::record_parts(rec);
        self.fields = fields;
        self.created_at = meta.created_at;
        self.updated_at = meta.updated_at;
        self.state = SyncState::Synced;
        self.changed_fields.clear();
        self.server_snapshot = None;
        self.sync_error = None;
        self.attempts = 0;
        self.next_attempt_at = None;
        self.set_base(rec, server, now);
    }

    /// Records that the server holds `rec` as the version the local state builds on.
    /// Server-written fields always follow the server.
    pub fn mark_base(&mut self, rec: &E::Record, now: DateTime<Utc>) {
        self.set_base(rec, E::record_server(rec), now);
    }

    fn set_base(&mut self, rec: &E::Record, mut server: E::Server, now: DateTime<Utc>) {
        let meta = E::record_meta(rec);
        if self.pending_increment > 0 {
            E::keep_while_incrementing(&self.server, &mut server);
        }
        self.server = server;
        self.base_version = Some(meta.version);
        // A synced row is its own base; a row with local changes keeps the copy.
        self.base_snapshot = (self.state != SyncState::Synced).then(|| rec.clone());
        self.server_updated_at = Some(meta.updated_at);
        self.last_synced_at = Some(now);
        if self
            .server_snapshot
            .as_ref()
            .is_some_and(|s| E::record_meta(s).version <= meta.version)
        {
            self.server_snapshot = None;
        }
    }

    /// Before the first local change of a synced row: keep the synced copy as the base
    /// of a later three-way merge.
    pub fn begin_local_change(&mut self) {
        if self.state == SyncState::Synced && self.base_version.is_some() {
            self.base_snapshot = Some(self.as_record());
        }
    }

    /// The server copy the local change builds on, if the server has the row.
    pub fn base_record(&self) -> Option<E::Record> {
        match (&self.base_snapshot, self.state, self.base_version) {
            (Some(b), _, _) => Some(b.clone()),
            (None, SyncState::Synced, Some(_)) => Some(self.as_record()),
            _ => None,
        }
    }

    /// The local version as a record (for the conflict history and merges).
    pub fn as_record(&self) -> E::Record {
        E::make_record(
            RecordMeta {
                id: self.id,
                version: self.base_version.unwrap_or(0),
                deleted: self.state == SyncState::Pending(PendingOp::Delete),
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            &self.fields,
            &self.server,
        )
    }

    /// The counter as shown: the server's count plus unconfirmed local increments.
    pub fn counter(&self) -> i64 {
        E::counter(&self.server) + self.pending_increment
    }

    /// The newest server version this row knows of.
    pub fn known_version(&self) -> Option<i64> {
        let remembered = self
            .server_snapshot
            .as_ref()
            .map(|s| E::record_meta(s).version);
        self.base_version.max(remembered)
    }

    pub fn add_changed(&mut self, fields: &[&str]) {
        for f in fields {
            if !self.changed_fields.iter().any(|c| c == f) {
                self.changed_fields.push((*f).to_owned());
            }
        }
    }

    pub fn sync_view(&self, max_attempts: u32) -> RowSync {
        RowSync {
            status: self.state.status(),
            op: self.state.op(),
            error: self.sync_error.clone(),
            attempts: self.attempts,
            given_up: matches!(self.state, SyncState::Failed(_)) && self.attempts >= max_attempts,
            next_attempt_at: self.next_attempt_at,
            version: self.base_version,
            last_synced_at: self.last_synced_at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Storage

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
        let cols: Vec<&str> = std::iter::once("id").chain(E::FIELD_COLUMNS.iter().copied()).chain(META_COLUMNS.iter().copied()).collect();
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

/// Reads a full row selected with [`EntitySql::columns`].
pub fn read_row<E: SyncEntity>(r: &Row<'_>) -> rusqlite::Result<Result<SyncRow<E>>> {
    let id: String = r.get(0)?;
    let fields = E::read_fields(r, 1)?;
    let m = 1 + E::FIELD_COLUMNS.len();
    let created_at: String = r.get(m)?;
    let updated_at: String = r.get(m + 1)?;
    let status: String = r.get(m + 2)?;
    let op: Option<String> = r.get(m + 3)?;
    let base_version: Option<i64> = r.get(m + 4)?;
    let base_snapshot: Option<String> = r.get(m + 5)?;
    let server_snapshot: Option<String> = r.get(m + 6)?;
    // m + 7: server_version, derived from server_snapshot.
    let changed_fields: String = r.get(m + 8)?;
    let last_synced_at: Option<String> = r.get(m + 9)?;
    let server_updated_at: Option<String> = r.get(m + 10)?;
    let sync_error: Option<String> = r.get(m + 11)?;
    let attempts: i64 = r.get(m + 12)?;
    let next_attempt_at: Option<String> = r.get(m + 13)?;
    let seen_gen: i64 = r.get(m + 14)?;
    let pending_increment: i64 = r.get(m + 15)?;
    Ok((|| {
        let i = id.as_str();
        let (fields, server) = fields.map_err(|what| corrupt::<E>(i, &what))?;
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

pub fn load<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<Option<SyncRow<E>>> {
    let mut stmt = conn.prepare_cached(&sql::<E>().select_by_id)?;
    stmt.query_row([UuidText::new(id)], read_row::<E>)
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
    let rows = stmt.query_map(params, read_row::<E>)?;
    rows.map(|r| r?).collect()
}

/// Writes the whole row (insert or replace).
pub fn save<E: SyncEntity>(conn: &Connection, row: &SyncRow<E>) -> Result<()> {
    let mut stmt = conn.prepare_cached(&sql::<E>().upsert)?;
    let mut b = Binder::new(&mut stmt);
    b.uuid(row.id)?;
    E::bind_fields(&mut b, &row.fields, &row.server)?;
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

// ---------------------------------------------------------------------------------------
// Helpers for entity implementations

/// An input as a JSON object (for merges and the conflict dialog).
pub fn to_object<T: Serialize>(v: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(v)? {
        Value::Object(m) => Ok(m),
        other => Err(CoreError::Corrupt(format!(
            "expected an object, got {other}"
        ))),
    }
}

pub fn from_object<T: DeserializeOwned>(m: Map<String, Value>) -> Result<T> {
    Ok(serde_json::from_value(Value::Object(m))?)
}

/// Text column to enum via its `parse`.
pub fn parse_enum<T>(what: &str, s: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    parse(s).ok_or_else(|| what.to_owned())
}

pub fn parse_opt_uuid(what: &str, s: Option<String>) -> Result<Option<Uuid>, String> {
    s.map(|s| s.parse().map_err(|_| what.to_owned()))
        .transpose()
}

pub fn parse_opt_time(what: &str, s: Option<String>) -> Result<Option<DateTime<Utc>>, String> {
    s.map(|s| s.parse().map_err(|_| what.to_owned()))
        .transpose()
}
