//! Sync that heals by itself (SPEC.md sections 7, 8 and 12): an outage never spends a
//! change's attempts, every run sends everything pending at once, a row that cannot be
//! read holds up only itself, heroes merge with a notice when the server's version won
//! a field, a first sync shows progress and resumes after a cancel, and every run is in
//! the activity log.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use integration_tests::*;
use is_core::clock::{Clock, ManualClock};
use is_core::sync::plan::RetryPolicy;
use is_core::sync::state::SyncStatus;
use is_core::transport::HttpTransport;
use is_core::{CoreEvent, Hero, NoticeReason, RunOutcome, Trigger};
use is_protocol::EntityKind;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn an_outage_of_any_length_spends_no_attempt_and_the_change_goes_when_the_server_is_back() {
    let world = World::new();
    let server = world.start_server().await;
    let addr = server.addr;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    server.stop().await;

    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    // Far more runs than the maximum attempts (3 in these tests).
    for _ in 0..10 {
        assert_eq!(phone.sync_now().await.unwrap_err().code(), "offline");
    }
    let waiting = phone.cached::<Hero>(luna.id).unwrap();
    assert_eq!(waiting.sync.status, SyncStatus::PendingCreate);
    assert_eq!(waiting.sync.attempts, 0, "an outage spends nothing");
    assert!(!waiting.sync.given_up);
    assert_eq!(phone.overview().unwrap().failed, 0);
    assert_eq!(
        phone.network_state(),
        is_core::NetworkState::ServerUnreachable
    );

    let server = TestServer::start_on(&world.server_db(), addr).await;
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::Synced
    );
    let log = phone.activity_log(20).unwrap();
    assert_eq!(log[0].outcome, RunOutcome::Ok);
    assert_eq!(log[0].trigger, "manual");
    assert_eq!(log[0].applied, 1);
    assert_eq!(
        log.iter()
            .filter(|e| e.outcome == RunOutcome::Offline)
            .count(),
        10
    );
    server.stop().await;
}

#[tokio::test]
async fn repeated_server_errors_give_a_row_up_which_waits_for_retry_or_sync_now() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;

    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    set_faults(&server, json!({"error_rate": 1.0})).await;
    for _ in 0..3 {
        phone.sync_now().await.unwrap_err();
    }
    let failed = phone.cached::<Hero>(luna.id).unwrap();
    assert_eq!(failed.sync.status, SyncStatus::Failed);
    assert!(failed.sync.given_up);
    assert_eq!(
        failed.sync.op,
        Some(is_core::sync::state::PendingOp::Create)
    );
    set_faults(&server, json!({"error_rate": 0.0})).await;

    // A given-up row is not pushed by the background runs...
    for trigger in [Trigger::Periodic, Trigger::NetworkRestored, Trigger::Launch] {
        let report = phone.sync_for(trigger).await.unwrap();
        assert_eq!(report.pushed, 0, "{trigger:?}");
    }
    // ...but Retry, or Sync now, sends it.
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::Synced
    );
    server.stop().await;
}

#[tokio::test]
async fn sync_now_and_a_relaunch_send_rows_that_wait_in_backoff_at_once() {
    let world = World::new();
    let server = world.start_server().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    // A long backoff: the row would wait minutes for its timer.
    let retry = RetryPolicy {
        base: Duration::from_secs(600),
        max: Duration::from_secs(3600),
        max_attempts: 8,
    };
    let open = || {
        world.device_custom(
            "phone",
            Arc::new(HttpTransport::new(&server.base_url)),
            clock.clone() as Arc<dyn Clock>,
            retry,
        )
    };
    let phone = open();
    sign_up(&phone, "ada@example.com").await;
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    set_faults(&server, json!({"error_rate": 1.0})).await;
    phone.sync_now().await.unwrap_err();
    let waiting = phone.cached::<Hero>(luna.id).unwrap();
    assert_eq!(waiting.sync.attempts, 1);
    set_faults(&server, json!({"error_rate": 0.0})).await;

    // A relaunch: a new Core on the same file; its first run sends the row now, not
    // when the old backoff ends.
    drop(phone);
    let phone = open();
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::Synced
    );
    server.stop().await;
}

