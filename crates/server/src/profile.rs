//! The user's profile (`GET`/`PATCH /api/users/me`, push entity `user_profile`) and usage
//! (`GET /api/usage`, the monthly limits enforced by story and media generation).
//!
//! The profile is stored on the user row. Its `seq` stays 0 until the first change, so
//! the change feed carries a profile only once it changed; `GET /api/users/me` always
//! serves it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use is_protocol::{
    Language, SubscriptionTier, Theme, TierLimits, UsageLimits, UsageStats, UserProfile,
    UserProfilePatch,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{from_micros, next_seq, parse_uuid, to_micros};
use crate::error::{ApiError, Json};
use crate::rest::{parse_if_match, with_etag};
use crate::store::UpdateOutcome;
use crate::story_store::conversion_error;
use crate::AppState;

const COLUMNS: &str = "id, version, created_at, updated_at, email, name, preferred_language, \
                       theme, subscription_tier, seq";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(i64, UserProfile)> {
    let lang: String = r.get(6)?;
    let theme: String = r.get(7)?;
    let tier: String = r.get(8)?;
    Ok((
        r.get(9)?,
        UserProfile {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            version: r.get(1)?,
            created_at: from_micros(r.get(2)?)?,
            updated_at: from_micros(r.get(3)?)?,
            email: r.get(4)?,
            name: r.get(5)?,
            preferred_language: Language::parse(&lang)
                .ok_or_else(|| conversion_error(6, format!("language {lang:?}")))?,
            theme: Theme::parse(&theme)
                .ok_or_else(|| conversion_error(7, format!("theme {theme:?}")))?,
            subscription_tier: SubscriptionTier::parse(&tier)
                .ok_or_else(|| conversion_error(8, format!("tier {tier:?}")))?,
        },
    ))
}

pub fn get_profile(conn: &Connection, user_id: Uuid) -> rusqlite::Result<Option<UserProfile>> {
    Ok(get_with_seq(conn, user_id)?.map(|p| p.1))
}

pub fn get_with_seq(
    conn: &Connection,
    user_id: Uuid,
) -> rusqlite::Result<Option<(i64, UserProfile)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [user_id.to_string()],
        from_row,
    )
    .optional()
}

/// The profile if it was written after sequence `after_seq`.
pub fn changed_since(
    conn: &Connection,
    user_id: Uuid,
    after_seq: i64,
) -> rusqlite::Result<Option<(i64, UserProfile)>> {
    Ok(get_with_seq(conn, user_id)?.filter(|(seq, _)| *seq > after_seq))
}

/// Applies `patch` if the profile is still at `expected_version` (or unconditionally).
pub fn update_profile(
    tx: &Transaction<'_>,
    user_id: Uuid,
    expected_version: Option<i64>,
    patch: UserProfilePatch,
    now: DateTime<Utc>,
) -> rusqlite::Result<UpdateOutcome<UserProfile>> {
    let Some(current) = get_profile(tx, user_id)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    if expected_version.is_some_and(|v| v != current.version) {
        return Ok(UpdateOutcome::VersionMismatch(current));
    }
    let patch = patch.normalized();
    if let Err(errors) = patch.validate() {
        return Ok(UpdateOutcome::Invalid(errors));
    }
    if patch.is_empty() {
        return Ok(UpdateOutcome::Unchanged(current));
    }
    let mut merged = current.clone();
    merged.apply(&patch);
    write(tx, &merged, now)?;
    get_profile(tx, user_id)?
        .ok_or(rusqlite::Error::QueryReturnedNoRows)
        .map(UpdateOutcome::Applied)
}

fn write(tx: &Transaction<'_>, p: &UserProfile, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE users SET version = version + 1, seq = ?2, updated_at = ?3, name = ?4,
                preferred_language = ?5, theme = ?6, subscription_tier = ?7
         WHERE id = ?1",
        params![
            p.id.to_string(),
            seq,
            to_micros(now),
            p.name,
            p.preferred_language.as_str(),
            p.theme.as_str(),
            p.subscription_tier.as_str(),
        ],
    )?;
    Ok(())
}

/// Changes a user's subscription tier (a server-side write: a new profile version).
pub fn set_tier(
    tx: &Transaction<'_>,
    user_id: Uuid,
    tier: SubscriptionTier,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<UserProfile>> {
    let Some(mut p) = get_profile(tx, user_id)? else {
        return Ok(None);
    };
    p.subscription_tier = tier;
    write(tx, &p, now)?;
    get_profile(tx, user_id)
}

// ---------------------------------------------------------------------------------------
// Usage

/// What counts toward the monthly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageKind {
    Story,
    AudioMinutes,
    Illustration,
}

impl UsageKind {
    fn as_str(self) -> &'static str {
        match self {
            UsageKind::Story => "story",
            UsageKind::AudioMinutes => "audio_minutes",
            UsageKind::Illustration => "illustration",
        }
    }
}

/// The monthly limits of each tier (`None` = unlimited).
#[derive(Debug, Clone, PartialEq)]
pub struct TierLimitsConfig {
    pub free: UsageLimits,
    pub plus: UsageLimits,
    pub premium: UsageLimits,
}

