//! How stories are stored: the generic table ([`crate::table`]) of the `stories` table,
//! plus what stories do beyond it.
//!
//! - A story may only point at the user's own live hero and live custom event: anything
//!   else is a field error on `hero_id` / `custom_event_id` (another user's row looks
//!   exactly like a missing one).
//! - Incrementing `play_count` also sets `last_played_at` to the server's time.
//! - Deleting a story tombstones its illustrations.
//! - Deleting a hero unlinks its stories ([`unlink_hero`]).
//!
//! The audio fields are written by media generation through
//! [`crate::table::write_server`].

use crate::params;
use crate::sql::{Connection, Transaction};
use chrono::{DateTime, Utc};
use is_protocol::{CustomEvent, FieldError, Hero, Story, StoryInput, StoryServer};
use uuid::Uuid;

use crate::db::{write_each, UuidText};
use crate::illustration_store;
use crate::table::{live_exists, Table};

impl Table for Story {
    fn check_references(
        conn: &Connection,
        user_id: Uuid,
        input: &StoryInput,
        before: Option<&StoryInput>,
    ) -> crate::sql::Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let changed = |new: Option<Uuid>, old: Option<Uuid>| new.filter(|n| Some(*n) != old);
        let (old_hero, old_event) = before.map_or((None, None), |b| (b.hero_id, b.custom_event_id));
        if let Some(h) = changed(input.hero_id, old_hero) {
            if !live_exists::<Hero>(conn, user_id, h)? {
                errors.push(FieldError::new("hero_id", "No such hero"));
            }
        }
        if let Some(e) = changed(input.custom_event_id, old_event) {
            if !live_exists::<CustomEvent>(conn, user_id, e)? {
                errors.push(FieldError::new("custom_event_id", "No such custom event"));
            }
        }
        Ok(errors)
    }

    fn on_delete(
        tx: &Transaction<'_>,
        user_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> crate::sql::Result<()> {
        illustration_store::delete_for_story(tx, user_id, id, now).map(drop)
    }

    fn after_increment(server: &mut StoryServer, now: DateTime<Utc>) {
        server.last_played_at = Some(now);
    }
}

/// Unlinks the user's live stories of `hero_id` (a new version each).
pub fn unlink_hero(
    tx: &Transaction<'_>,
    user_id: Uuid,
    hero_id: Uuid,
    now: DateTime<Utc>,
) -> crate::sql::Result<usize> {
    write_each(
        tx,
        "SELECT id FROM stories WHERE user_id = ?1 AND hero_id = ?2 AND deleted = 0
         ORDER BY created_seq",
        params![UuidText::new(user_id), UuidText::new(hero_id)],
        "UPDATE stories SET hero_id = NULL, version = version + 1, seq = ?2, updated_at = ?3
         WHERE id = ?1",
        now,
    )
}
