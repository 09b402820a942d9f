//! The one generic local row of a synced entity, with its sync metadata (SPEC.md
//! section 3), and the badge the UI shows for it.

use chrono::{DateTime, Utc};
use is_protocol::RecordMeta;
use serde::Serialize;
use uuid::Uuid;

use super::SyncEntity;
use crate::sync::state::{PendingOp, SyncState, SyncStatus};

/// A row's sync badge and the metadata behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowSync {
    pub status: SyncStatus,
    /// The operation a pending, failed or conflicting row is about.
    pub op: Option<PendingOp>,
    pub error: Option<String>,
    pub attempts: u32,
    /// Failed after the maximum attempts: waits for Retry or Discard.
    pub given_up: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The server version the local row builds on (`None`: never reached the server).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub version: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// A row of any synced entity as stored locally: its fields and its sync metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRow<E: SyncEntity> {
    pub id: Uuid,
    pub fields: E::Input,
    pub server: E::Server,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub state: SyncState,
    /// The server version the local state builds on (`None`: never reached the server).
    pub base_version: Option<i64>,
    /// The server copy at `base_version`, kept while the row has local changes (for the
    /// three-way merge); a synced row *is* that copy, so it is not stored twice.
    pub base_snapshot: Option<E::Record>,
    /// The newest server copy seen while the row has local changes.
    pub server_snapshot: Option<E::Record>,
    pub changed_fields: Vec<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub server_updated_at: Option<DateTime<Utc>>,
    pub sync_error: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The full-resync generation in which the server last showed this row.
    pub seen_gen: i64,
    /// Local counter increments the server has not confirmed yet.
    pub pending_increment: i64,
}

impl<E: SyncEntity> SyncRow<E> {
    /// A new local row, pending create.
    pub fn new_local(id: Uuid, fields: E::Input, now: DateTime<Utc>) -> Self {
        SyncRow {
            id,
            fields,
            server: E::Server::default(),
            created_at: now,
            updated_at: now,
            state: SyncState::Pending(PendingOp::Create),
            base_version: None,
            base_snapshot: None,
            server_snapshot: None,
            changed_fields: Vec::new(),
            last_synced_at: None,
            server_updated_at: None,
            sync_error: None,
            attempts: 0,
            next_attempt_at: None,
            seen_gen: 0,
            pending_increment: 0,
        }
    }

    /// A row that mirrors a server record.
    pub fn from_server(rec: &E::Record, now: DateTime<Utc>, gen: i64) -> Self {
        let meta = E::record_meta(rec);
        let (fields, server) = (E::record_input(rec), E::record_server(rec));
        SyncRow {
            id: meta.id,
            fields,
            server,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            state: SyncState::Synced,
            base_version: Some(meta.version),
            base_snapshot: None,
            server_snapshot: None,
            changed_fields: Vec::new(),
            last_synced_at: Some(now),
            server_updated_at: Some(meta.updated_at),
            sync_error: None,
            attempts: 0,
            next_attempt_at: None,
            seen_gen: gen,
            pending_increment: 0,
        }
    }

    /// Overwrites the row with the server's copy: synced, nothing pending (but local
    /// counter increments, which never conflict).
    pub fn take_server(&mut self, rec: &E::Record, now: DateTime<Utc>) {
        let meta = E::record_meta(rec);
        let (fields, server) = (E::record_input(rec), E::record_server(rec));
        self.fields = fields;
        self.created_at = meta.created_at;
        self.updated_at = meta.updated_at;
        self.state = SyncState::Synced;
        self.changed_fields.clear();
        self.server_snapshot = None;
        self.sync_error = None;
        self.attempts = 0;
        self.next_attempt_at = None;
        self.set_base(rec, server, now);
    }

    /// Records that the server holds `rec` as the version the local state builds on.
    /// Server-written fields always follow the server.
    pub fn mark_base(&mut self, rec: &E::Record, now: DateTime<Utc>) {
        self.set_base(rec, E::record_server(rec), now);
    }

    fn set_base(&mut self, rec: &E::Record, mut server: E::Server, now: DateTime<Utc>) {
        let meta = E::record_meta(rec);
        if self.pending_increment > 0 {
            E::keep_while_incrementing(&self.server, &mut server);
        }
        self.server = server;
        self.base_version = Some(meta.version);
        // A synced row is its own base; a row with local changes keeps the copy.
        self.base_snapshot = (self.state != SyncState::Synced).then(|| rec.clone());
        self.server_updated_at = Some(meta.updated_at);
        self.last_synced_at = Some(now);
        if self
            .server_snapshot
            .as_ref()
            .is_some_and(|s| E::record_meta(s).version <= meta.version)
        {
            self.server_snapshot = None;
        }
    }

    /// Before the first local change of a synced row: keep the synced copy as the base
    /// of a later three-way merge.
    pub fn begin_local_change(&mut self) {
        if self.state == SyncState::Synced && self.base_version.is_some() {
            self.base_snapshot = Some(self.as_record());
        }
    }

    /// The server copy the local change builds on, if the server has the row.
    pub fn base_record(&self) -> Option<E::Record> {
        match (&self.base_snapshot, self.state, self.base_version) {
            (Some(b), _, _) => Some(b.clone()),
            (None, SyncState::Synced, Some(_)) => Some(self.as_record()),
            _ => None,
        }
    }

    /// The local version as a record (for the conflict history and merges).
    pub fn as_record(&self) -> E::Record {
        E::make_record(
            RecordMeta {
                id: self.id,
                version: self.base_version.unwrap_or(0),
                deleted: self.state == SyncState::Pending(PendingOp::Delete),
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            &self.fields,
            &self.server,
        )
    }

    /// The counter as shown: the server's count plus unconfirmed local increments.
    pub fn counter(&self) -> i64 {
        E::counter(&self.server) + self.pending_increment
    }

    /// The newest server version this row knows of.
    pub fn known_version(&self) -> Option<i64> {
        let remembered = self
            .server_snapshot
            .as_ref()
            .map(|s| E::record_meta(s).version);
        self.base_version.max(remembered)
    }

    pub fn add_changed(&mut self, fields: &[&str]) {
        for f in fields {
            if !self.changed_fields.iter().any(|c| c == f) {
                self.changed_fields.push((*f).to_owned());
            }
        }
    }

    pub fn sync_view(&self, max_attempts: u32) -> RowSync {
        RowSync {
            status: self.state.status(),
            op: self.state.op(),
            error: self.sync_error.clone(),
            attempts: self.attempts,
            given_up: matches!(self.state, SyncState::Failed(_)) && self.attempts >= max_attempts,
            next_attempt_at: self.next_attempt_at,
            version: self.base_version,
            last_synced_at: self.last_synced_at,
        }
    }
}
