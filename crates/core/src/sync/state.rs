//! The per-row sync state machine (SPEC.md section 3), as one pure function.
//!
//! [`next_state`] decides; the repositories and the sync engine apply what it decides
//! (row effect and outbox effect) in the same transaction as the event that caused it.
//! Every (state, event) pair is covered by the table test below.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of server operation a local change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PendingOp {
    Create,
    Update,
    Delete,
}

impl PendingOp {
    pub const ALL: [PendingOp; 3] = [PendingOp::Create, PendingOp::Update, PendingOp::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            PendingOp::Create => "create",
            PendingOp::Update => "update",
            PendingOp::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<PendingOp> {
        PendingOp::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

/// Where a local row stands relative to the server.
///
/// `Failed` and `Conflict` remember which operation they are about, so that an edit of a
/// row whose create failed is still a create, and keeping "my version" of a conflicting
/// delete is still a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    Synced,
    Pending(PendingOp),
    Failed(PendingOp),
    Conflict(PendingOp),
}

/// The flat status the UI shows as a badge (`needs_sync` = anything but `Synced`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Synced,
    PendingCreate,
    PendingUpdate,
    PendingDelete,
    Failed,
    Conflict,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::PendingCreate => "pending_create",
            SyncStatus::PendingUpdate => "pending_update",
            SyncStatus::PendingDelete => "pending_delete",
            SyncStatus::Failed => "failed",
            SyncStatus::Conflict => "conflict",
        }
    }
}

impl SyncState {
    pub fn status(self) -> SyncStatus {
        match self {
            SyncState::Synced => SyncStatus::Synced,
            SyncState::Pending(PendingOp::Create) => SyncStatus::PendingCreate,
            SyncState::Pending(PendingOp::Update) => SyncStatus::PendingUpdate,
            SyncState::Pending(PendingOp::Delete) => SyncStatus::PendingDelete,
            SyncState::Failed(_) => SyncStatus::Failed,
            SyncState::Conflict(_) => SyncStatus::Conflict,
        }
    }

    /// The operation a non-synced row is about.
    pub fn op(self) -> Option<PendingOp> {
        match self {
            SyncState::Synced => None,
            SyncState::Pending(op) | SyncState::Failed(op) | SyncState::Conflict(op) => Some(op),
        }
    }

    pub fn needs_sync(self) -> bool {
        self != SyncState::Synced
    }

    /// Whether the push loop should send this row's outbox now.
    pub fn is_pushable(self) -> bool {
        matches!(self, SyncState::Pending(_))
    }

    /// Storage form: (`sync_status`, `sync_op`).
    pub fn to_columns(self) -> (&'static str, Option<&'static str>) {
        let op = match self {
            SyncState::Failed(op) | SyncState::Conflict(op) => Some(op.as_str()),
            _ => None,
        };
        (self.status().as_str(), op)
    }

    pub fn from_columns(status: &str, op: Option<&str>) -> Option<SyncState> {
        let op = op.and_then(PendingOp::parse);
        Some(match (status, op) {
            ("synced", _) => SyncState::Synced,
            ("pending_create", _) => SyncState::Pending(PendingOp::Create),
            ("pending_update", _) => SyncState::Pending(PendingOp::Update),
            ("pending_delete", _) => SyncState::Pending(PendingOp::Delete),
            ("failed", Some(op)) => SyncState::Failed(op),
            ("conflict", Some(op)) => SyncState::Conflict(op),
            _ => return None,
        })
    }

    pub const ALL: [SyncState; 10] = [
        SyncState::Synced,
        SyncState::Pending(PendingOp::Create),
        SyncState::Pending(PendingOp::Update),
        SyncState::Pending(PendingOp::Delete),
        SyncState::Failed(PendingOp::Create),
        SyncState::Failed(PendingOp::Update),
        SyncState::Failed(PendingOp::Delete),
        SyncState::Conflict(PendingOp::Create),
        SyncState::Conflict(PendingOp::Update),
        SyncState::Conflict(PendingOp::Delete),
    ];
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncState::Synced => f.write_str("synced"),
            SyncState::Pending(op) => write!(f, "pending {}", op.as_str()),
            SyncState::Failed(op) => write!(f, "failed {}", op.as_str()),
            SyncState::Conflict(op) => write!(f, "conflict on {}", op.as_str()),
        }
    }
}

