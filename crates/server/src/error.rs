//! The one error type of the HTTP layer, and the extractors that turn every malformed
//! request into it.
//!
//! Every error leaves the server as `{ "error": { "code", "message", "details" } }`
//! ([`is_protocol::ErrorEnvelope`]). Internal failures are logged with their cause and
//! answered with a bare `internal` error, so nothing about the server's insides leaks.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use is_protocol::{codes, ErrorBody, ErrorEnvelope, FieldError};
use serde::de::DeserializeOwned;

/// An error answer of the API. Each variant fixes the status and the `error.code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: malformed JSON, wrong types, unknown fields, bad query values.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 415 `bad_request`: a body that is not declared as JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 405 `bad_request`: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 422 `validation`, with the invalid fields in `details.fields`.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401 `unauthorized`.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 404 `not_found`.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409 `conflict`; `current` (when the caller may see it) goes to `details.current`.
    #[error("conflict: {message}")]
    Conflict {
        message: String,
        current: Option<serde_json::Value>,
    },
    /// 409 `email_taken`.
    #[error("email taken")]
    EmailTaken,
    /// 412 `precondition_failed`, with the current row in `details.current`.
    #[error("precondition failed")]
    PreconditionFailed { current: serde_json::Value },
    /// 410 `cursor_expired`: the cursor does not belong to this server's history.
    #[error("cursor expired")]
    CursorExpired,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 408 `request_timeout`: the body did not arrive within the body-read timeout.
    #[error("request body timed out")]
    RequestTimeout,
    /// 403 `forbidden`.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403 `limit_reached`: the subscription tier's monthly limit is used up.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// 429 `rate_limited`, with `Retry-After: <seconds>`.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503 with `code` (`unavailable` or `offline`), from fault injection.
    #[error("unavailable: {code}")]
    Unavailable { code: &'static str },
    /// 500 `internal`: logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::EmailTaken => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::CursorExpired => StatusCode::GONE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Forbidden(_) | ApiError::LimitReached(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire body. For `Internal` this is deliberately content-free.
    pub fn body(&self) -> ErrorBody {
        match self {
            ApiError::BadRequest(msg) | ApiError::UnsupportedMediaType(msg) => {
                ErrorBody::new(codes::BAD_REQUEST, msg.clone())
            }
            ApiError::MethodNotAllowed => ErrorBody::new(
                codes::BAD_REQUEST,
                "This endpoint does not accept that method",
            ),
            ApiError::Validation(fields) => ErrorBody::validation(fields.clone()),
            ApiError::Unauthorized(msg) => ErrorBody::new(codes::UNAUTHORIZED, *msg),
            ApiError::NotFound(msg) => ErrorBody::new(codes::NOT_FOUND, msg.clone()),
            ApiError::Conflict { message, current } => ErrorBody {
                code: codes::CONFLICT.to_owned(),
                message: message.clone(),
                details: current
                    .as_ref()
                    .map(|c| serde_json::json!({ "current": c })),
            },
            ApiError::EmailTaken => ErrorBody::new(
                codes::EMAIL_TAKEN,
                "An account with this email already exists",
            ),
            ApiError::PreconditionFailed { current } => ErrorBody {
                code: codes::PRECONDITION_FAILED.to_owned(),
                message: "The row has changed since the version you sent".to_owned(),
                details: Some(serde_json::json!({ "current": current })),
            },
            ApiError::CursorExpired => ErrorBody::new(
                codes::CURSOR_EXPIRED,
                "This cursor is no longer valid on this server; start a full resync",
            ),
            ApiError::PayloadTooLarge => {
                ErrorBody::new(codes::PAYLOAD_TOO_LARGE, "The request body is too large")
            }
            ApiError::RequestTimeout => ErrorBody::new(
                codes::REQUEST_TIMEOUT,
                "The request body did not arrive in time",
            ),
            ApiError::Forbidden(msg) => ErrorBody::new(codes::FORBIDDEN, msg.clone()),
            ApiError::LimitReached(msg) => ErrorBody::new(codes::LIMIT_REACHED, msg.clone()),
            ApiError::RateLimited { retry_after_secs } => ErrorBody {
                code: codes::RATE_LIMITED.to_owned(),
                message: format!("Too many requests; try again in {retry_after_secs} s"),
                details: Some(serde_json::json!({ "retry_after_secs": retry_after_secs })),
            },
            ApiError::Unavailable { code } => ErrorBody::new(
                code,
                if *code == codes::OFFLINE {
                    "The server is offline"
                } else {
                    "The server is temporarily unavailable; try again"
                },
            ),
            ApiError::Internal(_) => {
                ErrorBody::new(codes::INTERNAL, "Something went wrong on the server")
            }
        }
    }
}

