//! The OpenAPI 3.1 document, built from the same route table as the router
//! (`crate::routes::table`), with JSON Schemas (2020-12) of the wire types derived by
//! `schemars` from `is-protocol`. Served at `GET /api/openapi.json` and committed as
//! `crates/server/openapi.json` (a test fails when they drift; run the tests with
//! `UPDATE_OPENAPI=1` to rewrite the file).

use axum::http::Method;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use crate::rest::IF_MATCH_MAX_DIGITS;

/// Makes the schema of a type (a `$ref` into `components/schemas` for named types).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    Json(SchemaFn),
    /// Bytes of one of these media types.
    Binary(&'static [&'static str]),
    None,
}

/// One documented answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    pub headers: &'static [&'static str],
}

/// The documentation of one operation.
#[derive(Debug, Clone)]
pub struct OpDoc {
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub auth: bool,
    pub query: &'static [&'static str],
    pub headers: &'static [&'static str],
    pub request: Option<(SchemaFn, bool)>,
    pub responses: Vec<Resp>,
}

/// One documented operation: where it is and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub doc: &'a OpDoc,
    /// Exists only with `--enable-fault-control`.
    pub fault_control_only: bool,
}

/// Description and schema of every known query parameter. The values are read as the
/// server reads them: an empty value counts as absent (`allowEmptyValue`), a whole number
/// may be written `10.0`, flags take the six words below.
fn query_param(name: &str) -> Value {
    let (description, schema) = match name {
        "cursor" => (
            "Opaque cursor: the `next_cursor` of the previous page.",
            json!({"type": "string"}),
        ),
        "limit" => (
            "Page size: 0 counts as 1, more than the endpoint's maximum is clamped to it.",
            json!({"type": "integer", "minimum": 0}),
        ),
        "updated_after" => (
            "Only rows written after this RFC 3339 time.",
            json!({"type": "string", "format": "date-time"}),
        ),
        "include_deleted" => ("Include tombstones (`deleted: true`).", flag_schema()),
        "hero_id" => (
            "Only the stories of this hero.",
            json!({"type": "string", "format": "uuid"}),
        ),
        "favorite" => (
            "`true`: only favourites; `false`: only the others.",
            flag_schema(),
        ),
        other => panic!("undocumented query parameter {other}"),
    };
    json!({
        "name": name, "in": "query", "required": false, "allowEmptyValue": true,
        "description": description, "schema": schema,
    })
}

/// A yes/no query value, as `rest::parse_opt_bool` reads it.
fn flag_schema() -> Value {
    json!({"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]})
}

/// `If-Match` as `rest::parse_if_match` reads it: `*`, or a row version of at most
/// [`IF_MATCH_MAX_DIGITS`] digits, bare, quoted or weak (`W/"3"`).
fn if_match_pattern() -> String {
    let n = format!("[+-]?[0-9]{{1,{IF_MATCH_MAX_DIGITS}}}");
    format!(r#"^[ \t]*(?:\*|(?:W/)?(?:"[ \t]*{n}[ \t]*"|[ \t]*{n}))[ \t]*$"#)
}

fn header_param(name: &str) -> Value {
    let schema = match name {
        "If-Match" => json!({"type": "string", "pattern": if_match_pattern()}),
        _ => json!({"type": "string"}),
    };
    let description = match name {
        "If-Match" => "The row version the change is based on (`3`, `\"3\"` or `W/\"3\"`); 412 with the current row if it moved on. `*` or absent: any version.",
        "If-None-Match" => "An ETag from an earlier answer: 304 if the file is unchanged.",
        "Range" => "A single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): 206 with that part, 416 if it starts past the end. Multiple or malformed ranges are ignored.",
        "If-Range" => "An ETag: the Range is honoured only if the file still has it.",
        other => panic!("undocumented header {other}"),
    };
    json!({"name": name, "in": "header", "required": false, "description": description, "schema": schema})
}

fn response_header(name: &str) -> Value {
    let (description, schema) = match name {
        "ETag" => (
            "The row version (JSON rows) or a strong content hash (media).",
            json!({"type": "string"}),
        ),
        "Location" => ("The new resource.", json!({"type": "string"})),
        "Retry-After" => (
            "Seconds to wait before retrying.",
            json!({"type": "integer"}),
        ),
        "Content-Range" => (
            "The part served (`bytes a-b/size`), or `bytes */size` for 416.",
            json!({"type": "string"}),
        ),
        "Content-Length" => ("Size of the body in bytes.", json!({"type": "integer"})),
        "Accept-Ranges" => ("Always `bytes`.", json!({"type": "string"})),
        other => panic!("undocumented response header {other}"),
    };
    json!({"description": description, "schema": schema})
}

/// The standard description of an error status.
pub fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed request (bad JSON, wrong types, unknown fields, bad query values): `bad_request`.",
        401 => "Missing, expired or revoked bearer token: `unauthorized`.",
        403 => "Not allowed: `forbidden`, or `limit_reached` when the tier's monthly limit is used up.",
        404 => "No such row for this user (another user's row looks the same): `not_found`.",
        409 => "The id is taken: `conflict` (with `details.current` when it is the caller's row).",
        410 => "The cursor is from another database or older than the tombstone horizon: `cursor_expired`; resync from the start.",
        412 => "`If-Match` does not match: `precondition_failed` with the current row in `details.current`.",
        408 => "The body did not arrive within the server's body-read timeout: `request_timeout` (the connection is closed).",
        413 => "Body over the size limit (a `Content-Length` over it is answered at once): `payload_too_large` (the connection is closed).",
        415 => "Body not sent as `application/json`: `bad_request`.",
        416 => "Range outside the file (`Content-Range: bytes */size`).",
        422 => "Validation failed: `validation` with `details.fields` = [{field, message}].",
        429 => "Rate limited: `rate_limited`, with `Retry-After` seconds.",
        503 => "Fault injection: `unavailable` or `offline`.",
        _ => "Error.",
    }
}

fn operation(route: &Endpoint<'_>, g: &mut SchemaGenerator) -> Value {
    let doc = route.doc;
    let mut params: Vec<Value> = Vec::new();
    for seg in route.path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let schema = if name == "name" {
                json!({"type": "string", "pattern": "^[0-9a-f-]{36}\\.(png|wav)$"})
            } else {
                json!({"type": "string", "format": "uuid"})
            };
            params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        }
    }
    params.extend(doc.query.iter().map(|q| query_param(q)));
    params.extend(doc.headers.iter().map(|h| header_param(h)));
    let mut op = Map::new();
    op.insert("operationId".into(), json!(doc.operation_id));
    op.insert("tags".into(), json!([doc.tag]));
    op.insert("summary".into(), json!(doc.summary));
    if !doc.description.is_empty() {
        op.insert("description".into(), json!(doc.description));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if doc.auth {
        op.insert("security".into(), json!([{"bearerAuth": []}]));
    }
    if let Some((schema_fn, required)) = doc.request {
        op.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": {"application/json": {"schema": schema_fn(g)}}
            }),
        );
    }
    let mut responses = Map::new();
    for r in &doc.responses {
        let mut resp = Map::new();
        resp.insert("description".into(), json!(r.description));
        match r.content {
            Content::Json(f) => {
                resp.insert(
                    "content".into(),
                    json!({"application/json": {"schema": f(g)}}),
                );
            }
            Content::Binary(types) => {
                let mut c = Map::new();
                for t in types {
                    c.insert(
                        (*t).to_owned(),
                        json!({"schema": {"type": "string", "contentMediaType": t}}),
                    );
                }
                resp.insert("content".into(), Value::Object(c));
            }
            Content::None => {}
        }
        if !r.headers.is_empty() {
            let mut h = Map::new();
            for name in r.headers {
                h.insert((*name).to_owned(), response_header(name));
            }
            resp.insert("headers".into(), Value::Object(h));
        }
        responses.insert(r.status.to_string(), Value::Object(resp));
    }
    op.insert("responses".into(), Value::Object(responses));
    if route.fault_control_only {
        op.insert("x-only-with-fault-control".into(), json!(true));
    }
    Value::Object(op)
}

