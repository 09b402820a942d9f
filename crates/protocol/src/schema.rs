//! JSON Schema refinements (feature `schema`): what `schemars` cannot see in the types
//! alone, derived from the same constants and rules the server checks, so that the
//! OpenAPI document says exactly what the server accepts.

use schemars::Schema;
use serde_json::{json, Value};

use crate::MAX_PUSH_BATCH;

/// [`crate::PushRequest`]: at most [`MAX_PUSH_BATCH`] mutations, and any element is
/// accepted: one that is not a readable [`crate::Mutation`] is answered `rejected` with
/// `bad_mutation` on its own.
pub fn push_request(schema: &mut Schema) {
    let Some(mutations) = property(schema, "mutations") else {
        return;
    };
    let mutation = mutations.remove("items").unwrap_or(json!({}));
    mutations.insert("maxItems".into(), json!(MAX_PUSH_BATCH));
    mutations.insert(
        "items".into(),
        json!({"anyOf": [
            mutation,
            {"description": "Anything else is answered `rejected` with code `bad_mutation` (that element only)."}
        ]}),
    );
}

/// The schema of property `name` of an object schema.
pub(crate) fn property<'a>(
    schema: &'a mut Schema,
    name: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    schema
        .ensure_object()
        .get_mut("properties")?
        .get_mut(name)?
        .as_object_mut()
}
