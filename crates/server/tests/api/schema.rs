//! The OpenAPI document and the server agree on what a request body may hold, both ways:
//! for every JSON body the document describes, examples built from the document alone at
//! either edge of every constraint are accepted, and a body that breaks one constraint by
//! one unit is refused with 400 or 422 in the JSON error shape (what a schema-driven
//! fuzzer such as schemathesis checks). Whole numbers written as floats (`7.0`) are
//! accepted wherever integers are.

use std::cell::Cell;

use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::support::*;

/// The document, and how to build values from its schemas.
struct Doc {
    doc: Value,
    /// Values for properties that must name existing rows (by property name).
    refs: Map<String, Value>,
    /// Makes emails unique.
    n: Cell<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Edge {
    Low,
    High,
}

impl Doc {
    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                let target = &self.doc["components"]["schemas"][name];
                assert!(target.is_object(), "dangling {r}");
                target
            }
            None => s,
        }
    }

    /// The schema without its `null` alternative (`anyOf: [X, null]` → X).
    fn non_null<'a>(&'a self, s: &'a Value) -> &'a Value {
        let s = self.resolve(s);
        match s.get("anyOf").and_then(Value::as_array) {
            Some(alts) => self.resolve(
                alts.iter()
                    .find(|a| a.get("type") != Some(&json!("null")))
                    .expect("a non-null alternative"),
            ),
            None => s,
        }
    }

    fn type_of(s: &Value) -> &str {
        match &s["type"] {
            Value::String(t) => t,
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if s.get("properties").is_some() => "object",
            other => panic!("no type in {s} ({other})"),
        }
    }

    fn example(&self, schema: &Value, name: &str, edge: Edge) -> Value {
        if let Some(v) = self.refs.get(name) {
            return v.clone();
        }
        let s = self.non_null(schema);
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            return match edge {
                Edge::Low => values[0].clone(),
                Edge::High => values[values.len() - 1].clone(),
            };
        }
        let bound = |low: &str, high: &str| match edge {
            Edge::Low => s.get(low).cloned(),
            Edge::High => s.get(high).cloned(),
        };
        match Self::type_of(s) {
            "string" => self.string(s, name, edge),
            "integer" => bound("minimum", "maximum").unwrap_or(json!(3)),
            "number" => bound("minimum", "maximum").unwrap_or(json!(0.5)),
            "boolean" => json!(edge == Edge::High),
            "array" => {
                let n = match edge {
                    Edge::Low => s["minItems"].as_u64().unwrap_or(0),
                    Edge::High => s["maxItems"].as_u64().unwrap_or(2),
                };
                Value::Array(self.items(s, n as usize, edge))
            }
            "object" => self.object(s, edge),
            other => panic!("cannot make a {other} for {name}: {s}"),
        }
    }

    /// `n` distinct valid items of array schema `s`.
    fn items(&self, s: &Value, n: usize, edge: Edge) -> Vec<Value> {
        let item = self.non_null(&s["items"]);
        if let Some(values) = item.get("enum").and_then(Value::as_array) {
            assert!(values.len() >= n, "not enough distinct values for {s}");
            return values[..n].to_vec();
        }
        (0..n)
            .map(|i| {
                let base = self.string(item, "item", edge);
                let text = base.as_str().unwrap();
                // Distinct and still within the length bounds.
                Value::String(format!(
                    "{}{}",
                    &text[..text.len().saturating_sub(1)],
                    char::from(b'a' + i as u8)
                ))
            })
            .collect()
    }

    fn string(&self, s: &Value, name: &str, edge: Edge) -> Value {
        if name == "pictogram_emoji" {
            // JSON Schema cannot say "one emoji": the document bounds the length only.
            return json!("🎂");
        }
        match s.get("format").and_then(Value::as_str) {
            Some("uuid") => return json!(Uuid::now_v7()),
            Some("email") => {
                self.n.set(self.n.get() + 1);
                let local = format!("u{}", self.n.get());
                let domain = "@example.com";
                let len = match edge {
                    Edge::Low => local.len() + domain.len(),
                    Edge::High => s["maxLength"].as_u64().unwrap() as usize,
                };
                let pad = "x".repeat(len - local.len() - domain.len());
                return json!(format!("{local}{pad}{domain}"));
            }
            _ => {}
        }
        let len = match edge {
            Edge::Low => s["minLength"].as_u64().unwrap_or(0),
            Edge::High => s["maxLength"].as_u64().unwrap_or(8),
        };
        json!("x".repeat(len as usize))
    }

    fn object(&self, s: &Value, edge: Edge) -> Value {
        let mut out = Map::new();
        for (name, prop) in s["properties"].as_object().unwrap() {
            out.insert(name.clone(), self.example(prop, name, edge));
        }
        // Exactly one branch of a `oneOf`: the first; fields only other branches need
        // are cleared. A `not` of two required fields: the second is cleared.
        if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
            for b in &branches[1..] {
                for f in b["required"].as_array().unwrap() {
                    out.insert(f.as_str().unwrap().to_owned(), Value::Null);
                }
            }
        }
        if let Some(not) = s.get("not") {
            let f = not["required"][1].as_str().unwrap();
            out.insert(f.to_owned(), Value::Null);
        }
        Value::Object(out)
    }

    /// Bodies that each break one constraint of object schema `s` by one unit, built
    /// from the valid `example`.
    fn violations(&self, s: &Value, example: &Value) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let with = |name: &str, v: Value| {
            let mut body = example.clone();
            body[name] = v;
            body
        };
        for (name, prop) in s["properties"].as_object().unwrap() {
            if self.refs.contains_key(name) {
                continue;
            }
            let p = self.non_null(prop);
            let mut add =
                |what: &str, v: Value| out.push((format!("{name}: {what}"), with(name, v)));
            if let Some(m) = p["maxLength"].as_u64() {
                add("maxLength + 1", json!("x".repeat(m as usize + 1)));
            }
            if let Some(m) = p["minLength"].as_u64().filter(|m| *m > 0) {
                add("minLength - 1", json!("x".repeat(m as usize - 1)));
            }
            if let Some(pattern) = p["pattern"].as_str() {
                if pattern.contains('@') {
                    add("pattern (no @)", json!("no-at-sign.example"));
                    add("pattern (white space)", json!("a b@example.com"));
                } else {
                    add("pattern (blank)", json!(" \t\u{3000}\u{a0}"));
                }
            }
            let kind = if p.get("enum").is_some() {
                "enum"
            } else {
                Self::type_of(p)
            };
            match kind {
                "integer" => {
                    add("not an integer", json!(1.5));
                    if let Some(v) = p["minimum"].as_i64().and_then(|m| int(i128::from(m) - 1)) {
                        add("minimum - 1", v);
                    }
                    if let Some(v) = p["maximum"].as_u64().and_then(|m| int(i128::from(m) + 1)) {
                        add("maximum + 1", v);
                    }
                }
                "number" => {
                    add(
                        "minimum - 0.001",
                        json!(p["minimum"].as_f64().unwrap() - 0.001),
                    );
                    add(
                        "maximum + 0.001",
                        json!(p["maximum"].as_f64().unwrap() + 0.001),
                    );
                    add("a string", json!("0.5"));
                }
                "boolean" => add("not a boolean", json!("yes")),
                "enum" => add("not in the enum", json!("not-a-value")),
                "string" => {
                    add("not a string", json!(12));
                    if p["format"] == "uuid" {
                        add("not a uuid", json!("not-a-uuid"));
                    }
                }
                "array" => {
                    add("not an array", json!("x"));
                    let item = self.non_null(&p["items"]);
                    if let Some(k) = p["minItems"].as_u64().filter(|k| *k > 0) {
                        add(
                            "minItems - 1",
                            Value::Array(self.items(p, k as usize - 1, Edge::Low)),
                        );
                    }
                    if let Some(k) = p["maxItems"].as_u64() {
                        add(
                            "maxItems + 1",
                            Value::Array(self.items(p, k as usize + 1, Edge::Low)),
                        );
                    }
                    if p["uniqueItems"] == true {
                        let one = self.items(p, 1, Edge::Low).remove(0);
                        add("uniqueItems", json!([one, one]));
                    }
                    if item.get("enum").is_some() {
                        add("item not in the enum", json!(["not-a-value"]));
                    }
                    if let Some(m) = item["maxLength"].as_u64() {
                        add("item maxLength + 1", json!(["x".repeat(m as usize + 1)]));
                    }
                    if item.get("pattern").is_some() {
                        add("item blank", json!(["  "]));
                    }
                }
                _ => {}
            }
        }
        for required in s["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            let mut body = example.clone();
            body.as_object_mut().unwrap().remove(name);
            out.push((format!("required {name} missing"), body));
        }
        if s["additionalProperties"] == false {
            out.push(("an unknown property".into(), with("unexpected", json!(1))));
        }
        if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
            let fields: Vec<&str> = branches
                .iter()
                .map(|b| b["required"][0].as_str().unwrap())
                .collect();
            let mut neither = example.clone();
            let mut both = example.clone();
            for f in &fields {
                neither[*f] = Value::Null;
                both[*f] = self.example(&s["properties"][*f], "", Edge::Low);
            }
            out.push(("oneOf: neither".into(), neither));
            out.push(("oneOf: both".into(), both));
        }
        if let Some(not) = s.get("not") {
            let mut both = example.clone();
            for f in not["required"].as_array().unwrap() {
                let f = f.as_str().unwrap();
                both[f] = self.example(&s["properties"][f], "", Edge::Low);
            }
            out.push(("not: both".into(), both));
        }
        out
    }
}

