//! Background sync (SPEC.md sections 8, 9 and 12): triggers coalesce into at most one
//! running and one queued sync; retries and the periodic sync run on their own timers; a
//! watchdog restarts a loop that stops making progress; the network monitor follows the
//! OS's network interfaces, the wall clock (resume from sleep) and the server's health.
//!
//! Every decision here is a pure function with a table test ([`next_wake`],
//! [`Watchdog::observe`], [`network_state`], [`probe_delay`]); the loops only sleep,
//! listen and call them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::app::Core;
use crate::diagnostics::{ActivityEntry, RunOutcome};
use crate::error::CoreError;
use crate::events::CoreEvent;
use crate::status::NetworkState;
use crate::transport::Transport;

/// Why a sync was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Launch,
    /// The window came back to the foreground.
    Focus,
    /// A local write: push soon, debounced.
    LocalChange,
    NetworkRestored,
    Periodic,
    /// Pull-to-refresh, the button, the shortcut.
    Manual,
    /// A row's backoff after a server error has passed.
    Retry,
    /// The computer woke from sleep (the wall clock jumped ahead of the monotonic one).
    Resume,
    /// The watchdog restarted the loop.
    Watchdog,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Launch => "launch",
            Trigger::Focus => "focus",
            Trigger::LocalChange => "local_change",
            Trigger::NetworkRestored => "network_restored",
            Trigger::Periodic => "periodic",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::Resume => "resume",
            Trigger::Watchdog => "watchdog",
        }
    }
}

/// What the loop does next, decided purely from the clock and the timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Sync now, for this reason.
    Now(Trigger),
    /// Sleep until this instant (or an earlier trigger), then sync for this reason.
    At(DateTime<Utc>, Trigger),
}

/// The timers the loop keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub last_run: DateTime<Utc>,
    pub interval: Duration,
    /// A debounced local change.
    pub debounce_until: Option<DateTime<Utc>>,
    /// The earliest backoff of a row that failed with a server error.
    pub retry_at: Option<DateTime<Utc>>,
    /// A trigger that arrived while the server asked us to wait.
    pub deferred: Option<Trigger>,
    /// The server's `Retry-After`: nothing runs by itself before it.
    pub throttled_until: Option<DateTime<Utc>>,
}

/// The earliest of the debounced local change, the next retry and the next periodic
/// sync (each with its reason), never before the server's `Retry-After`.
pub fn next_wake(now: DateTime<Utc>, t: &Timers) -> Wake {
    let periodic =
        t.last_run + chrono::Duration::from_std(t.interval).unwrap_or(chrono::Duration::MAX);
    let mut candidates = vec![(periodic, Trigger::Periodic)];
    if let Some(at) = t.debounce_until {
        candidates.push((at, Trigger::LocalChange));
    }
    if let Some(at) = t.retry_at {
        candidates.push((at, Trigger::Retry));
    }
    if let (Some(trigger), Some(at)) = (t.deferred, t.throttled_until) {
        candidates.push((at, trigger));
    }
    let (mut at, reason) = candidates
        .into_iter()
        .min_by_key(|(at, _)| *at)
        .unwrap_or((periodic, Trigger::Periodic));
    if let Some(until) = t.throttled_until {
        at = at.max(until);
    }
    if at <= now {
        Wake::Now(reason)
    } else {
        Wake::At(at, reason)
    }
}

/// Notices a sync that has stopped making progress while the server answers: the same
/// rows pending run after run with nothing applied, or a pull that keeps failing. It
/// fires once per stuck state (a state that changes re-arms it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watchdog {
    last: Option<Progress>,
    stuck_runs: u32,
    fired_for: Option<Progress>,
}

/// What the watchdog compares between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows waiting to be pushed (pending, not failed or in conflict).
    pub pending: u32,
    pub outbox: usize,
    /// Mutations the server applied in the run.
    pub applied: u32,
    /// The run reached the server and ended without an error.
    pub ok: bool,
    /// The run could not reach the server (an outage is not a stuck sync).
    pub offline: bool,
}

/// Runs without progress before the watchdog restarts the loop.
pub const STUCK_RUNS: u32 = 3;

