//! A hello-world Tauri window: the baseline the app's memory is measured beside
//! (`tests/e2e/bench.rs`). Same Tauri, same web view, one static page, no core.

fn main() {
    tauri::Builder::default()
        .setup(|app| {
            let page = "data:text/html,<!doctype html><title>Hello</title><h1>Hello, world</h1>";
            let url = tauri::WebviewUrl::External(page.parse()?);
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("Hello")
                .inner_size(1120.0, 780.0)
                .build()?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the hello-world window");
}
