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
use is_protocol::{EntityKind, EventType, FieldError, Language};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use is_protocol::{Story, StoryInput, StoryServer};

use crate::entity::store::{self as entity, Columns, UuidText};
use crate::entity::{
    like_pattern, Collection, ConflictStrategy, Favorite, Page, RowSync, SyncEntity, SyncRow,
    Window,
};
use crate::error::Result;
use crate::outbox;
use crate::policy::CachePolicy;
use crate::repo;
use crate::sync::state::{PendingOp, SyncState};

pub type StoryRow = SyncRow<Story>;

/// Content (title, text) asks the user; metadata merges (the newer edit wins a field both
/// changed): the merge rules are in the protocol's field list.
impl SyncEntity for Story {
    const STRATEGY: ConflictStrategy = ConflictStrategy::Merge;
    const POLICY: CachePolicy = CachePolicy::CacheFirst;
    const PROMPT_FALLBACK: bool = true;

    type View = StoryView;

    fn path(id: Uuid) -> String {
        format!("/api/stories/{id}")
    }

    fn view(conn: &Connection, row: &StoryRow, max_attempts: u32) -> Result<StoryView> {
        view(conn, row, max_attempts)
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

    /// A form shows no hero the user cannot see (deleted, or not pulled yet): an edit
    /// without a hero keeps that one.
    fn complete_edit(
        conn: &Connection,
        current: &StoryInput,
        mut input: StoryInput,
    ) -> Result<StoryInput> {
        if let (None, Some(h)) = (input.hero_id, current.hero_id) {
            if !repo::is_visible(conn, EntityKind::Hero, h)? {
                input.hero_id = Some(h);
            }
        }
        Ok(input)
    }

    fn on_removed(conn: &Connection, id: Uuid) -> Result<()> {
        repo::illustrations::delete_for_story(conn, id)
    }
}

impl Favorite for Story {
    fn favorite(input: &mut StoryInput) -> &mut bool {
        &mut input.is_favorite
    }
}

impl Collection for Story {
    type Filter = StoryFilter;
    type Summary = StorySummary;

    fn page(
        conn: &Connection,
        filter: &StoryFilter,
        window: Window,
        max_attempts: u32,
    ) -> Result<Page<StorySummary>> {
        page(conn, filter, window, max_attempts)
    }
}

/// A story as the reader shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoryView {
    pub id: Uuid,
    /// The story's hero while that hero exists (a deleted hero's stories are unlinked).
    pub hero_id: Option<Uuid>,
    pub hero_name: Option<String>,
    pub title: String,
    /// Plain text; never to be rendered as HTML.
    pub content: String,
    pub language: Language,
    pub event_type: Option<EventType>,
    pub custom_event_id: Option<Uuid>,
    pub is_favorite: bool,
    /// The server's count plus plays not yet confirmed by it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub play_count: i64,
    pub last_played_at: Option<DateTime<Utc>>,
    pub audio_url: Option<String>,
    pub audio_duration: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// A story as a list row shows it: no full text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StorySummary {
    pub id: Uuid,
    pub hero_id: Option<Uuid>,
    pub hero_name: Option<String>,
    pub title: String,
    /// The first characters of the text.
    pub excerpt: String,
    pub language: Language,
    pub event_type: Option<EventType>,
    pub custom_event_id: Option<Uuid>,
    pub is_favorite: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub play_count: i64,
    pub last_played_at: Option<DateTime<Utc>>,
    pub has_audio: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync: RowSync,
}

/// Which stories a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoryFilter {
    #[serde(default)]
    pub hero_id: Option<Uuid>,
    #[serde(default)]
    pub favorites_only: bool,
    /// Stories whose title or text contains this (any case).
    #[serde(default)]
    pub text: Option<String>,
}

/// What "generate a story" asks the server for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GenerateStoryInput {
    pub hero_id: Uuid,
    #[serde(default)]
    pub event_type: Option<EventType>,
    #[serde(default)]
    pub custom_event_id: Option<Uuid>,
    pub language: Language,
    /// Medium when absent.
    #[serde(default)]
    pub length: Option<is_protocol::StoryLength>,
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

