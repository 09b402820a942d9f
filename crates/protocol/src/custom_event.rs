//! Custom story events: occasions a user defines for their stories (SPEC.md section 2).
//!
//! `usage_count` is a counter: clients send [`crate::MutationOp::Increment`] with
//! `{"usage_count": n}`; the server also increments it when it generates a story for
//! the event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldError;

pub const TITLE_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 500;
pub const PROMPT_SEED_MAX: usize = 1000;
pub const KEYWORDS_MAX: usize = 10;
pub const KEYWORD_MAX: usize = 30;
/// Longest accepted pictogram, in UTF-8 bytes.
pub const EMOJI_MAX_BYTES: usize = 8;

/// The counters of a custom event, as named in an increment mutation.
pub const CUSTOM_EVENT_COUNTERS: &[&str] = &["usage_count"];

/// The fixed list of custom event categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventCategory {
    Celebration,
    Milestone,
    Everyday,
    Family,
    Friendship,
    Learning,
    Nature,
    Adventure,
    Feelings,
    Seasonal,
}

impl EventCategory {
    pub const ALL: [EventCategory; 10] = [
        EventCategory::Celebration,
        EventCategory::Milestone,
        EventCategory::Everyday,
        EventCategory::Family,
        EventCategory::Friendship,
        EventCategory::Learning,
        EventCategory::Nature,
        EventCategory::Adventure,
        EventCategory::Feelings,
        EventCategory::Seasonal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventCategory::Celebration => "celebration",
            EventCategory::Milestone => "milestone",
            EventCategory::Everyday => "everyday",
            EventCategory::Family => "family",
            EventCategory::Friendship => "friendship",
            EventCategory::Learning => "learning",
            EventCategory::Nature => "nature",
            EventCategory::Adventure => "adventure",
            EventCategory::Feelings => "feelings",
            EventCategory::Seasonal => "seasonal",
        }
    }

    pub fn parse(s: &str) -> Option<EventCategory> {
        EventCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The fixed list of story tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventTone {
    Gentle,
    Playful,
    Exciting,
    Calming,
    Funny,
    Heartwarming,
    Educational,
    Magical,
}

impl EventTone {
    pub const ALL: [EventTone; 8] = [
        EventTone::Gentle,
        EventTone::Playful,
        EventTone::Exciting,
        EventTone::Calming,
        EventTone::Funny,
        EventTone::Heartwarming,
        EventTone::Educational,
        EventTone::Magical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventTone::Gentle => "gentle",
            EventTone::Playful => "playful",
            EventTone::Exciting => "exciting",
            EventTone::Calming => "calming",
            EventTone::Funny => "funny",
            EventTone::Heartwarming => "heartwarming",
            EventTone::Educational => "educational",
            EventTone::Magical => "magical",
        }
    }

    pub fn parse(s: &str) -> Option<EventTone> {
        EventTone::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The user-writable fields of a custom event: the body of a create, and what a form edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomEventInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Extra words for the story generator.
    #[serde(default)]
    pub prompt_seed: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub category: EventCategory,
    pub tone: EventTone,
    /// One emoji (a single grapheme of at most 8 UTF-8 bytes), e.g. "🎂".
    pub pictogram_emoji: String,
    #[serde(default)]
    pub is_favorite: bool,
}

impl CustomEventInput {
    /// Trims text, trims keywords, drops empty and repeated (case-insensitively) ones.
    pub fn normalized(mut self) -> Self {
        self.title = self.title.trim().to_owned();
        self.description = self.description.trim().to_owned();
        self.prompt_seed = self.prompt_seed.trim().to_owned();
        self.pictogram_emoji = self.pictogram_emoji.trim().to_owned();
        self.keywords = normalize_keywords(self.keywords);
        self
    }

    /// Every rule of SPEC.md section 2, reporting all invalid fields at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        validate_title(&self.title, &mut errors);
        validate_len(
            "description",
            &self.description,
            DESCRIPTION_MAX,
            &mut errors,
        );
        validate_len(
            "prompt_seed",
            &self.prompt_seed,
            PROMPT_SEED_MAX,
            &mut errors,
        );
        validate_keywords(&self.keywords, &mut errors);
        validate_emoji(&self.pictogram_emoji, &mut errors);
        crate::result(errors)
    }

    /// Applies a patch, field by field.
    pub fn apply(&mut self, patch: &CustomEventPatch) {
        if let Some(v) = &patch.title {
            self.title = v.clone();
        }
        if let Some(v) = &patch.description {
            self.description = v.clone();
        }
        if let Some(v) = &patch.prompt_seed {
            self.prompt_seed = v.clone();
        }
        if let Some(v) = &patch.keywords {
            self.keywords = v.clone();
        }
        if let Some(v) = patch.category {
            self.category = v;
        }
        if let Some(v) = patch.tone {
            self.tone = v;
        }
        if let Some(v) = &patch.pictogram_emoji {
            self.pictogram_emoji = v.clone();
        }
        if let Some(v) = patch.is_favorite {
            self.is_favorite = v;
        }
    }

    /// The patch that turns `self` into `other` (only the fields that differ).
    pub fn diff(&self, other: &CustomEventInput) -> CustomEventPatch {
        CustomEventPatch {
            title: (self.title != other.title).then(|| other.title.clone()),
            description: (self.description != other.description).then(|| other.description.clone()),
            prompt_seed: (self.prompt_seed != other.prompt_seed).then(|| other.prompt_seed.clone()),
            keywords: (self.keywords != other.keywords).then(|| other.keywords.clone()),
            category: (self.category != other.category).then_some(other.category),
            tone: (self.tone != other.tone).then_some(other.tone),
            pictogram_emoji: (self.pictogram_emoji != other.pictogram_emoji)
                .then(|| other.pictogram_emoji.clone()),
            is_favorite: (self.is_favorite != other.is_favorite).then_some(other.is_favorite),
        }
    }
}

