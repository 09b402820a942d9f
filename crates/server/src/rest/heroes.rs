//! `/api/heroes`: heroes are served by the generic handlers of [`super::resource`]; the
//! list has no filters of its own.

use is_protocol::Hero;

use super::resource::{Resource, LIST_QUERY};

impl Resource for Hero {
    const COLLECTION: &'static str = "/api/heroes";
    const ITEM: &'static str = "/api/heroes/{id}";
    const CURSOR: char = 'h';
    const LIST_QUERY: &'static [&'static str] = LIST_QUERY;
}
