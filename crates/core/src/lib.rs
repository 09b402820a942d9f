//! Headless core of Infinite Stories: everything but the window.
//!
//! This crate must never depend on Tauri (checked by `tests/no_tauri.rs`): the desktop
//! app, the tests and any CLI are all clients of [`Core`].
//!
//! Map (ARCHITECTURE.md has the long version):
//! - [`app`]: the [`Core`] façade, one file per topic (accounts, entities, conflicts,
//!   sync, media), and the background scheduler and network monitor;
//! - [`entity`]: what the client adds to each entity's one description (in
//!   `is_protocol`), the generic local row and its storage;
//! - [`repo`]: local reads and optimistic writes, generic, plus each entity's view and
//!   list;
//! - [`sync`]: the engine (push, pull, resync) and its pure decisions (plan, the state
//!   machine);
//! - [`status`], [`events`], [`diagnostics`]: what the core tells its clients (the
//!   activity log, notices, the sync report);
//! - [`merge`], [`policy`], [`outbox`]: conflict resolution, cache policies, the outbox;
//! - [`transport`], [`clock`], [`rng`], [`db`]: the injected world.

pub mod app;
pub mod clock;
pub mod db;
pub mod diagnostics;
pub mod entity;
pub mod error;
pub mod events;
pub mod media;
pub mod merge;
pub mod outbox;
pub mod policy;
pub mod repo;
pub mod rng;
pub mod secrets;
pub mod status;
pub mod sync;
pub mod transport;

pub use app::conflicts::{ConflictChoice, ConflictDetail, ConflictRecord, ConflictSummary};
pub use app::scheduler::Trigger;
pub use app::sync::{DesktopPrefs, UnsyncedRow, SYNC_INTERVAL_RANGE};
pub use app::{Core, CoreConfig};
pub use diagnostics::{ActivityEntry, Notice, NoticeReason, RunOutcome};
pub use entity::{Collection, ConflictStrategy, Favorite, Page, RowSync, SyncEntity, Window};
pub use error::{CoreError, ErrorCode, ErrorPayload, Result};
pub use events::{CoreEvent, Refreshed};
pub use is_protocol::media::MediaJob;
pub use is_protocol::{
    CustomEvent, CustomEventInput, EntityKind, EventCategory, EventTone, EventType,
    GenerationStatus, Hero, HeroInput, HeroTrait, Language, Profile, ProfileInput, Story,
    StoryInput, SubscriptionTier, Theme, UsageStats,
};
pub use policy::{CachePolicy, Read, ReadSource};
pub use repo::custom_events::CustomEventView;
pub use repo::heroes::{HeroFilter, HeroView};
pub use repo::illustrations::IllustrationView;
pub use repo::profile::ProfileView;
pub use repo::stories::{GenerateStoryInput, StoryFilter, StorySummary, StoryView};
pub use repo::usage::UsageView;
pub use status::{Account, NetworkState, SyncOverview, SyncProgress};
pub use sync::SyncReport;
