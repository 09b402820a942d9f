//! Diagnostics (SPEC.md sections 7 and 12): the activity log of sync runs, the notices
//! that tell the user when sync replaced or dropped one of their edits, and the sync
//! report a user can export for support (nothing personal in it).

use chrono::{DateTime, Utc};
use is_protocol::EntityKind;
use rusqlite::{params, Connection, Row};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::Result;

/// How many runs the activity log keeps.
pub const LOG_KEEP: i64 = 500;

/// How a sync run (or a watchdog action) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Ok,
    /// The server could not be reached; nothing was spent.
    Offline,
    /// The server asked us to wait (429).
    Throttled,
    Error,
    /// The user cancelled (a long first sync).
    Cancelled,
    /// Not a run: something the engine did by itself (the watchdog restarting the loop).
    Note,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Offline => "offline",
            RunOutcome::Throttled => "throttled",
            RunOutcome::Error => "error",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Note => "note",
        }
    }

    fn parse(s: &str) -> RunOutcome {
        [
            RunOutcome::Ok,
            RunOutcome::Offline,
            RunOutcome::Throttled,
            RunOutcome::Error,
            RunOutcome::Cancelled,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .unwrap_or(RunOutcome::Note)
    }
}

/// One line of the activity log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActivityEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub started_at: DateTime<Utc>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub duration_ms: i64,
    /// What started it: `launch`, `focus`, `local_change`, `network_restored`,
    /// `periodic`, `manual`, `retry`, `resume` (from sleep), `watchdog`.
    pub trigger: String,
    pub pushed: u32,
    pub applied: u32,
    pub conflicts: u32,
    pub rejected: u32,
    pub failed: u32,
    pub pulled: u32,
    pub outcome: RunOutcome,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// Appends to the activity log and keeps only the newest [`LOG_KEEP`] lines.
pub fn log_run(conn: &Connection, e: &ActivityEntry) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_log (started_at, duration_ms, trigger, pushed, applied, conflicts,
             rejected, failed, pulled, outcome, error_code, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        e.started_at.to_rfc3339(),
        e.duration_ms,
        e.trigger,
        e.pushed,
        e.applied,
        e.conflicts,
        e.rejected,
        e.failed,
        e.pulled,
        e.outcome.as_str(),
        e.error_code,
        e.message,
    ])?;
    conn.prepare_cached("DELETE FROM sync_log WHERE id <= (SELECT MAX(id) FROM sync_log) - ?1")?
        .execute(params![LOG_KEEP])?;
    Ok(())
}

/// The newest `limit` lines, newest first.
pub fn activity(conn: &Connection, limit: u32) -> Result<Vec<ActivityEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, started_at, duration_ms, trigger, pushed, applied, conflicts, rejected,
                failed, pulled, outcome, error_code, message
         FROM sync_log ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![limit], |r| {
        let outcome: String = r.get("outcome")?;
        let started: String = r.get("started_at")?;
        Ok(ActivityEntry {
            id: r.get("id")?,
            started_at: started.parse().unwrap_or_default(),
            duration_ms: r.get("duration_ms")?,
            trigger: r.get("trigger")?,
            pushed: r.get("pushed")?,
            applied: r.get("applied")?,
            conflicts: r.get("conflicts")?,
            rejected: r.get("rejected")?,
            failed: r.get("failed")?,
            pulled: r.get("pulled")?,
            outcome: RunOutcome::parse(&outcome),
            error_code: r.get("error_code")?,
            message: r.get("message")?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// ---------------------------------------------------------------------------------------
// Notices

/// Why a notice was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NoticeReason {
    /// Some of the user's changed fields were replaced by the server's (the merge kept
    /// the rest).
    Replaced,
    /// The whole local edit gave way to the server's version.
    Dropped,
    /// The row was deleted on another device while edited here: the edit is kept in the
    /// history and can be restored with the row.
    DeletedElsewhere,
}

impl NoticeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeReason::Replaced => "replaced",
            NoticeReason::Dropped => "dropped",
            NoticeReason::DeletedElsewhere => "deleted_elsewhere",
        }
    }

    fn parse(s: &str) -> NoticeReason {
        match s {
            "replaced" => NoticeReason::Replaced,
            "deleted_elsewhere" => NoticeReason::DeletedElsewhere,
            _ => NoticeReason::Dropped,
        }
    }
}

/// "Sync changed something you wrote": the UI shows it with View (the row's conflict
/// history) or Restore (for a row deleted elsewhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notice {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    /// The row's name or title, as the user last saw it.
    pub title: String,
    pub reason: NoticeReason,
    /// The user's fields that did not survive.
    pub fields: Vec<String>,
    /// The conflict history entry holding the user's version.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub history_id: Option<i64>,
}

