//! The sync protocol: `POST /api/sync/push` and `GET /api/sync/changes` (SPEC.md §6).
//!
//! Push applies each mutation together with the record of its mutation id and outcome, so
//! a mutation is applied at most once per user and a replay answers
//! [`Outcome::Duplicate`] with the first outcome. A push is one unit of a group commit
//! ([`AppState::write`]): its mutations are applied in order in its own savepoint of a
//! transaction shared with the pushes that arrived at the same time, and it is answered
//! once that transaction is durable. A rejected or conflicting mutation is
//! answered and recorded like any other and never stops the rest of the batch. Each
//! element of the batch is read on its own: one that is not a readable mutation is
//! answered `rejected` with `bad_mutation` (not recorded), the others go on.
//!
//! The change feed pages through the user's rows by the sequence number of their last
//! write. Cursors are opaque strings `c1.<database instance>.<seq>`; a cursor from another
//! database (the server's data was reset) answers 410 `cursor_expired`, so the client
//! resyncs instead of silently missing rows.

use crate::params;
use crate::sql::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use axum::extract::State;
use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ChangeSet, ChangesResponse, CustomEvent, EntityKind, ErrorBody, FieldError, Hero,
    Mutation, MutationOp, MutationResult, Outcome, Profile, PushResponse, Record, Story,
    MAX_CHANGES_LIMIT, MAX_PUSH_BATCH,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, to_micros, UuidText};
use crate::error::{ApiError, Json, Query};
use crate::illustration_store;
use crate::table::{self, CreateOutcome, DeleteOutcome, IncrementOutcome, Table, UpdateOutcome};
use crate::AppState;

/// Page size of the change feed without `limit`.
pub const DEFAULT_CHANGES_LIMIT: u32 = 500;

// ---------------------------------------------------------------------------------------
// Push

/// The body of `POST /api/sync/push` as the server reads it: the envelope must be an
/// object with a `mutations` array (else 400), and each element is read on its own
/// ([`read_mutation`]), so that one the server cannot understand does not fail the
/// others (SPEC.md section 6). Documented as [`is_protocol::PushRequest`].
#[derive(Debug, Deserialize)]
pub struct PushBody {
    pub mutations: Vec<serde_json::Value>,
}

/// One element of a push, as read.
#[derive(Debug, Clone, PartialEq)]
pub enum PushItem {
    Mutation(Mutation),
    /// Not a readable mutation: answered `rejected` with [`codes::BAD_MUTATION`] (or,
    /// when its `mutation_id` is readable and was seen before, `duplicate` of that
    /// first answer). Nothing is written or recorded for it.
    Unreadable {
        /// The `mutation_id` the element carries, if it is a readable, non-nil UUID.
        mutation_id: Option<Uuid>,
        error: ErrorBody,
    },
}

/// Reads element `index` of a push.
pub fn read_mutation(index: usize, value: serde_json::Value) -> PushItem {
    let carried = value
        .get("mutation_id")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .filter(|id| !id.is_nil());
    let unreadable = |message: String| PushItem::Unreadable {
        mutation_id: carried,
        error: ErrorBody {
            code: codes::BAD_MUTATION.to_owned(),
            message: format!("mutations[{index}]: {message}"),
            details: Some(serde_json::json!({ "index": index })),
        },
    };
    match serde_json::from_value::<Mutation>(value) {
        // The nil UUID answers the elements whose id is unreadable: it cannot be one
        // that a client matches results by.
        Ok(m) if m.mutation_id.is_nil() => {
            unreadable("mutation_id must not be the nil UUID".to_owned())
        }
        Ok(m) => PushItem::Mutation(m),
        Err(e) => unreadable(e.to_string()),
    }
}

/// `POST /api/sync/push` → one result per element of `mutations`, in order.
pub async fn push(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<PushBody>,
) -> Result<axum::Json<PushResponse>, ApiError> {
    if req.mutations.len() > MAX_PUSH_BATCH {
        return Err(ApiError::Validation(vec![FieldError::new(
            "mutations",
            format!(
                "Send at most {MAX_PUSH_BATCH} mutations per push (got {})",
                req.mutations.len()
            ),
        )]));
    }
    let items: Vec<PushItem> = req
        .mutations
        .into_iter()
        .enumerate()
        .map(|(i, v)| read_mutation(i, v))
        .collect();
    let user = auth.id();
    let now = state.now();
    let results = state
        .write(move |tx| apply_items(tx, user, &items, now))
        .await?;
    Ok(axum::Json(PushResponse { results }))
}

