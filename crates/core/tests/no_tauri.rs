//! Invariant: the headless core never depends on Tauri (ARCHITECTURE.md).

#[test]
fn core_does_not_depend_on_tauri() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "is-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        tree.lines().count() > 10,
        "cargo tree printed too little to be real:\n{tree}"
    );
    let offenders: Vec<&str> = tree
        .lines()
        .filter(|l| l.starts_with("tauri") || l.starts_with("wry ") || l.starts_with("tao "))
        .collect();
    assert!(offenders.is_empty(), "the core depends on {offenders:?}");
}
