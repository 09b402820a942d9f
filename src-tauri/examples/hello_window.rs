//! A hello-world Tauri window: the baseline the app's memory is measured beside
//! (`tests/e2e/bench.rs`). Same Tauri, same web view, one static page (served from
//! loopback: data URLs need a Tauri feature the app does not use), no core.

use std::io::{Read, Write};
use std::net::TcpListener;

const PAGE: &str = "<!doctype html><title>Hello</title><h1>Hello, world</h1>";

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
        }
    });
    tauri::Builder::default()
        .setup(move |app| {
            let url = tauri::WebviewUrl::External(url.parse()?);
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("Hello")
                .inner_size(1120.0, 780.0)
                .build()?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the hello-world window");
}
