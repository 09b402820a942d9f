//! Stories (and their illustrations) between devices and a real server.

use integration_tests::*;
use is_core::sync::state::SyncStatus;
use is_core::{ConflictChoice, CoreEvent, Refreshed, StoryFilter};
use is_core::{CustomEvent, Hero, Story};
use is_protocol::{EntityKind, StoryRecord};

const ADA: &str = "ada@example.com";

async fn server_stories(server: &TestServer) -> Vec<StoryRecord> {
    server_items(server, ADA, "/api/stories").await
}

#[tokio::test]
async fn offline_story_lifecycle_syncs_and_a_second_device_converges() {
    let world = World::new();
    let server = world.start_server().await;
    let addr = server.addr;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    server.stop().await;

    // Offline: a hero, two stories, edits, plays, a favourite, a delete.
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let moon = phone
        .create::<Story>(story("The Moon", Some(luna.id)))
        .unwrap();
    let gone = phone.create::<Story>(story("Draft", None)).unwrap();
    assert_eq!(moon.sync.status, SyncStatus::PendingCreate);
    assert_eq!(moon.hero_name.as_deref(), Some("Luna"));
    let mut edited = story("The Moon and the Owl", Some(luna.id));
    edited.language = is_core::Language::Fr;
    phone.update::<Story>(moon.id, edited).unwrap();
    phone.increment::<Story>(moon.id).unwrap();
    let played = phone.increment::<Story>(moon.id).unwrap();
    assert_eq!(played.play_count, 2, "plays count at once");
    assert!(phone.toggle_favorite::<Story>(moon.id).unwrap().is_favorite);
    phone.delete::<Story>(gone.id).unwrap();
    let list = phone.list::<Story>(&StoryFilter::default()).unwrap();
    assert_eq!(
        list.iter().map(|s| s.title.as_str()).collect::<Vec<_>>(),
        ["The Moon and the Owl"]
    );
    assert_eq!(phone.sync_now().await.unwrap_err().code(), "offline");

    let server = TestServer::start_on(&world.server_db(), addr).await;
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.rejected + report.conflicts, 0, "{report:?}");
    let on_server = server_stories(&server).await;
    assert_eq!(
        on_server.len(),
        1,
        "the deleted draft never reached the server"
    );
    let s = &on_server[0];
    assert_eq!(
        (s.title.as_str(), s.language, s.is_favorite, s.play_count),
        ("The Moon and the Owl", is_core::Language::Fr, true, 2)
    );
    assert_eq!(s.hero_id, Some(luna.id));
    assert!(s.last_played_at.is_some());
    let local = phone.get::<Story>(moon.id).await.unwrap();
    assert_eq!(
        (local.sync.status, local.play_count),
        (SyncStatus::Synced, 2)
    );
    assert_eq!(phone.outbox_len().unwrap(), 0);

    // A second device pulls everything.
    let laptop = world.device("laptop", &server.base_url);
    sign_in(&laptop, ADA).await;
    laptop.sync_now().await.unwrap();
    let there = laptop.get::<Story>(moon.id).await.unwrap();
    assert_eq!(
        (there.title.as_str(), there.play_count, there.is_favorite),
        ("The Moon and the Owl", 2, true)
    );
    assert_eq!(
        there.hero_name.as_deref(),
        Some("Luna"),
        "its hero came too"
    );
    let favs = laptop
        .list::<Story>(&StoryFilter {
            favorites_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(favs.len(), 1);
    let by_hero = laptop
        .list::<Story>(&StoryFilter {
            hero_id: Some(luna.id),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_hero.len(), 1);

    // Edits and deletes propagate back; the tombstone reaches the phone.
    let mut again = there_input(&there);
    again.content = "A new ending.".into();
    laptop.update::<Story>(moon.id, again).unwrap();
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(
        phone.get::<Story>(moon.id).await.unwrap().content,
        "A new ending."
    );
    phone.delete::<Story>(moon.id).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert!(laptop
        .list::<Story>(&StoryFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(
        laptop.get::<Story>(moon.id).await.unwrap_err().code(),
        "not_found",
        "gone here and on the server"
    );
    let report = laptop.sync_now().await.unwrap();
    assert_eq!((report.pushed, report.pulled), (0, 0), "converged");
    server.stop().await;
}

fn there_input(v: &is_core::StoryView) -> is_core::StoryInput {
    is_core::StoryInput {
        hero_id: v.hero_id,
        title: v.title.clone(),
        content: v.content.clone(),
        language: v.language,
        event_type: v.event_type,
        custom_event_id: v.custom_event_id,
        is_favorite: v.is_favorite,
    }
}

#[tokio::test]
async fn a_story_never_reaches_the_server_before_its_hero() {
    let world = World::new();
    let server = world.start_server().await;
    let transport = LossyTransport::new(&server.base_url);
    let phone = world.device_with("phone", transport.clone());
    sign_up(&phone, ADA).await;

    // The story is older in the outbox than... nothing: its hero was made first, but
    // even so the hero's create must be confirmed before the story goes.
    let event = phone
        .create::<CustomEvent>(custom_event("Birthday"))
        .unwrap();
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let mut s = story("Luna's birthday", Some(luna.id));
    s.event_type = None;
    s.custom_event_id = Some(event.id);
    let bday = phone.create::<Story>(s).unwrap();
    // The hero's create is applied but its answer lost: still unconfirmed.
    transport.lose_next_push_answers(1);
    phone.sync_now().await.unwrap_err();
    phone.sync_now().await.unwrap();

    let pushed = transport.pushed();
    let first_with_story = pushed
        .iter()
        .position(|p| p.iter().any(|(k, _, _)| *k == EntityKind::Story))
        .unwrap();
    for earlier in &pushed[..first_with_story] {
        assert!(earlier.iter().all(|(k, _, _)| *k != EntityKind::Story));
    }
    assert!(
        first_with_story >= 2,
        "the story waited for the replayed hero create: {pushed:?}"
    );
    assert!(pushed[first_with_story - 1]
        .iter()
        .any(|(k, op, id)| *k == EntityKind::Hero && op == "create" && *id == luna.id));
    let on_server = server_stories(&server).await;
    assert_eq!(on_server.len(), 1);
    assert_eq!(
        (on_server[0].hero_id, on_server[0].custom_event_id),
        (Some(luna.id), Some(event.id))
    );
    assert_eq!(
        phone.get::<Story>(bday.id).await.unwrap().sync.status,
        SyncStatus::Synced
    );
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_hero_keeps_its_stories_unlinked_everywhere() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let s = phone
        .create::<Story>(story("Luna's night", Some(luna.id)))
        .unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.get::<Story>(s.id).await.unwrap().hero_id,
        Some(luna.id)
    );

    phone.delete::<Hero>(luna.id).unwrap();
    let here = phone.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (here.hero_id, here.sync.status),
        (None, SyncStatus::Synced),
        "unlinked at once, nothing to push"
    );
    phone.sync_now().await.unwrap();
    let on_server = server_stories(&server).await;
    assert_eq!(on_server[0].hero_id, None, "the server unlinked it");
    laptop.sync_now().await.unwrap();
    assert!(laptop.list::<Hero>(&Default::default()).unwrap().is_empty());
    let there = laptop.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (there.hero_id, there.sync.status),
        (None, SyncStatus::Synced)
    );
    phone.sync_now().await.unwrap();
    assert_eq!(
        phone.list::<Story>(&StoryFilter::default()).unwrap().len(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn story_metadata_merges_and_content_asks_the_user() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    let s = phone.create::<Story>(story("Night", None)).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();

    // Different fields on each device: merged, no dialog, nothing lost.
    let mut mine = story("Night", None);
    mine.title = "Starry night".into();
    phone.update::<Story>(s.id, mine).unwrap();
    let mut theirs = story("Night", None);
    theirs.is_favorite = true;
    theirs.language = is_core::Language::De;
    laptop.update::<Story>(s.id, theirs).unwrap();
    laptop.sync_now().await.unwrap();
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.conflicts, 1, "{report:?}");
    let merged = phone.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (merged.title.as_str(), merged.is_favorite, merged.language),
        ("Starry night", true, is_core::Language::De)
    );
    assert_eq!(merged.sync.status, SyncStatus::Synced);
    assert!(
        phone
            .conflict_history(EntityKind::Story, s.id)
            .unwrap()
            .is_empty(),
        "nothing lost"
    );
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.get::<Story>(s.id).await.unwrap().title,
        "Starry night"
    );

    // The text changed on both sides: the user decides.
    let mut a = there_input(&merged);
    a.content = "Phone ending.".into();
    phone.update::<Story>(s.id, a).unwrap();
    let mut b = there_input(&merged);
    b.content = "Laptop ending.".into();
    laptop.update::<Story>(s.id, b).unwrap();
    laptop.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    let c = phone.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (c.sync.status, c.content.as_str()),
        (SyncStatus::Conflict, "Phone ending."),
        "mine stays until I choose"
    );
    assert_eq!(phone.overview().unwrap().conflicts, 1);
    let listed = phone.conflicts().unwrap();
    assert_eq!(
        (listed.len(), listed[0].entity, listed[0].fields.clone()),
        (1, EntityKind::Story, vec!["content".to_owned()])
    );
    let detail = phone.conflict_detail(EntityKind::Story, s.id).unwrap();
    assert_eq!(detail.local["content"], "Phone ending.");
    assert_eq!(detail.server["content"], "Laptop ending.");
    assert_eq!(detail.needs_choice, ["content"]);
    // A sync while in conflict pushes nothing for the row.
    assert_eq!(phone.sync_now().await.unwrap().pushed, 0);

    let mut fields = detail.merged.clone();
    fields["content"] = "Both endings.".into();
    phone
        .resolve_conflict(EntityKind::Story, s.id, ConflictChoice::Merged { fields })
        .unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.get::<Story>(s.id).await.unwrap().content,
        "Both endings."
    );
    let history = phone.conflict_history(EntityKind::Story, s.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolution, "user_merged");
    assert_eq!(
        history[0].server["content"], "Laptop ending.",
        "the server's version is kept to restore"
    );
    assert_eq!(
        phone.get::<Story>(s.id).await.unwrap().sync.status,
        SyncStatus::Synced
    );
    server.stop().await;
}