impl Watchdog {
    /// Feeds one run's result; true when the loop should be restarted.
    pub fn observe(&mut self, p: Progress) -> bool {
        let key = Progress { applied: 0, ..p };
        let no_progress = !p.offline
            && p.applied == 0
            && (p.pending > 0 || !p.ok)
            && self
                .last
                .is_some_and(|l| l.pending == p.pending && l.outbox == p.outbox);
        self.last = Some(key);
        if !no_progress {
            self.stuck_runs = 0;
            if p.pending == 0 && p.ok {
                self.fired_for = None;
            }
            return false;
        }
        self.stuck_runs += 1;
        if self.stuck_runs + 1 >= STUCK_RUNS && self.fired_for != Some(key) {
            self.fired_for = Some(key);
            self.stuck_runs = 0;
            return true;
        }
        false
    }
}

impl Core {
    /// Asks the background loop for a sync. Never blocks; repeated triggers coalesce.
    pub fn trigger(&self, trigger: Trigger) {
        let mut pending = self
            .inner
            .pending_trigger
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // A non-debounced trigger wins over a debounced one.
        if pending.is_none() || *pending == Some(Trigger::LocalChange) {
            *pending = Some(trigger);
        }
        drop(pending);
        self.inner.wake.notify_one();
    }

    /// Asks the network monitor to probe the server now (after a failed request).
    pub fn probe_soon(&self) {
        self.inner.probe.notify_one();
    }

    /// Starts the sync loop (under its watchdog) and the network monitor on the current
    /// tokio runtime.
    pub fn start_background(&self) -> Background {
        let sync = tokio::spawn(supervise(self.clone()));
        let monitor = tokio::spawn(monitor_loop(self.clone()));
        let media = tokio::spawn(crate::media::watch::maintain(Arc::clone(&self.inner.media)));
        self.trigger(Trigger::Launch);
        Background {
            tasks: vec![sync, monitor, media],
        }
    }

    fn note(&self, trigger: Trigger, message: String) {
        tracing::warn!(%message, "sync watchdog");
        self.log_activity(&ActivityEntry {
            id: 0,
            started_at: self.now(),
            duration_ms: 0,
            trigger: trigger.as_str().to_owned(),
            pushed: 0,
            applied: 0,
            conflicts: 0,
            rejected: 0,
            failed: 0,
            pulled: 0,
            outcome: RunOutcome::Note,
            error_code: None,
            message: Some(message),
        });
    }
}

/// The background tasks; dropping this stops them.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// Runs the sync loop, and starts it afresh whenever it reports itself stuck.
async fn supervise(core: Core) {
    loop {
        let why = sync_loop(&core).await;
        core.note(
            Trigger::Watchdog,
            format!("{why}; the sync loop was restarted"),
        );
        // A stuck row's backoff is forgotten with the loop: everything goes again now.
        if let Err(e) = core.db().write(|tx| crate::repo::clear_backoff(tx)) {
            tracing::warn!(%e, "could not clear backoffs");
        }
        core.runtime().throttled_until = None;
        core.trigger(Trigger::Watchdog);
    }
}

