//! The durable outbox: one entry per server mutation the local state still owes.
//!
//! Rules that make a push safe to repeat (SPEC.md sections 5 and 6):
//! - An entry is written in the same transaction as the row change that caused it.
//! - Until an entry is first sent it may be rewritten (later edits merge into it).
//! - Once sent (`sent = 1`), its mutation id, payload and base version are frozen: a
//!   retry replays exactly the same mutation, which the server answers at most once.
//!   Later edits go into a new entry behind it.
//! - An entry the server definitively did not apply (rejected, conflict) is "re-issued":
//!   it gets a fresh mutation id and becomes unsent, so it can carry new edits.
//! - Counter increments are entries of their own kind ([`EntryOp::Increment`]). They
//!   never conflict, so they live beside the row's edits: consecutive unsent increments
//!   add up, and dropping or re-issuing a row's edits leaves its increments alone.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use is_protocol::{EntityKind, Mutation, MutationOp};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::sync::state::PendingOp;

/// What an outbox entry asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryOp {
    Create,
    Update,
    Delete,
    /// Add to counters (`payload` = `{counter: amount}`); never conflicts.
    Increment,
}

impl EntryOp {
    pub const ALL: [EntryOp; 4] = [
        EntryOp::Create,
        EntryOp::Update,
        EntryOp::Delete,
        EntryOp::Increment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryOp::Create => "create",
            EntryOp::Update => "update",
            EntryOp::Delete => "delete",
            EntryOp::Increment => "increment",
        }
    }

    pub fn parse(s: &str) -> Option<EntryOp> {
        EntryOp::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// The row operation this entry carries (`None` for an increment).
    pub fn pending_op(self) -> Option<PendingOp> {
        match self {
            EntryOp::Create => Some(PendingOp::Create),
            EntryOp::Update => Some(PendingOp::Update),
            EntryOp::Delete => Some(PendingOp::Delete),
            EntryOp::Increment => None,
        }
    }
}

