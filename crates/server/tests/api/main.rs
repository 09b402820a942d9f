//! HTTP-level tests of story-server: in-process through `app(state)` with
//! `tower::ServiceExt::oneshot`, and over a real socket with `testing::TestServer`.

mod auth;
mod changes;
mod errors;
mod faults;
mod generate;
mod group_commit;
mod heroes;
mod horizon;
mod isolation;
mod limits;
mod media;
mod media_jobs;
mod migrations;
mod openapi;
mod push;
mod push_entities;
mod replicas;
mod schema;
mod socket;
mod stories;
mod support;
mod timeouts;
mod usage;
