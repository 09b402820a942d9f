//! Tauri commands: extract state, call the core, map the error. Nothing else.
//!
//! Every command is declared once in [`commands!`]: the macro writes the Tauri handler,
//! registers it ([`handler`]) and describes it for the UI's typed command map
//! (`ui/src/lib/bindings/commands.ts`, generated and checked for drift by this crate's
//! tests), so a command renamed or removed here is a type error in the UI.

use is_core::media::{CacheKind, EvictionReport, MediaRef, MediaStatus, MediaUsage};
use is_core::{
    Account, ActivityEntry, ConflictChoice, ConflictDetail, ConflictRecord, ConflictStrategy,
    ConflictSummary, Core, CoreError, CustomEvent, CustomEventInput, CustomEventView, DesktopPrefs,
    EntityKind, ErrorPayload, GenerateStoryInput, Hero, HeroFilter, HeroInput, HeroView,
    IllustrationView, MediaJob, Notice, Page, ProfileInput, ProfileView, Read, Story, StoryFilter,
    StoryInput, StorySummary, StoryView, SyncOverview, SyncReport, UnsyncedRow, UsageView, Window,
};
use tauri::State;
use uuid::Uuid;

type Res<T> = Result<T, ErrorPayload>;

fn ipc(e: CoreError) -> ErrorPayload {
    e.to_payload()
}

