//! The hero repository: local reads, optimistic writes (row + outbox entry in one
//! transaction), and the row effects the sync engine applies.

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, HeroInput, HeroRecord, HeroTrait};
use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::model::{HeroView, RowSync};
use crate::outbox;
use crate::repo::Ctx;
use crate::sync_state::{next_state, OutboxEffect, PendingOp, RowEffect, SyncEvent, SyncState, Transition};

const KIND: EntityKind = EntityKind::Hero;

/// A hero as stored locally: its fields and its sync metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct HeroRow {
    pub id: Uuid,
    pub fields: HeroInput,
    pub avatar_url: Option<String>,
    pub avatar_generation_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub state: SyncState,
    pub base_version: Option<i64>,
    pub base_snapshot: Option<HeroRecord>,
    pub server_snapshot: Option<HeroRecord>,
    pub changed_fields: Vec<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub server_updated_at: Option<DateTime<Utc>>,
    pub sync_error: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl HeroRow {
    /// A row that mirrors a server record.
    pub fn from_server(rec: &HeroRecord, now: DateTime<Utc>) -> HeroRow {
        let mut row = HeroRow {
            id: rec.id,
            fields: rec.input(),
            avatar_url: None,
            avatar_generation_id: None,
            created_at: rec.created_at,
            updated_at: rec.updated_at,
            state: SyncState::Synced,
            base_version: None,
            base_snapshot: None,
            server_snapshot: None,
            changed_fields: Vec::new(),
            last_synced_at: None,
            server_updated_at: None,
            sync_error: None,
            attempts: 0,
            next_attempt_at: None,
        };
        row.take_server(rec, now);
        row
    }

    /// Overwrites the row with the server's copy: synced, nothing pending.
    pub fn take_server(&mut self, rec: &HeroRecord, now: DateTime<Utc>) {
        self.fields = rec.input();
        self.created_at = rec.created_at;
        self.updated_at = rec.updated_at;
        self.state = SyncState::Synced;
        self.changed_fields.clear();
        self.server_snapshot = None;
        self.sync_error = None;
        self.attempts = 0;
        self.next_attempt_at = None;
        self.mark_base(rec, now);
    }

    /// Records that the server holds `rec` as the version our local state builds on.
    /// Server-written fields (the avatar) always follow the server.
    pub fn mark_base(&mut self, rec: &HeroRecord, now: DateTime<Utc>) {
        self.base_version = Some(rec.version);
        self.base_snapshot = Some(rec.clone());
        self.server_updated_at = Some(rec.updated_at);
        self.last_synced_at = Some(now);
        self.avatar_url.clone_from(&rec.avatar_url);
        self.avatar_generation_id.clone_from(&rec.avatar_generation_id);
        if self.server_snapshot.as_ref().is_some_and(|s| s.version <= rec.version) {
            self.server_snapshot = None;
        }
    }

    pub fn view(&self, max_attempts: u32) -> HeroView {
        HeroView {
            id: self.id,
            name: self.fields.name.clone(),
            age: self.fields.age,
            traits: self.fields.traits.clone(),
            appearance: self.fields.appearance.clone(),
            special_ability: self.fields.special_ability.clone(),
            avatar_url: self.avatar_url.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            sync: RowSync {
                status: self.state.status(),
                op: self.state.op(),
                error: self.sync_error.clone(),
                attempts: self.attempts,
                given_up: matches!(self.state, SyncState::Failed(_)) && self.attempts >= max_attempts,
                next_attempt_at: self.next_attempt_at,
                version: self.base_version,
                last_synced_at: self.last_synced_at,
            },
        }
    }

    /// The local version as a record, for the conflict history.
    pub fn as_record(&self) -> HeroRecord {
        HeroRecord {
            id: self.id,
            version: self.base_version.unwrap_or(0),
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted: self.state == SyncState::Pending(PendingOp::Delete),
            name: self.fields.name.clone(),
            age: self.fields.age,
            traits: self.fields.traits.clone(),
            appearance: self.fields.appearance.clone(),
            special_ability: self.fields.special_ability.clone(),
            avatar_url: self.avatar_url.clone(),
            avatar_generation_id: self.avatar_generation_id.clone(),
        }
    }

    fn add_changed(&mut self, fields: &[&str]) {
        for f in fields {
            if !self.changed_fields.iter().any(|c| c == f) {
                self.changed_fields.push((*f).to_owned());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Storage

const COLUMNS: &str = "id, name, age, traits, appearance, special_ability, avatar_url, avatar_generation_id,
    created_at, updated_at, sync_status, sync_op, base_version, base_snapshot, server_snapshot,
    changed_fields, last_synced_at, server_updated_at, sync_error, attempts, next_attempt_at";

fn corrupt(id: &str, what: &str) -> CoreError {
    CoreError::Corrupt(format!("hero {id}: bad {what}"))
}

fn parse_time(id: &str, what: &str, s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| s.parse().map_err(|_| corrupt(id, what))).transpose()
}

fn parse_json<T: serde::de::DeserializeOwned>(id: &str, what: &str, s: Option<String>) -> Result<Option<T>> {
    s.map(|s| serde_json::from_str(&s).map_err(|_| corrupt(id, what))).transpose()
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Result<HeroRow>> {
    let id: String = r.get(0)?;
    let name: String = r.get(1)?;
    let age: i64 = r.get(2)?;
    let traits: String = r.get(3)?;
    let appearance: String = r.get(4)?;
    let special_ability: String = r.get(5)?;
    let avatar_url: Option<String> = r.get(6)?;
    let avatar_generation_id: Option<String> = r.get(7)?;
    let created_at: String = r.get(8)?;
    let updated_at: String = r.get(9)?;
    let status: String = r.get(10)?;
    let op: Option<String> = r.get(11)?;
    let base_version: Option<i64> = r.get(12)?;
    let base_snapshot: Option<String> = r.get(13)?;
    let server_snapshot: Option<String> = r.get(14)?;
    let changed_fields: String = r.get(15)?;
    let last_synced_at: Option<String> = r.get(16)?;
    let server_updated_at: Option<String> = r.get(17)?;
    let sync_error: Option<String> = r.get(18)?;
    let attempts: i64 = r.get(19)?;
    let next_attempt_at: Option<String> = r.get(20)?;
    Ok((|| {
        let i = id.as_str();
        Ok(HeroRow {
            id: id.parse().map_err(|_| corrupt(i, "id"))?,
            fields: HeroInput {
                name,
                age: u8::try_from(age).map_err(|_| corrupt(i, "age"))?,
                traits: parse_json::<Vec<HeroTrait>>(i, "traits", Some(traits))?.unwrap_or_default(),
                appearance,
                special_ability,
            },
            avatar_url,
            avatar_generation_id,
            created_at: parse_time(i, "created_at", Some(created_at))?.unwrap_or_default(),
            updated_at: parse_time(i, "updated_at", Some(updated_at))?.unwrap_or_default(),
            state: SyncState::from_columns(&status, op.as_deref()).ok_or_else(|| corrupt(i, "sync status"))?,
            base_version,
            base_snapshot: parse_json(i, "base_snapshot", base_snapshot)?,
            server_snapshot: parse_json(i, "server_snapshot", server_snapshot)?,
            changed_fields: parse_json(i, "changed_fields", Some(changed_fields))?.unwrap_or_default(),
            last_synced_at: parse_time(i, "last_synced_at", last_synced_at)?,
            server_updated_at: parse_time(i, "server_updated_at", server_updated_at)?,
            sync_error,
            attempts: u32::try_from(attempts).unwrap_or(0),
            next_attempt_at: parse_time(i, "next_attempt_at", next_attempt_at)?,
        })
    })())
}

pub fn load(conn: &Connection, id: Uuid) -> Result<Option<HeroRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM heroes WHERE id = ?1"))?;
    stmt.query_row(params![id.to_string()], from_row).optional()?.transpose()
}

fn load_existing(conn: &Connection, id: Uuid) -> Result<HeroRow> {
    load(conn, id)?.ok_or_else(|| CoreError::NotFound { entity: "hero", id: id.to_string() })
}

pub fn save(conn: &Connection, row: &HeroRow) -> Result<()> {
    let (status, op) = row.state.to_columns();
    let json = |v: &Option<HeroRecord>| v.as_ref().map(|r| serde_json::to_string(r)).transpose();
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO heroes ({COLUMNS}) VALUES
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
    ))?
    .execute(params![
        row.id.to_string(),
        row.fields.name,
        row.fields.age,
        serde_json::to_string(&row.fields.traits)?,
        row.fields.appearance,
        row.fields.special_ability,
        row.avatar_url,
        row.avatar_generation_id,
        row.created_at.to_rfc3339(),
        row.updated_at.to_rfc3339(),
        status,
        op,
        row.base_version,
        json(&row.base_snapshot)?,
        json(&row.server_snapshot)?,
        serde_json::to_string(&row.changed_fields)?,
        time(row.last_synced_at),
        time(row.server_updated_at),
        row.sync_error,
        row.attempts,
        time(row.next_attempt_at),
    ])?;
    Ok(())
}

pub fn remove(conn: &Connection, id: Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM heroes WHERE id = ?1")?.execute(params![id.to_string()])?;
    Ok(())
}

/// Every visible hero (pending deletes are hidden), by name.
pub fn list(conn: &Connection, max_attempts: u32) -> Result<Vec<HeroView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM heroes WHERE sync_status <> 'pending_delete'
         ORDER BY name COLLATE NOCASE, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    rows.map(|r| Ok(r??.view(max_attempts))).collect()
}