/// Applies `items` in order inside the caller's transaction `tx` (a push's savepoint);
/// unreadable ones are answered without writing anything. An error (a database failure,
/// never a mutation's own outcome) fails the whole push: the caller rolls back what it
/// wrote, so a push is applied whole or not at all.
pub fn apply_items(
    tx: &Transaction<'_>,
    user_id: Uuid,
    items: &[PushItem],
    now: DateTime<Utc>,
) -> Result<Vec<MutationResult>, ApiError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        results.push(match item {
            PushItem::Mutation(m) => apply_logged(tx, user_id, m, now)?,
            PushItem::Unreadable { mutation_id, error } => {
                answer_unreadable(tx, user_id, *mutation_id, error)?
            }
        });
    }
    Ok(results)
}

/// Applies `mutations` in order, each in its own transaction (one commit each; pushes
/// share theirs through [`apply_items`] instead).
pub fn apply_batch(
    conn: &mut Connection,
    user_id: Uuid,
    mutations: &[Mutation],
    now: DateTime<Utc>,
) -> Result<Vec<MutationResult>, ApiError> {
    mutations
        .iter()
        .map(|m| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = apply_logged(&tx, user_id, m, now)?;
            tx.commit()?;
            Ok(result)
        })
        .collect()
}

fn apply_logged(
    tx: &Transaction<'_>,
    user_id: Uuid,
    m: &Mutation,
    now: DateTime<Utc>,
) -> Result<MutationResult, ApiError> {
    let outcome = apply_mutation(tx, user_id, m, now)?;
    tracing::debug!(
        user = %user_id,
        mutation = %m.mutation_id,
        op = m.op.name(),
        id = %m.id,
        outcome = outcome_name(&outcome),
        "push"
    );
    Ok(MutationResult {
        mutation_id: m.mutation_id,
        outcome,
    })
}

/// The answer to an unreadable element: `duplicate` if its `mutation_id` was applied
/// before (a replay answers the first result, whatever it carries now), else
/// `rejected`. Not recorded: a replay of it is read, and rejected, the same way again.
fn answer_unreadable(
    conn: &Connection,
    user_id: Uuid,
    mutation_id: Option<Uuid>,
    error: &ErrorBody,
) -> Result<MutationResult, ApiError> {
    let first = match mutation_id {
        Some(id) => find_applied(conn, user_id, id)?,
        None => None,
    };
    tracing::debug!(user = %user_id, mutation = ?mutation_id, error = %error.message, "push: unreadable mutation");
    Ok(MutationResult {
        mutation_id: mutation_id.unwrap_or(Uuid::nil()),
        outcome: match first {
            Some(first) => Outcome::Duplicate {
                first: Box::new(first),
            },
            None => Outcome::Rejected {
                error: error.clone(),
            },
        },
    })
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Applied { .. } => "applied",
        Outcome::Duplicate { .. } => "duplicate",
        Outcome::Conflict { .. } => "conflict",
        Outcome::Rejected { .. } => "rejected",
    }
}

/// Applies one mutation at most once, inside the caller's transaction `tx`: the row
/// write and the record of the mutation id with its outcome commit together.
pub fn apply_mutation(
    tx: &Transaction<'_>,
    user_id: Uuid,
    m: &Mutation,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    if let Some(first) = find_applied(tx, user_id, m.mutation_id)? {
        // Nothing to write.
        return Ok(Outcome::Duplicate {
            first: Box::new(first),
        });
    }
    let outcome = match m.entity {
        EntityKind::Hero => apply::<Hero>(tx, user_id, m, now)?,
        EntityKind::Story => apply::<Story>(tx, user_id, m, now)?,
        EntityKind::CustomEvent => apply::<CustomEvent>(tx, user_id, m, now)?,
        EntityKind::UserProfile => apply::<Profile>(tx, user_id, m, now)?,
        EntityKind::Illustration => rejected(
            codes::FORBIDDEN,
            "Illustrations are written by the server only",
        ),
    };
    tx.prepare_cached(
        "INSERT INTO applied_mutations (user_id, mutation_id, entity, row_id, op, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        UuidText::new(user_id),
        UuidText::new(m.mutation_id),
        m.entity.as_str(),
        UuidText::new(m.id),
        m.op.name(),
        serde_json::to_string(&outcome)?,
        to_micros(now),
    ])?;
    Ok(outcome)
}

