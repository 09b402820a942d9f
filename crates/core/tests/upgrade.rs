//! An old cache file (schema version 1, from the first release) opens in this version
//! with its rows, their sync state and the outbox intact.

use is_core::db;
use rusqlite::Connection;

#[test]
fn data_of_version_1_survives_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let hero = |id: &str, v: i64| {
        format!(
            r#"{{"id":"{id}","version":{v},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z",
                "deleted":false,"name":"Luna","age":6,"traits":["brave"],"appearance":"","special_ability":"",
                "avatar_url":null,"avatar_generation_id":null}}"#
        )
    };
    let (synced, pending) = (
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
    );
    {
        let conn = Connection::open(&path).unwrap();
        db::migrate_to(&conn, 1).unwrap();
        for (id, status, server) in [
            (synced, "synced", None),
            (pending, "pending_update", Some(hero(pending, 4))),
        ] {
            conn.execute(
                "INSERT INTO heroes (id, name, age, traits, created_at, updated_at, sync_status, base_version,
                                     base_snapshot, server_snapshot)
                 VALUES (?1, 'Luna', 6, '[\"brave\"]', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?2, 3, ?3, ?4)",
                rusqlite::params![id, status, hero(id, 3), server],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO outbox (mutation_id, entity, entity_id, op, payload, base_version, sent, created_at)
             VALUES ('00000000-0000-0000-0000-0000000000aa', 'hero', ?1, 'update', '{\"age\":7}', 3, 1, '2026-01-01T00:00:00Z')",
            [pending],
        )
        .unwrap();
    }
    let conn = db::open(&path).unwrap();
    let row = is_core::entity::store::load::<is_core::Hero>(&conn, synced.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.fields.name.as_str(),
            row.base_version,
            row.base_snapshot.is_none()
        ),
        ("Luna", Some(3), true)
    );
    assert_eq!(
        row.base_record().unwrap().version,
        3,
        "a synced row is its own base"
    );
    let row = is_core::entity::store::load::<is_core::Hero>(&conn, pending.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        row.base_snapshot.as_ref().unwrap().version,
        3,
        "a pending row keeps its base"
    );
    assert_eq!(row.known_version(), Some(4));
    let meta = is_core::entity::store::load_meta::<is_core::Hero>(&conn, pending.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.remembered_version,
        Some(4),
        "server_version filled from the snapshot"
    );
    let entries = is_core::outbox::entries_for(
        &conn,
        is_protocol::EntityKind::Hero,
        pending.parse().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (entries.len(), entries[0].sent, entries[0].base_version),
        (1, true, Some(3)),
        "the frozen entry is intact"
    );
    // The new outbox accepts increments; the new tables exist.
    is_core::outbox::record_increment(
        &conn,
        uuid::Uuid::from_u128(9),
        is_protocol::EntityKind::Story,
        uuid::Uuid::from_u128(8),
        "play_count",
        1,
        chrono::Utc::now(),
    )
    .unwrap();
    for table in [
        "stories",
        "custom_events",
        "user_profile",
        "story_illustrations",
        "usage_cache",
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}
