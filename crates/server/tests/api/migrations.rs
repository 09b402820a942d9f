use axum::http::StatusCode;
use story_server::{db, AppState, Config};

use crate::support::*;

#[tokio::test]
async fn a_server_starts_on_an_empty_file_and_keeps_its_data() {
    let file = tempfile::NamedTempFile::new().unwrap();
    assert_eq!(std::fs::metadata(file.path()).unwrap().len(), 0);
    let state = AppState::new(Config::for_tests(file.path())).unwrap();
    let version = state.with_conn(|c| db::schema_version(c).unwrap());
    assert_eq!(version, db::MIGRATIONS.len());
    let instance = state.instance_id().to_owned();
    let user = state.with_conn(|c| {
        story_server::auth::create_user(c, "a@b.io", "A", "hash", chrono::Utc::now()).unwrap()
    });
    drop(state);

    let again = AppState::new(Config::for_tests(file.path())).unwrap();
    assert_eq!(again.instance_id(), instance, "identity survives a restart");
    let found = again.with_conn(|c| story_server::auth::find_user_by_email(c, "a@b.io").unwrap());
    assert_eq!(found.unwrap().summary, user);
}

#[tokio::test]
async fn demo_mode_seeds_once() {
    let h = Harness::with_config(|c| c.demo = true);
    let login = h
        .post("/api/auth/login")
        .json(serde_json::json!({
            "email": story_server::demo::DEMO_EMAIL,
            "password": story_server::demo::DEMO_PASSWORD,
        }))
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as::<is_protocol::SessionResponse>();
    assert_eq!(login.user.name, "Demo Parent");
    let page: is_protocol::Page<is_protocol::HeroRecord> = h
        .get("/api/heroes")
        .token(&login.token)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(page.items.len(), 4);
    assert!(page
        .items
        .iter()
        .any(|x| x.name == "Luna the Brave" && x.age == 6));

    // Restarting in demo mode adds nothing, even after the user deleted a hero.
    let id = page.items[0].id;
    h.delete(&format!("/api/heroes/{id}"))
        .token(&login.token)
        .send()
        .await;
    let mut config = h.state.config().clone();
    config.demo = true;
    let restarted = AppState::new(config).unwrap();
    let count: i64 = restarted.with_conn(|c| {
        c.query_row("SELECT COUNT(*) FROM heroes", (), |r| r.get(0))
            .unwrap()
    });
    assert_eq!(count, 4);
    let users: i64 = restarted.with_conn(|c| {
        c.query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))
            .unwrap()
    });
    assert_eq!(users, 1);
}

#[tokio::test]
async fn a_version_1_database_migrates_with_its_users_and_heroes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite3");
    // A database as the first release left it (SQLite, or PostgreSQL with
    // STORY_TEST_DATABASE_URL).
    let config = Config::for_tests(&path);
    let first_release_data = "INSERT INTO server_meta (key, value) VALUES ('instance_id', '0123456789abcdef0123456789abcdef');
             INSERT INTO users (id, email, name, password_hash, created_at)
                 VALUES ('018f0000-0000-7000-8000-000000000001', 'old@example.com', 'Old', 'h', 1700000000000000);
             UPDATE sync_sequence SET value = 1;
             INSERT INTO heroes (id, user_id, version, seq, created_seq, created_at, updated_at, deleted,
                                 name, age, traits, appearance, special_ability)
                 VALUES ('018f0000-0000-7000-8000-0000000000aa', '018f0000-0000-7000-8000-000000000001',
                         1, 1, 1, 1700000000000000, 1700000000000000, 0, 'Luna', 6, '[\"brave\"]', '', '');";
    match config.location() {
        db::Location::Sqlite(_) => {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(db::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(first_release_data).unwrap();
        }
        db::Location::Postgres(url) => story_server::sql::off_async(|| {
            let conn = story_server::sql::Connection::connect_postgres(&url).unwrap();
            let v1 = db::migration_sql(db::MIGRATIONS[0], story_server::sql::Backend::Postgres);
            conn.execute_batch(&v1).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version (version) VALUES (1);",
            )
            .unwrap();
            conn.execute_batch(first_release_data).unwrap();
        }),
    }
    let state = AppState::new(config).unwrap();
    assert_eq!(
        state.with_conn(|c| db::schema_version(c).unwrap()),
        db::MIGRATIONS.len()
    );
    let user = uuid::Uuid::parse_str("018f0000-0000-7000-8000-000000000001").unwrap();
    let profile = state
        .with_conn(|c| story_server::profile_store::get_profile(c, user).unwrap())
        .unwrap();
    assert_eq!((profile.version, profile.name.as_str()), (1, "Old"));
    assert_eq!(profile.updated_at, profile.created_at);
    assert_eq!(serde_json::to_value(profile.theme).unwrap(), "system");
    let page = state.with_conn(|c| {
        story_server::sync::changes_page(c, "0123456789abcdef0123456789abcdef", user, 0, 10)
            .unwrap()
    });
    assert_eq!(page.changes.heroes.len(), 1);
    assert!(
        page.changes.profile.is_none(),
        "unchanged profiles are not in the feed"
    );
}
