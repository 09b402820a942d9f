//! 410 `cursor_expired`: a full resync that keeps every pending local change, and
//! "apply then fail" answers replayed without a second effect, for every entity.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::*;
use is_core::clock::ManualClock;
use is_core::sync::plan::RetryPolicy;
use is_core::sync::state::SyncStatus;
use is_core::{CustomEvent, Hero, Story};
use is_core::{Language, ProfileInput, StoryFilter, Theme};
use is_protocol::{CustomEventRecord, HeroRecord, StoryRecord};
use serde_json::json;

const ADA: &str = "ada@example.com";

#[tokio::test]
async fn a_410_resync_keeps_pending_edits_which_then_push() {
    let world = World::new();
    let server = world.start_server_pruning_at_once().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    // The laptop runs on a clock we hold still, and its pushes can be refused.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let retry = RetryPolicy {
        base: Duration::from_secs(3600),
        max: Duration::from_secs(3600),
        max_attempts: 10,
    };
    let lossy = LossyTransport::new(&server.base_url);
    let laptop = world.device_custom("laptop", lossy.clone(), clock.clone(), retry);
    sign_in(&laptop, ADA).await;

    let keep = phone.create::<Hero>(hero("Keep", 5)).unwrap();
    let doomed = phone.create::<Hero>(hero("Doomed", 5)).unwrap();
    let doomed_story = phone.create::<Story>(story("Doomed story", None)).unwrap();
    let played = phone.create::<Story>(story("Played", None)).unwrap();
    let event = phone
        .create::<CustomEvent>(custom_event("Kept event"))
        .unwrap();
    phone.sync_now().await.unwrap();
    laptop.sync_now().await.unwrap();
    assert_eq!(laptop.list::<Hero>(&Default::default()).unwrap().len(), 2);

    // The laptop makes changes; its pushes fail (the server errs), so they stay pending.
    laptop
        .update::<Hero>(keep.id, hero("Keep edited", 6))
        .unwrap();
    let fresh = laptop
        .create::<Story>(story("Written on the laptop", Some(keep.id)))
        .unwrap();
    laptop.increment::<Story>(played.id).unwrap();
    let mut ev = custom_event("Kept event");
    ev.description = "Edited on the laptop".into();
    laptop.update::<CustomEvent>(event.id, ev).unwrap();
    lossy.refuse_pushes(true);
    laptop.sync_now().await.unwrap_err();

    // Meanwhile the phone deletes rows and the server prunes the tombstones: the
    // laptop's cursor is now older than the horizon.
    phone.delete::<Hero>(doomed.id).unwrap();
    phone.delete::<Story>(doomed_story.id).unwrap();
    phone.sync_now().await.unwrap();
    let pruned = server.state.prune_tombstones().unwrap();
    assert!(pruned.rows >= 2, "{pruned:?}");

    // The next sync cannot push (the server still errs on pushes) but pulls: 410, a
    // full resync.
    assert_eq!(laptop.sync_now().await.unwrap_err().code(), "server");
    let heroes: Vec<String> = laptop
        .list::<Hero>(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(
        heroes,
        ["Keep edited"],
        "the deleted hero was swept, the pending edit kept"
    );
    let stories = laptop.list::<Story>(&StoryFilter::default()).unwrap();
    let titles: Vec<&str> = stories.iter().map(|s| s.title.as_str()).collect();
    assert!(
        titles.contains(&"Written on the laptop") && titles.contains(&"Played"),
        "{titles:?}"
    );
    assert!(!titles.contains(&"Doomed story"));
    assert_eq!(
        laptop.cached::<Hero>(keep.id).unwrap().sync.status,
        SyncStatus::PendingUpdate
    );
    assert_eq!(
        laptop.get::<Story>(fresh.id).await.unwrap().sync.status,
        SyncStatus::PendingCreate
    );
    assert_eq!(
        laptop.get::<Story>(played.id).await.unwrap().play_count,
        1,
        "the unsent play still shows"
    );
    assert_eq!(
        laptop
            .get::<CustomEvent>(event.id)
            .await
            .unwrap()
            .description,
        "Edited on the laptop"
    );
    assert!(laptop.outbox_len().unwrap() >= 4);

    // The server takes pushes again: everything goes, and both devices converge.
    lossy.refuse_pushes(false);
    let report = laptop.sync_now().await.unwrap();
    assert_eq!((report.rejected, report.conflicts), (0, 0), "{report:?}");
    assert_eq!(laptop.outbox_len().unwrap(), 0);
    phone.sync_now().await.unwrap();
    assert_eq!(phone.cached::<Hero>(keep.id).unwrap().name, "Keep edited");
    assert_eq!(phone.get::<Story>(played.id).await.unwrap().play_count, 1);
    assert_eq!(
        phone
            .get::<Story>(fresh.id)
            .await
            .unwrap()
            .hero_name
            .as_deref(),
        Some("Keep edited")
    );
    assert_eq!(
        phone
            .get::<CustomEvent>(event.id)
            .await
            .unwrap()
            .description,
        "Edited on the laptop"
    );
    assert_eq!(
        laptop.sync_now().await.unwrap().pulled,
        0,
        "the new cursor works"
    );
    server.stop().await;
}

