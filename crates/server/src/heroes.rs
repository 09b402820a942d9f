//! `/api/heroes`: the REST face of heroes. The list is here; create, get, change and
//! delete are the generic handlers of [`crate::resource`] over [`crate::store`].
//!
//! Every query is scoped to the signed-in user: another user's id answers 404, exactly
//! like an id that does not exist.

use axum::extract::State;
use is_protocol::{HeroRecord, Page};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::{ApiError, Query};
use crate::resource::list_page;
use crate::rest::{
    parse_bool, parse_limit, parse_list_cursor, parse_updated_after, present, DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
};
use crate::store::{self, ListFilter};
use crate::AppState;

/// Query of `GET /api/heroes`. Everything is optional; empty values count as absent.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub updated_after: Option<String>,
    pub include_deleted: Option<String>,
}

/// `GET /api/heroes?cursor=&limit=&updated_after=&include_deleted=` → `Page<HeroRecord>`,
/// oldest first, keyset-paginated by creation order (see [`store::list_heroes`]).
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page<HeroRecord>>, ApiError> {
    let after_created_seq = parse_list_cursor('h', present(&params.cursor))?;
    let limit = parse_limit(present(&params.limit), DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let filter = ListFilter {
        after_created_seq,
        updated_after: parse_updated_after(present(&params.updated_after))?,
        include_deleted: parse_bool("include_deleted", present(&params.include_deleted))?,
    };
    let fetch = move |conn: &_, user, n| store::list_heroes(conn, user, &filter, n);
    list_page(
        &state,
        auth.id(),
        limit,
        'h',
        fetch,
        |r| r.created_seq,
        |r| r.hero,
    )
    .await
}
