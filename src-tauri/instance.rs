//! One instance per data directory: a second launch on the same data brings the first
//! window to the front and exits; two instances on two data directories (two devices
//! on one machine, as the end-to-end tests run them) live side by side.
//!
//! The official single-instance plugin keys instances by the app's identifier (and, on
//! Linux, needs a D-Bus session bus), so it cannot tell data directories apart. Here the
//! data directory holds an exclusive lock (`instance.lock`, released by the OS when the
//! process dies, so a crash never leaves a stale lock) and, on Unix, a socket
//! (`instance.sock`) on which a second launch asks the first to show itself.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock of the running instance; dropping it lets another instance start.
#[derive(Debug)]
pub struct Instance {
    _lock: File,
    #[cfg(unix)]
    socket: PathBuf,
}

/// What [`acquire`] found.
#[derive(Debug)]
pub enum Acquired {
    /// This process is the instance of the data directory; `on_show` runs (on a
    /// background thread) whenever another launch asks it to come to the front.
    First(Instance),
    /// Another process has the data directory: it was asked to show its window.
    AlreadyRunning,
}

pub fn acquire(data_dir: &Path, on_show: impl Fn() + Send + 'static) -> std::io::Result<Acquired> {
    std::fs::create_dir_all(data_dir)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("instance.lock"))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            ask_to_show(data_dir);
            return Ok(Acquired::AlreadyRunning);
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    #[cfg(unix)]
    {
        let socket = data_dir.join("instance.sock");
        // A socket left by a process that died: the lock says nobody listens on it.
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket)?;
        std::thread::Builder::new()
            .name("instance".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stream.is_ok() {
                        on_show();
                    }
                }
            })?;
        Ok(Acquired::First(Instance {
            _lock: lock,
            socket,
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = on_show;
        Ok(Acquired::First(Instance { _lock: lock }))
    }
}

#[cfg(unix)]
fn ask_to_show(data_dir: &Path) {
    if let Err(e) = std::os::unix::net::UnixStream::connect(data_dir.join("instance.sock")) {
        tracing::warn!(%e, "the running instance did not answer");
    }
}

#[cfg(not(unix))]
fn ask_to_show(_data_dir: &Path) {}

impl Drop for Instance {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn a_second_launch_on_the_same_data_shows_the_first_and_another_data_dir_runs_beside() {
        let dir = tempfile::tempdir().unwrap();
        let shown = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&shown);
        let first = acquire(dir.path(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        assert!(matches!(first, Acquired::First(_)));
        assert!(matches!(
            acquire(dir.path(), || {}).unwrap(),
            Acquired::AlreadyRunning
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while shown.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(shown.load(Ordering::SeqCst), 1);

        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            acquire(other.path(), || {}).unwrap(),
            Acquired::First(_)
        ));

        // The lock goes with the instance: the next launch is the first again.
        drop(first);
        assert!(matches!(
            acquire(dir.path(), || {}).unwrap(),
            Acquired::First(_)
        ));
    }
}
