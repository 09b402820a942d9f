//! Property: no key, URL or stored value, however hostile, makes the cache read or write
//! outside its folder, through the core or through the `media://` answers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use integration_tests::*;
use is_core::media::key::{file_name, is_cache_file_name, valid_key};
use is_core::media::watch::Seen;
use is_core::rng::{Rng, SplitMix64};
use is_core::Hero;
use uuid::Uuid;

const CASES: usize = 10_000;
const SECRET: &[u8] = b"the contents of a file outside the cache";

/// Pieces hostile input is made of: traversal in every spelling, absolute paths, NUL,
/// URLs, percent-encodings (single and double), Unicode look-alikes of `.` and `/`,
/// bidi overrides, and valid-looking parts to mix them into.
const PIECES: &[&str] = &[
    "..",
    "../",
    "..\\",
    "/",
    "\\",
    "%2e%2e%2f",
    "%2E%2E/",
    "%252e%252e%252f",
    "%2F",
    "%00",
    "\0",
    "C:\\Windows\\",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
    "http://evil.example/",
    "//evil.example/",
    "\u{2215}",
    "\u{2044}",
    "\u{ff0e}\u{ff0e}\u{ff0f}",
    "\u{2024}\u{2024}/",
    "\u{202e}",
    "\u{fe52}",
    ".",
    "....//",
    "..;/",
    "?",
    "#",
    " ",
    "\n",
    "media",
    "api/media/",
    "/api/media/",
    "avatar/",
    "audio/",
    "illustration/",
    ".png",
    "partial/",
    ".part",
];

fn hostile(rng: &SplitMix64) -> String {
    let mut s = String::new();
    let pieces = 1 + rng.next_u64() % 8;
    for _ in 0..pieces {
        match rng.next_u64() % 10 {
            0 => s.push_str(&Uuid::from_u128(rng.next_u64() as u128).to_string()),
            1 => s.push_str(&"a".repeat((rng.next_u64() % 5000) as usize)),
            2 => s.push(char::from_u32((rng.next_u64() % 0x2_FFFF) as u32).unwrap_or('\u{fffd}')),
            _ => s.push_str(PIECES[(rng.next_u64() % PIECES.len() as u64) as usize]),
        }
    }
    s
}

/// Every file under `dir` except the cache folder's own contents.
fn outside(dir: &Path, media: &Path) -> BTreeSet<(PathBuf, Vec<u8>)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(media) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_none_or(|x| x != "sqlite3-wal" && x != "sqlite3-shm" && x != "sqlite3")
            {
                out.insert((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out
}

#[tokio::test]
async fn hostile_keys_urls_and_stored_paths_never_leave_the_cache_folder() {
    let world = World::new();
    let server = world.start_server().await;
    let core = world.device("laptop", &server.base_url);
    sign_up(&core, "hostile@example.com").await;
    let media = core.media().clone();
    let layout = media.layout().clone();
    std::fs::create_dir_all(layout.partial_dir()).unwrap();
    let top = world.dir.path().to_path_buf();
    std::fs::write(top.join("secret.txt"), SECRET).unwrap();
    std::fs::write(world.device_dir("laptop").join("secret.txt"), SECRET).unwrap();
    let before = outside(&top, layout.root());

    let rng = SplitMix64::new(0x5eed);
    let cases: Vec<String> = (0..CASES).map(|_| hostile(&rng)).collect();

    // The core: every key names a file directly inside the folder, and no key the cache
    // would fetch carries anything but a plain name under /api/media/.
    for key in &cases {
        assert!(is_cache_file_name(&file_name(key)));
        assert_eq!(layout.file(key).parent(), Some(layout.root()), "{key:?}");
        assert_eq!(
            layout.partial(key).parent(),
            Some(layout.partial_dir().as_path()),
            "{key:?}"
        );
        if valid_key(key) {
            let name = key.strip_prefix("/api/media/").unwrap();
            assert!(!name.contains(".."), "{key:?}");
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
        }
    }

    // The scheme: hostile request paths are refused without a download or a read.
    for path in &cases {
        let res = core.media_respond(path, Some(path)).await;
        assert!(
            matches!(res.status, 400 | 404),
            "{path:?} answered {}",
            res.status
        );
        assert_ne!(res.body, SECRET);
    }
    assert_eq!(media.requests(), 0, "no hostile path started a download");

    // Stored values: a (hostile) server or a damaged database gives rows hostile URLs,
    // and the index hostile keys and file names.
    let heroes: Vec<Uuid> = (0..100)
        .map(|i| {
            core.create::<Hero>(hero(&format!("Hero {i}"), 5))
                .unwrap()
                .id
        })
        .collect();
    let mut db =
        rusqlite::Connection::open(world.device_dir("laptop").join("cache.sqlite3")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.pragma_update(None, "synchronous", "OFF").unwrap();
    for chunk in cases.chunks(heroes.len()) {
        let tx = db.transaction().unwrap();
        for (id, url) in heroes.iter().zip(chunk) {
            tx.execute(
                "UPDATE heroes SET avatar_url = ?2 WHERE id = ?1",
                rusqlite::params![id.to_string(), url],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        for id in &heroes {
            let res = core
                .media_respond(&format!("/avatar/{id}"), Some("bytes=0-"))
                .await;
            let url: Option<String> = db
                .query_row(
                    "SELECT avatar_url FROM heroes WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .unwrap();
            let url = url.unwrap_or_default();
            // A URL of the right shape is asked of the server (which has no such file);
            // anything else is refused before any request. Both are "not available".
            assert_eq!(res.status, 404, "{url:?}");
            assert_ne!(res.body, SECRET);
        }
    }
    let tx = db.transaction().unwrap();
    for (i, key) in cases.iter().enumerate() {
        tx.execute(
            "INSERT OR IGNORE INTO media_cache (key, file, kind, owner_id, state, size, hash, content_type, last_used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'x', 'text/html', 0)",
            rusqlite::params![
                key,
                cases[(i + 1) % CASES],
                ["avatar", "audio", "illustration", "../etc"][i % 4],
                cases[(i + 2) % CASES],
                ["complete", "partial"][i % 2],
                (i % 7) as i64,
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    for key in cases.iter().take(500) {
        media
            .check_file(&Seen {
                name: key.clone(),
                content: true,
            })
            .unwrap();
        media
            .check_file(&Seen {
                name: file_name(key),
                content: true,
            })
            .unwrap();
    }
    media.repair().unwrap();
    media.evict().unwrap();
    media.clear(None).unwrap();
    media.wipe().unwrap();
    drop(db);

    assert_eq!(
        outside(&top, layout.root()),
        before,
        "nothing outside the folder changed"
    );
    assert!(layout.root().starts_with(world.device_dir("laptop")));
}