pub fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<HeroView> {
    let row = load_existing(conn, id)?;
    if row.state == SyncState::Pending(PendingOp::Delete) {
        return Err(CoreError::NotFound { entity: "hero", id: id.to_string() });
    }
    Ok(row.view(max_attempts))
}

// ---------------------------------------------------------------------------------------
// Optimistic local writes. Each runs inside the caller's transaction.

fn validated(input: HeroInput) -> Result<HeroInput> {
    let input = input.normalized();
    input.validate().map_err(CoreError::Validation)?;
    Ok(input)
}

pub fn create(tx: &Connection, ctx: &Ctx<'_>, input: HeroInput) -> Result<HeroView> {
    let input = validated(input)?;
    let now = ctx.now();
    let row = HeroRow {
        id: ctx.new_id(),
        changed_fields: Vec::new(),
        fields: input,
        avatar_url: None,
        avatar_generation_id: None,
        created_at: now,
        updated_at: now,
        state: SyncState::Pending(PendingOp::Create),
        base_version: None,
        base_snapshot: None,
        server_snapshot: None,
        last_synced_at: None,
        server_updated_at: None,
        sync_error: None,
        attempts: 0,
        next_attempt_at: None,
    };
    save(tx, &row)?;
    outbox::record_create(tx, ctx.new_id(), KIND, row.id, &serde_json::to_value(&row.fields)?, now)?;
    Ok(row.view(ctx.max_attempts))
}

