//! Why a media item could not be had: the cache's own error, cloned to every caller
//! waiting on one download (`CoreError::Media` carries it across the IPC boundary).

use crate::transport::TransportError;

/// Why an item could not be had. Cloned to every caller waiting on one download.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    /// The row has no file (yet), is gone, or its URL is not one the cache fetches.
    #[error("This picture or recording is not available")]
    NotAvailable,
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The body did not match what the server promised (length or ETag).
    #[error("The download was damaged ({0})")]
    Damaged(String),
    /// Larger than the whole cache may hold.
    #[error("This file ({size} bytes) is larger than the media cache ({cap} bytes)")]
    TooLarge { size: u64, cap: u64 },
    #[error("Sign in to download pictures and recordings")]
    NotSignedIn,
    /// Signed out or cleared while downloading.
    #[error("The download was stopped")]
    Cancelled,
    #[error("The media cache could not be written: {0}")]
    Local(String),
}

impl From<std::io::Error> for MediaError {
    fn from(e: std::io::Error) -> Self {
        MediaError::Local(e.to_string())
    }
}
