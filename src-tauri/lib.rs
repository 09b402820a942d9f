//! The Tauri shell: window, commands and events over the headless core. It holds no
//! logic of its own: each command extracts state, calls [`is_core::Core`], maps the error.

mod commands;
mod media;
mod settings;
#[cfg(test)]
mod typescript;

use anyhow::Context;
use is_core::{Core, CoreConfig, Trigger};
use tauri::{Emitter, Manager, WindowEvent};

/// The event name the UI listens on; its payload is a [`is_core::CoreEvent`].
pub const CORE_EVENT: &str = "core-event";

pub fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .init();
    let args = settings::LaunchArgs::from_env()?;

    tauri::Builder::default()
        .setup(move |app| {
            let data_dir = match &args.data_dir {
                Some(dir) => dir.clone(),
                None => app
                    .path()
                    .app_data_dir()
                    .context("no per-user data directory on this system")?,
            };
            tracing::info!(data_dir = %data_dir.display(), server = %args.server_url, "starting");
            let core = Core::open(CoreConfig::new(&data_dir, &args.server_url))
                .with_context(|| format!("opening the local cache in {}", data_dir.display()))?;

            // Forward core events to the UI.
            let mut events = core.subscribe();
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match events.recv().await {
                        Ok(event) => {
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
            app.manage(core);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::Focused(true) = event {
                if let Some(core) = window.try_state::<Core>() {
                    core.trigger(Trigger::Focus);
                }
            }
        })
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, media::handle)
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .context("running the Tauri application")
}
