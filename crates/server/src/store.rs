//! The one write path for heroes, shared by the REST endpoints and `POST /api/sync/push`,
//! plus the scoped reads both need.
//!
//! Every function is scoped to a user: another user's row behaves exactly like a missing
//! one (except that a create cannot reuse its id, since ids are global). Every write
//! stamps the row with the next value of the global sequence ([`crate::db::next_seq`]),
//! bumps `version` and sets `updated_at`, inside the caller's transaction.
//!
//! Input is normalized and validated here, so no caller can store a hero that breaks the
//! rules of SPEC.md section 2.

use chrono::{DateTime, Utc};
use is_protocol::{FieldError, HeroInput, HeroPatch, HeroRecord, HeroTrait};
use rusqlite::{params, Connection, Row, Transaction};
use uuid::Uuid;

use crate::db::{from_micros, parse_uuid, to_micros};
use crate::table::{self, reread, write_row, Heroes};

const HERO_COLUMNS: &str = "id, version, created_at, updated_at, deleted, name, age, traits, \
                            appearance, special_ability, avatar_url, avatar_generation_id, seq, \
                            created_seq";

/// A hero with the sequence numbers of its last write and of its creation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqHero {
    pub seq: i64,
    pub created_seq: i64,
    pub hero: HeroRecord,
}

fn hero_from_row(r: &Row<'_>) -> rusqlite::Result<SeqHero> {
    let traits_json: String = r.get(7)?;
    let traits: Vec<HeroTrait> = serde_json::from_str(&traits_json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let age: i64 = r.get(6)?;
    Ok(SeqHero {
        hero: HeroRecord {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            version: r.get(1)?,
            created_at: from_micros(r.get(2)?)?,
            updated_at: from_micros(r.get(3)?)?,
            deleted: r.get::<_, i64>(4)? != 0,
            name: r.get(5)?,
            age: u8::try_from(age).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    6,
                    rusqlite::types::Type::Integer,
                    Box::new(e),
                )
            })?,
            traits,
            appearance: r.get(8)?,
            special_ability: r.get(9)?,
            avatar_url: r.get(10)?,
            avatar_generation_id: r.get(11)?,
        },
        seq: r.get(12)?,
        created_seq: r.get(13)?,
    })
}

fn traits_json(traits: &[HeroTrait]) -> String {
    serde_json::to_string(traits).expect("a list of enum values always serializes")
}

/// The user's hero `id`, tombstone or not. `None` for a missing row and for another
/// user's row alike.
pub fn get_hero(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<HeroRecord>> {
    Ok(get_hero_with_seq(conn, user_id, id)?.map(|h| h.hero))
}

pub fn get_hero_with_seq(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
) -> rusqlite::Result<Option<SeqHero>> {
    table::get_row(conn, "heroes", HERO_COLUMNS, user_id, id, hero_from_row)
}

// ---------------------------------------------------------------------------------------
// Writes

/// What a create did. Shared by every entity (`T` is its record type).
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome<T = HeroRecord> {
    /// Inserted at version 1.
    Created(T),
    /// The input breaks a rule; nothing written.
    Invalid(Vec<FieldError>),
    /// The user already has a row with this id (possibly a tombstone); nothing written.
    Exists(T),
    /// Another user has a row with this id; nothing written, nothing to show.
    IdTaken,
}

/// Creates the user's hero `id` from `input` (normalized and validated here).
pub fn create_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    input: HeroInput,
    now: DateTime<Utc>,
) -> rusqlite::Result<CreateOutcome> {
    let input = input.normalized();
    if let Err(errors) = input.validate() {
        return Ok(CreateOutcome::Invalid(errors));
    }
    if let Some(outcome) = table::create_conflict::<Heroes>(tx, user_id, id)? {
        return Ok(outcome);
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "INSERT INTO heroes (id, user_id, version, seq, created_seq, created_at, updated_at,
                             deleted, name, age, traits, appearance, special_ability)
         VALUES (?1, ?2, 1, ?3, ?3, ?4, ?4, 0, ?5, ?6, ?7, ?8, ?9)",
        params![
            input.name,
            input.age as i64,
            traits_json(&input.traits),
            input.appearance,
            input.special_ability,
        ],
    )?;
    reread::<Heroes>(tx, user_id, id).map(CreateOutcome::Created)
}

/// What an update did. Shared by every entity.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome<T = HeroRecord> {
    /// Written at version + 1.
    Applied(T),
    /// The patch was empty: nothing written, here is the row.
    Unchanged(T),
    /// No such row for this user.
    NotFound,
    /// The row is a tombstone: it cannot be edited (nothing written).
    Deleted(T),
    /// The row is no longer at the expected version (nothing written).
    VersionMismatch(T),
    /// The patch, or the hero it would produce, breaks a rule (nothing written).
    Invalid(Vec<FieldError>),
}

