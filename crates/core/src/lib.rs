//! Headless core of Infinite Stories: everything but the window.
//!
//! This crate must never depend on Tauri (checked by `tests/no_tauri.rs`): the desktop
//! app, the tests and any CLI are all clients of [`Core`].

pub mod clock;
mod core;
mod data;
pub mod db;
pub mod entity;
pub mod error;
pub mod merge;
pub mod model;
pub mod outbox;
pub mod policy;
pub mod repo;
pub mod rng;
pub mod scheduler;
pub mod sync;
pub mod sync_state;
pub mod transport;

pub use crate::core::{Core, CoreConfig, HeroConflict};
pub use entity::ConflictStrategy;
pub use error::{CoreError, ErrorPayload, Result};
pub use is_protocol::{
    CustomEventInput, EventCategory, EventTone, EventType, GenerationStatus, HeroInput, HeroTrait,
    Language, StoryInput, SubscriptionTier, Theme, UsageStats,
};
pub use model::{
    Account, ConflictChoice, ConflictDetail, ConflictRecord, ConflictSummary, CoreEvent,
    CustomEventView, GenerateStoryInput, HeroView, IllustrationView, NetworkState, ProfileInput,
    ProfileView, Refreshed, RowSync, StoryFilter, StorySummary, StoryView, SyncOverview,
    SyncReport, UsageView,
};
pub use policy::{CachePolicy, Read, ReadSource};
pub use scheduler::Trigger;
