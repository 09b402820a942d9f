//! Repositories: local reads and optimistic writes.
//!
//! The writes are generic over [`SyncEntity`]: a create, edit, delete, retry, discard,
//! counter increment or conflict resolution writes the row and its outbox entry in the
//! caller's transaction, as [`next_state`] decides. The entity modules add their views,
//! list queries and the few rules of their own.

pub mod custom_events;
#[cfg(test)]
mod fixture;
pub mod heroes;
pub mod illustrations;
pub mod profile;
pub mod stories;
pub mod usage;

use chrono::{DateTime, Utc};
use is_protocol::EntityKind;
use rusqlite::Connection;
use serde_json::Value;
use uuid::Uuid;

use is_protocol::{CustomEvent, Entity, Hero, Input, Profile, Story};

use crate::clock::Clock;
use crate::entity::store as entity;
use crate::entity::{counter_name, Favorite, SyncEntity, SyncRow};
use crate::error::{CoreError, Result};
use crate::outbox;
use crate::rng::{new_id, Rng};
use crate::sync::state::{
    next_state, OutboxEffect, PendingOp, RowEffect, SyncEvent, SyncState, Transition,
};

/// What a repository write needs besides the connection: injected time and randomness.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Rng,
    /// Transient push failures before a row is given up (failed, waiting for the user).
    pub max_attempts: u32,
}

impl Ctx<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn new_id(&self) -> Uuid {
        new_id(self.clock, self.rng)
    }
}

/// A row as the user sees it: hidden while its delete is pending.
pub fn get_visible<E: SyncEntity>(conn: &Connection, id: Uuid) -> Result<SyncRow<E>> {
    let row = entity::load_existing::<E>(conn, id)?;
    if row.state == SyncState::Pending(PendingOp::Delete) {
        return Err(CoreError::NotFound {
            entity: E::LABEL,
            id: id.to_string(),
        });
    }
    Ok(row)
}

fn validated<E: SyncEntity>(
    conn: &Connection,
    old: Option<&E::Input>,
    input: E::Input,
) -> Result<E::Input> {
    let input = input.normalized();
    let mut errors = input.validate().err().unwrap_or_default();
    if errors.is_empty() {
        errors = E::validate_local(conn, old, &input)?;
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(CoreError::Validation(errors))
    }
}

pub fn create<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    input: E::Input,
) -> Result<SyncRow<E>> {
    create_with_id(tx, ctx, ctx.new_id(), input)
}

pub fn create_with_id<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    input: E::Input,
) -> Result<SyncRow<E>> {
    let input = validated::<E>(tx, None, input)?;
    if entity::load::<E>(tx, id)?.is_some() {
        return Err(CoreError::Corrupt(format!(
            "{} {id} exists already",
            E::LABEL
        )));
    }
    let now = ctx.now();
    let row = SyncRow::<E>::new_local(id, input, now);
    entity::save(tx, &row)?;
    outbox::record_create(
        tx,
        ctx.new_id(),
        E::KIND,
        id,
        &serde_json::to_value(&row.fields)?,
        now,
    )?;
    Ok(row)
}

/// Saves the full form: only the fields that differ become the pending change.
pub fn update<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    input: E::Input,
) -> Result<SyncRow<E>> {
    let mut row = entity::load_existing::<E>(tx, id)?;
    let input = E::complete_edit(tx, &row.fields, input)?.normalized();
    let (patch, fields) = crate::entity::diff::<E>(&row.fields, &input);
    if fields.is_empty() {
        return Ok(row);
    }
    let input = validated::<E>(tx, Some(&row.fields), input)?;
    let t = next_state(row.state, SyncEvent::LocalEdit)?;
    row.begin_local_change();
    row.fields = input;
    row.add_changed(&fields);
    row.updated_at = ctx.now();
    apply_local(tx, ctx, &mut row, t, Some(patch))?;
    Ok(row)
}

