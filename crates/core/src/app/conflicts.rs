//! Conflicts (SPEC.md section 7): the list of rows waiting for the user, the dialog's
//! two versions with the automatic merge, the user's resolution, the history of losing
//! versions with restore, and the strategy per entity.

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, Input};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Core;
use crate::entity::store::{self as entity, UuidText};
use crate::entity::{from_object, to_object, ConflictStrategy, SyncEntity, SyncRow};
use crate::error::{CoreError, Result};
use crate::merge;
use crate::repo::custom_events::CustomEvent;
use crate::repo::heroes::Hero;
use crate::repo::profile::Profile;
use crate::repo::stories::Story;
use crate::repo::{self, Choice};
use crate::sync::state::{PendingOp, SyncState};
use crate::sync::with_entity;

/// A row waiting for the user to settle a conflict (the conflicts list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictSummary {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The row's name or title, as shown locally.
    pub title: String,
    /// Fields that differ between the two versions.
    pub fields: Vec<String>,
}

/// The conflict dialog: both versions side by side, and the automatic merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictDetail {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The operation the local change is about (a delete against an edit, ...).
    pub op: PendingOp,
    /// "Your version": the user-writable fields, as a JSON object.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub local: serde_json::Value,
    /// "Server version".
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub server: serde_json::Value,
    /// The version both started from (the last synced copy), when the row has one.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub base: Option<serde_json::Value>,
    /// Whether the server's copy is a deletion.
    pub server_deleted: bool,
    /// Fields that differ (to highlight).
    pub differing: Vec<String>,
    /// The automatic merge, to pre-fill "Merge"; for fields changed on both sides it
    /// holds the local value.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub merged: serde_json::Value,
    /// Fields changed on both sides, for the user to choose.
    pub needs_choice: Vec<String>,
}

/// How the user settles a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum ConflictChoice {
    KeepMine,
    UseServer,
    /// The merged fields, as a JSON object of the entity's input.
    Merged {
        #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
        fields: serde_json::Value,
    },
}

/// A version that lost a conflict, kept so that the user can restore it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictRecord {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub detected_at: DateTime<Utc>,
    /// How it was settled: `server_wins`, `local_wins`, `merge`, `last_write_wins`,
    /// `server_deleted`, `user_chose_server`, `user_chose_local`, `user_merged`.
    pub resolution: String,
    /// The local version (a full record of the entity).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub local: serde_json::Value,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub server: serde_json::Value,
}

impl Core {
    /// Every row waiting for the user to settle a conflict.
    pub fn conflicts(&self) -> Result<Vec<ConflictSummary>> {
        self.db().read(|c| {
            let mut out = Vec::new();
            conflict_summaries::<Hero>(c, &mut out)?;
            conflict_summaries::<Story>(c, &mut out)?;
            conflict_summaries::<CustomEvent>(c, &mut out)?;
            conflict_summaries::<Profile>(c, &mut out)?;
            Ok(out)
        })
    }

    /// Both versions of a conflicting row, the differing fields and the automatic merge.
    pub fn conflict_detail(&self, kind: EntityKind, id: Uuid) -> Result<ConflictDetail> {
        with_entity!(kind, E => self.db().read(|c| conflict_detail::<E>(c, id)), else => Err(Self::unsupported(kind)))
    }

