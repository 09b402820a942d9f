//! What a media item is called: its key (the server's URL for it), the reference the UI
//! uses (`avatar/<hero id>`), and the file it is kept in.
//!
//! File names come from a hash of the key and nothing else, so no URL, database value or
//! request can name a path outside the cache folder: [`file_name`] is 32 hex digits,
//! always.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a cached file is for; each kind has its own retention (SPEC.md section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CacheKind {
    /// A hero's avatar: kept while the hero exists.
    Avatar,
    /// A story's narration: 30 days since last use; pinned while the story is a favourite.
    Audio,
    /// One of a story's illustrations: 14 days since last use.
    Illustration,
}

impl CacheKind {
    pub const ALL: [CacheKind; 3] = [CacheKind::Avatar, CacheKind::Audio, CacheKind::Illustration];

    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Avatar => "avatar",
            CacheKind::Audio => "audio",
            CacheKind::Illustration => "illustration",
        }
    }

    pub fn parse(s: &str) -> Option<CacheKind> {
        CacheKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The UI's name for a media item: a kind and the id of the row that has it (the hero,
/// the story, or the illustration). `media://localhost/avatar/<uuid>` in the web view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MediaRef {
    pub kind: CacheKind,
    pub id: Uuid,
}

impl MediaRef {
    pub fn new(kind: CacheKind, id: Uuid) -> Self {
        MediaRef { kind, id }
    }

    /// Parses the path of a `media://` URL: `avatar/<uuid>`, with or without a leading
    /// slash, a query or a fragment. Anything else (other segments, `..`, percent
    /// escapes, a malformed id) is `None`: the scheme serves these three shapes only.
    pub fn parse_path(path: &str) -> Option<MediaRef> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_prefix('/').unwrap_or(path);
        let (kind, id) = path.split_once('/')?;
        let kind = CacheKind::parse(kind)?;
        // Only the canonical hyphenated form: 36 characters of hex and hyphens.
        if id.len() != 36 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return None;
        }
        let id = Uuid::parse_str(id).ok()?;
        Some(MediaRef { kind, id })
    }
}

impl fmt::Display for MediaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.id)
    }
}

/// The longest key the cache accepts.
pub const KEY_MAX: usize = 512;

/// A media URL the cache will fetch: a path on the configured server under
/// `/api/media/`, made of URL-safe characters. Anything else the server (or a damaged
/// database) says is refused, so the session token goes nowhere else and nothing but
/// the server's media is ever requested.
pub fn valid_key(key: &str) -> bool {
    let Some(name) = key.strip_prefix("/api/media/") else {
        return false;
    };
    key.len() <= KEY_MAX
        && !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The file a key is kept in: 32 hex digits of its SHA-256, whatever the key is.
pub fn file_name(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(key.as_bytes());
    let mut name = String::with_capacity(32);
    for b in &digest[..16] {
        name.push(HEX[usize::from(b >> 4)] as char);
        name.push(HEX[usize::from(b & 0xf)] as char);
    }
    name
}

/// True for names [`file_name`] can produce: what the cache folder may hold.
pub fn is_cache_file_name(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where the cache keeps its files.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The folder of complete files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of downloads in progress (kept across restarts, for resuming).
    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    /// The complete file of `key`: always directly inside [`Layout::root`].
    pub fn file(&self, key: &str) -> PathBuf {
        self.root.join(file_name(key))
    }

    /// The download in progress of `key`: always directly inside the partial folder.
    pub fn partial(&self, key: &str) -> PathBuf {
        self.partial_dir().join(format!("{}.part", file_name(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let id = Uuid::now_v7();
        assert!(valid_key(&format!("/api/media/{id}.png")));
        for bad in [
            "",
            "/api/media/",
            "/api/media/../users/me",
            "/api/media/..",
            "/api/media/.hidden",
            "/api/media/a/b",
            "/api/media/a%2e%2e",
            "/api/users/me",
            "http://evil.example/api/media/x.png",
            "//evil.example/api/media/x.png",
            "/api/media/x.png?token=1",
            "/api/media/x\0.png",
        ] {
            assert!(!valid_key(bad), "{bad:?}");
        }
        assert!(!valid_key(&format!("/api/media/{}", "a".repeat(KEY_MAX))));
    }

    #[test]
    fn refs() {
        let id = Uuid::now_v7();
        let r = MediaRef::parse_path(&format!("/avatar/{id}")).unwrap();
        assert_eq!(r, MediaRef::new(CacheKind::Avatar, id));
        assert_eq!(MediaRef::parse_path(&r.to_string()), Some(r));
        assert_eq!(
            MediaRef::parse_path(&format!("audio/{id}?t=3#x")),
            Some(MediaRef::new(CacheKind::Audio, id))
        );
        for bad in [
            String::new(),
            "/".into(),
            format!("/avatar/{id}/x"),
            format!("/avatar/../{id}"),
            format!("/AVATAR/{id}"),
            format!("/avatar/{}", id.simple()),
            format!("/avatar/{{{id}}}"),
            "/avatar/../../etc/passwd".into(),
            format!("/video/{id}"),
        ] {
            assert_eq!(MediaRef::parse_path(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn file_names_are_hex_inside_the_folder() {
        let layout = Layout::new("/cache/media");
        for key in ["../../etc/passwd", "/abs", "\0", "é", ""] {
            let name = file_name(key);
            assert!(is_cache_file_name(&name));
            assert_eq!(layout.file(key).parent().unwrap(), layout.root());
            assert_eq!(layout.partial(key).parent().unwrap(), layout.partial_dir());
        }
        assert_ne!(file_name("a"), file_name("b"));
    }
}
