//! Runs the real desktop app under a (virtual) display against a real `story-server`, and
//! drives it through `tauri-driver` (WebDriver → WebKitWebDriver → the app's webview).
//!
//! Expects the app and server binaries to be built (`scripts/test.sh` does it). Paths can
//! be overridden with `E2E_APP` and `E2E_SERVER`. Every wait has a deadline: a webview that
//! fails to start must fail the test, not hang it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

pub const PASSWORD: &str = "story-time-1234";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn binary(env_var: &str, name: &str) -> Result<PathBuf> {
    let path = match std::env::var_os(env_var) {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"));
            target.join("debug").join(name)
        }
    };
    if !path.exists() {
        bail!(
            "{} not found; build it first (see scripts/test.sh) or set {env_var}",
            path.display()
        );
    }
    Ok(path)
}

/// Runs a scenario in a fresh directory with a deadline. On failure the logs of every
/// process it started (server, tauri-driver and the app, Xvfb) are printed, so that a red
/// CI run says why.
pub async fn run_scenario<F, Fut>(name: &str, scenario: F) -> Result<()>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let dir = tempfile::Builder::new()
        .prefix(&format!("e2e-{name}-"))
        .tempdir()?;
    let result = tokio::time::timeout(Duration::from_secs(420), scenario(dir.path().to_owned()))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("{name} took longer than 7 minutes")));
    if result.is_err() {
        // The scenario's own logs, and those of each device it ran in a subdirectory
        // (two app instances: `a/`, `b/`).
        let mut dirs = vec![dir.path().to_owned()];
        if let Ok(entries) = std::fs::read_dir(dir.path()) {
            let mut subs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir() && p.join("tauri-driver.log").exists())
                .collect();
            subs.sort();
            dirs.extend(subs);
        }
        for d in dirs {
            for log in ["server.log", "tauri-driver.log", "xvfb.log"] {
                if let Ok(text) = std::fs::read_to_string(d.join(log)) {
                    let tail: Vec<&str> = text.lines().rev().take(60).collect();
                    let shown = d.strip_prefix(dir.path()).unwrap_or(&d).join(log);
                    eprintln!("---- {} (last lines) ----", shown.display());
                    for line in tail.into_iter().rev() {
                        eprintln!("{line}");
                    }
                }
            }
        }
    }
    result
}

/// Where screenshots go: `target/e2e-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn wait_for_port(addr: SocketAddr, deadline: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on {addr} after {deadline:?}")
}

/// A child process that is stopped with SIGTERM (never SIGKILL first: tauri-driver must
/// get the chance to stop WebKitWebDriver) when dropped.
pub struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Proc> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Proc { name, child })
    }

    pub fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The reference server as a separate process, restartable on the same port and database.
pub struct Server {
    pub addr: SocketAddr,
    db: PathBuf,
    log_dir: PathBuf,
    extra_args: Vec<String>,
    proc: Option<Proc>,
}

impl Server {
    pub async fn start(dir: &Path) -> Result<Server> {
        Server::start_with(dir, &[]).await
    }

    /// With extra command-line flags, e.g. `--demo`.
    pub async fn start_with(dir: &Path, extra_args: &[&str]) -> Result<Server> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut server = Server {
            addr,
            db: dir.join("server.sqlite3"),
            log_dir: dir.to_owned(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            proc: None,
        };
        server.up().await?;
        Ok(server)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn up(&mut self) -> Result<()> {
        let bin = binary("E2E_SERVER", "story-server")?;
        let log = self.log_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(bin)
            .args(["--addr", &self.addr.to_string(), "--db"])
            .arg(&self.db)
            .args(["--argon2-memory-kib", "1024", "--argon2-iterations", "1"])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting story-server")?;
        self.proc = Some(Proc {
            name: "story-server",
            child,
        });
        wait_for_port(self.addr, Duration::from_secs(20)).await
    }

    pub fn down(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.terminate();
        }
    }

