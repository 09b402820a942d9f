//! End to end: the real app under Xvfb, a real server process, driven via WebDriver.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::{App, Server, PASSWORD};

const EMAIL: &str = "parent@example.com";

/// Sign in, create a hero while the server is down (pending badge), bring the server
/// back, sync: the badge turns synced and the server holds the hero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hero_created_offline_reaches_the_server() -> Result<()> {
    e2e::run_scenario("offline-then-sync", offline_then_sync).await
}

async fn offline_then_sync(dir: std::path::PathBuf) -> Result<()> {
    let dir = dir.as_path();
    let mut server = Server::start(dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let app = App::launch(dir, &server.base_url()).await?;

    // Sign in through the UI.
    app.type_into("email", EMAIL).await?;
    app.type_into("password", PASSWORD).await?;
    app.click("auth-submit").await?;
    app.find("new-hero")
        .await
        .context("the hero screen after sign-in")?;
    app.wait_attr(
        "[data-testid='network-indicator']",
        "data-state",
        "online",
        Duration::from_secs(20),
    )
    .await?;
    app.screenshot("01-signed-in").await?;

    // The server goes away; the app keeps working.
    server.down();
    app.click("new-hero").await?;
    app.type_into("hero-name", "Luna the Brave").await?;
    app.type_into("hero-age", "6").await?;
    app.click("trait-brave").await?;
    app.click("trait-curious").await?;
    app.type_into("hero-appearance", "Yellow raincoat and a lantern")
        .await?;
    app.type_into("hero-ability", "Talks to owls").await?;
    app.click("hero-save").await?;

    let row = "[data-testid='hero-row'][data-hero-name='Luna the Brave']";
    let badge = format!("{row} [data-testid='sync-badge']");
    app.wait_for(row)
        .await
        .context("the new hero appears at once")?;
    app.wait_attr(
        &badge,
        "data-status",
        "pending_create",
        Duration::from_secs(5),
    )
    .await?;
    let pending = app.find("pending-count").await?.text().await?;
    ensure!(pending.contains('1'), "pending count shows {pending:?}");
    // A sync attempt while the server is down leaves it pending, and the app says why.
    app.click("sync-now").await?;
    app.wait_attr(
        "[data-testid='network-indicator']",
        "data-state",
        "server_unreachable",
        Duration::from_secs(20),
    )
    .await?;
    app.wait_attr(
        &badge,
        "data-status",
        "pending_create",
        Duration::from_secs(5),
    )
    .await?;
    app.screenshot("02-offline-pending").await?;
    ensure!(
        server.heroes(EMAIL).await.is_err(),
        "the server is really down"
    );

    // The server comes back; sync.
    server.up().await?;
    app.click("sync-now").await?;
    app.wait_attr(&badge, "data-status", "synced", Duration::from_secs(30))
        .await?;
    app.wait_attr(
        "[data-testid='network-indicator']",
        "data-state",
        "online",
        Duration::from_secs(20),
    )
    .await?;
    app.screenshot("03-synced").await?;

    let heroes = server.heroes(EMAIL).await?;
    ensure!(
        heroes.len() == 1,
        "the server holds {} heroes",
        heroes.len()
    );
    ensure!(
        heroes[0].name == "Luna the Brave" && heroes[0].age == 6,
        "server copy: {:?}",
        heroes[0]
    );
    ensure!(heroes[0].appearance == "Yellow raincoat and a lantern");

    app.close().await?;
    server.down();
    Ok(())
}

const DEMO_EMAIL: &str = "demo@infinitestories.app";
const DEMO_PASSWORD: &str = "bedtime-stories";

/// A second device: sign in to the demo account, the server's heroes arrive and are synced;
/// edit one, delete one, and both reach the server; invalid input is refused in the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_account_edit_delete_and_validation() -> Result<()> {
    e2e::run_scenario("demo", demo_account).await
}

