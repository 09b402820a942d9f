//! Generated media and story generation (SPEC.md section 6).
//!
//! `POST /api/heroes/{id}/avatar`, `POST /api/stories/{id}/audio` and
//! `POST /api/stories/{id}/illustrations` answer 202 with a [`MediaJob`] at once; the
//! result (the hero's `avatar_url`, the story's `audio_url`/`audio_duration`, the
//! illustrations) arrives later through the change feed. Media URLs are relative to the
//! server's base URL (`/api/media/<uuid>.<ext>`) and are served only to their owner
//! (bearer token required).
//!
//! `POST /api/stories/generate` writes a new story from templates at once (201).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::{check_field, ExactlyOne, Rule};
use crate::story::EVENT_RULE;
use crate::{EventType, FieldError, GenerationStatus, Language, ILLUSTRATIONS_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Avatar,
    Audio,
    Illustrations,
}

/// The 202 answer of a media generation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MediaJob {
    /// Also the hero's `avatar_generation_id` for avatars.
    pub generation_id: Uuid,
    pub kind: MediaKind,
    /// The hero or story the media is for.
    pub target_id: Uuid,
    pub status: GenerationStatus,
    /// For illustrations: the ids of the illustration rows made (pending at first).
    #[serde(default)]
    pub illustration_ids: Vec<Uuid>,
}

/// Optional body of `POST /api/stories/{id}/illustrations`. Without `count`, the server
/// picks 1 to 5 from the story's length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = illustrations_request_schema))]
#[serde(deny_unknown_fields)]
pub struct IllustrationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub count: Option<u8>,
}

impl IllustrationsRequest {
    /// `count`: 1 to [`ILLUSTRATIONS_MAX`].
    pub const COUNT: Rule = Rule::Int {
        min: 1,
        max: ILLUSTRATIONS_MAX as i64,
        label: "The number of illustrations",
    };
    /// Every checked field and its rule (also published in the OpenAPI document).
    pub const RULES: &'static [(&'static str, Rule)] = &[("count", Self::COUNT)];

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_field("count", &self.count, &Self::COUNT, &mut errors);
        crate::result(errors)
    }
}

/// How long a generated story is: `short` (three paragraphs, about 120 words), `medium`
/// (four, about 160 words; the default) or `long` (six, about 270 words, for a slow
/// bedtime).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum StoryLength {
    Short,
    #[default]
    Medium,
    Long,
}

impl StoryLength {
    pub const ALL: [StoryLength; 3] = [StoryLength::Short, StoryLength::Medium, StoryLength::Long];
}

/// Body of `POST /api/stories/generate`. Exactly one of `event_type` and
/// `custom_event_id`. With `id`, a retried request answers the story it made the first
/// time instead of making another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = generate_story_request_schema))]
#[serde(deny_unknown_fields)]
pub struct GenerateStoryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id: Option<Uuid>,
    pub hero_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub event_type: Option<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub custom_event_id: Option<Uuid>,
    pub language: Language,
    /// Medium when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub length: Option<StoryLength>,
}

impl GenerateStoryRequest {
    /// Exactly one of `event_type` and `custom_event_id`, as for a story.
    pub const EXACTLY_ONE: ExactlyOne = EVENT_RULE;

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        Self::EXACTLY_ONE.check(
            [self.event_type.is_some(), self.custom_event_id.is_some()],
            &mut errors,
        );
        crate::result(errors)
    }
}

/// The request's field rules, in its JSON Schema.
#[cfg(feature = "schema")]
fn illustrations_request_schema(schema: &mut schemars::Schema) {
    crate::schema::apply_rules(schema, IllustrationsRequest::RULES.iter().copied());
}

/// Exactly one of `event_type` and `custom_event_id`, in the JSON Schema.
#[cfg(feature = "schema")]
fn generate_story_request_schema(schema: &mut schemars::Schema) {
    crate::schema::exactly_one(schema, &GenerateStoryRequest::EXACTLY_ONE);
}

// ---------------------------------------------------------------------------------------
// Serving media: what the server and the client's cache (and its `media://` scheme) share

/// A media file's strong ETag: the first 16 bytes of the SHA-256 of its content, in hex,
/// quoted. A client verifies a download against it (see [`etag_digest_prefix`]).
pub fn etag_of_digest(sha256: &[u8]) -> String {
    let hex: String = sha256.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The digest prefix an ETag of [`etag_of_digest`]'s shape promises, or `None` for any
/// other ETag (weak, or from another server), which can then only be compared whole.
pub fn etag_digest_prefix(etag: &str) -> Option<[u8; 16]> {
    let hex = etag.strip_prefix('"')?.strip_suffix('"')?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A `Range` header, against a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeCheck {
    /// No (usable) range: serve the whole file.
    Full,
    /// Serve bytes `start..=end`.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range (`a-b`, `a-`, `-n`). Malformed or multiple ranges are
/// ignored (the whole file is served), as RFC 9110 allows.
pub fn parse_range(header: &str, size: u64) -> RangeCheck {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeCheck::Full;
    };
    if spec.contains(',') {
        return RangeCheck::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeCheck::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.is_empty(), b.is_empty()) {
        (true, true) => RangeCheck::Full,
        (true, false) => match b.parse::<u64>() {
            Ok(0) => RangeCheck::Unsatisfiable,
            Ok(_) if size == 0 => RangeCheck::Unsatisfiable,
            Ok(n) => RangeCheck::Part(size.saturating_sub(n), size - 1),
            Err(_) => RangeCheck::Full,
        },
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return RangeCheck::Full;
            };
            let end = if b.is_empty() {
                u64::MAX
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return RangeCheck::Full,
                }
            };
            if start >= size {
                RangeCheck::Unsatisfiable
            } else {
                RangeCheck::Part(start, end.min(size - 1))
            }
        }
    }
}

#[cfg(test)]
mod serving_tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeCheck::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=90-200", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), Part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Full);
        assert_eq!(parse_range("items=0-1", 100), Full);
        assert_eq!(parse_range("bytes=x-1", 100), Full);
    }

    #[test]
    fn etags_carry_the_digest_prefix() {
        let digest: Vec<u8> = (0u8..32).collect();
        let etag = etag_of_digest(&digest);
        assert_eq!(etag, "\"000102030405060708090a0b0c0d0e0f\"");
        assert_eq!(etag_digest_prefix(&etag).unwrap(), digest[..16]);
        assert_eq!(etag_digest_prefix("W/\"abc\""), None);
        assert_eq!(
            etag_digest_prefix("\"zz0102030405060708090a0b0c0d0e0f\""),
            None
        );
        assert_eq!(etag_digest_prefix("000102030405060708090a0b0c0d0e0f"), None);
    }
}
