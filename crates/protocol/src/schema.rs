//! JSON Schema refinements (feature `schema`): what `schemars` cannot see in the types
//! alone, derived from the same constants and rules the server checks, so that the
//! OpenAPI document says exactly what the server accepts.

use schemars::Schema;
use serde_json::{json, Map, Value};

use crate::entity::{Entity, ExactlyOne, Input, Rule};
use crate::SignupRequest;
use crate::MAX_PUSH_BATCH;

/// An entity's input (the body of a create): every field's rule, and the entity's
/// [`ExactlyOne`] rule as a `oneOf`.
pub fn entity_input<E: Entity>(schema: &mut Schema) {
    apply_rules(schema, E::Input::FIELDS.iter().map(|f| (f.name, f.rule)));
    if let Some(rule) = E::EXACTLY_ONE {
        exactly_one(schema, &rule);
    }
}

/// An entity's patch: every field's rule (they hold for the value when the field is
/// present; `null` is "unchanged" or, for nullable fields, "clear"), and never both
/// fields of the entity's [`ExactlyOne`] rule.
pub fn entity_patch<E: Entity>(schema: &mut Schema) {
    apply_rules(schema, E::Input::FIELDS.iter().map(|f| (f.name, f.rule)));
    if let Some(rule) = E::EXACTLY_ONE {
        let [a, b] = rule.fields;
        schema.ensure_object().insert(
            "not".into(),
            json!({"required": [a, b], "properties": {a: not_null(), b: not_null()}}),
        );
    }
}

pub fn signup_request(schema: &mut Schema) {
    apply_rules(schema, SignupRequest::RULES.iter().copied());
}

/// Merges each rule's [`Rule::schema_keywords`] into the schema of its property. A rule
/// naming a property the type does not have is a bug: the document is not made.
pub fn apply_rules<'a>(schema: &mut Schema, rules: impl IntoIterator<Item = (&'a str, Rule)>) {
    for (name, rule) in rules {
        let property = property(schema, name)
            .unwrap_or_else(|| panic!("a rule names {name}, which the schema does not have"));
        merge(property, rule.schema_keywords());
    }
}

/// Exactly one of the two fields is present and not `null`.
pub fn exactly_one(schema: &mut Schema, rule: &ExactlyOne) {
    let set = |f: &str| json!({"required": [f], "properties": {f: not_null()}});
    let [a, b] = rule.fields;
    schema
        .ensure_object()
        .insert("oneOf".into(), json!([set(a), set(b)]));
}

fn not_null() -> Value {
    json!({"not": {"type": "null"}})
}

/// Deep merge: objects merge key by key, anything else is replaced.
fn merge(target: &mut Map<String, Value>, keywords: Map<String, Value>) {
    for (key, value) in keywords {
        match (target.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => merge(inner, more),
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

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
fn property<'a>(schema: &'a mut Schema, name: &str) -> Option<&'a mut Map<String, Value>> {
    schema
        .ensure_object()
        .get_mut("properties")?
        .get_mut(name)?
        .as_object_mut()
}