#[tokio::test]
async fn edits_of_different_fields_on_two_devices_both_survive() {
    let world = World::new();
    let server = world.start_server().await;
    let a = world.device("a", &server.base_url);
    let b = world.device("b", &server.base_url);
    sign_up(&a, "ada@example.com").await;
    sign_in(&b, "ada@example.com").await;
    let luna = a.create::<Hero>(hero("Luna", 6)).unwrap();
    a.sync_now().await.unwrap();
    b.sync_now().await.unwrap();

    // A edits the appearance offline; B changes the special ability and syncs first.
    let mut on_a = hero("Luna", 6);
    on_a.appearance = "A silver cloak".into();
    a.update::<Hero>(luna.id, on_a).unwrap();
    let mut on_b = hero("Luna", 6);
    on_b.special_ability = "Flies at night".into();
    b.update::<Hero>(luna.id, on_b).unwrap();
    b.sync_now().await.unwrap();
    a.sync_now().await.unwrap();
    b.sync_now().await.unwrap();

    for device in [&a, &b] {
        let h = device.cached::<Hero>(luna.id).unwrap();
        assert_eq!(h.appearance, "A silver cloak");
        assert_eq!(h.special_ability, "Flies at night");
        assert_eq!(h.sync.status, SyncStatus::Synced);
    }
    assert!(a.notices().unwrap().is_empty(), "nothing of A's was lost");
    server.stop().await;
}

#[tokio::test]
async fn a_field_both_devices_changed_takes_the_servers_value_and_says_so() {
    let world = World::new();
    let server = world.start_server().await;
    let a = world.device("a", &server.base_url);
    let b = world.device("b", &server.base_url);
    sign_up(&a, "ada@example.com").await;
    sign_in(&b, "ada@example.com").await;
    let luna = a.create::<Hero>(hero("Luna", 6)).unwrap();
    a.sync_now().await.unwrap();
    b.sync_now().await.unwrap();

    let mut on_a = hero("Luna from A", 6);
    on_a.appearance = "Only A changed this".into();
    a.update::<Hero>(luna.id, on_a).unwrap();
    b.update::<Hero>(luna.id, hero("Luna from B", 6)).unwrap();
    b.sync_now().await.unwrap();
    let mut events = a.subscribe();
    let report = a.sync_now().await.unwrap();
    assert_eq!(report.conflicts, 1);

    let h = a.cached::<Hero>(luna.id).unwrap();
    assert_eq!(
        h.name, "Luna from B",
        "the server wins a field both changed"
    );
    assert_eq!(h.appearance, "Only A changed this", "A's other edit stays");
    let notices = a.notices().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].reason, NoticeReason::Replaced);
    assert_eq!(notices[0].fields, vec!["name".to_owned()]);
    assert_eq!(notices[0].entity_id, luna.id);
    let history = a.conflict_history(EntityKind::Hero, luna.id).unwrap();
    assert_eq!(history[0].local["name"], "Luna from A", "A's value is kept");
    assert_eq!(Some(history[0].id), notices[0].history_id);
    let mut announced = false;
    while let Ok(e) = events.try_recv() {
        announced |= matches!(e, CoreEvent::Notice { .. });
    }
    assert!(announced, "the UI hears of it at once");
    a.dismiss_notice(notices[0].id).unwrap();
    assert!(a.notices().unwrap().is_empty());

    b.sync_now().await.unwrap();
    let on_b = b.cached::<Hero>(luna.id).unwrap();
    assert_eq!(
        (on_b.name.as_str(), on_b.appearance.as_str()),
        ("Luna from B", "Only A changed this")
    );
    server.stop().await;
}

#[tokio::test]
async fn an_edit_of_a_hero_deleted_elsewhere_is_kept_and_can_be_restored() {
    let world = World::new();
    let server = world.start_server().await;
    let a = world.device("a", &server.base_url);
    let b = world.device("b", &server.base_url);
    sign_up(&a, "ada@example.com").await;
    sign_in(&b, "ada@example.com").await;
    let luna = a.create::<Hero>(hero("Luna", 6)).unwrap();
    a.sync_now().await.unwrap();
    b.sync_now().await.unwrap();

    a.update::<Hero>(luna.id, hero("Luna the brave", 7))
        .unwrap();
    b.delete::<Hero>(luna.id).unwrap();
    b.sync_now().await.unwrap();
    a.sync_now().await.unwrap();

    let notices = a.notices().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].reason, NoticeReason::DeletedElsewhere);
    assert_eq!(notices[0].title, "Luna the brave");
    // Restore: the edited hero comes back (as a new row) and syncs to both devices.
    let restored = a
        .restore_conflict_version(notices[0].history_id.unwrap())
        .unwrap();
    a.sync_now().await.unwrap();
    b.sync_now().await.unwrap();
    let on_b = b.cached::<Hero>(restored).unwrap();
    assert_eq!((on_b.name.as_str(), on_b.age), ("Luna the brave", 7));
    server.stop().await;
}