/// `n` as a JSON number: an integer, or past the 64-bit range a float when that is
/// exactly `n` (`None` otherwise: it would not be the value meant).
fn int(n: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(n) {
        Some(json!(i))
    } else if let Ok(u) = u64::try_from(n) {
        Some(json!(u))
    } else {
        let f = n as f64;
        (f as i128 == n).then(|| json!(f))
    }
}

/// Every integer of `v` (at the top level) written as a float, where that is exact.
fn as_floats(v: &Value) -> Option<Value> {
    let mut out = v.clone();
    let mut changed = false;
    for (_, x) in out.as_object_mut()?.iter_mut() {
        if let Some(i) = x.as_i64().filter(|i| i.unsigned_abs() < 1 << 53) {
            *x = json!(i as f64);
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The JSON request body schema of `method path`.
fn body_schema<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let s = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(s.is_object(), "{method} {path} has no JSON body");
    s
}

#[tokio::test]
async fn every_documented_request_body_is_exactly_what_the_server_accepts() {
    let h = Harness::with_config(|c| {
        c.tier_limits.free.stories_per_month = None;
        c.tier_limits.free.illustrations_per_month = None;
    });
    let (t, hero) = h.user_with_hero("ada@example.com").await;
    let story = h.create_story(&t, Some(hero.id), "S").await;
    let event = h.create_event(&t, "E").await;
    let doc: Value = h.get("/api/openapi.json").send().await.json();
    let mut refs = Map::new();
    refs.insert("hero_id".into(), json!(hero.id));
    refs.insert("custom_event_id".into(), Value::Null);
    let gen = Doc {
        doc: doc.clone(),
        refs,
        n: Cell::new(0),
    };
    let reset_faults = || async {
        h.post("/api/_faults")
            .json(json!({"latency_ms": 0, "error_rate": 0, "apply_then_fail_rate": 0, "offline": false}))
            .send()
            .await
            .expect(StatusCode::OK);
    };
    // (method, documented path, path to call, success status, signed in)
    let cases: Vec<(Method, &str, String, StatusCode, bool)> = vec![
        (
            Method::POST,
            "/api/heroes",
            "/api/heroes".into(),
            StatusCode::CREATED,
            true,
        ),
        (
            Method::PATCH,
            "/api/heroes/{id}",
            format!("/api/heroes/{}", hero.id),
            StatusCode::OK,
            true,
        ),
        (
            Method::POST,
            "/api/stories",
            "/api/stories".into(),
            StatusCode::CREATED,
            true,
        ),
        (
            Method::PATCH,
            "/api/stories/{id}",
            format!("/api/stories/{}", story.id),
            StatusCode::OK,
            true,
        ),
        (
            Method::POST,
            "/api/custom-events",
            "/api/custom-events".into(),
            StatusCode::CREATED,
            true,
        ),
        (
            Method::PATCH,
            "/api/custom-events/{id}",
            format!("/api/custom-events/{}", event.id),
            StatusCode::OK,
            true,
        ),
        (
            Method::PATCH,
            "/api/users/me",
            "/api/users/me".into(),
            StatusCode::OK,
            true,
        ),
        (
            Method::POST,
            "/api/auth/signup",
            "/api/auth/signup".into(),
            StatusCode::CREATED,
            false,
        ),
        (
            Method::POST,
            "/api/stories/generate",
            "/api/stories/generate".into(),
            StatusCode::CREATED,
            true,
        ),
        (
            Method::POST,
            "/api/stories/{id}/illustrations",
            format!("/api/stories/{}/illustrations", story.id),
            StatusCode::ACCEPTED,
            true,
        ),
        (
            Method::POST,
            "/api/_faults",
            "/api/_faults".into(),
            StatusCode::OK,
            false,
        ),
    ];
    let mut checked = 0;
    for (method, documented, path, ok, signed_in) in &cases {
        let m = method.as_str().to_lowercase();
        let schema = gen.resolve(body_schema(&doc, &m, documented));
        let send = |body: Value| {
            let req = h.req(method.clone(), path).json(body);
            if *signed_in { req.token(&t) } else { req }.send()
        };
        let accepted = |what: &'static str, body: Value| {
            let send = &send;
            let reset_faults = &reset_faults;
            async move {
                let res = send(body.clone()).await;
                assert_eq!(
                    res.status,
                    *ok,
                    "{method} {documented} {what} {body}: {}",
                    res.text()
                );
                if *documented == "/api/_faults" {
                    reset_faults().await;
                }
            }
        };
        accepted("low edge", gen.example(schema, "", Edge::Low)).await;
        accepted("high edge", gen.example(schema, "", Edge::High)).await;
        if let Some(floats) = as_floats(&gen.example(schema, "", Edge::Low)) {
            accepted("integers as floats", floats).await;
        }
        let example = gen.example(schema, "", Edge::High);
        for (what, body) in gen.violations(schema, &example) {
            let res = send(body.clone()).await;
            let code = match res.status {
                StatusCode::BAD_REQUEST => "bad_request",
                StatusCode::UNPROCESSABLE_ENTITY => "validation",
                other => panic!(
                    "{method} {documented} {what}: {other} for {body}: {}",
                    res.text()
                ),
            };
            res.expect_error(res.status, code);
            checked += 1;
        }
        if *documented == "/api/_faults" {
            reset_faults().await;
        }
    }
    assert!(checked > 150, "only {checked} violations");
}

/// The limits the product names are in the document, generated from the rules.
#[tokio::test]
async fn the_document_publishes_the_field_rules() {
    let h = Harness::new();
    let doc: Value = h.get("/api/openapi.json").send().await.json();
    let s = &doc["components"]["schemas"];
    let hero = &s["HeroCreate"]["properties"];
    assert_eq!(
        (&hero["name"]["minLength"], &hero["name"]["maxLength"]),
        (&json!(1), &json!(100))
    );
    assert_eq!(
        (&hero["age"]["minimum"], &hero["age"]["maximum"]),
        (&json!(1), &json!(18))
    );
    assert_eq!(
        (
            &hero["traits"]["minItems"],
            &hero["traits"]["maxItems"],
            &hero["traits"]["uniqueItems"]
        ),
        (&json!(1), &json!(5), &json!(true))
    );
    assert_eq!(hero["appearance"]["maxLength"], 500);
    assert_eq!(hero["special_ability"]["maxLength"], 200);
    assert_eq!(s["HeroPatch"]["properties"]["age"]["maximum"], 18);
    assert_eq!(s["StoryCreate"]["oneOf"].as_array().unwrap().len(), 2);
    assert_eq!(
        s["StoryPatch"]["not"]["required"],
        json!(["event_type", "custom_event_id"])
    );
    assert_eq!(
        s["GenerateStoryRequest"]["oneOf"],
        s["StoryCreate"]["oneOf"]
    );
    assert_eq!(
        s["IllustrationsRequest"]["properties"]["count"]["maximum"],
        5
    );
    let faults = &s["FaultPatch"]["properties"];
    assert_eq!(faults["latency_ms"]["maximum"], 60_000);
    assert_eq!(faults["error_rate"]["maximum"], 1);
    let signup = &s["SignupRequest"]["properties"];
    assert_eq!(signup["email"]["format"], "email");
    assert_eq!(
        (
            &signup["password"]["minLength"],
            &signup["password"]["maxLength"]
        ),
        (&json!(8), &json!(256))
    );
    let events = &s["CustomEventCreate"]["properties"];
    assert_eq!(events["keywords"]["maxItems"], 10);
    assert_eq!(events["keywords"]["items"]["maxLength"], 30);
    assert_eq!(
        s["PushRequest"]["properties"]["mutations"]["maxItems"],
        is_protocol::MAX_PUSH_BATCH
    );
    // Integers carry the bounds of their type.
    assert_eq!(
        s["HeroRecord"]["properties"]["version"]["maximum"],
        i64::MAX
    );
}

#[tokio::test]
async fn whole_numbers_may_be_written_as_floats_in_queries_too() {
    let h = Harness::new();
    let t = h.user("ada@example.com").await;
    for _ in 0..3 {
        h.create_hero(&t, "H").await;
    }
    let page: is_protocol::Page<is_protocol::HeroRecord> = h
        .get("/api/heroes?limit=2.0")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(page.items.len(), 2);
    let feed = h.changes(&t, None, None).await; // warm: the feed without a limit
    feed.expect(StatusCode::OK);
    let page: is_protocol::ChangesResponse = h
        .get("/api/sync/changes?limit=1e0")
        .token(&t)
        .send()
        .await
        .expect(StatusCode::OK)
        .json_as();
    assert_eq!(page.changes.len(), 1);
    for q in ["/api/heroes?limit=2.5", "/api/sync/changes?limit=-1.0"] {
        h.get(q)
            .token(&t)
            .send()
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // A version too long for the documented If-Match pattern is refused too.
    let hero = h.create_hero(&t, "V").await;
    h.patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .header("if-match", "0000000000000000001")
        .json(json!({"age": 9}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    h.patch(&format!("/api/heroes/{}", hero.id))
        .token(&t)
        .header("if-match", "W/\"1\"")
        .json(json!({"age": 9.0}))
        .send()
        .await
        .expect(StatusCode::OK);
}