/// A partial update: only the fields present are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomEventPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub prompt_seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub category: Option<EventCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub tone: Option<EventTone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub pictogram_emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub is_favorite: Option<bool>,
}

impl CustomEventPatch {
    pub fn is_empty(&self) -> bool {
        self == &CustomEventPatch::default()
    }

    /// Names of the fields this patch sets, in a fixed order.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.title.is_some() {
            out.push("title");
        }
        if self.description.is_some() {
            out.push("description");
        }
        if self.prompt_seed.is_some() {
            out.push("prompt_seed");
        }
        if self.keywords.is_some() {
            out.push("keywords");
        }
        if self.category.is_some() {
            out.push("category");
        }
        if self.tone.is_some() {
            out.push("tone");
        }
        if self.pictogram_emoji.is_some() {
            out.push("pictogram_emoji");
        }
        if self.is_favorite.is_some() {
            out.push("is_favorite");
        }
        out
    }

    /// `later` wins field by field.
    pub fn merge(&mut self, later: &CustomEventPatch) {
        if later.title.is_some() {
            self.title.clone_from(&later.title);
        }
        if later.description.is_some() {
            self.description.clone_from(&later.description);
        }
        if later.prompt_seed.is_some() {
            self.prompt_seed.clone_from(&later.prompt_seed);
        }
        if later.keywords.is_some() {
            self.keywords.clone_from(&later.keywords);
        }
        if later.category.is_some() {
            self.category = later.category;
        }
        if later.tone.is_some() {
            self.tone = later.tone;
        }
        if later.pictogram_emoji.is_some() {
            self.pictogram_emoji.clone_from(&later.pictogram_emoji);
        }
        if later.is_favorite.is_some() {
            self.is_favorite = later.is_favorite;
        }
    }

    /// Like [`CustomEventInput::normalized`], for the fields present.
    pub fn normalized(mut self) -> Self {
        self.title = self.title.map(|s| s.trim().to_owned());
        self.description = self.description.map(|s| s.trim().to_owned());
        self.prompt_seed = self.prompt_seed.map(|s| s.trim().to_owned());
        self.pictogram_emoji = self.pictogram_emoji.map(|s| s.trim().to_owned());
        self.keywords = self.keywords.map(normalize_keywords);
        self
    }

    /// Validates only the fields present.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(v) = &self.title {
            validate_title(v, &mut errors);
        }
        if let Some(v) = &self.description {
            validate_len("description", v, DESCRIPTION_MAX, &mut errors);
        }
        if let Some(v) = &self.prompt_seed {
            validate_len("prompt_seed", v, PROMPT_SEED_MAX, &mut errors);
        }
        if let Some(v) = &self.keywords {
            validate_keywords(v, &mut errors);
        }
        if let Some(v) = &self.pictogram_emoji {
            validate_emoji(v, &mut errors);
        }
        crate::result(errors)
    }
}

