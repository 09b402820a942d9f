//! `/api/heroes`: the REST face of heroes. Thin handlers over [`crate::store`].
//!
//! Every query is scoped to the signed-in user: another user's id answers 404, exactly
//! like an id that does not exist.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use is_protocol::{HeroInput, HeroPatch, HeroRecord, Page};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, Json, Path, Query};
use crate::store::{self, CreateOutcome, DeleteOutcome, ListFilter, UpdateOutcome};
use crate::AppState;

/// Page size of `GET /api/heroes` without `limit`.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Largest page of `GET /api/heroes`; larger `limit`s are clamped.
pub const MAX_LIST_LIMIT: usize = 1000;

const NO_SUCH_HERO: &str = "No such hero";

/// Query of `GET /api/heroes`. Everything is optional; empty values count as absent.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub updated_after: Option<String>,
    pub include_deleted: Option<String>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Encodes a list position (the last row's creation sequence number) as an opaque cursor.
pub fn encode_list_cursor(created_seq: i64) -> String {
    format!("h1.{created_seq}")
}

pub fn decode_list_cursor(s: &str) -> Option<i64> {
    s.strip_prefix("h1.")?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

fn parse_limit(v: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .map(|n| (n as usize).clamp(1, max))
            .map_err(|_| ApiError::BadRequest(format!("limit must be a whole number, got {s:?}"))),
    }
}

pub(crate) fn parse_bool(name: &str, v: Option<&str>) -> Result<bool, ApiError> {
    match v {
        None => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

/// `If-Match: <version>` (also `"3"` and `W/"3"`); `*` or no header means "any version".
pub fn parse_if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    crate::rest::parse_if_match(headers)
}

fn with_etag(status: StatusCode, hero: HeroRecord) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", hero.version))
        .expect("a number is a valid header value");
    (status, [(header::ETAG, etag)], axum::Json(hero)).into_response()
}

fn current_json(hero: &HeroRecord) -> serde_json::Value {
    serde_json::to_value(hero).expect("a hero always serializes")
}

/// `GET /api/heroes?cursor=&limit=&updated_after=&include_deleted=` → `Page<HeroRecord>`,
/// oldest first, keyset-paginated by creation order (see [`store::list_heroes`]).
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<HeroRecord>>, ApiError> {
    let after = match present(&params.cursor) {
        None => None,
        Some(c) => Some(
            decode_list_cursor(c)
                .ok_or_else(|| ApiError::BadRequest("cursor is not valid".to_owned()))?,
        ),
    };
    let limit = parse_limit(present(&params.limit), DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let updated_after = match present(&params.updated_after) {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadRequest(
                        "updated_after must be an RFC 3339 time such as 2025-01-31T20:00:00Z"
                            .to_owned(),
                    )
                })?,
        ),
    };
    let include_deleted = parse_bool("include_deleted", present(&params.include_deleted))?;
    let filter = ListFilter {
        after_created_seq: after,
        updated_after,
        include_deleted,
    };
    let user = auth.id();
    let mut rows = state
        .run(move |conn| Ok(store::list_heroes(conn, user, &filter, limit + 1)?))
        .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| encode_list_cursor(r.created_seq))
    } else {
        None
    };
    Ok(axum::Json(Page {
        items: rows.into_iter().map(|r| r.hero).collect(),
        next_cursor,
    }))
}

/// `POST /api/heroes`: a [`HeroInput`] plus an optional client-chosen `"id"` → 201.
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let serde_json::Value::Object(mut fields) = body else {
        return Err(ApiError::BadRequest("expected a JSON object".to_owned()));
    };
    let id = match fields.remove("id") {
        None | Some(serde_json::Value::Null) => Uuid::now_v7(),
        Some(v) => serde_json::from_value::<Uuid>(v)
            .map_err(|_| ApiError::BadRequest("id must be a UUID".to_owned()))?,
    };
    let input: HeroInput = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let outcome = store::create_hero(&tx, user, id, input, now)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await?;
    match outcome {
        CreateOutcome::Created(hero) => {
            let location = HeaderValue::from_str(&format!("/api/heroes/{}", hero.id))
                .expect("a path is a valid header value");
            let mut res = with_etag(StatusCode::CREATED, hero);
            res.headers_mut().insert(header::LOCATION, location);
            Ok(res)
        }
        CreateOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
        CreateOutcome::Exists(current) => Err(ApiError::Conflict {
            message: "A hero with this id already exists".to_owned(),
            current: Some(current_json(&current)),
        }),
        CreateOutcome::IdTaken => Err(ApiError::Conflict {
            message: "This id is already in use".to_owned(),
            current: None,
        }),
    }
}

/// `GET /api/heroes/{id}` → the hero (404 for a tombstone, a stranger's or a missing id).
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let hero = state
        .run(move |conn| Ok(store::get_hero(conn, user, id)?))
        .await?;
    match hero {
        Some(h) if !h.deleted => Ok(with_etag(StatusCode::OK, h)),
        _ => Err(ApiError::NotFound(NO_SUCH_HERO.to_owned())),
    }
}

/// `PATCH /api/heroes/{id}` with a [`HeroPatch`] and optional `If-Match: <version>`.
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(patch): Json<HeroPatch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let outcome = store::update_hero(&tx, user, id, expected, patch, now)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await?;
    match outcome {
        UpdateOutcome::Applied(h) | UpdateOutcome::Unchanged(h) => Ok(with_etag(StatusCode::OK, h)),
        UpdateOutcome::NotFound | UpdateOutcome::Deleted(_) => {
            Err(ApiError::NotFound(NO_SUCH_HERO.to_owned()))
        }
        UpdateOutcome::VersionMismatch(current) => Err(ApiError::PreconditionFailed {
            current: current_json(&current),
        }),
        UpdateOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

/// `DELETE /api/heroes/{id}` with optional `If-Match` → 204 (the row becomes a tombstone
/// that the change feed carries). Deleting a tombstone again is a no-op 204.
pub async fn delete(
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
            let outcome = store::delete_hero(&tx, user, id, expected, now)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await?;
    match outcome {
        DeleteOutcome::Deleted(_) | DeleteOutcome::AlreadyDeleted(_) => Ok(StatusCode::NO_CONTENT),
        DeleteOutcome::NotFound => Err(ApiError::NotFound(NO_SUCH_HERO.to_owned())),
        DeleteOutcome::VersionMismatch(current) => Err(ApiError::PreconditionFailed {
            current: current_json(&current),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_if_match(&h).unwrap(), None);
        for (raw, want) in [
            ("3", Some(3)),
            ("\"3\"", Some(3)),
            ("W/\"7\"", Some(7)),
            ("*", None),
        ] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(raw));
            assert_eq!(parse_if_match(&h).unwrap(), want, "{raw}");
        }
        h.insert(header::IF_MATCH, HeaderValue::from_static("abc"));
        assert!(parse_if_match(&h).is_err());
    }

    #[test]
    fn list_cursor_roundtrip() {
        assert_eq!(decode_list_cursor(&encode_list_cursor(42)), Some(42));
        assert_eq!(decode_list_cursor("h1.x"), None);
        assert_eq!(decode_list_cursor("h1.-3"), None);
        assert_eq!(decode_list_cursor("garbage"), None);
    }
}
