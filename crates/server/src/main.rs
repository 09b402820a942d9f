//! `story-server`: run the Infinite Stories reference backend.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use story_server::{AppState, Config, RateLimit};
use tracing_subscriber::EnvFilter;

/// The Infinite Stories reference backend: accounts, heroes and the sync protocol, over
/// HTTP, stored in one SQLite file.
///
/// Every option can also be set through the environment variable named next to it.
#[derive(Debug, Parser)]
#[command(name = "story-server", version, about, long_about)]
struct Args {
    /// Address (host:port) to listen on. Use 0.0.0.0:PORT to accept other machines.
    #[arg(long, env = "STORY_SERVER_ADDR", default_value = "127.0.0.1:8787")]
    addr: SocketAddr,

    /// Path of the SQLite database file; created and migrated on start.
    #[arg(long, env = "STORY_SERVER_DB", default_value = "story-server.sqlite3")]
    db: PathBuf,

    /// A PostgreSQL database to use instead of the SQLite file
    /// (`postgres://user:password@host:port/dbname`); migrated on start. Several servers
    /// (replicas) may share one. Without it, the SQLite file `--db` is used.
    #[arg(long, env = "STORY_SERVER_DATABASE_URL")]
    database_url: Option<String>,

    /// How long a session token stays valid after sign-in, in hours (default: 30 days).
    #[arg(
        long,
        env = "STORY_SERVER_TOKEN_TTL_HOURS",
        default_value_t = Config::DEFAULT_TOKEN_TTL_HOURS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    token_ttl_hours: u32,

