//! Accounts: sign-up, sign-in and sign-out (one account's data never shows to another),
//! and the account's profile and usage (networkFirst, with a saved copy offline).

use is_protocol::{
    validate_signup, EntityKind, LoginRequest, ProfileInput, SessionResponse, SignupRequest,
    UsageStats, UserProfile,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::Core;
use crate::app::scheduler::Trigger;
use crate::db::meta;
use crate::entity::store as entity;
use crate::entity::SyncEntity;
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, Refreshed};
use crate::policy::{self, Read};
use crate::repo;
use crate::repo::profile::{self, Profile, ProfileView};
use crate::repo::usage::{self, UsageView};
use crate::secrets::{session_key, SecretStore};
use crate::status::Account;
use crate::transport::TransportError;

impl Core {
    pub fn account(&self) -> Result<Option<Account>> {
        self.db().read(load_account)
    }

    /// The session token, from the secret store (read once, then remembered).
    pub(crate) fn token(&self) -> Result<Option<String>> {
        let mut cached = self.inner.session.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = &*cached {
            return Ok(token.clone());
        }
        let token = match self.account()? {
            Some(a) => self.inner.secrets.get(&session_key_of(&a))?,
            None => None,
        };
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets the session (sign-out, or the server refused it): the secret is deleted.
    pub(crate) fn forget_session(&self) -> Result<()> {
        let account = self.account()?;
        *self.inner.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(None);
        if let Some(a) = account {
            self.inner.secrets.delete(&session_key_of(&a))?;
        }
        Ok(())
    }

    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Result<Account> {
        let req = SignupRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            name: name.trim().to_owned(),
        };
        validate_signup(&req).map_err(CoreError::Validation)?;
        let session = self
            .inner
            .engine
            .transport
            .signup(&req)
            .await
            .map_err(auth_error)?;
        self.store_session(session)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Account> {
        let mut fields = Vec::new();
        if email.trim().is_empty() {
            fields.push(is_protocol::FieldError::new("email", "Enter your email"));
        }
        if password.is_empty() {
            fields.push(is_protocol::FieldError::new(
                "password",
                "Enter your password",
            ));
        }
        if !fields.is_empty() {
            return Err(CoreError::Validation(fields));
        }
        let req = LoginRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
        };
        let session = self
            .inner
            .engine
            .transport
            .login(&req)
            .await
            .map_err(auth_error)?;
        self.store_session(session)
    }

    fn store_session(&self, s: SessionResponse) -> Result<Account> {
        let account = Account {
            user_id: s.user.id,
            email: s.user.email.clone(),
            name: s.user.name.clone(),
            server_url: self.inner.engine.transport.base_url().to_owned(),
        };
        // The token goes to the secret store first: a row without its token is an
        // account whose session ended, never one whose token sits in the cache.
        let key = session_key_of(&account);
        self.inner.secrets.set(&key, &s.token)?;
        *self.inner.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(Some(s.token.clone()));
        let stored = self.db().write(|tx| {
            let owner = meta::get(tx, OWNER)?;
            if owner.as_deref().is_some_and(|o| o != account.user_id.to_string()) {
                // This device holds another account's data. Never push it as this user,
                // and never drop it while it has unsynced changes.
                let (pending, failed, conflicts) = repo::counts(tx)?;
                if pending + failed + conflicts > 0 {
                    return Err(CoreError::Server {
                        status: 409,
                        body: is_protocol::ErrorBody::new(
                            "account_mismatch",
                            "This device has unsynced changes of another account. Sign in with that account first.",
                        ),
                    });
                }
                wipe_user_data(tx)?;
            }
            meta::set(tx, OWNER, &account.user_id.to_string())?;
            tx.execute(
                "INSERT OR REPLACE INTO account (id, user_id, email, name, server_url, token, expires_at)
                 VALUES (1, ?1, ?2, ?3, ?4, NULL, ?5)",
                params![
                    account.user_id.to_string(),
                    account.email,
                    account.name,
                    account.server_url,
                    s.expires_at.to_rfc3339()
                ],
            )?;
            Ok(())
        });
        if let Err(e) = stored {
            *self.inner.session.lock().unwrap_or_else(|e| e.into_inner()) = None;
            if let Err(d) = self.inner.secrets.delete(&key) {
                tracing::warn!(%d, "could not delete the session of a refused sign-in");
            }
            return Err(e);
        }
        for entity in EntityKind::ALL {
            self.emit(CoreEvent::DataChanged { entity });
        }
        self.emit_overview();
        self.trigger(Trigger::Launch);
        Ok(account)
    }