/// The filter of a story list, as SQL over `stories s`: `?1` hero, `?2` favourites only,
/// `?3` the text pattern (`NULL` here: no text search). It names only columns of the
/// `stories_by_created` index, so the count and the window never read a row.
const STORY_FILTER: &str = "s.sync_status <> 'pending_delete'
           AND (?1 IS NULL OR s.hero_id = ?1)
           AND (?2 = 0 OR s.is_favorite = 1)
           AND ?3 IS NULL";

/// [`STORY_FILTER`] with a text search: `?3` in the title or the text (rows are read).
const STORY_FILTER_TEXT: &str = "s.sync_status <> 'pending_delete'
           AND (?1 IS NULL OR s.hero_id = ?1)
           AND (?2 = 0 OR s.is_favorite = 1)
           AND (s.title LIKE ?3 ESCAPE '\\' OR s.content LIKE ?3 ESCAPE '\\')";

/// Visible stories, newest first (along the `stories_by_created` index), for the list
/// (without the full text).
pub fn page(
    conn: &Connection,
    filter: &StoryFilter,
    window: Window,
    max_attempts: u32,
) -> Result<Page<StorySummary>> {
    let hero = filter.hero_id.map(UuidText::new);
    let text = like_pattern(filter.text.as_deref());
    let where_ = if text.is_some() {
        STORY_FILTER_TEXT
    } else {
        STORY_FILTER
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM stories s WHERE {where_}"))?
        .query_row(params![hero, filter.favorites_only, text], |r| r.get(0))?;
    // The window is cut from `stories` alone (walking `stories_by_created` backwards and
    // stopping after it), then joined: a sort or join first would read all 10,000 rows
    // and their text for a window of 120.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.id AS id, h.id AS hero_id, h.name AS hero_name, s.title AS title,
                substr(s.content, 1, 160) AS excerpt, s.language AS language,
                s.event_type AS event_type, s.custom_event_id AS custom_event_id,
                s.is_favorite AS is_favorite, s.play_count + s.pending_increment AS play_count,
                s.last_played_at AS last_played_at, s.audio_url IS NOT NULL AS has_audio,
                s.created_at AS created_at, s.updated_at AS updated_at,
                s.sync_status AS sync_status, s.sync_op AS sync_op, s.sync_error AS sync_error,
                s.attempts AS attempts, s.next_attempt_at AS next_attempt_at,
                s.base_version AS base_version, s.last_synced_at AS last_synced_at
         FROM (SELECT rowid AS r FROM stories s
               WHERE {where_}
               ORDER BY s.created_at DESC, s.id DESC
               LIMIT ?4 OFFSET ?5) w
         JOIN stories s ON s.rowid = w.r
         LEFT JOIN heroes h ON h.id = s.hero_id AND h.sync_status <> 'pending_delete'
         ORDER BY s.created_at DESC, s.id DESC"
    ))?;
    let columns = Columns::of(&stmt);
    let rows = stmt.query_map(
        params![
            hero,
            filter.favorites_only,
            text,
            window.limit,
            window.offset
        ],
        |r| Ok(summary_from_row(&columns, r, max_attempts)),
    )?;
    Ok(Page {
        total: u32::try_from(total).unwrap_or(u32::MAX),
        offset: window.offset,
        rows: rows.map(|r| r?).collect::<Result<_>>()?,
    })
}

