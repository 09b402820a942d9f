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

use crate::FieldError;

pub const TITLE_MAX: usize = 200;
pub const CONTENT_MAX: usize = 50_000;

/// The counters of a story, as named in an increment mutation.
pub const STORY_COUNTERS: &[&str] = &["play_count"];

/// The languages stories are written in (also a user's preferred language).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Language {
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

/// The user-writable fields of a story: the body of a create, and what a form edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StoryInput {
    /// The hero the story is about; `null` for none (or after the hero was deleted).
    #[serde(default)]
    pub hero_id: Option<Uuid>,
    pub title: String,
    pub content: String,
    pub language: Language,
    /// Exactly one of `event_type` and `custom_event_id` is set.
    #[serde(default)]
    pub event_type: Option<EventType>,
    #[serde(default)]
    pub custom_event_id: Option<Uuid>,
    #[serde(default)]
    pub is_favorite: bool,
}

impl StoryInput {
    /// Trims the title and the content.
    pub fn normalized(mut self) -> Self {
        self.title = self.title.trim().to_owned();
        self.content = normalize_content(&self.content);
        self
    }

    /// Every rule of SPEC.md section 2, reporting all invalid fields at once. Whether
    /// `hero_id` and `custom_event_id` name rows of the user is the server's check.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        validate_title(&self.title, &mut errors);
        validate_content(&self.content, &mut errors);
        validate_event(self.event_type, self.custom_event_id, &mut errors);
        crate::result(errors)
    }

    /// Applies a patch, field by field. Setting one of `event_type` and
    /// `custom_event_id` to a value clears the other unless the patch sets both.
    pub fn apply(&mut self, patch: &StoryPatch) {
        if let Some(v) = patch.hero_id {
            self.hero_id = v;
        }
        if let Some(v) = &patch.title {
            self.title = v.clone();
        }
        if let Some(v) = &patch.content {
            self.content = v.clone();
        }
        if let Some(v) = patch.language {
            self.language = v;
        }
        if let Some(v) = patch.event_type {
            self.event_type = v;
            if v.is_some() && patch.custom_event_id.is_none() {
                self.custom_event_id = None;
            }
        }
        if let Some(v) = patch.custom_event_id {
            self.custom_event_id = v;
            if v.is_some() && patch.event_type.is_none() {
                self.event_type = None;
            }
        }
        if let Some(v) = patch.is_favorite {
            self.is_favorite = v;
        }
    }

    /// The patch that turns `self` into `other` (only the fields that differ).
    pub fn diff(&self, other: &StoryInput) -> StoryPatch {
        StoryPatch {
            hero_id: (self.hero_id != other.hero_id).then_some(other.hero_id),
            title: (self.title != other.title).then(|| other.title.clone()),
            content: (self.content != other.content).then(|| other.content.clone()),
            language: (self.language != other.language).then_some(other.language),
            event_type: (self.event_type != other.event_type).then_some(other.event_type),
            custom_event_id: (self.custom_event_id != other.custom_event_id)
                .then_some(other.custom_event_id),
            is_favorite: (self.is_favorite != other.is_favorite).then_some(other.is_favorite),
        }
    }
}

/// A partial update: only the fields present are changed. For the nullable fields,
/// absent means "unchanged" and `null` means "clear".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StoryPatch {
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Uuid>"))]
    pub hero_id: Option<Option<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub language: Option<Language>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ts", ts(optional, type = "EventType | null"))]
    #[cfg_attr(feature = "schema", schemars(with = "Option<EventType>"))]
    pub event_type: Option<Option<EventType>>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Uuid>"))]
    pub custom_event_id: Option<Option<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub is_favorite: Option<bool>,
}

impl StoryPatch {
    pub fn is_empty(&self) -> bool {
        self == &StoryPatch::default()
    }

