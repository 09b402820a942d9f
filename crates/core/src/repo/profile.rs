//! The user's profile (SPEC.md section 2): one row, written by the server, with name,
//! language and theme editable. Read network-first; an edit is optimistic and goes
//! through the outbox like any other (entity `user_profile`, update only). serverWins.

use chrono::{DateTime, Utc};
use is_protocol::{Language, SubscriptionTier, Theme};
use rusqlite::Connection;
use serde::Serialize;
use uuid::Uuid;

pub use is_protocol::{Profile, ProfileInput, ProfileServer};

use crate::entity::store as entity;
use crate::entity::{ConflictStrategy, RowSync, SyncEntity, SyncRow};
use crate::error::Result;
use crate::policy::CachePolicy;

pub type ProfileRow = SyncRow<Profile>;

impl SyncEntity for Profile {
    const STRATEGY: ConflictStrategy = ConflictStrategy::ServerWins;
    const POLICY: CachePolicy = CachePolicy::NetworkFirst;

    type View = ProfileView;

    fn path(_id: Uuid) -> String {
        "/api/users/me".to_owned()
    }

    fn view(_conn: &Connection, row: &ProfileRow, max_attempts: u32) -> Result<ProfileView> {
        Ok(view(row, max_attempts))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProfileView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub preferred_language: Language,
    pub theme: Theme,
    pub subscription_tier: SubscriptionTier,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

pub fn view(row: &ProfileRow, max_attempts: u32) -> ProfileView {
    ProfileView {
        id: row.id,
        email: row.server.email.clone(),
        name: row.fields.name.clone(),
        preferred_language: row.fields.preferred_language,
        theme: row.fields.theme,
        subscription_tier: row.server.subscription_tier,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    }
}

/// The cached profile of `user`, if one was ever fetched.
pub fn get(conn: &Connection, user: Uuid, max_attempts: u32) -> Result<Option<ProfileView>> {
    Ok(entity::load::<Profile>(conn, user)?.map(|r| view(&r, max_attempts)))
}
