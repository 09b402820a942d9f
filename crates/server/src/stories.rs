//! `/api/stories` and `/api/custom-events`: the REST faces of stories and custom events.
//! Thin handlers over [`crate::story_store`] and [`crate::event_store`]; every query is
//! scoped to the signed-in user (another user's id answers 404, like a missing one).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use is_protocol::{
    CustomEventInput, CustomEventPatch, CustomEventRecord, IllustrationRecord, Page, StoryInput,
    StoryPatch, StoryRecord,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, Json, Path, Query};
use crate::event_store::{self, EventFilter};
use crate::rest::{
    encode_list_cursor, parse_bool, parse_if_match, parse_limit, parse_list_cursor, parse_opt_bool,
    parse_updated_after, parse_uuid_param, present, respond_create, respond_delete, respond_get,
    respond_update, split_create_body, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT,
};
use crate::story_store::{self, StoryFilter};
use crate::AppState;

/// Query of the list endpoints. Everything is optional; empty values count as absent.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub updated_after: Option<String>,
    pub include_deleted: Option<String>,
    /// Stories only: only this hero's stories.
    pub hero_id: Option<String>,
    /// `true`: only favourites; `false`: only the others.
    pub favorite: Option<String>,
}

const STORY: &str = "story";
const EVENT: &str = "custom event";

fn page<T, R>(
    mut rows: Vec<R>,
    limit: usize,
    prefix: char,
    key: impl Fn(&R) -> i64,
    item: impl Fn(R) -> T,
) -> Page<T> {
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| encode_list_cursor(prefix, key(r)))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(item).collect(),
        next_cursor,
    }
}

/// `GET /api/stories?cursor=&limit=&updated_after=&include_deleted=&hero_id=&favorite=`
/// → `Page<StoryRecord>`, oldest first, keyset-paginated by creation order.
pub async fn list_stories(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<StoryRecord>>, ApiError> {
    let filter = StoryFilter {
        after_created_seq: parse_list_cursor('s', present(&params.cursor))?,
        updated_after: parse_updated_after(present(&params.updated_after))?,
        include_deleted: parse_bool("include_deleted", present(&params.include_deleted))?,
        hero_id: parse_uuid_param("hero_id", present(&params.hero_id))?,
        favorite: parse_opt_bool("favorite", present(&params.favorite))?,
    };
    let limit = parse_limit(present(&params.limit), DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let user = auth.id();
    let rows = state
        .run(move |conn| Ok(story_store::list_stories(conn, user, &filter, limit + 1)?))
        .await?;
    Ok(axum::Json(page(
        rows,
        limit,
        's',
        |r| r.created_seq,
        |r| r.story,
    )))
}

/// `POST /api/stories`: a [`StoryInput`] plus an optional client-chosen `"id"` → 201.
pub async fn create_story(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (id, fields) = split_create_body(body)?;
    let input: StoryInput =
        serde_json::from_value(fields).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = story_store::create_story(&tx, user, id, input, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_create(outcome, "/api/stories", STORY)
}

/// `GET /api/stories/{id}` → the story (404 for a tombstone, a stranger's or a missing id).
pub async fn get_story(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let row = state
        .run(move |conn| Ok(story_store::get_story(conn, user, id)?))
        .await?;
    respond_get(row, STORY)
}

/// `PATCH /api/stories/{id}` with a [`StoryPatch`] and optional `If-Match: <version>`.
pub async fn update_story(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(patch): Json<StoryPatch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = story_store::update_story(&tx, user, id, expected, patch, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_update(outcome, STORY)
}

/// `DELETE /api/stories/{id}` with optional `If-Match` → 204 (the story and its
/// illustrations become tombstones).
pub async fn delete_story(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = story_store::delete_story(&tx, user, id, expected, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_delete(outcome, STORY)
}

/// `POST /api/stories/{id}/play` → the story with `play_count + 1` and `last_played_at`
/// now (the REST twin of an increment mutation; never conflicts).
pub async fn play_story(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let now = state.now();
    let counters = [("play_count".to_owned(), 1)].into_iter().collect();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = story_store::increment_story(&tx, user, id, &counters, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    increment_response(outcome, STORY)
}

fn increment_response<T: crate::rest::Versioned>(
    outcome: crate::store::IncrementOutcome<T>,
    what: &str,
) -> Result<Response, ApiError> {
    use crate::store::IncrementOutcome;
    match outcome {
        IncrementOutcome::Applied(row) => Ok(crate::rest::with_etag(
            StatusCode::OK,
            row.row_version(),
            &row,
        )),
        IncrementOutcome::NotFound | IncrementOutcome::Tombstone(_) => {
            Err(ApiError::NotFound(format!("No such {what}")))
        }
        IncrementOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

/// `GET /api/stories/{id}/illustrations` → the story's live illustrations in display
/// order (`Page` without a cursor: a story has at most five).
pub async fn list_illustrations(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Page<IllustrationRecord>>, ApiError> {
    let user = auth.id();
    let items = state
        .run(move |conn| {
            match story_store::get_story(conn, user, id)? {
                Some(s) if !s.deleted => {}
                _ => return Err(ApiError::NotFound(format!("No such {STORY}"))),
            }
            Ok(crate::illustration_store::list_for_story(conn, user, id)?)
        })
        .await?;
    Ok(axum::Json(Page {
        items,
        next_cursor: None,
    }))
}

// ---------------------------------------------------------------------------------------
// Custom events

/// `GET /api/custom-events?cursor=&limit=&updated_after=&include_deleted=&favorite=`.
pub async fn list_events(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<CustomEventRecord>>, ApiError> {
    if present(&params.hero_id).is_some() {
        return Err(ApiError::BadRequest(
            "hero_id is not a filter of custom events".to_owned(),
        ));
    }
    let filter = EventFilter {
        after_created_seq: parse_list_cursor('e', present(&params.cursor))?,
        updated_after: parse_updated_after(present(&params.updated_after))?,
        include_deleted: parse_bool("include_deleted", present(&params.include_deleted))?,
        favorite: parse_opt_bool("favorite", present(&params.favorite))?,
    };
    let limit = parse_limit(present(&params.limit), DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let user = auth.id();
    let rows = state
        .run(move |conn| Ok(event_store::list_events(conn, user, &filter, limit + 1)?))
        .await?;
    Ok(axum::Json(page(
        rows,
        limit,
        'e',
        |r| r.created_seq,
        |r| r.event,
    )))
}

/// `POST /api/custom-events`: a [`CustomEventInput`] plus an optional `"id"` → 201.
pub async fn create_event(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (id, fields) = split_create_body(body)?;
    let input: CustomEventInput =
        serde_json::from_value(fields).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = event_store::create_event(&tx, user, id, input, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_create(outcome, "/api/custom-events", EVENT)
}

pub async fn get_event(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let row = state
        .run(move |conn| Ok(event_store::get_event(conn, user, id)?))
        .await?;
    respond_get(row, EVENT)
}

pub async fn update_event(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(patch): Json<CustomEventPatch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = event_store::update_event(&tx, user, id, expected, patch, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_update(outcome, EVENT)
}

pub async fn delete_event(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = event_store::delete_event(&tx, user, id, expected, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    respond_delete(outcome, EVENT)
}

/// `POST /api/custom-events/{id}/use` → the event with `usage_count + 1`.
pub async fn use_event(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let now = state.now();
    let counters = [("usage_count".to_owned(), 1)].into_iter().collect();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = event_store::increment_event(&tx, user, id, &counters, now)?;
            tx.commit()?;
            Ok(o)
        })
        .await?;
    increment_response(outcome, EVENT)
}
