//! The user's profile (SPEC.md section 2): one row, written by the server, with name,
//! language and theme editable. Read network-first; an edit is optimistic and goes
//! through the outbox like any other (entity `user_profile`, update only). serverWins.

use is_protocol::{
    EntityKind, FieldError, Language, Record, SubscriptionTier, Theme, UserProfile,
    UserProfilePatch,
};
use rusqlite::{Connection, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{
    self, parse_enum, Binder, ConflictStrategy, FieldsRead, RecordMeta, SyncEntity, SyncRow,
};
use crate::error::Result;
use crate::merge::FieldSpec;
use crate::model::{ProfileInput, ProfileView};
use crate::policy::CachePolicy;

#[derive(Debug, Clone, PartialEq)]
pub struct Profile;

pub type ProfileRow = SyncRow<Profile>;

/// Server-written profile fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileServer {
    pub email: String,
    pub subscription_tier: SubscriptionTier,
}

fn patch(from: &ProfileInput, to: &ProfileInput) -> UserProfilePatch {
    UserProfilePatch {
        name: (from.name != to.name).then(|| to.name.clone()),
        preferred_language: (from.preferred_language != to.preferred_language)
            .then_some(to.preferred_language),
        theme: (from.theme != to.theme).then_some(to.theme),
    }
}

impl SyncEntity for Profile {
    const KIND: EntityKind = EntityKind::UserProfile;
    const TABLE: &'static str = "user_profile";
    const LABEL: &'static str = "profile";
    const STRATEGY: ConflictStrategy = ConflictStrategy::ServerWins;
    const POLICY: CachePolicy = CachePolicy::NetworkFirst;
    const FIELD_COLUMNS: &'static [&'static str] = &[
        "name",
        "preferred_language",
        "theme",
        "email",
        "subscription_tier",
    ];
    const MERGE_FIELDS: &'static [FieldSpec] = &[
        FieldSpec::text("name"),
        FieldSpec::value("preferred_language"),
        FieldSpec::value("theme"),
    ];

    type Input = ProfileInput;
    type Record = UserProfile;
    type Server = ProfileServer;

    fn record_meta(r: &UserProfile) -> RecordMeta {
        RecordMeta {
            id: r.id,
            version: r.version,
            deleted: false,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn record_parts(r: &UserProfile) -> (ProfileInput, ProfileServer) {
        (
            ProfileInput {
                name: r.name.clone(),
                preferred_language: r.preferred_language,
                theme: r.theme,
            },
            Self::record_server(r),
        )
    }

    fn record_server(r: &UserProfile) -> ProfileServer {
        ProfileServer {
            email: r.email.clone(),
            subscription_tier: r.subscription_tier,
        }
    }

    fn make_record(m: RecordMeta, i: &ProfileInput, s: &ProfileServer) -> UserProfile {
        UserProfile {
            id: m.id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            email: s.email.clone(),
            name: i.name.clone(),
            preferred_language: i.preferred_language,
            theme: i.theme,
            subscription_tier: s.subscription_tier,
        }
    }

    fn from_wire(rec: &Record) -> Option<&UserProfile> {
        match rec {
            Record::UserProfile(p) => Some(p),
            _ => None,
        }
    }

    fn title(input: &ProfileInput) -> String {
        input.name.clone()
    }

    fn normalized(mut input: ProfileInput) -> ProfileInput {
        input.name = input.name.trim().to_owned();
        input
    }

    fn validate(input: &ProfileInput) -> Result<(), Vec<FieldError>> {
        UserProfilePatch {
            name: Some(input.name.clone()),
            ..Default::default()
        }
        .validate()
    }

    fn diff(from: &ProfileInput, to: &ProfileInput) -> (Value, Vec<&'static str>) {
        let p = patch(from, to);
        (serde_json::to_value(&p).unwrap_or_default(), p.fields())
    }

    fn bind_fields(
        b: &mut Binder<'_, '_>,
        i: &ProfileInput,
        s: &ProfileServer,
    ) -> rusqlite::Result<()> {
        b.bind(&i.name)?;
        b.bind(i.preferred_language.as_str())?;
        b.bind(i.theme.as_str())?;
        b.bind(&s.email)?;
        b.bind(s.subscription_tier.as_str())
    }

    fn read_fields(r: &Row<'_>, at: usize) -> FieldsRead<ProfileInput, ProfileServer> {
        let name: String = r.get(at)?;
        let language: String = r.get(at + 1)?;
        let theme: String = r.get(at + 2)?;
        let email: String = r.get(at + 3)?;
        let tier: String = r.get(at + 4)?;
        Ok((|| {
            Ok((
                ProfileInput {
                    name,
                    preferred_language: parse_enum(
                        "preferred_language",
                        &language,
                        Language::parse,
                    )?,
                    theme: parse_enum("theme", &theme, Theme::parse)?,
                },
                ProfileServer {
                    email,
                    subscription_tier: parse_enum(
                        "subscription_tier",
                        &tier,
                        SubscriptionTier::parse,
                    )?,
                },
            ))
        })())
    }
}

pub fn view(row: &ProfileRow, max_attempts: u32) -> ProfileView {
    ProfileView {
        id: row.id,
        email: row.server.email.clone(),
        name: row.fields.name.clone(),
        preferred_language: row.fields.preferred_language,
        theme: row.fields.theme,
        subscription_tier: row.server.subscription_tier,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    }
}

/// The cached profile of `user`, if one was ever fetched.
pub fn get(conn: &Connection, user: Uuid, max_attempts: u32) -> Result<Option<ProfileView>> {
    Ok(entity::load::<Profile>(conn, user)?.map(|r| view(&r, max_attempts)))
}
