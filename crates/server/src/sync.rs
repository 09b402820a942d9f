//! The sync protocol: `POST /api/sync/push` and `GET /api/sync/changes` (SPEC.md §6).
//!
//! Push applies each mutation in its own transaction, which also records the mutation id
//! and its outcome, so a mutation is applied at most once per user and a replay answers
//! [`Outcome::Duplicate`] with the first outcome. A rejected or conflicting mutation is
//! answered and recorded like any other and never stops the rest of the batch.
//!
//! The change feed pages through the user's rows by the sequence number of their last
//! write. Cursors are opaque strings `c1.<database instance>.<seq>`; a cursor from another
//! database (the server's data was reset) answers 410 `cursor_expired`, so the client
//! resyncs instead of silently missing rows.

use axum::extract::State;
use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ChangeSet, ChangesResponse, EntityKind, ErrorBody, FieldError, HeroInput, HeroPatch,
    Mutation, MutationOp, MutationResult, Outcome, PushRequest, PushResponse, Record,
    MAX_CHANGES_LIMIT, MAX_PUSH_BATCH,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, to_micros};
use crate::error::{ApiError, Json, Query};
use crate::store::{self, CreateOutcome, DeleteOutcome, UpdateOutcome};
use crate::AppState;

/// Page size of the change feed without `limit`.
pub const DEFAULT_CHANGES_LIMIT: u32 = 500;

// ---------------------------------------------------------------------------------------
// Push

/// `POST /api/sync/push` → one result per mutation, in order.
pub async fn push(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<PushRequest>,
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
    let user = auth.id();
    let now = state.now();
    let results = state
        .run(move |conn| apply_batch(conn, user, &req.mutations, now))
        .await?;
    Ok(axum::Json(PushResponse { results }))
}

/// Applies `mutations` in order, each in its own transaction.
pub fn apply_batch(
    conn: &mut Connection,
    user_id: Uuid,
    mutations: &[Mutation],
    now: DateTime<Utc>,
) -> Result<Vec<MutationResult>, ApiError> {
    let mut results = Vec::with_capacity(mutations.len());
    for m in mutations {
        let outcome = apply_mutation(conn, user_id, m, now)?;
        tracing::debug!(
            user = %user_id,
            mutation = %m.mutation_id,
            op = m.op.name(),
            id = %m.id,
            outcome = outcome_name(&outcome),
            "push"
        );
        results.push(MutationResult {
            mutation_id: m.mutation_id,
            outcome,
        });
    }
    Ok(results)
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Applied { .. } => "applied",
        Outcome::Duplicate { .. } => "duplicate",
        Outcome::Conflict { .. } => "conflict",
        Outcome::Rejected { .. } => "rejected",
    }
}

/// Applies one mutation at most once: the row write and the record of the mutation id
/// with its outcome commit together.
pub fn apply_mutation(
    conn: &mut Connection,
    user_id: Uuid,
    m: &Mutation,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(first) = find_applied(&tx, user_id, m.mutation_id)? {
        // Nothing to write: dropping `tx` rolls back the (empty) transaction.
        return Ok(Outcome::Duplicate {
            first: Box::new(first),
        });
    }
    let outcome = match m.entity {
        EntityKind::Hero => apply_hero(&tx, user_id, m, now)?,
    };
    tx.execute(
        "INSERT INTO applied_mutations (user_id, mutation_id, entity, row_id, op, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user_id.to_string(),
            m.mutation_id.to_string(),
            m.entity.as_str(),
            m.id.to_string(),
            m.op.name(),
            serde_json::to_string(&outcome)?,
            to_micros(now),
        ],
    )?;
    tx.commit()?;
    Ok(outcome)
}

/// The first outcome of a mutation id this user already sent.
pub fn find_applied(
    conn: &Connection,
    user_id: Uuid,
    mutation_id: Uuid,
) -> Result<Option<Outcome>, ApiError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT outcome FROM applied_mutations WHERE user_id = ?1 AND mutation_id = ?2",
            params![user_id.to_string(), mutation_id.to_string()],
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

fn not_found() -> Outcome {
    rejected(codes::NOT_FOUND, "No such hero")
}

fn hero(h: is_protocol::HeroRecord) -> Record {
    Record::Hero(h)
}