#[tokio::test]
async fn plays_on_two_devices_add_up_and_never_conflict() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    let s = phone.create::<Story>(story("Lullaby", None)).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();

    for _ in 0..3 {
        phone.increment::<Story>(s.id).unwrap();
    }
    // The laptop edits the title and plays twice, all while the phone's plays land.
    let mut t = story("Lullaby", None);
    t.title = "Lullaby for two".into();
    laptop.update::<Story>(s.id, t).unwrap();
    laptop.increment::<Story>(s.id).unwrap();
    laptop.increment::<Story>(s.id).unwrap();
    phone.sync_now().await.unwrap();
    // The phone's plays moved the server's version under the laptop's edit; the server
    // says "conflict", but only a counter changed: the edit is rebased and sent again,
    // with nothing to settle and nothing kept in the history.
    let report = laptop.sync_now().await.unwrap();
    assert_eq!(report.rejected, 0, "{report:?}");
    assert!(laptop
        .conflict_history(EntityKind::Story, s.id)
        .unwrap()
        .is_empty());
    phone.sync_now().await.unwrap();
    for device in [&phone, &laptop] {
        let v = device.get::<Story>(s.id).await.unwrap();
        assert_eq!(
            (v.play_count, v.title.as_str(), v.sync.status),
            (5, "Lullaby for two", SyncStatus::Synced)
        );
    }
    assert_eq!(server_stories(&server).await[0].play_count, 5);
    server.stop().await;
}