    pub async fn signup(&self, email: &str, name: &str) -> Result<()> {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/auth/signup", self.base_url()))
            .json(&serde_json::json!({"email": email, "password": PASSWORD, "name": name}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "signup answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// A signed-in REST client for the account, for arranging and checking what the
    /// server holds (stories made "on another device", media generation, ...).
    pub async fn api(&self, email: &str) -> Result<Api> {
        Api::login(&self.base_url(), email, PASSWORD).await
    }

    /// The account's heroes as the server holds them.
    pub async fn heroes(&self, email: &str) -> Result<Vec<is_protocol::HeroRecord>> {
        self.heroes_of(email, PASSWORD).await
    }

    pub async fn heroes_of(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Vec<is_protocol::HeroRecord>> {
        let http = reqwest::Client::new();
        let session: serde_json::Value = http
            .post(format!("{}/api/auth/login", self.base_url()))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = session["token"].as_str().context("no token")?;
        let page: is_protocol::Page<is_protocol::HeroRecord> = http
            .get(format!("{}/api/heroes?limit=1000", self.base_url()))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(page.items)
    }
}

/// The REST API as one signed-in user (a session token from `/api/auth/login`). The
/// base URL stays valid across [`Server::down`] / [`Server::up`] (same port, same
/// database, so the same sessions).
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub async fn login(base: &str, email: &str, password: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?;
        let session: serde_json::Value = http
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = session["token"].as_str().context("no token")?.to_owned();
        Ok(Api {
            http,
            base: base.to_owned(),
            token,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        if text.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path} answered {text}"))
    }

    pub async fn get(&self, path: &str) -> Result<serde_json::Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// Creates a story (a bedtime story, no hero) → the server's record.
    pub async fn create_story(&self, title: &str, content: &str) -> Result<serde_json::Value> {
        self.post(
            "/api/stories",
            serde_json::json!({
                "title": title,
                "content": content,
                "language": "en",
                "event_type": "bedtime",
            }),
        )
        .await
    }

    /// One story as the server holds it (fails for a missing or deleted one).
    pub async fn story(&self, id: &str) -> Result<serde_json::Value> {
        self.get(&format!("/api/stories/{id}")).await
    }

    /// Every live story of the account.
    pub async fn stories(&self) -> Result<Vec<serde_json::Value>> {
        let page = self.get("/api/stories?limit=1000").await?;
        Ok(page["items"].as_array().cloned().unwrap_or_default())
    }

    /// Every live hero of the account.
    pub async fn heroes(&self) -> Result<Vec<serde_json::Value>> {
        let page = self.get("/api/heroes?limit=1000").await?;
        Ok(page["items"].as_array().cloned().unwrap_or_default())
    }

    /// Changes fields of a story, unconditionally (as another device would).
    pub async fn patch_story(
        &self,
        id: &str,
        patch: serde_json::Value,
    ) -> Result<serde_json::Value> {
        self.patch(&format!("/api/stories/{id}"), patch).await
    }
}

/// Polls `$body` (an expression that may `.await` and `?`, giving
/// `anyhow::Result<Result<T, String>>`) until it gives `Ok(Ok(value))`, for at most
/// `$within`. `Ok(Err(why))` means "not yet" and `why` ends up in the timeout's message,
/// as does the last error (errors are retried: the app may be re-rendering).
#[macro_export]
macro_rules! eventually {
    ($within:expr, $what:expr, $body:expr) => {{
        let within: ::std::time::Duration = $within;
        let start = ::std::time::Instant::now();
        let mut last = String::from("never checked");
        loop {
            let attempt: ::anyhow::Result<::std::result::Result<_, String>> = async { $body }.await;
            match attempt {
                Ok(Ok(value)) => break Ok::<_, ::anyhow::Error>(value),
                Ok(Err(why)) => last = why,
                Err(e) => last = format!("error: {e:#}"),
            }
            if ::std::env::var_os("E2E_TRACE").is_some() {
                eprintln!(
                    "  … {:>6.1}s {}: {}",
                    start.elapsed().as_secs_f64(),
                    $what,
                    last
                );
            }
            if start.elapsed() >= within {
                break Err(::anyhow::anyhow!(
                    "{} (not within {:?}; last: {})",
                    $what,
                    within,
                    last
                ));
            }
            ::tokio::time::sleep(::std::time::Duration::from_millis(150)).await;
        }
    }};
}

/// One running app instance (one "device") and the WebDriver session on it.
pub struct App {
    pub client: Client,
    _driver: Proc,
    _xvfb: Option<Proc>,
}

impl App {
    /// Launches the app with its own data directory, talking to `server_url`.
    pub async fn launch(dir: &Path, server_url: &str) -> Result<App> {
        let app_bin = binary("E2E_APP", "infinite-stories")?;
        let driver_bin = which("tauri-driver")
            .context("tauri-driver is not installed (cargo install tauri-driver --locked)")?;

        // A virtual display unless one is given.
        let mut xvfb = None;
        let display = match std::env::var("DISPLAY") {
            Ok(d) if !d.is_empty() => d,
            _ => {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = 90
                    + (std::process::id() + NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                        % 9;
                let d = format!(":{n}");
                xvfb = Some(Proc::spawn(
                    "Xvfb",
                    Command::new("Xvfb").args([
                        d.as_str(),
                        "-screen",
                        "0",
                        "1280x860x24",
                        "-nolisten",
                        "tcp",
                    ]),
                    &dir.join("xvfb.log"),
                )?);
                wait_for_x(&d).await?;
                d
            }
        };

        let port = free_port();
        let native_port = free_port();
        let driver = Proc::spawn(
            "tauri-driver",
            Command::new(driver_bin)
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("DISPLAY", &display)
                .env("INFINITE_STORIES_DATA_DIR", dir.join("device"))
                .env("INFINITE_STORIES_SERVER", server_url)
                .env("RUST_LOG", "info,is_core=debug")
                // Software rendering: there is no GPU under Xvfb.
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .env("LIBGL_ALWAYS_SOFTWARE", "1")
                // No sound card either: GStreamer's `fakeaudiosink` (gst-plugins-bad)
                // stands in for one, as Xvfb does for a display. It consumes audio in
                // real time, so playback advances as it would on speakers.
                .env("GST_PLUGIN_FEATURE_RANK", "fakeaudiosink:MAX"),
            &dir.join("tauri-driver.log"),
        )?;
        wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(20),
        )
        .await?;

        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app_bin.to_string_lossy() }),
        );
        // tauri-driver starts WebKitWebDriver on the first request and may forward to it
        // before it listens, so the first attempts can be refused: retry for a while.
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(60),
                ClientBuilder::native()
                    .capabilities(caps.clone())
                    .connect(&url),
            )
            .await
            .context("the WebDriver session did not start within 60 s")?;
            match attempt {
                Ok(client) => break client,
                Err(e) if start.elapsed() < Duration::from_secs(30) => {
                    eprintln!("WebDriver session not ready yet ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e).context("starting the WebDriver session"),
            }
        };
        Ok(App {
            client,
            _driver: driver,
            _xvfb: xvfb,
        })
    }

    pub async fn find(&self, testid: &str) -> Result<Element> {
        self.wait_for(&format!("[data-testid='{testid}']")).await
    }

    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    /// Waits until `css` has attribute `attr` equal to `value`.
    pub async fn wait_attr(
        &self,
        css: &str,
        attr: &str,
        value: &str,
        within: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < within {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.attr(attr).await.ok().flatten();
                if last.as_deref() == Some(value) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{css} [{attr}] is {last:?}, expected {value:?} within {within:?}")
    }

    pub async fn type_into(&self, testid: &str, text: &str) -> Result<()> {
        let el = self.find(testid).await?;
        el.clear().await.ok();
        el.send_keys(text)
            .await
            .with_context(|| format!("typing into {testid}"))
    }

    pub async fn click(&self, testid: &str) -> Result<()> {
        self.find(testid)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking {testid}"))
    }

    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        // WebKit takes a screenshot after the page's next paint following the request, and
        // an idle page may not paint for about a minute (until a "synced 1 minute ago"
        // label changes): screenshots of a device that had only received a change waited
        // ~50 s each. So for the screenshot one pixel at 1-2% opacity changes every frame
        // (for 5 s at most), and the paint it waits for comes at once.
        self.client
            .execute(
                "const d = document.createElement('div');
                 d.id = '__e2e_repaint';
                 d.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;'
                   + 'background:#000;opacity:0.01;pointer-events:none;z-index:2147483647';
                 document.body.appendChild(d);
                 const until = performance.now() + 5000;
                 const tick = () => {
                   if (!d.isConnected || performance.now() > until) return d.remove();
                   d.style.opacity = d.style.opacity === '0.01' ? '0.02' : '0.01';
                   requestAnimationFrame(tick);
                 };
                 requestAnimationFrame(tick);",
                vec![],
            )
            .await?;
        let png = self.client.screenshot().await;
        self.client
            .execute(
                "document.getElementById('__e2e_repaint')?.remove();",
                vec![],
            )
            .await?;
        let png = png?;
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// The names of the hero rows currently rendered, in order.
    pub async fn hero_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for row in self
            .client
            .find_all(Locator::Css("[data-testid='hero-row']"))
            .await?
        {
            if let Some(name) = row.attr("data-hero-name").await? {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Waits until the rendered hero rows are exactly `want` (any order).
    pub async fn wait_hero_names(&self, want: &[&str], within: Duration) -> Result<()> {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        let start = Instant::now();
        let mut got = Vec::new();
        while start.elapsed() < within {
            got = self.hero_names().await?;
            got.sort();
            if got == want {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("hero rows are {got:?}, expected {want:?}")
    }

    /// Signs in through the auth screen and waits for the main view.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<()> {
        self.type_into("email", email).await?;
        self.type_into("password", password).await?;
        self.click("auth-submit").await?;
        self.find("nav-stories")
            .await
            .context("the main view after sign-in")?;
        Ok(())
    }

    /// Opens a screen from the sidebar (`heroes`, `stories`, `events`, `profile`,
    /// `settings`).
    pub async fn go(&self, screen: &str) -> Result<()> {
        self.click(&format!("nav-{screen}")).await
    }

    /// The text of the first element matching `css`, or None when there is none.
    pub async fn text(&self, css: &str) -> Result<Option<String>> {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => Ok(Some(el.text().await?)),
            Err(e) if e.is_no_such_element() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// An attribute of the first element matching `css` (None: no element or no attribute).
    pub async fn attr(&self, css: &str, attr: &str) -> Result<Option<String>> {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => Ok(el.attr(attr).await?),
            Err(e) if e.is_no_such_element() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether an element matches `css` right now.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Runs a script in the web view and returns its value.
    pub async fn js(&self, script: &str) -> Result<serde_json::Value> {
        self.client
            .execute(script, vec![])
            .await
            .with_context(|| format!("running {script}"))
    }

    /// Picks `value` in the `<select>` with this testid (WebDriver's option click, or
    /// the value set and `change` dispatched when the driver cannot click options).
    pub async fn select(&self, testid: &str, value: &str) -> Result<()> {
        let el = self.find(testid).await?;
        let _ = el.select_by_value(value).await;
        if el.prop("value").await?.as_deref() != Some(value) {
            self.client
                .execute(
                    "const [s, v] = arguments; s.value = v;
                     s.dispatchEvent(new Event('input', { bubbles: true }));
                     s.dispatchEvent(new Event('change', { bubbles: true }));",
                    vec![serde_json::to_value(&el)?, serde_json::json!(value)],
                )
                .await?;
        }
        let now = el.prop("value").await?;
        if now.as_deref() != Some(value) {
            bail!("{testid} shows {now:?} after picking {value:?}");
        }
        Ok(())
    }

    /// Sets a checkbox or switch with this testid on or off (clicks only if needed).
    pub async fn set_checked(&self, testid: &str, on: bool) -> Result<()> {
        let el = self.find(testid).await?;
        let checked = el.prop("checked").await?.as_deref() == Some("true");
        if checked != on {
            el.click()
                .await
                .with_context(|| format!("switching {testid}"))?;
        }
        let start = Instant::now();
        loop {
            let el = self.find(testid).await?;
            let checked = el.prop("checked").await?.as_deref() == Some("true");
            if checked == on {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("{testid} stays {checked}, wanted {on}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks "Sync now" unless a sync is already running (then it is a no-op).
    pub async fn sync_now(&self) -> Result<()> {
        let button = self.find("sync-now").await?;
        if button.attr("aria-disabled").await?.as_deref() != Some("true") {
            button.click().await.context("clicking sync-now")?;
        }
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.client
            .close()
            .await
            .context("closing the WebDriver session")
    }
}

async fn wait_for_x(display: &str) -> Result<()> {
    let n = display.trim_start_matches(':');
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if socket.exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("Xvfb did not open display {display}")
}

fn which(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}
