//! Stories (SPEC.md section 2): the [`SyncEntity`] description, views, lists and the
//! story-only rules.
//!
//! - `hero_id` has no foreign key locally: a page of the change feed can bring a story
//!   before its hero. A story whose hero is not (or no longer) visible shows unlinked.
//! - Deleting a hero keeps its stories. The server unlinks them when it applies the
//!   delete; a hero that vanishes locally for good unlinks them here too.
//! - `play_count` is a counter: a play is an increment ([`crate::repo::increment`]).
//! - Conflicts: the content (title, text) asks the user; the metadata merges.

use chrono::{DateTime, Utc};
use is_protocol::{EntityKind, EventType, FieldError, Language, Record, StoryInput, StoryRecord};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{
    self, parse_enum, parse_opt_time, parse_opt_uuid, Binder, ConflictStrategy, FieldsRead,
    RecordMeta, SyncEntity, SyncRow, UuidText,
};
use crate::error::{CoreError, Result};
use crate::merge::FieldSpec;
use crate::model::{RowSync, StoryFilter, StorySummary, StoryView};
use crate::outbox;
use crate::policy::CachePolicy;
use crate::repo::{self, Ctx};
use crate::sync_state::{PendingOp, SyncState};

#[derive(Debug, Clone, PartialEq)]
pub struct Story;

pub type StoryRow = SyncRow<Story>;

/// Server-written story fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoryServer {
    pub play_count: i64,
    pub last_played_at: Option<DateTime<Utc>>,
    pub audio_url: Option<String>,
    pub audio_duration: Option<f64>,
}

