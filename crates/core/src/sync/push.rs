//! Push: the outbox in batches across entities, one mutation per row at a time, and
//! what each per-mutation answer does to its row (applied, duplicate, conflict by the
//! entity's strategy, rejected), each applied in its own transaction.

use is_protocol::entity::Merge;
use is_protocol::{codes, ErrorBody, Input, MutationResult, Outcome, PushRequest, MAX_PUSH_BATCH};
use rusqlite::Connection;

use crate::diagnostics::{self, NewNotice, NoticeReason};
use crate::entity::store::{self as entity};
use crate::entity::{from_object, to_object, ConflictStrategy, SyncEntity, SyncRow};
use crate::error::{CoreError, Result};
use crate::merge::{self, Decision};
use crate::outbox::{self, EntryOp, OutboxEntry};

use crate::repo::{self};
use crate::sync::state::{
    next_state, ConflictResolution, OutboxEffect, PendingOp, RowEffect, SyncEvent, SyncState,
};
use crate::transport::TransportError;

use super::plan::{classify_failure, push_ready, Failure};
use super::{generation, strategy, with_entity, OptionExt, RunError, SyncEngine, SyncReport};

/// Push rounds per run: each round sends at most one entry per row.
const MAX_PUSH_ROUNDS: usize = 50;
/// A push body stays under this many bytes (the server accepts `MAX_BODY_BYTES`).
const PUSH_BODY_BUDGET: usize = is_protocol::MAX_BODY_BYTES / 2;
/// The envelope of one mutation beside its payload (ids, kind, op, base version).
const MUTATION_OVERHEAD: usize = 160;

/// What `next_batch` does with one outbox head.
enum Prepared {
    Send,
    Wait,
    /// The row is gone: nothing is owed for it.
    Drop,
}

