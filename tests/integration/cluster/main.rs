//! The server as a cluster of real processes (issue "The server beyond one machine"):
//! three `story-server` replicas on one PostgreSQL database behind HAProxy, and three
//! devices (real cores over `HttpTransport`, each on its own SQLite file) writing and
//! syncing through the balancer all along, while one replica is killed with SIGKILL in
//! the middle of the traffic and started again.
//!
//! Every device creates, renames and deletes heroes and stories of its own and syncs after
//! each few writes; requests in flight on the killed replica fail (HAProxy answers 502 or
//! the connection breaks), and the devices retry. Afterwards, with every replica up,
//! each device syncs until nothing moves, and:
//! - no device has anything left to send or given up;
//! - the server holds exactly the rows the devices meant (each device's own model of what
//!   it did): no lost write, no duplicate, every rename at its last name;
//! - every device holds exactly the server's rows (the change feed, served by whichever
//!   replica, missed nothing).
//!
//! Needs PostgreSQL, HAProxy and a built `story-server`, so it is `#[ignore]`d; test.sh
//! runs it as `scripts/pg.sh run -- cargo test -p integration-tests --test cluster --
//! --ignored` after `cargo build -p story-server`. `CLUSTER_ROUNDS=<n>` writes per device
//! (default 300), `CLUSTER_SEED=<n>` the seed of the writes.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{get_json, hero, story, World, TEST_PASSWORD};
use is_core::clock::SystemClock;
use is_core::rng::{Rng, SplitMix64};
use is_core::sync::plan::RetryPolicy;
use is_core::transport::HttpTransport;
use is_core::{Core, Hero, Story};
use uuid::Uuid;

