//! `/api/users/me` (the profile, also pushed as entity `user_profile`) and `/api/usage`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use is_protocol::{Profile, UsageStats, UserProfilePatch};

use super::resource::in_tx;
use super::{parse_if_match, respond_get, respond_update};
use crate::auth::AuthUser;
use crate::error::{ApiError, Json};
use crate::profile_store::get_profile;
use crate::{table, usage, AppState};

/// `GET /api/users/me` → [`is_protocol::UserProfile`] (with `ETag: "<version>"`).
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> Result<Response, ApiError> {
    let user = auth.id();
    let p = state.read(move |conn| Ok(get_profile(conn, user)?)).await?;
    respond_get::<Profile>(p, "user")
}

/// `PATCH /api/users/me` with a [`UserProfilePatch`] and optional `If-Match`.
pub async fn patch_me(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    Json(patch): Json<UserProfilePatch>,
) -> Result<Response, ApiError> {
    let expected = parse_if_match(&headers)?;
    let user = auth.id();
    let now = state.now();
    let outcome = in_tx(&state, move |tx| {
        table::update::<Profile>(tx, user, user, expected, patch, now)
    })
    .await?;
    respond_update::<Profile>(outcome, "user")
}

/// `GET /api/usage` → [`UsageStats`] for the current month.
pub async fn get_usage(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<UsageStats>, ApiError> {
    let user = auth.id();
    let now = state.now();
    let limits = state.config().tier_limits.clone();
    let stats = state
        .read(move |conn| Ok(usage::usage_stats(conn, user, &limits, now)?))
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user".to_owned()))?;
    Ok(axum::Json(stats))
}
