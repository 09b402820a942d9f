//! Heroes (SPEC.md section 2): what the client adds to the protocol's description of a
//! hero ([`is_protocol::Hero`]), its view and its list. Writes go through the generic
//! repository ([`crate::repo`]).

use chrono::{DateTime, Utc};
use is_protocol::HeroTrait;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use is_protocol::{Hero, HeroInput};

use crate::entity::store as entity;
use crate::entity::{
    like_pattern, Collection, ConflictStrategy, Page, RowSync, SyncEntity, SyncRow, Window,
};
use crate::error::Result;
use crate::policy::CachePolicy;
use crate::repo;

/// A hero as stored locally: its fields and its sync metadata.
pub type HeroRow = SyncRow<Hero>;

impl SyncEntity for Hero {
    /// Edits of different fields on two devices both survive; a field both changed
    /// takes the server's value, and the user gets a notice (SPEC.md 2 and 7).
    const STRATEGY: ConflictStrategy = ConflictStrategy::Merge;
    const SERVER_WINS_BOTH_CHANGED: bool = true;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;

    type View = HeroView;

    fn path(id: Uuid) -> String {
        format!("/api/heroes/{id}")
    }

    fn view(_conn: &Connection, row: &HeroRow, max_attempts: u32) -> Result<HeroView> {
        Ok(view(row, max_attempts))
    }

    fn on_removed(conn: &Connection, id: Uuid) -> Result<()> {
        // The hero is gone for good: its stories stay, unlinked.
        repo::stories::forget_hero(conn, id)
    }
}

impl Collection for Hero {
    type Filter = HeroFilter;
    type Summary = HeroView;

    /// Visible heroes (pending deletes are hidden) by name, along the `heroes_by_name`
    /// index.
    fn page(
        conn: &Connection,
        filter: &HeroFilter,
        window: Window,
        max_attempts: u32,
    ) -> Result<Page<HeroView>> {
        const WHERE: &str =
            "sync_status <> 'pending_delete' AND (?1 IS NULL OR name LIKE ?1 ESCAPE '\\')";
        let text = like_pattern(filter.text.as_deref());
        let total = entity::count_where::<Hero>(conn, WHERE, [&text])?;
        let rows = entity::load_where::<Hero>(
            conn,
            WHERE,
            "name COLLATE NOCASE, id LIMIT ?2 OFFSET ?3",
            params![text, window.limit, window.offset],
        )?;
        Ok(Page {
            total,
            offset: window.offset,
            rows: rows.iter().map(|r| view(r, max_attempts)).collect(),
        })
    }
}

/// Which heroes a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HeroFilter {
    /// Heroes whose name contains this (any case).
    #[serde(default)]
    pub text: Option<String>,
}

