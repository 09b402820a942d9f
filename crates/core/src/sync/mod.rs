//! The sync engine: push the outbox, then pull the change feed, for every entity.
//!
//! Decisions are pure ([`plan`], [`crate::sync_state::next_state`],
//! [`crate::merge::decide`]); this module does the I/O around them, generically over
//! [`SyncEntity`]. The database lock is never held across a network call, and each push
//! result and each pulled page is applied in one transaction.
//!
//! A change feed that answers 410 `cursor_expired` starts a full resync: the cursor is
//! dropped, a new generation begins, every row the feed shows is marked with it, and
//! when the feed is drained the synced rows it did not show (deleted on the server
//! beyond its tombstone horizon) are swept. Rows with local changes are never touched.
//! The generation is stored, so a crash half-way resumes the same resync.

pub mod plan;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ChangeSet, ChangesResponse, EntityKind, ErrorBody, MutationResult, Outcome, PushRequest,
    MAX_PUSH_BATCH,
};
use rusqlite::{params, Connection};
use uuid::Uuid;

use crate::db::{meta, Db};
use crate::entity::{
    self, from_object, to_object, ConflictStrategy, SyncEntity, SyncRow, UuidText,
};
use crate::error::{CoreError, Result};
use crate::merge::{self, Decision};
use crate::model::SyncReport;
use crate::outbox::{self, EntryOp, OutboxEntry};
use crate::repo::custom_events::CustomEvent;
use crate::repo::heroes::Hero;
use crate::repo::profile::Profile;
use crate::repo::stories::Story;
use crate::repo::{self, illustrations, Ctx};
use crate::sync_state::{
    next_state, ConflictResolution, OutboxEffect, PendingOp, RowEffect, SyncEvent, SyncState,
};
use crate::transport::{Transport, TransportError, TransportResult};
use crate::{clock::Clock, rng::Rng};

use plan::{plan_pull, push_ready, LocalMeta, PullAction, RetryPolicy};

/// Rows per change-feed page: the largest the server serves, so that an initial sync
/// takes as few round trips (and transactions) as possible.
pub const PULL_PAGE: u32 = is_protocol::MAX_CHANGES_LIMIT;
/// Push rounds per run: each round sends at most one entry per row.
const MAX_PUSH_ROUNDS: usize = 50;

/// Runs `$body` with `$E` bound to the [`SyncEntity`] of `$kind`; `$other` for kinds
/// that are not pushed by the client (illustrations).
macro_rules! with_entity {
    ($kind:expr, $E:ident => $body:expr, else => $other:expr) => {
        match $kind {
            EntityKind::Hero => {
                type $E = Hero;
                $body
            }
            EntityKind::Story => {
                type $E = Story;
                $body
            }
            EntityKind::CustomEvent => {
                type $E = CustomEvent;
                $body
            }
            EntityKind::UserProfile => {
                type $E = Profile;
                $body
            }
            EntityKind::Illustration => $other,
        }
    };
}
pub(crate) use with_entity;

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

/// What `next_batch` does with one outbox head.
enum Prepared {
    Send,
    Wait,
    /// The row is gone: nothing is owed for it.
    Drop,
}

/// The current full-resync generation.
pub fn generation(conn: &Connection) -> Result<i64> {
    Ok(meta::get(conn, meta::GENERATION)?
        .and_then(|g| g.parse().ok())
        .unwrap_or(0))
}

/// The conflict strategy in force for an entity (Settings, else its default).
pub fn strategy<E: SyncEntity>(conn: &Connection) -> Result<ConflictStrategy> {
    let key = format!("{}{}", meta::STRATEGY_PREFIX, E::KIND.as_str());
    Ok(meta::get(conn, &key)?
        .and_then(|s| ConflictStrategy::parse(&s))
        .unwrap_or(E::STRATEGY))
}

