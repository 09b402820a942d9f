//! Heroes (SPEC.md section 2): the [`SyncEntity`] description, the view and the list.
//! Writes go through the generic repository ([`crate::repo`]).

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, FieldError, HeroInput, HeroRecord, HeroTrait, Record};
use rusqlite::{Connection, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{self, Binder, ConflictStrategy, FieldsRead, RecordMeta, SyncEntity, SyncRow};
use crate::error::Result;
use crate::merge::FieldSpec;
use crate::model::HeroView;
use crate::policy::CachePolicy;
use crate::repo::{self, Ctx};
use crate::sync_state::Transition;

/// The hero entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Hero;

/// A hero as stored locally: its fields and its sync metadata.
pub type HeroRow = SyncRow<Hero>;

/// Server-written hero fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeroServer {
    pub avatar_url: Option<String>,
    pub avatar_generation_id: Option<String>,
}

impl SyncEntity for Hero {
    const KIND: EntityKind = EntityKind::Hero;
    const TABLE: &'static str = "heroes";
    const LABEL: &'static str = "hero";
    const STRATEGY: ConflictStrategy = ConflictStrategy::ServerWins;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;
    const FIELD_COLUMNS: &'static [&'static str] = &[
        "name",
        "age",
        "traits",
        "appearance",
        "special_ability",
        "avatar_url",
        "avatar_generation_id",
    ];
    const MERGE_FIELDS: &'static [FieldSpec] = &[
        FieldSpec::text("name"),
        FieldSpec::value("age"),
        FieldSpec::set("traits"),
        FieldSpec::text("appearance"),
        FieldSpec::text("special_ability"),
    ];

    type Input = HeroInput;
    type Record = HeroRecord;
    type Server = HeroServer;

    fn record_meta(r: &HeroRecord) -> RecordMeta {
        RecordMeta {
            id: r.id,
            version: r.version,
            deleted: r.deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn record_parts(r: &HeroRecord) -> (HeroInput, HeroServer) {
        (r.input(), Self::record_server(r))
    }

    fn record_server(r: &HeroRecord) -> HeroServer {
        HeroServer {
            avatar_url: r.avatar_url.clone(),
            avatar_generation_id: r.avatar_generation_id.clone(),
        }
    }

    fn make_record(m: RecordMeta, i: &HeroInput, s: &HeroServer) -> HeroRecord {
        HeroRecord {
            id: m.id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted: m.deleted,
            name: i.name.clone(),
            age: i.age,
            traits: i.traits.clone(),
            appearance: i.appearance.clone(),
            special_ability: i.special_ability.clone(),
            avatar_url: s.avatar_url.clone(),
            avatar_generation_id: s.avatar_generation_id.clone(),
        }
    }

    fn from_wire(rec: &Record) -> Option<&HeroRecord> {
        match rec {
            Record::Hero(h) => Some(h),
            _ => None,
        }
    }

    fn title(input: &HeroInput) -> String {
        input.name.clone()
    }

    fn normalized(input: HeroInput) -> HeroInput {
        input.normalized()
    }

    fn validate(input: &HeroInput) -> Result<(), Vec<FieldError>> {
        input.validate()
    }

    fn diff(from: &HeroInput, to: &HeroInput) -> (Value, Vec<&'static str>) {
        let patch = from.diff(to);
        (
            serde_json::to_value(&patch).unwrap_or_default(),
            patch.fields(),
        )
    }

    fn bind_fields(b: &mut Binder<'_, '_>, i: &HeroInput, s: &HeroServer) -> rusqlite::Result<()> {
        b.bind(&i.name)?;
        b.bind(i.age)?;
        b.bind(traits_json(&i.traits))?;
        b.bind(&i.appearance)?;
        b.bind(&i.special_ability)?;
        b.bind(&s.avatar_url)?;
        b.bind(&s.avatar_generation_id)
    }

    fn read_fields(r: &Row<'_>, at: usize) -> FieldsRead<HeroInput, HeroServer> {
        let name: String = r.get(at)?;
        let age: i64 = r.get(at + 1)?;
        let traits: String = r.get(at + 2)?;
        let appearance: String = r.get(at + 3)?;
        let special_ability: String = r.get(at + 4)?;
        let avatar_url: Option<String> = r.get(at + 5)?;
        let avatar_generation_id: Option<String> = r.get(at + 6)?;
        Ok((|| {
            Ok((
                HeroInput {
                    name,
                    age: u8::try_from(age).map_err(|_| "age".to_owned())?,
                    traits: serde_json::from_str::<Vec<HeroTrait>>(&traits)
                        .map_err(|_| "traits".to_owned())?,
                    appearance,
                    special_ability,
                },
                HeroServer {
                    avatar_url,
                    avatar_generation_id,
                },
            ))
        })())
    }

    fn on_removed(conn: &Connection, id: Uuid) -> Result<()> {
        // The hero is gone for good: its stories stay, unlinked.
        repo::stories::forget_hero(conn, id)
    }
}

fn traits_json(traits: &[HeroTrait]) -> String {
    // A list of unit enum values always serializes.
    serde_json::to_string(traits).unwrap_or_else(|_| "[]".to_owned())
}

/// The hero as the UI shows it.
pub fn view(row: &HeroRow, max_attempts: u32) -> HeroView {
    HeroView {
        id: row.id,
        name: row.fields.name.clone(),
        age: row.fields.age,
        traits: row.fields.traits.clone(),
        appearance: row.fields.appearance.clone(),
        special_ability: row.fields.special_ability.clone(),
        avatar_url: row.server.avatar_url.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    }
}

pub fn load(conn: &Connection, id: Uuid) -> Result<Option<HeroRow>> {
    entity::load::<Hero>(conn, id)
}

pub fn save(conn: &Connection, row: &HeroRow) -> Result<()> {
    entity::save(conn, row)
}

pub fn remove(conn: &Connection, id: Uuid) -> Result<()> {
    entity::remove::<Hero>(conn, id)
}

/// Every visible hero (pending deletes are hidden), by name.
pub fn list(conn: &Connection, max_attempts: u32) -> Result<Vec<HeroView>> {
    let rows = entity::load_where::<Hero>(
        conn,
        "sync_status <> 'pending_delete'",
        "name COLLATE NOCASE, id",
        [],
    )?;
    Ok(rows.iter().map(|r| view(r, max_attempts)).collect())
}

pub fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<HeroView> {
    Ok(view(&repo::get_visible::<Hero>(conn, id)?, max_attempts))
}

pub fn create(tx: &Connection, ctx: &Ctx<'_>, input: HeroInput) -> Result<HeroView> {
    Ok(view(
        &repo::create::<Hero>(tx, ctx, input)?,
        ctx.max_attempts,
    ))
}

pub fn update(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, input: HeroInput) -> Result<HeroView> {
    Ok(view(
        &repo::update::<Hero>(tx, ctx, id, input)?,
        ctx.max_attempts,
    ))
}

/// Deletes the hero. Its stories are kept: the server unlinks them when it applies the
/// delete (and they show unlinked meanwhile); a hero that never reached the server
/// unlinks them at once.
pub fn delete(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<Transition> {
    repo::delete::<Hero>(tx, ctx, id)
}

pub fn retry(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<HeroView> {
    Ok(view(&repo::retry::<Hero>(tx, ctx, id)?, ctx.max_attempts))
}

pub fn discard(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
    repo::discard::<Hero>(tx, ctx, id)
}

/// Counts of rows by badge (over every entity), for the sync indicator.
pub fn counts(conn: &Connection) -> Result<(u32, u32, u32)> {
    repo::counts(conn)
}

/// The earliest time a pending row waits for before its next push attempt.
pub fn next_retry_at(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    repo::next_retry_at(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::db;
    use crate::error::CoreError;
    use crate::outbox::{self, EntryOp};
    use crate::rng::SplitMix64;
    use crate::sync_state::{PendingOp, SyncState};

    const KIND: EntityKind = EntityKind::Hero;

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
            Ctx {
                clock: &self.clock,
                rng: &self.rng,
                max_attempts: 3,
            }
        }
        fn tx<R>(&mut self, f: impl FnOnce(&Connection, &Ctx<'_>) -> Result<R>) -> Result<R> {
            let ctx = Ctx {
                clock: &self.clock,
                rng: &self.rng,
                max_attempts: 3,
            };
            let tx = self.conn.transaction().unwrap();
            let out = f(&tx, &ctx)?;
            tx.commit().unwrap();
            Ok(out)
        }
        fn outbox_ops(&self, id: Uuid) -> Vec<EntryOp> {
            outbox::entries_for(&self.conn, KIND, id)
                .unwrap()
                .iter()
                .map(|e| e.op)
                .collect()
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
        save(&f.conn, &HeroRow::from_server(&rec, now, 0)).unwrap();
        rec.id
    }

    #[test]
    fn create_writes_row_and_outbox_together_normalized() {
        let mut f = Fixture::new();
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        assert_eq!(view.name, "Luna");
        assert_eq!(
            view.sync.status,
            crate::sync_state::SyncStatus::PendingCreate
        );
        assert_eq!(f.outbox_ops(view.id), [EntryOp::Create]);
        let entry = &outbox::entries_for(&f.conn, KIND, view.id).unwrap()[0];
        assert_eq!(entry.payload["name"], "Luna");
        assert_eq!(
            super::view(&load(&f.conn, view.id).unwrap().unwrap(), 3),
            view
        );
    }

    #[test]
    fn invalid_input_writes_nothing() {
        let mut f = Fixture::new();
        let mut bad = luna();
        bad.age = 0;
        bad.traits.clear();
        let err = f.tx(|tx, ctx| create(tx, ctx, bad)).unwrap_err();
        let CoreError::Validation(fields) = err else {
            panic!("{err}")
        };
        assert_eq!(fields.len(), 2);
        assert!(list(&f.conn, 3).unwrap().is_empty());
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn edit_of_a_synced_row_records_only_the_changed_fields() {
        let mut f = Fixture::new();
        let id = synced(&mut f, 4);
        let mut changed = HeroInput {
            name: "Max".into(),
            age: 9,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
        };
        let view = f
            .tx(|tx, ctx| update(tx, ctx, id, changed.clone()))
            .unwrap();
        assert_eq!(
            view.sync.status,
            crate::sync_state::SyncStatus::PendingUpdate
        );
        let entries = outbox::entries_for(&f.conn, KIND, id).unwrap();
        assert_eq!(entries[0].payload, serde_json::json!({"age": 9}));
        let row = load(&f.conn, id).unwrap().unwrap();
        assert_eq!(
            (row.base_version, row.changed_fields.clone()),
            (Some(4), vec!["age".to_owned()])
        );
        assert_eq!(
            row.base_snapshot.unwrap().age,
            8,
            "the synced copy is kept for merges"
        );

        // Saving the same form again is not a change.
        f.tx(|tx, ctx| update(tx, ctx, id, changed.clone()))
            .unwrap();
        changed.name = "Maxi".into();
        f.tx(|tx, ctx| update(tx, ctx, id, changed)).unwrap();
        let entries = outbox::entries_for(&f.conn, KIND, id).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].payload,
            serde_json::json!({"age": 9, "name": "Maxi"})
        );
    }

    #[test]
    fn delete_hides_the_row_and_queues_one_delete() {
        let mut f = Fixture::new();
        let id = synced(&mut f, 2);
        f.tx(|tx, ctx| delete(tx, ctx, id)).unwrap();
        assert!(list(&f.conn, 3).unwrap().is_empty());
        assert_eq!(get(&f.conn, id, 3).unwrap_err().code(), "not_found");
        assert_eq!(f.outbox_ops(id), [EntryOp::Delete]);
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
        assert_eq!(f.outbox_ops(view.id), [EntryOp::Create, EntryOp::Delete]);
        assert_eq!(
            load(&f.conn, view.id).unwrap().unwrap().state,
            SyncState::Pending(PendingOp::Delete)
        );
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
        assert_eq!(
            (view.name.as_str(), view.sync.status),
            ("Max", crate::sync_state::SyncStatus::Synced)
        );
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
        let names: Vec<_> = list(&f.conn, 3)
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
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
