//! `story-server`: run the Infinite Stories reference backend.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use story_server::{AppState, Config};
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

    /// Log filter in RUST_LOG syntax, e.g. "info" or "story_server=debug,tower_http=debug".
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&args.log)
                .with_context(|| format!("invalid --log filter {:?}", args.log))?,
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();

    let config = Config {
        db_path: args.db.clone(),
        token_ttl: chrono::Duration::hours(args.token_ttl_hours as i64),
        argon2_memory_kib: args.argon2_memory_kib,
        argon2_iterations: args.argon2_iterations,
        demo: args.demo,
        ..Config::new(&args.db)
    };
    tracing::info!(db = %config.db_path.display(), demo = config.demo, "starting story-server");
    let state = tokio::task::spawn_blocking(move || AppState::new(config))
        .await
        .context("start-up task panicked")??;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    story_server::serve(listener, state, story_server::shutdown_signal()).await?;
    Ok(())
}
