//! The one SQL layer the server's storage is written against, over either database:
//! SQLite (the embedded default, `rusqlite`) or PostgreSQL (`postgres`, the synchronous
//! client, run on blocking threads exactly like the SQLite connections).
//!
//! Every module writes its SQL once, in the dialect both databases accept: numbered
//! placeholders `?1`, `?2`, … (rendered `$1`, `$2`, … for PostgreSQL), `INSERT … ON
//! CONFLICT … DO NOTHING / DO UPDATE`, `RETURNING`, integers for flags and times, text
//! for ids. Values are bound as [`Value`]s, which convert to whatever type PostgreSQL
//! inferred for the placeholder (an integer bound where a `boolean` is expected is
//! `<> 0`), and rows are read by column name or position through [`Row`], whichever
//! database produced them. So there is one copy of the storage logic, and what the server
//! does cannot differ between the backends.
//!
//! **Transactions.** [`Connection::transaction`] starts a *write* transaction. On SQLite
//! the server has one writer connection per process, and SQLite itself serialises write
//! transactions. On PostgreSQL several processes (replicas) write to one database, so a
//! write transaction first takes a cluster-wide transaction-level advisory lock
//! ([`WRITE_LOCK`]), held until it commits or rolls back: write transactions run one at
//! a time across every replica, exactly as on SQLite, and everything SQLite's single
//! writer guarantees (preconditions checked and applied without a race, idempotency
//! records, usage limits checked and reserved in one step, and the global write sequence
//! taken in commit order, which keeps the change feed gap-free) holds unchanged.
//! [`Connection::read_transaction`] starts a read-only snapshot (`REPEATABLE READ` on
//! PostgreSQL, a deferred read transaction on SQLite).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use postgres::types::{FromSql, IsNull, ToSql as PgToSql, Type};

/// The key of the PostgreSQL advisory lock every write transaction holds until it ends.
pub const WRITE_LOCK: i64 = 0x5354_4f52_5901;
/// The key of the PostgreSQL advisory lock held while migrations run.
pub const MIGRATION_LOCK: i64 = 0x5354_4f52_5902;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A database error, from either backend or from reading a row.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("the query returned no rows")]
    QueryReturnedNoRows,
    #[error("no column named {0}")]
    InvalidColumnName(String),
    #[error("column {column}: {message}")]
    Conversion { column: String, message: String },
}

impl Error {
    /// A stored value that is not what its column holds.
    pub fn conversion(column: impl fmt::Display, message: impl Into<String>) -> Error {
        Error::Conversion {
            column: column.to_string(),
            message: message.into(),
        }
    }

    /// A `UNIQUE` or primary-key constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Error::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// `Ok(None)` for a query that found no row.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows)
            | Err(Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Values

/// One value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
}

impl Value<'_> {
    pub fn as_str(&self) -> Result<&str> {
        match self {
            Value::Text(s) => Ok(s),
            other => Err(Error::conversion(
                "?",
                format!("expected text, got {other:?}"),
            )),
        }
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(v) => Value::Int(v),
            Value::Real(v) => Value::Real(v),
            Value::Text(s) => Value::Text(Cow::Owned(s.into_owned())),
        }
    }
}