/// A custom event as the server stores it. `deleted: true` marks a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomEventRecord {
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub deleted: bool,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub prompt_seed: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub category: EventCategory,
    pub tone: EventTone,
    pub pictogram_emoji: String,
    #[serde(default)]
    pub is_favorite: bool,
    /// A counter: changed only by increments (and by story generation).
    #[serde(default)]
    pub usage_count: i64,
}

impl CustomEventRecord {
    pub fn input(&self) -> CustomEventInput {
        CustomEventInput {
            title: self.title.clone(),
            description: self.description.clone(),
            prompt_seed: self.prompt_seed.clone(),
            keywords: self.keywords.clone(),
            category: self.category,
            tone: self.tone,
            pictogram_emoji: self.pictogram_emoji.clone(),
            is_favorite: self.is_favorite,
        }
    }
}

fn normalize_keywords(keywords: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(keywords.len());
    for k in keywords {
        let k = k.trim().to_owned();
        if k.is_empty() || out.iter().any(|o| o.to_lowercase() == k.to_lowercase()) {
            continue;
        }
        out.push(k);
    }
    out
}

fn validate_title(title: &str, errors: &mut Vec<FieldError>) {
    if title.trim().is_empty() {
        errors.push(FieldError::new("title", "Give the event a title"));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldError::new(
            "title",
            format!("Use at most {TITLE_MAX} characters"),
        ));
    }
}

fn validate_len(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("Use at most {max} characters"),
        ));
    }
}

fn validate_keywords(keywords: &[String], errors: &mut Vec<FieldError>) {
    if keywords.len() > KEYWORDS_MAX {
        errors.push(FieldError::new(
            "keywords",
            format!("Use at most {KEYWORDS_MAX} keywords"),
        ));
    } else if keywords.iter().any(|k| k.trim().is_empty()) {
        errors.push(FieldError::new("keywords", "Keywords cannot be empty"));
    } else if keywords.iter().any(|k| k.chars().count() > KEYWORD_MAX) {
        errors.push(FieldError::new(
            "keywords",
            format!("Each keyword may have at most {KEYWORD_MAX} characters"),
        ));
    }
}

fn validate_emoji(emoji: &str, errors: &mut Vec<FieldError>) {
    if emoji.is_empty() {
        errors.push(FieldError::new("pictogram_emoji", "Pick an emoji"));
    } else if !is_single_emoji(emoji) {
        errors.push(FieldError::new(
            "pictogram_emoji",
            "Use a single emoji (at most 8 bytes)",
        ));
    }
}

