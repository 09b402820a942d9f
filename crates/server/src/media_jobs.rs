//! The durable queue of media generation jobs (the `media_jobs` table), shared by every
//! server process on one database.
//!
//! A generation request queues its job **in the transaction that reserves its usage**
//! ([`enqueue`]), so an accepted request always has both and a refused one neither. Any
//! replica's worker ([`crate::media::MediaWorker`]) then [`claim`]s it: in one short
//! write transaction it picks the oldest claimable row (`SELECT … FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so two replicas never pick the same row; SQLite's writes are
//! serialised anyway, see [`crate::sql::Backend::skip_locked`]) and stamps it with a
//! **lease**: `claimed_by` (the replica), `attempts + 1` and `lease_until`. A row is
//! claimable when its lease has passed, so a job whose replica died is taken over by
//! another one once the lease expires, and a job that failed is released at once for
//! another attempt; after [`MAX_ATTEMPTS`] it is given up.
//!
//! A claim is the pair (replica, attempt). Every write of a job checks in its own
//! transaction that the claim is still the row's ([`ClaimedJob::progress`],
//! [`ClaimedJob::finish`]), so a replica that lost its lease (it stalled past it and
//! another took over) writes nothing: the job's effects and the settling of its usage
//! happen exactly once. The last write of a job also settles the reservation at what was
//! delivered and deletes the row, in the same transaction.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::{parse_uuid, to_micros};
use crate::params;
use crate::sql::{self, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use crate::usage::{self, Reservation, UsageKind};

/// How long a claim holds a job before another replica may take it over. Jobs renew it
/// with each step they record ([`ClaimedJob::progress`]).
pub const LEASE: Duration = Duration::from_secs(60);

/// How many times a job is started before it is given up (a failure, or a replica that
/// died running it, each count as one).
pub const MAX_ATTEMPTS: u32 = 3;

/// How often an idle worker looks for jobs queued by other replicas (its own replica's
/// wake it at once).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What a job makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Avatar,
    Audio,
    Illustrations,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Avatar => "avatar",
            JobKind::Audio => "audio",
            JobKind::Illustrations => "illustrations",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "avatar" => Some(JobKind::Avatar),
            "audio" => Some(JobKind::Audio),
            "illustrations" => Some(JobKind::Illustrations),
            _ => None,
        }
    }

    /// The monthly limit the job counts toward (avatars count toward none).
    pub fn usage_kind(self) -> Option<UsageKind> {
        match self {
            JobKind::Avatar => None,
            JobKind::Audio => Some(UsageKind::AudioMinutes),
            JobKind::Illustrations => Some(UsageKind::Illustration),
        }
    }
}

/// What a job works on: ids only; the rows themselves are read when it runs, so a job
/// sees the data as it is then (and a deleted target ends it without a file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPayload {
    /// The hero (avatar) or story (audio, illustrations).
    pub target_id: Uuid,
    /// The pending illustrations to draw, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub illustration_ids: Vec<Uuid>,
}

impl JobPayload {
    /// A payload naming only its target.
    pub fn of(target_id: Uuid) -> JobPayload {
        JobPayload {
            target_id,
            illustration_ids: Vec::new(),
        }
    }
}

/// A job's failure to be queued, claimed or recorded.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Sql(#[from] sql::Error),
    /// The claim is no longer the row's: its lease passed and another replica took the
    /// job over (or finished it). Nothing was written.
    #[error("media job {0} was taken over by another replica")]
    Lost(Uuid),
}

/// Queues a job inside `tx` (the request's transaction, which also made `reservation`).
pub fn enqueue(
    tx: &Transaction<'_>,
    id: Uuid,
    user_id: Uuid,
    kind: JobKind,
    payload: &JobPayload,
    reservation: Option<&Reservation>,
    now: DateTime<Utc>,
) -> sql::Result<()> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| sql::Error::conversion("payload", e.to_string()))?;
    tx.execute(
        "INSERT INTO media_jobs (id, user_id, kind, payload, usage_id, usage_amount,
                                 delivered, attempts, claimed_by, lease_until, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, NULL, 0, ?7)",
        params![
            id,
            user_id,
            kind.as_str(),
            payload,
            reservation.map(|r| r.id),
            reservation.map_or(0.0, |r| r.amount),
            to_micros(now),
        ],
    )?;
    Ok(())
}