impl SyncEntity for Story {
    const KIND: EntityKind = EntityKind::Story;
    const TABLE: &'static str = "stories";
    const LABEL: &'static str = "story";
    const STRATEGY: ConflictStrategy = ConflictStrategy::Merge;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;
    const FIELD_COLUMNS: &'static [&'static str] = &[
        "hero_id",
        "title",
        "content",
        "language",
        "event_type",
        "custom_event_id",
        "is_favorite",
        "play_count",
        "last_played_at",
        "audio_url",
        "audio_duration",
    ];
    // Content asks the user; metadata merges (the newer edit wins a field both changed).
    const MERGE_FIELDS: &'static [FieldSpec] = &[
        FieldSpec::value("hero_id"),
        FieldSpec::prompt_text("title"),
        FieldSpec::prompt_text("content"),
        FieldSpec::value("language"),
        FieldSpec::value("event_type"),
        FieldSpec::value("custom_event_id"),
        FieldSpec::value("is_favorite"),
    ];
    const PROMPT_FALLBACK: bool = true;
    const COUNTER: Option<&'static str> = Some("play_count");

    type Input = StoryInput;
    type Record = StoryRecord;
    type Server = StoryServer;

    fn record_meta(r: &StoryRecord) -> RecordMeta {
        RecordMeta {
            id: r.id,
            version: r.version,
            deleted: r.deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn record_parts(r: &StoryRecord) -> (StoryInput, StoryServer) {
        (r.input(), Self::record_server(r))
    }

    fn record_server(r: &StoryRecord) -> StoryServer {
        StoryServer {
            play_count: r.play_count,
            last_played_at: r.last_played_at,
            audio_url: r.audio_url.clone(),
            audio_duration: r.audio_duration,
        }
    }

    fn make_record(m: RecordMeta, i: &StoryInput, s: &StoryServer) -> StoryRecord {
        StoryRecord {
            id: m.id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted: m.deleted,
            hero_id: i.hero_id,
            title: i.title.clone(),
            content: i.content.clone(),
            language: i.language,
            event_type: i.event_type,
            custom_event_id: i.custom_event_id,
            is_favorite: i.is_favorite,
            play_count: s.play_count,
            last_played_at: s.last_played_at,
            audio_url: s.audio_url.clone(),
            audio_duration: s.audio_duration,
        }
    }

    fn from_wire(rec: &Record) -> Option<&StoryRecord> {
        match rec {
            Record::Story(s) => Some(s),
            _ => None,
        }
    }

    fn title(input: &StoryInput) -> String {
        input.title.clone()
    }

    fn normalized(input: StoryInput) -> StoryInput {
        input.normalized()
    }

    fn validate(input: &StoryInput) -> Result<(), Vec<FieldError>> {
        input.validate()
    }

    fn diff(from: &StoryInput, to: &StoryInput) -> (Value, Vec<&'static str>) {
        let patch = from.diff(to);
        (
            serde_json::to_value(&patch).unwrap_or_default(),
            patch.fields(),
        )
    }

    fn bind_fields(
        b: &mut Binder<'_, '_>,
        i: &StoryInput,
        s: &StoryServer,
    ) -> rusqlite::Result<()> {
        b.opt_uuid(i.hero_id)?;
        b.bind(&i.title)?;
        b.bind(&i.content)?;
        b.bind(i.language.as_str())?;
        b.bind(i.event_type.map(EventType::as_str))?;
        b.opt_uuid(i.custom_event_id)?;
        b.bind(i.is_favorite)?;
        b.bind(s.play_count)?;
        b.opt_time(s.last_played_at)?;
        b.bind(&s.audio_url)?;
        b.bind(s.audio_duration)
    }

    fn read_fields(r: &Row<'_>, at: usize) -> FieldsRead<StoryInput, StoryServer> {
        let hero_id: Option<String> = r.get(at)?;
        let title: String = r.get(at + 1)?;
        let content: String = r.get(at + 2)?;
        let language: String = r.get(at + 3)?;
        let event_type: Option<String> = r.get(at + 4)?;
        let custom_event_id: Option<String> = r.get(at + 5)?;
        let is_favorite: bool = r.get(at + 6)?;
        let play_count: i64 = r.get(at + 7)?;
        let last_played_at: Option<String> = r.get(at + 8)?;
        let audio_url: Option<String> = r.get(at + 9)?;
        let audio_duration: Option<f64> = r.get(at + 10)?;
        Ok((|| {
            Ok((
                StoryInput {
                    hero_id: parse_opt_uuid("hero_id", hero_id)?,
                    title,
                    content,
                    language: parse_enum("language", &language, Language::parse)?,
                    event_type: event_type
                        .map(|e| parse_enum("event_type", &e, EventType::parse))
                        .transpose()?,
                    custom_event_id: parse_opt_uuid("custom_event_id", custom_event_id)?,
                    is_favorite,
                },
                StoryServer {
                    play_count,
                    last_played_at: parse_opt_time("last_played_at", last_played_at)?,
                    audio_url,
                    audio_duration,
                },
            ))
        })())
    }

    fn counter(s: &StoryServer) -> i64 {
        s.play_count
    }

    fn on_local_increment(s: &mut StoryServer, now: DateTime<Utc>) {
        s.last_played_at = Some(now);
    }

    fn keep_while_incrementing(local: &StoryServer, incoming: &mut StoryServer) {
        incoming.last_played_at = incoming.last_played_at.max(local.last_played_at);
    }

    fn dependencies(payload: &Value) -> Vec<(EntityKind, Uuid)> {
        let id = |f: &str| {
            payload
                .get(f)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok())
        };
        [
            (EntityKind::Hero, id("hero_id")),
            (EntityKind::CustomEvent, id("custom_event_id")),
        ]
        .into_iter()
        .filter_map(|(k, id)| Some((k, id?)))
        .collect()
    }

    fn validate_local(
        conn: &Connection,
        old: Option<&StoryInput>,
        new: &StoryInput,
    ) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(hero) = new.hero_id.filter(|_| changed(old, new, |s| s.hero_id)) {
            if !repo::is_visible(conn, EntityKind::Hero, hero)? {
                errors.push(FieldError::new("hero_id", "Choose one of your heroes"));
            }
        }
        if let Some(event) = new
            .custom_event_id
            .filter(|_| changed(old, new, |s| s.custom_event_id))
        {
            if !repo::is_visible(conn, EntityKind::CustomEvent, event)? {
                errors.push(FieldError::new(
                    "custom_event_id",
                    "Choose one of your custom events",
                ));
            }
        }
        Ok(errors)
    }

    fn on_removed(conn: &Connection, id: Uuid) -> Result<()> {
        repo::illustrations::delete_for_story(conn, id)
    }
}

