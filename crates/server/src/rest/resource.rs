//! The REST resources of the synced entities with a collection (heroes, stories, custom
//! events): a [`Resource`] is a [`Table`] with its paths and list filters, and the
//! generic handlers here serve the collection (`GET` a page, `POST`) and one row (`GET`,
//! `PATCH`, `DELETE`, counters) the same way for all of them, over the generic write path
//! of [`crate::table`].
//!
//! Every query is scoped to the signed-in user: another user's id answers 404, exactly
//! like an id that does not exist.

use crate::sql::Transaction;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use is_protocol::entity::Cell;
use is_protocol::Page;
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    page, parse_bool, parse_if_match, parse_limit, parse_list_cursor, parse_updated_after, present,
    respond_create, respond_delete, respond_get, respond_increment, respond_update,
    split_create_body, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT,
};
use crate::auth::AuthUser;
use crate::error::{ApiError, Json, Path, Query};
use crate::table::{self, ListFilter, Table};
use crate::AppState;

/// The REST face of a [`Table`]. Rows are named by [`is_protocol::Entity::LABEL`] in
/// messages ("No such hero").
pub trait Resource:
    Table<Record: JsonSchema, Input: JsonSchema, Patch: JsonSchema> + 'static
{
    /// The collection path; `Location` is `{COLLECTION}/{id}`.
    const COLLECTION: &'static str;
    /// The path of one row: `{COLLECTION}/{id}`.
    const ITEM: &'static str;
    /// The first character of the list's cursors.
    const CURSOR: char;
    /// The query parameters of the list (documented in the OpenAPI document).
    const LIST_QUERY: &'static [&'static str];

    /// The list's filters beyond cursor, limit, `updated_after` and `include_deleted`:
    /// field columns and the value they must have.
    fn list_filters(_params: &ListParams) -> Result<Vec<(&'static str, Cell<'static>)>, ApiError> {
        Ok(Vec::new())
    }
}

/// The query parameters every list shares.
pub const LIST_QUERY: &[&str] = &["cursor", "limit", "updated_after", "include_deleted"];

/// Query of the list endpoints. Everything is optional; empty values count as absent,
/// parameters a list does not know are ignored.
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

/// Runs the write `f` in the next group commit ([`AppState::write`]) and answers what it
/// returns once it is durable.
pub async fn in_tx<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> crate::sql::Result<T> + Send + 'static,
{
    state.write(move |tx| Ok(f(tx)?)).await
}

/// `GET {COLLECTION}?cursor=&limit=&updated_after=&include_deleted=…` → a page of rows,
/// oldest first, keyset-paginated by creation order (see [`table::list`]).
pub async fn list<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<R::Record>>, ApiError> {
    let filter = ListFilter {
        after_created_seq: parse_list_cursor(R::CURSOR, present(&params.cursor))?,
        updated_after: parse_updated_after(present(&params.updated_after))?,
        include_deleted: parse_bool("include_deleted", present(&params.include_deleted))?,
        equals: R::list_filters(&params)?,
    };
    let limit = parse_limit(present(&params.limit), DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let user = auth.id();
    let rows = state
        .read(move |conn| Ok(table::list::<R>(conn, user, &filter, limit + 1)?))
        .await?;
    Ok(axum::Json(page(
        rows,
        limit,
        R::CURSOR,
        |r| r.created_seq,
        |r| r.record,
    )))
}

/// `POST {COLLECTION}`: the input plus an optional client-chosen `"id"` → 201.
pub async fn create<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (id, fields) = split_create_body(body)?;
    let input: R::Input =
        serde_json::from_value(fields).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user = auth.id();
    let now = state.now();
    let outcome = in_tx(&state, move |tx| {
        table::create::<R>(tx, user, id, input, now)
    })
    .await?;
    respond_create::<R>(outcome, R::COLLECTION)
}

/// `GET {ITEM}` → the row (404 for a tombstone, a stranger's or a missing id).
pub async fn get<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let row = state
        .read(move |conn| Ok(table::get::<R>(conn, user, id)?))
        .await?;
    respond_get::<R>(row, R::LABEL)
}

/// `PATCH {ITEM}` with the patch and optional `If-Match: <version>`.
pub async fn update<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(patch): Json<R::Patch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = in_tx(&state, move |tx| {
        table::update::<R>(tx, user, id, expected, patch, now)
    })
    .await?;
    respond_update::<R>(outcome, R::LABEL)
}

/// `DELETE {ITEM}` with optional `If-Match` → 204 (the row becomes a tombstone that the
/// change feed carries; a tombstone again is a no-op 204).
pub async fn delete<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = in_tx(&state, move |tx| {
        table::delete::<R>(tx, user, id, expected, now)
    })
    .await?;
    respond_delete::<R>(outcome)
}

/// `POST {ITEM}/play`, `POST {ITEM}/use`, …: adds one to each of the entity's counters
/// (the REST twin of an increment mutation; never conflicts) → the row.
pub async fn count<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let now = state.now();
    let counters = R::COUNTERS.iter().map(|c| ((*c).to_owned(), 1)).collect();
    let outcome = in_tx(&state, move |tx| {
        table::increment::<R>(tx, user, id, &counters, now)
    })
    .await?;
    respond_increment::<R>(outcome)
}
