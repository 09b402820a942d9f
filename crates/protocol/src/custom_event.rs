//! Custom story events: occasions a user defines for their stories (SPEC.md section 2).
//!
//! `usage_count` is a counter: clients send [`crate::MutationOp::Increment`] with
//! `{"usage_count": n}`; the server also increments it when it generates a story for
//! the event.

use serde::{Deserialize, Serialize};

use crate::entity::{norm, Merge, Rule};

pub const TITLE_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 500;
pub const PROMPT_SEED_MAX: usize = 1000;
pub const KEYWORDS_MAX: usize = 10;
pub const KEYWORD_MAX: usize = 30;
/// Longest accepted pictogram, in UTF-8 bytes.
pub const EMOJI_MAX_BYTES: usize = crate::emoji::MAX_BYTES;

pub use crate::emoji::is_single_emoji;

/// The fixed list of custom event categories.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventCategory {
    #[default]
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
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventTone {
    #[default]
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

crate::entity::wire_enum!(EventCategory, EventTone);

crate::entity! {
    /// Custom story events: occasions a user defines for their stories.
    entity CustomEvent {
        kind: CustomEvent,
        table: "custom_events",
        label: "custom event",
        title: title,
        counter: "usage_count",
    }
    /// The user-writable fields of a custom event: the body of a create, and what a form edits.
    input CustomEventInput {
        title: String = [
            Merge::Text,
            Rule::required_text(TITLE_MAX, "Give the event a title"),
            norm::trim
        ];
        #[serde(default)]
        description: String = [Merge::Text, Rule::text(DESCRIPTION_MAX), norm::trim];
        /// Extra words for the story generator.
        #[serde(default)]
        prompt_seed: String = [Merge::Text, Rule::text(PROMPT_SEED_MAX), norm::trim];
        #[serde(default)]
        keywords: Vec<String> = [
            Merge::Set,
            Rule::Words { max_items: KEYWORDS_MAX, item_max: KEYWORD_MAX, item: "keyword" },
            norm::words
        ];
        category: EventCategory = [Merge::Value, Rule::Any, norm::keep];
        tone: EventTone = [Merge::Value, Rule::Any, norm::keep];
        /// One emoji (a single grapheme of at most 8 UTF-8 bytes), e.g. "🎂".
        pictogram_emoji: String = [
            Merge::Value,
            Rule::Emoji { max_bytes: EMOJI_MAX_BYTES },
            norm::trim
        ];
        #[serde(default)]
        is_favorite: bool = [Merge::Value, Rule::Any, norm::keep];
    }
    /// A partial update: only the fields present are changed.
    patch CustomEventPatch;
    /// Server-written custom event fields.
    server CustomEventServer {
        /// A counter: changed only by increments (and by story generation).
        #[serde(default)]
        usage_count: i64;
    }
    /// A custom event as the server stores it. `deleted: true` marks a tombstone.
    record CustomEventRecord { id, version, created_at, updated_at, deleted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{Input, Patch};

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
            ..Default::default()
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