/// The first outcome of a mutation id this user already sent.
pub fn find_applied(
    conn: &Connection,
    user_id: Uuid,
    mutation_id: Uuid,
) -> Result<Option<Outcome>, ApiError> {
    let text: Option<String> = conn
        .prepare_cached(
            "SELECT outcome FROM applied_mutations WHERE user_id = ?1 AND mutation_id = ?2",
        )?
        .query_row(
            params![UuidText::new(user_id), UuidText::new(mutation_id)],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        None => Ok(None),
        Some(t) => Ok(Some(serde_json::from_str(&t)?)),
    }
}

fn rejected(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Rejected {
        error: ErrorBody::new(code, message),
    }
}

/// A payload of the wrong shape is rejected as `bad_request`.
fn parse<T: DeserializeOwned>(what: &str, v: &serde_json::Value) -> Result<T, ErrorBody> {
    // Read from the borrowed value: no copy of it.
    T::deserialize(v).map_err(|e| ErrorBody::new(codes::BAD_REQUEST, format!("{what}: {e}")))
}

fn invalid(errors: Vec<FieldError>) -> Outcome {
    Outcome::Rejected {
        error: ErrorBody::validation(errors),
    }
}

/// Applies one mutation of entity `E` through the generic write path of
/// [`crate::table`]; what differs between entities is in their [`Table`] hooks.
fn apply<E: Table>(
    tx: &Transaction<'_>,
    user_id: Uuid,
    m: &Mutation,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    if let Some(error) = E::refuse_push(user_id, m.id, &m.op) {
        return Ok(Outcome::Rejected { error });
    }
    let (id, wrap) = (m.id, E::into_wire);
    Ok(match &m.op {
        MutationOp::Create { data } => match parse::<E::Input>("data", data) {
            Ok(input) => match table::create::<E>(tx, user_id, id, input, now)? {
                CreateOutcome::Created(r) => Outcome::Applied { record: wrap(r) },
                CreateOutcome::Invalid(errors) => invalid(errors),
                CreateOutcome::Exists(current) => Outcome::Conflict {
                    current: wrap(current),
                },
                CreateOutcome::IdTaken => rejected(codes::CONFLICT, "This id is already in use"),
            },
            Err(error) => Outcome::Rejected { error },
        },
        MutationOp::Update {
            base_version,
            patch,
        } => match parse::<E::Patch>("patch", patch) {
            Ok(p) => match table::update::<E>(tx, user_id, id, Some(*base_version), p, now)? {
                UpdateOutcome::Applied(r) | UpdateOutcome::Unchanged(r) => {
                    Outcome::Applied { record: wrap(r) }
                }
                UpdateOutcome::NotFound => not_found::<E>(),
                UpdateOutcome::Deleted(current) | UpdateOutcome::VersionMismatch(current) => {
                    Outcome::Conflict {
                        current: wrap(current),
                    }
                }
                UpdateOutcome::Invalid(errors) => invalid(errors),
            },
            Err(error) => Outcome::Rejected { error },
        },
        MutationOp::Delete { base_version } => {
            match table::delete::<E>(tx, user_id, id, Some(*base_version), now)? {
                DeleteOutcome::Deleted(r) | DeleteOutcome::AlreadyDeleted(r) => {
                    Outcome::Applied { record: wrap(r) }
                }
                DeleteOutcome::NotFound => not_found::<E>(),
                DeleteOutcome::VersionMismatch(current) => Outcome::Conflict {
                    current: wrap(current),
                },
            }
        }
        // An increment never conflicts: on a tombstone it is applied as a no-op.
        MutationOp::Increment { counters } => {
            match table::increment::<E>(tx, user_id, id, counters, now)? {
                IncrementOutcome::Applied(r) | IncrementOutcome::Tombstone(r) => {
                    Outcome::Applied { record: wrap(r) }
                }
                IncrementOutcome::NotFound => not_found::<E>(),
                IncrementOutcome::Invalid(errors) => invalid(errors),
            }
        }
    })
}

fn not_found<E: Table>() -> Outcome {
    rejected(codes::NOT_FOUND, format!("No such {}", E::LABEL))
}

// ---------------------------------------------------------------------------------------
// Change feed