/// Applies `patch` to the user's hero `id` if it is still at `expected_version` (or
/// unconditionally with `None`). Order of checks: missing, tombstone, version, validation.
pub fn update_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    patch: HeroPatch,
    now: DateTime<Utc>,
) -> rusqlite::Result<UpdateOutcome> {
    let started = table::start_update::<Heroes>(tx, user_id, id, expected_version, patch)?;
    let (_, merged) = match started {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    if let Err(errors) = merged.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    write_row(
        tx,
        user_id,
        id,
        now,
        "UPDATE heroes SET version = version + 1, seq = ?3, updated_at = ?4, name = ?5, age = ?6,
                traits = ?7, appearance = ?8, special_ability = ?9
         WHERE id = ?1 AND user_id = ?2",
        params![
            merged.name,
            merged.age as i64,
            traits_json(&merged.traits),
            merged.appearance,
            merged.special_ability,
        ],
    )?;
    reread::<Heroes>(tx, user_id, id).map(UpdateOutcome::Applied)
}

/// What a delete did. Shared by every entity.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome<T = HeroRecord> {
    /// Tombstoned at version + 1.
    Deleted(T),
    /// Already a tombstone: the intent is satisfied, nothing written.
    AlreadyDeleted(T),
    /// No such row for this user.
    NotFound,
    /// The row is no longer at the expected version (nothing written).
    VersionMismatch(T),
}

/// What a counter increment did. Shared by the entities with counters.
#[derive(Debug, Clone, PartialEq)]
pub enum IncrementOutcome<T> {
    /// Written at version + 1.
    Applied(T),
    /// The row is a tombstone: nothing written, here it is.
    Tombstone(T),
    /// No such row for this user.
    NotFound,
    /// Unknown counter or amount out of range (nothing written).
    Invalid(Vec<FieldError>),
}

