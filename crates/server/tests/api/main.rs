//! HTTP-level tests of story-server: in-process through `app(state)` with
//! `tower::ServiceExt::oneshot`, and over a real socket with `testing::TestServer`.

mod auth;
mod changes;
mod errors;
mod heroes;
mod migrations;
mod push;
mod socket;
mod support;