/// Saves the full form: only the fields that differ become the pending change.
pub fn update(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, input: HeroInput) -> Result<HeroView> {
    let input = validated(input)?;
    let mut row = load_existing(tx, id)?;
    let patch = row.fields.diff(&input);
    if patch.is_empty() {
        return Ok(row.view(ctx.max_attempts));
    }
    let t = next_state(row.state, SyncEvent::LocalEdit)?;
    row.fields = input;
    row.add_changed(&patch.fields());
    row.updated_at = ctx.now();
    apply_local(tx, ctx, &mut row, t, Some(serde_json::to_value(&patch)?))?;
    Ok(row.view(ctx.max_attempts))
}

pub fn delete(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
    let mut row = load_existing(tx, id)?;
    let on_server = row.base_version.is_some() || outbox::create_in_flight(tx, KIND, id)?;
    let t = next_state(row.state, SyncEvent::LocalDelete { on_server })?;
    apply_local(tx, ctx, &mut row, t, None)
}

pub fn retry(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<HeroView> {
    let mut row = load_existing(tx, id)?;
    let t = next_state(row.state, SyncEvent::Retry)?;
    apply_local(tx, ctx, &mut row, t, None)?;
    Ok(row.view(ctx.max_attempts))
}

pub fn discard(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
    let mut row = load_existing(tx, id)?;
    let on_server = row.base_version.is_some() || outbox::create_in_flight(tx, KIND, id)?;
    let t = next_state(row.state, SyncEvent::Discard { on_server })?;
    apply_local(tx, ctx, &mut row, t, None)
}

/// Applies a transition caused by the user.
fn apply_local(
    tx: &Connection,
    ctx: &Ctx<'_>,
    row: &mut HeroRow,
    t: Transition,
    patch: Option<serde_json::Value>,
) -> Result<()> {
    let now = ctx.now();
    row.state = t.state;
    if t.reset_attempts {
        row.attempts = 0;
        row.next_attempt_at = None;
        row.sync_error = None;
    }
    match t.row {
        RowEffect::Remove => {
            remove(tx, row.id)?;
        }
        RowEffect::RevertToBase => {
            match row.base_snapshot.clone() {
                Some(base) => row.take_server(&base, now),
                None => return Err(CoreError::Corrupt(format!("hero {}: no synced copy to revert to", row.id))),
            }
            save(tx, row)?;
        }
        RowEffect::TakeServer => {
            let server = row.server_snapshot.clone().or_else(|| row.base_snapshot.clone());
            match server {
                Some(rec) if rec.deleted => remove(tx, row.id)?,
                Some(rec) => {
                    row.take_server(&rec, now);
                    save(tx, row)?;
                }
                None => return Err(CoreError::Corrupt(format!("hero {}: no server copy", row.id))),
            }
        }
        RowEffect::Keep | RowEffect::Rebase | RowEffect::RememberServer => save(tx, row)?,
    }
    match t.outbox {
        OutboxEffect::Record(PendingOp::Update) => {
            let patch = patch.unwrap_or_else(|| serde_json::json!({}));
            outbox::record_update(tx, ctx.new_id(), KIND, row.id, &patch, now)?;
        }
        OutboxEffect::Record(PendingOp::Delete) => outbox::record_delete(tx, ctx.new_id(), KIND, row.id, now)?,
        OutboxEffect::Record(PendingOp::Create) => {
            outbox::record_create(tx, ctx.new_id(), KIND, row.id, &serde_json::to_value(&row.fields)?, now)?
        }
        OutboxEffect::DropAll => outbox::drop_all(tx, KIND, row.id)?,
        OutboxEffect::None | OutboxEffect::Hold | OutboxEffect::PopHead | OutboxEffect::Reissue => {}
    }
    Ok(())
}

/// Counts of rows by badge, for the sync indicator.
pub fn counts(conn: &Connection) -> Result<(u32, u32, u32)> {
    let mut stmt = conn.prepare_cached(
        "SELECT
            COALESCE(SUM(sync_status IN ('pending_create', 'pending_update', 'pending_delete')), 0),
            COALESCE(SUM(sync_status = 'failed'), 0),
            COALESCE(SUM(sync_status = 'conflict'), 0)
         FROM heroes WHERE sync_status <> 'synced'",
    )?;
    Ok(stmt.query_row([], |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32, r.get::<_, i64>(2)? as u32)))?)
}