/// A new row, or an edit that changes the field `get` reads.
fn changed<T: PartialEq>(
    old: Option<&StoryInput>,
    new: &StoryInput,
    get: impl Fn(&StoryInput) -> T,
) -> bool {
    match old {
        None => true,
        Some(o) => get(o) != get(new),
    }
}

/// The story as the UI shows it. `hero_id` is the hero only while that hero is visible.
pub fn view(conn: &Connection, row: &StoryRow, max_attempts: u32) -> Result<StoryView> {
    let hero = match row.fields.hero_id {
        Some(h) => visible_hero_name(conn, h)?.map(|name| (h, name)),
        None => None,
    };
    Ok(StoryView {
        id: row.id,
        hero_id: hero.as_ref().map(|(h, _)| *h),
        hero_name: hero.map(|(_, n)| n),
        title: row.fields.title.clone(),
        content: row.fields.content.clone(),
        language: row.fields.language,
        event_type: row.fields.event_type,
        custom_event_id: row.fields.custom_event_id,
        is_favorite: row.fields.is_favorite,
        play_count: row.counter(),
        last_played_at: row.server.last_played_at,
        audio_url: row.server.audio_url.clone(),
        audio_duration: row.server.audio_duration,
        created_at: row.created_at,
        updated_at: row.updated_at,
        sync: row.sync_view(max_attempts),
    })
}

fn visible_hero_name(conn: &Connection, hero: Uuid) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT name FROM heroes WHERE id = ?1 AND sync_status <> 'pending_delete'",
        )?
        .query_row([UuidText::new(hero)], |r| r.get(0))
        .optional()?)
}

pub fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<StoryView> {
    view(conn, &repo::get_visible::<Story>(conn, id)?, max_attempts)
}

/// Visible stories, newest first, for the list (without the full text).
pub fn list(
    conn: &Connection,
    filter: &StoryFilter,
    max_attempts: u32,
) -> Result<Vec<StorySummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, h.id, h.name, s.title, substr(s.content, 1, 160), s.language, s.event_type,
                s.custom_event_id, s.is_favorite, s.play_count + s.pending_increment, s.last_played_at,
                s.audio_url IS NOT NULL, s.created_at, s.updated_at,
                s.sync_status, s.sync_op, s.sync_error, s.attempts, s.next_attempt_at, s.base_version,
                s.last_synced_at
         FROM stories s
         LEFT JOIN heroes h ON h.id = s.hero_id AND h.sync_status <> 'pending_delete'
         WHERE s.sync_status <> 'pending_delete'
           AND (?1 IS NULL OR s.hero_id = ?1)
           AND (?2 = 0 OR s.is_favorite = 1)
         ORDER BY s.created_at DESC, s.id",
    )?;
    let rows = stmt.query_map(
        params![filter.hero_id.map(UuidText::new), filter.favorites_only],
        |r| summary_from_row(r, max_attempts),
    )?;
    rows.map(|r| r?).collect()
}