impl From<PendingOp> for EntryOp {
    fn from(op: PendingOp) -> Self {
        match op {
            PendingOp::Create => EntryOp::Create,
            PendingOp::Update => EntryOp::Update,
            PendingOp::Delete => EntryOp::Delete,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub mutation_id: Uuid,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub op: EntryOp,
    pub payload: Value,
    pub base_version: Option<i64>,
    pub sent: bool,
    pub created_at: DateTime<Utc>,
}

impl OutboxEntry {
    /// The wire mutation. `base_version` must be frozen (see [`freeze`]) for updates and
    /// deletes.
    pub fn to_mutation(&self) -> Result<Mutation> {
        let base = || {
            self.base_version.ok_or_else(|| {
                CoreError::Corrupt(format!("outbox entry {} has no base version", self.seq))
            })
        };
        let op = match self.op {
            EntryOp::Create => MutationOp::Create {
                data: self.payload.clone(),
            },
            EntryOp::Update => MutationOp::Update {
                base_version: base()?,
                patch: self.payload.clone(),
            },
            EntryOp::Delete => MutationOp::Delete {
                base_version: base()?,
            },
            EntryOp::Increment => MutationOp::Increment {
                counters: self.increments(),
            },
        };
        Ok(Mutation {
            mutation_id: self.mutation_id,
            entity: self.entity,
            id: self.entity_id,
            op,
        })
    }

    /// The counters of an increment entry.
    pub fn increments(&self) -> BTreeMap<String, i64> {
        self.payload
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The total an increment entry adds (entities have one counter each).
    pub fn increment_total(&self) -> i64 {
        self.increments().values().sum()
    }
}

const COLUMNS: &str =
    "seq, mutation_id, entity, entity_id, op, payload, base_version, sent, created_at";

/// An entry that cannot be read back (a damaged file, or a bug that stored it wrong).
/// It is never sent; the push shows its row as failed, with Discard, and goes on with
/// the rest of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub seq: i64,
    /// The row it belongs to, when that much can be read.
    pub row: Option<(EntityKind, Uuid)>,
    pub reason: String,
}

impl From<Unreadable> for CoreError {
    fn from(u: Unreadable) -> Self {
        CoreError::Corrupt(format!("outbox entry {}: {}", u.seq, u.reason))
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<std::result::Result<OutboxEntry, Unreadable>> {
    let seq: i64 = row.get("seq")?;
    let text = |name: &str| row.get::<_, Option<String>>(name).ok().flatten();
    let entity = text("entity").as_deref().and_then(EntityKind::parse);
    let entity_id = text("entity_id").and_then(|s| s.parse::<Uuid>().ok());
    let bad = |what: &str| Unreadable {
        seq,
        row: entity.zip(entity_id),
        reason: format!("bad {what}"),
    };
    Ok((|| {
        let op = text("op")
            .as_deref()
            .and_then(EntryOp::parse)
            .ok_or_else(|| bad("op"))?;
        let base_version = row
            .get::<_, Option<i64>>("base_version")
            .map_err(|_| bad("base version"))?;
        let sent = row.get::<_, bool>("sent").map_err(|_| bad("sent flag"))?;
        if sent && matches!(op, EntryOp::Update | EntryOp::Delete) && base_version.is_none() {
            return Err(bad("base version"));
        }
        Ok(OutboxEntry {
            seq,
            mutation_id: text("mutation_id")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("mutation id"))?,
            entity: entity.ok_or_else(|| bad("entity"))?,
            entity_id: entity_id.ok_or_else(|| bad("entity id"))?,
            op,
            payload: text("payload")
                .and_then(|p| serde_json::from_str::<Value>(&p).ok())
                .filter(Value::is_object)
                .ok_or_else(|| bad("payload"))?,
            base_version,
            sent,
            created_at: text("created_at")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| bad("timestamp"))?,
        })
    })())
}

/// Every entry of one row, oldest first.
pub fn entries_for(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE entity = ?1 AND entity_id = ?2 ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![entity.as_str(), id.to_string()], from_row)?;
    rows.map(|r| Ok(r??)).collect()
}

/// The oldest entry of every row, oldest first: what a push sends (one per row, so that
/// a row's mutations reach the server in order). An entry that cannot be read comes
/// back as such, so that it holds up nothing but its own row.
pub fn heads(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<std::result::Result<OutboxEntry, Unreadable>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE seq IN
             (SELECT MIN(seq) FROM outbox GROUP BY entity, entity_id)
         ORDER BY seq LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn len(conn: &Connection) -> Result<usize> {
    Ok(conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as usize)
}

/// Whether a create of this row has left the device with an unknown outcome: then the
/// server may have the row, and a local delete must reach the server.
pub fn create_in_flight(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox WHERE entity = ?1 AND entity_id = ?2 AND op = 'create' AND sent = 1",
            params![entity.as_str(), id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn insert(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    op: EntryOp,
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (mutation_id, entity, entity_id, op, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        mutation_id.to_string(),
        entity.as_str(),
        id.to_string(),
        op.as_str(),
        payload.to_string(),
        now.to_rfc3339()
    ])?;
    Ok(())
}

/// Records a create with the row's full data.
pub fn record_create(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    data: &Value,
    now: DateTime<Utc>,
) -> Result<()> {
    insert(conn, mutation_id, entity, id, EntryOp::Create, data, now)
}

/// Records changed fields. They merge into the row's last edit entry while it is unsent
/// and not a delete (a create absorbs them into its data); otherwise they queue behind
/// it. (Sent entries are always the oldest of a row, so an unsent edit has only unsent
/// entries after it.)
pub fn record_update(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let entries = entries_for(conn, entity, id)?;
    match entries.iter().rev().find(|e| e.op != EntryOp::Increment) {
        Some(last) if !last.sent && last.op != EntryOp::Delete => {
            let mut payload = last.payload.clone();
            merge_object(&mut payload, patch);
            conn.prepare_cached("UPDATE outbox SET payload = ?1 WHERE seq = ?2")?
                .execute(params![payload.to_string(), last.seq])?;
            Ok(())
        }
        _ => insert(conn, mutation_id, entity, id, EntryOp::Update, patch, now),
    }
}

/// Records a delete: unsent edits of the row are moot and dropped; sent ones stay ahead
/// of it, since the server may have applied them. Increments stay (harmless on a
/// tombstone, and kept if the delete loses a conflict).
pub fn record_delete(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM outbox WHERE entity = ?1 AND entity_id = ?2 AND sent = 0 AND op <> 'increment'",
    )?
    .execute(params![entity.as_str(), id.to_string()])?;
    insert(
        conn,
        mutation_id,
        entity,
        id,
        EntryOp::Delete,
        &Value::Object(Default::default()),
        now,
    )
}

/// Records a counter increment: it adds to the row's last entry if that is an unsent
/// increment, else queues behind the row's other entries.
pub fn record_increment(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    counter: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let entries = entries_for(conn, entity, id)?;
    match entries.last() {
        Some(last) if !last.sent && last.op == EntryOp::Increment => {
            let mut payload = last.payload.clone();
            let total = payload.get(counter).and_then(Value::as_i64).unwrap_or(0) + amount;
            if let Value::Object(m) = &mut payload {
                m.insert(counter.to_owned(), Value::from(total));
            }
            conn.prepare_cached("UPDATE outbox SET payload = ?1 WHERE seq = ?2")?
                .execute(params![payload.to_string(), last.seq])?;
            Ok(())
        }
        _ => {
            let payload = serde_json::json!({ counter: amount });
            insert(
                conn,
                mutation_id,
                entity,
                id,
                EntryOp::Increment,
                &payload,
                now,
            )
        }
    }
}

/// Whether this row has a create the server has not confirmed yet (others that refer to
/// the row wait for it).
pub fn has_pending_create(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM outbox WHERE entity = ?1 AND entity_id = ?2 AND op = 'create' LIMIT 1",
        )?
        .query_row(params![entity.as_str(), id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Drops the row's edits (create, update, delete) but not its counter increments: what
/// taking the server's version does.
pub fn drop_edits(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM outbox WHERE entity = ?1 AND entity_id = ?2 AND op <> 'increment'",
    )?
    .execute(params![entity.as_str(), id.to_string()])?;
    Ok(())
}

/// Rewrites a field of the row's unsent entries (e.g. unlinking a hero that will never
/// reach the server). Sent entries are frozen and left alone.
pub fn rewrite_unsent_field(
    conn: &Connection,
    entity: EntityKind,
    id: Uuid,
    field: &str,
    value: &Value,
) -> Result<()> {
    for e in entries_for(conn, entity, id)? {
        if e.sent || e.op == EntryOp::Increment {
            continue;
        }
        let mut payload = e.payload.clone();
        if let Value::Object(m) = &mut payload {
            if m.contains_key(field) {
                m.insert(field.to_owned(), value.clone());
                conn.prepare_cached("UPDATE outbox SET payload = ?1 WHERE seq = ?2")?
                    .execute(params![payload.to_string(), e.seq])?;
            }
        }
    }
    Ok(())
}

/// Freezes an entry before it is first sent: from now on a retry must replay it exactly.
pub fn freeze(conn: &Connection, seq: i64, base_version: Option<i64>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET sent = 1, base_version = ?1 WHERE seq = ?2 AND sent = 0",
    )?
    .execute(params![base_version, seq])?;
    Ok(())
}

pub fn remove(conn: &Connection, seq: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
        .execute(params![seq])?;
    Ok(())
}

pub fn drop_all(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE entity = ?1 AND entity_id = ?2")?
        .execute(params![entity.as_str(), id.to_string()])?;
    Ok(())
}

/// Gives the row's pending change a fresh mutation id after the server definitively did
/// not apply the old one. All the row's edits fold into one unsent entry of `op` (a
/// create that became an update sends its full data as the patch), unless `payload`
/// says what to send instead (a change rebased on the server's version). Increments are
/// kept as they are.
pub fn reissue(
    conn: &Connection,
    mutation_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    op: PendingOp,
    payload: Option<Value>,
    now: DateTime<Utc>,
) -> Result<()> {
    let entries: Vec<OutboxEntry> = entries_for(conn, entity, id)?
        .into_iter()
        .filter(|e| e.op != EntryOp::Increment)
        .collect();
    let payload = match (op, payload) {
        (PendingOp::Delete, _) => Value::Object(Default::default()),
        (_, Some(p)) => p,
        (_, None) => {
            let mut folded = Value::Object(Default::default());
            for e in &entries {
                if e.op != EntryOp::Delete {
                    merge_object(&mut folded, &e.payload);
                }
            }
            folded
        }
    };
    let created_at = entries.first().map(|e| e.created_at).unwrap_or(now);
    drop_edits(conn, entity, id)?;
    insert(
        conn,
        mutation_id,
        entity,
        id,
        op.into(),
        &payload,
        created_at,
    )?;
    // In place: the re-issued change keeps the queue position of the oldest edit it
    // replaces, so that it stays ahead of the row's increments (which wait for a create).
    if let Some(first) = entries.first() {
        conn.prepare_cached("UPDATE outbox SET seq = ?1 WHERE mutation_id = ?2")?
            .execute(params![first.seq, mutation_id.to_string()])?;
    }
    Ok(())
}

/// Shallow JSON-object merge: keys of `later` overwrite those of `base`.
fn merge_object(base: &mut Value, later: &Value) {
    match (base, later) {
        (Value::Object(b), Value::Object(l)) => {
            for (k, v) in l {
                b.insert(k.clone(), v.clone());
            }
        }
        (b, l) => *b = l.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn unsent_entries_absorb_edits_sent_ones_are_frozen() {
        let conn = db::open_in_memory().unwrap();
        let row = id(1);
        record_create(
            &conn,
            id(100),
            EntityKind::Hero,
            row,
            &json!({"name": "A", "age": 3}),
            now(),
        )
        .unwrap();
        record_update(
            &conn,
            id(101),
            EntityKind::Hero,
            row,
            &json!({"name": "B"}),
            now(),
        )
        .unwrap();
        let e = entries_for(&conn, EntityKind::Hero, row).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].payload, json!({"name": "B", "age": 3}));

        freeze(&conn, e[0].seq, None).unwrap();
        record_update(
            &conn,
            id(102),
            EntityKind::Hero,
            row,
            &json!({"age": 4}),
            now(),
        )
        .unwrap();
        let e = entries_for(&conn, EntityKind::Hero, row).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].payload,
            json!({"name": "B", "age": 3}),
            "a sent entry never changes"
        );
        assert!(create_in_flight(&conn, EntityKind::Hero, row).unwrap());
        assert_eq!((e[1].op, e[1].mutation_id), (EntryOp::Update, id(102)));
    }

    #[test]
    fn delete_drops_unsent_entries_and_keeps_sent_ones() {
        let conn = db::open_in_memory().unwrap();
        let row = id(1);
        record_update(
            &conn,
            id(100),
            EntityKind::Hero,
            row,
            &json!({"name": "A"}),
            now(),
        )
        .unwrap();
        let first = entries_for(&conn, EntityKind::Hero, row).unwrap()[0].seq;
        freeze(&conn, first, Some(3)).unwrap();
        record_update(
            &conn,
            id(101),
            EntityKind::Hero,
            row,
            &json!({"name": "B"}),
            now(),
        )
        .unwrap();
        record_delete(&conn, id(102), EntityKind::Hero, row, now()).unwrap();
        let ops: Vec<_> = entries_for(&conn, EntityKind::Hero, row)
            .unwrap()
            .iter()
            .map(|e| e.op)
            .collect();
        assert_eq!(ops, [EntryOp::Update, EntryOp::Delete]);
    }

    #[test]
    fn heads_are_one_per_row_in_order() {
        let conn = db::open_in_memory().unwrap();
        record_create(&conn, id(100), EntityKind::Hero, id(2), &json!({}), now()).unwrap();
        record_update(&conn, id(101), EntityKind::Hero, id(1), &json!({}), now()).unwrap();
        let seq = heads(&conn, 10).unwrap()[0].clone().unwrap().seq;
        freeze(&conn, seq, None).unwrap();
        record_update(
            &conn,
            id(102),
            EntityKind::Hero,
            id(2),
            &json!({"a": 1}),
            now(),
        )
        .unwrap();
        let heads = heads(&conn, 10).unwrap();
        let got: Vec<_> = heads
            .iter()
            .flatten()
            .map(|e| (e.entity_id, e.op))
            .collect();
        assert_eq!(got, [(id(2), EntryOp::Create), (id(1), EntryOp::Update)]);
        assert_eq!(len(&conn).unwrap(), 3);
    }

    #[test]
    fn reissue_folds_into_one_fresh_entry() {
        let conn = db::open_in_memory().unwrap();
        let row = id(1);
        record_create(
            &conn,
            id(100),
            EntityKind::Hero,
            row,
            &json!({"name": "A", "age": 3}),
            now(),
        )
        .unwrap();
        freeze(
            &conn,
            heads(&conn, 1).unwrap()[0].clone().unwrap().seq,
            None,
        )
        .unwrap();
        record_update(
            &conn,
            id(101),
            EntityKind::Hero,
            row,
            &json!({"age": 5}),
            now(),
        )
        .unwrap();
        reissue(
            &conn,
            id(200),
            EntityKind::Hero,
            row,
            PendingOp::Update,
            None,
            now(),
        )
        .unwrap();
        let e = entries_for(&conn, EntityKind::Hero, row).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].mutation_id, e[0].op, e[0].sent),
            (id(200), EntryOp::Update, false)
        );
        assert_eq!(e[0].payload, json!({"name": "A", "age": 5}));
    }

    #[test]
    fn increments_add_up_and_live_beside_edits() {
        let conn = db::open_in_memory().unwrap();
        let (row, k) = (id(1), EntityKind::Story);
        record_update(&conn, id(100), k, row, &json!({"title": "A"}), now()).unwrap();
        record_increment(&conn, id(101), k, row, "play_count", 1, now()).unwrap();
        record_increment(&conn, id(102), k, row, "play_count", 2, now()).unwrap();
        // An edit merges into the unsent update, not into the increment.
        record_update(&conn, id(103), k, row, &json!({"is_favorite": true}), now()).unwrap();
        let e = entries_for(&conn, k, row).unwrap();
        assert_eq!(
            e.iter().map(|e| e.op).collect::<Vec<_>>(),
            [EntryOp::Update, EntryOp::Increment]
        );
        assert_eq!(e[0].payload, json!({"title": "A", "is_favorite": true}));
        assert_eq!(e[1].increment_total(), 3);
        assert_eq!(
            e[1].to_mutation().unwrap().op,
            MutationOp::Increment {
                counters: [("play_count".to_owned(), 3)].into()
            }
        );

        // A sent increment is frozen: the next one queues behind it.
        freeze(&conn, e[1].seq, None).unwrap();
        record_increment(&conn, id(104), k, row, "play_count", 1, now()).unwrap();
        assert_eq!(entries_for(&conn, k, row).unwrap().len(), 3);

        // Taking the server's version drops the edits, never the increments; so does a
        // re-issue, and a delete keeps them too.
        reissue(
            &conn,
            id(105),
            k,
            row,
            PendingOp::Update,
            Some(json!({"title": "B"})),
            now(),
        )
        .unwrap();
        // In place: the re-issued edit keeps its queue position ahead of the increments.
        let e = entries_for(&conn, k, row).unwrap();
        assert_eq!(
            e.iter().map(|e| e.op).collect::<Vec<_>>(),
            [EntryOp::Update, EntryOp::Increment, EntryOp::Increment]
        );
        assert_eq!(e[0].payload, json!({"title": "B"}));
        assert_eq!(e[0].mutation_id, id(105));
        record_delete(&conn, id(106), k, row, now()).unwrap();
        drop_edits(&conn, k, row).unwrap();
        let e = entries_for(&conn, k, row).unwrap();
        assert_eq!(
            e.iter().map(|e| e.op).collect::<Vec<_>>(),
            [EntryOp::Increment, EntryOp::Increment]
        );
    }

    #[test]
    fn pending_creates_and_unsent_rewrites() {
        let conn = db::open_in_memory().unwrap();
        record_create(
            &conn,
            id(100),
            EntityKind::Story,
            id(1),
            &json!({"hero_id": id(9)}),
            now(),
        )
        .unwrap();
        assert!(has_pending_create(&conn, EntityKind::Story, id(1)).unwrap());
        assert!(!has_pending_create(&conn, EntityKind::Hero, id(1)).unwrap());
        rewrite_unsent_field(&conn, EntityKind::Story, id(1), "hero_id", &Value::Null).unwrap();
        assert_eq!(
            entries_for(&conn, EntityKind::Story, id(1)).unwrap()[0].payload,
            json!({"hero_id": null})
        );
    }

    #[test]
    fn mutation_needs_a_frozen_base_version() {
        let conn = db::open_in_memory().unwrap();
        record_delete(&conn, id(100), EntityKind::Hero, id(1), now()).unwrap();
        let e = &heads(&conn, 1).unwrap()[0].clone().unwrap();
        assert!(e.to_mutation().is_err());
        freeze(&conn, e.seq, Some(7)).unwrap();
        let e = &heads(&conn, 1).unwrap()[0].clone().unwrap();
        assert_eq!(
            e.to_mutation().unwrap().op,
            MutationOp::Delete { base_version: 7 }
        );
    }
}