#[derive(Debug, Default, Deserialize)]
pub struct ChangesParams {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// An opaque change-feed cursor for `seq` on the database `instance`.
pub fn encode_cursor(instance: &str, seq: i64) -> String {
    encode_cursor_at(instance, seq, 0)
}

/// A cursor for `seq` whose pull started at prune epoch `epoch` (see
/// [`prune_tombstones`]): `c1.<instance>.<seq>` for epoch 0, else
/// `c2.<instance>.<seq>.<epoch>`.
pub fn encode_cursor_at(instance: &str, seq: i64, epoch: i64) -> String {
    if epoch == 0 {
        format!("c1.{instance}.{seq}")
    } else {
        format!("c2.{instance}.{seq}.{epoch}")
    }
}

/// What a cursor says, relative to this database.
#[derive(Debug, PartialEq, Eq)]
pub enum CursorCheck {
    Seq(i64),
    /// Well-formed, but from another database.
    Foreign,
    Malformed,
}

pub fn decode_cursor(instance: &str, cursor: &str) -> CursorCheck {
    match decode_cursor_at(instance, cursor) {
        Ok((seq, _)) => CursorCheck::Seq(seq),
        Err(check) => check,
    }
}

/// The sequence value and prune epoch of a cursor, or why it is unusable.
pub fn decode_cursor_at(instance: &str, cursor: &str) -> Result<(i64, i64), CursorCheck> {
    let (rest, with_epoch) = if let Some(r) = cursor.strip_prefix("c1.") {
        (r, false)
    } else if let Some(r) = cursor.strip_prefix("c2.") {
        (r, true)
    } else {
        return Err(CursorCheck::Malformed);
    };
    let mut parts = rest.split('.');
    let (Some(inst), Some(seq)) = (parts.next(), parts.next()) else {
        return Err(CursorCheck::Malformed);
    };
    let epoch = if with_epoch {
        match parts.next().map(str::parse::<i64>) {
            Some(Ok(e)) if e > 0 => e,
            _ => return Err(CursorCheck::Malformed),
        }
    } else {
        0
    };
    if parts.next().is_some() {
        return Err(CursorCheck::Malformed);
    }
    let Ok(seq) = seq.parse::<i64>() else {
        return Err(CursorCheck::Malformed);
    };
    if seq < 0 || inst.len() != 32 || !inst.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CursorCheck::Malformed);
    }
    if inst != instance {
        return Err(CursorCheck::Foreign);
    }
    Ok((seq, epoch))
}

/// `GET /api/sync/changes?cursor=&limit=` → the user's rows written after `cursor`.
pub async fn changes(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ChangesParams>,
) -> Result<axum::Json<ChangesResponse>, ApiError> {
    let limit = crate::rest::parse_limit(
        crate::rest::present(&params.limit),
        DEFAULT_CHANGES_LIMIT as usize,
        MAX_CHANGES_LIMIT as usize,
    )?;
    let instance = state.instance_id().to_owned();
    let from = match params
        .cursor
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(c) => match decode_cursor_at(&instance, c) {
            Ok(pos) => Some(pos),
            Err(CursorCheck::Foreign) => return Err(ApiError::CursorExpired),
            Err(_) => return Err(ApiError::BadRequest("cursor is not valid".to_owned())),
        },
    };
    let user = auth.id();
    let response = state
        .read(move |conn| {
            let (after, epoch) = match from {
                // A pull from scratch starts at the current prune epoch: tombstones
                // pruned before it belong to rows this client never had.
                None => (0, prune_epoch(conn)?),
                Some((after, epoch)) => {
                    if pruned_since(conn, user, epoch)? > after {
                        // A tombstone this client may need (one written after its
                        // cursor, pruned after its pull began) is gone: resync.
                        return Err(ApiError::CursorExpired);
                    }
                    (after, epoch)
                }
            };
            changes_page_at(conn, &instance, user, after, epoch, limit)
        })
        .await?;
    Ok(axum::Json(response))
}

/// Adds the user's rows of `E` written after `after` (at most `limit`) to `rows`.
fn feed<E: Table>(
    conn: &Connection,
    user_id: Uuid,
    after: i64,
    limit: usize,
    rows: &mut Vec<(i64, Record)>,
) -> crate::sql::Result<()> {
    let changed = table::changed_since::<E>(conn, user_id, after, limit)?;
    rows.extend(changed.into_iter().map(|r| (r.seq, E::into_wire(r.record))));
    Ok(())
}

/// One page of the change feed after sequence number `after`: the user's rows of every
/// entity, merged in sequence order.
pub fn changes_page(
    conn: &Connection,
    instance: &str,
    user_id: Uuid,
    after: i64,
    limit: usize,
) -> Result<ChangesResponse, ApiError> {
    changes_page_at(conn, instance, user_id, after, 0, limit)
}