/// A job claimed by this replica: what it must do and the claim that lets it record it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// The generation id (also the row's id).
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: JobKind,
    pub payload: JobPayload,
    /// The reservation to settle (`None` for avatars).
    pub reservation: Option<Reservation>,
    /// 1 for the first run; past [`MAX_ATTEMPTS`] the job is to be given up.
    pub attempt: u32,
    claimed_by: String,
}

/// A row that is no job this server can run (written by another version, or damaged).
#[derive(Debug)]
struct Unreadable {
    id: String,
    reservation: Option<Reservation>,
    why: String,
}

const JOB_COLUMNS: &str = "id, user_id, kind, payload, usage_id, usage_amount, attempts";

fn read_job(r: &Row<'_>, claimed_by: &str) -> sql::Result<Result<ClaimedJob, Unreadable>> {
    let id: String = r.get("id")?;
    let reservation = r.get::<_, Option<i64>>("usage_id")?.map(|usage_id| {
        r.get("usage_amount").map(|amount| Reservation {
            id: usage_id,
            amount,
        })
    });
    let reservation = reservation.transpose()?;
    let kind: String = r.get("kind")?;
    let payload: String = r.get("payload")?;
    let Some(kind) = JobKind::parse(&kind) else {
        return Ok(Err(Unreadable {
            id,
            reservation,
            why: format!("unknown kind {kind:?}"),
        }));
    };
    let payload: JobPayload = match serde_json::from_str(&payload) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(Unreadable {
                id,
                reservation,
                why: format!("payload: {e}"),
            }))
        }
    };
    // The claim just added one.
    let attempt = r.get::<_, u32>("attempts")? + 1;
    Ok(Ok(ClaimedJob {
        id: parse_uuid(&id)?,
        user_id: parse_uuid(&r.get::<_, String>("user_id")?)?,
        kind,
        payload,
        reservation,
        attempt,
        claimed_by: claimed_by.to_owned(),
    }))
}