#[tokio::test]
async fn a_rejected_story_fails_alone_with_the_servers_message() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let laptop = world.device("laptop", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&laptop, ADA).await;
    let max = phone.create::<Hero>(hero("Max", 8)).unwrap();
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    // The phone deletes Max; the laptop has not heard yet and writes a story for him,
    // next to other changes.
    phone.delete::<Hero>(max.id).unwrap();
    phone.sync_now().await.unwrap();
    let doomed = laptop
        .create::<Story>(story("Max at sea", Some(max.id)))
        .unwrap();
    let fine = laptop
        .create::<Story>(story("Luna at sea", Some(luna.id)))
        .unwrap();
    laptop
        .update::<Hero>(luna.id, hero("Luna Sailor", 6))
        .unwrap();
    let event = laptop
        .create::<CustomEvent>(custom_event("Sailing day"))
        .unwrap();

    let report = laptop.sync_now().await.unwrap();
    assert_eq!(report.rejected, 1, "{report:?}");
    let failed = laptop.get::<Story>(doomed.id).await.unwrap();
    assert_eq!(failed.sync.status, SyncStatus::Failed);
    let msg = failed.sync.error.clone().unwrap();
    assert!(
        msg.contains("hero_id") && msg.contains("No such hero"),
        "{msg}"
    );
    assert_eq!(laptop.overview().unwrap().failed, 1);
    // The others went through.
    assert_eq!(
        laptop.get::<Story>(fine.id).await.unwrap().sync.status,
        SyncStatus::Synced
    );
    assert_eq!(
        laptop.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::Synced
    );
    assert_eq!(
        laptop
            .get::<CustomEvent>(event.id)
            .await
            .unwrap()
            .sync
            .status,
        SyncStatus::Synced
    );
    let titles: Vec<String> = server_stories(&server)
        .await
        .into_iter()
        .map(|s| s.title)
        .collect();
    assert_eq!(titles, ["Luna at sea"]);

    // The pull brought Max's deletion: the failed story is unlinked, and a retry lands.
    assert_eq!(laptop.get::<Story>(doomed.id).await.unwrap().hero_id, None);
    laptop.retry::<Story>(doomed.id).unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.get::<Story>(doomed.id).await.unwrap().sync.status,
        SyncStatus::Synced
    );
    assert_eq!(server_stories(&server).await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn illustrations_come_from_the_server_cached_and_refreshed() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    let s = phone.create::<Story>(story("Pictures", None)).unwrap();
    phone.sync_now().await.unwrap();

    // Nothing generated yet: the cache answers at once, the refresh follows as an event.
    let mut events = phone.subscribe();
    let first = phone.story_illustrations(s.id).await.unwrap();
    assert!(first.value.is_empty() && first.refreshing);
    let refreshed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let CoreEvent::Refreshed {
                value: Refreshed::Illustrations { story_id, items },
            } = events.recv().await.unwrap()
            {
                return (story_id, items);
            }
        }
    })
    .await
    .expect("a refresh event");
    assert_eq!(refreshed, (s.id, vec![]));

    let token = server.login(ADA, TEST_PASSWORD).await.token;
    let (status, body) = post_json(
        &server.url(&format!("/api/stories/{}/illustrations", s.id)),
        &token,
        serde_json::json!({"count": 2}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    server.state.wait_for_media().await;
    phone.sync_now().await.unwrap();
    let cached = phone.story_illustrations(s.id).await.unwrap();
    assert_eq!(cached.value.len(), 2, "the feed brought them");
    assert!(cached
        .value
        .iter()
        .all(|i| i.generation_status == is_core::GenerationStatus::Ready && i.image_url.is_some()));
    assert_eq!(
        cached
            .value
            .iter()
            .map(|i| i.display_order)
            .collect::<Vec<_>>(),
        [0, 1]
    );

    // A second device gets them; deleting the story takes them away everywhere.
    let laptop = world.device("laptop", &server.base_url);
    sign_in(&laptop, ADA).await;
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.story_illustrations(s.id).await.unwrap().value.len(),
        2
    );
    phone.delete::<Story>(s.id).unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(
        laptop.story_illustrations(s.id).await.unwrap_err().code(),
        "not_found"
    );
    let (status, _) = get_json(
        &server.url(&format!("/api/stories/{}/illustrations", s.id)),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_generated_story_is_cached_and_synced() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    // The hero has not reached the server: generating pushes it first.
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let generated = phone
        .generate_story(is_core::GenerateStoryInput {
            hero_id: luna.id,
            event_type: Some(is_core::EventType::Adventure),
            custom_event_id: None,
            language: is_core::Language::En,
            length: None,
        })
        .await
        .unwrap();
    assert_eq!(generated.sync.status, SyncStatus::Synced);
    assert!(!generated.content.is_empty());
    assert_eq!(generated.hero_id, Some(luna.id));
    assert_eq!(
        phone.list::<Story>(&StoryFilter::default()).unwrap().len(),
        1
    );
    let on_server = server_stories(&server).await;
    assert_eq!(
        on_server.iter().map(|s| s.id).collect::<Vec<_>>(),
        [generated.id]
    );
    // Usage counts it.
    let usage = phone.usage().await.unwrap();
    assert_eq!(usage.value.stats.stories_this_month, 1);

    // Offline: generation needs the server.
    server.stop().await;
    let err = phone
        .generate_story(is_core::GenerateStoryInput {
            hero_id: luna.id,
            event_type: Some(is_core::EventType::Bedtime),
            custom_event_id: None,
            language: is_core::Language::En,
            length: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "offline");
}

#[tokio::test]
async fn a_play_then_an_edit_of_the_same_story_push_without_a_conflict() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    let s = phone.create::<Story>(story("Tune", None)).unwrap();
    phone.sync_now().await.unwrap();
    // The increment goes first and bumps the server's version; the edit behind it is
    // then sent against that version, not the one it started from.
    phone.increment::<Story>(s.id).unwrap();
    phone
        .update::<Story>(s.id, story("Tune, again", None))
        .unwrap();
    let report = phone.sync_now().await.unwrap();
    assert_eq!((report.applied, report.conflicts), (2, 0), "{report:?}");
    let on_server = &server_stories(&server).await[0];
    assert_eq!(
        (
            on_server.title.as_str(),
            on_server.play_count,
            on_server.version
        ),
        ("Tune, again", 1, 3)
    );
    let v = phone.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (v.play_count, v.sync.status, v.sync.version),
        (1, SyncStatus::Synced, Some(3))
    );
    server.stop().await;
}