/// Deletes the row; returns the transition (its `row` effect is `Remove` when the row
/// never reached the server and vanished without a server call).
pub fn delete<E: SyncEntity>(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<Transition> {
    let mut row = entity::load_existing::<E>(tx, id)?;
    let on_server = row.base_version.is_some() || outbox::create_in_flight(tx, E::KIND, id)?;
    let t = next_state(row.state, SyncEvent::LocalDelete { on_server })?;
    row.begin_local_change();
    apply_local(tx, ctx, &mut row, t, None)?;
    Ok(t)
}

pub fn retry<E: SyncEntity>(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<SyncRow<E>> {
    let mut row = entity::load_existing::<E>(tx, id)?;
    let t = next_state(row.state, SyncEvent::Retry)?;
    apply_local(tx, ctx, &mut row, t, None)?;
    Ok(row)
}

pub fn discard<E: SyncEntity>(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
    let mut row = entity::load_existing::<E>(tx, id)?;
    let on_server = row.base_version.is_some() || outbox::create_in_flight(tx, E::KIND, id)?;
    let t = next_state(row.state, SyncEvent::Discard { on_server })?;
    apply_local(tx, ctx, &mut row, t, None)
}

/// Marks the row a favourite or not: an edit of its flag.
pub fn set_favorite<E: Favorite>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    favorite: bool,
) -> Result<SyncRow<E>> {
    let mut input = get_visible::<E>(tx, id)?.fields;
    *E::favorite(&mut input) = favorite;
    update::<E>(tx, ctx, id, input)
}

/// Adds `amount` to the entity's counter: shown at once, sent as an increment, never a
/// conflict and never a change of the row's sync state.
pub fn increment<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    amount: i64,
) -> Result<SyncRow<E>> {
    let Some(counter) = counter_name::<E>() else {
        return Err(CoreError::Corrupt(format!("{} has no counter", E::LABEL)));
    };
    let mut row = get_visible::<E>(tx, id)?;
    let now = ctx.now();
    row.pending_increment += amount;
    E::on_local_increment(&mut row.server, now);
    entity::save(tx, &row)?;
    outbox::record_increment(tx, ctx.new_id(), E::KIND, id, counter, amount, now)?;
    Ok(row)
}

/// How the user settles a conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice<I> {
    KeepMine,
    UseServer,
    /// The merged version the user put together (field by field).
    Merged(I),
}

/// Settles a row in `conflict`. The version that loses goes to the conflict history.
pub fn resolve<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    choice: Choice<E::Input>,
) -> Result<()> {
    let mut row = entity::load_existing::<E>(tx, id)?;
    let keep_local = !matches!(choice, Choice::UseServer);
    let t = next_state(row.state, SyncEvent::Resolve { keep_local })?;
    let server = row.server_snapshot.clone().or_else(|| row.base_record());
    let now = ctx.now();
    let local = row.as_record();
    match choice {
        Choice::UseServer => {
            if let Some(server) = &server {
                record_conflict::<E>(tx, &local, server, "user_chose_server", now)?;
            }
        }
        Choice::KeepMine => {
            if let Some(server) = &server {
                record_conflict::<E>(tx, &local, server, "user_chose_local", now)?;
            }
        }
        Choice::Merged(input) => {
            let input = validated::<E>(tx, Some(&row.fields), input)?;
            if let Some(server) = &server {
                record_conflict::<E>(tx, &local, server, "user_merged", now)?;
            }
            row.fields = input;
            row.updated_at = now;
        }
    }
    apply_local(tx, ctx, &mut row, t, None)
}

/// Keeps the local fields on top of the server's newest copy (remembered, else the
/// base): the base moves to it and the pending change becomes what still differs.
/// Returns the rebased patch (`None` when nothing differs any more).
pub fn rebase<E: SyncEntity>(
    row: &mut SyncRow<E>,
    server: &E::Record,
    now: DateTime<Utc>,
) -> Option<Value> {
    row.mark_base(server, now);
    row.server_snapshot = None;
    let server_input = E::record_input(server);
    let (patch, fields) = crate::entity::diff::<E>(&server_input, &row.fields);
    row.changed_fields = fields.iter().map(|f| (*f).to_owned()).collect();
    (!fields.is_empty()).then_some(patch)
}