/// Checks the counters of an increment against the entity's counter names.
pub fn validate_increment(
    allowed: &[&str],
    counters: &std::collections::BTreeMap<String, i64>,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if counters.is_empty() {
        errors.push(FieldError::new("counters", "Name at least one counter"));
    }
    for (name, amount) in counters {
        if !allowed.contains(&name.as_str()) {
            errors.push(FieldError::new(
                &format!("counters.{name}"),
                format!("Not a counter; counters are: {}", allowed.join(", ")),
            ));
        } else if !(1..=is_protocol::MAX_INCREMENT).contains(amount) {
            errors.push(FieldError::new(
                &format!("counters.{name}"),
                format!("Increment by 1 to {}", is_protocol::MAX_INCREMENT),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Tombstones the user's hero `id` if it is still at `expected_version` (or
/// unconditionally with `None`). The row keeps its fields, with `deleted = true`.
pub fn delete_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> rusqlite::Result<DeleteOutcome> {
    table::delete_row::<Heroes>(tx, user_id, id, expected_version, now, |tx| {
        // The hero's stories stay, unlinked (each a new version, so the feed carries it).
        crate::story_store::unlink_hero(tx, user_id, id, now).map(drop)
    })
}

/// Sets the server-written avatar fields of a live hero (a new version). `None` when the
/// hero is gone or a tombstone by now.
pub fn set_hero_avatar(
    tx: &Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
    avatar_url: &str,
    generation_id: Uuid,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<HeroRecord>> {
    table::write_live_row::<Heroes>(
        tx,
        user_id,
        id,
        now,
        "UPDATE heroes SET version = version + 1, seq = ?3, updated_at = ?4, avatar_url = ?5,
                avatar_generation_id = ?6
         WHERE id = ?1 AND user_id = ?2",
        params![avatar_url, generation_id.to_string()],
    )
}

/// Whether the user has a live (not deleted) hero `id`.
pub fn live_hero_exists(conn: &Connection, user_id: Uuid, id: Uuid) -> rusqlite::Result<bool> {
    table::live_exists::<Heroes>(conn, user_id, id)
}

// ---------------------------------------------------------------------------------------
// Lists

/// Filters of `GET /api/heroes`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Keyset position: the `created_seq` of the last row of the previous page.
    pub after_created_seq: Option<i64>,
    pub updated_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
}

/// The user's heroes in creation order after `filter.after_created_seq`, at most `limit`.
///
/// The key is the sequence number of the row's creation, which never changes and grows
/// in commit order: a row edited during paging stays in place, so every row that exists
/// when paging starts is returned exactly once, and rows created meanwhile sort after
/// every existing one and show up on a later page, whatever the server clock does.
pub fn list_heroes(
    conn: &Connection,
    user_id: Uuid,
    filter: &ListFilter,
    limit: usize,
) -> rusqlite::Result<Vec<SeqHero>> {
    let updated_after = filter.updated_after.map(to_micros).unwrap_or(i64::MIN);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HERO_COLUMNS} FROM heroes
         WHERE user_id = ?1
           AND created_seq > ?2
           AND updated_at > ?3
           AND (?4 OR deleted = 0)
         ORDER BY created_seq
         LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![
            user_id.to_string(),
            filter.after_created_seq.unwrap_or(0),
            updated_after,
            filter.include_deleted,
            limit as i64,
        ],
        hero_from_row,
    )?;
    rows.collect()
}

/// The user's heroes whose last write has a sequence number above `after_seq`, in
/// sequence order, at most `limit`.
pub fn heroes_changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<SeqHero>> {
    table::changed_since(
        conn,
        "heroes",
        HERO_COLUMNS,
        user_id,
        after_seq,
        limit,
        hero_from_row,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;

    fn setup() -> (tempfile::TempDir, Connection, Uuid, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("db.sqlite3")).unwrap();
        let now = Utc::now();
        let a = crate::auth::create_user(&conn, "a@x.io", "A", "h", now)
            .unwrap()
            .id;
        let b = crate::auth::create_user(&conn, "b@x.io", "B", "h", now)
            .unwrap()
            .id;
        (dir, conn, a, b)
    }

    fn input(name: &str) -> HeroInput {
        HeroInput {
            name: name.into(),
            age: 5,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
    }

    #[test]
    fn write_path_assigns_versions_and_sequence() {
        let (_dir, mut conn, a, b) = setup();
        let id = Uuid::now_v7();
        let tx = conn.transaction().unwrap();
        let created = match create_hero(&tx, a, id, input("  Luna "), now()).unwrap() {
            CreateOutcome::Created(h) => h,
            other => panic!("{other:?}"),
        };
        assert_eq!(created.version, 1);
        assert_eq!(created.name, "Luna", "normalized");
        assert_eq!(
            create_hero(&tx, a, id, input("Again"), now()).unwrap(),
            CreateOutcome::Exists(created.clone())
        );
        assert_eq!(
            create_hero(&tx, b, id, input("Theft"), now()).unwrap(),
            CreateOutcome::IdTaken
        );
        assert!(matches!(
            create_hero(&tx, a, Uuid::now_v7(), input(""), now()).unwrap(),
            CreateOutcome::Invalid(_)
        ));
        let patch = HeroPatch {
            age: Some(6),
            ..Default::default()
        };
        let updated = match update_hero(&tx, a, id, Some(1), patch.clone(), now()).unwrap() {
            UpdateOutcome::Applied(h) => h,
            other => panic!("{other:?}"),
        };
        assert_eq!((updated.version, updated.age), (2, 6));
        assert_eq!(
            update_hero(&tx, a, id, Some(1), patch.clone(), now()).unwrap(),
            UpdateOutcome::VersionMismatch(updated.clone())
        );
        assert_eq!(
            update_hero(&tx, b, id, None, patch.clone(), now()).unwrap(),
            UpdateOutcome::NotFound
        );
        assert_eq!(
            delete_hero(&tx, b, id, None, now()).unwrap(),
            DeleteOutcome::NotFound
        );
        let gone = match delete_hero(&tx, a, id, Some(2), now()).unwrap() {
            DeleteOutcome::Deleted(h) => h,
            other => panic!("{other:?}"),
        };
        assert!(gone.deleted);
        assert_eq!(gone.version, 3);
        assert_eq!(
            delete_hero(&tx, a, id, Some(1), now()).unwrap(),
            DeleteOutcome::AlreadyDeleted(gone.clone())
        );
        assert_eq!(
            update_hero(&tx, a, id, Some(3), patch, now()).unwrap(),
            UpdateOutcome::Deleted(gone.clone())
        );
        tx.commit().unwrap();
        // Three writes: seq 1, 2, 3; the row keeps only the latest.
        let changes = heroes_changed_since(&conn, a, 0, 10).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].seq, 3);
        assert_eq!(changes[0].hero, gone);
        assert!(heroes_changed_since(&conn, b, 0, 10).unwrap().is_empty());
    }

    #[test]
    fn merged_result_is_validated() {
        let (_dir, mut conn, a, _) = setup();
        let id = Uuid::now_v7();
        let tx = conn.transaction().unwrap();
        create_hero(&tx, a, id, input("Luna"), now()).unwrap();
        // Each field alone is fine; patch validation catches the bad trait count.
        let bad = HeroPatch {
            traits: Some(vec![]),
            ..Default::default()
        };
        match update_hero(&tx, a, id, Some(1), bad, now()).unwrap() {
            UpdateOutcome::Invalid(errors) => assert_eq!(errors[0].field, "traits"),
            other => panic!("{other:?}"),
        }
        let empty = HeroPatch::default();
        match update_hero(&tx, a, id, Some(1), empty, now()).unwrap() {
            UpdateOutcome::Unchanged(h) => assert_eq!(h.version, 1),
            other => panic!("{other:?}"),
        }
    }
}
