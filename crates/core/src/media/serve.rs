//! The answers of the `media://` scheme, built headless so that they are tested here:
//! the shell only turns a [`MediaResponse`] into an HTTP response for the web view.
//!
//! The path names a row (`avatar/<hero id>`, `audio/<story id>`,
//! `illustration/<illustration id>`, [`MediaRef::parse_path`]); nothing in it becomes a
//! file path. The file comes from the cache (downloaded first on a miss), with its
//! content type from an allow-list, and `Range` as the audio player seeks.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use is_protocol::media::{parse_range, RangeCheck};

use super::key::{CacheKind, MediaRef};
use super::{MediaCache, MediaError};

/// An answer of the scheme: a status, headers and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl MediaResponse {
    fn error(status: u16, message: &str) -> MediaResponse {
        MediaResponse {
            status,
            headers: vec![
                ("Content-Type", "text/plain; charset=utf-8".into()),
                ("Cache-Control", "no-store".into()),
            ],
            body: message.as_bytes().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Content types a cached file may be served as; anything else the server said becomes
/// the kind's default, so the web view never receives HTML or script from the cache.
const ALLOWED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/webm",
];

pub fn content_type(said: Option<&str>, kind: CacheKind) -> &'static str {
    let said = said
        .and_then(|s| s.split(';').next())
        .map(|s| s.trim().to_ascii_lowercase());
    if let Some(t) = said.and_then(|s| ALLOWED.iter().find(|a| **a == s)) {
        return t;
    }
    match kind {
        CacheKind::Avatar | CacheKind::Illustration => "image/png",
        CacheKind::Audio => "audio/wav",
    }
}

/// The whole answer is read into memory up to this size; larger files are served in
/// parts of it (a web view's media element asks with `Range` and follows up).
const MAX_BODY: u64 = 8 << 20;

impl MediaCache {
    /// Answers `media://localhost/<path>` with an optional `Range` header.
    pub async fn respond(
        self: &Arc<Self>,
        path: &str,
        range: Option<&str>,
        token: Option<String>,
    ) -> MediaResponse {
        let Some(r) = MediaRef::parse_path(path) else {
            return MediaResponse::error(400, "Not a media address");
        };
        let ready = match self.ensure(r, token, false).await {
            Ok(ready) => ready,
            Err(MediaError::NotAvailable) => return MediaResponse::error(404, "Not available"),
            Err(MediaError::NotSignedIn) => return MediaResponse::error(401, "Sign in"),
            Err(MediaError::Transport(t)) if t.is_offline() => {
                return MediaResponse::error(
                    503,
                    "Not downloaded yet, and the server is out of reach",
                )
            }
            Err(e) => {
                tracing::info!(media = %r, %e, "media request failed");
                return MediaResponse::error(502, "The download failed");
            }
        };
        let size = ready.size;
        let (status, start, len) = match range.map(|h| parse_range(h, size)) {
            None | Some(RangeCheck::Full) if size <= MAX_BODY => (200, 0, size),
            // A whole large file: the first part, as a range (media elements follow up).
            None | Some(RangeCheck::Full) => (206, 0, MAX_BODY),
            Some(RangeCheck::Part(s, e)) => (206, s, (e - s + 1).min(MAX_BODY)),
            Some(RangeCheck::Unsatisfiable) => {
                let mut res = MediaResponse::error(416, "Outside the file");
                res.headers
                    .push(("Content-Range", format!("bytes */{size}")));
                return res;
            }
        };
        let path = ready.path.clone();
        let body = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut file = std::fs::File::open(&path)?;
            file.seek(SeekFrom::Start(start))?;
            let mut body = Vec::with_capacity(len as usize);
            file.take(len).read_to_end(&mut body)?;
            Ok(body)
        })
        .await;
        let body = match body {
            Ok(Ok(body)) if body.len() as u64 == len => body,
            _ => return MediaResponse::error(500, "The cached file could not be read"),
        };
        let mut headers = vec![
            ("Content-Type", ready.content_type.clone()),
            ("Content-Length", len.to_string()),
            ("Accept-Ranges", "bytes".into()),
            // The address stays while the file behind it changes (a new avatar).
            ("Cache-Control", "no-cache".into()),
            ("X-Content-Type-Options", "nosniff".into()),
        ];
        if status == 206 {
            headers.push((
                "Content-Range",
                format!("bytes {start}-{}/{size}", start + len - 1),
            ));
        }
        MediaResponse {
            status,
            headers,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_an_allow_list() {
        assert_eq!(
            content_type(Some("image/png"), CacheKind::Avatar),
            "image/png"
        );
        assert_eq!(
            content_type(Some("Audio/WAV; x=1"), CacheKind::Audio),
            "audio/wav"
        );
        assert_eq!(
            content_type(Some("text/html"), CacheKind::Avatar),
            "image/png"
        );
        assert_eq!(
            content_type(Some("image/svg+xml"), CacheKind::Illustration),
            "image/png"
        );
        assert_eq!(content_type(None, CacheKind::Audio), "audio/wav");
    }
}