/// Applies a transition caused by the user.
pub fn apply_local<E: SyncEntity>(
    tx: &Connection,
    ctx: &Ctx<'_>,
    row: &mut SyncRow<E>,
    t: Transition,
    patch: Option<Value>,
) -> Result<()> {
    let now = ctx.now();
    row.state = t.state;
    if t.reset_attempts {
        row.attempts = 0;
        row.next_attempt_at = None;
        row.sync_error = None;
    }
    let mut rebased = None;
    match t.row {
        RowEffect::Remove => entity::remove::<E>(tx, row.id)?,
        // Back to the newest server copy known (a pull may have remembered one newer
        // than the base); a row the server never had, or has deleted, goes.
        RowEffect::RevertToBase => {
            match row.server_snapshot.clone().or_else(|| row.base_record()) {
                Some(rec) if !E::record_meta(&rec).deleted => {
                    row.take_server(&rec, now);
                    entity::save(tx, row)?;
                }
                _ => entity::remove::<E>(tx, row.id)?,
            }
        }
        RowEffect::TakeServer => match row.server_snapshot.clone().or_else(|| row.base_record()) {
            Some(rec) if E::record_meta(&rec).deleted => entity::remove::<E>(tx, row.id)?,
            Some(rec) => {
                row.take_server(&rec, now);
                entity::save(tx, row)?;
            }
            None => {
                return Err(CoreError::Corrupt(format!(
                    "{} {}: no server copy",
                    E::LABEL,
                    row.id
                )))
            }
        },
        RowEffect::Rebase => {
            let server = row.server_snapshot.clone().or_else(|| row.base_record());
            if let Some(server) = server {
                rebased = Some(rebase(row, &server, now));
            }
            entity::save(tx, row)?;
        }
        RowEffect::Keep | RowEffect::RememberServer => entity::save(tx, row)?,
    }
    match t.outbox {
        OutboxEffect::Record(PendingOp::Update) => {
            let patch = patch.unwrap_or_else(|| serde_json::json!({}));
            outbox::record_update(tx, ctx.new_id(), E::KIND, row.id, &patch, now)?;
        }
        OutboxEffect::Record(PendingOp::Delete) => {
            outbox::record_delete(tx, ctx.new_id(), E::KIND, row.id, now)?
        }
        OutboxEffect::Record(PendingOp::Create) => outbox::record_create(
            tx,
            ctx.new_id(),
            E::KIND,
            row.id,
            &serde_json::to_value(&row.fields)?,
            now,
        )?,
        OutboxEffect::DropAll if t.row == RowEffect::Remove => {
            outbox::drop_all(tx, E::KIND, row.id)?
        }
        OutboxEffect::DropAll => outbox::drop_edits(tx, E::KIND, row.id)?,
        OutboxEffect::Reissue => {
            if let Some(op) = t.state.op() {
                let payload = match rebased {
                    Some(Some(patch)) => Some(patch),
                    Some(None) if op == PendingOp::Update => {
                        // Kept "mine", but mine equals the server's now: nothing to send.
                        let rec = row.base_record();
                        outbox::drop_edits(tx, E::KIND, row.id)?;
                        if let Some(rec) = rec {
                            row.take_server(&rec, now);
                            entity::save(tx, row)?;
                        }
                        return Ok(());
                    }
                    _ => None,
                };
                outbox::reissue(tx, ctx.new_id(), E::KIND, row.id, op, payload, now)?;
            }
        }
        OutboxEffect::None | OutboxEffect::Hold | OutboxEffect::PopHead => {}
    }
    Ok(())
}