/// How a push conflict is settled, decided by the entity's conflict strategy before the
/// state machine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictResolution {
    /// Take the server's row; the local version goes to the conflict history.
    TakeServer,
    /// Re-send the local change against the server's current version.
    KeepLocal,
    /// Ask the user.
    Prompt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncEvent {
    /// The user edited the row.
    LocalEdit,
    /// The user deleted the row. `on_server`: the server has, or may have, this row (it
    /// has a server version, or a create was sent and its outcome is unknown).
    LocalDelete { on_server: bool },
    /// The server applied the row's oldest outbox entry; `next` is the operation of the
    /// following entry for this row, if one is queued.
    PushApplied { next: Option<PendingOp> },
    /// A transient failure (network, 5xx, 429). `gave_up`: the maximum attempts are spent.
    PushFailed { gave_up: bool },
    /// The server refused the change (validation and the like). Not retried by itself.
    PushRejected,
    /// The server's row was not at our base version.
    PushConflict(ConflictResolution),
    /// The user pressed Retry on a failed row.
    Retry,
    /// The user pressed Discard: drop the local change.
    Discard { on_server: bool },
    /// The user settled a conflict: keep (or merge into) the local version, or take the
    /// server's.
    Resolve { keep_local: bool },
    /// A pull brought a newer server version of the row.
    RemoteChanged,
    /// A pull brought a tombstone for the row.
    RemoteDeleted,
}

impl SyncEvent {
    /// One instance of every event shape, for exhaustive tests.
    pub fn all() -> Vec<SyncEvent> {
        use ConflictResolution::*;
        let mut v = vec![
            SyncEvent::LocalEdit,
            SyncEvent::LocalDelete { on_server: false },
            SyncEvent::LocalDelete { on_server: true },
            SyncEvent::PushApplied { next: None },
            SyncEvent::PushFailed { gave_up: false },
            SyncEvent::PushFailed { gave_up: true },
            SyncEvent::PushRejected,
            SyncEvent::PushConflict(TakeServer),
            SyncEvent::PushConflict(KeepLocal),
            SyncEvent::PushConflict(Prompt),
            SyncEvent::Retry,
            SyncEvent::Discard { on_server: false },
            SyncEvent::Discard { on_server: true },
            SyncEvent::Resolve { keep_local: true },
            SyncEvent::Resolve { keep_local: false },
            SyncEvent::RemoteChanged,
            SyncEvent::RemoteDeleted,
        ];
        v.extend(PendingOp::ALL.map(|op| SyncEvent::PushApplied { next: Some(op) }));
        v
    }
}

/// What happens to the local row's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowEffect {
    /// Keep the local fields.
    Keep,
    /// Overwrite with the server's row (or remove it, if that row is a tombstone).
    TakeServer,
    /// Keep the local fields, and rebase them on the server's current version.
    Rebase,
    /// Restore the last synced copy (`base_snapshot`).
    RevertToBase,
    /// Remove the local row.
    Remove,
    /// Keep the local fields; store the server row as the latest copy seen.
    RememberServer,
}

/// What happens to the row's outbox entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxEffect {
    None,
    /// Record this operation (merged into an unsent entry when that keeps its effect,
    /// appended otherwise).
    Record(PendingOp),
    /// The oldest entry is done.
    PopHead,
    /// The oldest entry stays; it is retried with the same mutation id.
    Hold,
    /// The oldest entry was definitively not applied: it will be re-issued under a new
    /// mutation id when next sent.
    Reissue,
    /// Drop every entry of this row.
    DropAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub state: SyncState,
    pub row: RowEffect,
    pub outbox: OutboxEffect,
    /// Reset the attempt counter (a fresh user action, or a user-requested retry).
    pub reset_attempts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot apply {event:?} to a row that is {state}")]