/// `sync name(args) -> T => |core| expr;` or `async name(args) -> T => |core| expr;`
/// where `expr` is a `Result<T, CoreError>` (awaited for `async`).
macro_rules! commands {
    ($(
        $(#[$doc:meta])*
        $kind:ident $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => |$core:ident| $body:expr;
    )*) => {
        $( commands!(@one $kind $(#[$doc])* $name($($arg: $ty),*) -> $ret => |$core| $body); )*

        /// The handler that answers every command.
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Each command with its arguments and its answer, as TypeScript types.
        #[cfg(test)]
        pub fn signatures(cfg: &ts_rs::Config) -> Vec<crate::typescript::Signature> {
            use crate::typescript::{named, Signature};
            vec![$(
                Signature {
                    name: stringify!($name),
                    args: vec![$((stringify!($arg), <$ty as ts_rs::TS>::name(cfg))),*],
                    returns: <$ret as ts_rs::TS>::name(cfg),
                    types: [$(named::<$ty>(cfg),)* named::<$ret>(cfg)].concat(),
                },
            )*]
        }
    };
    // A `sync` command is still an `async fn` to Tauri: Tauri runs plain `fn` commands on
    // the main thread, where they wait behind the web view's drawing (hundreds of
    // milliseconds under load); an `async` one runs on the async runtime's threads. Its
    // body is a short SQLite transaction and does not await.
    (@one sync $(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => |$core:ident| $body:expr) => {
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name(core: State<'_, Core>, $($arg: $ty),*) -> Res<$ret> {
            let $core = &*core;
            $body.map_err(ipc)
        }
    };
    (@one async $(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => |$core:ident| $body:expr) => {
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name(core: State<'_, Core>, $($arg: $ty),*) -> Res<$ret> {
            let $core = &*core;
            $body.await.map_err(ipc)
        }
    };
}

commands! {
    sync account_get() -> Option<Account> => |core| core.account();
    async sign_in(email: String, password: String) -> Account => |core| core.sign_in(&email, &password);
    async sign_up(email: String, password: String, name: String) -> Account
        => |core| core.sign_up(&email, &password, &name);
    /// Refused with `unsynced_changes` (and the count) unless `discard` (unsynced changes).
    async sign_out(discard: bool) -> () => |core| core.sign_out(discard);

    /// One window of the hero list (by name) and how many heroes match.
    sync heroes_page(filter: HeroFilter, window: Window) -> Page<HeroView>
        => |core| core.page::<Hero>(&filter, window);
    sync hero_get(id: Uuid) -> HeroView => |core| core.cached::<Hero>(id);
    sync hero_create(input: HeroInput) -> HeroView => |core| core.create::<Hero>(input);
    sync hero_update(id: Uuid, input: HeroInput) -> HeroView => |core| core.update::<Hero>(id, input);
    sync hero_delete(id: Uuid) -> () => |core| core.delete::<Hero>(id);
    sync hero_retry(id: Uuid) -> HeroView => |core| core.retry::<Hero>(id);
    sync hero_discard(id: Uuid) -> () => |core| core.discard::<Hero>(id);

    /// One window of the story list (newest first) and how many stories match.
    sync stories_page(filter: StoryFilter, window: Window) -> Page<StorySummary>
        => |core| core.page::<Story>(&filter, window);
    async story_get(id: Uuid) -> StoryView => |core| core.get::<Story>(id);
    sync story_create(input: StoryInput) -> StoryView => |core| core.create::<Story>(input);
    sync story_update(id: Uuid, input: StoryInput) -> StoryView
        => |core| core.update::<Story>(id, input);
    sync story_delete(id: Uuid) -> () => |core| core.delete::<Story>(id);
    sync story_favorite(id: Uuid, favorite: bool) -> StoryView
        => |core| core.set_favorite::<Story>(id, favorite);
    /// One play (the reader calls it once per play, not per resume).
    sync story_played(id: Uuid) -> StoryView => |core| core.increment::<Story>(id);
    sync story_retry(id: Uuid) -> StoryView => |core| core.retry::<Story>(id);
    sync story_discard(id: Uuid) -> () => |core| core.discard::<Story>(id);
    /// Needs the server: refused with `offline` while it is out of reach.
    async story_generate(input: GenerateStoryInput) -> StoryView => |core| core.generate_story(input);
    async story_illustrations(id: Uuid) -> Read<Vec<IllustrationView>>
        => |core| core.story_illustrations(id);

    sync custom_events_list() -> Vec<CustomEventView>
        => |core| core.list::<CustomEvent>(&());
    sync custom_event_create(input: CustomEventInput) -> CustomEventView
        => |core| core.create::<CustomEvent>(input);
    sync custom_event_update(id: Uuid, input: CustomEventInput) -> CustomEventView
        => |core| core.update::<CustomEvent>(id, input);
    sync custom_event_delete(id: Uuid) -> () => |core| core.delete::<CustomEvent>(id);
    sync custom_event_favorite(id: Uuid, favorite: bool) -> CustomEventView
        => |core| core.set_favorite::<CustomEvent>(id, favorite);

    /// networkFirst: the server's copy when it answers, else the saved one (`source`).
    async profile_get() -> Read<ProfileView> => |core| core.profile();
    sync profile_update(input: ProfileInput) -> ProfileView => |core| core.update_profile(input);
    async usage_get() -> Read<UsageView> => |core| core.usage();

    sync conflicts_list() -> Vec<ConflictSummary> => |core| core.conflicts();
    sync conflict_detail(entity: EntityKind, id: Uuid) -> ConflictDetail
        => |core| core.conflict_detail(entity, id);
    sync conflict_resolve(entity: EntityKind, id: Uuid, choice: ConflictChoice) -> ()
        => |core| core.resolve_conflict(entity, id, choice);
    sync conflict_history(entity: EntityKind, id: Uuid) -> Vec<ConflictRecord>
        => |core| core.conflict_history(entity, id);
    /// Restores a version that lost a conflict; returns the row's id.
    sync conflict_restore(history_id: i64) -> Uuid => |core| core.restore_conflict_version(history_id);
    sync conflict_strategy_get(entity: EntityKind) -> ConflictStrategy
        => |core| core.conflict_strategy(entity);
    sync conflict_strategy_set(entity: EntityKind, strategy: ConflictStrategy) -> ()
        => |core| core.set_conflict_strategy(entity, strategy);

    /// Rows with a change not on the server yet (the Sync panel).
    sync unsynced_rows() -> Vec<UnsyncedRow> => |core| core.unsynced();
    sync row_retry(entity: EntityKind, id: Uuid) -> () => |core| core.retry_any(entity, id);
    sync row_discard(entity: EntityKind, id: Uuid) -> () => |core| core.discard_any(entity, id);
    /// Background sync interval in seconds.
    sync sync_interval_get() -> u32
        => |core| core.sync_interval().map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    sync sync_interval_set(seconds: u32) -> u32
        => |core| core.set_sync_interval(seconds).map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));

    /// This device's desktop settings (tray, notifications).
    sync desktop_prefs_get() -> DesktopPrefs => |core| core.desktop_prefs();
    sync desktop_prefs_set(prefs: DesktopPrefs) -> DesktopPrefs => |core| core.set_desktop_prefs(prefs);

    async sync_now() -> SyncReport => |core| core.sync_now();
    sync sync_overview() -> SyncOverview => |core| core.overview();
    sync set_work_offline(enabled: bool) -> SyncOverview => |core| core.set_work_offline(enabled);
    sync sync_cancel() -> () => |core| { core.cancel_sync(); Ok(()) };
    sync activity_log(limit: u32) -> Vec<ActivityEntry> => |core| core.activity_log(limit);
    sync notices_list() -> Vec<Notice> => |core| core.notices();
    sync notice_dismiss(id: i64) -> () => |core| core.dismiss_notice(id);
    /// The sync report (JSON, nothing personal) for the user to save or send.
    sync sync_report() -> String => |core| core.sync_report(env!("CARGO_PKG_VERSION"));

    /// Where a picture or recording stands (`media://<kind>/<id>` loads it).
    sync media_status(media: MediaRef) -> MediaStatus => |core| core.media_status(media);
    /// Starts a download ("Download for offline"); progress follows as events.
    sync media_download(media: MediaRef) -> MediaStatus => |core| core.media_download(media);
    sync media_usage() -> MediaUsage => |core| core.media_usage();
    /// Where narration plays from when the web view cannot play `media://` audio (Linux:
    /// a loopback HTTP address with a secret path); `None`: use `media://`.
    sync media_stream_base() -> Option<String> => |_core| Ok::<_, CoreError>(stream_base());
    /// Removes the cached files of one kind, or all (`null`): the bytes freed.
    async media_clear(kind: Option<CacheKind>) -> u64 => |core| core.media_clear(kind);
    /// The cache's size cap in bytes; evicts down to it at once.
    async media_set_cap(bytes: u64) -> EvictionReport => |core| core.media_set_cap(bytes);
    async hero_generate_avatar(id: Uuid) -> MediaJob => |core| core.generate_avatar(id);
    async story_generate_audio(id: Uuid) -> MediaJob => |core| core.generate_audio(id);
    async story_generate_illustrations(id: Uuid, count: Option<u8>) -> MediaJob
        => |core| core.generate_illustrations(id, count);
}

/// The committed command map matches the commands; regenerate it with
/// `UPDATE_BINDINGS=1 cargo test-all --lib ui_command_map`.
#[cfg(test)]
#[test]
fn ui_command_map_matches_the_commands() {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let text = crate::typescript::render(&signatures(&cfg));
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("ui/src/lib/bindings/commands.ts");
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is out of date.\nRun: UPDATE_BINDINGS=1 cargo test-all --lib ui_command_map",
        path.display()
    );
}

#[cfg(target_os = "linux")]
fn stream_base() -> Option<String> {
    crate::media_http::base()
}

#[cfg(not(target_os = "linux"))]
fn stream_base() -> Option<String> {
    None
}
