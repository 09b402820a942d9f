//! The Tauri shell: window, commands and events over the headless core. It holds no
//! logic of its own: each command extracts state, calls [`is_core::Core`], maps the error.

mod commands;
mod desktop;
mod instance;
mod keyring;
mod media;
#[cfg(target_os = "linux")]
mod media_http;
mod metered;
mod settings;
#[cfg(test)]
mod typescript;

use anyhow::Context;
use is_core::{Core, CoreConfig, SyncOverview, Trigger};
use tauri::{Emitter, Manager, WindowEvent};
use tauri_plugin_log::{RotationStrategy, Target, TargetKind};

/// The event name the UI listens on; its payload is a [`is_core::CoreEvent`].
pub const CORE_EVENT: &str = "core-event";

/// The log: the app's log folder (rotated: 5 files of 2 MB) and stderr. Tracing events
/// of the core reach it through `tracing`'s `log` feature.
fn log_plugin<R: tauri::Runtime>() -> tauri::plugin::TauriPlugin<R> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    tauri_plugin_log::Builder::new()
        .clear_targets()
        .targets([
            Target::new(TargetKind::LogDir { file_name: None }),
            Target::new(TargetKind::Stderr),
        ])
        .rotation_strategy(RotationStrategy::KeepSome(5))
        .max_file_size(2_000_000)
        .level(level)
        .level_for("tao", log::LevelFilter::Warn)
        .level_for("wry", log::LevelFilter::Warn)
        .level_for("hyper_util", log::LevelFilter::Warn)
        .level_for("reqwest", log::LevelFilter::Warn)
        .build()
}

pub fn run() -> anyhow::Result<()> {
    let args = settings::LaunchArgs::from_env()?;

    tauri::Builder::default()
        .plugin(log_plugin())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let data_dir = match &args.data_dir {
                Some(dir) => dir.clone(),
                None => app
                    .path()
                    .app_data_dir()
                    .context("no per-user data directory on this system")?,
            };
            // One instance per data directory: a second launch shows the first.
            let handle = app.handle().clone();
            match instance::acquire(&data_dir, move || desktop::show_main(&handle))
                .with_context(|| format!("locking {}", data_dir.display()))?
            {
                instance::Acquired::First(lock) => {
                    app.manage(lock);
                }
                instance::Acquired::AlreadyRunning => {
                    tracing::info!(data_dir = %data_dir.display(), "already open: showed that window");
                    std::process::exit(0);
                }
            }
            tracing::info!(data_dir = %data_dir.display(), server = %args.server_url, "starting");
            let mut config = CoreConfig::new(&data_dir, &args.server_url);
            config.secrets = Some(keyring::secret_store(&data_dir));
            let core = Core::open(config)
                .with_context(|| format!("opening the local cache in {}", data_dir.display()))?;

            // Forward core events to the UI; notify what needs the user while hidden.
            let mut events = core.subscribe();
            let handle = app.handle().clone();
            let mut last: Option<SyncOverview> = core.overview().ok();
            tauri::async_runtime::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            desktop::notify(&handle, &event, last.as_ref());
                            if let is_core::CoreEvent::Overview { overview } = &event {
                                last = Some(overview.clone());
                            }
                            if let Err(e) = handle.emit(CORE_EVENT, &event) {
                                tracing::warn!(%e, "could not emit a core event");
                            }
                        }
                        Err(RecvError::Lagged(n)) => tracing::warn!(n, "UI event stream lagged"),
                        Err(RecvError::Closed) => break,
                    }
                }
            });

            let background = tauri::async_runtime::block_on({
                let core = core.clone();
                async move { core.start_background() }
            });
            app.manage(background);
            // WebKitGTK cannot play audio from the media:// scheme (media_http.rs).
            #[cfg(target_os = "linux")]
            if let Err(e) = tauri::async_runtime::block_on(media_http::start(core.clone())) {
                tracing::warn!(%e, "narration cannot be served over loopback HTTP: it will not play");
            }
            metered::watch({
                let core = core.clone();
                move |metered| core.set_metered(metered)
            });
            app.manage(core);

            // The window is made here, after the lock, so a second launch never shows one.
            let window = app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == desktop::MAIN)
                .context("no main window in tauri.conf.json")?
                .clone();
            tauri::WebviewWindowBuilder::from_config(app.handle(), &window)?.build()?;
            if let Err(e) = desktop::tray(app.handle()) {
                tracing::warn!(%e, "no tray icon on this desktop");
            }
            Ok(())
        })
        .on_window_event(|window, event| match event {
            WindowEvent::Focused(true) => {
                if let Some(core) = window.try_state::<Core>() {
                    core.trigger(Trigger::Focus);
                }
            }
            // Keep syncing in the tray: closing hides the window (Quit is in the tray).
            WindowEvent::CloseRequested { api, .. } => {
                let keep = window
                    .try_state::<Core>()
                    .and_then(|core| core.desktop_prefs().ok())
                    .is_some_and(|p| p.keep_in_tray);
                let has_tray = window.app_handle().tray_by_id("main").is_some();
                if keep && has_tray {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
            _ => {}
        })
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, media::handle)
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .context("running the Tauri application")
}