/// What can be bound to a placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u16, u8, usize, u64);

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self as i64)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for uuid::Uuid {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Owned(self.hyphenated().to_string()))
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Value::Text(s) => Value::Text(Cow::Borrowed(s)),
            Value::Null => Value::Null,
            Value::Int(v) => Value::Int(*v),
            Value::Real(v) => Value::Real(*v),
        }
    }
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String>;
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).map_err(|e| e.to_string()),
                    other => Err(format!("expected an integer, got {other:?}")),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i != 0),
            other => Err(format!("expected a flag, got {other:?}")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
        match v {
            Value::Real(r) => Ok(r),
            // SQLite answers `COALESCE(SUM(x), 0)` over no rows with the integer 0.
            Value::Int(i) => Ok(i as f64),
            other => Err(format!("expected a number, got {other:?}")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.into_owned()),
            other => Err(format!("expected text, got {other:?}")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for Value<'static> {
    fn from_value(v: Value<'_>) -> std::result::Result<Self, String> {
        Ok(v.into_owned())
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// Binds to whatever type PostgreSQL inferred for the placeholder.
impl PgToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("cannot bind an integer as {ty}").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("cannot bind a number as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_ref().to_sql(ty, out)
                }
                _ => Err(format!("cannot bind text as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Reads any column the schema uses (integers, flags, floats, text) without copying text.
impl<'a> FromSql<'a> for Value<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                Value::Text(Cow::Borrowed(<&str>::from_sql(ty, raw)?))
            }
            _ => return Err(format!("a column of type {ty} cannot be read").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// Parameters

/// The values bound to a statement's placeholders, in order: `params![a, b]`, an array
/// `[a, b]`, or `()` for none.
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for () {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl Params for Vec<Value<'_>> {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

/// `params![a, b, …]`: the values of a statement's placeholders `?1`, `?2`, ….
#[macro_export]
macro_rules! params {
    () => { () };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::sql::ToValue),+][..]
    };
}
pub use crate::params;

// ---------------------------------------------------------------------------------------
// Rows

/// A row of a query's result, from either database.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

/// A column by position or by name.
pub trait RowIndex: Copy + fmt::Display {
    fn index(self, row: &Row<'_>) -> Result<usize>;
}

impl RowIndex for usize {
    fn index(self, row: &Row<'_>) -> Result<usize> {
        if self < row.column_count() {
            Ok(self)
        } else {
            Err(Error::InvalidColumnName(self.to_string()))
        }
    }
}

impl RowIndex for &str {
    fn index(self, row: &Row<'_>) -> Result<usize> {
        row.column_index(self)
    }
}

impl<'r> Row<'r> {
    pub fn column_count(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.as_ref().column_count(),
            Row::Pg(r) => r.len(),
        }
    }

    pub fn column_name(&self, i: usize) -> Result<&str> {
        match self {
            Row::Sqlite(r) => Ok(r.as_ref().column_name(i)?),
            Row::Pg(r) => r
                .columns()
                .get(i)
                .map(|c| c.name())
                .ok_or_else(|| Error::InvalidColumnName(i.to_string())),
        }
    }

    pub fn column_index(&self, name: &str) -> Result<usize> {
        match self {
            Row::Sqlite(r) => Ok(r.as_ref().column_index(name)?),
            Row::Pg(r) => r
                .columns()
                .iter()
                .position(|c| c.name() == name)
                .ok_or_else(|| Error::InvalidColumnName(name.to_owned())),
        }
    }

    /// The value of column `i`, borrowing its text from the row.
    pub fn get_ref(&self, i: usize) -> Result<Value<'_>> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) => Value::Text(Cow::Borrowed(
                        std::str::from_utf8(t).map_err(|e| Error::conversion(i, e.to_string()))?,
                    )),
                    ValueRef::Blob(_) => return Err(Error::conversion(i, "a blob")),
                })
            }
            Row::Pg(r) => Ok(r.try_get::<_, Value<'_>>(i)?),
        }
    }

    /// Column `idx` (a position or a name) read as `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let i = idx.index(self)?;
        T::from_value(self.get_ref(i)?).map_err(|m| Error::conversion(idx, m))
    }
}

// ---------------------------------------------------------------------------------------
// Connections

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The row-locking clause that ends a `SELECT … LIMIT n` taking work items from a
    /// queue: ` FOR UPDATE SKIP LOCKED` on PostgreSQL, so a row another transaction is
    /// claiming is passed over instead of waited for; nothing on SQLite, whose write
    /// transactions already run one at a time. Appended to the SQL, in the spirit of the
    /// placeholder rendering: the statement is written once, the dialect adds its words.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// How a write transaction starts on SQLite (PostgreSQL always takes [`WRITE_LOCK`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBehavior {
    Deferred,
    Immediate,
    Exclusive,
}

/// A connection to either database.
pub struct Connection {
    inner: Inner,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connection({:?})", self.backend())
    }
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Pg(Box<RefCell<PgConn>>),
}

struct PgConn {
    client: PgClient,
    /// Prepared statements by their SQL as written (`?N` placeholders).
    statements: HashMap<String, postgres::Statement>,
}

/// The sync client runs every call on a runtime of its own, which must not start (nor
/// shut down, when the client is dropped) on a thread that runs async tasks: such calls
/// go through [`off_async`], and a client dropped on such a thread is closed on another.
struct PgClient(Option<postgres::Client>);

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("a live client")
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("a live client")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

/// Runs `f` here, or on a scoped thread when this thread is inside a tokio runtime
/// (where a PostgreSQL call, which blocks on a runtime of its own, would panic). Work
/// that already runs on the blocking pool calls the connection directly instead.
pub fn off_async<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Prepared statements kept per PostgreSQL connection before the cache is emptied.
const PG_STATEMENT_CACHE: usize = 512;

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(&pg_placeholders(sql))?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn query(&mut self, sql: &str, values: &[Value<'_>]) -> Result<Vec<postgres::Row>> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn PgToSql + Sync)> =
            values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
        Ok(self.client.query(&stmt, &refs)?)
    }

    fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<usize> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn PgToSql + Sync)> =
            values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
        Ok(self.client.execute(&stmt, &refs)? as usize)
    }
}

/// `sql` with SQLite's `?N` (and bare `?`) placeholders written as PostgreSQL's `$N`.
/// Quoted text and identifiers are left alone.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next = 0;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                }
                out.push('$');
                out.push_str(&digits);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

impl From<rusqlite::Connection> for Connection {
    fn from(conn: rusqlite::Connection) -> Self {
        Connection {
            inner: Inner::Sqlite(conn),
        }
    }
}