/// The earliest time a pending row waits for before its next push attempt.
pub fn next_retry_at(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let t: Option<String> = conn.query_row(
        "SELECT MIN(next_attempt_at) FROM heroes WHERE sync_status LIKE 'pending_%' AND next_attempt_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(t.and_then(|t| t.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::db;
    use crate::rng::SplitMix64;
    use is_protocol::HeroTrait;

    struct Fixture {
        conn: Connection,
        clock: ManualClock,
        rng: SplitMix64,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                conn: db::open_in_memory().unwrap(),
                clock: ManualClock::new("2026-03-01T08:00:00Z".parse().unwrap()),
                rng: SplitMix64::new(1),
            }
        }
        fn ctx(&self) -> Ctx<'_> {
            Ctx { clock: &self.clock, rng: &self.rng, max_attempts: 3 }
        }
        fn tx<R>(&mut self, f: impl FnOnce(&Connection, &Ctx<'_>) -> Result<R>) -> Result<R> {
            let ctx = Ctx { clock: &self.clock, rng: &self.rng, max_attempts: 3 };
            let tx = self.conn.transaction().unwrap();
            let out = f(&tx, &ctx)?;
            tx.commit().unwrap();
            Ok(out)
        }
        fn outbox_ops(&self, id: Uuid) -> Vec<PendingOp> {
            outbox::entries_for(&self.conn, KIND, id).unwrap().iter().map(|e| e.op).collect()
        }
    }

    fn luna() -> HeroInput {
        HeroInput {
            name: "  Luna ".into(),
            age: 6,
            traits: vec![HeroTrait::Brave],
            appearance: String::new(),
            special_ability: String::new(),
        }
    }

    fn synced(f: &mut Fixture, version: i64) -> Uuid {
        let now = f.clock.now();
        let rec = HeroRecord {
            id: Uuid::from_u128(7),
            version,
            created_at: now,
            updated_at: now,
            deleted: false,
            name: "Max".into(),
            age: 8,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            avatar_url: None,
            avatar_generation_id: None,
        };
        save(&f.conn, &HeroRow::from_server(&rec, now)).unwrap();
        rec.id
    }

    #[test]
    fn create_writes_row_and_outbox_together_normalized() {
        let mut f = Fixture::new();
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        assert_eq!(view.name, "Luna");
        assert_eq!(view.sync.status, crate::sync_state::SyncStatus::PendingCreate);
        assert_eq!(f.outbox_ops(view.id), [PendingOp::Create]);
        let entry = &outbox::entries_for(&f.conn, KIND, view.id).unwrap()[0];
        assert_eq!(entry.payload["name"], "Luna");
        assert_eq!(load(&f.conn, view.id).unwrap().unwrap().view(3), view);
    }

    #[test]
    fn invalid_input_writes_nothing() {
        let mut f = Fixture::new();
        let mut bad = luna();
        bad.age = 0;
        bad.traits.clear();
        let err = f.tx(|tx, ctx| create(tx, ctx, bad)).unwrap_err();
        let CoreError::Validation(fields) = err else { panic!("{err}") };
        assert_eq!(fields.len(), 2);
        assert!(list(&f.conn, 3).unwrap().is_empty());
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn edit_of_a_synced_row_records_only_the_changed_fields() {
        let mut f = Fixture::new();
        let id = synced(&mut f, 4);
        let mut changed = HeroInput { name: "Max".into(), age: 9, traits: vec![HeroTrait::Kind], appearance: String::new(), special_ability: String::new() };
        let view = f.tx(|tx, ctx| update(tx, ctx, id, changed.clone())).unwrap();
        assert_eq!(view.sync.status, crate::sync_state::SyncStatus::PendingUpdate);
        let entries = outbox::entries_for(&f.conn, KIND, id).unwrap();
        assert_eq!(entries[0].payload, serde_json::json!({"age": 9}));
        let row = load(&f.conn, id).unwrap().unwrap();
        assert_eq!((row.base_version, row.changed_fields.clone()), (Some(4), vec!["age".to_owned()]));
        assert_eq!(row.base_snapshot.unwrap().age, 8, "the synced copy is kept for merges");

        // Saving the same form again is not a change.
        f.tx(|tx, ctx| update(tx, ctx, id, changed.clone())).unwrap();
        changed.name = "Maxi".into();
        f.tx(|tx, ctx| update(tx, ctx, id, changed)).unwrap();
        let entries = outbox::entries_for(&f.conn, KIND, id).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].payload, serde_json::json!({"age": 9, "name": "Maxi"}));
    }

    #[test]
    fn delete_hides_the_row_and_queues_one_delete() {
        let mut f = Fixture::new();
        let id = synced(&mut f, 2);
        f.tx(|tx, ctx| delete(tx, ctx, id)).unwrap();
        assert!(list(&f.conn, 3).unwrap().is_empty());
        assert_eq!(get(&f.conn, id, 3).unwrap_err().code(), "not_found");
        assert_eq!(f.outbox_ops(id), [PendingOp::Delete]);
        // Editing a deleted hero is refused with a clear message.
        let err = f.tx(|tx, ctx| update(tx, ctx, id, luna())).unwrap_err();
        assert_eq!(err.code(), "invalid_transition");
        assert!(err.to_string().contains("deleted"), "{err}");
    }

    #[test]
    fn deleting_an_unsent_create_leaves_no_trace() {
        let mut f = Fixture::new();
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        f.tx(|tx, ctx| delete(tx, ctx, view.id)).unwrap();
        assert!(load(&f.conn, view.id).unwrap().is_none());
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn deleting_a_create_in_flight_queues_a_delete_behind_it() {
        let mut f = Fixture::new();
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        let seq = outbox::heads(&f.conn, 1).unwrap()[0].seq;
        outbox::freeze(&f.conn, seq, None).unwrap();
        f.tx(|tx, ctx| delete(tx, ctx, view.id)).unwrap();
        assert_eq!(f.outbox_ops(view.id), [PendingOp::Create, PendingOp::Delete]);
        assert_eq!(load(&f.conn, view.id).unwrap().unwrap().state, SyncState::Pending(PendingOp::Delete));
    }

    #[test]
    fn discard_of_a_failed_update_restores_the_synced_copy() {
        let mut f = Fixture::new();
        let id = synced(&mut f, 2);
        let mut changed = luna();
        changed.name = "Someone else".into();
        f.tx(|tx, ctx| update(tx, ctx, id, changed)).unwrap();
        let mut row = load(&f.conn, id).unwrap().unwrap();
        row.state = SyncState::Failed(PendingOp::Update);
        row.attempts = 3;
        save(&f.conn, &row).unwrap();
        assert!(get(&f.conn, id, 3).unwrap().sync.given_up);

        f.tx(|tx, ctx| discard(tx, ctx, id)).unwrap();
        let view = get(&f.conn, id, 3).unwrap();
        assert_eq!((view.name.as_str(), view.sync.status), ("Max", crate::sync_state::SyncStatus::Synced));
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn list_is_sorted_by_name_and_counts_add_up() {
        let mut f = Fixture::new();
        for name in ["zed", "Amy", "bob"] {
            let mut h = luna();
            h.name = name.into();
            f.tx(|tx, ctx| create(tx, ctx, h)).unwrap();
        }
        let names: Vec<_> = list(&f.conn, 3).unwrap().into_iter().map(|h| h.name).collect();
        assert_eq!(names, ["Amy", "bob", "zed"]);
        assert_eq!(counts(&f.conn).unwrap(), (3, 0, 0));
        let _ = f.ctx();
    }

    #[test]
    fn a_corrupt_row_is_an_error_not_a_panic() {
        let f = Fixture::new();
        f.conn
            .execute(
                "INSERT INTO heroes (id, name, age, traits, created_at, updated_at, sync_status)
                 VALUES ('00000000-0000-0000-0000-000000000001', 'x', 3, 'not json', 'x', 'x', 'synced')",
                [],
            )
            .unwrap();
        let err = list(&f.conn, 3).unwrap_err();
        assert!(matches!(err, CoreError::Corrupt(_)), "{err}");
    }
}
