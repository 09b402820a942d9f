//! `/api/stories`: stories are served by the generic handlers of [`super::resource`]
//! (`POST /api/stories/{id}/play` counts one play); the list filters by hero and
//! favourites, and a story's illustrations are listed here.

use axum::extract::State;
use is_protocol::entity::Cell;
use is_protocol::{Entity, IllustrationRecord, Page, Story};
use uuid::Uuid;

use super::resource::{ListParams, Resource};
use super::{parse_opt_bool, parse_uuid_param, present};
use crate::auth::AuthUser;
use crate::error::{ApiError, Path};
use crate::{illustration_store, table, AppState};

impl Resource for Story {
    const COLLECTION: &'static str = "/api/stories";
    const ITEM: &'static str = "/api/stories/{id}";
    const CURSOR: char = 's';
    const LIST_QUERY: &'static [&'static str] = &[
        "cursor",
        "limit",
        "updated_after",
        "include_deleted",
        "hero_id",
        "favorite",
    ];

    fn list_filters(params: &ListParams) -> Result<Vec<(&'static str, Cell<'static>)>, ApiError> {
        let hero_id = parse_uuid_param("hero_id", present(&params.hero_id))?;
        let favorite = parse_opt_bool("favorite", present(&params.favorite))?;
        let mut filters = Vec::new();
        if let Some(h) = hero_id {
            filters.push(("hero_id", Cell::Uuid(h)));
        }
        if let Some(f) = favorite {
            filters.push(("is_favorite", Cell::Int(i64::from(f))));
        }
        Ok(filters)
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
        .read(move |conn| {
            match table::get::<Story>(conn, user, id)? {
                Some(s) if !s.deleted => {}
                _ => return Err(ApiError::NotFound(format!("No such {}", Story::LABEL))),
            }
            Ok(illustration_store::list_for_story(conn, user, id)?)
        })
        .await?;
    Ok(axum::Json(Page {
        items,
        next_cursor: None,
    }))
}
