//! `/api/custom-events`: custom events are served by the generic handlers of
//! [`super::resource`] (`POST /api/custom-events/{id}/use` counts one use); the list
//! filters favourites.

use is_protocol::entity::Cell;
use is_protocol::CustomEvent;

use super::resource::{ListParams, Resource};
use super::{parse_opt_bool, present};
use crate::error::ApiError;

impl Resource for CustomEvent {
    const COLLECTION: &'static str = "/api/custom-events";
    const ITEM: &'static str = "/api/custom-events/{id}";
    const CURSOR: char = 'e';
    const LIST_QUERY: &'static [&'static str] = &[
        "cursor",
        "limit",
        "updated_after",
        "include_deleted",
        "favorite",
    ];

    fn list_filters(params: &ListParams) -> Result<Vec<(&'static str, Cell<'static>)>, ApiError> {
        if present(&params.hero_id).is_some() {
            return Err(ApiError::BadRequest(
                "hero_id is not a filter of custom events".to_owned(),
            ));
        }
        let favorite = parse_opt_bool("favorite", present(&params.favorite))?;
        Ok(favorite
            .map(|f| ("is_favorite", Cell::Int(i64::from(f))))
            .into_iter()
            .collect())
    }
}
