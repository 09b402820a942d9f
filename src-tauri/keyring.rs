//! The session token in the OS keyring (Secret Service on Linux, the Keychain on macOS,
//! the Credential Manager on Windows), through the `keyring` crate.
//!
//! When no keyring answers (a Linux session without a Secret Service daemon such as
//! GNOME Keyring or KWallet, or a headless run), the token is kept in the core's
//! [`FileSecrets`] fallback instead, readable by the user only; the log says so at
//! start-up (README, "Where the session token is kept").

use std::path::Path;
use std::sync::Arc;

use is_core::secrets::{FileSecrets, SecretError, SecretStore};

/// The keyring's service name for this app's secrets.
const SERVICE: &str = "app.infinitestories.desktop";

#[derive(Debug)]
pub struct OsKeyring {
    /// A token the fallback kept while no keyring answered moves here when it is read.
    fallback: FileSecrets,
}

impl OsKeyring {
    fn entry(key: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(SERVICE, key).map_err(err)
    }
}

fn err(e: keyring::Error) -> SecretError {
    SecretError {
        store: "OS keyring",
        message: e.to_string(),
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match Self::entry(key)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => match self.fallback.get(key)? {
                Some(secret) => {
                    self.set(key, &secret)?;
                    self.fallback.delete(key)?;
                    Ok(Some(secret))
                }
                None => Ok(None),
            },
            Err(e) => Err(err(e)),
        }
    }

    fn set(&self, key: &str, secret: &str) -> Result<(), SecretError> {
        Self::entry(key)?.set_password(secret).map_err(err)
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        self.fallback.delete(key)?;
        match Self::entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    fn kind(&self) -> &'static str {
        "OS keyring"
    }
}

/// The OS keyring if it answers, else the file fallback in the data directory.
pub fn secret_store(data_dir: &Path) -> Arc<dyn SecretStore> {
    let fallback = FileSecrets::in_data_dir(data_dir);
    let probe = keyring::Entry::new(SERVICE, "probe").and_then(|e| match e.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e),
    });
    match probe {
        Ok(()) => {
            tracing::info!("the session token is kept in the OS keyring");
            Arc::new(OsKeyring { fallback })
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                dir = %fallback.dir().display(),
                "no OS keyring answers; the session token is kept in a file readable only by you"
            );
            Arc::new(fallback)
        }
    }
}
