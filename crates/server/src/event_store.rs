//! How custom story events are stored: the generic table ([`crate::table`]) of the
//! `custom_events` table, with nothing beyond it. Its counter `usage_count` is added by
//! the generic increment (story generation increments it too).
//!
//! Deleting a custom event leaves the stories that name it as they are (they keep the
//! id, which now points at a tombstone).

use is_protocol::CustomEvent;

use crate::table::Table;

impl Table for CustomEvent {}