impl From<crate::sql::Error> for ApiError {
    fn from(err: crate::sql::Error) -> Self {
        ApiError::Internal(err.into())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = %format!("{err:#}"), "internal error");
        }
        let mut res = error_response(status, self.body());
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after_secs } = &self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let ApiError::Unavailable { .. } = &self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

/// A JSON error response with the given status.
pub fn error_response(status: StatusCode, body: ErrorBody) -> Response {
    (status, axum::Json(ErrorEnvelope { error: body })).into_response()
}

/// The envelope for an error response some layer produced without one (axum's own 405,
/// a 413 from the body limit, ...): chosen from the status alone.
pub fn body_for_status(status: StatusCode) -> ErrorBody {
    match status {
        StatusCode::NOT_FOUND => ErrorBody::new(codes::NOT_FOUND, "No such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed.body(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.body(),
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout.body(),
        StatusCode::UNAUTHORIZED => ErrorBody::new(codes::UNAUTHORIZED, "Sign in to continue"),
        StatusCode::FORBIDDEN => ErrorBody::new(codes::FORBIDDEN, "Not allowed"),
        StatusCode::TOO_MANY_REQUESTS => ErrorBody::new(codes::RATE_LIMITED, "Too many requests"),
        StatusCode::RANGE_NOT_SATISFIABLE => ErrorBody::new(
            codes::BAD_REQUEST,
            "The requested range is outside the file",
        ),
        s if s.is_server_error() => {
            ErrorBody::new(codes::INTERNAL, "Something went wrong on the server")
        }
        _ => ErrorBody::new(codes::BAD_REQUEST, "The request could not be processed"),
    }
}

// ---------------------------------------------------------------------------------------
// Extractors that answer in the JSON error shape

/// `axum::Json`, but every rejection becomes an [`ApiError`]: 400 for bad syntax, wrong
/// types, missing or unknown fields; 413 for an oversized body; 415 without a JSON
/// content type. A whole number written as a float (`28.0`) is read as that integer,
/// anywhere in the body ([`whole_numbers_as_integers`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => from_json_value(value).map(Json),
            Err(rejection) => Err(map_json_rejection(rejection)),
        }
    }
}

/// Reads a JSON body (400 for bad syntax or a value of the wrong shape), with whole
/// numbers written as floats read as integers. For handlers that take the raw bytes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!("Failed to parse the request body as JSON: {e}"))
    })?;
    from_json_value(value)
}

fn from_json_value<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, ApiError> {
    whole_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        ApiError::BadRequest(format!(
            "Failed to deserialize the JSON body into the target type: {e}"
        ))
    })
}

/// Rewrites every float with no fractional part that fits a 64-bit integer (`28.0`,
/// `1e3`, `-0.0`) as that integer, in place. JSON has one number type and JSON Schema
/// counts `28.0` as an integer, so the server accepts it wherever it accepts `28`;
/// fields that take fractions accept integers anyway.
pub fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(whole) = n.as_f64().and_then(whole_number) {
                *n = whole;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// `f` as a JSON integer, if it is a whole number in the range of `i64` or `u64`.
fn whole_number(f: f64) -> Option<serde_json::Number> {
    // 2^63 and 2^64 are exact in f64; the ranges below are exactly those of i64 and u64.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if !f.is_finite() || f.fract() != 0.0 {
        None
    } else if (-I64_END..I64_END).contains(&f) {
        Some((f as i64).into())
    } else if (0.0..U64_END).contains(&f) {
        Some((f as u64).into())
    } else {
        None
    }
}