/// One list row, read by column name.
fn summary_from_row(c: &Columns, r: &Row<'_>, max_attempts: u32) -> Result<StorySummary> {
    let state = SyncState::from_columns(
        &c.get::<String>(r, "sync_status")?,
        c.get::<Option<String>>(r, "sync_op")?.as_deref(),
    )
    .ok_or_else(|| c.corrupt(r, "sync_status"))?;
    let attempts = u32::try_from(c.get::<i64>(r, "attempts")?).unwrap_or(0);
    Ok(StorySummary {
        id: c.get(r, "id")?,
        hero_id: c.get(r, "hero_id")?,
        hero_name: c.get(r, "hero_name")?,
        title: c.get(r, "title")?,
        excerpt: c.get(r, "excerpt")?,
        language: c.get(r, "language")?,
        event_type: c.get(r, "event_type")?,
        custom_event_id: c.get(r, "custom_event_id")?,
        is_favorite: c.get(r, "is_favorite")?,
        play_count: c.get(r, "play_count")?,
        last_played_at: c.get(r, "last_played_at")?,
        has_audio: c.get(r, "has_audio")?,
        created_at: c.get(r, "created_at")?,
        updated_at: c.get(r, "updated_at")?,
        sync: RowSync {
            status: state.status(),
            op: state.op(),
            error: c.get(r, "sync_error")?,
            attempts,
            given_up: matches!(state, SyncState::Failed(_)) && attempts >= max_attempts,
            next_attempt_at: c.get(r, "next_attempt_at")?,
            version: c.get(r, "base_version")?,
            last_synced_at: c.get(r, "last_synced_at")?,
        },
    })
}