    /// Names of the fields this patch sets, in a fixed order.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.hero_id.is_some() {
            out.push("hero_id");
        }
        if self.title.is_some() {
            out.push("title");
        }
        if self.content.is_some() {
            out.push("content");
        }
        if self.language.is_some() {
            out.push("language");
        }
        if self.event_type.is_some() {
            out.push("event_type");
        }
        if self.custom_event_id.is_some() {
            out.push("custom_event_id");
        }
        if self.is_favorite.is_some() {
            out.push("is_favorite");
        }
        out
    }

    /// `later` wins field by field: the patch equivalent to applying `self` then `later`
    /// (including the rule that setting one event field clears the other).
    pub fn merge(&mut self, later: &StoryPatch) {
        if later.hero_id.is_some() {
            self.hero_id = later.hero_id;
        }
        if later.title.is_some() {
            self.title.clone_from(&later.title);
        }
        if later.content.is_some() {
            self.content.clone_from(&later.content);
        }
        if later.language.is_some() {
            self.language = later.language;
        }
        match (later.event_type, later.custom_event_id) {
            (Some(e), Some(c)) => {
                self.event_type = Some(e);
                self.custom_event_id = Some(c);
            }
            (Some(e), None) => {
                self.event_type = Some(e);
                if e.is_some() {
                    self.custom_event_id = Some(None);
                }
            }
            (None, Some(c)) => {
                self.custom_event_id = Some(c);
                if c.is_some() {
                    self.event_type = Some(None);
                }
            }
            (None, None) => {}
        }
        if later.is_favorite.is_some() {
            self.is_favorite = later.is_favorite;
        }
    }

    /// Trims text, like [`StoryInput::normalized`].
    pub fn normalized(mut self) -> Self {
        self.title = self.title.map(|s| s.trim().to_owned());
        self.content = self.content.map(|s| normalize_content(&s));
        self
    }

    /// Validates only the fields present (the server validates the merged story too).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(v) = &self.title {
            validate_title(v, &mut errors);
        }
        if let Some(v) = &self.content {
            validate_content(v, &mut errors);
        }
        if let (Some(Some(_)), Some(Some(_))) = (self.event_type, self.custom_event_id) {
            errors.push(FieldError::new(
                "event_type",
                "Choose an event or a custom event, not both",
            ));
        }
        crate::result(errors)
    }
}

/// A story as the server stores it. `deleted: true` marks a tombstone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StoryRecord {
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub hero_id: Option<Uuid>,
    pub title: String,
    pub content: String,
    pub language: Language,
    #[serde(default)]
    pub event_type: Option<EventType>,
    #[serde(default)]
    pub custom_event_id: Option<Uuid>,
    #[serde(default)]
    pub is_favorite: bool,
    /// A counter: changed only by increments.
    #[serde(default)]
    pub play_count: i64,
    /// Written by the server when `play_count` is incremented.
    #[serde(default)]
    pub last_played_at: Option<DateTime<Utc>>,
    /// Written by the server only (`POST /api/stories/{id}/audio`). Relative to the
    /// server's base URL, e.g. `/api/media/<uuid>.wav`.
    #[serde(default)]
    pub audio_url: Option<String>,
    /// Length of the audio in seconds; written by the server only.
    #[serde(default)]
    pub audio_duration: Option<f64>,
}

impl StoryRecord {
    pub fn input(&self) -> StoryInput {
        StoryInput {
            hero_id: self.hero_id,
            title: self.title.clone(),
            content: self.content.clone(),
            language: self.language,
            event_type: self.event_type,
            custom_event_id: self.custom_event_id,
            is_favorite: self.is_favorite,
        }
    }
}

/// Trims the ends and turns Windows line ends into `\n`.
fn normalize_content(s: &str) -> String {
    s.replace("\r\n", "\n").trim().to_owned()
}

fn validate_title(title: &str, errors: &mut Vec<FieldError>) {
    if title.trim().is_empty() {
        errors.push(FieldError::new("title", "Give the story a title"));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldError::new(
            "title",
            format!("Use at most {TITLE_MAX} characters"),
        ));
    }
}

fn validate_content(content: &str, errors: &mut Vec<FieldError>) {
    if content.trim().is_empty() {
        errors.push(FieldError::new("content", "The story needs some text"));
    } else if content.chars().count() > CONTENT_MAX {
        errors.push(FieldError::new(
            "content",
            format!("Use at most {CONTENT_MAX} characters"),
        ));
    }
}

fn validate_event(
    event_type: Option<EventType>,
    custom_event_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) {
    match (event_type, custom_event_id) {
        (Some(_), Some(_)) => errors.push(FieldError::new(
            "event_type",
            "Choose an event or a custom event, not both",
        )),
        (None, None) => errors.push(FieldError::new(
            "event_type",
            "Choose an event or a custom event",
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