/// The loop; returns (with the reason) when the watchdog wants it restarted.
async fn sync_loop(core: &Core) -> String {
    let cfg = core.config().clone();
    let mut timers = Timers {
        last_run: core.now(),
        interval: cfg.sync_interval,
        debounce_until: None,
        retry_at: None,
        deferred: None,
        throttled_until: None,
    };
    let mut watchdog = Watchdog::default();
    // A retry time fires once (a row that cannot go yet keeps its past time), and none
    // fires while the server is out of reach: network restored wakes the loop then.
    let mut fired_retry: Option<DateTime<Utc>> = None;
    let mut offline = false;
    loop {
        let now = core.now();
        timers.interval = core.sync_interval().unwrap_or(cfg.sync_interval);
        timers.retry_at = core
            .next_retry_at()
            .unwrap_or_else(|e| {
                tracing::warn!(%e, "could not read retry times");
                None
            })
            .filter(|at| !offline && fired_retry.is_none_or(|fired| *at > fired));
        timers.throttled_until = core.runtime().throttled_until.filter(|t| *t > now);
        if timers.throttled_until.is_none() {
            core.runtime().throttled_until = None;
        }
        let trigger = match next_wake(now, &timers) {
            Wake::Now(reason) => reason,
            Wake::At(at, reason) => {
                tokio::select! {
                    _ = core.inner.wake.notified() => {
                        let trigger = core.inner.pending_trigger.lock().unwrap_or_else(|e| e.into_inner()).take();
                        match trigger {
                            Some(Trigger::LocalChange) => {
                                // Counting what is pending is off the write path: once
                                // per wake-up here, however many writes came in.
                                core.emit_overview();
                                timers.debounce_until = Some(core.now() + chrono::Duration::from_std(cfg.push_debounce).unwrap_or_default());
                                continue;
                            }
                            // The server asked us to wait: only the user overrides it.
                            Some(t) if timers.throttled_until.is_some() && t != Trigger::Manual => {
                                timers.deferred = Some(t);
                                continue;
                            }
                            Some(t) => t,
                            None => continue,
                        }
                    }
                    _ = tokio::time::sleep(until(now, at)) => reason,
                }
            }
        };
        if trigger == Trigger::Retry {
            fired_retry = timers.retry_at;
        }
        timers.debounce_until = None;
        timers.deferred = None;
        timers.last_run = core.now();
        if !core.can_sync() {
            continue;
        }
        tracing::debug!(?trigger, "sync triggered");
        let run = tokio::time::timeout(cfg.run_timeout, core.sync_for(trigger)).await;
        let result = match run {
            Ok(result) => result,
            Err(_) => {
                return format!(
                    "a sync run made no progress for {} s",
                    cfg.run_timeout.as_secs()
                )
            }
        };
        let cancelled = matches!(result, Err(CoreError::Cancelled));
        offline = match &result {
            Ok(report) => {
                tracing::info!(?report, "background sync finished");
                false
            }
            Err(e) if e.code() == "offline" => {
                tracing::info!(%e, "background sync: server out of reach");
                true
            }
            Err(CoreError::Cancelled) => false,
            Err(e) => {
                tracing::warn!(%e, "background sync failed");
                core.emit(CoreEvent::SyncFailed {
                    error: e.to_payload(),
                });
                false
            }
        };
        let Ok((overview, outbox)) = core.overview().and_then(|o| Ok((o, core.outbox_len()?)))
        else {
            continue;
        };
        let progress = Progress {
            pending: overview.pending,
            outbox,
            applied: result.as_ref().map_or(0, |r| r.applied),
            ok: result.is_ok(),
            // Neither an outage nor a cancel is a stuck sync.
            offline: offline || cancelled,
        };
        if watchdog.observe(progress) {
            return format!(
                "{} change(s) stayed pending over {STUCK_RUNS} syncs while the server answered",
                overview.pending
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The network monitor

/// What the monitor concludes from the server's health probe and the OS's interfaces.
/// `has_link`: whether a non-loopback address is up (`None`: not known on this system).
/// Without a link the machine is offline, unless the server runs on it.
pub fn network_state(
    probe_ok: bool,
    has_link: Option<bool>,
    server_is_local: bool,
) -> NetworkState {
    if probe_ok {
        NetworkState::Online
    } else if has_link == Some(false) && !server_is_local {
        NetworkState::Offline
    } else {
        NetworkState::ServerUnreachable
    }
}

/// How long the monitor waits before probing again: the normal interval while online;
/// while the server is out of reach, 1 s doubling after each failed probe up to that
/// interval (so a returning server is found fast, and a long outage costs little).
pub fn probe_delay(state: NetworkState, failed_probes: u32, interval: Duration) -> Duration {
    if state == NetworkState::Online {
        return interval;
    }
    Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(failed_probes.min(16)))
        .min(interval)
}

/// How far the wall clock may run ahead of the monotonic one between two ticks before
/// the monitor takes it as a resume from sleep.
pub const WAKE_JUMP: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_secs(5);
const INTERFACES_SETTLE: Duration = Duration::from_secs(3);

/// Whether the wall clock jumped ahead of the monotonic clock (the machine slept).
pub fn woke_from_sleep(wall_elapsed: chrono::Duration, mono_elapsed: Duration) -> bool {
    let mono = chrono::Duration::from_std(mono_elapsed).unwrap_or(chrono::Duration::MAX);
    wall_elapsed - mono > chrono::Duration::from_std(WAKE_JUMP).unwrap_or_default()
}

/// The OS's view of the network: interface addresses (netlink on Linux).
struct Interfaces {
    watcher: Option<if_watch::tokio::IfWatcher>,
}

impl Interfaces {
    fn new() -> Interfaces {
        let watcher = match if_watch::tokio::IfWatcher::new() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::info!(%e, "no network-interface events on this system; probing only");
                None
            }
        };
        Interfaces { watcher }
    }

    /// Whether an address other than loopback is up, if known.
    fn has_link(&self) -> Option<bool> {
        let w = self.watcher.as_ref()?;
        Some(w.iter().any(|net| !net.addr().is_loopback()))
    }

    /// The next address change (never, if there are no events here).
    async fn changed(&mut self) {
        match self.watcher.as_mut() {
            Some(w) => {
                let event = std::future::poll_fn(|cx| w.poll_if_event(cx)).await;
                match event {
                    Ok(e) => tracing::info!(?e, "network interface changed"),
                    Err(e) => {
                        tracing::info!(%e, "network-interface events stopped");
                        self.watcher = None;
                    }
                }
            }
            None => std::future::pending().await,
        }
    }
}

fn is_local(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.")
}

/// Probes the server's health endpoint, on a timer that backs off while it is out of
/// reach, and at once when an interface changes, the machine wakes from sleep or a
/// request failed. A change back to online triggers a sync; so does a wake from sleep.
async fn monitor_loop(core: Core) {
    let transport = core.inner.engine.transport.clone();
    let server_is_local = is_local(transport.base_url());
    let mut interfaces = Interfaces::new();
    let mut failed_probes = 0u32;
    let (mut wall, mut mono) = (core.now(), Instant::now());
    let mut next_probe = Instant::now();
    // The watcher first reports every address already there: not a change.
    let settled = Instant::now() + INTERFACES_SETTLE;
    loop {
        if Instant::now() >= next_probe {
            let forced_offline = core.overview().map(|o| o.work_offline).unwrap_or(false);
            let state = if forced_offline {
                NetworkState::Offline
            } else {
                let ok = probe(&*transport).await;
                network_state(ok, interfaces.has_link(), server_is_local)
            };
            failed_probes = if state == NetworkState::Online {
                0
            } else {
                failed_probes.saturating_add(1)
            };
            if core.set_network(state) {
                core.trigger(Trigger::NetworkRestored);
            }
            next_probe =
                Instant::now() + probe_delay(state, failed_probes, core.config().probe_interval);
        }
        let sleep = next_probe
            .saturating_duration_since(Instant::now())
            .min(TICK);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = interfaces.changed() => {
                // Probe now; an interface change is worth a sync even if the server
                // never looked unreachable (a new network, a VPN).
                failed_probes = 0;
                next_probe = Instant::now();
                if Instant::now() > settled {
                    core.trigger(Trigger::NetworkRestored);
                }
            }
            _ = core.inner.probe.notified() => {
                next_probe = Instant::now();
            }
        }
        let (now_wall, now_mono) = (core.now(), Instant::now());
        if woke_from_sleep(now_wall - wall, now_mono - mono) {
            tracing::info!("the machine woke from sleep: probe and sync");
            failed_probes = 0;
            next_probe = Instant::now();
            core.trigger(Trigger::Resume);
        }
        (wall, mono) = (now_wall, now_mono);
    }
}

