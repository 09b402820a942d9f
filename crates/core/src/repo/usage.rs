//! Usage statistics (SPEC.md section 2): server-only, read network-first; the last copy
//! the server sent is kept so that the usage screen works offline ("showing saved copy").

use chrono::{DateTime, Utc};
use is_protocol::UsageStats;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::error::Result;
use crate::policy::CachePolicy;

/// Default cache policy (SPEC.md section 2).
pub const POLICY: CachePolicy = CachePolicy::NetworkFirst;

pub fn save(conn: &Connection, stats: &UsageStats, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO usage_cache (id, json, fetched_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET json = ?1, fetched_at = ?2",
    )?
    .execute(params![serde_json::to_string(stats)?, now.to_rfc3339()])?;
    Ok(())
}

/// The saved copy and when it was fetched.
pub fn load(conn: &Connection) -> Result<Option<(UsageStats, DateTime<Utc>)>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT json, fetched_at FROM usage_cache WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(json, at)| Ok((serde_json::from_str(&json)?, at.parse().unwrap_or_default())))
        .transpose()
}

/// Usage this month, and when the server sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageView {
    pub stats: UsageStats,
    pub fetched_at: DateTime<Utc>,
}
