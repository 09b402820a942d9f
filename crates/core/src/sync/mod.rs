//! The sync engine: push the outbox, then pull the change feed, for every entity.
//!
//! Decisions are pure ([`plan`], [`crate::sync::state::next_state`],
//! [`crate::merge::decide`]); this module does the I/O around them, generically over
//! [`SyncEntity`]. The database lock is never held across a network call, and each push
//! result and each pulled page is applied in one transaction.
//!
//! A change feed that answers 410 `cursor_expired` starts a full resync: the cursor is
//! dropped, a new generation begins, every row the feed shows is marked with it, and
//! when the feed is drained the synced rows it did not show (deleted on the server
//! beyond its tombstone horizon) are swept. Rows with local changes are never touched.
//! The generation is stored, so a crash half-way resumes the same resync.

pub mod plan;
pub mod pull;
mod push;
mod resync;
pub mod state;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::db::{meta, Db};
use crate::entity::{ConflictStrategy, SyncEntity};
use crate::error::{CoreError, Result};
use serde::Serialize;

use crate::repo::Ctx;
use crate::transport::{Transport, TransportError};
use crate::{clock::Clock, rng::Rng};

use plan::RetryPolicy;

/// What one sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    /// Mutations sent.
    pub pushed: u32,
    pub applied: u32,
    pub conflicts: u32,
    pub rejected: u32,
    /// Mutations that failed transiently and wait for a retry.
    pub failed: u32,
    /// Server rows received.
    pub pulled: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The kinds of row whose local copies the run may have changed, with the kinds
    /// that show them ([`SyncReport::touched`]): only their lists refetch after it.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub changed: BTreeSet<is_protocol::EntityKind>,
}

impl SyncReport {
    /// Notes that rows of `kind` changed here. A story shows its hero's name and its
    /// illustrations, so a change to either is a change to the story list too.
    pub fn touched(&mut self, kind: is_protocol::EntityKind) {
        use is_protocol::EntityKind::{Hero, Illustration, Story};
        self.changed.insert(kind);
        if matches!(kind, Hero | Illustration) {
            self.changed.insert(Story);
        }
    }
}

/// Runs `$body` with `$E` bound to the [`SyncEntity`] of `$kind`; `$other` for kinds
/// that are not pushed by the client (illustrations).
macro_rules! with_entity {
    ($kind:expr, $E:ident => $body:expr, else => $other:expr) => {
        match $kind {
            is_protocol::EntityKind::Hero => {
                type $E = $crate::repo::heroes::Hero;
                $body
            }
            is_protocol::EntityKind::Story => {
                type $E = $crate::repo::stories::Story;
                $body
            }
            is_protocol::EntityKind::CustomEvent => {
                type $E = $crate::repo::custom_events::CustomEvent;
                $body
            }
            is_protocol::EntityKind::UserProfile => {
                type $E = $crate::repo::profile::Profile;
                $body
            }
            is_protocol::EntityKind::Illustration => $other,
        }
    };
}
pub(crate) use with_entity;

pub struct SyncEngine {
    pub db: Arc<Db>,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub policy: RetryPolicy,
    /// Notices raised by the current run, announced by [`crate::app::Core`] after it.
    pub notices: std::sync::Mutex<Vec<crate::diagnostics::Notice>>,
    /// Set to stop the current run at the next page or batch (what has been applied
    /// stays applied, and the next run resumes from the stored cursor).
    pub cancel: std::sync::atomic::AtomicBool,
    /// Where progress goes (the core's event stream).
    pub events: tokio::sync::broadcast::Sender<crate::events::CoreEvent>,
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    /// The server refused the session (401): pause until the user signs in again.
    Unauthorized,
    Transport(TransportError),
    Core(CoreError),
    /// [`SyncEngine::cancel`] was set.
    Cancelled,
}

impl From<CoreError> for RunError {
    fn from(e: CoreError) -> Self {
        RunError::Core(e)
    }
}

impl From<TransportError> for RunError {
    fn from(e: TransportError) -> Self {
        if e.status() == Some(401) {
            RunError::Unauthorized
        } else {
            RunError::Transport(e)
        }
    }
}

/// The current full-resync generation.
pub fn generation(conn: &Connection) -> Result<i64> {
    Ok(meta::get(conn, meta::GENERATION)?
        .and_then(|g| g.parse().ok())
        .unwrap_or(0))
}

/// The conflict strategy in force for an entity (Settings, else its default).
pub fn strategy<E: SyncEntity>(conn: &Connection) -> Result<ConflictStrategy> {
    let key = format!("{}{}", meta::STRATEGY_PREFIX, E::KIND.as_str());
    Ok(meta::get(conn, &key)?
        .and_then(|s| ConflictStrategy::parse(&s))
        .unwrap_or(E::STRATEGY))
}

impl SyncEngine {
    pub fn new(
        db: Arc<Db>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        policy: RetryPolicy,
    ) -> SyncEngine {
        SyncEngine {
            db,
            transport,
            clock,
            rng,
            policy,
            notices: Default::default(),
            cancel: Default::default(),
            events: tokio::sync::broadcast::channel(1024).0,
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            clock: &*self.clock,
            rng: &*self.rng,
            max_attempts: self.policy.max_attempts,
        }
    }

    /// One full run: push everything pending, then pull until the feed is drained.
    /// `report` counts what was done, also when the run stops early.
    pub async fn run(&self, token: &str, report: &mut SyncReport) -> Result<(), RunError> {
        report.started_at = self.clock.now();
        let outcome = async {
            match self.push(token, report).await {
                // The server failed our changes but may still serve its feed: the
                // others' changes come in anyway, and the push error is reported.
                Err(RunError::Transport(e))
                    if plan::classify_failure(&e) == plan::Failure::ServerError =>
                {
                    self.pull(token, report).await?;
                    Err(RunError::Transport(e))
                }
                pushed => {
                    pushed?;
                    self.pull(token, report).await
                }
            }
        }
        .await;
        report.finished_at = self.clock.now();
        outcome?;
        self.db
            .write(|tx| meta::set(tx, meta::LAST_SYNC_AT, &report.finished_at.to_rfc3339()))?;
        Ok(())
    }

    /// Stops here if the run was cancelled.
    pub(crate) fn check_cancel(&self) -> Result<(), RunError> {
        if self.cancel.load(std::sync::atomic::Ordering::SeqCst) {
            Err(RunError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Small helpers for optional times and versions.
pub(crate) trait OptionExt<T> {
    fn is_none_or_below(&self, v: T) -> bool;
}

impl<T: PartialOrd + Copy> OptionExt<T> for Option<T> {
    /// Nothing known, or what is known is older than `v`.
    fn is_none_or_below(&self, v: T) -> bool {
        match self {
            None => true,
            Some(k) => *k < v,
        }
    }
}