/// The lists a sync run changed, from the `data_changed` events it sent.
fn changed_lists(events: &mut tokio::sync::broadcast::Receiver<CoreEvent>) -> Vec<EntityKind> {
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let CoreEvent::DataChanged { entity } = event {
            kinds.push(entity);
        }
    }
    kinds
}

#[tokio::test]
async fn a_sync_run_refetches_only_the_lists_it_changed() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    let tablet = world.device("tablet", &server.base_url);
    sign_up(&phone, ADA).await;
    sign_in(&tablet, ADA).await;
    // The first runs (a full listing, which may sweep every kind) are behind them.
    phone.sync_now().await.unwrap();
    tablet.sync_now().await.unwrap();

    // A pushed story changes its row's badge: the story list, not heroes or the profile.
    phone.create::<Story>(story("Badges", None)).unwrap();
    let mut events = phone.subscribe();
    phone.sync_now().await.unwrap();
    assert_eq!(changed_lists(&mut events), [EntityKind::Story]);

    // Nothing to push or pull: nothing to refetch.
    phone.sync_now().await.unwrap();
    assert_eq!(changed_lists(&mut events), []);

    // A hero from another device: its list, and the stories that show its name.
    tablet.create::<Hero>(hero("Luna", 6)).unwrap();
    tablet.sync_now().await.unwrap();
    phone.sync_now().await.unwrap();
    assert_eq!(
        changed_lists(&mut events),
        [EntityKind::Hero, EntityKind::Story]
    );

    // The server fails the push: the row records the failure, and its list shows it.
    let mut edited = story("Badges, again", None);
    edited.content = "Edited while the server fails.".into();
    let badges = phone.list::<Story>(&StoryFilter::default()).unwrap();
    let badges = badges.iter().find(|s| s.title == "Badges").unwrap();
    phone.update::<Story>(badges.id, edited).unwrap();
    changed_lists(&mut events); // the edit's own `data_changed`
    set_faults(&server, serde_json::json!({"error_rate": 1.0})).await;
    phone.sync_now().await.unwrap_err();
    assert_eq!(changed_lists(&mut events), [EntityKind::Story]);

    // Offline: the change waits as it was, and nothing is refetched.
    server.stop().await;
    assert_eq!(phone.sync_now().await.unwrap_err().code(), "offline");
    assert_eq!(changed_lists(&mut events), []);
}
