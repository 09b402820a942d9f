//! The user's profile and usage (SPEC.md section 2).
//!
//! The profile is written by the server; its `name`, `preferred_language` and `theme` are
//! editable, either with `PATCH /api/users/me` (`If-Match` optional) or through push as
//! entity `user_profile` (update only, `id` = the user's id, with `base_version`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{FieldError, Language};

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

/// The signed-in user's profile (`GET /api/users/me`; in the change feed as
/// `changes.profile` when it changed). There is one per user and it is never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserProfile {
    /// The user's id.
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email: String,
    pub name: String,
    pub preferred_language: Language,
    pub theme: Theme,
    /// Written by the server only.
    pub subscription_tier: SubscriptionTier,
}

impl UserProfile {
    /// The patch that turns this profile's editable fields into `other`'s.
    pub fn diff(&self, other: &UserProfile) -> UserProfilePatch {
        UserProfilePatch {
            name: (self.name != other.name).then(|| other.name.clone()),
            preferred_language: (self.preferred_language != other.preferred_language)
                .then_some(other.preferred_language),
            theme: (self.theme != other.theme).then_some(other.theme),
        }
    }

    /// Applies a patch to the editable fields.
    pub fn apply(&mut self, patch: &UserProfilePatch) {
        if let Some(v) = &patch.name {
            self.name = v.clone();
        }
        if let Some(v) = patch.preferred_language {
            self.preferred_language = v;
        }
        if let Some(v) = patch.theme {
            self.theme = v;
        }
    }
}

/// The editable part of a profile; only the fields present are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserProfilePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub preferred_language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub theme: Option<Theme>,
}

impl UserProfilePatch {
    pub fn is_empty(&self) -> bool {
        self == &UserProfilePatch::default()
    }

    /// Names of the fields this patch sets, in a fixed order.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.is_some() {
            out.push("name");
        }
        if self.preferred_language.is_some() {
            out.push("preferred_language");
        }
        if self.theme.is_some() {
            out.push("theme");
        }
        out
    }

    /// `later` wins field by field.
    pub fn merge(&mut self, later: &UserProfilePatch) {
        if later.name.is_some() {
            self.name.clone_from(&later.name);
        }
        if later.preferred_language.is_some() {
            self.preferred_language = later.preferred_language;
        }
        if later.theme.is_some() {
            self.theme = later.theme;
        }
    }

    /// Trims the name.
    pub fn normalized(mut self) -> Self {
        self.name = self.name.map(|s| s.trim().to_owned());
        self
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(name) = &self.name {
            let len = name.trim().chars().count();
            if len == 0 || name.chars().count() > NAME_MAX {
                errors.push(FieldError::new(
                    "name",
                    format!("Enter a name of 1 to {NAME_MAX} characters"),
                ));
            }
        }
        crate::result(errors)
    }
}

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
