//! Stories: the bedtime stories about a hero (SPEC.md section 2).
//!
//! A story names what it is about either with a fixed [`EventType`] or with one of the
//! user's own custom events (`custom_event_id`), exactly one of the two. `hero_id` is
//! nullable: deleting a hero keeps its stories and unlinks them.
//!
//! `play_count` is a counter: clients never write it directly, they send
//! [`crate::MutationOp::Increment`] with `{"play_count": n}`, which never conflicts.
//! `last_played_at`, `audio_url` and `audio_duration` are written by the server only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::{norm, ExactlyOne, Merge, Rule};
use crate::FieldError;

pub const TITLE_MAX: usize = 200;
pub const CONTENT_MAX: usize = 50_000;

/// The languages stories are written in (also a user's preferred language).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
    Fr,
    De,
    It,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::En,
        Language::Es,
        Language::Fr,
        Language::De,
        Language::It,
    ];

    /// The wire code: `en`, `es`, `fr`, `de`, `it`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Fr => "fr",
            Language::De => "de",
            Language::It => "it",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The language's own name, for a picker.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
            Language::Fr => "Français",
            Language::De => "Deutsch",
            Language::It => "Italiano",
        }
    }
}

/// The fixed list of occasions a story can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Bedtime,
    Birthday,
    FirstDayOfSchool,
    Holiday,
    Adventure,
    Friendship,
    NewSibling,
    LostTooth,
    DoctorVisit,
    MovingHouse,
    OvercomingFears,
    LearningToShare,
    RainyDay,
    Sleepover,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::Bedtime,
        EventType::Birthday,
        EventType::FirstDayOfSchool,
        EventType::Holiday,
        EventType::Adventure,
        EventType::Friendship,
        EventType::NewSibling,
        EventType::LostTooth,
        EventType::DoctorVisit,
        EventType::MovingHouse,
        EventType::OvercomingFears,
        EventType::LearningToShare,
        EventType::RainyDay,
        EventType::Sleepover,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Bedtime => "bedtime",
            EventType::Birthday => "birthday",
            EventType::FirstDayOfSchool => "first_day_of_school",
            EventType::Holiday => "holiday",
            EventType::Adventure => "adventure",
            EventType::Friendship => "friendship",
            EventType::NewSibling => "new_sibling",
            EventType::LostTooth => "lost_tooth",
            EventType::DoctorVisit => "doctor_visit",
            EventType::MovingHouse => "moving_house",
            EventType::OvercomingFears => "overcoming_fears",
            EventType::LearningToShare => "learning_to_share",
            EventType::RainyDay => "rainy_day",
            EventType::Sleepover => "sleepover",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

crate::entity::wire_enum!(Language, EventType);