/// A query value that must be a whole number of at least 0: digits (any number of them:
/// past `u64::MAX` it saturates), or a float with no fractional part (`28.0`).
pub fn parse_whole_query(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(digits.parse::<u64>().unwrap_or(u64::MAX));
    }
    let f = s
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && f.fract() == 0.0)?;
    // `as` saturates past u64::MAX.
    (f >= 0.0).then_some(f as u64)
}

fn map_json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::BadRequest(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json".to_owned(),
        ),
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("The request body could not be read".to_owned())
            }
        }
        other => {
            if other.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(other.body_text())
            }
        }
    }
}

/// `axum::extract::Query` answering 400 `bad_request` in the JSON shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(map_query_rejection(rejection)),
        }
    }
}

fn map_query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// `axum::extract::Path` answering 400 `bad_request` in the JSON shape (e.g. an id that
/// is not a UUID).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(map_path_rejection(rejection)),
        }
    }
}

fn map_path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::BadRequest(e.body_text()),
        other => ApiError::Internal(anyhow::anyhow!("path extraction: {}", other.body_text())),
    }
}

/// What a caught panic says (its message when it is a string).
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers() {
        let mut v = serde_json::json!({
            "a": 28.0, "b": 2.5, "c": [1e3, -0.0, -7.0], "d": {"e": 1.8e19, "f": 1e300},
            "g": 3, "h": "4.0",
        });
        whole_numbers_as_integers(&mut v);
        assert_eq!(v["a"].as_u64(), Some(28));
        assert!(v["b"].is_f64());
        assert_eq!(v["c"][0].as_u64(), Some(1000));
        assert_eq!(v["c"][1].as_i64(), Some(0));
        assert_eq!(v["c"][2].as_i64(), Some(-7));
        assert_eq!(v["d"]["e"].as_u64(), Some(18_000_000_000_000_000_000));
        assert!(v["d"]["f"].is_f64(), "out of range stays a float");
        assert_eq!(v["g"], 3);
        assert_eq!(v["h"], "4.0");
    }

    #[test]
    fn whole_query_numbers() {
        assert_eq!(parse_whole_query("28"), Some(28));
        assert_eq!(parse_whole_query("+28"), Some(28));
        assert_eq!(parse_whole_query("28.0"), Some(28));
        assert_eq!(parse_whole_query("1e3"), Some(1000));
        assert_eq!(parse_whole_query("-0"), Some(0));
        assert_eq!(parse_whole_query("99999999999999999999999"), Some(u64::MAX));
        for bad in ["", "-1", "2.5", "ten", "NaN", "inf", "-1.0", " 1"] {
            assert_eq!(parse_whole_query(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal(anyhow::anyhow!("disk /secret/path is on fire"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = err.body();
        assert_eq!(body.code, codes::INTERNAL);
        assert!(!body.message.contains("secret"));
        assert!(body.details.is_none());
    }

    #[test]
    fn statuses_and_codes() {
        let cases: Vec<(ApiError, StatusCode, &str)> = vec![
            (
                ApiError::BadRequest("x".into()),
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
            ),
            (
                ApiError::Validation(vec![FieldError::new("name", "bad")]),
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::VALIDATION,
            ),
            (
                ApiError::Unauthorized("x"),
                StatusCode::UNAUTHORIZED,
                codes::UNAUTHORIZED,
            ),
            (
                ApiError::NotFound("x".into()),
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
            ),
            (
                ApiError::EmailTaken,
                StatusCode::CONFLICT,
                codes::EMAIL_TAKEN,
            ),
            (
                ApiError::PreconditionFailed {
                    current: serde_json::json!({"version": 2}),
                },
                StatusCode::PRECONDITION_FAILED,
                codes::PRECONDITION_FAILED,
            ),
            (
                ApiError::CursorExpired,
                StatusCode::GONE,
                codes::CURSOR_EXPIRED,
            ),
            (
                ApiError::PayloadTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::PAYLOAD_TOO_LARGE,
            ),
            (
                ApiError::RequestTimeout,
                StatusCode::REQUEST_TIMEOUT,
                codes::REQUEST_TIMEOUT,
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status(), status, "{err}");
            assert_eq!(err.body().code, code, "{err}");
        }
    }
}
