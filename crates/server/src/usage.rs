//! Usage: what a user generated this calendar month (UTC) against the monthly limits of
//! their subscription tier, enforced by story and media generation (`GET /api/usage`
//! reports it).

use crate::params;
use crate::sql::Connection;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use is_protocol::{SubscriptionTier, TierLimits, UsageLimits, UsageStats};
use uuid::Uuid;

use crate::db::to_micros;
use crate::error::ApiError;
use crate::profile_store::get_profile;

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
) -> crate::sql::Result<()> {
    insert_usage(conn, user_id, kind, amount, now).map(drop)
}

/// Records usage; returns its row's id.
fn insert_usage(
    conn: &Connection,
    user_id: Uuid,
    kind: UsageKind,
    amount: f64,
    now: DateTime<Utc>,
) -> crate::sql::Result<i64> {
    conn.query_row(
        "INSERT INTO usage_events (user_id, kind, amount, at) VALUES (?1, ?2, ?3, ?4)
         RETURNING id",
        params![user_id.to_string(), kind.as_str(), amount, to_micros(now)],
        |r| r.get(0),
    )
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
) -> crate::sql::Result<f64> {
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
) -> crate::sql::Result<Option<UsageStats>> {
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

/// A usage amount taken from the monthly limit before the work that uses it is done
/// (a `usage_events` row). It counts like used amounts at once, so a second request
/// cannot pass the limit while the first one's work is still running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    /// The `usage_events` row.
    pub id: i64,
    pub amount: f64,
}

/// Checks the limit and records `amount` of `kind` in one step: 403 `limit_reached` if
/// it would pass the user's monthly limit, else the [`Reservation`]. Call it inside the
/// transaction of the request (every database access is serialised, so the check and
/// the record cannot interleave with another request's).
pub fn reserve(
    conn: &Connection,
    user_id: Uuid,
    kind: UsageKind,
    amount: f64,
    limits: &TierLimitsConfig,
    now: DateTime<Utc>,
) -> Result<Reservation, ApiError> {
    let tier = get_profile(conn, user_id)?
        .map(|p| p.subscription_tier)
        .unwrap_or_default();
    let l = limits.for_tier(tier);
    let (limit, what) = match kind {
        UsageKind::Story => (l.stories_per_month, "stories"),
        UsageKind::AudioMinutes => (l.audio_minutes_per_month, "minutes of audio"),
        UsageKind::Illustration => (l.illustrations_per_month, "illustrations"),
    };
    if let Some(limit) = limit {
        let so_far = used(conn, user_id, kind, now)?;
        if so_far + amount > limit as f64 + 1e-9 {
            return Err(ApiError::LimitReached(format!(
                "Your {} plan allows {limit} {what} a month; this month's are used up",
                tier.as_str()
            )));
        }
    }
    let id = insert_usage(conn, user_id, kind, amount, now)?;
    Ok(Reservation { id, amount })
}

/// Settles a reservation at the amount really used (at most the reserved one): the rest
/// goes back to the user's monthly allowance, all of it when `used` is 0.
pub fn settle(conn: &Connection, reservation: &Reservation, used: f64) -> crate::sql::Result<()> {
    let used = used.clamp(0.0, reservation.amount);
    if used <= 0.0 {
        conn.execute("DELETE FROM usage_events WHERE id = ?1", [reservation.id])?;
    } else if used < reservation.amount {
        conn.execute(
            "UPDATE usage_events SET amount = ?2 WHERE id = ?1",
            params![reservation.id, used],
        )?;
    }
    Ok(())
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