async fn probe(transport: &dyn Transport) -> bool {
    match transport.health().await {
        Ok(_) => true,
        Err(e) if e.is_offline() => false,
        // It answered, even if with an error: the network is fine.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn timers() -> Timers {
        Timers {
            last_run: t(0),
            interval: Duration::from_secs(900),
            debounce_until: None,
            retry_at: None,
            deferred: None,
            throttled_until: None,
        }
    }

    #[test]
    fn wake_table() {
        use Trigger::*;
        let with = |f: &dyn Fn(&mut Timers)| {
            let mut x = timers();
            f(&mut x);
            x
        };
        let cases = [
            // (now, timers, expected)
            (t(0), timers(), Wake::At(t(900), Periodic)),
            (t(900), timers(), Wake::Now(Periodic)),
            (
                t(10),
                with(&|x| x.debounce_until = Some(t(11))),
                Wake::At(t(11), LocalChange),
            ),
            (
                t(11),
                with(&|x| x.debounce_until = Some(t(11))),
                Wake::Now(LocalChange),
            ),
            (
                t(10),
                with(&|x| x.retry_at = Some(t(30))),
                Wake::At(t(30), Retry),
            ),
            (
                t(10),
                with(&|x| {
                    x.debounce_until = Some(t(40));
                    x.retry_at = Some(t(30))
                }),
                Wake::At(t(30), Retry),
            ),
            (t(10), with(&|x| x.retry_at = Some(t(5))), Wake::Now(Retry)),
            (
                t(10),
                with(&|x| x.retry_at = Some(t(5000))),
                Wake::At(t(900), Periodic),
            ),
            // The server's Retry-After holds everything back, and a trigger that came
            // in meanwhile runs when it has passed.
            (
                t(10),
                with(&|x| {
                    x.retry_at = Some(t(5));
                    x.throttled_until = Some(t(60))
                }),
                Wake::At(t(60), Retry),
            ),
            (
                t(10),
                with(&|x| {
                    x.deferred = Some(NetworkRestored);
                    x.throttled_until = Some(t(60))
                }),
                Wake::At(t(60), NetworkRestored),
            ),
            (
                t(60),
                with(&|x| {
                    x.deferred = Some(Launch);
                    x.throttled_until = Some(t(60))
                }),
                Wake::Now(Launch),
            ),
        ];
        for (now, timers, want) in cases {
            assert_eq!(next_wake(now, &timers), want, "{now} {timers:?}");
        }
    }

    fn p(pending: u32, outbox: usize, applied: u32, ok: bool, offline: bool) -> Progress {
        Progress {
            pending,
            outbox,
            applied,
            ok,
            offline,
        }
    }

    #[test]
    fn watchdog_fires_once_per_stuck_state() {
        let mut w = Watchdog::default();
        // Draining: never.
        for n in (1..10).rev() {
            assert!(!w.observe(p(n, n as usize, 1, true, false)));
        }
        // An outage is not a stuck sync, however long.
        let mut w = Watchdog::default();
        for _ in 0..10 {
            assert!(!w.observe(p(5, 5, 0, false, true)));
        }
        // The same rows pending while the server answers: fires after STUCK_RUNS runs,
        // then not again for that state.
        let mut w = Watchdog::default();
        let fired: Vec<bool> = (0..8).map(|_| w.observe(p(5, 5, 0, true, false))).collect();
        assert_eq!(
            fired.iter().filter(|f| **f).count(),
            1,
            "fires once: {fired:?}"
        );
        assert!(fired[STUCK_RUNS as usize - 1], "{fired:?}");
        // A new stuck state re-arms it.
        let fired: Vec<bool> = (0..8).map(|_| w.observe(p(6, 6, 0, true, false))).collect();
        assert_eq!(fired.iter().filter(|f| **f).count(), 1, "{fired:?}");
        // A pull that keeps failing while the server answers (nothing pending).
        let mut w = Watchdog::default();
        let fired: Vec<bool> = (0..4)
            .map(|_| w.observe(p(0, 0, 0, false, false)))
            .collect();
        assert_eq!(fired.iter().filter(|f| **f).count(), 1, "{fired:?}");
        // Idle and healthy: never.
        let mut w = Watchdog::default();
        assert!((0..10).all(|_| !w.observe(p(0, 0, 0, true, false))));
    }

    #[test]
    fn network_state_table() {
        use NetworkState::*;
        let cases = [
            // (probe ok, has link, server local, expected)
            (true, Some(true), false, Online),
            (true, Some(false), true, Online),
            (true, None, false, Online),
            (false, Some(true), false, ServerUnreachable),
            (false, Some(false), false, Offline),
            (false, Some(false), true, ServerUnreachable),
            (false, None, false, ServerUnreachable),
        ];
        for (ok, link, local, want) in cases {
            assert_eq!(
                network_state(ok, link, local),
                want,
                "{ok} {link:?} {local}"
            );
        }
    }

    #[test]
    fn probes_back_off_while_out_of_reach() {
        let interval = Duration::from_secs(30);
        let delays: Vec<u64> = (0..8)
            .map(|n| probe_delay(NetworkState::ServerUnreachable, n, interval).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(probe_delay(NetworkState::Online, 5, interval), interval);
        assert_eq!(
            probe_delay(NetworkState::Offline, u32::MAX, interval),
            interval
        );
    }

    #[test]
    fn a_wall_clock_jump_is_a_wake_from_sleep() {
        let secs = chrono::Duration::seconds;
        assert!(!woke_from_sleep(secs(5), Duration::from_secs(5)));
        assert!(!woke_from_sleep(secs(15), Duration::from_secs(5)));
        assert!(woke_from_sleep(secs(3600), Duration::from_secs(5)));
        // The clock set back is not a wake.
        assert!(!woke_from_sleep(secs(-3600), Duration::from_secs(5)));
    }

    #[test]
    fn local_servers() {
        for url in [
            "http://127.0.0.1:8787",
            "http://localhost:3000/",
            "http://[::1]:80",
        ] {
            assert!(is_local(url), "{url}");
        }
        for url in ["https://stories.example.org", "http://10.0.0.2:8787"] {
            assert!(!is_local(url), "{url}");
        }
    }
}
