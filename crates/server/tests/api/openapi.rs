//! The OpenAPI document: served, committed, and complete.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[tokio::test]
async fn served_document_matches_the_committed_file() {
    let h = Harness::new();
    let res = h
        .get("/api/openapi.json")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(res.headers["content-type"], "application/json");
    let served = res.text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &served).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        served == committed,
        "crates/server/openapi.json is out of date; rerun the tests with UPDATE_OPENAPI=1 to rewrite it"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[tokio::test]
async fn every_route_of_the_router_is_documented_and_reachable() {
    let h = Harness::new();
    let doc: Value = h.get("/api/openapi.json").send().await.json();
    let paths = doc["paths"].as_object().unwrap();
    let table = story_server::routes::table();
    let mut documented = 0;
    for route in &table {
        let method = route.method.as_str().to_lowercase();
        let op = &paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} is not documented", route.path))[&method];
        assert!(
            op.is_object(),
            "{} {} is not documented",
            route.method,
            route.path
        );
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        documented += 1;
        // The router really has it: never the fallback's 404 or a 405.
        let path = route
            .path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{name}", "x.png");
        let res = h.req(route.method.clone(), &path).send().await;
        assert_ne!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}",
            route.method
        );
        if res.status == StatusCode::NOT_FOUND {
            assert_ne!(
                res.json()["error"]["message"],
                "No such endpoint",
                "{} {path}",
                route.method
            );
        }
    }
    let in_doc: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        in_doc, documented,
        "the document lists nothing the router lacks"
    );
    // And a path that is not in the table is not routed.
    h.req(Method::GET, "/api/not-a-route")
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // Every operation id is unique.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|p| p.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    // Every $ref resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = serde_json::to_string(&doc).unwrap();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
}
