//! The REST face of the synced entities: [`resource`] serves every entity the same way
//! (create, get, change, delete, list, counters), [`heroes`], [`stories`] and
//! [`custom_events`] say what differs (paths, list filters), [`profile`] serves
//! `/api/users/me` and `/api/usage`. Storage is the generic table ([`crate::table`]).
//!
//! This module has what they share: query parsing, `If-Match`, `ETag`, keyset cursors,
//! and the mapping of write outcomes to HTTP answers.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use is_protocol::{Entity, Page};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{parse_whole_query, ApiError};
use crate::table::{CreateOutcome, DeleteOutcome, IncrementOutcome, UpdateOutcome};

pub mod custom_events;
pub mod heroes;
pub mod profile;
pub mod resource;
pub mod stories;

/// Page size of the REST lists without `limit`.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Largest page of the REST lists; larger `limit`s are clamped.
pub const MAX_LIST_LIMIT: usize = 1000;

/// A query value, with empty values counting as absent.
pub fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `limit`: a whole number (`10`, also `10.0`), clamped to 1..=`max`; `default` when
/// absent.
pub fn parse_limit(v: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => parse_whole_query(s)
            .map(|n| (n.min(usize::MAX as u64) as usize).clamp(1, max))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit must be a whole number, got {s:?}"))
            }),
    }
}

pub fn parse_bool(name: &str, v: Option<&str>) -> Result<bool, ApiError> {
    Ok(parse_opt_bool(name, v)?.unwrap_or(false))
}

pub fn parse_opt_bool(name: &str, v: Option<&str>) -> Result<Option<bool>, ApiError> {
    match v {
        None => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

pub fn parse_uuid_param(name: &str, v: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    v.map(|s| {
        Uuid::parse_str(s).map_err(|_| ApiError::BadRequest(format!("{name} must be a UUID")))
    })
    .transpose()
}

pub fn parse_updated_after(v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::BadRequest(
                    "updated_after must be an RFC 3339 time such as 2025-01-31T20:00:00Z"
                        .to_owned(),
                )
            })
    })
    .transpose()
}

/// `If-Match: <version>` (also `"3"` and `W/"3"`); `*` or no header means "any version".
pub fn parse_if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest("If-Match must be a row version such as \"3\"".to_owned());
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .trim();
    // At most 18 digits, as the OpenAPI document's pattern says (versions never get near).
    let digits = text.trim_start_matches(['+', '-']);
    if digits.len() > IF_MATCH_MAX_DIGITS {
        return Err(bad());
    }
    text.parse::<i64>().map(Some).map_err(|_| bad())
}

/// Longest row version `If-Match` takes, in digits.
pub const IF_MATCH_MAX_DIGITS: usize = 18;

/// A JSON answer with `ETag: "<version>"`.
pub fn with_etag<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let etag =
        HeaderValue::from_str(&format!("\"{version}\"")).expect("a number is a valid header value");
    (status, [(header::ETAG, etag)], axum::Json(body)).into_response()
}

/// An opaque list cursor: `<prefix>1.<created_seq>`.
pub fn encode_list_cursor(prefix: char, created_seq: i64) -> String {
    format!("{prefix}1.{created_seq}")
}

pub fn decode_list_cursor(prefix: char, s: &str) -> Option<i64> {
    s.strip_prefix(prefix)?
        .strip_prefix("1.")?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

pub fn parse_list_cursor(prefix: char, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|c| {
        decode_list_cursor(prefix, c)
            .ok_or_else(|| ApiError::BadRequest("cursor is not valid".to_owned()))
    })
    .transpose()
}

/// A page of at most `limit` rows out of `rows` (fetched with one extra to tell whether
/// there is a next page), with the cursor of its last row when there is.
pub fn page<T, R>(
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

/// Splits a create body into the optional client-chosen `"id"` (a new v7 without one)
/// and the rest of the fields.
pub fn split_create_body(body: serde_json::Value) -> Result<(Uuid, serde_json::Value), ApiError> {
    let serde_json::Value::Object(mut fields) = body else {
        return Err(ApiError::BadRequest("expected a JSON object".to_owned()));
    };
    let id = match fields.remove("id") {
        None | Some(serde_json::Value::Null) => Uuid::now_v7(),
        Some(v) => serde_json::from_value::<Uuid>(v)
            .map_err(|_| ApiError::BadRequest("id must be a UUID".to_owned()))?,
    };
    Ok((id, serde_json::Value::Object(fields)))
}

fn current_json<T: Serialize>(row: &T) -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::to_value(row)?)
}

/// 200 with `ETag: "<version>"` and the row.
fn ok_row<E: Entity>(row: &E::Record) -> Response {
    with_etag(StatusCode::OK, E::record_meta(row).version, row)
}