impl SyncEngine {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            clock: &*self.clock,
            rng: &*self.rng,
            max_attempts: self.policy.max_attempts,
        }
    }

    /// One full run: push everything due, then pull until the feed is drained.
    pub async fn run(&self, token: &str) -> Result<SyncReport, RunError> {
        let mut report = SyncReport {
            started_at: self.clock.now(),
            ..Default::default()
        };
        self.push(token, &mut report).await?;
        self.pull(token, &mut report).await?;
        report.finished_at = self.clock.now();
        self.db
            .write(|tx| meta::set(tx, meta::LAST_SYNC_AT, &report.finished_at.to_rfc3339()))?;
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
                mutations: batch
                    .iter()
                    .map(OutboxEntry::to_mutation)
                    .collect::<Result<_>>()?,
            };
            report.pushed += batch.len() as u32;
            match self.transport.push(token, &request).await {
                Ok(resp) => {
                    self.db
                        .write(|tx| self.apply_results(tx, &batch, &resp.results, report))?;
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

    /// The oldest entry of every row that may go now, frozen for sending. One entry per
    /// row, so that a row's mutations reach the server in order; across rows, in the
    /// order they were made, except that an entry waits while a row it refers to has an
    /// unconfirmed create.
    fn next_batch(&self, tx: &Connection) -> Result<Vec<OutboxEntry>> {
        let now = self.clock.now();
        let mut batch = Vec::new();
        for mut entry in outbox::heads(tx, usize::MAX >> 1)? {
            if batch.len() == MAX_PUSH_BATCH {
                break;
            }
            let prepared = with_entity!(entry.entity, E => self.prepare::<E>(tx, &mut entry, now)?, else => Prepared::Drop);
            match prepared {
                Prepared::Send => batch.push(entry),
                Prepared::Wait => {}
                Prepared::Drop => outbox::drop_all(tx, entry.entity, entry.entity_id)?,
            }
        }
        Ok(batch)
    }

    fn prepare<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &mut OutboxEntry,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let Some(row) = entity::load::<E>(tx, entry.entity_id)? else {
            return Ok(Prepared::Drop);
        };
        let due = row.next_attempt_at.is_none_or_past(now);
        let mut waiting = false;
        if matches!(entry.op, EntryOp::Create | EntryOp::Update) {
            for (kind, id) in E::dependencies(&entry.payload) {
                waiting |= outbox::has_pending_create(tx, kind, id)?;
            }
        }
        if !push_ready(
            row.state,
            entry.op,
            due,
            row.base_version.is_some(),
            waiting,
        ) {
            return Ok(Prepared::Wait);
        }
        if !entry.sent {
            let base = match entry.op {
                EntryOp::Create | EntryOp::Increment => None,
                EntryOp::Update | EntryOp::Delete => Some(row.base_version.ok_or_else(|| {
                    CoreError::Corrupt(format!(
                        "{} {}: {} without a server version",
                        E::LABEL,
                        row.id,
                        entry.op.as_str()
                    ))
                })?),
            };
            outbox::freeze(tx, entry.seq, base)?;
            entry.sent = true;
            entry.base_version = base;
        }
        Ok(Prepared::Send)
    }

    fn record_failure(
        &self,
        tx: &Connection,
        batch: &[OutboxEntry],
        err: &TransportError,
    ) -> Result<()> {
        for entry in batch {
            with_entity!(entry.entity, E => self.fail_one::<E>(tx, entry, err)?, else => {});
        }
        Ok(())
    }

    fn fail_one<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        err: &TransportError,
    ) -> Result<()> {
        let now = self.clock.now();
        let Some(mut row) = entity::load::<E>(tx, entry.entity_id)? else {
            return Ok(());
        };
        let attempts = row.attempts.saturating_add(1);
        let delay = self
            .policy
            .delay(attempts, self.rng.next_f64(), err.retry_after());
        let retry_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
        if entry.op == EntryOp::Increment {
            // Increments are retried until they land; they change no row state.
            row.attempts = attempts;
            row.next_attempt_at = Some(retry_at);
            return entity::save(tx, &row);
        }
        let gave_up = attempts >= self.policy.max_attempts;
        let Ok(t) = next_state(row.state, SyncEvent::PushFailed { gave_up }) else {
            return Ok(());
        };
        row.state = t.state;
        row.attempts = attempts;
        row.sync_error = Some(err.to_string());
        row.next_attempt_at = (!gave_up).then_some(retry_at);
        entity::save(tx, &row)
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
            with_entity!(
                entry.entity,
                E => self.apply_result::<E>(tx, entry, result.outcome.resolved(), report)?,
                else => outbox::drop_all(tx, entry.entity, entry.entity_id)?
            );
        }
        Ok(())
    }

    fn apply_result<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        outcome: &Outcome,
        report: &mut SyncReport,
    ) -> Result<()> {
        let wrong = |what: &str| {
            TransportError::Protocol(format!(
                "the server answered a {} mutation with {what}",
                E::LABEL
            ))
        };
        match outcome {
            Outcome::Applied { record } => match E::from_wire(record) {
                Some(rec) if entry.op == EntryOp::Increment => {
                    report.applied += 1;
                    self.on_increment_applied::<E>(tx, entry, rec)
                }
                Some(rec) => {
                    report.applied += 1;
                    self.on_applied::<E>(tx, entry, rec)
                }
                None => {
                    report.failed += 1;
                    self.record_failure(
                        tx,
                        std::slice::from_ref(entry),
                        &wrong("another entity's row"),
                    )
                }
            },
            Outcome::Conflict { current } => match E::from_wire(current) {
                Some(rec) => {
                    report.conflicts += 1;
                    self.on_conflict::<E>(tx, entry, rec)
                }
                None => {
                    report.failed += 1;
                    self.record_failure(
                        tx,
                        std::slice::from_ref(entry),
                        &wrong("another entity's row"),
                    )
                }
            },
            Outcome::Rejected { error } => {
                let already_gone = entry.op == EntryOp::Delete && error.code == codes::NOT_FOUND;
                if already_gone {
                    report.applied += 1;
                    entity::remove::<E>(tx, entry.entity_id)?;
                    outbox::drop_all(tx, entry.entity, entry.entity_id)
                } else {
                    report.rejected += 1;
                    self.on_rejected::<E>(tx, entry, error)
                }
            }
            Outcome::Duplicate { .. } => unreachable!("resolved() never returns Duplicate"),
        }
    }

    /// Saves a row the server just showed us (marked seen in the current generation).
    fn save_synced<E: SyncEntity>(&self, tx: &Connection, row: &mut SyncRow<E>) -> Result<()> {
        row.seen_gen = generation(tx)?;
        entity::save(tx, row)
    }

    fn on_applied<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        rec: &E::Record,
    ) -> Result<()> {
        let now = self.clock.now();
        let Some(mut row) = entity::load::<E>(tx, entry.entity_id)? else {
            outbox::remove(tx, entry.seq)?;
            return Ok(());
        };
        let entries = outbox::entries_for(tx, entry.entity, entry.entity_id)?;
        // Increments never change the row's state: the next *edit* decides it.
        let next = entries
            .iter()
            .filter(|e| e.seq != entry.seq)
            .find_map(|e| e.op.pending_op());
        let t = match next_state(row.state, SyncEvent::PushApplied { next }) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%e, "push result for a row that changed state meanwhile");
                outbox::remove(tx, entry.seq)?;
                return Ok(());
            }
        };
        let meta = E::record_meta(rec);
        if t.row == RowEffect::Remove || meta.deleted {
            entity::remove::<E>(tx, row.id)?;
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        }
        outbox::remove(tx, entry.seq)?;
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
            Some(newer) if E::record_meta(&newer).version > meta.version => {
                let gen = generation(tx)?;
                self.apply_remote(tx, &mut row, &newer, gen)
            }
            _ => self.save_synced(tx, &mut row),
        }
    }

    /// An increment landed. The row's state is untouched; the confirmed amount moves
    /// from "pending" into the server's count. If the server row moved by exactly our
    /// increment, the copy our pending edit builds on moves with it, so that the
    /// increment never makes that edit conflict.
    fn on_increment_applied<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        rec: &E::Record,
    ) -> Result<()> {
        let now = self.clock.now();
        outbox::remove(tx, entry.seq)?;
        let Some(mut row) = entity::load::<E>(tx, entry.entity_id)? else {
            return Ok(());
        };
        row.pending_increment = (row.pending_increment - entry.increment_total()).max(0);
        let meta = E::record_meta(rec);
        let gen = generation(tx)?;
        if meta.deleted {
            return self.apply_remote(tx, &mut row, rec, gen);
        }
        let known = row.known_version();
        if row.state == SyncState::Synced {
            row.attempts = 0;
            row.next_attempt_at = None;
            if known.is_none_or_below(meta.version) {
                row.take_server(rec, now);
            }
        } else if known.is_some_and(|k| meta.version == k + 1) {
            if row.server_snapshot.is_some() {
                row.server_snapshot = Some(rec.clone());
                row.server = E::record_parts(rec).1;
            } else {
                row.mark_base(rec, now);
            }
        } else if known.is_none_or_below(meta.version) {
            // Someone else wrote too: remember the copy; the pending edit settles it.
            row.server_snapshot = Some(rec.clone());
            row.server = E::record_parts(rec).1;
        }
        self.save_synced(tx, &mut row)
    }

    fn on_conflict<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        server: &E::Record,
    ) -> Result<()> {
        let now = self.clock.now();
        let Some(mut row) = entity::load::<E>(tx, entry.entity_id)? else {
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        };
        if entry.op == EntryOp::Increment {
            // Counters never conflict; a server that says so is treated as having
            // applied nothing: the increment goes again.
            tracing::warn!(id = %row.id, "the server answered an increment with a conflict");
            return Ok(());
        }
        let SyncState::Pending(op) = row.state else {
            return Ok(());
        };
        let smeta = E::record_meta(server);
        let local = row.as_record();
        if smeta.deleted {
            // A tombstone wins: the server has no row left to change. The local version
            // is kept in the history, to restore as a new row if wanted.
            if op != PendingOp::Delete {
                repo::record_conflict::<E>(tx, &local, server, "server_deleted", now)?;
            }
            entity::remove::<E>(tx, row.id)?;
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        }
        let strategy = strategy::<E>(tx)?;
        let base = row
            .base_record()
            .map(|b| to_object(&E::record_parts(&b).0))
            .transpose()?;
        let mine = to_object(&row.fields)?;
        let theirs = to_object(&E::record_parts(server).0)?;
        let local_newer = row.updated_at >= smeta.updated_at;
        let valid = |m: &serde_json::Map<String, serde_json::Value>| {
            from_object::<E::Input>(m.clone()).is_ok_and(|i| E::validate(&i).is_ok())
        };
        let res = merge::decide(
            strategy,
            E::MERGE_FIELDS,
            E::PROMPT_FALLBACK,
            op,
            base.as_ref(),
            &mine,
            &theirs,
            local_newer,
            valid,
        );
        let label = strategy.as_str();
        match res.decision {
            Decision::TakeServer => {
                let Ok(_) = next_state(
                    row.state,
                    SyncEvent::PushConflict(ConflictResolution::TakeServer),
                ) else {
                    return Ok(());
                };
                if res.local_lost {
                    repo::record_conflict::<E>(tx, &local, server, label, now)?;
                }
                outbox::drop_edits(tx, entry.entity, entry.entity_id)?;
                row.take_server(server, now);
                self.save_synced(tx, &mut row)
            }
            Decision::KeepLocal(fields) => {
                let Ok(t) = next_state(
                    row.state,
                    SyncEvent::PushConflict(ConflictResolution::KeepLocal),
                ) else {
                    return Ok(());
                };
                if res.server_lost {
                    repo::record_conflict::<E>(tx, &local, server, label, now)?;
                }
                row.state = t.state;
                if op != PendingOp::Delete {
                    row.fields = from_object(fields)?;
                }
                row.attempts = 0;
                row.next_attempt_at = None;
                row.sync_error = None;
                let patch = repo::rebase(&mut row, server, now);
                match (t.state.op(), patch) {
                    (Some(PendingOp::Delete), _) => outbox::reissue(
                        tx,
                        self.ctx().new_id(),
                        entry.entity,
                        row.id,
                        PendingOp::Delete,
                        None,
                        now,
                    )?,
                    (Some(op), Some(patch)) => outbox::reissue(
                        tx,
                        self.ctx().new_id(),
                        entry.entity,
                        row.id,
                        op,
                        Some(patch),
                        now,
                    )?,
                    _ => {
                        outbox::drop_edits(tx, entry.entity, entry.entity_id)?;
                        row.take_server(server, now);
                    }
                }
                self.save_synced(tx, &mut row)
            }
            Decision::Prompt => {
                let Ok(t) = next_state(
                    row.state,
                    SyncEvent::PushConflict(ConflictResolution::Prompt),
                ) else {
                    return Ok(());
                };
                row.state = t.state;
                row.server_snapshot = Some(server.clone());
                row.server = E::record_parts(server).1;
                row.next_attempt_at = None;
                row.sync_error = Some(
                    "Changed here and on another device: choose which version to keep".to_owned(),
                );
                entity::save(tx, &row)?;
                if let Some(op) = t.state.op() {
                    outbox::reissue(tx, self.ctx().new_id(), entry.entity, row.id, op, None, now)?;
                }
                Ok(())
            }
        }
    }

    fn on_rejected<E: SyncEntity>(
        &self,
        tx: &Connection,
        entry: &OutboxEntry,
        error: &ErrorBody,
    ) -> Result<()> {
        let Some(mut row) = entity::load::<E>(tx, entry.entity_id)? else {
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        };
        if entry.op == EntryOp::Increment {
            // The server has no such row (or refuses the amount): the plays are dropped.
            tracing::warn!(id = %row.id, code = %error.code, "an increment was refused");
            outbox::remove(tx, entry.seq)?;
            row.pending_increment = (row.pending_increment - entry.increment_total()).max(0);
            return entity::save(tx, &row);
        }
        let Ok(t) = next_state(row.state, SyncEvent::PushRejected) else {
            return Ok(());
        };
        row.state = t.state;
        row.sync_error = Some(rejection_message(error));
        row.next_attempt_at = None;
        entity::save(tx, &row)?;
        if let (OutboxEffect::Reissue, Some(op)) = (t.outbox, t.state.op()) {
            // The re-issued change carries the row as it is now.
            let payload = match op {
                PendingOp::Create => Some(serde_json::to_value(&row.fields)?),
                PendingOp::Update => row
                    .base_record()
                    .map(|b| E::diff(&E::record_parts(&b).0, &row.fields))
                    .filter(|(_, fields)| !fields.is_empty())
                    .map(|(patch, _)| patch),
                PendingOp::Delete => None,
            };
            outbox::reissue(
                tx,
                self.ctx().new_id(),
                entry.entity,
                entry.entity_id,
                op,
                payload,
                self.clock.now(),
            )?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Pull

    pub async fn pull(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        let (mut cursor, mut resync) = self.db.read(|c| {
            Ok((
                meta::get(c, meta::CURSOR)?,
                meta::get(c, meta::RESYNC)?.is_some(),
            ))
        })?;
        let mut restarted = false;
        let mut prefetched: Option<tokio::task::JoinHandle<TransportResult<ChangesResponse>>> =
            None;
        loop {
            let page = match prefetched.take() {
                Some(next) => next
                    .await
                    .map_err(|e| TransportError::Protocol(format!("the page fetch failed: {e}")))?,
                None => {
                    self.transport
                        .changes(token, cursor.as_deref(), PULL_PAGE)
                        .await
                }
            };
            let page = match page {
                Ok(page) => page,
                Err(e) if e.status() == Some(410) && !restarted => {
                    // The cursor is older than the server's tombstone horizon.
                    tracing::info!("the change feed expired our cursor: full resync");
                    self.db.write(begin_resync)?;
                    (cursor, resync, restarted) = (None, true, true);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if page.has_more {
                // Fetch the next page while this one is applied.
                let (transport, token, next) = (
                    self.transport.clone(),
                    token.to_owned(),
                    page.next_cursor.clone(),
                );
                prefetched = Some(tokio::spawn(async move {
                    transport.changes(&token, Some(&next), PULL_PAGE).await
                }));
            }
            report.pulled += page.changes.len() as u32;
            self.db.write(|tx| {
                let gen = generation(tx)?;
                self.apply_page(tx, &page.changes, gen, resync)?;
                // The cursor moves only with the page it covers.
                meta::set(tx, meta::CURSOR, &page.next_cursor)?;
                if resync && !page.has_more {
                    sweep(tx, gen)?;
                    meta::delete(tx, meta::RESYNC)?;
                }
                Ok(())
            })?;
            if !page.has_more {
                return Ok(());
            }
            cursor = Some(page.next_cursor);
        }
    }

    /// Applies one page of the change feed (inside the page's transaction).
    pub fn apply_page(
        &self,
        tx: &Connection,
        changes: &ChangeSet,
        gen: i64,
        resync: bool,
    ) -> Result<()> {
        self.pull_records::<Hero>(tx, &changes.heroes, gen, resync)?;
        self.pull_records::<CustomEvent>(tx, &changes.custom_events, gen, resync)?;
        self.pull_records::<Story>(tx, &changes.stories, gen, resync)?;
        for rec in &changes.illustrations {
            illustrations::apply(tx, rec, gen, resync)?;
        }
        if let Some(profile) = &changes.profile {
            self.pull_records::<Profile>(tx, std::slice::from_ref(profile), gen, resync)?;
        }
        Ok(())
    }

    fn pull_records<E: SyncEntity>(
        &self,
        tx: &Connection,
        recs: &[E::Record],
        gen: i64,
        resync: bool,
    ) -> Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        // One lookup for the whole page: on an initial sync it finds nothing.
        let ids: Vec<Uuid> = recs.iter().map(|r| E::record_meta(r).id).collect();
        let existing = entity::load_metas::<E>(tx, &ids)?;
        for rec in recs {
            let m = E::record_meta(rec);
            // A page holds each row once; rows it inserted are not in `existing`.
            let stored = existing.get(&m.id).copied();
            let local = stored.map(|s| LocalMeta {
                state: s.state,
                base_version: s.base_version,
                remembered_version: s.remembered_version,
            });
            match plan_pull(local, m.version, m.deleted, resync) {
                PullAction::Insert => entity::save(tx, &SyncRow::<E>::from_server(rec, now, gen))?,
                PullAction::Skip => {
                    if resync && stored.is_some() {
                        entity::mark_seen::<E>(tx, m.id, gen)?;
                    }
                }
                PullAction::Overwrite | PullAction::Remove { .. } | PullAction::Remember => {
                    if let Some(mut row) = entity::load::<E>(tx, m.id)? {
                        self.apply_remote(tx, &mut row, rec, gen)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A newer server version arrived for an existing row.
    pub fn apply_remote<E: SyncEntity>(
        &self,
        tx: &Connection,
        row: &mut SyncRow<E>,
        rec: &E::Record,
        gen: i64,
    ) -> Result<()> {
        let deleted = E::record_meta(rec).deleted;
        let event = if deleted {
            SyncEvent::RemoteDeleted
        } else {
            SyncEvent::RemoteChanged
        };
        let t = next_state(row.state, event).map_err(CoreError::from)?;
        row.seen_gen = gen;
        match t.row {
            RowEffect::Remove | RowEffect::TakeServer if deleted => {
                entity::remove::<E>(tx, row.id)?;
                outbox::drop_all(tx, E::KIND, row.id)
            }
            RowEffect::Remove => {
                entity::remove::<E>(tx, row.id)?;
                outbox::drop_all(tx, E::KIND, row.id)
            }
            RowEffect::TakeServer => {
                row.take_server(rec, self.clock.now());
                entity::save(tx, row)
            }
            _ => {
                // Local changes stay; the server's copy is remembered for the push, and
                // its server-written fields (media, counters) show at once.
                if t.outbox == OutboxEffect::DropAll {
                    outbox::drop_edits(tx, E::KIND, row.id)?;
                }
                row.server_snapshot = Some(rec.clone());
                if !deleted {
                    row.server = E::record_parts(rec).1;
                }
                entity::save(tx, row)
            }
        }
    }

    /// Stores a row fetched directly from the server (a REST read, a generated story)
    /// as a pull would.
    pub fn store_fetched<E: SyncEntity>(&self, tx: &Connection, rec: &E::Record) -> Result<()> {
        let gen = generation(tx)?;
        self.pull_records::<E>(tx, std::slice::from_ref(rec), gen, false)
    }
}

/// Starts a full resync: forget the cursor and open a new generation.
fn begin_resync(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let gen = generation(tx)? + 1;
    meta::set(tx, meta::GENERATION, &gen.to_string())?;
    meta::set(tx, meta::RESYNC, "1")?;
    meta::delete(tx, meta::CURSOR)
}

/// Ends a full resync: synced rows the feed did not show in generation `gen` were
/// deleted on the server. Rows with local changes are kept whatever happened.
fn sweep(tx: &Connection, gen: i64) -> Result<()> {
    sweep_entity::<Hero>(tx, gen)?;
    sweep_entity::<CustomEvent>(tx, gen)?;
    sweep_entity::<Story>(tx, gen)?;
    tx.prepare_cached("DELETE FROM story_illustrations WHERE seen_gen < ?1")?
        .execute([gen])?;
    Ok(())
}

fn sweep_entity<E: SyncEntity>(tx: &Connection, gen: i64) -> Result<()> {
    let ids: Vec<String> = tx
        .prepare_cached(&format!(
            "SELECT id FROM {} WHERE sync_status = 'synced' AND seen_gen < ?1",
            E::TABLE
        ))?
        .query_map([gen], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if !ids.is_empty() {
        tracing::info!(
            entity = E::LABEL,
            count = ids.len(),
            "full resync removed rows deleted on the server"
        );
    }
    for id in ids {
        let id: Uuid = id
            .parse()
            .map_err(|_| CoreError::Corrupt(format!("{} {id}: bad id", E::LABEL)))?;
        entity::remove::<E>(tx, id)?;
        outbox::drop_all(tx, E::KIND, id)?;
    }
    Ok(())
}

fn rejection_message(error: &ErrorBody) -> String {
    let fields: Vec<String> = error
        .details
        .as_ref()
        .and_then(|d| d.get("fields"))
        .and_then(|f| f.as_array())
        .map(|fs| {
            fs.iter()
                .filter_map(|f| {
                    Some(format!(
                        "{}: {}",
                        f.get("field")?.as_str()?,
                        f.get("message")?.as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if fields.is_empty() {
        format!("The server refused this change: {}", error.message)
    } else {
        format!("The server refused this change: {}", fields.join("; "))
    }
}

/// Conflicts recorded for one row, newest first.
pub fn conflict_history(
    conn: &Connection,
    kind: Option<EntityKind>,
    id: Uuid,
) -> Result<Vec<crate::model::ConflictRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, entity, detected_at, resolution, local_json, server_json FROM conflict_history
         WHERE entity_id = ?1 AND (?2 IS NULL OR entity = ?2) ORDER BY id DESC",
    )?;
    let rows = stmt.query_map(
        params![UuidText::new(id), kind.map(EntityKind::as_str)],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    rows.map(|r| {
        let (hid, entity, at, resolution, local, server) = r?;
        let bad = |what: &str| CoreError::Corrupt(format!("conflict history {hid}: bad {what}"));
        Ok(crate::model::ConflictRecord {
            id: hid,
            entity: EntityKind::parse(&entity).ok_or_else(|| bad("entity"))?,
            entity_id: id,
            detected_at: at.parse().map_err(|_| bad("timestamp"))?,
            resolution,
            local: serde_json::from_str(&local)?,
            server: serde_json::from_str(&server)?,
        })
    })
    .collect()
}

/// Small helpers for optional times and versions.
trait OptionExt<T> {
    fn is_none_or_past(&self, now: T) -> bool;
    fn is_none_or_below(&self, v: T) -> bool;
}

impl<T: PartialOrd + Copy> OptionExt<T> for Option<T> {
    /// No time set, or it has come.
    fn is_none_or_past(&self, now: T) -> bool {
        match self {
            None => true,
            Some(t) => *t <= now,
        }
    }
    /// Nothing known, or what is known is older than `v`.
    fn is_none_or_below(&self, v: T) -> bool {
        match self {
            None => true,
            Some(k) => *k < v,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use chrono::TimeZone;
    use is_protocol::{
        ChangeSet, ErrorBody, GenerationStatus, Health, HeroInput, HeroRecord, HeroTrait,
        IllustrationRecord, Language, LoginRequest, PushResponse, SessionResponse, SignupRequest,
        StoryRecord,
    };

    use super::*;
    use crate::clock::ManualClock;
    use crate::db;
    use crate::rng::SplitMix64;
    use crate::transport::BoxFuture;

    /// A change feed that answers from a script, checking the cursor it is asked for.
    struct Script(Mutex<VecDeque<(Option<&'static str>, TransportResult<ChangesResponse>)>>);

    impl Transport for Script {
        fn base_url(&self) -> &str {
            "script://"
        }
        fn health(&self) -> BoxFuture<'_, TransportResult<Health>> {
            unreachable!()
        }
        fn signup<'a>(
            &'a self,
            _: &'a SignupRequest,
        ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
            unreachable!()
        }
        fn login<'a>(
            &'a self,
            _: &'a LoginRequest,
        ) -> BoxFuture<'a, TransportResult<SessionResponse>> {
            unreachable!()
        }
        fn logout<'a>(&'a self, _: &'a str) -> BoxFuture<'a, TransportResult<()>> {
            unreachable!()
        }
        fn push<'a>(
            &'a self,
            _: &'a str,
            _: &'a PushRequest,
        ) -> BoxFuture<'a, TransportResult<PushResponse>> {
            Box::pin(async { Ok(PushResponse { results: vec![] }) })
        }
        fn changes<'a>(
            &'a self,
            _: &'a str,
            cursor: Option<&'a str>,
            _: u32,
        ) -> BoxFuture<'a, TransportResult<ChangesResponse>> {
            let (want, answer) = self
                .0
                .lock()
                .unwrap()
                .pop_front()
                .expect("an unscripted request");
            assert_eq!(cursor, want, "the feed was asked from the wrong cursor");
            Box::pin(async move { answer })
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
    }

    fn hero(n: u128, version: i64, name: &str) -> HeroRecord {
        HeroRecord {
            id: Uuid::from_u128(n),
            version,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            name: name.into(),
            age: 5,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            avatar_url: None,
            avatar_generation_id: None,
        }
    }

    fn story(n: u128, version: i64) -> StoryRecord {
        StoryRecord {
            id: Uuid::from_u128(n),
            version,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            hero_id: None,
            title: format!("Story {n}"),
            content: "Text".into(),
            language: Language::En,
            event_type: Some(is_protocol::EventType::Bedtime),
            custom_event_id: None,
            is_favorite: false,
            play_count: 0,
            last_played_at: None,
            audio_url: None,
            audio_duration: None,
        }
    }

    fn illustration(n: u128, story: u128) -> IllustrationRecord {
        IllustrationRecord {
            id: Uuid::from_u128(n),
            version: 1,
            created_at: t0(),
            updated_at: t0(),
            deleted: false,
            story_id: Uuid::from_u128(story),
            image_url: Some("/api/media/x.png".into()),
            prompt: "An owl".into(),
            timestamp: 1.5,
            display_order: 0,
            generation_status: GenerationStatus::Ready,
        }
    }

    fn page(changes: ChangeSet, next: &str, has_more: bool) -> TransportResult<ChangesResponse> {
        Ok(ChangesResponse {
            changes,
            next_cursor: next.into(),
            has_more,
        })
    }

    fn engine(script: Vec<(Option<&'static str>, TransportResult<ChangesResponse>)>) -> SyncEngine {
        SyncEngine {
            db: Arc::new(Db::new(db::open_in_memory().unwrap())),
            transport: Arc::new(Script(Mutex::new(script.into()))),
            clock: Arc::new(ManualClock::new(t0())),
            rng: Arc::new(SplitMix64::new(5)),
            policy: RetryPolicy::default(),
        }
    }

    fn ids<E: SyncEntity>(e: &SyncEngine) -> Vec<u128> {
        let rows =
            e.db.read(|c| entity::load_where::<E>(c, "1", "id", []))
                .unwrap();
        rows.iter().map(|r| r.id.as_u128()).collect()
    }

    #[tokio::test]
    async fn a_410_resync_sweeps_what_the_server_no_longer_has_and_survives_a_crash() {
        let gone = TransportError::Http {
            status: 410,
            body: ErrorBody::new(codes::CURSOR_EXPIRED, "expired"),
            retry_after: None,
        };
        let e = engine(vec![
            (Some("c5"), Err(gone)),
            (
                None,
                page(
                    ChangeSet {
                        heroes: vec![hero(1, 2, "A2")],
                        ..Default::default()
                    },
                    "p1",
                    true,
                ),
            ),
            // The connection drops half-way (the app could as well have crashed here).
            (Some("p1"), Err(TransportError::Unreachable("gone".into()))),
            (
                Some("p1"),
                page(
                    ChangeSet {
                        heroes: vec![hero(3, 1, "C")],
                        stories: vec![story(10, 1)],
                        illustrations: vec![illustration(20, 10)],
                        ..Default::default()
                    },
                    "p2",
                    false,
                ),
            ),
        ]);
        let ctx_clock = ManualClock::new(t0());
        let rng = SplitMix64::new(9);
        let ctx = Ctx {
            clock: &ctx_clock,
            rng: &rng,
            max_attempts: 3,
        };
        e.db.write(|tx| {
            let now = t0();
            for rec in [hero(1, 1, "A"), hero(2, 1, "B"), hero(3, 1, "C")] {
                entity::save(tx, &SyncRow::<Hero>::from_server(&rec, now, 0))?;
            }
            for rec in [story(10, 1), story(11, 1)] {
                entity::save(tx, &SyncRow::<Story>::from_server(&rec, now, 0))?;
            }
            illustrations::apply(tx, &illustration(20, 10), 0, false)?;
            illustrations::apply(tx, &illustration(21, 11), 0, false)?;
            // Local work the resync must not touch: an edit and a new row.
            let edit = HeroInput {
                name: "C edited".into(),
                ..hero(3, 1, "C").input()
            };
            repo::update::<Hero>(tx, &ctx, Uuid::from_u128(3), edit)?;
            repo::create::<Hero>(
                tx,
                &ctx,
                HeroInput {
                    name: "New".into(),
                    ..hero(9, 1, "x").input()
                },
            )?;
            meta::set(tx, meta::CURSOR, "c5")
        })
        .unwrap();
        let new_id = ids::<Hero>(&e).into_iter().find(|id| *id > 1000).unwrap();

        let mut report = SyncReport::default();
        let err = e.pull("token", &mut report).await.unwrap_err();
        assert!(
            matches!(err, RunError::Transport(TransportError::Unreachable(_))),
            "{err:?}"
        );
        // Half-way: the first page is in, nothing is swept yet, and the resync is on record.
        assert_eq!(
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(1)))
                .unwrap()
                .unwrap()
                .fields
                .name,
            "A2"
        );
        assert_eq!(ids::<Hero>(&e).len(), 4);
        assert_eq!(
            e.db.read(|c| meta::get(c, meta::CURSOR))
                .unwrap()
                .as_deref(),
            Some("p1")
        );
        assert!(e.db.read(|c| meta::get(c, meta::RESYNC)).unwrap().is_some());
        assert_eq!(e.db.read(generation).unwrap(), 1);

        // Resumed from the saved cursor (not from the start), then swept.
        e.pull("token", &mut report).await.unwrap();
        let mut heroes = ids::<Hero>(&e);
        heroes.sort();
        assert_eq!(
            heroes,
            [1, 3, new_id],
            "B was deleted on the server; the new row and the edit stay"
        );
        let c =
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(3)))
                .unwrap()
                .unwrap();
        assert_eq!(
            (c.fields.name.as_str(), c.state),
            ("C edited", SyncState::Pending(PendingOp::Update))
        );
        assert_eq!(ids::<Story>(&e), [10]);
        let pics =
            e.db.read(|c| illustrations::list_for_story(c, Uuid::from_u128(10)))
                .unwrap();
        assert_eq!(pics.len(), 1);
        assert!(e
            .db
            .read(|c| illustrations::list_for_story(c, Uuid::from_u128(11)))
            .unwrap()
            .is_empty());
        assert!(e.db.read(|c| meta::get(c, meta::RESYNC)).unwrap().is_none());
        assert_eq!(
            e.db.read(|c| meta::get(c, meta::CURSOR))
                .unwrap()
                .as_deref(),
            Some("p2")
        );
        assert_eq!(
            e.db.read(crate::outbox::len).unwrap(),
            2,
            "the pending changes still wait to be pushed"
        );
    }

    #[tokio::test]
    async fn a_page_never_overwrites_local_changes_and_remembers_the_server_copy() {
        let e = engine(vec![(
            None,
            page(
                ChangeSet {
                    heroes: vec![hero(1, 5, "Server")],
                    ..Default::default()
                },
                "p1",
                false,
            ),
        )]);
        let (clock, rng) = (ManualClock::new(t0()), SplitMix64::new(1));
        let ctx = Ctx {
            clock: &clock,
            rng: &rng,
            max_attempts: 3,
        };
        e.db.write(|tx| {
            entity::save(tx, &SyncRow::<Hero>::from_server(&hero(1, 4, "A"), t0(), 0))?;
            repo::update::<Hero>(
                tx,
                &ctx,
                Uuid::from_u128(1),
                HeroInput {
                    name: "Mine".into(),
                    ..hero(1, 4, "A").input()
                },
            )
            .map(drop)
        })
        .unwrap();
        e.pull("token", &mut SyncReport::default()).await.unwrap();
        let row =
            e.db.read(|c| entity::load::<Hero>(c, Uuid::from_u128(1)))
                .unwrap()
                .unwrap();
        assert_eq!(row.fields.name, "Mine");
        assert_eq!((row.base_version, row.known_version()), (Some(4), Some(5)));
        assert_eq!(
            row.base_snapshot.unwrap().name,
            "A",
            "the merge base is kept"
        );
    }
}