fn summary_from_row(r: &Row<'_>, max_attempts: u32) -> rusqlite::Result<Result<StorySummary>> {
    let id: String = r.get(0)?;
    let hero_id: Option<String> = r.get(1)?;
    let hero_name: Option<String> = r.get(2)?;
    let title: String = r.get(3)?;
    let excerpt: String = r.get(4)?;
    let language: String = r.get(5)?;
    let event_type: Option<String> = r.get(6)?;
    let custom_event_id: Option<String> = r.get(7)?;
    let is_favorite: bool = r.get(8)?;
    let play_count: i64 = r.get(9)?;
    let last_played_at: Option<String> = r.get(10)?;
    let has_audio: bool = r.get(11)?;
    let created_at: String = r.get(12)?;
    let updated_at: String = r.get(13)?;
    let status: String = r.get(14)?;
    let op: Option<String> = r.get(15)?;
    let error: Option<String> = r.get(16)?;
    let attempts: i64 = r.get(17)?;
    let next_attempt_at: Option<String> = r.get(18)?;
    let version: Option<i64> = r.get(19)?;
    let last_synced_at: Option<String> = r.get(20)?;
    Ok((|| {
        let bad = |what: String| CoreError::Corrupt(format!("story {id}: bad {what}"));
        let state = SyncState::from_columns(&status, op.as_deref())
            .ok_or_else(|| bad("sync status".into()))?;
        let time = |what: &str, s: String| s.parse::<DateTime<Utc>>().map_err(|_| bad(what.into()));
        let attempts = u32::try_from(attempts).unwrap_or(0);
        Ok(StorySummary {
            id: id.parse().map_err(|_| bad("id".into()))?,
            hero_id: parse_opt_uuid("hero_id", hero_id).map_err(bad)?,
            hero_name,
            title,
            excerpt,
            language: parse_enum("language", &language, Language::parse).map_err(bad)?,
            event_type: event_type
                .map(|e| parse_enum("event_type", &e, EventType::parse))
                .transpose()
                .map_err(bad)?,
            custom_event_id: parse_opt_uuid("custom_event_id", custom_event_id).map_err(bad)?,
            is_favorite,
            play_count,
            last_played_at: parse_opt_time("last_played_at", last_played_at).map_err(bad)?,
            has_audio,
            created_at: time("created_at", created_at)?,
            updated_at: time("updated_at", updated_at)?,
            sync: RowSync {
                status: state.status(),
                op: state.op(),
                error,
                attempts,
                given_up: matches!(state, SyncState::Failed(_)) && attempts >= max_attempts,
                next_attempt_at: parse_opt_time("next_attempt_at", next_attempt_at).map_err(bad)?,
                version,
                last_synced_at: parse_opt_time("last_synced_at", last_synced_at).map_err(bad)?,
            },
        })
    })())
}

/// An edit from a form that showed the story unlinked because its hero is not visible
/// keeps the stored link: only the server unlinks a story from a hero that still exists.
pub fn keep_hidden_hero(conn: &Connection, id: Uuid, mut input: StoryInput) -> Result<StoryInput> {
    if input.hero_id.is_none() {
        if let Some(row) = entity::load::<Story>(conn, id)? {
            if let Some(h) = row.fields.hero_id {
                if !repo::is_visible(conn, EntityKind::Hero, h)? {
                    input.hero_id = Some(h);
                }
            }
        }
    }
    Ok(input)
}

pub fn update(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, input: StoryInput) -> Result<StoryRow> {
    let input = keep_hidden_hero(tx, id, input)?;
    repo::update::<Story>(tx, ctx, id, input)
}

pub fn set_favorite(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, favorite: bool) -> Result<StoryRow> {
    let row = repo::get_visible::<Story>(tx, id)?;
    let mut input = row.fields.clone();
    input.is_favorite = favorite;
    repo::update::<Story>(tx, ctx, id, input)
}