/// Keeps a version that lost a conflict (SPEC.md section 7: never destroyed silently).
pub fn record_conflict<E: SyncEntity>(
    tx: &Connection,
    local: &E::Record,
    server: &E::Record,
    resolution: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO conflict_history (entity, entity_id, detected_at, resolution, local_json, server_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![
        E::KIND.as_str(),
        E::record_meta(local).id.to_string(),
        now.to_rfc3339(),
        resolution,
        serde_json::to_string(local)?,
        serde_json::to_string(server)?
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The synced tables (the ones with sync metadata and an outbox).
pub const SYNCED_TABLES: &[&str] = &[
    Hero::TABLE,
    Story::TABLE,
    CustomEvent::TABLE,
    Profile::TABLE,
];

/// Counts of rows by badge over every entity, for the sync indicator.
pub fn counts(conn: &Connection) -> Result<(u32, u32, u32)> {
    let mut total = (0, 0, 0);
    for table in SYNCED_TABLES {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT
                COALESCE(SUM(sync_status IN ('pending_create', 'pending_update', 'pending_delete')), 0),
                COALESCE(SUM(sync_status = 'failed'), 0),
                COALESCE(SUM(sync_status = 'conflict'), 0)
             FROM {table} WHERE sync_status <> 'synced'"
        ))?;
        let (p, f, c) = stmt.query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        total.0 += p as u32;
        total.1 += f as u32;
        total.2 += c as u32;
    }
    // Rows with only unconfirmed counter increments are synced but still owe the server.
    let increments: i64 = conn.query_row(
        "SELECT COUNT(DISTINCT entity || entity_id) FROM outbox WHERE op = 'increment'",
        [],
        |r| r.get(0),
    )?;
    total.0 += increments as u32;
    Ok(total)
}

/// The earliest retry time of `table`'s rows that wait for one (read along `<table>_retry`).
fn retry_sql(table: &str) -> String {
    format!(
        "SELECT MIN(next_attempt_at) FROM {table}
         WHERE next_attempt_at IS NOT NULL AND (sync_status LIKE 'pending_%' OR pending_increment > 0)"
    )
}

/// The earliest time a row waits for before its next push attempt.
pub fn next_retry_at(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let mut earliest: Option<DateTime<Utc>> = None;
    for table in SYNCED_TABLES {
        let t: Option<String> = conn.query_row(&retry_sql(table), [], |r| r.get(0))?;
        if let Some(t) = t.and_then(|t| t.parse::<DateTime<Utc>>().ok()) {
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
    }
    Ok(earliest)
}

/// Rows with counter increments (plays) the server has not confirmed yet.
pub fn pending_increments(conn: &Connection) -> Result<u32> {
    let mut n = 0;
    for table in SYNCED_TABLES {
        n += conn.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE pending_increment > 0 AND sync_status = 'synced'"),
            [],
            |r| r.get::<_, u32>(0),
        )?;
    }
    Ok(n)
}

/// The local table of a synced entity (`None` for the server-only illustrations).
pub fn synced_table(kind: EntityKind) -> Option<&'static str> {
    Some(match kind {
        EntityKind::Hero => Hero::TABLE,
        EntityKind::Story => Story::TABLE,
        EntityKind::CustomEvent => CustomEvent::TABLE,
        EntityKind::UserProfile => Profile::TABLE,
        EntityKind::Illustration => return None,
    })
}

/// Rows given up after repeated server errors (failed with every attempt spent), as
/// opposed to changes the server refused.
pub fn given_up(conn: &Connection, kind: EntityKind, max_attempts: u32) -> Result<Vec<Uuid>> {
    let Some(table) = synced_table(kind) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id FROM {table} WHERE sync_status = 'failed' AND attempts >= ?1"
    ))?;
    let ids = stmt.query_map([max_attempts], |r| r.get::<_, String>(0))?;
    Ok(ids.filter_map(|id| id.ok()?.parse().ok()).collect())
}

/// Whether any local row has a server version (the server confirmed it).
pub fn has_server_rows(conn: &Connection) -> Result<bool> {
    for table in SYNCED_TABLES {
        let found: bool = conn.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE base_version IS NOT NULL)"),
            [],
            |r| r.get(0),
        )?;
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Forgets every row's backoff (the watchdog restarting the loop): pending rows go with
/// the next run, and nothing waits on an old timer.
pub fn clear_backoff(conn: &Connection) -> Result<()> {
    for table in SYNCED_TABLES {
        conn.execute(
            &format!("UPDATE {table} SET next_attempt_at = NULL WHERE next_attempt_at IS NOT NULL"),
            [],
        )?;
    }
    Ok(())
}

/// Whether a row of `kind` is visible locally (exists and is not pending delete).
pub fn is_visible(conn: &Connection, kind: EntityKind, id: Uuid) -> Result<bool> {
    let Some(table) = synced_table(kind) else {
        return Ok(false);
    };
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT 1 FROM {table} WHERE id = ?1 AND sync_status <> 'pending_delete'"
        ))?
        .query_row([entity::UuidText::new(id)], |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::{retry_sql, SYNCED_TABLES};
    use crate::db;

    /// The background loop asks for the next retry time after every local write: it reads
    /// the partial `*_retry` index, not every row (migration 6).
    #[test]
    fn the_next_retry_time_reads_an_index() {
        let conn = db::open_in_memory().unwrap();
        for table in SYNCED_TABLES {
            let sql = retry_sql(table);
            assert_eq!(
                db::tables_read_without_index(&conn, &sql),
                [] as [String; 0],
                "{sql}"
            );
        }
    }
}