impl Default for TierLimitsConfig {
    fn default() -> Self {
        TierLimitsConfig {
            free: UsageLimits {
                stories_per_month: Some(30),
                audio_minutes_per_month: Some(120),
                illustrations_per_month: Some(100),
            },
            plus: UsageLimits {
                stories_per_month: Some(300),
                audio_minutes_per_month: Some(1200),
                illustrations_per_month: Some(1000),
            },
            premium: UsageLimits::default(),
        }
    }
}

impl TierLimitsConfig {
    pub fn for_tier(&self, tier: SubscriptionTier) -> UsageLimits {
        match tier {
            SubscriptionTier::Free => self.free,
            SubscriptionTier::Plus => self.plus,
            SubscriptionTier::Premium => self.premium,
        }
    }

    pub fn table(&self) -> Vec<TierLimits> {
        SubscriptionTier::ALL
            .into_iter()
            .map(|tier| TierLimits {
                tier,
                limits: self.for_tier(tier),
            })
            .collect()
    }
}

pub fn record_usage(
    conn: &Connection,
    user_id: Uuid,
    kind: UsageKind,
    amount: f64,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO usage_events (user_id, kind, amount, at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id.to_string(), kind.as_str(), amount, to_micros(now)],
    )?;
    Ok(())
}

/// The calendar month (UTC) `now` is in: [start, end).
pub fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    (start, end)
}

fn used(
    conn: &Connection,
    user_id: Uuid,
    kind: UsageKind,
    now: DateTime<Utc>,
) -> rusqlite::Result<f64> {
    let (start, end) = month_bounds(now);
    conn.query_row(
        "SELECT COALESCE(SUM(amount), 0) FROM usage_events
         WHERE user_id = ?1 AND kind = ?2 AND at >= ?3 AND at < ?4",
        params![
            user_id.to_string(),
            kind.as_str(),
            to_micros(start),
            to_micros(end)
        ],
        |r| r.get(0),
    )
}

pub fn usage_stats(
    conn: &Connection,
    user_id: Uuid,
    limits: &TierLimitsConfig,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<UsageStats>> {
    let Some(profile) = get_profile(conn, user_id)? else {
        return Ok(None);
    };
    let (period_start, period_end) = month_bounds(now);
    let audio = used(conn, user_id, UsageKind::AudioMinutes, now)?;
    Ok(Some(UsageStats {
        period_start,
        period_end,
        subscription_tier: profile.subscription_tier,
        stories_this_month: used(conn, user_id, UsageKind::Story, now)?.round() as u32,
        audio_minutes_this_month: (audio * 100.0).round() / 100.0,
        illustrations_this_month: used(conn, user_id, UsageKind::Illustration, now)?.round() as u32,
        limits: limits.for_tier(profile.subscription_tier),
        tiers: limits.table(),
    }))
}

/// 403 `limit_reached` if adding `amount` of `kind` would pass the user's monthly limit.
pub fn check_limit(
    conn: &Connection,
    user_id: Uuid,
    kind: UsageKind,
    amount: f64,
    limits: &TierLimitsConfig,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let tier = get_profile(conn, user_id)?
        .map(|p| p.subscription_tier)
        .unwrap_or_default();
    let l = limits.for_tier(tier);
    let (limit, what) = match kind {
        UsageKind::Story => (l.stories_per_month, "stories"),
        UsageKind::AudioMinutes => (l.audio_minutes_per_month, "minutes of audio"),
        UsageKind::Illustration => (l.illustrations_per_month, "illustrations"),
    };
    let Some(limit) = limit else {
        return Ok(());
    };
    let so_far = used(conn, user_id, kind, now)?;
    if so_far + amount > limit as f64 + 1e-9 {
        return Err(ApiError::LimitReached(format!(
            "Your {} plan allows {limit} {what} a month; this month's are used up",
            tier.as_str()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Handlers

/// `GET /api/users/me` → [`UserProfile`] (with `ETag: "<version>"`).
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> Result<Response, ApiError> {
    let user = auth.id();
    let p = state
        .run(move |conn| Ok(get_profile(conn, user)?))
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user".to_owned()))?;
    Ok(with_etag(StatusCode::OK, p.version, &p))
}

/// `PATCH /api/users/me` with a [`UserProfilePatch`] and optional `If-Match`.
pub async fn patch_me(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    Json(patch): Json<UserProfilePatch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = update_profile(&tx, user, expected, patch, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    match outcome {
        UpdateOutcome::Applied(p) | UpdateOutcome::Unchanged(p) => {
            Ok(with_etag(StatusCode::OK, p.version, &p))
        }
        UpdateOutcome::VersionMismatch(current) => Err(ApiError::PreconditionFailed {
            current: serde_json::to_value(&current)?,
        }),
        UpdateOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
        UpdateOutcome::NotFound | UpdateOutcome::Deleted(_) => {
            Err(ApiError::NotFound("No such user".to_owned()))
        }
    }
}

/// `GET /api/usage` → [`UsageStats`] for the current month.
pub async fn get_usage(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<UsageStats>, ApiError> {
    let user = auth.id();
    let now = state.now();
    let limits = state.config().tier_limits.clone();
    let stats = state
        .run(move |conn| Ok(usage_stats(conn, user, &limits, now)?))
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user".to_owned()))?;
    Ok(axum::Json(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_wrap_the_year() {
        let t = Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap();
        let (s, e) = month_bounds(t);
        assert_eq!(s, Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(e, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let (s, e) = month_bounds(Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap());
        assert_eq!(s.month(), 2);
        assert_eq!(e.month(), 3);
    }
}