/// An edit from a form that showed the story unlinked because its hero is not visible
/// keeps the stored link: only the server unlinks a story from a hero that still exists.
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
    use crate::clock::Clock;
    use crate::error::CoreError;
    use crate::outbox::EntryOp;
    use crate::repo::fixture::Fixture;
    use crate::repo::heroes::Hero;
    use crate::repo::Ctx;
    use crate::sync::state::SyncStatus;
    use is_protocol::StoryRecord;
    use is_protocol::{HeroInput, HeroTrait};

    // The generic repository, for stories and their heroes.
    fn get(conn: &Connection, id: Uuid, max_attempts: u32) -> Result<StoryView> {
        view(conn, &repo::get_visible::<Story>(conn, id)?, max_attempts)
    }
    fn update(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, input: StoryInput) -> Result<StoryRow> {
        repo::update::<Story>(tx, ctx, id, input)
    }
    fn set_favorite(tx: &Connection, ctx: &Ctx<'_>, id: Uuid, on: bool) -> Result<StoryRow> {
        repo::set_favorite::<Story>(tx, ctx, id, on)
    }
    mod heroes {
        use super::*;
        pub fn create(tx: &Connection, ctx: &Ctx<'_>, input: HeroInput) -> Result<SyncRow<Hero>> {
            repo::create::<Hero>(tx, ctx, input)
        }
        pub fn delete(tx: &Connection, ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
            repo::delete::<Hero>(tx, ctx, id).map(drop)
        }
    }

    fn hero() -> HeroInput {
        HeroInput {
            name: "Luna".into(),
            age: 6,
            traits: vec![HeroTrait::Brave],
            appearance: String::new(),
            special_ability: String::new(),
            ..Default::default()
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
            ..Default::default()
        }
    }

    #[test]
    fn create_validates_against_the_cache_and_lists_newest_first() {
        let mut f = Fixture::new(3);
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

        let all = Story::list(&f.conn, &StoryFilter::default(), 3).unwrap();
        assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), [b.id, a.id]);
        assert_eq!(all[1].hero_name.as_deref(), Some("Luna"));
        let by_hero = Story::list(
            &f.conn,
            &StoryFilter {
                hero_id: Some(luna.id),
                ..Default::default()
            },
            3,
        )
        .unwrap();
        assert_eq!(by_hero.len(), 1);
        let favs = Story::list(
            &f.conn,
            &StoryFilter {
                favorites_only: true,
                ..Default::default()
            },
            3,
        )
        .unwrap();
        assert_eq!(favs.iter().map(|s| s.id).collect::<Vec<_>>(), [b.id]);
        let text = |t: &str| {
            let filter = StoryFilter {
                text: Some(t.into()),
                ..Default::default()
            };
            Story::list(&f.conn, &filter, 3)
                .unwrap()
                .iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(text("moon"), [a.id], "title, any case");
        assert_eq!(text("  "), [b.id, a.id], "a blank search is no filter");
        assert_eq!(text("%"), [] as [Uuid; 0], "% is literal");
        // The outbox payload of the story names its hero: it waits for the hero's create.
        let e = &outbox::entries_for(&f.conn, EntityKind::Story, a.id).unwrap()[0];
        assert_eq!(
            Story::dependencies(&e.payload),
            [(EntityKind::Hero, luna.id)]
        );
    }

    /// How SQLite runs `sql` (the `detail` column of `EXPLAIN QUERY PLAN`).
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let all: [&dyn rusqlite::ToSql; 5] = [&None::<String>, &false, &None::<String>, &120, &0];
        let n = stmt.parameter_count();
        let rows = stmt
            .query_map(&all[..n], |r| r.get::<_, String>("detail"))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn the_list_counts_and_cuts_its_window_from_the_index_alone() {
        let f = Fixture::new(3);
        let count = plan(
            &f.conn,
            &format!("SELECT count(*) FROM stories s WHERE {STORY_FILTER}"),
        );
        assert!(
            count.contains("COVERING INDEX stories_by_created"),
            "the count reads every story's row: {count}"
        );
        let window = plan(
            &f.conn,
            &format!(
                "SELECT rowid FROM stories s WHERE {STORY_FILTER}
                 ORDER BY s.created_at DESC, s.id DESC LIMIT ?4 OFFSET ?5"
            ),
        );
        assert!(
            window.contains("COVERING INDEX stories_by_created") && !window.contains("TEMP B-TREE"),
            "the window reads rows or sorts: {window}"
        );
    }

    #[test]
    fn a_page_is_a_window_of_the_list_and_counts_every_match() {
        let mut f = Fixture::new(3);
        let mut ids = Vec::new();
        for i in 0..25 {
            f.clock.advance(chrono::Duration::seconds(1));
            let mut s = story(None);
            s.title = format!("Story {i:02}");
            s.is_favorite = i % 5 == 0;
            ids.push(
                f.tx(|tx, ctx| repo::create::<Story>(tx, ctx, s))
                    .unwrap()
                    .id,
            );
        }
        ids.reverse(); // newest first
        let window = |offset, limit| Window { offset, limit };
        let p = page(&f.conn, &StoryFilter::default(), window(10, 10), 3).unwrap();
        assert_eq!((p.total, p.offset), (25, 10));
        assert_eq!(p.rows.iter().map(|s| s.id).collect::<Vec<_>>(), ids[10..20]);
        let end = page(&f.conn, &StoryFilter::default(), window(20, 10), 3).unwrap();
        assert_eq!(end.rows.len(), 5);
        let past = page(&f.conn, &StoryFilter::default(), window(40, 10), 3).unwrap();
        assert_eq!((past.total, past.rows.len()), (25, 0));
        let favs = StoryFilter {
            favorites_only: true,
            ..Default::default()
        };
        let p = page(&f.conn, &favs, window(1, 2), 3).unwrap();
        assert_eq!(p.total, 5, "the count is of the filtered list");
        assert_eq!(p.rows.len(), 2);
        // A deleted story leaves the count at once.
        f.tx(|tx, ctx| repo::delete::<Story>(tx, ctx, ids[0]))
            .unwrap();
        let p = page(&f.conn, &StoryFilter::default(), window(0, 1), 3).unwrap();
        assert_eq!((p.total, p.rows[0].id), (24, ids[1]));
    }

    #[test]
    fn deleting_an_unsent_hero_unlinks_its_stories_everywhere() {
        let mut f = Fixture::new(3);
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
        let mut f = Fixture::new(3);
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
            ..Default::default()
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
            ..Default::default()
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
        let mut f = Fixture::new(3);
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
            Story::list(&f.conn, &StoryFilter::default(), 3).unwrap()[0].play_count,
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
