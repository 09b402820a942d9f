//! Whether the OS says the connection is metered (a phone's hotspot, a capped plan): the
//! media prefetch then holds off (SPEC.md section 10, `Core::set_metered`).
//!
//! On Linux GIO's network monitor answers, the one GTK apps share: NetworkManager's
//! `Metered` property (or the network portal inside a sandbox), followed as it changes.
//! Without NetworkManager GIO cannot tell and says "not metered", so prefetch runs as on
//! any other connection.

use is_core::Core;

/// Reads the OS's answer now and follows it. Call on the main thread (Tauri's `setup`):
/// GIO reports changes in the main loop that GTK runs there.
#[cfg(target_os = "linux")]
pub fn watch(core: &Core) {
    use gio::prelude::NetworkMonitorExt;
    let monitor = gio::NetworkMonitor::default();
    let apply = {
        let core = core.clone();
        move |monitor: &gio::NetworkMonitor| {
            let metered = monitor.is_network_metered();
            tracing::info!(metered, "the OS's word on a metered connection");
            core.set_metered(metered);
        }
    };
    apply(&monitor);
    // GIO's default monitor lives as long as the process; so does this handler.
    monitor.connect_network_metered_notify(apply);
}

#[cfg(not(target_os = "linux"))]
pub fn watch(_core: &Core) {}
