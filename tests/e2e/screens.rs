//! End to end, the screens of the whole app (issue 9): stories offline, two devices in
//! conflict, pull-to-refresh, narration offline, hostile text, and a conflict strategy
//! from Settings. The real app under Xvfb, a real server process, driven via WebDriver;
//! screenshots land in `target/e2e-artifacts/screens-*.png`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use e2e::{eventually, Api, App, Server, PASSWORD};
use fantoccini::actions::{
    InputSource, MouseActions, PointerAction, WheelAction, WheelActions, MOUSE_BUTTON_LEFT,
};
use serde_json::{json, Value};

const EMAIL: &str = "parent@example.com";
/// Long enough for a sync against a debug server on a busy CI machine.
const SYNC: Duration = Duration::from_secs(30);
const UI: Duration = Duration::from_secs(10);

/// Progress with timestamps, for reading a slow or failed run.
struct Steps {
    name: &'static str,
    t0: Instant,
}

impl Steps {
    fn new(name: &'static str) -> Steps {
        Steps {
            name,
            t0: Instant::now(),
        }
    }

    fn step(&self, what: &str) {
        eprintln!(
            "[{} {:>6.1}s] {what}",
            self.name,
            self.t0.elapsed().as_secs_f64()
        );
    }
}

/// Whether Sync now is due again (never clicked, or a few seconds ago).
fn due(clicked: Option<Instant>) -> bool {
    match clicked {
        None => true,
        Some(t) => t.elapsed() > Duration::from_secs(4),
    }
}

fn story_row(id: &str) -> String {
    format!("[data-testid='story-row'][data-story-id='{id}']")
}

fn story_badge(id: &str) -> String {
    format!("{} [data-testid='sync-badge']", story_row(id))
}

async fn shot(app: &App, name: &str) -> Result<()> {
    app.screenshot(&format!("screens-{name}")).await?;
    Ok(())
}

/// Launches a device in `dir` (created if needed) and signs in; waits until it is online.
async fn device(dir: &Path, server: &Server, email: &str) -> Result<App> {
    std::fs::create_dir_all(dir)?;
    let app = App::launch(dir, &server.base_url()).await?;
    app.sign_in(email, PASSWORD).await?;
    app.wait_attr(
        "[data-testid='network-indicator']",
        "data-state",
        "online",
        SYNC,
    )
    .await?;
    Ok(app)
}

/// Switches "Work offline" in the header on or off, and waits for the network state to
/// follow. The switch sits inside the header's button that opens the Sync panel: if the
/// click opened the panel too, it is closed again (and said, for the report).
async fn work_offline(app: &App, on: bool) -> Result<()> {
    app.set_checked("work-offline", on).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    if app.exists("[data-testid='sync-panel'][open]").await? {
        eprintln!("NOTE: switching Work offline in the header also opened the Sync panel");
        app.wait_for("[data-testid='sync-panel'] button[aria-label='Close the Sync panel']")
            .await?
            .click()
            .await?;
        eventually!(UI, "the Sync panel closes", {
            Ok(if app.exists("[data-testid='sync-panel']").await? {
                Err("open".to_owned())
            } else {
                Ok(())
            })
        })?;
    }
    let indicator = "[data-testid='network-indicator']";
    eventually!(
        UI,
        format!("the network state follows Work offline = {on}"),
        {
            let state = app.attr(indicator, "data-state").await?;
            Ok(match (on, state.as_deref()) {
                (true, Some("offline")) | (false, Some("online" | "server_unreachable")) => Ok(()),
                _ => Err(format!("{state:?}")),
            })
        }
    )
}

