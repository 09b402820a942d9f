//! How heroes are stored: the generic table ([`crate::table`]) of the `heroes` table,
//! plus what a hero delete does beyond it: the hero's stories stay, unlinked (each gets
//! `hero_id: null` and a new version, so the change feed carries it).
//!
//! The avatar fields are written by media generation through
//! [`crate::table::write_server`].

use crate::sql::Transaction;
use chrono::{DateTime, Utc};
use is_protocol::Hero;
use uuid::Uuid;

use crate::story_store;
use crate::table::Table;

impl Table for Hero {
    fn on_delete(
        tx: &Transaction<'_>,
        user_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> crate::sql::Result<()> {
        story_store::unlink_hero(tx, user_id, id, now).map(drop)
    }
}