crate::entity! {
    /// Stories: the bedtime stories about a hero.
    entity Story {
        kind: Story,
        table: "stories",
        label: "story",
        title: title,
        counter: "play_count",
    }
    /// The user-writable fields of a story: the body of a create, and what a form edits.
    input StoryInput {
        /// The hero the story is about; `null` for none (or after the hero was deleted).
        #[serde(default)]
        hero_id: Option<Uuid> = [Merge::Value, Rule::Any, norm::keep] patch
            #[serde(with = "crate::double_option")]
            #[cfg_attr(feature = "ts", ts(type = "string | null"))]
            #[cfg_attr(feature = "schema", schemars(with = "Option<Uuid>"))];
        title: String = [
            Merge::Prompt,
            Rule::required_text(TITLE_MAX, "Give the story a title"),
            norm::trim
        ];
        content: String = [
            Merge::Prompt,
            Rule::required_text(CONTENT_MAX, "The story needs some text"),
            norm::text_block
        ];
        language: Language = [Merge::Value, Rule::Any, norm::keep];
        /// Exactly one of `event_type` and `custom_event_id` is set.
        #[serde(default)]
        event_type: Option<EventType> = [Merge::Value, Rule::Any, norm::keep] patch
            #[serde(with = "crate::double_option")]
            #[cfg_attr(feature = "ts", ts(type = "EventType | null"))]
            #[cfg_attr(feature = "schema", schemars(with = "Option<EventType>"))];
        #[serde(default)]
        custom_event_id: Option<Uuid> = [Merge::Value, Rule::Any, norm::keep] patch
            #[serde(with = "crate::double_option")]
            #[cfg_attr(feature = "ts", ts(type = "string | null"))]
            #[cfg_attr(feature = "schema", schemars(with = "Option<Uuid>"))];
        #[serde(default)]
        is_favorite: bool = [Merge::Value, Rule::Any, norm::keep];
    }
    /// A partial update: only the fields present are changed. For the nullable fields,
    /// absent means "unchanged" and `null` means "clear".
    patch StoryPatch;
    /// Server-written story fields.
    server StoryServer {
        /// A counter: changed only by increments.
        #[serde(default)]
        play_count: i64;
        /// Written by the server when `play_count` is incremented.
        #[serde(default)]
        last_played_at: Option<DateTime<Utc>>;
        /// Written by the server only (`POST /api/stories/{id}/audio`). Relative to the
        /// server's base URL, e.g. `/api/media/<uuid>.wav`.
        #[serde(default)]
        audio_url: Option<String>;
        /// Length of the audio in seconds; written by the server only.
        #[serde(default)]
        audio_duration: Option<f64>;
    }
    /// A story as the server stores it. `deleted: true` marks a tombstone.
    record StoryRecord { id, version, created_at, updated_at, deleted }
    hooks {
        const EXACTLY_ONE: Option<ExactlyOne> = Some(EVENT_RULE);

        /// Exactly one of `event_type` and `custom_event_id`. Whether `hero_id` and
        /// `custom_event_id` name rows of the user is the server's check.
        fn check_input(input: &StoryInput, errors: &mut Vec<FieldError>) {
            EVENT_RULE.check(
                [input.event_type.is_some(), input.custom_event_id.is_some()],
                errors,
            );
        }

        /// A patch may not set both (the server validates the merged story too).
        fn check_patch(patch: &StoryPatch, errors: &mut Vec<FieldError>) {
            EVENT_RULE.check_partial(
                [
                    matches!(patch.event_type, Some(Some(_))),
                    matches!(patch.custom_event_id, Some(Some(_))),
                ],
                errors,
            );
        }

        /// Setting one of `event_type` and `custom_event_id` to a value clears the other
        /// unless the patch sets both.
        fn after_apply(input: &mut StoryInput, patch: &StoryPatch) {
            if matches!(patch.event_type, Some(Some(_))) && patch.custom_event_id.is_none() {
                input.custom_event_id = None;
            }
            if matches!(patch.custom_event_id, Some(Some(_))) && patch.event_type.is_none() {
                input.event_type = None;
            }
        }

        /// The same rule for merged patches: a later event clears an earlier custom event.
        fn after_merge(patch: &mut StoryPatch, later: &StoryPatch) {
            if matches!(later.event_type, Some(Some(_))) && later.custom_event_id.is_none() {
                patch.custom_event_id = Some(None);
            }
            if matches!(later.custom_event_id, Some(Some(_))) && later.event_type.is_none() {
                patch.event_type = Some(None);
            }
        }
    }
}

