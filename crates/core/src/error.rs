//! The core's error type. Every variant has a stable [`CoreError::code`] that crosses the
//! IPC boundary as `{code, message, fields}` ([`ErrorPayload`]).

use is_protocol::{ErrorBody, FieldError};
use serde::Serialize;

use crate::media::error::MediaError;
use crate::sync::state::InvalidTransition;
use crate::transport::TransportError;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{}", validation_message(.0))]
    Validation(Vec<FieldError>),
    #[error("{entity} {id} was not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{}", .0.user_message())]
    InvalidTransition(#[from] InvalidTransition),
    #[error("Sign in to sync")]
    NotSignedIn,
    /// A cache-only read found nothing saved.
    #[error("This is not available offline yet")]
    NotCached,
    #[error("{}", .body.message)]
    Server { status: u16, body: ErrorBody },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("local database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("local data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The user stopped a sync; it resumes from where it stopped.
    #[error("Sync stopped. It will go on from here next time.")]
    Cancelled,
    /// Signing out would delete changes that have not reached the server.
    #[error("{count} change{} on this device {} not synced yet. Signing out deletes {}.", if *.count == 1 { "" } else { "s" }, if *.count == 1 { "is" } else { "are" }, if *.count == 1 { "it" } else { "them" })]
    UnsyncedChanges { count: u32 },
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The keyring (or its fallback) could not keep or give the session token.
    #[error("The session could not be kept safely: {0}")]
    Secrets(#[from] crate::secrets::SecretError),
}

fn validation_message(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.message.clone(),
        _ => format!("{} fields need attention", errors.len()),
    }
}

/// The codes the core gives its own errors. A server error keeps the server's code (one
/// of [`is_protocol::codes::ALL`]); both lists are generated into the UI's bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Validation,
    NotFound,
    InvalidTransition,
    NotSignedIn,
    NotCached,
    Unauthorized,
    Offline,
    Server,
    Internal,
    Cancelled,
    UnsyncedChanges,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Validation,
        ErrorCode::NotFound,
        ErrorCode::InvalidTransition,
        ErrorCode::NotSignedIn,
        ErrorCode::NotCached,
        ErrorCode::Unauthorized,
        ErrorCode::Offline,
        ErrorCode::Server,
        ErrorCode::Internal,
        ErrorCode::Cancelled,
        ErrorCode::UnsyncedChanges,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "validation",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::NotSignedIn => "not_signed_in",
            ErrorCode::NotCached => "not_cached",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Offline => "offline",
            ErrorCode::Server => "server",
            ErrorCode::Internal => "internal",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::UnsyncedChanges => "unsynced_changes",
        }
    }
}

impl CoreError {
    /// Stable machine-readable code, shown to the UI.
    pub fn code(&self) -> &str {
        let own = match self {
            CoreError::Validation(_) => ErrorCode::Validation,
            CoreError::NotFound { .. } => ErrorCode::NotFound,
            CoreError::InvalidTransition(_) => ErrorCode::InvalidTransition,
            CoreError::NotSignedIn => ErrorCode::NotSignedIn,
            CoreError::NotCached => ErrorCode::NotCached,
            CoreError::Server { status: 401, .. } => ErrorCode::Unauthorized,
            CoreError::Server { body, .. } => return &body.code,
            CoreError::Transport(e) if e.is_offline() => ErrorCode::Offline,
            CoreError::Transport(_) => ErrorCode::Server,
            CoreError::Db(_) | CoreError::Corrupt(_) | CoreError::Io(_) | CoreError::Secrets(_) => {
                ErrorCode::Internal
            }
            CoreError::Cancelled => ErrorCode::Cancelled,
            CoreError::UnsyncedChanges { .. } => ErrorCode::UnsyncedChanges,
            CoreError::Media(e) => {
                use MediaError as M;
                match e {
                    M::NotAvailable => ErrorCode::NotFound,
                    M::Transport(t) if t.is_offline() => ErrorCode::Offline,
                    M::Transport(_) | M::Damaged(_) | M::TooLarge { .. } => ErrorCode::Server,
                    M::NotSignedIn => ErrorCode::NotSignedIn,
                    M::Cancelled => ErrorCode::Cancelled,
                    M::Local(_) => ErrorCode::Internal,
                }
            }
        };
        own.as_str()
    }

    /// A transport failure of a direct request (not a sync run): an answered error keeps
    /// the server's code (`not_found`, `limit_reached`, ...).
    pub fn from_transport(e: TransportError) -> CoreError {
        match e {
            TransportError::Http { status, body, .. } => CoreError::Server { status, body },
            other => CoreError::Transport(other),
        }
    }

    pub fn to_payload(&self) -> ErrorPayload {
        let fields = match self {
            CoreError::Validation(fields) => fields.clone(),
            CoreError::Server { body, .. } => body
                .details
                .as_ref()
                .and_then(|d| d.get("fields"))
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        ErrorPayload {
            code: self.code().to_owned(),
            message: self.to_string(),
            fields,
        }
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::Corrupt(e.to_string())
    }
}

/// An error as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// A core failure while fetching media, as the media cache reports it.
impl From<CoreError> for MediaError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Transport(t) => MediaError::Transport(t),
            CoreError::NotSignedIn => MediaError::NotSignedIn,
            CoreError::Cancelled => MediaError::Cancelled,
            CoreError::Media(m) => m,
            other => MediaError::Local(other.to_string()),
        }
    }
}