    /// Signs out: the session is revoked (best effort) and this account's local data
    /// (rows, outbox, history, notices, activity log) is deleted, so that whoever signs
    /// in next never sees it (SPEC.md 12). If changes have not reached the server yet,
    /// nothing happens unless `discard_unsynced`: the error says how many, for the
    /// warning.
    pub async fn sign_out(&self, discard_unsynced: bool) -> Result<()> {
        let unsynced = self.unsynced_changes()?;
        if unsynced > 0 && !discard_unsynced {
            return Err(CoreError::UnsyncedChanges { count: unsynced });
        }
        self.cancel_sync();
        if let Some(token) = self.token()? {
            if let Err(e) = self.inner.engine.transport.logout(&token).await {
                tracing::info!(%e, "could not revoke the session on the server");
            }
        }
        // Wait for a running sync to stop, so that nothing it writes outlives the wipe.
        let _running = self.inner.sync_lock.lock().await;
        if let Err(e) = self.forget_session() {
            tracing::warn!(%e, "could not delete the session token");
        }
        self.db().write(|tx| {
            wipe_user_data(tx)?;
            tx.execute("DELETE FROM account", [])?;
            meta::delete(tx, OWNER)?;
            Ok(())
        })?;
        self.inner.media.wipe()?;
        for entity in EntityKind::ALL {
            self.emit(CoreEvent::DataChanged { entity });
        }
        self.emit_overview();
        Ok(())
    }

    /// Local changes the server does not have yet (pending, failed or in conflict).
    pub fn unsynced_changes(&self) -> Result<u32> {
        let (pending, failed, conflicts) = self.db().read(repo::counts)?;
        let increments = self.db().read(repo::pending_increments)?;
        Ok(pending + failed + conflicts + increments)
    }

    // -----------------------------------------------------------------------------------
    // Profile and usage (networkFirst)

    /// The profile from the server, or the saved copy when it cannot be reached
    /// (`saved_copy` says why). Unsynced local edits show on top of either.
    pub async fn profile(&self) -> Result<Read<ProfileView>> {
        let max = self.max_attempts();
        let user = self.account()?.map(|a| a.user_id);
        let cache = || match user {
            Some(u) => self.db().read(|c| profile::get(c, u, max)),
            None => Ok(None),
        };
        let core = self.clone();
        let network = async move {
            let rec: UserProfile = core.fetch("/api/users/me").await?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<Profile>(tx, &rec))?;
            core.db()
                .read(|c| profile::get(c, rec.id, max))?
                .ok_or(CoreError::NotCached)
        };
        let events = self.clone();
        let refreshed = move |r: Result<ProfileView>| {
            if let Ok(profile) = r {
                events.emit(CoreEvent::Refreshed {
                    value: Refreshed::Profile { profile },
                });
            }
        };
        policy::read(Profile::POLICY, cache, network, refreshed).await
    }

    /// Edits the profile: saved at once, synced like any other change (serverWins).
    pub fn update_profile(&self, input: ProfileInput) -> Result<ProfileView> {
        let ctx = self.ctx();
        let user = self
            .account()?
            .map(|a| a.user_id)
            .ok_or(CoreError::NotSignedIn)?;
        let row = self.db().write(|tx| {
            if entity::load::<Profile>(tx, user)?.is_none() {
                return Err(CoreError::NotCached);
            }
            repo::update::<Profile>(tx, &ctx, user, input)
        })?;
        self.changed_locally(EntityKind::UserProfile);
        Ok(profile::view(&row, ctx.max_attempts))
    }

    /// This month's usage and limits from the server, or the saved copy.
    pub async fn usage(&self) -> Result<Read<UsageView>> {
        let cache = || {
            Ok(self
                .db()
                .read(usage::load)?
                .map(|(stats, fetched_at)| UsageView { stats, fetched_at }))
        };
        let core = self.clone();
        let network = async move {
            let stats: UsageStats = core.fetch("/api/usage").await?;
            let now = core.now();
            core.db().write(|tx| usage::save(tx, &stats, now))?;
            Ok(UsageView {
                stats,
                fetched_at: now,
            })
        };
        let events = self.clone();
        let refreshed = move |r: Result<UsageView>| {
            if let Ok(usage) = r {
                events.emit(CoreEvent::Refreshed {
                    value: Refreshed::Usage { usage },
                });
            }
        };
        policy::read(usage::POLICY, cache, network, refreshed).await
    }
}