impl SyncEngine {
    pub async fn push(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        for _ in 0..MAX_PUSH_ROUNDS {
            self.check_cancel()?;
            let batch = self.db.write(|tx| self.next_batch(tx, report))?;
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
                    // Every row of the batch changes: applied, failed or in conflict.
                    batch.iter().for_each(|entry| report.touched(entry.entity));
                    self.db
                        .write(|tx| self.apply_results(tx, &batch, &resp.results, report))?;
                }
                Err(e) if e.status() == Some(401) => return Err(RunError::Unauthorized),
                Err(e) => {
                    report.failed += batch.len() as u32;
                    if classify_failure(&e) == Failure::ServerError {
                        batch.iter().for_each(|entry| report.touched(entry.entity));
                        self.db.write(|tx| self.record_failure(tx, &batch, &e))?;
                    }
                    // An outage or a throttle says nothing about the changes: they stay
                    // pending, attempts untouched, and go with the next run.
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
    fn next_batch(&self, tx: &Connection, report: &mut SyncReport) -> Result<Vec<OutboxEntry>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for head in outbox::heads(tx, usize::MAX >> 1)? {
            if batch.len() == MAX_PUSH_BATCH {
                break;
            }
            let mut entry = match head {
                Ok(entry) => entry,
                Err(unreadable) => {
                    if let Some((kind, _)) = unreadable.row {
                        report.touched(kind);
                    }
                    self.quarantine(tx, &unreadable)?;
                    continue;
                }
            };
            let prepared = with_entity!(entry.entity, E => self.prepare::<E>(tx, &mut entry)?, else => Prepared::Drop);
            match prepared {
                Prepared::Send => {
                    // Stay well inside the server's body limit, whatever the rows hold.
                    let size = entry.payload.to_string().len() + MUTATION_OVERHEAD;
                    if !batch.is_empty() && bytes + size > PUSH_BODY_BUDGET {
                        break;
                    }
                    bytes += size;
                    batch.push(entry);
                }
                Prepared::Wait => {}
                Prepared::Drop => {
                    report.touched(entry.entity);
                    outbox::drop_all(tx, entry.entity, entry.entity_id)?
                }
            }
        }
        Ok(batch)
    }

    /// An outbox entry that cannot be read is never sent: its row is shown failed, with
    /// the reason and Discard, and the rest of the outbox goes on.
    fn quarantine(&self, tx: &Connection, unreadable: &outbox::Unreadable) -> Result<()> {
        tracing::error!(seq = unreadable.seq, reason = %unreadable.reason, "unreadable outbox entry");
        let Some((kind, id)) = unreadable.row else {
            return Ok(());
        };
        with_entity!(kind, E => {
            let Some(mut row) = entity::load::<E>(tx, id)? else { return Ok(()) };
            if let SyncState::Pending(op) = row.state {
                row.state = SyncState::Failed(op);
                row.sync_error = Some(format!(
                    "This change could not be read back from the disk ({}). Discard it to go on.",
                    unreadable.reason
                ));
                row.next_attempt_at = None;
                entity::save(tx, &row)?;
            }
            Ok(())
        }, else => Ok(()))
    }

    fn prepare<E: SyncEntity>(&self, tx: &Connection, entry: &mut OutboxEntry) -> Result<Prepared> {
        let Some(row) = entity::load::<E>(tx, entry.entity_id)? else {
            return Ok(Prepared::Drop);
        };
        let mut waiting = false;
        if matches!(entry.op, EntryOp::Create | EntryOp::Update) {
            for (kind, id) in E::dependencies(&entry.payload) {
                waiting |= outbox::has_pending_create(tx, kind, id)?;
            }
        }
        if !push_ready(row.state, entry.op, row.base_version.is_some(), waiting) {
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

    /// A server error (not an outage): each change spends an attempt.
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
            Outcome::Rejected { error } if error.code == codes::NOT_FOUND => match entry.op {
                EntryOp::Delete => {
                    // Already gone: what the delete wanted.
                    report.applied += 1;
                    entity::remove::<E>(tx, entry.entity_id)?;
                    outbox::drop_all(tx, entry.entity, entry.entity_id)
                }
                // The row was deleted on the server (its tombstone already pruned).
                EntryOp::Update | EntryOp::Increment => {
                    report.conflicts += 1;
                    self.on_gone::<E>(tx, entry)
                }
                EntryOp::Create => {
                    report.rejected += 1;
                    self.on_rejected::<E>(tx, entry, error)
                }
            },
            Outcome::Rejected { error } => {
                report.rejected += 1;
                self.on_rejected::<E>(tx, entry, error)
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
                row.server = E::record_server(rec);
            } else {
                row.mark_base(rec, now);
            }
        } else if known.is_none_or_below(meta.version) {
            // Someone else wrote too: remember the copy; the pending edit settles it.
            row.server_snapshot = Some(rec.clone());
            row.server = E::record_server(rec);
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
                let history =
                    repo::record_conflict::<E>(tx, &local, server, "server_deleted", now)?;
                let edited = row.changed_fields.to_vec();
                self.notify::<E>(tx, &row, NoticeReason::DeletedElsewhere, edited, history)?;
            }
            entity::remove::<E>(tx, row.id)?;
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        }
        let strategy = strategy::<E>(tx)?;
        let base = row
            .base_record()
            .map(|b| to_object(&E::record_input(&b)))
            .transpose()?;
        let mine = to_object(&row.fields)?;
        let theirs = to_object(&E::record_input(server))?;
        // Heroes merge with the server winning a field both sides changed (SPEC.md 2).
        let local_newer = row.updated_at >= smeta.updated_at
            && !(strategy == ConflictStrategy::Merge && E::SERVER_WINS_BOTH_CHANGED);
        let valid = |m: &serde_json::Map<String, serde_json::Value>| {
            from_object::<E::Input>(m.clone()).is_ok_and(|i| i.validate().is_ok())
        };
        let res = merge::decide(
            strategy,
            <E::Input as Input>::FIELDS,
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
                    let history = repo::record_conflict::<E>(tx, &local, server, label, now)?;
                    let lost = lost_fields::<E>(base.as_ref(), &mine, &theirs);
                    self.notify::<E>(tx, &row, NoticeReason::Dropped, lost, history)?;
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
                if res.server_lost || res.local_lost {
                    let history = repo::record_conflict::<E>(tx, &local, server, label, now)?;
                    if res.local_lost {
                        let lost = lost_fields::<E>(base.as_ref(), &mine, &fields);
                        self.notify::<E>(tx, &row, NoticeReason::Replaced, lost, history)?;
                    }
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
                row.server = E::record_server(server);
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

    /// Tells the user that sync overrode their edit of `row` (SPEC.md 7): a notice in
    /// the same transaction, announced after it commits.
    fn notify<E: SyncEntity>(
        &self,
        tx: &Connection,
        row: &SyncRow<E>,
        reason: NoticeReason,
        fields: Vec<String>,
        history_id: i64,
    ) -> Result<()> {
        let notice = diagnostics::add_notice(
            tx,
            &NewNotice {
                entity: E::KIND,
                entity_id: row.id,
                title: E::title(&row.fields),
                reason,
                fields,
                history_id: Some(history_id),
            },
            self.clock.now(),
        )?;
        self.notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
        Ok(())
    }

    /// The server no longer has the row (deleted elsewhere, its tombstone pruned): as a
    /// conflict with a tombstone, the local edit goes to the history with a notice
    /// offering to restore it, and the row goes.
    fn on_gone<E: SyncEntity>(&self, tx: &Connection, entry: &OutboxEntry) -> Result<()> {
        let Some(row) = entity::load::<E>(tx, entry.entity_id)? else {
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        };
        if row.state.needs_sync() && row.state.op() != Some(PendingOp::Delete) {
            let local = row.as_record();
            // The server's side is a tombstone of the last copy we knew.
            let last_known = row
                .server_snapshot
                .clone()
                .or_else(|| row.base_record())
                .unwrap_or_else(|| local.clone());
            let mut meta = E::record_meta(&last_known);
            meta.deleted = true;
            let tombstone = E::into_record(
                meta,
                E::record_input(&last_known),
                E::record_server(&last_known),
            );
            let now = self.clock.now();
            let history =
                repo::record_conflict::<E>(tx, &local, &tombstone, "server_deleted", now)?;
            let edited = row.changed_fields.to_vec();
            self.notify::<E>(tx, &row, NoticeReason::DeletedElsewhere, edited, history)?;
        }
        entity::remove::<E>(tx, row.id)?;
        outbox::drop_all(tx, entry.entity, entry.entity_id)
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
        if entry.op == EntryOp::Create && row.state == SyncState::Pending(PendingOp::Delete) {
            // A refused create of a row the user has deleted since: it never existed on
            // the server, and nothing is owed for it.
            entity::remove::<E>(tx, row.id)?;
            return outbox::drop_all(tx, entry.entity, entry.entity_id);
        }
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
        // Refused, not given up: the attempts spent on earlier server errors no longer
        // matter (and Sync now does not send it again).
        row.attempts = 0;
        entity::save(tx, &row)?;
        if let (OutboxEffect::Reissue, Some(op)) = (t.outbox, t.state.op()) {
            // The re-issued change carries the row as it is now.
            let payload = match op {
                PendingOp::Create => Some(serde_json::to_value(&row.fields)?),
                PendingOp::Update => row
                    .base_record()
                    .map(|b| crate::entity::diff::<E>(&E::record_input(&b), &row.fields))
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
}

/// The user's changed fields (against `base`) that do not survive in `result`. Counters
/// and sets combine both sides, so they lose nothing.
fn lost_fields<E: SyncEntity>(
    base: Option<&serde_json::Map<String, serde_json::Value>>,
    mine: &serde_json::Map<String, serde_json::Value>,
    result: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    <E::Input as Input>::FIELDS
        .iter()
        .filter(|f| !matches!(f.merge, Merge::Counter | Merge::Set))
        .filter(|f| base.is_none_or(|b| b.get(f.name) != mine.get(f.name)))
        .filter(|f| result.get(f.name) != mine.get(f.name))
        .map(|f| f.name.to_owned())
        .collect()
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
