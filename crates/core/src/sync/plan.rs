//! Pure decisions of the sync engine: what a pulled row does to the local one, whether an
//! outbox entry may be sent now, and when a failed push is tried again. The engine
//! applies them; the tests below enumerate them.

use std::time::Duration;

use crate::outbox::EntryOp;
use crate::sync::state::{next_state, OutboxEffect, RowEffect, SyncEvent, SyncState};
use crate::transport::TransportError;

/// What the local cache does with one row of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAction {
    /// A row we did not have.
    Insert,
    /// Overwrite the synced local row with the server's.
    Overwrite,
    /// Remove the local row (and, if `drop_outbox`, its pending entries).
    Remove { drop_outbox: bool },
    /// The row has local changes: keep them, remember the server copy for the push.
    Remember,
    /// Nothing to do (a tombstone of a row we never had, or a version we already have).
    Skip,
}

/// Local facts `plan_pull` needs about a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMeta {
    pub state: SyncState,
    pub base_version: Option<i64>,
    /// Version of the server copy remembered while the row has local changes.
    pub remembered_version: Option<i64>,
}

/// What a pulled row does to the local one. During a full resync (`resync`) the feed
/// restarts from the beginning, possibly on a server whose versions started over: a
/// version is then skipped only if it is exactly the one we know, and any other replaces
/// it (as newer).
pub fn plan_pull(
    local: Option<LocalMeta>,
    version: i64,
    deleted: bool,
    resync: bool,
) -> PullAction {
    let Some(local) = local else {
        return if deleted {
            PullAction::Skip
        } else {
            PullAction::Insert
        };
    };
    let known = local.base_version.max(local.remembered_version);
    let have_it = match known {
        Some(known) if resync => known == version,
        Some(known) => known >= version,
        None => false,
    };
    if have_it {
        return PullAction::Skip;
    }
    let event = if deleted {
        SyncEvent::RemoteDeleted
    } else {
        SyncEvent::RemoteChanged
    };
    // Remote events are valid in every state; a failure here is a bug in the table.
    let Ok(t) = next_state(local.state, event) else {
        debug_assert!(false, "remote events must be valid in {}", local.state);
        return PullAction::Remember;
    };
    match t.row {
        RowEffect::TakeServer => PullAction::Overwrite,
        RowEffect::Remove => PullAction::Remove {
            drop_outbox: t.outbox == OutboxEffect::DropAll,
        },
        _ => PullAction::Remember,
    }
}

/// Whether an outbox entry may be sent now.
/// - `on_server`: the server has the row (it has a version).
/// - `waiting_on_create`: the entry refers to a row whose create the server has not
///   confirmed yet (a story's hero): it waits, so that the server never sees a story
///   before its hero.
///
/// Edits go while the row is pending (not failed or in conflict, which wait for the
/// user). Counter increments never conflict: they go whenever the server has the row.
/// A row's backoff does not hold it back: backoff only decides when the engine retries
/// *by itself* (see [`crate::app::scheduler`]); every run, whatever started it, sends
/// everything pending at once.
pub fn push_ready(state: SyncState, op: EntryOp, on_server: bool, waiting_on_create: bool) -> bool {
    match op {
        EntryOp::Increment => on_server,
        EntryOp::Create | EntryOp::Update | EntryOp::Delete => {
            state.is_pushable() && !waiting_on_create
        }
    }
}

/// What a push that got no usable answer does to the changes it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer at all (offline, server down, timed out): says nothing about the
    /// changes. No attempt is spent; they stay pending through an outage of any length
    /// and go as soon as the server is reachable.
    Outage,
    /// The server asked us to slow down (429): no attempt is spent; background sync
    /// waits until `retry_after` has passed.
    Throttled { retry_after: Duration },
    /// The server failed (5xx, also a 503 with `Retry-After`, whose delay the backoff
    /// honours; an answer that is not the protocol; a refused request): an attempt is
    /// spent, and after the maximum the row is given up (failed, with Retry and
    /// Discard).
    ServerError,
}

/// Used when a 429 comes without `Retry-After`.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(30);

/// Classifies a failed push (the answers that say something about each change, such as
/// `rejected`, come per mutation and are not failures of the request).
pub fn classify_failure(err: &TransportError) -> Failure {
    if err.is_offline() {
        return Failure::Outage;
    }
    match (err.status(), err.retry_after()) {
        (Some(429), after) => Failure::Throttled {
            retry_after: after.unwrap_or(DEFAULT_THROTTLE),
        },
        _ => Failure::ServerError,
    }
}