/// Emoji modifiers that may follow a base character inside one grapheme.
fn is_modifier(c: char) -> bool {
    matches!(c,
        '\u{FE0E}' | '\u{FE0F}'          // variation selectors
        | '\u{20E3}'                     // combining enclosing keycap
        | '\u{1F3FB}'..='\u{1F3FF}'      // skin tones
        | '\u{E0020}'..='\u{E007F}'      // tag characters (subdivision flags)
    )
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Whether `s` is one short pictogram: a single grapheme of at most
/// [`EMOJI_MAX_BYTES`] bytes that is not plain text. Recognises a base symbol with
/// modifiers (variation selectors, skin tones), zero-width-joiner sequences, keycaps
/// ("1️⃣") and flags (two regional indicators).
pub fn is_single_emoji(s: &str) -> bool {
    if s.is_empty() || s.len() > EMOJI_MAX_BYTES {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    if first.is_control() || first.is_whitespace() || is_modifier(first) || first == '\u{200D}' {
        return false;
    }
    if is_regional_indicator(first) {
        return chars.len() == 2 && is_regional_indicator(chars[1]);
    }
    if first.is_ascii() {
        // Only a keycap: digit, '#' or '*', an optional VS16, then U+20E3.
        let rest: String = chars[1..].iter().collect();
        return (first.is_ascii_digit() || first == '#' || first == '*')
            && (rest == "\u{20E3}" || rest == "\u{FE0F}\u{20E3}");
    }
    let mut i = 1;
    while i < chars.len() {
        let c = chars[i];
        if is_modifier(c) {
            i += 1;
        } else if c == '\u{200D}' {
            // A joiner must join to another non-ASCII, non-modifier symbol.
            match chars.get(i + 1) {
                Some(&n)
                    if !n.is_ascii()
                        && !is_modifier(n)
                        && n != '\u{200D}'
                        && !n.is_whitespace()
                        && !n.is_control() =>
                {
                    i += 2
                }
                _ => return false,
            }
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CustomEventInput {
        CustomEventInput {
            title: "Grandma's visit".into(),
            description: "Grandma comes to stay for a week".into(),
            prompt_seed: "cookies, knitting".into(),
            keywords: vec!["grandma".into(), "cookies".into()],
            category: EventCategory::Family,
            tone: EventTone::Heartwarming,
            pictogram_emoji: "👵".into(),
            is_favorite: false,
        }
    }

    #[test]
    fn emoji_rule() {
        for ok in ["🎂", "⭐", "❤️", "👍🏽", "🇫🇷", "1️⃣", "#⃣", "☀"] {
            assert!(is_single_emoji(ok), "{ok:?} should pass");
        }
        for bad in [
            "",
            "a",
            "ab",
            "🎂🎂",
            "👩‍🚀",
            "🎂a",
            " 🎂",
            "\u{FE0F}",
            "👨‍👩‍👧",
            "🇫",
            "🇫🇷🇫🇷",
            "1",
            "x\u{20E3}",
            "🎂\u{200D}",
        ] {
            assert!(!is_single_emoji(bad), "{bad:?} should fail");
        }
    }

    #[test]
    fn validation_table() {
        let long = |n: usize| "x".repeat(n);
        type Case = (
            &'static str,
            Box<dyn Fn(&mut CustomEventInput)>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_| {}), None),
            (
                "empty title",
                Box::new(|e| e.title = "".into()),
                Some("title"),
            ),
            (
                "title max",
                Box::new(move |e| e.title = long(TITLE_MAX)),
                None,
            ),
            (
                "title too long",
                Box::new(move |e| e.title = long(TITLE_MAX + 1)),
                Some("title"),
            ),
            (
                "description too long",
                Box::new(move |e| e.description = long(DESCRIPTION_MAX + 1)),
                Some("description"),
            ),
            (
                "seed max",
                Box::new(move |e| e.prompt_seed = long(PROMPT_SEED_MAX)),
                None,
            ),
            (
                "seed too long",
                Box::new(move |e| e.prompt_seed = long(PROMPT_SEED_MAX + 1)),
                Some("prompt_seed"),
            ),
            (
                "10 keywords",
                Box::new(|e| e.keywords = (0..10).map(|i| format!("k{i}")).collect()),
                None,
            ),
            (
                "11 keywords",
                Box::new(|e| e.keywords = (0..11).map(|i| format!("k{i}")).collect()),
                Some("keywords"),
            ),
            (
                "keyword too long",
                Box::new(move |e| e.keywords = vec![long(KEYWORD_MAX + 1)]),
                Some("keywords"),
            ),
            (
                "no emoji",
                Box::new(|e| e.pictogram_emoji = "".into()),
                Some("pictogram_emoji"),
            ),
            (
                "text emoji",
                Box::new(|e| e.pictogram_emoji = "cake".into()),
                Some("pictogram_emoji"),
            ),
        ];
        for (what, change, field) in cases {
            let mut e = valid();
            change(&mut e);
            let got = e.validate().err().map(|e| e[0].field.clone());
            assert_eq!(got.as_deref(), field, "{what}");
        }
    }

    #[test]
    fn normalization_drops_blank_and_repeated_keywords() {
        let e = CustomEventInput {
            keywords: vec![" Moon ".into(), "".into(), "moon".into(), "stars".into()],
            title: " T ".into(),
            ..valid()
        }
        .normalized();
        assert_eq!(e.keywords, ["Moon", "stars"]);
        assert_eq!(e.title, "T");
    }

    #[test]
    fn diff_apply_merge() {
        let a = valid();
        let mut b = valid();
        b.tone = EventTone::Funny;
        b.is_favorite = true;
        let p = a.diff(&b);
        assert_eq!(p.fields(), ["tone", "is_favorite"]);
        let mut c = a.clone();
        c.apply(&p);
        assert_eq!(c, b);
        let mut p1 = CustomEventPatch {
            title: Some("1".into()),
            ..Default::default()
        };
        p1.merge(&CustomEventPatch {
            title: Some("2".into()),
            tone: Some(EventTone::Calming),
            ..Default::default()
        });
        assert_eq!(p1.fields(), ["title", "tone"]);
        assert_eq!(p1.title.as_deref(), Some("2"));
        assert!(serde_json::from_str::<CustomEventPatch>(r#"{"usage_count": 1}"#).is_err());
    }
}
