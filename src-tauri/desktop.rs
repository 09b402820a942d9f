//! Desktop conventions around the window: the tray icon (Sync now, Open, Quit), closing
//! to the tray while sync goes on, and native notifications for what needs the user
//! while the window is hidden (a new conflict, a change that failed for good, a notice).

use is_core::{Core, CoreEvent, SyncOverview, Trigger};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};
use tauri_plugin_notification::NotificationExt;

pub const MAIN: &str = "main";

/// Shows, unminimises and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The tray icon and its menu.
pub fn tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Infinite Stories", true, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&open, &sync, &PredefinedMenuItem::separator(app)?, &quit],
    )?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip("Infinite Stories")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_main(app),
            "sync" => {
                if let Some(core) = app.try_state::<Core>() {
                    core.trigger(Trigger::Manual);
                }
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Whether the user cannot see the window (hidden to the tray, or minimised).
fn hidden<R: Runtime>(window: &WebviewWindow<R>) -> bool {
    !window.is_visible().unwrap_or(true) || window.is_minimized().unwrap_or(false)
}

/// What to notify about a core event, comparing with the last overview seen.
pub fn notification_for(
    event: &CoreEvent,
    last: Option<&SyncOverview>,
) -> Option<(String, String)> {
    match event {
        CoreEvent::Overview { overview } => {
            let before = last.map_or((0, 0), |o| (o.conflicts, o.failed));
            if overview.conflicts > before.0 {
                let n = overview.conflicts;
                Some((
                    "A change needs your choice".into(),
                    if n == 1 {
                        "One item was changed on two devices. Open Infinite Stories to choose which version to keep.".into()
                    } else {
                        format!("{n} items were changed on two devices. Open Infinite Stories to choose which versions to keep.")
                    },
                ))
            } else if overview.failed > before.1 {
                Some((
                    "A change could not be synced".into(),
                    "The server refused a change. Open Infinite Stories to retry or discard it."
                        .into(),
                ))
            } else {
                None
            }
        }
        CoreEvent::Notice { notice } => Some((
            "Sync replaced one of your edits".into(),
            format!(
                "“{}” was changed on another device. Your version is kept in its history.",
                notice.title
            ),
        )),
        _ => None,
    }
}

/// Shows a native notification for `event` if it needs the user, the window is hidden
/// and the user has not turned notifications off.
pub fn notify<R: Runtime>(app: &AppHandle<R>, event: &CoreEvent, last: Option<&SyncOverview>) {
    let Some((title, body)) = notification_for(event, last) else {
        return;
    };
    let Some(window) = app.get_webview_window(MAIN) else {
        return;
    };
    let wanted = app
        .try_state::<Core>()
        .and_then(|core| core.desktop_prefs().ok())
        .is_some_and(|p| p.notifications);
    if !wanted || !hidden(&window) {
        return;
    }
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(%e, "could not show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use is_core::NetworkState;

    fn overview(conflicts: u32, failed: u32) -> SyncOverview {
        SyncOverview {
            account: None,
            network: NetworkState::Online,
            work_offline: false,
            syncing: false,
            paused_reason: None,
            last_sync_at: None,
            last_error: None,
            pending: 0,
            failed,
            conflicts,
        }
    }

    #[test]
    fn only_a_new_conflict_or_failure_is_worth_a_notification() {
        let ev = |c, f| CoreEvent::Overview {
            overview: overview(c, f),
        };
        let before = overview(1, 0);
        assert!(notification_for(&ev(2, 0), Some(&before)).is_some());
        assert!(notification_for(&ev(1, 0), Some(&before)).is_none());
        assert!(
            notification_for(&ev(0, 0), Some(&before)).is_none(),
            "fewer"
        );
        let failed = notification_for(&ev(1, 1), Some(&before)).unwrap();
        assert!(failed.0.contains("could not be synced"));
        assert!(notification_for(&ev(0, 0), None).is_none());
        assert!(notification_for(&CoreEvent::SessionExpired, None).is_none());
    }
}
