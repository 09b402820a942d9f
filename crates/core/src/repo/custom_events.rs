//! Custom story events (SPEC.md section 2): user-made occasions for stories.
//! Conflicts: localWins. `usage_count` is a counter, sent as increments.

use is_protocol::{
    CustomEventInput, CustomEventRecord, EntityKind, EventCategory, EventTone, FieldError, Record,
};
use rusqlite::{Connection, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{
    self, parse_enum, Binder, ConflictStrategy, FieldsRead, RecordMeta, SyncEntity, SyncRow,
};
use crate::error::Result;
use crate::merge::FieldSpec;
use crate::model::CustomEventView;
use crate::policy::CachePolicy;
use crate::repo::{self, Ctx};

#[derive(Debug, Clone, PartialEq)]
pub struct CustomEvent;

pub type CustomEventRow = SyncRow<CustomEvent>;

/// Server-written custom event fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomEventServer {
    pub usage_count: i64,
}

impl SyncEntity for CustomEvent {
    const KIND: EntityKind = EntityKind::CustomEvent;
    const TABLE: &'static str = "custom_events";
    const LABEL: &'static str = "custom event";
    const STRATEGY: ConflictStrategy = ConflictStrategy::LocalWins;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;
    const FIELD_COLUMNS: &'static [&'static str] = &[
        "title",
        "description",
        "prompt_seed",
        "keywords",
        "category",
        "tone",
        "pictogram_emoji",
        "is_favorite",
        "usage_count",
    ];
    const MERGE_FIELDS: &'static [FieldSpec] = &[
        FieldSpec::text("title"),
        FieldSpec::text("description"),
        FieldSpec::text("prompt_seed"),
        FieldSpec::set("keywords"),
        FieldSpec::value("category"),
        FieldSpec::value("tone"),
        FieldSpec::value("pictogram_emoji"),
        FieldSpec::value("is_favorite"),
    ];
    const COUNTER: Option<&'static str> = Some("usage_count");

    type Input = CustomEventInput;
    type Record = CustomEventRecord;
    type Server = CustomEventServer;

    fn record_meta(r: &CustomEventRecord) -> RecordMeta {
        RecordMeta {
            id: r.id,
            version: r.version,
            deleted: r.deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn record_parts(r: &CustomEventRecord) -> (CustomEventInput, CustomEventServer) {
        (r.input(), Self::record_server(r))
    }

    fn record_server(r: &CustomEventRecord) -> CustomEventServer {
        CustomEventServer {
            usage_count: r.usage_count,
        }
    }

    fn make_record(
        m: RecordMeta,
        i: &CustomEventInput,
        s: &CustomEventServer,
    ) -> CustomEventRecord {
        CustomEventRecord {
            id: m.id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted: m.deleted,
            title: i.title.clone(),
            description: i.description.clone(),
            prompt_seed: i.prompt_seed.clone(),
            keywords: i.keywords.clone(),
            category: i.category,
            tone: i.tone,
            pictogram_emoji: i.pictogram_emoji.clone(),
            is_favorite: i.is_favorite,
            usage_count: s.usage_count,
        }
    }

    fn from_wire(rec: &Record) -> Option<&CustomEventRecord> {
        match rec {
            Record::CustomEvent(e) => Some(e),
            _ => None,
        }
    }

    fn title(input: &CustomEventInput) -> String {
        input.title.clone()
    }

    fn normalized(input: CustomEventInput) -> CustomEventInput {
        input.normalized()
    }

    fn validate(input: &CustomEventInput) -> Result<(), Vec<FieldError>> {
        input.validate()
    }

    fn diff(from: &CustomEventInput, to: &CustomEventInput) -> (Value, Vec<&'static str>) {
        let patch = from.diff(to);
        (
            serde_json::to_value(&patch).unwrap_or_default(),
            patch.fields(),
        )
    }

    fn bind_fields(
        b: &mut Binder<'_, '_>,
        i: &CustomEventInput,
        s: &CustomEventServer,
    ) -> rusqlite::Result<()> {
        b.bind(&i.title)?;
        b.bind(&i.description)?;
        b.bind(&i.prompt_seed)?;
        b.bind(serde_json::to_string(&i.keywords).unwrap_or_else(|_| "[]".to_owned()))?;
        b.bind(i.category.as_str())?;
        b.bind(i.tone.as_str())?;
        b.bind(&i.pictogram_emoji)?;
        b.bind(i.is_favorite)?;
        b.bind(s.usage_count)
    }

    fn read_fields(r: &Row<'_>, at: usize) -> FieldsRead<CustomEventInput, CustomEventServer> {
        let title: String = r.get(at)?;
        let description: String = r.get(at + 1)?;
        let prompt_seed: String = r.get(at + 2)?;
        let keywords: String = r.get(at + 3)?;
        let category: String = r.get(at + 4)?;
        let tone: String = r.get(at + 5)?;
        let pictogram_emoji: String = r.get(at + 6)?;
        let is_favorite: bool = r.get(at + 7)?;
        let usage_count: i64 = r.get(at + 8)?;
        Ok((|| {
            Ok((
                CustomEventInput {
                    title,
                    description,
                    prompt_seed,
                    keywords: serde_json::from_str(&keywords).map_err(|_| "keywords".to_owned())?,
                    category: parse_enum("category", &category, EventCategory::parse)?,
                    tone: parse_enum("tone", &tone, EventTone::parse)?,
                    pictogram_emoji,
                    is_favorite,
                },
                CustomEventServer { usage_count },
            ))
        })())
    }

    fn counter(s: &CustomEventServer) -> i64 {
        s.usage_count
    }
}

pub fn view(row: &CustomEventRow, max_attempts: u32) -> CustomEventView {
    CustomEventView {
        id: row.id,
        title: row.fields.title.clone(),
        description: row.fields.description.clone(),
        prompt_seed: row.fields.prompt_seed.clone(),
        keywords: row.fields.keywords.clone(),
        category: row.fields.category,
        tone: row.fields.tone,
        pictogram_emoji: row.fields.pictogram_emoji.clone(),
        is_favorite: row.fields.is_favorite,
        usage_count: row.counter(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    }
}

/// Visible custom events: favourites first, then by title.
pub fn list(conn: &Connection, max_attempts: u32) -> Result<Vec<CustomEventView>> {
    let rows = entity::load_where::<CustomEvent>(
        conn,
        "sync_status <> 'pending_delete'",
        "is_favorite DESC, title COLLATE NOCASE, id",
        [],
    )?;
    Ok(rows.iter().map(|r| view(r, max_attempts)).collect())
}

pub fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<CustomEventView> {
    Ok(view(
        &repo::get_visible::<CustomEvent>(conn, id)?,
        max_attempts,
    ))
}

pub fn set_favorite(
    tx: &Connection,
    ctx: &Ctx<'_>,
    id: Uuid,
    favorite: bool,
) -> Result<CustomEventRow> {
    let row = repo::get_visible::<CustomEvent>(tx, id)?;
    let mut input = row.fields.clone();
    input.is_favorite = favorite;
    repo::update::<CustomEvent>(tx, ctx, id, input)
}