async fn demo_account(dir: std::path::PathBuf) -> Result<()> {
    // Progress with timestamps, for reading a slow or failed run.
    let t0 = std::time::Instant::now();
    macro_rules! step {
        ($m:expr) => {
            eprintln!("[{:>6.1}s] {}", t0.elapsed().as_secs_f64(), $m)
        };
    }
    let dir = dir.as_path();
    let mut server = Server::start_with(dir, &["--demo"]).await?;
    let on_server = server.heroes_of(DEMO_EMAIL, DEMO_PASSWORD).await?;
    ensure!(
        on_server.len() == 4,
        "the demo account has {} heroes",
        on_server.len()
    );
    let app = App::launch(dir, &server.base_url()).await?;

    step!("sign in");
    // A wrong password is refused with a message; the right one signs in.
    app.type_into("email", DEMO_EMAIL).await?;
    app.type_into("password", "not-the-password").await?;
    app.click("auth-submit").await?;
    let error = app.find("auth-error").await?.text().await?;
    ensure!(!error.trim().is_empty(), "a failed sign-in explains itself");
    app.type_into("password", DEMO_PASSWORD).await?;
    app.click("auth-submit").await?;

    step!("demo heroes arrive");
    // The demo heroes arrive by the launch sync, synced.
    let names: Vec<String> = on_server.iter().map(|h| h.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    app.wait_hero_names(&names, Duration::from_secs(30)).await?;
    for badge in app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid='sync-badge']"))
        .await?
    {
        ensure!(badge.attr("data-status").await?.as_deref() == Some("synced"));
    }

    step!("avatars from the media cache");
    // The demo heroes have drawn avatars: the web view loads them through the media://
    // scheme, which downloads each into the cache on first use.
    let loaded = "return Array.from(document.querySelectorAll('.avatar img'))
        .filter((img) => img.complete && img.naturalWidth > 0).length";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = app.client.execute(loaded, vec![]).await?;
        if n.as_u64() == Some(names.len() as u64) {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{n} of {} avatars loaded through media://",
            names.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    step!("keyboard");
    // Arrow keys, End and Home move the focus along the rows (a roving tabindex).
    let focused = "return document.activeElement?.getAttribute('data-hero-name') ?? null";
    app.client
        .execute(
            "document.querySelector(\"[data-testid='hero-row']\").focus()",
            vec![],
        )
        .await?;
    let shown = app.hero_names().await?;
    for (key, want) in [
        ("\u{E015}", &shown[1]),               // ArrowDown
        ("\u{E010}", &shown[shown.len() - 1]), // End
        ("\u{E011}", &shown[0]),               // Home
    ] {
        app.client.active_element().await?.send_keys(key).await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let now = app.client.execute(focused, vec![]).await?;
            if now.as_str() == Some(want.as_str()) {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "after key {key:?} the focus is on {now}, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    step!("form validation");
    // The form refuses bad input and says why, without saving anything.
    app.click("new-hero").await?;
    app.type_into("hero-name", "   ").await?;
    app.type_into("hero-age", "40").await?;
    app.click("hero-save").await?;
    app.find("error-name").await?;
    app.find("error-age").await?;
    app.find("error-traits").await?;
    app.click("hero-cancel").await?;
    app.wait_hero_names(&names, Duration::from_secs(5)).await?;

    step!("edit");
    // Edit a hero: the change syncs by itself (debounced push after a local write).
    let pip = on_server
        .iter()
        .find(|h| h.name.starts_with("Captain Pip"))
        .context("Captain Pip")?;
    let row = format!("[data-testid='hero-row'][data-hero-id='{}']", pip.id);
    app.wait_for(&format!("{row} [data-testid='hero-edit']"))
        .await?
        .click()
        .await?;
    app.type_into("hero-age", "9").await?;
    app.click("hero-save").await?;
    app.wait_attr(
        &format!("{row} [data-testid='sync-badge']"),
        "data-status",
        "synced",
        Duration::from_secs(30),
    )
    .await?;

    step!("delete");
    // Delete one: gone at once here, and from the server after the push.
    let milo = on_server
        .iter()
        .find(|h| h.name.starts_with("Milo"))
        .context("Milo")?;
    let milo_row = format!("[data-testid='hero-row'][data-hero-id='{}']", milo.id);
    app.wait_for(&format!("{milo_row} [data-testid='hero-delete']"))
        .await?
        .click()
        .await?;
    app.click("confirm-delete").await?;
    let remaining: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !n.starts_with("Milo"))
        .collect();
    app.wait_hero_names(&remaining, Duration::from_secs(5))
        .await?;

    step!("both reach the server");
    let start = std::time::Instant::now();
    loop {
        let now = server.heroes_of(DEMO_EMAIL, DEMO_PASSWORD).await?;
        let pip_age = now.iter().find(|h| h.id == pip.id).map(|h| h.age);
        if now.len() == 3 && pip_age == Some(9) {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(30),
            "server still has {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    step!("screenshot");
    app.screenshot("10-demo-heroes").await?;
    step!("screenshot taken");

    app.close().await?;
    server.down();
    Ok(())
}
