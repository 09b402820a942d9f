//! Where the session token lives: never in the SQLite cache, never in a log.
//!
//! The desktop shell injects the OS keyring (Secret Service on Linux, the Keychain on
//! macOS, the Credential Manager on Windows). Where no keyring can be reached (a Linux
//! session without a Secret Service daemon, a headless test run), the token is kept in
//! [`FileSecrets`]: one file per account in `<data dir>/secrets/`, readable by the user
//! only (mode 0600 in a 0700 folder), deleted on sign-out or expiry. The shell logs
//! which store it uses, and the README documents the fallback.

use std::fmt::Debug;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A secret store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{store}: {message}")]
pub struct SecretError {
    pub store: &'static str,
    pub message: String,
}

/// A place for one secret per key (the key names an account on a server).
pub trait SecretStore: Send + Sync + Debug {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, key: &str, secret: &str) -> Result<(), SecretError>;
    /// Deleting a missing secret is not an error.
    fn delete(&self, key: &str) -> Result<(), SecretError>;
    /// What the store is, for the log and the sync report ("os keyring", "file").
    fn kind(&self) -> &'static str;
}

/// Secrets as files readable by the user only: the fallback when no keyring answers.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    dir: PathBuf,
}

impl FileSecrets {
    /// Secrets in `<data_dir>/secrets/`.
    pub fn in_data_dir(data_dir: &Path) -> FileSecrets {
        FileSecrets {
            dir: data_dir.join("secrets"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A key's file: named by a hash, so no email or URL shows in a file name.
    fn path(&self, key: &str) -> PathBuf {
        let digest = Sha256::digest(key.as_bytes());
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }

    fn err(e: std::io::Error) -> SecretError {
        SecretError {
            store: "file",
            message: e.to_string(),
        }
    }
}

impl SecretStore for FileSecrets {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match std::fs::read_to_string(self.path(key)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::err(e)),
        }
    }

    fn set(&self, key: &str, secret: &str) -> Result<(), SecretError> {
        create_private_dir(&self.dir).map_err(Self::err)?;
        let path = self.path(key);
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(Self::err)?;
        file.write_all(secret.as_bytes()).map_err(Self::err)?;
        file.sync_all().map_err(Self::err)?;
        std::fs::rename(&tmp, &path).map_err(Self::err)
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        match std::fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::err(e)),
        }
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The key of an account's session: the account on its server.
pub fn session_key(user_id: &str, server_url: &str) -> String {
    format!("session:{user_id}@{server_url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_secret_round_trips_is_private_and_names_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSecrets::in_data_dir(dir.path());
        let key = session_key("u-1", "https://stories.example");
        assert_eq!(store.get(&key).unwrap(), None);
        store.set(&key, "tok-1").unwrap();
        store.set(&key, "tok-2").unwrap();
        assert_eq!(store.get(&key).unwrap().as_deref(), Some("tok-2"));
        let files: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 1);
        assert!(!files[0].contains("example") && !files[0].contains("u-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(&store.path(&key)), 0o600);
        }
        store.delete(&key).unwrap();
        store.delete(&key).unwrap();
        assert_eq!(store.get(&key).unwrap(), None);
    }
}
