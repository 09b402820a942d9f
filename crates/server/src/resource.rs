//! The REST resources with one row type each (heroes, stories, custom events): a
//! [`Resource`] is a [`Table`] with its paths and store functions, and the generic
//! handlers here serve `POST` on the collection and `GET`, `PATCH`, `DELETE` on one row,
//! the same way for all of them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use is_protocol::Page;
use rusqlite::{Connection, Transaction};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, Json, Path};
use crate::rest::{
    page, parse_if_match, respond_create, respond_delete, respond_get, respond_update,
    split_create_body,
};
use crate::store::{CreateOutcome, DeleteOutcome, UpdateOutcome};
use crate::table::Table;
pub use crate::table::{CustomEvents, Heroes, Stories};
use crate::{event_store, store, story_store, AppState};

/// A REST resource over one [`Table`] of the user's synced rows.
pub trait Resource:
    Table<
        Record: JsonSchema + Send + 'static,
        Input: DeserializeOwned + JsonSchema + Send + 'static,
        Patch: DeserializeOwned + JsonSchema + Send + 'static,
    > + 'static
{
    /// The row in messages: "No such {WHAT}".
    const WHAT: &'static str;
    /// The collection path; `Location` is `{COLLECTION}/{id}`.
    const COLLECTION: &'static str;
    /// The path of one row: `{COLLECTION}/{id}`.
    const ITEM: &'static str;

    fn create(
        tx: &Transaction<'_>,
        user: Uuid,
        id: Uuid,
        input: Self::Input,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<CreateOutcome<Self::Record>>;
    fn update(
        tx: &Transaction<'_>,
        user: Uuid,
        id: Uuid,
        expected: Option<i64>,
        patch: Self::Patch,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<UpdateOutcome<Self::Record>>;
    fn delete(
        tx: &Transaction<'_>,
        user: Uuid,
        id: Uuid,
        expected: Option<i64>,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<DeleteOutcome<Self::Record>>;
}

macro_rules! resource {
    ($name:ident, $what:literal, $collection:literal, $create:path, $update:path, $delete:path) => {
        impl Resource for $name {
            const WHAT: &'static str = $what;
            const COLLECTION: &'static str = $collection;
            const ITEM: &'static str = concat!($collection, "/{id}");

            fn create(
                tx: &Transaction<'_>,
                user: Uuid,
                id: Uuid,
                input: Self::Input,
                now: DateTime<Utc>,
            ) -> rusqlite::Result<CreateOutcome<Self::Record>> {
                $create(tx, user, id, input, now)
            }
            fn update(
                tx: &Transaction<'_>,
                user: Uuid,
                id: Uuid,
                expected: Option<i64>,
                patch: Self::Patch,
                now: DateTime<Utc>,
            ) -> rusqlite::Result<UpdateOutcome<Self::Record>> {
                $update(tx, user, id, expected, patch, now)
            }
            fn delete(
                tx: &Transaction<'_>,
                user: Uuid,
                id: Uuid,
                expected: Option<i64>,
                now: DateTime<Utc>,
            ) -> rusqlite::Result<DeleteOutcome<Self::Record>> {
                $delete(tx, user, id, expected, now)
            }
        }
    };
}

resource!(
    Heroes,
    "hero",
    "/api/heroes",
    store::create_hero,
    store::update_hero,
    store::delete_hero
);
resource!(
    Stories,
    "story",
    "/api/stories",
    story_store::create_story,
    story_store::update_story,
    story_store::delete_story
);
resource!(
    CustomEvents,
    "custom event",
    "/api/custom-events",
    event_store::create_event,
    event_store::update_event,
    event_store::delete_event
);

/// Runs `f` in a transaction on the database thread and commits what it returns.
pub async fn in_tx<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
{
    state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let o = f(&tx)?;
            tx.commit()?;
            Ok(o)
        })
        .await
}

/// A page of a REST list: `fetch` reads the user's rows (at most the count it is given,
/// `limit + 1` to tell whether there is a next page), `key` is a row's keyset position
/// (behind the cursor `prefix`) and `item` what the page shows of it.
pub async fn list_page<S, T, F>(
    state: &AppState,
    user: Uuid,
    limit: usize,
    prefix: char,
    fetch: F,
    key: impl Fn(&S) -> i64,
    item: impl Fn(S) -> T,
) -> Result<axum::Json<Page<T>>, ApiError>
where
    S: Send + 'static,
    F: FnOnce(&Connection, Uuid, usize) -> rusqlite::Result<Vec<S>> + Send + 'static,
{
    let rows = state
        .run(move |conn| Ok(fetch(conn, user, limit + 1)?))
        .await?;
    Ok(axum::Json(page(rows, limit, prefix, key, item)))
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
    let outcome = in_tx(&state, move |tx| R::create(tx, user, id, input, now)).await?;
    respond_create(outcome, R::COLLECTION, R::WHAT)
}

/// `GET {COLLECTION}/{id}` → the row (404 for a tombstone, a stranger's or a missing id).
pub async fn get<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let row = state.run(move |conn| Ok(R::get(conn, user, id)?)).await?;
    respond_get(row, R::WHAT)
}

/// `PATCH {COLLECTION}/{id}` with the patch and optional `If-Match: <version>`.
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
        R::update(tx, user, id, expected, patch, now)
    })
    .await?;
    respond_update(outcome, R::WHAT)
}

/// `DELETE {COLLECTION}/{id}` with optional `If-Match` → 204 (the row becomes a
/// tombstone that the change feed carries; a tombstone again is a no-op 204).
pub async fn delete<R: Resource>(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = in_tx(&state, move |tx| R::delete(tx, user, id, expected, now)).await?;
    respond_delete(outcome, R::WHAT)
}
