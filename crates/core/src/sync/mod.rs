//! The sync engine: push the outbox, then pull the change feed.
//!
//! Decisions are pure ([`plan`], [`crate::sync_state::next_state`]); this module does the
//! I/O around them. The database lock is never held across a network call, and each
//! push result and each pulled page is applied in one transaction.

pub mod plan;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ErrorBody, HeroRecord, MutationResult, Outcome, PushRequest, Record, MAX_PUSH_BATCH,
};
use rusqlite::{params, Connection};
use uuid::Uuid;

use crate::db::{meta, Db};
use crate::error::{CoreError, Result};
use crate::model::SyncReport;
use crate::outbox::{self, OutboxEntry};
use crate::repo::heroes::{self, HeroRow};
use crate::repo::Ctx;
use crate::sync_state::{next_state, ConflictResolution, OutboxEffect, PendingOp, RowEffect, SyncEvent, SyncState};
use crate::transport::{Transport, TransportError};
use crate::{clock::Clock, rng::Rng};

use plan::{plan_pull, LocalMeta, PullAction, RetryPolicy};

/// Rows per change-feed page.
pub const PULL_PAGE: u32 = 500;
/// Push rounds per run: each round sends at most one entry per row.
const MAX_PUSH_ROUNDS: usize = 50;

pub struct SyncEngine {
    pub db: Arc<Db>,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub policy: RetryPolicy,
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    /// The server refused the session (401): pause until the user signs in again.
    Unauthorized,
    Transport(TransportError),
    Core(CoreError),
}

impl From<CoreError> for RunError {
    fn from(e: CoreError) -> Self {
        RunError::Core(e)
    }
}

impl From<TransportError> for RunError {
    fn from(e: TransportError) -> Self {
        if e.status() == Some(401) {
            RunError::Unauthorized
        } else {
            RunError::Transport(e)
        }
    }
}