    /// Settles a conflict: keep mine, use the server's, or a field-by-field merge. The
    /// losing version goes to the conflict history.
    pub fn resolve_conflict(
        &self,
        kind: EntityKind,
        id: Uuid,
        choice: ConflictChoice,
    ) -> Result<()> {
        let ctx = self.ctx();
        with_entity!(kind, E => {
            let choice = match choice {
                ConflictChoice::KeepMine => Choice::KeepMine,
                ConflictChoice::UseServer => Choice::UseServer,
                ConflictChoice::Merged { fields } => {
                    let serde_json::Value::Object(m) = fields else {
                        return Err(CoreError::Validation(vec![is_protocol::FieldError::new("fields", "Send the merged fields as an object")]));
                    };
                    Choice::Merged(from_object::<<E as is_protocol::Entity>::Input>(m).map_err(|e| {
                        CoreError::Validation(vec![is_protocol::FieldError::new("fields", e.to_string())])
                    })?)
                }
            };
            self.db().write(|tx| repo::resolve::<E>(tx, &ctx, id, choice))?
        }, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(())
    }

    /// The versions that lost a conflict for one row, newest first.
    pub fn conflict_history(&self, kind: EntityKind, id: Uuid) -> Result<Vec<ConflictRecord>> {
        self.db().read(|c| conflict_history(c, Some(kind), id))
    }

    /// Restores the version that lost a conflict (the server's after local_wins or
    /// "keep mine", else the local one): as an edit of the row if it still exists, else
    /// as a new row (the old id is a tombstone on the server). Returns the row's id.
    pub fn restore_conflict_version(&self, history_id: i64) -> Result<Uuid> {
        let ctx = self.ctx();
        let (kind, local) = self.db().read(|c| {
            let (entity, local): (String, String) = c
                .query_row(
                    "SELECT entity, CASE WHEN resolution IN ('local_wins', 'user_chose_local')
                                     THEN server_json ELSE local_json END
                 FROM conflict_history WHERE id = ?1",
                    [history_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => CoreError::NotFound {
                        entity: "conflict",
                        id: history_id.to_string(),
                    },
                    e => e.into(),
                })?;
            let kind = EntityKind::parse(&entity)
                .ok_or_else(|| CoreError::Corrupt(format!("conflict {history_id}: bad entity")))?;
            Ok((kind, local))
        })?;
        let id = with_entity!(kind, E => self.db().write(|tx| restore::<E>(tx, &ctx, &local))?, else => return Err(Self::unsupported(kind)));
        self.changed_locally(kind);
        Ok(id)
    }

    /// The conflict strategy in force for an entity.
    pub fn conflict_strategy(&self, kind: EntityKind) -> Result<ConflictStrategy> {
        with_entity!(kind, E => self.db().read(crate::sync::strategy::<E>), else => Err(Self::unsupported(kind)))
    }

    /// Changes an entity's conflict strategy (Settings).
    pub fn set_conflict_strategy(
        &self,
        kind: EntityKind,
        strategy: ConflictStrategy,
    ) -> Result<()> {
        if kind == EntityKind::Illustration {
            return Err(Self::unsupported(kind));
        }
        let key = format!("{}{}", crate::db::meta::STRATEGY_PREFIX, kind.as_str());
        self.db()
            .write(|tx| crate::db::meta::set(tx, &key, strategy.as_str()))
    }
}

fn conflict_summaries<E: SyncEntity>(
    c: &rusqlite::Connection,
    out: &mut Vec<ConflictSummary>,
) -> Result<()> {
    for row in entity::load_where::<E>(c, "sync_status = 'conflict'", "updated_at DESC, id", [])? {
        let detail = conflict_detail_of::<E>(&row)?;
        out.push(ConflictSummary {
            entity: E::KIND,
            id: row.id,
            title: E::title(&row.fields).to_owned(),
            fields: detail.differing,
        });
    }
    Ok(())
}

fn conflict_detail<E: SyncEntity>(c: &rusqlite::Connection, id: Uuid) -> Result<ConflictDetail> {
    let row = entity::load_existing::<E>(c, id)?;
    conflict_detail_of::<E>(&row)
}

fn conflict_detail_of<E: SyncEntity>(row: &SyncRow<E>) -> Result<ConflictDetail> {
    let SyncState::Conflict(op) = row.state else {
        return Err(CoreError::NotFound {
            entity: "conflict",
            id: row.id.to_string(),
        });
    };
    let server = row.server_snapshot.clone().or_else(|| row.base_record());
    let server = server
        .ok_or_else(|| CoreError::Corrupt(format!("{} {}: no server copy", E::LABEL, row.id)))?;
    let base = row
        .base_snapshot
        .as_ref()
        .map(|b| to_object(&E::record_input(b)))
        .transpose()?;
    let local = to_object(&row.fields)?;
    let theirs = to_object(&E::record_input(&server))?;
    let local_newer = row.updated_at >= E::record_meta(&server).updated_at;
    let m = merge::merge(
        <E::Input as Input>::FIELDS,
        base.as_ref(),
        &local,
        &theirs,
        local_newer,
    );
    let differing = <E::Input as Input>::FIELDS
        .iter()
        .filter(|f| local.get(f.name) != theirs.get(f.name))
        .map(|f| f.name.to_owned())
        .collect();
    Ok(ConflictDetail {
        entity: E::KIND,
        id: row.id,
        op,
        local: serde_json::Value::Object(local),
        server: serde_json::Value::Object(theirs),
        server_deleted: E::record_meta(&server).deleted,
        base: base.map(serde_json::Value::Object),
        differing,
        needs_choice: m.conflicts().into_iter().map(str::to_owned).collect(),
        merged: serde_json::Value::Object(m.merged),
    })
}

fn restore<E: SyncEntity>(
    tx: &rusqlite::Connection,
    ctx: &repo::Ctx<'_>,
    local_json: &str,
) -> Result<Uuid> {
    let rec: E::Record = serde_json::from_str(local_json)?;
    let id = E::record_meta(&rec).id;
    let input = E::record_input(&rec);
    match repo::get_visible::<E>(tx, id) {
        Ok(_) => repo::update::<E>(tx, ctx, id, input).map(|r| r.id),
        Err(CoreError::NotFound { .. }) if E::KIND != EntityKind::UserProfile => {
            repo::create::<E>(tx, ctx, input).map(|r| r.id)
        }
        Err(e) => Err(e),
    }
}

/// Conflicts recorded for one row, newest first.
fn conflict_history(
    conn: &Connection,
    kind: Option<EntityKind>,
    id: Uuid,
) -> Result<Vec<ConflictRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, entity, detected_at, resolution, local_json, server_json FROM conflict_history
         WHERE entity_id = ?1 AND (?2 IS NULL OR entity = ?2) ORDER BY id DESC",
    )?;
    let rows = stmt.query_map(
        params![UuidText::new(id), kind.map(EntityKind::as_str)],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    rows.map(|r| {
        let (hid, entity, at, resolution, local, server) = r?;
        let bad = |what: &str| CoreError::Corrupt(format!("conflict history {hid}: bad {what}"));
        Ok(ConflictRecord {
            id: hid,
            entity: EntityKind::parse(&entity).ok_or_else(|| bad("entity"))?,
            entity_id: id,
            detected_at: at.parse().map_err(|_| bad("timestamp"))?,
            resolution,
            local: serde_json::from_str(&local)?,
            server: serde_json::from_str(&server)?,
        })
    })
    .collect()
}
