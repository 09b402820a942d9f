use std::sync::atomic::Ordering;

use integration_tests::*;
use is_core::sync::state::SyncStatus;
use is_core::Hero;
use is_core::{CoreEvent, HeroView, NetworkState};
use is_protocol::{EntityKind, HeroRecord};

fn names(heroes: &[HeroView]) -> Vec<String> {
    let mut n: Vec<String> = heroes.iter().map(|h| h.name.clone()).collect();
    n.sort();
    n
}

fn statuses(heroes: &[HeroView]) -> Vec<SyncStatus> {
    heroes.iter().map(|h| h.sync.status).collect()
}

async fn server_heroes(server: &TestServer, email: &str) -> Vec<HeroRecord> {
    let token = server.login(email, TEST_PASSWORD).await.token;
    let (status, body) = get_json(&server.url("/api/heroes?limit=1000"), &token).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["items"].clone()).expect("a page of heroes")
}

#[tokio::test]
async fn offline_create_update_delete_then_sync() {
    let world = World::new();
    let server = world.start_server().await;
    let addr = server.addr;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    server.stop().await;

    // Offline: everything completes locally at once.
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let max = phone.create::<Hero>(hero("Max", 8)).unwrap();
    let gone = phone.create::<Hero>(hero("Temporary", 3)).unwrap();
    assert_eq!(luna.sync.status, SyncStatus::PendingCreate);
    let mut edited = hero("Luna the Brave", 7);
    edited.traits = vec![is_core::HeroTrait::Brave];
    let luna = phone.update::<Hero>(luna.id, edited).unwrap();
    assert_eq!(
        luna.sync.status,
        SyncStatus::PendingCreate,
        "an edit of a pending create stays a create"
    );
    phone.delete::<Hero>(gone.id).unwrap();
    assert_eq!(
        names(&phone.list::<Hero>(&Default::default()).unwrap()),
        ["Luna the Brave", "Max"]
    );
    assert_eq!(
        phone.outbox_len().unwrap(),
        2,
        "the deleted create left nothing to send"
    );

    let err = phone.sync_now().await.unwrap_err();
    assert_eq!(err.code(), "offline", "{err}");
    assert_eq!(phone.network_state(), NetworkState::ServerUnreachable);
    let heroes = phone.list::<Hero>(&Default::default()).unwrap();
    assert_eq!(
        statuses(&heroes),
        [SyncStatus::PendingCreate, SyncStatus::PendingCreate]
    );
    assert!(
        heroes
            .iter()
            .all(|h| h.sync.attempts == 0 && h.sync.error.is_none()),
        "an outage spends no attempt"
    );

    // Back online.
    let server = TestServer::start_on(&world.server_db(), addr).await;
    let report = phone.sync_now().await.unwrap();
    assert_eq!((report.pushed, report.applied), (2, 2));
    let heroes = phone.list::<Hero>(&Default::default()).unwrap();
    assert_eq!(statuses(&heroes), [SyncStatus::Synced, SyncStatus::Synced]);
    assert!(heroes
        .iter()
        .all(|h| h.sync.version == Some(1) && h.sync.error.is_none()));
    assert_eq!(phone.outbox_len().unwrap(), 0);
    assert_eq!(phone.network_state(), NetworkState::Online);

    let on_server = server_heroes(&server, "ada@example.com").await;
    let mut server_names: Vec<_> = on_server.iter().map(|h| h.name.clone()).collect();
    server_names.sort();
    assert_eq!(server_names, ["Luna the Brave", "Max"]);
    assert!(
        on_server.iter().all(|h| h.id != gone.id),
        "the deleted create never reached the server"
    );
    let luna_srv = on_server.iter().find(|h| h.id == luna.id).unwrap();
    assert_eq!((luna_srv.age, luna_srv.traits.len()), (7, 1));

    // Edit and delete synced heroes.
    let mut older = hero("Max", 9);
    older.special_ability = "Whistles to birds".into();
    phone.update::<Hero>(max.id, older).unwrap();
    phone.delete::<Hero>(luna.id).unwrap();
    let statuses_before: Vec<_> = {
        let mut all = phone.list::<Hero>(&Default::default()).unwrap();
        all.sort_by_key(|h| h.name.clone());
        statuses(&all)
    };
    assert_eq!(
        statuses_before,
        [SyncStatus::PendingUpdate],
        "the pending delete is hidden"
    );
    phone.sync_now().await.unwrap();
    let on_server = server_heroes(&server, "ada@example.com").await;
    assert_eq!(on_server.len(), 1);
    assert_eq!((on_server[0].age, on_server[0].version), (9, 2));
    assert_eq!(on_server[0].special_ability, "Whistles to birds");
    server.stop().await;
}

