//! Custom events between devices and a real server (localWins, usage counter).

use integration_tests::*;
use is_core::sync::state::SyncStatus;
use is_core::CustomEvent;
use is_protocol::{CustomEventRecord, EntityKind};

const ADA: &str = "ada@example.com";

async fn server_events(server: &TestServer) -> Vec<CustomEventRecord> {
    server_items(server, ADA, "/api/custom-events").await
}

#[tokio::test]
async fn offline_custom_events_sync_converge_and_deletes_propagate() {
    let world = World::new();
    let server = world.start_server().await;
    let addr = server.addr;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    server.stop().await;

    let party = phone.create::<CustomEvent>(custom_event("Party")).unwrap();
    let temp = phone
        .create::<CustomEvent>(custom_event("Temporary"))
        .unwrap();
    let mut edited = custom_event("Garden party");
    edited.keywords = vec!["garden".into(), " party ".into(), "Party".into()];
    let v = phone.update::<CustomEvent>(party.id, edited).unwrap();
    assert_eq!(
        v.keywords,
        ["garden", "party"],
        "normalized like the server does"
    );
    phone.increment::<CustomEvent>(party.id).unwrap();
    assert!(
        phone
            .toggle_favorite::<CustomEvent>(party.id)
            .unwrap()
            .is_favorite
    );
    phone.delete::<CustomEvent>(temp.id).unwrap();
    assert_eq!(phone.list::<CustomEvent>(&()).unwrap().len(), 1);
    // Invalid input never gets in.
    let mut bad = custom_event("");
    bad.pictogram_emoji = "not an emoji at all".into();
    assert_eq!(
        phone.create::<CustomEvent>(bad).unwrap_err().code(),
        "validation"
    );

    let server = TestServer::start_on(&world.server_db(), addr).await;
    phone.sync_now().await.unwrap();
    let on_server = server_events(&server).await;
    assert_eq!(on_server.len(), 1);
    assert_eq!(
        (
            on_server[0].title.as_str(),
            on_server[0].usage_count,
            on_server[0].is_favorite
        ),
        ("Garden party", 1, true)
    );

    let laptop = world.device("laptop", &server.base_url);
    sign_in(&laptop, ADA).await;
    laptop.sync_now().await.unwrap();
    let there = laptop.get::<CustomEvent>(party.id).await.unwrap();
    assert_eq!(
        (there.title.as_str(), there.usage_count, there.sync.status),
        ("Garden party", 1, SyncStatus::Synced)
    );

    laptop.delete::<CustomEvent>(party.id).unwrap();
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert!(phone.list::<CustomEvent>(&()).unwrap().is_empty());
    assert!(server_events(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn concurrent_event_edits_local_wins_and_the_loser_is_kept() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    let e = phone.create::<CustomEvent>(custom_event("Picnic")).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();

    let mut on_phone = custom_event("Picnic");
    on_phone.description = "From the phone".into();
    phone.update::<CustomEvent>(e.id, on_phone).unwrap();
    phone.increment::<CustomEvent>(e.id).unwrap();
    let mut on_laptop = custom_event("Picnic");
    on_laptop.description = "From the laptop".into();
    laptop.update::<CustomEvent>(e.id, on_laptop).unwrap();
    laptop.increment::<CustomEvent>(e.id).unwrap();
    phone.sync_now().await.unwrap();
    let report = laptop.sync_now().await.unwrap();
    assert_eq!(report.conflicts, 1);

    // localWins: the laptop's edit (the one that found the conflict) is what stays.
    phone.sync_now().await.unwrap();
    for device in [&phone, &laptop] {
        let v = device.get::<CustomEvent>(e.id).await.unwrap();
        assert_eq!(
            (v.description.as_str(), v.usage_count, v.sync.status),
            ("From the laptop", 2, SyncStatus::Synced)
        );
    }
    let history = laptop
        .conflict_history(EntityKind::CustomEvent, e.id)
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolution, "local_wins");
    assert_eq!(
        history[0].server["description"], "From the phone",
        "the overwritten version is kept"
    );

    // Restoring it from the history is an ordinary edit that syncs.
    assert_eq!(
        laptop.restore_conflict_version(history[0].id).unwrap(),
        e.id
    );
    let restored = laptop.get::<CustomEvent>(e.id).await.unwrap();
    assert_eq!(
        (restored.description.as_str(), restored.sync.status),
        ("From the phone", SyncStatus::PendingUpdate)
    );
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(
        phone.get::<CustomEvent>(e.id).await.unwrap().description,
        "From the phone"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_strategy_chosen_in_settings_asks_and_both_answers_work() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    assert_eq!(
        laptop.conflict_strategy(EntityKind::CustomEvent).unwrap(),
        is_core::ConflictStrategy::LocalWins
    );
    laptop
        .set_conflict_strategy(
            EntityKind::CustomEvent,
            is_core::ConflictStrategy::UserPrompt,
        )
        .unwrap();
    let a = phone.create::<CustomEvent>(custom_event("A")).unwrap();
    let b = phone.create::<CustomEvent>(custom_event("B")).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    for (id, n) in [(a.id, "A"), (b.id, "B")] {
        phone
            .update::<CustomEvent>(id, custom_event(&format!("{n} phone")))
            .unwrap();
        laptop
            .update::<CustomEvent>(id, custom_event(&format!("{n} laptop")))
            .unwrap();
    }
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(laptop.overview().unwrap().conflicts, 2);
    assert_eq!(
        laptop.get::<CustomEvent>(a.id).await.unwrap().sync.status,
        SyncStatus::Conflict
    );

    laptop
        .resolve_conflict(
            EntityKind::CustomEvent,
            a.id,
            is_core::ConflictChoice::UseServer,
        )
        .unwrap();
    laptop
        .resolve_conflict(
            EntityKind::CustomEvent,
            b.id,
            is_core::ConflictChoice::KeepMine,
        )
        .unwrap();
    assert_eq!(
        laptop.get::<CustomEvent>(a.id).await.unwrap().title,
        "A phone"
    );
    assert_eq!(
        laptop.get::<CustomEvent>(b.id).await.unwrap().sync.status,
        SyncStatus::PendingUpdate
    );
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(
        phone.get::<CustomEvent>(b.id).await.unwrap().title,
        "B laptop"
    );
    assert_eq!(
        phone.get::<CustomEvent>(a.id).await.unwrap().title,
        "A phone"
    );
    assert!(laptop.conflicts().unwrap().is_empty());
    let kept: Vec<String> = [a.id, b.id]
        .iter()
        .map(|id| {
            laptop
                .conflict_history(EntityKind::CustomEvent, *id)
                .unwrap()[0]
                .resolution
                .clone()
        })
        .collect();
    assert_eq!(kept, ["user_chose_server", "user_chose_local"]);
    server.stop().await;
}
