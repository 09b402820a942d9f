//! Full resync after a 410 `cursor_expired`: a new generation, every row the feed shows
//! is marked with it, and when the feed is drained the synced rows it did not show are
//! swept. Rows with local changes are never touched.

use rusqlite::Connection;
use uuid::Uuid;

use crate::db::meta;
use crate::entity::store::{self as entity};
use crate::entity::SyncEntity;
use crate::error::{CoreError, Result};
use crate::outbox::{self};

use crate::repo::custom_events::CustomEvent;
use crate::repo::heroes::Hero;
use crate::repo::stories::Story;

use super::generation;

/// Starts a full resync: forget the cursor and open a new generation.
pub(super) fn begin(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let gen = generation(tx)? + 1;
    meta::set(tx, meta::GENERATION, &gen.to_string())?;
    meta::set(tx, meta::RESYNC, "1")?;
    meta::delete(tx, meta::CURSOR)
}

/// Ends a full resync: synced rows the feed did not show in generation `gen` were
/// deleted on the server. Rows with local changes are kept whatever happened.
pub(super) fn sweep(tx: &Connection, gen: i64) -> Result<()> {
    sweep_entity::<Hero>(tx, gen)?;
    sweep_entity::<CustomEvent>(tx, gen)?;
    sweep_entity::<Story>(tx, gen)?;
    tx.prepare_cached("DELETE FROM story_illustrations WHERE seen_gen < ?1")?
        .execute([gen])?;
    Ok(())
}

fn sweep_entity<E: SyncEntity>(tx: &Connection, gen: i64) -> Result<()> {
    let ids: Vec<String> = tx
        .prepare_cached(&format!(
            "SELECT id FROM {} WHERE sync_status = 'synced' AND seen_gen < ?1",
            E::TABLE
        ))?
        .query_map([gen], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if !ids.is_empty() {
        tracing::info!(
            entity = E::LABEL,
            count = ids.len(),
            "full resync removed rows deleted on the server"
        );
    }
    for id in ids {
        let id: Uuid = id
            .parse()
            .map_err(|_| CoreError::Corrupt(format!("{} {id}: bad id", E::LABEL)))?;
        entity::remove::<E>(tx, id)?;
        outbox::drop_all(tx, E::KIND, id)?;
    }
    Ok(())
}
