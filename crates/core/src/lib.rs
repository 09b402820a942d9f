//! Headless core of Infinite Stories: everything but the window.
//!
//! This crate must never depend on Tauri (checked by `tests/no_tauri.rs`): the desktop
//! app, the tests and any CLI are all clients of [`Core`].

pub mod clock;
mod core;
pub mod db;
pub mod error;
pub mod model;
pub mod outbox;
pub mod repo;
pub mod rng;
pub mod scheduler;
pub mod sync;
pub mod sync_state;
pub mod transport;

pub use crate::core::{Core, CoreConfig};
pub use error::{CoreError, ErrorPayload, Result};
pub use is_protocol::{HeroInput, HeroTrait};
pub use model::{Account, CoreEvent, HeroView, NetworkState, RowSync, SyncOverview, SyncReport};
pub use scheduler::Trigger;