/// A hero as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HeroView {
    pub id: Uuid,
    pub name: String,
    pub age: u8,
    pub traits: Vec<HeroTrait>,
    pub appearance: String,
    pub special_ability: String,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::error::CoreError;
    use crate::outbox::{self, EntryOp};
    use crate::repo::fixture::Fixture;
    use crate::repo::Ctx;
    use crate::sync::state::{PendingOp, SyncState, Transition};
    use is_protocol::{EntityKind, HeroRecord};

    const KIND: EntityKind = EntityKind::Hero;

    // The generic repository, seen as views of heroes.
    fn create(tx: &Connection, ctx: &Ctx<'_>, input: HeroInput) -> Result<HeroView> {
        Ok(view(
            &repo::create::<Hero>(tx, ctx, input)?,
            ctx.max_attempts,
        ))
    }
    fn update(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, input: HeroInput) -> Result<HeroView> {
        Ok(view(
            &repo::update::<Hero>(tx, ctx, id, input)?,
            ctx.max_attempts,
        ))
    }
    fn delete(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<Transition> {
        repo::delete::<Hero>(tx, ctx, id)
    }
    fn discard(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
        repo::discard::<Hero>(tx, ctx, id)
    }
    fn list(conn: &Connection, max_attempts: u32) -> Result<Vec<HeroView>> {
        Hero::list(conn, &HeroFilter::default(), max_attempts)
    }
    fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<HeroView> {
        Ok(view(&repo::get_visible::<Hero>(conn, id)?, max_attempts))
    }
    fn load(conn: &Connection, id: Uuid) -> Result<Option<HeroRow>> {
        entity::load::<Hero>(conn, id)
    }
    fn save(conn: &Connection, row: &HeroRow) -> Result<()> {
        entity::save(conn, row)
    }
    fn counts(conn: &Connection) -> Result<(u32, u32, u32)> {
        repo::counts(conn)
    }

    fn outbox_ops(f: &Fixture, id: Uuid) -> Vec<EntryOp> {
        outbox::entries_for(&f.conn, KIND, id)
            .unwrap()
            .iter()
            .map(|e| e.op)
            .collect()
    }

    fn luna() -> HeroInput {
        HeroInput {
            name: "  Luna ".into(),
            age: 6,
            traits: vec![HeroTrait::Brave],
            appearance: String::new(),
            special_ability: String::new(),
            ..Default::default()
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
            ..Default::default()
        };
        save(&f.conn, &HeroRow::from_server(&rec, now, 0)).unwrap();
        rec.id
    }

    #[test]
    fn create_writes_row_and_outbox_together_normalized() {
        let mut f = Fixture::new(1);
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        assert_eq!(view.name, "Luna");
        assert_eq!(
            view.sync.status,
            crate::sync::state::SyncStatus::PendingCreate
        );
        assert_eq!(outbox_ops(&f, view.id), [EntryOp::Create]);
        let entry = &outbox::entries_for(&f.conn, KIND, view.id).unwrap()[0];
        assert_eq!(entry.payload["name"], "Luna");
        assert_eq!(
            super::view(&load(&f.conn, view.id).unwrap().unwrap(), 3),
            view
        );
    }

    #[test]
    fn invalid_input_writes_nothing() {
        let mut f = Fixture::new(1);
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
        let mut f = Fixture::new(1);
        let id = synced(&mut f, 4);
        let mut changed = HeroInput {
            name: "Max".into(),
            age: 9,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            ..Default::default()
        };
        let view = f
            .tx(|tx, ctx| update(tx, ctx, id, changed.clone()))
            .unwrap();
        assert_eq!(
            view.sync.status,
            crate::sync::state::SyncStatus::PendingUpdate
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
        let mut f = Fixture::new(1);
        let id = synced(&mut f, 2);
        f.tx(|tx, ctx| delete(tx, ctx, id)).unwrap();
        assert!(list(&f.conn, 3).unwrap().is_empty());
        assert_eq!(get(&f.conn, id, 3).unwrap_err().code(), "not_found");
        assert_eq!(outbox_ops(&f, id), [EntryOp::Delete]);
        // Editing a deleted hero is refused with a clear message.
        let err = f.tx(|tx, ctx| update(tx, ctx, id, luna())).unwrap_err();
        assert_eq!(err.code(), "invalid_transition");
        assert!(err.to_string().contains("deleted"), "{err}");
    }

    #[test]
    fn deleting_an_unsent_create_leaves_no_trace() {
        let mut f = Fixture::new(1);
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        f.tx(|tx, ctx| delete(tx, ctx, view.id)).unwrap();
        assert!(load(&f.conn, view.id).unwrap().is_none());
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn deleting_a_create_in_flight_queues_a_delete_behind_it() {
        let mut f = Fixture::new(1);
        let view = f.tx(|tx, ctx| create(tx, ctx, luna())).unwrap();
        let seq = outbox::heads(&f.conn, 1).unwrap()[0].clone().unwrap().seq;
        outbox::freeze(&f.conn, seq, None).unwrap();
        f.tx(|tx, ctx| delete(tx, ctx, view.id)).unwrap();
        assert_eq!(outbox_ops(&f, view.id), [EntryOp::Create, EntryOp::Delete]);
        assert_eq!(
            load(&f.conn, view.id).unwrap().unwrap().state,
            SyncState::Pending(PendingOp::Delete)
        );
    }

    #[test]
    fn discard_of_a_failed_update_restores_the_synced_copy() {
        let mut f = Fixture::new(1);
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
            ("Max", crate::sync::state::SyncStatus::Synced)
        );
        assert_eq!(outbox::len(&f.conn).unwrap(), 0);
    }

    #[test]
    fn list_is_sorted_by_name_and_counts_add_up() {
        let mut f = Fixture::new(1);
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
    }

    #[test]
    fn a_corrupt_row_is_an_error_not_a_panic() {
        let f = Fixture::new(1);
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