const OWNER: &str = "owner_user_id";

pub(crate) fn load_account(conn: &Connection) -> Result<Option<Account>> {
    let row = conn
        .query_row(
            "SELECT user_id, email, name, server_url FROM account WHERE id = 1",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    row.map(|(user_id, email, name, server_url)| {
        let user_id = user_id
            .parse()
            .map_err(|_| CoreError::Corrupt("account: bad user id".into()))?;
        Ok(Account {
            user_id,
            email,
            name,
            server_url,
        })
    })
    .transpose()
}

fn session_key_of(a: &Account) -> String {
    session_key(&a.user_id.to_string(), &a.server_url)
}

/// A cache written by an older version kept the token in the `account` row: it moves to
/// the secret store, and the column is cleared.
pub(crate) fn move_token_out_of_the_cache(
    conn: &Connection,
    secrets: &dyn SecretStore,
) -> Result<()> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT user_id, server_url, token FROM account WHERE id = 1 AND token IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((user_id, server_url, token)) = row {
        secrets.set(&session_key(&user_id, &server_url), &token)?;
        conn.execute("UPDATE account SET token = NULL", [])?;
    }
    Ok(())
}

/// Deletes everything that belongs to the signed-in account (device settings such as
/// the conflict strategies and Work offline stay).
fn wipe_user_data(tx: &Connection) -> Result<()> {
    for table in repo::SYNCED_TABLES.iter().chain(&[
        "story_illustrations",
        "usage_cache",
        "outbox",
        "conflict_history",
        "notices",
        "sync_log",
        "media_cache",
    ]) {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    for key in [
        meta::CURSOR,
        meta::LAST_SYNC_AT,
        meta::RESYNC,
        meta::INITIAL_SYNC,
    ] {
        meta::delete(tx, key)?;
    }
    Ok(())
}

/// Sign-in and sign-up errors: field errors stay field errors, and a wrong password is
/// not "the server is broken".
fn auth_error(e: TransportError) -> CoreError {
    match e {
        TransportError::Http { status, body, .. } => {
            if body.code == is_protocol::codes::VALIDATION {
                let fields = body
                    .details
                    .as_ref()
                    .and_then(|d| d.get("fields"))
                    .and_then(|f| serde_json::from_value(f.clone()).ok())
                    .unwrap_or_default();
                if Vec::is_empty(&fields) {
                    CoreError::Server { status, body }
                } else {
                    CoreError::Validation(fields)
                }
            } else {
                CoreError::Server { status, body }
            }
        }
        other => CoreError::Transport(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::FileSecrets;

    #[test]
    fn a_token_an_older_version_kept_in_the_cache_moves_to_the_secret_store() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_in_memory().unwrap();
        conn.execute(
            "INSERT INTO account (id, user_id, email, name, server_url, token, expires_at)
             VALUES (1, '00000000-0000-0000-0000-000000000007', 'a@b.c', 'Ada', 'http://s', 'tok', 'x')",
            [],
        )
        .unwrap();
        let secrets = FileSecrets::in_data_dir(dir.path());
        move_token_out_of_the_cache(&conn, &secrets).unwrap();
        let key = session_key("00000000-0000-0000-0000-000000000007", "http://s");
        assert_eq!(secrets.get(&key).unwrap().as_deref(), Some("tok"));
        let left: Option<String> = conn
            .query_row("SELECT token FROM account", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, None);
        // Nothing to move the second time.
        move_token_out_of_the_cache(&conn, &secrets).unwrap();
        assert_eq!(load_account(&conn).unwrap().unwrap().name, "Ada");
    }
}
