//! The user's profile and usage (SPEC.md section 2).
//!
//! The profile is written by the server; its `name`, `preferred_language` and `theme` are
//! editable, either with `PATCH /api/users/me` (`If-Match` optional) or through push as
//! entity `user_profile` (update only, `id` = the user's id, with `base_version`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entity::{norm, Merge, Rule};
use crate::Language;

pub const NAME_MAX: usize = 100;

/// The app's colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(s: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What the user pays for; decides the monthly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionTier {
    #[default]
    Free,
    Plus,
    Premium,
}

impl SubscriptionTier {
    pub const ALL: [SubscriptionTier; 3] = [
        SubscriptionTier::Free,
        SubscriptionTier::Plus,
        SubscriptionTier::Premium,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionTier::Free => "free",
            SubscriptionTier::Plus => "plus",
            SubscriptionTier::Premium => "premium",
        }
    }

    pub fn parse(s: &str) -> Option<SubscriptionTier> {
        SubscriptionTier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

crate::entity::wire_enum!(Theme, SubscriptionTier);

crate::entity! {
    /// The user's profile: one per user, never deleted, created with the account.
    entity Profile {
        kind: UserProfile,
        table: "user_profile",
        label: "profile",
        title: name,
    }
    /// The editable part of the profile, as a form edits it.
    input ProfileInput {
        name: String = [
            Merge::Text,
            NAME_RULE,
            norm::trim
        ];
        preferred_language: Language = [Merge::Value, Rule::Any, norm::keep];
        theme: Theme = [Merge::Value, Rule::Any, norm::keep];
    }
    /// The editable part of a profile; only the fields present are changed.
    patch UserProfilePatch;
    /// Server-written profile fields.
    server ProfileServer {
        email: String;
        /// Written by the server only.
        subscription_tier: SubscriptionTier;
    }
    /// The signed-in user's profile (`GET /api/users/me`; in the change feed as
    /// `changes.profile` when it changed). There is one per user and it is never deleted.
    record UserProfile {
        /// The user's id.
        id, version, created_at, updated_at
    }
}

const NAME_MESSAGE: &str = "Enter a name of 1 to 100 characters";

/// A person's name (the profile's, and at sign-up).
pub const NAME_RULE: Rule = Rule::Text {
    max: NAME_MAX,
    required: Some(NAME_MESSAGE),
    too_long: Some(NAME_MESSAGE),
};

/// Monthly limits of a tier; `null` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageLimits {
    pub stories_per_month: Option<u32>,
    pub audio_minutes_per_month: Option<u32>,
    pub illustrations_per_month: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TierLimits {
    pub tier: SubscriptionTier,
    pub limits: UsageLimits,
}

/// `GET /api/usage`: what the user generated this calendar month (UTC) and the limits.
/// Counts generated stories (`POST /api/stories/generate`), generated audio minutes and
/// generated illustrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageStats {
    /// First instant of the month counted.
    pub period_start: DateTime<Utc>,
    /// First instant of the next month (exclusive end).
    pub period_end: DateTime<Utc>,
    pub subscription_tier: SubscriptionTier,
    pub stories_this_month: u32,
    pub audio_minutes_this_month: f64,
    pub illustrations_this_month: u32,
    /// The limits of the user's tier.
    pub limits: UsageLimits,
    /// Every tier's limits, for an upgrade table.
    pub tiers: Vec<TierLimits>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Patch;

    #[test]
    fn patch_rules() {
        assert!(UserProfilePatch::default().validate().is_ok());
        let p = UserProfilePatch {
            name: Some("  ".into()),
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err()[0].field, "name");
        let p: UserProfilePatch =
            serde_json::from_str(r#"{"theme": "dark", "preferred_language": "fr"}"#).unwrap();
        assert_eq!(p.fields(), ["preferred_language", "theme"]);
        assert!(serde_json::from_str::<UserProfilePatch>(r#"{"email": "x@y.z"}"#).is_err());
        assert!(
            serde_json::from_str::<UserProfilePatch>(r#"{"subscription_tier": "premium"}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<UserProfilePatch>(r#"{"theme": "purple"}"#).is_err());
    }
}