/// Like [`changes_page`] for a pull that began at prune epoch `epoch` (carried in the
/// next cursor).
pub fn changes_page_at(
    conn: &Connection,
    instance: &str,
    user_id: Uuid,
    after: i64,
    epoch: i64,
    limit: usize,
) -> Result<ChangesResponse, ApiError> {
    if after > db::current_seq(conn)? {
        // Only a hand-made cursor can be ahead of the sequence.
        return Err(ApiError::BadRequest("cursor is not valid".to_owned()));
    }
    // Each source contributes at most limit + 1 rows; if the merge has more than
    // `limit`, there is more to read.
    let mut rows: Vec<(i64, Record)> = Vec::new();
    feed::<Hero>(conn, user_id, after, limit + 1, &mut rows)?;
    feed::<Story>(conn, user_id, after, limit + 1, &mut rows)?;
    rows.extend(
        illustration_store::changed_since(conn, user_id, after, limit + 1)?
            .into_iter()
            .map(|r| (r.seq, Record::Illustration(r.illustration))),
    );
    feed::<CustomEvent>(conn, user_id, after, limit + 1, &mut rows)?;
    feed::<Profile>(conn, user_id, after, limit + 1, &mut rows)?;
    rows.sort_by_key(|(seq, _)| *seq);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let last = rows.last().map_or(after, |(seq, _)| *seq);
    let mut changes = ChangeSet::default();
    for (_, record) in rows {
        match record {
            Record::Hero(r) => changes.heroes.push(r),
            Record::Story(r) => changes.stories.push(r),
            Record::Illustration(r) => changes.illustrations.push(r),
            Record::CustomEvent(r) => changes.custom_events.push(r),
            Record::UserProfile(p) => changes.profile = Some(p),
        }
    }
    let remaining = if has_more {
        remaining_after(conn, user_id, last)?
    } else {
        0
    };
    Ok(ChangesResponse {
        changes,
        next_cursor: encode_cursor_at(instance, last, epoch),
        has_more,
        remaining: Some(remaining),
    })
}

/// Most rows of one entity that [`remaining_after`] counts exactly; past it, the count
/// is a lower bound. Keeps the count of a page bounded however big the feed is.
pub const REMAINING_COUNT_CAP: u64 = 1_000_000;

/// `ChangesResponse::remaining`: how many of the user's rows (each at its latest write,
/// as the feed serves them) were written after sequence value `after`, counted per
/// entity on its `(user, seq)` index, at most [`REMAINING_COUNT_CAP`] each. The profile
/// counts as one when it changed after `after`. Exact as of this page; writes made
/// later add to it.
pub fn remaining_after(conn: &Connection, user_id: Uuid, after: i64) -> crate::sql::Result<u64> {
    let cap = REMAINING_COUNT_CAP;
    Ok(
        table::count_changed_since::<Hero>(conn, user_id, after, cap)?
            + table::count_changed_since::<Story>(conn, user_id, after, cap)?
            + illustration_store::count_changed_since(conn, user_id, after, cap)?
            + table::count_changed_since::<CustomEvent>(conn, user_id, after, cap)?
            + table::count_changed_since::<Profile>(conn, user_id, after, cap)?,
    )
}

// ---------------------------------------------------------------------------------------
// Tombstone horizon

/// The current prune epoch: how many pruning passes removed something (0 if none).
pub fn prune_epoch(conn: &Connection) -> crate::sql::Result<i64> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM server_meta WHERE key = 'prune_epoch'",
            (),
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The highest sequence value of this user's tombstones pruned in passes after `epoch`
/// (0 if none).
pub fn pruned_since(conn: &Connection, user_id: Uuid, epoch: i64) -> crate::sql::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(max_seq), 0) FROM prune_log WHERE user_id = ?1 AND epoch > ?2",
        params![user_id.to_string(), epoch],
        |r| r.get(0),
    )
}

/// What [`prune_tombstones`] removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneReport {
    /// Tombstones deleted, all entities together.
    pub rows: usize,
    /// Media files whose rows were pruned (already deleted from disk when returned).
    pub files: usize,
}

/// The synced tables that have tombstones.
const TOMBSTONE_TABLES: [&str; 4] = [
    Hero::SQL_TABLE,
    Story::SQL_TABLE,
    "illustrations",
    CustomEvent::SQL_TABLE,
];