/// What to tell the user; written in the transaction that overrode the edit.
pub struct NewNotice<'a> {
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub title: &'a str,
    pub reason: NoticeReason,
    pub fields: Vec<String>,
    pub history_id: Option<i64>,
}

pub fn add_notice(conn: &Connection, n: &NewNotice<'_>, now: DateTime<Utc>) -> Result<Notice> {
    conn.prepare_cached(
        "INSERT INTO notices (created_at, entity, entity_id, title, reason, fields, history_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now.to_rfc3339(),
        n.entity.as_str(),
        n.entity_id.to_string(),
        n.title,
        n.reason.as_str(),
        serde_json::to_string(&n.fields)?,
        n.history_id,
    ])?;
    Ok(Notice {
        id: conn.last_insert_rowid(),
        created_at: now,
        entity: n.entity,
        entity_id: n.entity_id,
        title: n.title.to_owned(),
        reason: n.reason,
        fields: n.fields.clone(),
        history_id: n.history_id,
    })
}

fn notice_from_row(r: &Row<'_>) -> rusqlite::Result<Option<Notice>> {
    let text = |name: &str| r.get::<_, String>(name);
    let (created, entity, entity_id, reason, fields) = (
        text("created_at")?,
        text("entity")?,
        text("entity_id")?,
        text("reason")?,
        text("fields")?,
    );
    Ok((|| {
        Some(Notice {
            id: r.get("id").ok()?,
            created_at: created.parse().ok()?,
            entity: EntityKind::parse(&entity)?,
            entity_id: entity_id.parse().ok()?,
            title: r.get("title").ok()?,
            reason: NoticeReason::parse(&reason),
            fields: serde_json::from_str(&fields).unwrap_or_default(),
            history_id: r.get("history_id").ok()?,
        })
    })())
}

/// Notices not dismissed yet, newest first.
pub fn open_notices(conn: &Connection) -> Result<Vec<Notice>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, created_at, entity, entity_id, title, reason, fields, history_id
         FROM notices WHERE dismissed = 0 ORDER BY id DESC LIMIT 200",
    )?;
    let rows = stmt.query_map([], notice_from_row)?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

pub fn dismiss_notice(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE notices SET dismissed = 1 WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The sync report

/// Versions that go into a sync report.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub app: String,
    pub core: &'static str,
    pub schema: i64,
    pub os: &'static str,
}