const EMAIL: &str = "cluster@example.com";
const REPLICAS: usize = 3;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `story-server` next to this test's executable (`target/<profile>/story-server`).
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("story-server");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p story-server` first",
        bin.display()
    );
    bin
}

/// A process killed when dropped (a failing test leaves nothing running).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A replica of the server: `story-server` on `port`, on the cluster's database and
/// media directory.
fn spawn_replica(dir: &Path, database_url: &str, i: usize, port: u16) -> Proc {
    let log = std::fs::File::create(dir.join(format!("replica-{i}.log"))).expect("a log file");
    let child = Command::new(server_binary())
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(["--database-url", database_url])
        .arg("--media-dir")
        .arg(dir.join("media"))
        // Cheap password hashing and no per-user limit: this test is about the cluster,
        // not about brute force.
        .args(["--argon2-memory-kib", "1024", "--argon2-iterations", "1"])
        .args(["--rate-limit-per-second", "0"])
        .args(["--log", "warn"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("story-server starts");
    wait_healthy(&format!("http://127.0.0.1:{port}"));
    Proc(child)
}

/// HAProxy on `port` in front of the replicas on `backends`, checking their health every
/// 200 ms and sending a request whose connection is refused to another replica.
fn spawn_balancer(dir: &Path, port: u16, backends: &[u16]) -> Proc {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server r{i} 127.0.0.1:{p} check inter 200ms fall 1 rise 1\n"))
        .collect();
    let config = format!(
        "global\n    maxconn 1024\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         \x20   option httpchk GET /api/health\n    retries 3\n    option redispatch\n\
         frontend stories\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n{servers}"
    );
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, config).expect("the balancer's configuration");
    let log = std::fs::File::create(dir.join("haproxy.log")).expect("a log file");
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("HAProxy starts (apt-get install haproxy)");
    wait_healthy(&format!("http://127.0.0.1:{port}"));
    Proc(child)
}

/// The replicas (`None`: killed) and the balancer in front of them.
struct Cluster {
    dir: PathBuf,
    database_url: String,
    ports: Vec<u16>,
    replicas: Vec<Option<Proc>>,
    _balancer: Proc,
    url: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let database_url = story_server::testing::test_database_url(&dir.join("cluster"))
            .expect("STORY_TEST_DATABASE_URL names a PostgreSQL server (scripts/pg.sh run)");
        std::fs::create_dir_all(dir.join("media")).expect("a media directory");
        let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect();
        let replicas = ports
            .iter()
            .enumerate()
            .map(|(i, &port)| Some(spawn_replica(dir, &database_url, i, port)))
            .collect();
        let port = free_port();
        Cluster {
            dir: dir.to_owned(),
            database_url,
            _balancer: spawn_balancer(dir, port, &ports),
            ports,
            replicas,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn restart_replica(&mut self, i: usize) {
        self.replicas[i] = Some(spawn_replica(
            &self.dir,
            &self.database_url,
            i,
            self.ports[i],
        ));
    }

    /// SIGKILL: no shutdown, no flush, in-flight requests cut.
    fn kill_replica(&mut self, i: usize) {
        self.replicas[i] = None;
    }
}

fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{base}/api/health");
    loop {
        let ok = std::process::Command::new("curl")
            .args(["-fs", "-m", "1", "-o", "/dev/null", &url])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "{url} did not answer in 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a device meant: its own rows by id, with their last title (`None`: deleted).
#[derive(Default)]
struct Model {
    heroes: BTreeMap<Uuid, Option<String>>,
    stories: BTreeMap<Uuid, Option<String>>,
}

fn device(world: &World, name: &str, url: &str) -> Core {
    // Failures while a replica dies are answered failures (502, a broken connection):
    // a device retries them, as the app does, with a short backoff.
    let retry = RetryPolicy {
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
        max_attempts: 20,
    };
    world.device_custom(
        name,
        Arc::new(HttpTransport::new(url)),
        Arc::new(SystemClock),
        retry,
    )
}

/// One device's share of the traffic: `rounds` writes on its own rows, syncing after
/// every third, errors from the dying replica tolerated (the outbox keeps the writes).
async fn work(core: Core, me: usize, rounds: u64, seed: u64) -> (Core, Model, u32) {
    let rng = SplitMix64::new(seed ^ (me as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut model = Model::default();
    let mut sync_errors = 0;
    for round in 0..rounds {
        let live_heroes: Vec<Uuid> = model
            .heroes
            .iter()
            .filter_map(|(id, n)| n.as_ref().map(|_| *id))
            .collect();
        let live_stories: Vec<Uuid> = model
            .stories
            .iter()
            .filter_map(|(id, t)| t.as_ref().map(|_| *id))
            .collect();
        let name = format!("d{me} r{round}");
        match rng.next_u64() % 10 {
            0..=2 => {
                let h = core.create::<Hero>(hero(&name, 5)).expect("create a hero");
                model.heroes.insert(h.id, Some(name));
            }
            3..=4 if !live_heroes.is_empty() => {
                let id = live_heroes[(rng.next_u64() % live_heroes.len() as u64) as usize];
                core.update::<Hero>(id, hero(&name, 6))
                    .expect("rename a hero");
                model.heroes.insert(id, Some(name));
            }
            5 if !live_heroes.is_empty() => {
                let id = live_heroes[(rng.next_u64() % live_heroes.len() as u64) as usize];
                core.delete::<Hero>(id).expect("delete a hero");
                model.heroes.insert(id, None);
            }
            6..=7 if !live_stories.is_empty() => {
                let id = live_stories[(rng.next_u64() % live_stories.len() as u64) as usize];
                core.update::<Story>(id, story(&name, None))
                    .expect("edit a story");
                model.stories.insert(id, Some(name));
            }
            8 if !live_stories.is_empty() => {
                let id = live_stories[(rng.next_u64() % live_stories.len() as u64) as usize];
                core.delete::<Story>(id).expect("delete a story");
                model.stories.insert(id, None);
            }
            _ => {
                let s = core
                    .create::<Story>(story(&name, None))
                    .expect("create a story");
                model.stories.insert(s.id, Some(name));
            }
        }
        if round % 3 == 2 && core.sync_now().await.is_err() {
            sync_errors += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (core, model, sync_errors)
}

/// The live rows the server lists at `path`, id → title (`name` or `title`).
async fn server_rows(url: &str, token: &str, path: &str, field: &str) -> BTreeMap<Uuid, String> {
    let (status, body) = get_json(&format!("{url}{path}?limit=1000"), token).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    let items = body["items"].as_array().expect("a page of items");
    assert!(
        body["next_cursor"].is_null(),
        "more than one page: raise the limit"
    );
    let mut rows = BTreeMap::new();
    for item in items {
        let id: Uuid = item["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an id");
        let title = item[field].as_str().expect("a title").to_owned();
        assert!(rows.insert(id, title).is_none(), "{path} lists {id} twice");
    }
    rows
}

fn device_rows_heroes(core: &Core) -> BTreeMap<Uuid, String> {
    core.list::<Hero>(&Default::default())
        .expect("the device's heroes")
        .into_iter()
        .map(|h| (h.id, h.name))
        .collect()
}

fn device_rows_stories(core: &Core) -> BTreeMap<Uuid, String> {
    core.list::<Story>(&Default::default())
        .expect("the device's stories")
        .into_iter()
        .map(|s| (s.id, s.title))
        .collect()
}

fn live(model: impl Iterator<Item = (Uuid, Option<String>)>) -> BTreeMap<Uuid, String> {
    model.filter_map(|(id, t)| t.map(|t| (id, t))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, HAProxy and a built story-server: scripts/pg.sh run -- cargo test -p integration-tests --test cluster -- --ignored"]
async fn devices_through_a_balancer_lose_nothing_when_a_replica_dies() {
    let rounds = env_u64("CLUSTER_ROUNDS").unwrap_or(300);
    let seed = env_u64("CLUSTER_SEED").unwrap_or(7);
    let world = World::new();
    let dir = world.dir.path().join("cluster");
    std::fs::create_dir_all(&dir).expect("the cluster's directory");
    let mut cluster = tokio::task::block_in_place(|| Cluster::start(&dir));
    let url = cluster.url.clone();

    let devices: Vec<Core> = (0..3)
        .map(|i| device(&world, &format!("device{i}"), &url))
        .collect();
    devices[0]
        .sign_up(EMAIL, TEST_PASSWORD, "Cluster Parent")
        .await
        .expect("sign up through the balancer");
    for d in &devices[1..] {
        d.sign_in(EMAIL, TEST_PASSWORD)
            .await
            .expect("sign in through the balancer");
    }

    // The traffic, with one replica killed a third of the way in and back at two thirds.
    let started = Instant::now();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, core)| tokio::spawn(work(core, i, rounds, seed)))
        .collect();
    let victim = (seed % REPLICAS as u64) as usize;
    let pace = Duration::from_millis(rounds * 12);
    tokio::time::sleep(pace / 3).await;
    tokio::task::block_in_place(|| cluster.kill_replica(victim));
    let killed_at = started.elapsed();
    tokio::time::sleep(pace / 3).await;
    tokio::task::block_in_place(|| cluster.restart_replica(victim));
    let restarted_at = started.elapsed();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("a device's traffic"));
    }
    let traffic = started.elapsed();
    let sync_errors: u32 = results.iter().map(|r| r.2).sum();

    // Settle: everybody syncs until a whole round pushes and pulls nothing.
    let mut quiet = false;
    for _ in 0..20 {
        let mut moved = false;
        for (core, _, _) in &results {
            match core.sync_now().await {
                Ok(r) => moved |= r.pushed > 0 || r.pulled > 0,
                Err(e) => panic!("a sync with every replica up failed: {e}"),
            }
        }
        if !moved {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the devices did not settle in 20 rounds");

    for (i, (core, _, _)) in results.iter().enumerate() {
        assert_eq!(
            core.outbox_len().expect("outbox"),
            0,
            "device {i} has changes left"
        );
        let stuck = core.unsynced().expect("unsynced rows");
        assert!(
            stuck.is_empty(),
            "device {i} has rows not synced: {stuck:?}"
        );
    }

    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({"email": EMAIL, "password": TEST_PASSWORD}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("sign in through the balancer")
        .json()
        .await
        .expect("a session");
    let token = login["token"].as_str().expect("a token");
    let server_heroes = server_rows(&url, token, "/api/heroes", "name").await;
    let server_stories = server_rows(&url, token, "/api/stories", "title").await;

    let meant_heroes = live(results.iter().flat_map(|(_, m, _)| m.heroes.clone()));
    let meant_stories = live(results.iter().flat_map(|(_, m, _)| m.stories.clone()));
    assert_eq!(server_heroes, meant_heroes, "the server's heroes");
    assert_eq!(server_stories, meant_stories, "the server's stories");
    for (i, (core, _, _)) in results.iter().enumerate() {
        assert_eq!(
            device_rows_heroes(core),
            server_heroes,
            "device {i}'s heroes"
        );
        assert_eq!(
            device_rows_stories(core),
            server_stories,
            "device {i}'s stories"
        );
    }
    eprintln!(
        "cluster: {REPLICAS} replicas behind HAProxy, 3 devices × {rounds} writes in {:.1} s; \
         replica {victim} killed at {:.1} s, back at {:.1} s; {sync_errors} syncs failed \
         meanwhile; {} heroes and {} stories agree on the server and every device",
        traffic.as_secs_f64(),
        killed_at.as_secs_f64(),
        restarted_at.as_secs_f64(),
        server_heroes.len(),
        server_stories.len(),
    );
}