fn apply_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    m: &Mutation,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    Ok(match &m.op {
        MutationOp::Create { data } => {
            let input = match serde_json::from_value::<HeroInput>(data.clone()) {
                Ok(input) => input,
                Err(e) => return Ok(rejected(codes::BAD_REQUEST, format!("data: {e}"))),
            };
            match store::create_hero(tx, user_id, m.id, input, now)? {
                CreateOutcome::Created(h) => Outcome::Applied { record: hero(h) },
                CreateOutcome::Invalid(errors) => Outcome::Rejected {
                    error: ErrorBody::validation(errors),
                },
                CreateOutcome::Exists(current) => Outcome::Conflict {
                    current: hero(current),
                },
                CreateOutcome::IdTaken => rejected(codes::CONFLICT, "This id is already in use"),
            }
        }
        MutationOp::Update {
            base_version,
            patch,
        } => {
            let patch = match serde_json::from_value::<HeroPatch>(patch.clone()) {
                Ok(p) => p,
                Err(e) => return Ok(rejected(codes::BAD_REQUEST, format!("patch: {e}"))),
            };
            match store::update_hero(tx, user_id, m.id, Some(*base_version), patch, now)? {
                UpdateOutcome::Applied(h) | UpdateOutcome::Unchanged(h) => {
                    Outcome::Applied { record: hero(h) }
                }
                UpdateOutcome::NotFound => not_found(),
                UpdateOutcome::Deleted(current) | UpdateOutcome::VersionMismatch(current) => {
                    Outcome::Conflict {
                        current: hero(current),
                    }
                }
                UpdateOutcome::Invalid(errors) => Outcome::Rejected {
                    error: ErrorBody::validation(errors),
                },
            }
        }
        MutationOp::Delete { base_version } => {
            match store::delete_hero(tx, user_id, m.id, Some(*base_version), now)? {
                DeleteOutcome::Deleted(h) | DeleteOutcome::AlreadyDeleted(h) => {
                    Outcome::Applied { record: hero(h) }
                }
                DeleteOutcome::NotFound => not_found(),
                DeleteOutcome::VersionMismatch(current) => Outcome::Conflict {
                    current: hero(current),
                },
            }
        }
    })
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
    format!("c1.{instance}.{seq}")
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
    let Some(rest) = cursor.strip_prefix("c1.") else {
        return CursorCheck::Malformed;
    };
    let Some((inst, seq)) = rest.split_once('.') else {
        return CursorCheck::Malformed;
    };
    let Ok(seq) = seq.parse::<i64>() else {
        return CursorCheck::Malformed;
    };
    if seq < 0 || inst.len() != 32 || !inst.bytes().all(|b| b.is_ascii_hexdigit()) {
        return CursorCheck::Malformed;
    }
    if inst != instance {
        return CursorCheck::Foreign;
    }
    CursorCheck::Seq(seq)
}

/// `GET /api/sync/changes?cursor=&limit=` → the user's rows written after `cursor`.
pub async fn changes(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ChangesParams>,
) -> Result<axum::Json<ChangesResponse>, ApiError> {
    let limit = match params
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => DEFAULT_CHANGES_LIMIT,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest(format!("limit must be a whole number, got {s:?}")))?
            .clamp(1, MAX_CHANGES_LIMIT as u64) as u32,
    };
    let instance = state.instance_id().to_owned();
    let after = match params
        .cursor
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => 0,
        Some(c) => match decode_cursor(&instance, c) {
            CursorCheck::Seq(seq) => seq,
            CursorCheck::Foreign => return Err(ApiError::CursorExpired),
            CursorCheck::Malformed => {
                return Err(ApiError::BadRequest("cursor is not valid".to_owned()))
            }
        },
    };
    let user = auth.id();
    let response = state
        .run(move |conn| changes_page(conn, &instance, user, after, limit as usize))
        .await?;
    Ok(axum::Json(response))
}

/// One page of the change feed after sequence number `after`.
pub fn changes_page(
    conn: &Connection,
    instance: &str,
    user_id: Uuid,
    after: i64,
    limit: usize,
) -> Result<ChangesResponse, ApiError> {
    if after > db::current_seq(conn)? {
        // Only a hand-made cursor can be ahead of the sequence.
        return Err(ApiError::BadRequest("cursor is not valid".to_owned()));
    }
    let mut rows = store::heroes_changed_since(conn, user_id, after, limit + 1)?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let last = rows.last().map_or(after, |r| r.seq);
    Ok(ChangesResponse {
        changes: ChangeSet {
            heroes: rows.into_iter().map(|r| r.hero).collect(),
        },
        next_cursor: encode_cursor(instance, last),
        has_more,
    })
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
