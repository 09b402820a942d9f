//! The database connections of one server process: **one writer** with **group commit**,
//! and a **pool of read connections**.
//!
//! SQLite in WAL mode lets any number of readers run beside one writer, each reader on a
//! snapshot of the last commit. So:
//!
//! - [`Storage::read`] runs on a read-only connection from the pool (opened on demand,
//!   at most [`MAX_IDLE_READERS`] kept), inside one read transaction, so everything it
//!   reads is one snapshot (the change feed reads several tables and must not see a
//!   commit land between them). Reads never wait for the writer.
//! - Every write goes through the one writer connection, so the global write sequence
//!   ([`crate::db::next_seq`]) is taken and committed by one connection at a time: a
//!   snapshot always holds a prefix of the sequence, and the change feed can never hand
//!   out position N+1 while N is still uncommitted (a reader past it would skip N forever).
//! - [`Storage::write`] queues a unit of work and joins a **group commit**. One
//!   committer task (started by the first unit queued while none runs, ending when it
//!   finds the queue empty) takes the writer and every queued unit, runs each in its own
//!   savepoint of one shared transaction, commits once (one `fsync` with
//!   `synchronous = FULL` for the whole group instead of one per unit), and only then
//!   answers each unit; then it takes what queued meanwhile. While a group commits, the
//!   next one queues up, so the group grows with the load. Between groups the committer
//!   lets go of the writer, so [`Storage::with_writer`] work gets its turn.
//!
//! **Isolation.** A unit that fails (an error or a panic) is rolled back to its savepoint
//! and answered with its own error; the units before and after it in the group are
//! unaffected, exactly as if each had had its own transaction. Units run in queue order,
//! each seeing what the earlier ones wrote (a replayed mutation id in a later unit is a
//! duplicate of the earlier one), as serial transactions would.
//!
//! **Durability (crash safety).** No unit is answered before `COMMIT` of its group has
//! returned, and with `synchronous = FULL` a returned commit is on disk. A crash before
//! that loses the whole group, and none of its requests was answered: each client sees
//! a failed request and retries, and its mutation ids make the retry safe. If the commit
//! itself fails (or SQLite abandons the transaction after an I/O error), every unit of
//! the group is answered with an error, including those that succeeded on their own:
//! nothing of the group was kept, so none of it may be reported as applied.
//!
//! [`Storage::with_writer`] runs work on the writer directly (its own transactions, or
//! autocommit), for start-up, background jobs and the handlers that are not grouped.

use std::panic::{catch_unwind, AssertUnwindSafe};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::db::{self, Location};
use crate::error::{panic_text, ApiError};
use crate::sql::{self, Connection, Transaction, TransactionBehavior};

/// Idle read connections kept open; more are opened when more reads run at once, and
/// closed when they are done.
pub const MAX_IDLE_READERS: usize = 8;

/// The writer, the queue of units waiting for the next group commit, and the read pool.
pub struct Storage {
    location: Location,
    writer: Mutex<Connection>,
    queue: Mutex<Queue>,
    readers: Mutex<Vec<Connection>>,
    groups: AtomicU64,
    units: AtomicU64,
}

/// How many group commits ran and how many units they held (committed or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    pub groups: u64,
    pub units: u64,
}

/// Units waiting for the next group, and whether a committer task is running (it
/// will take them).
#[derive(Default)]
struct Queue {
    units: Vec<Box<dyn Unit>>,
    committer: bool,
}