    /// Argon2id memory cost for password hashes, in KiB (minimum 8). Existing hashes keep
    /// the cost they were made with.
    #[arg(
        long,
        env = "STORY_SERVER_ARGON2_MEMORY_KIB",
        default_value_t = Config::DEFAULT_ARGON2_MEMORY_KIB
    )]
    argon2_memory_kib: u32,

    /// Argon2id number of passes over memory for password hashes (minimum 1).
    #[arg(
        long,
        env = "STORY_SERVER_ARGON2_ITERATIONS",
        default_value_t = Config::DEFAULT_ARGON2_ITERATIONS
    )]
    argon2_iterations: u32,

    /// Ensure a demo account exists on start: demo@infinitestories.app, password
    /// "bedtime-stories", with four demo heroes (added only if it has no heroes).
    #[arg(long, env = "STORY_SERVER_DEMO")]
    demo: bool,

    /// Directory for generated media (avatars, audio, illustrations). Default: next to
    /// the database, "<db>.media".
    #[arg(long, env = "STORY_SERVER_MEDIA_DIR")]
    media_dir: Option<PathBuf>,

    /// Keep generated media in an object store instead of --media-dir:
    /// "s3://bucket/prefix" (any S3-compatible store; endpoint, region and credentials
    /// from the AWS_* variables, e.g. AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP) or "file:///absolute/dir". Every replica
    /// must name the same one.
    #[arg(long, env = "STORY_SERVER_MEDIA_URL")]
    media_url: Option<String>,

    /// Tombstones older than this many days are pruned; change-feed cursors older than the
    /// newest pruned tombstone get 410 cursor_expired (the client resyncs).
    #[arg(
        long,
        env = "STORY_SERVER_TOMBSTONE_HORIZON_DAYS",
        default_value_t = Config::DEFAULT_TOMBSTONE_HORIZON_DAYS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    tombstone_horizon_days: u32,

    /// How often to prune old tombstones, in seconds.
    #[arg(
        long,
        env = "STORY_SERVER_PRUNE_INTERVAL_SECS",
        default_value_t = Config::DEFAULT_PRUNE_INTERVAL_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    prune_interval_secs: u64,

    /// Per-user rate limit: requests per second refilled into the bucket (0 = no limit).
    #[arg(long, env = "STORY_SERVER_RATE_LIMIT_PER_SECOND", default_value_t = Config::DEFAULT_RATE_LIMIT.per_second)]
    rate_limit_per_second: f64,

    /// Per-user rate limit: bucket size (the largest burst).
    #[arg(long, env = "STORY_SERVER_RATE_LIMIT_BURST", default_value_t = Config::DEFAULT_RATE_LIMIT.burst)]
    rate_limit_burst: u32,

    /// Per-IP rate limit of sign-up and sign-in: requests per second (0 = no limit).
    #[arg(long, env = "STORY_SERVER_AUTH_RATE_LIMIT_PER_SECOND", default_value_t = Config::DEFAULT_AUTH_RATE_LIMIT.per_second)]
    auth_rate_limit_per_second: f64,

    /// Per-IP rate limit of sign-up and sign-in: bucket size.
    #[arg(long, env = "STORY_SERVER_AUTH_RATE_LIMIT_BURST", default_value_t = Config::DEFAULT_AUTH_RATE_LIMIT.burst)]
    auth_rate_limit_burst: u32,

    /// Fault injection: latency added to every request, in milliseconds.
    #[arg(long, env = "STORY_SERVER_FAULT_LATENCY_MS", default_value_t = 0)]
    fault_latency_ms: u64,

    /// Fault injection: probability (0-1) that a request is answered 503 unhandled.
    #[arg(long, env = "STORY_SERVER_FAULT_ERROR_RATE", default_value_t = 0.0)]
    fault_error_rate: f64,

    /// Fault injection: probability (0-1) that a successful write is answered 503 anyway
    /// (the write is committed; the client learns it only by replaying).
    #[arg(
        long,
        env = "STORY_SERVER_FAULT_APPLY_THEN_FAIL_RATE",
        default_value_t = 0.0
    )]
    fault_apply_then_fail_rate: f64,

    /// Fault injection: answer every request 503 "offline" (except /api/_faults).
    #[arg(long, env = "STORY_SERVER_FAULT_OFFLINE")]
    fault_offline: bool,

    /// Seed of the fault-injection random generator.
    #[arg(long, env = "STORY_SERVER_FAULT_SEED", default_value_t = 0)]
    fault_seed: u64,

    /// Serve GET/POST /api/_faults to change the fault injection at run time. Never in
    /// production: it needs no sign-in.
    #[arg(long, env = "STORY_SERVER_ENABLE_FAULT_CONTROL")]
    enable_fault_control: bool,

    /// Monthly generated stories on the free tier.
    #[arg(long, env = "STORY_SERVER_FREE_STORIES_PER_MONTH")]
    free_stories_per_month: Option<u32>,

    /// Monthly generated audio minutes on the free tier.
    #[arg(long, env = "STORY_SERVER_FREE_AUDIO_MINUTES_PER_MONTH")]
    free_audio_minutes_per_month: Option<u32>,

    /// Monthly generated illustrations on the free tier.
    #[arg(long, env = "STORY_SERVER_FREE_ILLUSTRATIONS_PER_MONTH")]
    free_illustrations_per_month: Option<u32>,

    /// Seconds a client may take to send a request's headers (and a kept-alive
    /// connection may stay idle) before the connection is closed; 0 = no limit.
    #[arg(long, env = "STORY_SERVER_HEADER_READ_TIMEOUT_SECS", default_value_t = Config::DEFAULT_HEADER_READ_TIMEOUT_SECS)]
    header_read_timeout_secs: u64,

    /// Seconds a request body may take to arrive once the server waits for it; then the
    /// request is answered 408 request_timeout; 0 = no limit.
    #[arg(long, env = "STORY_SERVER_BODY_READ_TIMEOUT_SECS", default_value_t = Config::DEFAULT_BODY_READ_TIMEOUT_SECS)]
    body_read_timeout_secs: u64,

    /// Print the OpenAPI document and exit.
    #[arg(long)]
    print_openapi: bool,

    /// Log filter in RUST_LOG syntax, e.g. "info" or "story_server=debug,tower_http=debug".
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_openapi {
        print!("{}", story_server::routes::openapi_text());
        return Ok(());
    }
    for (name, rate) in [
        ("--fault-error-rate", args.fault_error_rate),
        (
            "--fault-apply-then-fail-rate",
            args.fault_apply_then_fail_rate,
        ),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            anyhow::bail!("{name} must be a probability from 0 to 1, got {rate}");
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&args.log)
                .with_context(|| format!("invalid --log filter {:?}", args.log))?,
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();

    let mut config = Config {
        db_path: args.db.clone(),
        database_url: args.database_url.clone().filter(|u| !u.is_empty()),
        token_ttl: chrono::Duration::hours(args.token_ttl_hours as i64),
        argon2_memory_kib: args.argon2_memory_kib,
        argon2_iterations: args.argon2_iterations,
        demo: args.demo,
        media_dir: args.media_dir.clone(),
        media_url: args.media_url.clone().filter(|u| !u.is_empty()),
        tombstone_horizon: chrono::Duration::days(args.tombstone_horizon_days as i64),
        prune_interval: std::time::Duration::from_secs(args.prune_interval_secs),
        rate_limit: RateLimit {
            per_second: args.rate_limit_per_second,
            burst: args.rate_limit_burst,
        },
        auth_rate_limit: RateLimit {
            per_second: args.auth_rate_limit_per_second,
            burst: args.auth_rate_limit_burst,
        },
        faults: is_protocol::FaultSettings {
            latency_ms: args.fault_latency_ms,
            error_rate: args.fault_error_rate,
            apply_then_fail_rate: args.fault_apply_then_fail_rate,
            offline: args.fault_offline,
        },
        fault_seed: args.fault_seed,
        enable_fault_control: args.enable_fault_control,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
        body_read_timeout: std::time::Duration::from_secs(args.body_read_timeout_secs),
        ..Config::new(&args.db)
    };
    let free = &mut config.tier_limits.free;
    if let Some(n) = args.free_stories_per_month {
        free.stories_per_month = Some(n);
    }
    if let Some(n) = args.free_audio_minutes_per_month {
        free.audio_minutes_per_month = Some(n);
    }
    if let Some(n) = args.free_illustrations_per_month {
        free.illustrations_per_month = Some(n);
    }
    if config.enable_fault_control {
        tracing::warn!("fault control is enabled: POST /api/_faults needs no sign-in");
    }
    if let Some(url) = &config.database_url {
        anyhow::ensure!(
            story_server::db::is_postgres_url(url),
            "--database-url must be a postgres:// URL"
        );
        if config.media_dir.is_none() && config.media_url.is_none() {
            anyhow::bail!(
                "with --database-url, name the store every replica shares: \
                 --media-url s3://bucket/prefix, or a shared --media-dir"
            );
        }
        tracing::info!(db = %story_server::db::redact_url(url), demo = config.demo, "starting story-server on PostgreSQL");
    } else {
        tracing::info!(db = %config.db_path.display(), demo = config.demo, "starting story-server");
    }
    let state = tokio::task::spawn_blocking(move || AppState::new(config))
        .await
        .context("start-up task panicked")??;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    story_server::serve(listener, state, story_server::shutdown_signal()).await?;
    Ok(())
}