/// A support bundle: the activity log, what the outbox holds (counts, ages and error
/// codes: never payloads), row states per entity, notices, versions and the network
/// state. Tokens, emails, names, titles and every user-written text are left out; the
/// server address is reduced to its scheme and whether it is local.
pub fn sync_report(
    conn: &Connection,
    versions: &Versions,
    server_url: &str,
    extra: Value,
    now: DateTime<Utc>,
) -> Result<Value> {
    let mut outbox = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT entity, op, sent, COUNT(*) AS n, MIN(created_at) AS oldest
             FROM outbox GROUP BY entity, op, sent ORDER BY entity, op, sent",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(json!({
                "entity": r.get::<_, String>("entity")?,
                "op": r.get::<_, String>("op")?,
                "sent": r.get::<_, bool>("sent")?,
                "count": r.get::<_, i64>("n")?,
                "oldest": r.get::<_, String>("oldest")?,
            }))
        })?;
        for r in rows {
            outbox.push(r?);
        }
    }
    let mut rows = serde_json::Map::new();
    for table in crate::repo::SYNCED_TABLES {
        let mut stmt = conn.prepare(&format!(
            "SELECT sync_status, COUNT(*) AS n, MAX(attempts) AS attempts
             FROM {table} GROUP BY sync_status ORDER BY sync_status"
        ))?;
        let states = stmt
            .query_map([], |r| {
                Ok(json!({
                    "status": r.get::<_, String>("sync_status")?,
                    "count": r.get::<_, i64>("n")?,
                    "max_attempts": r.get::<_, i64>("attempts")?,
                }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Which rows wait for the user, by id only (the reason's text can quote a field).
        let mut stmt = conn.prepare(&format!(
            "SELECT id, sync_status, sync_op, attempts FROM {table}
             WHERE sync_status IN ('failed', 'conflict') ORDER BY id LIMIT 100"
        ))?;
        let stuck = stmt
            .query_map([], |r| {
                Ok(json!({
                    "id": r.get::<_, String>("id")?,
                    "status": r.get::<_, String>("sync_status")?,
                    "op": r.get::<_, Option<String>>("sync_op")?,
                    "attempts": r.get::<_, i64>("attempts")?,
                }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.insert(
            (*table).to_owned(),
            json!({ "states": states, "waiting_for_user": stuck }),
        );
    }
    let log: Vec<Value> = activity(conn, LOG_KEEP as u32)?
        .into_iter()
        .map(|e| {
            json!({
                "started_at": e.started_at,
                "duration_ms": e.duration_ms,
                "trigger": e.trigger,
                "pushed": e.pushed,
                "applied": e.applied,
                "conflicts": e.conflicts,
                "rejected": e.rejected,
                "failed": e.failed,
                "pulled": e.pulled,
                "outcome": e.outcome,
                "error_code": e.error_code,
                // Messages can quote what the server said about a field: codes only.
            })
        })
        .collect();
    let notices: Vec<Value> = open_notices(conn)?
        .into_iter()
        .map(|n| json!({"entity": n.entity, "reason": n.reason, "fields": n.fields, "created_at": n.created_at}))
        .collect();
    Ok(json!({
        "report": "infinite-stories sync report",
        "generated_at": now,
        "versions": versions,
        "server": redact_url(server_url),
        "cursor_held": crate::db::meta::get(conn, crate::db::meta::CURSOR)?.is_some(),
        "resync_active": crate::db::meta::get(conn, crate::db::meta::RESYNC)?.is_some(),
        "last_sync_at": crate::db::meta::get(conn, crate::db::meta::LAST_SYNC_AT)?,
        "state": extra,
        "outbox": outbox,
        "rows": rows,
        "notices": notices,
        "activity": log,
    }))
}

/// `https://host:port/...` → "https, remote" (a host can name a family).
fn redact_url(url: &str) -> Value {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let host = rest.split(['/', ':']).next().unwrap_or("");
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
    json!({ "scheme": scheme, "local": local })
}

/// The schema version of the cache.
pub fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> ActivityEntry {
        ActivityEntry {
            id: 0,
            started_at: DateTime::from_timestamp(1_800_000_000 + i, 0).unwrap(),
            duration_ms: 12,
            trigger: "manual".into(),
            pushed: 3,
            applied: 2,
            conflicts: 1,
            rejected: 0,
            failed: 0,
            pulled: 7,
            outcome: RunOutcome::Ok,
            error_code: None,
            message: Some("secret text".into()),
        }
    }

    #[test]
    fn the_log_keeps_the_newest_lines() {
        let conn = crate::db::open_in_memory().unwrap();
        for i in 0..(LOG_KEEP + 20) {
            log_run(&conn, &entry(i)).unwrap();
        }
        let all = activity(&conn, 10_000).unwrap();
        assert_eq!(all.len() as i64, LOG_KEEP);
        assert_eq!(all[0].started_at, entry(LOG_KEEP + 19).started_at);
        assert_eq!(all[0].outcome, RunOutcome::Ok);
    }

    #[test]
    fn the_report_leaves_out_tokens_and_personal_text() {
        let conn = crate::db::open_in_memory().unwrap();
        log_run(&conn, &entry(1)).unwrap();
        conn.execute(
            "INSERT INTO account (id, user_id, email, name, server_url, token, expires_at)
             VALUES (1, 'u', 'parent@example.com', 'Parent Name', 'https://stories.example.org', 'tok-SECRET', '2030-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        crate::outbox::record_create(
            &conn,
            Uuid::nil(),
            EntityKind::Hero,
            Uuid::from_u128(7),
            &json!({"name": "Secret Hero Name", "appearance": "private words"}),
            Utc::now(),
        )
        .unwrap();
        let v = Versions {
            app: "1".into(),
            core: "1",
            schema: schema_version(&conn).unwrap(),
            os: "linux",
        };
        let report = sync_report(
            &conn,
            &v,
            "https://stories.example.org:8443/api",
            json!({"network": "online"}),
            Utc::now(),
        )
        .unwrap()
        .to_string();
        for secret in [
            "tok-SECRET",
            "parent@example.com",
            "Parent Name",
            "Secret Hero Name",
            "private words",
            "secret text",
            "stories.example.org",
        ] {
            assert!(!report.contains(secret), "{secret} leaked: {report}");
        }
        assert!(report.contains("\"op\":\"create\""), "{report}");
        assert!(report.contains("\"trigger\":\"manual\""), "{report}");
    }

    #[test]
    fn notices_round_trip_and_dismiss() {
        let conn = crate::db::open_in_memory().unwrap();
        let n = add_notice(
            &conn,
            &NewNotice {
                entity: EntityKind::Hero,
                entity_id: Uuid::from_u128(1),
                title: "Luna",
                reason: NoticeReason::Replaced,
                fields: vec!["appearance".into()],
                history_id: Some(4),
            },
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        )
        .unwrap();
        assert_eq!(open_notices(&conn).unwrap(), vec![n.clone()]);
        dismiss_notice(&conn, n.id).unwrap();
        assert!(open_notices(&conn).unwrap().is_empty());
    }
}