/// Claims the oldest claimable job for `replica` until `now` + [`LEASE`], or `None` when
/// no job is claimable. An unreadable row is dropped (its reservation given back) and
/// the next one tried.
///
/// A plain read looks first, so an idle replica's polling never takes the write lock.
pub fn claim(
    conn: &mut Connection,
    replica: &str,
    now: DateTime<Utc>,
) -> sql::Result<Option<ClaimedJob>> {
    let now_micros = to_micros(now);
    loop {
        let any = conn
            .query_row(
                "SELECT id FROM media_jobs WHERE lease_until <= ?1 LIMIT 1",
                [now_micros],
                |_| Ok(()),
            )
            .optional()?;
        if any.is_none() {
            return Ok(None);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let select = format!(
            "SELECT {JOB_COLUMNS} FROM media_jobs WHERE lease_until <= ?1
             ORDER BY created_at, id LIMIT 1{}",
            tx.backend().skip_locked()
        );
        let Some(job) = tx
            .query_row(&select, [now_micros], |r| read_job(r, replica))
            .optional()?
        else {
            // Claimed by another replica since the look.
            return Ok(None);
        };
        match job {
            Ok(job) => {
                tx.execute(
                    "UPDATE media_jobs SET claimed_by = ?2, attempts = ?3, lease_until = ?4
                     WHERE id = ?1",
                    params![job.id, replica, job.attempt, lease_end(now)],
                )?;
                tx.commit()?;
                return Ok(Some(job));
            }
            Err(bad) => {
                tracing::error!(job = %bad.id, why = %bad.why, "dropping an unreadable media job");
                if let Some(reservation) = &bad.reservation {
                    usage::settle(&tx, reservation, 0.0)?;
                }
                tx.execute("DELETE FROM media_jobs WHERE id = ?1", [&bad.id])?;
                tx.commit()?;
            }
        }
    }
}

fn lease_end(now: DateTime<Utc>) -> i64 {
    to_micros(now).saturating_add(LEASE.as_micros() as i64)
}

impl ClaimedJob {
    /// Inside the transaction of one step of the job: checks the claim is still the
    /// row's, adds `delivered` to what the job has delivered and renews the lease.
    /// [`JobError::Lost`] when the claim is gone (roll the step back).
    pub fn progress(
        &self,
        tx: &Transaction<'_>,
        delivered: f64,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let changed = tx.execute(
            "UPDATE media_jobs SET delivered = delivered + ?4, lease_until = ?5
             WHERE id = ?1 AND claimed_by = ?2 AND attempts = ?3",
            params![
                self.id,
                self.claimed_by,
                self.attempt,
                delivered,
                lease_end(now)
            ],
        )?;
        if changed == 0 {
            return Err(JobError::Lost(self.id));
        }
        Ok(())
    }

    /// Inside the transaction of the job's last step: checks the claim, deletes the row
    /// and settles the reservation at what the job delivered (with `delivered` of this
    /// step); the rest goes back to the user's allowance.
    pub fn finish(&self, tx: &Transaction<'_>, delivered: f64) -> Result<(), JobError> {
        let so_far: Option<f64> = tx
            .query_row(
                "DELETE FROM media_jobs WHERE id = ?1 AND claimed_by = ?2 AND attempts = ?3
                 RETURNING delivered",
                params![self.id, self.claimed_by, self.attempt],
                |r| r.get("delivered"),
            )
            .optional()?;
        let so_far = so_far.ok_or(JobError::Lost(self.id))?;
        if let Some(reservation) = &self.reservation {
            usage::settle(tx, reservation, so_far + delivered)?;
        }
        Ok(())
    }

    /// Gives the claim back after a failed attempt, so the job can be claimed again at
    /// once (by any replica). Nothing happens if the claim is already gone.
    pub fn release(&self, conn: &mut Connection) -> sql::Result<()> {
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE media_jobs SET claimed_by = NULL, lease_until = 0
             WHERE id = ?1 AND claimed_by = ?2 AND attempts = ?3",
            params![self.id, self.claimed_by, self.attempt],
        )?;
        tx.commit()
    }
}

// ---------------------------------------------------------------------------------------
// This process's side

/// This process's media work: wakes its worker when a job is queued here, counts the
/// jobs it is claiming or running so tests (and shutdown) can wait for them, and how many
/// it has run.
#[derive(Debug, Default)]
pub struct Jobs {
    running: AtomicUsize,
    idle: Notify,
    wake: Notify,
    claimed: AtomicU64,
}

/// Held while this process claims or runs a job; dropping it marks that done.
pub struct JobGuard(Arc<Jobs>);

impl Drop for JobGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Jobs {
    pub fn start(self: &Arc<Self>) -> JobGuard {
        self.running.fetch_add(1, Ordering::SeqCst);
        JobGuard(self.clone())
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Counts a job this process claimed (to run it or to give it up).
    pub fn count_claim(&self) {
        self.claimed.fetch_add(1, Ordering::Relaxed);
    }

    /// How many jobs this process has claimed so far.
    pub fn claimed(&self) -> u64 {
        self.claimed.load(Ordering::Relaxed)
    }

    /// Tells this process's worker a job was queued (it need not wait for its poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Jobs::wake`] is called (or was, since the last time).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Resolves once this process claims and runs no job.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in [JobKind::Avatar, JobKind::Audio, JobKind::Illustrations] {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("video"), None);
        assert_eq!(JobKind::Avatar.usage_kind(), None);
    }

    #[test]
    fn payloads_name_ids_only() {
        let p = JobPayload {
            target_id: Uuid::nil(),
            illustration_ids: Vec::new(),
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            text,
            r#"{"target_id":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::from_str::<JobPayload>(&text).unwrap(), p);
    }
}