const DESCRIPTION: &str = "The Infinite Stories reference backend: accounts, heroes, stories, \
custom story events, illustrations, profile and usage, the sync protocol (idempotent batched \
push, change feed) and generated media.\n\n\
**Errors** always have the shape `{\"error\": {\"code\", \"message\", \"details\"}}`.\n\n\
**Media URLs** (`avatar_url`, `audio_url`, `image_url`) are relative to the server \
(`/api/media/<uuid>.<png|wav>`) and are served only with the owner's bearer token; any \
other user gets 404.\n\n\
**Counters** (`play_count`, `usage_count`) change only through increments: the push \
mutation `{\"op\": \"increment\", \"counters\": {\"play_count\": 1}}` (no `base_version`, never \
conflicts) or `POST /api/stories/{id}/play` and `POST /api/custom-events/{id}/use`.\n\n\
**Limits**: generated stories, audio minutes and illustrations count toward the \
subscription tier's monthly limits (`GET /api/usage`); over a limit, 403 `limit_reached`. \
Requests are rate limited per user (per IP for sign-up and sign-in): 429 with \
`Retry-After`.\n\n\
**Fault injection** (`/api/_faults`) exists only when the server runs with \
`--enable-fault-control`.";

/// The whole document, canonical (object keys sorted).
pub fn document<'a>(routes: impl IntoIterator<Item = Endpoint<'a>>) -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let method = route.method.as_str().to_lowercase();
        entry
            .as_object_mut()
            .expect("path items are objects")
            .insert(method, operation(&route, &mut g));
    }
    let mut schemas = Value::Object(g.take_definitions(true));
    integer_bounds(&mut schemas);
    canonical(&json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Infinite Stories API",
            "version": crate::VERSION,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token from sign-up or sign-in."
                }
            }
        }
    }))
}

/// Gives every integer schema with a sized `format` (`int64`, `uint32`, ...) the bounds
/// of that type where it has none, so that a number the server cannot read (past
/// `i64::MAX`, say) is outside the document too.
pub fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let bounds: Option<(Value, Value)> = match m.get("format").and_then(Value::as_str) {
                Some("int8") => Some((json!(i8::MIN), json!(i8::MAX))),
                Some("int16") => Some((json!(i16::MIN), json!(i16::MAX))),
                Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                Some("int64") => Some((json!(i64::MIN), json!(i64::MAX))),
                Some("uint8") => Some((json!(0), json!(u8::MAX))),
                Some("uint16") => Some((json!(0), json!(u16::MAX))),
                Some("uint32") => Some((json!(0), json!(u32::MAX))),
                Some("uint64") => Some((json!(0), json!(u64::MAX))),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                m.entry("minimum").or_insert(min);
                m.entry("maximum").or_insert(max);
            }
            m.values_mut().for_each(integer_bounds);
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// The same value with every object's keys in sorted order (whatever `serde_json`'s
/// map type), so the rendered text is stable.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The document as committed: pretty JSON with a final newline.
pub fn render<'a>(routes: impl IntoIterator<Item = Endpoint<'a>>) -> String {
    let mut text =
        serde_json::to_string_pretty(&document(routes)).expect("a JSON value always renders");
    text.push('\n');
    text
}

/// The HTTP methods the table may use, lower-case as in OpenAPI.
pub fn method_name(m: &Method) -> String {
    m.as_str().to_lowercase()
}