impl SyncEngine {
    fn ctx(&self) -> Ctx<'_> {
        Ctx { clock: &*self.clock, rng: &*self.rng, max_attempts: self.policy.max_attempts }
    }

    /// One full run: push everything due, then pull until the feed is drained.
    pub async fn run(&self, token: &str) -> Result<SyncReport, RunError> {
        let mut report = SyncReport { started_at: self.clock.now(), ..Default::default() };
        self.push(token, &mut report).await?;
        self.pull(token, &mut report).await?;
        report.finished_at = self.clock.now();
        self.db.write(|tx| meta::set(tx, meta::LAST_SYNC_AT, &report.finished_at.to_rfc3339()))?;
        Ok(report)
    }

    // -----------------------------------------------------------------------------------
    // Push

    pub async fn push(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        for _ in 0..MAX_PUSH_ROUNDS {
            let batch = self.db.write(|tx| self.next_batch(tx))?;
            if batch.is_empty() {
                return Ok(());
            }
            let request = PushRequest {
                mutations: batch.iter().map(OutboxEntry::to_mutation).collect::<Result<_>>()?,
            };
            report.pushed += batch.len() as u32;
            match self.transport.push(token, &request).await {
                Ok(resp) => {
                    self.db.write(|tx| self.apply_results(tx, &batch, &resp.results, report))?;
                }
                Err(e) if e.status() == Some(401) => return Err(RunError::Unauthorized),
                Err(e) => {
                    report.failed += batch.len() as u32;
                    self.db.write(|tx| self.record_failure(tx, &batch, &e))?;
                    return Err(RunError::Transport(e));
                }
            }
        }
        Ok(())
    }

    /// The oldest entry of every row that is due, frozen for sending.
    fn next_batch(&self, tx: &Connection) -> Result<Vec<OutboxEntry>> {
        let now = self.clock.now();
        let mut batch = Vec::new();
        for mut entry in outbox::heads(tx, usize::MAX >> 1)? {
            if batch.len() == MAX_PUSH_BATCH {
                break;
            }
            let Some(row) = heroes::load(tx, entry.entity_id)? else {
                // The row is gone (removed by a pull); nothing is owed for it.
                outbox::drop_all(tx, entry.entity, entry.entity_id)?;
                continue;
            };
            if !row.state.is_pushable() || row.next_attempt_at.is_some_and(|t| t > now) {
                continue;
            }
            if !entry.sent {
                let base = match entry.op {
                    PendingOp::Create => None,
                    PendingOp::Update | PendingOp::Delete => Some(row.base_version.ok_or_else(|| {
                        CoreError::Corrupt(format!("hero {}: {} without a server version", row.id, entry.op.as_str()))
                    })?),
                };
                outbox::freeze(tx, entry.seq, base)?;
                entry.sent = true;
                entry.base_version = base;
            }
            batch.push(entry);
        }
        Ok(batch)
    }

    fn record_failure(&self, tx: &Connection, batch: &[OutboxEntry], err: &TransportError) -> Result<()> {
        let now = self.clock.now();
        for entry in batch {
            let Some(mut row) = heroes::load(tx, entry.entity_id)? else { continue };
            let attempts = row.attempts.saturating_add(1);
            let gave_up = attempts >= self.policy.max_attempts;
            let Ok(t) = next_state(row.state, SyncEvent::PushFailed { gave_up }) else { continue };
            let delay = self.policy.delay(attempts, self.rng.next_f64(), err.retry_after());
            row.state = t.state;
            row.attempts = attempts;
            row.sync_error = Some(err.to_string());
            row.next_attempt_at = (!gave_up).then(|| now + chrono::Duration::from_std(delay).unwrap_or_default());
            heroes::save(tx, &row)?;
        }
        Ok(())
    }

    fn apply_results(
        &self,
        tx: &Connection,
        batch: &[OutboxEntry],
        results: &[MutationResult],
        report: &mut SyncReport,
    ) -> Result<()> {
        let missing = TransportError::Protocol("the server left a mutation unanswered".into());
        for entry in batch {
            let Some(result) = results.iter().find(|r| r.mutation_id == entry.mutation_id) else {
                report.failed += 1;
                self.record_failure(tx, std::slice::from_ref(entry), &missing)?;
                continue;
            };
            match result.outcome.resolved() {
                Outcome::Applied { record: Record::Hero(rec) } => {
                    report.applied += 1;
                    self.on_applied(tx, entry, rec)?;
                }
                Outcome::Conflict { current: Record::Hero(rec) } => {
                    report.conflicts += 1;
                    self.on_conflict(tx, entry, rec)?;
                }
                Outcome::Rejected { error } => {
                    let already_gone = entry.op == PendingOp::Delete && error.code == codes::NOT_FOUND;
                    if already_gone {
                        report.applied += 1;
                        heroes::remove(tx, entry.entity_id)?;
                        outbox::drop_all(tx, entry.entity, entry.entity_id)?;
                    } else {
                        report.rejected += 1;
                        self.on_rejected(tx, entry, error)?;
                    }
                }
                Outcome::Duplicate { .. } => unreachable!("resolved() never returns Duplicate"),
                // This client only pushes heroes; a record of another kind is not an answer
                // to its mutation.
                Outcome::Applied { .. } | Outcome::Conflict { .. } => {
                    report.failed += 1;
                    let odd = TransportError::Protocol("the server answered with a record of another kind".into());
                    self.record_failure(tx, std::slice::from_ref(entry), &odd)?;
                }
            }
        }
        Ok(())
    }

    fn on_applied(&self, tx: &Connection, entry: &OutboxEntry, rec: &HeroRecord) -> Result<()> {
        let now = self.clock.now();
        let Some(mut row) = heroes::load(tx, entry.entity_id)? else {
            outbox::remove(tx, entry.seq)?;
            return Ok(());
        };
        let entries = outbox::entries_for(tx, entry.entity, entry.entity_id)?;
        let next = entries.iter().find(|e| e.seq != entry.seq).map(|e| e.op);
        let t = match next_state(row.state, SyncEvent::PushApplied { next }) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%e, "push result for a row that changed state meanwhile");
                outbox::remove(tx, entry.seq)?;
                return Ok(());
            }
        };
        match t.outbox {
            OutboxEffect::DropAll => outbox::drop_all(tx, entry.entity, entry.entity_id)?,
            _ => outbox::remove(tx, entry.seq)?,
        }
        if t.row == RowEffect::Remove || rec.deleted {
            heroes::remove(tx, row.id)?;
            return Ok(());
        }
        let remembered = row.server_snapshot.take();
        if t.state == SyncState::Synced {
            // Nothing else pending: converge exactly to what the server stored.
            row.take_server(rec, now);
        } else {
            row.state = t.state;
            row.mark_base(rec, now);
            row.attempts = 0;
            row.sync_error = None;
            row.next_attempt_at = None;
        }
        // A newer server version seen by a pull while this push was on its way.
        match remembered {
            Some(newer) if newer.version > rec.version => self.apply_remote(tx, &mut row, &newer),
            _ => heroes::save(tx, &row),
        }
    }

    fn on_conflict(&self, tx: &Connection, entry: &OutboxEntry, server: &HeroRecord) -> Result<()> {
        let now = self.clock.now();
        let Some(mut row) = heroes::load(tx, entry.entity_id)? else {
            outbox::drop_all(tx, entry.entity, entry.entity_id)?;
            return Ok(());
        };
        // Heroes: serverWins (SPEC.md section 2). The local version is kept in the history.
        let Ok(t) = next_state(row.state, SyncEvent::PushConflict(ConflictResolution::TakeServer)) else {
            return Ok(());
        };
        record_conflict(tx, "hero", &row.as_record(), server, "server_wins", now)?;
        if t.outbox == OutboxEffect::DropAll {
            outbox::drop_all(tx, entry.entity, entry.entity_id)?;
        }
        if server.deleted {
            heroes::remove(tx, row.id)
        } else {
            row.take_server(server, now);
            heroes::save(tx, &row)
        }
    }

    fn on_rejected(&self, tx: &Connection, entry: &OutboxEntry, error: &ErrorBody) -> Result<()> {
        let Some(mut row) = heroes::load(tx, entry.entity_id)? else {
            outbox::drop_all(tx, entry.entity, entry.entity_id)?;
            return Ok(());
        };
        let Ok(t) = next_state(row.state, SyncEvent::PushRejected) else { return Ok(()) };
        row.state = t.state;
        row.sync_error = Some(rejection_message(error));
        row.next_attempt_at = None;
        heroes::save(tx, &row)?;
        if let (OutboxEffect::Reissue, Some(op)) = (t.outbox, t.state.op()) {
            outbox::reissue(tx, self.ctx().new_id(), entry.entity, entry.entity_id, op, self.clock.now())?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Pull

    pub async fn pull(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        loop {
            let cursor = self.db.read(|c| meta::get(c, meta::CURSOR))?;
            let page = self.transport.changes(token, cursor.as_deref(), PULL_PAGE).await?;
            report.pulled += page.changes.len() as u32;
            self.db.write(|tx| {
                for rec in &page.changes.heroes {
                    self.pull_one(tx, rec)?;
                }
                // The cursor moves only with the page it covers.
                meta::set(tx, meta::CURSOR, &page.next_cursor)
            })?;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    fn pull_one(&self, tx: &Connection, rec: &HeroRecord) -> Result<()> {
        let mut local = heroes::load(tx, rec.id)?;
        let meta = local.as_ref().map(|row| LocalMeta {
            state: row.state,
            base_version: row.base_version,
            remembered_version: row.server_snapshot.as_ref().map(|s| s.version),
        });
        match (plan_pull(meta, rec.version, rec.deleted), local.as_mut()) {
            (PullAction::Insert, _) => heroes::save(tx, &HeroRow::from_server(rec, self.clock.now())),
            (PullAction::Skip, _) => Ok(()),
            (_, Some(row)) => self.apply_remote(tx, row, rec),
            (_, None) => Ok(()),
        }
    }

    /// A newer server version arrived for an existing row.
    fn apply_remote(&self, tx: &Connection, row: &mut HeroRow, rec: &HeroRecord) -> Result<()> {
        let event = if rec.deleted { SyncEvent::RemoteDeleted } else { SyncEvent::RemoteChanged };
        let t = next_state(row.state, event).map_err(CoreError::from)?;
        if t.outbox == OutboxEffect::DropAll {
            outbox::drop_all(tx, is_protocol::EntityKind::Hero, row.id)?;
        }
        match t.row {
            RowEffect::Remove => heroes::remove(tx, row.id),
            RowEffect::TakeServer if rec.deleted => heroes::remove(tx, row.id),
            RowEffect::TakeServer => {
                row.take_server(rec, self.clock.now());
                heroes::save(tx, row)
            }
            _ => {
                row.server_snapshot = Some(rec.clone());
                heroes::save(tx, row)
            }
        }
    }
}

fn rejection_message(error: &ErrorBody) -> String {
    let fields: Vec<String> = error
        .details
        .as_ref()
        .and_then(|d| d.get("fields"))
        .and_then(|f| f.as_array())
        .map(|fs| {
            fs.iter()
                .filter_map(|f| Some(format!("{}: {}", f.get("field")?.as_str()?, f.get("message")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    if fields.is_empty() {
        format!("The server refused this change: {}", error.message)
    } else {
        format!("The server refused this change: {}", fields.join("; "))
    }
}

pub fn record_conflict(
    tx: &Connection,
    entity: &str,
    local: &HeroRecord,
    server: &HeroRecord,
    resolution: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO conflict_history (entity, entity_id, detected_at, resolution, local_json, server_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        entity,
        local.id.to_string(),
        now.to_rfc3339(),
        resolution,
        serde_json::to_string(local)?,
        serde_json::to_string(server)?
    ])?;
    Ok(())
}

/// Conflicts recorded for one row, newest first: (detected_at, resolution, local, server).
pub fn conflict_history(conn: &Connection, id: Uuid) -> Result<Vec<(DateTime<Utc>, String, HeroRecord, HeroRecord)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT detected_at, resolution, local_json, server_json FROM conflict_history
         WHERE entity_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map(params![id.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
    })?;
    rows.map(|r| {
        let (at, res, local, server) = r?;
        Ok((
            at.parse().map_err(|_| CoreError::Corrupt("conflict history: bad timestamp".into()))?,
            res,
            serde_json::from_str(&local)?,
            serde_json::from_str(&server)?,
        ))
    })
    .collect()
}