/// What a story is about: exactly one of a fixed event and a custom event (also the rule
/// of [`crate::GenerateStoryRequest`]).
pub const EVENT_RULE: ExactlyOne = ExactlyOne {
    fields: ["event_type", "custom_event_id"],
    neither: "Choose an event or a custom event",
    both: "Choose an event or a custom event, not both",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{Input, Patch};

    fn valid() -> StoryInput {
        StoryInput {
            hero_id: Some(Uuid::nil()),
            title: "Luna and the Moon".into(),
            content: "Once upon a time...".into(),
            language: Language::En,
            event_type: Some(EventType::Bedtime),
            custom_event_id: None,
            is_favorite: false,
        }
    }

    #[test]
    fn validation_table() {
        let long = |n: usize| "x".repeat(n);
        type Case = (
            &'static str,
            Box<dyn Fn(&mut StoryInput)>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_| {}), None),
            ("no hero", Box::new(|s| s.hero_id = None), None),
            (
                "empty title",
                Box::new(|s| s.title = " ".into()),
                Some("title"),
            ),
            (
                "title max",
                Box::new(move |s| s.title = long(TITLE_MAX)),
                None,
            ),
            (
                "title too long",
                Box::new(move |s| s.title = long(TITLE_MAX + 1)),
                Some("title"),
            ),
            (
                "empty content",
                Box::new(|s| s.content = "".into()),
                Some("content"),
            ),
            (
                "content max",
                Box::new(move |s| s.content = long(CONTENT_MAX)),
                None,
            ),
            (
                "content too long",
                Box::new(move |s| s.content = long(CONTENT_MAX + 1)),
                Some("content"),
            ),
            (
                "no event",
                Box::new(|s| s.event_type = None),
                Some("event_type"),
            ),
            (
                "both events",
                Box::new(|s| s.custom_event_id = Some(Uuid::nil())),
                Some("event_type"),
            ),
            (
                "custom event only",
                Box::new(|s| {
                    s.event_type = None;
                    s.custom_event_id = Some(Uuid::nil());
                }),
                None,
            ),
        ];
        for (what, change, field) in cases {
            let mut s = valid();
            change(&mut s);
            let got = s.validate().err().map(|e| e[0].field.clone());
            assert_eq!(got.as_deref(), field, "{what}");
        }
    }

    #[test]
    fn languages_and_events_roundtrip() {
        for l in Language::ALL {
            assert_eq!(Language::parse(l.as_str()), Some(l));
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        }
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
        assert!(serde_json::from_str::<Language>("\"pt\"").is_err());
    }

    #[test]
    fn patch_null_clears_and_absent_keeps() {
        let p: StoryPatch = serde_json::from_str(r#"{"hero_id": null}"#).unwrap();
        assert_eq!(p.hero_id, Some(None));
        assert_eq!(p.fields(), ["hero_id"]);
        let p: StoryPatch = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
        assert_eq!(p.hero_id, None);
        // Serializing keeps the distinction.
        let v = serde_json::to_value(StoryPatch {
            hero_id: Some(None),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"hero_id": null}));
        assert!(serde_json::from_str::<StoryPatch>(r#"{"play_count": 3}"#).is_err());
        assert!(serde_json::from_str::<StoryPatch>(r#"{"audio_url": "x"}"#).is_err());
    }

    #[test]
    fn setting_one_event_field_clears_the_other() {
        let mut s = valid();
        let id = Uuid::from_u128(7);
        s.apply(&StoryPatch {
            custom_event_id: Some(Some(id)),
            ..Default::default()
        });
        assert_eq!((s.event_type, s.custom_event_id), (None, Some(id)));
        assert_eq!(s.validate(), Ok(()));
        s.apply(&StoryPatch {
            event_type: Some(Some(EventType::Birthday)),
            ..Default::default()
        });
        assert_eq!(
            (s.event_type, s.custom_event_id),
            (Some(EventType::Birthday), None)
        );

        let mut p = StoryPatch {
            event_type: Some(Some(EventType::Holiday)),
            ..Default::default()
        };
        p.merge(&StoryPatch {
            custom_event_id: Some(Some(id)),
            ..Default::default()
        });
        assert_eq!(p.event_type, Some(None));
        assert_eq!(p.custom_event_id, Some(Some(id)));
        let both = StoryPatch {
            event_type: Some(Some(EventType::Holiday)),
            custom_event_id: Some(Some(id)),
            ..Default::default()
        };
        assert_eq!(both.validate().unwrap_err()[0].field, "event_type");
    }

    #[test]
    fn diff_apply_roundtrip() {
        let a = valid();
        let mut b = valid();
        b.title = "Other".into();
        b.hero_id = None;
        b.is_favorite = true;
        let p = a.diff(&b);
        assert_eq!(p.fields(), ["hero_id", "title", "is_favorite"]);
        let mut c = a.clone();
        c.apply(&p);
        assert_eq!(c, b);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn normalization_and_all_errors() {
        let s = StoryInput {
            title: "  T ".into(),
            content: " a\r\nb ".into(),
            ..valid()
        }
        .normalized();
        assert_eq!(s.title, "T");
        assert_eq!(s.content, "a\nb");
        let bad = StoryInput {
            title: "".into(),
            content: "".into(),
            event_type: None,
            ..valid()
        };
        let fields: Vec<_> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["title", "content", "event_type"]);
    }
}