pub struct InvalidTransition {
    pub state: SyncState,
    pub event: SyncEvent,
}

impl InvalidTransition {
    /// A sentence for a person, for the events a user can cause.
    pub fn user_message(&self) -> &'static str {
        match (self.state, self.event) {
            (SyncState::Conflict(_), SyncEvent::LocalDelete { .. }) => {
                "Resolve the sync conflict before deleting"
            }
            (_, SyncEvent::LocalEdit) => "This item was deleted and can no longer be edited",
            (_, SyncEvent::Retry) => "There is nothing to retry",
            (_, SyncEvent::Discard { .. }) => "There is nothing to discard",
            (_, SyncEvent::Resolve { .. }) => "There is no conflict to resolve",
            _ => "This change does not apply to the item in its current state",
        }
    }
}

/// The one place that decides every sync-state transition.
pub fn next_state(state: SyncState, event: SyncEvent) -> Result<Transition, InvalidTransition> {
    use OutboxEffect as O;
    use PendingOp::*;
    use RowEffect as R;
    use SyncEvent as E;
    use SyncState as S;

    let t = |state, row, outbox| Transition {
        state,
        row,
        outbox,
        reset_attempts: false,
    };
    let fresh = |state, row, outbox| Transition {
        state,
        row,
        outbox,
        reset_attempts: true,
    };
    let invalid = Err(InvalidTransition { state, event });
    // After the oldest entry is applied, the row is pending whatever comes next, or synced.
    let after_applied = |next: Option<PendingOp>| match next {
        Some(op) => t(S::Pending(op), R::Keep, O::PopHead),
        None => t(S::Synced, R::Keep, O::PopHead),
    };
    // Taking the server's row when ours lost a conflict.
    let take_server = t(S::Synced, R::TakeServer, O::DropAll);

    Ok(match (state, event) {
        // ---- Synced: the only way out is a local change or a remote one.
        (S::Synced, E::LocalEdit) => fresh(S::Pending(Update), R::Keep, O::Record(Update)),
        (S::Synced, E::LocalDelete { .. }) => fresh(S::Pending(Delete), R::Keep, O::Record(Delete)),
        (S::Synced, E::RemoteChanged) => t(S::Synced, R::TakeServer, O::None),
        (S::Synced, E::RemoteDeleted) => t(S::Synced, R::Remove, O::None),

        // ---- Local edits of unsynced rows.
        // An edit keeps a pending create a create, and a failed op its kind.
        (S::Pending(Create) | S::Failed(Create), E::LocalEdit) => {
            fresh(S::Pending(Create), R::Keep, O::Record(Update))
        }
        (S::Pending(Update) | S::Failed(Update), E::LocalEdit) => {
            fresh(S::Pending(Update), R::Keep, O::Record(Update))
        }
        // An edit in conflict changes "my version" and stays in conflict.
        (S::Conflict(op), E::LocalEdit) => t(S::Conflict(op), R::Keep, O::Record(Update)),
        (S::Pending(Delete) | S::Failed(Delete), E::LocalEdit) => return invalid,

        // ---- Local deletes.
        // A create the server never saw vanishes without a server call.
        (S::Pending(Create) | S::Failed(Create), E::LocalDelete { on_server: false }) => {
            t(S::Synced, R::Remove, O::DropAll)
        }
        (S::Pending(Create) | S::Failed(Create), E::LocalDelete { on_server: true })
        | (S::Pending(Update) | S::Failed(Update), E::LocalDelete { .. })
        | (S::Failed(Delete), E::LocalDelete { .. }) => {
            fresh(S::Pending(Delete), R::Keep, O::Record(Delete))
        }
        // Deleting twice is harmless.
        (S::Pending(Delete), E::LocalDelete { .. }) => t(S::Pending(Delete), R::Keep, O::None),
        (S::Conflict(_), E::LocalDelete { .. }) => return invalid,

        // ---- Push results, only for rows that were pushed.
        // A create or update sent before the user deleted the row: the delete is next.
        (S::Pending(Delete), E::PushApplied { next: Some(_) }) => {
            t(S::Pending(Delete), R::Keep, O::PopHead)
        }
        (S::Pending(Delete), E::PushApplied { next: None }) => t(S::Synced, R::Remove, O::DropAll),
        (S::Pending(_), E::PushApplied { next }) => after_applied(next),
        (S::Pending(op), E::PushFailed { gave_up: false }) => t(S::Pending(op), R::Keep, O::Hold),
        (S::Pending(op), E::PushFailed { gave_up: true }) => t(S::Failed(op), R::Keep, O::Hold),
        (S::Pending(op), E::PushRejected) => t(S::Failed(op), R::Keep, O::Reissue),
        (S::Pending(_), E::PushConflict(ConflictResolution::TakeServer)) => take_server,
        (S::Pending(Create), E::PushConflict(ConflictResolution::KeepLocal)) => {
            // The id exists on the server: our create becomes an update of that row.
            t(S::Pending(Update), R::Rebase, O::Reissue)
        }
        (S::Pending(op), E::PushConflict(ConflictResolution::KeepLocal)) => {
            t(S::Pending(op), R::Rebase, O::Reissue)
        }
        (S::Pending(op), E::PushConflict(ConflictResolution::Prompt)) => {
            t(S::Conflict(op), R::RememberServer, O::Reissue)
        }
        (
            S::Synced | S::Failed(_) | S::Conflict(_),
            E::PushApplied { .. } | E::PushFailed { .. } | E::PushRejected | E::PushConflict(_),
        ) => return invalid,

        // ---- User actions on failed rows.
        (S::Failed(op), E::Retry) => fresh(S::Pending(op), R::Keep, O::None),
        (S::Failed(Create), E::Discard { .. }) => t(S::Synced, R::Remove, O::DropAll),
        (S::Failed(_), E::Discard { .. }) => t(S::Synced, R::RevertToBase, O::DropAll),
        (S::Synced | S::Pending(_) | S::Conflict(_), E::Retry) => return invalid,
        (S::Synced | S::Pending(_), E::Discard { .. }) => return invalid,

        // ---- Conflicts.
        (S::Conflict(Create | Update), E::Resolve { keep_local: true }) => {
            fresh(S::Pending(Update), R::Rebase, O::Reissue)
        }
        (S::Conflict(Delete), E::Resolve { keep_local: true }) => {
            fresh(S::Pending(Delete), R::Rebase, O::Reissue)
        }
        (S::Conflict(_), E::Resolve { keep_local: false } | E::Discard { .. }) => take_server,
        (S::Synced | S::Pending(_) | S::Failed(_), E::Resolve { .. }) => return invalid,

        // ---- Remote changes of rows with local changes: never overwrite local work.
        // The server copy is remembered; the push settles it by version.
        (S::Pending(Delete) | S::Failed(Delete), E::RemoteDeleted) => {
            t(S::Synced, R::Remove, O::DropAll)
        }
        (S::Pending(op), E::RemoteChanged | E::RemoteDeleted) => {
            t(S::Pending(op), R::RememberServer, O::None)
        }
        (S::Failed(op), E::RemoteChanged | E::RemoteDeleted) => {
            t(S::Failed(op), R::RememberServer, O::None)
        }
        (S::Conflict(op), E::RemoteChanged | E::RemoteDeleted) => {
            t(S::Conflict(op), R::RememberServer, O::None)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConflictResolution::*;
    use OutboxEffect as O;
    use PendingOp::*;
    use RowEffect as R;
    use SyncEvent as E;
    use SyncState as S;

    /// The expected result for every (state, event) pair. `None` = invalid.
    fn expected(
        state: SyncState,
        event: SyncEvent,
    ) -> Option<(SyncState, RowEffect, OutboxEffect)> {
        let r = |s, row, o| Some((s, row, o));
        match (state, event) {
            (S::Synced, E::LocalEdit) => r(S::Pending(Update), R::Keep, O::Record(Update)),
            (S::Synced, E::LocalDelete { .. }) => r(S::Pending(Delete), R::Keep, O::Record(Delete)),
            (S::Synced, E::RemoteChanged) => r(S::Synced, R::TakeServer, O::None),
            (S::Synced, E::RemoteDeleted) => r(S::Synced, R::Remove, O::None),
            (S::Synced, _) => None,

            (S::Pending(Create), E::LocalEdit) => r(S::Pending(Create), R::Keep, O::Record(Update)),
            (S::Pending(Create), E::LocalDelete { on_server: false }) => {
                r(S::Synced, R::Remove, O::DropAll)
            }
            (S::Pending(Create), E::LocalDelete { on_server: true }) => {
                r(S::Pending(Delete), R::Keep, O::Record(Delete))
            }
            (S::Pending(Create), E::PushApplied { next: None }) => {
                r(S::Synced, R::Keep, O::PopHead)
            }
            (S::Pending(Create), E::PushApplied { next: Some(op) }) => {
                r(S::Pending(op), R::Keep, O::PopHead)
            }
            (S::Pending(Create), E::PushConflict(KeepLocal)) => {
                r(S::Pending(Update), R::Rebase, O::Reissue)
            }

            (S::Pending(Update), E::LocalEdit) => r(S::Pending(Update), R::Keep, O::Record(Update)),
            (S::Pending(Update), E::LocalDelete { .. }) => {
                r(S::Pending(Delete), R::Keep, O::Record(Delete))
            }
            (S::Pending(Update), E::PushApplied { next: None }) => {
                r(S::Synced, R::Keep, O::PopHead)
            }
            (S::Pending(Update), E::PushApplied { next: Some(op) }) => {
                r(S::Pending(op), R::Keep, O::PopHead)
            }

            (S::Pending(Delete), E::LocalEdit) => None,
            (S::Pending(Delete), E::LocalDelete { .. }) => r(S::Pending(Delete), R::Keep, O::None),
            (S::Pending(Delete), E::PushApplied { next: Some(_) }) => {
                r(S::Pending(Delete), R::Keep, O::PopHead)
            }
            (S::Pending(Delete), E::PushApplied { next: None }) => {
                r(S::Synced, R::Remove, O::DropAll)
            }
            (S::Pending(Delete), E::RemoteDeleted) => r(S::Synced, R::Remove, O::DropAll),

            (S::Pending(op), E::PushFailed { gave_up: false }) => {
                r(S::Pending(op), R::Keep, O::Hold)
            }
            (S::Pending(op), E::PushFailed { gave_up: true }) => r(S::Failed(op), R::Keep, O::Hold),
            (S::Pending(op), E::PushRejected) => r(S::Failed(op), R::Keep, O::Reissue),
            (S::Pending(_), E::PushConflict(TakeServer)) => r(S::Synced, R::TakeServer, O::DropAll),
            (S::Pending(op), E::PushConflict(KeepLocal)) => {
                r(S::Pending(op), R::Rebase, O::Reissue)
            }
            (S::Pending(op), E::PushConflict(Prompt)) => {
                r(S::Conflict(op), R::RememberServer, O::Reissue)
            }
            (S::Pending(op), E::RemoteChanged | E::RemoteDeleted) => {
                r(S::Pending(op), R::RememberServer, O::None)
            }
            (S::Pending(_), E::Retry | E::Discard { .. } | E::Resolve { .. }) => None,

            (S::Failed(Create), E::LocalEdit) => r(S::Pending(Create), R::Keep, O::Record(Update)),
            (S::Failed(Update), E::LocalEdit) => r(S::Pending(Update), R::Keep, O::Record(Update)),
            (S::Failed(Delete), E::LocalEdit) => None,
            (S::Failed(Create), E::LocalDelete { on_server: false }) => {
                r(S::Synced, R::Remove, O::DropAll)
            }
            (S::Failed(_), E::LocalDelete { .. }) => {
                r(S::Pending(Delete), R::Keep, O::Record(Delete))
            }
            (S::Failed(op), E::Retry) => r(S::Pending(op), R::Keep, O::None),
            (S::Failed(Create), E::Discard { .. }) => r(S::Synced, R::Remove, O::DropAll),
            (S::Failed(_), E::Discard { .. }) => r(S::Synced, R::RevertToBase, O::DropAll),
            (S::Failed(Delete), E::RemoteDeleted) => r(S::Synced, R::Remove, O::DropAll),
            (S::Failed(op), E::RemoteChanged | E::RemoteDeleted) => {
                r(S::Failed(op), R::RememberServer, O::None)
            }
            (S::Failed(_), _) => None,

            (S::Conflict(op), E::LocalEdit) => r(S::Conflict(op), R::Keep, O::Record(Update)),
            (S::Conflict(Delete), E::Resolve { keep_local: true }) => {
                r(S::Pending(Delete), R::Rebase, O::Reissue)
            }
            (S::Conflict(_), E::Resolve { keep_local: true }) => {
                r(S::Pending(Update), R::Rebase, O::Reissue)
            }
            (S::Conflict(_), E::Resolve { keep_local: false } | E::Discard { .. }) => {
                r(S::Synced, R::TakeServer, O::DropAll)
            }
            (S::Conflict(op), E::RemoteChanged | E::RemoteDeleted) => {
                r(S::Conflict(op), R::RememberServer, O::None)
            }
            (S::Conflict(_), _) => None,
        }
    }

    #[test]
    fn every_state_times_every_event() {
        let mut checked = 0;
        for state in SyncState::ALL {
            for event in SyncEvent::all() {
                let got = next_state(state, event)
                    .ok()
                    .map(|t| (t.state, t.row, t.outbox));
                assert_eq!(got, expected(state, event), "{state} x {event:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, SyncState::ALL.len() * SyncEvent::all().len());
    }

    #[test]
    fn the_cases_the_seed_forgets() {
        // An edit while pendingCreate stays pendingCreate.
        assert_eq!(
            next_state(S::Pending(Create), E::LocalEdit).unwrap().state,
            S::Pending(Create)
        );
        // A delete while pendingCreate removes the row with no server call.
        let t = next_state(S::Pending(Create), E::LocalDelete { on_server: false }).unwrap();
        assert_eq!((t.row, t.outbox), (R::Remove, O::DropAll));
        // An edit while failed keeps the failed operation's kind.
        assert_eq!(
            next_state(S::Failed(Create), E::LocalEdit).unwrap().state,
            S::Pending(Create)
        );
        // An edit while in conflict stays in conflict.
        assert_eq!(
            next_state(S::Conflict(Update), E::LocalEdit).unwrap().state,
            S::Conflict(Update)
        );
        // Giving up keeps the row, failed and visible, remembering the operation.
        assert_eq!(
            next_state(S::Pending(Delete), E::PushFailed { gave_up: true })
                .unwrap()
                .state,
            S::Failed(Delete)
        );
    }

    #[test]
    fn user_actions_reset_attempts_push_results_do_not() {
        assert!(
            next_state(S::Failed(Update), E::Retry)
                .unwrap()
                .reset_attempts
        );
        assert!(
            next_state(S::Failed(Update), E::LocalEdit)
                .unwrap()
                .reset_attempts
        );
        assert!(
            !next_state(S::Pending(Update), E::PushFailed { gave_up: false })
                .unwrap()
                .reset_attempts
        );
    }

    #[test]
    fn column_round_trip() {
        for state in SyncState::ALL {
            let (status, op) = state.to_columns();
            assert_eq!(SyncState::from_columns(status, op), Some(state));
        }
        assert_eq!(SyncState::from_columns("failed", None), None);
        assert_eq!(SyncState::from_columns("nonsense", None), None);
    }
}