/// Locks `m`, also after a panic elsewhere: a panic mid-transaction rolled the
/// transaction back when it unwound (and the queue and pool hold no half-made state).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Storage {
    /// Storage around `writer`, an open and migrated connection to the database at
    /// `location` ([`db::open_at`]); read connections are opened on the same database.
    pub fn new(location: &Location, writer: Connection) -> Storage {
        Storage {
            location: location.clone(),
            writer: Mutex::new(writer),
            queue: Mutex::new(Queue::default()),
            readers: Mutex::new(Vec::new()),
            groups: AtomicU64::new(0),
            units: AtomicU64::new(0),
        }
    }

    /// Group commits so far (units per group = how well writes are grouped).
    pub fn commit_stats(&self) -> CommitStats {
        CommitStats {
            groups: self.groups.load(Ordering::Relaxed),
            units: self.units.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on the writer connection, blocking the calling thread until it is free.
    ///
    /// On PostgreSQL, called on a thread that runs async tasks (a test's body), `f` runs
    /// on a scoped thread of its own ([`sql::off_async`]).
    pub fn with_writer<T: Send>(&self, f: impl FnOnce(&mut Connection) -> T + Send) -> T {
        if self.location.backend() == sql::Backend::Postgres {
            sql::off_async(|| f(&mut self.writer()))
        } else {
            f(&mut self.writer())
        }
    }

    /// [`Storage::with_writer`] from the blocking pool (never an async thread).
    pub fn with_writer_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut self.writer())
    }

    /// The writer, connected again first if the database closed its connection (a
    /// PostgreSQL restart or failover); if that fails too, the work fails on the broken
    /// connection and the next call tries again.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        let mut conn = lock(&self.writer);
        if conn.is_broken() {
            match db::open_reader(&self.location) {
                Ok(fresh) => {
                    tracing::warn!("the database closed the writer's connection; reconnected");
                    *conn = fresh;
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot reconnect the writer"),
            }
        }
        conn
    }

    /// Runs `f` on a read connection, in one read transaction (one snapshot), blocking.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let pooled = lock(&self.readers).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => db::open_reader(&self.location).map_err(ApiError::Internal)?,
        };
        let result = {
            // Dropping it ends the read transaction (nothing to commit).
            let snapshot = conn.read_transaction()?;
            f(&snapshot)
        };
        // A panic in `f` unwinds past this point and the connection is closed; so is
        // one the database closed.
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS && !conn.is_broken() {
            idle.push(conn);
        }
        result
    }

    /// Runs `f` in the next group commit (see the module documentation) and answers what
    /// it returned once the group is durable. `f` runs on the writer, inside its own
    /// savepoint: if it fails, only its own writes are rolled back.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let start_committer = {
            let mut queue = lock(&self.queue);
            queue.units.push(Box::new(Pending {
                work: Some(f),
                result: None,
                reply,
            }));
            !std::mem::replace(&mut queue.committer, true)
        };
        if start_committer {
            let storage = Arc::clone(self);
            // Runs on even if this request goes away: its unit is queued.
            tokio::task::spawn_blocking(move || storage.commit_queued());
        }
        answer
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a queued write was dropped")))?
    }

    /// The committer: takes the writer and every queued unit, commits them as one group,
    /// and again until it finds the queue empty. The flag is cleared under the same lock
    /// that [`Storage::write`] queues under, so a unit is never left without a committer.
    fn commit_queued(&self) {
        loop {
            let mut conn = self.writer();
            let units = {
                let mut queue = lock(&self.queue);
                if queue.units.is_empty() {
                    queue.committer = false;
                    return;
                }
                std::mem::take(&mut queue.units)
            };
            self.groups.fetch_add(1, Ordering::Relaxed);
            self.units.fetch_add(units.len() as u64, Ordering::Relaxed);
            commit_group(&mut conn, units);
        }
    }
}

/// Runs `units` in one transaction, each in its own savepoint, commits, then answers
/// each: its own result if the group committed, else an error.
fn commit_group(conn: &mut Connection, mut units: Vec<Box<dyn Unit>>) {
    let started = std::time::Instant::now();
    let committed = run_group(conn, &mut units);
    match &committed {
        Ok(()) => tracing::debug!(
            units = units.len(),
            micros = started.elapsed().as_micros() as u64,
            "group committed"
        ),
        Err(e) => tracing::error!(
            error = %e,
            units = units.len(),
            "a group commit failed; nothing of it was kept"
        ),
    }
    for unit in units {
        unit.answer(committed.is_ok());
    }
}

fn run_group(conn: &mut Connection, units: &mut [Box<dyn Unit>]) -> sql::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for unit in units.iter_mut() {
        tx.execute_command("SAVEPOINT unit")?;
        if !unit.run(&tx) {
            tx.execute_command("ROLLBACK TO unit")?;
        }
        tx.execute_command("RELEASE unit")?;
        if tx.is_autocommit() {
            // SQLite gave up the whole transaction (after an I/O error, a full disk, …):
            // what the earlier units wrote is gone too.
            return Err(sql::Error::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("the group's transaction was rolled back".to_owned()),
            )));
        }
    }
    // Durable when this returns (`synchronous = FULL`); no unit is answered before.
    tx.commit()
}

/// A queued unit of work with its answer.
trait Unit: Send {
    /// Runs the work inside the group's transaction; `false` if it failed (its writes
    /// are then rolled back to its savepoint).
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Answers the waiting request once the group's commit is over.
    fn answer(self: Box<Self>, committed: bool);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Unit for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| work(tx))).unwrap_or_else(|panic| {
            tracing::error!(panic = panic_text(&*panic), "a queued write panicked");
            Err(ApiError::Internal(anyhow::anyhow!(
                "a queued write panicked"
            )))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: bool) {
        let answer = match self.result {
            // Failed on its own: rolled back whether or not the group committed.
            Some(Err(e)) => Err(e),
            Some(Ok(value)) if committed => Ok(value),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "the group commit failed"
            ))),
        };
        // The request may have gone away meanwhile; its writes stand (as a request
        // abandoned after its transaction committed always did).
        let _ = self.reply.send(answer);
    }
}
