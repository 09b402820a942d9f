//! Heroes: the characters a parent makes for a child (SPEC.md section 2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldError;

pub const NAME_MAX: usize = 100;
pub const AGE_MIN: u8 = 1;
pub const AGE_MAX: u8 = 18;
pub const TRAITS_MIN: usize = 1;
pub const TRAITS_MAX: usize = 5;
pub const APPEARANCE_MAX: usize = 500;
pub const SPECIAL_ABILITY_MAX: usize = 200;

/// The fixed list of character traits a hero can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HeroTrait {
    Brave,
    Kind,
    Curious,
    Funny,
    Clever,
    Creative,
    Adventurous,
    Gentle,
    Loyal,
    Honest,
    Patient,
    Cheerful,
}

impl HeroTrait {
    pub const ALL: [HeroTrait; 12] = [
        HeroTrait::Brave,
        HeroTrait::Kind,
        HeroTrait::Curious,
        HeroTrait::Funny,
        HeroTrait::Clever,
        HeroTrait::Creative,
        HeroTrait::Adventurous,
        HeroTrait::Gentle,
        HeroTrait::Loyal,
        HeroTrait::Honest,
        HeroTrait::Patient,
        HeroTrait::Cheerful,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HeroTrait::Brave => "brave",
            HeroTrait::Kind => "kind",
            HeroTrait::Curious => "curious",
            HeroTrait::Funny => "funny",
            HeroTrait::Clever => "clever",
            HeroTrait::Creative => "creative",
            HeroTrait::Adventurous => "adventurous",
            HeroTrait::Gentle => "gentle",
            HeroTrait::Loyal => "loyal",
            HeroTrait::Honest => "honest",
            HeroTrait::Patient => "patient",
            HeroTrait::Cheerful => "cheerful",
        }
    }

    pub fn parse(s: &str) -> Option<HeroTrait> {
        HeroTrait::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The user-writable fields of a hero: the body of a create, and what a form edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeroInput {
    pub name: String,
    pub age: u8,
    pub traits: Vec<HeroTrait>,
    #[serde(default)]
    pub appearance: String,
    #[serde(default)]
    pub special_ability: String,
}

impl HeroInput {
    /// Trims text fields and drops repeated traits, keeping their first order.
    pub fn normalized(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.appearance = self.appearance.trim().to_owned();
        self.special_ability = self.special_ability.trim().to_owned();
        self.traits = dedup_traits(self.traits);
        self
    }

    /// Every rule of SPEC.md section 2, reporting all invalid fields at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        validate_name(&self.name, &mut errors);
        validate_age(self.age, &mut errors);
        validate_traits(&self.traits, &mut errors);
        validate_len("appearance", &self.appearance, APPEARANCE_MAX, &mut errors);
        validate_len(
            "special_ability",
            &self.special_ability,
            SPECIAL_ABILITY_MAX,
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Applies a patch, field by field.
    pub fn apply(&mut self, patch: &HeroPatch) {
        if let Some(v) = &patch.name {
            self.name = v.clone();
        }
        if let Some(v) = patch.age {
            self.age = v;
        }
        if let Some(v) = &patch.traits {
            self.traits = v.clone();
        }
        if let Some(v) = &patch.appearance {
            self.appearance = v.clone();
        }
        if let Some(v) = &patch.special_ability {
            self.special_ability = v.clone();
        }
    }

    /// The patch that turns `self` into `other` (only the fields that differ).
    pub fn diff(&self, other: &HeroInput) -> HeroPatch {
        HeroPatch {
            name: (self.name != other.name).then(|| other.name.clone()),
            age: (self.age != other.age).then_some(other.age),
            traits: (self.traits != other.traits).then(|| other.traits.clone()),
            appearance: (self.appearance != other.appearance).then(|| other.appearance.clone()),
            special_ability: (self.special_ability != other.special_ability)
                .then(|| other.special_ability.clone()),
        }
    }
}

/// A partial update: only the fields present are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeroPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub age: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub traits: Option<Vec<HeroTrait>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub appearance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub special_ability: Option<String>,
}

impl HeroPatch {
    pub fn is_empty(&self) -> bool {
        self == &HeroPatch::default()
    }

    /// Names of the fields this patch sets, in a fixed order.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.is_some() {
            out.push("name");
        }
        if self.age.is_some() {
            out.push("age");
        }
        if self.traits.is_some() {
            out.push("traits");
        }
        if self.appearance.is_some() {
            out.push("appearance");
        }
        if self.special_ability.is_some() {
            out.push("special_ability");
        }
        out
    }

    /// `later` wins field by field: the patch equivalent to applying `self` then `later`.
    pub fn merge(&mut self, later: &HeroPatch) {
        if later.name.is_some() {
            self.name.clone_from(&later.name);
        }
        if later.age.is_some() {
            self.age = later.age;
        }
        if later.traits.is_some() {
            self.traits.clone_from(&later.traits);
        }
        if later.appearance.is_some() {
            self.appearance.clone_from(&later.appearance);
        }
        if later.special_ability.is_some() {
            self.special_ability.clone_from(&later.special_ability);
        }
    }

    /// Trims text and de-duplicates traits, like [`HeroInput::normalized`].
    pub fn normalized(mut self) -> Self {
        self.name = self.name.map(|s| s.trim().to_owned());
        self.appearance = self.appearance.map(|s| s.trim().to_owned());
        self.special_ability = self.special_ability.map(|s| s.trim().to_owned());
        self.traits = self.traits.map(dedup_traits);
        self
    }

    /// Validates only the fields present.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(v) = &self.name {
            validate_name(v, &mut errors);
        }
        if let Some(v) = self.age {
            validate_age(v, &mut errors);
        }
        if let Some(v) = &self.traits {
            validate_traits(v, &mut errors);
        }
        if let Some(v) = &self.appearance {
            validate_len("appearance", v, APPEARANCE_MAX, &mut errors);
        }
        if let Some(v) = &self.special_ability {
            validate_len("special_ability", v, SPECIAL_ABILITY_MAX, &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A hero as the server stores it. `deleted: true` marks a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HeroRecord {
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub deleted: bool,
    pub name: String,
    pub age: u8,
    pub traits: Vec<HeroTrait>,
    #[serde(default)]
    pub appearance: String,
    #[serde(default)]
    pub special_ability: String,
    /// Written by the server only.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Written by the server only.
    #[serde(default)]
    pub avatar_generation_id: Option<String>,
}

impl HeroRecord {
    pub fn input(&self) -> HeroInput {
        HeroInput {
            name: self.name.clone(),
            age: self.age,
            traits: self.traits.clone(),
            appearance: self.appearance.clone(),
            special_ability: self.special_ability.clone(),
        }
    }
}

fn dedup_traits(traits: Vec<HeroTrait>) -> Vec<HeroTrait> {
    let mut out = Vec::with_capacity(traits.len());
    for t in traits {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn validate_name(name: &str, errors: &mut Vec<FieldError>) {
    let len = name.trim().chars().count();
    if len == 0 {
        errors.push(FieldError::new("name", "Give your hero a name"));
    } else if name.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            "name",
            format!("Use at most {NAME_MAX} characters"),
        ));
    }
}

fn validate_age(age: u8, errors: &mut Vec<FieldError>) {
    if !(AGE_MIN..=AGE_MAX).contains(&age) {
        errors.push(FieldError::new(
            "age",
            format!("Age must be from {AGE_MIN} to {AGE_MAX}"),
        ));
    }
}

fn validate_traits(traits: &[HeroTrait], errors: &mut Vec<FieldError>) {
    let mut unique = traits.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != traits.len() {
        errors.push(FieldError::new("traits", "Each trait may be chosen once"));
    } else if !(TRAITS_MIN..=TRAITS_MAX).contains(&traits.len()) {
        errors.push(FieldError::new(
            "traits",
            format!("Choose {TRAITS_MIN} to {TRAITS_MAX} traits"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> HeroInput {
        HeroInput {
            name: "Luna".into(),
            age: 7,
            traits: vec![HeroTrait::Brave, HeroTrait::Kind],
            appearance: "Red boots".into(),
            special_ability: "Talks to owls".into(),
        }
    }

    #[test]
    fn validation_table() {
        let long = |n: usize| "x".repeat(n);
        type Case = (
            &'static str,
            Box<dyn Fn(&mut HeroInput)>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_| {}), None),
            (
                "empty name",
                Box::new(|h| h.name = "   ".into()),
                Some("name"),
            ),
            (
                "name at max",
                Box::new(move |h| h.name = long(NAME_MAX)),
                None,
            ),
            (
                "name too long",
                Box::new(move |h| h.name = long(NAME_MAX + 1)),
                Some("name"),
            ),
            (
                "name counts chars not bytes",
                Box::new(|h| h.name = "é".repeat(NAME_MAX)),
                None,
            ),
            ("age 0", Box::new(|h| h.age = 0), Some("age")),
            ("age 1", Box::new(|h| h.age = 1), None),
            ("age 18", Box::new(|h| h.age = 18), None),
            ("age 19", Box::new(|h| h.age = 19), Some("age")),
            ("no traits", Box::new(|h| h.traits.clear()), Some("traits")),
            (
                "5 traits",
                Box::new(|h| h.traits = HeroTrait::ALL[..5].to_vec()),
                None,
            ),
            (
                "6 traits",
                Box::new(|h| h.traits = HeroTrait::ALL[..6].to_vec()),
                Some("traits"),
            ),
            (
                "repeated trait",
                Box::new(|h| h.traits = vec![HeroTrait::Kind, HeroTrait::Kind]),
                Some("traits"),
            ),
            (
                "appearance at max",
                Box::new(move |h| h.appearance = long(APPEARANCE_MAX)),
                None,
            ),
            (
                "appearance too long",
                Box::new(move |h| h.appearance = long(APPEARANCE_MAX + 1)),
                Some("appearance"),
            ),
            (
                "ability too long",
                Box::new(move |h| h.special_ability = long(SPECIAL_ABILITY_MAX + 1)),
                Some("special_ability"),
            ),
        ];
        for (what, change, field) in cases {
            let mut h = valid();
            change(&mut h);
            let got = h.validate().err().map(|e| e[0].field.clone());
            assert_eq!(got.as_deref(), field, "{what}");
        }
    }

    #[test]
    fn all_errors_reported_at_once() {
        let h = HeroInput {
            name: "".into(),
            age: 40,
            traits: vec![],
            appearance: String::new(),
            special_ability: String::new(),
        };
        let fields: Vec<_> = h
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "age", "traits"]);
    }

    #[test]
    fn diff_apply_roundtrip_and_merge() {
        let a = valid();
        let mut b = valid();
        b.name = "Sol".into();
        b.traits = vec![HeroTrait::Funny];
        let patch = a.diff(&b);
        assert_eq!(patch.fields(), ["name", "traits"]);
        let mut c = a.clone();
        c.apply(&patch);
        assert_eq!(c, b);
        assert!(a.diff(&a).is_empty());

        let mut p1 = HeroPatch {
            name: Some("One".into()),
            age: Some(3),
            ..Default::default()
        };
        p1.merge(&HeroPatch {
            name: Some("Two".into()),
            ..Default::default()
        });
        assert_eq!(
            p1,
            HeroPatch {
                name: Some("Two".into()),
                age: Some(3),
                ..Default::default()
            }
        );
    }

    #[test]
    fn unknown_fields_rejected() {
        let err = serde_json::from_str::<HeroPatch>(r#"{"name":"a","version":9}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert!(serde_json::from_str::<HeroInput>(
            r#"{"name":"a","age":3,"traits":["kind"],"evil":1}"#
        )
        .is_err());
    }

    #[test]
    fn normalization() {
        let h = HeroInput {
            name: "  Luna ".into(),
            age: 3,
            traits: vec![HeroTrait::Kind, HeroTrait::Brave, HeroTrait::Kind],
            appearance: " x ".into(),
            special_ability: String::new(),
        }
        .normalized();
        assert_eq!(h.name, "Luna");
        assert_eq!(h.appearance, "x");
        assert_eq!(h.traits, [HeroTrait::Kind, HeroTrait::Brave]);
    }
}