#[tokio::test]
async fn an_unreadable_outbox_entry_holds_up_only_its_own_row() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    let broken = phone.create::<Hero>(hero("Broken", 6)).unwrap();
    let fine = phone.create::<Hero>(hero("Fine", 6)).unwrap();
    // Damage the first hero's outbox entry on disk.
    let conn = rusqlite::Connection::open(world.device_dir("phone").join("cache.sqlite3")).unwrap();
    conn.execute(
        "UPDATE outbox SET payload = '{not json' WHERE entity_id = ?1",
        [broken.id.to_string()],
    )
    .unwrap();
    drop(conn);

    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(
        phone.cached::<Hero>(fine.id).unwrap().sync.status,
        SyncStatus::Synced
    );
    let b = phone.cached::<Hero>(broken.id).unwrap();
    assert_eq!(b.sync.status, SyncStatus::Failed);
    assert!(
        b.sync
            .error
            .as_deref()
            .unwrap_or("")
            .contains("could not be read"),
        "{:?}",
        b.sync.error
    );
    // Discard clears it, and nothing is left owing.
    phone.discard::<Hero>(broken.id).unwrap();
    assert_eq!(phone.outbox_len().unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_first_sync_shows_progress_and_resumes_where_it_was_cancelled() {
    const ROWS: usize = 8_000;
    let world = World::new();
    let server = world.start_server().await;
    let session = server.signup("big@example.com").await;
    let now = server.state.now();
    server.state.with_conn(|conn| {
        let tx = conn.transaction().unwrap();
        for i in 0..ROWS {
            story_server::table::create::<is_protocol::Hero>(
                &tx,
                session.user.id,
                Uuid::now_v7(),
                hero(&format!("Hero {i}"), 5),
                now,
            )
            .unwrap();
        }
        tx.commit().unwrap();
    });
    let phone = world.device("phone", &server.base_url);
    sign_in(&phone, "big@example.com").await;

    // Cancel as soon as the first page is in.
    let mut events = phone.subscribe();
    let canceller = phone.clone();
    let watch = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(e) = events.recv().await {
            if let CoreEvent::SyncProgress { progress } = e {
                if seen.is_empty() {
                    canceller.cancel_sync();
                }
                seen.push(progress);
                if progress.done {
                    break;
                }
            }
        }
        seen
    });
    let err = phone.sync_now().await.unwrap_err();
    assert_eq!(err.code(), "cancelled");
    let partial = phone.list::<Hero>(&Default::default()).unwrap().len();
    assert!(
        partial > 0 && partial < ROWS,
        "{partial} rows after the cancel"
    );

    // The next sync goes on from there (no row twice, none missing).
    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.pulled as usize, ROWS - partial, "{report:?}");
    assert_eq!(phone.list::<Hero>(&Default::default()).unwrap().len(), ROWS);
    let seen = tokio::time::timeout(Duration::from_secs(10), watch)
        .await
        .unwrap()
        .unwrap();
    // Both runs show a first sync's progress; the last event counts what the resumed
    // run received.
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.iter().all(|p| p.first_sync), "{seen:?}");
    let last = seen.last().unwrap();
    assert!(last.done);
    assert_eq!(last.received as usize, ROWS - partial, "{seen:?}");
    let log = phone.activity_log(5).unwrap();
    assert_eq!(log[1].outcome, RunOutcome::Cancelled);
    server.stop().await;
}

#[tokio::test]
async fn the_background_loop_does_not_spin_while_the_server_is_down() {
    let world = World::new();
    let server = world.start_server().await;
    let phone = world.device("phone", &server.base_url);
    sign_up(&phone, "ada@example.com").await;
    server.stop().await;
    let luna = phone.create::<Hero>(hero("Luna", 6)).unwrap();
    // A backoff from an earlier server error, long past.
    let conn = rusqlite::Connection::open(world.device_dir("phone").join("cache.sqlite3")).unwrap();
    conn.execute(
        "UPDATE heroes SET next_attempt_at = '2020-01-01T00:00:00+00:00' WHERE id = ?1",
        [luna.id.to_string()],
    )
    .unwrap();
    drop(conn);

    let background = phone.start_background();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(background);
    let runs = phone.activity_log(1000).unwrap();
    assert!(
        !runs.is_empty() && runs.len() <= 4,
        "{} runs in 1.5 s while the server was down: {:?}",
        runs.len(),
        runs.iter().map(|r| r.trigger.as_str()).collect::<Vec<_>>()
    );
    assert!(runs.iter().all(|r| r.outcome == RunOutcome::Offline));
    assert_eq!(
        phone.cached::<Hero>(luna.id).unwrap().sync.status,
        SyncStatus::PendingCreate
    );
}
