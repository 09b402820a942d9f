//! Heroes: the characters a parent makes for a child (SPEC.md section 2).

use serde::{Deserialize, Serialize};

use crate::entity::{norm, Merge, Rule};

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

crate::entity::wire_enum!(HeroTrait);

crate::entity! {
    /// Heroes: the characters a parent makes for a child.
    entity Hero {
        kind: Hero,
        table: "heroes",
        label: "hero",
        title: name,
    }
    /// The user-writable fields of a hero: the body of a create, and what a form edits.
    input HeroInput {
        name: String = [
            Merge::Text,
            Rule::required_text(NAME_MAX, "Give your hero a name"),
            norm::trim
        ];
        age: u8 = [Merge::Value, Rule::Int { min: AGE_MIN as i64, max: AGE_MAX as i64, label: "Age" }, norm::keep];
        traits: Vec<HeroTrait> = [
            Merge::Set,
            Rule::Choices { min: TRAITS_MIN, max: TRAITS_MAX, item: "trait" },
            norm::dedup
        ];
        #[serde(default)]
        appearance: String = [Merge::Text, Rule::text(APPEARANCE_MAX), norm::trim];
        #[serde(default)]
        special_ability: String = [Merge::Text, Rule::text(SPECIAL_ABILITY_MAX), norm::trim];
    }
    /// A partial update: only the fields present are changed.
    patch HeroPatch;
    /// Server-written hero fields.
    server HeroServer {
        /// Written by the server only.
        #[serde(default)]
        avatar_url: Option<String>;
        /// Written by the server only.
        #[serde(default)]
        avatar_generation_id: Option<String>;
    }
    /// A hero as the server stores it. `deleted: true` marks a tombstone.
    record HeroRecord { id, version, created_at, updated_at, deleted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{Input, Patch};

    fn valid() -> HeroInput {
        HeroInput {
            name: "Luna".into(),
            age: 7,
            traits: vec![HeroTrait::Brave, HeroTrait::Kind],
            appearance: "Red boots".into(),
            special_ability: "Talks to owls".into(),
            ..Default::default()
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
            ..Default::default()
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
            ..Default::default()
        }
        .normalized();
        assert_eq!(h.name, "Luna");
        assert_eq!(h.appearance, "x");
        assert_eq!(h.traits, [HeroTrait::Kind, HeroTrait::Brave]);
    }
}