#[tokio::test]
async fn apply_then_fail_answers_are_replayed_without_duplicates() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, ADA).await;
    phone.profile().await.unwrap();
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    let s = phone.create::<Story>(story("Once", Some(luna.id))).unwrap();
    let e = phone.create::<CustomEvent>(custom_event("Once")).unwrap();
    phone.sync_now().await.unwrap();

    // Every kind of mutation, each applied by the server whose answer is then lost.
    phone
        .update::<Hero>(luna.id, hero("Luna Twice", 6))
        .unwrap();
    let mut s2 = story("Twice", Some(luna.id));
    s2.is_favorite = true;
    phone.update::<Story>(s.id, s2).unwrap();
    phone.increment::<Story>(s.id).unwrap();
    phone.increment::<CustomEvent>(e.id).unwrap();
    phone
        .update_profile(ProfileInput {
            name: "Twice".into(),
            preferred_language: Language::Es,
            theme: Theme::Dark,
            ..Default::default()
        })
        .unwrap();
    let new_story = phone.create::<Story>(story("New", None)).unwrap();
    let new_event = phone.create::<CustomEvent>(custom_event("New")).unwrap();
    set_faults(&server, json!({"apply_then_fail_rate": 1.0})).await;
    assert_eq!(phone.sync_now().await.unwrap_err().code(), "server");
    // The rows the server did apply came back through the pull that followed the failed
    // push, as server copies of rows whose changes are still unconfirmed. Nothing is
    // overwritten or counted twice.
    assert_eq!(phone.get::<Story>(s.id).await.unwrap().play_count, 1);
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::PendingUpdate
    );
    set_faults(&server, json!({"apply_then_fail_rate": 0.0})).await;
    // The same mutations are replayed: answered as duplicates.
    let mut waited = 0;
    while phone.outbox_len().unwrap() > 0 {
        assert!(waited < 100, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let report = phone.sync_now().await.unwrap();
        assert_eq!((report.rejected, report.conflicts), (0, 0), "{report:?}");
        waited += 1;
    }

    let heroes: Vec<HeroRecord> = server_items(&server, ADA, "/api/heroes").await;
    assert_eq!(
        (heroes.len(), heroes[0].name.as_str(), heroes[0].version),
        (1, "Luna Twice", 2)
    );
    let stories: Vec<StoryRecord> = server_items(&server, ADA, "/api/stories").await;
    assert_eq!(stories.len(), 2, "the replayed create made no second row");
    let once = stories.iter().find(|x| x.id == s.id).unwrap();
    assert_eq!(
        (once.title.as_str(), once.play_count, once.is_favorite),
        ("Twice", 1, true),
        "one play, not three"
    );
    assert!(stories.iter().any(|x| x.id == new_story.id));
    let events: Vec<CustomEventRecord> = server_items(&server, ADA, "/api/custom-events").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events.iter().find(|x| x.id == e.id).unwrap().usage_count, 1);
    assert!(events.iter().any(|x| x.id == new_event.id));
    assert_eq!(
        server_get(&server, ADA, "/api/users/me").await["name"],
        "Twice"
    );

    // Locally, everything converged to the server's rows.
    let local = phone.get::<Story>(s.id).await.unwrap();
    assert_eq!(
        (local.play_count, local.sync.status),
        (1, SyncStatus::Synced)
    );
    assert_eq!(phone.get::<CustomEvent>(e.id).await.unwrap().usage_count, 1);
    assert_eq!(phone.overview().unwrap().pending, 0);
    server.stop().await;
}