/// Backoff policy for transient push failures: exponential with full jitter, never less
/// than the server's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(10 * 60),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt number `attempts + 1`, given a uniform `jitter` in `[0, 1)`.
    pub fn delay(&self, attempts: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(30)));
        let cap = exp.min(self.max);
        let jittered = cap.mul_f64(jitter.clamp(0.0, 1.0));
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::state::PendingOp::*;
    use PullAction::*;
    use SyncState as S;

    fn meta(state: SyncState, base: Option<i64>) -> Option<LocalMeta> {
        Some(LocalMeta {
            state,
            base_version: base,
            remembered_version: None,
        })
    }

    #[test]
    fn pull_table() {
        let remembered = |state, base, r| {
            Some(LocalMeta {
                state,
                base_version: base,
                remembered_version: r,
            })
        };
        // (local, version, deleted, resync, expected)
        let resync_cases: Vec<(Option<LocalMeta>, i64, bool, bool, PullAction)> = vec![
            (meta(S::Synced, Some(2)), 2, false, true, Skip),
            (meta(S::Synced, Some(3)), 2, false, true, Overwrite),
            (meta(S::Synced, Some(1)), 2, false, true, Overwrite),
            (
                meta(S::Synced, Some(3)),
                2,
                true,
                true,
                Remove { drop_outbox: false },
            ),
            (None, 2, true, true, Skip),
            (None, 2, false, true, Insert),
            (meta(S::Pending(Update), Some(5)), 2, false, true, Remember),
            (
                remembered(S::Pending(Update), Some(1), Some(4)),
                4,
                false,
                true,
                Skip,
            ),
            (
                remembered(S::Pending(Update), Some(1), Some(4)),
                3,
                false,
                true,
                Remember,
            ),
        ];
        for (local, version, deleted, resync, want) in resync_cases {
            assert_eq!(
                plan_pull(local, version, deleted, resync),
                want,
                "resync {local:?} v{version} deleted={deleted}"
            );
        }
        let cases: Vec<(Option<LocalMeta>, i64, bool, PullAction)> = vec![
            (None, 1, false, Insert),
            (None, 2, true, Skip),
            (meta(S::Synced, Some(1)), 2, false, Overwrite),
            (meta(S::Synced, Some(2)), 2, false, Skip),
            (meta(S::Synced, Some(3)), 2, false, Skip),
            (
                meta(S::Synced, Some(1)),
                2,
                true,
                Remove { drop_outbox: false },
            ),
            (meta(S::Pending(Create), None), 1, false, Remember),
            (meta(S::Pending(Update), Some(1)), 2, false, Remember),
            (meta(S::Pending(Update), Some(1)), 2, true, Remember),
            (meta(S::Pending(Delete), Some(1)), 2, false, Remember),
            (
                meta(S::Pending(Delete), Some(1)),
                2,
                true,
                Remove { drop_outbox: true },
            ),
            (meta(S::Failed(Update), Some(1)), 2, false, Remember),
            (
                meta(S::Failed(Delete), Some(1)),
                2,
                true,
                Remove { drop_outbox: true },
            ),
            (meta(S::Conflict(Update), Some(1)), 3, false, Remember),
            (
                Some(LocalMeta {
                    state: S::Pending(Update),
                    base_version: Some(1),
                    remembered_version: Some(4),
                }),
                3,
                false,
                Skip,
            ),
        ];
        for (local, version, deleted, want) in cases {
            assert_eq!(
                plan_pull(local, version, deleted, false),
                want,
                "{local:?} v{version} deleted={deleted}"
            );
        }
    }

    #[test]
    fn pull_never_overwrites_local_changes() {
        for state in SyncState::ALL {
            for deleted in [false, true] {
                let got = plan_pull(meta(state, Some(1)), 2, deleted, false);
                if state.needs_sync() {
                    assert!(
                        matches!(got, Remember | Remove { drop_outbox: true }),
                        "{state} {deleted}: {got:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn push_ready_table() {
        use EntryOp::*;
        let all_ops = [Create, Update, Delete, Increment];
        for state in SyncState::ALL {
            for op in all_ops {
                for (on_server, waiting) in [(true, false), (false, false), (true, true)] {
                    let want = match op {
                        Increment => on_server,
                        _ => matches!(state, S::Pending(_)) && !waiting,
                    };
                    assert_eq!(
                        push_ready(state, op, on_server, waiting),
                        want,
                        "{state} {op:?} on_server={on_server} waiting={waiting}"
                    );
                }
            }
        }
        // The cases that matter, spelled out.
        use crate::sync::state::PendingOp as P;
        assert!(
            !push_ready(S::Pending(P::Create), Create, false, true),
            "a story waits for its hero's create"
        );
        assert!(
            push_ready(S::Synced, Increment, true, false),
            "a play of a synced story goes"
        );
        assert!(
            !push_ready(S::Pending(P::Create), Increment, false, false),
            "not before the row exists"
        );
        assert!(
            !push_ready(S::Failed(P::Update), Update, true, false),
            "a failed row waits for Retry"
        );
        assert!(
            push_ready(S::Conflict(P::Update), Increment, true, false),
            "counters never conflict"
        );
    }

    #[test]
    fn failure_table() {
        use is_protocol::ErrorBody;
        let http = |status, after: Option<u64>| TransportError::Http {
            status,
            body: ErrorBody::new("x", "x"),
            retry_after: after.map(Duration::from_secs),
        };
        let cases = [
            (TransportError::Unreachable("down".into()), Failure::Outage),
            (TransportError::Timeout, Failure::Outage),
            (
                http(429, Some(7)),
                Failure::Throttled {
                    retry_after: Duration::from_secs(7),
                },
            ),
            (
                http(429, None),
                Failure::Throttled {
                    retry_after: DEFAULT_THROTTLE,
                },
            ),
            (http(503, Some(3)), Failure::ServerError),
            (http(503, None), Failure::ServerError),
            (http(500, None), Failure::ServerError),
            (http(413, None), Failure::ServerError),
            (
                TransportError::Protocol("not json".into()),
                Failure::ServerError,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(classify_failure(&err), want, "{err}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 5,
        };
        // Full jitter: the top of the range doubles per attempt.
        assert_eq!(p.delay(1, 0.999_999, None).as_secs(), 0);
        assert_eq!(p.delay(1, 0.5, None), Duration::from_millis(500));
        assert_eq!(p.delay(2, 0.5, None), Duration::from_secs(1));
        assert_eq!(p.delay(3, 0.5, None), Duration::from_secs(2));
        assert_eq!(
            p.delay(40, 0.5, None),
            Duration::from_secs(30),
            "capped at max"
        );
        assert_eq!(p.delay(1, 0.0, None), Duration::ZERO);
        assert_eq!(
            p.delay(1, 0.0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay(u32::MAX, 1.0, None),
            Duration::from_secs(60),
            "no overflow"
        );
    }
}