/// A hero left the local cache for good: its stories stay, unlinked. Unsent changes
/// that still name it are rewritten (the server would refuse them); sent ones are
/// frozen and the server unlinks on its side.
pub fn forget_hero(conn: &Connection, hero: Uuid) -> Result<()> {
    let rows = entity::load_where::<Story>(conn, "hero_id = ?1", "id", [UuidText::new(hero)])?;
    for mut row in rows {
        row.fields.hero_id = None;
        if let Some(base) = row
            .base_snapshot
            .as_mut()
            .filter(|_| row.state == SyncState::Pending(PendingOp::Create))
        {
            base.hero_id = None;
        }
        entity::save(conn, &row)?;
        outbox::rewrite_unsent_field(conn, EntityKind::Story, row.id, "hero_id", &Value::Null)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::db;
    use crate::outbox::EntryOp;
    use crate::repo::heroes::{self, Hero};
    use crate::rng::SplitMix64;
    use crate::sync_state::SyncStatus;
    use is_protocol::{HeroInput, HeroTrait};

    struct Fixture {
        conn: Connection,
        clock: ManualClock,
        rng: SplitMix64,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                conn: db::open_in_memory().unwrap(),
                clock: ManualClock::new("2026-03-01T08:00:00Z".parse().unwrap()),
                rng: SplitMix64::new(3),
            }
        }
        fn tx<R>(&mut self, f: impl FnOnce(&Connection, &Ctx<'_>) -> Result<R>) -> Result<R> {
            let ctx = Ctx {
                clock: &self.clock,
                rng: &self.rng,
                max_attempts: 3,
            };
            let tx = self.conn.transaction().unwrap();
            let out = f(&tx, &ctx)?;
            tx.commit().unwrap();
            Ok(out)
        }
    }

    fn hero() -> HeroInput {
        HeroInput {
            name: "Luna".into(),
            age: 6,
            traits: vec![HeroTrait::Brave],
            appearance: String::new(),
            special_ability: String::new(),
        }
    }

    fn story(hero_id: Option<Uuid>) -> StoryInput {
        StoryInput {
            hero_id,
            title: "  The Moon ".into(),
            content: "Once upon a time.".into(),
            language: Language::En,
            event_type: Some(EventType::Bedtime),
            custom_event_id: None,
            is_favorite: false,
        }
    }

    #[test]
    fn create_validates_against_the_cache_and_lists_newest_first() {
        let mut f = Fixture::new();
        let err = f
            .tx(|tx, ctx| repo::create::<Story>(tx, ctx, story(Some(Uuid::from_u128(9)))))
            .unwrap_err();
        let CoreError::Validation(fields) = err else {
            panic!("{err}")
        };
        assert_eq!(fields[0].field, "hero_id");

        let luna = f.tx(|tx, ctx| heroes::create(tx, ctx, hero())).unwrap();
        let a = f
            .tx(|tx, ctx| repo::create::<Story>(tx, ctx, story(Some(luna.id))))
            .unwrap();
        assert_eq!(a.fields.title, "The Moon", "normalized");
        f.clock.advance(chrono::Duration::seconds(1));
        let mut second = story(None);
        second.title = "Second".into();
        second.is_favorite = true;
        let b = f
            .tx(|tx, ctx| repo::create::<Story>(tx, ctx, second))
            .unwrap();

        let all = list(&f.conn, &StoryFilter::default(), 3).unwrap();
        assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), [b.id, a.id]);
        assert_eq!(all[1].hero_name.as_deref(), Some("Luna"));
        let by_hero = list(
            &f.conn,
            &StoryFilter {
                hero_id: Some(luna.id),
                favorites_only: false,
            },
            3,
        )
        .unwrap();
        assert_eq!(by_hero.len(), 1);
        let favs = list(
            &f.conn,
            &StoryFilter {
                hero_id: None,
                favorites_only: true,
            },
            3,
        )
        .unwrap();
        assert_eq!(favs.iter().map(|s| s.id).collect::<Vec<_>>(), [b.id]);
        // The outbox payload of the story names its hero: it waits for the hero's create.
        let e = &outbox::entries_for(&f.conn, EntityKind::Story, a.id).unwrap()[0];
        assert_eq!(
            Story::dependencies(&e.payload),
            [(EntityKind::Hero, luna.id)]
        );
    }

    #[test]
    fn deleting_an_unsent_hero_unlinks_its_stories_everywhere() {
        let mut f = Fixture::new();
        let luna = f.tx(|tx, ctx| heroes::create(tx, ctx, hero())).unwrap();
        let s = f
            .tx(|tx, ctx| repo::create::<Story>(tx, ctx, story(Some(luna.id))))
            .unwrap();
        f.tx(|tx, ctx| heroes::delete(tx, ctx, luna.id)).unwrap();
        let v = get(&f.conn, s.id, 3).unwrap();
        assert_eq!(v.hero_id, None);
        let e = &outbox::entries_for(&f.conn, EntityKind::Story, s.id).unwrap()[0];
        assert_eq!(
            e.payload["hero_id"],
            Value::Null,
            "the create no longer names the vanished hero"
        );
    }

    #[test]
    fn a_hero_pending_delete_shows_its_stories_unlinked_and_edits_keep_the_link() {
        let mut f = Fixture::new();
        let now = f.clock.now();
        let hero_rec = is_protocol::HeroRecord {
            id: Uuid::from_u128(1),
            version: 1,
            created_at: now,
            updated_at: now,
            deleted: false,
            name: "Max".into(),
            age: 5,
            traits: vec![HeroTrait::Kind],
            appearance: String::new(),
            special_ability: String::new(),
            avatar_url: None,
            avatar_generation_id: None,
        };
        entity::save(&f.conn, &SyncRow::<Hero>::from_server(&hero_rec, now, 0)).unwrap();
        let rec = StoryRecord {
            id: Uuid::from_u128(2),
            version: 3,
            created_at: now,
            updated_at: now,
            deleted: false,
            hero_id: Some(hero_rec.id),
            title: "Max".into(),
            content: "Text".into(),
            language: Language::De,
            event_type: Some(EventType::Birthday),
            custom_event_id: None,
            is_favorite: false,
            play_count: 4,
            last_played_at: None,
            audio_url: None,
            audio_duration: None,
        };
        entity::save(&f.conn, &SyncRow::<Story>::from_server(&rec, now, 0)).unwrap();
        f.tx(|tx, ctx| heroes::delete(tx, ctx, hero_rec.id))
            .unwrap();
        let v = get(&f.conn, rec.id, 3).unwrap();
        assert_eq!((v.hero_id, v.hero_name), (None, None));

        // The form sends hero_id: null; the stored link stays (the server unlinks it).
        let mut input = rec.input();
        input.hero_id = None;
        input.title = "Max's birthday".into();
        let row = f.tx(|tx, ctx| update(tx, ctx, rec.id, input)).unwrap();
        assert_eq!(row.fields.hero_id, Some(hero_rec.id));
        assert_eq!(
            outbox::entries_for(&f.conn, EntityKind::Story, rec.id).unwrap()[0].payload,
            serde_json::json!({"title": "Max's birthday"})
        );
    }

    #[test]
    fn plays_count_at_once_and_travel_as_increments() {
        let mut f = Fixture::new();
        let s = f
            .tx(|tx, ctx| repo::create::<Story>(tx, ctx, story(None)))
            .unwrap();
        let row = f
            .tx(|tx, ctx| repo::increment::<Story>(tx, ctx, s.id, 1))
            .unwrap();
        let row2 = f
            .tx(|tx, ctx| repo::increment::<Story>(tx, ctx, s.id, 1))
            .unwrap();
        assert_eq!((row.counter(), row2.counter()), (1, 2));
        assert_eq!(row2.server.last_played_at, Some(f.clock.now()));
        assert_eq!(
            row2.state.status(),
            SyncStatus::PendingCreate,
            "a play is not an edit"
        );
        let ops: Vec<_> = outbox::entries_for(&f.conn, EntityKind::Story, s.id)
            .unwrap()
            .iter()
            .map(|e| e.op)
            .collect();
        assert_eq!(ops, [EntryOp::Create, EntryOp::Increment]);
        assert_eq!(
            list(&f.conn, &StoryFilter::default(), 3).unwrap()[0].play_count,
            2
        );

        let fav = f.tx(|tx, ctx| set_favorite(tx, ctx, s.id, true)).unwrap();
        assert!(fav.fields.is_favorite);
        let e = outbox::entries_for(&f.conn, EntityKind::Story, s.id).unwrap();
        assert_eq!(
            e[0].payload["is_favorite"], true,
            "absorbed into the unsent create"
        );
    }
}