/// 201 with `Location` and `ETag`; 409 when the id exists; 422 for invalid input.
pub fn respond_create<E: Entity>(
    outcome: CreateOutcome<E::Record>,
    collection: &str,
) -> Result<Response, ApiError> {
    match outcome {
        CreateOutcome::Created(row) => {
            let meta = E::record_meta(&row);
            let location = HeaderValue::from_str(&format!("{collection}/{}", meta.id))
                .expect("a path is a valid header value");
            let mut res = with_etag(StatusCode::CREATED, meta.version, &row);
            res.headers_mut().insert(header::LOCATION, location);
            Ok(res)
        }
        CreateOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
        CreateOutcome::Exists(current) => Err(ApiError::Conflict {
            message: format!("A {} with this id already exists", E::LABEL),
            current: Some(current_json(&current)?),
        }),
        CreateOutcome::IdTaken => Err(ApiError::Conflict {
            message: "This id is already in use".to_owned(),
            current: None,
        }),
    }
}

/// 200 with `ETag`; 404 (missing, another user's, tombstone); 412 with the current row;
/// 422 for invalid input. `what` names the row in "No such …".
pub fn respond_update<E: Entity>(
    outcome: UpdateOutcome<E::Record>,
    what: &str,
) -> Result<Response, ApiError> {
    match outcome {
        UpdateOutcome::Applied(row) | UpdateOutcome::Unchanged(row) => Ok(ok_row::<E>(&row)),
        UpdateOutcome::NotFound | UpdateOutcome::Deleted(_) => {
            Err(ApiError::NotFound(format!("No such {what}")))
        }
        UpdateOutcome::VersionMismatch(current) => Err(ApiError::PreconditionFailed {
            current: current_json(&current)?,
        }),
        UpdateOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

/// 204 (also for a tombstone again); 404; 412 with the current row.
pub fn respond_delete<E: Entity>(
    outcome: DeleteOutcome<E::Record>,
) -> Result<StatusCode, ApiError> {
    match outcome {
        DeleteOutcome::Deleted(_) | DeleteOutcome::AlreadyDeleted(_) => Ok(StatusCode::NO_CONTENT),
        DeleteOutcome::NotFound => Err(ApiError::NotFound(format!("No such {}", E::LABEL))),
        DeleteOutcome::VersionMismatch(current) => Err(ApiError::PreconditionFailed {
            current: current_json(&current)?,
        }),
    }
}

/// 200 with `ETag`; 404 for a missing row or a tombstone; 422 for bad counters.
pub fn respond_increment<E: Entity>(
    outcome: IncrementOutcome<E::Record>,
) -> Result<Response, ApiError> {
    match outcome {
        IncrementOutcome::Applied(row) => Ok(ok_row::<E>(&row)),
        IncrementOutcome::NotFound | IncrementOutcome::Tombstone(_) => {
            Err(ApiError::NotFound(format!("No such {}", E::LABEL)))
        }
        IncrementOutcome::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

/// 200 with `ETag` for a live row; 404 otherwise. `what` names the row in "No such …".
pub fn respond_get<E: Entity>(row: Option<E::Record>, what: &str) -> Result<Response, ApiError> {
    match row {
        Some(r) if !E::record_meta(&r).deleted => Ok(ok_row::<E>(&r)),
        _ => Err(ApiError::NotFound(format!("No such {what}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_cursors() {
        assert_eq!(
            decode_list_cursor('s', &encode_list_cursor('s', 9)),
            Some(9)
        );
        assert_eq!(decode_list_cursor('e', &encode_list_cursor('s', 9)), None);
        assert_eq!(decode_list_cursor('s', "s1.-1"), None);
        assert_eq!(decode_list_cursor('s', "s2.1"), None);
    }

    #[test]
    fn hero_list_cursor_roundtrip() {
        assert_eq!(encode_list_cursor('h', 42), "h1.42");
        assert_eq!(
            decode_list_cursor('h', &encode_list_cursor('h', 42)),
            Some(42)
        );
        assert_eq!(decode_list_cursor('h', "h1.x"), None);
        assert_eq!(decode_list_cursor('h', "h1.-3"), None);
        assert_eq!(decode_list_cursor('h', "garbage"), None);
    }

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
    fn create_body_id() {
        let id = Uuid::now_v7();
        let (got, rest) = split_create_body(serde_json::json!({"id": id, "a": 1})).unwrap();
        assert_eq!(got, id);
        assert_eq!(rest, serde_json::json!({"a": 1}));
        assert!(split_create_body(serde_json::json!({"id": "nope"})).is_err());
        assert!(split_create_body(serde_json::json!([1])).is_err());
    }
}
