//! Which cached files go (SPEC.md section 10): a pure decision over the index, with its
//! table test; [`super::MediaCache::evict`] reads the index, asks, and deletes.
//!
//! - A file no living row points at any more (its hero or story was deleted, or the
//!   server gave the row a new URL: an avatar regenerated) is released at once.
//! - Narration is kept 30 days and illustrations 14 days **since last use**: opening a
//!   story (serving a file through `media://`) extends its files' lives.
//! - Avatars of living heroes and the narration of favourite stories are never evicted,
//!   not even by the size cap.
//! - Then, while the total is above the cap, the least recently used of the rest go.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::key::CacheKind;

/// How long each kind is kept, and the total size allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub audio: Duration,
    pub illustration: Duration,
    pub cap_bytes: u64,
}

/// 1 GiB, the default cap.
pub const DEFAULT_CAP_BYTES: u64 = 1 << 30;
/// The smallest cap the setting accepts (a few stories' narration).
pub const MIN_CAP_BYTES: u64 = 50 << 20;

impl Default for Retention {
    fn default() -> Self {
        Retention {
            audio: Duration::from_secs(30 * 24 * 3600),
            illustration: Duration::from_secs(14 * 24 * 3600),
            cap_bytes: DEFAULT_CAP_BYTES,
        }
    }
}

impl Retention {
    /// How long a kind is kept since its last use; `None`: as long as its owner lives.
    pub fn max_age(&self, kind: CacheKind) -> Option<Duration> {
        match kind {
            CacheKind::Avatar => None,
            CacheKind::Audio => Some(self.audio),
            CacheKind::Illustration => Some(self.illustration),
        }
    }
}

/// One complete file in the index, with what the rows say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub kind: CacheKind,
    pub size: u64,
    pub last_used: DateTime<Utc>,
    /// A living row (hero, story, illustration) still has this URL.
    pub wanted: bool,
    /// The narration of a favourite story.
    pub pinned: bool,
}

/// Why a file is evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// No living row points at it.
    Released,
    /// Unused for longer than its kind is kept.
    Expired,
    /// The least recently used while the cache was above its cap.
    OverCap,
}

/// What an eviction pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EvictionReport {
    pub released: u32,
    pub expired: u32,
    pub over_cap: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub freed_bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub kept_bytes: u64,
    /// Only protected files (living heroes' avatars, favourites' narration) are left
    /// and they alone are above the cap.
    pub still_over_cap: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Eviction {
    pub key: String,
    pub size: u64,
    pub why: Why,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub evict: Vec<Eviction>,
    /// The total size of what stays.
    pub kept_bytes: u64,
    /// What stays is still above the cap: only protected files are left.
    pub over_cap: bool,
}

/// Never evicted by age or by the cap.
fn protected(e: &Entry) -> bool {
    e.pinned || e.kind == CacheKind::Avatar
}

pub fn plan(entries: &[Entry], now: DateTime<Utc>, rules: &Retention) -> Plan {
    let mut out = Plan::default();
    let mut kept: Vec<&Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        let why = if !e.wanted {
            Some(Why::Released)
        } else if protected(e) {
            None
        } else {
            let idle = (now - e.last_used).to_std().unwrap_or(Duration::ZERO);
            match rules.max_age(e.kind) {
                Some(max) if idle > max => Some(Why::Expired),
                _ => None,
            }
        };
        match why {
            Some(why) => out.evict.push(Eviction {
                key: e.key.clone(),
                size: e.size,
                why,
            }),
            None => kept.push(e),
        }
    }
    let mut total: u64 = kept.iter().map(|e| e.size).sum();
    if total > rules.cap_bytes {
        let mut lru: Vec<&Entry> = kept.iter().copied().filter(|e| !protected(e)).collect();
        lru.sort_by(|a, b| {
            a.last_used
                .cmp(&b.last_used)
                .then_with(|| a.key.cmp(&b.key))
        });
        for e in lru {
            if total <= rules.cap_bytes {
                break;
            }
            total -= e.size;
            out.evict.push(Eviction {
                key: e.key.clone(),
                size: e.size,
                why: Why::OverCap,
            });
        }
    }
    out.kept_bytes = total;
    out.over_cap = total > rules.cap_bytes;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(n)
    }

    fn entry(key: &str, kind: CacheKind, size: u64, used: i64) -> Entry {
        Entry {
            key: key.into(),
            kind,
            size,
            last_used: day(used),
            wanted: true,
            pinned: false,
        }
    }

    fn evicted(p: &Plan) -> Vec<(&str, Why)> {
        p.evict.iter().map(|e| (e.key.as_str(), e.why)).collect()
    }

    #[test]
    fn age_by_kind() {
        use CacheKind::*;
        let rules = Retention::default();
        let now = day(100);
        let entries = [
            entry("avatar-old", Avatar, 1, 0),
            entry("audio-31", Audio, 1, 69),
            entry("audio-29", Audio, 1, 71),
            entry("ill-15", Illustration, 1, 85),
            entry("ill-13", Illustration, 1, 87),
            Entry {
                pinned: true,
                ..entry("audio-fav-old", Audio, 1, 0)
            },
        ];
        let p = plan(&entries, now, &rules);
        assert_eq!(
            evicted(&p),
            [("audio-31", Why::Expired), ("ill-15", Why::Expired)]
        );
        assert_eq!(p.kept_bytes, 4);
        assert!(!p.over_cap);
    }

    #[test]
    fn released_whatever_the_kind() {
        use CacheKind::*;
        let entries = [
            Entry {
                wanted: false,
                ..entry("gone-avatar", Avatar, 5, 99)
            },
            Entry {
                wanted: false,
                pinned: true,
                ..entry("gone-fav-audio", Audio, 5, 99)
            },
            entry("kept", Illustration, 5, 99),
        ];
        let p = plan(&entries, day(100), &Retention::default());
        assert_eq!(
            evicted(&p),
            [
                ("gone-avatar", Why::Released),
                ("gone-fav-audio", Why::Released)
            ]
        );
        assert_eq!(p.kept_bytes, 5);
    }

    #[test]
    fn cap_evicts_least_recently_used_never_protected() {
        use CacheKind::*;
        let rules = Retention {
            cap_bytes: 100,
            ..Retention::default()
        };
        let entries = [
            entry("avatar", Avatar, 40, 1),
            Entry {
                pinned: true,
                ..entry("fav", Audio, 40, 2)
            },
            entry("a-old", Audio, 30, 3),
            entry("i-mid", Illustration, 30, 4),
            entry("a-new", Audio, 10, 5),
        ];
        let p = plan(&entries, day(6), &rules);
        // 150 bytes: the two oldest unprotected go, leaving 90.
        assert_eq!(
            evicted(&p),
            [("a-old", Why::OverCap), ("i-mid", Why::OverCap)]
        );
        assert_eq!(p.kept_bytes, 90);
        assert!(!p.over_cap);

        // Protected files alone above the cap: everything else goes, and the plan says so.
        let tiny = Retention {
            cap_bytes: 50,
            ..rules
        };
        let p = plan(&entries, day(6), &tiny);
        assert_eq!(p.evict.len(), 3);
        assert_eq!(p.kept_bytes, 80);
        assert!(p.over_cap);
    }

    #[test]
    fn clock_behind_the_last_use_keeps_the_file() {
        let entries = [entry("future", CacheKind::Audio, 1, 500)];
        assert!(plan(&entries, day(0), &Retention::default())
            .evict
            .is_empty());
    }
}