/// Deletes every tombstone last written before `now - horizon`, and the media files of
/// the pruned rows from `media`.
///
/// A pass that prunes something starts a new *prune epoch* and logs, per user, the
/// highest pruned sequence value. A change-feed cursor carries the epoch its pull began
/// in (a pull from scratch begins in the current one); it gets 410 `cursor_expired` when
/// a later pass pruned a tombstone of the user past the cursor, which the client may
/// have needed. Tombstones pruned before a pull began belong to rows deleted before it,
/// which that client never had, so a full resync always completes.
pub fn prune_tombstones(
    conn: &mut Connection,
    media: &crate::media_store::MediaStore,
    now: DateTime<Utc>,
    horizon: chrono::Duration,
) -> Result<PruneReport, ApiError> {
    let cutoff = to_micros(now - horizon);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let epoch = prune_epoch(&tx)? + 1;
    let mut report = PruneReport::default();
    let mut files = Vec::new();
    for table in TOMBSTONE_TABLES {
        let per_user: Vec<(String, i64)> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT user_id, MAX(seq) FROM {table}
                 WHERE deleted = 1 AND updated_at < ?1 GROUP BY user_id"
            ))?;
            let rows = stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<crate::sql::Result<_>>()?
        };
        for (user, seq) in per_user {
            tx.execute(
                "INSERT INTO prune_log (user_id, epoch, max_seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id, epoch) DO UPDATE SET max_seq =
                     CASE WHEN excluded.max_seq > prune_log.max_seq
                          THEN excluded.max_seq ELSE prune_log.max_seq END",
                params![user, epoch, seq],
            )?;
        }
        {
            let mut stmt = tx.prepare(&format!(
                "SELECT name FROM media_files WHERE owner_id IN
                     (SELECT id FROM {table} WHERE deleted = 1 AND updated_at < ?1)"
            ))?;
            let names = stmt.query_map([cutoff], |r| r.get::<_, String>(0))?;
            for name in names {
                files.push(name?);
            }
        }
        tx.execute(
            &format!(
                "DELETE FROM media_files WHERE owner_id IN
                     (SELECT id FROM {table} WHERE deleted = 1 AND updated_at < ?1)"
            ),
            [cutoff],
        )?;
        report.rows += tx.execute(
            &format!("DELETE FROM {table} WHERE deleted = 1 AND updated_at < ?1"),
            [cutoff],
        )?;
    }
    if report.rows == 0 {
        // Nothing pruned: no new epoch (dropping `tx` rolls back the empty transaction).
        return Ok(report);
    }
    tx.execute(
        "INSERT INTO server_meta (key, value) VALUES ('prune_epoch', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [epoch.to_string()],
    )?;
    // The highest pruned sequence value overall, for diagnostics.
    tx.execute(
        "INSERT INTO server_meta (key, value)
         SELECT 'pruned_seq', CAST(MAX(max_seq) AS TEXT) FROM prune_log WHERE true
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (),
    )?;
    tx.commit()?;
    for name in files {
        // Names come from our own table (server ids), never from a request.
        match media.delete_blocking(&name) {
            Ok(true) => report.files += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot remove a pruned media file"),
        }
    }
    tracing::info!(
        rows = report.rows,
        files = report.files,
        epoch,
        "pruned old tombstones"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip_and_rejections() {
        let inst = Uuid::new_v4().simple().to_string();
        let other = Uuid::new_v4().simple().to_string();
        assert_eq!(
            decode_cursor(&inst, &encode_cursor(&inst, 42)),
            CursorCheck::Seq(42)
        );
        assert_eq!(
            decode_cursor(&inst, &encode_cursor(&inst, 0)),
            CursorCheck::Seq(0)
        );
        assert_eq!(
            decode_cursor(&inst, &encode_cursor(&other, 42)),
            CursorCheck::Foreign
        );
        assert_eq!(
            decode_cursor_at(&inst, &encode_cursor_at(&inst, 42, 7)),
            Ok((42, 7))
        );
        assert_eq!(encode_cursor_at(&inst, 42, 0), encode_cursor(&inst, 42));
        for bad in [
            format!("c2.{inst}.42"),
            format!("c2.{inst}.42.0"),
            format!("c2.{inst}.42.x"),
            format!("c1.{inst}.42.3"),
        ] {
            assert_eq!(decode_cursor(&inst, &bad), CursorCheck::Malformed, "{bad}");
        }
        for bad in [
            "",
            "42",
            "c1.",
            "c1.abc.1",
            "c2.x.1",
            &format!("c1.{inst}.-1"),
            &format!("c1.{inst}.x"),
        ] {
            assert_eq!(decode_cursor(&inst, bad), CursorCheck::Malformed, "{bad}");
        }
    }
}