#[tokio::test]
async fn a_lost_push_answer_is_replayed_without_a_second_effect() {
    let world = World::new();
    let server = world.start_server().await;
    let transport = LossyTransport::new(&server.base_url);
    let phone = world.device_with("phone", transport.clone());
    sign_up(&phone, "ada@example.com").await;

    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    transport.lose_next_push_answers(1);
    let err = phone.sync_now().await.unwrap_err();
    assert_eq!(err.code(), "offline");
    // The server applied it; the phone does not know.
    assert_eq!(server_heroes(&server, "ada@example.com").await.len(), 1);
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::PendingCreate
    );

    // An edit while the create's fate is unknown queues behind it, never into it.
    phone.update::<Hero>(luna.id, hero("Luna Moon", 6)).unwrap();
    assert_eq!(phone.outbox_len().unwrap(), 2);

    phone.sync_now().await.unwrap();
    let on_server = server_heroes(&server, "ada@example.com").await;
    assert_eq!(on_server.len(), 1, "the replayed create made no second row");
    assert_eq!(on_server[0].name, "Luna Moon");
    assert_eq!(on_server[0].version, 2, "create once + update once");
    let local = phone.cached::<Hero>(luna.id).unwrap();
    assert_eq!(
        (local.sync.status, local.sync.version),
        (SyncStatus::Synced, Some(2))
    );

    // Same for an update whose answer is lost.
    phone.update::<Hero>(luna.id, hero("Luna Star", 6)).unwrap();
    transport.lose_next_push_answers(1);
    phone.sync_now().await.unwrap_err();
    phone.sync_now().await.unwrap();
    let on_server = server_heroes(&server, "ada@example.com").await;
    assert_eq!(
        (on_server[0].name.as_str(), on_server[0].version),
        ("Luna Star", 3)
    );
    assert!(transport.pushes.load(Ordering::SeqCst) >= 4);
    server.stop().await;
}

#[tokio::test]
async fn a_second_device_pulls_and_deletes_propagate() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    sign_in(&laptop, "ada@example.com").await;

    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    phone.create::<Hero>(hero("Max", 8)).unwrap();
    phone.sync_now().await.unwrap();

    let report = laptop.sync_now().await.unwrap();
    assert_eq!(report.pulled, 2);
    let on_laptop = laptop.list::<Hero>(&Default::default()).unwrap();
    assert_eq!(names(&on_laptop), ["Luna", "Max"]);
    assert!(
        on_laptop.iter().any(|h| h.id == luna.id),
        "one id everywhere"
    );
    assert_eq!(
        statuses(&on_laptop),
        [SyncStatus::Synced, SyncStatus::Synced]
    );

    // An edit on the laptop reaches the phone.
    laptop
        .update::<Hero>(luna.id, hero("Luna the Bold", 6))
        .unwrap();
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(phone.cached::<Hero>(luna.id).unwrap().name, "Luna the Bold");

    // A delete on the phone removes the hero on the laptop.
    phone.delete::<Hero>(luna.id).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(
        names(&laptop.list::<Hero>(&Default::default()).unwrap()),
        ["Max"]
    );
    assert_eq!(
        laptop.cached::<Hero>(luna.id).unwrap_err().code(),
        "not_found"
    );

    // Syncing again changes nothing: converged.
    let report = laptop.sync_now().await.unwrap();
    assert_eq!((report.pushed, report.pulled), (0, 0));
    server.stop().await;
}

#[tokio::test]
async fn another_user_sees_none_of_them() {
    let world = World::new();
    let server = world.start_server().await;
    let ada = world.device("ada", &server.base_url);
    let bob = world.device("bob", &server.base_url);
    sign_up(&ada, "ada@example.com").await;
    sign_up(&bob, "bob@example.com").await;
    let luna = ada.create::<Hero>(hero("Luna", 6)).unwrap();
    ada.sync_now().await.unwrap();

    bob.sync_now().await.unwrap();
    assert!(bob.list::<Hero>(&Default::default()).unwrap().is_empty());
    let bob_token = server.login("bob@example.com", TEST_PASSWORD).await.token;
    let (status, body) =
        get_json(&server.url(&format!("/api/heroes/{}", luna.id)), &bob_token).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    server.stop().await;
}

