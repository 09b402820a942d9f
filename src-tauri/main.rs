// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(e) = infinite_stories_app::run() {
        eprintln!("infinite-stories: {e:#}");
        std::process::exit(1);
    }
}