/// What one story row shows: (title, excerpt, sync status), None when it is not rendered.
async fn row_state(app: &App, id: &str) -> Result<Option<(String, String, String)>> {
    let got = app
        .js(&format!(
            "const r = document.querySelector(\"{}\");
             if (!r) return null;
             return [r.querySelector('.title')?.textContent ?? '',
                     r.querySelector('.excerpt')?.textContent ?? '',
                     r.querySelector(\"[data-testid='sync-badge']\")?.dataset.status ?? ''];",
            story_row(id)
        ))
        .await?;
    if got.is_null() {
        return Ok(None);
    }
    let s = |i: usize| got[i].as_str().unwrap_or_default().trim().to_owned();
    Ok(Some((s(0), s(1), s(2))))
}

/// Waits until the story's row shows `title` and `text` and is synced. With `sync`, clicks
/// Sync now (again every few seconds: a click during a running sync is a no-op).
async fn wait_story(
    app: &App,
    id: &str,
    title: &str,
    text: &str,
    sync: bool,
    within: Duration,
) -> Result<()> {
    let mut clicked: Option<Instant> = None;
    eventually!(
        within,
        format!("the row of story {id} shows {title:?} / {text:?}, synced"),
        {
            if sync && due(clicked) {
                app.sync_now().await?;
                clicked = Some(Instant::now());
            }
            Ok(match row_state(app, id).await? {
                Some((t, x, s)) if t == title && x == text && s == "synced" => Ok(()),
                other => Err(format!("{other:?}")),
            })
        }
    )
}

/// Waits until the story's badge has `status` (clicking Sync now with `sync`).
async fn wait_status(
    app: &App,
    id: &str,
    status: &str,
    sync: bool,
    within: Duration,
) -> Result<()> {
    let mut clicked: Option<Instant> = None;
    eventually!(within, format!("story {id} is {status}"), {
        if sync && due(clicked) {
            app.sync_now().await?;
            clicked = Some(Instant::now());
        }
        Ok(match row_state(app, id).await? {
            Some((_, _, s)) if s == status => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
}

/// Waits until the server's copy of the story has `title` and `content`.
async fn wait_server_story(api: &Api, id: &str, title: &str, content: &str) -> Result<Value> {
    eventually!(
        SYNC,
        format!("the server's story {id} is {title:?} / {content:?}"),
        {
            let s = api.story(id).await?;
            Ok(if s["title"] == title && s["content"] == content {
                Ok(s)
            } else {
                Err(format!("{} / {}", s["title"], s["content"]))
            })
        }
    )
}

/// The id of the story row titled `title` (the first one), once it is rendered.
async fn story_id_by_title(app: &App, title: &str) -> Result<String> {
    let script = format!(
        "const t = {};
         const r = [...document.querySelectorAll(\"[data-testid='story-row']\")]
             .find((r) => r.querySelector('.title')?.textContent.trim() === t);
         return r ? r.dataset.storyId : null;",
        json!(title)
    );
    eventually!(UI, format!("a story row titled {title:?}"), {
        let v = app.js(&script).await?;
        Ok(v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| "none".to_owned()))
    })
}

/// Edits a story through the list's Edit button and the editor: the text, and the title
/// when given.
async fn edit_story(app: &App, id: &str, title: Option<&str>, text: &str) -> Result<()> {
    app.wait_for(&format!("{} [data-testid='story-edit']", story_row(id)))
        .await?
        .click()
        .await
        .context("clicking the row's Edit")?;
    app.find("story-content").await?;
    if let Some(title) = title {
        app.type_into("story-title", title).await?;
    }
    app.type_into("story-content", text).await?;
    app.click("story-save").await?;
    eventually!(UI, "the editor closes after Save", {
        Ok(if app.exists("[data-testid='story-content']").await? {
            let error = app.text("[data-testid='story-form-error']").await?;
            Err(format!("still open; form error: {error:?}"))
        } else {
            Ok(())
        })
    })
}

/// Story text long enough to read as a story (paragraphs of `words` words in all).
fn story_text(words: usize) -> String {
    const LINES: [&str; 4] = [
        "The little owl looked out over the sleeping harbour and counted the boats one by one.",
        "Far away the lighthouse blinked twice, as if it wanted to say goodnight to everyone.",
        "A gentle wind carried the smell of salt and warm bread across the quiet cobbled streets.",
        "And when the moon rose high, every window in the town glowed a soft and sleepy gold.",
    ];
    let mut out = String::new();
    let mut n = 0;
    let mut i = 0;
    while n < words {
        let line = LINES[i % LINES.len()];
        if i > 0 {
            out.push_str(if i % 3 == 0 { "\n\n" } else { " " });
        }
        out.push_str(line);
        n += line.split_whitespace().count();
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1. Offline create of a hero and a story

/// The server is down: a hero and a story made in the app wait with pending badges; the
/// server comes back, Sync now, both turn synced and the server holds both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hero_and_story_created_offline_reach_the_server() -> Result<()> {
    e2e::run_scenario("screens-offline", offline_create).await
}

async fn offline_create(dir: PathBuf) -> Result<()> {
    let s = Steps::new("offline");
    let mut server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let app = device(&dir, &server, EMAIL).await?;

    s.step("server down; a hero");
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
    let hero_row = "[data-testid='hero-row'][data-hero-name='Luna the Brave']";
    let hero_badge = format!("{hero_row} [data-testid='sync-badge']");
    app.wait_attr(&hero_badge, "data-status", "pending_create", UI)
        .await?;
    let hero_id = app
        .wait_for(hero_row)
        .await?
        .attr("data-hero-id")
        .await?
        .context("the hero row's id")?;

    s.step("a story about her");
    app.go("stories").await?;
    app.click("new-story").await?;
    let title = "Luna and the Lighthouse";
    let text = "Luna climbed the winding stairs of the lighthouse, one lantern step at a time.";
    app.type_into("story-title", title).await?;
    app.select("story-hero", &hero_id).await?;
    app.type_into("story-content", text).await?;
    shot(&app, "01-new-story-offline").await?;
    app.click("story-save").await?;
    let id = story_id_by_title(&app, title).await?;
    wait_status(&app, &id, "pending_create", false, UI).await?;
    let pending = app.find("pending-count").await?.text().await?;
    ensure!(pending.contains('2'), "pending count shows {pending:?}");

    s.step("Sync now while the server is down");
    app.sync_now().await?;
    app.wait_attr(
        "[data-testid='network-indicator']",
        "data-state",
        "server_unreachable",
        SYNC,
    )
    .await?;
    wait_status(&app, &id, "pending_create", false, UI).await?;
    app.wait_for(&format!(
        "{} [data-testid='sync-badge'][data-status^='pending']",
        story_row(&id)
    ))
    .await?;
    shot(&app, "02-stories-pending-offline").await?;

    s.step("server up; Sync now");
    server.up().await?;
    wait_story(&app, &id, title, text, true, SYNC).await?;
    shot(&app, "03-stories-synced").await?;
    app.go("heroes").await?;
    app.wait_attr(&hero_badge, "data-status", "synced", SYNC)
        .await?;
    shot(&app, "04-heroes-synced").await?;

    s.step("the server has both");
    let api = server.api(EMAIL).await?;
    let heroes = api.heroes().await?;
    ensure!(
        heroes.len() == 1 && heroes[0]["name"] == "Luna the Brave" && heroes[0]["id"] == hero_id,
        "the server's heroes: {heroes:?}"
    );
    let story = api.story(&id).await?;
    ensure!(
        story["title"] == title && story["content"] == text && story["hero_id"] == hero_id,
        "the server's story: {story}"
    );
    ensure!(api.stories().await?.len() == 1);

    app.close().await?;
    server.down();
    s.step("done");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Two devices edit the same story; the conflict dialog

/// One server, one account, two devices (two data directories). A edits a story while
/// working offline, B edits it online; when A comes back its row is in conflict and the
/// dialog shows both versions. Keep mine, Use server and Merge (per field) each end with
/// the expected story on both devices and on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_resolve_a_story_conflict_three_ways() -> Result<()> {
    e2e::run_scenario("screens-conflict", two_devices).await
}

#[derive(Clone, Copy, Debug)]
enum Choice {
    KeepMine,
    UseServer,
    /// Title from this device, text from the server.
    Merge,
}

async fn two_devices(dir: PathBuf) -> Result<()> {
    let s = Steps::new("conflict");
    let server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let api = server.api(EMAIL).await?;
    let title = "The Lighthouse Owl";
    let text = "Once upon a time an owl lived at the top of a lighthouse.";
    let story = api.create_story(title, text).await?;
    let id = story["id"].as_str().context("story id")?.to_owned();

    s.step("two devices sign in");
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    let (a, b) = tokio::try_join!(
        device(&dir_a, &server, EMAIL),
        device(&dir_b, &server, EMAIL)
    )?;
    for app in [&a, &b] {
        app.go("stories").await?;
    }
    tokio::try_join!(
        wait_story(&a, &id, title, text, true, SYNC),
        wait_story(&b, &id, title, text, true, SYNC)
    )?;
    shot(&a, "10-device-a-story").await?;

    let mut current = (title.to_owned(), text.to_owned());
    for (n, choice) in [Choice::KeepMine, Choice::UseServer, Choice::Merge]
        .into_iter()
        .enumerate()
    {
        current = conflict_round(&s, &a, &b, &api, &id, n + 1, choice, &current).await?;
    }

    a.close().await?;
    b.close().await?;
    s.step("done");
    Ok(())
}

/// One round: A offline edits, B edits and pushes, A comes back → conflict → `choice`.
/// Returns the story's (title, text) at the end.
#[allow(clippy::too_many_arguments)]
async fn conflict_round(
    s: &Steps,
    a: &App,
    b: &App,
    api: &Api,
    id: &str,
    n: usize,
    choice: Choice,
    before: &(String, String),
) -> Result<(String, String)> {
    let merge = matches!(choice, Choice::Merge);
    let a_title = format!("The Lighthouse Owl ({n}, A)");
    let b_title = format!("The Lighthouse Owl ({n}, B)");
    let a_text = format!("Round {n} on device A: the owl sang to the ships.");
    let b_text = format!("Round {n} on device B: the owl counted the stars.");
    let tag = format!("{}-{}", 10 + n * 10, format!("{choice:?}").to_lowercase());

    s.step(&format!(
        "round {n} ({choice:?}): A works offline and edits"
    ));
    work_offline(a, true).await?;
    edit_story(a, id, merge.then_some(a_title.as_str()), &a_text).await?;
    wait_status(a, id, "pending_update", false, UI).await?;

    s.step("B edits online; its change reaches the server");
    edit_story(b, id, merge.then_some(b_title.as_str()), &b_text).await?;
    let b_shown_title = if merge {
        b_title.clone()
    } else {
        before.0.clone()
    };
    wait_story(b, id, &b_shown_title, &b_text, true, SYNC).await?;
    wait_server_story(api, id, &b_shown_title, &b_text).await?;

    s.step("A comes back online: conflict");
    work_offline(a, false).await?;
    wait_status(a, id, "conflict", true, SYNC).await?;
    shot(a, &format!("{tag}-a-row-in-conflict")).await?;

    a.wait_for(&story_badge(id))
        .await?
        .click()
        .await
        .context("clicking the conflict badge")?;
    a.find("conflict-dialog").await?;
    let content_line = "[data-testid='conflict-field'][data-field='content']";
    // The dialog opens at once and fills in when the row's two versions are read.
    eventually!(UI, "the dialog's text line shows both versions", {
        let line = a.text(content_line).await?.unwrap_or_default();
        Ok(if line.contains(&a_text) && line.contains(&b_text) {
            Ok(())
        } else {
            Err(format!("{line:?}"))
        })
    })?;
    ensure!(
        a.attr(content_line, "data-differs").await?.as_deref() == Some("true"),
        "the text is marked as differing"
    );
    if merge {
        let title_line = a
            .text("[data-testid='conflict-field'][data-field='title']")
            .await?
            .unwrap_or_default();
        ensure!(
            title_line.contains(&a_title) && title_line.contains(&b_title),
            "the dialog's title line shows both: {title_line:?}"
        );
    }
    shot(a, &format!("{tag}-a-conflict-dialog")).await?;

    let expected = match choice {
        Choice::KeepMine => {
            a.click("keep-mine").await?;
            (before.0.clone(), a_text.clone())
        }
        Choice::UseServer => {
            a.click("use-server").await?;
            (before.0.clone(), b_text.clone())
        }
        Choice::Merge => {
            a.click("merge").await?;
            a.wait_attr("[data-testid='conflict-dialog']", "data-mode", "merge", UI)
                .await?;
            a.click("pick-title-mine").await?;
            a.click("pick-content-server").await?;
            // textContent: WebDriver's rendered text leaves out values clipped by the
            // dialog's scrolling body.
            let preview = a
                .js("return document.querySelector(\"[data-testid='merge-preview']\").textContent")
                .await?
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ensure!(
                preview.contains(&a_title) && preview.contains(&b_text),
                "the merge preview shows A's title and B's text: {preview:?}"
            );
            shot(a, &format!("{tag}-a-merge-picks")).await?;
            a.click("merge-save").await?;
            (a_title.clone(), b_text.clone())
        }
    };
    eventually!(UI, "the conflict dialog closes", {
        Ok(if a.exists("[data-testid='conflict-dialog']").await? {
            Err("still open".to_owned())
        } else {
            Ok(())
        })
    })?;

    s.step("A shows the result, synced");
    wait_story(a, id, &expected.0, &expected.1, true, SYNC).await?;
    s.step("the server has it");
    wait_server_story(api, id, &expected.0, &expected.1).await?;
    s.step("B pulls it");
    wait_story(b, id, &expected.0, &expected.1, true, SYNC).await?;
    ensure!(
        !a.exists("[data-testid='conflict-count']").await?,
        "A still counts a conflict"
    );
    shot(a, &format!("{tag}-a-resolved")).await?;
    shot(b, &format!("{tag}-b-resolved")).await?;
    Ok(expected)
}

// ---------------------------------------------------------------------------------------
// 3. Pull-to-refresh

/// Another device renames a story; pulling the stories list down syncs and shows the new
/// title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_to_refresh_brings_in_a_change_from_elsewhere() -> Result<()> {
    e2e::run_scenario("screens-pull", pull_to_refresh).await
}

async fn pull_to_refresh(dir: PathBuf) -> Result<()> {
    let s = Steps::new("pull");
    let server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let api = server.api(EMAIL).await?;
    let text = "Pip packed sandwiches, a blanket and a very small torch.";
    let story = api.create_story("Pip's Picnic", text).await?;
    let id = story["id"].as_str().context("story id")?.to_owned();
    let app = device(&dir, &server, EMAIL).await?;
    app.go("stories").await?;
    wait_story(&app, &id, "Pip's Picnic", text, true, SYNC).await?;

    s.step("renamed on the server");
    let renamed = "Pip's Midnight Picnic";
    api.patch_story(&id, json!({"title": renamed})).await?;
    // Nothing syncs by itself meanwhile (the background interval is minutes).
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        row_state(&app, &id).await?.map(|r| r.0).as_deref() == Some("Pip's Picnic"),
        "the new title arrived before the pull"
    );

    s.step("pull the list down with the mouse");
    let indicator = "[data-testid='ptr-indicator']";
    // Press in the list's left gutter (not on a row's buttons), near the top.
    let rect = app
        .js("const r = document.querySelector(\"[data-testid='story-list']\").getBoundingClientRect();
             return [r.left, r.top, r.width, r.height];")
        .await?;
    let (x, y) = (
        rect[0].as_f64().unwrap_or(0.0) + 10.0,
        rect[1].as_f64().unwrap_or(0.0) + 20.0,
    );
    let press = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(80)),
            x: 0.0,
            y: 20.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(120)),
            x: 0.0,
            y: 80.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(120)),
            x: 0.0,
            y: 120.0,
        });
    let mut how = "mouse drag";
    let dragged = match app.client.perform_actions(press).await {
        Ok(()) => app.attr(indicator, "data-state").await?,
        Err(e) => {
            eprintln!("pointer actions refused: {e}");
            None
        }
    };
    if dragged.as_deref() == Some("armed") {
        shot(&app, "30-pull-armed").await?;
        let release = MouseActions::new("mouse".into()).then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        app.client.perform_actions(release).await?;
    } else {
        // WebKitWebDriver did not give the page a pointer drag: the list also pulls with
        // the wheel (scrolling up past the top), as a touchpad does.
        eprintln!("the mouse drag left the indicator {dragged:?}; pulling with the wheel");
        let _ = app.client.release_actions().await;
        how = "wheel";
        let mut wheel = WheelActions::new("wheel".into());
        for _ in 0..4 {
            wheel = wheel.then(WheelAction::Scroll {
                duration: Some(Duration::from_millis(30)),
                x: x as i64,
                y: y as i64 + 60,
                delta_x: 0,
                delta_y: -70,
            });
        }
        app.client.perform_actions(wheel).await?;
        let state = app.attr(indicator, "data-state").await?;
        if matches!(state.as_deref(), Some("armed" | "refreshing")) {
            shot(&app, "30-pull-armed").await?;
        } else {
            bail!("neither a mouse drag nor the wheel pulled the list (indicator {state:?})");
        }
    }
    let _ = app.client.release_actions().await;

    s.step(&format!("pulled by {how}; the new title arrives"));
    let title = eventually!(SYNC, "the row shows the new title after the pull", {
        Ok(match row_state(&app, &id).await? {
            Some((t, _, s)) if t == renamed && s == "synced" => Ok(t),
            other => Err(format!("{other:?}")),
        })
    })?;
    ensure!(title == renamed);
    app.wait_attr(indicator, "data-state", "idle", UI).await?;
    ensure!(
        !app.exists("[data-testid='reader']").await?,
        "the release of the drag opened a story"
    );
    shot(&app, "31-pulled").await?;
    app.close().await?;
    s.step("done");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. Narration and illustrations offline

/// A narrated and illustrated story: the narration downloads with visible progress, and
/// once the server is gone it still plays, with its pictures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narration_downloads_and_plays_offline_with_illustrations() -> Result<()> {
    e2e::run_scenario("screens-narration", narration_offline).await
}

async fn narration_offline(dir: PathBuf) -> Result<()> {
    let s = Steps::new("narration");
    let mut server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let api = server.api(EMAIL).await?;
    // ~600 words: four minutes of narration, a 7.7 MB file.
    let text = story_text(600);
    let title = "The Sleepy Harbour";
    let story = api.create_story(title, &text).await?;
    let id = story["id"].as_str().context("story id")?.to_owned();

    s.step("the server narrates and illustrates it");
    api.post(&format!("/api/stories/{id}/audio"), json!({}))
        .await?;
    let story = eventually!(SYNC, "the narration is made", {
        let s = api.story(&id).await?;
        Ok(if s["audio_url"].is_string() {
            Ok(s)
        } else {
            Err(s["audio_url"].to_string())
        })
    })?;
    api.post(
        &format!("/api/stories/{id}/illustrations"),
        json!({"count": 2}),
    )
    .await?;
    let illustrations = eventually!(SYNC, "the illustrations are drawn", {
        let page = api.get(&format!("/api/stories/{id}/illustrations")).await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        Ok(
            if items.len() == 2 && items.iter().all(|i| i["image_url"].is_string()) {
                Ok(items)
            } else {
                Err(format!("{items:?}"))
            },
        )
    })?;
    eprintln!(
        "narration {} s, illustrations {:?}",
        story["audio_duration"],
        illustrations
            .iter()
            .map(|i| i["id"].to_string())
            .collect::<Vec<_>>()
    );

    let app = device(&dir, &server, EMAIL).await?;
    app.go("stories").await?;
    let excerpt: String = text.chars().take(160).collect();
    wait_story(&app, &id, title, excerpt.trim(), true, SYNC).await?;
    app.wait_for(&format!("{} .narrated", story_row(&id)))
        .await
        .context("the row says it is narrated")?;

    // Record every state the player's download line goes through, however briefly.
    app.js("window.__downloadSeen = [];
         new MutationObserver(() => {
           const d = document.querySelector(\"[data-testid='audio-downloading']\");
           const t = d && d.textContent.trim();
           const seen = window.__downloadSeen;
           if (t && seen[seen.length - 1] !== t) seen.push(t);
         }).observe(document.body, { subtree: true, childList: true, characterData: true });
         return true;")
        .await?;

    s.step("open the reader");
    app.wait_for(&format!("{} .title", story_row(&id)))
        .await?
        .click()
        .await?;
    app.find("reader").await?;
    app.find("audio-player").await?;
    let start = Instant::now();
    let mut clicked_download = false;
    eventually!(
        Duration::from_secs(60),
        "the narration is available offline",
        {
            if !clicked_download {
                if let Ok(b) = app
                    .client
                    .find(fantoccini::Locator::Css("[data-testid='audio-download']"))
                    .await
                {
                    shot(&app, "40-reader-not-downloaded").await?;
                    b.click().await?;
                    clicked_download = true;
                }
            }
            Ok(if app.exists("[data-testid='audio-offline']").await? {
                Ok(())
            } else {
                let line = app.text("[data-testid='audio-player'] .status").await?;
                Err(format!("player status {line:?}"))
            })
        }
    )?;
    let seen = app.js("return window.__downloadSeen").await?;
    eprintln!(
        "download: clicked={clicked_download}, {:.1} s, progress shown {seen}",
        start.elapsed().as_secs_f64()
    );
    ensure!(
        seen.as_array().is_some_and(|a| !a.is_empty()),
        "the download showed no progress (clicked Download: {clicked_download})"
    );
    shot(&app, "41-reader-available-offline").await?;

    // Every illustration shown once (the strip of thumbnails loads all of them), so that
    // they are in the cache before the server goes.
    let loaded = "return [...document.querySelectorAll(\"[data-testid='reader'] img\")]
        .map((img) => img.complete && img.naturalWidth > 0)";
    eventually!(SYNC, "the reader's pictures load", {
        let v = app.js(loaded).await?;
        let all = v.as_array().cloned().unwrap_or_default();
        Ok(
            if all.len() >= 2 && all.iter().all(|b| b.as_bool() == Some(true)) {
                Ok(())
            } else {
                Err(format!("{v}"))
            },
        )
    })?;

    s.step("server down; play");
    server.down();
    app.click("audio-toggle").await?;
    let audio = "document.querySelector(\"[data-testid='audio-player'] audio\")";
    let first = eventually!(UI, "the narration plays offline", {
        let t = app.js(&format!("return {audio}.currentTime")).await?;
        let t = t.as_f64().unwrap_or(0.0);
        Ok(if t > 0.3 {
            Ok(t)
        } else {
            let why = app.text("[data-testid='audio-problem']").await?;
            let state = app
                .js(&format!(
                    "const a = {audio}; return [a.paused, a.readyState, a.networkState, \
                     a.error?.code ?? null, a.error?.message ?? null, a.currentSrc]"
                ))
                .await?;
            Err(format!(
                "currentTime {t}, problem {why:?}, [paused, readyState, networkState, error, message, src] = {state}"
            ))
        })
    })?;
    let later = eventually!(UI, "the narration keeps playing", {
        let t = app
            .js(&format!("return {audio}.currentTime"))
            .await?
            .as_f64()
            .unwrap_or(0.0);
        Ok(if t > first + 0.5 {
            Ok(t)
        } else {
            Err(format!("currentTime {t}"))
        })
    })?;
    eprintln!("played {first:.2} s → {later:.2} s offline");
    ensure!(
        !app.exists("[data-testid='audio-problem']").await?,
        "the player reports a problem"
    );
    let art = app
        .js(
            "const img = document.querySelector(\"[data-testid='reader-illustration'] img\");
             return img ? [img.complete, img.naturalWidth] : null;",
        )
        .await?;
    ensure!(
        art[0] == true && art[1].as_u64().unwrap_or(0) > 0,
        "the illustration is shown offline: {art}"
    );
    shot(&app, "42-playing-offline").await?;
    // Pause, so that nothing plays while the session closes.
    app.click("audio-toggle").await?;
    app.close().await?;
    s.step("done");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 5. Hostile text

const SCRIPT: &str = "<script>window.__pwned=1</script>";
const IMG: &str = "<img src=x onerror=\"window.__pwned=2\">";
const LINK: &str = "<a href=\"javascript:window.__pwned=3\">link</a>";

/// A story (and a hero) whose text is markup arrive from the server: shown as text in the
/// list and the reader, and nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_from_the_server_shows_as_text() -> Result<()> {
    e2e::run_scenario("screens-hostile", hostile_text).await
}

async fn hostile_text(dir: PathBuf) -> Result<()> {
    let s = Steps::new("hostile");
    let server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let api = server.api(EMAIL).await?;
    let title = format!("Night {SCRIPT} {IMG} {LINK}");
    let text = format!(
        "It began with {SCRIPT} in the first line.\n\nThen came {IMG} and a door.\n\nClick {LINK} to wake up."
    );
    let story = api.create_story(&title, &text).await?;
    let id = story["id"].as_str().context("story id")?.to_owned();
    let hero_name = "<img src=x onerror=\"window.__pwned=4\">";
    api.post(
        "/api/heroes",
        json!({"name": hero_name, "age": 6, "traits": ["brave"],
               "appearance": SCRIPT, "special_ability": LINK}),
    )
    .await?;

    let app = device(&dir, &server, EMAIL).await?;
    // The hero list.
    app.wait_hero_names(&[hero_name], SYNC).await?;
    let shown = app
        .js("return document.querySelector(\"[data-testid='hero-row']\")?.textContent ?? ''")
        .await?;
    ensure!(
        shown.as_str().unwrap_or_default().contains(hero_name),
        "the hero's name shows literally: {shown}"
    );
    shot(&app, "50-hostile-hero").await?;

    s.step("the list");
    app.go("stories").await?;
    let excerpt: String = story["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect();
    let title_kept = story["title"].as_str().unwrap_or_default().to_owned();
    wait_story(&app, &id, &title_kept, excerpt.trim(), true, SYNC).await?;
    ensure!(
        title_kept.contains(SCRIPT) && title_kept.contains(IMG) && title_kept.contains(LINK),
        "the server kept the markup as given: {title_kept:?}"
    );
    nothing_ran(&app).await?;
    shot(&app, "51-hostile-list").await?;

    s.step("the reader");
    app.wait_for(&format!("{} .title", story_row(&id)))
        .await?
        .click()
        .await?;
    app.find("reader-text").await?;
    let got = app
        .js(
            "return [document.querySelector(\"[data-testid='reader-title']\").textContent,
                     document.querySelector(\"[data-testid='reader-text']\").textContent,
                     document.querySelectorAll(\"[data-testid='reader-text'] p\").length]",
        )
        .await?;
    ensure!(
        got[0].as_str().map(str::trim) == Some(title_kept.as_str()),
        "the reader's title: {}",
        got[0]
    );
    let body = got[1].as_str().unwrap_or_default();
    for part in [SCRIPT, IMG, LINK] {
        ensure!(
            body.contains(part),
            "the reader shows {part:?} literally: {body:?}"
        );
    }
    ensure!(got[2] == 3, "three paragraphs: {}", got[2]);
    // Clicking where the "link" is runs nothing either.
    app.find("reader-text").await?.click().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    nothing_ran(&app).await?;
    shot(&app, "52-hostile-reader").await?;
    app.close().await?;
    s.step("done");
    Ok(())
}

/// No markup from user text became elements, and none of it ran.
async fn nothing_ran(app: &App) -> Result<()> {
    let v = app
        .js("return {
               pwned: typeof window.__pwned,
               scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('__pwned')).length,
               imgs: document.querySelectorAll('img[src=\"x\"], img[onerror]').length,
               links: document.querySelectorAll('a[href^=\"javascript\"]').length,
               inStory: document.querySelectorAll(\"[data-testid='story-row'] script, [data-testid='story-row'] img, [data-testid='story-row'] a, [data-testid='reader-text'] script, [data-testid='reader-text'] img, [data-testid='reader-text'] a, [data-testid='reader-title'] *\").length,
             }")
        .await?;
    ensure!(v["pwned"] == "undefined", "window.__pwned is set: {v}");
    ensure!(
        v["scripts"] == 0 && v["imgs"] == 0 && v["links"] == 0 && v["inStory"] == 0,
        "markup from the server became elements: {v}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 6. A conflict strategy from Settings

/// Settings → stories: "Server wins". A local edit made offline meets a server edit: the
/// row ends with the server's text, without a conflict to resolve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_wins_strategy_from_settings_settles_the_next_conflict() -> Result<()> {
    e2e::run_scenario("screens-strategy", server_wins).await
}

async fn server_wins(dir: PathBuf) -> Result<()> {
    let s = Steps::new("strategy");
    let server = Server::start(&dir).await?;
    server.signup(EMAIL, "Pat").await?;
    let api = server.api(EMAIL).await?;
    let title = "The Paper Boat";
    let text = "A paper boat sailed down the gutter after the rain.";
    let story = api.create_story(title, text).await?;
    let id = story["id"].as_str().context("story id")?.to_owned();
    let app = device(&dir, &server, EMAIL).await?;
    app.go("stories").await?;
    wait_story(&app, &id, title, text, true, SYNC).await?;

    s.step("Settings: stories → server wins");
    app.go("settings").await?;
    eventually!(UI, "the strategy select is ready", {
        Ok(
            match app
                .attr("[data-testid='strategy-story']", "disabled")
                .await?
            {
                None => Ok(()),
                Some(d) => Err(format!("disabled={d}")),
            },
        )
    })?;
    let before = app.find("strategy-story").await?.prop("value").await?;
    ensure!(
        before.as_deref() == Some("merge"),
        "stories start with {before:?}"
    );
    app.select("strategy-story", "server_wins").await?;
    shot(&app, "60-settings-server-wins").await?;
    // It holds: leave and come back.
    app.go("stories").await?;
    app.go("settings").await?;
    eventually!(UI, "the strategy is kept", {
        let v = app.find("strategy-story").await?.prop("value").await?;
        Ok(if v.as_deref() == Some("server_wins") {
            Ok(())
        } else {
            Err(format!("{v:?}"))
        })
    })?;

    s.step("an offline edit here, another on the server");
    app.go("stories").await?;
    work_offline(&app, true).await?;
    let mine = "Here the boat reached the sea.";
    edit_story(&app, &id, None, mine).await?;
    wait_status(&app, &id, "pending_update", false, UI).await?;
    let theirs = "On the server the boat became a submarine.";
    api.patch_story(&id, json!({"content": theirs})).await?;

    s.step("back online: the server's text wins");
    work_offline(&app, false).await?;
    wait_story(&app, &id, title, theirs, true, SYNC).await?;
    ensure!(
        !app.exists("[data-testid='conflict-dialog']").await?
            && !app.exists("[data-testid='conflict-count']").await?,
        "a conflict was left to resolve"
    );
    wait_server_story(&api, &id, title, theirs).await?;
    let notice = app
        .text("[data-testid='notice'][data-reason='replaced']")
        .await?;
    eprintln!("notice after server-wins: {notice:?}");
    shot(&app, "61-server-won").await?;
    app.close().await?;
    s.step("done");
    Ok(())
}