impl Connection {
    /// Connects to the PostgreSQL database at `url` (`postgres://user@host:port/db`).
    pub fn connect_postgres(url: &str) -> Result<Connection> {
        let client = PgClient(Some(postgres::Client::connect(url, postgres::NoTls)?));
        Ok(Connection {
            inner: Inner::Pg(Box::new(RefCell::new(PgConn {
                client,
                statements: HashMap::new(),
            }))),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Pg(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection underneath (for SQLite-only settings and tests).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// Whether the connection can no longer be used (PostgreSQL: the server closed it).
    pub fn is_broken(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(_) => false,
            Inner::Pg(c) => c.borrow().client.is_closed(),
        }
    }

    /// Runs one or more statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(c) => Ok(c.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Runs a transaction-control statement (`SAVEPOINT`, `ROLLBACK TO`, `RELEASE`):
    /// kept prepared on SQLite, sent as a simple query to PostgreSQL (which takes it
    /// also in a transaction a failed statement aborted).
    pub fn execute_command(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => c
                .prepare_cached(sql)?
                .execute([])
                .map(drop)
                .map_err(Into::into),
            Inner::Pg(c) => Ok(c.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Inner::Pg(c) => c.borrow_mut().execute(sql, &values),
        }
    }

    /// Every row of a query, each turned into a `T` by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            Inner::Pg(c) => {
                let rows = c.borrow_mut().query(sql, &values)?;
                rows.iter().map(|r| f(&Row::Pg(r))).collect()
            }
        }
    }

    /// The first row of a query, turned into a `T` by `f`; [`Error::QueryReturnedNoRows`]
    /// if there is none (see [`OptionalExtension::optional`]).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(r) => f(&Row::Sqlite(r)),
                    None => Err(Error::QueryReturnedNoRows),
                }
            }
            Inner::Pg(c) => {
                let rows = c.borrow_mut().query(sql, &values)?;
                match rows.first() {
                    Some(r) => f(&Row::Pg(r)),
                    None => Err(Error::QueryReturnedNoRows),
                }
            }
        }
    }

    /// A statement to run (prepared and kept on first use).
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }

    /// A statement to run (with SQL made on the spot).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: Cow::Owned(sql.to_owned()),
        })
    }

    /// Starts a write transaction (see the module documentation).
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.transaction_with_behavior(TransactionBehavior::Deferred)
    }

    /// Starts a write transaction; `behavior` says how on SQLite.
    pub fn transaction_with_behavior(
        &mut self,
        behavior: TransactionBehavior,
    ) -> Result<Transaction<'_>> {
        self.begin_write(behavior)?;
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }

    /// Starts a read-only transaction: everything read in it is one snapshot.
    pub fn read_transaction(&mut self) -> Result<Transaction<'_>> {
        match &self.inner {
            Inner::Sqlite(c) => c.prepare_cached("BEGIN")?.execute([]).map(drop)?,
            Inner::Pg(c) => c
                .borrow_mut()
                .client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?,
        }
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }

    fn begin_write(&self, behavior: TransactionBehavior) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let sql = match behavior {
                    TransactionBehavior::Deferred => "BEGIN DEFERRED",
                    TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
                    TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
                };
                c.prepare_cached(sql)?.execute([])?;
            }
            Inner::Pg(c) => {
                let mut c = c.borrow_mut();
                c.client.batch_execute("BEGIN")?;
                if let Err(e) = c.execute(
                    "SELECT pg_advisory_xact_lock(?1)",
                    &[Value::Int(WRITE_LOCK)],
                ) {
                    let _ = c.client.batch_execute("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Whether no transaction is open (SQLite ends a transaction by itself after some
    /// errors, such as a full disk).
    pub fn is_autocommit(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(c) => c.is_autocommit(),
            Inner::Pg(_) => false,
        }
    }
}

/// A statement on a connection, with rusqlite's calls.
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: Cow<'c, str>,
}

impl Statement<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }

    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self.conn.query_map(&self.sql, params, f)?;
        Ok(rows.into_iter().map(Ok).collect::<Vec<_>>().into_iter())
    }
}

/// An open transaction: rolled back when dropped without [`Transaction::commit`].
pub struct Transaction<'c> {
    conn: &'c Connection,
    open: bool,
}

impl Transaction<'_> {
    /// Commits; on an error the transaction is rolled back (when dropped).
    pub fn commit(mut self) -> Result<()> {
        match &self.conn.inner {
            Inner::Sqlite(c) => {
                c.prepare_cached("COMMIT")?.execute([])?;
            }
            Inner::Pg(c) => {
                let mut c = c.borrow_mut();
                // PostgreSQL answers COMMIT of a transaction in which a statement failed
                // with a rollback, not an error: a statement run first fails instead.
                c.execute("SELECT 1", &[])?;
                c.client.batch_execute("COMMIT")?;
            }
        }
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE a = ?1 AND b = '?2' AND c = ?12"),
            "SELECT a FROM t WHERE a = $1 AND b = '?2' AND c = $12"
        );
        assert_eq!(pg_placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn only_postgres_skips_locked_rows() {
        assert_eq!(Backend::Sqlite.skip_locked(), "");
        assert_eq!(Backend::Postgres.skip_locked(), " FOR UPDATE SKIP LOCKED");
    }
}
