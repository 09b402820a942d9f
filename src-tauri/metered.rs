//! Whether the OS says the connection is metered (a phone's hotspot, a capped plan): the
//! media prefetch then holds off (SPEC.md section 10, `Core::set_metered`).
//!
//! On Linux GIO's network monitor answers, the one GTK apps share: NetworkManager's
//! `Metered` property (or the network portal inside a sandbox), followed as it changes.
//! Without NetworkManager GIO cannot tell and says "not metered", so prefetch runs as on
//! any other connection.

/// Reads the OS's answer now, calls `on_change` with it and again whenever it changes.
/// Call on the main thread (Tauri's `setup`): GIO reports changes in the main loop that
/// GTK runs there.
#[cfg(target_os = "linux")]
pub fn watch(on_change: impl Fn(bool) + 'static) {
    use gio::prelude::NetworkMonitorExt;
    let monitor = gio::NetworkMonitor::default();
    let apply = move |monitor: &gio::NetworkMonitor| {
        let metered = monitor.is_network_metered();
        tracing::info!(metered, "the OS's word on a metered connection");
        on_change(metered);
    };
    apply(&monitor);
    // GIO's default monitor lives as long as the process; so does this handler.
    monitor.connect_network_metered_notify(apply);
}

#[cfg(not(target_os = "linux"))]
pub fn watch(_on_change: impl Fn(bool) + 'static) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// A child process stopped when the test ends, however it ends.
    struct Stop(Child);

    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// `gdbus call` of `method` on `dest`'s object `path` on the bus at `address`: its
    /// output, or the error it printed.
    fn gdbus(
        address: &str,
        dest: &str,
        path: &str,
        method: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let out = Command::new("gdbus")
            .args([
                "call",
                "--address",
                address,
                "--dest",
                dest,
                "--object-path",
                path,
            ])
            .args(["--method", method])
            .args(args)
            .output()
            .expect("gdbus (libglib2.0-bin; scripts/setup.sh installs it)");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{method}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A method of the mock NetworkManager's main object.
    fn call_nm(address: &str, method: &str, args: &[&str]) {
        let nm = "org.freedesktop.NetworkManager";
        gdbus(address, nm, "/org/freedesktop/NetworkManager", method, args).unwrap();
    }

    /// GIO's own NetworkManager client, against NetworkManager's D-Bus API as
    /// python-dbusmock serves it on a private bus (no NetworkManager runs here): the flag
    /// is read at start and followed when it changes.
    #[test]
    fn follows_network_managers_metered_flag() {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (scripts/setup.sh installs it)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let _bus = Stop(bus);
        let address = address.trim().to_owned();
        let _nm = Stop(
            Command::new("/usr/bin/python3")
                .args(["-m", "dbusmock", "--system", "--template", "networkmanager"])
                .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
                .stdout(Stdio::null())
                .spawn()
                .expect("python3-dbusmock (scripts/setup.sh installs it)"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let owner = gdbus(
                &address,
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &["org.freedesktop.NetworkManager"],
            );
            if owner.is_ok_and(|o| o.contains("true")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the mock NetworkManager did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // NM_METERED_YES (a phone's hotspot).
        call_nm(
            &address,
            "org.freedesktop.DBus.Mock.AddProperty",
            &["org.freedesktop.NetworkManager", "Metered", "<uint32 1>"],
        );

        // GIO reads the system bus's address once, when its monitor is made (here).
        std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &address);
        let seen = Arc::new(Mutex::new(Vec::new()));
        super::watch({
            let seen = Arc::clone(&seen);
            move |metered| seen.lock().unwrap().push(metered)
        });
        assert_eq!(*seen.lock().unwrap(), [true], "read at start");

        // NM_METERED_GUESS_NO (an ordinary Wi-Fi).
        call_nm(
            &address,
            "org.freedesktop.DBus.Mock.UpdateProperties",
            &["org.freedesktop.NetworkManager", "{'Metered': <uint32 4>}"],
        );
        let context = gio::glib::MainContext::default();
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.lock().unwrap().last() != Some(&false) {
            assert!(
                Instant::now() < deadline,
                "the change never arrived: {seen:?}"
            );
            context.iteration(false);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
