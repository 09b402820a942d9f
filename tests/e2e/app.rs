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
    app.find("new-hero").await.context("the hero screen after sign-in")?;
    app.wait_attr("[data-testid='network-indicator']", "data-state", "online", Duration::from_secs(20)).await?;
    app.screenshot("01-signed-in").await?;

    // The server goes away; the app keeps working.
    server.down();
    app.click("new-hero").await?;
    app.type_into("hero-name", "Luna the Brave").await?;
    app.type_into("hero-age", "6").await?;
    app.click("trait-brave").await?;
    app.click("trait-curious").await?;
    app.type_into("hero-appearance", "Yellow raincoat and a lantern").await?;
    app.type_into("hero-ability", "Talks to owls").await?;
    app.click("hero-save").await?;

    let row = "[data-testid='hero-row'][data-hero-name='Luna the Brave']";
    let badge = format!("{row} [data-testid='sync-badge']");
    app.wait_for(row).await.context("the new hero appears at once")?;
    app.wait_attr(&badge, "data-status", "pending_create", Duration::from_secs(5)).await?;
    let pending = app.find("pending-count").await?.text().await?;
    ensure!(pending.contains('1'), "pending count shows {pending:?}");
    // A sync attempt while the server is down leaves it pending, and the app says why.
    app.click("sync-now").await?;
    app.wait_attr("[data-testid='network-indicator']", "data-state", "server_unreachable", Duration::from_secs(20)).await?;
    app.wait_attr(&badge, "data-status", "pending_create", Duration::from_secs(5)).await?;
    app.screenshot("02-offline-pending").await?;
    ensure!(server.heroes(EMAIL).await.is_err(), "the server is really down");

    // The server comes back; sync.
    server.up().await?;
    app.click("sync-now").await?;
    app.wait_attr(&badge, "data-status", "synced", Duration::from_secs(30)).await?;
    app.wait_attr("[data-testid='network-indicator']", "data-state", "online", Duration::from_secs(20)).await?;
    app.screenshot("03-synced").await?;

    let heroes = server.heroes(EMAIL).await?;
    ensure!(heroes.len() == 1, "the server holds {} heroes", heroes.len());
    ensure!(heroes[0].name == "Luna the Brave" && heroes[0].age == 6, "server copy: {:?}", heroes[0]);
    ensure!(heroes[0].appearance == "Yellow raincoat and a lantern");

    app.close().await?;
    server.down();
    Ok(())
}
