//! `/api/stories` and `/api/custom-events`: the REST faces of stories and custom events.
//! Lists and counters here; create, get, change and delete are the generic handlers of
//! [`crate::resource`]. Thin handlers over [`crate::story_store`] and
//! [`crate::event_store`]; every query is scoped to the signed-in user (another user's id
//! answers 404, like a missing one).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use is_protocol::{CustomEventRecord, IllustrationRecord, Page, StoryRecord};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, Path, Query};
use crate::event_store::{self, EventFilter};
use crate::resource::{in_tx, list_page, CustomEvents, Resource, Stories};
use crate::rest::{
    parse_bool, parse_limit, parse_list_cursor, parse_opt_bool, parse_updated_after,
    parse_uuid_param, present, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT,
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

const STORY: &str = Stories::WHAT;
const EVENT: &str = CustomEvents::WHAT;

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
    let fetch = move |conn: &_, user, n| story_store::list_stories(conn, user, &filter, n);
    list_page(
        &state,
        auth.id(),
        limit,
        's',
        fetch,
        |r| r.created_seq,
        |r| r.story,
    )
    .await
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
    let outcome = in_tx(&state, move |tx| {
        story_store::increment_story(tx, user, id, &counters, now)
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
    let fetch = move |conn: &_, user, n| event_store::list_events(conn, user, &filter, n);
    list_page(
        &state,
        auth.id(),
        limit,
        'e',
        fetch,
        |r| r.created_seq,
        |r| r.event,
    )
    .await
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
    let outcome = in_tx(&state, move |tx| {
        event_store::increment_event(tx, user, id, &counters, now)
    })
    .await?;
    increment_response(outcome, EVENT)
}