#[tokio::test]
async fn a_name_changed_on_two_devices_takes_the_servers_and_the_loser_is_kept() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    sign_in(&laptop, "ada@example.com").await;
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();

    phone
        .update::<Hero>(luna.id, hero("Luna from the phone", 6))
        .unwrap();
    laptop
        .update::<Hero>(luna.id, hero("Luna from the laptop", 6))
        .unwrap();
    phone.sync_now().await.unwrap();
    let report = laptop.sync_now().await.unwrap();
    assert_eq!(report.conflicts, 1);

    let on_laptop = laptop.cached::<Hero>(luna.id).unwrap();
    assert_eq!(
        on_laptop.name, "Luna from the phone",
        "heroes merge; a field both changed takes the server's value"
    );
    assert_eq!(on_laptop.sync.status, SyncStatus::Synced);
    let history = laptop.conflict_history(EntityKind::Hero, luna.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolution, "merge");
    let notices = laptop.notices().unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].reason, is_core::NoticeReason::Dropped);
    assert_eq!(
        history[0].local["name"], "Luna from the laptop",
        "the losing version is kept"
    );
    assert_eq!(
        server_heroes(&server, "ada@example.com").await[0].version,
        2,
        "nothing overwritten"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_session_pauses_sync_and_keeps_local_work() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    let mut events = phone.subscribe();

    // Revoke every session of the account, as an expiry would.
    server.state.with_conn(|c| {
        c.execute("DELETE FROM sessions", ())
            .expect("revoke sessions")
    });
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let err = phone.sync_now().await.unwrap_err();
    assert_eq!(err.code(), "unauthorized");
    let overview = phone.overview().unwrap();
    assert!(overview.paused_reason.is_some());
    assert!(overview.account.is_some(), "still the same account locally");
    let mut saw_expiry = false;
    while let Ok(e) = events.try_recv() {
        saw_expiry |= e == CoreEvent::SessionExpired;
    }
    assert!(saw_expiry);

    // Local work goes on.
    phone.update::<Hero>(luna.id, hero("Luna Moon", 6)).unwrap();
    assert_eq!(phone.sync_now().await.unwrap_err().code(), "not_signed_in");

    sign_in(&phone, "ada@example.com").await;
    phone.sync_now().await.unwrap();
    assert_eq!(
        server_heroes(&server, "ada@example.com").await[0].name,
        "Luna Moon"
    );
    server.stop().await;
}

#[tokio::test]
async fn signing_out_warns_about_unsynced_work_then_leaves_nothing_behind() {
    let world = World::new();
    let server = world.start_server().await;
    let device = world.device("shared", &server.base_url);
    sign_up(&device, "ada@example.com").await;
    {
        let other = world.device("bob", &server.base_url);
        sign_up(&other, "bob@example.com").await;
    }
    device.create::<Hero>(hero("Luna", 6)).unwrap();
    device.create::<Hero>(hero("Max", 7)).unwrap();

    // Unsynced work: signing out is refused with the count, for the warning.
    let err = device.sign_out(false).await.unwrap_err();
    assert_eq!(err.code(), "unsynced_changes");
    assert!(err.to_string().starts_with("2 changes"), "{err}");
    assert!(device.account().unwrap().is_some(), "still signed in");
    assert_eq!(device.list::<Hero>(&Default::default()).unwrap().len(), 2);

    // Synced, then signed out: nothing of ada's stays on the device.
    device.sync_now().await.unwrap();
    device.sign_out(false).await.unwrap();
    assert!(device.account().unwrap().is_none());
    assert!(device.list::<Hero>(&Default::default()).unwrap().is_empty());
    assert!(device.activity_log(10).unwrap().is_empty());

    // Bob sees none of ada's heroes, before or after his first sync.
    sign_in(&device, "bob@example.com").await;
    assert!(device.list::<Hero>(&Default::default()).unwrap().is_empty());
    device.sync_now().await.unwrap();
    assert!(device.list::<Hero>(&Default::default()).unwrap().is_empty());

    // An unsynced change discarded on purpose is gone; ada's data is intact on the server.
    device.create::<Hero>(hero("Bob's hero", 5)).unwrap();
    device.sign_out(true).await.unwrap();
    assert!(device.list::<Hero>(&Default::default()).unwrap().is_empty());
    sign_in(&device, "ada@example.com").await;
    device.sync_now().await.unwrap();
    let names: Vec<String> = device
        .list::<Hero>(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(server_heroes(&server, "bob@example.com").await.len(), 0);
    server.stop().await;
}

/// The session token is kept out of the SQLite cache (and its WAL): the secret store
/// has it while signed in, and nothing has it after sign-out.
#[tokio::test]
async fn the_session_token_lives_in_the_secret_store_never_in_the_cache() {
    let world = World::new();
    let server = world.start_server().await;
    let device = world.device("laptop", &server.base_url);
    sign_up(&device, "ada@example.com").await;
    device.create::<Hero>(hero("Luna", 6)).unwrap();
    device.sync_now().await.unwrap();

    let dir = world.device_dir("laptop");
    let secrets = dir.join("secrets");
    let files: Vec<_> = std::fs::read_dir(&secrets).unwrap().collect();
    assert_eq!(files.len(), 1, "one session");
    let token = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(token.len() >= 16, "{token}");
    for name in ["cache.sqlite3", "cache.sqlite3-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
            assert!(!found, "the token is in {name}");
        }
    }
    // A relaunch reads it back from the secret store.
    drop(device);
    let again = world.device("laptop", &server.base_url);
    again.create::<Hero>(hero("Max", 7)).unwrap();
    again.sync_now().await.unwrap();
    assert_eq!(server_heroes(&server, "ada@example.com").await.len(), 2);

    again.sign_out(false).await.unwrap();
    assert_eq!(std::fs::read_dir(&secrets).unwrap().count(), 0);
    server.stop().await;
}
