//! The profile and usage: network-first with a saved copy; profile edits sync.

use integration_tests::*;
use is_core::sync::state::SyncStatus;
use is_core::{Language, ProfileInput, ReadSource, Theme};

const ADA: &str = "ada@example.com";

#[tokio::test]
async fn profile_is_network_first_and_edits_sync_even_offline() {
    let world = World::new();
    let server = world.start_server().await;
    let addr = server.addr;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;

    let p = phone.profile().await.unwrap();
    assert_eq!(
        (p.source, p.saved_copy.clone()),
        (ReadSource::Network, None)
    );
    assert_eq!(
        (p.value.email.as_str(), p.value.name.as_str(), p.value.theme),
        (ADA, "Test Parent", Theme::System)
    );

    let edit = ProfileInput {
        name: "Ada L.".into(),
        preferred_language: Language::It,
        theme: Theme::Dark,
        ..Default::default()
    };
    let v = phone.update_profile(edit).unwrap();
    assert_eq!(
        (v.name.as_str(), v.sync.status),
        ("Ada L.", SyncStatus::PendingUpdate)
    );
    let bad = ProfileInput {
        name: "  ".into(),
        preferred_language: Language::It,
        theme: Theme::Dark,
        ..Default::default()
    };
    assert_eq!(phone.update_profile(bad).unwrap_err().code(), "validation");
    // Read network-first while the edit is unsynced: the server's copy, my edit on top.
    let p = phone.profile().await.unwrap();
    assert_eq!(
        (p.source, p.value.name.as_str()),
        (ReadSource::Network, "Ada L.")
    );
    phone.sync_now().await.unwrap();
    let me = server_get(&server, ADA, "/api/users/me").await;
    assert_eq!(
        (
            me["name"].as_str(),
            me["theme"].as_str(),
            me["preferred_language"].as_str()
        ),
        (Some("Ada L."), Some("dark"), Some("it"))
    );

    // Offline: the saved copy, said to be one; an edit still works and syncs later.
    server.stop().await;
    let p = phone.profile().await.unwrap();
    assert_eq!(p.source, ReadSource::Cache);
    assert!(p.saved_copy.is_some(), "showing saved copy");
    assert_eq!(p.value.name, "Ada L.");
    phone
        .update_profile(ProfileInput {
            name: "Ada Offline".into(),
            preferred_language: Language::It,
            theme: Theme::Light,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(phone.profile().await.unwrap().value.name, "Ada Offline");
    let server = TestServer::start_on(&world.server_db(), addr).await;
    phone.sync_now().await.unwrap();
    assert_eq!(
        server_get(&server, ADA, "/api/users/me").await["name"],
        "Ada Offline"
    );

    // Another device gets it through the change feed.
    let laptop = world.device("laptop", &server.base_url);
    sign_in(&laptop, ADA).await;
    laptop.sync_now().await.unwrap();
    server.stop().await;
    let p = laptop.profile().await.unwrap();
    assert_eq!(
        (p.source, p.value.name.as_str(), p.value.theme),
        (ReadSource::Cache, "Ada Offline", Theme::Light)
    );
}

#[tokio::test]
async fn concurrent_profile_edits_server_wins() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    phone.profile().await.unwrap();
    laptop.profile().await.unwrap();
    phone
        .update_profile(ProfileInput {
            name: "Phone".into(),
            preferred_language: Language::En,
            theme: Theme::Dark,
            ..Default::default()
        })
        .unwrap();
    laptop
        .update_profile(ProfileInput {
            name: "Laptop".into(),
            preferred_language: Language::En,
            theme: Theme::Light,
            ..Default::default()
        })
        .unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(laptop.sync_now().await.unwrap().conflicts, 1);
    let p = laptop.profile().await.unwrap().value;
    assert_eq!(
        (p.name.as_str(), p.theme, p.sync.status),
        ("Phone", Theme::Dark, SyncStatus::Synced)
    );
    let history = laptop
        .conflict_history(is_protocol::EntityKind::UserProfile, p.id)
        .unwrap();
    assert_eq!(
        (history.len(), history[0].local["name"].as_str()),
        (1, Some("Laptop"))
    );
    server.stop().await;
}

#[tokio::test]
async fn usage_is_network_first_with_a_saved_copy() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    // Signed out, never fetched: nothing to show.
    assert_eq!(phone.usage().await.unwrap_err().code(), "not_signed_in");
    sign_up(&phone, ADA).await;
    let u = phone.usage().await.unwrap();
    assert_eq!(
        (u.source, u.value.stats.stories_this_month),
        (ReadSource::Network, 0)
    );
    assert!(
        u.value.stats.limits.stories_per_month.is_some(),
        "the free tier has limits"
    );
    server.stop().await;
    let u2 = phone.usage().await.unwrap();
    assert_eq!(u2.source, ReadSource::Cache);
    assert!(u2.saved_copy.is_some());
    assert_eq!(
        (u2.value.stats, u2.value.fetched_at),
        (u.value.stats, u.value.fetched_at)
    );
}
