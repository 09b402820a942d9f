//! The UI's TypeScript types are generated from the Rust types and committed in
//! `ui/src/lib/bindings/`. This test fails when they drift; regenerate them with
//! `UPDATE_BINDINGS=1 cargo test -p is-core --features ts --test ts_bindings`.
#![cfg(feature = "ts")]

use std::path::PathBuf;

use ts_rs::{Config, TS};

fn bindings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings")
}

fn render<T: TS + 'static>(cfg: &Config, out: &mut Vec<(String, String)>) {
    let name = T::ident(cfg);
    let text = T::export_to_string(cfg).expect("ts-rs renders every exported type");
    out.push((name, text));
}

#[test]
fn ui_bindings_match_the_rust_types() {
    let cfg = Config::new().with_large_int("number");
    let mut files = Vec::new();
    // The wire types the UI sees.
    render::<is_protocol::HeroTrait>(&cfg, &mut files);
    render::<is_protocol::HeroInput>(&cfg, &mut files);
    render::<is_protocol::FieldError>(&cfg, &mut files);
    render::<is_protocol::EntityKind>(&cfg, &mut files);
    render::<is_protocol::Language>(&cfg, &mut files);
    render::<is_protocol::EventType>(&cfg, &mut files);
    render::<is_protocol::StoryInput>(&cfg, &mut files);
    render::<is_protocol::EventCategory>(&cfg, &mut files);
    render::<is_protocol::EventTone>(&cfg, &mut files);
    render::<is_protocol::CustomEventInput>(&cfg, &mut files);
    render::<is_protocol::GenerationStatus>(&cfg, &mut files);
    render::<is_protocol::Theme>(&cfg, &mut files);
    render::<is_protocol::SubscriptionTier>(&cfg, &mut files);
    render::<is_protocol::UsageLimits>(&cfg, &mut files);
    render::<is_protocol::TierLimits>(&cfg, &mut files);
    render::<is_protocol::UsageStats>(&cfg, &mut files);
    // The core's view types.
    render::<is_core::sync_state::SyncStatus>(&cfg, &mut files);
    render::<is_core::sync_state::PendingOp>(&cfg, &mut files);
    render::<is_core::RowSync>(&cfg, &mut files);
    render::<is_core::HeroView>(&cfg, &mut files);
    render::<is_core::Account>(&cfg, &mut files);
    render::<is_core::NetworkState>(&cfg, &mut files);
    render::<is_core::SyncOverview>(&cfg, &mut files);
    render::<is_core::SyncReport>(&cfg, &mut files);
    render::<is_core::CoreEvent>(&cfg, &mut files);
    render::<is_core::ErrorPayload>(&cfg, &mut files);
    render::<is_core::StoryView>(&cfg, &mut files);
    render::<is_core::StorySummary>(&cfg, &mut files);
    render::<is_core::StoryFilter>(&cfg, &mut files);
    render::<is_core::GenerateStoryInput>(&cfg, &mut files);
    render::<is_core::IllustrationView>(&cfg, &mut files);
    render::<is_core::CustomEventView>(&cfg, &mut files);
    render::<is_core::ProfileInput>(&cfg, &mut files);
    render::<is_core::ProfileView>(&cfg, &mut files);
    render::<is_core::UsageView>(&cfg, &mut files);
    render::<is_core::Refreshed>(&cfg, &mut files);
    render::<is_core::ConflictStrategy>(&cfg, &mut files);
    render::<is_core::ConflictSummary>(&cfg, &mut files);
    render::<is_core::ConflictDetail>(&cfg, &mut files);
    render::<is_core::ConflictChoice>(&cfg, &mut files);
    render::<is_core::ConflictRecord>(&cfg, &mut files);
    render::<is_core::CachePolicy>(&cfg, &mut files);
    render::<is_core::ReadSource>(&cfg, &mut files);
    // Generic: rendered once with its type parameter.
    render::<is_core::Read<is_core::ProfileView>>(&cfg, &mut files);

    let dir = bindings_dir();
    let update = std::env::var_os("UPDATE_BINDINGS").is_some();
    let mut stale = Vec::new();
    for (name, text) in &files {
        let path = dir.join(format!("{name}.ts"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    // Files for types that no longer exist are drift too.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let known = files.iter().any(|(name, _)| format!("{name}.ts") == file);
            if file.ends_with(".ts") && !known {
                if update {
                    std::fs::remove_file(entry.path()).unwrap();
                } else {
                    stale.push(entry.path().display().to_string());
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "TypeScript bindings are out of date: {stale:?}\nRun: UPDATE_BINDINGS=1 cargo test -p is-core --features ts --test ts_bindings"
    );
}
