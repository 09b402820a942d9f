//! How the user's profile is stored: the generic table ([`crate::table`]) over the user's
//! own row in `users` (a [`Table::SINGLETON`]: the row's id is the user's id, it is
//! created with the account and never deleted).
//!
//! Its `seq` stays 0 until the first change, so the change feed carries a profile only
//! once it changed; `GET /api/users/me` always serves it. Through push it takes updates
//! of the user's own row only.

use crate::sql::{Connection, Transaction};
use chrono::{DateTime, Utc};
use is_protocol::{codes, ErrorBody, MutationOp, Profile, SubscriptionTier, UserProfile};
use uuid::Uuid;

use crate::table::{self, Table};

impl Table for Profile {
    const SQL_TABLE: &'static str = "users";
    const SINGLETON: bool = true;

    /// Another user's id is not found; anything but an update is forbidden.
    fn refuse_push(user_id: Uuid, id: Uuid, op: &MutationOp) -> Option<ErrorBody> {
        if id != user_id {
            return Some(ErrorBody::new(codes::NOT_FOUND, "No such user profile"));
        }
        match op {
            MutationOp::Update { .. } => None,
            other => Some(ErrorBody::new(
                codes::FORBIDDEN,
                format!(
                    "A user profile can only be updated (this mutation is a {})",
                    other.name()
                ),
            )),
        }
    }
}

/// The user's profile.
pub fn get_profile(conn: &Connection, user_id: Uuid) -> crate::sql::Result<Option<UserProfile>> {
    table::get::<Profile>(conn, user_id, user_id)
}

/// Changes a user's subscription tier (a server-side write: a new profile version).
pub fn set_tier(
    tx: &Transaction<'_>,
    user_id: Uuid,
    tier: SubscriptionTier,
    now: DateTime<Utc>,
) -> crate::sql::Result<Option<UserProfile>> {
    table::write_server::<Profile>(tx, user_id, user_id, now, |s| s.subscription_tier = tier)
}
